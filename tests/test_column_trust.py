"""A contributed column can only describe itself (issue 11, item 8).

Crafted manifests, cassettes and results files in tmp_path are fed to the real plugin (pytest
in a subprocess, like tests/test_conformance_plugin.py) and to the matrix CLI: each is refused
with one line naming the file, never a traceback or INTERNALERROR. The committed cassettes/
tree goes through the same validator, so a bad contributed column fails ``make test``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from conformance.recording import Manifest
from conformance.results import results_filename
from conformance.trust import MAX_MANIFEST_BYTES, ColumnError, check_column, validate_tree

REPO = Path(__file__).resolve().parents[1]


def _run(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", *args],
        cwd=cwd, env=env, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip


def _replay(cwd: Path) -> subprocess.CompletedProcess[str]:
    return _run(cwd, "--conformance-mode", "replay", "--checks", "models.list")


def _column(
    root: Path, provider: str = "generic", slug: str = "ref-model", /, **fields: Any
) -> Path:
    """A minimal, valid column at ``root/cassettes/<provider>/<slug>/`` (then edited)."""
    column = root / "cassettes" / provider / slug
    data = Manifest(provider=provider, model=slug, base_url="http://127.0.0.1:1/v1").to_dict()
    data.update(expected={"models.list[wire]": "pass"}, recorded_at="2025-01-01T00:00:00+00:00")
    data.update(fields)
    column.mkdir(parents=True)
    (column / "manifest.json").write_text(json.dumps(data), encoding="utf-8")
    (column / "models.list.yaml").write_text("interactions: []\nversion: 1\n", encoding="utf-8")
    return column


def _refused(proc: subprocess.CompletedProcess[str], *needles: str) -> None:
    out = proc.stdout + proc.stderr
    assert proc.returncode == 2, out[-3000:]
    assert "Traceback" not in out, out[-3000:]
    assert "INTERNALERROR" not in out, out[-3000:]
    lines = [line for line in out.splitlines() if line.startswith("Exit: conformance:")]
    assert len(lines) == 1, out[-3000:]
    for needle in needles:
        assert needle in lines[0], lines[0]


def test_the_minimal_column_is_valid(tmp_path: Path) -> None:
    column = _column(tmp_path)
    assert check_column(column, tmp_path / "cassettes").provider == "generic"
    assert validate_tree(tmp_path / "cassettes") == []


def test_committed_cassettes_all_validate() -> None:
    """The scan ``make test`` runs: a bad contributed column under cassettes/ fails here."""
    assert validate_tree(REPO / "cassettes") == []


@pytest.mark.parametrize(
    ("fields", "needle"),
    [
        ({"provider": "vllm"}, "can only describe itself"),
        ({"model": "other-model"}, "can only describe itself"),
        ({"model_slug": "other-model"}, "model_slug"),
        ({"provider": "../../etc"}, "not a valid manifest"),
    ],
    ids=["other-provider", "other-model", "other-slug", "path-provider"],
)
def test_a_manifest_claiming_another_identity_is_refused(
    tmp_path: Path, fields: dict[str, Any], needle: str
) -> None:
    _column(tmp_path, **fields)
    _refused(_replay(tmp_path), "cassettes/generic/ref-model/manifest.json", needle)


def test_an_unknown_provider_is_refused(tmp_path: Path) -> None:
    _column(tmp_path, "evilcorp", "ref-model")
    _refused(_replay(tmp_path), "manifest.json", "not a known profile")
    problems = validate_tree(tmp_path / "cassettes")
    assert len(problems) == 1
    assert "evilcorp" in problems[0]


def test_a_symlinked_cassette_is_refused(tmp_path: Path) -> None:
    column = _column(tmp_path)
    secret = tmp_path / "outside.yaml"
    secret.write_text("interactions: []\nversion: 1\n", encoding="utf-8")
    (column / "models.list.yaml").unlink()
    (column / "models.list.yaml").symlink_to(secret)
    _refused(_replay(tmp_path), "models.list.yaml", "symlink")
    assert any("symlink" in p for p in validate_tree(tmp_path / "cassettes"))


def test_a_symlinked_column_directory_is_refused(tmp_path: Path) -> None:
    real = _column(tmp_path / "elsewhere")
    (tmp_path / "cassettes" / "generic").mkdir(parents=True)
    (tmp_path / "cassettes" / "generic" / "ref-model").symlink_to(real, target_is_directory=True)
    _refused(_replay(tmp_path), "ref-model", "symlink")


def test_a_stray_file_in_a_column_is_refused(tmp_path: Path) -> None:
    column = _column(tmp_path)
    (column / "notes.txt").write_text("hello", encoding="utf-8")
    with pytest.raises(ColumnError, match=r"notes\.txt: not a cassette name"):
        check_column(column, tmp_path / "cassettes")


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ('{"deployment": ' + "[" * 100_000 + "]" * 100_000 + "}", "nests 100001 deep"),
        ('{"provider": ' + "[" * 3000 + "]" * 3000 + "}", "nests"),
        (json.dumps({"provider": 5}), "not a valid manifest"),
        (json.dumps([1, 2, 3]), "not a valid manifest"),
        (json.dumps({"x": 1}), "not a valid manifest"),
        ("{not json", "not valid JSON"),
        ('{"format_version": ' + "9" * 5000 + "}", "not valid JSON"),
        (b"\xff\xfe".decode("latin-1"), "not valid JSON"),
    ],
    ids=[
        "deep",
        "deep-wrong-place",
        "wrong-type",
        "not-object",
        "unknown",
        "garbage",
        "bigint",
        "binary",
    ],
)
def test_a_malformed_manifest_is_one_clear_line(tmp_path: Path, text: str, needle: str) -> None:
    column = _column(tmp_path)
    (column / "manifest.json").write_text(text, encoding="utf-8")
    _refused(_replay(tmp_path), "manifest.json", needle)


def test_wrongly_typed_manifest_fields_are_refused(tmp_path: Path) -> None:
    column = _column(tmp_path)
    for fields in (
        {"expected": ["models.list[wire]"]},
        {"expected": {"models.list[wire]": "pwned"}},
        {
            "live": {
                "models.list[wire]": {
                    "check": "tools.parallel",
                    "layer": "wire",
                    "outcome": "pass",
                    "level": "MUST",
                }
            }
        },
        {"live": {"models.list[wire]": []}},
        {"server": {"name": {"nested": 1}}},
        {"configuration": "x" * 100_000},
    ):
        data = json.loads((column / "manifest.json").read_text(encoding="utf-8"))
        data.update(fields)
        (column / "manifest.json").write_text(json.dumps(data), encoding="utf-8")
        with pytest.raises(ColumnError, match=r"manifest\.json"):
            check_column(column, tmp_path / "cassettes")
        data = Manifest(provider="generic", model="ref-model", base_url="").to_dict()
        (column / "manifest.json").write_text(json.dumps(data), encoding="utf-8")


def test_a_huge_manifest_is_refused_before_it_is_read(tmp_path: Path) -> None:
    column = _column(tmp_path)
    with (column / "manifest.json").open("w", encoding="utf-8") as fh:
        fh.write('{"deployment": {"blob": "')
        fh.write("x" * (MAX_MANIFEST_BYTES + 10))
        fh.write('"}}')
    _refused(_replay(tmp_path), "manifest.json", f"limit {MAX_MANIFEST_BYTES}")


def test_results_file_names_are_slugged() -> None:
    for provider, model in (("../../x", "a/../../b"), ("gen/eric", "..\\..\\m"), ("", "..")):
        name = results_filename(provider, model)
        assert "/" not in name, name
        assert "\\" not in name, name
        assert ".." not in name, name
        assert name.endswith(".json")
        assert not name.startswith(".")


# ---- results files (the matrix renderer reads them) -------------------------------------------


def _matrix(tmp_path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "conformance.cli", "matrix", "--results", str(tmp_path / "r"),
         "--out", str(tmp_path / "out")],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


def _good_results() -> dict[str, Any]:
    return {
        "schema_version": 1,
        "run": {"provider": "generic", "column": "generic/m", "configuration": None,
                "server": {"name": "s", "version": "1"}, "model": "m", "mode": "live",
                "date": "2025-01-01", "suite_version": "0.1.0", "any_agent_version": None,
                "python": "3.11", "base_url": "http://127.0.0.1:1/v1"},
        "results": [{"check": "models.list", "layer": "wire", "outcome": "pass",
                     "level": "MUST", "area": "errors", "title": "t"}],
    }  # fmt: skip


@pytest.mark.parametrize(
    "mutate",
    [
        lambda d: d["results"][0].update(evidence=[1, 2]),
        lambda d: d["results"][0].update(evidence={"request": [[[[]]]], "cassette": {"a": 1}}),
        lambda d: d["run"].update(server=["x"]),
        lambda d: d["results"][0].update(message={"a": 1}),
        lambda d: d["results"][0].update(duration_s="slow"),
        lambda d: d.update(results={"a": 1}),
        lambda d: d["results"][0].update(evidence={"request": json.loads("[" * 900 + "]" * 900)}),
    ],
    ids=[
        "evidence-list",
        "cassette-object",
        "server-list",
        "message-object",
        "duration",
        "results-object",
        "deep",
    ],
)
def test_a_malformed_results_file_is_one_clear_line(tmp_path: Path, mutate: Any) -> None:
    (tmp_path / "r").mkdir()
    data = _good_results()
    mutate(data)
    (tmp_path / "r" / "generic__m.json").write_text(json.dumps(data), encoding="utf-8")
    proc = _matrix(tmp_path)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("error: "), proc.stderr
    assert "generic__m.json" in lines[0], proc.stderr


def test_a_deeply_nested_results_file_is_one_clear_line(tmp_path: Path) -> None:
    (tmp_path / "r").mkdir()
    text = json.dumps(_good_results())[:-1] + ', "x": ' + "[" * 200_000 + "]" * 200_000 + "}"
    (tmp_path / "r" / "generic__m.json").write_text(text, encoding="utf-8")
    proc = _matrix(tmp_path)
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr
    assert "nests 200001 deep" in proc.stderr


def test_a_good_results_file_renders(tmp_path: Path) -> None:
    (tmp_path / "r").mkdir()
    (tmp_path / "r" / "generic__m.json").write_text(json.dumps(_good_results()), encoding="utf-8")
    proc = _matrix(tmp_path)
    assert proc.returncode == 0, proc.stderr
