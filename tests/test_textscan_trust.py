"""Issue 11 items 1-2: a call the model only quotes never runs, recovery is an option decided
per server profile, recovered calls are marked for hooks, and the scanner is linear and holds
back a bounded amount of text. Streams go through the scripted server on 127.0.0.1."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable, Iterable
from typing import Any

import pytest
from scanning import scan
from sse_server import SSEServer, chunk, sse, text_stream, tool_call

from any_agent import (
    AgentOptions,
    ConfigurationError,
    HookMatcher,
    HookResult,
    PermissionResultAllow,
    PermissionResultDeny,
    TextBlock,
    ToolUseBlock,
    query,
    tool,
)
from any_agent._wire.decoder import StreamDecoder, TextDelta
from any_agent._wire.servers import PROFILES
from any_agent._wire.textscan import TextScanner, parse_json_calls, parse_xml_function

WEATHER = frozenset({"get_weather"})
C = '{"name": "get_weather", "arguments": {"city": "Paris"}}'
PARIS = ("get_weather", {"city": "Paris"})
XML = "<function=get_weather><parameter=city>Paris</parameter></function>"


def scan_every_way(text: str, tools: Iterable[str] = WEATHER) -> list[tuple[str, Any]]:
    whole = scan([text], tools)
    assert scan(list(text), tools) == whole
    for i in range(len(text) + 1):
        assert scan([text[:i], text[i:]], tools) == whole, i
    return whole


# ============================================================ quoted calls are text
QUOTED = {
    "after a quote": f'The model replied "<tool_call>{C}</tool_call>" and stopped.',
    "quote at the end": f'It wrote: "<tool_call>{C}</tool_call>"',
    "blockquote": f"As documented:\n> <tool_call>{C}</tool_call>",
    "code element": f"Use <code><tool_call>{C}</tool_call></code>.",
    "code element on its own lines": f"Use this:\n<code>\n<tool_call>{C}</tool_call>\n</code>",
    "indented block": f"Example:\n\n    <tool_call>{C}</tool_call>",
    "tab-indented block": f"Example:\n\n\t<tool_call>{C}</tool_call>",
    "mid-sentence function": f"Qwen3-Coder writes {XML} for that.",
    "mid-sentence function at the end": f"Qwen3-Coder writes {XML}",
    "python tag after a refusal": f"I will not do this: <|python_tag|>{C}",
    "mistral mention": f"Mistral format is [TOOL_CALLS][{C}]",
    "lm studio mention": f"LM Studio writes [TOOL_REQUEST]{C}[END_TOOL_REQUEST] there.",
    "call then prose": f"<tool_call>{C}</tool_call>\nDo not actually run that.",
    "fenced call then prose": f"```json\n{C}\n```\nThat is the format; I did not call it.",
    "bare call then prose": f"{C} is what a call looks like.",
    "call after prose then prose": f"Like this:\n<tool_call>{C}</tool_call>\nSee?",
    "two calls then prose": f"<tool_call>{C}</tool_call>\n<tool_call>{C}</tool_call>\nok",
}


@pytest.mark.parametrize("text", QUOTED.values(), ids=QUOTED.keys())
def test_a_quoted_call_stays_visible_text(text: str) -> None:
    """Item 2: a well-formed call inside prose, a quote, a blockquote, ``<code>``, an indented
    block, or followed by prose is only mentioned: all of it stays visible text."""
    assert scan_every_way(text) == [("text", text)]


# Markdown fences as CommonMark reads them (tildes, a longer fence holding ``` lines, a fence
# opened at a line start after a mid-line ``` run, inside a list item), left open at the end
# of the message: everything after the opening line is code, so a call there is quoted.
UNCLOSED_FENCES = {
    "tildes": "Example:\n~~~\n",
    "tildes with a tag": "Example:\n~~~~ json\n",
    "four backticks holding three": "Example:\n````\n```\n",
    "after a mid-line run": "Use a ``` fence:\n```\n",
    "in a list item": "Steps:\n- ~~~\n  ",
    "closed by a shorter run": "~~~~\n~~~\n",
}


@pytest.mark.parametrize("fence", UNCLOSED_FENCES.values(), ids=UNCLOSED_FENCES.keys())
@pytest.mark.parametrize("call", [f"<tool_call>{C}</tool_call>", XML, f"[TOOL_CALLS][{C}]"])
def test_a_call_inside_an_open_markdown_fence_is_quoted(fence: str, call: str) -> None:
    text = fence + call + "\n"
    assert scan_every_way(text) == [("text", text)]


def test_a_call_after_a_closed_markdown_fence_is_recovered() -> None:
    """Closed by the same character, at least as long: the call after it is outside."""
    for fence in ("~~~\nx\n~~~\n", "```\nx\n````\n", "~~~~\n~~~\n~~~~~\n"):
        text = fence + f"<tool_call>{C}</tool_call>"
        assert scan_every_way(text) == [("text", fence), ("call", PARIS)], fence


TRAILING = {
    "whole message": (f"<tool_call>{C}</tool_call>", ""),
    "whole message, blanks around": (f"\n  <tool_call>{C}</tool_call>\n\n", ""),
    "after prose, at a line start": (f"Checking.\n<tool_call>{C}</tool_call>", "Checking.\n"),
    "after prose, indented 3": (f"Checking.\n   {XML}\n", "Checking.\n   "),
    "python tag at a line start": (f"Checking.\n<|python_tag|>{C}", "Checking.\n"),
    "fenced whole message": (f"```json\n{C}\n```\n\n\n", ""),
}


@pytest.mark.parametrize(("text", "before"), TRAILING.values(), ids=TRAILING.keys())
def test_a_call_where_templates_put_one_is_recovered(text: str, before: str) -> None:
    """Item 2: the whole message, or its trailing part from a line start after prose."""
    expected = ([("text", before)] if before else []) + [("call", PARIS)]
    assert scan_every_way(text) == expected


def test_several_trailing_calls_are_all_recovered() -> None:
    text = f"Both:\n<tool_call>{C}</tool_call>\n<tool_call>{C}</tool_call>\n"
    assert scan_every_way(text) == [("text", "Both:\n"), ("call", PARIS), ("call", PARIS)]


def test_a_finished_call_is_held_until_the_message_ends() -> None:
    """The decision needs the end of the message: nothing runs while prose may follow."""
    scanner = TextScanner(WEATHER)
    assert scanner.feed(f"<tool_call>{C}</tool_call>") == []
    assert scanner.holding
    assert scanner.feed("\nNo.") == [("text", f"<tool_call>{C}</tool_call>\nNo.")]
    assert scanner.close() == []


def test_only_one_imagined_result_per_call_keeps_the_calls() -> None:
    """A JSON value right after a recovered call (a result the model imagined, as recorded
    vLLM/transformers streams show) stays text and keeps the call; a second value in a row
    is not a result of anything, so the calls are only quoted."""
    assert scan_every_way(f'{C}\n{{"r": 1}}') == [("call", PARIS), ("text", '\n{"r": 1}')]
    two = f'<tool_call>{C}</tool_call>\n{{"note": "only an example"}}\n{{"r": 1}}'
    assert scan_every_way(two) == [("text", two)]
    assert scan_every_way(f'{C}\n{{"r": 1}}\n{C}') == [
        ("call", PARIS),
        ("text", '\n{"r": 1}'),
        ("call", PARIS),
    ]


# ============================================================ through the agent loop
def _opts(server: SSEServer, **kw: Any) -> AgentOptions:
    defaults: dict[str, Any] = {"model": "m", "base_url": server.url, "max_retries": 0}
    return AgentOptions(**(defaults | {"max_turns": 3} | kw))


def _deleter(ran: list[str]) -> Any:
    @tool
    def delete_file(path: str) -> str:
        """Delete a file."""
        ran.append(path)
        return "deleted"

    return delete_file


async def _collect(options: AgentOptions) -> list[Any]:
    return [m async for m in query("go", options)]


async def test_a_quoted_call_never_runs_in_the_loop(sse_server: SSEServer) -> None:
    """Item 2, end to end: the quoted ``<function=delete_file>`` (Qwen3-Coder's format, as
    llama-server streams it in content) is not run and the user sees it."""
    ran: list[str] = []
    text = (
        "To delete a file, Qwen3-Coder writes <function=delete_file><parameter=path>/"
        "</parameter></function> for that."
    )
    sse_server.script.stream(text_stream(*[text[i : i + 5] for i in range(0, len(text), 5)]))
    messages = await _collect(_opts(sse_server, tools=[_deleter(ran)], provider="llamacpp"))
    assert ran == []
    assert messages[0].content == [TextBlock(text)]


@pytest.mark.parametrize(
    ("provider", "mode", "recovered"),
    [
        ("llamacpp", "auto", True),
        ("vllm", "auto", True),
        (None, "auto", True),
        ("openai", "auto", False),
        ("ollama", "auto", False),
        ("llamacpp-python", "auto", False),
        ("openai", "always", True),
        ("llamacpp", "off", False),
    ],
)
async def test_text_tool_calls_option_decides_recovery(
    sse_server: SSEServer, provider: str | None, mode: str, recovered: bool
) -> None:
    """``text_tool_calls``: ``auto`` follows the profile, ``off`` keeps every call written as
    text visible, ``always`` recovers on any server. The stream is vLLM's (bare JSON in
    content, tests/data/servers/vllm-qwen05b-tools-auto-stream.sse)."""
    ran: list[str] = []
    call = '{"name": "delete_file", "arguments": {"path": "/tmp/x"}}'
    sse_server.script.stream(text_stream(call[:9], call[9:]))
    sse_server.script.stream(text_stream("done"))
    options = _opts(sse_server, tools=[_deleter(ran)], provider=provider, text_tool_calls=mode)
    messages = await _collect(options)
    first = messages[0].content
    if recovered:
        assert ran == ["/tmp/x"]
        assert isinstance(first[0], ToolUseBlock)
        assert first[0].recovered
    else:
        assert ran == []
        assert first == [TextBlock(call)]


def test_every_profile_says_whether_its_server_leaks_calls() -> None:
    assert {n for n, p in PROFILES.items() if not p.text_tool_calls} == {
        "openai",
        "ollama",
        "llamacpp-python",
        "tgwui",
        "tgwui-transformers",
        "tgi",
    }


async def test_structured_calls_are_not_marked_recovered(sse_server: SSEServer) -> None:
    ran: list[str] = []
    sse_server.script.stream(
        sse(
            chunk(role="assistant", content=None),
            chunk(tool_calls=[tool_call(0, id="c1", name="delete_file", arguments="")]),
            chunk(tool_calls=[tool_call(0, arguments='{"path": "/tmp/y"}')]),
            chunk(finish="tool_calls"),
        )
    )
    sse_server.script.stream(text_stream("done"))
    messages = await _collect(_opts(sse_server, tools=[_deleter(ran)]))
    block = messages[0].content[0]
    assert isinstance(block, ToolUseBlock)
    assert not block.recovered
    assert ran == ["/tmp/y"]


async def test_a_hook_can_refuse_recovered_calls(sse_server: SSEServer) -> None:
    """Item 2: PreToolUse hooks see ``recovered`` and may refuse such calls; the model is
    told why, the tool does not run."""
    ran: list[str] = []
    seen: list[bool] = []

    async def no_text_calls(data: Any) -> HookResult | None:
        seen.append(data.recovered)
        return HookResult.deny("calls written as text are not run") if data.recovered else None

    sse_server.script.stream(text_stream('{"name": "delete_file", "arguments": {"path": "/"}}'))
    sse_server.script.stream(text_stream("ok"))
    hooks = {"PreToolUse": [HookMatcher(None, [no_text_calls])]}
    messages = await _collect(_opts(sse_server, tools=[_deleter(ran)], hooks=hooks))
    assert ran == []
    assert seen == [True]
    assert "calls written as text are not run" in messages[1].content[0].content


async def test_can_use_tool_sees_recovered(sse_server: SSEServer) -> None:
    ran: list[str] = []
    seen: list[bool] = []

    def permission(name: str, arguments: dict[str, Any], context: Any) -> Any:
        seen.append(context.recovered)
        if context.recovered:
            return PermissionResultDeny(message="text call refused")
        return PermissionResultAllow()

    sse_server.script.stream(
        text_stream('<tool_call>{"name": "delete_file", "arguments": {"path": "/"}}</tool_call>')
    )
    sse_server.script.stream(text_stream("ok"))
    await _collect(_opts(sse_server, tools=[_deleter(ran)], can_use_tool=permission))
    assert ran == []
    assert seen == [True]


@pytest.mark.parametrize("finish", ["length", "content_filter"])
@pytest.mark.parametrize(
    "text",
    [
        'Like this:\n<tool_call>{"name": "delete_file", "arguments": {"path": "/"}}</tool_call>\n',
        'The format:\n{"name": "delete_file", "arguments": {"path": "/"}}',
        'For example:\n<|python_tag|>{"name": "delete_file", "arguments": {"path": "/"}}',
        "Qwen3-Coder writes:\n<function=delete_file><parameter=path>/</parameter></function>",
    ],
)
async def test_a_call_in_a_cut_message_does_not_run(
    sse_server: SSEServer, finish: str, text: str
) -> None:
    """A model stopped by ``max_tokens`` or a content filter right after a call that follows
    its prose might have gone on to say it was only an example: the trailing rule cannot
    decide, so the call stays visible text and does not run. (A call that is the whole
    message still runs: test_fenced_json_call_llama_server_stock_template_real.)"""
    ran: list[str] = []
    sse_server.script.stream(
        text_stream(*[text[i : i + 7] for i in range(0, len(text), 7)], finish=finish)
    )
    messages = await _collect(_opts(sse_server, tools=[_deleter(ran)]))
    assert ran == []
    assert messages[0].content == [TextBlock(text)]


# ============================================================ bounds and linear time
def test_options_are_validated() -> None:
    base: dict[str, Any] = {"model": "m", "base_url": "http://127.0.0.1:1/v1"}
    for bad in ({"text_tool_calls": "on"}, {"text_tool_calls": True}):
        with pytest.raises(ConfigurationError, match="text_tool_calls"):
            AgentOptions(**base, **bad)
    for held in (0, -1, True, 1.5):
        with pytest.raises(ConfigurationError, match="max_held_text"):
            AgentOptions(**base, max_held_text=held)  # type: ignore[arg-type]
    assert AgentOptions(**base).max_held_text == 65_536


@pytest.mark.parametrize(
    "opening",
    ["<tool_call>{", "<|python_tag|>{", "```json\n{", "{", "[TOOL_CALLS]get_weather[ARGS]{"],
)
def test_held_text_is_bounded_and_given_back_as_text(opening: str) -> None:
    """Item 1: past ``max_held`` the held text is given out (as text) while the stream runs,
    not at its end; nothing is lost."""
    scanner = TextScanner(WEATHER, max_held=100)
    out = scanner.feed(opening)
    for _ in range(50):
        out += scanner.feed('"city": "')
    shown = "".join(v for k, v in out if k == "text")
    assert len(shown) >= len(opening) + 50 * 9 - 100
    out += scanner.close()
    assert "".join(v for k, v in out if k == "text") == opening + 50 * '"city": "'


def test_whitespace_after_a_call_is_bounded_too() -> None:
    scanner = TextScanner(WEATHER, max_held=100)
    out = scanner.feed(f"<tool_call>{C}</tool_call>")
    for _ in range(30):
        out += scanner.feed("\n\n\n\n\n")
    assert out
    assert out[0][0] == "text"


def test_max_held_text_reaches_the_scanner() -> None:
    """Given out while the stream runs, before its end."""
    dec = StreamDecoder(WEATHER, max_held_text=10)
    events = dec.feed(sse(chunk("<tool_call>" + " " * 20 + "{")))
    assert TextDelta("<tool_call>" + " " * 20 + "{") in events


def _finishes(fn: Callable[[], Any], seconds: float = 120.0) -> Any:
    """A hang guard, not a timing assertion."""
    box: list[Any] = []
    worker = threading.Thread(target=lambda: box.append(fn()), daemon=True)
    worker.start()
    worker.join(seconds)
    assert box, f"did not finish within {seconds} s"
    return box[0]


ADVERSARIAL = {
    "spaces in an unclosed fence": "```json\n{" + " " * 200_000,
    "spaces after a fence": "```" + " " * 200_000,
    "spaces in a function body": "<function=get_weather><parameter=city>" + " " * 200_000,
    "openers": "<tool_call>" * 20_000,
    "openers mid-line": "x <tool_call> <function=get_weather> [TOOL_CALLS] " * 4_000,
    "openers in code spans (D9)": "`<tool_call>` x " * 100_000,  # quadratic: minutes before
    "openers at line starts": "\n<tool_call>x" * 20_000,
    "unclosed think": "<think>" + "<" * 200_000,
    "backticks": "`" * 200_000,
    "braces": "{" * 200_000,
    "calls": f"<tool_call>{C}</tool_call>" * 3_000,
}


@pytest.mark.parametrize("text", ADVERSARIAL.values(), ids=ADVERSARIAL.keys())
def test_adversarial_text_finishes(text: str) -> None:
    """Item 1 / D9: whitespace runs, thousands of openers, unclosed markers, whole or in
    small pieces. (The cubic patterns took ~17 s for 2,500 spaces; times are in make bench.)"""

    def collect(parts: list[str]) -> list[tuple[str, Any]]:
        scanner = TextScanner(WEATHER)
        out: list[tuple[str, Any]] = []
        for part in parts:
            out += scanner.feed(part)
        out += scanner.close()
        merged: list[tuple[str, Any]] = []  # (joined once: the shared helper concatenates)
        for kind, group in itertools.groupby(out, key=lambda p: p[0]):
            values = [v for _, v in group]
            if kind == "call":
                merged += [(kind, v) for v in values]
            else:
                merged.append((kind, "".join(values)))
        return merged

    def run() -> list[tuple[str, Any]]:
        whole = collect([text])
        assert collect([text[i : i + 7] for i in range(0, len(text), 7)]) == whole
        return whole

    out = _finishes(run)
    if all(kind == "text" for kind, _ in out):
        assert "".join(v for _, v in out) == text


def test_parsers_do_not_backtrack_on_whitespace() -> None:
    """Item 1: the fence and ``<parameter=…>`` patterns were cubic in blank runs."""
    blanks = " " * 20_000
    assert _finishes(lambda: parse_json_calls("```json\n{" + blanks, WEATHER)) is None
    assert _finishes(lambda: parse_json_calls("```json\n" + blanks, WEATHER)) is None
    assert _finishes(lambda: parse_json_calls("``` " + blanks, WEATHER)) is None
    assert _finishes(lambda: parse_json_calls(f"```json{blanks}\n{C}{blanks}```", WEATHER)) == [
        PARIS
    ]
    body = f"get_weather><parameter=city>{blanks}Paris{blanks}</parameter>{blanks}"
    assert _finishes(lambda: parse_xml_function(body, WEATHER)) == [PARIS]
    unclosed = f"get_weather><parameter=city>{blanks}Paris{blanks}"
    assert _finishes(lambda: parse_xml_function(unclosed, WEATHER)) is None


def test_cut_anywhere_the_trailing_rule_decides_the_same() -> None:
    text = f"Here:\n<tool_call>{C}</tool_call>\n\n"
    points = range(0, len(text) + 1, 3)
    whole = scan([text])
    for a, b in itertools.combinations(points, 2):
        assert scan([text[:a], text[a:b], text[b:]]) == whole
