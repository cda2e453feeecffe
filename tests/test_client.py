"""Client and query() against the scripted loopback server: streaming, history, errors."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import pytest
from sse_server import SSEServer, chunk, events, opts, sse, text_stream, tool_call, usage_chunk

from any_agent import (
    AgentOptions,
    AssistantMessage,
    Client,
    ConfigurationError,
    ConnectionFailedError,
    ContextLengthExceededError,
    FirstTokenTimeoutError,
    HTTPStatusError,
    IdleTimeoutError,
    InvalidRequestError,
    ModelNotFoundError,
    OverallTimeoutError,
    RateLimitError,
    ResultMessage,
    ServerError,
    StreamError,
    StreamEvent,
    StreamTruncatedError,
    TextBlock,
    ThinkingBlock,
    ToolResultError,
    ToolUseBlock,
    ToolUseError,
    query,
)
from any_agent._agent.turn import ServerFacts

WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
    },
}


async def collect(options: AgentOptions, prompt: str = "hi") -> list[Any]:
    return [m async for m in query(prompt, options)]


# -- streaming ---------------------------------------------------------------------------------


async def test_query_yields_one_assistant_message_then_result(sse_server: SSEServer) -> None:
    sse_server.script.stream(text_stream("Hel", "lo", usage=(7, 2)))
    messages = await collect(opts(sse_server))
    assert [type(m) for m in messages] == [AssistantMessage, ResultMessage]
    assistant, result = messages
    assert assistant.content == [TextBlock("Hello")]
    assert assistant.stop_reason == "stop"
    assert result.result == "Hello"
    assert result.stop_reason == "stop"
    assert not result.is_error
    assert result.num_turns == 1
    assert (result.usage.prompt_tokens, result.usage.completion_tokens) == (7, 2)
    assert result.time_to_first_token_ms is not None


async def test_first_text_arrives_while_the_server_still_holds_the_rest(
    sse_server: SSEServer,
) -> None:
    """Timing-free proof of streaming: the server sends one token and then holds the
    connection open forever; a buffering client would never yield anything."""
    first = events(chunk(role="assistant", content=""), chunk("Hello"), done=False)
    sse_server.script.stream(*first, end="hang")
    async with Client(opts(sse_server)) as client:
        await client.query("hi")
        got = []
        async for block in client.receive_messages():
            got.append(block)
            if block == TextBlock("Hello"):
                await client.interrupt()
        assert got[0] == TextBlock("Hello")
        assert isinstance(got[1], ResultMessage)
        assert got[1].stop_reason == "interrupted"
        assert client.history[-1] == {"role": "assistant", "content": "Hello"}
    await asyncio.to_thread(sse_server.wait_until, lambda: sse_server.client_disconnects >= 1)


async def test_partial_messages_give_token_deltas(sse_server: SSEServer) -> None:
    sse_server.script.stream(text_stream("a", "b", "c"))
    messages = await collect(opts(sse_server, include_partial_messages=True))
    deltas = [m.delta for m in messages if isinstance(m, StreamEvent) and m.type == "text_delta"]
    assert deltas == ["a", "b", "c"]
    assert isinstance(messages[-2], AssistantMessage)


async def test_receive_messages_streams_blocks_then_result(sse_server: SSEServer) -> None:
    stream = sse(
        chunk(role="assistant", content=""),
        chunk(reasoning="think"),
        chunk("A"),
        chunk("B"),
        chunk(tool_calls=[tool_call(0, id="c1", name="get_weather", arguments='{"city":"P"}')]),
        chunk(finish="tool_calls"),
    )
    sse_server.script.stream(stream)
    async with Client(opts(sse_server, tools=[WEATHER])) as client:
        await client.query("hi")
        got = [b async for b in client.receive_messages()]
    assert got[:4] == [
        ThinkingBlock("think"),
        TextBlock("A"),
        TextBlock("B"),
        ToolUseBlock("c1", "get_weather", {"city": "P"}),
    ]
    assert isinstance(got[4], ResultMessage)
    assert got[4].stop_reason == "tool_calls"


async def test_request_shape(sse_server: SSEServer) -> None:
    sse_server.script.stream(text_stream("ok"))
    await collect(
        opts(
            sse_server,
            system_prompt="sys",
            temperature=0.2,
            max_tokens=64,
            tools=[WEATHER],
            extra_body={"seed": 7},
        ),
        "question",
    )
    body = sse_server.requests[-1].json
    assert body["model"] == "test-model"
    assert body["stream"] is True
    assert body["stream_options"] == {"include_usage": True}
    assert body["messages"] == [
        {"role": "system", "content": "sys"},
        {"role": "user", "content": "question"},
    ]
    assert (body["temperature"], body["max_tokens"], body["seed"]) == (0.2, 64, 7)
    assert body["tools"][0]["function"]["name"] == "get_weather"
    assert sse_server.requests[-1].headers["authorization"] == "Bearer not-needed"


async def test_server_that_rejects_stream_options_is_retried_without(
    sse_server: SSEServer,
) -> None:
    sse_server.script.error(400, "Unrecognized request argument: stream_options")
    sse_server.script.stream(text_stream("fine"))
    messages = await collect(opts(sse_server))
    assert messages[-1].result == "fine"
    assert "stream_options" not in sse_server.requests[-1].json


async def test_a_refused_stream_options_is_learnt_once_per_client(sse_server: SSEServer) -> None:
    """The second query of the client asks without it at once: one refused request in all."""
    sse_server.script.error(422, "body.stream_options: Extra inputs are not permitted")
    sse_server.script.stream(text_stream("x"), times=2)
    async with Client(opts(sse_server)) as client:
        for _ in range(2):
            await client.query("hi")
            [m async for m in client.receive_response()]
    assert len(sse_server.requests) == 3
    assert ["stream_options" in r.json for r in sse_server.requests] == [True, False, False]


async def test_a_request_refused_again_is_not_sent_a_third_time(sse_server: SSEServer) -> None:
    sse_server.script.error(400, "Unrecognized request argument supplied: stream_options", times=2)
    with pytest.raises(InvalidRequestError, match="stream_options"):
        await collect(opts(sse_server))
    assert len(sse_server.requests) == 2


async def test_a_refusal_that_only_echoes_stream_options_does_not_drop_usage(
    sse_server: SSEServer,
) -> None:
    """A 400 quoting the user's prompt names the field by accident: refused again without the
    field, the client forgets the fact, and its next query still asks for usage."""
    sse_server.script.error(400, "Prompt flagged: 'what does stream_options do'", times=2)
    sse_server.script.stream(text_stream("x", usage=(3, 1)))
    async with Client(opts(sse_server)) as client:
        await client.query("what does stream_options do")
        with pytest.raises(InvalidRequestError, match="flagged"):
            [m async for m in client.receive_response()]
        await client.query("hi")
        messages = [m async for m in client.receive_response()]
    assert messages[-1].usage.completion_tokens == 1
    assert ["stream_options" in r.json for r in sse_server.requests] == [True, False, True]


async def test_an_interrupt_between_a_refusal_and_its_retry_sends_no_retry(
    sse_server: SSEServer,
) -> None:
    """Client.interrupt() arriving while the refused request closes is honoured at once: the
    retry is not sent (it would otherwise run until its first event or first_token_timeout)."""
    sse_server.script.error(400, "Unrecognized request argument supplied: stream_options")
    sse_server.script.stream(text_stream("late"))
    async with Client(opts(sse_server)) as client:
        agent = client._agent

        class Facts(ServerFacts):
            def learn(self, exc: InvalidRequestError) -> bool:
                agent.interrupt()  # the interrupt lands in the gap between the two requests
                return super().learn(exc)

        agent.turns.facts = Facts(stream_usage=True)
        await client.query("q")
        messages = [m async for m in client.receive_response()]
        history = client.history
    assert messages[-1].subtype == "interrupted"
    assert len(sse_server.requests) == 1
    assert history == [{"role": "user", "content": "q"}]


async def test_a_refusal_not_naming_stream_options_is_not_retried(sse_server: SSEServer) -> None:
    sse_server.script.error(400, "'messages' is required")
    with pytest.raises(InvalidRequestError, match="messages"):
        await collect(opts(sse_server))
    assert len(sse_server.requests) == 1


async def test_connection_is_reused_across_requests(sse_server: SSEServer) -> None:
    sse_server.script.stream(text_stream("x"), times=5)
    async with Client(opts(sse_server)) as client:
        for _ in range(5):
            await client.query("hi")
            [m async for m in client.receive_response()]
    assert sse_server.connections_accepted == 1


# -- multi-turn and tools ----------------------------------------------------------------------


async def test_manual_tool_loop_sends_the_result_on_turn_two(sse_server: SSEServer) -> None:
    turn1 = sse(
        chunk(role="assistant", content=None),
        chunk(
            tool_calls=[
                tool_call(0, id="call_1", type="function", name="get_weather", arguments="")
            ]
        ),
        chunk(tool_calls=[tool_call(0, arguments='{"city":')]),
        chunk(tool_calls=[tool_call(0, arguments=' "Paris"}')]),
        chunk(finish="tool_calls"),
    )
    sse_server.script.stream(turn1)
    sse_server.script.stream(text_stream("Sunny."))
    async with Client(opts(sse_server, tools=[WEATHER], max_turns=3)) as client:
        await client.query("weather?")
        async for block in client.receive_messages():
            if isinstance(block, ToolUseBlock):
                assert block.input == {"city": "Paris"}
                client.add_tool_result(block.id, {"temp": 21})
            elif isinstance(block, ResultMessage):
                assert block.num_turns == 2
                assert block.result == "Sunny."
    sent = sse_server.requests[-1].json["messages"]
    assert sent[1] == {
        "role": "assistant",
        "content": "",
        "tool_calls": [
            {
                "id": "call_1",
                "type": "function",
                "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'},
            }
        ],
    }
    assert sent[2] == {"role": "tool", "tool_call_id": "call_1", "content": '{"temp":21}'}
    assert isinstance(json.loads(sent[1]["tool_calls"][0]["function"]["arguments"]), dict)


async def test_unanswered_tool_call_ends_the_run_and_query_none_continues(
    sse_server: SSEServer,
) -> None:
    sse_server.script.stream(
        sse(
            chunk(tool_calls=[tool_call(0, id="c9", name="get_weather", arguments="{}")]),
            chunk(finish="tool_calls"),
        )
    )
    sse_server.script.stream(text_stream("done"))
    async with Client(opts(sse_server, tools=[WEATHER], max_turns=5)) as client:
        await client.query("go")
        result = [m async for m in client.receive_response()][-1]
        assert result.stop_reason == "tool_calls"
        assert not result.is_error
        client.add_tool_result("c9", "42")
        await client.query(None)
        result = [m async for m in client.receive_response()][-1]
        assert result.result == "done"
    roles = [m["role"] for m in sse_server.requests[-1].json["messages"]]
    assert roles == ["user", "assistant", "tool"]


async def test_malformed_arguments_stay_in_history_and_the_model_is_told(
    sse_server: SSEServer,
) -> None:
    sse_server.script.stream(
        sse(
            chunk(tool_calls=[tool_call(0, id="bad", name="get_weather", arguments='{"city": ')]),
            chunk(finish="tool_calls"),
        )
    )
    sse_server.script.stream(text_stream("sorry"))
    messages = await collect(opts(sse_server, tools=[WEATHER], max_turns=2))
    error = messages[0].content[0]
    assert isinstance(error, ToolUseError)
    assert error.raw_arguments == '{"city": '
    sent = sse_server.requests[-1].json["messages"]
    assert sent[1]["tool_calls"][0]["function"]["arguments"] == "{}"  # valid JSON on the wire
    assert sent[2]["role"] == "tool"
    assert "not valid JSON" in sent[2]["content"]


async def test_max_turns_is_enforced(sse_server: SSEServer) -> None:
    call = sse(
        chunk(tool_calls=[tool_call(0, id="c", name="get_weather", arguments="{}")]),
        chunk(finish="tool_calls"),
    )
    sse_server.script.stream(call, times=None)
    async with Client(opts(sse_server, tools=[WEATHER], max_turns=2)) as client:
        await client.query("loop")
        async for block in client.receive_messages():
            if isinstance(block, ToolUseBlock):
                client.add_tool_result(block.id, "again")
            elif isinstance(block, ResultMessage):
                assert block.stop_reason == "max_turns"
                assert block.is_error
                assert block.num_turns == 2
    assert len(sse_server.requests) == 2


async def test_history_round_trips_through_json(sse_server: SSEServer) -> None:
    sse_server.script.stream(text_stream("first"))
    sse_server.script.stream(text_stream("second"))
    async with Client(opts(sse_server)) as client:
        await client.query("one")
        [m async for m in client.receive_response()]
        saved = json.dumps(client.history)
    async with Client(opts(sse_server), history=json.loads(saved)) as restored:
        await restored.query("two")
        [m async for m in restored.receive_response()]
    assert [m["content"] for m in sse_server.requests[-1].json["messages"]] == [
        "one",
        "first",
        "two",
    ]


def test_add_tool_result_for_unknown_id_names_it() -> None:
    client = Client(AgentOptions(model="m", base_url="http://127.0.0.1:9/v1"))
    with pytest.raises(ToolResultError, match="'nope'"):
        client.add_tool_result("nope", "x")


async def test_prompt_must_be_a_string() -> None:
    client = Client(AgentOptions(model="m", base_url="http://127.0.0.1:9/v1"))
    with pytest.raises(ConfigurationError, match="prompt must be a string"):
        await client.query(42)  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="prompt must be a string"):
        [m async for m in query(b"bytes", AgentOptions(model="m", base_url="http://x:1/v1"))]  # type: ignore[arg-type]


async def test_receiving_before_query_is_an_error() -> None:
    client = Client(AgentOptions(model="m", base_url="http://127.0.0.1:9/v1"))
    with pytest.raises(ConfigurationError, match="query"):
        [m async for m in client.receive_response()]


# -- errors ------------------------------------------------------------------------------------


async def test_connection_refused() -> None:
    options = AgentOptions(model="m", base_url="http://127.0.0.1:9/v1", max_retries=0)
    with pytest.raises(ConnectionFailedError, match=r"127\.0\.0\.1:9") as info:
        await collect(options)
    assert info.value.url == "http://127.0.0.1:9/v1"


@pytest.mark.parametrize(
    ("status", "message", "error"),
    [
        (400, "'messages' is required", InvalidRequestError),
        (422, "validation failed", InvalidRequestError),
        (400, "This model's maximum context length is 4096 tokens", ContextLengthExceededError),
        (500, "boom", ServerError),
        (503, "loading model", ServerError),
        (401, "bad key", HTTPStatusError),
        (429, "slow down", RateLimitError),
    ],
)
async def test_http_errors_are_typed(
    sse_server: SSEServer, status: int, message: str, error: type[Exception]
) -> None:
    sse_server.script.error(status, message)
    with pytest.raises(error, match=message.split("'")[-1][:20]) as info:
        await collect(opts(sse_server))
    assert isinstance(info.value, HTTPStatusError)
    assert info.value.status == status
    assert message in info.value.message


async def test_unknown_model_lists_the_served_models(sse_server: SSEServer) -> None:
    sse_server.script.error(404, "The model `nope` does not exist.", code="model_not_found")
    with pytest.raises(ModelNotFoundError) as info:
        await collect(opts(sse_server, model="nope"))
    assert info.value.model == "nope"
    assert info.value.available  # from GET /v1/models
    assert all(m in str(info.value) for m in info.value.available)


async def test_error_event_mid_stream(sse_server: SSEServer) -> None:
    sse_server.script.stream(
        sse(chunk("partial"), {"error": {"message": "CUDA out of memory", "type": "server_error"}})
    )
    with pytest.raises(StreamError, match="out of memory") as info:
        await collect(opts(sse_server))
    assert info.value.error_type == "server_error"


async def test_stream_cut_before_finish_is_truncation(sse_server: SSEServer) -> None:
    sse_server.script.stream(sse(chunk("partial"), done=False), end="close")
    with pytest.raises(StreamTruncatedError, match="incomplete"):
        await collect(opts(sse_server))


async def test_done_missing_after_finish_is_fine(sse_server: SSEServer) -> None:
    sse_server.script.stream(sse(chunk("whole"), chunk(finish="stop"), done=False))
    assert (await collect(opts(sse_server)))[-1].result == "whole"


async def test_first_token_timeout(sse_server: SSEServer) -> None:
    sse_server.script.drop(stall=30, end="hang")
    started = time.monotonic()
    with pytest.raises(FirstTokenTimeoutError) as info:
        await collect(opts(sse_server, first_token_timeout=0.3))
    assert info.value.limit == 0.3
    assert time.monotonic() - started < 5  # bounded: a generous multiple of the limit


async def test_idle_timeout(sse_server: SSEServer) -> None:
    sse_server.script.stream(*events(chunk("a"), done=False), end="hang")
    started = time.monotonic()
    with pytest.raises(IdleTimeoutError):
        await collect(opts(sse_server, idle_timeout=0.3))
    assert time.monotonic() - started < 5


async def test_overall_timeout(sse_server: SSEServer) -> None:
    sse_server.script.stream(
        *events(chunk("a"), done=False), end="trickle", trickle=b": ping\n\n", every=0.05
    )
    started = time.monotonic()
    with pytest.raises(OverallTimeoutError):
        await collect(opts(sse_server, timeout=0.5, idle_timeout=5))
    assert time.monotonic() - started < 5


async def test_after_an_error_the_same_client_goes_on_with_its_history(
    sse_server: SSEServer,
) -> None:
    sse_server.script.stream(text_stream("one"))
    sse_server.script.stream(sse(chunk("par"), done=False), end="close")
    sse_server.script.stream(text_stream("three"))
    async with Client(opts(sse_server)) as client:
        await client.query("1")
        [m async for m in client.receive_response()]
        await client.query("2")
        with pytest.raises(StreamTruncatedError):
            [m async for m in client.receive_response()]
        assert client.history == [
            {"role": "user", "content": "1"},
            {"role": "assistant", "content": "one"},
            {"role": "user", "content": "2"},
        ]
        await client.query("3")
        result = [m async for m in client.receive_response()][-1]
        assert result.result == "three"


async def test_usage_trailer_after_finish(sse_server: SSEServer) -> None:
    sse_server.script.stream(sse(chunk("x"), chunk(finish="stop"), usage_chunk(3, 1)))
    result = (await collect(opts(sse_server)))[-1]
    assert result.usage.total_tokens == 4


async def test_transformers_serve_pinned_model_is_a_missing_model(sse_server: SSEServer) -> None:
    """transformers serve answers 400 {"detail": "Server is pinned to ..."} for another model
    (cassettes/transformers/*/errors.unknown-model.sdk.yaml)."""
    from sse_server import Reply

    body = {"detail": "Server is pinned to 'qwen-hf'; requested 'nope'."}
    sse_server.script.add(Reply(400, {}, body))
    with pytest.raises(ModelNotFoundError, match="pinned") as info:
        await collect(opts(sse_server, model="nope"))
    assert info.value.status == 400
