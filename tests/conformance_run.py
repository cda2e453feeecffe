"""Run one conformance check in process, live, against a server on 127.0.0.1 (the reference
fake server): the runner's own path (``run_item``), without a pytest subprocess per check;
or the whole plugin in a pytest subprocess (:func:`run_plugin`)."""

from __future__ import annotations

import subprocess
from pathlib import Path

from child_pytest import run_pytest

from conformance.catalogue.checks import get
from conformance.catalogue.profiles import get_profile
from conformance.harness.context import Target
from conformance.harness.recording import Manifest
from conformance.harness.runner import Column, run_item
from conformance.results import CheckResult, Layer


def run_check(
    check_id: str,
    base_url: str,
    layer: Layer = "wire",
    *,
    api_key: str | None = None,
    provider: str = "generic",
    model: str = "ref-model",
    tmp: Path | None = None,
) -> CheckResult:
    target = Target(provider=provider, profile=get_profile(provider), base_url=base_url,
                    model=model, mode="live", api_key=api_key, request_timeout=20.0)  # fmt: skip
    manifest = Manifest(provider=provider, model=model, base_url=base_url)
    column = Column(target=target, cassette_dir=tmp or Path("cassettes-unused"), manifest=manifest)
    return run_item(get(check_id), layer, column)


def run_plugin(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``pytest -q ARGS`` in ``cwd`` with its results under ``cwd/reports`` (the plugin as a
    user runs it, through tests/child_pytest.py)."""
    return run_pytest(cwd, "-q", "--report-dir", str(cwd / "reports"), *args, timeout=600)
