"""Thinking control (issue 14 item 2): ``thinking`` / ``effort`` (claude-agent-sdk's names)
become each server's own request fields, read from its profile; a bad value or a control a
server has no field for is a ConfigurationError naming the option.

Field names, from the servers' sources: llama-server (tools/server/server-common.cpp)
``chat_template_kwargs.enable_thinking``, ``reasoning_effort``, ``reasoning_budget_tokens``;
vLLM ``chat_template_kwargs``, ``reasoning_effort``, ``thinking_token_budget``; Ollama /v1
``reasoning_effort`` ("none" turns thinking off)."""

from __future__ import annotations

from typing import Any

import pytest
from sse_server import SSEServer, opts, text_stream

from any_agent import ConfigurationError, query


async def sent(server: SSEServer, **kw: Any) -> dict[str, Any]:
    server.script.stream(text_stream("ok"))
    [m async for m in query("hi", opts(server, **kw))]
    body: dict[str, Any] = server.requests[-1].json
    return body


@pytest.mark.parametrize(
    ("provider", "thinking", "effort", "fields"),
    [
        (
            "llamacpp",
            {"type": "enabled", "budget_tokens": 512},
            "low",
            {
                "chat_template_kwargs": {"enable_thinking": True},
                "reasoning_budget_tokens": 512,
                "reasoning_effort": "low",
            },
        ),
        (
            "llamacpp",
            {"type": "disabled"},
            None,
            {"chat_template_kwargs": {"enable_thinking": False}},
        ),
        (
            "vllm",
            {"type": "enabled", "budget_tokens": 2048},
            "high",
            {
                "chat_template_kwargs": {"enable_thinking": True},
                "thinking_token_budget": 2048,
                "reasoning_effort": "high",
            },
        ),
        ("vllm", {"type": "disabled"}, None, {"chat_template_kwargs": {"enable_thinking": False}}),
        ("ollama", {"type": "disabled"}, None, {"reasoning_effort": "none"}),
        ("ollama", None, "medium", {"reasoning_effort": "medium"}),
        ("ollama", {"type": "enabled"}, None, {}),
        (
            "sglang",
            {"type": "disabled"},
            None,
            {"chat_template_kwargs": {"enable_thinking": False}},
        ),
        ("openai", None, "high", {"reasoning_effort": "high"}),
        (None, {"type": "disabled"}, None, {"chat_template_kwargs": {"enable_thinking": False}}),
        ("llamacpp", {"type": "adaptive"}, "medium", {"reasoning_effort": "medium"}),
        ("tgi", {"type": "adaptive"}, None, {}),
    ],
)
async def test_thinking_maps_to_the_servers_fields(
    sse_server: SSEServer,
    provider: str | None,
    thinking: dict[str, Any] | None,
    effort: str | None,
    fields: dict[str, Any],
) -> None:
    body = await sent(sse_server, provider=provider, thinking=thinking, effort=effort)
    known = (
        "chat_template_kwargs",
        "reasoning_effort",
        "reasoning_budget_tokens",
        "thinking_token_budget",
    )
    assert {k: body[k] for k in known if k in body} == fields


async def test_no_thinking_option_sends_no_thinking_field(sse_server: SSEServer) -> None:
    body = await sent(sse_server, provider="llamacpp")
    assert not {"chat_template_kwargs", "reasoning_effort", "reasoning_budget_tokens"} & set(body)


async def test_extra_body_wins_and_chat_template_kwargs_merge(sse_server: SSEServer) -> None:
    body = await sent(
        sse_server,
        provider="vllm",
        thinking={"type": "disabled"},
        extra_body={
            "chat_template_kwargs": {"enable_thinking": True, "preserve_thinking": True},
            "reasoning_effort": "low",
        },
    )
    assert body["chat_template_kwargs"] == {"enable_thinking": True, "preserve_thinking": True}
    assert body["reasoning_effort"] == "low"
    body = await sent(
        sse_server,
        provider="vllm",
        thinking={"type": "disabled"},
        extra_body={"chat_template_kwargs": {"preserve_thinking": True}},
    )
    assert body["chat_template_kwargs"] == {"enable_thinking": False, "preserve_thinking": True}


@pytest.mark.parametrize(
    ("kw", "names"),
    [
        ({"thinking": {"type": "enabled", "budget_tokens": -1}}, r"thinking\['budget_tokens'\]"),
        ({"thinking": {"type": "enabled", "budget_tokens": 0}}, r"thinking\['budget_tokens'\]"),
        ({"thinking": {"type": "enabled", "budget_tokens": True}}, r"thinking\['budget_tokens'\]"),
        ({"thinking": {"type": "on"}}, r"thinking\['type'\]"),
        ({"thinking": {}}, r"thinking\['type'\]"),
        ({"thinking": {"type": "enabled", "display": "omitted"}}, "unknown key 'display'"),
        ({"thinking": "enabled"}, "thinking must be a dict"),
        ({"thinking": {"type": "adaptive", "budget_tokens": 10}}, "needs type 'enabled'"),
        ({"effort": "max"}, "effort must be"),
        ({"effort": "low", "thinking": {"type": "disabled"}}, "effort='low' with thinking"),
    ],
)
def test_bad_thinking_values_name_the_field(
    sse_server: SSEServer, kw: dict[str, Any], names: str
) -> None:
    with pytest.raises(ConfigurationError, match=names):
        opts(sse_server, provider="llamacpp", **kw)


@pytest.mark.parametrize(
    ("provider", "kw", "names"),
    [
        ("tgi", {"effort": "low"}, "effort: provider 'tgi'"),
        ("tgi", {"thinking": {"type": "disabled"}}, "thinking: provider 'tgi'"),
        ("openai", {"thinking": {"type": "enabled"}}, "thinking: provider 'openai'"),
        (
            "ollama",
            {"thinking": {"type": "enabled", "budget_tokens": 100}},
            r"thinking\['budget_tokens'\]: provider 'ollama'",
        ),
        (
            None,
            {"thinking": {"type": "enabled", "budget_tokens": 100}},
            r"thinking\['budget_tokens'\]: provider 'generic'",
        ),
    ],
)
def test_a_control_the_server_has_no_field_for_is_refused(
    sse_server: SSEServer, provider: str | None, kw: dict[str, Any], names: str
) -> None:
    with pytest.raises(ConfigurationError, match=names):
        opts(sse_server, provider=provider, **kw)
