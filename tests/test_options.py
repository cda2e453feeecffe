"""AgentOptions validates on construction and names the field at fault."""

from __future__ import annotations

from typing import Any

import pytest

from any_agent import AgentOptions, ConfigurationError, ToolDefinitionError

OK = {"model": "m", "base_url": "http://127.0.0.1:8080/v1"}


def test_seed_defaults() -> None:
    opts = AgentOptions("sys", "m", "http://localhost:1234/v1")
    assert (opts.system_prompt, opts.model, opts.base_url) == (
        "sys",
        "m",
        "http://localhost:1234/v1",
    )
    assert opts.max_turns == 1
    assert opts.max_tokens == 4096
    assert opts.temperature == 0.7
    assert opts.api_key == "not-needed"


def test_trailing_slash_is_removed() -> None:
    assert AgentOptions(model="m", base_url="http://h:1/v1/").base_url == "http://h:1/v1"


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("model", ""),
        ("model", "   "),
        ("base_url", ""),
        ("base_url", "localhost:1234/v1"),
        ("base_url", "ftp://host/v1"),
        ("base_url", "http://"),
        ("max_turns", -1),
        ("max_turns", 0),
        ("max_turns", 1.5),
        ("max_turns", True),
        ("max_tokens", 0),
        ("max_tokens", -5),
        ("max_tokens", "100"),
        ("temperature", -0.1),
        ("temperature", 2.5),
        ("temperature", "hot"),
        ("timeout", 0),
        ("timeout", -1),
        ("first_token_timeout", float("inf")),
        ("idle_timeout", "10"),
        ("max_retries", -1),
        ("system_prompt", 42),
        ("api_key", None),
        ("provider", "not-a-server"),
    ],
)
def test_invalid_values_name_the_field(field: str, value: Any) -> None:
    kwargs = {**OK, field: value}
    with pytest.raises(ConfigurationError, match=field if field != "provider" else "not-a-server"):
        AgentOptions(**kwargs)


def test_none_max_tokens_means_server_default() -> None:
    assert AgentOptions(**OK, max_tokens=None).max_tokens is None


def test_repr_never_shows_the_api_key() -> None:
    opts = AgentOptions(**OK, api_key="sk-secret-value-1234567890")
    assert "sk-secret" not in repr(opts)
    assert "sk-secret" not in str(opts)
    assert "api_key='***'" in repr(opts)


TOOL = {
    "type": "function",
    "function": {"name": "get_weather", "parameters": {"type": "object", "properties": {}}},
}


def test_tools_accept_openai_definitions() -> None:
    opts = AgentOptions(**OK, tools=[TOOL])
    assert opts.tool_names() == frozenset({"get_weather"})
    assert opts.tool_definitions()[0]["function"]["name"] == "get_weather"


@pytest.mark.parametrize(
    ("tools", "message"),
    [
        ([TOOL, TOOL], "two tools are named 'get_weather'"),
        ([{"type": "function"}], "must look like"),
        ([{"type": "function", "function": {"description": "x"}}], "without a name"),
        ([42], "got int"),
        ([{"type": "function", "function": {"name": "f", "parameters": "nope"}}], "parameters"),
    ],
)
def test_bad_tools_are_rejected(tools: list[Any], message: str) -> None:
    with pytest.raises(ToolDefinitionError, match=message):
        AgentOptions(**OK, tools=tools)


def test_tools_must_be_a_list() -> None:
    with pytest.raises(ConfigurationError, match="tools must be a list"):
        AgentOptions(**OK, tools=TOOL)  # type: ignore[arg-type]
