"""Bounded fan-out: how many tool calls of one response run (max_tool_calls) and how many run
at once (max_concurrent_tools), on the scripted server."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest
from sse_server import SSEServer, chunk, sse, text_stream, tool_call

from any_agent import (
    AgentOptions,
    AssistantMessage,
    Client,
    ConfigurationError,
    HookMatcher,
    HookResult,
    ResultMessage,
    ToolResultBlock,
    ToolResultError,
    ToolUseBlock,
    UserMessage,
    query,
    tool,
)


def calls_turn(n: int, name: str, prefix: str = "call") -> bytes:
    """One streamed turn with ``n`` parallel calls to ``name`` (ids ``<prefix>_<i>``)."""
    items: list[dict[str, Any]] = [chunk(role="assistant", content=None)]
    for i in range(n):
        items.append(
            chunk(
                tool_calls=[
                    tool_call(
                        i, id=f"{prefix}_{i}", type="function", name=name, arguments=f'{{"n": {i}}}'
                    )
                ]
            )
        )
    items.append(chunk(finish="tool_calls"))
    return sse(*items)


def opts(server: SSEServer, **kw: Any) -> AgentOptions:
    base: dict[str, Any] = {"model": "m", "base_url": server.url, "max_retries": 0}
    return AgentOptions(**(base | {"max_turns": 4} | kw))


def tool_results(messages: list[Any]) -> list[ToolResultBlock]:
    """The ToolResultBlocks of the first UserMessage."""
    content = next(m for m in messages if isinstance(m, UserMessage)).content
    assert isinstance(content, list)
    assert all(isinstance(b, ToolResultBlock) for b in content)
    return content  # type: ignore[return-value]


def stop_reason(message: Any) -> str:
    assert isinstance(message, ResultMessage)
    return message.stop_reason


class Gauge:
    """How many run at once (thread-safe: sync tools run in worker threads)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.active = 0
        self.peak = 0
        self.done = 0

    def enter(self) -> None:
        with self.lock:
            self.active += 1
            self.peak = max(self.peak, self.active)

    def leave(self) -> None:
        with self.lock:
            self.active -= 1
            self.done += 1


async def test_calls_beyond_max_tool_calls_get_an_error_result_the_model_sees(
    sse_server: SSEServer,
) -> None:
    ran: list[int] = []

    @tool
    def probe(n: int) -> str:
        """Record a call."""
        ran.append(n)
        return f"ok {n}"

    sse_server.script.stream(calls_turn(200, "probe"))
    sse_server.script.stream(text_stream("done"))
    messages = [m async for m in query("go", opts(sse_server, tools=[probe], max_tool_calls=50))]
    assert sorted(ran) == list(range(50))  # the first 50, each once
    results = tool_results(messages)
    assert len(results) == 200
    assert [r.tool_use_id for r in results] == [f"call_{i}" for i in range(200)]
    assert all(not r.is_error for r in results[:50])
    assert all(r.is_error for r in results[50:])
    final = messages[-1]
    assert stop_reason(final) == "stop"
    assert isinstance(final, ResultMessage)
    assert final.num_tool_calls == 200
    # the next request answers every id, in order; the excess ones say why they did not run
    sent = sse_server.requests[1].json["messages"]
    tool_msgs = [m for m in sent if m["role"] == "tool"]
    assert [m["tool_call_id"] for m in tool_msgs] == [f"call_{i}" for i in range(200)]
    assert tool_msgs[0]["content"] == "ok 0"
    refused = [m["content"] for m in tool_msgs[50:]]
    assert all(
        "not run" in c and "200 tool calls" in c and "max_tool_calls=50" in c for c in refused
    )


async def test_manual_mode_surfaces_and_answers_the_excess_calls(sse_server: SSEServer) -> None:
    definition = {
        "type": "function",
        "function": {"name": "probe", "parameters": {"type": "object", "properties": {}}},
    }
    sse_server.script.stream(calls_turn(5, "probe"))
    sse_server.script.stream(text_stream("done"))
    async with Client(opts(sse_server, tools=[definition], max_tool_calls=2)) as client:
        await client.query("go")
        first = [m async for m in client.receive_response()]
        assert stop_reason(first[-1]) == "tool_calls"
        answered = tool_results(first)
        assert [r.tool_use_id for r in answered] == ["call_2", "call_3", "call_4"]
        assert all(r.is_error and "max_tool_calls=2" in r.content for r in answered)
        with pytest.raises(ToolResultError, match="max_tool_calls=2"):
            client.add_tool_result("call_3", "sneaked in")
        client.add_tool_result("call_0", "zero")
        client.add_tool_result("call_1", "one")
        await client.query(None)
        second = [m async for m in client.receive_response()]
        assert stop_reason(second[-1]) == "stop"
    tool_msgs = [m for m in sse_server.requests[1].json["messages"] if m["role"] == "tool"]
    assert [m["tool_call_id"] for m in tool_msgs] == [f"call_{i}" for i in range(5)]
    assert [m["content"] for m in tool_msgs[:2]] == ["zero", "one"]
    assert all("not run" in m["content"] for m in tool_msgs[2:])


async def test_an_excess_call_cannot_be_answered_while_the_message_is_being_read(
    sse_server: SSEServer,
) -> None:
    """Answering each call as its AssistantMessage arrives (before the loop has given the
    excess ones their error) must not slip a result past max_tool_calls."""
    definition = {
        "type": "function",
        "function": {"name": "probe", "parameters": {"type": "object", "properties": {}}},
    }
    sse_server.script.stream(calls_turn(4, "probe"))
    sse_server.script.stream(text_stream("done"))
    refused: list[str] = []
    async with Client(opts(sse_server, tools=[definition], max_tool_calls=2)) as client:
        await client.query("go")
        async for message in client.receive_response():
            if isinstance(message, AssistantMessage):
                for block in message.content:
                    if isinstance(block, ToolUseBlock):
                        try:
                            client.add_tool_result(block.id, f"ran {block.id}")
                        except ToolResultError:
                            refused.append(block.id)
        assert refused == ["call_2", "call_3"]
    # every call had a result, so the loop went on to the next request by itself
    tool_msgs = [m for m in sse_server.requests[1].json["messages"] if m["role"] == "tool"]
    assert [m["content"] for m in tool_msgs[:2]] == ["ran call_0", "ran call_1"]
    assert all("not run" in m["content"] for m in tool_msgs[2:])


async def test_async_tools_run_at_most_max_concurrent_tools_at_once(
    sse_server: SSEServer,
) -> None:
    gauge = Gauge()

    @tool
    async def probe(n: int) -> str:
        """Yield a few times while counted as running."""
        gauge.enter()
        for _ in range(5):
            await asyncio.sleep(0)
        gauge.leave()
        return "ok"

    sse_server.script.stream(calls_turn(30, "probe"))
    sse_server.script.stream(text_stream("done"))
    options = opts(sse_server, tools=[probe], max_concurrent_tools=4)
    messages = [m async for m in query("go", options)]
    assert stop_reason(messages[-1]) == "stop"
    assert gauge.done == 30
    assert gauge.peak == 4  # never more; and the bound is used, not serialised to one


async def test_sync_tools_in_threads_are_bounded_too(sse_server: SSEServer) -> None:
    gauge = Gauge()
    crowd = threading.Condition()

    @tool
    def probe(n: int) -> str:
        """Wait (briefly) for a third tool to be running at the same time."""
        gauge.enter()
        with crowd:
            crowd.notify_all()
            crowd.wait_for(lambda: gauge.active >= 3, timeout=0.3)
        gauge.leave()
        return "ok"

    sse_server.script.stream(calls_turn(6, "probe"))
    sse_server.script.stream(text_stream("done"))
    options = opts(sse_server, tools=[probe], max_concurrent_tools=2)
    messages = [m async for m in query("go", options)]
    assert stop_reason(messages[-1]) == "stop"
    assert gauge.done == 6
    assert gauge.peak <= 2


async def test_hooks_run_inside_the_concurrency_bound(sse_server: SSEServer) -> None:
    gauge = Gauge()

    async def pre(event: Any) -> HookResult | None:
        gauge.enter()
        for _ in range(5):
            await asyncio.sleep(0)
        gauge.leave()
        return None

    @tool
    def probe(n: int) -> str:
        """Do nothing."""
        return "ok"

    sse_server.script.stream(calls_turn(12, "probe"))
    sse_server.script.stream(text_stream("done"))
    options = opts(
        sse_server,
        tools=[probe],
        max_concurrent_tools=3,
        hooks={"PreToolUse": [HookMatcher(hooks=[pre])]},
    )
    messages = [m async for m in query("go", options)]
    assert stop_reason(messages[-1]) == "stop"
    assert gauge.done == 12
    assert gauge.peak == 3


async def test_interrupt_frees_the_slots_of_cancelled_tools(sse_server: SSEServer) -> None:
    started = asyncio.Event()
    quick: list[int] = []

    @tool
    async def hang(n: int) -> str:
        """Never return."""
        started.set()
        await asyncio.Event().wait()
        return "never"

    @tool
    def fast(n: int) -> str:
        """Return at once."""
        quick.append(n)
        return "ok"

    sse_server.script.stream(calls_turn(3, "hang"))
    options = opts(sse_server, tools=[hang, fast], max_concurrent_tools=1)
    async with Client(options) as client:
        await client.query("go")

        async def collect() -> list[Any]:
            return [m async for m in client.receive_response()]

        task = asyncio.ensure_future(collect())
        await asyncio.wait_for(started.wait(), 10)
        await client.interrupt()
        first = await asyncio.wait_for(task, 10)
        assert stop_reason(first[-1]) == "interrupted"
        sse_server.script.stream(calls_turn(2, "fast", prefix="next"))
        sse_server.script.stream(text_stream("done"))
        await client.query("again")
        second = await asyncio.wait_for(collect(), 10)
        assert stop_reason(second[-1]) == "stop"
    assert sorted(quick) == [0, 1]


@pytest.mark.parametrize("field", ["max_tool_calls", "max_concurrent_tools"])
@pytest.mark.parametrize("value", [0, -1, True, 2.5, "8"])
def test_bounds_are_validated(field: str, value: Any) -> None:
    with pytest.raises(ConfigurationError, match=field):
        AgentOptions(model="m", base_url="http://127.0.0.1:1/v1", **{field: value})


def test_defaults() -> None:
    options = AgentOptions(model="m", base_url="http://127.0.0.1:1/v1")
    assert (options.max_tool_calls, options.max_concurrent_tools) == (64, 8)
