"""The Anthropic Messages API (``/v1/messages``): replies, streamed events, tool use, tool
results and ``count_tokens``, judged on the wire.

llama-server, Ollama, LM Studio and vLLM serve this API next to chat completions, and Claude
Code runs on local models through it. ``any_agent`` does not speak it, so these checks have
no SDK layer. A server that answers 404/405 on the endpoint ends a check ``not-offered``.

Requests carry no ``seed``: the Messages API has none and strict implementations reject
fields they do not know. Tool definitions are the chat checks' own, in Anthropic's shape.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson

from ..catalogue.checks import impl
from ..harness.context import Ctx
from ..harness.stream import SSEEvent, parse_sse
from ._prompts import SYSTEM, WEATHER_PROMPT, WEATHER_TOOL, validate_schema

__all__ = ["MAX_STREAM_EVENTS", "STOP_REASONS", "MessageStream", "read_message_stream"]

STOP_REASONS = frozenset(
    {
        "end_turn",
        "max_tokens",
        "stop_sequence",
        "tool_use",
        "pause_turn",
        "refusal",
        "model_context_window_exceeded",
    }
)
#: Events a judged stream may have: requests ask for a few dozen tokens, so a stream past
#: this is broken, and the reader stops there instead of walking an unbounded body.
MAX_STREAM_EVENTS = 4096
#: Delta types each block type may receive.
_DELTAS: dict[str, dict[str, str]] = {
    "text": {"text_delta": "text"},
    "tool_use": {"input_json_delta": "partial_json"},
    "thinking": {"thinking_delta": "thinking", "signature_delta": "signature"},
}

SAY_OK = "Say OK."
COUNT_SHORT = "Hello."
COUNT_LONG = "Hello. Please count the words in this somewhat longer sentence for me, thanks."
TOOL_USE_ID = "toolu_conformance_0001"
TOOL_RESULT = '{"city": "Paris", "temperature_c": 21, "sky": "sunny"}'
_FN = WEATHER_TOOL["function"]
#: The weather tool in the Messages API's shape.
ANTHROPIC_WEATHER_TOOL: dict[str, Any] = {
    "name": _FN["name"],
    "description": _FN["description"],
    "input_schema": _FN["parameters"],
}


def messages_body(
    ctx: Ctx,
    messages: str | list[dict[str, Any]],
    *,
    max_tokens: int = 16,
    tools: bool = False,
    force_tool: bool = False,
) -> dict[str, Any]:
    """A Messages request: system prompt, temperature 0, the given turns (or one user turn)."""
    turns = [{"role": "user", "content": messages}] if isinstance(messages, str) else messages
    body: dict[str, Any] = {
        "model": ctx.model,
        "max_tokens": max_tokens,
        "system": SYSTEM,
        "messages": turns,
        "temperature": 0,
    }
    if tools:
        body["tools"] = [ANTHROPIC_WEATHER_TOOL]
    if force_tool:
        # the profile's way of forcing a call, as the chat tool checks do
        mode = ctx.target.profile.forced_choice
        if mode == "named":
            body["tool_choice"] = {"type": "tool", "name": ANTHROPIC_WEATHER_TOOL["name"]}
        elif mode == "required":
            body["tool_choice"] = {"type": "any"}
    return body


async def _post(ctx: Ctx, path: str, body: dict[str, Any], what: str) -> dict[str, Any]:
    resp = await ctx.post_json(path, body)
    ctx.require_offered(resp, f"POST /v1/{path}")
    ctx.require_2xx(resp, what)
    data = resp.json()
    if not isinstance(data, dict):
        why = resp.json_problem() if data is None else type(data).__name__
        ctx.fail(f"{what}: the body is not a JSON object ({why}): {resp.text()[:80]!r}")
    return data


def _message_problems(data: dict[str, Any]) -> list[str]:
    """What a non-streamed Messages reply gets wrong in its envelope."""
    problems: list[str] = []
    if data.get("type") != "message":
        problems.append(f"type is {data.get('type')!r}, not 'message'")
    if data.get("role") != "assistant":
        problems.append(f"role is {data.get('role')!r}, not 'assistant'")
    if not isinstance(data.get("id"), str) or not data["id"]:
        problems.append("no string id")
    content = data.get("content")
    if not isinstance(content, list):
        problems.append(f"content is {type(content).__name__}, not an array of blocks")
    else:
        for i, block in enumerate(content):
            if not isinstance(block, dict) or not isinstance(block.get("type"), str):
                problems.append(f"content[{i}] is not a typed block")
            elif block["type"] == "text" and not isinstance(block.get("text"), str):
                problems.append(f"content[{i}] is a text block without string text")
    stop = data.get("stop_reason")
    if not isinstance(stop, str) or stop not in STOP_REASONS:
        problems.append(f"stop_reason is {stop!r}, not one of Anthropic's")
    usage = data.get("usage")
    if not isinstance(usage, dict):
        problems.append("no usage object")
    else:
        for key in ("input_tokens", "output_tokens"):
            value = usage.get(key)
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                problems.append(f"usage.{key} is {value!r}, not a non-negative integer")
    return problems


def _blocks(data: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    content = data.get("content")
    if not isinstance(content, list):
        return []
    return [b for b in content if isinstance(b, dict) and b.get("type") == kind]


def _text(data: dict[str, Any]) -> str:
    return "".join(b["text"] for b in _blocks(data, "text") if isinstance(b.get("text"), str))


def _tool_input_problems(name: Any, value: Any, where: str) -> list[str]:
    if name != ANTHROPIC_WEATHER_TOOL["name"]:
        return [f"{where}: name is {name!r}, not the offered get_weather"]
    if not isinstance(value, dict):
        return [f"{where}: input is {type(value).__name__}, not a JSON object"]
    return [f"{where}: {e}" for e in validate_schema(value, ANTHROPIC_WEATHER_TOOL["input_schema"])]


# ---- the stream reader ---------------------------------------------------------------------


@dataclass(slots=True)
class Block:
    """One streamed content block, as its events built it."""

    index: int
    type: str
    start: dict[str, Any]
    parts: list[str] = field(default_factory=list)  # text, partial_json or thinking pieces
    deltas: int = 0
    stopped: bool = False

    @property
    def joined(self) -> str:
        return "".join(self.parts)


@dataclass(slots=True)
class MessageStream:
    """What a strict reader makes of a streamed Messages reply."""

    problems: list[str] = field(default_factory=list)
    blocks: list[Block] = field(default_factory=list)
    stop_reason: Any = None
    started: bool = False
    stopped: bool = False
    error: Any = None
    done_after_stop: bool = False
    warnings: list[str] = field(default_factory=list)

    @property
    def text(self) -> str:
        return "".join(b.joined for b in self.blocks if b.type == "text")


def read_message_stream(events: list[SSEEvent]) -> MessageStream:
    """Judge the event sequence in one pass; every problem found is kept, in order."""
    s = MessageStream()
    problems = s.problems
    saw_delta = False
    open_blocks: set[int] = set()
    unnamed = 0
    for n, ev in enumerate(events):
        if n >= MAX_STREAM_EVENTS:
            problems.append(f"more than {MAX_STREAM_EVENTS} events; the rest was not read")
            break
        if ev.bare_cr:
            problems.append(f"event {n}: a bare CR ends a line (lines must end in LF or CRLF)")
        if ev.bad_utf8:
            problems.append(f"event {n} is not valid UTF-8")
        if ev.data is None:
            if ev.fields:
                problems.append(f"event {n} has an event: line but no data")
            continue
        if ev.is_done:
            if s.stopped:
                s.done_after_stop = True
            else:
                problems.append(f"event {n} is data: [DONE] (not part of the Messages API)")
            continue
        obj = ev.json()
        kind = obj.get("type") if isinstance(obj, dict) else None
        if not isinstance(obj, dict) or not isinstance(kind, str):
            problems.append(f"event {n}: data is not a JSON object with a type: {ev.data[:60]!r}")
            continue
        if ev.event is None:
            unnamed += 1
        elif ev.event != kind:
            problems.append(f"event {n} is named {ev.event!r} but its data is {kind!r}")
        if s.stopped:
            problems.append(f"event {n} ({kind}) after message_stop")
            continue
        if kind == "ping":
            continue
        if kind == "error":
            s.error = obj.get("error", obj)
            problems.append(f"error event: {orjson.dumps(s.error).decode()[:160]}")
            continue
        if not s.started:
            if kind != "message_start":
                problems.append(f"the first event is {kind!r}, not message_start")
            s.started = True
            if kind == "message_start":
                _judge_message_start(obj, s)
                continue
        elif kind == "message_start":
            problems.append(f"event {n}: a second message_start")
            continue
        if kind == "content_block_start":
            _block_start(obj, n, s, open_blocks, saw_delta)
        elif kind == "content_block_delta":
            _block_delta(obj, n, s, open_blocks)
        elif kind == "content_block_stop":
            index = _index(obj)
            if index is None or index not in open_blocks:
                problems.append(
                    f"event {n}: content_block_stop for index {obj.get('index')!r}, not open"
                )
            else:
                open_blocks.discard(index)
                s.blocks[index].stopped = True
        elif kind == "message_delta":
            saw_delta = True
            if open_blocks:
                problems.append(
                    f"event {n}: message_delta while block(s) {sorted(open_blocks)} open"
                )
            delta = obj.get("delta")
            s.stop_reason = delta.get("stop_reason") if isinstance(delta, dict) else None
            if not isinstance(s.stop_reason, str) or s.stop_reason not in STOP_REASONS:
                problems.append(f"message_delta stop_reason is {s.stop_reason!r}")
            usage = obj.get("usage")
            out = usage.get("output_tokens") if isinstance(usage, dict) else None
            if not isinstance(out, int):
                s.warnings.append("message_delta has no integer usage.output_tokens")
        elif kind == "message_stop":
            if not saw_delta:
                problems.append("message_stop without a message_delta (no stop_reason)")
            s.stopped = True
        # other types: Anthropic may add events, and clients are told to ignore unknown ones
    if unnamed:
        problems.append(
            f"{unnamed} event(s) have no event: line (Anthropic clients dispatch on it)"
        )
    if not s.started:
        problems.append("no message_start")
    if open_blocks:
        problems.append(f"block(s) {sorted(open_blocks)} never got content_block_stop")
    if not s.stopped:
        problems.append("the stream ended without message_stop (cut)")
    return s


def _index(obj: dict[str, Any]) -> int | None:
    """The event's block index, if it is one (a bool or a float is not)."""
    value = obj.get("index")
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _judge_message_start(obj: dict[str, Any], s: MessageStream) -> None:
    msg = obj.get("message")
    if not isinstance(msg, dict):
        s.problems.append("message_start has no message object")
        return
    if msg.get("type") != "message" or msg.get("role") != "assistant":
        s.problems.append(
            f"message_start.message is type {msg.get('type')!r}, role {msg.get('role')!r}"
        )
    if msg.get("content") not in ([], None):
        s.warnings.append("message_start.message.content is not empty")
    usage = msg.get("usage")
    if not isinstance(usage, dict) or not isinstance(usage.get("input_tokens"), int):
        s.warnings.append("message_start has no integer usage.input_tokens")


def _block_start(
    obj: dict[str, Any], n: int, s: MessageStream, open_blocks: set[int], saw_delta: bool
) -> None:
    index, block = _index(obj), obj.get("content_block")
    if saw_delta:
        s.problems.append(f"event {n}: content_block_start after message_delta")
    if index is None or index != len(s.blocks):
        s.problems.append(
            f"event {n}: content_block_start index {obj.get('index')!r}, expected {len(s.blocks)}"
        )
        return
    if not isinstance(block, dict) or not isinstance(block.get("type"), str):
        s.problems.append(f"event {n}: content_block_start without a typed content_block")
        block = {"type": "?"}
    s.blocks.append(Block(index=index, type=block["type"], start=block))
    open_blocks.add(index)


def _block_delta(obj: dict[str, Any], n: int, s: MessageStream, open_blocks: set[int]) -> None:
    index, delta = _index(obj), obj.get("delta")
    if index is None or index not in open_blocks:
        s.problems.append(
            f"event {n}: content_block_delta for index {obj.get('index')!r}, not open"
        )
        return
    block = s.blocks[index]
    block.deltas += 1
    allowed = _DELTAS.get(block.type)
    dtype = delta.get("type") if isinstance(delta, dict) else None
    if allowed is None:
        return  # a block type this reader does not know: its deltas are not judged
    key = allowed.get(dtype) if isinstance(dtype, str) else None
    if key is None or not isinstance(delta, dict):
        s.problems.append(f"event {n}: a {dtype!r} delta in a {block.type} block")
        return
    piece = delta.get(key)
    if not isinstance(piece, str):
        s.problems.append(f"event {n}: {dtype} without string {key}")
        return
    if dtype != "signature_delta":
        block.parts.append(piece)


async def _stream(ctx: Ctx, body: dict[str, Any], what: str) -> MessageStream:
    resp = await ctx.post_stream("messages", body)
    ctx.require_offered(resp, "POST /v1/messages")
    ctx.require_2xx(resp, what)
    if not resp.is_sse:
        ctx.fail(f"{what}: content-type is {resp.content_type!r}, not text/event-stream")
    # no arrival times: these checks judge order, and dating events walks the chunk list
    # once per event (quadratic on a long live stream)
    return read_message_stream(parse_sse(resp.body))


def _require_complete(ctx: Ctx, s: MessageStream, what: str) -> None:
    """A stream that erred or was cut says nothing about what the model would have sent."""
    if s.error is not None:
        ctx.fail(f"{what} ended in an error event: {orjson.dumps(s.error).decode()[:200]}")
    if not s.stopped:
        ctx.fail(f"{what} ended without message_stop (the stream was cut)")


# ---- checks --------------------------------------------------------------------------------


@impl("messages.basic")
async def basic(ctx: Ctx) -> None:
    data = await _post(ctx, "messages", messages_body(ctx, SAY_OK), "POST /v1/messages")
    problems = _message_problems(data)
    if problems:
        ctx.fail("; ".join(problems))
    if not _blocks(data, "text"):
        if data.get("stop_reason") == "max_tokens":
            ctx.warn("no text block: the token budget ran out first (thinking?)")
            return
        ctx.fail(f"no text block in content (types: {[b.get('type') for b in data['content']]})")
    if not _text(data).strip():
        ctx.warn("the text is empty")


@impl("messages.stream.event-order")
async def stream_event_order(ctx: Ctx) -> None:
    s = await _stream(ctx, messages_body(ctx, SAY_OK), "streamed /v1/messages")
    if s.problems:
        shown = "; ".join(s.problems[:4])
        more = f" (+{len(s.problems) - 4} more)" if len(s.problems) > 4 else ""
        ctx.fail(shown + more)
    for w in s.warnings:
        ctx.warn(w)
    if s.done_after_stop:
        ctx.warn("data: [DONE] after message_stop (an OpenAI habit; Anthropic clients skip it)")
    if not s.blocks and s.stop_reason != "max_tokens":
        ctx.fail("no content block before message_delta")


@impl("messages.tool-use")
async def tool_use(ctx: Ctx) -> None:
    body = messages_body(ctx, WEATHER_PROMPT, max_tokens=96, tools=True, force_tool=True)
    data = await _post(ctx, "messages", body, "POST /v1/messages with tools")
    problems = [p for p in _message_problems(data) if not p.startswith("stop_reason")]
    uses = _blocks(data, "tool_use")
    if not uses:
        content = data.get("content")
        blocks = content if isinstance(content, list) else []
        kinds = [b.get("type") for b in blocks if isinstance(b, dict)]
        found = f"no tool_use block (content types {kinds}, text {_text(data)[:80]!r})"
        ctx.fail("; ".join([*problems, found]))
    for i, b in enumerate(uses):
        if not isinstance(b.get("id"), str) or not b["id"]:
            problems.append(f"tool_use[{i}] has no string id")
        problems += _tool_input_problems(b.get("name"), b.get("input"), f"tool_use[{i}]")
    if data.get("stop_reason") != "tool_use":
        problems.append(f"stop_reason is {data.get('stop_reason')!r}, not 'tool_use'")
    if problems:
        ctx.fail("; ".join(problems))


@impl("messages.stream.tool-use")
async def stream_tool_use(ctx: Ctx) -> None:
    body = messages_body(ctx, WEATHER_PROMPT, max_tokens=96, tools=True, force_tool=True)
    s = await _stream(ctx, body, "streamed /v1/messages with tools")
    _require_complete(ctx, s, "the stream")
    uses = [b for b in s.blocks if b.type == "tool_use"]
    if not uses:
        ctx.fail(f"no tool_use block (blocks {[b.type for b in s.blocks]}, text {s.text[:80]!r})")
    problems: list[str] = []
    for b in uses:
        where = f"block {b.index}"
        if not isinstance(b.start.get("id"), str) or not b.start["id"]:
            problems.append(f"{where}: content_block_start has no string id")
        if "input" not in b.start:
            ctx.warn(f"{where}: content_block_start has no input (Anthropic sends input: {{}})")
        elif b.start["input"] not in ({}, None):
            ctx.warn(f"{where}: content_block_start input is not empty: {b.start['input']!r}")
        raw = b.joined
        if not raw.strip():
            problems.append(f"{where}: no input_json_delta (the input is empty)")
            continue
        try:
            value = orjson.loads(raw)
        except orjson.JSONDecodeError:
            problems.append(f"{where}: the input_json_delta fragments are not JSON: {raw[:80]!r}")
            continue
        problems += _tool_input_problems(b.start.get("name"), value, where)
    if s.stop_reason != "tool_use":
        problems.append(f"message_delta stop_reason is {s.stop_reason!r}, not 'tool_use'")
    if problems:
        ctx.fail("; ".join(problems))


def tool_result_history() -> list[dict[str, Any]]:
    """user → assistant ``tool_use`` → user ``tool_result``, in Anthropic's shape."""
    return [
        {"role": "user", "content": "What is the weather in Paris?"},
        {
            "role": "assistant",
            "content": [
                {
                    "type": "tool_use",
                    "id": TOOL_USE_ID,
                    "name": "get_weather",
                    "input": {"city": "Paris"},
                }
            ],
        },
        {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": TOOL_USE_ID, "content": TOOL_RESULT}
            ],
        },
    ]


@impl("messages.tool-result")
async def tool_result(ctx: Ctx) -> None:
    body = messages_body(ctx, tool_result_history(), max_tokens=48, tools=True)
    resp = await ctx.post_json("messages", body)
    ctx.require_offered(resp, "POST /v1/messages")
    if resp.status >= 500:
        ctx.fail(f"HTTP {resp.status} for a tool_result turn: {resp.error_message()[:160]}")
    ctx.require_2xx(resp, "POST /v1/messages with a tool_result")
    data = resp.json()
    if not isinstance(data, dict):
        ctx.fail(f"the body is not a JSON object: {resp.text()[:80]!r}")
    problems = _message_problems(data)
    if problems:
        ctx.fail("; ".join(problems))
    answer = _text(data)
    if _blocks(data, "tool_use") and not answer.strip():
        ctx.warn("the model called the tool again instead of answering")
        return
    if not answer.strip():
        ctx.fail("no text answer after the tool result")
    if not any(k in answer.lower() for k in ("21", "sunny")):
        ctx.warn(f"the answer does not use the tool result: {answer[:60]!r}")


def _count_of(ctx: Ctx, data: dict[str, Any], what: str) -> int:
    value = data.get("input_tokens")
    if not isinstance(value, int) or isinstance(value, bool):
        ctx.fail(f"{what}: input_tokens is {value!r}, not an integer (keys {sorted(data)[:6]})")
    if value <= 0:
        ctx.fail(f"{what}: input_tokens is {value}")
    return value


@impl("messages.count-tokens")
async def count_tokens(ctx: Ctx) -> None:
    path = "messages/count_tokens"
    short_body = messages_body(ctx, COUNT_SHORT)
    del short_body["max_tokens"], short_body["temperature"]  # not count_tokens fields
    long_body = {**short_body, "messages": [{"role": "user", "content": COUNT_LONG}]}
    short = _count_of(ctx, await _post(ctx, path, short_body, "short prompt"), "short prompt")
    long = _count_of(ctx, await _post(ctx, path, long_body, "longer prompt"), "longer prompt")
    if long <= short:
        ctx.fail(f"a longer prompt counts {long} tokens, the short one {short}: not counted")
    ctx.facts["count_tokens"] = {"short": short, "long": long}
    reply = await _post(ctx, "messages", messages_body(ctx, COUNT_SHORT, max_tokens=1), "reply")
    usage = reply.get("usage")
    used = usage.get("input_tokens") if isinstance(usage, dict) else None
    if not isinstance(used, int):
        ctx.warn("POST /v1/messages reported no usage.input_tokens to compare with")
    elif used != short:
        ctx.warn(f"count_tokens says {short}, /v1/messages used {used} for the same prompt")
