"""A tool function's signature → its arguments model (pydantic) and the JSON schema sent to
the server: which annotations have a JSON form, how the schema is cleaned for servers, and
which parameters are passed positionally."""

from __future__ import annotations

import dataclasses
import datetime
import enum
import functools
import inspect
import types
import typing
import uuid
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, TypeVar, Union

import pydantic
from pydantic.fields import FieldInfo
from typing_extensions import is_typeddict

from ..errors import ToolDefinitionError
from .docstrings import parse_docstring

__all__ = ["Param", "build_arguments", "default_name", "target_of"]

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
class Param:
    name: str
    field: str
    positional: bool
    pass_default: bool


def target_of(function: Callable[..., Any]) -> Any:
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


def default_name(function: Callable[..., Any]) -> str | None:
    if isinstance(function, functools.partial):
        return getattr(function.func, "__name__", None)
    name = getattr(function, "__name__", None)
    return name if isinstance(name, str) else type(function).__name__


def build_arguments(
    function: Callable[..., Any], label: str
) -> tuple[type[pydantic.BaseModel], list[Param], dict[str, Any], str]:
    try:
        signature = inspect.signature(function)
    except (TypeError, ValueError) as exc:
        raise ToolDefinitionError(f"{label}: its signature cannot be read ({exc})") from exc
    target = target_of(function)
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
    description, arg_docs = parse_docstring(_doc(function, target))
    fields: dict[str, Any] = {}
    params: list[Param] = []
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
            Param(
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
