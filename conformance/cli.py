"""``any-agent-conformance``: command-line tools around the conformance suite.

Subcommands:

``matrix``
    Render ``compatibility.{md,html,json}`` from result files (``reports/results/*.json``).
``list``
    Print the check registry.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

__all__ = ["main"]


def _cmd_matrix(args: argparse.Namespace) -> int:
    from conformance.report import ResultFileError, write_reports

    results = [Path(p) for p in (args.results or ["reports/results"])]
    for path in results:
        if not path.exists():
            print(f"note: {path} does not exist; rendering without its results", file=sys.stderr)
    try:
        written = write_reports(results, Path(args.out), check_only=args.check)
    except ResultFileError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    stale = [w for w in written if w.changed]
    for item in written:
        if args.check:
            state = "out of date" if item.changed else "up to date"
        else:
            state = "wrote" if item.changed else "unchanged"
        if not args.quiet:
            print(f"{state}: {item.path}")
    if args.check and stale:
        print("run `any-agent-conformance matrix` (or `make matrix`) to update", file=sys.stderr)
        return 1
    return 0


def _entries(registry: Any) -> list[Any]:
    for name in ("CHECKS", "REGISTRY", "checks", "registry"):
        value = getattr(registry, name, None)
        if value is None:
            continue
        if callable(value):
            value = value()
        if isinstance(value, dict):
            return list(value.values())
        if isinstance(value, Iterable) and not isinstance(value, str | bytes):
            return list(value)
    for name in ("all_checks", "iter_checks"):
        func = getattr(registry, name, None)
        if callable(func):
            return list(func())
    return []


def _field(entry: Any, *names: str) -> str:
    for name in names:
        value = entry.get(name) if isinstance(entry, dict) else getattr(entry, name, None)
        if value is not None:
            return str(getattr(value, "value", value))
    return ""


def _cmd_list(args: argparse.Namespace) -> int:
    try:
        registry = importlib.import_module("conformance.registry")
    except ModuleNotFoundError as exc:
        if exc.name not in ("conformance.registry", "conformance"):
            raise
        print("the check registry (conformance.registry) is not available", file=sys.stderr)
        return 1
    text_table = getattr(registry, "text_table", None)
    select = getattr(registry, "select", None)
    if callable(text_table) and callable(select):
        checks = select(args.patterns)
        if not checks:
            print("no check matches " + ", ".join(args.patterns), file=sys.stderr)
            return 1
        print(text_table(checks))
        return 0
    entries = _entries(registry)
    if not entries:
        print("the check registry is empty", file=sys.stderr)
        return 1
    from tabulate import tabulate

    rows = [
        [
            _field(e, "id", "check", "check_id"),
            _field(e, "level"),
            _field(e, "area"),
            _field(e, "title", "name"),
        ]
        for e in entries
    ]
    print(tabulate(rows, headers=["check", "level", "area", "title"], tablefmt="simple"))
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="any-agent-conformance",
        description="Tools for the any-agent conformance suite.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    matrix = sub.add_parser(
        "matrix",
        help="render the compatibility matrix (Markdown, HTML, JSON) from result files",
        description="Merge result files into reports/compatibility.{md,html,json}. Every "
        "system the project targets gets a column; the ones without results say how to "
        "record them.",
    )
    matrix.add_argument(
        "--results",
        action="append",
        metavar="PATH",
        help="a result file or a directory of *.json result files (repeatable; "
        "default: reports/results)",
    )
    matrix.add_argument(
        "--out", default="reports", metavar="DIR", help="output directory (default: reports)"
    )
    matrix.add_argument(
        "--check",
        action="store_true",
        help="write nothing; exit 1 if the reports are out of date",
    )
    matrix.add_argument("-q", "--quiet", action="store_true", help="print nothing on success")
    matrix.set_defaults(func=_cmd_matrix)

    lister = sub.add_parser("list", help="list the checks in the registry")
    lister.add_argument(
        "patterns", nargs="*", metavar="GLOB", help="only checks whose id matches (e.g. 'tools.*')"
    )
    lister.set_defaults(func=_cmd_list)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    result: int = args.func(args)
    return result


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
