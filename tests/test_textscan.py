"""Regression tests for :mod:`any_agent._wire.textscan`: markers that are only mentioned stay
text, malformed leaked calls are given back whole, and every decision is the same however the
stream is cut. Each test names the defect it pins down (D1-D7)."""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from scanning import scan
from sse_server import chunk, sse

from any_agent._wire.decoder import StreamDecoder
from any_agent._wire.textscan import MARKUPS, TextScanner, parse_json_calls, parse_pythonic
from any_agent.types import TextBlock

WEATHER = frozenset({"get_weather"})
C = '{"name": "get_weather", "arguments": {"city": "Paris"}}'
PARIS = ("get_weather", {"city": "Paris"})


def cut(text: str, points: Iterable[int]) -> list[str]:
    bounds = [0, *sorted(set(points)), len(text)]
    return [text[a:b] for a, b in itertools.pairwise(bounds)]


def scan_every_way(text: str, tools: Iterable[str] = WEATHER) -> list[tuple[str, Any]]:
    """The result for ``text`` whole, checked equal one character at a time and cut in two
    anywhere."""
    whole = scan([text], tools)
    assert scan(list(text), tools) == whole
    for i in range(len(text) + 1):
        assert scan([text[:i], text[i:]], tools) == whole, i
    return whole


# ===================================================================== D1 <function=...>
@pytest.mark.parametrize(
    "text",
    [
        "Qwen3-Coder writes calls as <function=get_weather> blocks, with parameters inside.",
        "<tool_call>\n<function=get_weather>\nI think Paris\n</function>\nextra prose\n"
        "</tool_call>",
        "<function=get_weather> is how it starts.</function>",
        "<function=get_weather><parameter=city>Paris</parameter> and prose</function>",
    ],
)
def test_d1_function_tag_in_prose_stays_text(text: str) -> None:
    """D1: ``<function=NAME>`` followed by anything but ``<parameter=..>`` elements is prose,
    given back whole, never run with ``{}``."""
    assert scan_every_way(text) == [("text", text)]


def test_d1_well_formed_xml_function_is_still_a_call() -> None:
    """D1: the strict parser still takes whitespace between elements and several parameters;
    a body with trailing prose in the same stream is text."""
    call = (
        "<function=get_weather>\n  <parameter=city>Paris</parameter>\n"
        "<parameter=days>2</parameter>\n</function>"
    )
    prose = "<function=get_weather>\n<parameter=city>Paris</parameter>\nthen rain\n</function>"
    assert scan_every_way(call) == [("call", ("get_weather", {"city": "Paris", "days": 2}))]
    assert scan_every_way(prose) == [("text", prose)]


# ===================================================================== D3 <think> mid-answer
@pytest.mark.parametrize("tools", [(), ("get_weather",)], ids=["no-tools", "tools"])
def test_d3_think_mentioned_mid_line_is_text(tools: tuple[str, ...]) -> None:
    """D3: a ``<think>`` in the middle of a line of the answer is a mention, not reasoning."""
    text = "Qwen3 wraps its reasoning in `<think>` tags. Strip them with a regex.\n\n"
    text += "Hope that helps!"
    assert scan_every_way(text, tools) == [("text", text)]
    bare = "Qwen3 wraps its reasoning in <think> tags.\n\nHope that helps!"
    assert scan_every_way(bare, tools) == [("text", bare)]


@pytest.mark.parametrize("tools", [(), ("get_weather",)], ids=["no-tools", "tools"])
def test_d3_think_at_message_or_line_start_is_reasoning(tools: tuple[str, ...]) -> None:
    """D3: reasoning starts before any visible text or at the start of a line (after spaces or
    tabs); the same tag later on a line stays text."""
    text = "Intro.\n \t<think>plan</think>\nAnswer: use <think> tags."
    assert scan_every_way(text, tools) == [
        ("text", "Intro.\n \t"),
        ("thinking", "plan"),
        ("text", "Answer: use <think> tags."),
    ]
    assert ("thinking", "a") in scan_every_way("  <think>a</think>b", tools)
    assert scan(["<think>x</think>"], tools, think_open=True) == [("thinking", "<think>x")]


# ===================================================================== D6 pythonic
def test_d6_pythonic_list_argument_is_kept_whole() -> None:
    """D6: ``cities=["Paris", "Rome"]`` was cut at the first comma."""
    text = '<|tool_call_start|>[get_weather(cities=["Paris", "Rome"], days=2)]<|tool_call_end|>'
    assert scan_every_way(text) == [
        ("call", ("get_weather", {"cities": ["Paris", "Rome"], "days": 2}))
    ]


_NOT_PLAIN_CALLS = [
    'Sure, I will use get_weather(city="Paris")',
    '[get_weather("Paris")]',
    "[get_weather(**{'city': 'Paris'})]",
    '[get_weather(city=open("/etc/passwd").read())]',
    '[get_weather(city="Paris") # and Rome\n]',
    '[get_weather(city="Paris", city="Rome")]',
    '[get_weather(city="Paris"), then(x=1)]',
]


def test_d6_pythonic_that_is_not_a_plain_call_stays_text() -> None:
    """D6: prose (whose call was taken and the prose dropped), positional or ``**`` arguments,
    expressions, comments, repeated keywords and names not offered are not calls; the whole
    markup is given back."""
    for body in _NOT_PLAIN_CALLS:
        text = f"<|tool_call_start|>{body}<|tool_call_end|>"
        assert scan([text]) == [("text", text)], body
        assert scan(list(text)) == [("text", text)], body


def test_d6_pythonic_literals_are_read_exactly() -> None:
    """D6: values are Python or JSON literals: nested lists/tuples/dicts, negative numbers,
    ``True``/``true``/``None``/``null``, strings holding commas, brackets and parentheses."""
    body = (
        '[get_weather(city="Paris, (FR)", at=[1, (2, -3.5)], opts={"a": {"b": None}},'
        " hot=true, cold=False, rain=null, big=123456789012345678901234567890)]"
    )
    args = {
        "city": "Paris, (FR)",
        "at": [1, [2, -3.5]],
        "opts": {"a": {"b": None}},
        "hot": True,
        "cold": False,
        "rain": None,
        "big": 123456789012345678901234567890,
    }
    assert parse_pythonic(body, WEATHER) == [("get_weather", args)]
    for bad in ["x=1e999", "x=1j", "x=b'1'", "x={1: 2}", "x=...", "x=-True", "x=+1", "x=[*a]"]:
        assert parse_pythonic(f"get_weather({bad})", WEATHER) is None, bad
    deep = "get_weather(x=" + "[" * 100_000 + "]" * 100_000 + ")"
    assert parse_pythonic(deep, WEATHER) is None


def test_d6_pythonic_names_python_cannot_call() -> None:
    """D6: offered names with ``-``, dots or keywords are found; a string argument that
    mentions such a call keeps its exact text."""
    names = frozenset({"get-weather", "weather.get", "class"})
    body = '[get-weather(note="get-weather(x) or class(y)"), weather.get(n=[1, 2]), class(k="v")]'
    assert parse_pythonic(body, names) == [
        ("get-weather", {"note": "get-weather(x) or class(y)"}),
        ("weather.get", {"n": [1, 2]}),
        ("class", {"k": "v"}),
    ]
    assert parse_pythonic("weather.other(n=1)", names) is None


# ===================================================================== D7 / D5 fences
@pytest.mark.parametrize("tag", ["JSON", "Json", " json ", "        json"])
def test_d7_fence_tag_in_any_case_or_spacing_is_a_call(tag: str) -> None:
    """D7: ```` ```JSON ```` was held as a fence and then never parsed; spaces around the tag
    are read the same by the scanner and the parser."""
    assert scan_every_way(f"```{tag}\n{C}\n```") == [("call", PARIS)]
    assert parse_json_calls(f"```{tag}\n{C}\n```", WEATHER) == [PARIS]


_NOT_JSON_FENCES = [
    '```json     {"name": "get_weather", "arguments": {}}```',
    '```          {"name": "get_weather", "arguments": {}}```',
    '```JSON\t\t\t\t\t\t{"name": "get_weather", "arguments": {}}\n```',
    "```js on\n" + C + "\n```",
    "```jsonc\n" + C + "\n```",
]


def test_d5_fence_tag_without_newline_decides_the_same_however_split() -> None:
    """D5: the tag was judged from a 12-character prefix when no newline had come yet, so
    whole and split streams disagreed. A tag that is not "" or "json" makes the fence text."""
    for text in _NOT_JSON_FENCES:
        assert scan_every_way(text) == [("text", text)], text


# ===================================================================== D2 backticks, fences
_CODE_SPANS = [
    "Example: `<tool_call>" + C + "</tool_call>` - that's the Hermes format.",
    "`<tool_call>" + C + "</tool_call>`",
    "Use ``<think>`` here.",
    "Write `<function=get_weather><parameter=city>Paris</parameter></function>`.",
    "Use `<|python_tag|>" + C + "` for Llama.",
    "Write `[TOOL_CALLS]get_weather[ARGS]{}` like that.",
]


def test_d2_opener_right_after_a_backtick_is_text() -> None:
    """D2: a marker in an inline code span is quoted, never run (nor turned into reasoning)."""
    for text in _CODE_SPANS:
        assert scan_every_way(text) == [("text", text)], text


def test_d2_opener_inside_a_code_fence_is_text_and_after_it_a_call() -> None:
    """D2: inside a ```` ``` ```` fence of the visible text markers are examples; once the fence
    is closed they count again."""
    fence = "Like this:\n```\n<tool_call>" + C + "</tool_call>\n<think>x</think>\n```\n"
    assert scan_every_way(fence + "<tool_call>" + C + "</tool_call>") == [
        ("text", fence),
        ("call", PARIS),
    ]
    longer = "Like this:\n````xml\n<tool_call>" + C + "</tool_call>\n````"
    assert scan_every_way(longer) == [("text", longer)]


# ===================================================================== minor
def test_function_wrapper_with_other_keys_stays_text() -> None:
    """Minor: ``{"function": {...}, "note": ...}`` dropped the note; only ``function``,
    ``type`` and ``id`` may sit beside the wrapper."""
    inner = '{"name": "get_weather", "arguments": {}}'
    noted = '{"function": ' + inner + ', "note": "prose"}'
    assert scan_every_way(noted) == [("text", noted)]
    wrapped = '{"type": "function", "id": "c1", "function": ' + inner + "}"
    assert scan_every_way(wrapped) == [("call", ("get_weather", {}))]


# ===================================================================== properties
_CALL_EMPTY = '{"name": "get_weather", "arguments": {}}'
_VOCAB = [
    "Hi ",
    "x",
    " ",
    "     ",
    "\t",
    "\n",
    "`",
    "``",
    "```",
    "````",
    "```json",
    "```JSON",
    "``` Json ",
    "json",
    "JS",
    "```python\n",
    "<think>",
    "</think>",
    "<th",
    "<tool_call>",
    "</tool_call>",
    C,
    _CALL_EMPTY,
    "{",
    "}",
    "<function=get_weather>",
    "<parameter=city>Paris</parameter>",
    "I think Paris",
    "</function>",
    "<|tool_call_start|>",
    "<|tool_call_end|>",
    '[get_weather(cities=["Paris", "Rome"], days=-2)]',
    'Sure, I will use get_weather(city="Paris")',
    'get_weather("Paris")',
    "[TOOL_CALLS]",
]


@settings(max_examples=500, deadline=None)
@given(
    words=st.lists(st.sampled_from(_VOCAB), max_size=12),
    points=st.lists(st.integers(0, 10_000), max_size=8),
    tools=st.booleans(),
    think_open=st.booleans(),
)
@example(words=["```json", "     ", _CALL_EMPTY, "```"], points=[], tools=True, think_open=False)
@example(
    words=["```", "     ", "     ", "json\n", C, "```"], points=[], tools=True, think_open=False
)
def test_property_split_invariant_with_quotes_fences_and_pythonic(
    words: list[str], points: list[int], tools: bool, think_open: bool
) -> None:
    """Backticks, fences with odd spacing and case, mid-line ``<think>`` and pythonic bodies
    with lists and prose scan the same whole, cut anywhere, and one character at a time; when
    no call is found (and no think tag is present), the text comes back unchanged."""
    text = "".join(words)
    names = WEATHER if tools else frozenset()
    whole = scan([text], names, think_open=think_open)
    parts = cut(text, [p % (len(text) + 1) for p in points])
    assert scan(parts, names, think_open=think_open) == whole
    assert scan(list(text), names, think_open=think_open) == whole
    if "think>" not in text and all(kind == "text" for kind, _ in whole):
        assert "".join(value for _, value in whole) == text


def test_think_tags_quoted_mid_sentence_stay_text_in_the_final_blocks() -> None:
    """A ``<think>…</think>`` the scanner gave back as text (mid-sentence) is not mistaken for
    a template that opened the tag itself when the ``</think>`` ends a line."""
    stream = sse(chunk("Sure.<think>x</think>\nAnswer"), chunk(finish="stop"))
    dec = StreamDecoder(frozenset())
    dec.feed(stream)
    dec.close()
    assert dec.result().blocks == [TextBlock("Sure.<think>x</think>\nAnswer")]


@pytest.mark.parametrize("opener", [m.opener for m in MARKUPS])
def test_a_marker_only_mentioned_is_given_back_at_once(opener: str) -> None:
    """D8: after a marker whose body cannot start a call, the text streams on instead of
    being held to the end of the message (it was: every later character held)."""
    scanner = TextScanner(WEATHER)
    streamed = scanner.feed(f"Models write {opener}") + scanner.feed(" (see the docs). More")
    assert (
        "".join(v for k, v in streamed if k == "text")
        == f"Models write {opener} (see the docs). More"
    )
    text = f"Models write {opener} (see the docs).\n<tool_call>{C}</tool_call>"
    assert scan_every_way(text) == [
        ("text", f"Models write {opener} (see the docs).\n"),
        ("call", PARIS),
    ]
