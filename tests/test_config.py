"""Config priority, exactly as the seed states: explicit > env > fallback > provider default."""

from __future__ import annotations

import pytest

from any_agent import AgentOptions, ConfigurationError
from any_agent._wire.servers import SERVERS, server
from any_agent.config import PROVIDER_DEFAULTS, get_base_url, get_model


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ANY_AGENT_MODEL", raising=False)
    monkeypatch.delenv("ANY_AGENT_BASE_URL", raising=False)


def test_provider_defaults_match_the_seed() -> None:
    assert {k: PROVIDER_DEFAULTS[k] for k in ("lmstudio", "ollama", "llamacpp", "vllm")} == {
        "lmstudio": "http://localhost:1234/v1",
        "ollama": "http://localhost:11434/v1",
        "llamacpp": "http://localhost:8080/v1",
        "vllm": "http://localhost:8000/v1",
    }


@pytest.mark.parametrize("provider", sorted(PROVIDER_DEFAULTS))
def test_provider_shortcut(provider: str) -> None:
    assert get_base_url(provider=provider) == PROVIDER_DEFAULTS[provider]


def test_provider_name_is_case_insensitive() -> None:
    assert get_base_url(provider="Ollama") == "http://localhost:11434/v1"


def test_env_beats_fallback_and_provider(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANY_AGENT_BASE_URL", "http://env:1/v1")
    monkeypatch.setenv("ANY_AGENT_MODEL", "env-model")
    assert get_base_url("http://fallback:2/v1", provider="ollama") == "http://env:1/v1"
    assert get_model("fallback-model") == "env-model"


def test_fallback_beats_provider_default() -> None:
    assert get_base_url("http://fallback:2/v1", provider="ollama") == "http://fallback:2/v1"
    assert get_model("fallback-model") == "fallback-model"


def test_blank_env_is_ignored(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANY_AGENT_MODEL", "   ")
    assert get_model("fb") == "fb"


def test_explicit_option_beats_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANY_AGENT_BASE_URL", "http://env:1/v1")
    opts = AgentOptions(model="explicit", base_url="http://explicit:3/v1")
    assert opts.base_url == "http://explicit:3/v1"
    assert opts.model == "explicit"


def test_unknown_provider_lists_known_ones(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANY_AGENT_BASE_URL", "http://env:1/v1")  # a typo must still fail
    with pytest.raises(ConfigurationError, match="olama") as info:
        get_base_url(provider="olama")
    for name in PROVIDER_DEFAULTS:
        assert name in str(info.value)


def test_nothing_configured_names_the_variable() -> None:
    with pytest.raises(ConfigurationError, match="ANY_AGENT_MODEL"):
        get_model()
    with pytest.raises(ConfigurationError, match="ANY_AGENT_BASE_URL"):
        get_base_url()


def test_configuration_error_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="ANY_AGENT_MODEL"):
        get_model()


def test_get_base_url_takes_every_name_agent_options_takes() -> None:
    """One server table: a name ``AgentOptions(provider=...)`` accepts is never an unknown
    provider to ``get_base_url`` (``litellm`` was)."""
    for name in SERVERS:
        AgentOptions(model="m", base_url="http://h:1/v1", provider=name)
        if SERVERS[name].base_url is None:
            with pytest.raises(ConfigurationError, match="no default address"):
                get_base_url(provider=name)
        else:
            assert get_base_url(provider=name) == SERVERS[name].base_url
    assert get_base_url(provider="litellm") == "http://127.0.0.1:4000/v1"


def test_one_lookup_error_for_both_helpers() -> None:
    with pytest.raises(ConfigurationError, match="unknown provider 'nope'") as a:
        get_base_url(provider="nope")
    with pytest.raises(ConfigurationError, match="unknown provider 'nope'") as b:
        AgentOptions(model="m", base_url="http://h:1/v1", provider="nope")
    assert str(a.value) == str(b.value)


def test_server_table_hosts_are_one_of_two_spellings() -> None:
    for s in SERVERS.values():
        host = (s.base_url or "http://127.0.0.1/").split("/")[2].split(":")[0]
        assert host in ("127.0.0.1", "localhost", "api.openai.com"), s.name
    assert server("llamacpp-tools").family == "llamacpp"
    assert server(None) is SERVERS["generic"]
