"""The automatic tool loop on the scripted server: what is sent, what runs, what is fed back."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from sse_server import SSEServer, chunk, sse, text_stream, tool_call

from any_agent import (
    AgentOptions,
    AssistantMessage,
    Client,
    HookMatcher,
    HookResult,
    PermissionResultDeny,
    ResultMessage,
    ServerError,
    ToolResultBlock,
    ToolUseBlock,
    UserMessage,
    query,
    tool,
)


def calls_turn(*calls: tuple[str, str, str]) -> bytes:
    """One streamed turn calling ``(id, name, arguments)`` in parallel."""
    items: list[dict[str, Any]] = [chunk(role="assistant", content=None)]
    for index, (cid, name, args) in enumerate(calls):
        items.append(
            chunk(tool_calls=[tool_call(index, id=cid, type="function", name=name, arguments="")])
        )
        items.append(chunk(tool_calls=[tool_call(index, arguments=args)]))
    items.append(chunk(finish="tool_calls"))
    return sse(*items)


def opts(server: SSEServer, **kw: Any) -> AgentOptions:
    return AgentOptions(
        **({"model": "m", "base_url": server.url, "max_retries": 0, "max_turns": 4} | kw)
    )


async def run(options: AgentOptions, prompt: str = "go") -> list[Any]:
    return [m async for m in query(prompt, options)]


async def test_two_turn_loop_sends_call_and_result(sse_server: SSEServer) -> None:
    ran: list[dict[str, Any]] = []

    @tool
    def get_weather(city: str) -> dict[str, Any]:
        """Weather for a city."""
        ran.append({"city": city})
        return {"city": city, "temp": 21}

    sse_server.script.stream(calls_turn(("call_a", "get_weather", '{"city": "Paris"}')))
    sse_server.script.stream(text_stream("It is 21 degrees."))
    messages = await run(opts(sse_server, tools=[get_weather]))
    assert ran == [{"city": "Paris"}]
    kinds = [type(m).__name__ for m in messages]
    assert kinds == ["AssistantMessage", "UserMessage", "AssistantMessage", "ResultMessage"]
    assert messages[1].content == [ToolResultBlock("call_a", '{"city":"Paris","temp":21}', False)]
    result = messages[-1]
    assert (result.num_turns, result.num_tool_calls, result.stop_reason) == (2, 1, "stop")
    sent = sse_server.requests[1].json["messages"]
    assert sent[-2]["role"] == "assistant"
    call = sent[-2]["tool_calls"][0]
    assert call["id"] == "call_a"
    assert isinstance(call["function"]["arguments"], str)
    assert json.loads(call["function"]["arguments"]) == {"city": "Paris"}
    assert sent[-1] == {
        "role": "tool",
        "tool_call_id": "call_a",
        "content": '{"city":"Paris","temp":21}',
    }


async def test_parallel_calls_run_concurrently(sse_server: SSEServer) -> None:
    """Timing-free: each tool waits until both have started, so a sequential loop would
    deadlock (and time out) while a concurrent one finishes."""
    started: list[str] = []
    both_started = asyncio.Event()

    @tool
    async def slow(name: str) -> str:
        """Wait for the other call."""
        started.append(name)
        if len(started) == 2:
            both_started.set()
        await asyncio.wait_for(both_started.wait(), 5)
        return f"done {name}"

    sse_server.script.stream(
        calls_turn(("c1", "slow", '{"name":"x"}'), ("c2", "slow", '{"name":"y"}'))
    )
    sse_server.script.stream(text_stream("ok"))
    messages = await run(opts(sse_server, tools=[slow]))
    results = messages[1].content
    assert [r.tool_use_id for r in results] == ["c1", "c2"]  # call order
    assert [r.content for r in results] == ["done x", "done y"]
    assert not any(r.is_error for r in results)


async def test_errors_are_fed_back_and_the_loop_goes_on(sse_server: SSEServer) -> None:
    @tool
    def divide(a: int, b: int) -> float:
        """Divide."""
        return a / b

    sse_server.script.stream(
        calls_turn(
            ("e1", "divide", '{"a": 1, "b": 0}'),  # raises inside the tool
            ("e2", "divide", '{"a": "x", "b": 1}'),  # fails validation
            ("e3", "nope", "{}"),  # unknown tool
            ("e4", "divide", '{"a": 1,'),  # malformed JSON
        )
    )
    sse_server.script.stream(text_stream("I see the errors."))
    messages = await run(opts(sse_server, tools=[divide]))
    results = {r.tool_use_id: r for r in messages[1].content}
    assert all(r.is_error for r in results.values())
    assert "ZeroDivisionError" in results["e1"].content
    assert "a" in results["e2"].content
    assert "unknown tool 'nope'" in results["e3"].content
    assert "not valid JSON" in results["e4"].content
    sent = sse_server.requests[1].json["messages"]
    assert [m["tool_call_id"] for m in sent if m["role"] == "tool"] == ["e1", "e2", "e3", "e4"]
    assert messages[-1].result == "I see the errors."


async def test_hook_denial_and_permission_callback(sse_server: SSEServer) -> None:
    ran: list[str] = []

    @tool
    def rm(path: str) -> str:
        """Delete a file."""
        ran.append(path)
        return "deleted"

    async def guard(data: Any) -> HookResult | None:
        if data.tool_input.get("path") == "/":
            return HookResult.deny("refusing to delete /")
        return None

    def permission(name: str, arguments: dict[str, Any]) -> Any:
        return PermissionResultDeny(message="not in read-only mode")

    sse_server.script.stream(calls_turn(("h1", "rm", '{"path": "/"}')))
    sse_server.script.stream(text_stream("ok"))
    messages = await run(
        opts(sse_server, tools=[rm], hooks={"PreToolUse": [HookMatcher("rm", [guard])]})
    )
    assert ran == []
    assert "refusing to delete /" in messages[1].content[0].content

    sse_server.script.stream(calls_turn(("h2", "rm", '{"path": "/tmp/x"}')))
    sse_server.script.stream(text_stream("ok"))
    messages = await run(opts(sse_server, tools=[rm], can_use_tool=permission))
    assert ran == []
    assert "not in read-only mode" in messages[1].content[0].content


async def test_max_turns_stops_a_looping_model(sse_server: SSEServer) -> None:
    count = 0

    @tool
    def again() -> str:
        """Call me again."""
        nonlocal count
        count += 1
        return "again"

    sse_server.script.stream(calls_turn(("m", "again", "{}")), times=None)
    messages = await run(opts(sse_server, tools=[again], max_turns=3))
    result = messages[-1]
    assert isinstance(result, ResultMessage)
    assert (result.stop_reason, result.num_turns, result.is_error) == ("max_turns", 3, True)
    assert len(sse_server.requests) == 3
    assert count == 3  # distinct ids per turn; the generated-id path keeps them stable


async def test_a_call_is_never_executed_twice(sse_server: SSEServer) -> None:
    """Turn 2 fails after the tool ran; the caller retries; the tool does not run again."""
    count = 0

    @tool
    def once() -> str:
        """Count."""
        nonlocal count
        count += 1
        return "ran"

    sse_server.script.stream(calls_turn(("same", "once", "{}")))
    sse_server.script.error(500, "backend crashed")
    sse_server.script.stream(text_stream("end"))
    async with Client(opts(sse_server, tools=[once])) as client:
        await client.query("go")
        with pytest.raises(ServerError, match="backend crashed"):
            [m async for m in client.receive_response()]
        await client.query(None)  # retry the failed turn
        messages = [m async for m in client.receive_response()]
    assert count == 1
    assert messages[-1].result == "end"
    retried = sse_server.requests[-1].json["messages"]
    assert [m["role"] for m in retried] == ["user", "assistant", "tool"]


async def test_repeated_server_ids_get_unique_ids(sse_server: SSEServer) -> None:
    """TGI sends id "0" on every turn; each call still runs once and ids stay unique."""
    count = 0

    @tool
    def step() -> str:
        """Count."""
        nonlocal count
        count += 1
        return str(count)

    sse_server.script.stream(calls_turn(("0", "step", "{}")))
    sse_server.script.stream(calls_turn(("0", "step", "{}")))
    sse_server.script.stream(text_stream("end"))
    messages = await run(opts(sse_server, tools=[step]))
    assert count == 2
    ids = [
        b.id
        for m in messages
        if isinstance(m, AssistantMessage)
        for b in m.content
        if isinstance(b, ToolUseBlock)
    ]
    assert len(ids) == len(set(ids)) == 2
    assert messages[-1].num_tool_calls == 2


async def test_user_prompt_hook_rewrites_the_prompt(sse_server: SSEServer) -> None:
    async def shout(data: Any) -> HookResult:
        return HookResult(updated_prompt=data.prompt.upper())

    sse_server.script.stream(text_stream("ok"))
    await run(opts(sse_server, hooks={"UserPromptSubmit": [HookMatcher(None, [shout])]}), "hi")
    assert sse_server.requests[-1].json["messages"][-1] == {"role": "user", "content": "HI"}


async def test_manual_tools_are_not_run_by_the_loop(sse_server: SSEServer) -> None:
    definition = {
        "type": "function",
        "function": {"name": "lookup", "parameters": {"type": "object", "properties": {}}},
    }
    sse_server.script.stream(calls_turn(("x", "lookup", "{}")))
    messages = await run(opts(sse_server, tools=[definition]))
    assert not any(isinstance(m, UserMessage) for m in messages)
    assert messages[-1].stop_reason == "tool_calls"
