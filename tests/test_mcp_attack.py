"""What an adversarial review of the MCP client found, one regression test each: servers
that offer tool names the chat server must never see, a cancelled start, results that do
not validate, secrets in a repr, and the in-process validator's type confusions."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Any

import pytest
from mcp_helpers import SERVERS, calls_turn
from sse_server import SSEServer, opts, text_stream

from any_agent import Client, MCPServerError

HOSTILE = str(SERVERS / "hostile_server.py")
#: a generous "finishes at all" guard against a hang (no timing is asserted)
GUARD = 60


def hostile(mode: str, arg: str = "") -> dict[str, Any]:
    return {"command": sys.executable, "args": [HOSTILE, mode, arg]}


async def converse(client: Client, prompt: str) -> list[Any]:
    await client.query(prompt)
    return [m async for m in client.receive_response()]


async def test_a_start_cancelled_midway_starts_again_on_the_next_query(
    sse_server: SSEServer, tmp_path: Path
) -> None:
    # the first run of the server never answers initialize; the query is cancelled meanwhile
    sse_server.script.stream(text_stream("done"), times=None)
    flag = tmp_path / "started-once"
    options = opts(sse_server, mcp_servers={"h": hostile("slow-once", str(flag))})
    client = Client(options)
    await client.query("go")
    first = asyncio.ensure_future(client.receive_response().__anext__())
    while not flag.exists():
        await asyncio.sleep(0.05)
    first.cancel()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(first, GUARD)
    try:
        await asyncio.wait_for(converse(client, "again"), GUARD)
        offered = [t["function"]["name"] for t in sse_server.chat_requests[-1].json["tools"]]
        assert offered == ["mcp__h__t"]  # was: no tools at all, the servers never restarted
    finally:
        await asyncio.wait_for(client.close(), GUARD)
