"""Which columns a session certifies, and the record-mode life of a column.

A replay session reads one column per recorded manifest; a live or record session probes the
server (:mod:`conformance.probe`) and makes one column per model. A record run holds the
column's lock, writes into a staging copy, and swaps it in only when the run completed and its
regression baseline is unchanged (or accepted).
"""

from __future__ import annotations

import contextlib
import os
import platform
import re
import shutil
import tempfile
from dataclasses import replace
from pathlib import Path
from typing import Any

from . import OLDEST_REPLAYABLE, SUITE_VERSION
from .catalogue.profiles import PROFILES, ProviderProfile, get_profile
from .harness.context import Target
from .harness.recording import (
    Manifest,
    column_dir,
    find_recordings,
    library_versions,
    public_url,
)
from .harness.runner import Column, now_iso
from .probe import plain_version, probe_server, reported_version
from .results import CheckResult, Mode, ResultsFile, RunInfo, ServerInfo, write_results
from .settings import Settings, UsageError
from .targets import MAX_TARGETS, TargetSpec
from .trust import LOCK_SUFFIX, OLD_MARK, STAGING_MARK, ColumnError, check_column
from .vocabulary import version_tuple

__all__ = [
    "ColumnLock",
    "baseline_diff",
    "finish_recording",
    "live_columns",
    "replay_columns",
    "results_file",
]


def _replayable(version: str) -> bool:
    """A recording made by this suite version can be replayed by this suite."""
    v = version_tuple(version)
    return version_tuple(OLDEST_REPLAYABLE) <= v <= version_tuple(SUITE_VERSION)


def replay_columns(s: Settings) -> list[Column]:
    """One column per recorded manifest that ``s`` selects (replay mode)."""
    dirs = find_recordings(s.cassette_dir, s.provider, s.models)
    if not dirs:
        what = f"{s.provider}/" if s.provider else ""
        raise UsageError(f"no recordings (manifest.json) under {s.cassette_dir}/{what}")
    columns = []
    for d in dirs:
        path = d / "manifest.json"
        try:
            check_column(d, s.cassette_dir)
            manifest = Manifest.load(path)
        except ColumnError as exc:
            raise UsageError(str(exc)) from None
        if not _replayable(manifest.suite_version):
            raise UsageError(
                f"{path} was recorded with suite {manifest.suite_version}; this is suite "
                f"{SUITE_VERSION}, which replays recordings from {OLDEST_REPLAYABLE} to "
                f"{SUITE_VERSION}: re-record it (make record PROVIDER={manifest.provider} "
                f"MODEL={manifest.model})"
            )
        profile = PROFILES.get(manifest.provider, PROFILES["generic"])
        target = _target(s, profile, manifest.provider, manifest.base_url, manifest.model)
        target.model_meta = manifest.model_meta
        target.suite_version = manifest.suite_version
        target.api_key = None
        columns.append(
            Column(
                target=target,
                cassette_dir=s.cassette_dir,
                manifest=manifest,
                server_name=manifest.server.get("name"),
                server_version=reported_version(manifest.server.get("version"))
                or deployed_version(manifest.deployment)
                or plain_version(manifest.server.get("version")),
            )
        )
    return columns


def _target(
    s: Settings, profile: ProviderProfile, provider: str, base_url: str, model: str
) -> Target:
    return Target(
        provider=provider,
        profile=profile,
        base_url=base_url,
        model=model,
        mode=s.mode,
        api_key=s.api_key,
        connect_timeout=s.connect_timeout,
        request_timeout=s.request_timeout,
        max_response_bytes=s.max_response_bytes,
        first_token_timeout=s.first_token_timeout,
        idle_timeout=s.idle_timeout,
        flaky_tries=s.flaky_tries if s.mode == "live" else 1,
        share_max_bytes=s.share_max_bytes,
    )


def live_columns(
    s: Settings,
    locks: list[ColumnLock],
    problems: list[str],
    unreachable: list[str] | None = None,
) -> list[Column]:
    """One column per model of each live target (live and record modes); in record mode each
    column is locked (into ``locks``), repaired (notes into ``problems``) and staged.

    With several targets, one that cannot be probed is named in ``unreachable`` and the
    others still run; with one, or when none answers, it is a :class:`UsageError`."""
    columns: list[Column] = []
    failed: list[str] = []
    for index, spec in enumerate(s.targets):
        try:
            columns += _target_columns(s, index, spec, locks, problems, columns)
        except UsageError as exc:
            if len(s.targets) == 1:
                raise
            failed.append(f"{spec.label} ({public_url(spec.base_url)}) not certified: {exc}")
    if failed and not columns:
        raise UsageError("no target could be certified:\n" + "\n".join(failed))
    if unreachable is not None:
        unreachable += failed
    return columns


def _target_columns(
    s: Settings,
    index: int,
    spec: TargetSpec,
    locks: list[ColumnLock],
    problems: list[str],
    taken: list[Column],
) -> list[Column]:
    provider = spec.provider
    profile = get_profile(provider)
    base_url = spec.base_url
    facts = probe_server(base_url, spec.api_key, profile, timeout=s.connect_timeout)
    models = spec.models or (facts.model_ids if spec.all_models else facts.model_ids[:1])
    if not models:
        raise UsageError(f"{base_url}/models lists no model; pass --model ID")
    if len(models) > MAX_TARGETS:
        raise UsageError(f"{base_url}/models lists {len(models)} models; at most {MAX_TARGETS}")
    seen = {c.target.column for c in taken}
    columns = []
    for model in dict.fromkeys(models):
        target = _target(s, profile, provider, base_url, model)
        target.api_key = spec.api_key
        if target.column in seen:
            problems.append(f"{spec.label}: {target.column} is certified once (listed twice)")
            continue
        seen.add(target.column)
        target.model_meta = facts.meta_for(model)
        target.concurrency = s.concurrency_for(facts.total_slots)
        manifest = Manifest(provider=provider, model=model, base_url=public_url(base_url))
        manifest.configuration = spec.configuration or profile.configuration
        baseline: dict[str, str] = {}
        if s.mode == "record":
            # One record run per column at a time (taken before the baseline is read),
            # and what an interrupted run left next to the column is cleaned up first.
            final = column_dir(s.cassette_dir, provider, model)
            locks.append(lock_column(final))
            problems += recover_column(final)
            existing = find_recordings(s.cassette_dir, provider, [model])
            if existing:
                try:
                    check_column(existing[0], s.cassette_dir)
                    manifest = Manifest.load(existing[0] / "manifest.json")
                except ColumnError as exc:
                    raise UsageError(str(exc)) from None
                baseline = dict(manifest.expected)
            manifest.base_url = public_url(base_url)
            manifest.model = model
            manifest.configuration = spec.configuration or profile.configuration
            manifest.server = {"name": facts.server_name, "version": facts.server_version}
            manifest.model_meta = dict(target.model_meta)
            if s.server_facts is not None:
                manifest.deployment = s.server_facts
        column = Column(
            target=target,
            cassette_dir=s.cassette_dir,
            manifest=manifest,
            server_name=facts.server_name,
            server_version=facts.server_version or deployed_version(s.server_facts or {}),
            baseline=baseline,
            target_index=index,
        )
        if s.mode == "record":
            try:
                column.staging = stage_column(column.final_directory)
            except OSError as exc:
                raise UsageError(
                    f"cannot stage a recording next to {column.final_directory}: {exc}"
                ) from None
        columns.append(column)
    return columns


def finish_recording(
    column: Column,
    settings: Settings,
    *,
    interrupted: bool,
    problems: list[str],
    written: list[Path],
) -> bool:
    """Replace the column with the staged recording only when the run completed and its
    baseline is unchanged (or accepted); otherwise discard it. True when all went well."""
    staging, final = column.staging, column.final_directory
    if staging is None:
        return True
    where = _shown(final)
    try:
        if interrupted or len(column.results) < column.planned:
            done = f"{len(column.results)}/{column.planned}"
            problems.append(
                f"{column.target.column}: the record run did not complete ({done} checks); "
                f"{where} is left as it was"
            )
            return False
        errors = [
            r.key
            for r in column.results
            if r.outcome == "error" and column.baseline.get(r.key) != "error"
        ]
        if errors and final.exists():
            shown = ", ".join(errors[:5]) + (f" and {len(errors) - 5} more" if errors[5:] else "")
            problems.append(
                f"{column.target.column}: {len(errors)} check(s) ended in a harness error "
                f"({shown}); a run that could not judge a check never replaces recorded "
                f"evidence, even with --accept-baseline; refused: {where} is left as it was"
            )
            return False
        diff = baseline_diff(column.baseline, column.results)
        if diff and not settings.accept_baseline:
            problems.append(
                f"{column.target.column}: the regression baseline in {where}/manifest.json "
                "would change:\n"
                + "\n".join(diff)
                + f"\nrefused: {where} is left as it was; re-record with --accept-baseline "
                "(make record ... ACCEPT_BASELINE=1) to accept these outcomes"
            )
            return False
        if not column.results:
            return True
        try:
            save_manifest(column)
            path = write_results(settings.report_dir, results_file(column, settings.mode))
        except OSError as exc:
            problems.append(
                f"{column.target.column}: cannot write results or the staged manifest "
                f"({exc}); {where} is left as it was"
            )
            return False
        try:
            replace_column(staging, final)
        except OSError as exc:
            problems.append(
                f"{column.target.column}: cannot replace {where} with the recording ({exc}); "
                f"{where} is left as it was"
            )
            return False
        column.staging = None
        written.append(path)
        if diff:
            problems.append(
                f"{column.target.column}: baseline changed (accepted):\n" + "\n".join(diff)
            )
        return True
    finally:
        if column.staging is not None:
            discard_staging(column.staging, final)
            column.staging = None


def results_file(column: Column, mode: Mode) -> ResultsFile:
    """The results file a session writes for ``column``."""
    import any_agent

    t = column.target
    recorded = column.manifest.recorded_at if mode == "replay" else None
    if mode == "record":
        recorded = now_iso()
    # A replay is a function of the recordings and the suite's code: its file carries no
    # fact of the moment it ran (date, interpreter, durations), so replaying unchanged
    # recordings rewrites the committed file byte for byte. When the evidence was made is
    # the manifest's ``recorded_at`` (``recorded_date`` here).
    replay = mode == "replay"
    results = list(column.results)
    if replay:
        results = [r if r.from_manifest else replace(r, duration_s=None) for r in results]
    run = RunInfo(
        provider=t.provider,
        column=t.column,
        configuration=column.manifest.configuration or t.profile.configuration,
        server=ServerInfo(name=column.server_name, version=column.server_version),
        model=t.model,
        mode=t.mode,
        date=None if replay else now_iso(),
        suite_version=SUITE_VERSION,
        any_agent_version=getattr(any_agent, "__version__", None),
        python=None if replay else platform.python_version(),
        base_url=public_url(t.base_url),
        recorded_date=recorded[:10] if recorded else None,
        # a replay's own cost measures this machine: it shows the recording run's
        stats=(column.manifest.run_stats or None) if replay else column.stats.to_dict(),
    )
    return ResultsFile(run=run, results=results)


def save_manifest(column: Column) -> None:
    """Record mode: the staged manifest gets this run's outcomes and live-only results."""
    m = column.manifest
    m.recorded_at = now_iso()
    m.suite_version = SUITE_VERSION
    m.libraries = library_versions()
    if not m.run_stats or column.planned >= len(m.expected):
        # a run of a few checks into a recorded column (``--checks``) keeps the figures of
        # the last whole run: they say what certifying the column costs
        m.run_stats = column.stats.to_dict()
    from .catalogue.checks import get

    for r in column.results:
        m.expected[r.key] = r.outcome
        m.live.pop(r.key, None)
        if not get(r.check).replayable or r.key in column.unreplayable:
            entry = r.to_dict()
            entry["facts"] = column.facts.get(r.key, {})
            m.live[r.key] = entry
    m.save(column.directory, column.secrets)


def deployed_version(deployment: dict[str, Any]) -> str | None:
    """The server's version from the column's ``--server-facts``, for a server that did not
    say: the source commit it was started from, else its first package. The facts are the
    contributor's, so anything of another shape counts as absent."""
    server = deployment.get("server")
    if not isinstance(server, dict):
        return None
    commit = server.get("commit_found")
    if isinstance(commit, str) and re.fullmatch(r"[0-9a-f]{7,40}", commit):
        return f"commit {commit[:7]}"
    packages = server.get("packages")
    if not isinstance(packages, dict):
        return None
    name, version = next(iter(packages.items()), (None, None))
    if not (isinstance(name, str) and isinstance(version, str)) or " " in name + version:
        return None
    return plain_version(f"{name} {version}")


def _shown(path: Path) -> str:
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def baseline_diff(baseline: dict[str, str], results: list[CheckResult]) -> list[str]:
    """``-``/``+`` lines for every recorded outcome that differs from the baseline."""
    lines: list[str] = []
    for r in sorted(results, key=lambda r: r.key):
        was = baseline.get(r.key)
        if was is not None and was != r.outcome:
            lines += [f"  - {r.key}: {was}", f"  + {r.key}: {r.outcome}"]
    return lines


class ColumnLock:
    """An exclusive, non-blocking lock on ``.<slug>.lock`` next to a column: a second record
    run for the same column is refused instead of racing the first one's swap."""

    def __init__(self, path: Path, fd: int) -> None:
        self.path, self.fd = path, fd

    def release(self) -> None:
        if self.fd < 0:
            return
        with contextlib.suppress(OSError):  # unlinked while held: a waiter re-checks the inode
            self.path.unlink()
        os.close(self.fd)
        self.fd = -1
        with contextlib.suppress(OSError):  # a provider directory this run created, left empty
            if not any(self.path.parent.iterdir()):
                self.path.parent.rmdir()


def lock_column(final: Path) -> ColumnLock:
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX: no lock (one run at a time by hand)
        return ColumnLock(final.parent / LOCK_SUFFIX, -1)
    path = final.parent / f".{final.name}{LOCK_SUFFIX}"
    try:
        final.parent.mkdir(parents=True, exist_ok=True)
        for _ in range(100):
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                raise UsageError(
                    f"another record run is recording {_shown(final)} (it holds {_shown(path)}); "
                    "wait for it to finish"
                ) from None
            with contextlib.suppress(FileNotFoundError):
                if os.stat(path).st_ino == os.fstat(fd).st_ino:
                    return ColumnLock(path, fd)
            os.close(fd)  # the holder unlinked it as we opened it: take the new one
    except OSError as exc:
        raise UsageError(f"cannot lock {_shown(path)} for recording: {exc}") from None
    raise UsageError(f"cannot lock {_shown(path)} for recording")  # pragma: no cover


def recover_column(final: Path) -> list[str]:
    """Under the column's lock: put back a column a run killed mid-swap had moved aside, and
    remove staging copies that interrupted runs left behind. Lines for the summary."""
    notes: list[str] = []
    old = sorted(_leftovers(final, OLD_MARK), key=lambda p: p.stat().st_mtime)
    if old and not final.exists():
        old.pop().rename(final)
        notes.append(f"restored {_shown(final)}, which an interrupted record run had moved aside")
    stale = old + _leftovers(final, STAGING_MARK)
    for path in stale:
        shutil.rmtree(path, ignore_errors=True)
    if stale:
        notes.append(
            f"removed {len(stale)} staging director{'ies' if len(stale) > 1 else 'y'} an "
            f"interrupted record run left next to {_shown(final)}"
        )
    return notes


def _leftovers(final: Path, mark: str) -> list[Path]:
    prefix = f".{final.name}{mark}"
    if not final.parent.is_dir():
        return []
    return [
        p
        for p in final.parent.iterdir()
        if p.name.startswith(prefix) and p.is_dir() and not p.is_symlink()
    ]


def stage_column(final: Path) -> Path:
    """A sibling of ``final`` (same filesystem, so a rename replaces it) holding a copy of the
    committed column; the record run writes there."""
    final.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{final.name}{STAGING_MARK}", dir=final.parent))
    try:
        if final.is_dir():
            for entry in final.iterdir():  # check_column has refused anything but regular files
                shutil.copy2(entry, staging / entry.name, follow_symlinks=False)
    except BaseException:  # a full disk: no half-copied staging directory is left behind
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return staging


def replace_column(staging: Path, final: Path) -> None:
    """Swap the staged recording in by rename; the old column is removed only afterwards."""
    old: Path | None = None
    if final.exists():
        old = Path(tempfile.mkdtemp(prefix=f".{final.name}{OLD_MARK}", dir=final.parent))
        old.rmdir()
        final.rename(old)
    try:
        staging.rename(final)
    except OSError:
        if old is not None:
            old.rename(final)
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def discard_staging(staging: Path, final: Path) -> None:
    shutil.rmtree(staging, ignore_errors=True)
    parent = final.parent
    with contextlib.suppress(OSError):  # a provider directory this run created, left empty
        if not any(parent.iterdir()):
            parent.rmdir()
