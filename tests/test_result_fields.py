"""What claude-agent-sdk users read on ``ResultMessage`` (issue 14 item 7): ``terminal_reason``,
``api_error_status`` and ``model_usage``. Errors stay exceptions; the failed run's
ResultMessage travels on them as ``AnyAgentError.result``."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sse_server import SSEServer, chunk, opts, sse, text_stream, tool_call

from any_agent import (
    AnyAgentError,
    Client,
    ContextLengthExceededError,
    ModelUsage,
    RateLimitError,
    ResultMessage,
    StreamTruncatedError,
    query,
    tool,
)


@tool
def get_weather(city: str) -> str:
    """Weather for a city."""
    return f"sunny in {city}"


def call_turn() -> bytes:
    return sse(
        chunk(tool_calls=[tool_call(0, id="c1", type="function", name="get_weather")]),
        chunk(tool_calls=[tool_call(0, arguments='{"city": "Paris"}')]),
        chunk(finish="tool_calls"),
    )


async def result_of(options: Any) -> ResultMessage:
    messages = [m async for m in query("hi", options)]
    assert isinstance(messages[-1], ResultMessage)
    return messages[-1]


async def test_a_finished_run_is_completed_with_usage_per_model(sse_server: SSEServer) -> None:
    # llama-server's trailer: usage with prompt_tokens_details
    trailer = {
        **chunk(),
        "choices": [],
        "usage": {
            "prompt_tokens": 54,
            "completion_tokens": 26,
            "total_tokens": 80,
            "prompt_tokens_details": {"cached_tokens": 40},
        },
    }
    sse_server.script.stream(call_turn())
    sse_server.script.stream(sse(chunk("Sunny."), chunk(finish="stop"), trailer))
    result = await result_of(opts(sse_server, tools=[get_weather], max_turns=3, max_tokens=512))
    assert (result.terminal_reason, result.api_error_status, result.is_error) == (
        "completed",
        None,
        False,
    )
    # both turns came from one model (the first sent no usage): one entry, two requests
    assert result.model_usage == {
        "test-model": ModelUsage(
            input_tokens=54,
            output_tokens=26,
            cache_read_input_tokens=40,
            max_output_tokens=512,
            requests=2,
        )
    }


async def test_max_turns_and_deferred_tools_say_why(sse_server: SSEServer) -> None:
    sse_server.script.stream(call_turn())
    result = await result_of(opts(sse_server, tools=[get_weather], max_turns=1))
    assert result.terminal_reason == "max_turns"
    sse_server.script.stream(call_turn())
    result = await result_of(
        opts(sse_server, tools=[get_weather], max_turns=3, auto_execute_tools=False)
    )
    assert result.terminal_reason == "tool_deferred"


async def test_an_interrupt_during_tools_is_aborted_tools(sse_server: SSEServer) -> None:
    started = asyncio.Event()

    @tool
    async def slow(city: str) -> str:
        """Slow."""
        started.set()
        await asyncio.sleep(60)
        return ""

    sse_server.script.stream(
        sse(
            chunk(tool_calls=[tool_call(0, id="c1", type="function", name="slow")]),
            chunk(tool_calls=[tool_call(0, arguments='{"city": "Paris"}')]),
            chunk(finish="tool_calls"),
        )
    )
    async with Client(opts(sse_server, tools=[slow], max_turns=3)) as client:
        await client.query("go")

        async def stop() -> None:
            await started.wait()
            await client.interrupt()

        task = asyncio.ensure_future(stop())
        messages = [m async for m in client.receive_response()]
        await task
    assert messages[-1].terminal_reason == "aborted_tools"


async def test_an_interrupt_during_the_stream_is_aborted_streaming(sse_server: SSEServer) -> None:
    sse_server.script.stream(sse(chunk("Hel"), done=False), end="hang")
    async with Client(opts(sse_server, include_partial_messages=True)) as client:
        await client.query("go")
        messages = []
        async for m in client.receive_response():
            messages.append(m)
            if len(messages) == 1:
                await client.interrupt()
    assert messages[-1].terminal_reason == "aborted_streaming"


@pytest.mark.parametrize(
    ("script", "error", "reason", "status"),
    [
        (lambda s: s.error(429, "slow down"), RateLimitError, "api_error", 429),
        (lambda s: s.error(503, "loading model"), AnyAgentError, "api_error", 503),
        (
            # llama-server: 400 exceed_context_size_error
            lambda s: s.error(
                400,
                "the request exceeds the available context size, try increasing it",
                type="exceed_context_size_error",
            ),
            ContextLengthExceededError,
            "prompt_too_long",
            400,
        ),
        (
            lambda s: s.stream(sse(chunk("Hel"), done=False), end="close"),
            StreamTruncatedError,
            "stream_error",
            None,
        ),
    ],
)
async def test_an_error_carries_the_failed_runs_result(
    sse_server: SSEServer, script: Any, error: type[Exception], reason: str, status: int | None
) -> None:
    sse_server.script.stream(call_turn())
    script(sse_server.script)
    with pytest.raises(error) as caught:
        [m async for m in query("hi", opts(sse_server, tools=[get_weather], max_turns=3))]
    exc = caught.value
    assert isinstance(exc, AnyAgentError)
    result = exc.result
    assert isinstance(result, ResultMessage)
    assert (result.is_error, result.stop_reason, result.subtype) == (
        True,
        "error",
        "error_during_execution",
    )
    assert (result.terminal_reason, result.api_error_status) == (reason, status)
    assert result.num_turns == 1  # the turn before the failure counted
    assert result.error == str(exc)
    assert "test-model" in result.model_usage


async def test_a_bad_option_has_no_result(sse_server: SSEServer) -> None:
    with pytest.raises(AnyAgentError) as caught:
        opts(sse_server, max_turns=0)
    assert caught.value.result is None


async def test_text_stream_usage_reaches_model_usage(sse_server: SSEServer) -> None:
    sse_server.script.stream(text_stream("ok", usage=(10, 2)))
    result = await result_of(opts(sse_server, max_tokens=None))
    assert result.model_usage == {
        "test-model": ModelUsage(input_tokens=10, output_tokens=2, requests=1)
    }
