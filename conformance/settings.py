"""What a conformance session was asked to do: ``Settings.from_config`` parses and validates
every plugin option; :class:`UsageError` is the one exception for a usage problem (bad option,
unreachable server, unusable recording), which the plugin turns into exit status 2.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from any_agent._wire.credentials import normalize_url

from .catalogue.checks import Check, select
from .catalogue.profiles import PROFILES, get_profile
from .harness.http import DEFAULT_MAX_RESPONSE_BYTES
from .harness.recording import is_loopback, public_url
from .harness.share import DEFAULT_SHARE_MAX_MB
from .results import Layer, Mode
from .targets import TargetsError, TargetSpec, load_targets, parse_url

__all__ = ["Settings", "UsageError"]


class UsageError(Exception):
    """A usage problem: the message says what to change; the session exits with status 2."""


#: Bound on ``--flaky-tries``: a failing judgement is never tried more often than this.
MAX_FLAKY_TRIES = 10
#: Tries of a failing judgement by default: one retry tells chance from a steady failure at
#: the cost of one more request; a third try mostly doubled the time spent on real failures.
DEFAULT_FLAKY_TRIES = 2
#: Bound on ``--share-max-mb``.
MAX_SHARE_MB = 1024
#: Bound on ``--concurrency`` (and on the slots a server may claim).
MAX_CONCURRENCY = 16
#: ``--run-order`` values: shared prompt prefixes together (the default), or catalogue order.
RUN_ORDERS = ("prefix", "catalogue")


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
    #: Live mode: tries of a failing judgement in all (1 = no repeat); see ``flaky``.
    flaky_tries: int = DEFAULT_FLAKY_TRIES
    #: Live and record modes: the servers to certify (``--targets FILE`` or the command line).
    targets: list[TargetSpec] = field(default_factory=list)
    #: Live mode: checks that send the same request judge one response (harness/share.py).
    share_requests: bool = True
    #: Live mode: the bound, in MB, on one column's shared responses.
    share_max_mb: int = DEFAULT_SHARE_MAX_MB
    #: Live mode: checks of one column run at once, at most this many (None: as many as the
    #: server has slots, 1 where it does not say); 1 in record and replay modes.
    concurrency: int | None = None
    #: Live and record modes: ``prefix`` sends checks that share a long prompt prefix one
    #: after another (``plan.RUN_GROUPS``); ``catalogue`` sends them in catalogue order.
    run_order: str = "prefix"

    #: Bytes of one response body read before the check fails (``--max-response-bytes``).
    max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES

    def concurrency_for(self, total_slots: int | None) -> int:
        """How many of a column's checks run at once against a server with these slots."""
        if self.mode != "live":
            return 1
        if self.concurrency is not None:
            return self.concurrency
        return min(total_slots or 1, MAX_CONCURRENCY)

    @property
    def share_max_bytes(self) -> int:
        """What a live column may keep for sharing; 0 (every request sent) otherwise."""
        if self.mode != "live" or not self.share_requests:
            return 0
        return self.share_max_mb * 1024 * 1024

    @classmethod
    def from_config(cls, config: pytest.Config) -> Settings:
        opt = config.getoption
        provider = opt("provider")
        base_url = opt("base_url")
        targets_file = opt("targets")
        all_models = bool(opt("all_models"))
        live = provider or base_url or targets_file or all_models
        mode = opt("conformance_mode") or ("live" if live else "replay")
        if targets_file is not None:
            named = {"--provider": provider, "--base-url": base_url, "--model": opt("model")}
            named["--api-key-env"] = opt("api_key_env")
            given = [flag for flag, value in named.items() if value]
            if given:
                raise UsageError(
                    f"--targets {targets_file} names the servers; drop {', '.join(given)}"
                )
            if mode == "replay":
                raise UsageError("--targets certifies live servers (live or record mode)")
        if all_models and opt("model"):
            raise UsageError("--all-models certifies every listed model; drop --model")
        if all_models and mode == "replay":
            raise UsageError("--all-models asks a live server; replay reads recordings")
        if provider is not None and provider.strip().lower() not in PROFILES:
            raise UsageError(
                f"unknown provider {provider!r} (known: {', '.join(PROFILES)}); for another "
                "server use --base-url URL --model ID"
            )
        if mode in ("live", "record") and not (provider or base_url or targets_file):
            raise UsageError(f"{mode} mode needs --provider NAME, --base-url URL or --targets FILE")
        if base_url is not None:
            checked = parse_url(base_url)  # one spelling: HTTP:// is http://
            if checked is None:
                raise UsageError(
                    f"--base-url {base_url!r} is not an http:// or https:// URL with a host"
                )
            base_url = checked
        for name in ("request_timeout", "connect_timeout", "first_token_timeout", "idle_timeout"):
            value = opt(name)
            if value is not None and not value > 0:
                flag = "--" + name.replace("_", "-")
                raise UsageError(f"{flag} must be a positive number of seconds, got {value:g}")
        max_bytes = opt("max_response_bytes")
        if max_bytes is not None and max_bytes < 1:
            raise UsageError(f"--max-response-bytes must be a positive number, got {max_bytes}")
        flaky_tries = opt("flaky_tries")
        if flaky_tries is not None and not 1 <= flaky_tries <= MAX_FLAKY_TRIES:
            raise UsageError(f"--flaky-tries takes 1 to {MAX_FLAKY_TRIES}, got {flaky_tries}")
        share_max_mb = opt("share_max_mb")
        if share_max_mb is not None and not 1 <= share_max_mb <= MAX_SHARE_MB:
            raise UsageError(f"--share-max-mb takes 1 to {MAX_SHARE_MB}, got {share_max_mb}")
        concurrency = opt("concurrency")
        if concurrency is not None and not 1 <= concurrency <= MAX_CONCURRENCY:
            raise UsageError(f"--concurrency takes 1 to {MAX_CONCURRENCY}, got {concurrency}")
        if concurrency is not None and concurrency > 1 and mode != "live":
            raise UsageError(
                f"--concurrency {concurrency}: {mode} mode runs one check at a time (vcrpy "
                "records and replays process-wide, so concurrent checks would share cassettes); "
                "use it in live mode, or pytest -n to replay faster"
            )
        run_order = opt("run_order") or "prefix"
        if run_order not in RUN_ORDERS:
            raise UsageError(f"--run-order takes {' or '.join(RUN_ORDERS)}, got {run_order!r}")
        checks = select(opt("checks"))
        if not checks:
            raise UsageError(f"no check matches --checks {','.join(opt('checks'))}")
        layers_opt = opt("layers") or "wire,sdk"
        layers = tuple(x.strip() for x in layers_opt.split(",") if x.strip())
        if not layers or any(x not in ("wire", "sdk") for x in layers):
            raise UsageError(f"--layers takes wire and/or sdk, got {layers_opt!r}")
        api_key = None
        env_name = opt("api_key_env")
        if env_name:
            api_key = os.environ.get(env_name)
            if not api_key:
                raise UsageError(f"--api-key-env {env_name}: that environment variable is empty")
        elif provider:
            default_env = get_profile(provider).api_key_env
            if default_env:
                api_key = os.environ.get(default_env) or None
        allow_insecure = bool(opt("allow_insecure"))
        if mode != "replay" and api_key:
            url = base_url or get_profile(provider or "generic").base_url
            plain = urlsplit(normalize_url(url)).scheme == "http"
            if plain and not is_loopback(url) and not allow_insecure:
                raise UsageError(
                    f"refusing to send the API key over plain http to {public_url(url)}; use "
                    "https, a loopback address, or --allow-insecure"
                )
        root = Path(str(config.invocation_params.dir))
        targets: list[TargetSpec] = []
        if targets_file is not None and mode != "replay":
            try:
                targets = load_targets(
                    root / targets_file, all_models=all_models, allow_insecure=allow_insecure
                )
            except TargetsError as exc:
                raise UsageError(str(exc)) from None
            servers = {t.base_url for t in targets}
            if opt("server_facts") is not None and len(servers) > 1:
                # they would label every column whose server names no version, and be
                # recorded into every manifest
                raise UsageError(
                    f"--server-facts describes one server; {targets_file} names "
                    f"{len(servers)}: certify each with its own facts"
                )
        elif mode != "replay":
            name = provider.strip().lower() if provider else "generic"
            targets = [
                TargetSpec(
                    provider=name,
                    base_url=(base_url or get_profile(name).base_url).rstrip("/"),
                    models=list(opt("model") or []),
                    api_key=api_key,
                    all_models=all_models,
                    label="--base-url" if base_url else f"--provider {name}",
                )
            ]
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
            flaky_tries=DEFAULT_FLAKY_TRIES if flaky_tries is None else flaky_tries,
            targets=targets,
            share_requests=opt("share_requests") is not False,
            share_max_mb=DEFAULT_SHARE_MAX_MB if share_max_mb is None else share_max_mb,
            concurrency=concurrency,
            run_order=run_order,
            max_response_bytes=DEFAULT_MAX_RESPONSE_BYTES if max_bytes is None else max_bytes,
        )


def _server_facts(path: str | None) -> dict[str, Any] | None:
    if path is None:
        return None
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise UsageError(f"--server-facts {path}: cannot read a JSON object ({exc})") from None
    if not isinstance(data, dict):
        raise UsageError(f"--server-facts {path}: expected a JSON object")
    return data
