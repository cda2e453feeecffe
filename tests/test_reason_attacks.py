"""Attacks on the reasoning round-trip, thinking control, usage and ResultMessage fields
(issue 14 items 1, 2, 4, 7): each test is a finding, fixed at its root."""

from __future__ import annotations

from typing import Any

import pytest
from sse_server import (
    PROPS,
    SSEServer,
    chunk,
    llamacpp_props,
    opts,
    sse,
    text_stream,
    tool_call,
)

from any_agent import (
    AgentOptions,
    Client,
    ConfigurationError,
    ContextLengthExceededError,
    InvalidRequestError,
    ResultMessage,
    query,
    tool,
)

URL = "http://127.0.0.1:9/v1"  # never reached: options are checked when built


async def result_of(options: Any) -> ResultMessage:
    messages = [m async for m in query("hi", options)]
    assert isinstance(messages[-1], ResultMessage)
    return messages[-1]


async def test_model_usage_carries_the_window_from_the_option(sse_server: SSEServer) -> None:
    sse_server.script.stream(text_stream("hi", usage=(5, 1)))
    result = await result_of(opts(sse_server, context_window=8192))
    assert result.model_usage["test-model"].context_window == 8192


async def test_model_usage_carries_the_window_the_server_said(sse_server: SSEServer) -> None:
    # llama-server: the window is one slot's n_ctx in GET /props
    sse_server.script.json(llamacpp_props(16384), path=PROPS, method="GET")
    sse_server.script.stream(text_stream("hi", usage=(5, 1)))
    result = await result_of(opts(sse_server, provider="llamacpp"))
    assert result.model_usage["test-model"].context_window == 16384


@tool
def get_weather(city: str) -> str:
    """Weather for a city."""
    return f"sunny in {city}"


def thinking_then_call() -> bytes:
    """llama-server: reasoning_content deltas, then a streamed get_weather call."""
    return sse(
        chunk(delta={"role": "assistant", "content": None}),
        chunk(delta={"reasoning_content": "The user wants the weather."}),
        chunk(tool_calls=[tool_call(0, id="tDFj", type="function", name="get_weather")]),
        chunk(tool_calls=[tool_call(0, arguments='{"city": "Paris"}')]),
        chunk(finish="tool_calls"),
    )


def carried(server: SSEServer) -> list[bool]:
    return [any("reasoning_content" in m for m in r.json["messages"]) for r in server.chat_requests]


def echo(message: dict[str, Any]) -> str:
    """A pydantic ValidationError as vLLM returns it (str(e)): the offending message's
    ``input_value`` is echoed, so it names every key that message had."""
    return (
        "1 validation error for ChatCompletionRequest\nmessages.3.content\n  Input should be "
        f"a valid string [type=string_type, input_value={message!r}]"
    )


async def test_a_refusal_echoing_the_message_does_not_turn_replay_off_for_good(
    sse_server: SSEServer,
) -> None:
    script = sse_server.script
    script.stream(thinking_then_call())
    script.stream(text_stream("Sunny."))
    with_field = {"role": "assistant", "content": "", "reasoning_content": "The user wants"}
    without = {"role": "assistant", "content": ""}
    script.error(400, echo(with_field))  # names the field only because it echoes the message
    script.error(400, echo(without))  # the same refusal without it: the field was not the cause
    script.stream(text_stream("Fine."))
    async with Client(opts(sse_server, provider="llamacpp", tools=[get_weather], max_turns=3)) as c:
        await c.query("weather in Paris?")
        [m async for m in c.receive_response()]
        await c.query("and now?")
        with pytest.raises(InvalidRequestError):
            [m async for m in c.receive_response()]
        await c.query("and now?")
        [m async for m in c.receive_response()]
    # the refusal that named it was never proven to be about the field: still sent after it
    assert carried(sse_server) == [False, True, True, False, True]


async def test_a_context_length_refusal_naming_the_field_is_not_learnt(
    sse_server: SSEServer,
) -> None:
    script = sse_server.script
    script.stream(thinking_then_call())
    script.stream(text_stream("Sunny."))
    # a server that quotes the request when the prompt is too long: the field is named, but
    # the refusal is about the length (dropping the reasoning would only hide it)
    script.error(400, "the request exceeds the context size: {'reasoning_content': '...'}")
    script.stream(text_stream("Fine."))
    async with Client(opts(sse_server, provider="llamacpp", tools=[get_weather], max_turns=3)) as c:
        await c.query("weather in Paris?")
        [m async for m in c.receive_response()]
        await c.query("and now?")
        with pytest.raises(ContextLengthExceededError):
            [m async for m in c.receive_response()]
        await c.query("and now?")
        [m async for m in c.receive_response()]
    assert carried(sse_server) == [False, True, True, True]


@pytest.mark.parametrize("budget", [2**31, 2**32, 2**63, 10**30])
def test_a_budget_wider_than_a_32_bit_count_is_refused(budget: int) -> None:
    # llama-server reads reasoning_budget_tokens into a C int: 2**32 would arrive as 0
    with pytest.raises(ConfigurationError, match="budget_tokens"):
        AgentOptions(
            model="m",
            base_url=URL,
            provider="llamacpp",
            thinking={"type": "enabled", "budget_tokens": budget},
        )


def test_the_largest_32_bit_budget_is_sent() -> None:
    options = AgentOptions(
        model="m",
        base_url=URL,
        provider="vllm",
        thinking={"type": "enabled", "budget_tokens": 2**31 - 1},
    )
    assert options.thinking == {"type": "enabled", "budget_tokens": 2**31 - 1}


@pytest.mark.parametrize("kwargs", ["x", [1], 3])
def test_chat_template_kwargs_that_is_not_a_dict_cannot_drop_the_thinking_switch(
    kwargs: Any,
) -> None:
    with pytest.raises(ConfigurationError, match="chat_template_kwargs"):
        AgentOptions(
            model="m",
            base_url=URL,
            provider="llamacpp",
            thinking={"type": "disabled"},
            extra_body={"chat_template_kwargs": kwargs},
        )


async def test_a_prompt_the_guard_refuses_has_no_api_error_status(sse_server: SSEServer) -> None:
    # refused before sending: no HTTP status came back (ContextLengthExceededError.status 0)
    options = opts(sse_server, context_window=64, on_context_overflow="error")
    with pytest.raises(ContextLengthExceededError) as caught:
        await result_of_prompt(options, "x" * 2000)
    result = caught.value.result
    assert result is not None
    assert result.terminal_reason == "prompt_too_long"
    assert result.api_error_status is None
    assert sse_server.chat_requests == []


async def result_of_prompt(options: Any, prompt: str) -> list[Any]:
    return [m async for m in query(prompt, options)]
