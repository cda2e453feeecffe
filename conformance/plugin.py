"""The pytest plugin (``pytest11`` entry point ``any_agent_conformance``): pytest glue only.

Inert unless one of its options is given: then it collects one item per (column, check,
layer) instead of the test files (unless test paths were given explicitly), runs them, and
writes ``<report-dir>/results/<provider>__<model-slug>.json``.

Exit status: 0 when every MUST check holds (SHOULD/MAY failures are reported, not fatal),
1 when a MUST check fails or the harness errs, 2 for usage errors and unreachable servers.
What the options mean is :mod:`conformance.settings`; which columns run, and how a record
run replaces one, is :mod:`conformance.columns`.
"""

from __future__ import annotations

import time
import unicodedata
from collections.abc import Generator
from pathlib import Path
from typing import Any

import pytest

from . import SUITE_VERSION
from .catalogue.checks import Check, select, text_table
from .catalogue.profiles import PROFILES, get_profile
from .columns import ColumnLock, finish_recording, live_columns, replay_columns, results_file
from .distributed import (
    INPUT_KEY,
    OUTPUT_KEY,
    Aggregator,
    columns_from_handoff,
    enforce_column_scheduling,
    is_worker,
    worker_share,
)
from .harness.pool import ColumnPool
from .harness.runner import Column, run_item
from .harness.share import DEFAULT_SHARE_MAX_MB
from .plan import in_catalogue_order, planned_items, run_order
from .results import CheckResult, Layer, write_results
from .settings import (
    DEFAULT_FLAKY_TRIES,
    MAX_CONCURRENCY,
    MAX_FLAKY_TRIES,
    MAX_SHARE_MB,
    RUN_ORDERS,
    Settings,
    UsageError,
)

__all__ = ["ConformanceItem"]

_OPTIONS = (
    "provider",
    "base_url",
    "model",
    "api_key_env",
    "conformance_mode",
    "cassette_dir",
    "checks",
    "report_dir",
    "request_timeout",
    "connect_timeout",
    "first_token_timeout",
    "idle_timeout",
    "allow_insecure",
    "layers",
    "targets",
    "all_models",
)


def pytest_addoption(parser: pytest.Parser) -> None:
    g = parser.getgroup(
        "conformance", "any-agent conformance suite (inert unless one of these is given)"
    )
    g.addoption(
        "--provider",
        default=None,
        help=f"provider profile to certify: {', '.join(PROFILES)}",
    )
    g.addoption("--base-url", default=None, help="server base URL, e.g. http://127.0.0.1:8080/v1")
    g.addoption(
        "--model",
        action="append",
        default=None,
        help="model id to certify (repeatable; default: the first one /v1/models lists)",
    )
    g.addoption(
        "--api-key-env",
        default=None,
        metavar="VAR",
        help="name of the environment variable holding the API key (never the key itself)",
    )
    g.addoption(
        "--conformance-mode",
        default=None,
        choices=("live", "record", "replay"),
        help="live (default with a server), record (write cassettes), replay (offline)",
    )
    g.addoption("--cassette-dir", default=None, help="cassette root (default: cassettes)")
    g.addoption(
        "--checks", action="append", default=None, metavar="GLOB", help="check ids to run (glob)"
    )
    g.addoption("--report-dir", default=None, help="where results/*.json go (default: reports)")
    g.addoption("--request-timeout", type=float, default=None, help="per request, s (120)")
    g.addoption("--connect-timeout", type=float, default=None, help="TCP connect, s (10)")
    g.addoption("--first-token-timeout", type=float, default=None, help="liveness bound, s (30)")
    g.addoption("--idle-timeout", type=float, default=None, help="longest silence bound, s (30)")
    g.addoption(
        "--max-response-bytes",
        type=int,
        default=None,
        help="bytes of one response body read before the check fails (16 MiB)",
    )
    g.addoption(
        "--allow-insecure",
        action="store_true",
        default=None,
        help="allow sending the API key over plain http to a non-loopback host",
    )
    g.addoption("--layers", default=None, help="layers to judge: wire,sdk (default both)")
    g.addoption(
        "--targets",
        default=None,
        metavar="FILE",
        help="TOML file: the servers to certify, one [[target]] per server (docs/fleet.md)",
    )
    g.addoption(
        "--all-models",
        action="store_true",
        default=None,
        help="certify every model the server's /v1/models lists, each its own column",
    )
    g.addoption(
        "--server-facts",
        default=None,
        help="JSON file describing how the server was run (packages, hashes, flags); "
        "stored in the manifest when recording",
    )
    g.addoption(
        "--flaky-tries",
        type=int,
        default=None,
        help=f"live: how many times a failing judgement is tried in all ({DEFAULT_FLAKY_TRIES}, "
        f"at most {MAX_FLAKY_TRIES}); one "
        "that passes on a retry is reported flaky, with the counts",
    )
    g.addoption(
        "--share-requests",
        dest="share_requests",
        action="store_true",
        default=None,
        help="live: checks that send the same request judge one response (the default)",
    )
    g.addoption(
        "--no-share-requests",
        dest="share_requests",
        action="store_false",
        help="live: every check sends its own requests",
    )
    g.addoption(
        "--share-max-mb",
        type=int,
        default=None,
        help=f"live: responses kept for sharing, per column, at most this many MB "
        f"({DEFAULT_SHARE_MAX_MB}; 1 to {MAX_SHARE_MB})",
    )
    g.addoption(
        "--concurrency",
        type=int,
        default=None,
        metavar="N",
        help="live: run up to N of a column's checks at once (default: the server's slots, "
        f"llama.cpp /props total_slots; 1 where unknown; at most {MAX_CONCURRENCY}); timing "
        "checks always run alone; record and replay run one at a time",
    )
    g.addoption(
        "--run-order",
        default=None,
        metavar="|".join(RUN_ORDERS),
        help="live and record: 'prefix' (default) runs checks whose requests share a long "
        "prompt prefix one after another, so a server's prompt cache is reused; 'catalogue' "
        "runs them in catalogue order. Results are written in catalogue order either way",
    )
    g.addoption(
        "--accept-baseline",
        action="store_true",
        default=False,
        help="record: accept a changed regression baseline (shown as a diff); without it a "
        "re-recording whose outcomes differ from the committed manifest is refused",
    )
    g.addoption(
        "--conformance-list",
        action="store_true",
        default=False,
        help="print the check catalogue and exit",
    )


def _active(config: pytest.Config) -> bool:
    return any(config.getoption(name) is not None for name in _OPTIONS)


@pytest.hookimpl(tryfirst=True)
def pytest_cmdline_main(config: pytest.Config) -> int | None:
    if config.getoption("conformance_list"):
        patterns = config.getoption("checks")
        print(text_table(select(patterns)))
        print(f"\n{len(select(patterns))} checks (suite {SUITE_VERSION})")
        return 0
    return None


def pytest_configure(config: pytest.Config) -> None:
    if not _active(config):
        return
    try:
        settings = Settings.from_config(config)
    except UsageError as exc:
        pytest.exit(f"conformance: {shown(str(exc), keep=chr(10))}", returncode=2)
    # pytest-xdist registers it too; without xdist the marker is inert but known.
    config.addinivalue_line("markers", "xdist_group(name): run on one xdist worker")
    session = ConformanceSession(config, settings)
    if not is_worker(config):
        session.dist_note = enforce_column_scheduling(config)
    config.pluginmanager.register(session, "conformance-session")


class ConformanceItem(pytest.Item):
    def __init__(self, *, check: Check, layer: Layer, column: Column, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.check = check
        self.layer: Layer = layer
        self.column = column
        self.result: CheckResult | None = None
        self.user_properties.extend([("check", check.id), ("layer", layer), ("level", check.level)])

    def runtest(self) -> None:
        session = self.config.pluginmanager.get_plugin("conformance-session")
        if isinstance(session, ConformanceSession):
            self.result = result = session.run(self)
        else:  # pragma: no cover - the session registers itself before collection
            self.result = result = run_item(self.check, self.layer, self.column)
        self.column.results.append(result)
        self.user_properties.append(("outcome", result.outcome))
        outcome, msg = result.outcome, shown(result.message)
        if outcome == "error":
            raise ConformanceFailure(f"ERROR (harness): {msg}")
        if outcome == "fail" and self.check.level == "MUST":
            raise ConformanceFailure(f"MUST: {self.check.statement}\n  → {msg}")
        if outcome in ("unsupported", "n/a", "not-run", "not-recorded", "not-offered"):
            pytest.skip(f"{outcome}: {msg}")
        if outcome == "xfail":
            pytest.xfail(f"{result.reason} ({result.link})" if result.link else str(result.reason))
        if outcome == "flaky":  # reported as such (summary, matrix), not as a pass or a failure
            pytest.xfail(f"flaky: {msg}")

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> Any:
        if isinstance(excinfo.value, ConformanceFailure):
            return str(excinfo.value)
        if isinstance(excinfo.value, pytest.xfail.Exception):
            # pytest formats the traceback of every xfail (parsing the source of each frame:
            # most of a replay's time once) and then shows only its reason
            return str(excinfo.value)
        return super().repr_failure(excinfo)

    def reportinfo(self) -> tuple[Any, int | None, str]:
        return self.path, None, f"{self.column.target.column} {self.check.id} [{self.layer}]"


class ConformanceFailure(Exception):
    pass


def shown(text: str, keep: str = "") -> str:
    """``text`` safe for a terminal: control and format characters (ESC sequences, backspace,
    bidi overrides) from a server's strings are shown escaped, never interpreted; ``keep``
    names the ones the suite's own text uses (a usage error's line breaks)."""
    return "".join(
        f"\\u{ord(c):04x}" if unicodedata.category(c) in ("Cc", "Cf") and c not in keep else c
        for c in text
    )


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    return f"{seconds / 60:.0f} min"


def progress_line(done: int, total: int, name: str, outcome: str, elapsed: float) -> str:
    """``check 23/74 tools.parallel[wire] pass … elapsed 3 min, ETA 4 min``: the ETA is the
    mean time per check so far times the checks left."""
    eta = elapsed / done * (total - done) if done else 0.0
    shown = f"{name} {outcome}".strip()
    left = f"ETA {_duration(eta)}" if done < total else "done"
    return f"check {done}/{total} {shown} … elapsed {_duration(elapsed)}, {left}"


def area_summary(results: list[CheckResult]) -> list[str]:
    """One line per area, in catalogue order: ``tools: 10 pass, 2 xfail, 1 fail``."""
    from .results import summarize

    by_area: dict[str, list[CheckResult]] = {}
    for r in results:
        by_area.setdefault(r.area, []).append(r)
    lines = []
    for area, rs in by_area.items():
        counts = summarize(rs)
        lines.append(f"{area}: " + ", ".join(f"{n} {k}" for k, n in counts.items() if n))
    return lines


def cost_lines(column: Column) -> list[str]:
    """What the column's run cost, and whether the sharing bound was reached."""
    st = column.stats
    shared = f" ({st.shared} more answered by a shared response)" if st.shared else ""
    at_once = f", {st.concurrency} checks at once" if st.concurrency > 1 else ""
    lines = [
        f"run: {_duration(st.wall_s)}{at_once}, {st.requests} request"
        f"{'' if st.requests == 1 else 's'}{shared}, "
        f"{st.prompt_tokens} prompt + {st.completion_tokens} generated tokens "
        f"(usage reported by {st.with_usage} of them)"
    ]
    memo = column.memo
    if memo is not None and memo.not_kept:
        lines.append(
            f"request sharing: {memo.not_kept} response(s) not kept for sharing (the bound, "
            f"--share-max-mb {column.target.share_max_bytes // (1024 * 1024)}, was reached); "
            "those checks asked the server themselves"
        )
    return lines


class ConformanceSession:
    """Registered only when the plugin is active."""

    def __init__(self, config: pytest.Config, settings: Settings) -> None:
        self.config = config
        self.settings = settings
        self.columns: list[Column] = []
        self.started = time.monotonic()
        self.total = 0
        self.done = 0
        self.written: list[Path] = []
        #: Lines for the terminal summary (refused or incomplete recordings, write errors).
        self.problems: list[str] = []
        #: Record mode: the column locks held for the whole session.
        self.locks: list[ColumnLock] = []
        #: Under pytest-xdist, on the controller: the workers' shares (conformance.distributed).
        self.aggregator: Aggregator | None = None
        #: Targets that could not be probed (the others ran; the run fails).
        self.unreachable: list[str] = []
        #: A header line when the plugin changed xdist's distribution mode.
        self.dist_note: str | None = None
        #: Live mode with ``--concurrency`` above 1: each column's pool (harness/pool.py).
        self.pools: dict[str, ColumnPool] = {}

    def run(self, item: ConformanceItem) -> CheckResult:
        """Run the item's check: here, or (``--concurrency`` above 1) in its column's pool."""
        column = item.column
        if column.target.concurrency <= 1:
            return run_item(item.check, item.layer, column)
        pool = self.pools.get(column.target.column)
        if pool is None:
            mine = [
                (i.check, i.layer)
                for i in item.session.items
                if isinstance(i, ConformanceItem) and i.column is column
            ]
            pool = self.pools[column.target.column] = ColumnPool(column, mine)
        return pool.result(item.check, item.layer)

    # -- header and setup ---------------------------------------------------------------------
    def pytest_report_header(self, config: pytest.Config) -> list[str]:
        s = self.settings
        where = s.base_url or (s.provider and get_profile(s.provider).base_url) or "recordings"
        return [
            f"conformance: suite {SUITE_VERSION}, mode {s.mode}, provider "
            f"{s.provider or 'all recorded'}, {where if s.mode != 'replay' else s.cassette_dir}",
            f"conformance: {len(s.checks)} checks, layers {'+'.join(s.layers)}, reports in "
            f"{s.report_dir}",
        ] + ([self.dist_note] if self.dist_note else [])

    def pytest_sessionstart(self, session: pytest.Session) -> None:
        s = self.settings
        if is_worker(self.config):  # the controller built the columns (locks, staging)
            workerinput: dict[str, Any] = self.config.workerinput  # type: ignore[attr-defined]
            self.columns = columns_from_handoff(s, workerinput[INPUT_KEY])
            return
        try:
            if s.mode == "replay":
                self.columns = replay_columns(s)
            else:
                self.columns = live_columns(s, self.locks, self.problems, self.unreachable)
        except UsageError as exc:
            pytest.exit(f"conformance: {shown(str(exc), keep=chr(10))}", returncode=2)
        if self.config.pluginmanager.hasplugin("dsession"):  # pytest-xdist's controller
            self.aggregator = Aggregator(s, self.columns)
            self.config.pluginmanager.register(self.aggregator, "conformance-aggregator")
            for column, _check, _layer in planned_items(s, self.columns):
                column.planned += 1
                self.total += 1

    # -- collection ---------------------------------------------------------------------------
    @pytest.hookimpl(tryfirst=True)
    def pytest_ignore_collect(self, collection_path: Path, config: pytest.Config) -> bool | None:
        if config.args_source != pytest.Config.ArgsSource.ARGS:
            return True  # no explicit paths: run the conformance items only
        return None

    @pytest.hookimpl(tryfirst=True)
    def pytest_collection_modifyitems(
        self, session: pytest.Session, config: pytest.Config, items: list[pytest.Item]
    ) -> None:
        for column, check, layer in run_order(self.settings, self.columns):
            name = f"{column.target.column}::{check.id}[{layer}]"
            column.planned += 1
            item = ConformanceItem.from_parent(
                session, name=name, check=check, layer=layer, column=column
            )
            # A column's checks run on one xdist worker (conformance.distributed).
            item.add_marker(pytest.mark.xdist_group(column.target.column))
            items.append(item)
        self.total = sum(isinstance(i, ConformanceItem) for i in items)

    # -- reporting ----------------------------------------------------------------------------
    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(
        self, item: pytest.Item, call: pytest.CallInfo[None]
    ) -> Generator[None, pytest.TestReport, pytest.TestReport]:
        report = yield
        if isinstance(item, ConformanceItem) and call.when == "call" and item.result:
            report.conformance_outcome = item.result.outcome  # type: ignore[attr-defined]
            report.conformance_level = item.check.level  # type: ignore[attr-defined]
        return report

    def pytest_report_teststatus(
        self, report: pytest.TestReport, config: pytest.Config
    ) -> tuple[str, str, str] | None:
        outcome = getattr(report, "conformance_outcome", None)
        if outcome is None or report.when != "call":
            return None
        level = getattr(report, "conformance_level", "MUST")
        table = {
            "warn": ("warn", "w", "WARN"),
            "unsupported": ("unsupported", "u", "UNSUPPORTED"),
            "n/a": ("n/a", "n", "N/A"),
            "not-run": ("not-run", "-", "NOT-RUN"),
            "not-recorded": ("not-recorded", "o", "NOT-RECORDED"),
            "not-offered": ("not-offered", "0", "NOT-OFFERED"),
            "error": ("failed", "E", "ERROR"),
            "flaky": ("flaky", "~", "FLAKY"),
        }
        if outcome == "fail" and level != "MUST":
            status: tuple[str, str, str] | None = (f"{level.lower()}-fail", "f", f"FAIL ({level})")
        else:
            status = table.get(outcome)
        if self.settings.mode == "replay":
            return status
        # live and record print a progress line per check (pytest_runtest_logreport): no dots
        if status is None:
            if hasattr(report, "wasxfail"):
                status = ("xfailed", "x", "XFAIL")
            elif report.passed:
                status = ("passed", ".", "PASSED")
            elif report.failed:
                status = ("failed", "F", "FAILED")
            else:
                status = ("skipped", "s", "SKIPPED")
        return (status[0], "", status[2])

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        # a live or record run talks to a real server for minutes: one line per check
        if report.when != "teardown" or self.settings.mode == "replay":
            return
        self.done += 1
        elapsed = time.monotonic() - self.started
        tr = self.config.pluginmanager.get_plugin("terminalreporter")
        if tr is not None:
            name = report.nodeid.rsplit("::", 1)[-1]
            outcome = str(dict(report.user_properties).get("outcome", ""))
            tr.write_line(progress_line(self.done, self.total, name, outcome, elapsed))

    def pytest_unconfigure(self, config: pytest.Config) -> None:
        for pool in self.pools.values():
            pool.close()
        self.pools.clear()
        for lock in self.locks:  # a session that stopped before sessionfinish
            lock.release()
        self.locks.clear()

    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        s = self.settings
        if is_worker(self.config):  # the controller writes; the worker hands its share back
            self.config.workeroutput[OUTPUT_KEY] = worker_share(self.columns)  # type: ignore[attr-defined]
            return
        failed = bool(self.unreachable)
        self.problems += self.unreachable
        lost = bool(self.aggregator and self.aggregator.lost)
        in_catalogue_order(s, self.columns)  # they ran in run order (plan.run_order)
        if self.aggregator is not None:
            self.problems += self.aggregator.lost
            if lost:
                failed = True
                for column in self.columns:
                    column.results.clear()  # nothing is written from part of a run
        for column in self.columns:
            if s.mode == "record":
                failed |= not finish_recording(
                    column,
                    s,
                    interrupted=lost or exitstatus == pytest.ExitCode.INTERRUPTED,
                    problems=self.problems,
                    written=self.written,
                )
                continue
            if not column.results:
                continue
            try:
                self.written.append(write_results(s.report_dir, results_file(column, s.mode)))
            except OSError as exc:
                self.problems.append(f"cannot write results under {s.report_dir}: {exc}")
                failed = True
        for lock in self.locks:
            lock.release()
        self.locks.clear()
        if failed and session.exitstatus == 0:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        from .results import must_verdict, summarize

        for column in self.columns:
            if not column.results:
                continue
            if self.settings.mode != "replay":
                for line in area_summary(column.results):
                    terminalreporter.write_line(f"  {line}")
            if self.settings.mode != "replay":
                for line in cost_lines(column):
                    terminalreporter.write_line(f"  {line}")
            counts = summarize(column.results)
            text = ", ".join(f"{n} {k}" for k, n in counts.items() if n)
            verdict = must_verdict((r.level, r.outcome) for r in column.results)
            terminalreporter.write_line(f"conformance {column.target.column}: {text} — {verdict}")
        for path in self.written:
            terminalreporter.write_line(f"conformance results: {path}")
        for problem in self.problems:
            terminalreporter.write_line(f"conformance: {shown(problem, keep=chr(10))}")
