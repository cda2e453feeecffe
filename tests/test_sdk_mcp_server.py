"""In-process MCP servers, claude-agent-sdk style: ``@tool(name, description, schema)`` and
``create_sdk_mcp_server``; called directly (no MCP protocol, no ``mcp`` package), with
the arguments checked against the schema before the handler runs."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
import textwrap
from typing import Any

import pytest
from mcp_helpers import calls_turn
from sse_server import SSEServer, opts, text_stream

from any_agent import (
    ConfigurationError,
    ImageBlock,
    Tool,
    ToolDefinitionError,
    create_sdk_mcp_server,
    query,
    tool,
)
from any_agent.mcp import SdkMcpTool

ran: list[dict[str, Any]] = []


@tool("add", "Add two numbers", {"a": float, "b": float})
async def add(args: dict[str, Any]) -> dict[str, Any]:
    ran.append(args)
    return {"content": [{"type": "text", "text": f"{args['a'] + args['b']:g}"}]}


async def run(options: Any) -> list[Any]:
    return [m async for m in query("go", options)]


def test_create_sdk_mcp_server_returns_claude_agent_sdks_config_shape() -> None:
    server = create_sdk_mcp_server("calc", version="2.0.0", tools=[add])
    assert server["type"] == "sdk"
    assert server["name"] == "calc"
    assert server["instance"] is server
    assert server.tools == (add,)
    assert isinstance(add, SdkMcpTool)
    assert add.input_schema == {
        "type": "object",
        "properties": {"a": {"type": "number"}, "b": {"type": "number"}},
        "required": ["a", "b"],
    }


async def test_round_trip_and_bad_arguments_never_reach_the_handler(
    sse_server: SSEServer,
) -> None:
    ran.clear()
    sse_server.script.stream(
        calls_turn(
            ("ok", "mcp__calc__add", '{"a": 2, "b": 3.5}'),
            ("bad", "mcp__calc__add", '{"a": "two"}'),
        )
    )
    sse_server.script.stream(text_stream("done"))
    server = create_sdk_mcp_server("calc", tools=[add])
    messages = await run(opts(sse_server, max_turns=3, mcp_servers={"calc": server}))
    offered = sse_server.requests[0].json["tools"]
    assert offered[0]["function"]["name"] == "mcp__calc__add"
    assert offered[0]["function"]["parameters"] == add.input_schema
    results = {b.tool_use_id: b for b in messages[1].content}
    assert (results["ok"].content, results["ok"].is_error) == ("5.5", False)
    assert results["bad"].is_error
    assert "a: expected number, got 'two'" in results["bad"].content
    assert "missing required argument 'b'" in results["bad"].content
    assert ran == [{"a": 2, "b": 3.5}]  # only the valid call ran
    sent = [m for m in sse_server.requests[1].json["messages"] if m["role"] == "tool"]
    assert sent[0]["content"] == "5.5"


async def test_json_schema_images_is_error_and_a_raising_handler(sse_server: SSEServer) -> None:
    @tool(
        "paint",
        "Paint a picture",
        {
            "type": "object",
            "properties": {"colour": {"type": "string", "enum": ["red", "blue"]}},
            "required": ["colour"],
            "additionalProperties": False,
        },
    )
    async def paint(args: dict[str, Any]) -> dict[str, Any]:
        data = base64.b64encode(b"\x89PNG fake").decode()
        return {
            "content": [
                {"type": "text", "text": f"a {args['colour']} square"},
                {"type": "image", "data": data, "mimeType": "image/png"},
            ]
        }

    @tool("refuse", "Always refuses", {})
    async def refuse(args: dict[str, Any]) -> dict[str, Any]:
        return {"content": [{"type": "text", "text": "no"}], "is_error": True}

    @tool("explode", "Raises", {})
    async def explode(args: dict[str, Any]) -> dict[str, Any]:
        raise RuntimeError("boom")

    sse_server.script.stream(
        calls_turn(
            ("p", "mcp__art__paint", '{"colour": "red"}'),
            ("g", "mcp__art__paint", '{"colour": "green", "size": 3}'),
            ("r", "mcp__art__refuse", "{}"),
            ("e", "mcp__art__explode", "{}"),
        )
    )
    sse_server.script.stream(text_stream("ok"))
    server = create_sdk_mcp_server("art", tools=[paint, refuse, explode])
    messages = await run(opts(sse_server, max_turns=3, mcp_servers={"art": server}))
    results = {b.tool_use_id: b for b in messages[1].content}
    # the generic profile does not say the server takes images: the model is told so
    assert results["p"].content.splitlines() == [
        "a red square",
        "[1 image(s) not sent: the server does not say it accepts images (provider "
        "'generic'; asked models)]",
    ]
    assert results["p"].images == [ImageBlock(data=b"\x89PNG fake", media_type="image/png")]
    assert results["g"].is_error
    assert "green" in results["g"].content
    assert "unexpected argument 'size'" in results["g"].content
    assert (results["r"].content, results["r"].is_error) == ("no", True)
    assert results["e"].is_error
    assert "RuntimeError: boom" in results["e"].content


async def test_the_three_tool_forms_side_by_side(sse_server: SSEServer) -> None:
    @tool
    def shout(text: str) -> str:
        """Upper-case the text."""
        return text.upper()

    @tool(name="whisper", description="Lower-case the text.")
    def quiet(text: str) -> str:
        return text.lower()

    assert isinstance(shout, Tool)
    assert isinstance(quiet, Tool)
    sse_server.script.stream(
        calls_turn(
            ("s", "shout", '{"text": "hi"}'),
            ("w", "whisper", '{"text": "HI"}'),
            ("a", "mcp__calc__add", '{"a": 1, "b": 1}'),
            ("d", "add", '{"a": 4, "b": 4}'),
        )
    )
    sse_server.script.stream(text_stream("ok"))
    options = opts(
        sse_server,
        max_turns=3,
        tools=[shout, quiet, add],  # an SdkMcpTool also works as a plain tool
        mcp_servers={"calc": create_sdk_mcp_server("calc", tools=[add])},
    )
    messages = await run(options)
    names = [t["function"]["name"] for t in sse_server.requests[0].json["tools"]]
    assert names == ["shout", "whisper", "add", "mcp__calc__add"]
    assert {b.tool_use_id: b.content for b in messages[1].content} == {
        "s": "HI",
        "w": "hi",
        "a": "2",
        "d": "8",
    }


def test_definition_errors() -> None:
    with pytest.raises(ToolDefinitionError, match="tool\\(name, description, input_schema\\)"):
        tool("add", "only two arguments")  # type: ignore[call-overload]
    with pytest.raises(ToolDefinitionError, match="async"):
        tool("sync", "a sync handler", {})(lambda args: args)
    with pytest.raises(ToolDefinitionError, match="invalid"):
        tool("has space", "bad name", {})
    with pytest.raises(ToolDefinitionError, match="two tools are named"):
        create_sdk_mcp_server("dup", tools=[add, add])
    with pytest.raises(ToolDefinitionError, match="must be made with"):
        create_sdk_mcp_server("x", tools=[lambda: 1])  # type: ignore[list-item]


def test_names_that_cannot_be_offered_are_refused_at_construction(
    sse_server: SSEServer,
) -> None:
    server = create_sdk_mcp_server("calc", tools=[add])
    with pytest.raises(ConfigurationError, match="64 characters"):
        opts(sse_server, mcp_servers={"k" * 57: server})
    named = tool("mcp__calc__add", "clash", {})(add.handler)
    with pytest.raises(ConfigurationError, match="has the name of a tool in tools"):
        opts(sse_server, tools=[named], mcp_servers={"calc": server})


def test_in_process_servers_need_no_mcp_package(sse_server: SSEServer) -> None:
    sse_server.script.stream(calls_turn(("c", "mcp__calc__add", '{"a": 1, "b": 2}')))
    sse_server.script.stream(text_stream("three"))
    program = textwrap.dedent(
        f"""
        import asyncio, sys
        sys.modules["mcp"] = None  # as if the extra were not installed
        from any_agent import AgentOptions, create_sdk_mcp_server, query, tool

        @tool("add", "Add", {{"a": int, "b": int}})
        async def add(args):
            return {{"content": [{{"type": "text", "text": str(args["a"] + args["b"])}}]}}

        async def main():
            server = create_sdk_mcp_server("calc", tools=[add])
            options = AgentOptions(model="m", base_url={sse_server.url!r}, max_turns=3,
                                   mcp_servers={{"calc": server}})
            async for message in query("go", options):
                print(type(message).__name__, getattr(message, "result", ""))
            assert "mcp" not in [m for m in sys.modules if sys.modules[m] is not None]

        asyncio.run(main())
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", program], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert "ResultMessage three" in done.stdout
    sent = [m for m in sse_server.requests[1].json["messages"] if m["role"] == "tool"]
    assert json.loads(sent[0]["content"]) == 3


def test_stdio_servers_without_the_mcp_package_say_how_to_install(
    sse_server: SSEServer,
) -> None:
    program = textwrap.dedent(
        f"""
        import asyncio, sys
        sys.modules["mcp"] = None
        from any_agent import AgentOptions, Client, ConfigurationError

        async def main():
            options = AgentOptions(model="m", base_url={sse_server.url!r},
                                   mcp_servers={{"s": {{"command": "true"}}}})
            try:
                async with Client(options):
                    pass
            except Exception as exc:
                print(type(exc).__name__, exc)

        asyncio.run(main())
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", program], capture_output=True, text=True, timeout=120
    )
    assert "any-agent-sdk[mcp]" in done.stdout, done.stdout + done.stderr
