"""The tools of one agent, by name: which calls run here and which the caller answers."""

from __future__ import annotations

import copy
import inspect
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

from ..errors import ToolDefinitionError, ToolResultError
from ..options import ToolLike, claim_tool_name, tool_definition
from ..tools import RunnableTool, Tool, ToolOutput, result_to_text

__all__ = ["ToolRegistry"]


class _CustomTool:
    """Adapts a user-made :class:`RunnableTool` so its failures become error outputs."""

    def __init__(self, inner: RunnableTool) -> None:
        self.inner = inner
        self.definition: dict[str, Any] = tool_definition(inner)
        self.name: str = self.definition["function"]["name"]

    async def run(self, arguments: Mapping[str, Any]) -> ToolOutput:
        try:
            result: Any = self.inner.run(arguments)
            if inspect.isawaitable(result):
                result = await result
        except Exception as exc:
            return ToolOutput(f"{type(exc).__name__}: {exc}", is_error=True)
        if isinstance(result, ToolOutput):
            return result
        try:
            return ToolOutput(result_to_text(result))
        except ToolResultError as exc:
            return ToolOutput(str(exc), is_error=True)


def _clip(name: str) -> str:
    return repr(name if len(name) <= 64 else name[:61] + "...")


class ToolRegistry:
    """The tools of one agent, by name: what the loop may run.

    Built from ``AgentOptions.tools``: ``@tool`` objects run, plain OpenAI definitions are
    known but have no implementation (manual mode: the caller answers them with
    ``Client.add_tool_result``). Only registered tools ever run; a name is never looked
    up anywhere else.
    """

    def __init__(
        self, tools: Iterable[Mapping[str, Any] | ToolLike | Callable[..., Any]] = ()
    ) -> None:
        if isinstance(tools, (str, bytes, Mapping)):
            raise ToolDefinitionError("tools must be a list of @tool functions or definitions")
        self._definitions: dict[str, dict[str, Any]] = {}
        self._runnable: dict[str, RunnableTool] = {}
        seen: set[str] = set()
        for spec in tools:
            runnable: RunnableTool | None
            if isinstance(spec, Tool):
                runnable = spec
            elif isinstance(spec, Mapping):
                runnable = None
            elif isinstance(spec, ToolLike):
                if not callable(getattr(spec, "run", None)):
                    raise ToolDefinitionError(
                        f"tool {spec.name!r} ({type(spec).__name__}) has no run(arguments) "
                        "method; decorate a function with @tool, or pass a plain OpenAI "
                        "definition dict for manual mode"
                    )
                runnable = _CustomTool(spec)  # type: ignore[arg-type]
            elif callable(spec):
                runnable = Tool(spec)
            else:
                raise ToolDefinitionError(
                    f"tools entries must be @tool functions, callables or OpenAI function "
                    f"definitions (dicts), got {type(spec).__name__}"
                )
            definition = tool_definition(spec if runnable is None else runnable)
            name: str = definition["function"]["name"]
            claim_tool_name(name, seen)
            self._definitions[name] = definition
            if runnable is not None:
                self._runnable[name] = runnable

    def add(self, runnable: RunnableTool, *, replace: bool = False) -> None:
        """Register a tool made by the SDK itself (an MCP tool: it may raise
        MCPServerError, which the runner turns into the run's error)."""
        name = runnable.name
        if name in self._definitions and not replace:
            raise ToolDefinitionError(f"two tools are named {name!r}; tool names must be unique")
        self._definitions[name] = runnable.definition
        self._runnable[name] = runnable

    @property
    def names(self) -> tuple[str, ...]:
        """Every registered name, in registration order."""
        return tuple(self._definitions)

    def definitions(self) -> list[dict[str, Any]]:
        """The OpenAI ``tools`` array for these tools."""
        return [copy.deepcopy(d) for d in self._definitions.values()]

    def get(self, name: str) -> RunnableTool | None:
        """The tool that runs calls to ``name``; None if unknown or manual."""
        return self._runnable.get(name)

    def handles(self, name: str) -> bool:
        """Whether calls to ``name`` are run here (False for unknown and manual tools)."""
        return name in self._runnable

    def is_manual(self, name: str) -> bool:
        """Whether ``name`` is a definition without an implementation."""
        return name in self._definitions and name not in self._runnable

    def __contains__(self, name: object) -> bool:
        return name in self._definitions

    def __len__(self) -> int:
        return len(self._definitions)

    def __iter__(self) -> Iterator[str]:
        return iter(self._definitions)

    def unknown_tool_message(self, name: str) -> str:
        """The error text for a call to a tool that does not exist."""
        if not self._definitions:
            return f"unknown tool {_clip(name)}; no tools are available"
        return f"unknown tool {_clip(name)}; available: {', '.join(self._definitions)}"

    async def run(self, name: str, arguments: Mapping[str, Any]) -> ToolOutput:
        """Run one call; unknown and manual tools give an error output, nothing raises."""
        runnable = self._runnable.get(name)
        if runnable is not None:
            return await runnable.run(arguments)
        if name in self._definitions:
            return ToolOutput(
                f"tool {name!r} has no implementation here (manual mode); its result must "
                "come from Client.add_tool_result",
                is_error=True,
            )
        return ToolOutput(self.unknown_tool_message(name), is_error=True)
