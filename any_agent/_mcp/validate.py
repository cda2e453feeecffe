"""A small JSON-schema checker for the arguments of in-process MCP tools: the keywords
tool schemas use (type, properties, required, additionalProperties, items, enum, const,
bounds, lengths, anyOf/oneOf/allOf). Others (``$ref``, formats) are not checked. Linear
in the size of the arguments; nesting deeper than :data:`MAX_DEPTH` is refused."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["MAX_DEPTH", "problems"]

MAX_DEPTH = 64
_TYPES: dict[str, Callable[[Any], bool]] = {
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "string": lambda v: isinstance(v, str),
    "boolean": lambda v: isinstance(v, bool),
    "null": lambda v: v is None,
    "integer": lambda v: (
        (isinstance(v, int) and not isinstance(v, bool))
        or (isinstance(v, float) and v.is_integer())
    ),
    "number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
}


def _same(a: Any, b: Any, depth: int = 0) -> bool:
    """JSON equality: ``true`` is not ``1`` (as it is in Python); 1 and 1.0 are equal."""
    if depth > MAX_DEPTH:
        return False
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a is b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return a == b
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same(x, y, depth + 1) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k], depth + 1) for k in a)
    return type(a) is type(b) and bool(a == b)


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def problems(schema: Any, value: Any, where: str = "arguments", depth: int = 0) -> list[str]:
    """What is wrong with ``value`` under ``schema`` (empty: valid). Only the first few
    problems of each object are reported."""
    if not isinstance(schema, Mapping):
        return []
    if depth > MAX_DEPTH:
        return [f"{where}: nested deeper than {MAX_DEPTH} levels"]
    found: list[str] = []
    kind = schema.get("type")
    if kind is not None:
        kinds = [kind] if isinstance(kind, str) else list(kind) if isinstance(kind, list) else []
        known = [k for k in kinds if k in _TYPES]
        if known and not any(_TYPES[k](value) for k in known):
            return [f"{where}: expected {' or '.join(known)}, got {_show(value)}"]
    enum = schema.get("enum")
    if isinstance(enum, list) and not any(_same(value, option) for option in enum):
        found.append(f"{where}: must be one of {_show(enum)}, got {_show(value)}")
    if "const" in schema and not _same(value, schema["const"]):
        found.append(f"{where}: must be {_show(schema['const'])}, got {_show(value)}")
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        for key in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"):
            bound = schema.get(key)
            if not isinstance(bound, (int, float)) or isinstance(bound, bool):
                continue
            ok = {
                "minimum": value >= bound,
                "maximum": value <= bound,
                "exclusiveMinimum": value > bound,
                "exclusiveMaximum": value < bound,
            }[key]
            if not ok:
                found.append(f"{where}: {key} is {bound}, got {value}")
    if isinstance(value, (str, list)):
        prefix = "Length" if isinstance(value, str) else "Items"
        low, high = schema.get(f"min{prefix}"), schema.get(f"max{prefix}")
        if isinstance(low, int) and len(value) < low:
            found.append(
                f"{where}: at least {low} {'characters' if prefix == 'Length' else 'items'}"
            )
        if isinstance(high, int) and len(value) > high:
            found.append(
                f"{where}: at most {high} {'characters' if prefix == 'Length' else 'items'}"
            )
    if isinstance(value, dict):
        props = schema.get("properties")
        props = props if isinstance(props, Mapping) else {}
        required = schema.get("required")
        for name in required if isinstance(required, list) else ():
            if isinstance(name, str) and name not in value:
                found.append(
                    f"missing required argument {name!r}"
                    if depth == 0
                    else f"{where}: missing {name!r}"
                )
        extra = schema.get("additionalProperties", True)
        for name, item in value.items():
            inner = f"{name}" if depth == 0 else f"{where}.{name}"
            if name in props:
                found.extend(problems(props[name], item, inner, depth + 1))
            elif extra is False:
                found.append(f"unexpected argument {inner!r}")
            elif isinstance(extra, Mapping):
                found.extend(problems(extra, item, inner, depth + 1))
            if len(found) > 8:
                break
    if isinstance(value, list) and isinstance(schema.get("items"), Mapping):
        for i, item in enumerate(value):
            found.extend(problems(schema["items"], item, f"{where}[{i}]", depth + 1))
            if len(found) > 8:
                break
    for key in ("anyOf", "oneOf"):
        options = schema.get(key)
        if isinstance(options, list) and options:
            fits = sum(1 for o in options if not problems(o, value, where, depth + 1))
            if fits == 0 or (key == "oneOf" and fits > 1):
                found.append(
                    f"{where}: does not match {'exactly one' if key == 'oneOf' else 'any'}"
                    f" of the allowed shapes, got {_show(value)}"
                )
    for option in schema.get("allOf") or () if isinstance(schema.get("allOf"), list) else ():
        found.extend(problems(option, value, where, depth + 1))
    return found
