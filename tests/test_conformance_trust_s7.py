"""Trust gaps closed in session 7, each against a hostile server on 127.0.0.1.

* a server that drips bytes for ever: each request ends at ``--request-timeout`` (a total
  deadline, not a per-read one), the check ``error`` naming the option; the SDK layer alike;
* a check that judges a hang itself (vision) still fails it, at the same deadline;
* ``params.seed`` says where two answers part, not their common first 40 characters.

One loopback server serves every scenario: the first path segment of the base URL names it
(``http://127.0.0.1:PORT/<scenario>/v1``)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

import any_agent.client  # noqa: F401 - loaded here, not inside a check's sub-second deadline
from conformance.catalogue import checks as registry
from conformance.catalogue.profiles import PROFILES
from conformance.harness.context import Target
from conformance.harness.recording import Manifest
from conformance.harness.runner import Column, run_item
from conformance.results import CheckResult

Step = bytes | float
#: (status, content type, body steps); a float step sleeps that long.
Reply = tuple[int, str, Iterator[Step]]
Scenario = Callable[[str, dict[str, Any]], Reply]

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
    return 200, "text/event-stream", _forever(_chunk({"role": "assistant", "content": "Hi"}),
                                              b": ping\n\n")  # fmt: skip


def drip_tokens(path: str, body: dict[str, Any]) -> Reply:
    """A token every 50 ms, for ever, and never a finish_reason."""
    return (
        200,
        "text/event-stream",
        _forever(_chunk({"role": "assistant"}), _chunk({"content": "a"})),
    )


def drip_json(path: str, body: dict[str, Any]) -> Reply:
    """A non-streamed JSON body that never ends: a space every 50 ms."""
    return 200, "application/json", _forever(b'{"choices": [', b" ")


def seed(path: str, body: dict[str, Any]) -> Reply:
    """Two answers that agree for 60 characters and then part."""
    seed.calls += 1  # type: ignore[attr-defined]
    common = "As I sat at my desk, surrounded by the remains of the day, I "
    tail = "wrote a letter." if seed.calls % 2 else "made some tea."  # type: ignore[attr-defined]
    return 200, "application/json", iter([json.dumps(_chat(common + tail)).encode()])


seed.calls = 0  # type: ignore[attr-defined]

SCENARIOS: dict[str, Scenario] = {
    "drip": drip,
    "drip-tokens": drip_tokens,
    "drip-json": drip_json,
    "seed": seed,
}
#: Requests whose client left before the body ended, per scenario.
LEFT: dict[str, int] = {}


class _Handler(BaseHTTPRequestHandler):
    def log_message(self, *args: Any) -> None:
        pass

    def _answer(self, body: dict[str, Any]) -> None:
        scenario, _, rest = self.path.lstrip("/").partition("/")
        path = rest.removeprefix("v1/")
        if self.command == "GET" and path == "models":
            status, ctype, steps = 200, "application/json", iter([b'{"data": [{"id": "m"}]}'])
        elif scenario not in SCENARIOS or self.command != "POST":
            status, ctype, steps = 404, "application/json", iter([b'{"error": "no route"}'])
        else:
            status, ctype, steps = SCENARIOS[scenario](path, body)
        self.send_response(status)
        self.send_header("content-type", ctype)
        self.end_headers()  # HTTP/1.0: the body ends when the connection closes
        try:
            for step in steps:
                if isinstance(step, float):
                    time.sleep(step)
                else:
                    self.wfile.write(step)
                    self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            LEFT[scenario] = LEFT.get(scenario, 0) + 1  # the client stopped reading

    def do_GET(self) -> None:
        self._answer({})

    def do_POST(self) -> None:
        raw = self.rfile.read(int(self.headers.get("content-length") or 0))
        self._answer(json.loads(raw or b"{}"))


@pytest.fixture(scope="module")
def port() -> Iterator[int]:
    srv = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    srv.daemon_threads = True
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield srv.server_address[1]
    srv.shutdown()
    srv.server_close()


def _run(
    port: int, scenario: str, check_ids: list[str], layer: str = "wire", **target: Any
) -> dict[str, CheckResult]:
    url = f"http://127.0.0.1:{port}/{scenario}/v1"
    tgt = Target(provider="generic", profile=PROFILES["generic"], base_url=url, model="m",
                 mode="live", **target)  # fmt: skip
    column = Column(
        target=tgt,
        cassette_dir=Path("unused"),
        manifest=Manifest(provider="generic", model="m", base_url=url),
    )
    return {cid: run_item(registry.get(cid), layer, column) for cid in check_ids}  # type: ignore[arg-type]


# ---- 1. a slow drip: the request's total deadline ------------------------------------------


@pytest.mark.parametrize("scenario", ["drip", "drip-tokens", "drip-json"])
def test_a_body_that_drips_for_ever_ends_the_check_at_the_request_timeout(
    port: int, scenario: str
) -> None:
    before = LEFT.get(scenario, 0)
    # a streamed check and a non-streamed one; neither ever sees the body end
    res = _run(port, scenario, ["stream.done-sentinel", "params.usage"], request_timeout=0.4)
    for r in res.values():
        assert r.outcome == "error", (r.check, r.message)
        # the request's own deadline, not the check's (4 x 0.4 = 1.6 s) ended it
        assert "did not finish within 0.4 s (--request-timeout; HTTP 200" in r.message, r.message
        assert "1.6 s" not in r.message
        assert r.evidence.response_excerpt  # what arrived by then is the evidence
    # and the connection was closed, not left dripping
    deadline = time.monotonic() + 10
    while LEFT.get(scenario, 0) < before + 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert LEFT.get(scenario, 0) >= before + 2


def test_the_sdk_layer_ends_at_the_request_timeout_with_a_typed_error(port: int) -> None:
    res = _run(port, "drip-tokens", ["stream.unicode", "tools.call-shape"], layer="sdk",
               request_timeout=0.4)  # fmt: skip
    for r in res.values():
        assert r.outcome == "error", (r.check, r.message)
        assert "OverallTimeoutError: the request took longer than timeout=0.4s" in r.message
        assert "--request-timeout 0.4 s" in r.message
        # the conversation as it stood is the evidence: the prompt is there
        assert '"role": "user"' in (r.evidence.response_excerpt or ""), r.evidence


def test_a_hang_on_an_image_is_still_a_failure_of_the_vision_check(port: int) -> None:
    # vision.malformed-image judges "never a hang" itself: the deadline is its verdict
    res = _run(port, "drip-json", ["vision.malformed-image"], request_timeout=0.4)
    r = res["vision.malformed-image"]
    assert r.outcome == "fail", r.message
    assert "no complete answer within 0.4 s" in r.message
    assert "(--request-timeout)" in r.message


# ---- params.seed's message ------------------------------------------------------------------


def test_the_seed_check_shows_where_the_two_answers_part(port: int) -> None:
    r = _run(port, "seed", ["params.seed"])["params.seed"]
    assert r.outcome == "fail", r.message
    # 61 characters in common: the 62nd is the first that differs
    assert "differ from character 62" in r.message, r.message
    assert "'…mains of the day, I wrote a letter.' / '…mains of the day, I made some tea.'" \
        in r.message  # fmt: skip
