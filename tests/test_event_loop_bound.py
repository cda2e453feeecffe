"""Work on the event loop is bounded by the user's ``timeout``.

One SSE event may carry up to ``max_event_bytes`` of text, and scanning hostile text for calls
written as text costs up to ~0.3 µs a character, all of it synchronous: 24 MiB of repeated
fence openers took ~7 s here in one ``feed`` call, during which the watchdog's timer cannot
run. The decoder scans a long piece in slices and checks the overall deadline between them.
"""

from __future__ import annotations

from typing import Any

import pytest
from sse_server import SSEServer, chunk, sse

from any_agent import AgentOptions, Client, OverallTimeoutError, TextBlock
from any_agent._wire.decoder import StreamDecoder

FLOOD = "```json\n{"  # the costliest opener family for the scanner


def test_a_long_piece_is_scanned_in_slices_with_the_deadline_checked_between() -> None:
    checks: list[int] = []
    decoder = StreamDecoder(frozenset({"f"}), deadline_check=lambda: checks.append(1))
    text = FLOOD * (1024 * 1024 // len(FLOOD))
    decoder.feed(sse(chunk(text, finish="stop")))
    decoder.close()
    assert len(checks) >= len(text) // (64 * 1024)
    assert "".join(b.text for b in decoder.result().blocks if isinstance(b, TextBlock)) == text


def test_a_deadline_check_that_raises_stops_the_scan() -> None:
    class Late(Exception):
        pass

    def late() -> None:
        raise Late

    decoder = StreamDecoder(frozenset({"f"}), deadline_check=late)
    with pytest.raises(Late):
        decoder.feed(sse(chunk(FLOOD * 100_000, finish="stop")))


def test_short_pieces_never_pay_for_a_check() -> None:
    decoder = StreamDecoder(frozenset({"f"}), deadline_check=lambda: pytest.fail("checked"))
    decoder.feed(sse(chunk("hello " * 1000), chunk(finish="stop")))
    decoder.close()


async def test_one_huge_hostile_event_does_not_outlast_the_overall_timeout(
    sse_server: SSEServer,
) -> None:
    # the whole event arrives in well under the timeout; scanning it would take seconds
    text = FLOOD * (24 * 1024 * 1024 // len(FLOOD))
    sse_server.script.stream(sse(chunk(text), chunk(finish="stop")))
    options: dict[str, Any] = {
        "model": "m",
        "base_url": sse_server.url,
        "max_retries": 0,
        "timeout": 0.5,
        "text_tool_calls": "always",
        "tools": [
            {"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}
        ],
    }
    async with Client(AgentOptions(**options)) as client:
        await client.query("hi")
        with pytest.raises(OverallTimeoutError):
            async for _ in client.receive_response():
                pass
        assert client.history == [{"role": "user", "content": "hi"}]
