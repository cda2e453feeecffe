"""Words that match the matrix (issue 18 item 5).

"every MUST holds" is said only of a column where no MUST check failed at all; a column whose
only failures are its profile's known ones says "no unexpected MUST failure (3 known)". The
README's verdict table is generated from ``reports/results/`` and must be current.
"""

from __future__ import annotations

from pathlib import Path

from child_pytest import run_pytest

from conformance.docs import VERDICTS_BEGIN, render_readme
from conformance.results import must_verdict
from conformance.testing.fakeserver import FakeServer

REPO = Path(__file__).resolve().parents[1]


def test_verdict_words() -> None:
    assert must_verdict([("MUST", "pass"), ("MUST", "warn"), ("SHOULD", "fail")]) == (
        "every MUST holds"
    )
    known = [("MUST", "pass")] + [("MUST", "xfail")] * 3
    assert must_verdict(known) == "no unexpected MUST failure (3 known)"
    assert must_verdict([*known, ("MUST", "fail")]) == "1 unexpected MUST failure (3 known)"
    assert must_verdict([("MUST", "error"), ("MUST", "fail")]) == "2 unexpected MUST failures"
    assert must_verdict([("MUST", "flaky"), ("MUST", "xfail")]) == (
        "no unexpected MUST failure (1 known, 1 flaky)"
    )


def test_the_readme_verdicts_are_generated_from_the_results_files() -> None:
    text = (REPO / "README.md").read_text(encoding="utf-8")
    assert VERDICTS_BEGIN in text
    assert render_readme(text, REPO / "reports" / "results") == text, (
        "README.md's verdict table is out of date: run python -m conformance.docs"
    )


def test_the_readme_says_every_must_holds_only_where_the_matrix_does() -> None:
    text = (REPO / "README.md").read_text(encoding="utf-8")
    generated = text.split(VERDICTS_BEGIN, 1)[1]
    by_hand = text.replace(generated, "")
    assert "every MUST holds" not in by_hand, "say it in the generated table only"


def test_the_live_summary_names_known_failures(tmp_path: Path) -> None:
    # LiteLLM passes llama-server's HTTP 500 for malformed replayed arguments through (a
    # known MUST failure of its profile); the reference server's "500-bad-args" does the same.
    with FakeServer(quirks=["500-bad-args"]) as server:
        proc = run_pytest(
            tmp_path, "-q",
            "--provider", "litellm", "--base-url", server.base_url, "--model", "ref-model",
            "--checks", "multiturn.replayed-arguments", "--checks", "models.list",
            "--report-dir", str(tmp_path),
        )  # fmt: skip
    line = next(
        (ln for ln in proc.stdout.splitlines() if ln.startswith("conformance litellm/")), ""
    )
    assert "1 xfail" in line, proc.stdout[-3000:]
    assert line.endswith("no unexpected MUST failure (1 known)"), line
