"""The compatibility matrix: result files in, ``compatibility.{md,html,json}`` out.

>>> from pathlib import Path
>>> from conformance.report import write_reports
>>> write_reports([Path("reports/results")], Path("reports"))  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from ..results import ResultFileError, RunFile, load_results
from .html import render_html
from .jsonout import render_json
from .markdown import render_markdown
from .matrix import Matrix, build_matrix

__all__ = [
    "OUTPUT_NAMES",
    "Matrix",
    "ResultFileError",
    "RunFile",
    "WrittenFile",
    "build_matrix",
    "load_results",
    "render_all",
    "render_html",
    "render_json",
    "render_markdown",
    "write_reports",
]

OUTPUT_NAMES = ("compatibility.md", "compatibility.html", "compatibility.json")


@dataclass(frozen=True)
class WrittenFile:
    path: Path
    changed: bool


def render_all(matrix: Matrix) -> dict[str, str]:
    """File name -> content for the three outputs."""
    return {
        "compatibility.md": render_markdown(matrix),
        "compatibility.html": render_html(matrix),
        "compatibility.json": render_json(matrix),
    }


def write_reports(
    results: Iterable[Path], out_dir: Path, *, check_only: bool = False
) -> list[WrittenFile]:
    """Render the matrix from ``results`` into ``out_dir``.

    Files whose content would not change are left untouched. With ``check_only`` nothing is
    written; the return value says which files are out of date.
    """
    matrix = build_matrix(load_results(results))
    written: list[WrittenFile] = []
    for name, content in render_all(matrix).items():
        path = out_dir / name
        data = content.encode("utf-8")
        try:
            changed = path.read_bytes() != data
        except FileNotFoundError:
            changed = True
        if changed and not check_only:
            out_dir.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
        written.append(WrittenFile(path, changed))
    return written
