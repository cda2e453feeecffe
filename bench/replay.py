"""Offline replay of the whole conformance suite over every committed cassette, timed.

The suite is run the way ``make certify`` replays it, in a subprocess, with its result files
sent to a temporary directory (so ``reports/`` is left alone)::

    python -m pytest -q -p no:cacheprovider --conformance-mode replay --cassette-dir cassettes \
        --report-dir TMP

``BENCH_REPLAY_ARGS`` (shell-quoted) replaces the arguments after ``pytest`` if the suite is
invoked differently. A recording is a ``cassettes/<provider>/<model>/manifest.json`` with its
cassettes beside it. When the conformance plugin or the recordings are not there yet, the row
says so instead of failing the benchmark.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

__all__ = ["run_replay"]

CASSETTE_SUFFIXES = (".yaml", ".yml")


def _recordings(root: Path) -> list[Path]:
    return sorted((root / "cassettes").glob("*/*/manifest.json"))


def _cassettes(root: Path) -> list[Path]:
    return [
        p
        for rec in _recordings(root)
        for p in rec.parent.rglob("*")
        if p.is_file() and p.suffix in CASSETTE_SUFFIXES
    ]


def _uncommitted(root: Path, files: list[Path]) -> int | None:
    """How many of ``files`` git does not track (None outside a git checkout)."""
    try:
        p = subprocess.run(
            ["git", "ls-files", "-z", "--", "cassettes"],
            cwd=root,
            capture_output=True,
            text=True,
            timeout=60,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    if p.returncode != 0:
        return None
    tracked = {root / name for name in p.stdout.split("\0") if name}
    return sum(1 for f in files if f not in tracked)


def _has_option(root: Path) -> bool:
    p = subprocess.run(
        [sys.executable, "-m", "pytest", "--help", "-p", "no:cacheprovider"],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=120,
    )
    return "--conformance-mode" in p.stdout


def run_replay(root: Path, *, run: bool = True, timeout: float = 900) -> dict[str, Any]:
    args = shlex.split(os.environ.get("BENCH_REPLAY_ARGS", "")) or [
        "-q",
        "-p",
        "no:cacheprovider",
        "--conformance-mode",
        "replay",
        "--cassette-dir",
        "cassettes",
        "--report-dir",
        "TMP",
    ]
    row: dict[str, Any] = {"command": "pytest " + shlex.join(args)}
    recordings = _recordings(root)
    row["recordings"] = len(recordings)
    cassettes = _cassettes(root)
    row["cassettes"] = len(cassettes)
    row["uncommitted"] = _uncommitted(root, cassettes)
    if not (root / "conformance" / "plugin.py").exists() or not _has_option(root):
        row["status"] = "not available yet: the conformance plugin (--conformance-mode) is missing"
        return row
    if not recordings:
        row["status"] = "not available yet: no committed recordings (cassettes/*/*/manifest.json)"
        return row
    if not run:
        row["status"] = "skipped in quick mode"
        return row
    with tempfile.TemporaryDirectory(prefix="bench-replay-") as tmp:
        cmd = [sys.executable, "-m", "pytest", *(tmp if a == "TMP" else a for a in args)]
        return _timed_run(cmd, root, timeout, row)


def _timed_run(cmd: list[str], root: Path, timeout: float, row: dict[str, Any]) -> dict[str, Any]:
    t0 = time.perf_counter()
    try:
        p = subprocess.run(cmd, cwd=root, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        row.update(status=f"timed out after {timeout:.0f} s", wall_s=time.perf_counter() - t0)
        return row
    row["wall_s"] = time.perf_counter() - t0
    lines = [ln for ln in p.stdout.strip().splitlines() if ln.strip()]
    row["summary"] = lines[-1][:200] if lines else ""
    row["exit_code"] = p.returncode
    row["status"] = "ran" if p.returncode in (0, 1) else f"pytest exited {p.returncode}"
    return row
