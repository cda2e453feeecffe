"""A faster live certification (issue 15 item 4): smaller requests where the judgement allows
(sent only by suite 0.2.0 on: 0.1 recordings are asked what they were asked), fewer tries
of a failing judgement, and the server's slots as the concurrency a column may use.

The plugin runs in a subprocess against the reference server on 127.0.0.1.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from conformance.testing.fakeserver import FakeServer

ROOT = Path(__file__).resolve().parent.parent


def _pytest(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q",
         "--report-dir", str(cwd / "reports"), *args],
        cwd=cwd, env=env, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip


def _outcomes(cwd: Path, name: str) -> dict[str, Any]:
    data = json.loads((cwd / "reports" / "results" / name).read_text(encoding="utf-8"))
    return {f"{r['check']}[{r['layer']}]": r for r in data["results"]}


def test_reasoning_separated_asks_for_fewer_tokens_from_suite_0_2(tmp_path: Path) -> None:
    cassettes = tmp_path / "cassettes"
    with FakeServer() as server:
        proc = _pytest(tmp_path, "--base-url", server.base_url, "--conformance-mode",
                       "record", "--cassette-dir", str(cassettes),
                       "--checks", "reasoning.separated")  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-3000:]
    for name in ("reasoning.separated.yaml", "reasoning.separated.sdk.yaml"):
        text = (cassettes / "generic" / "ref-model" / name).read_text(encoding="utf-8")
        assert '"max_tokens": 32' in text, name
        assert "160" not in text, name


def test_a_0_1_recording_of_reasoning_separated_replays_with_its_own_request(
    tmp_path: Path,
) -> None:
    """The committed llamacpp-tools column was recorded by suite 0.1.0 with max_tokens 160:
    its replay must send that body (vcrpy matches on it) and keep the recorded outcomes."""
    column = ROOT / "cassettes" / "llamacpp-tools" / "qwen2.5-coder-1.5b"
    manifest = json.loads((column / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["suite_version"] == "0.1.0"
    assert '"max_tokens": 160' in (column / "reasoning.separated.yaml").read_text("utf-8")
    proc = _pytest(tmp_path, "--conformance-mode", "replay", "--cassette-dir",
                   str(ROOT / "cassettes"), "--provider", "llamacpp-tools",
                   "--checks", "reasoning.separated")  # fmt: skip
    res = _outcomes(tmp_path, "llamacpp-tools__qwen2.5-coder-1.5b.json")
    for key in ("reasoning.separated[wire]", "reasoning.separated[sdk]"):
        assert res[key]["outcome"] == manifest["expected"][key], (key, res[key]["message"])
        assert res[key]["outcome"] != "error", proc.stdout[-2000:]
