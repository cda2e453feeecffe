"""The result model of a conformance run and its JSON file format (``schema_version`` 1).

One run certifies one server column (a provider profile + one model) and writes one file,
``<report-dir>/results/<provider>__<model-slug>.json``::

    {"schema_version": 1,
     "run": {"provider", "column", "configuration", "server": {"name", "version"}, "model",
             "mode", "date", "suite_version", "any_agent_version", "python", "base_url",
             "recorded_date"},
     "results": [{"check", "layer", "outcome", "level", "area", "title", "message", "reason",
                  "link", "evidence": {"request", "response_excerpt", "cassette"},
                  "duration_s", "from_manifest"}]}

Readers must accept outcomes they do not know (render them as unknown), and must not rely on
the order of ``results``. This module is the single source of truth for the format: the
matrix renderer imports it.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from .trust import MAX_RESULTS_BYTES, read_json, safe_slug, validate_results
from .vocabulary import (
    LAYERS,
    LEVELS,
    OUTCOME_MEANING,
    OUTCOMES,
    SCHEMA_VERSION,
    Layer,
    Level,
    Mode,
    Outcome,
    model_slug,
)

__all__ = [
    "LAYERS",
    "LEVELS",
    "OUTCOMES",
    "OUTCOME_MEANING",
    "SCHEMA_VERSION",
    "CheckResult",
    "Evidence",
    "Layer",
    "Level",
    "Mode",
    "Outcome",
    "ResultsFile",
    "RunInfo",
    "ServerInfo",
    "load_all",
    "load_results",
    "model_slug",
    "results_filename",
    "summarize",
    "write_results",
]


@dataclass(slots=True)
class ServerInfo:
    """How the server identified itself (``/v1/models`` ``owned_by``, headers, ``/props``)."""

    name: str | None = None
    version: str | None = None


@dataclass(slots=True)
class RunInfo:
    provider: str
    column: str
    configuration: str | None
    server: ServerInfo
    model: str
    mode: Mode
    date: str
    suite_version: str
    any_agent_version: str | None
    python: str
    base_url: str
    recorded_date: str | None = None


@dataclass(slots=True)
class Evidence:
    """A short excerpt of what was sent and received; never headers, never a key."""

    request: dict[str, Any] | None = None
    response_excerpt: str | None = None
    cassette: str | None = None


@dataclass(slots=True)
class CheckResult:
    check: str
    layer: Layer
    outcome: Outcome
    level: Level
    area: str
    title: str
    message: str = ""
    reason: str | None = None
    link: str | None = None
    evidence: Evidence = field(default_factory=Evidence)
    duration_s: float = 0.0
    from_manifest: bool = False

    @property
    def key(self) -> str:
        """``check[layer]``: unique within one run."""
        return f"{self.check}[{self.layer}]"

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["duration_s"] = round(self.duration_s, 3)
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CheckResult:
        ev = data.get("evidence") or {}
        return cls(
            check=str(data["check"]),
            layer=data.get("layer", "wire"),
            outcome=data["outcome"],
            level=data.get("level", "MUST"),
            area=str(data.get("area", "")),
            title=str(data.get("title", "")),
            message=str(data.get("message") or ""),
            reason=data.get("reason"),
            link=data.get("link"),
            evidence=Evidence(
                request=ev.get("request"),
                response_excerpt=ev.get("response_excerpt"),
                cassette=ev.get("cassette"),
            ),
            duration_s=float(data.get("duration_s") or 0.0),
            from_manifest=bool(data.get("from_manifest", False)),
        )


@dataclass(slots=True)
class ResultsFile:
    run: RunInfo
    results: list[CheckResult]
    schema_version: int = SCHEMA_VERSION

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema_version": self.schema_version,
            "run": asdict(self.run),
            "results": [r.to_dict() for r in self.results],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ResultsFile:
        version = data.get("schema_version")
        if version != SCHEMA_VERSION:
            raise ValueError(f"unsupported results schema_version {version!r} (want 1)")
        run = dict(data["run"])
        server = run.pop("server", None) or {}
        known = set(RunInfo.__dataclass_fields__) - {"server"}
        info = RunInfo(
            server=ServerInfo(name=server.get("name"), version=server.get("version")),
            **{k: v for k, v in run.items() if k in known},
        )
        return cls(
            run=info,
            results=[CheckResult.from_dict(r) for r in data.get("results", [])],
            schema_version=version,
        )

    def by_key(self) -> dict[str, CheckResult]:
        return {r.key: r for r in self.results}


def results_filename(provider: str, model: str) -> str:
    """``<provider>__<model-slug>.json``, both parts slugged (no separator, no ``..``)."""
    return f"{safe_slug(provider)}__{model_slug(model)}.json"


def write_results(report_dir: str | Path, results: ResultsFile) -> Path:
    """Write ``<report_dir>/results/<provider>__<model-slug>.json`` and return its path."""
    out_dir = Path(report_dir) / "results"
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / results_filename(results.run.provider, results.run.model)
    if path.parent != out_dir or path.is_symlink():  # pragma: no cover - slugs prevent it
        raise ValueError(f"refusing to write {path}: not a plain file in {out_dir}")
    text = json.dumps(results.to_dict(), indent=2, ensure_ascii=False, sort_keys=False)
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(text + "\n", encoding="utf-8")
    tmp.replace(path)
    return path


def load_results(path: str | Path) -> ResultsFile:
    """Read one results file, bounded and schema-checked first (``ColumnError``, a
    ``ValueError``, also on an unknown ``schema_version``)."""
    path = Path(path)
    data = read_json(path, max_bytes=MAX_RESULTS_BYTES, what="results file")
    validate_results(data, str(path))
    return ResultsFile.from_dict(data)


def load_all(report_dir: str | Path) -> list[ResultsFile]:
    """Every results file under ``<report_dir>/results/``, sorted by file name."""
    out: list[ResultsFile] = []
    for path in sorted((Path(report_dir) / "results").glob("*.json")):
        out.append(load_results(path))
    return out


def summarize(results: Iterable[CheckResult]) -> dict[str, int]:
    """Outcome → count (every known outcome present, zeros included)."""
    counts: dict[str, int] = dict.fromkeys(OUTCOMES, 0)
    for r in results:
        counts[r.outcome] = counts.get(r.outcome, 0) + 1
    return counts
