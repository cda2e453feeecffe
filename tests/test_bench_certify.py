"""``make bench-certify`` end to end against the reference server on 127.0.0.1, with a
stand-in for canitoolcall (a script that answers like its ``probe --json``): both runs are
timed, the ratio and the suite's run figures land in the marked section of the report, a
second run replaces that section instead of adding one, and ``make bench``'s rewrite of the
report keeps it; the counters read from a server's ``/metrics`` within their bounds. No
speed is asserted (one bound is: a stalled answer ends at its deadline, not 30 s later)."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from bench.certify import BEGIN, END, kept_section
from conformance.testing.fakeserver import FakeServer

ROOT = Path(__file__).resolve().parent.parent

FAKE_CANI = """\
import json, sys, time
args = sys.argv[1:]
if args == ["--version"]:
    print("canitoolcall 0.0-test")
    raise SystemExit(0)
out = args[args.index("--json") + 1]
time.sleep(0.2)
json.dump({"summary": {"pass": 2}, "outcomes": [{"status": "pass"}, {"status": "pass"}]},
          open(out, "w"))
"""


def _bench(tmp_path: Path, url: str, cani: Path, report: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    env["PYTHONPATH"] = str(ROOT)
    # from tmp_path, so a relative canitoolcall path (as the Makefile passes) is relative to the
    # caller's directory, not to the bench's own working directory
    return subprocess.run(
        [sys.executable, "-m", "bench.certify", "--provider", "generic", "--base-url", url,
         "--model", "ref-model", "--canitoolcall", str(_relative(cani, tmp_path)),
         "--out", str(report),
         "--json", str(tmp_path / "certify.json"), "--", "--layers", "wire",
         "--checks", "stream.*"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip


def _relative(path: Path, start: Path) -> Path:
    return path.relative_to(start) if path.is_relative_to(start) else path


def test_bench_certify_writes_the_ratio_into_its_section(tmp_path: Path) -> None:
    cani = tmp_path / "venv" / "bin" / "canitoolcall"
    cani.parent.mkdir(parents=True)
    cani.write_text(f"#!{sys.executable}\n{FAKE_CANI}", encoding="utf-8")
    cani.chmod(0o755)
    report = tmp_path / "performance.md"
    report.write_text("# any_agent performance report\n\nearlier sections\n", encoding="utf-8")
    with FakeServer() as server:
        for _ in range(2):
            proc = _bench(tmp_path, server.base_url, cani, report)
            assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    text = report.read_text(encoding="utf-8")
    assert text.startswith("# any_agent performance report\n\nearlier sections\n")
    assert text.count(BEGIN) == 1
    assert text.count(END) == 1
    assert "## Certification time" in text
    assert "| this run (`--layers wire --checks stream.*`) |" in text  # the options it had
    assert "canitoolcall 0.0-test" in text
    assert "canitoolcall: 2 pass" in text
    res = json.loads((tmp_path / "certify.json").read_text(encoding="utf-8"))
    assert res["canitoolcall"]["scenarios"] == 2
    assert res["ours"]["items"] >= 10
    assert res["ours"]["stats"]["requests_shared"] > 0  # the suite ran live, sharing
    assert f"{res['ours']['wall_s'] / res['canitoolcall']['wall_s']:.2f}×" in text
    assert kept_section(report).startswith(BEGIN)


def test_bench_certify_refuses_an_unreachable_server(tmp_path: Path) -> None:
    proc = _bench(tmp_path, "http://127.0.0.1:9/v1", tmp_path / "none", tmp_path / "p.md")
    assert proc.returncode == 2
    assert "make server PROVIDER=generic" in proc.stderr
    assert not (tmp_path / "p.md").exists()


@contextlib.contextmanager
def _serving(handler: type[BaseHTTPRequestHandler]) -> Iterator[int]:
    """``handler`` on a free 127.0.0.1 port, for as long as the block runs: the port."""
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    httpd.daemon_threads = True
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        yield httpd.server_address[1]
    finally:
        httpd.shutdown()
        httpd.server_close()


# the shape of llama-server's /metrics (--metrics), Prometheus text with HELP and TYPE lines
METRICS = """\
# HELP llamacpp:prompt_tokens_total Number of prompt tokens processed.
# TYPE llamacpp:prompt_tokens_total counter
llamacpp:prompt_tokens_total {prompt}
# HELP llamacpp:prompt_seconds_total Prompt process time
# TYPE llamacpp:prompt_seconds_total counter
llamacpp:prompt_seconds_total {prompt_s}
llamacpp:tokens_predicted_total {generated}
llamacpp:tokens_predicted_seconds_total {generate_s}
llamacpp:requests_processing 0
"""


def test_server_counters_come_from_the_servers_metrics() -> None:

    from bench.certify import server_counters

    class Metrics(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = METRICS.format(prompt=5192, prompt_s=158.4, generated=3225, generate_s=193.0)
            status = 200 if self.path == "/metrics" else 404
            self.send_response(status)
            self.send_header("content-type", "text/plain; version=0.0.4")
            self.end_headers()
            self.wfile.write(body.encode())

        def log_message(self, *args: object) -> None:
            pass

    with _serving(Metrics) as port:
        got = server_counters(f"http://127.0.0.1:{port}/v1")
    assert got == {"prompt_tokens": 5192, "prompt_s": 158.4, "generated_tokens": 3225,
                   "generate_s": 193.0}  # fmt: skip
    with FakeServer() as server:  # no /metrics there
        assert server_counters(server.base_url) is None
    assert server_counters("http://127.0.0.1:9/v1", timeout=2) is None


def test_the_section_says_how_much_of_each_run_the_server_computed() -> None:
    from bench.certify import render_section

    res = {
        "date": "2026-12-03T17:00:00+00:00", "provider": "llamacpp-tools",
        "base_url": "http://127.0.0.1:8092/v1", "model": "m", "cani_version": "c 0.1",
        "load_start": 0.5, "load_end": 1.0, "machine": "2 cores", "pytest_args": [],
        "canitoolcall": {"wall_s": 100.0, "returncode": 1, "summary": {},
                         "server": {"prompt_s": 30.0, "generate_s": 55.0,
                                    "prompt_tokens": 900.0, "generated_tokens": 800.0}},
        "ours": {"wall_s": 330.0, "returncode": 1, "items": 134, "outcomes": {"pass": 134},
                 "stats": {}, "server": {"prompt_s": 130.0, "generate_s": 170.0,
                                         "prompt_tokens": 4300.0, "generated_tokens": 3200.0}},
    }  # fmt: skip
    text = render_section(res)
    assert "canitoolcall 85 s of its 100 s (85 %)" in text
    assert "the suite 300 s of its 330 s (91 %): 4300 prompt tokens prefilled in 130 s" in text
    res["ours"]["server"] = res["canitoolcall"]["server"] = {}
    assert "Server compute: not reported" in render_section(res)


def test_a_metrics_page_that_is_too_big_or_too_slow_counts_as_none() -> None:
    import time

    from bench.certify import server_counters

    class Hostile(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.end_headers()
            if self.path == "/big/metrics":
                self.wfile.write(b"llamacpp:prompt_seconds_total 1\n" * 40_000)  # 1.3 MB
                return
            # a valid page, one byte every 0.2 s: each read is quick, the whole is not
            for byte in b"llamacpp:prompt_seconds_total 158.4\n":
                self.wfile.write(bytes([byte]))
                self.wfile.flush()
                time.sleep(0.2)

        def log_message(self, *args: object) -> None:
            pass

    with _serving(Hostile) as port:
        assert server_counters(f"http://127.0.0.1:{port}/big/v1") is None
        # read whole (7 s), the page would give prompt_s 158.4: None is the 1 s deadline's
        assert server_counters(f"http://127.0.0.1:{port}/slow/v1", timeout=1.0) is None


def test_counters_that_went_down_say_nothing() -> None:
    from bench.certify import _spent

    before = {"prompt_s": 100.0, "generate_s": 50.0}
    grew = _spent(before, {"prompt_s": 130.0, "generate_s": 80.0})
    assert grew == {"prompt_s": 30.0, "generate_s": 30.0}
    assert _spent(before, {"prompt_s": 3.0, "generate_s": 1.0}) == {}  # the server restarted
    assert _spent(before, {"prompt_s": float("nan"), "generate_s": 60.0}) == {}
    assert _spent(None, before) == {}


def test_a_broken_or_stalling_metrics_answer_counts_as_none_within_the_deadline() -> None:
    import time

    from bench.certify import _reachable, server_counters

    class Broken(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            out = self.wfile
            if self.path == "/chunks/metrics":  # a chunk size that is not hex
                out.write(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\nzz\r\nabc\r\n")
            elif self.path.startswith("/header/"):  # a header line past http.client's limit
                out.write(b"HTTP/1.1 200 OK\r\nx-a: " + b"a" * 70_000 + b"\r\n\r\n")
            elif self.path == "/cut/metrics":  # the connection ends 900 bytes early
                out.write(b"HTTP/1.1 200 OK\r\ncontent-length: 1000\r\n\r\n")
                out.write(b"llamacpp:prompt_seconds_total 158\n")
            else:  # trickled, one byte a second: each read is quick, the whole is not
                head = b"HTTP/1.1 200 OK\r\n" + (b"\r\n" if self.path == "/body/metrics" else b"")
                out.write(head + b"x-a: ")
                with contextlib.suppress(OSError):  # the reader hung up at its deadline
                    for _ in range(30):
                        out.write(b"a")
                        out.flush()
                        time.sleep(1.0)

        def log_message(self, *args: object) -> None:
            pass

    with _serving(Broken) as port:
        for name in ("chunks", "header", "cut"):
            assert server_counters(f"http://127.0.0.1:{port}/{name}/v1", timeout=2.0) is None
        # the reachability check before the runs says why instead of raising
        assert "header line" in str(_reachable(f"http://127.0.0.1:{port}/header/v1", timeout=2.0))
        for name in ("head", "body"):  # in the status line and headers; in the body
            started = time.monotonic()
            assert server_counters(f"http://127.0.0.1:{port}/{name}/v1", timeout=2.0) is None
            # a bound, not a speed: without the deadline the answer ends after 30 s
            assert time.monotonic() - started < 15.0


@pytest.mark.parametrize(
    "page",
    [
        "llamacpp:prompt_seconds_total NaN\nllamacpp:tokens_predicted_seconds_total 3\n",
        "llamacpp:prompt_seconds_total +Inf\nllamacpp:tokens_predicted_seconds_total 3\n",
        "llamacpp:prompt_seconds_total 1e400\nllamacpp:tokens_predicted_seconds_total 3\n",
        "llamacpp:prompt_seconds_total -5\nllamacpp:tokens_predicted_seconds_total 3\n",
        # one counter said twice with two values: which one is the server's is unknown
        "llamacpp:prompt_seconds_total 5\nllamacpp:prompt_seconds_total 900\n"
        "llamacpp:tokens_predicted_seconds_total 3\n",
    ],
)
def test_a_counter_that_is_not_one_finite_count_is_not_read(page: str) -> None:
    from bench.certify import parse_counters

    assert parse_counters(page) == {"generate_s": 3.0}


def test_counters_that_went_down_say_nothing_about_the_run() -> None:
    from bench.certify import _spent, render_section

    # the server restarted between the readings: its counters began again from 0
    before = {"prompt_s": 300.0, "generate_s": 200.0}
    assert _spent(before, {"prompt_s": 20.0, "generate_s": 210.0}) == {}
    assert _spent(before, {"prompt_s": 320.0, "generate_s": 210.0}) == {
        "prompt_s": 20.0, "generate_s": 10.0,
    }  # fmt: skip
    res = {
        "date": "2026-12-03T17:00:00+00:00", "provider": "llamacpp-tools",
        "base_url": "http://127.0.0.1:8092/v1", "model": "m", "cani_version": "c 0.1",
        "load_start": 0.5, "load_end": 1.0, "machine": "2 cores", "pytest_args": [],
        "canitoolcall": {"wall_s": 100.0, "returncode": 1, "summary": {},
                         "server": _spent(before, {"prompt_s": 20.0, "generate_s": 210.0})},
        "ours": {"wall_s": 330.0, "returncode": 1, "items": 134, "outcomes": {"pass": 134},
                 "stats": {}, "server": {}},
    }  # fmt: skip
    text = render_section(res)
    assert "Server compute: not reported" in text
