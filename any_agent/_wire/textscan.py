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
_FENCE_MARK = "```"
#: Characters of a message the scanner may hold back by default (AgentOptions.max_held_text).
DEFAULT_MAX_HELD = 65_536
# Every pattern in this module matches one character, or is anchored and bounded: none can
# backtrack over a run of the (untrusted) text. Bodies are scanned by hand.
_NONSPACE = re.compile(r"\S")


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


def _unfence(body: str) -> str | None:
    """The inside of ```` ```json … ``` ```` (tag "" or "json" in any case, blanks around it
    on its line), or None when ``body`` is not one fence. Explicit scanning, no regex: a
    pattern with blank runs on both sides of a lazy body backtracks cubically on whitespace."""
    text = body.strip()
    if len(text) < 6 or not text.startswith(_FENCE_MARK) or not text.endswith(_FENCE_MARK):
        return None
    inner, i = text[3:-3], 0
    while i < len(inner) and inner[i] != "\n" and inner[i].isspace():
        i += 1
    if inner[i : i + 4].lower() == "json":
        i += 4
    return inner[i:].strip()


def parse_json_calls(body: str, names: frozenset[str]) -> list[LeakedCall] | None:
    """``{"name":..,"arguments":{..}}``, a list of those, or either inside a code fence."""
    fenced = _unfence(body)
    if fenced is not None:
        body = fenced
    value = _json_load(body.strip())
    if value is None:
        # several objects one after another (one per line)
        parts = [p for p in (s.strip() for s in body.strip().splitlines()) if p]
        values = [_json_load(p) for p in parts]
        if len(parts) < 2 or any(v is None for v in values):
            return None
        value = values
    return _calls_from_json(value, names)


_PARAM_OPEN = "<parameter="
_PARAM_CLOSE = "</parameter>"


def parse_xml_function(body: str, names: frozenset[str]) -> list[LeakedCall] | None:
    """Qwen3-Coder style: ``<function=name><parameter=x>value</parameter></function>``.

    After ``name>`` only whitespace and ``<parameter=..>`` elements may follow: prose that
    merely mentions ``<function=name>`` is not a call. Scanned by hand in one pass."""
    name, sep, rest = body.partition(">")
    name = name.strip()
    if not sep or name not in names:
        return None
    args: dict[str, Any] = {}
    pos = 0
    while (m := _NONSPACE.search(rest, pos)) is not None:
        i = m.start()
        if not rest.startswith(_PARAM_OPEN, i):
            return None
        k = i + len(_PARAM_OPEN)
        j = rest.find(">", k)
        key = rest[k:j] if j != -1 else ""
        if not key or any(c.isspace() for c in key):
            return None
        e = rest.find(_PARAM_CLOSE, j + 1)
        if e == -1:
            return None
        raw = rest[j + 1 : e].strip()
        parsed = _json_load(raw)
        args[key] = raw if parsed is None else parsed
        pos = e + len(_PARAM_CLOSE)
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


_NAME_FIRST = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz_")


def _mistral_head(part: str) -> tuple[str, int] | None:
    """``name[ARGS]`` or ``name[CALL_ID]abc123[ARGS]`` after optional blanks: (name, index
    after ``[ARGS]``). By hand, one pass."""
    n, i = len(part), 0
    while i < n and part[i].isspace():
        i += 1
    if i >= n or part[i] not in _NAME_FIRST:
        return None
    j = i + 1
    while j < n and (part[j].isalnum() or part[j] in "_.-"):
        j += 1
    k = j
    if part.startswith("[CALL_ID]", k):
        q = k = k + len("[CALL_ID]")
        while q < n and part[q].isascii() and part[q].isalnum():
            q += 1
        if q == k:
            return None
        k = q
    if not part.startswith("[ARGS]", k):
        return None
    return part[i:j], k + len("[ARGS]")


def parse_mistral(body: str, names: frozenset[str]) -> list[LeakedCall] | None:
    """After ``[TOOL_CALLS]``: a JSON list (v3 tokenizers) or ``name[ARGS]{...}`` (v11+),
    repeated with ``[TOOL_CALLS]`` between calls."""
    if "[ARGS]" not in body:
        return parse_json_calls(body, names)
    calls: list[LeakedCall] = []
    for part in body.split("[TOOL_CALLS]"):
        head = _mistral_head(part)
        if head is None or head[0] not in names:
            return None
        args = _json_load(part[head[1] :].strip())
        if not isinstance(args, dict):
            return None
        calls.append((head[0], args))
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
    #: a body that opens with ``{`` or ``[`` is JSON: a closer inside one of its strings
    #: (an argument that mentions the marker) is part of the call, not its end
    json_body: bool = False


_JSON_START = re.compile(r"[{\[]")
_NAME_OR_JSON = re.compile(r"[{\[A-Za-z_]")

MARKUPS: tuple[Markup, ...] = (
    Markup(
        "<tool_call>",
        "</tool_call>",
        parse_tool_call_body,
        "Hermes / Qwen2.5 / Qwen3 templates",
        re.compile(r"[{\[<]"),
        json_body=True,
    ),
    Markup(
        "[TOOL_REQUEST]",
        "[END_TOOL_REQUEST]",
        parse_json_calls,
        "LM Studio default format",
        _JSON_START,
        json_body=True,
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


_TEXT, _THINK, _MARKUP, _JSON, _FENCED, _FENCE_TAG = 0, 1, 2, 3, 4, 5
_JSON_SCAN = re.compile(r'["{}\\]')
_IN_STRING = re.compile(r'["\\\n]')  # what ends, escapes or breaks a JSON string
_TICKS = re.compile(r"`+")
_NOT_NEWLINE = re.compile(r"[^\r\n]")


class _Context(NamedTuple):
    """What the text given out so far says about a marker that follows it."""

    visible: bool = False  # some non-whitespace text
    line_blank: bool = True  # only spaces and tabs since the last newline
    ticks: int = 0  # backticks at the very end
    fenced: bool = False  # inside a fence of 3+ backticks
    indent: int = 0  # width of the blanks since the last newline (a tab counts 4)
    # A Markdown fence as CommonMark reads it, line by line: ``~~~`` fences, a ```` ```` ````
    # fence holding ```` ``` ```` lines, one closed by a longer run. Its character and
    # length while open, and how far the current line has been read as a fence line.
    fence_char: str = ""
    fence_len: int = 0
    line: tuple[int, str, int, bool, bool] = (0, "", 0, False, True)


# The current line, as a possible fence line: (phase, run character, run length, backtick
# after the run, only blanks after the run). Phases: container prefix (blanks, ``>``, list
# markers), the run of ``` ` ``` or ``~``, after the run, not a fence line.
_PREFIX, _RUN, _AFTER, _DEAD = 0, 1, 2, 3
_LINE_START = (_PREFIX, "", 0, False, True)
_LINE_DEAD = (_DEAD, "", 0, False, True)
_PREFIX_CHARS = " \t>-*+0123456789.)"


def _line_feed(
    state: tuple[int, str, int, bool, bool], seg: str
) -> tuple[int, str, int, bool, bool]:
    """``state`` after ``seg`` (no newline) of the current line; by string methods, linear."""
    phase, ch, run, tick, blank = state
    while seg and phase != _DEAD:
        if phase == _PREFIX:
            rest = seg.lstrip(_PREFIX_CHARS)
            if not rest:
                break
            if rest[0] not in "`~":
                return _LINE_DEAD
            phase, ch, seg = _RUN, rest[0], rest
        elif phase == _RUN:
            rest = seg.lstrip(ch)
            run += len(seg) - len(rest)
            if not rest:
                break
            if run < 3:
                return _LINE_DEAD
            phase, seg = _AFTER, rest
        else:
            tick = tick or "`" in seg
            blank = blank and not seg.strip()
            break
    return (phase, ch, run, tick, blank)


def _line_end(char: str, length: int, state: tuple[int, str, int, bool, bool]) -> tuple[str, int]:
    """The open fence after a line read as ``state`` ends."""
    phase, ch, run, tick, blank = state
    if phase not in (_RUN, _AFTER) or run < 3:
        return char, length
    if char:
        if ch == char and run >= length and blank:
            return "", 0  # a closing fence: the same character, at least as long, alone
        return char, length
    if ch == "~" or not tick:
        return ch, run
    return char, length


def _fences(ctx: _Context, text: str) -> tuple[str, int, tuple[int, str, int, bool, bool]]:
    """The fence state of ``ctx`` after ``text``."""
    char, length, line = ctx.fence_char, ctx.fence_len, ctx.line
    nl = text.find("\n")
    if nl == -1:
        return char, length, _line_feed(line, text)
    char, length = _line_end(char, length, _line_feed(line, text[:nl]))
    last = text.rfind("\n")
    if "`" in text or "~" in text:
        for seg in text[nl + 1 : last].split("\n") if last > nl else ():
            if "`" in seg or "~" in seg:
                char, length = _line_end(char, length, _line_feed(_LINE_START, seg))
    return char, length, _line_feed(_LINE_START, text[last + 1 :])


def _advance(ctx: _Context, text: str) -> _Context:
    """``ctx`` after ``text`` is given out; the same for any cutting of the text."""
    if not text:
        return ctx
    if (
        ctx.visible
        and not (ctx.line_blank or ctx.ticks)
        and ctx.line[0] == _DEAD
        and "\n" not in text
        and "`" not in text
    ):
        return ctx  # mid-line in the answer (the common case): nothing changes
    nl = text.rfind("\n")
    last = text[nl + 1 :]
    line_blank = (nl != -1 or ctx.line_blank) and not last.strip(" \t")
    indent = 0
    if line_blank:
        indent = len(last) + 3 * last.count("\t") + (0 if nl != -1 else ctx.indent)
    ticks, fenced = 0, ctx.fenced
    if "`" in text:
        for m in _TICKS.finditer(text):
            before = ctx.ticks if m.start() == 0 else 0
            after = before + m.end() - m.start()
            if before < 3 <= after:
                fenced = not fenced
            ticks = after if m.end() == len(text) else 0
    char, length, line = _fences(ctx, text)
    return _Context(
        ctx.visible or not text.isspace(), line_blank, ticks, fenced, indent, char, length, line
    )


def _merged(out: list[Piece]) -> list[Piece]:
    """Adjacent text (or reasoning) pieces joined once, not concatenated one by one."""
    if len(out) < 2:
        return out
    merged: list[Piece] = []
    run: list[str] = []
    kind = ""
    for k, v in out:
        if k == kind and k != "call":
            run.append(v)
            continue
        if run:
            merged.append((kind, "".join(run)))
            run = []
        kind = k
        if k == "call":
            merged.append((k, v))
        else:
            run.append(v)
    if run:
        merged.append((kind, "".join(run)))
    return merged


class TextScanner:
    """Incremental splitter of one message's ``content``.

    ``tool_names`` enables the leaked-call recognisers (only names that were offered are
    accepted; empty = no recovery). ``think_open`` starts inside reasoning, for chat templates
    that open the ``<think>`` tag themselves so only ``</think>`` reaches the stream.

    A call is taken only where chat templates put one: the whole message, or its trailing
    part from a line start after any prose. So a finished call is *held* until the message
    ends (or the server's own tool calls begin): text after it other than whitespace or
    another call makes it text again. A marker mid-line (after a quote, ``>``, a word), after
    a backtick, inside a code fence or indented four columns is quoted, and stays text.
    At most ``max_held`` characters are ever held back; past that they are given out as text.
    """

    def __init__(
        self,
        tool_names: frozenset[str] = frozenset(),
        *,
        think_open: bool = False,
        max_held: int = DEFAULT_MAX_HELD,
    ):
        self._names = tool_names
        self._markups = MARKUPS if tool_names else ()
        self._markup_of = {m.opener: m for m in self._markups}
        self._openers = [THINK_OPEN, *(m.opener for m in self._markups)]
        self._first_chars = "".join(sorted({o[0] for o in self._openers}))
        self._may_open = re.compile(f"[{re.escape(self._first_chars)}]").search
        self._finds: list[int] = []  # next index of each opener in the string being fed
        self._max_held = max_held
        self._mode = _THINK if think_open else _TEXT
        self._carry = ""  # a possible partial marker held from the previous chunk (short)
        self._lead_ws: list[str] = []  # whitespace held while a call could still begin
        self._lead_len = 0
        self._at_start = bool(tool_names)  # no visible text yet in this run of text
        self._after_think = False  # drop the newlines that follow </think>
        self._after_call = False  # the last piece given out was a call
        self._ctx = _Context()  # of the text given out, to judge markers
        self._markup: Markup | None = None
        self._body_started = False
        self._held: list[str] = []  # a markup / JSON / fenced call being held back
        self._held_len = 0
        self._tail = ""  # last few held chars, to find a closer split across chunks
        self._depth = 0
        self._in_str = False
        self._escape = False
        self._strings = False  # (markup, fence) closers inside JSON strings do not count
        self._tag = ""  # a fence's language tag so far, and whether blanks ended it
        self._tag_done = False
        # finished calls waiting for the end of the message (and JSON values written
        # between them, e.g. a result the model imagined), and their text with the
        # whitespace around them, given back as text if prose follows
        self._pending: list[Piece] = []
        self._pending_raw: list[str] = []
        self._pending_len = 0

    # -- public -----------------------------------------------------------------------------
    def feed(self, s: str) -> list[Piece]:
        if (
            self._mode == _TEXT
            and not (self._carry or self._at_start or self._after_think)
            and self._may_open(s) is None
        ):
            # the common case: mid-answer, nothing held, no marker can start in this piece
            out: list[Piece] = []
            self._emit_text(s, out)
            return out
        out = []
        if self._carry:
            s = self._carry + s
            self._carry = ""
        self._finds = [-2] * len(self._openers)
        pos, n = 0, len(s)
        while pos < n:
            mode = self._mode
            if mode == _TEXT:
                pos = self._text(s, pos, out)
            elif mode == _THINK:
                pos = self._think(s, pos, out)
            elif mode == _MARKUP:
                pos = self._markup_body(s, pos, out)
            elif mode == _JSON:
                pos = self._json_body(s, pos, out)
            elif mode == _FENCED:
                pos = self._fence_body(s, pos, out)
            else:
                pos = self._fence_tag(s, pos, out)
        return _merged(out)

    def close(self, *, cut: bool = False) -> list[Piece]:
        """End of the message: flush whatever is held, resolving open calls or giving text.
        ``cut``: the model was stopped (``max_tokens``, a content filter), so what it would
        have written after a held call is unknown: calls after prose ("Like this:") are given
        back as text. A call that is the whole message stays one (small models write a call,
        then blank lines until the limit)."""
        out: list[Piece] = []
        carry, self._carry = self._carry, ""
        mode, self._mode = self._mode, _TEXT
        if mode == _THINK:
            if carry:
                out.append(("thinking", carry))
        elif mode == _TEXT:
            if carry:
                self._emit_text(carry, out)
        else:
            body = "".join(self._held) + carry
            self._held = []
            self._held_len = 0
            calls: list[LeakedCall] | None = None
            if mode == _MARKUP:
                assert self._markup is not None
                calls = self._markup.parse(body, self._names)
                body = self._markup.opener + body
            elif mode != _FENCE_TAG:
                calls = parse_json_calls(body, self._names)
            untrusted = cut and self._ctx.visible
            self._calls_or_text(None if untrusted else calls, body, out)
        if self._pending and cut and self._ctx.visible:
            self._emit_text("", out, flush_ws=True)
        if self._pending:
            for kind, value in self._pending:
                if kind == "call":
                    out.append((kind, value))
                    self._after_call = True
                else:
                    self._ctx = _advance(self._ctx, value)
                    out.append((kind, value))
            self._clear_pending()
            self._after_call = True
            self._clear_lead()  # whitespace after the last call is not an answer
        elif self._after_call:
            self._clear_lead()  # (only whitespace is ever held there)
        else:
            self._emit_text("", out, flush_ws=True)
        return _merged(out)

    @property
    def holding(self) -> bool:
        """Whether text is held back that :meth:`flush` would give out or drop."""
        return bool(self._carry or self._lead_ws or self._pending) or self._mode > _THINK

    def flush(self) -> list[Piece]:
        """The server's own tool calls are starting: give back what is held now, so blocks
        keep their order (held calls count: the text ends here). Whitespace held before them
        is dropped; reasoning stays open."""
        self._clear_lead()
        if self._mode == _THINK or (self._mode == _TEXT and not self._carry and not self._pending):
            return []
        return self.close()

    # -- helpers ----------------------------------------------------------------------------
    def _clear_lead(self) -> None:
        self._lead_ws = []
        self._lead_len = 0

    def _clear_pending(self) -> None:
        self._pending = []
        self._pending_raw = []
        self._pending_len = 0

    def _room(self) -> int:
        """How many more characters may be held back."""
        return self._max_held - self._held_len - self._lead_len - self._pending_len

    def _emit_text(self, text: str, out: list[Piece], *, flush_ws: bool = False) -> None:
        """Give out ``text``; held calls and whitespace before it go out first, as text."""
        if self._lead_ws and (text or flush_ws):
            text = "".join(self._lead_ws) + text
            self._clear_lead()
        if self._pending and (text or flush_ws):
            text = "".join(self._pending_raw) + text
            self._clear_pending()
        if not text:
            return
        self._after_call = False
        self._ctx = _advance(self._ctx, text)
        out.append(("text", text))

    def _hold_ws(self, ws: str, out: list[Piece]) -> None:
        """Whitespace where a call could still begin: held, unless that exceeds the bound."""
        if len(ws) > self._room():
            self._emit_text(ws, out)  # (everything held goes out with it, in order)
            return
        self._lead_ws.append(ws)
        self._lead_len += len(ws)

    def _take(self, piece: str) -> None:
        self._held.append(piece)
        self._held_len += len(piece)

    def _hold(self, mode: int, first: str) -> None:
        self._mode = mode
        self._body_started = False  # (markup mode) a non-blank character has arrived
        self._held = [first] if first else []
        self._held_len = len(first)
        self._tail = ""
        self._depth = 0
        self._in_str = self._escape = self._strings = False
        self._tag = ""
        self._tag_done = False

    def _give_back(self, out: list[Piece]) -> None:
        """Give the call being held back as text (it could not be one, or grew too long)."""
        raw = "".join(self._held)
        if self._mode == _MARKUP:
            assert self._markup is not None
            raw = self._markup.opener + raw
        self._calls_or_text(None, raw, out)

    def _calls_or_text(
        self,
        calls: list[LeakedCall] | None,
        raw: str,
        out: list[Piece],
        *,
        inert: bool = False,
    ) -> None:
        """A held body is finished: calls are held on (see :class:`TextScanner`), anything
        else is text. ``inert``: a JSON value, not a call, that may sit between held calls
        (where it stays text) without making them prose."""
        self._mode = _TEXT
        self._held = []
        self._held_len = 0
        self._tail = ""
        inert = inert and any(kind == "call" for kind, _ in self._pending)
        if (calls or inert) and len(raw) <= self._max_held:
            # held until the message ends: a call followed by prose is only quoted
            lead = "".join(self._lead_ws)
            self._clear_lead()
            if calls:
                self._pending.extend(("call", c) for c in calls)
            else:
                self._pending.append(("text", lead + raw))
            self._pending_raw.append(lead + raw)
            self._pending_len += len(lead) + len(raw)
            self._at_start = True
            if self._pending_len > self._max_held:
                self._emit_text("", out, flush_ws=True)
                self._at_start = False
        else:
            self._at_start = False
            self._emit_text(raw, out)

    def _find_closer(self, s: str, pos: int, closer: str) -> int:
        """Index in ``s`` just past ``closer`` (which may start in the held tail) within the
        room left to hold, or -1 with ``s[pos:]`` held (or -2 when that exceeds the bound,
        nothing held). While ``_strings`` is on, a closer inside a JSON string is skipped."""
        room = self._room()
        k = len(closer) - 1
        limit = pos + room
        if self._tail and not (self._strings and (self._in_str or self._escape)):
            window = self._tail + s[pos : pos + min(k, room)]
            i = window.find(closer)
            # (a closer wholly in ``s`` may follow a quote there: the scan below decides it)
            if i != -1 and (not self._strings or i < len(self._tail)):
                return pos + i + len(closer) - len(self._tail)
        if self._strings:
            i = self._closer_outside_strings(s, pos, min(limit, len(s)), closer)
        else:
            i = s.find(closer, pos, limit)
        if i != -1:
            return i + len(closer)
        if len(s) > limit:
            return -2
        self._take(s[pos:])
        window = self._tail + s[pos:]
        self._tail = window[-k:] if k else ""
        return -1

    def _closer_outside_strings(self, s: str, pos: int, end: int, closer: str) -> int:
        """Index of the first ``closer`` in ``s[pos:end]`` outside a JSON string, or -1; the
        string state carries over to the next piece. One pass: each search starts past the
        previous one's result. A raw newline inside a string means the body is not JSON
        (JSON escapes it), and from there every closer counts, as in plain text."""
        i = pos
        if self._escape:
            self._escape = False
            i += 1
        found = -2  # the next closer at or after ``i``, once searched (-1: none left)
        while i < end:
            if self._in_str:
                m = _IN_STRING.search(s, i, end)
                if m is None:
                    return -1
                j = m.start()
                c = s[j]
                if c == '"':
                    self._in_str = False
                    i = j + 1
                elif c == "\\":
                    if j + 1 >= end:
                        self._escape = True
                        return -1
                    i = j + 2
                else:
                    self._in_str = self._strings = False
                    return s.find(closer, j, end)
                continue
            if found == -2 or (found != -1 and found < i):
                found = s.find(closer, i, end)
            quote = s.find('"', i, found if found != -1 else end)
            if quote == -1:
                return found
            self._in_str = True
            i = quote + 1
        return -1

    # -- modes ------------------------------------------------------------------------------
    def _text(self, s: str, pos: int, out: list[Piece]) -> int:
        n = len(s)
        if self._after_think:
            m = _NOT_NEWLINE.search(s, pos)
            if m is None:
                return n
            pos = m.start()
            self._after_think = False
        if self._at_start:
            m = _NONSPACE.search(s, pos)
            if m is None:
                self._hold_ws(s[pos:], out)
                return n
            i = m.start()
            if i > pos:
                self._hold_ws(s[pos:i], out)
            pos = i
            c = s[i]
            if c == "{":
                self._hold(_JSON, "")
                return pos
            if c == "`":
                ticks = 1
                while ticks < 3 and i + ticks < n and s[i + ticks] == "`":
                    ticks += 1
                if ticks == 3:
                    self._hold(_FENCE_TAG, _FENCE_MARK)
                    return i + 3
                if i + ticks == n:
                    self._carry = s[i:]  # "`" or "``": maybe the start of a fence
                    return n
            self._at_start = False
        if pos == 0 and self._may_open(s) is None:
            self._emit_text(s, out)  # no tag can start in this piece
            return n
        best, opener = self._next_opener(s, pos)
        if best == -1:
            cut = self._partial_tail(s, pos)
            if cut > pos:
                self._emit_text(s[pos:cut], out)
            self._carry = s[cut:]
            return n
        if best > pos:
            self._emit_text(s[pos:best], out)
        end = best + len(opener)
        if self._quoted(opener):
            self._emit_text(opener, out)
            return end
        if opener == THINK_OPEN:
            if self._pending:
                self._emit_text("", out, flush_ws=True)  # reasoning after a call: prose
            self._clear_lead()
            self._mode = _THINK
            return end
        self._markup = self._markup_of[opener]
        self._hold(_MARKUP, "")
        return end

    def _next_opener(self, s: str, pos: int) -> tuple[int, str]:
        """The first opener at or after ``pos``. Each opener's last position is kept, so a
        piece with thousands of markers is searched once per opener, not once per marker."""
        finds = self._finds
        best, found = -1, ""
        for k, opener in enumerate(self._openers):
            i = finds[k]
            if i == -2 or (i != -1 and i < pos):
                i = finds[k] = s.find(opener, pos)
            if i != -1 and (best == -1 or i < best):
                best, found = i, opener
        return best, found

    def _quoted(self, opener: str) -> bool:
        """Whether ``opener``, following the text given out, is only mentioned: right after a
        backtick, inside a code fence, ``<think>`` in the middle of a line of the answer, or
        a call marker anywhere but a line start (blanks of at most three columns before it:
        four make a Markdown code block)."""
        ctx = self._ctx
        if self._lead_ws:
            ctx = _advance(ctx, "".join(self._lead_ws))  # (held whitespace precedes it)
        if ctx.ticks or ctx.fenced or ctx.fence_char:
            return True
        if opener == THINK_OPEN:
            return ctx.visible and not ctx.line_blank
        return not ctx.line_blank or ctx.indent > 3

    def _partial_tail(self, s: str, pos: int) -> int:
        """Index from which ``s`` ends with a proper prefix of some opener (else len(s))."""
        n = len(s)
        for i in range(max(pos, n - 20), n):
            if s[i] in self._first_chars:
                frag = s[i:]
                if any(o.startswith(frag) and o != frag for o in self._openers):
                    return i
        return n

    def _think(self, s: str, pos: int, out: list[Piece]) -> int:
        i = s.find(THINK_CLOSE, pos)
        n = len(s)
        if i == -1:
            cut = n
            for j in range(max(pos, n - len(THINK_CLOSE) + 1), n):
                if THINK_CLOSE.startswith(s[j:]):
                    cut = j
                    break
            if cut > pos:
                out.append(("thinking", s[pos:cut]))
            self._carry = s[cut:]
            return n
        if i > pos:
            out.append(("thinking", s[pos:i]))
        self._mode = _TEXT
        self._at_start = bool(self._names)
        self._after_think = True
        return i + len(THINK_CLOSE)

    def _markup_body(self, s: str, pos: int, out: list[Piece]) -> int:
        markup = self._markup
        assert markup is not None
        n = len(s)
        if not self._body_started:
            m = _NONSPACE.search(s, pos)
            if m is None:
                if n - pos > self._room():
                    self._give_back(out)
                    return pos
                self._take(s[pos:])  # nothing but whitespace yet: no closer can be in it
                return n
            blank = m.start()
            self._body_started = True
            self._strings = markup.json_body and s[blank] in "{["
            if not markup.starts.match(s, blank):
                # the marker was only mentioned: give it back now, not at the end
                self._take(s[pos:blank])
                self._give_back(out)
                return blank
        if markup.closer is None:
            room = max(self._room(), 0)
            if n - pos > room:
                self._take(s[pos : pos + room])
                self._give_back(out)
                return pos + room
            self._take(s[pos:])
            return n
        end = self._find_closer(s, pos, markup.closer)
        if end == -1:
            return n
        if end == -2:
            return self._overflow(s, pos, out)
        body = ("".join(self._held) + s[pos:end])[: -len(markup.closer)]
        self._calls_or_text(
            markup.parse(body, self._names), markup.opener + body + markup.closer, out
        )
        return end

    def _overflow(self, s: str, pos: int, out: list[Piece]) -> int:
        """The held call would exceed ``max_held``: what fits is given back as text, and the
        rest of ``s`` is read as text from there."""
        room = max(self._room(), 0)
        self._take(s[pos : pos + room])
        self._give_back(out)
        return pos + room

    def _fence_tag(self, s: str, pos: int, out: list[Piece]) -> int:
        """After an opening ```` ``` ````: the language tag must be "" or "json" (any case,
        blanks around it) for the fence to hold a call; decided the same however split."""
        nl = s.find("\n", pos)
        seg = s[pos : nl if nl != -1 else len(s)]
        if len(seg) > self._room() or not self._tag_ok(seg):
            self._give_back(out)  # a fence of something else (or far too long): text
            return pos
        self._take(seg)
        if nl == -1:
            return len(s)
        if self._tag.lower() not in ("", "json"):
            self._give_back(out)
            return nl
        self._mode = _FENCED
        self._strings = True  # a fence of JSON: a ``` inside one of its strings is text
        return nl

    def _tag_ok(self, seg: str) -> bool:
        text = seg.strip()
        if not text:
            if self._tag:
                self._tag_done = True
            return True
        if self._tag_done or (self._tag and seg[0].isspace()):
            return False
        tag = self._tag + text
        if len(tag) > 4 or not "json".startswith(tag.lower()):
            return False
        self._tag = tag
        self._tag_done = seg[-1].isspace()
        return True

    def _fence_body(self, s: str, pos: int, out: list[Piece]) -> int:
        end = self._find_closer(s, pos, _FENCE_MARK)
        if end == -1:
            return len(s)
        if end == -2:
            return self._overflow(s, pos, out)
        raw = "".join(self._held) + s[pos:end]
        self._calls_or_text(parse_json_calls(raw, self._names), raw, out)
        return end

    def _json_body(self, s: str, pos: int, out: list[Piece]) -> int:
        depth, in_str = self._depth, self._in_str
        skip = pos + 1 if self._escape else pos
        self._escape = False
        room = self._room()
        limit = min(len(s), pos + max(room, 0))
        end = -1
        for m in _JSON_SCAN.finditer(s, skip, limit):
            i = m.start()
            if i < skip:
                continue
            c = m.group()
            if in_str:
                if c == "\\":
                    skip = i + 2
                    if skip > limit:
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
            if limit < len(s):
                return self._overflow(s, pos, out)
            self._take(s[pos:])
            return len(s)
        raw = "".join(self._held) + s[pos:end]
        calls = parse_json_calls(raw, self._names)
        # one value right after each call (its imagined result, as recorded streams show);
        # a second one in a row, or anything else, is prose and makes the calls text
        inert = (
            calls is None
            and bool(self._pending)
            and self._pending[-1][0] == "call"
            and _json_load(raw) is not None
        )
        self._calls_or_text(calls, raw, out, inert=inert)
        return end
