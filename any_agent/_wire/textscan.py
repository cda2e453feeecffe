"""Split streamed ``content`` into visible text, reasoning, and tool calls leaked as text.

Pure and incremental: ``feed(str)`` returns pieces, holding back only what might still turn
out to be a tag (``<thi`` at the end of a chunk) or a tool call being written as text.

Recognisers are data (:data:`MARKUPS`): an opening marker, a closing marker (``None`` =
until the end of the message), and a parser returning ``[(name, arguments), ...]`` or
``None``. A call is accepted only when it names a tool that was offered; anything that does
not parse is given back as text, never dropped.

Where a tag stands matters: a marker right after a backtick or inside a ```` ``` ```` fence of
the visible text is quoted, so it is text; ``<think>`` opens reasoning only before any visible
text or at the start of a line. All is decided from the text given out before the marker, so
the result is the same however the stream is cut.
"""

from __future__ import annotations

import ast
import io
import keyword
import math
import re
import tokenize
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, NamedTuple

import orjson

__all__ = ["MARKUPS", "LeakedCall", "Markup", "TextScanner"]

LeakedCall = tuple[str, Any]  # (tool name, arguments: dict or JSON string)
Piece = tuple[str, Any]  # ("text" | "thinking", str) or ("call", LeakedCall)

THINK_OPEN = "<think>"
THINK_CLOSE = "</think>"


def _json_load(text: str) -> Any:
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return None


def _calls_from_json(value: Any, names: frozenset[str]) -> list[LeakedCall] | None:
    items = value if isinstance(value, list) else [value]
    calls: list[LeakedCall] = []
    for item in items:
        if not isinstance(item, dict):
            return None
        inner = item.get("function")
        fn: dict[str, Any] = item
        if isinstance(inner, dict):
            if item.keys() - {"function", "type", "id"}:
                return None  # the wrapper carries something else (prose, a note)
            fn = inner
        name = fn.get("name")
        args = fn.get("arguments", fn.get("parameters", {}))
        if name not in names or not isinstance(args, (dict, str)):
            return None
        if len(fn.keys() - {"name", "arguments", "parameters", "id", "type", "function"}) > 0:
            return None
        calls.append((name, args))
    return calls or None


# the tag as TextScanner reads it: "" or "json" in any case, spaces around it on its line
_FENCE_RE = re.compile(r"^\s*```[^\S\n]*(?i:json)?\s*(.*?)\s*```\s*$", re.DOTALL)


def parse_json_calls(body: str, names: frozenset[str]) -> list[LeakedCall] | None:
    """``{"name":..,"arguments":{..}}``, a list of those, or either inside a code fence."""
    fenced = _FENCE_RE.match(body)
    if fenced:
        body = fenced.group(1)
    value = _json_load(body.strip())
    if value is None:
        # several objects one after another (one per line)
        parts = [p for p in (s.strip() for s in body.strip().splitlines()) if p]
        values = [_json_load(p) for p in parts]
        if len(parts) < 2 or any(v is None for v in values):
            return None
        value = values
    return _calls_from_json(value, names)


_PARAM = re.compile(r"\s*<parameter=([^>\s]+)>\s*(.*?)\s*</parameter>", re.DOTALL)


def parse_xml_function(body: str, names: frozenset[str]) -> list[LeakedCall] | None:
    """Qwen3-Coder style: ``<function=name><parameter=x>value</parameter></function>``.

    After ``name>`` only whitespace and ``<parameter=..>`` elements may follow: prose that
    merely mentions ``<function=name>`` is not a call."""
    name, sep, rest = body.partition(">")
    name = name.strip()
    if not sep or name not in names:
        return None
    args: dict[str, Any] = {}
    pos = 0
    while m := _PARAM.match(rest, pos):
        key, raw = m.groups()
        parsed = _json_load(raw)
        args[key] = raw if parsed is None else parsed
        pos = m.end()
    if rest[pos:].strip():
        return None
    return [(name, args)]


def parse_tool_call_body(body: str, names: frozenset[str]) -> list[LeakedCall] | None:
    """Inside ``<tool_call>``: Hermes JSON, or Qwen3-Coder's ``<function=...>`` XML."""
    stripped = body.strip()
    if stripped.startswith("<function="):
        inner = stripped[len("<function=") :]
        if inner.endswith("</function>"):
            inner = inner[: -len("</function>")]
        return parse_xml_function(inner, names)
    return parse_json_calls(body, names)


_MISTRAL_ARGS = re.compile(r"\s*([A-Za-z_][\w.-]*)(?:\[CALL_ID\][A-Za-z0-9]+)?\[ARGS\]")


def parse_mistral(body: str, names: frozenset[str]) -> list[LeakedCall] | None:
    """After ``[TOOL_CALLS]``: a JSON list (v3 tokenizers) or ``name[ARGS]{...}`` (v11+),
    repeated with ``[TOOL_CALLS]`` between calls."""
    if "[ARGS]" not in body:
        return parse_json_calls(body, names)
    calls: list[LeakedCall] = []
    for part in body.split("[TOOL_CALLS]"):
        m = _MISTRAL_ARGS.match(part)
        if m is None or m.group(1) not in names:
            return None
        args = _json_load(part[m.end() :].strip())
        if not isinstance(args, dict):
            return None
        calls.append((m.group(1), args))
    return calls or None


_PY_NAMES = {"true": True, "false": False, "null": None}  # (True, False, None are constants)
_PY_MARK = "_any_agent_tool_{}_"


class _NotLiteral(Exception):
    pass


@lru_cache(maxsize=32)
def _odd_names(names: frozenset[str]) -> tuple[dict[str, str], re.Pattern[str] | None]:
    """Placeholders for offered names Python cannot call (``get-weather``, ``a.b``, ``class``)
    and a pattern finding them where they are called."""
    odd = sorted(
        (n for n in names if n and (not n.isidentifier() or keyword.iskeyword(n))),
        key=lambda n: (-len(n), n),  # the longest first, so "a-b" is not cut to "a"
    )
    if not odd:
        return {}, None
    marks = {name: _PY_MARK.format(i) for i, name in enumerate(odd)}
    alternatives = "|".join(map(re.escape, odd))
    return marks, re.compile(rf"(?<![\w.])({alternatives})(?=\s*\()")


def _py_literal(node: ast.expr, restore: Callable[[str], str]) -> Any:
    if isinstance(node, ast.Constant):
        value = node.value
        if isinstance(value, str):
            return restore(value)
        if value is None or isinstance(value, int):  # (bool is an int)
            return value
        if isinstance(value, float) and math.isfinite(value):
            return value
    elif isinstance(node, (ast.List, ast.Tuple)):
        return [_py_literal(e, restore) for e in node.elts]
    elif isinstance(node, ast.Dict):
        out: dict[str, Any] = {}
        for k, v in zip(node.keys, node.values, strict=True):
            if not (isinstance(k, ast.Constant) and isinstance(k.value, str)):
                raise _NotLiteral
            out[restore(k.value)] = _py_literal(v, restore)
        return out
    elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        number = node.operand.value if isinstance(node.operand, ast.Constant) else None
        if type(number) is int or (type(number) is float and math.isfinite(number)):
            return -number
    elif isinstance(node, ast.Name) and node.id in _PY_NAMES:
        return _PY_NAMES[node.id]
    raise _NotLiteral


def parse_pythonic(body: str, names: frozenset[str]) -> list[LeakedCall] | None:
    """LFM2 / Llama pythonic style: ``[get_weather(city="Paris"), f(x=1)]``.

    Read with :mod:`ast` (never evaluated): one call or a list of calls to offered names,
    keyword arguments only, literal values only (and JSON's ``true``/``false``/``null``)."""
    body = body.strip()
    marks, pattern = _odd_names(names)
    if pattern is not None:
        if any(mark in body for mark in marks.values()):
            return None
        body = pattern.sub(lambda m: marks[m.group(1)], body)
    back = {mark: name for name, mark in marks.items()}

    def restore(text: str) -> str:
        for mark, name in back.items():
            text = text.replace(mark, name)  # a name called inside a string argument
        return text

    try:
        tree = ast.parse(body, mode="eval")
        if "#" in body and any(
            t.type == tokenize.COMMENT for t in tokenize.generate_tokens(io.StringIO(body).readline)
        ):
            return None  # a comment would be dropped silently
        node = tree.body
        items = node.elts if isinstance(node, ast.List) else [node]
        calls: list[LeakedCall] = []
        for item in items:
            if not isinstance(item, ast.Call) or not isinstance(item.func, ast.Name):
                return None
            name = back.get(item.func.id, item.func.id)
            keys = [k.arg for k in item.keywords]
            if name not in names or item.args or None in keys or len(set(keys)) < len(keys):
                return None  # positional, ``**kwargs`` or repeated arguments
            calls.append((name, {k.arg: _py_literal(k.value, restore) for k in item.keywords}))
    except (_NotLiteral, SyntaxError, ValueError, RecursionError, MemoryError, tokenize.TokenError):
        return None
    return calls or None


@dataclass(frozen=True, slots=True)
class Markup:
    """One family of tool calls written as text. ``source`` names who emits it; ``starts``
    matches the first non-blank character a body can begin with (anything else means the
    marker was only mentioned, and the text is given back at once instead of held)."""

    opener: str
    closer: str | None
    parse: Callable[[str, frozenset[str]], list[LeakedCall] | None]
    source: str
    starts: re.Pattern[str]


_JSON_START = re.compile(r"[{\[]")
_NAME_OR_JSON = re.compile(r"[{\[A-Za-z_]")

MARKUPS: tuple[Markup, ...] = (
    Markup(
        "<tool_call>",
        "</tool_call>",
        parse_tool_call_body,
        "Hermes / Qwen2.5 / Qwen3 templates",
        re.compile(r"[{\[<]"),
    ),
    Markup(
        "[TOOL_REQUEST]",
        "[END_TOOL_REQUEST]",
        parse_json_calls,
        "LM Studio default format",
        _JSON_START,
    ),
    Markup("[TOOL_CALLS]", None, parse_mistral, "Mistral templates", _NAME_OR_JSON),
    Markup("<|python_tag|>", None, parse_json_calls, "Llama 3.x JSON tool calls", _NAME_OR_JSON),
    Markup(
        "<|tool_call_start|>",
        "<|tool_call_end|>",
        parse_pythonic,
        "LFM2 pythonic calls",
        re.compile(r"[\[A-Za-z_]"),
    ),
    Markup(
        "<function=",
        "</function>",
        parse_xml_function,
        "Qwen3-Coder XML calls",
        re.compile(r"[A-Za-z_]"),
    ),
)

_TEXT, _THINK, _MARKUP, _JSON, _FENCED = 0, 1, 2, 3, 4
_JSON_SCAN = re.compile(r'["{}\\]')
_FENCE_MARK = "```"
_TICKS = re.compile(r"`+")


class _Context(NamedTuple):
    """What the text given out so far says about a marker that follows it."""

    visible: bool = False  # some non-whitespace text
    line_blank: bool = True  # only spaces and tabs since the last newline
    ticks: int = 0  # backticks at the very end
    fenced: bool = False  # inside a fence of 3+ backticks


def _advance(ctx: _Context, text: str) -> _Context:
    """``ctx`` after ``text`` is given out; the same for any cutting of the text."""
    if not text:
        return ctx
    if ctx.visible and not (ctx.line_blank or ctx.ticks) and "\n" not in text and "`" not in text:
        return ctx  # mid-line in the answer (the common case): nothing changes
    nl = text.rfind("\n")
    line_blank = (nl != -1 or ctx.line_blank) and not text[nl + 1 :].strip(" \t")
    ticks, fenced = 0, ctx.fenced
    if "`" in text:
        for m in _TICKS.finditer(text):
            before = ctx.ticks if m.start() == 0 else 0
            after = before + m.end() - m.start()
            if before < 3 <= after:
                fenced = not fenced
            ticks = after if m.end() == len(text) else 0
    return _Context(ctx.visible or not text.isspace(), line_blank, ticks, fenced)


class TextScanner:
    """Incremental splitter of one message's ``content``.

    ``tool_names`` enables the leaked-call recognisers (only names that were offered are
    accepted). ``think_open`` starts inside reasoning, for chat templates that open the
    ``<think>`` tag themselves so only ``</think>`` reaches the stream.
    """

    def __init__(self, tool_names: frozenset[str] = frozenset(), *, think_open: bool = False):
        self._names = tool_names
        self._markups = MARKUPS if tool_names else ()
        self._openers = [THINK_OPEN, *(m.opener for m in self._markups)]
        self._first_chars = "".join(sorted({o[0] for o in self._openers}))
        self._mode = _THINK if think_open else _TEXT
        self._carry = ""  # a possible partial marker held from the previous chunk
        self._lead_ws = ""  # whitespace held while a bare-JSON call could still begin
        self._at_start = bool(tool_names)  # no visible text yet in this run of text
        self._after_think = False  # drop the newlines that follow </think>
        self._after_call = False  # the last piece given out was a call
        self._ctx = _Context()  # of the text given out, to judge markers
        self._markup: Markup | None = None
        self._body_started = False
        self._held: list[str] = []  # a markup / JSON / fenced call being held back
        self._tail = ""  # last few held chars, to find a closer split across chunks
        self._depth = 0
        self._in_str = False
        self._escape = False

    # -- public -----------------------------------------------------------------------------
    def feed(self, s: str) -> list[Piece]:
        out: list[Piece] = []
        if self._carry:
            s = self._carry + s
            self._carry = ""
        while s:
            mode = self._mode
            if mode == _TEXT:
                s = self._text(s, out)
            elif mode == _THINK:
                s = self._think(s, out)
            elif mode == _MARKUP:
                s = self._markup_body(s, out)
            elif mode == _JSON:
                s = self._json_body(s, out)
            else:
                s = self._fence_body(s, out)
        return out

    def close(self) -> list[Piece]:
        """End of the message: flush whatever is held, resolving open calls or giving text."""
        out: list[Piece] = []
        carry, self._carry = self._carry, ""
        mode, self._mode = self._mode, _TEXT
        if mode == _THINK:
            if carry:
                out.append(("thinking", carry))
        elif mode == _TEXT:
            if self._after_call and not (self._lead_ws + carry).strip():
                self._lead_ws = ""  # whitespace after the last call is not an answer
            else:
                self._emit_text(carry, out, flush_ws=True)
        else:
            body = "".join(self._held) + carry
            self._held = []
            if mode == _MARKUP:
                assert self._markup is not None
                calls = self._markup.parse(body, self._names)
                raw = self._markup.opener + body
            else:
                calls = parse_json_calls(body, self._names)
                raw = body
            if calls:
                out.extend(("call", c) for c in calls)
                self._after_call = True
            else:
                self._emit_text(raw, out)
        return out

    @property
    def holding(self) -> bool:
        """Whether text is held back that :meth:`flush` would give out or drop."""
        return bool(self._carry or self._lead_ws) or self._mode > _THINK

    def flush(self) -> list[Piece]:
        """The server's own tool calls are starting: give back what is held now, so blocks
        keep their order. Whitespace held before them is dropped; reasoning stays open."""
        self._lead_ws = ""
        if self._mode == _THINK or (self._mode == _TEXT and not self._carry):
            return []
        return self.close()

    # -- helpers ----------------------------------------------------------------------------
    def _emit_text(self, text: str, out: list[Piece], *, flush_ws: bool = False) -> None:
        if self._lead_ws and (text or flush_ws):
            text = self._lead_ws + text
            self._lead_ws = ""
        if not text:
            return
        self._after_call = False
        self._ctx = _advance(self._ctx, text)
        if out and out[-1][0] == "text":
            out[-1] = ("text", out[-1][1] + text)
        else:
            out.append(("text", text))

    def _hold(self, mode: int, first: str) -> None:
        self._mode = mode
        self._body_started = False  # (markup mode) a non-blank character has arrived
        self._held = [first] if first else []
        self._tail = ""
        self._depth = 0
        self._in_str = self._escape = False

    def _calls_or_text(self, calls: list[LeakedCall] | None, raw: str, out: list[Piece]) -> None:
        self._mode = _TEXT
        self._held = []
        self._tail = ""
        if calls:
            out.extend(("call", c) for c in calls)
            self._at_start = True
            self._after_call = True
            self._lead_ws = ""
        else:
            self._at_start = False
            self._emit_text(raw, out)

    def _find_closer(self, s: str, closer: str) -> int:
        """Index in ``s`` just past ``closer`` (which may start in the held tail), or -1."""
        window = self._tail + s
        i = window.find(closer)
        if i == -1:
            self._held.append(s)
            keep = len(closer) - 1
            self._tail = window[-keep:] if keep else ""
            return -1
        return i - len(self._tail) + len(closer)

    # -- modes ------------------------------------------------------------------------------
    def _text(self, s: str, out: list[Piece]) -> str:
        if self._after_think:
            s = s.lstrip("\r\n")
            if not s:
                return ""
            self._after_think = False
        if self._at_start:
            stripped = s.lstrip()
            if not stripped:
                self._lead_ws += s
                return ""
            lead = s[: len(s) - len(stripped)]
            if stripped[0] == "{":
                self._hold(_JSON, self._lead_ws + lead)
                self._lead_ws = ""
                return stripped
            if stripped.startswith(_FENCE_MARK):
                nl = stripped.find("\n")
                tag = stripped[3 : nl if nl != -1 else len(stripped)].strip().lower()
                if nl == -1 and "json".startswith(tag):
                    self._carry = s  # the language tag may still turn out "" or "json"
                    return ""
                if tag in ("", "json"):
                    self._hold(_FENCED, self._lead_ws + lead + stripped[:3])
                    self._lead_ws = ""
                    return stripped[3:]
            elif _FENCE_MARK.startswith(stripped):
                self._carry = s  # "`" or "``": maybe the start of a fence
                return ""
            # keep leading whitespace aside: it is dropped if a call follows, however split
            self._lead_ws += lead
            s = stripped
            self._at_start = False
        if not any(c in s for c in self._first_chars):
            self._emit_text(s, out)  # the common case: no tag can start in this piece
            return ""
        best = -1
        best_opener = ""
        for opener in self._openers:
            i = s.find(opener)
            if i != -1 and (best == -1 or i < best):
                best, best_opener = i, opener
        if best == -1:
            cut = self._partial_tail(s)
            self._emit_text(s[:cut], out)
            self._carry = s[cut:]
            return ""
        self._emit_text(s[:best], out)
        rest = s[best + len(best_opener) :]
        if self._quoted(best_opener):
            self._emit_text(best_opener, out)
            return rest
        if best_opener == THINK_OPEN:
            self._lead_ws = ""
            self._mode = _THINK
            return rest
        self._markup = next(m for m in self._markups if m.opener == best_opener)
        self._hold(_MARKUP, "")
        return rest

    def _quoted(self, opener: str) -> bool:
        """Whether ``opener``, following the text given out, is only mentioned: right after a
        backtick, inside a code fence, or ``<think>`` in the middle of a line of the answer."""
        ctx = _advance(self._ctx, self._lead_ws)  # (held whitespace precedes the marker)
        if ctx.ticks or ctx.fenced:
            return True
        return opener == THINK_OPEN and ctx.visible and not ctx.line_blank

    def _partial_tail(self, s: str) -> int:
        """Index from which ``s`` ends with a proper prefix of some opener (else len(s))."""
        n = len(s)
        for i in range(max(0, n - 20), n):
            if s[i] in self._first_chars:
                frag = s[i:]
                if any(o.startswith(frag) and o != frag for o in self._openers):
                    return i
        return n

    def _think(self, s: str, out: list[Piece]) -> str:
        i = s.find(THINK_CLOSE)
        if i == -1:
            n = len(s)
            cut = n
            for j in range(max(0, n - len(THINK_CLOSE) + 1), n):
                if THINK_CLOSE.startswith(s[j:]):
                    cut = j
                    break
            if cut:
                out.append(("thinking", s[:cut]))
            self._carry = s[cut:]
            return ""
        if i:
            out.append(("thinking", s[:i]))
        self._mode = _TEXT
        self._at_start = bool(self._names)
        self._after_think = True
        return s[i + len(THINK_CLOSE) :]

    def _markup_body(self, s: str, out: list[Piece]) -> str:
        markup = self._markup
        assert markup is not None
        if not self._body_started:
            blank = len(s) - len(s.lstrip())
            if blank == len(s):
                self._held.append(s)  # nothing but whitespace yet: no closer can be in it
                return ""
            self._body_started = True
            if not markup.starts.match(s, blank):
                # the marker was only mentioned: give it back now, not at the end
                lead = "".join(self._held) + s[:blank]
                self._calls_or_text(None, markup.opener + lead, out)
                return s[blank:]
        if markup.closer is None:
            self._held.append(s)
            return ""
        end = self._find_closer(s, markup.closer)
        if end == -1:
            return ""
        body = ("".join(self._held) + s[:end])[: -len(markup.closer)]
        self._calls_or_text(
            markup.parse(body, self._names), markup.opener + body + markup.closer, out
        )
        return s[end:]

    def _fence_body(self, s: str, out: list[Piece]) -> str:
        end = self._find_closer(s, _FENCE_MARK)
        if end == -1:
            return ""
        raw = "".join(self._held) + s[:end]
        self._calls_or_text(parse_json_calls(raw, self._names), raw, out)
        return s[end:]

    def _json_body(self, s: str, out: list[Piece]) -> str:
        depth, in_str = self._depth, self._in_str
        skip = 1 if self._escape else 0
        self._escape = False
        end = -1
        for m in _JSON_SCAN.finditer(s, skip):
            i = m.start()
            if i < skip:
                continue
            c = m.group()
            if in_str:
                if c == "\\":
                    skip = i + 2
                    if skip > len(s):
                        self._escape = True
                elif c == '"':
                    in_str = False
            elif c == '"':
                in_str = True
            elif c == "{":
                depth += 1
            elif c == "}":
                depth -= 1
                if depth == 0:
                    end = i + 1
                    break
        self._depth, self._in_str = depth, in_str
        if end == -1:
            self._held.append(s)
            return ""
        raw = "".join(self._held) + s[:end]
        self._calls_or_text(parse_json_calls(raw, self._names), raw, out)
        return s[end:]
