"""``any-agent-conformance matrix`` and ``list``."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from conformance.cli import main

DATA = Path(__file__).parent / "data" / "report"
RESULTS = DATA / "results"
OUTPUTS = ["compatibility.md", "compatibility.html", "compatibility.json"]


def test_matrix_writes_three_files_then_leaves_them(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "reports"
    assert main(["matrix", "--results", str(RESULTS), "--out", str(out)]) == 0
    assert sorted(p.name for p in out.iterdir()) == sorted(OUTPUTS)
    assert capsys.readouterr().out.splitlines() == [f"wrote: {out / n}" for n in OUTPUTS]
    assert main(["matrix", "--results", str(RESULTS), "--out", str(out)]) == 0
    assert capsys.readouterr().out.splitlines() == [f"unchanged: {out / n}" for n in OUTPUTS]


def test_matrix_check_mode(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "reports"
    args = ["matrix", "--results", str(RESULTS), "--out", str(out)]
    assert main([*args, "--check"]) == 1  # nothing rendered yet
    assert not out.exists()
    assert main([*args, "-q"]) == 0
    capsys.readouterr()
    assert main([*args, "--check"]) == 0
    assert "out of date" not in capsys.readouterr().out
    (out / "compatibility.md").write_text("edited by hand\n", encoding="utf-8")
    assert main([*args, "--check"]) == 1
    captured = capsys.readouterr()
    assert f"out of date: {out / 'compatibility.md'}" in captured.out
    assert "make matrix" in captured.err


def test_matrix_accepts_files_and_several_paths(tmp_path: Path) -> None:
    out = tmp_path / "reports"
    args = ["matrix", "-q", "--out", str(out)]
    args += ["--results", str(RESULTS / "vllm__qwen2.5-0.5b.live.json")]
    args += ["--results", str(RESULTS / "llamacpp__qwen2.5-coder-1.5b.json")]
    assert main(args) == 0
    doc = json.loads((out / "compatibility.json").read_text(encoding="utf-8"))
    assert doc["sources"] == ["llamacpp__qwen2.5-coder-1.5b.json", "vllm__qwen2.5-0.5b.live.json"]


def test_matrix_without_results_still_lists_every_system(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "reports"
    missing = tmp_path / "results"
    assert main(["matrix", "-q", "--results", str(missing), "--out", str(out)]) == 0
    assert "does not exist" in capsys.readouterr().err
    md = (out / "compatibility.md").read_text(encoding="utf-8")
    assert md.count("*not recorded*") == 7
    assert "`make record PROVIDER=ollama MODEL=<model>`" in md


def test_matrix_bad_result_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    results = tmp_path / "results"
    results.mkdir()
    (results / "broken.json").write_text('{"schema_version": 1}', encoding="utf-8")
    assert main(["matrix", "--results", str(results), "--out", str(tmp_path / "o")]) == 2
    assert "error: broken.json: 'run' must be an object" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_list_prints_the_real_registry(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["list", "tools.stream.*"]) == 0
    out = capsys.readouterr().out
    assert "tools.stream.header-first" in out
    assert "stream.done-sentinel" not in out
    assert main(["list", "no.such.check"]) == 1
    assert "no check matches" in capsys.readouterr().err


def test_usage_errors() -> None:
    with pytest.raises(SystemExit) as exc:
        main([])
    assert exc.value.code == 2


def test_runs_as_a_module(tmp_path: Path) -> None:
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "conformance.cli",
            "matrix",
            "--results",
            str(RESULTS),
            "--out",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "compatibility.html").is_file()
