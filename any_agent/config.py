"""Where the model name and the server URL come from.

Priority, highest first: an explicit value given to :class:`AgentOptions`; the
environment (``ANY_AGENT_MODEL``, ``ANY_AGENT_BASE_URL``); the ``fallback`` passed to the
helper; and, for the URL only, the default of the named ``provider``.
"""

from __future__ import annotations

import os
from types import MappingProxyType

from .errors import ConfigurationError

__all__ = ["ENV_BASE_URL", "ENV_MODEL", "PROVIDER_DEFAULTS", "get_base_url", "get_model"]

ENV_MODEL = "ANY_AGENT_MODEL"
ENV_BASE_URL = "ANY_AGENT_BASE_URL"

#: Default OpenAI-compatible base URL of each known local server.
PROVIDER_DEFAULTS = MappingProxyType(
    {
        "lmstudio": "http://localhost:1234/v1",
        "ollama": "http://localhost:11434/v1",
        "llamacpp": "http://localhost:8080/v1",
        "vllm": "http://localhost:8000/v1",
    }
)


def get_model(fallback: str | None = None) -> str:
    """Return ``$ANY_AGENT_MODEL`` if set, else ``fallback``.

    Raises :class:`ConfigurationError` when neither gives a model name.
    """
    _check_str("fallback", fallback)
    value = os.environ.get(ENV_MODEL, "").strip() or (fallback or "").strip()
    if not value:
        raise ConfigurationError(
            f"no model configured: set {ENV_MODEL} or pass a fallback, e.g. get_model('qwen2.5-7b')"
        )
    return value


def get_base_url(fallback: str | None = None, provider: str | None = None) -> str:
    """Return ``$ANY_AGENT_BASE_URL`` if set, else ``fallback``, else the provider's default.

    ``provider`` is one of ``lmstudio``, ``ollama``, ``llamacpp``, ``vllm``; an unknown name
    raises :class:`ConfigurationError` listing the known ones, even when the environment
    would have supplied the URL (a typo should never pass silently).
    """
    _check_str("fallback", fallback)
    _check_str("provider", provider)
    default = None
    if provider is not None:
        key = provider.strip().lower()
        if key not in PROVIDER_DEFAULTS:
            known = ", ".join(sorted(PROVIDER_DEFAULTS))
            raise ConfigurationError(f"unknown provider {provider!r}; known providers: {known}")
        default = PROVIDER_DEFAULTS[key]
    value = os.environ.get(ENV_BASE_URL, "").strip() or (fallback or "").strip() or default
    if not value:
        known = ", ".join(sorted(PROVIDER_DEFAULTS))
        raise ConfigurationError(
            f"no base URL configured: set {ENV_BASE_URL}, pass a fallback, or name a provider "
            f"({known})"
        )
    return value


def _check_str(name: str, value: object) -> None:
    if value is not None and not isinstance(value, str):
        raise ConfigurationError(f"{name} must be a string or None, got {value!r}")
