"""A hostile OpenAI-compatible server on 127.0.0.1 for the conformance tests, and a way to run
checks against it in process.

One server serves many scenarios: the first path segment of the base URL names one
(``http://127.0.0.1:PORT/<scenario>/v1``), so a whole test module shares one socket. A scenario
answers a request with a status, a content type, body steps and extra headers; a float step
sleeps that long, so a body can drip, stall or never end."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from conformance.catalogue import checks as registry
from conformance.catalogue.profiles import PROFILES
from conformance.harness.context import Target
from conformance.harness.recording import Manifest
from conformance.harness.runner import Column, run_item
from conformance.results import CheckResult, Layer

Step = bytes | float
#: (status, content type, body steps, extra headers).
Reply = tuple[int, str, Iterable[Step], dict[str, str]]
#: ``(path after /v1/, JSON request body) -> Reply``.
Scenario = Callable[[str, dict[str, Any]], Reply]


class HostileServer:
    """The running server: ``port``, and ``left``, how many answers per scenario the client
    stopped reading before their body ended."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.left: dict[str, int] = {}

    def url(self, scenario: str) -> str:
        """The base URL (``.../v1``) whose requests ``scenario`` answers."""
        return f"http://127.0.0.1:{self.port}/{scenario}/v1"


def _handler(
    scenarios: Mapping[str, Scenario], model_id: str, server: HostileServer
) -> type[BaseHTTPRequestHandler]:
    models = json.dumps({"data": [{"id": model_id}]}).encode()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def _answer(self, body: dict[str, Any]) -> None:
            scenario, _, rest = self.path.lstrip("/").partition("/")
            path = rest.removeprefix("v1/")
            reply: Reply
            if self.command == "GET" and path == "models":
                reply = 200, "application/json", [models], {}
            elif scenario not in scenarios or self.command != "POST":
                reply = 404, "application/json", [b'{"error": "no such route"}'], {}
            else:
                reply = scenarios[scenario](path, body)
            status, ctype, steps, headers = reply
            self.send_response(status)
            self.send_header("content-type", ctype)
            for key, value in headers.items():
                self.send_header(key, value)
            self.end_headers()  # HTTP/1.0: the body ends when the connection closes
            try:
                for step in steps:
                    if isinstance(step, float):
                        time.sleep(step)
                    else:
                        self.wfile.write(step)
                        self.wfile.flush()
            except (BrokenPipeError, ConnectionResetError):
                server.left[scenario] = server.left.get(scenario, 0) + 1

        def do_GET(self) -> None:
            self._answer({})

        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("content-length") or 0))
            self._answer(json.loads(raw or b"{}"))

    return Handler


@contextmanager
def serve(scenarios: Mapping[str, Scenario], model_id: str) -> Iterator[HostileServer]:
    """Serve ``scenarios`` on a free port until the block ends; ``/v1/models`` lists
    ``model_id``, an unknown scenario is a 404."""
    state = HostileServer(0)
    srv = ThreadingHTTPServer(("127.0.0.1", 0), _handler(scenarios, model_id, state))
    srv.daemon_threads = True
    state.port = srv.server_address[1]
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        srv.shutdown()
        srv.server_close()


def run_checks(
    base_url: str, check_ids: list[str], layer: Layer = "wire", *, model: str, **target: Any
) -> dict[str, CheckResult]:
    """Run each check live against ``base_url`` (generic profile) through the runner's own
    path, in this process; ``target`` sets further :class:`Target` fields."""
    tgt = Target(provider="generic", profile=PROFILES["generic"], base_url=base_url,
                 model=model, mode="live", **target)  # fmt: skip
    column = Column(
        target=tgt,
        cassette_dir=Path("unused"),
        manifest=Manifest(provider="generic", model=model, base_url=base_url),
    )
    return {cid: run_item(registry.get(cid), layer, column) for cid in check_ids}
