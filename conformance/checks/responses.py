"""``/v1/responses``: the OpenAI Responses API that vLLM, llama-server, LM Studio, Ollama and
gateways serve next to chat completions.

Judged at the wire layer only: ``any_agent`` speaks chat completions, so there is no SDK
behaviour to certify here. A server that answers 404/405 on the endpoint does not offer the
API (``not-offered``), which is not a failure.

The Responses API has no ``seed``; requests use temperature 0 and the fewest
``max_output_tokens`` that let the judgement stand (the API's minimum is 16).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import orjson

from ..catalogue.checks import impl
from ..harness.context import Ctx
from ..harness.http import RawResponse
from ..harness.stream import SSEEvent
from ._prompts import SYSTEM, WEATHER_PROMPT, WEATHER_TOOL, validate_schema
from .multiturn import judge_answer

__all__ = ["ResponsesStream", "summarize_responses"]

PATH = "responses"
WHAT = "POST /v1/responses"
BASIC_PROMPT = "Say OK and nothing else."
CODE_WORD = "PELICAN"
REMEMBER_PROMPT = f"Say OK. Remember the code word {CODE_WORD} for later."
RECALL_PROMPT = "What is the code word? Reply with the word only."
CALL_ID = "call_weather_0001"
CALL_ARGS = '{"city": "Paris"}'
TOOL_OUTPUT = '{"city": "Paris", "temperature_c": 21, "sky": "sunny"}'
#: A stream with more events than this is not judged further (a runaway server).
MAX_EVENTS = 4096
#: Problems reported in a failure message (the rest are counted).
SHOWN = 4
TERMINAL = frozenset({"response.completed", "response.incomplete", "response.failed"})
_WORDS_STATELESS = re.compile(r"previous_response_id|\bstore\b|stateless|not supported|unsupported")
_WORD_STORE = re.compile(r"\bstore\b")


def _function_tool() -> dict[str, Any]:
    """The weather tool in the Responses shape (flat: no ``function`` wrapper)."""
    fn = WEATHER_TOOL["function"]
    return {
        "type": "function",
        "name": fn["name"],
        "description": fn["description"],
        "parameters": fn["parameters"],
    }


def _tool_choice(ctx: Ctx) -> Any:
    mode = ctx.target.profile.forced_choice
    if mode == "named":
        return {"type": "function", "name": WEATHER_TOOL["function"]["name"]}
    return mode


def _body(ctx: Ctx, input_: Any, *, max_output_tokens: int, **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "model": ctx.model,
        "input": input_,
        "temperature": 0,
        "max_output_tokens": max_output_tokens,
    }
    body.update(extra)
    return body


def _call_body(ctx: Ctx) -> dict[str, Any]:
    return _body(ctx, WEATHER_PROMPT, max_output_tokens=96, instructions=SYSTEM,
                 tools=[_function_tool()], tool_choice=_tool_choice(ctx))  # fmt: skip


async def _post(ctx: Ctx, body: dict[str, Any], what: str) -> dict[str, Any]:
    resp = await ctx.post_json(PATH, body)
    ctx.require_offered(resp, WHAT)
    ctx.require_2xx(resp, what)
    data = resp.json()
    if not isinstance(data, dict):
        why = resp.json_problem() if data is None else type(data).__name__
        ctx.fail(f"{what}: the body is not a JSON object ({why}): {resp.text()[:120]!r}")
    return data


async def _stream(ctx: Ctx, body: dict[str, Any], what: str) -> ResponsesStream:
    resp = await ctx.post_stream(PATH, body)
    ctx.require_offered(resp, WHAT)
    ctx.require_2xx(resp, what)
    if not resp.is_sse:
        ctx.fail(f"{what}: content-type {resp.content_type!r}, not text/event-stream")
    return summarize_responses(resp.events())


def _output(ctx: Ctx, data: dict[str, Any], what: str) -> list[dict[str, Any]]:
    """Judge the response envelope; return its output items."""
    problems: list[str] = []
    if data.get("object") != "response":
        problems.append(f"object is {data.get('object')!r}, not 'response'")
    rid = data.get("id")
    if not isinstance(rid, str) or not rid:
        problems.append(f"id is {rid!r}, not a non-empty string")
    output = data.get("output")
    if not isinstance(output, list):
        problems.append(f"output is {type(output).__name__}, not an array")
        output = []
    if problems:
        ctx.fail(f"{what}: " + "; ".join(problems))
    return [item for item in output if isinstance(item, dict)]


def _message_text(ctx: Ctx, items: list[dict[str, Any]], what: str) -> str:
    """The joined ``output_text`` of the message items (fails on other part types)."""
    texts: list[str] = []
    for item in items:
        if item.get("type") != "message":
            continue
        if item.get("role") != "assistant":
            ctx.fail(f"{what}: a message item has role {item.get('role')!r}, not 'assistant'")
        content = item.get("content")
        if not isinstance(content, list):
            ctx.fail(f"{what}: a message item's content is {type(content).__name__}, not an array")
        for part in content:
            kind = part.get("type") if isinstance(part, dict) else None
            if kind == "refusal":
                continue
            if kind != "output_text" or not isinstance(part.get("text"), str):
                ctx.fail(f"{what}: a message content part is {_short(part)}, not output_text")
            texts.append(part["text"])
    return "".join(texts)


def _short(value: Any, limit: int = 120) -> str:
    text = orjson.dumps(value, default=str).decode()
    return text if len(text) <= limit else text[:limit] + "…"


def _call_problems(item: dict[str, Any]) -> list[str]:
    """What is wrong with one function_call item (empty: a sound call of the weather tool)."""
    problems: list[str] = []
    call_id = item.get("call_id")
    if not isinstance(call_id, str) or not call_id:
        problems.append(f"call_id is {call_id!r}")
    name = item.get("name")
    expected = WEATHER_TOOL["function"]["name"]
    if name != expected:
        problems.append(f"name is {name!r}, not {expected!r}")
    raw = item.get("arguments")
    if not isinstance(raw, str):
        problems.append(f"arguments is {type(raw).__name__}, not a string")
        return problems
    try:
        args = orjson.loads(raw)
    except orjson.JSONDecodeError:
        problems.append(f"arguments are not JSON: {raw[:80]!r}")
        return problems
    if not isinstance(args, dict):
        problems.append(f"arguments parse to {type(args).__name__}, not an object")
        return problems
    problems += validate_schema(args, WEATHER_TOOL["function"]["parameters"])
    return problems


def _calls(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [i for i in items if i.get("type") == "function_call"]


# ---- the stream reader ------------------------------------------------------------------------


@dataclass(slots=True)
class _Item:
    index: int
    added: dict[str, Any]
    text: list[str] = field(default_factory=list)
    text_done: str | None = None
    args: list[str] = field(default_factory=list)
    args_done: str | None = None
    done: dict[str, Any] | None = None


@dataclass(slots=True)
class ResponsesStream:
    """What a strict reader makes of a Responses stream: problems break the event contract,
    warnings are departures a client survives."""

    types: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    items: dict[int, _Item] = field(default_factory=dict)
    terminal: dict[str, Any] | None = None

    @property
    def text(self) -> str:
        return "".join("".join(i.text) for _, i in sorted(self.items.items()))

    def calls(self) -> list[dict[str, Any]]:
        """Each function_call item as the stream built it (done item, else added + deltas)."""
        out = []
        for _, item in sorted(self.items.items()):
            if item.added.get("type") != "function_call":
                continue
            call = dict(item.done or item.added)
            if item.done is None:
                call["arguments"] = (
                    item.args_done if item.args_done is not None else "".join(item.args)
                )
            out.append(call)
        return out


def summarize_responses(events: list[SSEEvent]) -> ResponsesStream:
    """Read a Responses stream in one pass, in order (linear in the events, bounded)."""
    s = ResponsesStream()
    by_id: dict[str, int] = {}
    unnamed = 0
    seq_last: int | None = None
    seq_missing = 0
    after_terminal = 0
    for ev in events[:MAX_EVENTS]:
        if ev.bare_cr:
            s.problems.append("a bare CR ends a line (lines must end in LF or CRLF)")
        if ev.bad_utf8:
            s.problems.append("an event is not valid UTF-8")
        if ev.data is None or ev.is_done:
            continue
        obj = ev.json()
        kind = obj.get("type") if isinstance(obj, dict) else None
        if not isinstance(obj, dict) or not isinstance(kind, str):
            s.problems.append(f"an event's data is not a typed JSON object: {ev.data[:80]!r}")
            continue
        s.types.append(kind)
        if s.terminal is not None:
            after_terminal += 1
        name = ev.event
        if name is None:
            unnamed += 1
        elif name != kind:
            s.problems.append(f"event: {name!r} carries data of type {kind!r}")
        seq = obj.get("sequence_number")
        if seq is None:
            seq_missing += 1
        elif not isinstance(seq, int) or isinstance(seq, bool):
            s.problems.append(f"{kind}: sequence_number is {seq!r}, not an integer")
        else:
            if seq_last is not None and seq <= seq_last:
                s.problems.append(f"{kind}: sequence_number {seq} after {seq_last}")
            seq_last = seq
        if len(s.types) == 1 and kind != "response.created":
            s.problems.append(f"the first event is {kind!r}, not 'response.created'")
        _read_event(s, kind, obj, by_id)
    if len(events) > MAX_EVENTS:
        s.problems.append(f"more than {MAX_EVENTS} events; the rest were not read")
    if after_terminal:
        s.problems.append(f"{after_terminal} event(s) after {s.types[-after_terminal - 1]!r}")
    if s.terminal is None:
        last = s.types[-1] if s.types else "nothing"
        s.problems.append(f"no response.completed: the stream ends with {last!r}")
    if seq_missing and seq_last is not None:
        s.problems.append(f"{seq_missing} event(s) without the sequence_number others carry")
    elif seq_missing:
        s.warnings.append("no event carries sequence_number")
    if unnamed:
        s.warnings.append(f"{unnamed} event(s) without an `event:` line (clients may drop them)")
    for index, item in sorted(s.items.items()):
        _finish_item(s, index, item)
    return s


def _item_of(
    s: ResponsesStream, kind: str, obj: dict[str, Any], by_id: dict[str, int]
) -> _Item | None:
    index = obj.get("output_index")
    if not isinstance(index, int):
        index = by_id.get(str(obj.get("item_id")), -1)
    item = s.items.get(index)
    if item is None:
        s.problems.append(f"{kind} before response.output_item.added of its item")
    elif item.done is not None:
        s.problems.append(f"{kind} after response.output_item.done of its item")
    return item


def _read_event(s: ResponsesStream, kind: str, obj: dict[str, Any], by_id: dict[str, int]) -> None:
    if kind in TERMINAL or kind == "error":
        if s.terminal is None:
            s.terminal = obj
        if kind in ("response.failed", "error"):
            s.problems.append(f"the stream ended in {kind}: {_short(obj)}")
        return
    if kind == "response.output_item.added":
        index, raw = obj.get("output_index"), obj.get("item")
        if not isinstance(index, int) or not isinstance(raw, dict):
            s.problems.append(f"output_item.added without an integer output_index and an item: "
                              f"{_short(obj)}")  # fmt: skip
            return
        if index in s.items:
            s.problems.append(f"output_item.added twice for output_index {index}")
            return
        s.items[index] = _Item(index=index, added=raw)
        if isinstance(raw.get("id"), str):
            by_id[raw["id"]] = index
        return
    if kind == "response.output_text.delta":
        item = _item_of(s, kind, obj, by_id)
        if item is not None and isinstance(obj.get("delta"), str):
            item.text.append(obj["delta"])
    elif kind == "response.output_text.done":
        item = _item_of(s, kind, obj, by_id)
        if item is not None:
            item.text_done = obj.get("text") if isinstance(obj.get("text"), str) else ""
    elif kind == "response.function_call_arguments.delta":
        item = _item_of(s, kind, obj, by_id)
        if item is not None and isinstance(obj.get("delta"), str):
            item.args.append(obj["delta"])
    elif kind == "response.function_call_arguments.done":
        item = _item_of(s, kind, obj, by_id)
        if item is not None:
            args = obj.get("arguments")
            item.args_done = args if isinstance(args, str) else ""
    elif kind in ("response.content_part.added", "response.content_part.done"):
        _item_of(s, kind, obj, by_id)
    elif kind == "response.output_item.done":
        item = _item_of(s, kind, obj, by_id)
        raw = obj.get("item")
        if item is not None:
            item.done = raw if isinstance(raw, dict) else {}


def _finish_item(s: ResponsesStream, index: int, item: _Item) -> None:
    where = f"output item {index}"
    if item.done is None:
        s.problems.append(f"{where}: no response.output_item.done")
    kind = item.added.get("type")
    if kind == "message":
        text = "".join(item.text)
        if item.text and item.text_done is None:
            s.problems.append(f"{where}: text deltas without response.output_text.done")
        elif item.text_done is not None and item.text_done != text:
            s.problems.append(f"{where}: the deltas join to {text[:60]!r}, output_text.done "
                              f"says {item.text_done[:60]!r}")  # fmt: skip
        done_text = _item_text(item.done)
        if done_text is not None and done_text != text:
            s.problems.append(f"{where}: output_item.done has text {done_text[:60]!r}, the "
                              f"deltas {text[:60]!r}")  # fmt: skip
    elif kind == "function_call":
        args = "".join(item.args)
        if item.args_done is None:
            s.problems.append(f"{where}: no response.function_call_arguments.done")
        elif item.args and item.args_done != args:
            s.problems.append(f"{where}: the argument deltas join to {args[:60]!r}, "
                              f".done says {item.args_done[:60]!r}")  # fmt: skip
        done_args = (item.done or {}).get("arguments", item.args_done)
        if item.args_done is not None and done_args != item.args_done:
            s.problems.append(f"{where}: output_item.done arguments {_short(done_args, 60)} "
                              f"differ from .done {item.args_done[:60]!r}")  # fmt: skip


def _item_text(item: dict[str, Any] | None) -> str | None:
    if not item or not isinstance(item.get("content"), list):
        return None
    parts = [p.get("text") for p in item["content"] if isinstance(p, dict)]
    return "".join(p for p in parts if isinstance(p, str))


def _judge_stream(ctx: Ctx, s: ResponsesStream, what: str) -> None:
    for w in s.warnings:
        ctx.warn(f"{what}: {w}")
    if s.problems:
        more = len(s.problems) - SHOWN
        tail = f" (+{more} more)" if more > 0 else ""
        ctx.fail(f"{what}: " + "; ".join(s.problems[:SHOWN]) + tail)


# ---- the checks -------------------------------------------------------------------------------


@impl("responses.basic")
async def basic(ctx: Ctx) -> None:
    data = await _post(ctx, _body(ctx, BASIC_PROMPT, max_output_tokens=16), "non-streamed")
    items = _output(ctx, data, "non-streamed")
    text = _message_text(ctx, items, "non-streamed")
    status = data.get("status")
    if status != "completed":
        detail = _short(data.get("incomplete_details") or data.get("error"))
        ctx.fail(f"status is {status!r}, not 'completed' ({detail})")
    if not text.strip():
        ctx.fail(f"no output_text in the output: {_short(items)}")
    usage = data.get("usage")
    counts = (
        [usage.get(k) for k in ("input_tokens", "output_tokens")] if isinstance(usage, dict) else []
    )
    if not counts or not all(isinstance(n, int) for n in counts):
        ctx.warn(f"usage lacks integer input_tokens/output_tokens: {_short(usage)}")


@impl("responses.stream-events")
async def stream_events(ctx: Ctx) -> None:
    s = await _stream(ctx, _body(ctx, BASIC_PROMPT, max_output_tokens=16), "streamed")
    _judge_stream(ctx, s, "streamed")
    end = (s.terminal or {}).get("type")
    if end != "response.completed":  # a short answer completes: incomplete is a cut
        ctx.fail(f"the stream ends with {end!r}, not 'response.completed'")
    if not s.text.strip():
        ctx.fail(f"no response.output_text.delta text; events: {s.types[:12]}")
    final = (s.terminal or {}).get("response")
    if not isinstance(final, dict):
        ctx.fail("response.completed carries no response object")
    final_text = _message_text(ctx, _output(ctx, final, "response.completed"), "completed")
    if final_text != s.text:
        ctx.fail(f"response.completed says {final_text[:60]!r}, the deltas {s.text[:60]!r}")


@impl("responses.function-call")
async def function_call(ctx: Ctx) -> None:
    data = await _post(ctx, _call_body(ctx), "non-streamed")
    calls = _calls(_output(ctx, data, "non-streamed"))
    if not calls:
        ctx.fail(f"no function_call item in the output: {_short(data.get('output'), 200)}")
    problems = _call_problems(calls[0])
    if problems:
        ctx.fail("function_call item: " + "; ".join(problems))


@impl("responses.function-call-stream")
async def function_call_stream(ctx: Ctx) -> None:
    s = await _stream(ctx, _call_body(ctx), "streamed")
    _judge_stream(ctx, s, "streamed")
    calls = [i for _, i in sorted(s.items.items()) if i.added.get("type") == "function_call"]
    if not calls:
        ctx.fail(f"no function_call item was streamed; events: {s.types[:12]}")
    head = calls[0].added
    missing = [k for k in ("call_id", "name") if not isinstance(head.get(k), str) or not head[k]]
    if missing:
        ctx.fail(f"output_item.added of the function_call lacks {', '.join(missing)}: "
                 f"{_short(head)}")  # fmt: skip
    problems = _call_problems(s.calls()[0])
    if problems:
        ctx.fail("streamed function_call: " + "; ".join(problems))


@impl("responses.input-items-roundtrip")
async def input_items_roundtrip(ctx: Ctx) -> None:
    input_ = [
        {"role": "user", "content": "What is the weather in Paris?"},
        {"type": "function_call", "call_id": CALL_ID, "name": "get_weather",
         "arguments": CALL_ARGS},
        {"type": "function_call_output", "call_id": CALL_ID, "output": TOOL_OUTPUT},
    ]  # fmt: skip
    body = _body(ctx, input_, max_output_tokens=64, instructions=SYSTEM, tools=[_function_tool()])
    data = await _post(ctx, body, "function_call_output in input")
    items = _output(ctx, data, "function_call_output in input")
    judge_answer(ctx, _message_text(ctx, items, "answer"), len(_calls(items)), "answer")


def _names_statelessness(resp: RawResponse, response_id: str | None = None) -> bool:
    """The error names what a server without a response store refuses: the field, ``store``,
    statelessness, or the response id it cannot find."""
    msg = resp.error_message()
    if response_id is None:
        return bool(_WORD_STORE.search(msg.lower()))
    return response_id in msg or bool(_WORDS_STATELESS.search(msg.lower()))


@impl("responses.previous-response-id")
async def previous_response_id(ctx: Ctx) -> None:
    first_body = _body(ctx, REMEMBER_PROMPT, max_output_tokens=16, store=True)
    resp = await ctx.post_json(PATH, first_body)
    ctx.require_offered(resp, WHAT)
    if 400 <= resp.status < 500 and _names_statelessness(resp):
        ctx.na(f"the server does not store responses: HTTP {resp.status} to store: true: "
               f"{resp.error_message()[:160]}")  # fmt: skip
    ctx.require_2xx(resp, "first turn")
    first = resp.json()
    if not isinstance(first, dict):
        ctx.fail(f"first turn: the body is not a JSON object: {resp.text()[:120]!r}")
    first_items = _output(ctx, first, "first turn")
    first_text = _message_text(ctx, first_items, "first turn")
    if first.get("store") is False:
        ctx.na("the server does not store responses: it answered store: true with store: false")
    rid = str(first["id"])
    resp = await ctx.post_json(
        PATH, _body(ctx, RECALL_PROMPT, max_output_tokens=16, previous_response_id=rid)
    )
    declined = resp.status in (400, 404, 422, 501)
    if declined and first.get("store") is True and resp.status == 404:
        ctx.fail(f"the first turn said store: true, yet previous_response_id is not found: "
                 f"{resp.error_message()[:160]}")  # fmt: skip
    # the endpoint answered the first turn: a 404 now is the stored response not found
    if declined and (resp.status == 404 or _names_statelessness(resp, rid)):
        ctx.na(f"the server does not keep responses: HTTP {resp.status}: "
               f"{resp.error_message()[:160]}")  # fmt: skip
    ctx.require_2xx(resp, "second turn")
    second = resp.json()
    if not isinstance(second, dict):
        ctx.fail(f"second turn: the body is not a JSON object: {resp.text()[:120]!r}")
    answer = _message_text(ctx, _output(ctx, second, "second turn"), "second turn")
    if CODE_WORD.lower() in answer.lower():
        return
    # The model may simply not recall: the same turns resent as input tell that apart.
    resent = [
        {"role": "user", "content": REMEMBER_PROMPT},
        {"type": "message", "role": "assistant",
         "content": [{"type": "output_text", "text": first_text}]},
        {"role": "user", "content": RECALL_PROMPT},
    ]  # fmt: skip
    control = await _post(ctx, _body(ctx, resent, max_output_tokens=16), "control")
    recalled = _message_text(ctx, _output(ctx, control, "control"), "control")
    if CODE_WORD.lower() in recalled.lower():
        ctx.fail(f"with previous_response_id the answer ignores the earlier turn "
                 f"({answer[:60]!r}); the same turns resent as input give {recalled[:60]!r}: "
                 f"previous_response_id is accepted and ignored")  # fmt: skip
    ctx.warn(f"inconclusive: the model recalls the code word neither from previous_response_id "
             f"({answer[:40]!r}) nor from the resent turns ({recalled[:40]!r})")  # fmt: skip
