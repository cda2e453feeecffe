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

ROOT = Path(__file__).resolve().parent.parent


def test_bench_quick_mode_writes_its_report(tmp_path: Path) -> None:
    out = tmp_path / "report"
    proc = subprocess.run(
        [sys.executable, "-m", "bench", "--quick", "--out", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
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
