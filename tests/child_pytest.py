"""Run pytest (and the conformance plugin it loads from its entry point) in a child process,
as a user's shell would: real exit codes, real option parsing, a fresh interpreter.

The child gets this process's environment without its ``PYTEST_*`` variables (an xdist
worker's ids must not leak into the run under test) and without the hypothesis plugin: it
runs no hypothesis test, and the plugin imports all of hypothesis when a session ends, about
half the start-up cost of every child."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

#: The command line every child starts with; a test appends the plugin's options.
PYTEST = (sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-p", "no:hypothesispytest")


def child_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """This environment less ``PYTEST_*``, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    env.update(extra or {})
    return env


def run_pytest(
    cwd: Path,
    *args: str,
    env: dict[str, str] | None = None,
    timeout: float = 300,
) -> subprocess.CompletedProcess[str]:
    """``pytest -p no:cacheprovider *args`` in ``cwd``; output captured as text, never raises
    on a non-zero exit (the exit code is what most callers assert)."""
    return subprocess.run(
        [*PYTEST, *args],
        cwd=cwd,
        env=child_env(env),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
