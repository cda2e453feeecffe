"""The benchmark harness runs end to end in its quick mode (``make bench-quick``).

No timing is asserted: the machine running the tests is not a benchmark machine. The test
checks that every section ran, that every method's result was verified (a method that
errors shows up as an error row), and that the report was written where it was asked.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from bench.server import SLOTS

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def quick(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[subprocess.CompletedProcess[str], Path]:
    """One ``make bench-quick`` run for both tests (the module runs on one xdist worker:
    conftest.SHARED_RUN): the finished process and its report directory."""
    out = tmp_path_factory.mktemp("bench-quick") / "report"
    proc = subprocess.run(
        [sys.executable, "-m", "bench", "--quick", "--out", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    return proc, out


def test_bench_quick_mode_writes_its_report(
    quick: tuple[subprocess.CompletedProcess[str], Path],
) -> None:
    proc, out = quick
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = (out / "performance.md").read_text()
    assert "## Goals" in report
    assert "## Single stream: CPU per chunk" in report
    assert "## Tool-argument aggregation through StreamDecoder" in report
    assert "## Concurrency: paced streams through one process" in report
    assert "## Offline replay of the conformance suite" in report
    assert "## Overhead: the context guard, window discovery, the slot limiter" in report

    res = json.loads((out / "performance.json").read_text())
    assert res["meta"]["quick"] is True
    methods = {r["method"] for r in res["single"]}
    assert {"raw", "hand", "openai_create", "openai_stream", "query", "decoder"} <= methods
    for section in ("single", "aggregation", "concurrency", "ttfc", "connections", "imports"):
        rows = res[section]
        assert rows, section
        errors = [r for r in rows if "error" in r]
        assert not errors, f"{section}: {errors}"
    assert all(c["ok"] == c["streams"] for c in res["concurrency"])
    assert {"chunk", "turn"} <= set(res["guard"])
    assert res["discovery"]["info_later"] == 0
    assert res["slots"]["peak_in_flight"] == res["slots"]["streams"]
    assert res["replay"]["status"] or "wall_s" in res["replay"]
    assert {g["result"] for g in res["goals"]} <= {"PASS", "MISS", "n/a"}
    if "chart" not in res["meta"]:  # matplotlib is a bench-only tool; without it, no chart
        assert (out / "performance.png").stat().st_size > 0


def test_the_quick_overhead_run_does_the_work_it_reports(
    quick: tuple[subprocess.CompletedProcess[str], Path],
) -> None:
    """The overhead section (issue 14, tests/test_bench_overhead.py) does the work it reports:
    the usage chunk read, the metadata asked once per client, every stream in flight at once."""
    proc, out = quick
    assert proc.returncode == 0, proc.stderr[-3000:]
    res = json.loads((out / "performance.json").read_text())
    guard = res["guard"]
    assert set(guard["chunk"]["cpu_all"]) == {"off", "on", "off_again"}
    assert all(len(v) == guard["chunk"]["reps"] for v in guard["chunk"]["cpu_all"].values())
    assert guard["turn"]["messages"] == 2 * guard["turn"]["turns"] + 1
    d = res["discovery"]
    # the llamacpp profile asks /props and /v1/models once, before the first request
    assert (d["info_first"], d["info_later"], d["info_given"]) == (2, 0, 0)
    sl = res["slots"]
    assert sl["peak_in_flight"] == sl["streams"] < sl["limit"]
    assert sl["limit"] != SLOTS
    names = [g["goal"] for g in res["goals"] if g["result"] in ("PASS", "MISS")]
    assert sum("context guard" in n for n in names) == 2
    assert any("slot limiter" in n for n in names)
    assert "cut the prompt" not in proc.stderr  # the usage chunk's count is a plausible one
