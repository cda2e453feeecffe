"""``any-agent-conformance merge``: shards of results (one CI job per server) → one set.

Every shard file is untrusted input and goes through the one reader
(:func:`conformance.results.load_results`: bounded, schema, file-name identity). The merge is
refused, naming the files, when a column appears twice or the shards were made by different
suite versions; nothing is written then. Otherwise each file is written once, atomically, by
:func:`conformance.results.write_results` into ``<out>/results/``, ready for ``make matrix``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from .results import ResultFileError, ResultsFile, load_results, write_results

__all__ = ["MergeError", "merge_results"]


class MergeError(ValueError):
    """Shards that cannot be merged; one line per problem."""


def _shard_files(directory: Path) -> list[Path]:
    if not directory.is_dir():
        raise MergeError(f"{directory}: not a directory")
    return sorted(p for p in directory.rglob("*.json") if not p.name.startswith("."))


def merge_results(shards: Sequence[Path], out: Path) -> list[Path]:
    """Check every shard file, then write them as one results set under ``out``."""
    problems: list[str] = []
    read: list[tuple[Path, ResultsFile]] = []
    for directory in shards:
        try:
            files = _shard_files(directory)
        except MergeError as exc:
            problems.append(str(exc))
            continue
        if not files:
            problems.append(f"{directory}: no results file (*.json)")
        for path in files:
            try:
                read.append((path, load_results(path)))
            except ResultFileError as exc:
                problems.append(str(exc))
    seen: dict[str, Path] = {}
    for path, results in read:
        column = f"{results.run.provider}/{results.run.model}"
        if column in seen:
            problems.append(f"column {column} is in both {seen[column]} and {path}")
        else:
            seen[column] = path
    versions: dict[str, list[Path]] = {}
    for path, results in read:
        versions.setdefault(results.run.suite_version, []).append(path)
    if len(versions) > 1:
        shown = "; ".join(
            f"suite {v}: {', '.join(str(p) for p in paths)}"
            for v, paths in sorted(versions.items())
        )
        problems.append(f"the shards were made by different suite versions ({shown})")
    target = out / "results"
    if target.is_dir() and any(target.glob("*.json")):
        problems.append(f"{target} already holds results; merge into an empty directory")
    if problems:
        raise MergeError("\n".join(problems))
    if not read:
        raise MergeError("no shard given")
    return [write_results(out, results) for _path, results in read]
