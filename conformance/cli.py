"""``any-agent-conformance``: command-line tools around the conformance suite.

Subcommands:

``matrix``
    Render ``compatibility.{md,html,json}`` from result files (``reports/results/*.json``).
``list``
    Print the check catalogue.
``merge``
    Merge result shards (one directory per CI job) into one results set for ``matrix``.
``certify``
    Replay every committed recording; exit 0 only when the certification completed (the
    recorded servers' own MUST failures are findings, not errors), non-zero when the harness
    erred: a bad manifest, a missing, unreadable or unused cassette.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
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


def _cmd_certify(args: argparse.Namespace) -> int:
    import pytest

    from .trust import validate_tree

    # Every column the replay would skip silently (no manifest, a leftover of an interrupted
    # record run, a stray directory) is a harness error too, not an absent column.
    problems = validate_tree(Path(args.cassette_dir))
    if problems:
        print(f"certify: {len(problems)} column problem(s), not a certification:", file=sys.stderr)
        for line in problems[:20]:
            print(f"  {line}", file=sys.stderr)
        return 2

    class Collector:
        def __init__(self) -> None:
            self.columns: list[Any] = []
            self.problems: list[str] = []

        def pytest_sessionfinish(self, session: pytest.Session) -> None:
            plugin = session.config.pluginmanager.get_plugin("conformance-session")
            self.columns = list(getattr(plugin, "columns", []))
            self.problems = list(getattr(plugin, "problems", []))

    collector = Collector()
    argv = ["-p", "no:cacheprovider", "-q", "--conformance-mode", "replay"]
    argv += ["--cassette-dir", args.cassette_dir, "--report-dir", args.report_dir]
    for pattern in args.checks or []:
        argv += ["--checks", pattern]
    rc = int(pytest.main(argv, plugins=[collector]))
    if rc not in (pytest.ExitCode.OK, pytest.ExitCode.TESTS_FAILED):
        print(f"certify: the replay did not run (pytest exit {rc}); see above", file=sys.stderr)
        return rc
    errors = [
        f"{column.target.column} {r.key}: {r.message[:200]}"
        for column in collector.columns
        for r in column.results
        if r.outcome == "error"
    ]
    errors += [line.splitlines()[0] for line in collector.problems]  # e.g. results unwritable
    if errors:
        print(f"certify: {len(errors)} harness error(s), not a certification:", file=sys.stderr)
        for line in errors[:20]:
            print(f"  {line}", file=sys.stderr)
        return 1
    if not any(column.results for column in collector.columns):
        print("certify: nothing was replayed", file=sys.stderr)
        return 1
    if rc == pytest.ExitCode.TESTS_FAILED:
        print(
            "certify: the MUST failures above are the recorded servers' own findings (see "
            "reports/compatibility.md); a replay that differs from its recording fails make test"
        )
    return 0


def _cmd_merge(args: argparse.Namespace) -> int:
    from .merge import MergeError, merge_results

    try:
        written = merge_results([Path(p) for p in args.shards], Path(args.out))
    except MergeError as exc:
        print("merge refused, nothing written:", file=sys.stderr)
        for line in str(exc).splitlines():
            print(f"  {line}", file=sys.stderr)
        return 2
    for path in written:
        print(f"wrote: {path}")
    return 0


def _cmd_list(args: argparse.Namespace) -> int:
    from .catalogue.checks import select, text_table

    checks = select(args.patterns)
    if not checks:
        print("no check matches " + ", ".join(args.patterns), file=sys.stderr)
        return 1
    print(text_table(checks))
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

    certify = sub.add_parser(
        "certify",
        help="replay every recording; non-zero when the harness errs",
        description="Replay the recordings under --cassette-dir (results to --report-dir). "
        "Exit 0 for a completed certification, 1 for harness errors (missing, unreadable or "
        "unused cassettes, results that could not be written), 2 for a refused column (a bad or "
        "missing manifest, a stray file or directory) or a usage error.",
    )
    certify.add_argument("--cassette-dir", default="cassettes", metavar="DIR")
    certify.add_argument("--report-dir", default="reports", metavar="DIR")
    certify.add_argument("--checks", action="append", metavar="GLOB", help="check ids (glob)")
    certify.set_defaults(func=_cmd_certify)

    merge = sub.add_parser(
        "merge",
        help="merge result shards (one directory per CI job) into one results set",
        description="Read every *.json under each DIR (each checked like any contributed "
        "results file) and write them to OUT/results/. Refused, naming the files, when a column "
        "appears twice or the suite versions differ; exit 2 then. Render with "
        "`make matrix REPORT_DIR=OUT`.",
    )
    merge.add_argument("shards", nargs="+", metavar="DIR")
    merge.add_argument("--out", required=True, metavar="DIR", help="report directory to write")
    merge.set_defaults(func=_cmd_merge)

    lister = sub.add_parser("list", help="list the checks in the catalogue")
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
