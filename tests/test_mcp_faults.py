"""MCP servers that fail, each ending in MCPServerError naming the server within a bound,
with the history kept and no process left behind: a command that does not exist, a server
that exits at once, one that never answers initialize, one that dies during a call, one
that never answers a call, one that writes garbage or an oversized message; and close on
interrupt and on task cancellation."""

from __future__ import annotations

import asyncio
import re
import sys
from pathlib import Path
from typing import Any

import pytest
from mcp_helpers import SERVERS, alive, calls_turn, read_pid, stdio_config
from sse_server import SSEServer, opts, text_stream

from any_agent import Client, MCPServerError, ResultMessage, ServerError

#: a generous "finishes at all" guard against a hang (no timing is asserted)
GUARD = 60


async def start(options: Any) -> None:
    async with Client(options):
        pass


@pytest.mark.parametrize(
    ("config", "words"),
    [
        ({"command": "/nonexistent/any-agent-mcp-server"}, "failed to start"),
        ({"command": sys.executable, "args": ["-c", "import sys; sys.exit(3)"]}, "exit code 3"),
    ],
)
async def test_a_server_that_cannot_start(sse_server: SSEServer, config: Any, words: str) -> None:
    options = opts(sse_server, mcp_servers={"broken": config})
    with pytest.raises(MCPServerError, match=words) as caught:
        await asyncio.wait_for(start(options), GUARD)
    assert caught.value.server == "broken"


async def test_a_server_that_never_answers_initialize(
    sse_server: SSEServer, tmp_path: Path
) -> None:
    pid_file = tmp_path / "pid"
    config = {"command": sys.executable, "args": [str(SERVERS / "silent_server.py"), str(pid_file)]}
    options = opts(sse_server, mcp_servers={"mute": config}, mcp_startup_timeout=1)
    with pytest.raises(MCPServerError, match="mcp_startup_timeout=1s") as caught:
        await asyncio.wait_for(start(options), GUARD)
    assert caught.value.server == "mute"
    assert not alive(read_pid(pid_file))


async def failing_call(
    sse_server: SSEServer, tmp_path: Path, tool: str, **kw: Any
) -> tuple[MCPServerError, Client, int]:
    pid_file = tmp_path / "pid"
    sse_server.script.stream(calls_turn(("c1", f"mcp__srv__{tool}", "{}")))
    options = opts(sse_server, max_turns=3, mcp_servers={"srv": stdio_config(pid_file)}, **kw)
    client = Client(options)
    await client.__aenter__()
    await client.query("go")
    with pytest.raises(MCPServerError) as caught:
        await asyncio.wait_for(_drain(client), GUARD)
    return caught.value, client, read_pid(pid_file)


async def _drain(client: Client) -> list[Any]:
    return [m async for m in client.receive_response()]


@pytest.mark.parametrize(
    ("tool", "kw", "words"),
    [
        ("crash", {}, "exited \\(exit code 3\\)"),
        ("hang", {"mcp_tool_timeout": 1}, "within mcp_tool_timeout=1s"),
        ("garbage", {}, "not JSON-RPC"),
        ("flood", {"max_mcp_message_bytes": 100_000}, "max_mcp_message_bytes=100000"),
    ],
)
async def test_a_server_failing_mid_call_keeps_the_history(
    sse_server: SSEServer, tmp_path: Path, tool: str, kw: dict[str, Any], words: str
) -> None:
    error, client, pid = await failing_call(sse_server, tmp_path, tool, **kw)
    assert error.server == "srv"
    assert error.tool == tool
    assert re.search(words, str(error))
    history = client.history
    assert history[-2]["tool_calls"][0]["id"] == "c1"
    assert history[-1]["role"] == "tool"
    assert "MCP server 'srv'" in history[-1]["content"]
    # the conversation goes on: the model is told, the dead server's tools answer with errors
    sse_server.script.stream(calls_turn(("c2", "mcp__srv__add", '{"a": 1, "b": 1}')))
    sse_server.script.stream(text_stream("the tool broke"))
    await client.query("what happened?")
    if tool == "hang":  # the server is still up: a hung call does not end it
        messages = await asyncio.wait_for(_drain(client), GUARD)
        assert isinstance(messages[-1], ResultMessage)
    else:
        with pytest.raises(MCPServerError, match="is not running"):
            await asyncio.wait_for(_drain(client), GUARD)
    sent = sse_server.requests[1].json["messages"]
    assert sent[-1] == {"role": "user", "content": "what happened?"}
    assert sent[-2]["tool_call_id"] == "c1"
    assert "MCP server 'srv'" in sent[-2]["content"]
    await asyncio.wait_for(client.close(), GUARD)
    assert not alive(pid)


async def test_interrupt_during_a_hung_call_then_close(
    sse_server: SSEServer, tmp_path: Path
) -> None:
    pid_file = tmp_path / "pid"
    sse_server.script.stream(calls_turn(("c1", "mcp__srv__hang", "{}")))
    options = opts(sse_server, max_turns=3, mcp_servers={"srv": stdio_config(pid_file)})
    async with Client(options) as client:
        await client.query("go")
        run = asyncio.ensure_future(_drain(client))
        await sse_server.until(lambda: len(sse_server.requests) >= 1)
        await asyncio.sleep(0.5)  # the call reaches the server (the outcome holds either way)
        await client.interrupt()
        messages = await asyncio.wait_for(run, GUARD)
        assert messages[-1].stop_reason == "interrupted"
        pid = read_pid(pid_file)
    assert not alive(pid)


async def test_cancelling_the_task_stops_the_server(sse_server: SSEServer, tmp_path: Path) -> None:
    pid_file = tmp_path / "pid"
    sse_server.script.stream(calls_turn(("c1", "mcp__srv__hang", "{}")))
    options = opts(sse_server, max_turns=3, mcp_servers={"srv": stdio_config(pid_file)})

    async def converse() -> None:
        async with Client(options) as client:
            await client.query("go")
            await _drain(client)

    task = asyncio.ensure_future(converse())
    await sse_server.until(lambda: pid_file.exists() and bool(sse_server.requests), 30)
    await asyncio.sleep(0.5)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(task, GUARD)
    assert not alive(read_pid(pid_file))


async def test_an_error_in_the_chat_server_still_stops_the_mcp_server(
    sse_server: SSEServer, tmp_path: Path
) -> None:
    pid_file = tmp_path / "pid"
    sse_server.script.error(500, "the model fell over")
    options = opts(sse_server, mcp_servers={"srv": stdio_config(pid_file)})

    async def converse() -> None:
        async with Client(options) as client:
            await client.query("go")
            await _drain(client)

    with pytest.raises(ServerError, match="fell over"):
        await converse()
    assert not alive(read_pid(pid_file))
