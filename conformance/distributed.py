"""A conformance session under pytest-xdist (``-n N``): the controller owns the certificate.

The controller (which collects and runs nothing) builds the columns as a serial run would —
probes the servers, takes the record locks, stages the recordings — and hands each worker the
same columns through ``workerinput``. Workers run items and send back, through
``workeroutput``, every result, measured fact and unreplayable key they produced. The
controller merges them in ``pytest_testnodedown`` into its own columns; the session then puts
them in catalogue order (:func:`conformance.plan.in_catalogue_order`) and writes results and
manifests once, exactly as a serial session does. A worker that went down without its share
(a crash, a kill) makes the whole run write nothing and fail.

Every check of one column carries ``xdist_group(<column>)`` and the plugin runs xdist with
``--dist loadscope`` (the scope of an item is its column, see
:func:`enforce_column_scheduling`): one column's checks run on one worker, in order, so a timing
check never overlaps its own column's load and a server that cuts a running stream when a
second request arrives is never sent two at once.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from .catalogue.profiles import PROFILES
from .harness.context import Target
from .harness.recording import Manifest
from .harness.runner import Column
from .results import CheckResult
from .settings import Settings

__all__ = [
    "INPUT_KEY",
    "OUTPUT_KEY",
    "Aggregator",
    "columns_from_handoff",
    "enforce_column_scheduling",
    "handoff",
    "is_worker",
    "worker_share",
]

INPUT_KEY = "any_agent_conformance_columns"
OUTPUT_KEY = "any_agent_conformance_share"


def is_worker(config: pytest.Config) -> bool:
    """True inside an xdist worker process."""
    return hasattr(config, "workerinput")


def enforce_column_scheduling(config: pytest.Config) -> str | None:
    """Make xdist send every check of one column to one worker; returns a header line when
    it replaced a distribution mode the user chose.

    The mode is ``loadscope``: an item's id is ``::<column>::<check>[<layer>]``, so its scope
    is its column. (``loadgroup`` with the ``xdist_group`` mark each item also carries would
    say the same, but pytest-xdist 3.8 renames items through ``item._nodeid``, which pytest
    9.2 no longer reads: the groups silently vanish and columns split over workers.)
    """
    dist = getattr(config.option, "dist", None)
    if dist is None or dist in ("no", "loadscope"):
        return None
    config.option.dist = "loadscope"
    if getattr(config.option, "maxworkerrestart", None) is None:
        # A replacement worker cannot bring a dead worker's share back: the run is lost
        # either way, so stop it instead of running the rest for nothing.
        config.option.maxworkerrestart = "0"
    args = config.invocation_params.args
    if not any(a == "--dist" or a.startswith("--dist=") or a == "-d" for a in args):
        return None  # xdist's own default for -n: nothing the user chose was changed
    return f"conformance: --dist {dist} replaced by loadscope (one column per worker)"


def handoff(columns: Sequence[Column]) -> list[dict[str, Any]]:
    """What a worker needs to rebuild the controller's columns (no secret: keys are re-read
    from the environment by the worker's own settings)."""
    return [
        {
            "provider": c.target.provider,
            "profile": c.target.profile.name,
            "base_url": c.target.base_url,
            "model": c.target.model,
            "model_meta": dict(c.target.model_meta),
            "target_index": c.target_index,
            "manifest": c.manifest.to_dict(),
            "staging": str(c.staging) if c.staging is not None else None,
            "baseline": dict(c.baseline),
            "server_name": c.server_name,
            "server_version": c.server_version,
            "concurrency": c.target.concurrency,
        }
        for c in columns
    ]


def columns_from_handoff(s: Settings, data: list[dict[str, Any]]) -> list[Column]:
    """The worker's copy of the controller's columns."""
    columns = []
    for entry in data:
        index = entry["target_index"]
        api_key = s.targets[index].api_key if index is not None else None
        target = Target(
            provider=entry["provider"],
            profile=PROFILES.get(entry["profile"], PROFILES["generic"]),
            base_url=entry["base_url"],
            model=entry["model"],
            mode=s.mode,
            api_key=api_key,
            connect_timeout=s.connect_timeout,
            request_timeout=s.request_timeout,
            max_response_bytes=s.max_response_bytes,
            first_token_timeout=s.first_token_timeout,
            idle_timeout=s.idle_timeout,
            model_meta=dict(entry["model_meta"]),
            flaky_tries=s.flaky_tries if s.mode == "live" else 1,
            share_max_bytes=s.share_max_bytes,
        )
        target.concurrency = int(entry.get("concurrency") or 1) if s.mode == "live" else 1
        manifest = Manifest.from_dict(entry["manifest"])
        if s.mode == "replay":  # a 0.1 recording is asked what 0.1 asked, on a worker too
            target.suite_version = manifest.suite_version
        column = Column(
            target=target,
            cassette_dir=s.cassette_dir,
            manifest=manifest,
            server_name=entry["server_name"],
            server_version=entry["server_version"],
            baseline=dict(entry["baseline"]),
            staging=Path(entry["staging"]) if entry["staging"] else None,
            target_index=index,
        )
        columns.append(column)
    return columns


def worker_share(columns: Sequence[Column]) -> dict[str, Any]:
    """What one worker produced, column by column (only plain data crosses the channel)."""
    return {
        c.target.column: {
            "results": [r.to_dict() for r in c.results],
            "facts": {k: dict(v) for k, v in c.facts.items()},
            "unreplayable": sorted(c.unreplayable),
            "stats": c.stats.to_dict(),
        }
        for c in columns
        if c.results
    }


@dataclass
class Aggregator:
    """Controller side: collects every worker's share into the session's columns."""

    settings: Settings
    columns: list[Column]
    #: Lines naming the workers whose share was lost (the run then writes nothing).
    lost: list[str] = field(default_factory=list)
    nodes: int = 0

    def pytest_configure_node(self, node: Any) -> None:
        self.nodes += 1
        node.workerinput[INPUT_KEY] = handoff(self.columns)

    def pytest_testnodedown(self, node: Any, error: object) -> None:
        name = getattr(getattr(node, "gateway", None), "id", "?")
        output = getattr(node, "workeroutput", None)
        share = output.get(OUTPUT_KEY) if isinstance(output, dict) else None
        if error is not None or share is None:
            why = error or "no results were sent"
            self.lost.append(
                f"worker {name} went down without handing back its results ({why}); nothing "
                "was written: a certificate is never written from part of a run"
            )
            return
        by_name = {c.target.column: c for c in self.columns}
        for column_name, part in share.items():
            column = by_name.get(column_name)
            if column is None:
                self.lost.append(f"worker {name} sent results for unknown column {column_name}")
                continue
            column.results.extend(CheckResult.from_dict(r) for r in part["results"])
            column.facts.update(part["facts"])
            column.unreplayable.update(part["unreplayable"])
            column.stats.merge(part.get("stats") or {})
