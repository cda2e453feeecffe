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
import dataclasses
import datetime
import enum
import functools
import inspect
import re
import types
import typing
import uuid
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, Literal, Protocol, TypeVar, Union, overload, runtime_checkable

import pydantic
from pydantic.fields import FieldInfo
from pydantic_core import PydanticSerializationError, to_json
from typing_extensions import ParamSpec, is_typeddict

from .errors import ToolDefinitionError, ToolResultError
from .options import ToolLike, tool_definition

__all__ = [
    "RunnableTool",
    "Tool",
    "ToolOutput",
    "ToolRegistry",
    "result_to_text",
    "tool",
]

P = ParamSpec("P")
R = TypeVar("R")

_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


@dataclass(frozen=True, slots=True)
class ToolOutput:
    """What a tool call produced, as text for the model."""

    content: str
    is_error: bool = False


@runtime_checkable
class RunnableTool(ToolLike, Protocol):
    """A tool with an implementation: what :class:`ToolRegistry` can run."""

    async def run(self, arguments: Mapping[str, Any]) -> ToolOutput: ...


async def call_in_thread(function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Run a sync callable in a worker thread. A ``StopIteration`` it raises (``next()`` on
    an empty iterator) cannot cross into the awaiting future (asyncio would leave the
    await hanging for ever), so it comes back as a ``RuntimeError``."""

    def call() -> Any:
        try:
            return function(*args, **kwargs)
        except StopIteration as exc:
            raise RuntimeError(f"StopIteration raised inside {function!r}") from exc

    return await asyncio.to_thread(call)


def describe_exception(exc: BaseException) -> str:
    """``Type: message`` for an error fed back to the model, even when ``str(exc)`` fails."""
    try:
        text = str(exc)
    except Exception:
        text = "(the exception's message could not be rendered)"
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def cancel_requests() -> int | None:
    """How many cancellations of the current task are pending; None where asyncio cannot
    tell (Python 3.10)."""
    cancelling = getattr(asyncio.current_task(), "cancelling", None)  # Python 3.11+
    return None if cancelling is None else int(cancelling())


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


# --------------------------------------------------------------------------- docstrings

_GOOGLE_ARGS = re.compile(
    r"^(?:args|arguments|parameters|params|keyword args|keyword arguments|other parameters)"
    r"\s*:$",
    re.IGNORECASE,
)
_GOOGLE_OTHER = re.compile(
    r"^(?:returns?|yields?|raises?|examples?|notes?|warnings?|see also|references|todo|"
    r"attributes|methods)\s*:$",
    re.IGNORECASE,
)
_NUMPY_HEADER = re.compile(r"^-{3,}$")
_NUMPY_ARGS = re.compile(r"^(?:parameters|other parameters|keyword arguments)$", re.IGNORECASE)
_REST_FIELD = re.compile(r"^:(\w+)([^:]*):\s*(.*)$")
_REST_PARAM = {"param", "parameter", "arg", "argument", "key", "keyword"}
_REST_SECTION = _REST_PARAM | {
    "type",
    "returns",
    "return",
    "rtype",
    "raises",
    "raise",
    "except",
    "exception",
    "yields",
    "yield",
    "ytype",
    "var",
    "ivar",
    "cvar",
    "vartype",
    "keytype",
}
_GOOGLE_ENTRY = re.compile(r"^\**(\w+)\s*(?:\([^)]*\))?\s*:\s*(.*)$")
_NUMPY_ENTRY = re.compile(r"^(\w+)\s*(?::.*)?$")


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())


def _is_section_start(lines: list[str], i: int) -> bool:
    stripped = lines[i].strip()
    if _GOOGLE_ARGS.match(stripped) or _GOOGLE_OTHER.match(stripped):
        return True
    rest_field = _REST_FIELD.match(stripped)
    if rest_field and rest_field.group(1).lower() in _REST_SECTION:
        return True
    return bool(stripped and i + 1 < len(lines) and _NUMPY_HEADER.match(lines[i + 1].strip()))


def _parse_docstring(doc: str | None) -> tuple[str, dict[str, str]]:
    """Split a docstring into (description, {argument: description})."""
    if not doc:
        return "", {}
    lines = inspect.cleandoc(doc).splitlines()
    first_section = next((i for i in range(len(lines)) if _is_section_start(lines, i)), len(lines))
    description = "\n".join(lines[:first_section]).strip()
    args: dict[str, str] = {}
    i = first_section
    while i < len(lines):
        stripped = lines[i].strip()
        rest_field = _REST_FIELD.match(stripped)
        if _GOOGLE_ARGS.match(stripped):
            i = _parse_indented_entries(lines, i + 1, _indent(lines[i]), _GOOGLE_ENTRY, args)
        elif (
            _NUMPY_ARGS.match(stripped)
            and i + 1 < len(lines)
            and _NUMPY_HEADER.match(lines[i + 1].strip())
        ):
            i = _parse_indented_entries(lines, i + 2, _indent(lines[i]) - 1, _NUMPY_ENTRY, args)
        elif rest_field and rest_field.group(1).lower() in _REST_PARAM:
            words = rest_field.group(2).split()
            text = [rest_field.group(3).strip()]
            base = _indent(lines[i])
            i += 1
            while i < len(lines) and lines[i].strip() and _indent(lines[i]) > base:
                text.append(lines[i].strip())
                i += 1
            if words:
                args[words[-1]] = " ".join(t for t in text if t)
        else:
            i += 1
    return description, args


def _parse_indented_entries(
    lines: list[str],
    start: int,
    header_indent: int,
    entry: re.Pattern[str],
    out: dict[str, str],
) -> int:
    """Read ``name: text`` entries indented deeper than their header; return the next line."""
    entry_indent: int | None = None
    current: str | None = None
    i = start
    while i < len(lines):
        line = lines[i]
        if not line.strip():
            i += 1
            continue
        indent = _indent(line)
        if indent <= header_indent or (entry_indent is not None and indent < entry_indent):
            break
        if i + 1 < len(lines) and _NUMPY_HEADER.match(lines[i + 1].strip()):
            break
        if entry_indent is None:
            entry_indent = indent
        match = entry.match(line.strip()) if indent == entry_indent else None
        if match:
            current = match.group(1)
            text = match.group(2).strip() if match.lastindex and match.lastindex > 1 else ""
            out[current] = text
        elif current is not None:
            out[current] = f"{out[current]} {line.strip()}".strip()
        i += 1
    return i


# --------------------------------------------------------------------------- annotations

_SCALARS: tuple[Any, ...] = (str, int, float, bool, type(None), Any)
_STRING_LIKE = (datetime.datetime, datetime.date, datetime.time, uuid.UUID)
_ARRAYS: tuple[Any, ...] = (list, tuple, set, frozenset, Sequence)
_MAPPINGS: tuple[Any, ...] = (dict, Mapping)
_SUPPORTED = (
    "tool arguments must be JSON values: str, int, float, bool, None, Any, Literal, Enum, "
    "list/tuple/set, dict[str, ...], unions of these, pydantic models, TypedDicts or "
    "dataclasses"
)


def _unsupported(annotation: Any, seen: set[int]) -> str | None:
    """Why ``annotation`` cannot be a tool argument, or None when it can."""
    if annotation is None or any(annotation is s for s in _SCALARS):
        return None
    if annotation is object:
        return "'object' has no JSON schema; use Any for an arbitrary JSON value"
    if isinstance(annotation, (str, typing.ForwardRef)):
        return f"the forward reference {annotation!r} could not be resolved"
    if isinstance(annotation, TypeVar):
        return f"the type variable {annotation} is not a concrete type"
    supertype = getattr(annotation, "__supertype__", None)
    if supertype is not None:
        return _unsupported(supertype, seen)
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is typing.Annotated:
        return _unsupported(args[0], seen)
    if origin is Literal:
        bad = [a for a in args if not isinstance(a, (str, int, float, bool, enum.Enum, type(None)))]
        return f"Literal values must be JSON scalars, got {bad[0]!r}" if bad else None
    if origin is Union or origin is types.UnionType:
        return next((r for r in (_unsupported(a, seen) for a in args) if r), None)
    if origin in _ARRAYS:
        return next((r for r in (_unsupported(a, seen) for a in args if a is not ...) if r), None)
    if origin in _MAPPINGS:
        if args and args[0] is not str:
            return (
                f"JSON object keys are strings, so dict keys must be str, not {_type_name(args[0])}"
            )
        return _unsupported(args[1], seen) if len(args) > 1 else None
    if origin is not None:
        return _not_json(annotation)
    if not isinstance(annotation, type):
        return f"{annotation!r} is not a type"
    if annotation in _ARRAYS or annotation in _MAPPINGS or issubclass(annotation, _STRING_LIKE):
        return None
    if issubclass(annotation, enum.Enum):
        return None
    if id(annotation) in seen:
        return None
    seen.add(id(annotation))
    hints: dict[str, Any]
    if issubclass(annotation, pydantic.BaseModel):
        hints = {n: f.annotation for n, f in annotation.model_fields.items()}
    elif is_typeddict(annotation) or dataclasses.is_dataclass(annotation):
        try:
            hints = typing.get_type_hints(annotation)
        except Exception as exc:
            return f"the annotations of {annotation.__qualname__} cannot be resolved ({exc})"
    else:
        return _not_json(annotation)
    for field_name, hint in hints.items():
        reason = _unsupported(hint, seen)
        if reason:
            return f"field {annotation.__qualname__}.{field_name}: {reason}"
    return None


def _not_json(annotation: Any) -> str:
    return f"{_type_name(annotation)} is not a JSON value"


def _type_name(annotation: Any) -> str:
    if isinstance(annotation, type) and typing.get_origin(annotation) is None:
        return annotation.__qualname__
    return repr(annotation).replace("typing.", "").replace("collections.abc.", "")


# --------------------------------------------------------------------------- schemas

_SUBSCHEMA = (
    "items",
    "additionalProperties",
    "not",
    "contains",
    "propertyNames",
    "if",
    "then",
    "else",
    "unevaluatedItems",
    "unevaluatedProperties",
    "additionalItems",
)
_SUBSCHEMA_LISTS = ("anyOf", "oneOf", "allOf", "prefixItems")
_SUBSCHEMA_MAPS = ("properties", "patternProperties", "dependentSchemas")
_DEFS_PREFIX = "#/$defs/"


def _clean_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """Inline ``$defs`` (keeping only recursive ones) and drop ``title`` keywords."""
    defs: dict[str, Any] = schema.get("$defs", {})
    kept: dict[str, Any] = {}

    def visit(node: Any, stack: frozenset[str]) -> Any:
        if not isinstance(node, dict):
            return node
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith(_DEFS_PREFIX):
            name = ref[len(_DEFS_PREFIX) :]
            siblings = {k: visit_value(k, v, stack) for k, v in node.items() if k != "$ref"}
            siblings.pop("title", None)
            if name in stack or name not in defs:
                if name in defs and name not in kept:
                    kept[name] = None
                    kept[name] = visit(defs[name], frozenset({name}))
                return {"$ref": ref, **siblings}
            return {**visit(defs[name], stack | {name}), **siblings}
        all_of = node.get("allOf")
        if isinstance(all_of, list) and len(all_of) == 1 and set(all_of[0]) == {"$ref"}:
            rest = {k: v for k, v in node.items() if k != "allOf"}
            return visit({**all_of[0], **rest}, stack)
        return {k: visit_value(k, v, stack) for k, v in node.items() if k not in ("title", "$defs")}

    def visit_value(key: str, value: Any, stack: frozenset[str]) -> Any:
        if key in _SUBSCHEMA:
            return visit(value, stack)
        if key in _SUBSCHEMA_LISTS and isinstance(value, list):
            return [visit(v, stack) for v in value]
        if key in _SUBSCHEMA_MAPS and isinstance(value, dict):
            return {k: visit(v, stack) for k, v in value.items()}
        return value

    cleaned: dict[str, Any] = visit(schema, frozenset())
    ordered: dict[str, Any] = {
        k: cleaned.pop(k) for k in ("type", "properties", "required") if k in cleaned
    }
    ordered.update(cleaned)
    ordered.setdefault("type", "object")
    ordered.setdefault("properties", {})
    if kept:
        ordered["$defs"] = kept
    return ordered


@dataclass(frozen=True, slots=True)
class _Param:
    name: str
    field: str
    positional: bool
    pass_default: bool


def _target(function: Callable[..., Any]) -> Any:
    """The function that holds the annotations and docstring of ``function``."""
    if inspect.isfunction(function) or inspect.ismethod(function):
        return function
    if isinstance(function, functools.partial):
        return function.func
    return getattr(function, "__call__", function)  # noqa: B004 - a callable object


def _doc(function: Callable[..., Any], target: Any) -> str | None:
    if target is function or isinstance(function, functools.partial):
        return inspect.getdoc(target)
    return inspect.getdoc(target) or inspect.getdoc(type(function))


def _default_name(function: Callable[..., Any]) -> str | None:
    if isinstance(function, functools.partial):
        return getattr(function.func, "__name__", None)
    name = getattr(function, "__name__", None)
    return name if isinstance(name, str) else type(function).__name__


def _build(
    function: Callable[..., Any], label: str
) -> tuple[type[pydantic.BaseModel], list[_Param], dict[str, Any], str]:
    try:
        signature = inspect.signature(function)
    except (TypeError, ValueError) as exc:
        raise ToolDefinitionError(f"{label}: its signature cannot be read ({exc})") from exc
    target = _target(function)
    raw: dict[str, Any] = dict(getattr(target, "__annotations__", None) or {})
    namespace = target
    while hasattr(namespace, "__wrapped__"):
        namespace = namespace.__wrapped__
    module_globals: dict[str, Any] = getattr(namespace, "__globals__", {})
    hints: dict[str, Any] = {}
    for key in signature.parameters:
        if key not in raw:
            continue
        try:
            hints.update(
                typing.get_type_hints(
                    types.SimpleNamespace(__annotations__={key: raw[key]}),
                    globalns=module_globals,
                    include_extras=True,
                )
            )
        except Exception as exc:
            raise ToolDefinitionError(
                f"{label}: the annotation of parameter {key!r} cannot be resolved "
                f"({type(exc).__name__}: {exc})"
            ) from exc
    description, arg_docs = _parse_docstring(_doc(function, target))
    fields: dict[str, Any] = {}
    params: list[_Param] = []
    for index, p in enumerate(signature.parameters.values()):
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            star = "*" if p.kind is p.VAR_POSITIONAL else "**"
            raise ToolDefinitionError(
                f"{label}: parameter {star}{p.name} is not supported; "
                "a tool takes named parameters only"
            )
        if p.name not in hints:
            raise ToolDefinitionError(
                f"{label}: parameter {p.name!r} has no type annotation; "
                "annotate it (e.g. `city: str`) so the model knows what to send"
            )
        annotation = hints[p.name]
        reason = _unsupported(annotation, set())
        if reason:
            detail = "" if reason == _not_json(annotation) else f" ({reason})"
            raise ToolDefinitionError(
                f"{label}: parameter {p.name!r} has an unsupported annotation "
                f"{_type_name(annotation)}{detail}; {_SUPPORTED}"
            )
        annotation, metadata_doc = _strip_string_metadata(annotation)
        default = p.default
        explicit = _field_description(annotation) or (
            default.description if isinstance(default, FieldInfo) else None
        )
        doc = None if explicit else (metadata_doc or arg_docs.get(p.name))
        alias = (
            pydantic.Field(alias=p.name, description=doc) if doc else pydantic.Field(alias=p.name)
        )
        field = f"p{index}"
        fields[field] = (
            typing.Annotated[annotation, alias],
            ... if default is p.empty else default,
        )
        params.append(
            _Param(
                name=p.name,
                field=field,
                positional=p.kind is p.POSITIONAL_ONLY,
                pass_default=p.kind is p.POSITIONAL_ONLY or isinstance(default, FieldInfo),
            )
        )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = pydantic.create_model(
                f"{getattr(function, '__name__', 'tool')}_arguments",
                __config__=pydantic.ConfigDict(extra="forbid", coerce_numbers_to_str=True),
                **fields,
            )
            schema = model.model_json_schema()
    except Exception as exc:
        raise ToolDefinitionError(
            f"{label}: its parameters cannot be described as JSON schema "
            f"({type(exc).__name__}: {exc})"
        ) from exc
    return model, params, _clean_schema(schema), description


def _field_description(annotation: Any) -> str | None:
    if typing.get_origin(annotation) is not typing.Annotated:
        return None
    return next(
        (
            m.description
            for m in typing.get_args(annotation)[1:]
            if isinstance(m, FieldInfo) and m.description
        ),
        None,
    )


def _strip_string_metadata(annotation: Any) -> tuple[Any, str | None]:
    """``Annotated[T, "doc"]`` → (``T`` with the other metadata, "doc")."""
    if typing.get_origin(annotation) is not typing.Annotated:
        return annotation, None
    base, *metadata = typing.get_args(annotation)
    docs = [m for m in metadata if isinstance(m, str)]
    if not docs:
        return annotation, None
    others = [m for m in metadata if not isinstance(m, str)]
    stripped = typing.Annotated.__class_getitem__((base, *others)) if others else base
    return stripped, " ".join(docs)


# --------------------------------------------------------------------------- Tool


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
        label_name = getattr(_target(function), "__qualname__", None) or repr(function)
        label = f"tool function {label_name!r}"
        resolved = _default_name(function) if name is None else name
        if not isinstance(resolved, str) or not _NAME.match(resolved):
            raise ToolDefinitionError(
                f"{label}: tool name {resolved!r} is invalid; use 1-64 letters, digits, '_' or '-'"
            )
        if description is not None and not isinstance(description, str):
            raise ToolDefinitionError(f"{label}: description must be a str")
        model, params, schema, doc_description = _build(function, label)
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
            if cancel_requests() != 0:  # this task is cancelled (or we cannot tell)
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


def tool(
    function: Callable[P, R] | None = None,
    /,
    *,
    name: str | None = None,
    description: str | None = None,
) -> Tool[P, R] | Callable[[Callable[P, R]], Tool[P, R]]:
    """Make a function (sync or async) a tool the model can call.

    Use bare (``@tool``) or with overrides (``@tool(name=..., description=...)``). The
    argument schema comes from the type hints and the per-argument descriptions from a
    Google-style ``Args:``, NumPy ``Parameters`` or reST ``:param x:`` docstring section;
    parameters with defaults are optional. An annotation that has no JSON form raises
    :class:`ToolDefinitionError` here, at decoration time.
    """
    if function is not None:
        if isinstance(function, str):
            raise ToolDefinitionError(
                f"tool({function!r}): pass the name as a keyword, @tool(name={function!r})"
            )
        return Tool(function, name=name, description=description)

    def decorate(fn: Callable[P, R]) -> Tool[P, R]:
        return Tool(fn, name=name, description=description)

    return decorate


# --------------------------------------------------------------------------- registry


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
            if name in self._definitions:
                raise ToolDefinitionError(
                    f"two tools are named {name!r}; tool names must be unique"
                )
            self._definitions[name] = definition
            if runnable is not None:
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
