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
    await sse_server.until(flag.exists, GUARD)
    first.cancel()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(first, GUARD)
    try:
        await asyncio.wait_for(converse(client, "again"), GUARD)
        offered = [t["function"]["name"] for t in sse_server.chat_requests[-1].json["tools"]]
        assert offered == ["mcp__h__t"]  # was: no tools at all, the servers never restarted
    finally:
        await asyncio.wait_for(client.close(), GUARD)


async def start(options: Any) -> None:
    async with Client(options):
        pass


@pytest.mark.parametrize(
    ("servers", "words", "culprit"),
    [
        # one server offering the same name twice (the chat server would get it twice)
        ({"h": hostile("tools", "a,a")}, "offers two tools named 'a'", "h"),
        # 'a' + 'b__c' and 'a__b' + 'c' are both mcp__a__b__c
        (
            {"a": hostile("tools", "b__c"), "a__b": hostile("tools", "c")},
            "mcp__a__b__c, the name of a tool of server 'a'",
            "a__b",
        ),
    ],
)
async def test_tool_names_that_clash_are_refused_at_start(
    sse_server: SSEServer, servers: dict[str, Any], words: str, culprit: str
) -> None:
    options = opts(sse_server, mcp_servers=servers)
    with pytest.raises(MCPServerError, match=words) as caught:
        await asyncio.wait_for(start(options), GUARD)
    assert caught.value.server == culprit


async def test_a_tool_name_ending_in_a_newline_is_refused(sse_server: SSEServer) -> None:
    # `$` matches before a final newline: "mcp__h__t\n" was offered to the chat server
    options = opts(sse_server, mcp_servers={"h": hostile("tools", "t\n")})
    with pytest.raises(MCPServerError, match="offers a tool named 't\\\\n'") as caught:
        await asyncio.wait_for(start(options), GUARD)
    assert caught.value.tool == "t\n"


def test_names_ending_in_a_newline_are_refused_at_construction() -> None:
    from any_agent import AgentOptions, ConfigurationError, ToolDefinitionError, tool

    with pytest.raises(ConfigurationError, match="server name"):
        AgentOptions(
            model="m", base_url="http://127.0.0.1:9/v1", mcp_servers={"srv\n": {"command": "x"}}
        )
    with pytest.raises(ToolDefinitionError, match="invalid"):
        tool("add\n", "Add", {"a": int})
    with pytest.raises(ToolDefinitionError):

        @tool(name="add\n")
        def add(a: int) -> int:
            return a


def test_in_process_servers_whose_names_join_to_one_name_are_refused() -> None:
    from any_agent import AgentOptions, ConfigurationError, create_sdk_mcp_server, tool

    async def handler(args: dict[str, Any]) -> dict[str, Any]:
        return {"content": []}

    first = create_sdk_mcp_server("one", tools=[tool("b__c", "x", {})(handler)])
    second = create_sdk_mcp_server("two", tools=[tool("c", "y", {})(handler)])
    with pytest.raises(ConfigurationError, match="of mcp_servers\\['a'\\]"):
        AgentOptions(
            model="m", base_url="http://127.0.0.1:9/v1", mcp_servers={"a": first, "a__b": second}
        )


@pytest.mark.parametrize("kind", ["video", "structured-list", "output-schema"])
async def test_a_result_that_does_not_validate_is_an_error_result_and_the_server_lives(
    sse_server: SSEServer, kind: str
) -> None:
    # a JSON-RPC answer whose result the mcp package rejects (a content type newer than it,
    # structuredContent that is not an object, or one breaking the tool's outputSchema): the
    # connection is fine, so the call gets an error result; it used to end the server and run
    sse_server.script.stream(calls_turn(("c1", "mcp__h__t", "{}")))
    sse_server.script.stream(text_stream("it failed"))
    sse_server.script.stream(calls_turn(("c2", "mcp__h__t", "{}")))
    sse_server.script.stream(text_stream("failed again"))
    options = opts(sse_server, max_turns=3, mcp_servers={"h": hostile("bad-result", kind)})
    async with Client(options) as client:
        for prompt in ("go", "again"):
            messages = await asyncio.wait_for(converse(client, prompt), GUARD)
            assert messages[-1].subtype == "success"
            result = client.history[-2]
            assert result["role"] == "tool"
            assert "MCP server 'h' answered with a result that is not valid" in result["content"]


def test_the_repr_of_options_hides_credentials_in_an_mcp_url() -> None:
    from any_agent import AgentOptions

    url = "http://user:hunter2@127.0.0.1:9/mcp?api_key=SECRET"
    options = AgentOptions(
        model="m",
        base_url="http://127.0.0.1:9/v1",
        mcp_servers={"s": {"type": "http", "url": url, "headers": {"X-Key": "TOKEN"}}},
    )
    shown = repr(options)
    assert "hunter2" not in shown
    assert "SECRET" not in shown
    assert "TOKEN" not in shown
    assert "127.0.0.1:9/mcp" in shown


@pytest.mark.parametrize(
    ("schema", "arguments"),
    [
        ({"level": {"enum": [0, 1]}}, {"level": True}),  # True == 1 in Python, not in JSON
        ({"level": {"const": 1}}, {"level": True}),
        ({"flag": {"enum": [False]}}, {"flag": 0}),
        ({"pair": {"const": [1, 0]}}, {"pair": [True, False]}),
    ],
)
async def test_a_bool_is_not_a_number_for_enum_and_const(
    schema: dict[str, Any], arguments: dict[str, Any]
) -> None:
    from any_agent import tool

    ran: list[Any] = []

    @tool("pick", "Pick a level", {"type": "object", "properties": schema})
    async def pick(args: dict[str, Any]) -> dict[str, Any]:
        ran.append(args)
        return {"content": [{"type": "text", "text": "ok"}]}

    output = await pick.run(arguments)
    assert output.is_error
    assert "invalid arguments" in output.content
    assert ran == []
    valid = {k: (int(v) if isinstance(v, bool) else v) for k, v in arguments.items()}
    if isinstance(valid.get("pair"), list):
        valid["pair"] = [1, 0]
    if "flag" in valid:
        valid["flag"] = False
    assert not (await pick.run(valid)).is_error
