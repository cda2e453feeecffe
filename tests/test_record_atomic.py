"""Recording never destroys evidence (issue 11, item 9).

A column is recorded against the reference server (``conformance.testing.fakeserver``) into
tmp_path; then a second record run fails in each way a real one does (the server stops
answering, it answers garbage, the run is interrupted, the report directory is unwritable)
and the column must be byte-identical afterwards. A baseline that would flip is shown as a
diff and refused unless ``--accept-baseline`` is given.
"""

from __future__ import annotations

import json
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from child_pytest import run_pytest

from conformance.testing.fakeserver import FakeServer

CHECKS = "models.list,stream.done-sentinel,tools.parallel"
COLUMN = Path("cassettes/generic/ref-model")


def _record(cwd: Path, base_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    return run_pytest(cwd, "-q", "--base-url", base_url, "--conformance-mode", "record",
                      "--checks", CHECKS, *args)  # fmt: skip


def _snapshot(root: Path) -> dict[str, bytes | None]:
    """Every path under cassettes/ (a leftover staging directory counts too) and its bytes."""
    return {
        str(p.relative_to(root)): (p.read_bytes() if p.is_file() else None)
        for p in sorted((root / "cassettes").rglob("*"))
    }


@pytest.fixture
def recorded(tmp_path: Path) -> Path:
    with FakeServer() as srv:
        proc = _record(tmp_path, srv.base_url)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    manifest = json.loads((tmp_path / COLUMN / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["expected"]["stream.done-sentinel[wire]"] == "pass"
    return tmp_path


class _Handler(BaseHTTPRequestHandler):
    """A server that lists the model and then fails every request (``garbage`` or not)."""

    garbage = False

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        if self.path.rstrip("/") != "/v1/models":
            self.send_error(404)
            return
        body = json.dumps({"object": "list", "data": [{"id": "ref-model", "object": "model"}]})
        self._send(body.encode())

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("content-length") or 0))
        if self.garbage:
            self._send(b"\x00\xffnot json {{{ <html>")
        else:
            self.close_connection = True  # the server went away: no response at all

    def _send(self, body: bytes) -> None:
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture(params=["down", "garbage"])
def broken_server(request: pytest.FixtureRequest) -> Iterator[str]:
    handler = type("H", (_Handler,), {"garbage": request.param == "garbage"})
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/v1"
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_a_failing_server_leaves_the_column_as_it_was(recorded: Path, broken_server: str) -> None:
    before = _snapshot(recorded)
    proc = _record(recorded, broken_server)
    assert _snapshot(recorded) == before  # the evidence first
    assert proc.returncode != 0, proc.stdout[-3000:]
    assert "refused" in proc.stdout, proc.stdout[-3000:]


def test_an_interrupted_record_leaves_the_column_as_it_was(recorded: Path) -> None:
    (recorded / "interrupt_second.py").write_text(
        "seen = []\n\n\ndef pytest_runtest_teardown(item):\n    seen.append(item)\n"
        "    if len(seen) == 2:\n        raise KeyboardInterrupt\n",
        encoding="utf-8",
    )
    before = _snapshot(recorded)
    with FakeServer(["no-done", "role-every-chunk"]) as srv:  # would record other bytes
        proc = _record(recorded, srv.base_url, "--accept-baseline", "-p", "interrupt_second")
    assert _snapshot(recorded) == before  # the evidence first
    assert proc.returncode == 2, proc.stdout[-3000:] + proc.stderr[-2000:]
    assert "did not complete" in proc.stdout, proc.stdout[-3000:]


def test_an_unwritable_report_dir_leaves_the_column_as_it_was(recorded: Path) -> None:
    (recorded / "not-a-dir").write_text("a file where the report directory should be")
    before = _snapshot(recorded)
    with FakeServer(["no-done"]) as srv:
        proc = _record(recorded, srv.base_url, "--accept-baseline", "--report-dir", "not-a-dir")
    assert _snapshot(recorded) == before  # the evidence first
    assert proc.returncode != 0, proc.stdout[-3000:]
    assert "Traceback" not in proc.stdout + proc.stderr
    assert "cannot write results" in proc.stdout, proc.stdout[-3000:]


def test_a_baseline_flip_is_refused_with_a_diff(recorded: Path) -> None:
    before = _snapshot(recorded)
    with FakeServer(["no-done"]) as srv:
        proc = _record(recorded, srv.base_url)
    assert _snapshot(recorded) == before  # the evidence first
    assert proc.returncode != 0
    assert "  - stream.done-sentinel[wire]: pass" in proc.stdout, proc.stdout[-3000:]
    assert "  + stream.done-sentinel[wire]: fail" in proc.stdout
    assert "--accept-baseline" in proc.stdout


def test_an_accepted_baseline_flip_replaces_the_column(recorded: Path) -> None:
    with FakeServer(["no-done"]) as srv:
        proc = _record(recorded, srv.base_url, "--accept-baseline")
    assert proc.returncode == 1, proc.stdout[-3000:]  # the MUST failure itself
    assert "baseline changed (accepted)" in proc.stdout
    manifest = json.loads((recorded / COLUMN / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["expected"]["stream.done-sentinel[wire]"] == "fail"
    assert "[DONE]" not in (recorded / COLUMN / "stream.done-sentinel.yaml").read_text()
    assert sorted(p.name for p in (recorded / COLUMN).parent.iterdir()) == ["ref-model"]


def test_an_unchanged_re_recording_replaces_the_column(recorded: Path) -> None:
    stamp = json.loads((recorded / COLUMN / "manifest.json").read_text())["recorded_at"]
    (recorded / COLUMN / "tools.parallel.yaml").unlink()  # re-recording restores it
    with FakeServer() as srv:
        proc = _record(recorded, srv.base_url)
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert (recorded / COLUMN / "tools.parallel.yaml").is_file()
    assert json.loads((recorded / COLUMN / "manifest.json").read_text())["recorded_at"] >= stamp
    assert sorted(p.name for p in (recorded / COLUMN).parent.iterdir()) == ["ref-model"]


# ---- found by attacking the swap (issue 11, item 9) ------------------------------------------


@pytest.mark.parametrize("broken_server", ["down"], indirect=True)
def test_harness_errors_never_replace_a_column_even_when_accepted(
    recorded: Path, broken_server: str
) -> None:
    """``--accept-baseline`` accepts what the server did, not what the harness could not
    judge: a server that went down mid-run must not turn recorded passes into errors. (A
    server answering garbage is judged: its ``fail`` outcomes are a baseline the user may
    accept.)"""
    before = _snapshot(recorded)
    proc = _record(recorded, broken_server, "--accept-baseline")
    assert _snapshot(recorded) == before  # the evidence first
    assert proc.returncode != 0, proc.stdout[-3000:]
    assert "ended in a harness error" in proc.stdout, proc.stdout[-3000:]


def _kill_mid_swap_plugin(cwd: Path) -> None:
    (cwd / "kill_mid_swap.py").write_text(
        "import os, signal, tempfile\nfrom pathlib import Path\n"
        "import conformance.columns as P\n\n\n"
        "def replace_column(staging, final):\n"
        "    old = Path(tempfile.mkdtemp(prefix=f'.{final.name}.old-', dir=final.parent))\n"
        "    old.rmdir()\n    final.rename(old)\n    os.kill(os.getpid(), signal.SIGKILL)\n\n\n"
        "P.replace_column = replace_column\n",
        encoding="utf-8",
    )


def test_a_run_killed_mid_swap_is_repaired_by_the_next_record(recorded: Path) -> None:
    """SIGKILL between moving the column aside and renaming the staging copy in: the next
    record run puts the committed column back and removes the leftovers first."""
    from conformance.trust import validate_tree

    before = _snapshot(recorded)
    _kill_mid_swap_plugin(recorded)
    with FakeServer() as srv:
        proc = _record(recorded, srv.base_url, "-p", "kill_mid_swap")
        assert proc.returncode == -9, proc.stdout[-3000:]
        assert not (recorded / COLUMN).exists()
        problems = validate_tree(recorded / "cassettes")  # make test names the leftovers
        assert problems, problems
        assert all("interrupted record run" in p for p in problems), problems
        proc = _record(recorded, srv.base_url, "--checks", "models.list", "--accept-baseline")
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert "restored cassettes/generic/ref-model" in proc.stdout, proc.stdout[-3000:]
    assert "removed 1 staging directory" in proc.stdout, proc.stdout[-3000:]
    assert sorted(p.name for p in (recorded / COLUMN).parent.iterdir()) == ["ref-model"]
    after = _snapshot(recorded)
    assert set(after) == set(before)
    assert (
        after["cassettes/generic/ref-model/tools.parallel.yaml"]
        == before["cassettes/generic/ref-model/tools.parallel.yaml"]
    )


def test_a_second_record_run_for_the_same_column_is_refused(recorded: Path) -> None:
    import fcntl

    before = _snapshot(recorded)
    lock = recorded / COLUMN.parent / ".ref-model.lock"
    with lock.open("w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)  # as a first record run holds it
        with FakeServer(["no-done"]) as srv:
            proc = _record(recorded, srv.base_url, "--accept-baseline")
    assert proc.returncode == 2, proc.stdout[-3000:] + proc.stderr[-2000:]
    assert "another record run is recording" in proc.stdout + proc.stderr
    lock.unlink()
    assert _snapshot(recorded) == before


def test_a_full_disk_while_saving_the_manifest_leaves_the_column_as_it_was(
    recorded: Path,
) -> None:
    """ENOSPC writing the staged manifest was a traceback out of pytest_sessionfinish (found
    on a 400 KB tmpfs); the disk is simulated full at that one write."""
    (recorded / "disk_full.py").write_text(
        "import errno\nimport conformance.harness.recording as R\n\n\n"
        "def save(self, directory, secrets=()):\n"
        "    raise OSError(errno.ENOSPC, 'No space left on device')\n\n\n"
        "R.Manifest.save = save\n",
        encoding="utf-8",
    )
    before = _snapshot(recorded)
    with FakeServer() as srv:
        proc = _record(recorded, srv.base_url, "-p", "disk_full")
    assert _snapshot(recorded) == before  # the evidence first
    assert proc.returncode == 1, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "Traceback" not in proc.stdout + proc.stderr, proc.stdout[-3000:]
    assert "No space left on device" in proc.stdout, proc.stdout[-3000:]


def test_a_full_disk_while_staging_leaves_no_staging_directory(recorded: Path) -> None:
    (recorded / "disk_full.py").write_text(
        "import errno, shutil\n\n\n"
        "def copy2(src, dst, **kw):\n"
        "    open(dst, 'wb').close()\n"
        "    raise OSError(errno.ENOSPC, 'No space left on device')\n\n\n"
        "shutil.copy2 = copy2\n",
        encoding="utf-8",
    )
    before = _snapshot(recorded)
    with FakeServer() as srv:
        proc = _record(recorded, srv.base_url, "-p", "disk_full")
    assert _snapshot(recorded) == before  # no half-copied .ref-model.record-* either
    assert proc.returncode == 2, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "cannot stage a recording" in proc.stdout + proc.stderr
