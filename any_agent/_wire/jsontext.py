"""JSON in and out without losing what a server sent: integers beyond 64 bits stay exact,
and nesting is bounded so nothing downstream meets a ``RecursionError``.

orjson turns a >64-bit integer into a float when parsing and refuses it when writing, and
writes at most 255 levels; the stdlib keeps such integers exact. These helpers use orjson
where it is exact and the stdlib where it is not.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

import orjson

__all__ = [
    "MAX_DEPTH",
    "depth_of",
    "dumps",
    "has_long_integer",
    "item_budget",
    "loads",
    "too_many_items",
]

#: the deepest JSON value accepted in tool arguments (orjson's own limit for writing)
MAX_DEPTH = 255

_LONG_DIGITS = re.compile(r"\d{19}")
_LONG_DIGITS_B = re.compile(rb"\d{19}")

# orjson reserves ~13x a large input's size up front (the stdlib parser does not, and is
# as fast on a few long strings such as whole files)
_BIG_JSON = 1 << 16


# a JSON string literal (possessive: no backtracking)
_STRING = re.compile(rb'"(?:[^"\\]++|\\.)*+"')


def item_budget(max_event_bytes: int) -> int:
    """How many JSON items (values and keys) one event of at most ``max_event_bytes`` may
    hold: one per 16 bytes, never under 4,096. A parsed item costs 24-64 bytes of memory and
    ~0.25 µs to build, so ``[{},{},…]`` (3 bytes an item) would inflate a 32 MiB event to
    ~1.1 GB over ~2.5 s of CPU on the event loop; real chunks hold a few dozen items, and a
    non-streamed completion with logprobs about one per 8-60 bytes."""
    return max(4096, max_event_bytes // 16)


def too_many_items(data: bytes, budget: int) -> bool:
    """Whether ``data`` holds more than ``budget`` JSON items, decided before parsing it and
    in C-speed passes: commas and opening brackets bound the items from above (an item is
    first in its container or follows a comma); only when those, counted inside strings too,
    pass the budget are the strings cut out and the structure counted exactly."""
    if len(data) <= budget:
        return False
    if data.count(b",") + data.count(b"{") + data.count(b"[") <= budget:
        return False
    strings = (data.count(b'"') - data.count(b'\\"')) // 2
    if strings > budget:
        return True  # more strings than the budget (each is an item)
    if strings > 4096:
        bare = _STRING.sub(b"", data)
        return bare.count(b",") + bare.count(b"{") + bare.count(b"[") > budget
    # few strings: count what is inside them in place (no copy of a structure-dense event)
    total = data.count(b",") + data.count(b"{") + data.count(b"[")
    for m in _STRING.finditer(data):
        a, b = m.span()
        if b - a > 2:
            total -= data.count(b",", a, b) + data.count(b"{", a, b) + data.count(b"[", a, b)
    return total > budget


def has_long_integer(data: str | bytes) -> bool:
    """Whether ``data`` may hold an integer orjson would read as a float (19+ digits)."""
    if isinstance(data, bytes):
        return _LONG_DIGITS_B.search(data) is not None
    return _LONG_DIGITS.search(data) is not None


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _finite(literal: str) -> float:
    value = float(literal)
    if not math.isfinite(value):
        raise ValueError(f"number out of range: {literal[:40]}")
    return value


_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")
_SURROGATE_ESCAPE_B = re.compile(rb"\\u[dD][89a-fA-F]")


def _lone_surrogate(value: Any) -> bool:
    """Whether any string (or key) in ``value`` holds a lone UTF-16 surrogate."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if not item.isascii():
                try:
                    item.encode()
                except UnicodeEncodeError:
                    return True
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


def loads(text: str | bytes) -> Any:
    """Parse ``text`` keeping big integers exact; ValueError for invalid JSON or nesting
    deeper than the parsers allow (never RecursionError).

    Both parsers accept the same documents: the stdlib's extensions that orjson refuses
    (``NaN``/``Infinity`` literals, numbers that overflow to infinity such as ``1e999``, lone
    ``\\ud800`` surrogates) are refused here too, so whether a tool call runs never depends
    on its size or on a 20-digit number elsewhere in it."""
    if len(text) > _BIG_JSON or has_long_integer(text):
        try:
            value = json.loads(text, parse_constant=_no_constant, parse_float=_finite)
        except RecursionError:
            raise ValueError(f"JSON nested deeper than {MAX_DEPTH} levels") from None
        escape = _SURROGATE_ESCAPE_B if isinstance(text, bytes) else _SURROGATE_ESCAPE
        if escape.search(text) is not None and _lone_surrogate(value):  # type: ignore[arg-type]
            raise ValueError("a string holds a lone UTF-16 surrogate")
        return value
    return orjson.loads(text)


def depth_of(value: Any, limit: int = MAX_DEPTH) -> int:
    """The nesting depth of ``value``, counted without recursion; stops past ``limit``."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict):
            items: Any = item.values()
        elif isinstance(item, list):
            items = item
        else:
            continue
        if level > deepest:
            deepest = level
            if deepest > limit:
                return deepest
        stack.extend((child, level + 1) for child in items if isinstance(child, (dict, list)))
    return deepest


def dumps(value: Any) -> str:
    """Compact JSON text of ``value``; big integers written exactly. ValueError when it is
    nested deeper than :data:`MAX_DEPTH` (or is not JSON data)."""
    try:
        return orjson.dumps(value).decode()
    except TypeError:
        pass
    if depth_of(value) > MAX_DEPTH:
        raise ValueError(f"JSON nested deeper than {MAX_DEPTH} levels")
    try:
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    except (TypeError, ValueError, RecursionError) as exc:
        raise ValueError(f"not JSON data: {exc}") from None
