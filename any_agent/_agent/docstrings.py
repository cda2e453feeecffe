"""The argument descriptions of a tool's docstring: Google ``Args:``, NumPy ``Parameters``
and reST ``:param x:`` sections, read by hand (no dependency), one pass per docstring."""

from __future__ import annotations

import inspect
import re

__all__ = ["parse_docstring"]

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


def parse_docstring(doc: str | None) -> tuple[str, dict[str, str]]:
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
