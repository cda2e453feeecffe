"""Split streamed ``content`` into visible text, reasoning, and tool calls leaked as text.

Pure and incremental: ``feed(str)`` returns pieces, holding back only what might still turn
out to be a tag (``<thi`` at the end of a chunk) or a tool call being written as text.

Recognisers are data (:data:`MARKUPS`): an opening marker, a closing marker (``None`` =
until the end of the message), and a parser returning ``[(name, arguments), ...]`` or
``None``. A call is accepted only when it names a tool that was offered; anything that does
not parse is given back as text, never dropped.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

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
        fn: dict[str, Any] = inner if isinstance(inner, dict) else item
        name = fn.get("name")
        args = fn.get("arguments", fn.get("parameters", {}))
        if name not in names or not isinstance(args, (dict, str)):
            return None
        if len(fn.keys() - {"name", "arguments", "parameters", "id", "type", "function"}) > 0:
            return None
        calls.append((name, args))
    return calls or None


_FENCE_RE = re.compile(r"^\s*```(?:json)?\s*(.*?)\s*```\s*$", re.DOTALL)


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


_PARAM = re.compile(r"<parameter=([^>\s]+)>\s*(.*?)\s*</parameter>", re.DOTALL)


def parse_xml_function(body: str, names: frozenset[str]) -> list[LeakedCall] | None:
    """Qwen3-Coder style: ``<function=name><parameter=x>value</parameter></function>``."""
    name, sep, rest = body.partition(">")
    name = name.strip()
    if not sep or name not in names:
        return None
    args: dict[str, Any] = {}
    for key, raw in _PARAM.findall(rest):
        parsed = _json_load(raw)
        args[key] = raw if parsed is None else parsed
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


_PY_CALL = re.compile(r"([A-Za-z_][\w.-]*)\((.*?)\)(?:\s*,\s*|\s*$)", re.DOTALL)
_PY_ARG = re.compile(r"(\w+)\s*=\s*(\"(?:[^\"\\]|\\.)*\"|'(?:[^'\\]|\\.)*'|[^,]+)")


def parse_pythonic(body: str, names: frozenset[str]) -> list[LeakedCall] | None:
    """LFM2 / Llama pythonic style: ``[get_weather(city="Paris"), f(x=1)]``."""
    body = body.strip()
    if body.startswith("[") and body.endswith("]"):
        body = body[1:-1]
    calls: list[LeakedCall] = []
    for name, arg_text in _PY_CALL.findall(body):
        if name not in names:
            return None
        args: dict[str, Any] = {}
        for key, raw in _PY_ARG.findall(arg_text):
            raw = raw.strip()
            if raw[:1] == "'" and raw[-1:] == "'":
                raw = '"' + raw[1:-1].replace('"', '\\"') + '"'
            parsed = _json_load(raw)
            if parsed is None:
                parsed = {"True": True, "False": False, "None": None}.get(raw, raw)
            args[key] = parsed
        calls.append((name, args))
    return calls or None


@dataclass(frozen=True, slots=True)
class Markup:
    """One family of tool calls written as text. ``source`` names who emits it."""

    opener: str
    closer: str | None
    parse: Callable[[str, frozenset[str]], list[LeakedCall] | None]
    source: str


MARKUPS: tuple[Markup, ...] = (
    Markup(
        "<tool_call>", "</tool_call>", parse_tool_call_body, "Hermes / Qwen2.5 / Qwen3 templates"
    ),
    Markup("[TOOL_REQUEST]", "[END_TOOL_REQUEST]", parse_json_calls, "LM Studio default format"),
    Markup("[TOOL_CALLS]", None, parse_mistral, "Mistral templates"),
    Markup("<|python_tag|>", None, parse_json_calls, "Llama 3.x JSON tool calls"),
    Markup("<|tool_call_start|>", "<|tool_call_end|>", parse_pythonic, "LFM2 pythonic calls"),
    Markup("<function=", "</function>", parse_xml_function, "Qwen3-Coder XML calls"),
)

_TEXT, _THINK, _MARKUP, _JSON, _FENCED = 0, 1, 2, 3, 4
_JSON_SCAN = re.compile(r'["{}\\]')
_FENCE_MARK = "```"


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
        self._markup: Markup | None = None
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
        if out and out[-1][0] == "text":
            out[-1] = ("text", out[-1][1] + text)
        else:
            out.append(("text", text))

    def _hold(self, mode: int, first: str) -> None:
        self._mode = mode
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
                if nl == -1 and len(stripped) < 12:
                    self._carry = s  # the fence's language tag is not complete yet
                    return ""
                tag = stripped[3 : nl if nl != -1 else len(stripped)].strip().lower()
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
        if best_opener == THINK_OPEN:
            self._lead_ws = ""
            self._mode = _THINK
            return rest
        self._markup = next(m for m in self._markups if m.opener == best_opener)
        self._hold(_MARKUP, "")
        return rest

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
