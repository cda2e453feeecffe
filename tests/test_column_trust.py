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
from child_pytest import run_pytest

from conformance.harness.recording import Manifest
from conformance.results import results_filename
from conformance.trust import (
    MAX_CASSETTE_BYTES,
    MAX_MANIFEST_BYTES,
    ColumnError,
    check_column,
    validate_tree,
)

REPO = Path(__file__).resolve().parents[1]


def _run(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return run_pytest(cwd, "-q", *args)


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


# ---- found by attacking the validator (issue 11, item 8) -------------------------------------


def test_the_depth_check_is_linear_on_escaped_quotes(tmp_path: Path) -> None:
    """``"\\"\\"\\"…`` (a string that never closes) made the string-skipping regex retry at
    every quote: 64 K of them took about a minute, a 4 MB manifest hours."""
    column = _column(tmp_path)
    (column / "manifest.json").write_text('{"x": "' + '\\"' * 65_536, encoding="utf-8")
    code = (
        "import sys; from pathlib import Path; from conformance.trust import read_json, "
        "ColumnError\ntry:\n    read_json(Path(sys.argv[1]), max_bytes=1 << 22, what='manifest')\n"
        "except ColumnError as exc:\n    print(exc)\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code, str(column / "manifest.json")],
        cwd=REPO, capture_output=True, text=True, timeout=30, check=False,
    )  # fmt: skip
    assert "not valid JSON" in proc.stdout, proc.stdout + proc.stderr


@pytest.mark.parametrize("first", [True, False], ids=["first", "last"])
def test_a_duplicate_key_is_refused(tmp_path: Path, first: bool) -> None:
    """A reviewer reads one ``provider`` and the reader uses the other: refuse either order."""
    column = _column(tmp_path)
    text = (column / "manifest.json").read_text(encoding="utf-8")
    text = '{"provider": "vllm", ' + text[1:] if first else text[:-1] + ', "provider": "vllm"}'
    (column / "manifest.json").write_text(text, encoding="utf-8")
    _refused(_replay(tmp_path), "manifest.json", "duplicate key 'provider'")


@pytest.mark.parametrize("char", ["\u202e", "\u200b", "\x00", "\n", "\u2028"])
def test_a_model_name_that_displays_as_another_is_refused(tmp_path: Path, char: str) -> None:
    column = _column(tmp_path, model=f"ref{char}-model")
    with pytest.raises(ColumnError, match=rf"model: .*U\+{ord(char):04X}"):
        check_column(column, tmp_path / "cassettes")


def test_a_hard_linked_cassette_is_refused(tmp_path: Path) -> None:
    column = _column(tmp_path)
    outside = tmp_path / "outside.yaml"
    outside.write_text("interactions: []\nversion: 1\n", encoding="utf-8")
    (column / "models.list.yaml").unlink()
    os.link(outside, column / "models.list.yaml")
    _refused(_replay(tmp_path), "models.list.yaml", "hard link")


def test_a_huge_cassette_is_refused_before_it_is_parsed(tmp_path: Path) -> None:
    column = _column(tmp_path)
    with (column / "models.list.yaml").open("ab") as fh:
        fh.truncate(MAX_CASSETTE_BYTES + 1)  # sparse: no disk, no time
    _refused(_replay(tmp_path), "models.list.yaml", f"limit {MAX_CASSETTE_BYTES}")


_INTERACTION = (
    "- request: {method: GET, uri: 'http://conformance.invalid/v1/models', body: '', "
    "headers: {}}\n  response: {status: {code: %s, message: OK}, headers: {}, body: {string: %s}}\n"
)
_BOMB = 'a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n' + "".join(
    f"a{i}: &a{i} [{','.join([f'*a{i - 1}'] * 9)}]\n" for i in range(1, 10)
)


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        (_BOMB + "interactions:\n" + _INTERACTION % ("200", "*a9"), "anchors and aliases"),
        ("interactions: !!python/object/apply:os.system ['true']\n", "could not determine"),
        ("interactions:\n" + _INTERACTION % ("[200]", "'{}'"), "status.code is not an integer"),
        ("interactions:\n" + _INTERACTION % ("200", "[1]"), "body.string is not a string"),
        ("interactions: {a: 1}\n", "interactions is not a list"),
        ("interactions: " + "[" * 5000 + "]" * 5000 + "\n", "depth"),
        ("x: 1" + ":1" * 50_000 + "\ninteractions: []\n", "an int of 100001 characters"),
        (
            "interactions:\n" + _INTERACTION.replace("headers: {}}", "x: 1}", 1) % ("200", "''"),
            "request has the keys",
        ),
    ],
    ids=[
        "billion-laughs",
        "python-tag",
        "status",
        "body",
        "interactions",
        "deep-nesting",
        "base-60-int",
        "request-keys",
    ],
)
def test_a_hostile_cassette_is_a_one_line_harness_error(
    tmp_path: Path, text: str, needle: str
) -> None:
    column = _column(tmp_path)
    (column / "models.list.yaml").write_text("version: 1\n" + text, encoding="utf-8")
    proc = _replay(tmp_path)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 1, out[-3000:]
    for word in ("Traceback", "INTERNALERROR", "AttributeError", "TypeError"):
        assert word not in out, out[-3000:]
    assert needle in out, out[-3000:]
    written = json.loads((tmp_path / "reports/results/generic__ref-model.json").read_text())
    (result,) = written["results"]
    assert result["outcome"] == "error"
    assert result["evidence"]["cassette"] == "cassettes/generic/ref-model/models.list.yaml"


@pytest.mark.parametrize(
    "name",
    ["zz.json", "generic__m2.json", "generic__mx.json", "llamacpp__m.json", "generic__m..json"],
)
def test_a_results_file_named_for_another_column_is_refused(tmp_path: Path, name: str) -> None:
    """A contributed ``zz.json`` claiming a committed column used to replace its outcomes in
    the matrix (found by attacking item 8): the name must be the column's own."""
    (tmp_path / "r").mkdir()
    (tmp_path / "r" / name).write_text(json.dumps(_good_results()), encoding="utf-8")
    proc = _matrix(tmp_path)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert name in lines[0]
    assert "does not match the column it claims" in lines[0]


@pytest.mark.parametrize(
    "name", ["generic__m.json", "generic__m.live.json", "generic__m.2026-12-01.json"]
)
def test_a_results_file_named_for_its_column_renders(tmp_path: Path, name: str) -> None:
    (tmp_path / "r").mkdir()
    (tmp_path / "r" / name).write_text(json.dumps(_good_results()), encoding="utf-8")
    proc = _matrix(tmp_path)
    assert proc.returncode == 0, proc.stderr
