"""Offline replay of the whole conformance suite over every committed cassette, timed.

The suite is run the way ``make certify`` replays it, in a subprocess, with its result files
sent to a temporary directory (so ``reports/`` is left alone)::

    python -m pytest -q -p no:cacheprovider --conformance-mode replay --cassette-dir cassettes \
        --report-dir TMP

It runs again under pytest-xdist (``-n 2``, when xdist is installed) and says whether the
two runs wrote the same bytes. Each run's wall time, its CPU time (user + system, its workers
included: the figure that does not depend on what else the machine runs) and the load average
when it started are kept. ``BENCH_REPLAY_ARGS`` (shell-quoted) replaces the arguments after
``pytest`` if the suite is invoked differently. A recording is a
``cassettes/<provider>/<model>/manifest.json`` with its cassettes beside it. When the
conformance plugin or the recordings are not there yet, the row says so instead of failing
the benchmark.
"""

from __future__ import annotations

import importlib.util
import os
import resource
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


def run_replay(
    root: Path, *, run: bool = True, timeout: float = 900, workers: int = 2
) -> dict[str, Any]:
    """Replay every committed recording serially, then with ``workers`` xdist workers."""
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
        serial, parallel = Path(tmp) / "serial", Path(tmp) / "parallel"

        def command(out: Path) -> list[str]:
            return [sys.executable, "-m", "pytest", *(str(out) if a == "TMP" else a for a in args)]

        _timed_run(command(serial), root, timeout, row)
        if workers > 1 and importlib.util.find_spec("xdist") is not None:
            par: dict[str, Any] = {"workers": workers}
            _timed_run([*command(parallel), "-n", str(workers)], root, timeout, par)
            par["same_results"] = _files(serial) == _files(parallel) != {}
            row["parallel"] = par
    return row


def _files(root: Path) -> dict[str, bytes]:
    """Every file a run wrote under ``root``, by its path there."""
    if not root.is_dir():
        return {}
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _timed_run(cmd: list[str], root: Path, timeout: float, row: dict[str, Any]) -> dict[str, Any]:
    row["load_start"] = os.getloadavg()[0]
    t0, cpu0 = time.perf_counter(), _children_cpu()
    try:
        p = subprocess.run(cmd, cwd=root, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        row.update(status=f"timed out after {timeout:.0f} s", wall_s=time.perf_counter() - t0)
        return row
    row["wall_s"] = time.perf_counter() - t0
    # the child's CPU and that of every worker it waited for (xdist's)
    row["cpu_s"] = _children_cpu() - cpu0
    lines = [ln for ln in p.stdout.strip().splitlines() if ln.strip()]
    row["summary"] = lines[-1][:200] if lines else ""
    row["exit_code"] = p.returncode
    row["status"] = "ran" if p.returncode in (0, 1) else f"pytest exited {p.returncode}"
    return row
