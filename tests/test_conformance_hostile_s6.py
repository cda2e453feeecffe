"""Hostile servers against the suite-0.2 checks (``messages``, ``responses``, the new tools and
reasoning checks) and the harness under them: every malformed answer ends the check ``fail``
with a message naming what is wrong, never ``error: harness error: <Python exception>``, never
a hang, never an unbounded read.

One loopback server serves every scenario: the first path segment of the base URL names it
(``http://127.0.0.1:PORT/<scenario>/v1``), so a whole module shares one socket
(:mod:`hostile_server`)."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hostile_server import Reply, Scenario, Step, run_checks, serve
from test_conformance_plugin import results, run

from conformance.harness import http
from conformance.harness.stream import (
    MAX_JSON_DEPTH,
    MAX_SSE_EVENTS,
    SSEEvent,
    loads_bounded,
    parse_sse,
    summarize_stream,
    too_deep,
)
from conformance.plugin import shown
from conformance.results import CheckResult, Layer

DEEP = "[" * 1000 + "]" * 1000  # valid JSON (orjson reads 1024 levels), past every repr


def _json(obj: Any, status: int = 200, raw: str | None = None) -> Reply:
    text = raw if raw is not None else json.dumps(obj)
    return status, "application/json", [text.encode()], {}


def _sse(*frames: bytes) -> Reply:
    return 200, "text/event-stream", list(frames), {}


def _ev(data: Any, name: str | None = None, end: bytes = b"\n") -> bytes:
    head = f"event: {name}".encode() + end if name else b""
    body = data if isinstance(data, str) else json.dumps(data)
    return head + b"data: " + body.encode() + end + end


def _chat(message: Any, **extra: Any) -> dict[str, Any]:
    choice = {"index": 0, "message": message, "finish_reason": "stop"}
    return {"id": "c1", "object": "chat.completion", "choices": [choice], **extra}


def _chunk(delta: Any = None, finish: str | None = None, **raw: Any) -> bytes:
    choices = raw.pop("choices", [{"index": 0, "delta": delta or {}, "finish_reason": finish}])
    return _ev({"id": "c1", "object": "chat.completion.chunk", "choices": choices, **raw})


def _tool_names(body: dict[str, Any]) -> set[str]:
    return {t.get("function", {}).get("name") for t in body.get("tools") or []}


def _message_start() -> bytes:
    msg = {
        "id": "m1",
        "type": "message",
        "role": "assistant",
        "content": [],
        "usage": {"input_tokens": 3, "output_tokens": 0},
    }
    return _ev({"type": "message_start", "message": msg}, "message_start")


# ---- the scenarios ---------------------------------------------------------------------------


def shapes(path: str, body: dict[str, Any]) -> Reply:
    """Bodies of the wrong JSON type for each endpoint."""
    if path == "messages":
        return _json([{"type": "message"}])
    if path == "responses":
        return _json("a string, not a response")
    return _json(_chat("the message is a string"))


def deep(path: str, body: dict[str, Any]) -> Reply:
    """Values nested 1000 levels deep where checks quote what they got."""
    if path == "messages" and body.get("stream"):
        return _sse(_message_start(), _ev(f'{{"type": "error", "error": {DEEP}}}', "error"))
    if path == "messages":
        return _json(None, raw=f'{{"type": {DEEP}, "role": "assistant", "content": []}}')
    if path == "responses" and body.get("stream"):
        return _sse(_ev(f'{{"type": "response.failed", "response": {DEEP}}}', "response.failed"))
    if path == "responses":
        return _json(None, raw=f'{{"object": {DEEP}, "id": "r1", "output": []}}')
    reply = '{"choices": [{"index": 0, "message": {"content": "4", "reasoning_content": "2+2"}}]'
    return _json(None, raw=reply + f', "usage": {{"x": {DEEP}}}}}')


def messages_shapes(path: str, body: dict[str, Any]) -> Reply:
    """content a number; a streamed block index that is a list."""
    if body.get("stream"):
        start = {
            "type": "content_block_start",
            "index": 0,
            "content_block": {"type": "text", "text": ""},
        }
        delta = {
            "type": "content_block_delta",
            "index": [0],
            "delta": {"type": "text_delta", "text": "OK"},
        }
        stop = {"type": "content_block_stop", "index": {"i": 0}}
        return _sse(
            _message_start(),
            _ev(start, "content_block_start"),
            _ev(delta, "content_block_delta"),
            _ev(stop, "content_block_stop"),
        )
    return _json(
        {
            "id": "m1",
            "type": "message",
            "role": "assistant",
            "content": 5,
            "stop_reason": ["tool_use"],
            "usage": {"input_tokens": 1, "output_tokens": 1},
        }
    )


def chat_shapes(path: str, body: dict[str, Any]) -> Reply:
    """Chat answers whose inner fields have the wrong types, per new check."""
    names = _tool_names(body)
    messages = body.get("messages") or []
    if body.get("stream"):  # tools.reasoning-then-call: a call whose name is a list
        call = {
            "index": 0,
            "id": "call_1",
            "type": "function",
            "function": {"name": ["get_weather"], "arguments": '{"city": "Paris"}'},
        }
        return _sse(
            _chunk({"role": "assistant", "reasoning_content": "I should call it."}),
            _chunk({"tool_calls": [call]}),
            _chunk(finish="tool_calls"),
            b"data: [DONE]\n\n",
        )
    if "plan_trip" in names:  # tools.args-nested: function is a string
        call = {"id": "call_1", "type": "function", "function": "plan_trip"}
        return _json(_chat({"role": "assistant", "content": None, "tool_calls": [call]}))
    if any(isinstance(m, dict) and m.get("role") == "tool" for m in messages):
        return _json({"id": "c1", "choices": "abc"})  # reasoning.interleaved-accepted
    if isinstance(body.get("tool_choice"), dict):  # tools.choice-named: choices a string
        return _json({"id": "c1", "choices": "abc"})
    if names:  # tools.no-needless-call: content a number
        return _json(_chat({"role": "assistant", "content": 7, "tool_calls": 7}))
    if "chat_template_kwargs" in body or "reasoning_effort" in body:
        return _json({"id": "c1", "choices": {"0": {"message": {"content": "4"}}}})
    return _json(_chat({"role": "assistant", "content": "4", "reasoning_content": "2+2 is 4"}))


def chat_stream_odd(path: str, body: dict[str, Any]) -> Reply:
    """A streamed answer with a chunk whose ``choices`` is a number before a sound call."""
    call = {
        "index": 0,
        "id": "call_1",
        "type": "function",
        "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
    }
    return _sse(
        _chunk(choices=5),
        _chunk({"role": "assistant", "reasoning_content": "Call it."}),
        _chunk({"tool_calls": [call]}),
        _chunk(finish="tool_calls"),
        _chunk(choices=[], usage={"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}),
        b"data: [DONE]\n\n",
    )


TRIP_ARGS = {
    "traveller": {"name": "Ada", "age": 36},
    "transport": "train",
    "stops": [{"city": "Paris", "nights": 2}, {"city": "London", "nights": 3}],
}


def text_call(path: str, body: dict[str, Any]) -> Reply:
    """The call written as text in content, never as tool_calls (a stock template's habit)."""
    call = {"name": "plan_trip", "arguments": TRIP_ARGS}
    if "plan_trip" not in _tool_names(body):
        call = {"name": "get_weather", "arguments": {"city": "Paris"}}
    text = "<tool_call>" + json.dumps(call) + "</tool_call>"
    if not body.get("stream"):
        return _json(_chat({"role": "assistant", "content": text}))
    return _sse(
        _chunk({"role": "assistant", "content": text}), _chunk(finish="stop"), b"data: [DONE]\n\n"
    )


def deep_args(path: str, body: dict[str, Any]) -> Reply:
    """save_note called with arguments nested 1000 levels deep (a string, so JSON in JSON)."""
    call = {
        "index": 0,
        "id": "call_1",
        "type": "function",
        "function": {"name": "save_note", "arguments": f'{{"text": {DEEP}}}'},
    }
    if body.get("stream"):
        return _sse(
            _chunk({"role": "assistant", "tool_calls": [call]}),
            _chunk(finish="tool_calls"),
            b"data: [DONE]\n\n",
        )
    return _json(_chat({"role": "assistant", "content": None, "tool_calls": [call]}))


def no_blank_lines(path: str, body: dict[str, Any]) -> Reply:
    """Events with no blank line between them: the whole stream reads as one event."""
    if path == "messages":
        return _sse(_message_start().replace(b"\n\n", b"\n"), b'data: {"type": "message_stop"}\n')
    frames = [
        {"type": "response.created", "sequence_number": 0},
        {"type": "response.completed", "sequence_number": 1},
    ]
    return _sse(*(b"data: " + json.dumps(f).encode() + b"\n" for f in frames))


def framing(path: str, body: dict[str, Any]) -> Reply:
    """Streams whose lines end in a bare CR (messages) or hold invalid UTF-8 (responses)."""
    if path == "messages":
        stop = {"type": "message_stop"}
        return _sse(_message_start().replace(b"\n", b"\r"), _ev(stop, "message_stop", end=b"\r"))
    created = {"type": "response.created", "sequence_number": 0, "response": {"id": "r1"}}
    bad = (
        b'event: response.in_progress\ndata: {"type": "response.in_progress", '
        b'"sequence_number": 1, "x": "\xff\xfe"}\n\n'
    )
    done = {
        "type": "response.completed",
        "sequence_number": 2,
        "response": {"object": "response", "id": "r1", "output": []},
    }
    return _sse(_ev(created, "response.created"), bad, _ev(done, "response.completed"))


def html(path: str, body: dict[str, Any]) -> Reply:
    return 200, "text/html", [b"<html><body>It works!</body></html>"], {}


REDIRECT_HITS: list[str] = []


def redirect(path: str, body: dict[str, Any]) -> Reply:
    if path.startswith("target"):
        REDIRECT_HITS.append(path)
        return _json({"type": "message"})
    return 302, "text/plain", [b"moved"], {"location": "/redirect/v1/target"}


#: An error message that would rewrite a terminal: erase the line, move up, backspace, bidi.
TERMINAL_TRICKS = "\x1b[2K\x1b[1APASSED\x08\x08 \u202egnissap\x9b31m"


def huge(path: str, body: dict[str, Any]) -> Reply:
    """Endless whitespace (at most 64 MiB, so a client without a bound still ends); for
    /v1/responses an error whose message holds terminal control sequences."""
    if path == "responses":
        return _json({"error": {"message": TERMINAL_TRICKS}}, status=500)
    return 200, "application/json", (b" " * 65536 for _ in range(1024)), {}


def drip(path: str, body: dict[str, Any]) -> Reply:
    """An SSE stream that never ends: one comment byte every 50 ms (for at most 20 s)."""

    def steps() -> Iterator[Step]:
        yield _message_start()
        for _ in range(400):
            yield 0.05
            yield b":"

    return 200, "text/event-stream", steps(), {}


def many_chunks(path: str, body: dict[str, Any]) -> Reply:
    """300 one-byte writes, each its own recv() on the client (a pause between them)."""
    return 200, "text/plain", [s for _ in range(300) for s in (b"x", 0.002)], {}


SCENARIOS: dict[str, Scenario] = {
    "shapes": shapes,
    "deep": deep,
    "messages-shapes": messages_shapes,
    "chat-shapes": chat_shapes,
    "chat-stream-odd": chat_stream_odd,
    "text-call": text_call,
    "framing": framing,
    "deep-args": deep_args,
    "no-blank-lines": no_blank_lines,
    "html": html,
    "redirect": redirect,
    "huge": huge,
    "drip": drip,
    "many-chunks": many_chunks,
}


@pytest.fixture(scope="module")
def port() -> Iterator[int]:
    with serve(SCENARIOS, model_id="ref-model") as server:
        yield server.port


def _run(
    port: int,
    scenario: str,
    check_ids: list[str],
    layer: Layer = "wire",
    model: str = "ref-model",
    **target: Any,
) -> dict[str, CheckResult]:
    url = f"http://127.0.0.1:{port}/{scenario}/v1"
    return run_checks(url, check_ids, layer, model=model, **target)


def _expect(res: dict[str, CheckResult], expected: dict[str, tuple[str, str]]) -> None:
    got = {cid: (r.outcome, r.message) for cid, r in res.items()}
    for cid, (outcome, words) in expected.items():
        assert got[cid][0] == outcome, (cid, got[cid])
        assert words in got[cid][1], (cid, got[cid])


# ---- the checks under hostile servers -------------------------------------------------------


def test_bodies_of_the_wrong_json_type_fail_naming_the_type(port: int) -> None:
    res = _run(
        port,
        "shapes",
        ["messages.basic", "responses.basic", "tools.no-needless-call", "reasoning.usage-tokens"],
    )
    _expect(
        res,
        {
            "messages.basic": ("fail", "not a JSON object (list)"),
            "responses.basic": ("fail", "not a JSON object (str)"),
            "tools.no-needless-call": ("fail", "choices[0].message is str, not an object"),
            "reasoning.usage-tokens": ("fail", "choices[0].message is str, not an object"),
        },
    )


def test_json_nested_past_every_repr_fails_instead_of_a_recursion_error(port: int) -> None:
    ids = [
        "messages.basic",
        "messages.stream.event-order",
        "responses.basic",
        "responses.stream-events",
        "reasoning.usage-tokens",
    ]
    res = _run(port, "deep", ids)
    deeper = f"nested deeper than {MAX_JSON_DEPTH} levels"
    _expect(
        res,
        {
            "messages.basic": ("fail", deeper),
            "messages.stream.event-order": ("fail", "data is not a JSON object with a type"),
            "responses.basic": ("fail", deeper),
            "responses.stream-events": ("fail", "not a typed JSON object"),
            "reasoning.usage-tokens": ("fail", "response body is not a JSON object"),
        },
    )


def test_messages_fields_of_the_wrong_type_fail(port: int) -> None:
    ids = ["messages.basic", "messages.tool-use", "messages.stream.event-order",
           "messages.stream.tool-use"]  # fmt: skip
    res = _run(port, "messages-shapes", ids)
    _expect(
        res,
        {
            "messages.basic": ("fail", "stop_reason is ['tool_use'], not one of Anthropic's"),
            "messages.tool-use": ("fail", "content is int, not an array of blocks"),
            "messages.stream.event-order": ("fail", "content_block_delta for index [0], not open"),
            "messages.stream.tool-use": ("fail", "without message_stop"),
        },
    )
    assert "content_block_stop for index {'i': 0}" in res["messages.stream.event-order"].message


def test_chat_fields_of_the_wrong_type_fail_in_the_new_checks(port: int) -> None:
    ids = [
        "tools.args-nested",
        "tools.no-needless-call",
        "tools.reasoning-then-call",
        "reasoning.thinking-off",
        "reasoning.interleaved-accepted",
        "tools.choice-named",
    ]
    res = _run(port, "chat-shapes", ids)
    _expect(
        res,
        {
            "tools.args-nested": ("fail", "call 0: arguments is NoneType, not a string"),
            "tools.no-needless-call": ("fail", "message.content is int, not a string"),
            "tools.reasoning-then-call": ("fail", "unknown tool ''"),
            "reasoning.thinking-off": ("fail", "chat_template_kwargs: response has no choices"),
            "reasoning.interleaved-accepted": ("fail", "reasoning_content: no choices"),
            "tools.choice-named": ("fail", "named get_forecast, got calls none"),
        },
    )


def test_a_chunk_whose_choices_is_a_number_does_not_crash_the_call_order(port: int) -> None:
    res = _run(port, "chat-stream-odd", ["tools.reasoning-then-call", "stream.usage-chunk"])
    for r in res.values():  # the chunk says nothing; the call and the usage are sound
        assert r.outcome in ("pass", "warn"), (r.check, r.message)


def test_bare_cr_line_ends_and_invalid_utf8_are_named(port: int) -> None:
    res = _run(port, "framing", ["messages.stream.event-order", "responses.stream-events"])
    _expect(
        res,
        {
            "messages.stream.event-order": ("fail", "a bare CR ends a line"),
            "responses.stream-events": ("fail", "not valid UTF-8"),
        },
    )


def test_arguments_nested_past_every_repr_fail_the_call(port: int) -> None:
    res = _run(port, "deep-args", ["tools.marker-in-arguments"])
    r = res["tools.marker-in-arguments"]
    assert r.outcome == "fail", r.message
    assert "non-streamed: arguments nest deeper than 128 levels" in r.message
    assert "streamed: arguments nest deeper than 128 levels" in r.message


def test_events_without_blank_lines_fail_as_one_unreadable_event(port: int) -> None:
    res = _run(port, "no-blank-lines", ["messages.stream.event-order", "responses.stream-events"])
    _expect(
        res,
        {
            "messages.stream.event-order": (
                "fail",
                "event 0: data is not a JSON object with a type",
            ),
            "responses.stream-events": ("fail", "an event's data is not a typed JSON object"),
        },
    )


def test_an_empty_model_name_does_not_turn_every_404_into_a_failure(port: int) -> None:
    # "" is in every message: a 404 would read as "naming the model" (the model id can come
    # from the server's own /v1/models list)
    res = _run(port, "no-such-scenario", ["messages.basic", "responses.basic"], model="")
    for r in res.values():
        assert r.outcome == "not-offered", r.message


def test_html_and_redirects_fail_and_are_not_followed(port: int) -> None:
    res = _run(port, "html", ["messages.basic", "responses.basic", "responses.stream-events"])
    _expect(
        res,
        {
            "messages.basic": ("fail", "not a JSON object (not JSON): '<html>"),
            "responses.basic": ("fail", "not a JSON object (not JSON)"),
            "responses.stream-events": ("fail", "'text/html', not text/event-stream"),
        },
    )
    res = _run(port, "redirect", ["messages.basic", "responses.basic"])
    _expect(res, {"messages.basic": ("fail", "HTTP 302"), "responses.basic": ("fail", "HTTP 302")})
    assert REDIRECT_HITS == []


def test_an_endless_body_is_cut_at_the_byte_bound_and_fails_naming_it(port: int) -> None:
    t0 = time.perf_counter()
    res = _run(
        port, "huge", ["messages.basic", "messages.count-tokens"], max_response_bytes=1 << 20
    )
    assert time.perf_counter() - t0 < 10
    for r in res.values():
        assert r.outcome == "fail", r.message
        assert "passed 1048576 bytes (--max-response-bytes)" in r.message
        assert r.evidence.response_excerpt
        assert len(r.evidence.response_excerpt) < 4096


def test_arrival_records_are_bounded_per_body(port: int, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(http, "MAX_CHUNK_TIMES", 50)

    async def go() -> http.RawResponse:
        async with http.WireClient(f"http://127.0.0.1:{port}/many-chunks/v1") as wire:
            return await wire.request("POST", "anything", json={})

    resp = asyncio.run(go())
    assert resp.body == b"x" * 300
    assert len(resp.chunk_times) == 50  # 300 arrivals; the rest folded into the last
    assert sum(n for _, n in resp.chunk_times) == 300
    assert resp.chunk_times[-1][0] == max(t for t, _ in resp.chunk_times)


def test_a_stream_that_never_ends_is_stopped_by_the_request_deadline(port: int) -> None:
    # the bytes keep coming, so no read times out; the request's total deadline ends it
    # (it was the runner's per-check one, 4 x --request-timeout: tests/test_conformance_trust_s7.py)
    t0 = time.perf_counter()
    res = _run(port, "drip", ["messages.stream.event-order"], request_timeout=0.5)
    assert time.perf_counter() - t0 < 6
    r = res["messages.stream.event-order"]
    assert r.outcome == "error", r.message
    assert "did not finish within 0.5 s (--request-timeout; HTTP 200" in r.message


def test_the_plugin_bounds_the_body_and_escapes_server_text(port: int, tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{port}/huge/v1"
    proc = run(
        tmp_path,
        "--base-url",
        url,
        "--checks",
        "messages.basic,responses.basic",
        "--layers",
        "wire",
        "--max-response-bytes",
        "65536",
    )
    res = results(tmp_path)["messages.basic[wire]"]
    assert res["outcome"] == "fail", proc.stdout[-2000:]
    assert "passed 65536 bytes (--max-response-bytes)" in res["message"]
    # the server's control characters reach the terminal escaped, never interpreted
    assert "\\u001b[2K\\u001b[1APASSED\\u0008\\u0008 \\u202egnissap\\u009b31m" in proc.stdout
    assert not any(c in proc.stdout for c in "\x1b\x08\u202e\x9b")
    assert results(tmp_path)["responses.basic[wire]"]["message"].endswith(TERMINAL_TRICKS)


def test_sdk_checks_say_when_a_call_was_recovered_from_text(port: int) -> None:
    res = _run(port, "text-call", ["tools.args-nested", "tools.no-needless-call"], layer="sdk")
    r = res["tools.args-nested"]
    assert r.outcome == "warn", r.message
    assert "['plan_trip'] recovered from the model's text, not a structured call" in r.message
    r = res["tools.no-needless-call"]
    assert r.outcome == "fail", r.message
    assert "ToolUseBlock ['get_weather'] (1 recovered from the model's text)" in r.message


# ---- the stream reader on hand-made bodies ---------------------------------------------------


def test_the_chat_stream_summary_survives_wrongly_typed_fields() -> None:
    body = (
        _chunk({"role": "assistant", "tool_calls": 7}, created=[1])
        + _chunk(
            {
                "tool_calls": [
                    {
                        "index": 0,
                        "id": ["x"],
                        "type": {"t": 1},
                        "function": {"name": ["n"], "arguments": "{}"},
                    }
                ]
            }
        )
        + _chunk(
            {"tool_calls": [{"index": 0, "id": "call_1", "function": {"name": "get_weather"}}]}
        )
        + _chunk(choices=[{"index": 0, "delta": {}, "finish_reason": ["stop"]}])
        + b"data: [DONE]\n\n"
    )
    s = summarize_stream(parse_sse(body))
    (acc,) = s.tool_list()
    assert (acc.id, acc.type, acc.name) == ("call_1", None, "get_weather")
    assert s.finish_reason == "['stop']"  # a string: checks look reasons up in sets
    assert s.done_count == 1
    assert s.done_last


def test_many_done_events_are_summarised_in_linear_time() -> None:
    body = b"data: [DONE]\n\n" * 30_000 + _chunk({"content": "late"})
    t0 = time.perf_counter()
    s = summarize_stream(parse_sse(body))
    assert time.perf_counter() - t0 < 5  # the old rescan after each [DONE] took minutes
    assert s.done_count == 30_000
    assert not s.done_last


def test_the_json_depth_bound_is_iterative_and_exact() -> None:
    at_bound = "[" * MAX_JSON_DEPTH + "]" * MAX_JSON_DEPTH
    assert loads_bounded(at_bound) is not None
    assert loads_bounded("[" + at_bound + "]") is None
    assert not too_deep({"a": [1, {"b": 2}]}, limit=3)
    assert too_deep({"a": [{"b": []}]}, limit=3)
    assert SSEEvent(t=0, data=DEEP).json() is None
    assert loads_bounded(b"1e999") is None  # orjson refuses infinity: "not JSON", no inf
    assert loads_bounded(b'{"a": 1, "a": 2}') == {"a": 2}


def test_a_body_of_tiny_events_is_read_to_a_bound_and_says_so() -> None:
    body = b"data: {}\n\n" * (MAX_SSE_EVENTS + 5000)
    t0 = time.perf_counter()
    events = parse_sse(body)
    assert time.perf_counter() - t0 < 5
    assert len(events) == MAX_SSE_EVENTS + 1
    assert events[-1].cut
    assert not any(e.cut for e in events[:-1])
    problems = summarize_stream(events).problems
    assert problems[-1] == f"more than {MAX_SSE_EVENTS} events; the rest was not read"
    assert not parse_sse(b"data: {}\n\n" * 10)[-1].cut


def test_terminal_text_escapes_controls_and_keeps_only_what_it_is_told() -> None:
    assert shown("a\x1b[2Kb\u202ec\nd") == "a\\u001b[2Kb\\u202ec\\u000ad"
    assert shown("line one\nline two\x07", keep="\n") == "line one\nline two\\u0007"
    assert shown("plain text, 21 °C ☀") == "plain text, 21 °C ☀"
