"""Everything that differs between the ``mcp`` package's 1.x and 2.x releases, in one
place: the import itself (an optional extra), JSON-RPC parsing, the HTTP transports,
tool-list pagination and result dumps."""

from __future__ import annotations

import contextlib
import inspect
from collections.abc import AsyncIterator
from typing import Any

from ..errors import ConfigurationError

__all__ = [
    "CONNECTION_CLOSED",
    "dump",
    "error_code",
    "http_transport",
    "is_invalid_result",
    "list_tools_page",
    "parse_message",
    "require_mcp",
    "session_message",
]

#: JSON-RPC code the ``mcp`` package uses for "the connection closed" (1.x and 2.x)
CONNECTION_CLOSED = -32000


def require_mcp() -> Any:
    """The ``mcp`` package, or a ConfigurationError saying how to install it."""
    try:
        import mcp
        import mcp.types
    except ImportError as exc:
        raise ConfigurationError(
            "mcp_servers with stdio, http or sse servers need the 'mcp' package: "
            f"pip install 'any-agent-sdk[mcp]' ({exc})"
        ) from None
    return mcp


def parse_message(line: bytes | str) -> Any:
    """One JSON-RPC message; ValueError when the bytes are not one."""
    import mcp.types as types

    adapter = getattr(types, "jsonrpc_message_adapter", None)  # 2.x
    if adapter is not None:
        return adapter.validate_json(line, by_name=False)
    return types.JSONRPCMessage.model_validate_json(line)  # type: ignore[attr-defined]  # 1.x


def session_message(message: Any) -> Any:
    from mcp.shared.message import SessionMessage

    return SessionMessage(message)


def message_json(message: Any) -> str:
    """A JSON-RPC message as one line of JSON."""
    return str(message.model_dump_json(by_alias=True, exclude_unset=True))


def dump(model: Any) -> Any:
    """A result model as plain JSON data with the wire's (camelCase) names."""
    return model.model_dump(by_alias=True, mode="json", exclude_none=True)


def error_code(exc: BaseException) -> int | None:
    """The JSON-RPC error code of the ``mcp`` package's error (McpError / MCPError)."""
    error = getattr(exc, "error", None)
    code = getattr(error, "code", None)
    return code if isinstance(code, int) else None


def is_invalid_result(exc: BaseException) -> bool:
    """Whether the ``mcp`` package rejected a result the server did send (its shape, or its
    structured content against the tool's ``outputSchema``, 1.x and 2.x): one bad answer,
    not a broken connection."""
    import pydantic

    if isinstance(exc, pydantic.ValidationError):
        return True
    return isinstance(exc, RuntimeError) and "structured content" in str(exc)


async def list_tools_page(session: Any, cursor: str | None) -> Any:
    if cursor is None:
        return await session.list_tools()
    if "params" in inspect.signature(session.list_tools).parameters:
        import mcp.types as types

        return await session.list_tools(params=types.PaginatedRequestParams(cursor=cursor))
    return await session.list_tools(cursor=cursor)


def next_cursor(result: Any) -> str | None:
    value = getattr(result, "next_cursor", None) or getattr(result, "nextCursor", None)
    return value if isinstance(value, str) and value else None


@contextlib.asynccontextmanager
async def http_transport(
    kind: str, url: str, headers: dict[str, str], max_event_bytes: int
) -> AsyncIterator[tuple[Any, Any]]:
    """The read and write streams of a streamable-HTTP (``kind="http"``) or SSE server."""
    if kind == "sse":
        from mcp.client.sse import sse_client

        async with sse_client(url, headers=headers or None) as streams:
            yield streams[0], streams[1]
        return
    import mcp.client.streamable_http as streamable

    modern = getattr(streamable, "streamable_http_client", None)
    if modern is not None and "http_client" in inspect.signature(modern).parameters:
        from mcp.shared._httpx_utils import create_mcp_http_client

        kwargs: dict[str, Any] = {}
        if "max_sse_event_size" in inspect.signature(modern).parameters:
            kwargs["max_sse_event_size"] = max_event_bytes
        async with (
            create_mcp_http_client(headers=headers or None) as http,
            modern(url, http_client=http, **kwargs) as streams,
        ):
            yield streams[0], streams[1]
        return
    legacy: Any = getattr(streamable, "streamablehttp_client")  # noqa: B009 - mcp 1.x
    async with legacy(url, headers=headers or None) as streams:
        yield streams[0], streams[1]
