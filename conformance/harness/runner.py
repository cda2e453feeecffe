"""Run one (check, layer) against one column, in live, record or replay mode.

This is the only place that decides outcomes from what a check did:

* declared capability absent → ``unsupported``;
* live-only check during replay → the result recorded in the manifest (``from_manifest``),
  or ``not-run`` without one;
* replay of a recording made by a suite older than the check's ``since`` (and whose manifest
  has no outcome for it) → ``not-recorded``, with the command that records it;
* replay with the cassette missing, an interaction missing, or one left unused → ``error``;
* a failure the provider profile lists → ``xfail`` (reason + link); a listed failure that
  does not reproduce → ``warn``, so the profile gets cleaned up;
* live mode: a failure that is not a listed deterministic one is tried again, up to
  ``Target.flaky_tries`` tries in all (2 by default); when a retry holds, the outcome is
  ``flaky`` with the counts (and the profile's reason and link when it lists it as flaky).
"""

from __future__ import annotations

import asyncio
import datetime as _dt
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from any_agent._wire.credentials import url_secrets

from .. import checks as _checks  # noqa: F401 - registers the implementations
from ..catalogue.checks import IMPLEMENTATIONS, Check
from ..results import CheckResult, Layer, Outcome
from ..vocabulary import version_tuple
from .context import Ctx, Target, Verdict, cassette_error_in
from .http import WireClient
from .recording import Manifest, cassette_path, column_dir, make_vcr, redact, redact_data
from .share import ResponseMemo, RunStats

__all__ = ["CHECK_BUDGET", "Column", "check_deadline", "recording_predates", "run_item"]

#: One check's deadline, in request timeouts. Every request has its own total deadline
#: (``--request-timeout``, harness/http.py), so this only ends a check that keeps sending
#: slow requests (a multi-turn check against a server at the edge of the bound).
CHECK_BUDGET = 4


def check_deadline(request_timeout: float) -> float:
    """Seconds one try of a check may take: :data:`CHECK_BUDGET` request timeouts."""
    return request_timeout * CHECK_BUDGET


@dataclass(slots=True)
class Column:
    """One server column of a session: its target, manifest and results so far."""

    target: Target
    cassette_dir: Path
    manifest: Manifest
    server_name: str | None = None
    server_version: str | None = None
    results: list[CheckResult] = field(default_factory=list)
    #: ``check[layer]`` → measured facts (timings...), kept in the manifest.
    facts: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: Results recorded but not replayable (a request timed out): kept in the manifest.
    unreplayable: set[str] = field(default_factory=set)
    #: Record mode: the sibling directory the run writes into; it replaces the column only
    #: when the run completed (so a failed run leaves the committed evidence untouched).
    staging: Path | None = None
    #: Record mode: the committed manifest's ``expected`` outcomes (the regression baseline).
    baseline: dict[str, str] = field(default_factory=dict)
    #: Items collected for this column (a run that did not reach them all is incomplete).
    planned: int = 0
    #: Which of ``Settings.targets`` the column came from (its API key); None in replay.
    target_index: int | None = None
    #: Live mode: responses shared between checks that send the same request (share.py).
    memo: ResponseMemo | None = None
    #: What the run cost: wall time, requests, tokens (live and record modes).
    stats: RunStats = field(default_factory=RunStats)
    #: ``time.perf_counter()`` when the column's first check started.
    started: float | None = None

    def shared_responses(self) -> ResponseMemo | None:
        """The column's memo, made on first use (live mode with sharing on only)."""
        if self.memo is None and self.target.mode == "live" and self.target.share_max_bytes > 0:
            self.memo = ResponseMemo(self.target.share_max_bytes)
        return self.memo

    @property
    def final_directory(self) -> Path:
        """Where the column lives (and what results and evidence name)."""
        return column_dir(self.cassette_dir, self.target.provider, self.target.model)

    @property
    def directory(self) -> Path:
        """Where this session reads and writes cassettes (the staging copy when recording)."""
        return self.staging or self.final_directory

    @property
    def secrets(self) -> tuple[str, ...]:
        key = (self.target.api_key,) if self.target.api_key else ()
        return key + url_secrets(self.target.base_url)


def _relative(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def _message(ctx: Ctx | None, base: str) -> str:
    parts = [base] if base else []
    if ctx is not None:
        parts += ctx.warnings + ctx.notes
    text = "; ".join(p for p in parts if p)
    return " ".join(text.split())[:500]


def run_item(check: Check, layer: Layer, column: Column) -> CheckResult:
    if column.started is None:
        column.started = time.perf_counter()
    column.stats.concurrency = column.target.concurrency
    try:
        return _judged(check, layer, column)
    finally:
        # with --concurrency the checks end in any order: the run lasts until the last one
        column.stats.wall_s = max(column.stats.wall_s, time.perf_counter() - column.started)


def _judged(check: Check, layer: Layer, column: Column) -> CheckResult:
    result = _one_try(check, layer, column, share=True)
    try:
        if result.outcome == "fail" and _may_be_chance(check, layer, column):
            result = _retry(check, layer, column, result)
    finally:
        _apply_known_failure(result, column)
        secrets = column.secrets
        result.message = redact(result.message, secrets)
        if result.evidence.response_excerpt:
            result.evidence.response_excerpt = redact(result.evidence.response_excerpt, secrets)
        if result.evidence.request is not None:
            result.evidence.request = redact_data(result.evidence.request, secrets)
        if result.evidence.exchanges:
            result.evidence.exchanges = redact_data(result.evidence.exchanges, secrets)
    return result


def _one_try(check: Check, layer: Layer, column: Column, *, share: bool) -> CheckResult:
    result = CheckResult(
        check=check.id,
        layer=layer,
        outcome="error",
        level=check.level,
        area=check.area,
        title=check.title,
    )
    started = time.perf_counter()
    try:
        _run(check, layer, column, result, share=share)
    finally:
        if not result.from_manifest:
            result.duration_s = time.perf_counter() - started
    return result


def _may_be_chance(check: Check, layer: Layer, column: Column) -> bool:
    """Live only, and not for a failure the profile knows to be deterministic."""
    target = column.target
    if target.mode != "live" or target.flaky_tries < 2:
        return False
    known = target.profile.known_failure(check.id, layer)
    return known is None or known.flaky


def _retry(check: Check, layer: Layer, column: Column, first: CheckResult) -> CheckResult:
    """Try a failing judgement again (bounded by ``flaky_tries``): all fail → ``fail`` with
    the count; some hold → ``flaky`` with the counts. The first failure's message and
    evidence are kept."""
    tries = column.target.flaky_tries
    held = failed = 0
    spent = first.duration_s or 0.0
    for _ in range(tries - 1):
        again = _one_try(check, layer, column, share=False)  # asks the server again
        spent += again.duration_s or 0.0
        if again.outcome in ("pass", "warn"):
            held += 1
        else:
            failed += 1
    failed += 1  # the first try
    first.duration_s = spent
    if held:
        first.outcome = "flaky"
        counts = f"failed {failed} of {tries} tries, held {held}"
    else:
        counts = f"failed {tries} of {tries} tries"
    first.message = f"{counts}: {first.message}" if first.message else counts
    return first


def _run(check: Check, layer: Layer, column: Column, result: CheckResult, *, share: bool) -> None:
    target = column.target
    profile = target.profile
    absent = [cap for cap in check.requires if profile.capability(cap) is False]
    if absent:
        result.outcome = "unsupported"
        result.message = f"the {profile.name} profile declares no {', '.join(absent)}"
        return
    impl = IMPLEMENTATIONS.get((check.id, layer))
    if impl is None:
        result.outcome = "error"
        result.message = f"no implementation for {check.id} [{layer}]"
        return

    if target.mode == "replay" and recording_predates(column, check, layer):
        result.outcome = "not-recorded"
        result.message = (
            f"this recording was made by suite {column.manifest.suite_version}, "
            f"before the check existed (suite {check.since}); record it with: make record "
            f"PROVIDER={target.provider} MODEL={target.model} CHECKS={check.id}"
        )
        return

    recorded_live = result.key in column.manifest.live
    if target.mode == "replay" and (not check.replayable or recorded_live):
        recorded = column.manifest.live.get(result.key)
        if recorded is None:
            result.outcome = "not-run"
            result.message = "live-only check; the recording has no measurement for it"
            return
        past = CheckResult.from_dict(recorded)
        result.outcome = past.outcome
        result.message = f"recorded {column.manifest.recorded_at or '?'}: {past.message}".strip()
        result.reason, result.link = past.reason, past.link
        result.evidence = past.evidence
        result.duration_s = past.duration_s  # the live measurement, not this replay's time
        result.from_manifest = True
        return

    use_cassette = check.replayable and target.mode in ("record", "replay")
    shown = cassette_path(column.cassette_dir, target.provider, target.model, check.id, layer)
    path = column.directory / shown.name
    if use_cassette:
        result.evidence.cassette = _relative(shown)
        if target.mode == "replay" and (path.is_symlink() or not path.is_file()):
            what = "a symlinked" if path.is_symlink() else "missing"
            result.outcome = "error"
            result.message = f"{what} cassette {_relative(shown)} (re-record this column)"
            return
        if target.mode == "record":
            path.parent.mkdir(parents=True, exist_ok=True)
            path.unlink(missing_ok=True)

    ctx_box: list[Ctx] = []
    stats = column.stats if target.mode != "replay" else None
    # a timing check measures its own request; a record run keeps each check's own exchange
    memo = column.shared_responses() if share and check.replayable else None

    async def go() -> None:
        async with WireClient(
            target.base_url,
            api_key=target.api_key,
            connect_timeout=target.connect_timeout,
            request_timeout=target.request_timeout,
            stats=stats,
            max_response_bytes=target.max_response_bytes,
        ) as wire:
            ctx = Ctx(check, layer, target, wire)
            ctx.memo, ctx.stats = memo, stats
            ctx_box.append(ctx)
            await asyncio.wait_for(impl(ctx), timeout=check_deadline(target.request_timeout))

    outcome: Outcome = "pass"
    message = ""
    unused: str | None = None
    try:
        if use_cassette:
            vcr = make_vcr(path.parent, record=target.mode == "record", secrets=column.secrets)
            with vcr.use_cassette(path.name) as cassette:
                try:
                    _execute(go, block_network=target.mode == "replay")
                finally:
                    if target.mode == "replay" and not cassette.all_played:
                        n = len(cassette) - cassette.play_count
                        unused = f"{n} recorded interaction(s) were not used"
        else:
            _execute(go, block_network=False)
    except Verdict as verdict:
        outcome, message = verdict.outcome, verdict.message
    except Exception as exc:
        found = cassette_error_in(exc)
        outcome = "error"
        if found is not None:
            message = (
                "the cassette has no matching interaction for a request (the check or the SDK "
                f"changed what it sends; re-record): {str(found).splitlines()[0][:200]}"
            )
        elif isinstance(exc, (TimeoutError, asyncio.TimeoutError)):  # one class from 3.11
            message = (
                f"the check did not finish within {check_deadline(target.request_timeout):g} s "
                f"({CHECK_BUDGET} x --request-timeout)"
            )
        else:
            message = f"harness error: {type(exc).__name__}: {exc}"
    ctx = ctx_box[0] if ctx_box else None
    if ctx is not None and ctx.shared:
        column.stats.add_shared(ctx.shared)
    if outcome == "pass" and ctx is not None and ctx.warnings:
        outcome = "warn"
    if unused and outcome != "error":
        message = f"{unused} (re-record this column); the check said {outcome}: {message}"
        outcome = "error"
    result.outcome = outcome
    result.message = _message(ctx, message)
    if ctx is not None:
        req = ctx.last_request
        result.evidence.request = req if isinstance(req, dict) or req is None else {"value": req}
        if ctx.last_response is not None:
            result.evidence.response_excerpt = ctx.last_response.excerpt()
        if ctx.exchanges and ctx.exchanges[-1]["request"] is ctx.last_request:
            # the SDK layer has no raw response: its exchange says what the SDK made of it
            result.evidence.response_excerpt = ctx.exchanges[-1]["response_excerpt"]
        if len(ctx.exchanges) > 1:
            result.evidence.exchanges = [dict(x) for x in ctx.exchanges]
            if ctx.exchanges_dropped:
                more = f"[{ctx.exchanges_dropped} more exchange(s) not kept]"
                result.evidence.exchanges.append({"request": None, "response_excerpt": more})
        if ctx.facts:
            column.facts[result.key] = dict(ctx.facts)
        if target.mode == "record" and use_cassette and not path.is_file():
            ctx.unreplayable = ctx.unreplayable or "the check sent no request"
        if target.mode == "record" and use_cassette and ctx.unreplayable:
            column.unreplayable.add(result.key)
            result.message = _message(
                ctx, f"{message} (not replayable: {ctx.unreplayable}; kept in the manifest)"
            )


def recording_predates(column: Column, check: Check, layer: Layer) -> bool:
    """The column's recording was made by a suite older than the check (and holds no outcome
    for it): a replay reports it ``not-recorded`` instead of erring on the missing cassette."""
    return (
        version_tuple(column.manifest.suite_version) < version_tuple(check.since)
        and f"{check.id}[{layer}]" not in column.manifest.expected
    )


def _execute(go: Any, *, block_network: bool) -> None:
    if block_network:
        from pytest_recording.network import blocking_context

        with blocking_context():
            asyncio.run(go())
    else:
        asyncio.run(go())


def _apply_known_failure(result: CheckResult, column: Column) -> None:
    if result.from_manifest:
        return
    known = column.target.profile.known_failure(result.check, result.layer)
    if known is None:
        return
    if result.outcome == "fail":
        result.outcome = "xfail"
        result.reason = known.reason
        result.link = known.link
    elif result.outcome == "flaky":
        result.reason = known.reason
        result.link = known.link
    elif result.outcome in ("pass", "warn") and not known.flaky:
        result.outcome = "warn"
        note = "listed as a known failure in the profile, but it passed (update the profile)"
        result.message = f"{result.message}; {note}" if result.message else note
        result.reason = known.reason
        result.link = known.link


def now_iso() -> str:
    return _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0).isoformat()
