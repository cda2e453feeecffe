"""The replay benchmark runs the suite serially and under ``-n 2`` and compares what each
wrote (issue 15). One check per committed column keeps it short; no timing is asserted."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.replay import run_replay
from bench.report import _replay_section, evaluate_goals

REPO = Path(__file__).resolve().parents[1]

pytest.importorskip("xdist")


@pytest.mark.skipif(
    not list((REPO / "cassettes").glob("*/*/manifest.json")), reason="no committed recordings"
)
def test_the_replay_benchmark_times_both_runs_and_compares_their_results(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    args = "-q -p no:cacheprovider --conformance-mode replay --cassette-dir cassettes"
    monkeypatch.setenv("BENCH_REPLAY_ARGS", f"{args} --report-dir TMP --checks models.list")
    row = run_replay(REPO)
    parallel = row["parallel"]
    for run in (row, parallel):
        assert run["status"] == "ran", run
        assert run["exit_code"] in (0, 1), run
        assert run["cpu_s"] > 0, run
        assert "load_start" in run
    assert parallel["workers"] == 2
    assert parallel["same_results"] is True
    section = "\n".join(_replay_section({"replay": row}))
    assert "- serial: " in section
    assert "- -n 2: " in section
    assert "the two runs wrote the same bytes" in section
    goals = [g["goal"] for g in evaluate_goals({"replay": row})]
    assert "the same replay with -n 2 (pytest-xdist)" in goals
