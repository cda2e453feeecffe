"""The result model of a conformance run and its JSON file format (``schema_version`` 1).

One run certifies one server column (a provider profile + one model) and writes one file,
``<report-dir>/results/<provider>__<model-slug>.json``::

    {"schema_version": 1,
     "run": {"provider", "column", "configuration", "server": {"name", "version"}, "model",
             "mode", "date", "suite_version", "any_agent_version", "python", "base_url",
             "recorded_date"},
     "results": [{"check", "layer", "outcome", "level", "area", "title", "message", "reason",
                  "link", "evidence": {"request", "response_excerpt", "cassette", "exchanges"},
                  "duration_s", "from_manifest"}]}

Readers must accept outcomes they do not know (render them as unknown), and must not rely on
the order of ``results``. This module is the single source of truth for the format, written
and read: :func:`write_results`, and one :func:`load_results` for the suite and the matrix
(bounded read, named messages for the common mistakes, the file-name identity rule, the
schema, the typed reader). The writer's types are :class:`RunInfo` and :class:`CheckResult`;
the matrix reads the same files through their tolerant views :class:`RunView` and
:class:`ResultView` (unknown outcomes and fields kept, see ``raw``).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, overload

from .trust import MAX_RESULTS_BYTES, ColumnError, read_json, safe_slug, validate_results
from .vocabulary import (
    LAYERS,
    LEVELS,
    NOT_COUNTED,
    OUTCOME_MEANING,
    OUTCOMES,
    PASSING,
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
    "ResultFileError",
    "ResultView",
    "ResultsFile",
    "RunFile",
    "RunInfo",
    "RunView",
    "ServerInfo",
    "load_results",
    "model_slug",
    "must_verdict",
    "parse_run_file",
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
    #: When the run happened; None for a replay (its evidence's date is ``recorded_date``).
    date: str | None
    suite_version: str
    any_agent_version: str | None
    #: The run's interpreter; None for a replay, which depends on the recordings only.
    python: str | None
    base_url: str
    recorded_date: str | None = None
    #: What the run cost (wall time, requests, tokens: ``harness.share.RunStats``); a
    #: replay carries the recording run's, or none.
    stats: dict[str, Any] | None = None


@dataclass(slots=True)
class Evidence:
    """A short excerpt of what was sent and received; never headers, never a key."""

    request: dict[str, Any] | None = None
    response_excerpt: str | None = None
    cassette: str | None = None
    #: Every exchange of a check that made more than one (``request``/``response_excerpt``
    #: each, in order; the last is also ``request``/``response_excerpt`` above).
    exchanges: list[dict[str, Any]] = field(default_factory=list)


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
    #: Seconds the check took live; None in a replay file (a replay's own time measures
    #: this machine, not the server), except for results kept from the manifest.
    duration_s: float | None = 0.0
    from_manifest: bool = False

    @property
    def key(self) -> str:
        """``check[layer]``: unique within one run."""
        return f"{self.check}[{self.layer}]"

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["duration_s"] = None if self.duration_s is None else round(self.duration_s, 3)
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
                exchanges=list(ev.get("exchanges") or []),
            ),
            duration_s=None if data.get("duration_s") is None else float(data["duration_s"]),
            from_manifest=bool(data.get("from_manifest", False)),
        )


@dataclass(slots=True)
class ResultsFile:
    run: RunInfo
    results: list[CheckResult]
    schema_version: int = SCHEMA_VERSION

    def to_dict(self) -> dict[str, Any]:
        run = asdict(self.run)
        if run.get("stats") is None:
            del run["stats"]  # older files have no such key; a replay must not add one
        return {
            "schema_version": self.schema_version,
            "run": run,
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


# ---- reading: one reader for the suite and the matrix -------------------------------------------


@overload
def load_results(paths: str | os.PathLike[str]) -> ResultsFile: ...
@overload
def load_results(paths: Iterable[Path]) -> list[RunFile]: ...
def load_results(paths: str | os.PathLike[str] | Iterable[Path]) -> ResultsFile | list[RunFile]:
    """Read result files, each bounded, checked and typed the same way (:func:`_read`).

    One path: that file, as the writer's :class:`ResultsFile`. An iterable of paths: every
    ``*.json`` under the given directories (and any files given directly), sorted by name, as
    the matrix's :class:`RunFile` views; a missing path contributes nothing.
    """
    if isinstance(paths, str | os.PathLike):
        path = Path(paths)
        return _read(path, str(path))[1]
    return [_read(path, source)[0] for path, source in _expand(paths)]


def _read(path: Path, source: str) -> tuple[RunFile, ResultsFile]:
    """One file: bounded bytes and depth, the named messages for the common mistakes, the
    file-name identity rule, the full schema, then the writer's own typed reader."""
    try:  # bounded bytes and depth before the parser recurses
        data = read_json(path, max_bytes=MAX_RESULTS_BYTES, what="results file")
    except ColumnError as exc:
        raise ResultFileError(str(exc)) from None
    run_file = parse_run_file(data, source)  # its messages name the common mistakes
    _check_identity(path, run_file)
    try:  # then the full schema (types and sizes) before the writer's reader runs
        validate_results(data, source)
    except ColumnError as exc:
        raise ResultFileError(str(exc)) from None
    try:  # the writer's own reader must accept it too
        typed = ResultsFile.from_dict(data)
    except (KeyError, TypeError, ValueError) as exc:
        raise ResultFileError(f"{source}: not a valid result file: {exc!r}") from None
    return run_file, typed


# ---- the matrix's view of a result file ---------------------------------------------------------


class ResultFileError(ValueError):
    """A result file that cannot be read or does not follow the schema."""


@dataclass(frozen=True)
class ResultView:
    """One check outcome on one layer, as the matrix reads it: a tolerant view of a
    :class:`CheckResult` (unknown outcomes kept, known fields normalised, the entry in ``raw``)."""

    check: str
    layer: str
    outcome: str
    level: str
    area: str
    title: str
    message: str
    reason: str | None
    link: str | None
    request: Any
    response_excerpt: str | None
    cassette: str | None
    duration_s: float | None
    from_manifest: bool
    raw: Mapping[str, Any] = field(repr=False, compare=False)
    #: ``(request, response excerpt)`` of every exchange, when the check made more than one.
    exchanges: tuple[tuple[Any, str | None], ...] = ()


@dataclass(frozen=True)
class RunView:
    """The ``run`` block of a result file, as the matrix reads it: a tolerant view of a
    :class:`RunInfo` (``server`` flattened to ``server_name``/``server_version``, empty strings
    as ``None``, the block itself in ``raw``)."""

    provider: str
    column: str
    configuration: str | None
    server_name: str | None
    server_version: str | None
    model: str | None
    mode: str | None
    date: str | None
    suite_version: str | None
    any_agent_version: str | None
    python: str | None
    base_url: str | None
    recorded_date: str | None
    raw: Mapping[str, Any] = field(repr=False, compare=False)


@dataclass(frozen=True)
class RunFile:
    """A result file as the matrix reads it. ``source`` is its name relative to the results
    directory."""

    source: str
    run: RunView
    results: tuple[ResultView, ...]


def _opt_str(obj: Mapping[str, Any], key: str) -> str | None:
    value = obj.get(key)
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, bool | int | float):
        return str(value)
    raise ResultFileError(f"{key!r} must be a string, got {type(value).__name__}")


def _req_str(obj: Mapping[str, Any], key: str, where: str) -> str:
    value = _opt_str(obj, key)
    if not value:
        raise ResultFileError(f"{where}: missing {key!r}")
    return value


def _mapping(value: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise ResultFileError(f"{where} must be an object")
    return value


def _parse_run(obj: Mapping[str, Any]) -> RunView:
    provider = _req_str(obj, "provider", "run")
    model = _opt_str(obj, "model")
    column = _opt_str(obj, "column") or (f"{provider}/{model}" if model else provider)
    server = obj.get("server")
    server_map: Mapping[str, Any] = server if isinstance(server, Mapping) else {}
    return RunView(
        provider=provider,
        column=column,
        configuration=_opt_str(obj, "configuration") or None,
        server_name=_opt_str(server_map, "name"),
        server_version=_opt_str(server_map, "version") or None,
        model=model,
        mode=_opt_str(obj, "mode"),
        date=_opt_str(obj, "date"),
        suite_version=_opt_str(obj, "suite_version"),
        any_agent_version=_opt_str(obj, "any_agent_version"),
        python=_opt_str(obj, "python"),
        base_url=_opt_str(obj, "base_url"),
        recorded_date=_opt_str(obj, "recorded_date"),
        raw=obj,
    )


def _parse_result(obj: Mapping[str, Any], index: int) -> ResultView:
    where = f"results[{index}]"
    evidence_value = obj.get("evidence")
    evidence: Mapping[str, Any] = evidence_value if isinstance(evidence_value, Mapping) else {}
    duration = obj.get("duration_s")
    if isinstance(duration, bool) or not isinstance(duration, int | float | type(None)):
        raise ResultFileError(f"{where}: 'duration_s' must be a number")
    excerpt = evidence.get("response_excerpt")
    if excerpt is not None and not isinstance(excerpt, str):
        excerpt = json.dumps(excerpt, sort_keys=True, ensure_ascii=False)
    return ResultView(
        check=_req_str(obj, "check", where),
        layer=(_opt_str(obj, "layer") or "wire").lower(),
        outcome=(_opt_str(obj, "outcome") or "not-run").lower(),
        level=(_opt_str(obj, "level") or "MAY").upper(),
        area=_opt_str(obj, "area") or "other",
        title=_opt_str(obj, "title") or "",
        message=_opt_str(obj, "message") or "",
        reason=_opt_str(obj, "reason") or None,
        link=_opt_str(obj, "link") or None,
        request=evidence.get("request"),
        response_excerpt=excerpt,
        cassette=_opt_str(evidence, "cassette"),
        duration_s=None if duration is None else float(duration),
        from_manifest=bool(obj.get("from_manifest", False)),
        raw=obj,
        exchanges=_exchanges(evidence.get("exchanges")),
    )


def _exchanges(value: Any) -> tuple[tuple[Any, str | None], ...]:
    if not isinstance(value, list):
        return ()
    out = []
    for item in value:
        if not isinstance(item, Mapping):
            continue
        excerpt = item.get("response_excerpt")
        if excerpt is not None and not isinstance(excerpt, str):
            excerpt = json.dumps(excerpt, sort_keys=True, ensure_ascii=False)
        out.append((item.get("request"), excerpt))
    return tuple(out)


def parse_run_file(data: Any, source: str) -> RunFile:
    """Validate and convert one decoded result file."""
    try:
        top = _mapping(data, "the file")
        version = top.get("schema_version")
        if version != SCHEMA_VERSION:
            raise ResultFileError(
                f"schema_version {version!r} is not supported (this renderer reads "
                f"{SCHEMA_VERSION})"
            )
        run = _parse_run(_mapping(top.get("run"), "'run'"))
        items = top.get("results")
        if not isinstance(items, list):
            raise ResultFileError("'results' must be a list")
        results = tuple(
            _parse_result(_mapping(item, f"results[{i}]"), i) for i, item in enumerate(items)
        )
    except ResultFileError as exc:
        raise ResultFileError(f"{source}: {exc}") from None
    return RunFile(source=source, run=run, results=results)


def _expand(paths: Iterable[Path]) -> list[tuple[Path, str]]:
    found: list[tuple[Path, str]] = []
    for path in paths:
        if path.is_dir():
            found.extend((p, p.relative_to(path).as_posix()) for p in sorted(path.rglob("*.json")))
        elif path.is_file():
            found.append((path, path.name))
        # A missing path simply contributes nothing: the matrix still lists every provider.
    return sorted(found, key=lambda item: (item[1], item[0].as_posix()))


#: what may follow ``<provider>__<model-slug>`` in a results file's name: ``.live``, ``.2026-12-01``
_LABEL = re.compile(r"(?:\.[a-z0-9][a-z0-9-]{0,39})?")


def _check_identity(path: Path, run_file: RunFile) -> None:
    """A results file can describe only its own column: its name must be
    ``<provider>__<model-slug>[.<label>].json`` for the provider and model it claims, so a
    contributed ``zz.json`` cannot replace another column's outcomes in the matrix."""
    run = run_file.run
    stem = results_filename(run.provider, run.model or "").removesuffix(".json")
    name = path.name.removesuffix(".json")
    if not (name.startswith(stem) and _LABEL.fullmatch(name[len(stem) :])):
        raise ResultFileError(
            f"{run_file.source}: its name does not match the column it claims "
            f"(provider {run.provider!r}, model {run.model!r}); name it {stem}.json "
            f"or {stem}.<label>.json"
        )


def must_verdict(results: Iterable[tuple[str, str]]) -> str:
    """One phrase for a column's MUST checks, from ``(level, outcome)`` pairs, counted as the
    matrix's MUST meter counts them (``n/a`` and ``not-run`` left out): ``every MUST holds``
    only when every counted one passed, ``no unexpected MUST failure (3 known)`` when the
    only others are the profile's known failures (``xfail``), ``flaky`` or ``unsupported``
    ones, ``2 unexpected MUST failures (3 known)`` otherwise (``fail``, ``error`` or an
    outcome this reader does not know), and ``no MUST judged`` when none was counted."""
    outcomes = [o for level, o in results if level == "MUST" and o not in NOT_COUNTED]
    if not outcomes:
        return "no MUST judged"
    aside_words = {"xfail": "known", "flaky": "flaky", "unsupported": "unsupported"}
    unexpected = sum(o not in PASSING and o not in aside_words for o in outcomes)
    aside = [f"{n} {word}" for o, word in aside_words.items() if (n := outcomes.count(o))]
    tail = f" ({', '.join(aside)})" if aside else ""
    if unexpected:
        plural = "s" if unexpected > 1 else ""
        return f"{unexpected} unexpected MUST failure{plural}{tail}"
    return f"no unexpected MUST failure{tail}" if aside else "every MUST holds"


def summarize(results: Iterable[CheckResult]) -> dict[str, int]:
    """Outcome → count (every known outcome present, zeros included)."""
    counts: dict[str, int] = dict.fromkeys(OUTCOMES, 0)
    for r in results:
        counts[r.outcome] = counts.get(r.outcome, 0) + 1
    return counts
