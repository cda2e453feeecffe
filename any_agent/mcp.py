"""MCP servers as tools: claude-agent-sdk's config shapes for ``AgentOptions.mcp_servers``
and its in-process servers (``create_sdk_mcp_server``). The engine is ``any_agent._mcp``;
docs/mcp.md has the lifecycle, naming and faults."""

from __future__ import annotations

import sys
from typing import Any, Literal, TypedDict

from ._mcp.sdk import SdkMcpServer, SdkMcpTool, create_sdk_mcp_server
from .errors import MCPServerError

if sys.version_info >= (3, 11):
    from typing import NotRequired
else:  # pragma: no cover
    from typing_extensions import NotRequired

__all__ = [
    "MCPServerError",
    "McpHttpServerConfig",
    "McpSSEServerConfig",
    "McpSdkServerConfig",
    "McpServerConfig",
    "McpStdioServerConfig",
    "SdkMcpServer",
    "SdkMcpTool",
    "create_sdk_mcp_server",
]


class McpStdioServerConfig(TypedDict):
    """A server run as a subprocess speaking MCP on stdin/stdout (``type`` may be left out)."""

    type: NotRequired[Literal["stdio"]]
    command: str
    args: NotRequired[list[str]]
    env: NotRequired[dict[str, str]]


class McpHttpServerConfig(TypedDict):
    """A server reached over streamable HTTP."""

    type: Literal["http"]
    url: str
    headers: NotRequired[dict[str, str]]


class McpSSEServerConfig(TypedDict):
    """A server reached over the older HTTP+SSE transport."""

    type: Literal["sse"]
    url: str
    headers: NotRequired[dict[str, str]]


class McpSdkServerConfig(TypedDict):
    """An in-process server, as :func:`create_sdk_mcp_server` returns it."""

    type: Literal["sdk"]
    name: str
    instance: Any


McpServerConfig = (
    McpStdioServerConfig | McpHttpServerConfig | McpSSEServerConfig | McpSdkServerConfig
)
