"""In-process MCP servers, claude-agent-sdk style: ``@tool("add", "Add two numbers",
{"a": float, "b": float})`` and ``create_sdk_mcp_server("calc", tools=[add])``.

Their tools are called directly, not through the MCP protocol: they need no ``mcp``
package and no event-loop plumbing. Arguments are checked against the tool's JSON schema
before the handler runs (bad ones are an error result the model sees). Nothing here
imports the SDK's public modules at import time (``options`` imports this module)."""

from __future__ import annotations

import asyncio
import copy
import inspect
import re
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..errors import ToolDefinitionError
from .validate import problems

if TYPE_CHECKING:
    from ..tools import ToolOutput

__all__ = ["SdkMcpServer", "SdkMcpTool", "create_sdk_mcp_server", "json_schema_of", "sdk_tool"]

_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}\Z")
_SIMPLE = {
    str: "string",
    int: "integer",
    float: "number",
    bool: "boolean",
    list: "array",
    dict: "object",
}

Handler = Callable[[dict[str, Any]], Awaitable[Mapping[str, Any]]]


def json_schema_of(input_schema: Any, label: str) -> dict[str, Any]:
    """claude-agent-sdk's ``input_schema`` (a JSON schema, or a dict of argument name →
    Python type, every argument required) as a JSON schema object."""
    if not isinstance(input_schema, Mapping):
        raise ToolDefinitionError(
            f"{label}: input_schema must be a JSON schema or a dict of name -> type, "
            f"got {type(input_schema).__name__}"
        )
    if input_schema.get("type") == "object" or "properties" in input_schema:
        return copy.deepcopy(dict(input_schema))
    properties: dict[str, Any] = {}
    for name, kind in input_schema.items():
        if not isinstance(name, str):
            raise ToolDefinitionError(f"{label}: argument names must be str, got {name!r}")
        if kind in _SIMPLE:
            properties[name] = {"type": _SIMPLE[kind]}
        elif isinstance(kind, Mapping):
            properties[name] = copy.deepcopy(dict(kind))
        else:
            try:
                import pydantic

                properties[name] = pydantic.TypeAdapter(kind).json_schema()
            except Exception as exc:
                raise ToolDefinitionError(
                    f"{label}: argument {name!r} has a type with no JSON schema ({kind!r}): {exc}"
                ) from None
    return {"type": "object", "properties": properties, "required": list(properties)}


@dataclass(frozen=True)
class SdkMcpTool:
    """A tool of an in-process MCP server: made by ``@tool(name, description, schema)``.

    Also usable directly in ``AgentOptions.tools`` (offered under its own name)."""

    name: str
    description: str
    input_schema: dict[str, Any]
    handler: Handler = field(repr=False)

    @property
    def definition(self) -> dict[str, Any]:
        """The OpenAI function definition under the tool's own name."""
        return self.definition_as(self.name)

    def definition_as(self, name: str) -> dict[str, Any]:
        return {
            "type": "function",
            "function": {
                "name": name,
                "description": self.description,
                "parameters": copy.deepcopy(self.input_schema),
            },
        }

    async def __call__(self, args: dict[str, Any]) -> Mapping[str, Any]:
        return await self.handler(args)

    async def run(self, arguments: Mapping[str, Any]) -> ToolOutput:
        """Check ``arguments`` against the schema, call the handler, convert its result.
        Only cancellation propagates; every failure is an error result."""
        from .._agent.aio import describe_exception, pending_cancellations
        from ..tools import ToolOutput
        from .results import to_output

        found = problems(self.input_schema, dict(arguments))
        if found:
            return ToolOutput(
                f"invalid arguments for tool {self.name!r}: " + "; ".join(found[:8]), True
            )
        try:
            result = await self.handler(copy.deepcopy(dict(arguments)))
        except Exception as exc:
            return ToolOutput(describe_exception(exc), is_error=True)
        except asyncio.CancelledError as exc:
            if pending_cancellations() != 0:
                raise
            return ToolOutput(describe_exception(exc), is_error=True)
        if not isinstance(result, Mapping):
            return ToolOutput(
                f"tool {self.name!r} returned {type(result).__name__}; an MCP tool handler "
                'returns {"content": [{"type": "text", "text": ...}, ...]}',
                is_error=True,
            )
        is_error = result.get("is_error", result.get("isError", False))
        return to_output(result.get("content", []), is_error, result.get("structuredContent"))


def sdk_tool(name: str, description: str, input_schema: Any) -> Callable[[Handler], SdkMcpTool]:
    """claude-agent-sdk's ``@tool(name, description, input_schema)`` for an async handler
    ``(args: dict) -> {"content": [...], "is_error"?: bool}``."""
    label = f"tool {name!r}"
    if not isinstance(name, str) or not _NAME.match(name):
        raise ToolDefinitionError(
            f"tool name {name!r} is invalid; use 1-64 letters, digits, '_' or '-'"
        )
    if not isinstance(description, str):
        raise ToolDefinitionError(f"{label}: description must be a str")
    schema = json_schema_of(input_schema, label)

    def decorate(handler: Handler) -> SdkMcpTool:
        if not inspect.iscoroutinefunction(handler) and not inspect.iscoroutinefunction(
            getattr(handler, "__call__", None)  # noqa: B004
        ):
            raise ToolDefinitionError(f"{label}: the handler must be an async function")
        return SdkMcpTool(name, description, schema, handler)

    return decorate


class SdkMcpServer(dict):  # type: ignore[type-arg]
    """What :func:`create_sdk_mcp_server` returns: claude-agent-sdk's config dict
    ``{"type": "sdk", "name": ..., "instance": <this>}``, usable as a value of
    ``AgentOptions.mcp_servers``."""

    def __init__(self, name: str, version: str, tools: Sequence[SdkMcpTool]) -> None:
        super().__init__(type="sdk", name=name, instance=self)
        self.server_name = name
        self.version = version
        self.tools: tuple[SdkMcpTool, ...] = tuple(tools)

    def __repr__(self) -> str:
        names = ", ".join(t.name for t in self.tools)
        return f"SdkMcpServer(name={self.server_name!r}, version={self.version!r}, tools=[{names}])"


def create_sdk_mcp_server(
    name: str, version: str = "1.0.0", tools: Sequence[SdkMcpTool] | None = None
) -> SdkMcpServer:
    """An in-process MCP server of ``@tool(name, description, schema)`` tools; put it in
    ``AgentOptions.mcp_servers``: its tools are offered as ``mcp__<key>__<tool>``."""
    if not isinstance(name, str) or not name:
        raise ToolDefinitionError(
            f"create_sdk_mcp_server: name must be a non-empty str, got {name!r}"
        )
    if not isinstance(version, str):
        raise ToolDefinitionError("create_sdk_mcp_server: version must be a str")
    given = list(tools or ())
    seen: set[str] = set()
    for item in given:
        if not isinstance(item, SdkMcpTool):
            raise ToolDefinitionError(
                f"create_sdk_mcp_server({name!r}): tools must be made with "
                f"@tool(name, description, input_schema), got {type(item).__name__}"
            )
        if item.name in seen:
            raise ToolDefinitionError(
                f"create_sdk_mcp_server({name!r}): two tools are named {item.name!r}"
            )
        seen.add(item.name)
    return SdkMcpServer(name, version, given)
