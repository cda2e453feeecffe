"""Stream edges are decided by the bytes, not by where TCP cut them.

Anything after ``data: [DONE]`` is ignored whether it arrives in the read that held
``[DONE]`` or later; CR-only line ends (valid SSE per the WHATWG spec; sent by some proxies
that rewrite line ends) decode like LF, and a CR ending one read with the LF opening the
next is one CRLF line end, not two.
"""

from __future__ import annotations

import itertools
import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sse_server import SSEServer, chunk, opts, sse, text_stream, tool_call

from any_agent import Client, LimitExceededError, ResultMessage, ToolUseBlock
from any_agent._wire.decoder import StreamDecoder, TurnResult
from any_agent._wire.sse import SSEDecoder


def run(pieces: list[bytes], tools: frozenset[str] = frozenset({"f"})) -> TurnResult:
    decoder = StreamDecoder(tools, id_seed="s")
    for piece in pieces:
        decoder.feed(piece)
    decoder.close()
    return decoder.result()


def summary(result: TurnResult) -> tuple[Any, ...]:
    return (result.blocks, result.finish_reason, result.failure, result.done_seen)


def splits(data: bytes, points: list[int]) -> list[bytes]:
    cuts = sorted({p % (len(data) + 1) for p in points})
    edges = [0, *cuts, len(data)]
    return [data[a:b] for a, b in itertools.pairwise(edges) if b > a]


ANSWER = sse(
    chunk(role="assistant", content=""),
    chunk("Hel"),
    chunk("lo"),
    chunk(tool_calls=[tool_call(0, id="c1", type="function", name="f", arguments='{"a": 1}')]),
    chunk(finish="tool_calls"),
)
AFTER_DONE = [
    sse(chunk("more text"), chunk(finish="length"), done=False),
    b'data: {"error": {"message": "late error"}}\n\n',
    b'error: {"message": "legacy late error"}\n',
    b"data: {not json\n\n",
    b'data: {"choices": 5}\n\n',
    b'data: {"half an event',  # and the connection closes
    b"data: [DONE]\n\ndata: [DONE]\n\n",
]


@pytest.mark.parametrize("trailer", range(len(AFTER_DONE)))
def test_anything_after_done_is_ignored_at_every_split_point(trailer: int) -> None:
    expected = summary(run([ANSWER]))
    assert expected[2] is None
    data = ANSWER + AFTER_DONE[trailer]
    for point in range(len(data) + 1):
        assert summary(run([data[:point], data[point:]])) == expected, point


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(AFTER_DONE), st.lists(st.integers(0, 10_000), max_size=12))
def test_anything_after_done_is_ignored_however_the_bytes_are_split(
    trailer: bytes, points: list[int]
) -> None:
    expected = summary(run([ANSWER]))
    assert summary(run(splits(ANSWER + trailer, points))) == expected


@pytest.mark.parametrize("together", [True, False], ids=["same-read", "next-read"])
async def test_a_client_ignores_what_follows_done(sse_server: SSEServer, together: bool) -> None:
    answer = text_stream("Hello")
    trailer = b'data: {"error": {"message": "late"}}\n\ndata: {broken'
    steps = [answer + trailer] if together else [answer, trailer]
    sse_server.script.stream(*steps)
    async with Client(opts(sse_server)) as client:
        await client.query("hi")
        messages = [m async for m in client.receive_response()]
    assert isinstance(messages[-1], ResultMessage)
    assert (messages[-1].result, messages[-1].stop_reason) == ("Hello", "stop")


# -- line ends ------------------------------------------------------------------------------


def with_line_ends(data: bytes, end: bytes) -> bytes:
    return data.replace(b"\n", end)


@pytest.mark.parametrize("end", [b"\r", b"\r\n", b"\n"], ids=["CR", "CRLF", "LF"])
def test_every_line_end_decodes_alike_at_every_split_point(end: bytes) -> None:
    expected = summary(run([ANSWER]))
    data = with_line_ends(ANSWER, end)
    assert summary(run([data])) == expected
    for point in range(len(data) + 1):
        assert summary(run([data[:point], data[point:]])) == expected, point


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.sampled_from([b"\r", b"\r\n", b"\n"]), min_size=1, max_size=64),
    st.lists(st.integers(0, 10_000), max_size=16),
)
def test_mixed_line_ends_decode_however_the_bytes_are_split(
    ends: list[bytes], points: list[int]
) -> None:
    expected = summary(run([ANSWER]))
    lines = ANSWER.split(b"\n")
    data = b"".join(line + ends[i % len(ends)] for i, line in enumerate(lines[:-1])) + lines[-1]
    assert summary(run(splits(data, points))) == expected


def test_a_crlf_split_across_reads_is_one_line_end() -> None:
    # one event whose data spans two lines: were CR and LF two line ends, the blank line
    # between them would cut the event in two halves that are not JSON
    event = {"choices": [{"index": 0, "delta": {"content": "hi"}, "finish_reason": "stop"}]}
    first, second = json.dumps(event).split(' "delta"')
    pieces = [
        b"data: " + first.encode() + b"\r",
        b"\ndata: " + b'"delta"' + second.encode(),
        b"\r",
        b"\n\r",
        b"\n",
    ]
    result = run(pieces)
    assert result.failure is None
    assert result.finish_reason == "stop"
    assert [b.text for b in result.blocks] == ["hi"]  # type: ignore[union-attr]


def test_sse_framer_cr_then_lf_in_the_next_read() -> None:
    sse_decoder = SSEDecoder()
    got = sse_decoder.feed(b"data: a\r")
    got += sse_decoder.feed(b"\ndata: b\r")
    got += sse_decoder.feed(b"\n\r")
    got += sse_decoder.feed(b"\n")
    assert got == [("data", b"a\nb")]
    assert sse_decoder.idle


def test_sse_framer_lone_crs_are_line_ends() -> None:
    sse_decoder = SSEDecoder()
    assert sse_decoder.feed(b"data: a\r\rdata: b\r\r") == [("data", b"a"), ("data", b"b")]
    # a read that looks like one whole LF event but holds a lone CR is two lines
    assert sse_decoder.feed(b"data: x\rdata: y\n\n") == [("data", b"x\ny")]


async def test_a_cr_only_stream_through_a_client(sse_server: SSEServer) -> None:
    data = with_line_ends(
        sse(chunk(role="assistant", content=""), chunk("Hel"), chunk("lo"), chunk(finish="stop")),
        b"\r",
    )
    # cut so that reads end between a CR and what follows
    sse_server.script.stream(*[data[i : i + 37] for i in range(0, len(data), 37)])
    async with Client(opts(sse_server)) as client:
        await client.query("hi")
        messages = [m async for m in client.receive_response()]
    assert isinstance(messages[-1], ResultMessage)
    assert (messages[-1].result, messages[-1].stop_reason) == ("Hello", "stop")


def test_tool_call_survives_cr_line_ends() -> None:
    result = run([with_line_ends(ANSWER, b"\r")])
    calls = [b for b in result.blocks if isinstance(b, ToolUseBlock)]
    assert [(c.name, c.input) for c in calls] == [("f", {"a": 1})]


# -- a leading BOM, and max_event_bytes at its boundary ---------------------------------------

BOM = b"\xef\xbb\xbf"


def test_a_leading_bom_is_ignored_at_every_split_point() -> None:
    # WHATWG: one leading U+FEFF is ignored; it used to hide the first event's `data:` field,
    # and the answer silently lost its first words
    answer = sse(chunk("Hel", role="assistant"), chunk("lo", finish="stop"))
    expected = summary(run([answer]))
    assert run([answer]).blocks[0].text == "Hello"  # type: ignore[union-attr]
    data = BOM + answer
    for cut in range(1, 12):
        for second in range(cut + 1, 14):
            assert summary(run(splits(data, [cut, second]))) == expected, (cut, second)


def test_a_bom_not_at_the_start_is_data() -> None:
    data = sse(chunk(role="assistant", content=""), chunk("\ufeffHi", finish="stop"))
    (block,) = run([data]).blocks
    assert block.text == "\ufeffHi"  # type: ignore[union-attr]


@pytest.mark.parametrize("size", [63, 64, 65])
def test_max_event_bytes_is_decided_alike_at_every_split_point(size: int) -> None:
    # one line of `size` bytes with a bound of 64: accepted up to 64 however it is cut (a
    # whole event in one read used to pass at any size, and a cut one fail 6 bytes early)
    line = b"data: " + b"x" * (size - 6)
    data = line + b"\n\n"
    verdicts = set()
    for cut in range(len(data) + 1):
        decoder = SSEDecoder(64)
        try:
            events = decoder.feed(data[:cut]) + decoder.feed(data[cut:])
        except LimitExceededError:
            verdicts.add("limit")
        else:
            verdicts.add(repr(events))
    assert verdicts == ({"limit"} if size > 64 else {repr([("data", line[6:])])})


def test_max_event_bytes_bounds_the_joined_data_of_an_event() -> None:
    # two data lines join with one newline: 31 + 1 + 32 bytes is exactly 64
    data = b"data: " + b"a" * 31 + b"\ndata: " + b"b" * 32 + b"\n\n"
    assert SSEDecoder(64).feed(data) == [("data", b"a" * 31 + b"\n" + b"b" * 32)]
    with pytest.raises(LimitExceededError):
        SSEDecoder(63).feed(data)


def test_the_repeated_event_shortcut_keeps_max_event_bytes() -> None:
    # the shortcut decodes a read matching the learned template without the SSE framer; one
    # such read larger than the bound must fail as it does when it arrives in pieces
    small = [sse(chunk("ab"), done=False) for _ in range(6)]
    big = sse(chunk("x" * 400), done=False)
    for pieces in ([*small, big], [*small, big[:50], big[50:]]):
        decoder = StreamDecoder(frozenset(), max_event_bytes=400)
        for piece in pieces:
            decoder.feed(piece)
        decoder.close()
        assert decoder.shortcut_events > 0
        failure = decoder.result().failure
        assert failure is not None
        assert failure.option == "max_event_bytes", failure
