"""``any-agent-conformance merge``: CI shards → one results set → the matrix (issue 15, item 3).

Shards are made by copying committed result files into temporary directories (the committed
files are only read); a shard is untrusted, so it goes through the one results reader.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from conformance.cli import main

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "reports" / "results"
ONE = "llamacpp__qwen2.5-coder-1.5b.json"
TWO = "vllm__qwen2.5-coder-0.5b.json"


def _shard(root: Path, name: str, *files: str) -> Path:
    shard = root / name
    shard.mkdir()
    for f in files:
        shutil.copyfile(RESULTS / f, shard / f)
    return shard


def test_shards_merge_into_one_set_the_matrix_renders(tmp_path: Path, capsys: object) -> None:
    a, b = _shard(tmp_path, "job-a", ONE), _shard(tmp_path, "job-b", TWO)
    out = tmp_path / "merged"
    assert main(["merge", str(a), str(b), "--out", str(out)]) == 0
    assert sorted(p.name for p in (out / "results").iterdir()) == sorted([ONE, TWO])
    assert json.loads((out / "results" / ONE).read_text()) == json.loads(
        (RESULTS / ONE).read_text()
    )
    assert main(["matrix", "--results", str(out / "results"), "--out", str(out), "-q"]) == 0
    matrix = json.loads((out / "compatibility.json").read_text(encoding="utf-8"))
    assert "llamacpp" in json.dumps(matrix)


def test_the_same_column_twice_is_refused_naming_both_files(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    a, b = _shard(tmp_path, "job-a", ONE), _shard(tmp_path, "job-b", ONE, TWO)
    assert main(["merge", str(a), str(b), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert f"is in both {a / ONE} and {b / ONE}" in err
    assert not (tmp_path / "out").exists()


def test_mismatched_suite_versions_are_refused_naming_the_files(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    a, b = _shard(tmp_path, "job-a", ONE), _shard(tmp_path, "job-b", TWO)
    data = json.loads((b / TWO).read_text(encoding="utf-8"))
    data["run"]["suite_version"] = "0.0.9"
    (b / TWO).write_text(json.dumps(data), encoding="utf-8")
    assert main(["merge", str(a), str(b), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert "different suite versions" in err
    assert f"suite 0.0.9: {b / TWO}" in err
    assert not (tmp_path / "out").exists()


def test_a_shard_file_is_untrusted_input(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    a = _shard(tmp_path, "job-a", ONE)
    (a / "zz.json").write_bytes((RESULTS / TWO).read_bytes())  # claims another column's name
    assert main(["merge", str(a), "--out", str(tmp_path / "out")]) == 2
    assert "does not match the column it claims" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
