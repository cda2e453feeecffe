"""Where the model name and the server URL come from.

Priority, highest first: an explicit value given to :class:`AgentOptions`; the
environment (``ANY_AGENT_MODEL``, ``ANY_AGENT_BASE_URL``); the ``fallback`` passed to the
helper; and, for the URL only, the default of the named ``provider``.
"""

from __future__ import annotations

import os
from types import MappingProxyType

from ._wire.servers import SERVERS, server
from .errors import ConfigurationError

__all__ = ["ENV_BASE_URL", "ENV_MODEL", "PROVIDER_DEFAULTS", "get_base_url", "get_model"]

ENV_MODEL = "ANY_AGENT_MODEL"
ENV_BASE_URL = "ANY_AGENT_BASE_URL"

#: Default OpenAI-compatible base URL of each known server (from the one server table,
#: ``any_agent._wire.servers``; ``AgentOptions(provider=...)`` takes the same names).
PROVIDER_DEFAULTS = MappingProxyType(
    {name: s.base_url for name, s in SERVERS.items() if s.base_url is not None}
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

    ``provider`` is a server name (``lmstudio``, ``ollama``, ``llamacpp``, ``vllm``, ...: the
    names ``AgentOptions(provider=...)`` takes); an unknown name raises
    :class:`ConfigurationError` listing the known ones, even when the environment would
    have supplied the URL (a typo should never pass silently).
    """
    _check_str("fallback", fallback)
    _check_str("provider", provider)
    default = None if provider is None else server(provider).base_url
    value = os.environ.get(ENV_BASE_URL, "").strip() or (fallback or "").strip() or default
    if not value:
        if provider is not None:
            raise ConfigurationError(
                f"no base URL configured: provider {provider!r} has no default address; "
                f"set {ENV_BASE_URL} or pass a fallback"
            )
        known = ", ".join(sorted(PROVIDER_DEFAULTS))
        raise ConfigurationError(
            f"no base URL configured: set {ENV_BASE_URL}, pass a fallback, or name a provider "
            f"({known})"
        )
    return value


def _check_str(name: str, value: object) -> None:
    if value is not None and not isinstance(value, str):
        raise ConfigurationError(f"{name} must be a string or None, got {value!r}")
