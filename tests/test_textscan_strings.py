"""A call marker inside a JSON string argument is part of the argument: the text-call recoverer
ends a ``<tool_call>`` (``[TOOL_REQUEST]``, a JSON fence) only at a closer outside the body's
strings, however the stream is cut, in one pass, within ``max_held``. Streams through the loop
go through the scripted server on 127.0.0.1."""

from __future__ import annotations

from typing import Any

import pytest
from scanning import scan
from sse_server import SSEServer, text_stream

from any_agent import (
    AgentOptions,
    HookMatcher,
    HookResult,
    TextBlock,
    ToolUseBlock,
    query,
    tool,
)
from any_agent._wire.textscan import TextScanner

NOTE = frozenset({"save_note"})
MARKED = "Close it with </tool_call> and stop."
HERMES = (
    '<tool_call>{"name":"save_note","arguments":{"text":"Close it with </tool_call> and '
    'stop."}}</tool_call>'
)


def scan_every_way(text: str, tools: frozenset[str] = NOTE) -> list[tuple[str, Any]]:
    """The same pieces whole, one character at a time, and cut once anywhere."""
    whole = scan([text], tools)
    assert scan(list(text), tools) == whole
    for i in range(len(text) + 1):
        assert scan([text[:i], text[i:]], tools) == whole, i
    return whole


def note(text: str) -> tuple[str, Any]:
    return ("call", ("save_note", {"text": text}))


def test_the_closer_inside_an_argument_is_part_of_it() -> None:
    assert scan_every_way(HERMES) == [note(MARKED)]


def args(value: str) -> str:
    """A save_note call whose text is the JSON string literal ``value``."""
    return '{"name":"save_note","arguments":{"text":' + value + "}}"


@pytest.mark.parametrize(
    ("text", "value"),
    [
        # an escaped quote does not end the string; an escaped backslash before the quote does
        (args(r'"say \"</tool_call>\" now"'), 'say "</tool_call>" now'),
        (args(r'"C:\\"'), "C:\\"),
        (args(r'"C:\\</tool_call>"'), "C:\\</tool_call>"),
        (args('"</tool_call></tool_call>"'), "</tool_call></tool_call>"),
        ("[" + args('"a</tool_call>"') + "]", "a</tool_call>"),
        ('{"name":"save_note","arguments":{"text":"x"}, "note": "</tool_call>"}', None),
    ],
)
def test_strings_escapes_and_lists(text: str, value: str | None) -> None:
    got = scan_every_way(f"<tool_call>{text}</tool_call>")
    if value is None:  # a key no call has: one body (not cut at the quoted closer), as text
        assert got == [("text", f"<tool_call>{text}</tool_call>")]
    else:
        assert got == [note(value)]


def test_lm_studio_and_fenced_calls_keep_their_closers_too() -> None:
    lms = "[TOOL_REQUEST]" + args('"[END_TOOL_REQUEST]!"') + "[END_TOOL_REQUEST]"
    assert scan_every_way(lms) == [note("[END_TOOL_REQUEST]!")]
    fenced = '```json\n{"name":"save_note","arguments":{"text":"a ``` b"}}\n```'
    assert scan_every_way(fenced) == [note("a ``` b")]


def test_prose_after_the_call_still_makes_it_text() -> None:
    text = HERMES + "\nThat is only the format."
    assert scan_every_way(text) == [("text", text)]


def test_a_body_that_is_not_json_ends_at_the_first_closer_as_before() -> None:
    """A raw newline cannot be inside a JSON string: an unclosed quote stops hiding closers
    at the end of its line, so the text after the closer is given out while streaming."""
    body = '<tool_call>{"name":"save_note","arguments":{"text":"it\'s\n</tool_call>'
    scanner = TextScanner(NOTE)
    out = scanner.feed(body) + scanner.feed("Then more prose")
    assert "".join(v for _, v in out) == body + "Then more prose"
    code = '```\nprint("a\n```\nok'
    assert scan_every_way(code) == [("text", code)]
    xml = "<tool_call><function=save_note><parameter=text>x</parameter></function></tool_call>"
    assert scan_every_way(xml) == [note("x")]


def test_an_unclosed_string_is_held_within_max_held_and_given_back() -> None:
    opening = '<tool_call>{"name":"save_note","arguments":{"text":"'
    scanner = TextScanner(NOTE, max_held=200)
    out = scanner.feed(opening)
    for _ in range(100):
        out += scanner.feed("</tool_call> ")
    assert sum(len(v) for k, v in out if k == "text") >= len(opening) + 100 * 13 - 200
    out += scanner.close()
    assert out
    assert all(k == "text" for k, _ in out)
    assert "".join(v for _, v in out) == opening + 100 * "</tool_call> "


# ============================================================ through the agent loop
@tool
def save_note(text: str) -> str:
    """Save a note."""
    return "saved"


def _opts(server: SSEServer, **kw: Any) -> AgentOptions:
    return AgentOptions(
        **{"model": "m", "base_url": server.url, "max_retries": 0, "max_turns": 2} | kw
    )


async def test_the_loop_gets_one_recovered_call_a_hook_may_refuse(sse_server: SSEServer) -> None:
    seen: list[tuple[bool, Any]] = []

    async def refuse_text_calls(data: Any) -> HookResult | None:
        seen.append((data.recovered, data.tool_input))
        return HookResult.deny("calls written as text are not run") if data.recovered else None

    sse_server.script.stream(text_stream(*[HERMES[i : i + 5] for i in range(0, len(HERMES), 5)]))
    sse_server.script.stream(text_stream("ok"))
    hooks = {"PreToolUse": [HookMatcher(None, [refuse_text_calls])]}
    options = _opts(sse_server, tools=[save_note], provider="llamacpp", hooks=hooks)
    messages = [m async for m in query("go", options)]
    (block,) = messages[0].content
    assert isinstance(block, ToolUseBlock)
    assert block.recovered
    assert block.input == {"text": MARKED}
    assert seen == [(True, {"text": MARKED})]
    assert "calls written as text are not run" in messages[1].content[0].content
    assert messages[2].content == [TextBlock("ok")]
