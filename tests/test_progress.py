"""Progress on long runs (issue 18 item 3): a live certification prints one line per check,
``check 23/74 tools.parallel[wire] pass … elapsed 3 min, ETA 4 min``, and a per-area summary
at the end (a live run against a real CPU server takes 8-18 minutes)."""

from __future__ import annotations

import re
from pathlib import Path

from child_pytest import run_pytest

from conformance.plugin import area_summary, progress_line
from conformance.results import CheckResult
from conformance.testing.fakeserver import FakeServer


def test_progress_line() -> None:
    assert progress_line(23, 74, "tools.parallel[wire]", "pass", 180.0) == (
        "check 23/74 tools.parallel[wire] pass … elapsed 3 min, ETA 7 min"
    )
    assert progress_line(1, 4, "models.list[wire]", "fail", 2.0).endswith("elapsed 2 s, ETA 6 s")
    assert progress_line(4, 4, "x[wire]", "pass", 8.0).endswith(", done")


def test_area_summary() -> None:
    def r(check: str, area: str, outcome: str) -> CheckResult:
        return CheckResult(check, "wire", outcome, "MUST", area, "")  # type: ignore[arg-type]

    lines = area_summary(
        [r("a", "tools", "pass"), r("b", "tools", "xfail"), r("c", "chat", "fail")]
    )
    assert lines == ["tools: 1 pass, 1 xfail", "chat: 1 fail"]


def test_a_live_run_shows_progress_and_areas(tmp_path: Path) -> None:
    with FakeServer() as server:
        proc = run_pytest(
            tmp_path, "-q", "--base-url", server.base_url, "--model", "ref-model",
            "--checks", "models.list", "--checks", "tools.call-shape",
            "--report-dir", str(tmp_path),
        )  # fmt: skip
    out = proc.stdout
    lines = [ln for ln in out.splitlines() if ln.startswith("check ")]
    assert len(lines) == 3, out
    assert re.fullmatch(r"check 1/3 [a-z.-]+\[wire\] pass … elapsed \d+ s, ETA \d+ s", lines[0])
    assert re.fullmatch(r"check 3/3 [a-z.-]+\[(wire|sdk)\] pass … elapsed \d+ s, done", lines[-1])
    assert "  errors: 1 pass" in out
    assert "  tools: 2 pass" in out
    assert not re.search(r"^\.+check", out, flags=re.M), "no pytest dots in front of the lines"
