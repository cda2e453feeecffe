"""Attacks on the reasoning round-trip, thinking control, usage and ResultMessage fields
(issue 14 items 1, 2, 4, 7): each test is a finding, fixed at its root."""

from __future__ import annotations

from typing import Any

from sse_server import PROPS, SSEServer, llamacpp_props, opts, text_stream

from any_agent import ResultMessage, query


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
