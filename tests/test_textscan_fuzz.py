"""Hypothesis-generated adversarial text for the text scanner (issue 11 items 1-2): whitespace
runs, thousands of openers, unclosed markers, quotes and fences, cut anywhere. Only
correctness properties are asserted (no timings: those are in ``make bench``); a generous
guard catches a hang."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable
from typing import Any

from hypothesis import example, given, settings
from hypothesis import strategies as st
from scanning import scan
from sse_server import chunk, sse

from any_agent._wire.decoder import StreamDecoder
from any_agent._wire.textscan import MARKUPS, TextScanner
from any_agent.errors import AnyAgentError

WEATHER = frozenset({"get_weather"})
C = '{"name": "get_weather", "arguments": {"city": "Paris"}}'
OPENERS = [m.opener for m in MARKUPS]
CLOSERS = [m.closer for m in MARKUPS if m.closer]

_WORDS = st.sampled_from(
    [
        *OPENERS,
        *CLOSERS,
        "<think>",
        "</think>",
        C,
        "{",
        "}",
        '"',
        "\\",
        "[ARGS]",
        "get_weather",
        "<parameter=city>",
        "</parameter>",
        "`",
        "```",
        "```json",
        "> ",
        "    ",
        "\t",
        "\n",
        "<code>",
        "Sure",
        ":",
        "[get_weather(city='Paris')]",
    ]
)
_BLANKS = st.builds(
    lambda c, n: c * n, st.sampled_from([" ", "\n", "\t", " \n"]), st.integers(0, 3000)
)
_TEXT = st.lists(st.one_of(_WORDS, _BLANKS), max_size=30).map("".join)


def _finishes(fn: Callable[[], Any], seconds: float = 120.0) -> Any:
    """A hang guard, not a timing assertion."""
    box: list[Any] = []
    worker = threading.Thread(target=lambda: box.append(fn()), daemon=True)
    worker.start()
    worker.join(seconds)
    assert box, f"did not finish within {seconds} s"
    return box[0]


def _cut(text: str, points: list[int]) -> list[str]:
    bounds = sorted({0, len(text), *(p % (len(text) + 1) for p in points)})
    return [text[a:b] for a, b in itertools.pairwise(bounds)]


@settings(max_examples=300, deadline=None)
@given(text=_TEXT, points=st.lists(st.integers(0, 100_000), max_size=10))
def test_adversarial_text_is_split_invariant_and_loses_nothing(
    text: str, points: list[int]
) -> None:
    """Whole or cut anywhere, the same pieces; with no call and no reasoning found, the text
    comes back exactly."""
    whole = _finishes(lambda: scan([text]))
    assert _finishes(lambda: scan(_cut(text, points))) == whole
    if all(kind == "text" for kind, _ in whole) and "think>" not in text:
        assert "".join(v for _, v in whole) == text


_PROSE = st.sampled_from(["Sure", "I will not do this:", 'He said "', "> quote", "Use `", "x"])


@settings(max_examples=300, deadline=None)
@given(prose=_PROSE, rest=_TEXT.map(lambda t: t.replace("\n", " ")))
@example(prose="Sure", rest=f"<tool_call>{C}</tool_call>")
@example(prose="I will not do this:", rest=f"<|python_tag|>{C}")
def test_a_line_that_starts_with_prose_never_yields_a_call(prose: str, rest: str) -> None:
    """Item 2: on one line that begins with prose every marker is quoted: no call, and the
    line is given back exactly."""
    text = prose + " " + rest
    out = _finishes(lambda: scan([text]))
    assert out == [("text", text)]


@settings(max_examples=300, deadline=None)
@given(text=_TEXT)
@example(text=f"```json\n{C}\n```")
def test_prose_at_the_end_means_no_call(text: str) -> None:
    """Item 2: a call followed by prose is not a call, whatever came before."""
    out = _finishes(lambda: scan([text + "\nThanks, that is all."]))
    assert not any(kind == "call" for kind, _ in out)


@settings(max_examples=200, deadline=None)
@given(
    text=_TEXT,
    held=st.integers(1, 200),
    size=st.integers(1, 50),
)
def test_bounded_hold_back_loses_nothing(text: str, held: int, size: int) -> None:
    """With a small ``max_held`` the scanner never holds more than that and gives every
    character back when no call is found."""
    scanner = TextScanner(WEATHER, max_held=held)
    out: list[tuple[str, Any]] = []
    for i in range(0, len(text), size):
        out += scanner.feed(text[i : i + size])
    out += scanner.close()
    if all(kind == "text" for kind, _ in out) and "think>" not in text:
        assert "".join(v for _, v in out) == text


@settings(max_examples=100, deadline=None)
@given(text=_TEXT, size=st.integers(1, 64))
def test_only_typed_errors_come_out_of_the_decoder(text: str, size: int) -> None:
    """Through the whole decoder, in events of any size: nothing but AnyAgentError escapes."""
    events = [chunk(text[i : i + size]) for i in range(0, len(text), size)]
    data = sse(chunk(role="assistant", content=""), *events, chunk(finish="stop"))

    def run() -> bool:
        dec = StreamDecoder(WEATHER)
        try:
            dec.feed(data)
            dec.close()
            dec.result()
        except AnyAgentError:
            pass
        return True

    assert _finishes(run)
