"""``compatibility.html``: one self-contained page (inline CSS and JS, no network).

The CSS and the JS are package data, ``assets/matrix.css`` and ``assets/matrix.js``, inlined
at render time; the CSP names the script by the SHA-256 of its text exactly as rendered.

Everything from the result files is HTML-escaped in the static markup; the evidence that
the detail drawer shows is embedded as JSON (with ``<``, ``>`` and ``&`` escaped so it can
never close its ``<script>`` element) and inserted with ``textContent``. A Content Security
Policy forbids any fetch and allows only the one inline script, by hash, so even a
hostile result file cannot make the page run code or load anything.
"""

from __future__ import annotations

import base64
import hashlib
import json
from importlib import resources
from typing import Any

from ..results import LAYERS, LEVELS, OUTCOMES, ResultView
from .escape import css_token, html_inline, html_text, safe_link, visible
from .matrix import LEGEND, NOTE_OUTCOMES, Matrix, MatrixColumn, Row, area_cell, outcome_info

__all__ = ["render_html"]


_e = html_text
_inline = html_inline
_safe_link = safe_link


def _css_outcome(outcome: str | None) -> str:
    info = outcome_info(outcome)
    return "o-" + info.outcome.replace("/", "")


def _json_for_script(data: Any) -> str:
    text = visible(json.dumps(data, ensure_ascii=False, sort_keys=True, separators=(",", ":")))
    for char, repl in (
        ("&", "\\u0026"),
        ("<", "\\u003c"),
        (">", "\\u003e"),
        ("\u2028", "\\u2028"),
        ("\u2029", "\\u2029"),
    ):
        text = text.replace(char, repl)
    return text


def _pretty(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value
    return json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False)


def _result_data(result: ResultView, note: int | None) -> dict[str, Any]:
    return {
        "outcome": result.outcome,
        "label": outcome_info(result.outcome).label,
        "message": result.message,
        "reason": result.reason,
        "link": result.link,
        "request": _pretty(result.request),
        "response": result.response_excerpt,
        "exchanges": [[_pretty(req), resp] for req, resp in result.exchanges],
        "cassette": result.cassette,
        "duration": result.duration_s,
        "from_manifest": result.from_manifest,
        "note": note,
    }


def _column_data(column: MatrixColumn) -> dict[str, Any]:
    run = column.run
    data: dict[str, Any] = {
        "header": column.header,
        "name": column.provider_name,
        "provider": column.provider,
        "recorded": column.recorded,
        "record_command": column.record_command,
        "make_command": column.make_command,
    }
    if run is not None:
        data.update(
            {
                "provenance": column.provenance,
                "server": " ".join(x for x in (run.server_name, run.server_version) if x),
                "model": run.model,
                "configuration": run.configuration,
                "mode": run.mode,
                "date": run.date,
                "recorded_date": run.recorded_date,
                "suite_version": run.suite_version,
                "any_agent_version": run.any_agent_version,
                "python": run.python,
                "base_url": run.base_url,
                "sources": list(column.sources),
            }
        )
    return data


def _pill(result: ResultView | None, layer: str, note: int | None) -> str:
    info = outcome_info(None if result is None else result.outcome)
    shown = result.outcome if result is not None else "no result"
    sup = f"<sup>{note}</sup>" if note else ""
    return (
        f'<span class="pill {_css_outcome(None if result is None else result.outcome)}" '
        f'title="{_e(layer)}: {_e(shown)}">{_e(info.glyph)}{sup}</span>'
    )


def _column_head(index: int, column: MatrixColumn) -> str:
    classes = "col" if column.recorded else "col nr-col"
    parts = [f'<th class="{classes}" data-col="{index}" scope="col" tabindex="0">']
    parts.append(f'<div class="ch-name">{_e(column.provider_name)}</div>')
    if column.recorded and column.run is not None:
        run = column.run
        model = run.column.split("/", 1)[1] if "/" in run.column else (run.model or run.column)
        parts.append(f'<div class="ch-model">{_e(model)}</div>')
        parts.append(f'<div class="ch-ver">@{_e(run.server_version or "?")}</div>')
        if column.configuration:
            parts.append(f'<div class="ch-conf">{_e(column.configuration)}</div>')
        parts.append(f'<div class="ch-prov mode-{css_token(run.mode)}">')
        parts.append(f"{_e(column.provenance)}</div>")
        parts.append('<div class="ch-layers"><span>wire</span><span>SDK</span></div>')
    else:
        parts.append(f'<div class="ch-model">{_e(column.provider)}</div>')
        parts.append('<div class="ch-nr">not recorded</div>')
    parts.append("</th>")
    return "".join(parts)


def _problem(matrix: Matrix, row: Row) -> bool:
    for column in matrix.recorded_columns:
        for layer in LAYERS:
            result = column.cells.get((row.check, layer))
            if result is None or result.outcome == "not-offered":  # noted, but no problem
                continue
            if result.outcome in NOTE_OUTCOMES or result.outcome not in OUTCOMES:
                return True
    return False


def _table(matrix: Matrix, cells: dict[str, Any]) -> str:
    out = ['<table class="matrix" id="matrix"><thead><tr>']
    out.append('<th class="corner" scope="col">Check</th><th class="lvlh" scope="col">Level</th>')
    out.extend(_column_head(i, c) for i, c in enumerate(matrix.columns))
    out.append("</tr></thead>")
    for area, rows in matrix.rows_by_area():
        out.append(f'<tbody data-area="{_e(area)}">')
        out.append(
            '<tr class="area-row"><th colspan="2" scope="rowgroup">'
            f'<span class="area-name">{_e(area)}</span>'
            f'<span class="area-count">{len(rows)} check{"s" if len(rows) != 1 else ""}'
            "</span></th>"
        )
        # each column's summary of the area: checks passed of those counted
        for index, column in enumerate(matrix.columns):
            if not column.recorded:
                out.append(f'<td class="area-sum nr-col" data-col="{index}"></td>')
                continue
            text, state = area_cell(column, area, rows)
            out.append(
                f'<td class="area-sum {css_token(state)}" data-col="{index}">{_e(text)}</td>'
            )
        out.append("</tr>")
        for row in rows:
            problem = "1" if _problem(matrix, row) else "0"
            out.append(
                f'<tr class="check-row" data-level="{_e(row.level)}" data-problem="{problem}" '
                f'data-search="{_e((row.check + " " + row.title).lower())}">'
                f'<th class="check" scope="row"><code>{_e(row.check)}</code>'
                + (f'<div class="title">{_inline(row.title)}</div>' if row.title else "")
                + f'</th><td class="lvl"><span class="lvl-{css_token(row.level)}">{_e(row.level)}'
                "</span></td>"
            )
            for index, column in enumerate(matrix.columns):
                if not column.recorded:
                    out.append(
                        f'<td class="cell nr-col nr" data-col="{index}" title="not recorded"></td>'
                    )
                    continue
                cell_id = f"k{len(cells)}"
                layers: dict[str, Any] = {}
                pills = []
                for layer in LAYERS:
                    if layer not in row.layers:  # judged on another layer only: keep alignment
                        pills.append('<span class="pill slot" aria-hidden="true"></span>')
                        continue
                    result = column.cells.get((row.check, layer))
                    note = matrix.note_refs.get((column.key, row.check, layer))
                    pills.append(_pill(result, layer, note))
                    if result is not None:
                        layers[layer] = _result_data(result, note)
                cells[cell_id] = {
                    "col": index,
                    "check": row.check,
                    "layers": layers,
                    "judged": list(row.layers),
                }
                out.append(
                    f'<td class="cell" data-col="{index}"><button type="button" class="cellbtn" '
                    f'data-cell="{cell_id}" aria-label="{_e(row.check)} on {_e(column.header)}">'
                    + '<span class="sep"></span>'.join(pills)
                    + "</button></td>"
                )
            out.append("</tr>")
        out.append("</tbody>")
    out.append("</table>")
    return "".join(out)


def _meter(label: str, passed: int, total: int) -> str:
    if not total:
        return (
            f'<div class="meter"><span class="m-label">{_e(label)}</span>'
            '<span class="bar"></span><b>—</b></div>'
        )
    pct = round(100 * passed / total)
    state = "full" if passed == total else ("good" if pct >= 80 else "low")
    return (
        f'<div class="meter"><span class="m-label">{_e(label)}</span>'
        f'<span class="bar"><i class="{state}" style="width:{pct}%"></i></span>'
        f"<b>{passed}/{total}</b></div>"
    )


def _cards(matrix: Matrix) -> str:
    out = ['<section class="cards" aria-label="Summary per column">']
    for index, column in enumerate(matrix.columns):
        if not column.recorded or column.summary is None or column.run is None:
            continue
        summary = column.summary
        run = column.run
        out.append(f'<article class="card" data-col="{index}" tabindex="0">')
        out.append(
            f'<div class="card-h"><span class="card-name">{_e(column.provider_name)}</span>'
            f'<span class="badge mode-{css_token(run.mode)}">{_e(column.provenance)}'
            "</span></div>"
        )
        out.append(f'<div class="card-model">{_e(run.column)}</div>')
        server = " ".join(x for x in (run.server_name, run.server_version) if x)
        out.append(f'<div class="card-ver">{_e(server or "server version unknown")}</div>')
        if column.configuration:
            out.append(f'<div class="card-conf">{_e(column.configuration)}</div>')
        for layer, label in (("wire", "MUST · wire"), ("sdk", "MUST · SDK")):
            passed, total = summary.must[layer]
            out.append(_meter(label, passed, total))
        chips = []
        for outcome in (
            "pass", "fail", "xfail", "flaky", "warn", "error", "unsupported", "not-run",
            "not-recorded", "not-offered",
        ):  # fmt: skip
            count = summary.counts.get(outcome, 0)
            if count:
                info = outcome_info(outcome)
                chips.append(
                    f'<span class="chip {_css_outcome(outcome)}">{_e(info.glyph)} {count} '
                    f"{_e(info.label)}</span>"
                )
        if summary.counts.get("unknown"):
            chips.append(
                f'<span class="chip o-unknown">? {summary.counts["unknown"]} unknown</span>'
            )
        out.append(f'<div class="chips">{"".join(chips)}</div>')
        if summary.areas:
            out.append('<div class="areas">')
            for area, (passed, total) in summary.areas.items():
                state = "full" if passed == total else "part"
                out.append(
                    f'<span class="area-chip {state}">{_e(area)} <b>{passed}/{total}</b></span>'
                )
            out.append("</div>")
        out.append("</article>")
    out.append("</section>")
    return "".join(out)


def _missing(matrix: Matrix) -> str:
    out: list[str] = []
    missing = [(i, c) for i, c in enumerate(matrix.columns) if not c.recorded]
    if missing:
        out.append('<section class="missing" aria-label="Systems not recorded yet">')
        out.append("<h2>Not recorded yet</h2><p>Run one of these against a live server to add ")
        out.append("its column (then <code>make matrix</code>):</p><ul>")
        for index, column in missing:
            out.append(
                f'<li data-col="{index}"><span class="nr-name">{_e(column.provider_name)}</span>'
                f'<code class="cmd">{_e(column.record_command)}</code>'
                f'<button type="button" class="copy" data-copy="{_e(column.record_command)}">'
                "copy</button>"
                f'<span class="or">or</span><code class="cmd">{_e(column.make_command)}</code>'
                f'<button type="button" class="copy" data-copy="{_e(column.make_command)}">'
                "copy</button></li>"
            )
        out.append("</ul></section>")
    return "".join(out)


def _controls(matrix: Matrix) -> str:
    out = ['<section class="controls" aria-label="Filters"><div class="group"><span>Area</span>']
    for area in matrix.areas:
        out.append(
            f'<label class="toggle"><input type="checkbox" name="area" value="{_e(area)}" '
            f"checked> {_e(area)}</label>"
        )
    out.append('</div><div class="group"><span>Level</span>')
    extra = sorted({r.level for r in matrix.rows} - set(LEVELS))
    for level in (*LEVELS, *extra):
        out.append(
            f'<label class="toggle"><input type="checkbox" name="level" value="{_e(level)}" '
            f'checked> <span class="lvl-{css_token(level)}">{_e(level)}</span></label>'
        )
    out.append(
        '</div><div class="group">'
        '<label class="toggle"><input type="checkbox" id="problems"> only rows with problems'
        "</label>"
        '<label class="toggle"><input type="checkbox" id="hide-nr"> hide not-recorded columns'
        "</label>"
        '<input type="search" id="search" placeholder="Filter checks…" aria-label="Filter checks">'
        '<span id="shown" class="shown"></span></div></section>'
    )
    return "".join(out)


def _legend() -> str:
    out = ['<section class="legend" aria-label="Legend"><h2>Legend</h2><ul>']
    for info in LEGEND:
        out.append(
            f'<li><span class="pill {_css_outcome(info.outcome)}">{_e(info.glyph)}</span>'
            f"<b>{_e(info.label)}</b> — {_e(info.description)}</li>"
        )
    out.append(
        '<li><span class="pill nrpill"></span><b>not recorded</b> — no result file for this '
        "system yet</li></ul>"
        "<p>Each cell shows two results: <b>wire</b> (the server's raw HTTP answers) then "
        "<b>SDK</b> (what any-agent makes of them); a check judged on the wire only shows one. "
        "Click a cell for the request, the recorded response and the reason.</p></section>"
    )
    return "".join(out)


def _notes(matrix: Matrix) -> str:
    out = ['<section class="notes" id="notes" aria-label="Notes"><h2>Notes</h2>']
    if not matrix.notes:
        out.append("<p>No failures, warnings or unsupported checks to explain.</p></section>")
        return "".join(out)
    out.append("<ol>")
    for note in matrix.notes:
        info = outcome_info(note.outcome)
        label = info.label if info.outcome != "unknown" else f"unknown outcome “{note.outcome}”"
        parts = [
            f'<li id="note-{note.number}"><span class="pill {_css_outcome(note.outcome)}">'
            f"{_e(info.glyph)}</span><b>{_e(label)}</b>"
        ]
        if note.message:
            parts.append(f" — {_inline(note.message)}")
        if note.reason:
            prefix = {"xfail": "known failure", "flaky": "known flaky"}.get(note.outcome, "reason")
            parts.append(f' — <span class="reason">{prefix}: {_inline(note.reason)}</span>')
        link = _safe_link(note.link)
        if link:
            parts.append(
                f' — <a href="{_e(link)}" rel="noopener noreferrer" target="_blank">{_e(link)}</a>'
            )
        elif note.link:
            parts.append(f" — <code>{_e(note.link)}</code>")
        parts.append("</li>")
        out.append("".join(parts))
    out.append("</ol></section>")
    return "".join(out)


def _asset(name: str) -> str:
    """``assets/<name>`` as it goes between its tags: a newline, then the file's text.

    Read at render time from the package data (``conformance/report/assets/``), so the CSS and
    the JS are files a linter sees, shipped in the wheel beside this module.
    """
    data = (resources.files("conformance.report") / "assets" / name).read_bytes()
    return "\n" + data.decode("utf-8")


def render_html(matrix: Matrix) -> str:
    css = _asset("matrix.css")
    script = _asset("matrix.js")
    cells: dict[str, Any] = {}
    table = _table(matrix, cells)
    data = {
        "cells": cells,
        "columns": [_column_data(c) for c in matrix.columns],
        "checks": {
            r.check: {"title": r.title, "level": r.level, "area": r.area} for r in matrix.rows
        },
        "layers": list(LAYERS),
        "legend": {
            i.outcome: {"outcome": i.outcome, "glyph": i.glyph, "label": i.label} for i in LEGEND
        },
    }
    script_hash = base64.b64encode(hashlib.sha256(script.encode("utf-8")).digest()).decode("ascii")
    csp = (
        "default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
        f"script-src 'sha256-{script_hash}'; base-uri 'none'; form-action 'none'"
    )
    recorded = matrix.recorded_columns
    missing = len(matrix.columns) - len(recorded)
    sub = [
        f"{len(recorded)} recorded column{'s' if len(recorded) != 1 else ''}",
        f"{missing} system{'s' if missing != 1 else ''} not recorded yet",
        f"{len(matrix.rows)} check{'s' if len(matrix.rows) != 1 else ''}",
    ]
    if matrix.suite_versions:
        sub.append("suite " + ", ".join(matrix.suite_versions))
    body = [
        "<!doctype html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f'<meta http-equiv="Content-Security-Policy" content="{_e(csp)}">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        '<meta name="generator" content="any-agent-conformance matrix">',
        "<title>any-agent compatibility matrix</title>",
        f"<style>{css}</style></head><body>",
        '<header class="top"><h1>Compatibility matrix</h1>',
        f'<p class="sub">{_e(" · ".join(sub))}</p></header><main>',
        _cards(matrix),
        _controls(matrix),
        f'<div class="table-wrap">{table}</div>'
        if matrix.rows
        else '<p class="empty">No results yet: record a system with one of the commands below.</p>',
        _missing(matrix),
        _legend(),
        _notes(matrix),
        "</main>",
        "<footer>Generated by <code>any-agent-conformance matrix</code> from "
        f"{len(matrix.sources)} result file{'s' if len(matrix.sources) != 1 else ''}"
        + (": " + _e(", ".join(matrix.sources)) if matrix.sources else "")
        + ".</footer>",
        '<aside id="drawer" aria-hidden="true" aria-label="Details">'
        '<button type="button" class="close" aria-label="Close">×</button>'
        '<div id="drawer-body"></div></aside>',
        f'<script type="application/json" id="report-data">{_json_for_script(data)}</script>',
        f"<script>{script}</script>",
        "</body></html>",
        "",
    ]
    return "\n".join(body)
