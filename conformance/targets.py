"""What a live or record session certifies: one :class:`TargetSpec` per server entry.

Without ``--targets`` the command line is one target (``--provider``/``--base-url``/
``--model``/``--api-key-env``). ``--targets FILE`` reads a TOML file instead::

    [[target]]
    provider = "llamacpp-tools"            # a profile; default "generic"
    base_url = "http://127.0.0.1:8080/v1"  # default: the profile's URL
    models = ["qwen2.5-coder-1.5b"]        # or model = "..."; neither: the first listed
    api_key_env = "LLAMA_KEY"              # the variable's name, never the key
    configuration = "--jinja, q4_k_m"      # the label shown for the column
    all_models = true                      # every model /v1/models lists

Each model of each target is its own column (``<provider>/<model-slug>``). Everything wrong
with the file is reported at once, one line per problem, before anything is sent.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from any_agent._wire.credentials import normalize_url

from .catalogue.profiles import PROFILES, get_profile
from .harness.recording import is_loopback, public_url
from .vocabulary import model_slug

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib  # type: ignore[import-not-found, unused-ignore]

__all__ = ["MAX_TARGETS", "MAX_TARGETS_BYTES", "TargetSpec", "load_targets"]

#: A targets file is read only up to this size, and holds at most this many entries.
MAX_TARGETS_BYTES = 256 * 1024
MAX_TARGETS = 256

_KEYS = {"provider", "base_url", "model", "models", "api_key_env", "configuration", "all_models"}


class TargetsError(ValueError):
    """Every problem of a targets file, one per line (the session exits with status 2)."""


@dataclass(slots=True)
class TargetSpec:
    """One server to certify: its profile, URL, models (empty: ask the server) and key."""

    provider: str
    base_url: str
    models: list[str] = field(default_factory=list)
    api_key: str | None = field(default=None, repr=False)
    configuration: str | None = None
    all_models: bool = False
    #: How messages name it: ``targets.toml target 2`` or ``--base-url``.
    label: str = "the command line"


def _problem(lines: list[str], where: str, text: str) -> None:
    lines.append(f"{where}: {text}")


def parse_url(url: str) -> str | None:
    """``url`` normalised (no trailing slash), or None when it is not http(s) with a host."""
    try:
        url = normalize_url(url)
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a bad port
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    return url.rstrip("/")


def load_targets(path: Path, *, all_models: bool, allow_insecure: bool) -> list[TargetSpec]:
    """The targets of a TOML file; :class:`TargetsError` lists every problem found."""
    shown = str(path)
    try:
        with path.open("rb") as fh:
            raw = fh.read(MAX_TARGETS_BYTES + 1)
    except OSError as exc:
        raise TargetsError(f"{shown}: cannot read the targets file ({exc.strerror})") from None
    if len(raw) > MAX_TARGETS_BYTES:
        raise TargetsError(f"{shown}: larger than {MAX_TARGETS_BYTES} bytes (MAX_TARGETS_BYTES)")
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise TargetsError(f"{shown}: not a TOML file: {exc}") from None
    problems: list[str] = []
    unknown = sorted(set(data) - {"target"})
    if unknown:
        _problem(
            problems, shown, f"unknown top-level key(s) {', '.join(unknown)} (want [[target]])"
        )
    entries = data.get("target")
    if not isinstance(entries, list) or not entries:
        problems.append(f"{shown}: no [[target]] entry")
        raise TargetsError("\n".join(problems))
    if len(entries) > MAX_TARGETS:
        raise TargetsError(f"{shown}: {len(entries)} targets; at most {MAX_TARGETS} (MAX_TARGETS)")
    specs: list[TargetSpec] = []
    for number, entry in enumerate(entries, 1):
        where = f"{shown} target {number}"
        if not isinstance(entry, dict):
            _problem(problems, where, "must be a table")
            continue
        spec = _spec(entry, where, problems, all_models=all_models, allow_insecure=allow_insecure)
        if spec is not None:
            specs.append(spec)
    columns: dict[str, str] = {}
    for spec in specs:
        for model in spec.models:
            column = f"{spec.provider}/{model_slug(model)}"
            if column in columns:
                _problem(problems, spec.label, f"column {column} is already {columns[column]}")
            else:
                columns[column] = spec.label
    if problems:
        raise TargetsError("\n".join(problems))
    return specs


def _text(entry: dict[str, Any], key: str, where: str, problems: list[str]) -> str | None:
    value = entry.get(key)
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        _problem(problems, where, f"{key} must be a non-empty string")
        return None
    return value.strip()


def _spec(
    entry: dict[str, Any],
    where: str,
    problems: list[str],
    *,
    all_models: bool,
    allow_insecure: bool,
) -> TargetSpec | None:
    before = len(problems)
    unknown = sorted(set(entry) - _KEYS)
    if unknown:
        _problem(
            problems,
            where,
            f"unknown key(s) {', '.join(unknown)} (known: {', '.join(sorted(_KEYS))})",
        )
    provider = (_text(entry, "provider", where, problems) or "generic").lower()
    if provider not in PROFILES:
        _problem(problems, where, f"unknown provider {provider!r} (known: {', '.join(PROFILES)})")
        provider = "generic"
    url_text = _text(entry, "base_url", where, problems)
    base_url = get_profile(provider).base_url if url_text is None else parse_url(url_text)
    if base_url is None or not base_url:
        _problem(
            problems, where, f"base_url {url_text!r} is not an http:// or https:// URL with a host"
        )
    models: list[str] = []
    if "model" in entry and "models" in entry:
        _problem(problems, where, "give model or models, not both")
    single = _text(entry, "model", where, problems)
    if single:
        models = [single]
    listed = entry.get("models")
    if listed is not None:
        if not isinstance(listed, list) or not all(
            isinstance(m, str) and m.strip() for m in listed
        ):
            _problem(problems, where, "models must be a list of non-empty strings")
        else:
            models = [m.strip() for m in listed]
            if len(set(models)) != len(models):
                _problem(problems, where, "models lists a model twice")
    every = entry.get("all_models", all_models)
    if not isinstance(every, bool):
        _problem(problems, where, "all_models must be true or false")
        every = False
    if every and models:
        _problem(problems, where, "all_models and a model list exclude each other")
    configuration = _text(entry, "configuration", where, problems)
    api_key = None
    env_name = _text(entry, "api_key_env", where, problems)
    if env_name is not None:
        api_key = os.environ.get(env_name) or None
        if api_key is None:
            _problem(problems, where, f"api_key_env {env_name}: that environment variable is empty")
    elif get_profile(provider).api_key_env:
        api_key = os.environ.get(get_profile(provider).api_key_env or "") or None
    plain = bool(base_url) and urlsplit(base_url or "").scheme == "http"
    if api_key and plain and not allow_insecure and not is_loopback(base_url or ""):
        _problem(
            problems,
            where,
            f"refusing to send the API key over plain http to {public_url(base_url or '')}; "
            "use https, a loopback address, or --allow-insecure",
        )
    if len(problems) > before or base_url is None:
        return None
    return TargetSpec(
        provider=provider,
        base_url=base_url,
        models=models,
        api_key=api_key,
        configuration=configuration,
        all_models=bool(every),
        label=where,
    )
