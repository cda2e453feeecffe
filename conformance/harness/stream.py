"""The strict SSE reader and what a chat-completions stream says (:class:`StreamSummary`).

This is deliberately not ``any_agent/_wire/sse.py``. The SDK's decoder is incremental and
forgiving: it is fed chunks as they arrive, skips comments, tolerates a missing ``[DONE]``
and keeps only what a client needs. A check must judge the server, so this reader works on a
whole recorded body and keeps what the SDK throws away: comment lines, stray lines, repeated
fields, the arrival time of every event, whether ``[DONE]`` came and what followed it. Sharing
one parser would make the suite certify the SDK's leniency instead of the server's bytes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson

__all__ = [
    "FINISH_REASONS",
    "SSEEvent",
    "StreamSummary",
    "ToolCallAcc",
    "parse_sse",
    "summarize_stream",
]

FINISH_REASONS = frozenset({"stop", "length", "tool_calls", "content_filter", "function_call"})
#: Nesting a server's JSON may have. Deeper documents read as not JSON: Python's repr and
#: json.dumps recurse (about 1000 levels) and orjson.dumps stops at 254, so a check quoting a
#: value nested past that would crash; no real reply nests past a dozen levels.
MAX_JSON_DEPTH = 128
#: Events :func:`parse_sse` reads from one body: a judged stream has a few hundred, and each
#: event costs a few hundred bytes of objects, so 16 MiB of tiny events would cost gigabytes.
MAX_SSE_EVENTS = 65536


def too_deep(value: Any, limit: int = MAX_JSON_DEPTH) -> bool:
    """Whether a parsed JSON value nests deeper than ``limit`` (iterative: no recursion)."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        children = node.values() if isinstance(node, dict) else node
        for child in children:
            if isinstance(child, (dict, list)):
                if depth >= limit:
                    return True
                stack.append((child, depth + 1))
    return False


def loads_bounded(raw: bytes | str) -> Any:
    """``orjson.loads``, or None for text that is not JSON or nests past MAX_JSON_DEPTH."""
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None
    if isinstance(value, (dict, list)) and too_deep(value):
        return None
    return value


@dataclass(slots=True)
class SSEEvent:
    """One SSE event (lines up to a blank line), with everything a strict reader sees."""

    t: float  # seconds since the request was sent (0 in replay)
    data: str | None  # joined data lines, or None when the event had no data line
    comments: list[str] = field(default_factory=list)
    fields: list[str] = field(default_factory=list)  # event:/id:/retry: lines
    stray: list[str] = field(default_factory=list)  # lines that are no SSE field at all
    bare_cr: int = 0  # lines holding a bare CR (a line end LF-splitting readers miss)
    bad_utf8: int = 0  # lines that are not UTF-8 (read with U+FFFD replacements)
    #: Set on a last, empty event: the body held more than MAX_SSE_EVENTS and was not read on.
    cut: bool = False

    @property
    def event(self) -> str | None:
        """The event's name from its last ``event:`` line (Anthropic and Responses streams)."""
        for line in reversed(self.fields):
            name, _, value = line.partition(":")
            if name == "event":
                return value[1:] if value.startswith(" ") else value
        return None

    @property
    def is_done(self) -> bool:
        return self.data is not None and self.data.strip() == "[DONE]"

    def json(self) -> Any:
        if self.data is None or self.is_done:
            return None
        return loads_bounded(self.data)


def parse_sse(body: bytes, chunk_times: list[tuple[float, int]] | None = None) -> list[SSEEvent]:
    """Split a whole SSE body into events. ``chunk_times`` ``[(t, nbytes)]`` dates each event.

    Lines end with LF or CRLF. A blank line ends an event. A trailing event without its blank
    line still counts (a server that closed early).
    """
    ends: list[tuple[int, float]] = []
    pos = 0
    for t, n in chunk_times or ():
        pos += n
        ends.append((pos, t))

    # events are dated in body order, so one cursor over the chunk ends keeps this linear
    cursor = 0

    def time_at(offset: int) -> float:
        nonlocal cursor
        while cursor < len(ends) and offset >= ends[cursor][0]:
            cursor += 1
        if cursor < len(ends):
            return ends[cursor][1]
        return ends[-1][1] if ends else 0.0

    events: list[SSEEvent] = []
    cur = SSEEvent(t=0.0, data=None)
    data_lines: list[str] = []
    has_content = False
    offset = 0
    last = False
    # one line at a time (no list of every line): a body of tiny events is many objects
    while not last:
        if len(events) >= MAX_SSE_EVENTS:
            events.append(SSEEvent(t=time_at(offset), data=None, cut=True))
            break
        nl = body.find(b"\n", offset)
        last = nl == -1
        raw = body[offset:] if last else body[offset:nl]
        line_bytes = raw[:-1] if raw.endswith(b"\r") else raw
        try:
            line = line_bytes.decode("utf-8")
        except UnicodeDecodeError:
            line = line_bytes.decode("utf-8", errors="replace")
            cur.bad_utf8 += 1
        if "\r" in line:
            # SSE allows a bare CR as a line end; this reader splits on LF only, so it counts
            # them: a reader then names the cause, not only the mangled line it sees
            cur.bare_cr += 1
        line_end = offset + len(raw)
        offset = line_end + 1
        if not line:
            if has_content:
                cur.data = "\n".join(data_lines) if data_lines else None
                cur.t = time_at(line_end)
                events.append(cur)
            cur = SSEEvent(t=0.0, data=None)
            data_lines = []
            has_content = False
            continue
        has_content = True
        if line.startswith(":"):
            cur.comments.append(line[1:].strip())
        elif line.startswith("data:"):
            value = line[5:]
            data_lines.append(value[1:] if value.startswith(" ") else value)
        elif line.split(":", 1)[0] in ("event", "id", "retry"):
            cur.fields.append(line)
        else:
            cur.stray.append(line)
        if last and has_content:
            cur.data = "\n".join(data_lines) if data_lines else None
            cur.t = time_at(line_end)
            events.append(cur)
    return events


def _str_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) else None


@dataclass(slots=True)
class ToolCallAcc:
    index: int
    id: str | None = None
    type: str | None = None
    name: str = ""
    arguments: str = ""
    fragments: int = 0
    first_fragment: dict[str, Any] = field(default_factory=dict)
    repeated_id: int = 0
    repeated_name: int = 0
    repeated_type: int = 0
    had_arguments_key: bool = False


@dataclass(slots=True)
class StreamSummary:
    """What a strict reader reconstructs from a chat-completions stream (choice 0 unless noted)."""

    events: list[SSEEvent]
    chunks: list[dict[str, Any]]
    problems: list[str]  # framing problems (non-JSON data, stray lines)
    done_count: int
    done_last: bool
    content: str
    reasoning: str
    reasoning_fields: set[str]
    roles: list[Any]  # every `role` value seen in deltas, in order (choice 0)
    first_choice_chunk_role: Any
    finish_reasons: dict[int, list[str]]
    content_after_finish: bool
    tool_calls: dict[int, ToolCallAcc]
    tool_items_without_index: int
    usage_chunks: list[dict[str, Any]]
    error_events: list[Any]
    null_fields: list[str]
    ids: set[str]
    created: set[Any]
    comments: int
    content_deltas: list[str]

    @property
    def finish_reason(self) -> str | None:
        reasons = self.finish_reasons.get(0) or []
        return reasons[-1] if reasons else None

    def tool_list(self) -> list[ToolCallAcc]:
        return [self.tool_calls[i] for i in sorted(self.tool_calls)]


def summarize_stream(events: list[SSEEvent]) -> StreamSummary:
    chunks: list[dict[str, Any]] = []
    problems: list[str] = []
    done_count = 0
    done_last = False
    content: list[str] = []
    content_deltas: list[str] = []
    reasoning: list[str] = []
    reasoning_fields: set[str] = set()
    roles: list[Any] = []
    first_role: Any = ...
    finish: dict[int, list[str]] = {}
    content_after_finish = False
    tools: dict[int, ToolCallAcc] = {}
    no_index = 0
    usage_chunks: list[dict[str, Any]] = []
    errors: list[Any] = []
    nulls: list[str] = []
    ids: set[str] = set()
    created: set[Any] = set()
    comments = 0
    last_data = max((n for n, e in enumerate(events) if e.data is not None), default=-1)
    for n, ev in enumerate(events):
        comments += len(ev.comments)
        for line in ev.stray:
            problems.append(f"line without an SSE field: {line[:80]!r}")
        if ev.bare_cr:
            problems.append("a bare CR ends a line (lines must end in LF or CRLF)")
        if ev.cut:
            problems.append(f"more than {MAX_SSE_EVENTS} events; the rest was not read")
        if ev.data is None:
            continue
        if ev.is_done:
            done_count += 1
            done_last = n >= last_data  # no data after it (one pass, not a rescan per event)
            continue
        obj = ev.json()
        if not isinstance(obj, dict):
            problems.append(f"data is not a JSON object: {ev.data[:80]!r}")
            continue
        if "error" in obj and "choices" not in obj:
            errors.append(obj["error"])
            continue
        chunks.append(obj)
        if isinstance(obj.get("id"), str):
            ids.add(obj["id"])
        stamp = obj.get("created")
        # kept in a set: an unhashable value is kept as its repr
        created.add(
            stamp if stamp is None or isinstance(stamp, (int, float, str)) else repr(stamp)[:80]
        )
        if isinstance(obj.get("usage"), dict):
            usage_chunks.append(obj)
        choices = obj.get("choices")
        if not isinstance(choices, list):
            continue
        for choice in choices:
            if not isinstance(choice, dict):
                continue
            idx = choice.get("index", 0)
            idx = idx if isinstance(idx, int) else 0
            delta = choice.get("delta") or {}
            if not isinstance(delta, dict):
                delta = {}
            if idx == 0:
                if first_role is ...:
                    first_role = delta.get("role")
                if "role" in delta:
                    roles.append(delta.get("role"))
            for key in ("role", "tool_calls", "reasoning_content", "reasoning", "function_call"):
                if key in delta and delta[key] is None:
                    nulls.append(f"delta.{key}")
            text = delta.get("content")
            if isinstance(text, str) and text and idx == 0:
                content.append(text)
                content_deltas.append(text)
                if finish.get(idx):
                    content_after_finish = True
            for key in ("reasoning_content", "reasoning"):
                val = delta.get(key)
                if isinstance(val, str) and val and idx == 0:
                    reasoning.append(val)
                    reasoning_fields.add(key)
            raw_calls = delta.get("tool_calls")
            for item in raw_calls if isinstance(raw_calls, list) else []:
                if not isinstance(item, dict) or idx != 0:
                    continue
                ti = item.get("index")
                if not isinstance(ti, int):
                    no_index += 1
                    ti = max(tools) if tools else 0
                acc = tools.get(ti)
                raw_fn = item.get("function")
                fn: dict[str, Any] = raw_fn if isinstance(raw_fn, dict) else {}
                for key in ("id", "type"):
                    if key in item and item[key] is None:
                        nulls.append(f"tool_calls[].{key}")
                if "name" in fn and fn["name"] is None:
                    nulls.append("tool_calls[].function.name")
                if acc is None:
                    acc = ToolCallAcc(index=ti, first_fragment=item)
                    tools[ti] = acc
                    # a non-string id, type or name is kept out: checks hash and format them
                    acc.id = _str_or_none(item.get("id"))
                    acc.type = _str_or_none(item.get("type"))
                    acc.name = _str_or_none(fn.get("name")) or ""
                    acc.had_arguments_key = "arguments" in fn
                else:
                    if item.get("id"):
                        acc.repeated_id += 1
                        acc.id = acc.id or _str_or_none(item["id"])
                    if item.get("type"):
                        acc.repeated_type += 1
                    if fn.get("name"):
                        acc.repeated_name += 1
                        acc.name = acc.name or _str_or_none(fn["name"]) or ""
                args = fn.get("arguments")
                if isinstance(args, str):
                    acc.arguments += args
                acc.fragments += 1
                if finish.get(idx):
                    content_after_finish = True
            fr = choice.get("finish_reason")
            if fr is not None:
                # a non-string reason is kept as its repr: checks look it up in sets
                finish.setdefault(idx, []).append(fr if isinstance(fr, str) else repr(fr)[:80])
    return StreamSummary(
        events=events,
        chunks=chunks,
        problems=problems,
        done_count=done_count,
        done_last=done_last,
        content="".join(content),
        reasoning="".join(reasoning),
        reasoning_fields=reasoning_fields,
        roles=roles,
        first_choice_chunk_role=None if first_role is ... else first_role,
        finish_reasons=finish,
        content_after_finish=content_after_finish,
        tool_calls=tools,
        tool_items_without_index=no_index,
        usage_chunks=usage_chunks,
        error_events=errors,
        null_fields=nulls,
        ids=ids,
        created=created,
        comments=comments,
        content_deltas=content_deltas,
    )
