"""Server slots and transient parser failures (issue 14, item 6): one request limit per
server shared by every Client in the process, waits bounded by the caller's deadlines; a
turn failed by a known transient tool-parser error is sent again, a bounded number of times,
and history never holds it twice."""

from __future__ import annotations

import asyncio

import pytest
from sse_server import (
    CHAT,
    PROPS,
    Reply,
    Scenario,
    SSEServer,
    chunk,
    error_body,
    llamacpp_props,
    opts,
    sse,
    text_stream,
)

from any_agent import (
    AgentOptions,
    Client,
    FirstTokenTimeoutError,
    ResultMessage,
    ServerError,
    StreamError,
)
from any_agent._agent.slots import slots_for


def _chats(server: SSEServer) -> int:
    return sum(1 for r in server.requests if r.path == CHAT)


async def _answer(client: Client, prompt: str) -> ResultMessage:
    await client.query(prompt)
    result = None
    async for message in client.receive_response():
        if isinstance(message, ResultMessage):
            result = message
    assert result is not None
    return result


async def _queued_behind_a_hanging_stream(
    sse_server: SSEServer, script: Scenario, first: AgentOptions, second: AgentOptions
) -> None:
    script.stream(sse(chunk("thinking..."), done=False), end="hang")  # holds the one slot
    script.stream(text_stream("second"))
    a, b = Client(first), Client(second)
    task_a = asyncio.ensure_future(_answer(a, "one"))
    await sse_server.until(lambda: _chats(sse_server) == 1, what="the first request")
    task_b = asyncio.ensure_future(_answer(b, "two"))
    slots = slots_for(sse_server.url, 1)
    await sse_server.until(lambda: slots.waiting == 1, what="the second client to queue")
    assert _chats(sse_server) == 1  # queued on the client, not sent to the busy server
    await a.interrupt()
    assert (await asyncio.wait_for(task_a, 10)).stop_reason == "interrupted"
    assert (await asyncio.wait_for(task_b, 10)).result == "second"
    assert _chats(sse_server) == 2
    assert slots.in_use == 0
    await a.close()
    await b.close()


async def test_one_slot_shared_by_two_clients(sse_server: SSEServer, script: Scenario) -> None:
    options = opts(sse_server, max_concurrent_requests=1)
    await _queued_behind_a_hanging_stream(sse_server, script, options, options)


async def test_the_slots_come_from_props_total_slots(
    sse_server: SSEServer, script: Scenario
) -> None:
    # llama-server -np 1 says total_slots: 1 in /props
    script.json(llamacpp_props(32768, total_slots=1), path=PROPS, method="GET", times=None)
    options = opts(sse_server, provider="llamacpp", max_tokens=64)
    await _queued_behind_a_hanging_stream(sse_server, script, options, options)


async def test_the_wait_is_bounded_by_the_callers_deadline(
    sse_server: SSEServer, script: Scenario
) -> None:
    script.stream(sse(chunk("busy"), done=False), end="hang")
    holder = Client(opts(sse_server, max_concurrent_requests=1))
    task = asyncio.ensure_future(_answer(holder, "one"))
    await sse_server.until(lambda: _chats(sse_server) == 1)
    waiter = Client(opts(sse_server, max_concurrent_requests=1, first_token_timeout=0.2))
    with pytest.raises(FirstTokenTimeoutError, match="no free slot"):
        await asyncio.wait_for(_answer(waiter, "two"), 10)
    assert waiter.history[-1] == {"role": "user", "content": "two"}
    assert slots_for(sse_server.url, 1).waiting == 0
    await holder.interrupt()
    await asyncio.wait_for(task, 10)
    assert _chats(sse_server) == 1


PEG = "The model produced output that does not match the expected peg-native format"


async def test_llamacpp_peg_native_500_is_sent_again(
    sse_server: SSEServer, script: Scenario
) -> None:
    # llama-server's non-streamed refusal (research/real-servers.md §3.3)
    script.add(Reply(500, body={"error": {"code": 500, "message": PEG, "type": "server_error"}}))
    script.stream(text_stream("fine"))
    async with Client(opts(sse_server, provider="llamacpp", context_window=32768)) as client:
        result = await _answer(client, "call a tool")
        assert result.result == "fine"
        assert [m["role"] for m in client.history] == ["user", "assistant"]
    assert _chats(sse_server) == 2


async def test_llamacpp_peg_native_in_stream_is_sent_again(
    sse_server: SSEServer, script: Scenario
) -> None:
    # the streamed form: content "```json\n", then an error event, no finish, no [DONE]
    # (tests/data/servers/llamaserver-qwen05b-tools-auto-fenced-stream.sse)
    failed = {"error": {"code": 500, "message": PEG, "type": "server_error"}}
    script.stream(sse(chunk(role="assistant", content=""), chunk("```json\n"), failed, done=False))
    script.stream(text_stream("fine"))
    async with Client(opts(sse_server, provider="llamacpp", context_window=32768)) as client:
        assert (await _answer(client, "call a tool")).result == "fine"
        assert client.history[-1] == {"role": "assistant", "content": "fine"}
        assert len(client.history) == 2
    assert _chats(sse_server) == 2


async def test_ollama_error_parsing_tool_call(sse_server: SSEServer, script: Scenario) -> None:
    # Ollama: HTTP 500 {"error":{"message":"error parsing tool call: ..."}} (ollama/ollama#12884)
    script.add(
        Reply(500, body=error_body("error parsing tool call: raw='{\"a\":'", type="api_error"))
    )
    script.stream(text_stream("fine"))
    async with Client(opts(sse_server, provider="ollama", context_window=32768)) as client:
        assert (await _answer(client, "hi")).result == "fine"
    assert _chats(sse_server) == 2


async def test_retries_are_bounded(sse_server: SSEServer, script: Scenario) -> None:
    script.add(Reply(500, body=error_body(PEG, type="server_error")), times=None)
    options = opts(sse_server, provider="llamacpp", context_window=32768, transient_retries=1)
    async with Client(options) as client:
        with pytest.raises(ServerError, match="peg-native"):
            await _answer(client, "hi")
        assert client.history == [{"role": "user", "content": "hi"}]
    assert _chats(sse_server) == 2


async def test_other_failures_are_not_resent(sse_server: SSEServer, script: Scenario) -> None:
    script.error(500, "CUDA out of memory", type="server_error")
    async with Client(opts(sse_server, provider="llamacpp", context_window=32768)) as client:
        with pytest.raises(ServerError, match="out of memory"):
            await _answer(client, "hi")
    assert _chats(sse_server) == 1


async def test_a_profile_without_the_pattern_does_not_resend(
    sse_server: SSEServer, script: Scenario
) -> None:
    failed = {"error": {"code": 500, "message": PEG, "type": "server_error"}}
    script.stream(sse(chunk("x"), failed, done=False))
    async with Client(opts(sse_server)) as client:  # generic: declares no transient errors
        with pytest.raises(StreamError):
            await _answer(client, "hi")
    assert _chats(sse_server) == 1
