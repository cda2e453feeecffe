"""Normalise a chat-completions stream into events and content blocks. Pure: bytes in.

``StreamDecoder.feed(bytes)`` returns typed events (:data:`Event`: :class:`TextDelta`,
:class:`ThinkingDelta`, :class:`ToolStart`, :class:`ToolArgsDelta`, :class:`ToolDone`, each
with a ``kind`` equal to the :class:`~any_agent.types.StreamEvent` ``type`` it becomes) as
they become known; ``close()`` finishes the turn and :meth:`StreamDecoder.result` gives the
blocks, finish reason, usage and any stream failure. Every server shape documented in
``docs/provider-compatibility.md`` comes out the same way:

* tool-call fragments keyed by ``index``; ``id``/``name``/``type`` taken once even when a
  server repeats them on every fragment; no ``index`` → keyed by ``id`` or position;
  whole calls per chunk or inside the finish chunk; ``arguments`` as an object; empty
  arguments → ``{}``; missing, empty or duplicate ids replaced by stable generated ones;
  a new id and name on a used index is a new call (LiteLLM forces missing indexes to 0);
  a fragment resending the whole arguments (LiteLLM's summary chunk) is dropped;
* reasoning from ``reasoning_content`` / ``reasoning`` fields or ``<think>`` tags, and a
  leading text block ended by a bare ``</think>`` line (templates that open the tag);
* tool calls leaked into ``content`` as text (see :mod:`.textscan`), kept in order with
  the server's own calls;
* ``null`` and absent alike, usage on any chunk, ``error`` objects in the stream (object,
  string, flat, TGI ``error_type``, legacy ``error:`` lines), invalid UTF-8 replaced, and a
  stream that stops before its finish reported as truncated.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any, ClassVar, Literal

import orjson

from ..errors import LimitExceededError
from ..types import ContentBlock, TextBlock, ThinkingBlock, ToolUseBlock, ToolUseError, Usage
from . import jsontext
from .error_body import error_message, shown
from .shortcut import ARGUMENTS, CONTENT, Template, between, slot_of, template_for
from .sse import SSEDecoder
from .textscan import DEFAULT_MAX_HELD, THINK_CLOSE, THINK_OPEN, TextScanner

__all__ = [
    "Event",
    "StreamDecoder",
    "StreamFailure",
    "TextDelta",
    "ThinkingDelta",
    "ToolArgsDelta",
    "ToolDone",
    "ToolStart",
    "TurnResult",
]


# The events are built once per string the stream carries, so they are the cheapest typed form
# measured (Python 3.11, ns per construction): a slotted dataclass 106-112, a NamedTuple made
# with tuple.__new__ 116-143 (its own __new__ 207), a frozen dataclass 443, a bare tuple 27.
# Not frozen for that reason; nothing changes them after they are made. ``index`` numbers the
# call within the turn (a NamedTuple could not name a field ``index``, tuple's method).
@dataclass(slots=True)
class TextDelta:
    """Answer text, as it arrives."""

    text: str
    kind: ClassVar[Literal["text_delta"]] = "text_delta"


@dataclass(slots=True)
class ThinkingDelta:
    """Reasoning text, as it arrives."""

    text: str
    kind: ClassVar[Literal["thinking_delta"]] = "thinking_delta"


@dataclass(slots=True)
class ToolStart:
    """A tool call's name is known (``id`` is ``""`` until the server sends one)."""

    index: int
    id: str
    name: str
    kind: ClassVar[Literal["tool_use_start"]] = "tool_use_start"


@dataclass(slots=True)
class ToolArgsDelta:
    """A fragment of a tool call's arguments (JSON text)."""

    index: int
    fragment: str
    kind: ClassVar[Literal["tool_input_delta"]] = "tool_input_delta"


@dataclass(slots=True)
class ToolDone:
    """A tool call finalised by ``close()``: its block, or why it cannot be run."""

    index: int
    block: ToolUseBlock | ToolUseError
    kind: ClassVar[Literal["tool_use_stop"]] = "tool_use_stop"


Event = TextDelta | ThinkingDelta | ToolStart | ToolArgsDelta | ToolDone

_FINISH = {
    "stop": "stop",
    "eos": "stop",
    "eos_token": "stop",
    "stop_sequence": "stop",
    "end_turn": "stop",
    "length": "length",
    "max_tokens": "length",
    "model_length": "length",
    "tool_calls": "tool_calls",
    "function_call": "tool_calls",
    "tool_use": "tool_calls",
    "content_filter": "content_filter",
    "abort": "error",
    "error": "error",
}


@dataclass(slots=True)
class StreamFailure:
    """Why a stream did not complete: an error event, a malformed event, or truncation."""

    message: str
    kind: str  # "error_event" | "malformed" | "truncated" | "limit"
    error_type: str | None = None
    code: str | int | None = None
    option: str | None = None  # kind "limit": the AgentOptions field, its value, and what
    limit: int | None = None  # broke it
    subject: str | None = None
    body: str = ""  # kind "error_event": the event's payload as text (cut)


@dataclass(slots=True)
class TurnResult:
    blocks: list[ContentBlock]
    finish_reason: str | None
    usage: Usage
    model: str
    failure: StreamFailure | None
    done_seen: bool
    events_seen: int


class _Call:
    __slots__ = (
        "id",
        "loose",
        "name",
        "nchars",
        "nparts",
        "obj",
        "over",
        "parts",
        "position",
        "recovered",
        "started",
    )

    def __init__(self, position: int) -> None:
        self.position = position
        self.id = ""
        self.name = ""
        self.parts: list[str] = []  # argument fragments, joined once at the end
        self.nchars = 0  # total length of parts
        self.nparts = 0  # fragments received
        self.loose = 0  # fragments at the end of parts not yet joined into one string
        self.obj: Any = None
        self.started = False
        self.over = False  # its arguments broke max_tool_argument_bytes (and were dropped)
        self.recovered = False  # read from the model's text, not a structured call


def _count(raw: Any, key: str) -> int | None:
    """``raw[key]`` when ``raw`` is an object and that is a non-negative int, else None."""
    if not isinstance(raw, dict):
        return None
    v = raw.get(key)
    return v if isinstance(v, int) and not isinstance(v, bool) and v >= 0 else None


def _usage(raw: Any) -> Usage | None:
    if not isinstance(raw, dict):
        return None
    prompt = _count(raw, "prompt_tokens")
    completion = _count(raw, "completion_tokens")
    total = _count(raw, "total_tokens")
    if total is None and prompt is not None and completion is not None:
        total = prompt + completion
    if prompt is None and completion is None and total is None:
        return None
    return Usage(
        prompt,
        completion,
        total,
        _count(raw.get("prompt_tokens_details"), "cached_tokens"),
        _count(raw.get("completion_tokens_details"), "reasoning_tokens"),
    )


class StreamDecoder:
    """Turns the bytes of one streamed chat completion into events and blocks.

    ``tool_names`` are the tools offered in the request (enables leaked-call recovery);
    ``think_open`` is for templates that open ``<think>`` themselves; ``id_seed`` makes
    generated tool-call ids stable for the same stream (so recordings replay exactly);
    ``reserved_ids`` are ids already used in the conversation, which a call may not reuse;
    ``max_held_text`` bounds the text the scanner may hold back (pass no ``tool_names`` to
    never recover calls from text).
    ``max_event_bytes`` bounds one SSE line or event and ``max_tool_argument_bytes`` one
    call's arguments (in characters, which are never more than the bytes that carried them);
    past either the stream fails with kind ``"limit"`` and nothing more is buffered.
    Everything after ``[DONE]`` is ignored, whichever read it arrives in.
    """

    def __init__(
        self,
        tool_names: frozenset[str] = frozenset(),
        *,
        think_open: bool = False,
        id_seed: str = "",
        reserved_ids: frozenset[str] = frozenset(),
        max_event_bytes: int = 32 * 1024 * 1024,
        max_tool_argument_bytes: int = 16 * 1024 * 1024,
        max_held_text: int = DEFAULT_MAX_HELD,
        deadline_check: Callable[[], None] | None = None,
    ) -> None:
        self._sse = SSEDecoder(max_event_bytes)
        self._deadline_check = deadline_check
        self._max_event = max_event_bytes
        self._max_items = jsontext.item_budget(max_event_bytes)
        self._max_args = max_tool_argument_bytes
        self._scanner = TextScanner(tool_names, think_open=think_open, max_held=max_held_text)
        self._think_open = think_open
        self._id_seed = id_seed
        self._reserved_ids = reserved_ids
        self._segments: list[Any] = []  # [kind, parts] for text/thinking, or _Call
        self._calls: dict[Any, _Call] = {}
        self._last_key: Any = None
        self._ncalls = 0  # calls so far, native and leaked: the next call's position
        self.finish_reason: str | None = None
        self.usage = Usage()
        self._cache_n: int | None = None  # llama.cpp timings.cache_n, if sent
        self.model = ""
        self.failure: StreamFailure | None = None
        self.done_seen = False
        self.events_seen = 0
        self._closed = False
        self._at_eof = False  # close() is flushing an event that had no blank line after it
        self._legacy_function_call = False
        # the repeated-event shortcut (see .shortcut): the template learned from the last
        # event, the call its arguments go to, events it decoded, and templates never used
        self._template: Template | None = None
        self._template_call: _Call | None = None
        self.shortcut_events = 0  # events decoded by the shortcut, of events_seen
        self._shortcut_events_at_learn = 0
        self._templates_wasted = 0

    # -- feeding ----------------------------------------------------------------------------
    def feed(self, data: bytes) -> list[Event]:
        out: list[Event] = []
        if self.done_seen or self._limited:
            return out  # after [DONE] nothing counts, however the bytes were split
        template = self._template
        try:
            if template is not None and self._sse.idle and len(data) - 2 <= self._max_event:
                value = between(data, template.head, template.tail)
                if value is not None:
                    self.shortcut_events += 1
                    self.events_seen += 1
                    self._apply(template.slot, value, out)
                    return out
            for kind, payload in self._sse.feed(data):
                self._dispatch(kind, payload, out)
        except LimitExceededError as exc:
            self._over_limit(exc)
        return out

    def _over_limit(self, exc: LimitExceededError) -> None:
        """A bound was broken: this failure wins over any other, and nothing is kept."""
        self.failure = StreamFailure(
            str(exc), "limit", exc.error_type, None, exc.option, exc.limit, exc.what
        )
        self._sse = SSEDecoder(1)  # drop whatever was buffered
        self._template = None

    def close(self) -> list[Event]:
        """End of the byte stream: flush, finalise tool calls, judge completeness."""
        out: list[Event] = []
        if self._closed:
            return out
        self._closed = True
        self._at_eof = True
        if not self.done_seen and not self._limited:
            try:
                for kind, payload in self._sse.close():
                    self._dispatch(kind, payload, out)
            except LimitExceededError as exc:
                self._over_limit(exc)
        # a model stopped by max_tokens or a filter might have gone on to say the call after
        # its prose was only an example: such calls are not trusted then
        cut = self.finish_reason in ("length", "content_filter")
        try:
            self._pieces(self._scanner.close(cut=cut), out)
        except LimitExceededError as exc:
            self._over_limit(exc)
        self._finalise_calls(out)
        if self.failure is None and self.finish_reason is None:
            why = "[DONE] arrived" if self.done_seen else "the connection closed"
            self.failure = StreamFailure(
                f"the stream ended before the model finished ({why} without a finish_reason); "
                "the answer is incomplete",
                "truncated",
            )
        return out

    @property
    def _limited(self) -> bool:
        return self.failure is not None and self.failure.kind == "limit"

    def result(self) -> TurnResult:
        blocks: list[ContentBlock] = []
        for seg in self._segments:
            if isinstance(seg, _Call):
                blocks.append(seg.obj)  # finalised into a block by close()
            elif seg[0] == "text":
                blocks.append(TextBlock("".join(seg[1])))
            else:
                blocks.append(ThinkingBlock("".join(seg[1])))
        first = blocks[0] if blocks else None
        if (
            isinstance(first, TextBlock)
            and not self._think_open
            and not any(isinstance(b, ThinkingBlock) for b in blocks)
        ):
            blocks[:1] = _unopened_think(first)
        reason = self.finish_reason
        if reason in ("stop", "tool_calls") and any(isinstance(s, _Call) for s in self._segments):
            reason = "tool_calls"
        elif reason == "tool_calls":
            reason = "stop"  # a server said tool_calls but sent none
        usage = self.usage
        if usage.cached_tokens is None and self._cache_n is not None:
            usage = replace(usage, cached_tokens=self._cache_n)
        return TurnResult(
            blocks, reason, usage, self.model, self.failure, self.done_seen, self.events_seen
        )

    # -- one SSE event ----------------------------------------------------------------------
    def _dispatch(self, kind: str, payload: bytes, out: list[Event]) -> None:
        if self.done_seen:
            return  # the rest of a read that held [DONE]
        template = self._template
        if template is not None:
            value = between(payload, template.prefix, template.suffix) if kind == "data" else None
            if value is not None:
                self.shortcut_events += 1
                self.events_seen += 1
                self._apply(template.slot, value, out)
                return
            if self.shortcut_events == self._shortcut_events_at_learn:
                self._templates_wasted += 1
            self._template = None
        if kind == "error":
            self._fail_from(payload, prefix="error line")
            return
        if payload == b"[DONE]":
            self.done_seen = True
            return
        if not payload or payload.isspace():
            return
        if jsontext.too_many_items(payload, self._max_items):
            raise LimitExceededError(
                "max_event_bytes",
                self._max_event,
                f"one event's JSON structure (more than {self._max_items} items, one per 16 "
                "bytes of max_event_bytes)",
            )
        try:
            obj = orjson.loads(payload)
        except orjson.JSONDecodeError:
            obj = self._salvage(payload, out)
            if obj is None:
                return
        else:
            if jsontext.has_long_integer(payload):
                obj = self._exact(payload, obj)
        if not isinstance(obj, dict):
            if self.failure is None:
                self.failure = StreamFailure(
                    f"unexpected stream event: {shown(obj, 200)}", "malformed"
                )
            return
        self.events_seen += 1
        self._chunk(obj, out)
        if self._templates_wasted < _MAX_WASTED_TEMPLATES:
            self._learn(payload, obj)

    def _learn(self, payload: bytes, obj: dict[str, Any]) -> None:
        slot = slot_of(obj)
        if slot is None:
            return
        template = template_for(payload, slot)
        if template is None:  # paid for and got nothing (e.g. the server escapes otherwise)
            self._templates_wasted += 1
            return
        self._template = template
        self._shortcut_events_at_learn = self.shortcut_events
        if template.slot == ARGUMENTS:
            self._template_call = self._calls[self._last_key]

    def _apply(self, slot: str, value: str, out: list[Event]) -> None:
        """What :meth:`_delta` does with this one string, for an event matching the template."""
        if not value:
            return
        if slot == ARGUMENTS:
            call = self._template_call
            assert call is not None
            if len(value) < call.nchars or not _repeats(call, value):  # (the cheap test first)
                call.parts.append(value)
                call.nchars += len(value)
                call.nparts += 1
                call.loose += 1
                if call.loose >= _JOIN_EVERY:
                    _compact(call)
                if call.nchars > self._max_args:
                    raise self._args_too_large(call)
                out.append(ToolArgsDelta(call.position, value))
        elif slot == CONTENT:
            self._scan(value, out)
        else:
            self._add("thinking", value, out)

    @staticmethod
    def _exact(payload: bytes, obj: Any) -> Any:
        """The event parsed again keeping >64-bit integers exact (orjson made them floats)."""
        try:
            return json.loads(payload)
        except (ValueError, RecursionError):
            return obj

    def _salvage(self, payload: bytes, out: list[Event]) -> Any:
        """The rare events orjson refuses: ``[DONE]`` with spaces, invalid UTF-8 inside a
        string (decoded with U+FFFD, the stream goes on), or several JSON objects in one event
        (no blank line between them). Anything else is a malformed stream."""
        if payload.strip() == b"[DONE]":
            self.done_seen = True
            return None
        try:
            payload.decode()
        except UnicodeDecodeError:
            try:
                return orjson.loads(payload.decode("utf-8", "replace"))
            except orjson.JSONDecodeError:
                pass
        lines = payload.split(b"\n")
        if len(lines) > 1:
            for line in lines:
                self._dispatch("data", line, out)
            return None
        if self.failure is None and self._at_eof:
            # the connection ended inside an event: a cut, not a server writing bad JSON
            if self.finish_reason is None:
                self.failure = StreamFailure(
                    "the connection closed in the middle of an event, before the model "
                    "finished; the answer is incomplete",
                    "truncated",
                )
        elif self.failure is None:
            snippet = payload[:200].decode("utf-8", "replace")
            self.failure = StreamFailure(
                f"malformed JSON in stream event: {snippet!r}", "malformed"
            )
        return None

    def _fail_from(self, payload: bytes | Any, *, prefix: str) -> None:
        if isinstance(payload, bytes):
            try:
                payload = orjson.loads(payload)
            except orjson.JSONDecodeError:
                payload = payload.decode("utf-8", "replace")
        msg, etype, code = error_message(payload)
        if self.failure is None:
            body = payload if isinstance(payload, str) else shown(payload, 2000)
            self.failure = StreamFailure(
                msg or prefix, "error_event", etype, code, body=body[:2000]
            )

    def _chunk(self, obj: dict[str, Any], out: list[Event]) -> None:
        if obj.get("error") or obj.get("object") == "error":
            self._fail_from(obj, prefix="error event")
            return
        usage = obj.get("usage")
        if usage:
            parsed = _usage(usage)
            if parsed is not None:
                self.usage = parsed
        timings = obj.get("timings")
        if timings:
            # llama-server's own counters, beside usage on the last chunk
            cache_n = _count(timings, "cache_n")
            if cache_n is not None:
                self._cache_n = cache_n
        if not self.model:
            model = obj.get("model")
            if isinstance(model, str):
                self.model = model
        choices = obj.get("choices")
        if not choices:
            return
        if not isinstance(choices, list):
            self._malformed(f"choices must be a list, got {shown(choices)}")
            return
        for choice in choices:
            if not isinstance(choice, dict) or choice.get("index", 0) not in (0, None):
                continue  # n > 1: the SDK follows the first choice
            delta = choice.get("delta") or choice.get("message")
            if delta:
                if not isinstance(delta, dict):
                    self._malformed(f"a choice's delta must be an object, got {shown(delta)}")
                    return
                self._delta(delta, out)
            reason = choice.get("finish_reason")
            if reason:
                # not str(reason): a value nested 1,000 deep is a RecursionError to print
                key = reason.lower() if isinstance(reason, str) else ""
                self.finish_reason = _FINISH.get(key, "stop")
            break

    def _malformed(self, why: str) -> None:
        if self.failure is None:
            self.failure = StreamFailure(f"malformed stream event: {why}", "malformed")

    def _delta(self, delta: dict[str, Any], out: list[Event]) -> None:
        reasoning = delta.get("reasoning_content") or delta.get("reasoning")
        if reasoning and isinstance(reasoning, str):
            self._add("thinking", reasoning, out)
        content = delta.get("content")
        if content:
            if isinstance(content, list):  # content parts
                texts = [p.get("text") for p in content if isinstance(p, dict)]
                if not all(t is None or isinstance(t, str) for t in texts):
                    self._malformed("a content part's text must be a string")
                    return
                content = "".join(t for t in texts if t)
            if isinstance(content, str) and content:
                self._scan(content, out)
        calls = delta.get("tool_calls")
        if calls:
            if self._scanner.holding:
                self._pieces(self._scanner.flush(), out)
            self._tool_fragments(calls, out)
        elif not self._calls or self._legacy_function_call:
            fc = delta.get("function_call")
            if isinstance(fc, dict) and (fc.get("name") or fc.get("arguments")):
                self._legacy_function_call = True
                self._tool_fragments([{"index": 0, "function": fc}], out)

    # -- text / thinking --------------------------------------------------------------------
    def _scan(self, content: str, out: list[Event]) -> None:
        """Content text through the scanner. One event can carry up to ``max_event_bytes`` of
        text, and scanning hostile text costs up to ~0.3 µs a character, all of it on the
        event loop: a long piece is scanned in slices with the caller's deadline checked
        between them, so ``timeout`` holds within one slice (the scanner is split-invariant)."""
        check = self._deadline_check
        if check is None or len(content) <= _SCAN_SLICE:
            self._pieces(self._scanner.feed(content), out)
            return
        for start in range(0, len(content), _SCAN_SLICE):
            check()
            self._pieces(self._scanner.feed(content[start : start + _SCAN_SLICE]), out)

    def _add(self, kind: str, text: str, out: list[Event]) -> None:
        segs = self._segments
        if segs and not isinstance(segs[-1], _Call) and segs[-1][0] == kind:
            segs[-1][1].append(text)
        else:
            segs.append([kind, [text]])
        out.append(TextDelta(text) if kind == "text" else ThinkingDelta(text))

    def _pieces(self, pieces: list[tuple[str, Any]], out: list[Event]) -> None:
        for kind, value in pieces:
            if kind == "call":
                name, args = value
                call = self._new_call()
                call.name = name
                call.recovered = True
                if isinstance(args, str):
                    call.parts.append(args)
                    call.nchars = len(args)
                    call.nparts = 1
                    if call.nchars > self._max_args:
                        raise self._args_too_large(call)
                else:
                    call.obj = args
                call.started = True
                out.append(ToolStart(call.position, "", name))
            else:
                self._add(kind, value, out)

    # -- tool calls -------------------------------------------------------------------------
    def _new_call(self) -> _Call:
        call = _Call(self._ncalls)
        self._ncalls += 1
        self._segments.append(call)
        return call

    def _tool_fragments(self, fragments: Any, out: list[Event]) -> None:
        if isinstance(fragments, dict):
            fragments = [fragments]
        if not isinstance(fragments, list):
            self._malformed(f"tool_calls must be a list, got {shown(fragments)}")
            return
        for frag in fragments:
            if not isinstance(frag, dict):
                continue
            index = frag.get("index")
            fid = frag.get("id") or ""
            fn = frag.get("function") or {}
            if not isinstance(fn, dict):
                fn = {}
            name = fn.get("name") or ""
            args = fn.get("arguments")
            if not isinstance(index, (int, str, type(None))) or isinstance(index, bool):
                self._malformed(f"a tool call's index must be a number, got {shown(index)}")
                return
            if not isinstance(fid, (str, int)) or not isinstance(name, str):
                self._malformed(
                    f"a tool call's id and name must be strings, got {shown(fid)} and {shown(name)}"
                )
                return
            if index is not None:
                key: Any = ("i", index)
            elif fid:
                key = ("id", fid)
            elif name or self._last_key is None:
                key = ("p", self._ncalls)
            else:
                key = self._last_key
            call = self._calls.get(key)
            if call is not None and fid and name and call.id and call.id != str(fid):
                # a new call reusing an index (LiteLLM forces a missing index to 0)
                call = None
            if call is None:
                call = self._calls[key] = self._new_call()
            self._last_key = key
            if fid and not call.id:
                call.id = str(fid)
            if name and not call.name:
                call.name = str(name)
            if call.name and not call.started:
                call.started = True
                out.append(ToolStart(call.position, call.id, call.name))
            if args is None:
                continue
            if isinstance(args, str):
                if args and not _repeats(call, args):
                    call.parts.append(args)
                    call.nchars += len(args)
                    call.nparts += 1
                    call.loose += 1
                    if call.loose >= _JOIN_EVERY:
                        _compact(call)
                    if call.nchars > self._max_args:
                        raise self._args_too_large(call)
                    out.append(ToolArgsDelta(call.position, args))
            else:
                call.obj = args

    def _args_too_large(self, call: _Call) -> LimitExceededError:
        call.parts, call.nchars, call.over = [], 0, True
        return LimitExceededError(
            "max_tool_argument_bytes",
            self._max_args,
            f"the arguments of tool call {call.name or call.position!r}",
        )

    def _finalise_calls(self, out: list[Event]) -> None:
        used: set[str] = set(self._reserved_ids)
        for seg in self._segments:
            if not isinstance(seg, _Call):
                continue
            block = self._block(seg, used)
            seg.obj = block
            out.append(ToolDone(seg.position, block))

    def _block(self, call: _Call, used: set[str]) -> ToolUseBlock | ToolUseError:
        raw, parsed, error = _arguments(call)
        cid = call.id
        if not cid or cid in used:
            digest = hashlib.sha1(
                f"{self._id_seed}:{call.position}:{call.name}:{raw}".encode()
            ).hexdigest()
            cid = "call_" + digest[:24]
        used.add(cid)
        if call.over:
            return ToolUseError(
                cid,
                call.name,
                "",
                f"the arguments exceeded max_tool_argument_bytes={self._max_args}",
            )
        if not call.name:
            return ToolUseError(cid, "", raw, "the tool call has no function name")
        if error is not None:
            return ToolUseError(cid, call.name, raw, error)
        assert parsed is not None
        return ToolUseBlock(cid, call.name, parsed, recovered=call.recovered)


def _unopened_think(block: TextBlock) -> list[ContentBlock]:
    """Templates that open ``<think>`` in the prompt (DeepSeek-R1, Qwen3 thinking) stream the
    reasoning as plain text up to ``</think>``. The text events already went out as text; the
    final blocks are corrected. Only a ``</think>`` ending a line counts (not one quoted in
    prose), and streams the profile marks ``think_open`` never get here."""
    text = block.text
    i = text.find(THINK_CLOSE)
    end = i + len(THINK_CLOSE)
    if i == -1 or text[end : end + 1] not in ("", "\n", "\r"):
        return [block]
    if THINK_OPEN in text[:i]:
        return [block]  # the tags were quoted as text (the scanner saw them), not a template's
    out: list[ContentBlock] = [ThinkingBlock(text[:i])]
    rest = text[end:].lstrip("\r\n")
    if rest:
        out.append(TextBlock(rest))
    return out


# argument fragments are joined in runs of this many: thousands of 100-character strings
# cost 1.6x their text in object headers, one string of them barely more than the text
_JOIN_EVERY = 256
#: characters of content scanned between two deadline checks (~20 ms of hostile text)
_SCAN_SLICE = 64 * 1024


def _compact(call: _Call) -> None:
    parts = call.parts
    run = "".join(parts[-call.loose :])
    del parts[-call.loose :]
    parts.append(run)
    call.loose = 0


def _repeats(call: _Call, args: str) -> bool:
    """Whether a fragment resends the whole accumulated arguments (LiteLLM's summary chunk),
    verbatim or JSON-encoded once more. Length checks first: no join on the hot path."""
    n = call.nchars
    if call.nparts < 2 or len(args) < n:
        return False
    if len(args) == n:
        return args == "".join(call.parts)
    if args[0] != '"':
        return False
    try:
        return bool(orjson.loads(args) == "".join(call.parts))
    except orjson.JSONDecodeError:
        return False


def _arguments(call: _Call) -> tuple[str, dict[str, Any] | None, str | None]:
    """(raw text, parsed object or None, error or None) for one call's arguments."""
    if call.obj is not None and not call.parts:
        try:
            text = jsontext.dumps(call.obj)
        except ValueError as exc:
            return "", None, f"arguments cannot be used: {exc}"
        if isinstance(call.obj, dict):
            return text, call.obj, None
        return text, None, f"arguments must be a JSON object, got {type(call.obj).__name__}"
    raw = "".join(call.parts)
    call.parts = [raw]  # drop the fragments now: peak memory stays near twice the size
    text = raw.strip()
    if not text or text == "null":
        return raw, {}, None
    value, err = _loads_object(text)
    if err is None:
        return raw, value, None
    # the same JSON sent twice or three times over (summary chunks from some proxies)
    for k in (2, 3):
        n = len(text)
        if n % k == 0 and text == text[: n // k] * k:
            again, err2 = _loads_object(text[: n // k])
            if err2 is None:
                return raw, again, None
    return raw, None, err


# a stream whose events never repeat (a per-event timer or counter in them), or whose strings
# cannot be found in its bytes, stops paying for learning templates after this many failures
_MAX_WASTED_TEMPLATES = 4


_loads = jsontext.loads


def _loads_object(text: str) -> tuple[dict[str, Any] | None, str | None]:
    try:
        value = _loads(text)
    except ValueError as exc:  # orjson.JSONDecodeError and json.JSONDecodeError alike
        return None, f"arguments are not valid JSON: {exc}"
    if isinstance(value, str):  # double-encoded
        try:
            value = _loads(value)
        except ValueError:
            return None, "arguments are a JSON string, not an object"
    if not isinstance(value, dict):
        return None, f"arguments must be a JSON object, got {type(value).__name__}"
    # what history holds must be writable again (and nothing downstream may recurse past
    # the limit); counting brackets is enough for nearly every call, and is cheap
    if (text.count("[") + text.count("{") > jsontext.MAX_DEPTH) and jsontext.depth_of(
        value
    ) > jsontext.MAX_DEPTH:
        return (
            None,
            f"arguments cannot be used: JSON nested deeper than {jsontext.MAX_DEPTH} levels",
        )
    return value, None
