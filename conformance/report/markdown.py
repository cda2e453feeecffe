"""``compatibility.md``: GitHub tables via tabulate, caniuse-style numbered notes."""

from __future__ import annotations

from tabulate import tabulate

from ..vocabulary import LAYERS
from .escape import md_code, md_inline, md_text, safe_link
from .matrix import LEGEND, Matrix, MatrixColumn, Note, Row, area_cell, outcome_info

__all__ = ["md_escape", "md_inline", "render_markdown"]

_SUPERSCRIPT = str.maketrans("0123456789", "⁰¹²³⁴⁵⁶⁷⁸⁹")


md_escape = md_text
_code = md_code
_safe_link = safe_link


def _table(rows: list[list[str]], headers: list[str]) -> str:
    return tabulate(rows, headers=headers, tablefmt="github", disable_numparse=True)


def _cell(matrix: Matrix, column: MatrixColumn, row: Row) -> str:
    if not column.recorded:
        return ""
    parts = []
    for layer in row.layers:
        result = column.cells.get((row.check, layer))
        symbol = outcome_info(None if result is None else result.outcome).symbol
        number = matrix.note_refs.get((column.key, row.check, layer))
        parts.append(symbol + (str(number).translate(_SUPERSCRIPT) if number else ""))
    return " / ".join(parts)


def _area_head(column: MatrixColumn, area: str, rows: list[Row]) -> str:
    if not column.recorded:
        return ""
    text, state = area_cell(column, area, rows)
    if state == "not-offered":
        return f"{outcome_info('not-offered').symbol} *not offered*"
    return f"*{text} passed*" if text else ""


def _matrix_header(column: MatrixColumn) -> str:
    """A compact, multi-line (``<br>``) column header for the wide matrix table."""
    run = column.run
    if run is None:
        return f"{md_escape(column.provider_name)}<br>*not recorded*"
    model = run.column.split("/", 1)[1] if "/" in run.column else (run.model or run.column)
    lines = [
        md_escape(column.provider_name),
        f"{md_escape(model)}@{md_escape(run.server_version or '?')}",
    ]
    if column.configuration:
        lines.append(f"*{md_escape(column.configuration)}*")
    return "<br>".join(lines)


def _columns_table(matrix: Matrix) -> str:
    rows: list[list[str]] = []
    for column in matrix.columns:
        run = column.run
        if run is None:
            rows.append(
                [
                    md_escape(column.header),
                    md_escape(column.provider_name),
                    "—",
                    "**not recorded** — record it with "
                    f"{_code(column.record_command)} or {_code(column.make_command)}",
                ]
            )
            continue
        server = " ".join(x for x in (run.server_name, run.server_version) if x) or "?"
        details = [md_escape(column.provenance)]
        if run.suite_version:
            details.append(f"suite {md_escape(run.suite_version)}")
        if run.any_agent_version:
            details.append(f"any-agent {md_escape(run.any_agent_version)}")
        if run.python:
            details.append(f"Python {md_escape(run.python)}")
        details.append("from " + ", ".join(_code(s) for s in column.sources))
        rows.append(
            [
                md_escape(column.header),
                md_escape(column.provider_name),
                md_escape(server),
                "; ".join(details),
            ]
        )
    return _table(rows, ["Column", "System", "Server", "Provenance"])


def _summary_table(matrix: Matrix) -> str:
    rows: list[list[str]] = []
    for column in matrix.recorded_columns:
        summary = column.summary
        if summary is None:  # pragma: no cover - build_matrix always sets it
            continue

        def count(outcome: str, summary_counts: dict[str, int] = summary.counts) -> str:
            return str(summary_counts.get(outcome, 0))

        must = [f"{p}/{t}" if t else "—" for p, t in (summary.must[layer] for layer in LAYERS)]
        areas = ", ".join(f"{md_escape(a)} {p}/{t}" for a, (p, t) in summary.areas.items())
        rows.append(
            [
                md_escape(column.header),
                *must,
                count("fail"),
                count("xfail"),
                count("flaky"),
                count("warn"),
                count("error"),
                count("unsupported"),
                count("not-run"),
                count("not-recorded"),
                count("not-offered"),
                areas or "—",
            ]
        )
    headers = [
        "Column",
        "MUST pass (wire)",
        "MUST pass (SDK)",
        "❌ fail",
        "🔶 known",
        "🎲 flaky",
        "⚠️ warn",
        "⛔ error",
        "➖ unsupported",
        "❔ not run",
        "⏺️ not recorded",
        "🚫 not offered",
        "Checks passed by area",
    ]
    return _table(rows, headers)


def _legend() -> str:
    rows = [[info.symbol, info.label, info.description] for info in LEGEND]
    rows.append(["(blank)", "not recorded", "no result file for this system yet"])
    return _table(rows, ["Symbol", "Meaning", "Details"])


def _note_line(note: Note) -> str:
    info = outcome_info(note.outcome)
    label = info.label if info.outcome != "unknown" else f"unknown outcome {note.outcome!r}"
    parts = [f"{info.symbol} **{md_escape(label)}**"]
    if note.message:
        parts.append(md_inline(note.message))
    if note.reason:
        prefix = {"xfail": "known failure", "flaky": "known flaky"}.get(note.outcome, "reason")
        parts.append(f"{prefix}: {md_inline(note.reason)}")
    link = _safe_link(note.link)
    if link:
        parts.append(f"<{link}>")
    elif note.link:
        parts.append(f"link: {_code(note.link)}")
    return f"{note.number}. " + " — ".join(parts)


def render_markdown(matrix: Matrix) -> str:
    recorded = matrix.recorded_columns
    missing = [c for c in matrix.columns if not c.recorded]
    out: list[str] = [
        "# Compatibility matrix",
        "",
        "<!-- Generated by `any-agent-conformance matrix` (make matrix); do not edit by hand. -->",
        "",
        f"{len(recorded)} recorded column(s) from {len(matrix.sources)} result file(s); "
        f"{len(missing)} system(s) not recorded yet."
        + (
            " Suite version(s): " + ", ".join(_code(v) for v in matrix.suite_versions) + "."
            if matrix.suite_versions
            else ""
        ),
        "",
        "Each cell reads **wire / SDK**: the wire layer checks the server's raw HTTP answers, "
        "the SDK layer checks what any-agent makes of them; a check judged on the wire only "
        "has one symbol. Superscript numbers refer to the [notes](#notes).",
        "",
        "## Columns",
        "",
        _columns_table(matrix),
        "",
    ]
    if recorded:
        out += [
            "## Summary",
            "",
            "A check counts as passed when every layer that ran it passed (warnings included); "
            "*n/a*, *not run*, *not recorded* and *not offered* are left out of the counts "
            "(*not offered*: the server does not serve the endpoint, which is not a failure).",
            "",
            _summary_table(matrix),
            "",
        ]
    out += ["## Legend", "", _legend(), "", "## Matrix", ""]
    if not matrix.rows:
        out += ["No results yet: record a system with one of the commands above.", ""]
    if matrix.rows:
        headers = ["Check", "Level", *(_matrix_header(c) for c in matrix.columns)]
        table_rows: list[list[str]] = []
        for area, rows in matrix.rows_by_area():
            # the heading row of an area carries each column's area summary
            heads = [_area_head(column, area, rows) for column in matrix.columns]
            table_rows.append([f"**{md_escape(area)}**", "", *heads])
            table_rows.extend(
                [
                    _code(row.check) + (f" — {md_inline(row.title)}" if row.title else ""),
                    md_escape(row.level),
                    *(_cell(matrix, column, row) for column in matrix.columns),
                ]
                for row in rows
            )
        out += [_table(table_rows, headers), ""]
    out += ["## Notes", ""]
    if matrix.notes:
        out += [_note_line(note) for note in matrix.notes]
    else:
        out.append("No failures, warnings or unsupported checks to explain.")
    out.append("")
    if missing:
        out += ["## Not recorded yet", ""]
        for column in missing:
            out.append(
                f"- **{md_escape(column.provider_name)}** ({_code(column.provider)}): "
                f"{_code(column.record_command)} — or {_code(column.make_command)}"
            )
        out.append("")
    return "\n".join(out)
