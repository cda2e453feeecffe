"""The ``messages`` area (the Anthropic Messages API, ``/v1/messages``): every check passes on
the reference server, fails with the quirk a real server has, ends ``not-offered`` where the
endpoint is absent; and the strict stream reader judges event orders it is handed."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sse_server import Reply, Request, SSEServer
from test_conformance_plugin import results, run

from conformance.catalogue import checks as registry
from conformance.catalogue.checks import IMPLEMENTATIONS
from conformance.catalogue.profiles import PROFILES
from conformance.checks.messages import MAX_STREAM_EVENTS, read_message_stream
from conformance.harness.context import Ctx, Target, Verdict
from conformance.harness.http import WireClient
from conformance.harness.stream import parse_sse
from conformance.testing.fakeserver import QUIRKS, FakeServer

MESSAGES_CHECKS = [c.id for c in registry.CHECKS if c.area == "messages"]


Outcome = tuple[str, str, list[str], list[dict[str, object]]]


def check_at(check_id: str, base_url: str, model: str = "ref-model") -> Outcome:
    """(outcome, message, warnings, requests sent) of one wire check; any exception other
    than a verdict escapes (a harness error)."""
    target = Target(provider="generic", profile=PROFILES["generic"], base_url=base_url,
                    model=model, mode="live")  # fmt: skip

    async def go() -> Outcome:
        async with WireClient(base_url) as wire:
            ctx = Ctx(registry.get(check_id), "wire", target, wire=wire)
            try:
                await IMPLEMENTATIONS[(check_id, "wire")](ctx)
            except Verdict as verdict:
                sent = [x["request"] for x in ctx.exchanges]
                return verdict.outcome, verdict.message, ctx.warnings, sent
            sent = [x["request"] for x in ctx.exchanges]
            return ("warn" if ctx.warnings else "pass"), "", ctx.warnings, sent

    return asyncio.run(go())


def run_check(check_id: str, quirks: tuple[str, ...] = (), *, model: str = "ref-model") -> Outcome:
    """One wire check against the reference server with ``quirks``."""
    with FakeServer(quirks) as srv:
        return check_at(check_id, srv.base_url, model)


# ---- the catalogue -----------------------------------------------------------------------------


def test_the_messages_area_follows_errors_and_holds_the_six_checks() -> None:
    areas = registry.AREAS
    assert areas.index("messages") > areas.index("errors")
    assert MESSAGES_CHECKS == [
        "messages.basic",
        "messages.stream.event-order",
        "messages.tool-use",
        "messages.stream.tool-use",
        "messages.tool-result",
        "messages.count-tokens",
    ]
    for check_id in MESSAGES_CHECKS:
        check = registry.get(check_id)
        assert check.since == "0.2.0"
        assert check.layers == ("wire",)  # any_agent does not speak the Messages API
    assert registry.get("messages.tool-use").requires == ("tools",)
    assert registry.get("messages.basic").requires == ()


# ---- the reference server and its quirks ------------------------------------------------------


@pytest.mark.parametrize("check_id", MESSAGES_CHECKS)
def test_every_messages_check_passes_on_the_reference_server(check_id: str) -> None:
    outcome, message, warnings, sent = run_check(check_id)
    assert (outcome, warnings) == ("pass", []), message
    for body in sent:
        assert isinstance(body, dict)
        assert body["path"] in ("messages", "messages/count_tokens")
        req = body["body"]
        assert isinstance(req, dict)
        assert "seed" not in req  # the Messages API has no seed; strict servers reject it
        if body["path"] == "messages":
            assert req["temperature"] == 0
            assert req["max_tokens"] <= 96


@pytest.mark.parametrize(
    ("check_id", "quirk", "needle"),
    [
        ("messages.basic", "msg-openai-stop-reason", "stop_reason is 'stop'"),
        ("messages.stream.event-order", "msg-no-event-lines", "no event: line"),
        ("messages.stream.event-order", "msg-openai-stop-reason", "stop_reason is 'stop'"),
        ("messages.tool-use", "msg-tool-input-string", "input is str, not a JSON object"),
        ("messages.tool-use", "msg-openai-stop-reason", "not 'tool_use'"),
        ("messages.stream.tool-use", "msg-stream-empty-tool-input", "no input_json_delta"),
        ("messages.tool-result", "msg-tool-result-500", "HTTP 500"),
        ("messages.count-tokens", "msg-count-tokens-constant", "a longer prompt counts 1"),
    ],
)
def test_each_messages_check_fails_with_its_quirk(check_id: str, quirk: str, needle: str) -> None:
    assert quirk in QUIRKS
    outcome, message, _, _ = run_check(check_id, (quirk,))
    assert outcome == "fail", message
    assert needle in message


def test_a_tool_use_start_without_input_is_a_warning_not_a_failure() -> None:
    outcome, message, warnings, _ = run_check(
        "messages.stream.tool-use", ("msg-tool-start-no-input",)
    )
    assert outcome == "warn", message
    assert any("has no input" in w for w in warnings)


@pytest.mark.parametrize("check_id", MESSAGES_CHECKS)
def test_a_server_without_the_messages_api_is_not_offered(check_id: str) -> None:
    outcome, message, _, sent = run_check(check_id, ("no-messages-api",))
    assert outcome == "not-offered", message
    assert "HTTP 404" in message
    assert len(sent) == 1  # the first 404 ends the check


def test_count_tokens_alone_can_be_not_offered() -> None:
    outcome, message, _, _ = run_check("messages.count-tokens", ("no-count-tokens",))
    assert outcome == "not-offered", message
    assert "POST /v1/messages/count_tokens: HTTP 404" in message
    assert run_check("messages.basic", ("no-count-tokens",))[0] == "pass"


def test_a_404_that_names_the_model_is_a_failure_not_an_absent_api() -> None:
    outcome, message, _, _ = run_check("messages.basic", model="not-served-model")
    assert outcome == "fail"
    assert "naming the model" in message


def test_the_plugin_runs_the_area_and_reports_not_offered_as_skipped(tmp_path: Path) -> None:
    with FakeServer(["no-messages-api"]) as srv:
        proc = run(tmp_path, "--base-url", srv.base_url, "--checks", "messages.*")
    assert proc.returncode == 0, proc.stdout[-2000:]
    res = results(tmp_path)
    assert set(res) == {f"{c}[wire]" for c in MESSAGES_CHECKS}
    assert {r["outcome"] for r in res.values()} == {"not-offered"}
    assert "not-offered" in proc.stdout


def test_a_must_failure_in_the_area_fails_the_session(tmp_path: Path) -> None:
    with FakeServer(["msg-tool-result-500"]) as srv:
        proc = run(tmp_path, "--base-url", srv.base_url, "--checks", "messages.*")
    assert proc.returncode == 1
    res = results(tmp_path)
    assert res["messages.tool-result[wire]"]["outcome"] == "fail"
    assert res["messages.basic[wire]"]["outcome"] == "pass"


@pytest.mark.parametrize("quirk", ["msg-stream-empty-tool-input", "no-messages-api"])
def test_a_recording_of_the_area_replays_offline_with_the_same_outcomes(
    tmp_path: Path, quirk: str
) -> None:
    with FakeServer([quirk]) as srv:
        rec = run(tmp_path, "--base-url", srv.base_url, "--conformance-mode", "record",
                  "--checks", "messages.*")  # fmt: skip
    assert rec.returncode in (0, 1), rec.stdout[-2000:]
    recorded = {k: r["outcome"] for k, r in results(tmp_path).items()}
    assert "error" not in recorded.values()
    assert len(recorded) == len(MESSAGES_CHECKS)
    (tmp_path / "reports").rename(tmp_path / "reports-record")
    proc = run(tmp_path, "--conformance-mode", "replay")  # the server is gone
    assert proc.returncode == rec.returncode, proc.stdout[-2000:]
    assert {k: r["outcome"] for k, r in results(tmp_path).items()} == recorded
    if quirk == "no-messages-api":
        assert set(recorded.values()) == {"not-offered"}
    else:
        assert recorded["messages.stream.tool-use[wire]"] == "fail"
        assert recorded["messages.count-tokens[wire]"] == "pass"


# ---- hostile servers -------------------------------------------------------------------------

HOSTILE_BODIES: list[object] = [
    [],
    "OK",
    {"type": "message"},
    {"type": "message", "role": "assistant", "id": "m", "content": "OK", "stop_reason": "end_turn",
     "usage": []},
    {"type": "message", "role": "assistant", "id": "m", "content": [1, None, {"type": 5}]},
    {"content": [{"type": "tool_use", "id": [], "name": {}, "input": [1]}], "stop_reason": 7},
    {"content": [{"type": "text", "text": None}], "usage": {"input_tokens": True}},
    {"input_tokens": "3"},
    {"input_tokens": [1]},
]  # fmt: skip
HOSTILE_STREAMS: list[bytes] = [
    b"data: [DONE]\n\n",
    b"event: message_start\ndata: {\n\n",
    b"\xff\xfe\x00 not sse at all",
    b"event: message_start\ndata: " + json.dumps({"type": "message_start"}).encode() + b"\n\n",
    b"data: " + json.dumps({"type": "content_block_start", "index": 0,
                            "content_block": ["tool_use"]}).encode() + b"\n\n",
    b"data: " + json.dumps({"type": "content_block_delta", "index": {}, "delta": []}).encode()
    + b"\n\n",
]  # fmt: skip


@pytest.mark.parametrize("case", range(max(len(HOSTILE_BODIES), len(HOSTILE_STREAMS))))
def test_a_hostile_server_gets_a_verdict_never_a_crash(sse_server: SSEServer, case: int) -> None:
    body = HOSTILE_BODIES[case % len(HOSTILE_BODIES)]
    stream = HOSTILE_STREAMS[case % len(HOSTILE_STREAMS)]

    def reply(req: Request) -> Reply:
        if isinstance(req.json, dict) and req.json.get("stream"):
            return Reply(chunks=[stream])
        return Reply(body=body)

    for path in ("/v1/messages", "/v1/messages/count_tokens"):
        sse_server.script.add(reply, path=path, times=None)
    for check_id in MESSAGES_CHECKS:
        outcome, message, _, _ = check_at(check_id, sse_server.url)
        assert outcome == "fail", (check_id, message)


# ---- the stream reader -------------------------------------------------------------------------


def _sse(*events: dict[str, object], named: bool = True) -> bytes:
    out = b""
    for e in events:
        if named:
            out += f"event: {e['type']}\n".encode()
        out += b"data: " + json.dumps(e).encode() + b"\n\n"
    return out


MSG = {"type": "message", "role": "assistant", "content": [], "usage": {"input_tokens": 3}}
START = {"type": "message_start", "message": MSG}
TEXT_START = {"type": "content_block_start", "index": 0,
              "content_block": {"type": "text", "text": ""}}  # fmt: skip
DELTA = {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "OK"}}
STOP = {"type": "content_block_stop", "index": 0}
MDELTA = {"type": "message_delta", "delta": {"stop_reason": "end_turn"},
          "usage": {"output_tokens": 1}}  # fmt: skip
MSTOP = {"type": "message_stop"}
PING = {"type": "ping"}


def test_a_well_ordered_stream_has_no_problems() -> None:
    s = read_message_stream(parse_sse(_sse(START, PING, TEXT_START, DELTA, PING, STOP, MDELTA,
                                           MSTOP)))  # fmt: skip
    assert (s.problems, s.warnings) == ([], [])
    assert (s.text, s.stop_reason, s.stopped) == ("OK", "end_turn", True)


@pytest.mark.parametrize(
    ("events", "needle"),
    [
        (
            (TEXT_START, START, DELTA, STOP, MDELTA, MSTOP),
            "the first event is 'content_block_start'",
        ),
        ((START, DELTA, STOP, MDELTA, MSTOP), "content_block_delta for index 0, not open"),
        ((START, TEXT_START, DELTA, MDELTA, STOP, MSTOP), "message_delta while block(s) [0] open"),
        ((START, TEXT_START, STOP, DELTA, MDELTA, MSTOP), "not open"),
        ((START, TEXT_START, DELTA, STOP, MSTOP), "message_stop without a message_delta"),
        ((START, TEXT_START, DELTA, STOP, MDELTA), "without message_stop"),
        ((START, TEXT_START, DELTA, STOP, MDELTA, MSTOP, DELTA), "after message_stop"),
        ((START, {**TEXT_START, "index": 1}), "index 1, expected 0"),
        (
            (
                START,
                TEXT_START,
                {**DELTA, "delta": {"type": "input_json_delta", "partial_json": ""}},
                STOP,
                MDELTA,
                MSTOP,
            ),
            "'input_json_delta' delta in a text block",
        ),
        (
            (START, TEXT_START, DELTA, STOP, {**MDELTA, "delta": {"stop_reason": "stop"}}, MSTOP),
            "stop_reason is 'stop'",
        ),
        ((START, {"type": "error", "error": {"type": "overloaded_error"}}), "error event"),
        ((START, START, MDELTA, MSTOP), "a second message_start"),
    ],
)
def test_the_reader_names_what_is_out_of_order(
    events: tuple[dict[str, object], ...], needle: str
) -> None:
    s = read_message_stream(parse_sse(_sse(*events)))
    assert any(needle in p for p in s.problems), s.problems


@pytest.mark.parametrize("index", [[], {}, True, 0.0, "0", None, -1, 10**30])
def test_a_hostile_block_index_is_a_problem_not_a_crash(index: object) -> None:
    events = [START, {**TEXT_START, "index": index}, {**DELTA, "index": index},
              {**STOP, "index": index}, MDELTA, MSTOP]  # fmt: skip
    s = read_message_stream(parse_sse(_sse(*events)))
    assert any("content_block_start index" in p for p in s.problems), s.problems
    assert any("content_block_delta for index" in p for p in s.problems)
    assert any("content_block_stop for index" in p for p in s.problems)
    assert s.blocks == []


def test_event_names_must_match_the_data_type() -> None:
    body = _sse(START, TEXT_START, DELTA, STOP, MDELTA, MSTOP).replace(
        b"event: content_block_delta", b"event: delta"
    )
    s = read_message_stream(parse_sse(body))
    assert s.problems == ["event 2 is named 'delta' but its data is 'content_block_delta'"]


def test_done_after_message_stop_is_noted_and_done_before_it_is_a_problem() -> None:
    tail = read_message_stream(parse_sse(_sse(START, MDELTA, MSTOP) + b"data: [DONE]\n\n"))
    assert (tail.problems, tail.done_after_stop) == ([], True)
    early = read_message_stream(parse_sse(_sse(START, MDELTA) + b"data: [DONE]\n\n" + _sse(MSTOP)))
    assert any("[DONE]" in p for p in early.problems)


def test_streamed_tool_input_is_the_concatenated_fragments() -> None:
    tool = {"type": "content_block_start", "index": 0,
            "content_block": {"type": "tool_use", "id": "toolu_1", "name": "get_weather",
                              "input": {}}}  # fmt: skip
    frags = [{"type": "content_block_delta", "index": 0,
              "delta": {"type": "input_json_delta", "partial_json": p}}
             for p in ('{"ci', 'ty": "Pa', 'ris"}')]  # fmt: skip
    s = read_message_stream(parse_sse(_sse(START, tool, *frags, STOP, MDELTA, MSTOP)))
    assert s.problems == []
    assert json.loads(s.blocks[0].joined) == {"city": "Paris"}


def test_the_reader_is_bounded_and_linear_on_a_huge_stream() -> None:
    body = _sse(START, TEXT_START) + _sse(DELTA) * 20_000
    events = parse_sse(body)
    t0 = time.perf_counter()
    s = read_message_stream(events)
    assert time.perf_counter() - t0 < 2.0
    assert any(f"more than {MAX_STREAM_EVENTS} events" in p for p in s.problems)
    assert len(s.blocks[0].parts) < MAX_STREAM_EVENTS


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-3, 3) | st.text(max_size=6),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=8,
)
_KINDS = st.sampled_from(["message_start", "content_block_start", "content_block_delta",
                          "content_block_stop", "message_delta", "message_stop", "ping", "error",
                          "other"])  # fmt: skip
_FIELDS = st.fixed_dictionaries(
    {},
    optional={
        "index": _JSON | st.integers(0, 2),
        "delta": _JSON,
        "content_block": _JSON,
        "message": _JSON,
        "usage": _JSON,
        "error": _JSON,
    },
)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(_KINDS, _FIELDS, st.booleans()), max_size=12))
def test_the_reader_survives_any_event_sequence(
    events: list[tuple[str, dict[str, object], bool]],
) -> None:
    body = b"".join(_sse({**fields, "type": kind}, named=named) for kind, fields, named in events)
    s = read_message_stream(parse_sse(body))
    assert s.problems or s.stopped  # a stream without message_stop always has a problem
    assert all(isinstance(p, str) for p in s.problems)
