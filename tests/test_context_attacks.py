"""Attacks on the context helper's work (issue 14 items 3, 5, 6): hostile metadata answers,
the guard's edges, images, slots and transient retries."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from sse_server import (
    CHAT,
    PROPS,
    TOKENIZE,
    Reply,
    Request,
    Scenario,
    SSEServer,
    chunk,
    llamacpp_props,
    opts,
    sse,
    text_stream,
)

from any_agent import (
    Client,
    ConfigurationError,
    ContextLengthExceededError,
    ImageBlock,
    ResultMessage,
)
from any_agent._agent.context import DROP_COUNTS
from any_agent._agent.slots import slots_for
from any_agent._wire.images import image_part


def _chats(server: SSEServer) -> int:
    return sum(1 for r in server.requests if r.path == CHAT)


def _chat_bodies(server: SSEServer) -> list[dict[str, Any]]:
    return [r.json for r in server.requests if r.path == CHAT]


async def _answer(client: Client, prompt: str) -> ResultMessage:
    await client.query(prompt)
    result = None
    async for message in client.receive_response():
        if isinstance(message, ResultMessage):
            result = message
    assert result is not None
    return result


async def test_interrupt_while_queued_for_a_slot_stops_at_once_and_sends_nothing(
    sse_server: SSEServer, script: Scenario
) -> None:
    script.stream(sse(chunk("busy"), done=False), end="hang")  # holds the one slot
    script.stream(text_stream("never asked for"))
    holder = Client(opts(sse_server, max_concurrent_requests=1))
    held = asyncio.ensure_future(_answer(holder, "one"))
    await sse_server.until(lambda: _chats(sse_server) == 1)
    # no deadline of its own: only interrupt() can end its wait
    waiter = Client(
        opts(sse_server, max_concurrent_requests=1, first_token_timeout=None, timeout=None)
    )
    queued = asyncio.ensure_future(_answer(waiter, "two"))
    slots = slots_for(sse_server.url, 1)
    await sse_server.until(lambda: slots.waiting == 1)
    await waiter.interrupt()
    result = await asyncio.wait_for(queued, 10)
    assert result.stop_reason == "interrupted"
    assert slots.waiting == 0
    await holder.interrupt()
    await asyncio.wait_for(held, 10)
    assert _chats(sse_server) == 1  # the interrupted turn was never sent
    assert slots.in_use == 0
    await holder.close()
    await waiter.close()


async def test_interrupt_while_the_guard_asks_the_window_stops_at_once(
    sse_server: SSEServer, script: Scenario
) -> None:
    # a llama-server whose /props answers slowly (loading): the guard asks it before sending
    script.json(llamacpp_props(32768), path=PROPS, method="GET", stall=30)
    script.stream(text_stream("never asked for"))
    client = Client(opts(sse_server, provider="llamacpp", server_info_timeout=25))
    task = asyncio.ensure_future(_answer(client, "hi"))
    await sse_server.until(lambda: any(r.path == PROPS for r in sse_server.requests))
    await client.interrupt()
    result = await asyncio.wait_for(task, 10)
    assert result.stop_reason == "interrupted"
    assert _chats(sse_server) == 0
    assert client.history == [{"role": "user", "content": "hi"}]
    await client.close()


async def test_replayed_reasoning_counts_against_the_window(
    sse_server: SSEServer, script: Scenario
) -> None:
    # llama.cpp replays a turn's reasoning as reasoning_content: it is prompt text too
    history = [
        {"role": "user", "content": "think hard"},
        {"role": "assistant", "content": "done", "reasoning_content": "step " * 20_000},
    ]
    script.stream(text_stream("never sent"))
    options = opts(sse_server, provider="llamacpp", context_window=4096, max_tokens=64)
    async with Client(options, history=history) as client:
        await client.query("and now?")
        with pytest.raises(ContextLengthExceededError):
            [m async for m in client.receive_response()]
    assert _chats(sse_server) == 0


def _llamacpp_tokenize(request: Request) -> Reply:
    # llama-server's /tokenize: {"tokens": [...]}, here one token per 4 bytes of content
    content = request.json.get("content", "") if isinstance(request.json, dict) else ""
    return Reply(body={"tokens": list(range(len(content.encode()) // 4))})


def _long_history(turns: int) -> list[dict[str, object]]:
    history: list[dict[str, object]] = []
    for i in range(turns):
        history += [
            {"role": "user", "content": f"question {i} " + "pad " * 100},
            {"role": "assistant", "content": f"answer {i} " + "pad " * 100},
        ]
    return history


async def test_drop_oldest_asks_tokenize_a_bounded_number_of_times(
    sse_server: SSEServer, script: Scenario
) -> None:
    script.add(_llamacpp_tokenize, path=TOKENIZE, times=None)
    script.stream(text_stream("ok"))
    options = opts(
        sse_server,
        provider="llamacpp",
        context_window=2000,
        on_context_overflow="drop_oldest",
        max_tokens=64,
    )
    async with Client(options, history=_long_history(300)) as client:
        await client.query("the last question")
        [m async for m in client.receive_response()]
        assert len(client.history) == 600 + 2
    tokenized = sum(1 for r in sse_server.requests if r.path == TOKENIZE)
    assert 1 <= tokenized <= 1 + DROP_COUNTS  # was one request per dropped turn (~290)
    sent = _chat_bodies(sse_server)[0]["messages"]
    assert sent[-1] == {"role": "user", "content": "the last question"}
    assert sent[0]["role"] == "user"
    assert len(sent) > 1  # the newest whole turns that fit are kept


async def test_drop_oldest_never_sends_a_tools_images_without_its_call(
    sse_server: SSEServer, script: Scenario
) -> None:
    # mid tool loop: the tool's images follow its result as a user message, which is not a
    # turn of its own (dropping up to it sent the images without the question or the call)
    image = {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}}
    history = [
        *_long_history(3),
        {"role": "user", "content": "what is in the picture? " + "detail " * 300},
        {
            "role": "assistant",
            "content": "",
            "tool_calls": [
                {"id": "c1", "type": "function", "function": {"name": "shot", "arguments": "{}"}}
            ],
        },
        {"role": "tool", "tool_call_id": "c1", "content": "taken", "images": [image]},
    ]
    script.stream(text_stream("a cat"))
    options = opts(
        sse_server,
        context_window=1400,
        on_context_overflow="drop_oldest",
        max_tokens=64,
        vision=True,
    )
    async with Client(options, history=history) as client:
        await client.query(None)
        with pytest.raises(ContextLengthExceededError):
            [m async for m in client.receive_response()]
        assert len(client.history) == len(history)
    assert _chats(sse_server) == 0


async def test_a_cached_prompt_counted_as_zero_is_not_truncation(
    sse_server: SSEServer, script: Scenario
) -> None:
    # Ollama reports prompt_tokens 0 for a prompt it found in its cache (ollama/ollama#5370):
    # a server that cut a prompt still counts what it kept
    script.stream(text_stream("ok", usage=(0, 1)))
    async with Client(opts(sse_server, provider="ollama", on_truncation="error")) as client:
        result = await _answer(client, "lorem ipsum dolor " * 3000)
        assert result.result == "ok"


async def test_cached_tokens_left_out_of_prompt_tokens_are_not_truncation(
    sse_server: SSEServer, script: Scenario
) -> None:
    # a server counting only the newly evaluated tokens, the cached ones apart
    usage = {
        "prompt_tokens": 40,
        "completion_tokens": 1,
        "total_tokens": 41,
        "prompt_tokens_details": {"cached_tokens": 12000},
    }
    script.stream(sse(chunk("ok"), chunk(finish="stop"), chunk(usage=usage)))
    async with Client(opts(sse_server, on_truncation="error")) as client:
        result = await _answer(client, "lorem ipsum dolor " * 3000)
        assert result.result == "ok"


def test_a_file_named_like_an_image_is_not_sent_unless_its_content_is_one(
    tmp_path: Path,
) -> None:
    # found by attack: x.png -> /etc/hostname was sent as data:image/png (suffix fallback)
    secret = tmp_path / "notes.txt"
    secret.write_text("not an image: a secret")
    disguised = tmp_path / "x.png"
    disguised.symlink_to(secret)
    with pytest.raises(ConfigurationError, match="by its content"):
        image_part(ImageBlock(path=str(disguised)), 1024)
