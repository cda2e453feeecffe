"""A cache-friendly loop (issue 14 item 4): consecutive requests of one conversation share a
byte-identical prefix, so llama.cpp and vLLM reuse their KV cache; and the cache and
reasoning token counts servers report reach ``Usage``.

The prefix is compared on the raw request bytes the scripted server received: everything
of request N up to the end of its ``messages`` array must begin request N+1, and the
``tools`` array must be the same bytes every time."""

from __future__ import annotations

import itertools
from typing import Any

from sse_server import CHAT, SSEServer, chunk, opts, sse, text_stream, tool_call

from any_agent import Client, ResultMessage, Usage, query, tool


@tool
def get_weather(city: str, units: str = "C") -> str:
    """Weather for a city."""
    return f"sunny in {city}"


@tool
def lookup(word: str, n: int = 0) -> str:
    """Look a word up."""
    return f"{word}: a word"


def calls(*items: tuple[str, str, str], reasoning: str = "") -> bytes:
    """One turn: optional reasoning, then parallel calls ``(id, name, arguments)`` whose
    arguments are written with the spacing and key order a model uses."""
    events: list[dict[str, Any]] = [chunk(delta={"role": "assistant", "content": None})]
    if reasoning:
        events.append(chunk(reasoning=reasoning))
    for i, (cid, name, args) in enumerate(items):
        events.append(chunk(tool_calls=[tool_call(i, id=cid, type="function", name=name)]))
        events.append(chunk(tool_calls=[tool_call(i, arguments=args)]))
    events.append(chunk(finish="tool_calls"))
    return sse(*events)


def messages_prefix(body: bytes) -> bytes:
    """``body`` up to (not including) the ``]`` that closes its messages array (the openai
    client sends ``model``, ``stream``, then ``messages``)."""
    end = body.index(b'],"stream_options":')
    assert body.startswith(b'{"model":')
    assert b'"messages":[' in body[:end]
    return body[:end]


def tools_bytes(body: bytes) -> bytes:
    start = body.index(b'"tools":')
    depth = 0
    for i in range(start + len(b'"tools":'), len(body)):
        depth += {ord("["): 1, ord("]"): -1}.get(body[i], 0)
        if depth == 0:
            return body[start : i + 1]
    raise AssertionError("unterminated tools array")


async def test_consecutive_requests_share_a_byte_identical_prefix(sse_server: SSEServer) -> None:
    script = sse_server.script
    script.stream(
        calls(
            ("call_1", "get_weather", '{ "units": "F",  "city": "Paris" }'),
            ("call_2", "lookup", '{"word":"\\u00e9t\\u00e9", "n": 12345678901234567890}'),
            reasoning="Two lookups.",
        )
    )
    script.stream(calls(("0", "lookup", '{"word": "x"}')))  # TGI-style id, reused next turn
    script.stream(text_stream("Done."))
    script.stream(calls(("0", "get_weather", '{"city":"Rome"}')))
    script.stream(text_stream("Done again."))
    options = opts(
        sse_server,
        provider="llamacpp",
        system_prompt="You are terse.",
        tools=[get_weather, lookup],
        max_turns=5,
    )
    async with Client(options) as client:
        for prompt in ("weather and word?", "and Rome?"):
            await client.query(prompt)
            [m async for m in client.receive_response()]
    # the llamacpp profile also asks /props and /v1/models once (GETs): only chat requests count
    bodies = [r.body for r in sse_server.requests if r.method == "POST" and r.path == CHAT]
    assert len(bodies) == 5
    for before, after in itertools.pairwise(bodies):
        assert after.startswith(messages_prefix(before))
        assert tools_bytes(after) == tools_bytes(before)


async def test_cached_and_reasoning_tokens_reach_usage(sse_server: SSEServer) -> None:
    # vLLM / llama-server: prompt_tokens_details.cached_tokens; OpenAI-style
    # completion_tokens_details.reasoning_tokens
    usage = {
        "prompt_tokens": 178,
        "completion_tokens": 36,
        "total_tokens": 214,
        "prompt_tokens_details": {"cached_tokens": 160},
        "completion_tokens_details": {"reasoning_tokens": 20},
    }
    sse_server.script.stream(
        sse(
            chunk(reasoning="hm"),
            chunk("ok"),
            chunk(finish="stop"),
            {**chunk(), "choices": [], "usage": usage},
        )
    )
    messages = [m async for m in query("hi", opts(sse_server))]
    result = messages[-1]
    assert isinstance(result, ResultMessage)
    assert result.usage == Usage(178, 36, 214, cached_tokens=160, reasoning_tokens=20)


async def test_llamacpp_timings_cache_n_is_the_cached_count(sse_server: SSEServer) -> None:
    # older llama-server: no prompt_tokens_details, the reuse is in timings.cache_n
    final = {
        **chunk(),
        "choices": [],
        "usage": {"prompt_tokens": 54, "completion_tokens": 26, "total_tokens": 80},
        "timings": {"cache_n": 48, "prompt_n": 6, "predicted_n": 26},
    }
    sse_server.script.stream(sse(chunk("No"), chunk(finish="stop"), final))
    messages = [m async for m in query("hi", opts(sse_server, provider="llamacpp"))]
    assert messages[-1].usage == Usage(54, 26, 80, cached_tokens=48)


async def test_servers_that_send_no_details_leave_them_unknown(sse_server: SSEServer) -> None:
    sse_server.script.stream(text_stream("ok", usage=(10, 2)))
    messages = [m async for m in query("hi", opts(sse_server))]
    usage = messages[-1].usage
    assert (usage.cached_tokens, usage.reasoning_tokens) == (None, None)


def test_usage_add_sums_the_details() -> None:
    a = Usage(10, 5, 15, cached_tokens=4, reasoning_tokens=None)
    b = Usage(20, 5, 25, cached_tokens=None, reasoning_tokens=3)
    assert a + b == Usage(30, 10, 40, cached_tokens=4, reasoning_tokens=3)
    assert Usage() + Usage() == Usage()
