"""Typed view of conformance result files (``reports/results/*.json``, schema version 1).

The result files are written by the plugin (``conformance.results``); this module only
reads them. It is deliberately tolerant: a field it does not know is kept (``raw``) and
passed through to the merged JSON, and an outcome it does not know is rendered as
"unknown" instead of being dropped (WPT interop#319: every consumer must handle every
status).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from conformance import results as _results
from conformance.trust import MAX_RESULTS_BYTES, ColumnError, read_json, validate_results

__all__ = [
    "LAYERS",
    "LEVELS",
    "OUTCOMES",
    "SCHEMA_VERSION",
    "Result",
    "ResultFileError",
    "RunFile",
    "RunInfo",
    "load_results",
    "parse_run_file",
]

#: Known outcomes and their vocabulary come from the result format's single source of truth.
OUTCOMES: tuple[str, ...] = tuple(_results.OUTCOMES)
LAYERS: tuple[str, ...] = tuple(_results.LAYERS)
LEVELS: tuple[str, ...] = tuple(_results.LEVELS)
SCHEMA_VERSION: int = _results.SCHEMA_VERSION


class ResultFileError(ValueError):
    """A result file that cannot be read or does not follow the schema."""


@dataclass(frozen=True)
class Result:
    """One check outcome on one layer."""

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


@dataclass(frozen=True)
class RunInfo:
    """The ``run`` block of a result file."""

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
    """A parsed result file. ``source`` is its name relative to the results directory."""

    source: str
    run: RunInfo
    results: tuple[Result, ...]


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


def _parse_run(obj: Mapping[str, Any]) -> RunInfo:
    provider = _req_str(obj, "provider", "run")
    model = _opt_str(obj, "model")
    column = _opt_str(obj, "column") or (f"{provider}/{model}" if model else provider)
    server = obj.get("server")
    server_map: Mapping[str, Any] = server if isinstance(server, Mapping) else {}
    return RunInfo(
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


def _parse_result(obj: Mapping[str, Any], index: int) -> Result:
    where = f"results[{index}]"
    evidence_value = obj.get("evidence")
    evidence: Mapping[str, Any] = evidence_value if isinstance(evidence_value, Mapping) else {}
    duration = obj.get("duration_s")
    if isinstance(duration, bool) or not isinstance(duration, int | float | type(None)):
        raise ResultFileError(f"{where}: 'duration_s' must be a number")
    excerpt = evidence.get("response_excerpt")
    if excerpt is not None and not isinstance(excerpt, str):
        excerpt = json.dumps(excerpt, sort_keys=True, ensure_ascii=False)
    return Result(
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
    )


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
    stem = _results.results_filename(run.provider, run.model or "").removesuffix(".json")
    name = path.name.removesuffix(".json")
    if not (name.startswith(stem) and _LABEL.fullmatch(name[len(stem) :])):
        raise ResultFileError(
            f"{run_file.source}: its name does not match the column it claims "
            f"(provider {run.provider!r}, model {run.model!r}); name it {stem}.json "
            f"or {stem}.<label>.json"
        )


def load_results(paths: Iterable[Path]) -> list[RunFile]:
    """Read every ``*.json`` under the given directories (and any files given directly)."""
    runs: list[RunFile] = []
    for path, source in _expand(paths):
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
            _results.ResultsFile.from_dict(data)
        except (KeyError, TypeError, ValueError) as exc:
            raise ResultFileError(f"{source}: not a valid result file: {exc!r}") from None
        runs.append(run_file)
    return runs
