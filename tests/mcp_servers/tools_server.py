"""An MCP server written with the ``mcp`` package, for tests/test_mcp_*.py.

``python tools_server.py [stdio|http PORT] [--pid-file PATH]``: serves the tools below on
stdio or streamable HTTP on 127.0.0.1:PORT; writes its pid to PATH first (the tests check
it is gone after close). Some tools misbehave on purpose (crash, hang, garbage)."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from typing import Any

try:  # mcp 2.x
    from mcp.server.mcpserver import MCPServer as Server
except ImportError:  # mcp 1.x
    from mcp.server.fastmcp import FastMCP as Server

import mcp.types as types

# a 1x1 transparent PNG
PIXEL = (
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA"
    "60e6kgAAAABJRU5ErkJggg=="
)

server = Server("test-tools")
# the protocol's stdout, kept before the server runs: mcp 2.x points fd 1 at stderr while it
# serves (stray prints cannot corrupt the wire), and the garbage tools mean to corrupt it
WIRE = os.dup(1)


@server.tool(description="Add two numbers.")
def add(a: float, b: float) -> str:
    return f"{a + b:g}"


@server.tool(description="A picture and a caption.")
def picture() -> types.CallToolResult:
    return types.CallToolResult(
        content=[
            types.TextContent(type="text", text="a pixel"),
            types.ImageContent(type="image", data=PIXEL, mimeType="image/png"),
        ]
    )


@server.tool(description="Structured content only.")
def measure() -> types.CallToolResult:
    return types.CallToolResult(content=[], structuredContent={"width": 3, "height": 4})


@server.tool(description="Always fails.")
def broken() -> types.CallToolResult:
    return types.CallToolResult(
        content=[types.TextContent(type="text", text="the disk is on fire")], isError=True
    )


@server.tool(description="The server process dies during the call.")
def crash() -> str:
    os._exit(3)


@server.tool(description="Never answers.")
async def hang() -> str:
    await asyncio.sleep(3600)
    return "late"


@server.tool(description="Writes bytes that are not JSON-RPC to stdout.")
def garbage() -> str:
    os.write(WIRE, b"this is not json-rpc\n")
    return "sent"


@server.tool(description="Writes one enormous line to stdout.")
def flood() -> str:
    os.write(WIRE, b'{"jsonrpc": "2.0", "padding": "' + b"x" * 300_000)
    return "sent"


def main(argv: list[str]) -> Any:
    parser = argparse.ArgumentParser()
    parser.add_argument("transport", nargs="?", default="stdio")
    parser.add_argument("port", nargs="?", type=int, default=0)
    parser.add_argument("--pid-file")
    args = parser.parse_args(argv)
    if args.pid_file:
        with open(args.pid_file, "w") as handle:
            handle.write(str(os.getpid()))
    if args.transport == "http":
        try:
            server.run("streamable-http", host="127.0.0.1", port=args.port)
        except TypeError:  # mcp 1.x: host and port are settings
            server.settings.host = "127.0.0.1"
            server.settings.port = args.port
            server.run("streamable-http")
    else:
        server.run("stdio")


if __name__ == "__main__":
    main(sys.argv[1:])
