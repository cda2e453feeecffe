"""The pytest plugin (``pytest11`` entry point ``any_agent_conformance``).

Inert unless one of its options is given: then it collects one item per (column, check,
layer) instead of the test files (unless test paths were given explicitly), runs them, and
writes ``<report-dir>/results/<provider>__<model-slug>.json``.

Exit status: 0 when every MUST check holds (SHOULD/MAY failures are reported, not fatal),
1 when a MUST check fails or the harness errs, 2 for usage errors and unreachable servers.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import shutil
import tempfile
import time
from collections.abc import Generator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from any_agent._wire.credentials import normalize_url

from . import SUITE_VERSION
from .context import Target
from .profiles import PROFILES, ProviderProfile, get_profile
from .recording import (
    Manifest,
    column_dir,
    find_recordings,
    is_loopback,
    library_versions,
    public_url,
)
from .registry import Check, select, text_table
from .results import CheckResult, Layer, Mode, ResultsFile, RunInfo, ServerInfo, write_results
from .runner import Column, now_iso, run_item
from .trust import LOCK_SUFFIX, OLD_MARK, STAGING_MARK, ColumnError, check_column

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
        "--allow-insecure",
        action="store_true",
        default=None,
        help="allow sending the API key over plain http to a non-loopback host",
    )
    g.addoption("--layers", default=None, help="layers to judge: wire,sdk (default both)")
    g.addoption(
        "--server-facts",
        default=None,
        help="JSON file describing how the server was run (packages, hashes, flags); "
        "stored in the manifest when recording",
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
    except UsageProblem as exc:
        pytest.exit(f"conformance: {exc}", returncode=2)
    config.pluginmanager.register(ConformanceSession(config, settings), "conformance-session")


class UsageProblem(Exception):
    pass


def _minor(version: str) -> str:
    """``major.minor`` of a suite version: requests only change with a minor bump."""
    return ".".join(version.split("-")[0].split(".")[:2])


@dataclass(slots=True)
class Settings:
    mode: Mode
    provider: str | None
    base_url: str | None
    models: list[str]
    api_key: str | None = field(repr=False)
    cassette_dir: Path
    report_dir: Path
    checks: list[Check]
    explicit_checks: bool
    layers: tuple[Layer, ...]
    request_timeout: float
    connect_timeout: float
    first_token_timeout: float
    idle_timeout: float
    allow_insecure: bool
    server_facts: dict[str, Any] | None = None
    accept_baseline: bool = False

    @classmethod
    def from_config(cls, config: pytest.Config) -> Settings:
        opt = config.getoption
        provider = opt("provider")
        base_url = opt("base_url")
        mode = opt("conformance_mode") or ("live" if provider or base_url else "replay")
        if provider is not None and provider.strip().lower() not in PROFILES:
            raise UsageProblem(
                f"unknown provider {provider!r} (known: {', '.join(PROFILES)}); for another "
                "server use --base-url URL --model ID"
            )
        if mode in ("live", "record") and not (provider or base_url):
            raise UsageProblem(f"{mode} mode needs --provider NAME or --base-url URL")
        if base_url is not None:
            base_url = normalize_url(base_url)  # one spelling: HTTP:// is http://
            parts = urlsplit(base_url)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise UsageProblem(
                    f"--base-url {base_url!r} is not an http:// or https:// URL with a host"
                )
        for name in ("request_timeout", "connect_timeout", "first_token_timeout", "idle_timeout"):
            value = opt(name)
            if value is not None and not value > 0:
                flag = "--" + name.replace("_", "-")
                raise UsageProblem(f"{flag} must be a positive number of seconds, got {value:g}")
        checks = select(opt("checks"))
        if not checks:
            raise UsageProblem(f"no check matches --checks {','.join(opt('checks'))}")
        layers_opt = opt("layers") or "wire,sdk"
        layers = tuple(x.strip() for x in layers_opt.split(",") if x.strip())
        if not layers or any(x not in ("wire", "sdk") for x in layers):
            raise UsageProblem(f"--layers takes wire and/or sdk, got {layers_opt!r}")
        api_key = None
        env_name = opt("api_key_env")
        if env_name:
            api_key = os.environ.get(env_name)
            if not api_key:
                raise UsageProblem(f"--api-key-env {env_name}: that environment variable is empty")
        elif provider:
            default_env = get_profile(provider).api_key_env
            if default_env:
                api_key = os.environ.get(default_env) or None
        allow_insecure = bool(opt("allow_insecure"))
        if mode != "replay" and api_key:
            url = base_url or get_profile(provider or "generic").base_url
            plain = urlsplit(normalize_url(url)).scheme == "http"
            if plain and not is_loopback(url) and not allow_insecure:
                raise UsageProblem(
                    f"refusing to send the API key over plain http to {public_url(url)}; use "
                    "https, a loopback address, or --allow-insecure"
                )
        root = Path(str(config.invocation_params.dir))
        return cls(
            mode=mode,  # type: ignore[arg-type]
            provider=provider.strip().lower() if provider else None,
            base_url=base_url.rstrip("/") if base_url else None,
            models=list(opt("model") or []),
            api_key=api_key,
            cassette_dir=root / (opt("cassette_dir") or "cassettes"),
            report_dir=root / (opt("report_dir") or "reports"),
            checks=checks,
            explicit_checks=bool(opt("checks")),
            layers=layers,  # type: ignore[arg-type]
            request_timeout=opt("request_timeout") or 120.0,
            connect_timeout=opt("connect_timeout") or 10.0,
            first_token_timeout=opt("first_token_timeout") or 30.0,
            idle_timeout=opt("idle_timeout") or 30.0,
            allow_insecure=allow_insecure,
            server_facts=_server_facts(opt("server_facts")),
            accept_baseline=bool(opt("accept_baseline")),
        )


def _package_version(deployment: dict[str, Any]) -> str | None:
    """The server package's version from ``--server-facts``, when the server did not say."""
    packages = (deployment.get("server") or {}).get("packages") or {}
    first = next(iter(packages.items()), None)
    return f"{first[0]} {first[1]}" if first else None


def _server_facts(path: str | None) -> dict[str, Any] | None:
    if path is None:
        return None
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise UsageProblem(f"--server-facts {path}: cannot read a JSON object ({exc})") from None
    if not isinstance(data, dict):
        raise UsageProblem(f"--server-facts {path}: expected a JSON object")
    return data


class ConformanceItem(pytest.Item):
    def __init__(self, *, check: Check, layer: Layer, column: Column, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.check = check
        self.layer: Layer = layer
        self.column = column
        self.result: CheckResult | None = None
        self.user_properties.extend([("check", check.id), ("layer", layer), ("level", check.level)])

    def runtest(self) -> None:
        self.result = result = run_item(self.check, self.layer, self.column)
        self.column.results.append(result)
        self.user_properties.append(("outcome", result.outcome))
        outcome, msg = result.outcome, result.message
        if outcome == "error":
            raise ConformanceFailure(f"ERROR (harness): {msg}")
        if outcome == "fail" and self.check.level == "MUST":
            raise ConformanceFailure(f"MUST: {self.check.statement}\n  → {msg}")
        if outcome in ("unsupported", "n/a", "not-run"):
            pytest.skip(f"{outcome}: {msg}")
        if outcome == "xfail":
            pytest.xfail(f"{result.reason} ({result.link})" if result.link else str(result.reason))

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> Any:
        if isinstance(excinfo.value, ConformanceFailure):
            return str(excinfo.value)
        return super().repr_failure(excinfo)

    def reportinfo(self) -> tuple[Any, int | None, str]:
        return self.path, None, f"{self.column.target.column} {self.check.id} [{self.layer}]"


class ConformanceFailure(Exception):
    pass


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

    # -- header and setup ---------------------------------------------------------------------
    def pytest_report_header(self, config: pytest.Config) -> list[str]:
        s = self.settings
        where = s.base_url or (s.provider and get_profile(s.provider).base_url) or "recordings"
        return [
            f"conformance: suite {SUITE_VERSION}, mode {s.mode}, provider "
            f"{s.provider or 'all recorded'}, {where if s.mode != 'replay' else s.cassette_dir}",
            f"conformance: {len(s.checks)} checks, layers {'+'.join(s.layers)}, reports in "
            f"{s.report_dir}",
        ]

    def pytest_sessionstart(self, session: pytest.Session) -> None:
        s = self.settings
        try:
            if s.mode == "replay":
                self.columns = self._replay_columns()
            else:
                self.columns = self._live_columns()
        except UsageProblem as exc:
            pytest.exit(f"conformance: {exc}", returncode=2)

    def _replay_columns(self) -> list[Column]:
        s = self.settings
        dirs = find_recordings(s.cassette_dir, s.provider, s.models)
        if not dirs:
            what = f"{s.provider}/" if s.provider else ""
            raise UsageProblem(f"no recordings (manifest.json) under {s.cassette_dir}/{what}")
        columns = []
        for d in dirs:
            path = d / "manifest.json"
            try:
                check_column(d, s.cassette_dir)
                manifest = Manifest.load(path)
            except ColumnError as exc:
                raise UsageProblem(str(exc)) from None
            if _minor(manifest.suite_version) != _minor(SUITE_VERSION):
                raise UsageProblem(
                    f"{path} was recorded with suite {manifest.suite_version}; this is suite "
                    f"{SUITE_VERSION}: re-record it (make record PROVIDER={manifest.provider} "
                    f"MODEL={manifest.model})"
                )
            profile = PROFILES.get(manifest.provider, PROFILES["generic"])
            target = self._target(profile, manifest.provider, manifest.base_url, manifest.model)
            target.model_meta = manifest.model_meta
            target.api_key = None
            columns.append(
                Column(
                    target=target,
                    cassette_dir=s.cassette_dir,
                    manifest=manifest,
                    server_name=manifest.server.get("name"),
                    server_version=manifest.server.get("version")
                    or _package_version(manifest.deployment),
                )
            )
        return columns

    def _target(self, profile: ProviderProfile, provider: str, base_url: str, model: str) -> Target:
        s = self.settings
        return Target(
            provider=provider,
            profile=profile,
            base_url=base_url,
            model=model,
            mode=s.mode,
            api_key=s.api_key,
            connect_timeout=s.connect_timeout,
            request_timeout=s.request_timeout,
            first_token_timeout=s.first_token_timeout,
            idle_timeout=s.idle_timeout,
        )

    def _live_columns(self) -> list[Column]:
        from .probe import probe_server

        s = self.settings
        provider = s.provider or "generic"
        profile = get_profile(provider)
        base_url = s.base_url or profile.base_url
        facts = probe_server(base_url, s.api_key, profile, timeout=s.connect_timeout)
        models = s.models or facts.model_ids[:1]
        if not models:
            raise UsageProblem(f"{base_url}/models lists no model; pass --model ID")
        columns = []
        for model in models:
            target = self._target(profile, provider, base_url, model)
            target.model_meta = facts.meta_for(model)
            manifest = Manifest(provider=provider, model=model, base_url=public_url(base_url))
            baseline: dict[str, str] = {}
            if s.mode == "record":
                # One record run per column at a time (taken before the baseline is read),
                # and what an interrupted run left next to the column is cleaned up first.
                final = column_dir(s.cassette_dir, provider, model)
                self.locks.append(lock_column(final))
                self.problems += recover_column(final)
                existing = find_recordings(s.cassette_dir, provider, [model])
                if existing:
                    try:
                        check_column(existing[0], s.cassette_dir)
                        manifest = Manifest.load(existing[0] / "manifest.json")
                    except ColumnError as exc:
                        raise UsageProblem(str(exc)) from None
                    baseline = dict(manifest.expected)
                manifest.base_url = public_url(base_url)
                manifest.model = model
                manifest.configuration = profile.configuration
                manifest.server = {"name": facts.server_name, "version": facts.server_version}
                manifest.model_meta = dict(target.model_meta)
                if s.server_facts is not None:
                    manifest.deployment = s.server_facts
            column = Column(
                target=target,
                cassette_dir=s.cassette_dir,
                manifest=manifest,
                server_name=facts.server_name,
                server_version=facts.server_version,
                baseline=baseline,
            )
            if s.mode == "record":
                try:
                    column.staging = stage_column(column.final_directory)
                except OSError as exc:
                    raise UsageProblem(
                        f"cannot stage a recording next to {column.final_directory}: {exc}"
                    ) from None
            columns.append(column)
        return columns

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
        s = self.settings
        ordered = sorted(s.checks, key=lambda c: c.id != "timeout.cold-start")
        for column in self.columns:
            for check in ordered:
                for layer in check.layers:
                    if layer not in s.layers:
                        continue
                    expected = column.manifest.expected
                    recorded_only = s.mode == "replay" and not s.explicit_checks and expected
                    if recorded_only and f"{check.id}[{layer}]" not in expected:
                        continue  # replay what was recorded unless --checks says more
                    name = f"{column.target.column}::{check.id}[{layer}]"
                    column.planned += 1
                    items.append(
                        ConformanceItem.from_parent(
                            session, name=name, check=check, layer=layer, column=column
                        )
                    )
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
            "error": ("failed", "E", "ERROR"),
        }
        if outcome == "fail" and level != "MUST":
            return (f"{level.lower()}-fail", "f", f"FAIL ({level})")
        return table.get(outcome)

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.when != "teardown" or self.settings.mode != "record":
            return
        self.done += 1
        elapsed = time.monotonic() - self.started
        eta = elapsed / self.done * (self.total - self.done) if self.done else 0.0
        tr = self.config.pluginmanager.get_plugin("terminalreporter")
        if tr is not None:
            tr.write_line(
                f"[{self.done}/{self.total}] {report.nodeid.lstrip(':')}  elapsed {elapsed:.0f}s  "
                f"ETA {eta:.0f}s"
            )

    def pytest_unconfigure(self, config: pytest.Config) -> None:
        for lock in self.locks:  # a session that stopped before sessionfinish
            lock.release()
        self.locks.clear()

    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        s = self.settings
        failed = False
        for column in self.columns:
            if s.mode == "record":
                failed |= not self._finish_recording(column, exitstatus)
                continue
            if not column.results:
                continue
            try:
                self.written.append(write_results(s.report_dir, self._results_file(column)))
            except OSError as exc:
                self.problems.append(f"cannot write results under {s.report_dir}: {exc}")
                failed = True
        for lock in self.locks:
            lock.release()
        self.locks.clear()
        if failed and session.exitstatus == 0:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED

    def _finish_recording(self, column: Column, exitstatus: int) -> bool:
        """Replace the column with the staged recording only when the run completed and its
        baseline is unchanged (or accepted); otherwise discard it. True when all went well."""
        staging, final = column.staging, column.final_directory
        if staging is None:
            return True
        where = _shown(final)
        try:
            if exitstatus == pytest.ExitCode.INTERRUPTED or len(column.results) < column.planned:
                done = f"{len(column.results)}/{column.planned}"
                self.problems.append(
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
                shown = ", ".join(errors[:5]) + (
                    f" and {len(errors) - 5} more" if errors[5:] else ""
                )
                self.problems.append(
                    f"{column.target.column}: {len(errors)} check(s) ended in a harness error "
                    f"({shown}); a run that could not judge a check never replaces recorded "
                    f"evidence, even with --accept-baseline; refused: {where} is left as it was"
                )
                return False
            diff = baseline_diff(column.baseline, column.results)
            if diff and not self.settings.accept_baseline:
                self.problems.append(
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
                self._save_manifest(column)
                written = write_results(self.settings.report_dir, self._results_file(column))
            except OSError as exc:
                self.problems.append(
                    f"{column.target.column}: cannot write results or the staged manifest "
                    f"({exc}); {where} is left as it was"
                )
                return False
            try:
                replace_column(staging, final)
            except OSError as exc:
                self.problems.append(
                    f"{column.target.column}: cannot replace {where} with the recording ({exc}); "
                    f"{where} is left as it was"
                )
                return False
            column.staging = None
            self.written.append(written)
            if diff:
                self.problems.append(
                    f"{column.target.column}: baseline changed (accepted):\n" + "\n".join(diff)
                )
            return True
        finally:
            if column.staging is not None:
                discard_staging(column.staging, final)
                column.staging = None

    def _results_file(self, column: Column) -> ResultsFile:
        import any_agent

        t = column.target
        recorded = column.manifest.recorded_at if self.settings.mode == "replay" else None
        if self.settings.mode == "record":
            recorded = now_iso()
        run = RunInfo(
            provider=t.provider,
            column=t.column,
            configuration=column.manifest.configuration or t.profile.configuration,
            server=ServerInfo(name=column.server_name, version=column.server_version),
            model=t.model,
            mode=t.mode,
            date=now_iso(),
            suite_version=SUITE_VERSION,
            any_agent_version=getattr(any_agent, "__version__", None),
            python=platform.python_version(),
            base_url=public_url(t.base_url),
            recorded_date=recorded[:10] if recorded else None,
        )
        return ResultsFile(run=run, results=list(column.results))

    def _save_manifest(self, column: Column) -> None:
        m = column.manifest
        m.recorded_at = now_iso()
        m.suite_version = SUITE_VERSION
        m.libraries = library_versions()
        from .registry import get

        for r in column.results:
            m.expected[r.key] = r.outcome
            m.live.pop(r.key, None)
            if not get(r.check).replayable or r.key in column.unreplayable:
                entry = r.to_dict()
                entry["facts"] = column.facts.get(r.key, {})
                m.live[r.key] = entry
        m.save(column.directory, column.secrets)

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        from .results import summarize

        for column in self.columns:
            if not column.results:
                continue
            counts = summarize(column.results)
            text = ", ".join(f"{n} {k}" for k, n in counts.items() if n)
            musts = [r for r in column.results if r.level == "MUST"]
            bad = [r for r in musts if r.outcome in ("fail", "error")]
            verdict = "every MUST holds" if not bad else f"{len(bad)} MUST check(s) broken"
            terminalreporter.write_line(f"conformance {column.target.column}: {text} — {verdict}")
        for path in self.written:
            terminalreporter.write_line(f"conformance results: {path}")
        for problem in self.problems:
            terminalreporter.write_line(f"conformance: {problem}")


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
                raise UsageProblem(
                    f"another record run is recording {_shown(final)} (it holds {_shown(path)}); "
                    "wait for it to finish"
                ) from None
            with contextlib.suppress(FileNotFoundError):
                if os.stat(path).st_ino == os.fstat(fd).st_ino:
                    return ColumnLock(path, fd)
            os.close(fd)  # the holder unlinked it as we opened it: take the new one
    except OSError as exc:
        raise UsageProblem(f"cannot lock {_shown(path)} for recording: {exc}") from None
    raise UsageProblem(f"cannot lock {_shown(path)} for recording")  # pragma: no cover


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
