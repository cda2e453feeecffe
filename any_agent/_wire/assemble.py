"""Normalise a chat-completions stream into events and content blocks. Pure: bytes in.

``StreamDecoder.feed(bytes)`` returns :class:`~any_agent.types.StreamEvent`-like tuples as
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
import re
from dataclasses import dataclass
from typing import Any

import orjson

from ..types import ContentBlock, TextBlock, ThinkingBlock, ToolUseBlock, ToolUseError, Usage
from .shortcut import ARGUMENTS, CONTENT, Template, between, slot_of, template_for
from .sse import SSEDecoder
from .textscan import DEFAULT_MAX_HELD, THINK_CLOSE, THINK_OPEN, TextScanner

__all__ = ["Event", "StreamDecoder", "StreamFailure", "TurnResult"]

# ("text", str) | ("thinking", str) | ("tool_start", index, id, name)
# | ("tool_args", index, fragment) | ("tool_done", index, block)
Event = tuple[Any, ...]

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
    kind: str  # "error_event" | "malformed" | "truncated"
    error_type: str | None = None
    code: str | int | None = None


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
    __slots__ = ("id", "name", "nchars", "obj", "parts", "position", "recovered", "started")

    def __init__(self, position: int) -> None:
        self.position = position
        self.id = ""
        self.name = ""
        self.parts: list[str] = []  # argument fragments, joined once at the end
        self.nchars = 0  # total length of parts
        self.obj: Any = None
        self.started = False
        self.recovered = False  # read from the model's text, not a structured call


def error_message(err: Any) -> tuple[str, str | None, Any]:
    """(message, type, code) from any error object shape: dict, string, nested, stringified."""
    if isinstance(err, dict):
        inner = err.get("error")
        if "message" not in err:
            if isinstance(inner, dict):
                return error_message(inner)
            if isinstance(inner, str):  # TGI {"error": "...", "error_type": "..."}
                etype = err.get("error_type") or err.get("type")
                return inner, etype if isinstance(etype, str) else None, err.get("code")
        msg = err.get("message") or err.get("detail") or err.get("msg") or ""
        if not isinstance(msg, str):
            msg = orjson.dumps(msg).decode()
        etype = err.get("type") or err.get("error_type")
        code = err.get("code")
        if code is None:
            code = err.get("http_status_code")  # TGI stream errors
        return msg or orjson.dumps(err).decode(), etype if isinstance(etype, str) else None, code
    if isinstance(err, str):
        return err, None, None
    return repr(err), None, None


def _usage(raw: Any) -> Usage | None:
    if not isinstance(raw, dict):
        return None

    def num(key: str) -> int | None:
        v = raw.get(key)
        return v if isinstance(v, int) and not isinstance(v, bool) else None

    prompt = num("prompt_tokens")
    completion = num("completion_tokens")
    total = num("total_tokens")
    if total is None and prompt is not None and completion is not None:
        total = prompt + completion
    if prompt is None and completion is None and total is None:
        return None
    return Usage(prompt, completion, total)


class StreamDecoder:
    """Turns the bytes of one streamed chat completion into events and blocks.

    ``tool_names`` are the tools offered in the request (enables leaked-call recovery);
    ``think_open`` is for templates that open ``<think>`` themselves; ``id_seed`` makes
    generated tool-call ids stable for the same stream (so recordings replay exactly);
    ``reserved_ids`` are ids already used in the conversation, which a call may not reuse;
    ``max_held_text`` bounds the text the scanner may hold back (pass no ``tool_names`` to
    never recover calls from text).
    """

    def __init__(
        self,
        tool_names: frozenset[str] = frozenset(),
        *,
        think_open: bool = False,
        id_seed: str = "",
        reserved_ids: frozenset[str] = frozenset(),
        max_held_text: int = DEFAULT_MAX_HELD,
    ) -> None:
        self._sse = SSEDecoder()
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
        template = self._template
        if template is not None and self._sse.idle:
            value = between(data, template.head, template.tail)
            if value is not None:
                self.shortcut_events += 1
                self.events_seen += 1
                self._apply(template.slot, value, out)
                return out
        for kind, payload in self._sse.feed(data):
            self._dispatch(kind, payload, out)
        return out

    def close(self) -> list[Event]:
        """End of the byte stream: flush, finalise tool calls, judge completeness."""
        out: list[Event] = []
        if self._closed:
            return out
        self._closed = True
        self._at_eof = True
        for kind, payload in self._sse.close():
            self._dispatch(kind, payload, out)
        # a model stopped by max_tokens or a filter might have gone on to say the call after
        # its prose was only an example: such calls are not trusted then
        cut = self.finish_reason in ("length", "content_filter")
        self._pieces(self._scanner.close(cut=cut), out)
        self._finalise_calls(out)
        if self.failure is None and self.finish_reason is None:
            why = "[DONE] arrived" if self.done_seen else "the connection closed"
            self.failure = StreamFailure(
                f"the stream ended before the model finished ({why} without a finish_reason); "
                "the answer is incomplete",
                "truncated",
            )
        return out

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
        return TurnResult(
            blocks, reason, self.usage, self.model, self.failure, self.done_seen, self.events_seen
        )

    # -- one SSE event ----------------------------------------------------------------------
    def _dispatch(self, kind: str, payload: bytes, out: list[Event]) -> None:
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
        try:
            obj = orjson.loads(payload)
        except orjson.JSONDecodeError:
            obj = self._salvage(payload, out)
            if obj is None:
                return
        if not isinstance(obj, dict):
            if self.failure is None:
                self.failure = StreamFailure(f"unexpected stream event: {obj!r:.200}", "malformed")
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
                out.append(("tool_args", call.position, value))
        elif slot == CONTENT:
            self._pieces(self._scanner.feed(value), out)
        else:
            self._add("thinking", value, out)

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
            self.failure = StreamFailure(msg or prefix, "error_event", etype, code)

    def _chunk(self, obj: dict[str, Any], out: list[Event]) -> None:
        if obj.get("error") or obj.get("object") == "error":
            self._fail_from(obj, prefix="error event")
            return
        usage = obj.get("usage")
        if usage:
            parsed = _usage(usage)
            if parsed is not None:
                self.usage = parsed
        if not self.model:
            model = obj.get("model")
            if isinstance(model, str):
                self.model = model
        choices = obj.get("choices")
        if not choices:
            return
        for choice in choices:
            if not isinstance(choice, dict) or choice.get("index", 0) not in (0, None):
                continue  # n > 1: the SDK follows the first choice
            delta = choice.get("delta") or choice.get("message")
            if delta:
                self._delta(delta, out)
            reason = choice.get("finish_reason")
            if reason:
                self.finish_reason = _FINISH.get(str(reason).lower(), "stop")
            break

    def _delta(self, delta: dict[str, Any], out: list[Event]) -> None:
        reasoning = delta.get("reasoning_content") or delta.get("reasoning")
        if reasoning and isinstance(reasoning, str):
            self._add("thinking", reasoning, out)
        content = delta.get("content")
        if content:
            if isinstance(content, list):  # content parts
                content = "".join(p.get("text") or "" for p in content if isinstance(p, dict))
            if isinstance(content, str) and content:
                self._pieces(self._scanner.feed(content), out)
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
    def _add(self, kind: str, text: str, out: list[Event]) -> None:
        segs = self._segments
        if segs and not isinstance(segs[-1], _Call) and segs[-1][0] == kind:
            segs[-1][1].append(text)
        else:
            segs.append([kind, [text]])
        out.append((kind, text))

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
                else:
                    call.obj = args
                call.started = True
                out.append(("tool_start", call.position, "", name))
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
                out.append(("tool_start", call.position, call.id, call.name))
            if args is None:
                continue
            if isinstance(args, str):
                if args and not _repeats(call, args):
                    call.parts.append(args)
                    call.nchars += len(args)
                    out.append(("tool_args", call.position, args))
            else:
                call.obj = args

    def _finalise_calls(self, out: list[Event]) -> None:
        used: set[str] = set(self._reserved_ids)
        for seg in self._segments:
            if not isinstance(seg, _Call):
                continue
            block = self._block(seg, used)
            seg.obj = block
            out.append(("tool_done", seg.position, block))

    def _block(self, call: _Call, used: set[str]) -> ToolUseBlock | ToolUseError:
        raw, parsed, error = _arguments(call)
        cid = call.id
        if not cid or cid in used:
            digest = hashlib.sha1(
                f"{self._id_seed}:{call.position}:{call.name}:{raw}".encode()
            ).hexdigest()
            cid = "call_" + digest[:24]
        used.add(cid)
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


def _repeats(call: _Call, args: str) -> bool:
    """Whether a fragment resends the whole accumulated arguments (LiteLLM's summary chunk),
    verbatim or JSON-encoded once more. Length checks first: no join on the hot path."""
    n = call.nchars
    if len(call.parts) < 2 or len(args) < n:
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
        if isinstance(call.obj, dict):
            return orjson.dumps(call.obj).decode(), call.obj, None
        return (
            repr(call.obj),
            None,
            f"arguments must be a JSON object, got {type(call.obj).__name__}",
        )
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


_BIG_JSON = 1 << 16

# a stream whose events never repeat (a per-event timer or counter in them), or whose strings
# cannot be found in its bytes, stops paying for learning templates after this many failures
_MAX_WASTED_TEMPLATES = 4


_LONG_DIGITS = re.compile(r"\d{19}")


def _loads(text: str) -> Any:
    # orjson reserves ~13x a large input's size up front (the stdlib parser does not, and is
    # as fast on a few long strings such as whole files), and turns integers beyond 64 bits
    # into floats; the stdlib keeps them exact
    if len(text) > _BIG_JSON or _LONG_DIGITS.search(text):
        return json.loads(text)
    return orjson.loads(text)


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
    return value, None
