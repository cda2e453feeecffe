"""Trust gaps closed in session 7, each against a hostile server on 127.0.0.1.

* a server that drips bytes for ever: each request ends at ``--request-timeout`` (a total
  deadline, not a per-read one), the check ``error`` naming the option; the SDK layer alike;
* a check that judges a hang itself (vision) still fails it, at the same deadline;
* ``params.seed`` says where two answers part, not their common first 40 characters.

One loopback server serves every scenario: the first path segment of the base URL names it
(``http://127.0.0.1:PORT/<scenario>/v1``)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
from hostile_server import HostileServer, Reply, Scenario, Step, run_checks, serve

import any_agent.client  # noqa: F401 - loaded here, not inside a check's sub-second deadline
from conformance.results import CheckResult, Layer

#: How often a dripping server writes (it writes for ever, until the client leaves).
DRIP_EVERY = 0.05


def _ev(data: Any) -> bytes:
    return b"data: " + json.dumps(data).encode() + b"\n\n"


def _chunk(delta: dict[str, Any] | None = None, finish: str | None = None) -> bytes:
    choice = {"index": 0, "delta": delta or {}, "finish_reason": finish}
    return _ev({"id": "c1", "object": "chat.completion.chunk", "choices": [choice]})


def _chat(content: str) -> dict[str, Any]:
    message = {"role": "assistant", "content": content}
    return {"id": "c1", "choices": [{"index": 0, "message": message, "finish_reason": "stop"}]}


def _forever(head: bytes, drop: bytes) -> Iterator[Step]:
    yield head
    while True:
        yield DRIP_EVERY
        yield drop


def drip(path: str, body: dict[str, Any]) -> Reply:
    """One content chunk, then a ``: ping`` comment every 50 ms, for ever: every read is
    answered, so no per-read timeout ever fires."""
    steps = _forever(_chunk({"role": "assistant", "content": "Hi"}), b": ping\n\n")
    return 200, "text/event-stream", steps, {}


def drip_tokens(path: str, body: dict[str, Any]) -> Reply:
    """A token every 50 ms, for ever, and never a finish_reason."""
    return (
        200,
        "text/event-stream",
        _forever(_chunk({"role": "assistant"}), _chunk({"content": "a"})),
        {},
    )


def drip_json(path: str, body: dict[str, Any]) -> Reply:
    """A non-streamed JSON body that never ends: a space every 50 ms."""
    return 200, "application/json", _forever(b'{"choices": [', b" "), {}


def seed(path: str, body: dict[str, Any]) -> Reply:
    """Two answers that agree for 60 characters and then part."""
    seed.calls += 1  # type: ignore[attr-defined]
    common = "As I sat at my desk, surrounded by the remains of the day, I "
    tail = "wrote a letter." if seed.calls % 2 else "made some tea."  # type: ignore[attr-defined]
    return 200, "application/json", [json.dumps(_chat(common + tail)).encode()], {}


seed.calls = 0  # type: ignore[attr-defined]

SCENARIOS: dict[str, Scenario] = {
    "drip": drip,
    "drip-tokens": drip_tokens,
    "drip-json": drip_json,
    "seed": seed,
}


@pytest.fixture(scope="module")
def hostile() -> Iterator[HostileServer]:
    with serve(SCENARIOS, model_id="m") as server:
        yield server


def _run(
    hostile: HostileServer,
    scenario: str,
    check_ids: list[str],
    layer: Layer = "wire",
    **target: Any,
) -> dict[str, CheckResult]:
    return run_checks(hostile.url(scenario), check_ids, layer, model="m", **target)


# ---- 1. a slow drip: the request's total deadline ------------------------------------------


@pytest.mark.parametrize("scenario", ["drip", "drip-tokens", "drip-json"])
def test_a_body_that_drips_for_ever_ends_the_check_at_the_request_timeout(
    hostile: HostileServer, scenario: str
) -> None:
    before = hostile.left.get(scenario, 0)
    # a streamed check and a non-streamed one; neither ever sees the body end
    res = _run(hostile, scenario, ["stream.done-sentinel", "params.usage"], request_timeout=0.4)
    for r in res.values():
        assert r.outcome == "error", (r.check, r.message)
        # the request's own deadline, not the check's (4 x 0.4 = 1.6 s) ended it
        assert "did not finish within 0.4 s (--request-timeout; HTTP 200" in r.message, r.message
        assert "1.6 s" not in r.message
        assert r.evidence.response_excerpt  # what arrived by then is the evidence
    # and the connection was closed, not left dripping
    deadline = time.monotonic() + 10
    while hostile.left.get(scenario, 0) < before + 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert hostile.left.get(scenario, 0) >= before + 2


def test_the_sdk_layer_ends_at_the_request_timeout_with_a_typed_error(
    hostile: HostileServer,
) -> None:
    res = _run(hostile, "drip-tokens", ["stream.unicode", "tools.call-shape"], layer="sdk",
               request_timeout=0.4)  # fmt: skip
    for r in res.values():
        assert r.outcome == "error", (r.check, r.message)
        assert "OverallTimeoutError: the request took longer than timeout=0.4s" in r.message
        assert "--request-timeout 0.4 s" in r.message
        # the conversation as it stood is the evidence: the prompt is there
        assert '"role": "user"' in (r.evidence.response_excerpt or ""), r.evidence


def test_a_hang_on_an_image_is_still_a_failure_of_the_vision_check(hostile: HostileServer) -> None:
    # vision.malformed-image judges "never a hang" itself: the deadline is its verdict
    res = _run(hostile, "drip-json", ["vision.malformed-image"], request_timeout=0.4)
    r = res["vision.malformed-image"]
    assert r.outcome == "fail", r.message
    assert "no complete answer within 0.4 s" in r.message
    assert "(--request-timeout)" in r.message


# ---- params.seed's message ------------------------------------------------------------------


def test_the_seed_check_shows_where_the_two_answers_part(hostile: HostileServer) -> None:
    r = _run(hostile, "seed", ["params.seed"])["params.seed"]
    assert r.outcome == "fail", r.message
    # 61 characters in common: the 62nd is the first that differs
    assert "differ from character 62" in r.message, r.message
    assert "'…mains of the day, I wrote a letter.' / '…mains of the day, I made some tea.'" \
        in r.message  # fmt: skip
