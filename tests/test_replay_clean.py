"""A replay of unchanged recordings leaves the tree clean (issue 18 item 4).

``make certify`` replays every committed column into ``reports/results/`` and re-renders
``reports/compatibility.*``. Those files are tracked, so a replay must write them byte for
byte as committed: no run date, no interpreter, no replay durations (they describe this
machine, not the server). When each column was recorded still shows, from its manifest.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from child_pytest import run_pytest

from conformance.harness.recording import Manifest, find_recordings
from conformance.report import write_reports
from conformance.results import load_results, results_filename

REPO = Path(__file__).resolve().parents[1]
CASSETTES = REPO / "cassettes"
RESULTS = REPO / "reports" / "results"
RECORDINGS = find_recordings(CASSETTES) if CASSETTES.is_dir() else []


def _replay(column: Path, report_dir: Path) -> Path:
    manifest = Manifest.load(column / "manifest.json")
    run_pytest(
        REPO, "-q", "--conformance-mode", "replay", "--cassette-dir", str(CASSETTES),
        "--provider", manifest.provider, "--model", manifest.model,
        "--report-dir", str(report_dir), timeout=600,
    )  # fmt: skip
    out = report_dir / "results" / results_filename(manifest.provider, manifest.model)
    assert out.is_file(), f"the replay of {column} wrote no results file"
    return out


def _smallest() -> Path:
    return min(RECORDINGS, key=lambda d: sum(1 for _ in d.glob("*.yaml")))


@pytest.fixture(scope="module")
def first_replay(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The results file one replay of the smallest committed column writes (the module runs on
    one xdist worker: conftest.SHARED_RUN)."""
    if not RECORDINGS:
        pytest.skip("no committed recordings under cassettes/")
    return _replay(_smallest(), tmp_path_factory.mktemp("first-replay"))


def test_two_replays_write_identical_bytes(first_replay: Path, tmp_path: Path) -> None:
    first = first_replay.read_bytes()
    second = _replay(_smallest(), tmp_path).read_bytes()
    assert first == second
    run = json.loads(first)["run"]
    assert run["date"] is None
    assert run["python"] is None
    assert run["recorded_date"], "the recording's date must still be shown"


def test_replay_matches_the_committed_results_file(first_replay: Path) -> None:
    manifest = Manifest.load(_smallest() / "manifest.json")
    committed = RESULTS / results_filename(manifest.provider, manifest.model)
    assert first_replay.read_bytes() == committed.read_bytes(), (
        f"{committed.relative_to(REPO)} is not what a replay writes: run `make certify` "
        "and commit reports/"
    )


@pytest.mark.skipif(not RESULTS.is_dir(), reason="no committed results")
def test_committed_replay_files_carry_no_moment_of_their_run() -> None:
    for path in sorted(RESULTS.glob("*.json")):
        results = load_results(path)
        if results.run.mode != "replay":
            continue
        assert results.run.date is None, f"{path.name}: a replay's run date"
        assert results.run.python is None, f"{path.name}: a replay's interpreter"
        assert results.run.recorded_date, f"{path.name}: no recording date"
        timed = [r.key for r in results.results if r.duration_s is not None and not r.from_manifest]
        assert not timed, f"{path.name}: replay durations for {timed[:3]}"


def test_rendering_the_committed_results_changes_no_report(tmp_path: Path) -> None:
    out = tmp_path / "reports"
    shutil.copytree(REPO / "reports", out, ignore=shutil.ignore_patterns("results"))
    written = write_reports([RESULTS], out)
    changed = [w.path.name for w in written if w.changed]
    assert not changed, f"reports out of date with reports/results/: {changed} (run make matrix)"
