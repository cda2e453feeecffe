"""``compatibility.json``: every result, merged per column, plus the legend and notes."""

from __future__ import annotations

import json
from typing import Any

from ..vocabulary import LAYERS, NOT_COUNTED, PASSING
from .escape import json_visible
from .matrix import LEGEND, Matrix, MatrixColumn, area_cell

__all__ = ["MATRIX_SCHEMA_VERSION", "matrix_document", "render_json"]

#: Version of the merged document (independent of the result-file schema).
MATRIX_SCHEMA_VERSION = 1


def _column(matrix: Matrix, column: MatrixColumn) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "key": column.key,
        "provider": column.provider,
        "provider_name": column.provider_name,
        "recorded": column.recorded,
        "header": column.header,
        "record_command": column.record_command,
        "make_command": column.make_command,
    }
    if not column.recorded or column.run is None:
        return doc
    summary = column.summary
    results: list[dict[str, Any]] = []
    for (check, layer), result in sorted(
        column.cells.items(),
        key=lambda item: (item[0][0], LAYERS.index(item[0][1]) if item[0][1] in LAYERS else 9),
    ):
        entry = dict(result.raw)
        note = matrix.note_refs.get((column.key, check, layer))
        if note is not None:
            entry["note"] = note
        results.append(entry)
    doc.update(
        {
            "label": column.label,
            "configuration": column.configuration,
            "provenance": column.provenance,
            "run": dict(column.run.raw),
            "sources": list(column.sources),
            "summary": None
            if summary is None
            else {
                "must": {
                    layer: {"passed": p, "counted": t} for layer, (p, t) in summary.must.items()
                },
                "checks_by_outcome": summary.counts,
                "areas": {a: {"passed": p, "counted": t} for a, (p, t) in summary.areas.items()},
                # areas whose every result is not-offered: an API the server does not serve
                "areas_not_offered": [
                    area
                    for area, rows in matrix.rows_by_area()
                    if area_cell(column, area, rows)[1] == "not-offered"
                ],
            },
            "results": results,
        }
    )
    return doc


def matrix_document(matrix: Matrix) -> dict[str, Any]:
    return {
        "schema_version": MATRIX_SCHEMA_VERSION,
        "kind": "any-agent-compatibility-matrix",
        "result_schema_version": 1,
        "generator": "any-agent-conformance matrix",
        "suite_versions": matrix.suite_versions,
        "sources": matrix.sources,
        "layers": list(LAYERS),
        "legend": [
            {
                "outcome": i.outcome,
                "symbol": i.symbol,
                "label": i.label,
                "description": i.description,
                # how summaries treat it: not-offered, n/a... are neither passed nor failed
                "counted": i.outcome not in NOT_COUNTED,
                "passing": i.outcome in PASSING,
            }
            for i in LEGEND
        ],
        "not_counted": sorted(NOT_COUNTED),
        "checks": [
            {"check": r.check, "area": r.area, "level": r.level, "title": r.title}
            for r in matrix.rows
        ],
        "areas": matrix.areas,
        "columns": [_column(matrix, c) for c in matrix.columns],
        "notes": [
            {
                "number": n.number,
                "outcome": n.outcome,
                "message": n.message,
                "reason": n.reason,
                "link": n.link,
            }
            for n in matrix.notes
        ],
    }


def render_json(matrix: Matrix) -> str:
    text = json.dumps(matrix_document(matrix), indent=2, sort_keys=True, ensure_ascii=False)
    return json_visible(text) + "\n"
