"""The ``responses`` area (``/v1/responses``): every check passes against the reference server
and fails (or ends n/a / not-offered, where that is the right answer) with the quirk that
breaks it; the stream reader on hand-made bodies; the reference server's bounded store."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from child_pytest import run_pytest

from conformance.catalogue import checks as registry
from conformance.catalogue.profiles import PROFILES
from conformance.checks.responses import MAX_EVENTS, summarize_responses
from conformance.harness.context import Target
from conformance.harness.http import WireClient
from conformance.harness.recording import Manifest
from conformance.harness.runner import Column, run_item
from conformance.harness.stream import parse_sse
from conformance.results import CheckResult
from conformance.testing.fakeserver import QUIRKS, FakeServer

IDS = [c.id for c in registry.CHECKS if c.area == "responses"]


def _run(tmp_path: Path, quirks: list[str], check_ids: list[str]) -> dict[str, CheckResult]:
    with FakeServer(quirks) as srv:
        target = Target(provider="generic", profile=PROFILES["generic"],
                        base_url=srv.base_url, model="ref-model", mode="live")  # fmt: skip
        column = Column(target=target, cassette_dir=tmp_path,
                        manifest=Manifest(provider="generic", model="ref-model",
                                          base_url=srv.base_url))  # fmt: skip
        return {cid: run_item(registry.get(cid), "wire", column) for cid in check_ids}


def test_the_area_is_last_and_new_in_0_2() -> None:
    assert registry.AREAS[-1] == "responses"
    assert len(IDS) == 6
    for cid in IDS:
        check = registry.get(cid)
        assert check.since == "0.2.0"
        assert check.layers == ("wire",)
        assert check.level in check.statement


def test_the_reference_server_passes_every_responses_check(tmp_path: Path) -> None:
    res = _run(tmp_path, [], IDS)
    assert {cid: r.outcome for cid, r in res.items()} == dict.fromkeys(IDS, "pass"), {
        cid: r.message for cid, r in res.items()
    }


def test_a_server_without_the_api_is_not_offered_everywhere(tmp_path: Path) -> None:
    res = _run(tmp_path, ["no-responses-api"], IDS)
    for cid, r in res.items():
        assert r.outcome == "not-offered", (cid, r.message)
        assert "POST /v1/responses: HTTP 404" in r.message


@pytest.mark.parametrize(
    ("quirk", "check", "outcome", "words"),
    [
        ("responses-chat-shape", "responses.basic", "fail", "not 'response'"),
        ("responses-chat-shape", "responses.stream-events", "fail", "not text/event-stream"),
        ("responses-delta-before-item", "responses.stream-events", "fail",
         "before response.output_item.added"),
        ("responses-no-call-id", "responses.function-call", "fail", "call_id is None"),
        ("responses-no-call-id", "responses.function-call-stream", "fail", "lacks call_id"),
        ("responses-args-mismatch", "responses.function-call-stream", "fail",
         "argument deltas join to"),
        ("responses-tools-rejected", "responses.function-call", "fail", "HTTP 400"),
        ("responses-tools-rejected", "responses.function-call-stream", "fail", "HTTP 400"),
        ("responses-tool-output-rejected", "responses.input-items-roundtrip", "fail",
         "function_call_output"),
        ("responses-ignore-previous", "responses.previous-response-id", "fail",
         "accepted and ignored"),
        ("responses-store-lost", "responses.previous-response-id", "fail",
         "said store: true, yet previous_response_id is not found"),
        ("responses-no-store-field+responses-store-lost", "responses.previous-response-id",
         "n/a", "HTTP 404: no stored response with id"),
        ("responses-stateless", "responses.previous-response-id", "n/a",
         "does not support 'previous_response_id'"),
        ("responses-store-ignored", "responses.previous-response-id", "n/a", "store: false"),
    ],
)  # fmt: skip
def test_each_quirk_breaks_its_check(
    tmp_path: Path, quirk: str, check: str, outcome: str, words: str
) -> None:
    quirks = quirk.split("+")
    assert set(quirks) <= set(QUIRKS)
    res = _run(tmp_path, quirks, [check, "responses.basic"])
    assert res[check].outcome == outcome, res[check].message
    assert words in res[check].message
    if quirk != "responses-chat-shape":  # the quirk breaks what it is for, not the basic shape
        assert res["responses.basic"].outcome == "pass", res["responses.basic"].message


# ---- the stream reader ------------------------------------------------------------------------


def _ev(kind: str, seq: int | None, name: str | None = "same", **data: object) -> str:
    obj: dict[str, object] = {"type": kind, **data}
    if seq is not None:
        obj["sequence_number"] = seq
    head = f"event: {kind if name == 'same' else name}\n" if name is not None else ""
    return head + f"data: {json.dumps(obj)}\n\n"


def _body(*events: str) -> bytes:
    return "".join(events).encode()


def _text_stream(
    name: str | None = "same", seqs: tuple[int | None, ...] = (0, 1, 2, 3, 4, 5)
) -> list[str]:
    item = {"type": "message", "id": "m1", "role": "assistant", "content": []}
    done = {**item, "content": [{"type": "output_text", "text": "OK"}]}
    response = {"id": "r", "object": "response", "status": "completed", "output": [done]}
    return [
        _ev("response.created", seqs[0], name, response={**response, "output": []}),
        _ev("response.output_item.added", seqs[1], name, output_index=0, item=item),
        _ev("response.output_text.delta", seqs[2], name, item_id="m1", output_index=0,
            delta="OK"),
        _ev("response.output_text.done", seqs[3], name, item_id="m1", output_index=0, text="OK"),
        _ev("response.output_item.done", seqs[4], name, output_index=0, item=done),
        _ev("response.completed", seqs[5], name, response=response),
    ]  # fmt: skip


def test_a_well_ordered_stream_has_no_problems() -> None:
    s = summarize_responses(parse_sse(_body(*_text_stream())))
    assert (s.problems, s.warnings, s.text) == ([], [], "OK")


def test_a_trailing_done_sentinel_is_tolerated() -> None:
    s = summarize_responses(parse_sse(_body(*_text_stream(), "data: [DONE]\n\n")))
    assert s.problems == []


def test_an_event_name_that_differs_from_its_type_is_a_problem() -> None:
    s = summarize_responses(parse_sse(_body(*_text_stream(name="message"))))
    assert any("event: 'message' carries data of type" in p for p in s.problems)


def test_events_without_names_or_sequence_numbers_are_only_warnings() -> None:
    s = summarize_responses(parse_sse(_body(*_text_stream(name=None, seqs=(None,) * 6))))
    assert s.problems == []
    assert any("without an `event:` line" in w for w in s.warnings)
    assert any("sequence_number" in w for w in s.warnings)


def test_a_sequence_number_going_back_is_a_problem() -> None:
    s = summarize_responses(parse_sse(_body(*_text_stream(seqs=(0, 1, 2, 2, 3, 4)))))
    assert any("sequence_number 2 after 2" in p for p in s.problems)


def test_completed_not_last_and_created_not_first_are_problems() -> None:
    events = _text_stream()
    s = summarize_responses(parse_sse(_body(events[1], events[0], *events[2:], events[2])))
    assert any("the first event is 'response.output_item.added'" in p for p in s.problems)
    assert any("after 'response.completed'" in p for p in s.problems)
    cut = summarize_responses(parse_sse(_body(*events[:-1])))
    assert any("no response.completed" in p for p in cut.problems)


def test_a_runaway_stream_is_read_only_up_to_the_bound() -> None:
    delta = _ev("response.output_text.delta", None, item_id="m1", output_index=0, delta="x")
    events = _text_stream(seqs=(None,) * 6)
    s = summarize_responses(parse_sse(_body(*events[:2], delta * (MAX_EVENTS + 50))))
    assert any(f"more than {MAX_EVENTS} events" in p for p in s.problems)
    assert len(s.types) == MAX_EVENTS


# ---- the reference server -----------------------------------------------------------------------


def test_the_reference_servers_response_store_is_bounded() -> None:
    async def go(base_url: str) -> tuple[int, int]:
        async with WireClient(base_url) as wire:
            ids = []
            for i in range(FakeServer.RESPONSES_KEPT + 1):
                body = {"model": "ref-model", "input": f"Say OK {i}", "max_output_tokens": 16}
                ids.append((await wire.request("POST", "responses", json=body)).json()["id"])
            status = []
            for rid in (ids[0], ids[-1]):
                body = {"model": "ref-model", "input": "Say OK", "previous_response_id": rid}
                status.append((await wire.request("POST", "responses", json=body)).status)
            return status[0], status[1]

    with FakeServer() as srv:
        oldest, newest = asyncio.run(go(srv.base_url))
    assert (oldest, newest) == (404, 200)


# ---- through the plugin -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("quirk", "code", "expected"),
    [
        ("no-responses-api", 0, dict.fromkeys(IDS, "not-offered")),
        ("responses-no-call-id", 1, {**dict.fromkeys(IDS, "pass"),
                                     "responses.function-call": "fail",
                                     "responses.function-call-stream": "fail"}),
    ],
)  # fmt: skip
def test_through_the_plugin_not_offered_passes_the_run_and_a_must_failure_fails_it(
    tmp_path: Path, quirk: str, code: int, expected: dict[str, str]
) -> None:
    with FakeServer([quirk]) as srv:
        proc = run_pytest(tmp_path, "-q", "--base-url", srv.base_url, "--checks", "responses.*")
    assert proc.returncode == code, proc.stdout[-2000:]
    data = json.loads((tmp_path / "reports/results/generic__ref-model.json").read_text())
    assert {r["check"]: r["outcome"] for r in data["results"]} == expected
