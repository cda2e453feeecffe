"""MCP servers as tools, end to end: a real stdio subprocess server and a real streamable
HTTP server (both written with the ``mcp`` package, tests/mcp_servers/tools_server.py)
driven by the scripted chat server: the model's call → MCP tools/call → the result in the
next request body."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest
from mcp_helpers import alive, calls_turn, http_server, read_pid, stdio_config
from sse_server import SSEServer, opts, text_stream

from any_agent import (
    Client,
    ConfigurationError,
    HookMatcher,
    HookResult,
    ImageBlock,
    MCPServerError,
    PermissionResultDeny,
    ResultMessage,
    ToolResultBlock,
    UserMessage,
    query,
)


async def run(options: Any, prompt: str = "go") -> list[Any]:
    return [m async for m in query(prompt, options)]


def tool_messages(server: SSEServer, request: int) -> list[dict[str, Any]]:
    return [m for m in server.requests[request].json["messages"] if m["role"] == "tool"]


async def test_stdio_round_trip_offers_the_schema_and_sends_the_result(
    sse_server: SSEServer, tmp_path: Path
) -> None:
    pid_file = tmp_path / "pid"
    sse_server.script.stream(calls_turn(("c1", "mcp__calc__add", '{"a": 2, "b": 3}')))
    sse_server.script.stream(text_stream("five"))
    options = opts(sse_server, max_turns=3, mcp_servers={"calc": stdio_config(pid_file)})
    messages = await run(options)
    offered = {t["function"]["name"]: t["function"] for t in sse_server.requests[0].json["tools"]}
    assert offered["mcp__calc__add"]["description"] == "Add two numbers."
    schema = offered["mcp__calc__add"]["parameters"]
    assert set(schema["properties"]) == {"a", "b"}
    assert schema["required"] == ["a", "b"]
    assert tool_messages(sse_server, 1) == [{"role": "tool", "tool_call_id": "c1", "content": "5"}]
    assert messages[1] == UserMessage([ToolResultBlock("c1", "5", False)])
    assert isinstance(messages[-1], ResultMessage)
    assert messages[-1].result == "five"
    assert not alive(read_pid(pid_file))  # query() stopped the server


async def test_images_structured_content_and_is_error(
    sse_server: SSEServer, tmp_path: Path
) -> None:
    sse_server.script.stream(
        calls_turn(
            ("p", "mcp__t__picture", "{}"),
            ("m", "mcp__t__measure", "{}"),
            ("b", "mcp__t__broken", "{}"),
        )
    )
    sse_server.script.stream(text_stream("ok"))
    options = opts(
        sse_server, max_turns=3, vision=True, mcp_servers={"t": stdio_config(tmp_path / "pid")}
    )
    messages = await run(options)
    blocks = {b.tool_use_id: b for b in messages[1].content}
    png = base64.b64decode(
        "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="
    )
    assert blocks["p"].content == "a pixel"
    assert blocks["p"].images == [ImageBlock(data=png, media_type="image/png")]
    assert json.loads(blocks["m"].content) == {"width": 3, "height": 4}
    assert (blocks["b"].content, blocks["b"].is_error) == ("the disk is on fire", True)
    sent = {m["tool_call_id"]: m["content"] for m in tool_messages(sse_server, 1)}
    assert sent["b"] == "Error: the disk is on fire"  # the wire has no is_error flag
    # the image follows the tool messages as a user message (docs/context.md)
    last = sse_server.chat_requests[1].json["messages"][-1]
    assert last["role"] == "user"
    assert any(p.get("type") == "image_url" for p in last["content"])


async def test_a_json_rpc_error_from_the_server_is_a_tool_error_not_a_failure(
    sse_server: SSEServer, tmp_path: Path
) -> None:
    # the tool list is fixed at start; a call to a name the server does not know is
    # refused by the server itself (JSON-RPC error or isError): the model is told
    sse_server.script.stream(calls_turn(("x", "mcp__t__add", '{"a": "not a number"}')))
    sse_server.script.stream(text_stream("sorry"))
    options = opts(sse_server, max_turns=3, mcp_servers={"t": stdio_config(tmp_path / "pid")})
    messages = await run(options)
    block = messages[1].content[0]
    assert block.is_error
    assert "add" in block.content
    assert messages[-1].result == "sorry"


async def test_hooks_and_can_use_tool_deny_mcp_tools(sse_server: SSEServer, tmp_path: Path) -> None:
    seen: list[str] = []

    async def deny_add(event: Any) -> HookResult:
        seen.append(event.tool_name)
        return HookResult(decision="deny", reason="no adding today")

    async def refuse(name: str, args: dict[str, Any]) -> Any:
        seen.append(f"can_use_tool:{name}")
        return PermissionResultDeny(message="not this one")

    sse_server.script.stream(
        calls_turn(("a", "mcp__t__add", '{"a": 1, "b": 2}'), ("c", "mcp__t__crash", "{}"))
    )
    sse_server.script.stream(text_stream("fine"))
    options = opts(
        sse_server,
        max_turns=3,
        mcp_servers={"t": stdio_config(tmp_path / "pid")},
        hooks={"PreToolUse": [HookMatcher(matcher="mcp__t__add", hooks=[deny_add])]},
        can_use_tool=refuse,
    )
    messages = await run(options)
    results = {b.tool_use_id: b for b in messages[1].content}
    assert results["a"].is_error
    assert "no adding today" in results["a"].content
    # crash would kill the server: the refusal means it never ran (the run ends normally)
    assert results["c"].is_error
    assert "not this one" in results["c"].content
    assert sorted(seen) == ["can_use_tool:mcp__t__crash", "mcp__t__add"]
    assert messages[-1].result == "fine"


async def test_client_starts_servers_on_enter_and_stops_them_on_close(
    sse_server: SSEServer, tmp_path: Path
) -> None:
    pid_file = tmp_path / "pid"
    sse_server.script.stream(text_stream("hi"))
    options = opts(sse_server, mcp_servers={"t": stdio_config(pid_file)})
    async with Client(options) as client:
        pid = read_pid(pid_file)
        assert alive(pid)
        await client.query("hello")
        _ = [m async for m in client.receive_response()]
        assert alive(pid)  # kept for the whole conversation
    assert not alive(pid)


async def test_a_client_without_async_with_starts_them_on_first_receive(
    sse_server: SSEServer, tmp_path: Path
) -> None:
    pid_file = tmp_path / "pid"
    sse_server.script.stream(text_stream("hi"))
    client = Client(opts(sse_server, mcp_servers={"t": stdio_config(pid_file)}))
    assert not pid_file.exists()
    await client.query("hello")
    _ = [m async for m in client.receive_response()]
    assert "mcp__t__add" in {t["function"]["name"] for t in sse_server.requests[0].json["tools"]}
    await client.close()
    assert not alive(read_pid(pid_file))


async def test_streamable_http_round_trip(sse_server: SSEServer) -> None:
    with http_server() as url:
        sse_server.script.stream(calls_turn(("h", "mcp__web__add", '{"a": 20, "b": 22}')))
        sse_server.script.stream(text_stream("42"))
        options = opts(
            sse_server,
            max_turns=3,
            mcp_servers={"web": {"type": "http", "url": url, "headers": {"X-Test": "1"}}},
        )
        messages = await run(options)
    assert messages[1].content == [ToolResultBlock("h", "42", False)]
    assert tool_messages(sse_server, 1)[0]["content"] == "42"


async def test_a_tool_name_over_64_characters_is_a_clear_error(
    sse_server: SSEServer, tmp_path: Path
) -> None:
    pid_file = tmp_path / "pid"
    key = "s" * 52  # mcp__<52>__add fits in 64 characters, mcp__<52>__picture does not
    options = opts(sse_server, mcp_servers={key: stdio_config(pid_file)})
    with pytest.raises(MCPServerError, match="picture") as caught:
        async with Client(options):
            pass
    assert caught.value.server == key
    assert caught.value.tool == "picture"
    assert not alive(read_pid(pid_file))


@pytest.mark.parametrize(
    ("config", "words"),
    [
        ({"type": "stdio"}, "'command'"),
        ({"command": "x", "args": "--flag"}, "'args'"),
        ({"command": "x", "env": {"A": 1}}, "'env'"),
        ({"command": "x", "cwd": "/"}, "'cwd'"),
        ({"type": "websocket", "url": "ws://127.0.0.1"}, "'type'"),
        ({"type": "http"}, "'url'"),
        ({"type": "sse", "url": "ftp://127.0.0.1/"}, "'url'"),
        ({"type": "http", "url": "http://127.0.0.1/", "headers": {"A": "b\r\nc"}}, "headers"),
        ({"type": "sdk", "name": "x", "instance": object()}, "'instance'"),
        ("python server.py", "config dict"),
    ],
)
def test_configs_are_checked_at_construction(
    sse_server: SSEServer, config: Any, words: str
) -> None:
    with pytest.raises(ConfigurationError, match="mcp_servers\\['srv'\\]") as caught:
        opts(sse_server, mcp_servers={"srv": config})
    assert words in str(caught.value)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("mcp_servers", ["not", "a", "dict"]),
        ("mcp_servers", {"bad name": {"command": "x"}}),
        ("mcp_servers", {"n" * 60: {"command": "x"}}),
        ("mcp_startup_timeout", 0),
        ("mcp_startup_timeout", None),
        ("mcp_tool_timeout", -1),
        ("max_mcp_message_bytes", 0),
    ],
)
def test_mcp_options_are_checked(sse_server: SSEServer, field: str, value: Any) -> None:
    with pytest.raises(ConfigurationError, match=field.split("_")[0]):
        opts(sse_server, **{field: value})


def test_repr_hides_header_and_env_values(sse_server: SSEServer) -> None:
    options = opts(
        sse_server,
        mcp_servers={
            "web": {
                "type": "http",
                "url": "http://127.0.0.1:9/mcp",
                "headers": {"Authorization": "Bearer s3cret"},
            },
            "local": {"command": "srv", "env": {"TOKEN": "t0ken"}},
        },
    )
    shown = repr(options)
    assert "s3cret" not in shown
    assert "t0ken" not in shown
    assert "'Authorization': '***'" in shown
