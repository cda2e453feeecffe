"""``compatibility.html``: one self-contained page (inline CSS and JS, no network).

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
from typing import Any

from .escape import css_token, html_inline, html_text, safe_link, visible
from .matrix import LEGEND, NOTE_OUTCOMES, Matrix, MatrixColumn, Row, outcome_info
from .model import LAYERS, LEVELS, OUTCOMES, Result

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


def _result_data(result: Result, note: int | None) -> dict[str, Any]:
    return {
        "outcome": result.outcome,
        "label": outcome_info(result.outcome).label,
        "message": result.message,
        "reason": result.reason,
        "link": result.link,
        "request": _pretty(result.request),
        "response": result.response_excerpt,
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


def _pill(result: Result | None, layer: str, note: int | None) -> str:
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
            if result is not None and (
                result.outcome in NOTE_OUTCOMES or result.outcome not in OUTCOMES
            ):
                return True
    return False


def _table(matrix: Matrix, cells: dict[str, Any]) -> str:
    ncols = len(matrix.columns) + 2
    out = ['<table class="matrix" id="matrix"><thead><tr>']
    out.append('<th class="corner" scope="col">Check</th><th class="lvlh" scope="col">Level</th>')
    out.extend(_column_head(i, c) for i, c in enumerate(matrix.columns))
    out.append("</tr></thead>")
    for area, rows in matrix.rows_by_area():
        out.append(f'<tbody data-area="{_e(area)}">')
        out.append(
            f'<tr class="area-row"><th colspan="{ncols}" scope="rowgroup">'
            f'<span class="area-name">{_e(area)}</span>'
            f'<span class="area-count">{len(rows)} check{"s" if len(rows) != 1 else ""}'
            "</span></th></tr>"
        )
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
        for outcome in ("pass", "fail", "xfail", "warn", "error", "unsupported", "not-run"):
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
            prefix = "known failure" if note.outcome == "xfail" else "reason"
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


_CSS = """
:root{--bg:#f6f7f9;--fg:#1c2430;--muted:#5d6b7a;--card:#fff;--line:#dfe3e8;--head:#fbfcfd;
--accent:#2f6fde;--mono:ui-monospace,SFMono-Regular,Menlo,"DejaVu Sans Mono",Consolas,monospace;
--o-pass-bg:#d7f3e0;--o-pass-fg:#136c36;--o-warn-bg:#fff0bf;--o-warn-fg:#855c00;
--o-xfail-bg:#ffe2cc;--o-xfail-fg:#a2480a;--o-fail-bg:#fdd9d7;--o-fail-fg:#b3261e;
--o-error-bg:#eadcfb;--o-error-fg:#6a2fb5;--o-unsupported-bg:#e8ebef;--o-unsupported-fg:#55606c;
--o-na-bg:#f1f3f5;--o-na-fg:#87919c;--o-notrun-bg:#f1f3f5;--o-notrun-fg:#87919c;
--o-unknown-bg:#dcebfb;--o-unknown-fg:#1f5c99;--hatch:#eef0f3}
@media (prefers-color-scheme:dark){:root{--bg:#0f1419;--fg:#e3e8ee;--muted:#93a0ad;--card:#171d24;
--line:#2a323c;--head:#1a2129;--accent:#6ea1ff;--o-pass-bg:#143d24;--o-pass-fg:#7ee2a0;
--o-warn-bg:#3f3310;--o-warn-fg:#f5cf5b;--o-xfail-bg:#45290f;--o-xfail-fg:#ffaa66;
--o-fail-bg:#4a1a18;--o-fail-fg:#ff8b80;--o-error-bg:#33214d;--o-error-fg:#c9a5ff;
--o-unsupported-bg:#262d35;--o-unsupported-fg:#a4afba;--o-na-bg:#1e242b;--o-na-fg:#77828e;
--o-notrun-bg:#1e242b;--o-notrun-fg:#77828e;--o-unknown-bg:#17314d;--o-unknown-fg:#8cc2ff;
--hatch:#1c2229}}
*{box-sizing:border-box}
html,body{margin:0;background:var(--bg);color:var(--fg);
font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif}
code,pre{font-family:var(--mono);font-size:12.5px}
header.top{padding:22px 28px 8px}
header.top h1{margin:0;font-size:24px;letter-spacing:-.01em}
header.top .sub{margin:4px 0 0;color:var(--muted)}
main{padding:0 28px 40px}
h2{font-size:16px;margin:26px 0 10px}
.cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(290px,1fr));gap:14px;
margin:14px 0}
.card{background:var(--card);border:1px solid var(--line);border-radius:10px;padding:14px 16px;
box-shadow:0 1px 2px rgba(0,0,0,.04);cursor:pointer}
.card:hover,.card:focus{border-color:var(--accent);outline:none}
.card-h{display:flex;justify-content:space-between;align-items:center;gap:8px}
.card-name{font-weight:650;font-size:15px}
.card-model{font-family:var(--mono);font-size:12.5px;margin-top:4px;word-break:break-all}
.card-ver{font-family:var(--mono);font-size:11.5px;color:var(--muted)}
.card-conf{color:var(--muted);font-size:12.5px;margin-top:2px}
.badge{font-size:11px;padding:2px 8px;border-radius:99px;background:var(--o-unsupported-bg);
color:var(--o-unsupported-fg);white-space:nowrap}
.badge.mode-live,.ch-prov.mode-live{background:var(--o-pass-bg);color:var(--o-pass-fg)}
.badge.mode-replay,.ch-prov.mode-replay{background:var(--o-unknown-bg);color:var(--o-unknown-fg)}
.badge.mode-record,.ch-prov.mode-record{background:var(--o-warn-bg);color:var(--o-warn-fg)}
.meter{display:grid;grid-template-columns:84px 1fr 52px;align-items:center;gap:8px;margin-top:8px;
font-size:12.5px}
.meter .m-label{color:var(--muted)}
.meter b{text-align:right;font-variant-numeric:tabular-nums}
.bar{height:8px;border-radius:99px;background:var(--o-na-bg);overflow:hidden;display:block}
.bar i{display:block;height:100%;border-radius:99px;background:var(--o-fail-fg)}
.bar i.full{background:#2fa45b}.bar i.good{background:#d9a400}
.chips,.areas{display:flex;flex-wrap:wrap;gap:5px;margin-top:10px}
.chip{font-size:11.5px;padding:1px 8px;border-radius:99px;background:var(--o-na-bg)}
.area-chip{font-size:11.5px;padding:1px 7px;border-radius:5px;border:1px solid var(--line);
color:var(--muted)}
.area-chip b{color:var(--fg);font-weight:600}.area-chip.part b{color:var(--o-fail-fg)}
.missing{background:var(--card);border:1px dashed var(--line);border-radius:10px;
padding:4px 16px 10px;margin:18px 0}
.missing h2{margin:10px 0 2px;font-size:14px}.missing p{margin:0 0 6px;color:var(--muted)}
.missing ul{list-style:none;margin:0;padding:0}
.missing li{display:flex;align-items:center;gap:8px;padding:4px 0;flex-wrap:wrap;
border-top:1px solid var(--line)}
.missing li:first-child{border-top:0}
.nr-name{font-weight:600;min-width:200px}
.cmd{background:var(--o-na-bg);padding:2px 7px;border-radius:5px}
.or{color:var(--muted)}
.copy{font:11px system-ui,sans-serif;border:1px solid var(--line);background:var(--card);
color:var(--muted);border-radius:5px;padding:1px 7px;cursor:pointer}
.copy:hover{color:var(--accent);border-color:var(--accent)}
.controls{position:sticky;top:0;z-index:5;background:var(--bg);display:flex;flex-wrap:wrap;
gap:8px 22px;padding:10px 0;border-bottom:1px solid var(--line);margin-top:10px}
.controls .group{display:flex;flex-wrap:wrap;align-items:center;gap:6px}
.controls .group>span{color:var(--muted);font-size:12px;text-transform:uppercase;
letter-spacing:.06em;margin-right:2px}
.toggle{display:inline-flex;align-items:center;gap:4px;padding:2px 9px;border:1px solid
var(--line);border-radius:99px;background:var(--card);cursor:pointer;font-size:12.5px;
user-select:none}
.toggle input{margin:0}
#search{border:1px solid var(--line);border-radius:7px;padding:4px 9px;background:var(--card);
color:var(--fg);min-width:180px}
.shown{color:var(--muted);font-size:12px}
.table-wrap{overflow:auto;max-height:78vh;border:1px solid var(--line);border-radius:10px;
background:var(--card);margin-top:12px}
table.matrix{border-collapse:separate;border-spacing:0;width:100%}
.matrix th,.matrix td{border-bottom:1px solid var(--line);padding:6px 10px;vertical-align:middle}
.matrix thead th{position:sticky;top:0;z-index:3;background:var(--head);text-align:left;
font-weight:600;vertical-align:bottom;border-bottom:2px solid var(--line)}
.matrix thead th.col{min-width:178px;cursor:pointer;font-weight:400;text-align:center}
.matrix thead th.nr-col{min-width:112px}
.matrix thead th.col:hover{background:var(--bg)}
.matrix th.corner{left:0;z-index:4;min-width:260px}
.matrix th.check{position:sticky;left:0;z-index:2;background:var(--card);text-align:left;
font-weight:400;border-right:1px solid var(--line)}
.matrix th.check code{font-size:12.5px;font-weight:600}
.matrix .title{color:var(--muted);font-size:12px}
.ch-name{font-weight:650}
.ch-model{font-family:var(--mono);font-size:11.5px;overflow-wrap:anywhere}
.ch-layers{display:flex;justify-content:center;gap:14px;margin-top:6px;font-size:10px;
color:var(--muted);text-transform:uppercase;letter-spacing:.06em}
.ch-ver{font-family:var(--mono);font-size:11px;color:var(--muted)}
.ch-conf{font-size:11.5px;color:var(--muted);font-style:italic}
.ch-prov{display:inline-block;font-size:10px;margin-top:3px;padding:0 6px;border-radius:99px;
background:var(--o-unsupported-bg);color:var(--o-unsupported-fg)}
.ch-nr{display:inline-block;font-size:10.5px;margin-top:3px;padding:0 6px;border-radius:99px;
border:1px dashed var(--o-na-fg);color:var(--o-na-fg)}
th.nr-col .ch-name{color:var(--muted)}
tr.area-row th{position:sticky;left:0;background:var(--bg);text-align:left;
font-size:12px;text-transform:uppercase;letter-spacing:.07em;padding-top:12px}
.area-name{font-weight:700}
.area-count{color:var(--muted);font-weight:400;margin-left:10px;text-transform:none;
letter-spacing:0}
td.lvl{white-space:nowrap}
.lvl-MUST,.lvl-SHOULD,.lvl-MAY{font-size:10.5px;font-weight:700;letter-spacing:.05em;
padding:1px 6px;border-radius:4px}
.lvl-MUST{background:#1c2430;color:#fff}.lvl-SHOULD{background:#5d6b7a;color:#fff}
.lvl-MAY{border:1px solid #5d6b7a;color:var(--muted)}
td.cell{text-align:center;padding:4px 6px}
td.nr{background:repeating-linear-gradient(135deg,transparent 0 6px,var(--hatch) 6px 12px)}
.cellbtn{border:1px solid transparent;background:none;padding:3px;border-radius:8px;
cursor:pointer;display:inline-flex;align-items:center;gap:3px;color:inherit}
.cellbtn:hover,.cellbtn:focus-visible{border-color:var(--accent);outline:none}
.cellbtn.active{border-color:var(--accent);box-shadow:0 0 0 2px rgba(47,111,222,.25)}
.sep{width:1px;height:14px;background:var(--line)}
.pill{display:inline-flex;align-items:center;justify-content:center;min-width:30px;
height:22px;padding:0 6px;border-radius:6px;font-weight:700;font-size:13px;
background:var(--o-na-bg);color:var(--o-na-fg)}
.pill sup{font-size:9.5px;margin-left:1px;font-weight:600}
.o-pass{background:var(--o-pass-bg);color:var(--o-pass-fg)}
.o-warn{background:var(--o-warn-bg);color:var(--o-warn-fg)}
.o-xfail{background:var(--o-xfail-bg);color:var(--o-xfail-fg);outline:1px dashed
var(--o-xfail-fg);outline-offset:-1px}
.o-fail{background:var(--o-fail-bg);color:var(--o-fail-fg)}
.o-error{background:var(--o-error-bg);color:var(--o-error-fg)}
.o-unsupported{background:var(--o-unsupported-bg);color:var(--o-unsupported-fg)}
.o-na{background:var(--o-na-bg);color:var(--o-na-fg);font-size:10.5px;font-weight:600}
.o-not-run{background:var(--o-notrun-bg);color:var(--o-notrun-fg);outline:1px dotted
var(--o-notrun-fg);outline-offset:-1px}
.o-missing{background:transparent;color:var(--o-na-fg)}
.pill.slot{background:transparent}
.sep:has(+ .slot){visibility:hidden}
.o-unknown{background:var(--o-unknown-bg);color:var(--o-unknown-fg)}
.nrpill{background:repeating-linear-gradient(135deg,transparent 0 4px,var(--hatch) 4px 8px);
border:1px solid var(--line)}
.legend ul{list-style:none;padding:0;margin:0;display:grid;
grid-template-columns:repeat(auto-fill,minmax(330px,1fr));gap:6px 18px}
.legend li{display:flex;align-items:center;gap:8px;font-size:13px}
.legend li b{white-space:nowrap}
.legend p{color:var(--muted)}
.notes ol{padding-left:26px}
.notes li{margin:5px 0}.notes li .pill{margin-right:6px;min-width:24px;height:20px}
.notes li:target{background:var(--o-warn-bg);border-radius:6px}
.reason{color:var(--muted)}
a{color:var(--accent)}
footer{color:var(--muted);font-size:12px;padding:20px 28px}
#drawer{position:fixed;top:0;right:0;bottom:0;width:min(560px,96vw);background:var(--card);
border-left:1px solid var(--line);box-shadow:-8px 0 24px rgba(0,0,0,.12);z-index:10;
overflow:auto;padding:18px 22px;transform:translateX(105%);transition:transform .16s ease}
#drawer.open{transform:none}
#drawer .close{position:absolute;top:12px;right:14px;border:0;background:none;font-size:22px;
cursor:pointer;color:var(--muted)}
#drawer h2{margin:0 30px 2px 0;font-family:var(--mono);font-size:15px;word-break:break-all}
#drawer .meta{color:var(--muted);margin:0 0 10px}
#drawer section{border-top:1px solid var(--line);padding-top:10px;margin-top:12px}
#drawer h3{display:flex;align-items:center;gap:8px;font-size:14px;margin:0 0 6px}
#drawer dl{display:grid;grid-template-columns:110px 1fr;gap:4px 10px;margin:6px 0}
#drawer dt{color:var(--muted)}#drawer dd{margin:0;word-break:break-word}
#drawer h4{margin:10px 0 4px;font-size:12px;color:var(--muted);text-transform:uppercase;
letter-spacing:.06em}
#drawer pre{background:var(--bg);border:1px solid var(--line);border-radius:7px;padding:8px 10px;
overflow:auto;max-height:320px;white-space:pre-wrap;word-break:break-word;margin:0}
#drawer .cmdrow{display:flex;gap:8px;align-items:center;margin:6px 0}
.hidden{display:none!important}
table.hide-nr .nr-col{display:none}
"""

_JS = r"""
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("report-data").textContent);
  var table = document.getElementById("matrix");
  var drawer = document.getElementById("drawer");
  var body = document.getElementById("drawer-body");
  var active = null;

  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }
  function pill(outcome, glyph) {
    var cls = "o-" + String(outcome).replace("/", "");
    return el("span", "pill " + cls, glyph);
  }
  function row(dl, key, value) {
    if (value === undefined || value === null || value === "") return;
    dl.appendChild(el("dt", null, key));
    var dd = el("dd");
    if (value instanceof Node) dd.appendChild(value); else dd.textContent = String(value);
    dl.appendChild(dd);
  }
  function rich(cls, text) {
    var node = el("span", cls);
    var parts = String(text).split("`");
    if (parts.length < 3 || parts.length % 2 === 0) {
      node.textContent = String(text);
      return node;
    }
    parts.forEach(function (part, i) {
      var code = i % 2 && part.trim();
      node.appendChild(code ? el("code", null, part) : document.createTextNode(part));
    });
    return node;
  }
  function link(url) {
    if (!/^https?:\/\//.test(url)) return el("code", null, url);
    var a = el("a", null, url);
    a.href = url; a.target = "_blank"; a.rel = "noopener noreferrer";
    return a;
  }
  function copyButton(text) {
    var b = el("button", "copy", "copy");
    b.type = "button"; b.setAttribute("data-copy", text);
    return b;
  }
  function open(nodes) {
    while (body.firstChild) body.removeChild(body.firstChild);
    nodes.forEach(function (n) { body.appendChild(n); });
    drawer.classList.add("open");
    drawer.setAttribute("aria-hidden", "false");
  }
  function close() {
    if (drawer.classList.contains("open") && history.replaceState && location.hash) {
      history.replaceState(null, "", location.pathname + location.search);
    }
    drawer.classList.remove("open");
    drawer.setAttribute("aria-hidden", "true");
    if (active) active.classList.remove("active");
    active = null;
  }
  function columnNodes(col) {
    var c = data.columns[col];
    var nodes = [el("h2", null, c.header), el("p", "meta", c.name)];
    var dl = el("dl");
    if (c.recorded) {
      row(dl, "provenance", c.provenance);
      row(dl, "server", c.server);
      row(dl, "model", c.model);
      row(dl, "configuration", c.configuration);
      row(dl, "mode", c.mode);
      row(dl, "date", c.date);
      row(dl, "recorded", c.recorded_date);
      row(dl, "suite", c.suite_version);
      row(dl, "any-agent", c.any_agent_version);
      row(dl, "python", c.python);
      row(dl, "base URL", c.base_url);
      row(dl, "sources", (c.sources || []).join(", "));
      nodes.push(dl);
      nodes.push(el("h4", null, "Re-record"));
    } else {
      nodes.push(el("p", null, "No results for this system yet. Record it against a live server:"));
    }
    [c.record_command, c.make_command].forEach(function (cmd) {
      var r = el("div", "cmdrow");
      r.appendChild(el("code", "cmd", cmd));
      r.appendChild(copyButton(cmd));
      nodes.push(r);
    });
    return nodes;
  }
  function cellNodes(id) {
    var cell = data.cells[id];
    var c = data.columns[cell.col];
    var check = data.checks[cell.check] || {};
    var nodes = [el("h2", null, cell.check)];
    if (check.title) { var p = el("p"); p.appendChild(rich(null, check.title)); nodes.push(p); }
    nodes.push(el("p", "meta", [check.level, check.area, c.header, c.provenance]
      .filter(Boolean).join(" · ")));
    cell.judged.forEach(function (layer) {
      var r = cell.layers[layer];
      var sec = el("section");
      var h = el("h3");
      var info = data.legend[r ? r.outcome : "missing"] || data.legend.unknown;
      h.appendChild(pill(info.outcome, info.glyph));
      h.appendChild(el("span", null, (layer === "sdk" ? "SDK" : "wire") + " — " +
        (r ? r.outcome : "no result")));
      sec.appendChild(h);
      if (r) {
        var dl = el("dl");
        if (r.message) row(dl, "message", rich(null, r.message));
        if (r.reason) row(dl, "reason", rich(null, r.reason));
        if (r.link) row(dl, "link", link(r.link));
        if (r.note) row(dl, "note", "#" + r.note);
        row(dl, "duration", r.duration === null ? null : r.duration.toFixed(3) + " s");
        row(dl, "cassette", r.cassette);
        if (r.from_manifest) row(dl, "source", "provider manifest (declared, not measured)");
        sec.appendChild(dl);
        [["Request", r.request], ["Response excerpt", r.response]].forEach(function (p) {
          if (!p[1]) return;
          sec.appendChild(el("h4", null, p[0]));
          sec.appendChild(el("pre", null, p[1]));
        });
      }
      nodes.push(sec);
    });
    return nodes;
  }

  function openCell(btn) {
    if (active) active.classList.remove("active");
    active = btn; btn.classList.add("active");
    var id = btn.getAttribute("data-cell");
    open(cellNodes(id));
    if (history.replaceState) history.replaceState(null, "", "#cell=" + id);
  }
  function fromHash() {
    var m = /^#cell=(k[0-9]+)$/.exec(location.hash);
    var btn = m && document.querySelector('.cellbtn[data-cell="' + m[1] + '"]');
    if (btn) openCell(btn);
  }

  document.addEventListener("click", function (ev) {
    var t = ev.target;
    if (!(t instanceof Element)) return;
    var copy = t.closest("[data-copy]");
    if (copy) {
      var text = copy.getAttribute("data-copy");
      if (navigator.clipboard) navigator.clipboard.writeText(text).then(function () {
        copy.textContent = "copied";
        setTimeout(function () { copy.textContent = "copy"; }, 1200);
      }, function () {});
      return;
    }
    if (t.closest(".close")) { close(); return; }
    var btn = t.closest(".cellbtn");
    if (btn) { openCell(btn); return; }
    var col = t.closest("th.col, td.nr, .card, .missing li");
    if (col && col.hasAttribute("data-col")) {
      open(columnNodes(Number(col.getAttribute("data-col"))));
      return;
    }
    if (!t.closest("#drawer")) close();
  });
  document.addEventListener("keydown", function (ev) {
    if (ev.key === "Escape") close();
    if (ev.key === "Enter" && ev.target instanceof Element && ev.target.hasAttribute("data-col")
        && ev.target.matches("th.col, .card")) {
      open(columnNodes(Number(ev.target.getAttribute("data-col"))));
    }
  });

  function checked(name) {
    var out = {};
    document.querySelectorAll("input[name=" + name + "]").forEach(function (i) {
      out[i.value] = i.checked;
    });
    return out;
  }
  function apply() {
    var areas = checked("area"), levels = checked("level");
    var problems = document.getElementById("problems").checked;
    var q = document.getElementById("search").value.trim().toLowerCase();
    var shown = 0, total = 0;
    table.classList.toggle("hide-nr", document.getElementById("hide-nr").checked);
    table.querySelectorAll("tbody").forEach(function (tb) {
      var areaOn = areas[tb.getAttribute("data-area")] !== false;
      var any = false;
      tb.querySelectorAll("tr.check-row").forEach(function (tr) {
        total += 1;
        var ok = areaOn && levels[tr.getAttribute("data-level")] !== false &&
          (!problems || tr.getAttribute("data-problem") === "1") &&
          (!q || tr.getAttribute("data-search").indexOf(q) >= 0);
        tr.classList.toggle("hidden", !ok);
        if (ok) { any = true; shown += 1; }
      });
      tb.classList.toggle("hidden", !any);
    });
    document.getElementById("shown").textContent = shown + " of " + total + " checks";
  }
  document.querySelectorAll(".controls input").forEach(function (i) {
    i.addEventListener("input", apply);
    i.addEventListener("change", apply);
  });
  apply();
  fromHash();
})();
"""


def render_html(matrix: Matrix) -> str:
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
    script_hash = base64.b64encode(hashlib.sha256(_JS.encode("utf-8")).digest()).decode("ascii")
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
        f"<style>{_CSS}</style></head><body>",
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
        f"<script>{_JS}</script>",
        "</body></html>",
        "",
    ]
    return "\n".join(body)
