"""Tools the agent runs itself: ``@tool``, argument validation, execution and result text.

``@tool`` turns a typed, documented function into a :class:`Tool`: the OpenAI function
definition is built from the type hints (through pydantic) and the docstring, and
:meth:`Tool.run` validates the model's arguments against that same schema before calling
the function. Nothing a tool does can escape :meth:`Tool.run` as an exception: bad
arguments, a failing function and an unserialisable return value all become a
:class:`ToolOutput` with ``is_error=True`` whose text tells the model what went wrong.
"""

from __future__ import annotations

import asyncio
import copy
import functools
import inspect
import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar, overload, runtime_checkable

import pydantic
from pydantic_core import PydanticSerializationError, to_json
from typing_extensions import ParamSpec

from ._agent.aio import call_in_thread, describe_exception, pending_cancellations
from ._agent.schema import build_arguments, default_name, target_of
from ._mcp.sdk import SdkMcpTool, sdk_tool
from .errors import ToolDefinitionError, ToolResultError
from .options import TOOL_NAME, ToolLike
from .types import ImageBlock

__all__ = ["RunnableTool", "Tool", "ToolLike", "ToolOutput", "result_to_text", "tool"]

P = ParamSpec("P")
R = TypeVar("R")


@dataclass(frozen=True, slots=True)
class ToolOutput:
    """What a tool call produced: text for the model, and any images it returned."""

    content: str
    is_error: bool = False
    images: tuple[ImageBlock, ...] = ()


@runtime_checkable
class RunnableTool(ToolLike, Protocol):
    """A tool with an implementation: what :class:`ToolRegistry` can run."""

    async def run(self, arguments: Mapping[str, Any]) -> ToolOutput: ...


_SURROGATE = re.compile("[\ud800-\udfff]")


def result_to_text(value: Any) -> str:
    """Turn a tool result into the text sent to the model.

    A ``str`` is kept as is (a lone surrogate, e.g. from a file name decoded with
    ``surrogateescape``, becomes U+FFFD: it cannot be sent as UTF-8); anything else (dicts,
    lists, numbers, ``None``, pydantic models, dataclasses, enums, dates...) becomes compact
    JSON. A value that has no JSON form raises :class:`ToolResultError` naming its type.
    """
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return _SURROGATE.sub("\ufffd", value)
        return value
    try:
        return to_json(value).decode()
    except (PydanticSerializationError, ValueError, TypeError, UnicodeDecodeError) as exc:
        raise ToolResultError(
            f"a tool result of type {type(value).__name__} cannot be serialised to JSON "
            f"({exc}); return a str, or JSON values, dataclasses or pydantic models"
        ) from exc


def _describe_input(value: Any) -> str:
    try:
        text = to_json(value).decode()
    except Exception:
        text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _validation_message(tool_name: str, exc: pydantic.ValidationError) -> str:
    problems: list[str] = []
    for error in exc.errors(include_url=False):
        loc = "".join(
            f"[{part}]" if isinstance(part, int) else (f".{part}" if i else str(part))
            for i, part in enumerate(error["loc"])
        )
        kind = error["type"]
        if not loc:
            problems.append(
                f"the arguments must be a JSON object, got {_describe_input(error['input'])}"
            )
        elif kind == "missing":
            problems.append(f"missing required argument {loc!r}")
        elif kind == "extra_forbidden":
            problems.append(f"unexpected argument {loc!r}")
        else:
            problems.append(f"{loc!r}: {error['msg']} (got {_describe_input(error['input'])})")
    return f"invalid arguments for tool {tool_name!r}: " + "; ".join(problems)


class Tool(Generic[P, R]):
    """A function the model can call; made by :func:`tool`.

    Still callable like the original function. :attr:`definition` is the OpenAI function
    definition sent to the server, and :meth:`run` executes one call from the model.
    """

    __name__: str
    __qualname__: str

    def __init__(
        self,
        function: Callable[P, R],
        *,
        name: str | None = None,
        description: str | None = None,
    ) -> None:
        if isinstance(function, Tool):
            function = function.function
        if not callable(function):
            raise ToolDefinitionError(f"@tool needs a function, got {type(function).__name__}")
        label_name = getattr(target_of(function), "__qualname__", None) or repr(function)
        label = f"tool function {label_name!r}"
        resolved = default_name(function) if name is None else name
        if not isinstance(resolved, str) or not TOOL_NAME.match(resolved):
            raise ToolDefinitionError(
                f"{label}: tool name {resolved!r} is invalid; use 1-64 letters, digits, '_' or '-'"
            )
        if description is not None and not isinstance(description, str):
            raise ToolDefinitionError(f"{label}: description must be a str")
        model, params, schema, doc_description = build_arguments(function, label)
        self._function = function
        self._name = resolved
        self._description = doc_description if description is None else description.strip()
        self._model = model
        self._params = params
        self._parameters = schema
        self._is_async = inspect.iscoroutinefunction(function) or inspect.iscoroutinefunction(
            getattr(function, "__call__", None)  # noqa: B004
        )
        functools.update_wrapper(self, function, updated=())

    @property
    def name(self) -> str:
        """The name the model calls the tool by."""
        return self._name

    @property
    def description(self) -> str:
        """What the model is told the tool does."""
        return self._description

    @property
    def parameters(self) -> dict[str, Any]:
        """The JSON schema of the arguments (a copy)."""
        return copy.deepcopy(self._parameters)

    @property
    def definition(self) -> dict[str, Any]:
        """The OpenAI function definition (a fresh copy on each access)."""
        return {
            "type": "function",
            "function": {
                "name": self._name,
                "description": self._description,
                "parameters": copy.deepcopy(self._parameters),
            },
        }

    @property
    def function(self) -> Callable[P, R]:
        """The decorated function."""
        return self._function

    @property
    def is_async(self) -> bool:
        """Whether the function is a coroutine function (otherwise it runs in a thread)."""
        return self._is_async

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> R:
        return self._function(*args, **kwargs)

    def __repr__(self) -> str:
        return f"Tool(name={self._name!r})"

    async def run(self, arguments: Mapping[str, Any]) -> ToolOutput:
        """Validate ``arguments``, call the function and return its result as text.

        Never raises for the tool's own failures (only cancellation propagates): invalid
        arguments (the function is not called), an exception from the function and an
        unserialisable return value all come back with ``is_error=True``.
        """
        try:
            validated = self._model.model_validate(arguments)
        except pydantic.ValidationError as exc:
            return ToolOutput(_validation_message(self._name, exc), is_error=True)
        given = validated.model_fields_set
        args: list[Any] = []
        kwargs: dict[str, Any] = {}
        for param in self._params:
            if param.field not in given and not param.pass_default:
                continue
            value = getattr(validated, param.field)
            if param.positional:
                args.append(value)
            else:
                kwargs[param.name] = value
        function: Callable[..., Any] = self._function
        try:
            if self._is_async:
                value = await function(*args, **kwargs)
            else:
                value = await call_in_thread(function, *args, **kwargs)
                if inspect.isawaitable(value):
                    value = await value
        except Exception as exc:
            return ToolOutput(describe_exception(exc), is_error=True)
        except asyncio.CancelledError as exc:
            if pending_cancellations() != 0:  # this task is cancelled (or we cannot tell)
                raise
            # the tool's own await was cancelled (not this task): a failure like any other
            return ToolOutput(describe_exception(exc), is_error=True)
        try:
            return ToolOutput(result_to_text(value))
        except ToolResultError as exc:
            return ToolOutput(f"tool {self._name!r} returned an unusable result: {exc}", True)


@overload
def tool(function: Callable[P, R], /) -> Tool[P, R]: ...


@overload
def tool(
    *, name: str | None = None, description: str | None = None
) -> Callable[[Callable[P, R]], Tool[P, R]]: ...


@overload
def tool(
    name: str, description: str, input_schema: Any, /
) -> Callable[[Callable[[dict[str, Any]], Awaitable[Mapping[str, Any]]]], SdkMcpTool]: ...


def tool(
    function: Callable[P, R] | str | None = None,
    /,
    *schema_args: Any,
    name: str | None = None,
    description: str | None = None,
) -> Any:
    """Make a function (sync or async) a tool the model can call.

    Use bare (``@tool``) or with overrides (``@tool(name=..., description=...)``). The
    argument schema comes from the type hints and the per-argument descriptions from a
    Google-style ``Args:``, NumPy ``Parameters`` or reST ``:param x:`` docstring section;
    parameters with defaults are optional. An annotation that has no JSON form raises
    :class:`ToolDefinitionError` here, at decoration time.

    claude-agent-sdk's form ``@tool("add", "Add two numbers", {"a": float, "b": float})``
    (a dict of name → type, or a JSON schema) decorates ``async def handler(args: dict)``
    returning ``{"content": [...], "is_error"?: bool}``: an :class:`SdkMcpTool` for
    :func:`create_sdk_mcp_server` (or ``AgentOptions.tools``).
    """
    if isinstance(function, str):
        if len(schema_args) != 2 or name is not None or description is not None:
            raise ToolDefinitionError(
                f"tool({function!r}, ...): claude-agent-sdk's form is tool(name, description, "
                f"input_schema); for a typed function use @tool(name={function!r})"
            )
        return sdk_tool(function, schema_args[0], schema_args[1])
    if schema_args:
        raise ToolDefinitionError(
            "tool() takes a function, or (name, description, input_schema), or name=/description="
        )
    if function is not None:
        return Tool(function, name=name, description=description)

    def decorate(fn: Callable[P, R]) -> Tool[P, R]:
        return Tool(fn, name=name, description=description)

    return decorate
