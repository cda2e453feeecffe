"""Every committed recording replays offline, and nothing committed carries a secret.

For each ``cassettes/<provider>/<model>/`` (a directory with ``manifest.json``) the plugin
runs in replay mode in a subprocess (network blocked). The test fails when a cassette is
missing or an interaction is unused or unmatched (outcome ``error``), or when a MUST check
that passed when recorded (``manifest.json`` ``expected``, and the committed results file
if there is one) no longer passes.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from child_pytest import run_pytest

from conformance.catalogue.checks import get
from conformance.harness.recording import Manifest, find_recordings, scan_for_secrets
from conformance.results import load_results, results_filename

REPO = Path(__file__).resolve().parents[1]
CASSETTES = REPO / "cassettes"
REPORTS = REPO / "reports"
RECORDINGS = find_recordings(CASSETTES) if CASSETTES.is_dir() else []
GOOD = ("pass", "warn")


def _baseline(manifest: Manifest) -> dict[str, str]:
    expected = dict(manifest.expected)
    committed = REPORTS / "results" / results_filename(manifest.provider, manifest.model)
    if committed.is_file():
        for r in load_results(committed).results:
            if r.outcome in GOOD:
                expected.setdefault(r.key, r.outcome)
    return expected


@pytest.mark.skipif(not RECORDINGS, reason="no committed recordings under cassettes/")
@pytest.mark.parametrize(
    "column", RECORDINGS, ids=[f"{p.parent.name}/{p.name}" for p in RECORDINGS]
)
def test_committed_recording_replays(column: Path, tmp_path: Path) -> None:
    manifest = Manifest.load(column / "manifest.json")
    proc = run_pytest(
        tmp_path, "-q", "--conformance-mode", "replay", "--cassette-dir", str(CASSETTES),
        "--provider", manifest.provider, "--model", manifest.model,
        "--report-dir", str(tmp_path), timeout=600,
    )  # fmt: skip
    out = tmp_path / "results" / results_filename(manifest.provider, manifest.model)
    assert out.is_file(), proc.stdout[-3000:] + proc.stderr[-2000:]
    got = load_results(out).by_key()
    errors = [f"{k}: {r.message}" for k, r in got.items() if r.outcome == "error"]
    assert not errors, "replay errors (missing/unused/unmatched cassette?):\n" + "\n".join(errors)
    regressions = []
    for key, was in _baseline(manifest).items():
        check_id = key.split("[", 1)[0]
        try:
            level = get(check_id).level
        except KeyError:
            continue  # a retired check
        now = got.get(key)
        if level == "MUST" and was in GOOD and (now is None or now.outcome not in GOOD):
            regressions.append(f"{key}: recorded {was}, now {now.outcome if now else 'absent'}")
    assert not regressions, "MUST checks regressed:\n" + "\n".join(regressions)


def _committed_files() -> list[Path]:
    files: list[Path] = []
    for root in (CASSETTES, REPORTS):
        if root.is_dir():
            files += [p for p in sorted(root.rglob("*")) if p.is_file()]
    return files


def test_no_secrets_in_cassettes_or_reports() -> None:
    problems: list[str] = []
    for path in _committed_files():
        if path.suffix.lower() in (".png", ".jpg", ".gif", ".ico", ".woff", ".woff2"):
            continue
        text = path.read_text(encoding="utf-8", errors="replace")
        problems += [f"{path.relative_to(REPO)}: {p}" for p in scan_for_secrets(text)]
    assert not problems, "\n".join(problems)


def test_manifests_are_complete() -> None:
    for column in RECORDINGS:
        data = json.loads((column / "manifest.json").read_text(encoding="utf-8"))
        for key in ("provider", "model", "server", "recorded_at", "suite_version", "libraries"):
            assert data.get(key) is not None, f"{column}: manifest lacks {key}"
        assert data["expected"], f"{column}: manifest has no expected outcomes"
