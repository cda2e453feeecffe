"""``pytest -n 2`` writes the certificate a serial run writes (issue 15, item 1).

Each test runs the suite as a subprocess twice, serially and under pytest-xdist, and compares
what was written, measured timings aside: replaying the committed cassettes (into tmp_path;
the cassettes are only read) and recording against the reference server
(``conformance.testing.fakeserver``, two models: two columns). Before the controller merged
the workers' shares, each results file kept the last worker's checks and a record run kept
about half of the baseline. A worker that dies must make the run fail and write nothing.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from child_pytest import run_pytest

from conformance.testing.fakeserver import FakeServer

pytest.importorskip("xdist")

REPO = Path(__file__).resolve().parents[1]
#: Timings a run measures (the only thing allowed to differ between two runs).
_TIMING_KEY = re.compile(r"(_s|_ms)$")
_TIMING_TEXT = re.compile(r"\d+(?:\.\d+)? ?(?:s|ms)\b")


def _pytest(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return run_pytest(cwd, *args, timeout=600)


def _untimed(value: Any, key: str = "") -> Any:
    if isinstance(value, dict):
        return {k: _untimed(v, k) for k, v in value.items()}
    if isinstance(value, list):
        return [_untimed(v) for v in value]
    if key in ("date", "recorded_at", "recorded_date") or (
        _TIMING_KEY.search(key) and isinstance(value, int | float)
    ):
        return "<measured>"
    if isinstance(value, str):
        return _TIMING_TEXT.sub("<t>", value)
    return value


def _written(root: Path) -> dict[str, Any]:
    """Every file under ``root``: JSON without its timings, anything else as bytes."""
    out: dict[str, Any] = {}
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        name = str(path.relative_to(root))
        if path.suffix == ".json":
            out[name] = _untimed(json.loads(path.read_text(encoding="utf-8")))
        elif path.name.startswith("stream.concurrent"):
            # two streams at once are written in the order they finish: a race on any run,
            # serial too; the interactions themselves are what must match
            cassette = yaml.safe_load(path.read_text(encoding="utf-8"))
            interactions = cassette.pop("interactions")
            out[name] = (cassette, sorted(json.dumps(i, sort_keys=True) for i in interactions))
        else:
            out[name] = path.read_bytes()
    return out


def _workers_by_column(stdout: str) -> dict[str, set[str]]:
    seen: dict[str, set[str]] = {}
    for worker, column in re.findall(r"^\[(gw\d+)\] .*? ::([^:\s]+)::", stdout, re.MULTILINE):
        seen.setdefault(column, set()).add(worker)
    return seen


def test_replay_under_n2_writes_the_serial_results(tmp_path: Path) -> None:
    """Replay of every committed column (a few checks each): the same six files, check for
    check, and each column on one worker."""
    args = ["--conformance-mode", "replay", "--cassette-dir", str(REPO / "cassettes")]
    args += ["--checks", "stream.*", "--checks", "timeout.*"]
    serial = _pytest(REPO, *args, "-q", "--report-dir", str(tmp_path / "serial"))
    parallel = _pytest(REPO, *args, "-v", "-n", "2", "--report-dir", str(tmp_path / "n2"))
    for proc in (serial, parallel):
        assert proc.returncode in (0, 1), proc.stdout[-3000:] + proc.stderr[-2000:]
    one = _written(tmp_path / "serial")
    assert len(one) >= 6
    assert all(len(v["results"]) > 10 for v in one.values())
    assert _written(tmp_path / "n2") == one
    by_column = _workers_by_column(parallel.stdout)
    assert len(by_column) == len(one), parallel.stdout[-3000:]
    assert all(len(workers) == 1 for workers in by_column.values()), by_column


def test_record_under_n2_writes_the_serial_recording(tmp_path: Path) -> None:
    """Record two columns against one reference server, serially and with ``-n 2 --dist
    load`` (which the plugin turns into one column per worker): identical cassettes byte for byte,
    identical baselines, live measurements and results apart from measured timings."""
    with FakeServer(models=("ref-model", "ref-model-b")) as srv:
        args = ["--base-url", srv.base_url, "--model", "ref-model", "--model", "ref-model-b"]
        args += ["--conformance-mode", "record"]
        runs = {}
        for name, extra in (("serial", ()), ("n2", ("-n", "2", "--dist", "load"))):
            (tmp_path / name).mkdir()
            srv.forget_prompts()  # the cache checks judge what a run's own requests left
            runs[name] = _pytest(tmp_path / name, *args, *extra)
            assert runs[name].returncode == 0, runs[name].stdout[-3000:] + runs[name].stderr
    assert "--dist load replaced by loadscope" in runs["n2"].stdout
    serial, parallel = _written(tmp_path / "serial"), _written(tmp_path / "n2")
    manifest = serial["cassettes/generic/ref-model-b/manifest.json"]
    assert len(manifest["expected"]) > 60
    assert manifest["live"]
    assert parallel == serial


_CRASH_PLUGIN = """
import os


def pytest_runtest_call(item):
    if hasattr(item.config, "workerinput") and "vllm/" in item.nodeid:
        os._exit(3)  # a worker killed in the middle of its share
"""


def test_a_worker_that_dies_fails_the_run_and_writes_nothing(tmp_path: Path) -> None:
    (tmp_path / "crash_worker.py").write_text(_CRASH_PLUGIN, encoding="utf-8")
    env_path = f"{tmp_path}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"
    os.environ["PYTHONPATH"] = env_path
    try:
        proc = _pytest(
            REPO, "-p", "crash_worker", "-n", "2",
            "--conformance-mode", "replay", "--cassette-dir", str(REPO / "cassettes"),
            "--checks", "stream.done-sentinel", "--report-dir", str(tmp_path / "out"),
        )  # fmt: skip
    finally:
        os.environ["PYTHONPATH"] = env_path.split(os.pathsep, 1)[1]
    assert proc.returncode != 0
    assert "went down without handing back its results" in proc.stdout, proc.stdout[-3000:]
    assert not (tmp_path / "out" / "results").exists() or not any(
        (tmp_path / "out" / "results").iterdir()
    )
