"""Reasoning round-trip (issue 14 item 1): a turn's reasoning is kept in ``Client.history``
and sent back on the next request as the provider profile (or ``reasoning_replay``) says; a
server that refuses the field is learnt once, like ``stream_options``.

Streams follow llama-server's real output (docs: ../shared/research/models-and-servers.md
§1.3, the "think + bare JSON" template): ``reasoning_content`` deltas with no ``content``
key, then streamed ``tool_calls``; Ollama's /v1 sends the same as ``reasoning``."""

from __future__ import annotations

from typing import Any

import pytest
from sse_server import SSEServer, chunk, opts, sse, text_stream, tool_call

from any_agent import Client, ConfigurationError, InvalidRequestError, ThinkingBlock, query, tool


@tool
def get_weather(city: str) -> str:
    """Weather for a city."""
    return f"sunny in {city}"


def thinking_then_call(field: str = "reasoning_content") -> bytes:
    """llama-server: reasoning, then a streamed get_weather call, finish tool_calls."""
    return sse(
        chunk(delta={"role": "assistant", "content": None}),
        chunk(delta={field: "The user wants "}),
        chunk(delta={field: "the weather."}),
        chunk(tool_calls=[tool_call(0, id="tDFj", type="function", name="get_weather")]),
        chunk(tool_calls=[tool_call(0, arguments='{"city": "Paris"}')]),
        chunk(finish="tool_calls"),
    )


async def run(options: Any, prompt: str = "weather in Paris?") -> list[Any]:
    return [m async for m in query(prompt, options)]


def replayed(server: SSEServer, request: int = 1) -> dict[str, Any]:
    """The assistant message of ``request``'s messages (the replayed tool-call turn)."""
    return next(
        m for m in server.chat_requests[request].json["messages"] if m["role"] == "assistant"
    )


async def test_reasoning_is_kept_in_history_and_replayed_to_llamacpp(
    sse_server: SSEServer,
) -> None:
    sse_server.script.stream(thinking_then_call())
    sse_server.script.stream(text_stream("Sunny."))
    async with Client(opts(sse_server, provider="llamacpp", tools=[get_weather], max_turns=3)) as c:
        await c.query("weather in Paris?")
        [m async for m in c.receive_response()]
        entry = c.history[1]
    assert entry["role"] == "assistant"
    assert entry["reasoning_content"] == "The user wants the weather."
    sent = replayed(sse_server)
    # llama.cpp's templates read reasoning_content back (tools/server/server-common.cpp)
    assert sent["reasoning_content"] == "The user wants the weather."
    assert sent["tool_calls"][0]["function"]["name"] == "get_weather"


@pytest.mark.parametrize(
    ("mode", "expected"),
    [
        ("reasoning_content", {"reasoning_content": "The user wants the weather.", "content": ""}),
        ("reasoning", {"reasoning": "The user wants the weather.", "content": ""}),
        ("tags", {"content": "<think>\nThe user wants the weather.\n</think>\n\n"}),
        ("off", {"content": ""}),
    ],
)
async def test_reasoning_replay_option_overrides_the_profile(
    sse_server: SSEServer, mode: str, expected: dict[str, Any]
) -> None:
    sse_server.script.stream(thinking_then_call())
    sse_server.script.stream(text_stream("Sunny."))
    await run(
        opts(
            sse_server, provider="llamacpp", tools=[get_weather], max_turns=3, reasoning_replay=mode
        )
    )
    sent = replayed(sse_server)
    assert {k: v for k, v in sent.items() if k not in ("role", "tool_calls")} == expected


async def test_ollama_gets_reasoning_back_in_its_own_field(sse_server: SSEServer) -> None:
    # Ollama's /v1 streams `reasoning` deltas and reads `reasoning` on assistant messages
    sse_server.script.stream(thinking_then_call("reasoning"))
    sse_server.script.stream(text_stream("Sunny."))
    await run(opts(sse_server, provider="ollama", tools=[get_weather], max_turns=3))
    sent = replayed(sse_server)
    assert sent["reasoning"] == "The user wants the weather."
    assert "reasoning_content" not in sent


async def test_unknown_server_is_not_sent_reasoning(sse_server: SSEServer) -> None:
    sse_server.script.stream(thinking_then_call())
    sse_server.script.stream(text_stream("Sunny."))
    await run(opts(sse_server, tools=[get_weather], max_turns=3))
    sent = replayed(sse_server)
    assert set(sent) == {"role", "content", "tool_calls"}


async def test_think_tags_in_content_are_kept_as_reasoning(sse_server: SSEServer) -> None:
    # llama-server with reasoning_format "none": <think> arrives inside content
    sse_server.script.stream(
        sse(
            chunk(delta={"role": "assistant", "content": None}),
            chunk("<think>\n2 + 3 equals 5.\n</think>"),
            chunk("5"),
            chunk(finish="stop"),
        )
    )
    sse_server.script.stream(text_stream("Yes."))
    async with Client(opts(sse_server, provider="llamacpp")) as c:
        await c.query("What is 2+3?")
        [m async for m in c.receive_response()]
        await c.query("Sure?")
        [m async for m in c.receive_response()]
        entry = c.history[1]
    assert entry["content"] == "5"
    assert entry["reasoning_content"].strip() == "2 + 3 equals 5."
    sent = sse_server.chat_requests[1].json["messages"][1]
    assert sent["content"] == "5"
    assert sent["reasoning_content"].strip() == "2 + 3 equals 5."


async def test_a_plain_text_turn_replays_its_reasoning_too(sse_server: SSEServer) -> None:
    sse_server.script.stream(
        sse(chunk(reasoning="Prime check."), chunk("No"), chunk(finish="stop"))
    )
    sse_server.script.stream(text_stream("Because 13 x 17."))
    async with Client(opts(sse_server, provider="llamacpp")) as c:
        await c.query("Is 221 prime?")
        [m async for m in c.receive_response()]
        await c.query("Why?")
        [m async for m in c.receive_response()]
    assert sse_server.chat_requests[1].json["messages"][1] == {
        "role": "assistant",
        "content": "No",
        "reasoning_content": "Prime check.",
    }


@pytest.mark.parametrize(
    "refusal",
    [
        # OpenAI-style strict validation
        (400, "Additional properties are not allowed ('reasoning_content' was unexpected)"),
        # a pydantic/FastAPI server forbidding extra fields (422 detail, as error_body renders it)
        (422, "body.messages.1.assistant.reasoning_content: Extra inputs are not permitted"),
    ],
)
async def test_a_server_refusing_replayed_reasoning_is_learnt_once(
    sse_server: SSEServer, refusal: tuple[int, str]
) -> None:
    sse_server.script.stream(thinking_then_call())
    sse_server.script.error(*refusal)
    sse_server.script.stream(text_stream("Sunny."))
    sse_server.script.stream(thinking_then_call())
    sse_server.script.stream(text_stream("Sunny again."))
    async with Client(opts(sse_server, provider="llamacpp", tools=[get_weather], max_turns=3)) as c:
        await c.query("weather in Paris?")
        messages = [m async for m in c.receive_response()]
        assert messages[-1].result == "Sunny."
        await c.query("and now?")
        [m async for m in c.receive_response()]
        # history keeps the reasoning even though the server is not sent it
        assert c.history[1]["reasoning_content"] == "The user wants the weather."
    carried = [
        any("reasoning_content" in m for m in r.json["messages"]) for r in sse_server.chat_requests
    ]
    assert carried == [False, True, False, False, False]


async def test_both_stream_options_and_reasoning_refused_are_both_learnt(
    sse_server: SSEServer,
) -> None:
    sse_server.script.stream(thinking_then_call())
    sse_server.script.error(400, "Unrecognized request argument supplied: stream_options")
    sse_server.script.error(400, "'reasoning_content' was unexpected")
    sse_server.script.stream(text_stream("Sunny."))
    messages = await run(opts(sse_server, provider="llamacpp", tools=[get_weather], max_turns=3))
    assert messages[-1].result == "Sunny."
    last = sse_server.chat_requests[-1].json
    assert "stream_options" not in last
    assert not any("reasoning_content" in m for m in last["messages"])
    assert len(sse_server.chat_requests) == 4


async def test_a_refusal_naming_another_reasoning_field_is_not_learnt(
    sse_server: SSEServer,
) -> None:
    # "reasoning_effort" contains "reasoning": a server refusing it says nothing about replay
    sse_server.script.stream(thinking_then_call("reasoning"))
    sse_server.script.error(400, "Unrecognized request argument supplied: reasoning_effort")
    with pytest.raises(InvalidRequestError, match="reasoning_effort"):
        await run(opts(sse_server, provider="ollama", tools=[get_weather], max_turns=3))
    assert len(sse_server.chat_requests) == 2


async def test_a_refusal_that_only_echoes_the_field_is_forgotten(sse_server: SSEServer) -> None:
    sse_server.script.stream(thinking_then_call())
    sse_server.script.error(400, "flagged: 'what is reasoning_content'", times=2)
    with pytest.raises(InvalidRequestError):
        await run(opts(sse_server, provider="llamacpp", tools=[get_weather], max_turns=3))
    carried = [
        any("reasoning_content" in m for m in r.json["messages"]) for r in sse_server.chat_requests
    ]
    assert carried == [False, True, False]


async def test_saved_history_with_reasoning_loads_and_is_replayed(sse_server: SSEServer) -> None:
    sse_server.script.stream(text_stream("Fine."))
    saved = [
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": "hello", "reasoning_content": "Greet back."},
    ]
    async with Client(opts(sse_server, provider="llamacpp"), history=saved) as c:
        await c.query("how are you?")
        [m async for m in c.receive_response()]
    assert sse_server.chat_requests[0].json["messages"][1]["reasoning_content"] == "Greet back."


async def test_old_history_without_reasoning_still_loads(sse_server: SSEServer) -> None:
    sse_server.script.stream(text_stream("Fine."))
    saved = [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]
    async with Client(opts(sse_server, provider="llamacpp"), history=saved) as c:
        await c.query("how are you?")
        [m async for m in c.receive_response()]
    assert sse_server.chat_requests[0].json["messages"][1] == {
        "role": "assistant",
        "content": "hello",
    }


def test_saved_reasoning_that_is_not_text_is_refused_by_name(sse_server: SSEServer) -> None:
    saved = [{"role": "assistant", "content": "x", "reasoning_content": {"nested": 1}}]
    with pytest.raises(ConfigurationError, match=r"history\[0\]\.reasoning_content"):
        Client(opts(sse_server), history=saved)


def test_reasoning_replay_must_be_a_known_mode(sse_server: SSEServer) -> None:
    with pytest.raises(ConfigurationError, match="reasoning_replay"):
        opts(sse_server, reasoning_replay="field")


async def test_thinking_block_still_reaches_the_caller(sse_server: SSEServer) -> None:
    sse_server.script.stream(sse(chunk(reasoning="Hmm."), chunk("ok"), chunk(finish="stop")))
    messages = await run(opts(sse_server, provider="llamacpp"))
    assert ThinkingBlock("Hmm.") in messages[0].content
