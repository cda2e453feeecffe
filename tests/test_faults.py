"""Fault suite: one test per fault against the scripted loopback server.

Every test asserts four things: the typed :class:`AnyAgentError` subclass (or a bounded
retry that succeeds), a generous time bound (a correctness bound — the SDK gives up instead
of hanging — not a performance figure), the history afterwards, and that the SAME client
then answers the next query with every earlier turn still in ``client.history``. Where a
tool is involved, it runs exactly once however the turn after it fails and is retried.

Error-body shapes are those the servers send (``_wire/error_body.py`` lists them, and the
conformance check ``errors.*`` judges them); the interrupt-on-new-request behaviour is
llama-cpp-python's ``interrupt_requests`` setting (see docs/provider-compatibility.md).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import email.utils
import itertools
import json
import socket
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sse_server import (
    MODELS,
    Reply,
    Scenario,
    SSEServer,
    chunk,
    completion,
    error_body,
    events,
    sse,
    text_stream,
    tool_call,
)

from any_agent import (
    AgentOptions,
    AnyAgentError,
    AssistantMessage,
    Client,
    ConfigurationError,
    ConnectionFailedError,
    FirstTokenTimeoutError,
    HTTPStatusError,
    IdleTimeoutError,
    Message,
    ModelNotFoundError,
    OverallTimeoutError,
    RateLimitError,
    ResultMessage,
    ServerError,
    StreamError,
    StreamEvent,
    StreamTruncatedError,
    TextBlock,
    ToolUseBlock,
)
from any_agent.tools import tool

BOUND = 5.0  # seconds: generous; the limits under test are all sub-second


def opts(server: SSEServer | str, **kw: Any) -> AgentOptions:
    base: dict[str, Any] = {
        "model": "test-model",
        "base_url": server if isinstance(server, str) else server.url,
        "max_retries": 0,
        "first_token_timeout": 10,
        "idle_timeout": 10,
        "timeout": 30,
    }
    return AgentOptions(**(base | kw))


async def ask(client: Client, prompt: str | None) -> list[Message]:
    await client.query(prompt)
    return [m async for m in client.receive_response()]


async def warm(client: Client, server: SSEServer) -> list[dict[str, Any]]:
    """One good turn before the fault, so 'every earlier turn' is not vacuous."""
    server.script.stream(text_stream("first"))
    messages = await ask(client, "one")
    assert messages[-1].result == "first"  # type: ignore[union-attr]
    return client.history


async def fails(
    client: Client, prompt: str, error: type[AnyAgentError]
) -> tuple[AnyAgentError, float]:
    """Run ``prompt``, expect ``error`` within the bound; return it and the elapsed time."""
    started = time.monotonic()
    with pytest.raises(error) as info:
        await ask(client, prompt)
    elapsed = time.monotonic() - started
    assert elapsed < BOUND, f"{error.__name__} took {elapsed:.2f}s"
    return info.value, elapsed


async def recovers(client: Client, server: SSEServer, before: list[dict[str, Any]]) -> None:
    """The same client answers the next query; every earlier turn is still there and sent."""
    server.script.stream(text_stream("recovered"))
    messages = await ask(client, "next")
    result = messages[-1]
    assert isinstance(result, ResultMessage)
    assert (result.result, result.stop_reason) == ("recovered", "stop")
    assert server.requests[-1].json["messages"] == [*before, {"role": "user", "content": "next"}]
    assert client.history == [
        *before,
        {"role": "user", "content": "next"},
        {"role": "assistant", "content": "recovered"},
    ]


def after_fault(before: list[dict[str, Any]], prompt: str) -> list[dict[str, Any]]:
    """History after a failed turn: the prompt stays, the failed turn's output does not."""
    return [*before, {"role": "user", "content": prompt}]


async def eventually(predicate: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + BOUND
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.01)


def serve_on(port: int) -> SSEServer:
    """An SSEServer on a chosen port (the fixture picks a free one)."""
    server = SSEServer()
    server._thread.start()
    server._server = server._call(asyncio.start_server(server._accept, "127.0.0.1", port))
    server.port = port
    return server


# -- cannot connect -----------------------------------------------------------------------------


async def test_connection_refused_then_the_server_comes_back() -> None:
    first = serve_on(0)
    port = first._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    first.port = port
    async with Client(opts(first.url)) as client:
        before = await warm(client, first)
        first.stop()  # the server goes away: the pooled connection dies, new ones are refused
        error, _ = await fails(client, "two", ConnectionFailedError)
        assert f"could not reach the server at http://127.0.0.1:{port}/v1" in str(error)
        assert error.url == first.url  # type: ignore[attr-defined]
        assert client.history == after_fault(before, "two")
        second = serve_on(port)
        try:
            await recovers(client, second, after_fault(before, "two"))
        finally:
            second.stop()


@pytest.fixture
def fake_dns(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """``table[host] = ip`` makes ``host`` resolve; other ``.invalid`` names fail for real."""
    real = socket.getaddrinfo
    table: dict[str, str] = {}

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        name = host.decode() if isinstance(host, bytes) else host
        return real(table.get(name, name), *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return table


async def test_dns_failure_then_the_name_resolves_again(
    sse_server: SSEServer, fake_dns: dict[str, str]
) -> None:
    host = "any-agent-test.invalid"  # RFC 6761: never resolves
    url = f"http://{host}:{sse_server.port}/v1"
    async with Client(opts(url)) as client:
        fake_dns[host] = "127.0.0.1"
        sse_server.script.stream(text_stream("first"), headers={"Connection": "close"})
        assert (await ask(client, "one"))[-1].result == "first"  # type: ignore[union-attr]
        before = client.history
        del fake_dns[host]  # the name stops resolving
        error, _ = await fails(client, "two", ConnectionFailedError)
        assert host in str(error)
        assert client.history == after_fault(before, "two")
        assert len(sse_server.requests) == 1  # nothing reached the server
        fake_dns[host] = "127.0.0.1"
        await recovers(client, sse_server, after_fault(before, "two"))


# -- too slow -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "silence",
    [
        pytest.param(lambda s: s.script.drop(stall=30, end="hang"), id="no-status-line"),
        pytest.param(lambda s: s.script.stream(30.0, end="hang"), id="headers-then-nothing"),
    ],
)
async def test_stall_before_the_first_event_is_a_first_token_timeout(
    sse_server: SSEServer, silence: Callable[[SSEServer], Any]
) -> None:
    async with Client(opts(sse_server, first_token_timeout=0.3)) as client:
        before = await warm(client, sse_server)
        silence(sse_server)
        error, elapsed = await fails(client, "two", FirstTokenTimeoutError)
        assert error.limit == 0.3  # type: ignore[attr-defined]
        assert elapsed >= 0.25
        assert "first_token_timeout=0.3" in str(error)
        await eventually(lambda: sse_server.requests[-1].client_left, "the server to see it")
        assert client.history == after_fault(before, "two")
        await recovers(client, sse_server, after_fault(before, "two"))


async def test_stall_between_events_is_an_idle_timeout(sse_server: SSEServer) -> None:
    async with Client(opts(sse_server, idle_timeout=0.3)) as client:
        before = await warm(client, sse_server)
        sse_server.script.stream(
            *events(chunk(role="assistant", content=""), chunk("par"), done=False), end="hang"
        )
        error, elapsed = await fails(client, "two", IdleTimeoutError)
        assert error.limit == 0.3  # type: ignore[attr-defined]
        assert elapsed >= 0.25
        await eventually(lambda: sse_server.requests[-1].client_left, "the server to see it")
        assert client.history == after_fault(before, "two")  # "par" is not kept
        await recovers(client, sse_server, after_fault(before, "two"))


async def test_endless_trickle_of_pings_is_an_overall_timeout(sse_server: SSEServer) -> None:
    """Pings reset the idle timer (a live server), so only the overall bound can stop this."""
    async with Client(opts(sse_server, timeout=0.6, idle_timeout=0.3)) as client:
        before = await warm(client, sse_server)
        sse_server.script.stream(
            *events(chunk("a"), done=False), end="trickle", trickle=b": ping\n\n", every=0.05
        )
        error, elapsed = await fails(client, "two", OverallTimeoutError)
        assert error.limit == 0.6  # type: ignore[attr-defined]
        assert elapsed >= 0.5
        await eventually(lambda: sse_server.requests[-1].client_left, "the server to see it")
        assert client.history == after_fault(before, "two")
        await recovers(client, sse_server, after_fault(before, "two"))


def _script_slow_drip(server: SSEServer, kind: str) -> None:
    """Bytes every 50 ms for ever, never an answer: every read is answered at once."""
    json_type = {"content-type": "application/json"}
    if kind == "tokens":  # a token each time: partial text that must not reach history
        head = events(chunk(role="assistant", content=""), done=False)
        server.script.stream(*head, end="trickle", trickle=sse(chunk("a"), done=False))
    elif kind == "json-body":  # a non-streamed answer whose JSON never closes
        server.script.stream(b'{"choices": [', headers=json_type, end="trickle", trickle=b" ")
    elif kind == "error-body":  # an error whose body never ends (the SDK reads 8 KiB of it)
        opening = b'{"error": {"message": "'
        server.script.stream(opening, status=500, headers=json_type, end="trickle", trickle=b"x")
    else:  # 503 at once, again and again: the SDK's own retries and their back-off
        server.script.error(503, "loading", retry_after=0.2, times=50)


@pytest.mark.parametrize("kind", ["tokens", "json-body", "error-body", "retries"])
async def test_a_slow_drip_ends_at_the_overall_timeout_with_history_kept(
    sse_server: SSEServer, kind: str
) -> None:
    """Only ``timeout`` can stop these (idle and first-token timers see a live server): it
    bounds the whole request, the SDK's own retries (max_retries) and back-off included."""
    async with Client(opts(sse_server, timeout=0.6, idle_timeout=5, max_retries=5)) as client:
        before = await warm(client, sse_server)
        sent = len(sse_server.chat_requests)
        _script_slow_drip(sse_server, kind)
        error, elapsed = await fails(client, "two", OverallTimeoutError)
        if kind == "retries":  # retried, and the retries stopped at the deadline
            assert 2 <= len(sse_server.chat_requests) - sent < 1 + 5
        assert error.limit == 0.6  # type: ignore[attr-defined]
        assert "timeout=0.6s" in str(error)
        assert elapsed >= 0.5
        if kind != "retries":
            await eventually(lambda: sse_server.requests[-1].client_left, "the server to see it")
        assert client.history == after_fault(before, "two")  # no partial "aaa"
        if kind == "retries":
            sse_server.script = Scenario()  # the 503s left over
        await recovers(client, sse_server, after_fault(before, "two"))


# -- the stream breaks --------------------------------------------------------------------------


@pytest.mark.parametrize("end", ["close", "reset"])
async def test_disconnect_mid_stream_before_the_finish(sse_server: SSEServer, end: str) -> None:
    async with Client(opts(sse_server)) as client:
        before = await warm(client, sse_server)
        sse_server.script.stream(
            *events(chunk(role="assistant", content=""), chunk("half an ans"), done=False),
            end=end,
        )
        error, _ = await fails(client, "two", StreamTruncatedError)
        assert "incomplete" in str(error)
        assert client.history == after_fault(before, "two")
        await recovers(client, sse_server, after_fault(before, "two"))


def counted_tool() -> tuple[Any, list[dict[str, Any]]]:
    calls: list[dict[str, Any]] = []

    @tool
    def get_weather(city: str) -> dict[str, Any]:
        """Current weather for a city."""
        calls.append({"city": city})
        return {"city": city, "temp_c": 21}

    return get_weather, calls


async def test_disconnect_during_a_tool_calls_arguments(sse_server: SSEServer) -> None:
    get_weather, ran = counted_tool()
    async with Client(opts(sse_server, tools=[get_weather], max_turns=3)) as client:
        before = await warm(client, sse_server)
        head = tool_call(0, id="c1", type="function", name="get_weather", arguments='{"ci')
        sse_server.script.stream(
            *events(chunk(role="assistant", content=None), chunk(tool_calls=[head]), done=False),
            end="close",
        )
        await fails(client, "two", StreamTruncatedError)
        assert ran == []  # half a call is never run
        assert client.history == after_fault(before, "two")
        await recovers(client, sse_server, after_fault(before, "two"))
        assert ran == []


# -- the server says no -------------------------------------------------------------------------

WORDS = "the backend crashed while loading the model"
ERROR_BODIES: dict[str, tuple[Any, str, str | None, str | None]] = {
    # name: (body, content type, expected error_type, expected code)
    "openai-string-code": (
        {"error": {"message": WORDS, "type": "server_error", "param": None, "code": "boom"}},
        "application/json",
        "server_error",
        "boom",
    ),
    "llamacpp-int-code": (
        {"error": {"code": 500, "message": WORDS, "type": "server_error"}},
        "application/json",
        "server_error",
        "500",
    ),
    "sglang-vllm-flat": (
        {"object": "error", "message": WORDS, "type": "InternalServerError", "code": 500},
        "application/json",
        "InternalServerError",
        "500",
    ),
    "lmstudio-string": ({"error": WORDS}, "application/json", None, None),
    "tgi-error-type": (
        {"error": WORDS, "error_type": "generation"},
        "application/json",
        "generation",
        None,
    ),
    "fastapi-detail": (
        {"detail": [{"loc": ["body", "messages"], "msg": WORDS, "type": "value_error"}]},
        "application/json",
        None,
        None,
    ),
    "litellm-stringified": (
        {
            "error": {
                "message": f"500: {{'error': '{WORDS}'}}",
                "type": "None",
                "param": "None",
                "code": "500",
            }
        },
        "application/json",
        None,
        "500",
    ),
    "text-plain": (WORDS, "text/plain; charset=utf-8", None, None),
}


@pytest.mark.parametrize("status", [500, 502, 503])
@pytest.mark.parametrize("shape", list(ERROR_BODIES))
async def test_server_error_in_every_body_shape(
    sse_server: SSEServer, status: int, shape: str
) -> None:
    body, content_type, error_type, code = ERROR_BODIES[shape]
    async with Client(opts(sse_server)) as client:
        before = await warm(client, sse_server)
        sse_server.script.add(Reply(status, {"Content-Type": content_type}, body))
        error, _ = await fails(client, "two", ServerError)
        assert isinstance(error, ServerError)
        assert error.status == status
        assert WORDS in error.message  # the server's own words, whatever the shape
        assert not error.message.lstrip().startswith(("{", "[")), error.message  # not raw JSON
        assert error.error_type == error_type
        assert error.code == code
        assert str(error) == f"HTTP {status}: {error.message}"
        assert client.history == after_fault(before, "two")
        await recovers(client, sse_server, after_fault(before, "two"))


async def test_rate_limit_is_retried_after_the_servers_delay(sse_server: SSEServer) -> None:
    async with Client(opts(sse_server, max_retries=1)) as client:
        before = await warm(client, sse_server)
        sse_server.script.error(429, "slow down", retry_after=1, type="rate_limit_error")
        sse_server.script.stream(text_stream("after the wait"))
        started = time.monotonic()
        result = (await ask(client, "two"))[-1]
        elapsed = time.monotonic() - started
        assert isinstance(result, ResultMessage)
        assert result.result == "after the wait"
        assert 0.9 <= elapsed < BOUND  # Retry-After: 1 was honoured, and no more
        first, second = sse_server.requests[-2:]
        assert first.json == second.json  # the same request, sent again once
        assert client.history == [
            *after_fault(before, "two"),
            {"role": "assistant", "content": "after the wait"},
        ]


async def test_rate_limit_retries_are_bounded(sse_server: SSEServer) -> None:
    async with Client(opts(sse_server, max_retries=1)) as client:
        before = await warm(client, sse_server)
        sse_server.script.error(429, "slow down", retry_after=1, times=2)
        error, elapsed = await fails(client, "two", RateLimitError)
        assert isinstance(error, RateLimitError)
        assert error.retry_after == 1.0
        assert error.message == "slow down"
        assert elapsed >= 0.9
        assert len(sse_server.requests) == 1 + 2  # warm-up, then the request and one retry
        assert client.history == after_fault(before, "two")
        await recovers(client, sse_server, after_fault(before, "two"))


async def test_unknown_model_lists_what_the_server_serves(sse_server: SSEServer) -> None:
    served = [{"id": "llama-3.2-3b", "object": "model"}, {"id": "qwen2.5-7b", "object": "model"}]
    sse_server.script.json({"object": "list", "data": served}, path=MODELS, method="GET")
    async with Client(opts(sse_server, model="qwen2.5-7B")) as client:
        before = await warm(client, sse_server)
        sse_server.script.json(
            {"error": {"message": "model 'qwen2.5-7B' not found", "type": "not_found_error"}},
            status=404,
        )
        error, _ = await fails(client, "two", ModelNotFoundError)
        assert isinstance(error, ModelNotFoundError)
        assert error.model == "qwen2.5-7B"
        assert error.available == ["llama-3.2-3b", "qwen2.5-7b"]
        assert "llama-3.2-3b" in str(error)
        assert "qwen2.5-7b" in str(error)
        assert client.history == after_fault(before, "two")
        await recovers(client, sse_server, after_fault(before, "two"))


# -- the stream says something wrong ------------------------------------------------------------


async def test_malformed_json_line(sse_server: SSEServer) -> None:
    async with Client(opts(sse_server)) as client:
        before = await warm(client, sse_server)
        sse_server.script.stream(
            sse(chunk("ok "), b'data: {"choices": [{"delta": {"content": "x"}\n\n', chunk("more"))
        )
        error, _ = await fails(client, "two", StreamError)
        assert not isinstance(error, StreamTruncatedError)
        assert "malformed JSON" in str(error)
        assert client.history == after_fault(before, "two")
        await recovers(client, sse_server, after_fault(before, "two"))


@pytest.mark.parametrize(
    "error_event",
    [
        pytest.param(
            b'data: {"error":{"message":"CUDA error: out of memory","type":"server_error",'
            b'"code":500}}\n\n',
            id="openai-error-object",
        ),
        pytest.param(
            b'error: {"code":500,"message":"CUDA error: out of memory","type":"server_error"}\n\n',
            id="llamacpp-legacy-error-line",
        ),
    ],
)
async def test_error_event_mid_stream(sse_server: SSEServer, error_event: bytes) -> None:
    async with Client(opts(sse_server)) as client:
        before = await warm(client, sse_server)
        sse_server.script.stream(
            *events(chunk(role="assistant", content=""), chunk("parti"), error_event, done=False)
        )
        error, _ = await fails(client, "two", StreamError)
        assert isinstance(error, StreamError)
        assert not isinstance(error, StreamTruncatedError)
        assert str(error) == "CUDA error: out of memory"
        assert (error.error_type, error.code) == ("server_error", 500)
        assert client.history == after_fault(before, "two")
        await recovers(client, sse_server, after_fault(before, "two"))


async def test_done_missing_after_a_finish_is_a_complete_answer(sse_server: SSEServer) -> None:
    async with Client(opts(sse_server)) as client:
        before = await warm(client, sse_server)
        sse_server.script.stream(sse(chunk("whole"), chunk(finish="stop"), done=False))
        started = time.monotonic()
        result = (await ask(client, "two"))[-1]
        assert time.monotonic() - started < BOUND
        assert isinstance(result, ResultMessage)
        assert (result.result, result.stop_reason) == ("whole", "stop")
        done = [*after_fault(before, "two"), {"role": "assistant", "content": "whole"}]
        assert client.history == done
        await recovers(client, sse_server, done)


async def test_done_before_any_finish_is_truncation(sse_server: SSEServer) -> None:
    """llama-cpp-python's interrupted stream: ``[DONE]`` with no finish_reason [LP3]."""
    async with Client(opts(sse_server)) as client:
        before = await warm(client, sse_server)
        sse_server.script.stream(sse(chunk(role="assistant", content=""), chunk("cut sh")))
        error, _ = await fails(client, "two", StreamTruncatedError)
        assert "[DONE] arrived without a finish_reason" in str(error)
        assert client.history == after_fault(before, "two")
        await recovers(client, sse_server, after_fault(before, "two"))


async def test_ten_megabyte_single_event(sse_server: SSEServer) -> None:
    big = "0123456789abcdef" * (10 * 2**20 // 16)
    async with Client(opts(sse_server)) as client:
        before = await warm(client, sse_server)
        sse_server.script.stream(sse(chunk(big), chunk(finish="stop")))
        started = time.monotonic()
        messages = await ask(client, "two")
        assert time.monotonic() - started < 30  # 10 MB over loopback, decoded once
        result = messages[-1]
        assert isinstance(result, ResultMessage)
        assert len(result.result) == len(big)
        assert result.result == big
        done = [*after_fault(before, "two"), {"role": "assistant", "content": big}]
        assert client.history == done
        await recovers(client, sse_server, done)


async def test_invalid_utf8_inside_an_event(sse_server: SSEServer) -> None:
    bad = b'data: {"choices":[{"index":0,"delta":{"content":"caf\xc3 ok \xff!"}}]}\n\n'
    async with Client(opts(sse_server)) as client:
        before = await warm(client, sse_server)
        sse_server.script.stream(*events(chunk("A "), bad, chunk(finish="stop")))
        result = (await ask(client, "two"))[-1]
        assert isinstance(result, ResultMessage)
        assert result.result == "A caf\ufffd ok \ufffd!"  # replaced, nothing else lost
        done = [*after_fault(before, "two"), {"role": "assistant", "content": result.result}]
        assert client.history == done
        await recovers(client, sse_server, done)


# -- the caller, or another caller, stops the stream ----------------------------------------------


async def test_a_second_request_makes_the_server_cut_the_first(sse_server: SSEServer) -> None:
    """llama-cpp-python (``interrupt_requests=True``, the default) ends the running stream when
    another request arrives; the first caller gets a truncation, the second its answer."""
    first_part = events(chunk(role="assistant", content=""), chunk("I was saying"), done=False)
    async with Client(opts(sse_server)) as first, Client(opts(sse_server)) as second:
        before = await warm(first, sse_server)
        sse_server.script.stream(*first_part, 0.5, end="close")  # cut while the other runs
        sse_server.script.stream(text_stream("second answer"))
        await first.query("two")
        got: list[Any] = []
        second_result: list[Message] = []

        async def first_caller() -> None:
            async for block in first.receive_messages():
                got.append(block)
                if block == TextBlock("I was saying"):
                    second_result.extend(await ask(second, "other"))

        started = time.monotonic()
        with pytest.raises(StreamTruncatedError):
            await first_caller()
        assert time.monotonic() - started < BOUND
        assert got == [TextBlock("I was saying")]
        assert second_result[-1].result == "second answer"  # type: ignore[union-attr]
        assert second.history[-1] == {"role": "assistant", "content": "second answer"}
        assert first.history == after_fault(before, "two")
        await recovers(first, sse_server, after_fault(before, "two"))


async def test_cancelling_the_callers_task_closes_the_stream(sse_server: SSEServer) -> None:
    async with Client(opts(sse_server)) as client:
        before = await warm(client, sse_server)
        assert sse_server.connections_open == 1  # the warm-up connection, pooled
        sse_server.script.stream(
            *events(chunk(role="assistant", content=""), chunk("stre"), done=False), end="hang"
        )
        seen = asyncio.Event()

        async def consume() -> None:
            await client.query("two")
            async for block in client.receive_messages():
                if isinstance(block, TextBlock):
                    seen.set()

        task = asyncio.create_task(consume())
        await asyncio.wait_for(seen.wait(), BOUND)
        started = time.monotonic()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert time.monotonic() - started < BOUND
        await eventually(lambda: sse_server.requests[-1].client_left, "the server to see it")
        await eventually(lambda: sse_server.connections_open == 0, "the connection to close")
        assert client.history == after_fault(before, "two")
        await recovers(client, sse_server, after_fault(before, "two"))
        assert sse_server.connections_open == 1  # one pooled connection again, none leaked
    await eventually(lambda: sse_server.connections_open == 0, "close() to close it")


async def test_interrupt_from_another_task(sse_server: SSEServer) -> None:
    async with Client(opts(sse_server)) as client:
        before = await warm(client, sse_server)
        sse_server.script.stream(
            *events(chunk(role="assistant", content=""), chunk("so far"), done=False), end="hang"
        )
        seen = asyncio.Event()
        got: list[Any] = []

        async def consume() -> None:
            await client.query("two")
            async for block in client.receive_messages():
                got.append(block)
                if isinstance(block, TextBlock):
                    seen.set()

        task = asyncio.create_task(consume())
        await asyncio.wait_for(seen.wait(), BOUND)
        await asyncio.sleep(0.05)  # the reader is back to waiting on the network
        started = time.monotonic()
        await client.interrupt()
        await asyncio.wait_for(task, BOUND)  # ends normally, no exception
        assert time.monotonic() - started < BOUND
        assert isinstance(got[-1], ResultMessage)
        assert got[-1].stop_reason == "interrupted"
        await eventually(lambda: sse_server.requests[-1].client_left, "the server to see it")
        kept = [*after_fault(before, "two"), {"role": "assistant", "content": "so far"}]
        assert client.history == kept  # an interrupt keeps the partial text
        await recovers(client, sse_server, kept)


# -- a tool never runs twice --------------------------------------------------------------------


PARIS = '{"city": "Paris"}'
TOOL_MESSAGE = {"role": "tool", "tool_call_id": "c1", "content": '{"city":"Paris","temp_c":21}'}


def weather_call() -> bytes:
    return sse(
        chunk(role="assistant", content=None),
        chunk(tool_calls=[tool_call(0, id="c1", name="get_weather", arguments=PARIS)]),
        chunk(finish="tool_calls"),
    )


TURN2_FAULTS: dict[str, tuple[Callable[[SSEServer], Any], type[AnyAgentError]]] = {
    "5xx-after-the-sdk-retry": (
        lambda s: s.script.error(503, "overloaded", times=2, type="server_error"),
        ServerError,
    ),
    "cut-mid-stream": (
        lambda s: s.script.stream(sse(chunk("It is"), done=False), end="reset"),
        StreamTruncatedError,
    ),
    "idle": (
        lambda s: s.script.stream(*events(chunk("It is"), done=False), end="hang"),
        IdleTimeoutError,
    ),
    "error-event": (
        lambda s: s.script.stream(sse({"error": {"message": "overloaded"}})),
        StreamError,
    ),
}


@pytest.mark.parametrize("fault", list(TURN2_FAULTS))
async def test_a_fault_after_a_tool_ran_never_runs_it_again(
    sse_server: SSEServer, fault: str
) -> None:
    script_fault, error = TURN2_FAULTS[fault]
    get_weather, ran = counted_tool()
    options = opts(sse_server, tools=[get_weather], max_turns=4, max_retries=1, idle_timeout=0.3)
    async with Client(options) as client:
        before = await warm(client, sse_server)
        sse_server.script.stream(weather_call())
        script_fault(sse_server)
        await fails(client, "weather?", error)
        assert ran == [{"city": "Paris"}]
        history = client.history
        assert history[: len(before) + 1] == after_fault(before, "weather?")
        assert history[-2]["tool_calls"][0]["id"] == "c1"
        assert history[-1] == TOOL_MESSAGE
        # the caller retries the failed turn: the result is sent, the tool is not re-run
        sse_server.script.stream(text_stream("Sunny in Paris."))
        messages = await ask(client, None)
        assert messages[-1].result == "Sunny in Paris."  # type: ignore[union-attr]
        assert ran == [{"city": "Paris"}]
        sent = sse_server.requests[-1].json["messages"]
        assert sent == history
        assert [m for m in sent if m["role"] == "tool"] == [TOOL_MESSAGE]
        final = [*history, {"role": "assistant", "content": "Sunny in Paris."}]
        assert client.history == final
        await recovers(client, sse_server, final)
        assert ran == [{"city": "Paris"}]


async def test_the_sdks_own_retry_of_turn_two_does_not_rerun_the_tool(
    sse_server: SSEServer,
) -> None:
    get_weather, ran = counted_tool()
    async with Client(opts(sse_server, tools=[get_weather], max_turns=4, max_retries=1)) as client:
        sse_server.script.stream(weather_call())
        sse_server.script.error(502, "bad gateway", type="server_error")
        sse_server.script.stream(text_stream("Sunny."))
        result = (await ask(client, "weather?"))[-1]
        assert isinstance(result, ResultMessage)
        assert (result.result, result.num_turns) == ("Sunny.", 2)
        assert ran == [{"city": "Paris"}]
        turn2, retried = sse_server.requests[-2:]
        assert turn2.json == retried.json  # the same turn-2 request, tool result included once
        assert sum(m["role"] == "tool" for m in retried.json["messages"]) == 1


# -- network re-chunking of recorded streams, through the whole client --------------------------

DATA = Path(__file__).parent / "data" / "servers"
RECORDED = sorted(DATA.glob("*.sse"))
WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
    },
}


def _view(messages: list[Message], error: AnyAgentError | None) -> list[Any]:
    """What a caller sees, minus timings: messages, streamed deltas joined per kind, error."""
    out: list[Any] = []
    deltas: dict[str, str] = {}
    for m in messages:
        if isinstance(m, StreamEvent):
            if m.type.endswith("_delta"):
                deltas[m.type] = deltas.get(m.type, "") + (m.delta or "")
        elif isinstance(m, ResultMessage):
            out.append((m.result, m.stop_reason, m.usage, m.num_turns, m.num_tool_calls))
        else:
            out.append(m)
    failure = None if error is None else (type(error).__name__, str(error))
    return [*out, deltas, failure]


async def _run_recorded(url: str, server: SSEServer, steps: list[bytes | float]) -> list[Any]:
    server.script.stream(*steps)
    options = opts(url, tools=[WEATHER], include_partial_messages=True)
    messages: list[Message] = []
    error: AnyAgentError | None = None
    async with Client(options) as client:
        await client.query("go")
        try:
            async for m in client.receive_response():
                messages.append(m)
        except AnyAgentError as exc:  # one recording ends in a server error event
            error = exc
    return _view(messages, error)


UTF8 = "Zürich 東京 🎉".encode()  # 2-, 3- and 4-byte sequences to cut inside


def _recorded(path: Path, utf8: bool, crlf: bool) -> bytes:
    raw = path.read_bytes()
    if utf8:
        raw = raw.replace(b"Paris", UTF8)  # the city the recorded calls ask about
    if crlf:
        raw = raw.replace(b"\n", b"\r\n")
    return raw


@settings(
    max_examples=16,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(st.sampled_from(RECORDED), st.booleans(), st.booleans(), st.data())
def test_property_recorded_streams_resplit_through_the_client(
    sse_server: SSEServer, path: Path, utf8: bool, crlf: bool, data: st.DataObject
) -> None:
    """Any cut of a recorded server's bytes — inside a UTF-8 sequence, between ``\\r`` and
    ``\\n``, inside ``data:`` — gives the caller the same messages (or the same error),
    through HTTP and the whole client. ``utf8`` puts multi-byte text in the recorded calls and
    content (the recordings are ASCII); ``crlf`` turns the line ends into CRLF."""
    raw = _recorded(path, utf8, crlf)
    cuts = data.draw(st.lists(st.integers(1, len(raw) - 1), max_size=24).map(sorted))
    if utf8 and UTF8 in raw:  # at least one cut inside a multi-byte sequence
        cuts = sorted({*cuts, raw.index(UTF8) + 2})
    if crlf:  # and one between a \r and its \n
        cuts = sorted({*cuts, raw.index(b"\r\n") + 1})
    points = [0, *dict.fromkeys(cuts), len(raw)]
    steps: list[bytes | float] = []
    for a, b in itertools.pairwise(points):
        steps += [raw[a:b], 0.002]  # a pause, so the pieces arrive as separate reads
    whole = asyncio.run(_run_recorded(sse_server.url, sse_server, [raw]))
    split = asyncio.run(_run_recorded(sse_server.url, sse_server, steps))
    assert split == whole
    assert sse_server.unscripted == []


def test_recorded_corpus_has_multibyte_text_and_tool_calls() -> None:
    """Keeps the property above honest: the corpus has UTF-8 sequences to cut and tool calls."""
    blobs = [_recorded(p, utf8=True, crlf=False) for p in RECORDED]
    assert sum(UTF8 in blob for blob in blobs) >= 5

    async def run() -> list[Any]:
        server = SSEServer().start()
        try:
            found = []
            for blob in blobs:
                found += [
                    b
                    for m in await _run_recorded(server.url, server, [blob])
                    if isinstance(m, AssistantMessage)
                    for b in m.content
                    if isinstance(b, ToolUseBlock)
                ]
            return found
        finally:
            server.stop()

    inputs = [b.input for b in asyncio.run(run())]
    assert {"city": UTF8.decode()} in inputs


# -- found by the second fault review (fault injection against the scripted server) -----------


async def test_overall_timeout_never_cancels_the_callers_own_work(sse_server: SSEServer) -> None:
    """The overall deadline passes while the caller is busy with a block: the caller's code
    is not cancelled; the next wait on the network raises OverallTimeoutError, the task's
    cancel count is untouched, and the client answers the next query."""
    client = Client(opts(sse_server, timeout=0.5))
    before = await warm(client, sse_server)
    sse_server.script.stream(*events(chunk("a"), chunk("b"), chunk("c", finish="stop")), gap=0.05)
    await client.query("slow reader")

    async def slow_reader() -> None:
        async for _ in client.receive_messages():
            await asyncio.sleep(0.6)  # the caller's own work; must not be cancelled

    with pytest.raises(OverallTimeoutError):
        await slow_reader()
    task = asyncio.current_task()
    assert task is not None
    assert getattr(task, "cancelling", lambda: 0)() == 0
    await recovers(client, sse_server, after_fault(before, "slow reader"))


async def test_model_not_found_while_the_models_list_is_slow(sse_server: SSEServer) -> None:
    """A 404 whose ``GET /models`` follow-up hangs: still ModelNotFoundError, within the
    overall timeout, not a stray CancelledError."""
    client = Client(opts(sse_server, timeout=1.0))
    sse_server.script.add(Reply(200, chunks=[], end="hang"), path="/v1/models", method="GET")
    sse_server.script.error(404, "model 'test-model' not found")
    error, elapsed = await fails(client, "hi", ModelNotFoundError)
    assert elapsed < 2.0
    assert error.available == []  # type: ignore[attr-defined]


@pytest.mark.parametrize("how", ["break", "aclose", "exception"])
async def test_leaving_the_loop_early_frees_the_client(sse_server: SSEServer, how: str) -> None:
    """``break``, ``aclosing`` or an exception in the loop body: the next query works at once
    (the stream is closed, the partial turn is not kept)."""
    client = Client(opts(sse_server))
    before = await warm(client, sse_server)
    sse_server.script.stream(*events(chunk("a"), chunk("b", finish="stop")), gap=0.2)
    await client.query("left early")
    if how == "break":
        async for _ in client.receive_messages():
            break
    elif how == "aclose":
        stream = client.receive_messages()
        async for _ in stream:
            await stream.aclose()
            break
    else:

        async def buggy_reader() -> None:
            async for _ in client.receive_messages():
                raise KeyError("the caller's own bug")

        with pytest.raises(KeyError):
            await buggy_reader()
    await recovers(client, sse_server, after_fault(before, "left early"))


async def test_two_receivers_at_once_is_still_misuse(sse_server: SSEServer) -> None:
    client = Client(opts(sse_server))
    sse_server.script.stream(*events(chunk("a"), chunk("b", finish="stop")), gap=0.3)
    await client.query("one")
    stream = client.receive_response()
    first = asyncio.ensure_future(stream.__anext__())
    await asyncio.sleep(0.05)
    with pytest.raises(ConfigurationError, match="still being received"):
        await client.query("two")
    first.cancel()
    with contextlib.suppress(asyncio.CancelledError, StopAsyncIteration):
        await first
    await stream.aclose()


async def test_a_prompt_that_is_not_valid_unicode_is_refused_and_harmless(
    sse_server: SSEServer,
) -> None:
    """A lone surrogate (a file name decoded with surrogateescape) cannot be sent as UTF-8:
    ConfigurationError naming the prompt, nothing added to history, the client still works."""
    client = Client(opts(sse_server))
    before = await warm(client, sse_server)
    with pytest.raises(ConfigurationError, match="prompt is not valid Unicode"):
        await client.query("caf\udce9.txt")
    assert client.history == before
    await recovers(client, sse_server, before)
    with pytest.raises(ConfigurationError, match="system_prompt is not valid Unicode"):
        opts(sse_server, system_prompt="caf\udce9")


@tool
def first_fruit(name: str) -> str:
    """The first fruit with this name."""
    return next(x for x in ["apple", "pear"] if x == name)


@tool
async def awaits_a_cancelled_future() -> str:
    """A tool whose own await is cancelled by something else."""
    future: asyncio.Future[str] = asyncio.get_running_loop().create_future()
    future.cancel()
    return await future


@tool
def surrogate_name() -> str:
    """A file name decoded with surrogateescape."""
    return "caf\udce9.txt"


@pytest.mark.parametrize(
    ("fn", "expected"),
    [
        (first_fruit, "RuntimeError: StopIteration raised inside"),
        (awaits_a_cancelled_future, "CancelledError"),
        (surrogate_name, "caf\ufffd.txt"),
    ],
    ids=["stop-iteration", "own-cancellation", "lone-surrogate"],
)
async def test_odd_tool_failures_come_back_as_results(
    sse_server: SSEServer, fn: Any, expected: str
) -> None:
    """``next()`` on an empty iterator in a sync tool (asyncio cannot carry StopIteration
    into a future: it hung), a CancelledError from the tool's own await, and a result that
    cannot be encoded: each is a tool result the model sees, and the run finishes."""
    client = Client(opts(sse_server, tools=[fn], max_turns=3))
    call = tool_call(
        0, id="c1", name=fn.name, arguments='{"name": "kiwi"}' if fn is first_fruit else "{}"
    )
    sse_server.script.stream(sse(chunk(tool_calls=[call]), chunk(finish="tool_calls")))
    sse_server.script.stream(text_stream("done"))
    messages = await asyncio.wait_for(ask(client, "go"), BOUND)
    assert messages[-1].result == "done"  # type: ignore[union-attr]
    sent = sse_server.requests[-1].json["messages"][-1]
    assert sent["role"] == "tool"
    assert expected in sent["content"]


async def test_a_cut_inside_an_event_is_a_truncation(sse_server: SSEServer) -> None:
    """The connection resets in the middle of an event's JSON: the answer is incomplete
    (StreamTruncatedError), not a server writing malformed JSON."""
    client = Client(opts(sse_server))
    before = await warm(client, sse_server)
    body = sse(chunk("Hel"), chunk("lo"), chunk(finish="stop"))
    sse_server.script.stream(body[: body.index(b'"lo"')], end="reset")
    await fails(client, "cut", StreamTruncatedError)
    await recovers(client, sse_server, after_fault(before, "cut"))


async def test_finish_without_done_on_a_connection_left_open(sse_server: SSEServer) -> None:
    """The finish chunk arrives, then neither [DONE] nor a close: the complete answer is
    returned a moment later, not an IdleTimeoutError after idle_timeout (default 120 s)."""
    client = Client(opts(sse_server, idle_timeout=30))
    before = await warm(client, sse_server)
    sse_server.script.stream(
        *events(chunk("complete answer"), chunk(finish="stop"), done=False), end="hang"
    )
    started = time.monotonic()
    messages = await asyncio.wait_for(ask(client, "hi"), BOUND)
    assert time.monotonic() - started < 4.0
    assert messages[-1].result == "complete answer"  # type: ignore[union-attr]
    before = [*before, {"role": "user", "content": "hi"}]
    before.append({"role": "assistant", "content": "complete answer"})
    await recovers(client, sse_server, before)


@tool
async def hangs(x: int) -> int:
    """A tool stuck on I/O."""
    await asyncio.Event().wait()
    return x


async def test_interrupt_stops_a_hanging_tool(sse_server: SSEServer) -> None:
    """Nothing else bounds a tool; interrupt() cancels it, the run ends ``interrupted`` and
    the call gets an error result on the next request."""
    client = Client(opts(sse_server, tools=[hangs], max_turns=3))
    call = tool_call(0, id="c1", name="hangs", arguments='{"x": 1}')
    sse_server.script.stream(sse(chunk(tool_calls=[call]), chunk(finish="tool_calls")))
    await client.query("go")

    async def interrupt_soon() -> None:
        await asyncio.sleep(0.3)
        await client.interrupt()

    async def collect() -> list[Message]:
        return [m async for m in client.receive_response()]

    stopper = asyncio.ensure_future(interrupt_soon())
    messages = await asyncio.wait_for(collect(), BOUND)
    await stopper
    result = messages[-1]
    assert isinstance(result, ResultMessage)
    assert result.stop_reason == "interrupted"
    sse_server.script.stream(text_stream("after"))
    messages = await asyncio.wait_for(ask(client, "next"), BOUND)
    assert messages[-1].result == "after"  # type: ignore[union-attr]
    sent = sse_server.requests[-1].json["messages"]
    answered = [m for m in sent if m.get("role") == "tool" and m["tool_call_id"] == "c1"]
    assert len(answered) == 1
    assert answered[0]["content"].startswith("Error")


@pytest.mark.parametrize(
    ("header", "expected"),
    [("nan", None), ("inf", None), ("-5", 0.0), ("soon", None), ("2.5", 2.5), ("date", "future")],
)
async def test_retry_after_is_a_finite_delay_or_none(
    sse_server: SSEServer, header: str, expected: float | str | None
) -> None:
    """``RateLimitError.retry_after`` is a usable delay: never nan, inf or negative; an HTTP
    date (RFC 9110 allows one) becomes the seconds until it."""
    if header == "date":
        header = email.utils.format_datetime(
            datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=30),
            usegmt=True,
        )
    sse_server.script.add(Reply(429, {"Retry-After": header}, error_body("slow down")))
    error, _ = await fails(Client(opts(sse_server)), "hi", RateLimitError)
    got = error.retry_after  # type: ignore[attr-defined]
    if expected == "future":
        assert 20 < got <= 30
    else:
        assert got == expected


def test_a_client_used_again_under_a_new_event_loop(sse_server: SSEServer) -> None:
    """Two ``asyncio.run`` calls with one Client: the second starts a new connection pool
    instead of failing with "Event loop is closed"."""
    client = Client(opts(sse_server))
    for answer in ("first", "second", "third"):
        sse_server.script.stream(text_stream(answer))
        messages = asyncio.run(ask(client, "hi"))
        assert messages[-1].result == answer  # type: ignore[union-attr]
    asyncio.run(client.close())


@pytest.mark.parametrize("indent", [None, 2], ids=["compact", "pretty-printed"])
async def test_a_server_that_ignores_stream_true(sse_server: SSEServer, indent: int | None) -> None:
    """A whole ``chat.completion`` as ``application/json`` to a streaming request (servers
    that ignore ``stream``): decoded like a one-event stream, tool calls included."""
    call = {"id": "c1", "type": "function", "function": {"name": "f", "arguments": '{"a": 1}'}}
    body = completion("hello", tool_calls=[call], finish="tool_calls")
    sse_server.script.json(json.dumps(body, indent=indent).encode())
    client = Client(opts(sse_server))
    messages = await ask(client, "hi")
    assistant = messages[0]
    assert isinstance(assistant, AssistantMessage)
    assert assistant.content[0] == TextBlock("hello")
    assert assistant.content[1] == ToolUseBlock("c1", "f", {"a": 1})


async def test_an_html_page_with_status_200_says_so(sse_server: SSEServer) -> None:
    """A proxy's login page, or a base_url pointing at a web site: not 'the stream ended'."""
    page = b"<!doctype html><html><body>Please log in</body></html>"
    sse_server.script.add(Reply(200, {"content-type": "text/html; charset=utf-8"}, page))
    client = Client(opts(sse_server))
    error, _ = await fails(client, "hi", StreamError)
    assert "HTML page" in str(error)
    assert "Please log in" in str(error)


async def test_a_redirect_says_where_to_and_what_to_do(sse_server: SSEServer) -> None:
    """A 302 (an http→https or path redirect in front of the server): the message names the
    new address and the fix, not "HTTP 302: HTTP 302"."""
    location = "https://llm.example/v1/chat/completions"
    sse_server.script.add(Reply(302, {"Location": location}, b""))
    error, _ = await fails(Client(opts(sse_server)), "hi", HTTPStatusError)
    assert error.status == 302  # type: ignore[attr-defined]
    assert location in str(error)
    assert "base_url" in str(error)
