"""Merge result files into a matrix: rows are checks, columns are servers, cells are layers.

Everything here is computed once and shared by the Markdown, HTML and JSON renderers, so
the three agree on column order, footnote numbers and summary counts. The output depends
only on the result files (sorted, no clock), so re-rendering unchanged results gives
byte-identical reports.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from ..catalogue.checks import AREAS, CHECKS
from ..results import LAYERS, LEVELS, OUTCOMES, ResultView, RunFile, RunView
from ..vocabulary import NOT_COUNTED, PASSING
from .providers import SEED_PROVIDERS, display_name, family, make_command, record_command

__all__ = [
    "LEGEND",
    "NOTE_OUTCOMES",
    "ColumnSummary",
    "Matrix",
    "MatrixColumn",
    "Note",
    "OutcomeInfo",
    "Row",
    "area_cell",
    "build_matrix",
    "outcome_info",
]


@dataclass(frozen=True)
class OutcomeInfo:
    outcome: str
    symbol: str  # Markdown (emoji)
    glyph: str  # HTML (plain font glyph; colour carries the rest)
    label: str
    description: str


LEGEND: tuple[OutcomeInfo, ...] = (
    OutcomeInfo("pass", "✅", "✓", "pass", "every assertion held"),
    OutcomeInfo("warn", "⚠️", "!", "warning", "passed, but a SHOULD-level expectation was not met"),
    OutcomeInfo(
        "xfail",
        "🔶",
        "✗",
        "known failure",
        "fails as the provider profile says it does (reason and link in the note)",
    ),
    OutcomeInfo("fail", "❌", "✗", "fail", "an assertion failed"),
    OutcomeInfo(
        "flaky",
        "🎲",
        "≈",
        "flaky",
        "failed on some tries and held on others in one live run (the counts are in the note)",
    ),
    OutcomeInfo(
        "error",
        "⛔",
        "⚡",
        "error",
        "the harness could not run the check (connection, timeout, cassette missing or stale)",
    ),
    OutcomeInfo(
        "unsupported", "➖", "–", "unsupported", "the provider declares the capability absent"
    ),
    OutcomeInfo("n/a", "n/a", "n/a", "not applicable", "the check does not apply here"),
    OutcomeInfo(
        "not-run",
        "❔",
        "?",
        "not run",
        "deselected, or a live-only check in a replayed run (unknown)",
    ),
    OutcomeInfo(
        "not-recorded",
        "⏺️",
        "○",
        "not recorded",
        "the recording predates the check (an older suite made it); the note says how to record it",
    ),
    OutcomeInfo(
        "not-offered",
        "🚫",
        "∅",
        "not offered",
        "the server does not serve this endpoint (HTTP 404/405): not a failure",
    ),
    OutcomeInfo("missing", "·", "·", "no result", "this run has no result for the check"),
    OutcomeInfo("unknown", "❓", "?", "unknown outcome", "an outcome this renderer does not know"),
)
_INFO = {info.outcome: info for info in LEGEND}

#: Outcomes that get a numbered note explaining why.
NOTE_OUTCOMES = frozenset(
    {"warn", "xfail", "flaky", "fail", "error", "unsupported", "not-recorded", "not-offered"}
)


def outcome_info(outcome: str | None) -> OutcomeInfo:
    """Legend entry for an outcome; ``None`` means no result, anything unknown is "unknown"."""
    if outcome is None:
        return _INFO["missing"]
    return _INFO.get(outcome, _INFO["unknown"])


@dataclass(frozen=True)
class Note:
    number: int
    outcome: str
    message: str
    reason: str | None
    link: str | None


@dataclass(frozen=True)
class Row:
    check: str
    area: str
    level: str
    title: str
    #: Layers the check is judged at (a wire-only check has one symbol per cell).
    layers: tuple[str, ...] = LAYERS


@dataclass(frozen=True)
class ColumnSummary:
    #: layer -> (passed, counted) over MUST checks
    must: dict[str, tuple[int, int]]
    #: outcome -> number of checks with that outcome on at least one layer
    counts: dict[str, int]
    #: area -> (checks passed on every layer that ran, checks counted)
    areas: dict[str, tuple[int, int]]


@dataclass
class MatrixColumn:
    key: str
    provider: str
    provider_name: str
    recorded: bool
    label: str
    configuration: str | None = None
    run: RunView | None = None
    sources: tuple[str, ...] = ()
    cells: dict[tuple[str, str], ResultView] = field(default_factory=dict)
    summary: ColumnSummary | None = None
    record_command: str = ""
    make_command: str = ""

    @property
    def header(self) -> str:
        if not self.recorded:
            return f"{self.provider} (not recorded)"
        if self.configuration:
            return f"{self.label} ({self.configuration})"
        return self.label

    @property
    def provenance(self) -> str:
        """How the numbers were obtained: live run, recording, or replay of a recording."""
        run = self.run
        if run is None:
            return "not recorded"
        date = (run.date or "")[:10]
        if run.mode == "replay":
            recorded = run.recorded_date or "an undated"
            return f"replay of {recorded[:10]} recording"
        if run.mode == "record":
            return f"recorded {date}".strip()
        if run.mode == "live":
            return f"live {date}".strip()
        return f"{run.mode or 'unknown mode'} {date}".strip()


@dataclass
class Matrix:
    columns: list[MatrixColumn]
    rows: list[Row]
    notes: list[Note]
    #: (column key, check, layer) -> note number
    note_refs: dict[tuple[str, str, str], int]
    sources: list[str]

    @property
    def areas(self) -> list[str]:
        return list(dict.fromkeys(row.area for row in self.rows))

    @property
    def recorded_columns(self) -> list[MatrixColumn]:
        return [c for c in self.columns if c.recorded]

    @property
    def suite_versions(self) -> list[str]:
        return sorted({c.run.suite_version for c in self.columns if c.run and c.run.suite_version})

    def rows_by_area(self) -> list[tuple[str, list[Row]]]:
        """Rows grouped by area, in row order (the registry's area order)."""
        groups: dict[str, list[Row]] = {}
        for row in self.rows:
            groups.setdefault(row.area, []).append(row)
        return list(groups.items())


def area_cell(column: MatrixColumn, area: str, rows: Sequence[Row]) -> tuple[str, str]:
    """What an area's heading row shows for ``column``: ``("3/5", state)`` (checks passed on
    every layer that ran them, of those counted), ``("not offered", "not-offered")`` when
    every result of the area is ``not-offered`` (an API the server does not serve), or
    ``("", "none")`` when nothing was counted. ``state`` is ``full``, ``part``,
    ``not-offered`` or ``none``."""
    summary = column.summary
    if summary is not None and area in summary.areas:
        passed, total = summary.areas[area]
        return f"{passed}/{total}", "full" if passed == total else "part"
    outcomes = {
        result.outcome
        for row in rows
        for layer in row.layers
        if (result := column.cells.get((row.check, layer))) is not None
    }
    if outcomes and outcomes <= {"not-offered"}:
        return "not offered", "not-offered"
    return "", "none"


_SEED_ORDER = {p.id: i for i, p in enumerate(SEED_PROVIDERS)}
_LEVEL_ORDER: dict[str, int] = {level: i for i, level in enumerate(LEVELS)}


@dataclass(frozen=True)
class _Catalogue:
    areas: tuple[str, ...] = ()
    #: check id -> (position, title, layers)
    checks: dict[str, tuple[int, str, tuple[str, ...]]] = field(default_factory=dict)


def _catalogue() -> _Catalogue:
    """Row order and titles from the check catalogue."""
    return _Catalogue(
        areas=tuple(AREAS),
        checks={c.id: (i, c.title, tuple(c.layers)) for i, c in enumerate(CHECKS)},
    )


def _row_key(row: Row, catalogue: _Catalogue) -> tuple[object, ...]:
    areas = catalogue.areas
    area_key = (areas.index(row.area), "") if row.area in areas else (len(areas), row.area)
    known = catalogue.checks.get(row.check)
    if known is not None:
        return (*area_key, 0, known[0], "")
    return (*area_key, 1, _LEVEL_ORDER.get(row.level, len(LEVELS)), row.check)


def _column_identity(run: RunView) -> tuple[str, str]:
    label = f"{run.column}@{run.server_version or '?'}"
    key = f"{label} [{run.configuration}]" if run.configuration else label
    return key, label


def _merge(group: Sequence[RunFile]) -> dict[tuple[str, str], ResultView]:
    cells: dict[tuple[str, str], ResultView] = {}
    for run_file in group:  # oldest first; newer results replace older ones
        for result in run_file.results:
            slot = (result.check, result.layer)
            old = cells.get(slot)
            # A check that a newer run could not run (live-only in replay, or newer than the
            # recording) keeps the older result.
            if (
                result.outcome in ("not-run", "not-recorded")
                and old is not None
                and old.outcome not in ("not-run", "not-recorded")
            ):
                continue
            cells[slot] = result
    return cells


def _summarise(column: MatrixColumn, rows: Sequence[Row]) -> ColumnSummary:
    must: dict[str, list[int]] = {layer: [0, 0] for layer in LAYERS}
    counts: dict[str, int] = {}
    areas: dict[str, list[int]] = {}
    for row in rows:
        results = [column.cells.get((row.check, layer)) for layer in LAYERS]
        outcomes = [r.outcome for r in results if r is not None]
        if not outcomes:
            continue
        for outcome in sorted(set(outcomes)):
            key = outcome if outcome in OUTCOMES else "unknown"
            counts[key] = counts.get(key, 0) + 1
        counted = [o for o in outcomes if o not in NOT_COUNTED]
        if counted:
            area = areas.setdefault(row.area, [0, 0])
            area[1] += 1
            if all(o in PASSING for o in counted):
                area[0] += 1
        if row.level == "MUST":
            for layer, result in zip(LAYERS, results, strict=True):
                if result is None or result.outcome in NOT_COUNTED:
                    continue
                must[layer][1] += 1
                if result.outcome in PASSING:
                    must[layer][0] += 1
    return ColumnSummary(
        must={layer: (v[0], v[1]) for layer, v in must.items()},
        counts=dict(sorted(counts.items())),
        areas={area: (v[0], v[1]) for area, v in areas.items()},  # row (registry) order
    )


def build_matrix(run_files: Iterable[RunFile]) -> Matrix:
    runs = sorted(run_files, key=lambda r: (r.run.date or "", r.source))
    groups: dict[str, list[RunFile]] = {}
    for run_file in runs:
        groups.setdefault(_column_identity(run_file.run)[0], []).append(run_file)

    recorded: list[MatrixColumn] = []
    for key, group in groups.items():
        latest = group[-1].run
        _, label = _column_identity(latest)
        recorded.append(
            MatrixColumn(
                key=key,
                provider=latest.provider,
                provider_name=display_name(latest.provider),
                recorded=True,
                label=label,
                configuration=latest.configuration,
                run=latest,
                sources=tuple(sorted(r.source for r in group)),
                cells=_merge(group),
                record_command=record_command(latest.provider),
                make_command=make_command(latest.provider),
            )
        )
    recorded.sort(
        key=lambda c: (
            _SEED_ORDER.get(family(c.provider), len(_SEED_ORDER)),
            family(c.provider),
            c.provider,
            c.run.column if c.run else "",
            c.configuration or "",
            c.key,
        )
    )
    have = {family(c.provider) for c in recorded}
    missing = [
        MatrixColumn(
            key=p.id,
            provider=p.id,
            provider_name=p.name,
            recorded=False,
            label=p.id,
            record_command=record_command(p.id),
            make_command=make_command(p.id),
        )
        for p in SEED_PROVIDERS
        if p.id not in have
    ]
    columns = recorded + missing

    # Row metadata: the first column (in display order) that reports the check describes it;
    # the registry supplies the order, and a title the results lack.
    catalogue = _catalogue()
    first: dict[str, ResultView] = {}
    layers_seen: dict[str, set[str]] = {}
    for column in recorded:
        for (check, layer), result in sorted(column.cells.items()):
            first.setdefault(check, result)
            layers_seen.setdefault(check, set()).add(layer)
    rows = []
    for check, result in first.items():
        known = catalogue.checks.get(check)
        layers = set(layers_seen[check]) | set(known[2] if known else ())
        rows.append(
            Row(
                check,
                result.area,
                result.level,
                result.title or (known[1] if known else ""),
                tuple(layer for layer in LAYERS if layer in layers)
                + tuple(sorted(layers - set(LAYERS))),
            )
        )
    rows.sort(key=lambda r: _row_key(r, catalogue))

    notes: list[Note] = []
    note_numbers: dict[tuple[str, str, str | None, str | None], int] = {}
    note_refs: dict[tuple[str, str, str], int] = {}
    for row in rows:
        for column in recorded:
            for layer in row.layers:
                found = column.cells.get((row.check, layer))
                if found is None:
                    continue
                if found.outcome not in NOTE_OUTCOMES and found.outcome in OUTCOMES:
                    continue
                ident = (found.outcome, found.message, found.reason, found.link)
                number = note_numbers.get(ident)
                if number is None:
                    number = len(notes) + 1
                    note_numbers[ident] = number
                    notes.append(Note(number, *ident))
                note_refs[(column.key, row.check, layer)] = number

    for column in recorded:
        column.summary = _summarise(column, rows)

    return Matrix(
        columns=columns,
        rows=rows,
        notes=notes,
        note_refs=note_refs,
        sources=sorted(r.source for r in runs),
    )
