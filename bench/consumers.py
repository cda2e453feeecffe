"""The stream consumers being compared. Each one makes one request to the loopback server,
aggregates what the stream carries (the text, or the one tool call's arguments) and returns
an :class:`Outcome` that :func:`verify` checks against the known content, so no method can be
fast by skipping work.

=================  ==========================================================================
``raw``            httpx2 ``aiter_raw()``, counting bytes: the transport floor
``hand``           httpx2 ``aiter_lines()`` + ``json.loads`` per ``data:`` line: the minimal
                   hand parser
``openai_create``  ``AsyncOpenAI().chat.completions.create(stream=True)``, iterating chunks
``openai_stream``  ``AsyncOpenAI().chat.completions.stream(...)`` and ``get_final_completion()``
``query``          ``any_agent.query()``: messages only (the default)
``query_partial``  ``any_agent.query()`` with ``include_partial_messages=True``: every token
                   delta as a ``StreamEvent`` too
=================  ==========================================================================
"""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import httpx2
from openai import AsyncOpenAI
from openai.types.chat import ChatCompletionMessageParam

from .streams import TOOL_NAME, TOOL_SPEC, StreamSpec, expected_arguments, expected_text

__all__ = ["LABELS", "METHODS", "Clients", "Outcome", "query_with", "verify"]

MESSAGES: list[ChatCompletionMessageParam] = [{"role": "user", "content": "go"}]
HEADERS = {"Authorization": "Bearer bench"}


@dataclass
class Outcome:
    events: int  # JSON chunks (or raw bytes for ``raw``) the consumer saw
    aggregate: Any  # the text, the arguments string, or the parsed arguments (any_agent)
    t_first: float | None  # perf_counter() when the first parsed piece was available


class Clients:
    """Warm clients shared by the runs of one process (any_agent builds its own per query)."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.url = base_url + "/chat/completions"
        self.http = httpx2.AsyncClient(
            timeout=httpx2.Timeout(600.0),
            limits=httpx2.Limits(max_connections=None, max_keepalive_connections=None),
        )
        self.openai = AsyncOpenAI(base_url=base_url, api_key="bench", max_retries=0)

    async def aclose(self) -> None:
        await self.http.aclose()
        await self.openai.close()


def _request(spec: StreamSpec) -> dict[str, Any]:
    return {"model": str(spec), "messages": MESSAGES, "stream": True}


async def c_raw(cl: Clients, spec: StreamSpec) -> Outcome:
    size = 0
    t_first = None
    async with cl.http.stream("POST", cl.url, json=_request(spec), headers=HEADERS) as r:
        async for b in r.aiter_raw():
            if t_first is None:
                t_first = time.perf_counter()
            size += len(b)
    return Outcome(size, None, t_first)


async def c_hand(cl: Clients, spec: StreamSpec) -> Outcome:
    parts: list[str] = []
    n = 0
    t_first = None
    loads = json.loads
    async with cl.http.stream("POST", cl.url, json=_request(spec), headers=HEADERS) as r:
        async for line in r.aiter_lines():
            if not line.startswith("data:"):
                continue
            data = line[5:].lstrip(" ")
            if data == "[DONE]":
                continue  # read on to EOF: the connection goes back to the pool
            obj = loads(data)
            if t_first is None:
                t_first = time.perf_counter()
            n += 1
            choices = obj.get("choices")
            if not choices:
                continue
            delta = choices[0].get("delta") or {}
            content = delta.get("content")
            if content:
                parts.append(content)
            for tc in delta.get("tool_calls") or ():
                fn = tc.get("function")
                if fn and fn.get("arguments"):
                    parts.append(fn["arguments"])
    return Outcome(n, "".join(parts), t_first)


async def c_openai_create(cl: Clients, spec: StreamSpec) -> Outcome:
    parts: list[str] = []
    n = 0
    t_first = None
    stream = await cl.openai.chat.completions.create(
        model=str(spec),
        messages=MESSAGES,
        stream=True,
    )
    async for chunk in stream:
        if t_first is None:
            t_first = time.perf_counter()
        n += 1
        if not chunk.choices:
            continue
        delta = chunk.choices[0].delta
        if delta.content:
            parts.append(delta.content)
        for tc in delta.tool_calls or ():
            if tc.function and tc.function.arguments:
                parts.append(tc.function.arguments)
    return Outcome(n, "".join(parts), t_first)


async def c_openai_stream(cl: Clients, spec: StreamSpec) -> Outcome:
    # .stream() accepts only strict function tools, so no tools= here; it still accumulates
    # the streamed tool call into the final completion.
    n = 0
    t_first = None
    async with cl.openai.chat.completions.stream(
        model=str(spec),
        messages=MESSAGES,
    ) as stream:
        async for event in stream:
            if t_first is None:
                t_first = time.perf_counter()
            if event.type == "chunk":
                n += 1
        final = await stream.get_final_completion()
    message = final.choices[0].message
    if message.tool_calls:
        call = message.tool_calls[0]
        return Outcome(n, getattr(call, "function").arguments, t_first)  # noqa: B009
    return Outcome(n, message.content or "", t_first)


def agent_options(cl_base_url: str, spec: StreamSpec, *, partial: bool, **overrides: Any) -> Any:
    """The options every any_agent consumer uses; ``overrides`` set other fields."""
    from any_agent import AgentOptions

    return AgentOptions(
        model=str(spec),
        base_url=cl_base_url,
        max_retries=0,
        max_tokens=None,
        temperature=None,
        tools=[TOOL_SPEC] if spec.kind == "tool" else [],
        auto_execute_tools=False,
        include_partial_messages=partial,
        **overrides,
    )


def agent_aggregate(content: list[Any]) -> Any:
    """The text of the turn, or the input of its one tool call."""
    from any_agent import TextBlock, ToolUseBlock

    calls = [b for b in content if isinstance(b, ToolUseBlock) and b.name == TOOL_NAME]
    if calls:
        return calls[0].input
    return "".join(b.text for b in content if isinstance(b, TextBlock))


async def query_with(
    cl: Clients, spec: StreamSpec, partial: bool = False, **overrides: Any
) -> Outcome:
    """One ``query()`` call with ``overrides`` on the options (``context_window=...``)."""
    from any_agent import AssistantMessage, ResultMessage, StreamEvent, query

    options = agent_options(cl.base_url, spec, partial=partial, **overrides)
    t_first = None
    deltas = 0
    aggregate: Any = None
    result = None
    async for msg in query("go", options):
        if isinstance(msg, StreamEvent):
            if t_first is None:
                t_first = time.perf_counter()
            if msg.type in ("text_delta", "tool_input_delta"):
                deltas += 1
        elif isinstance(msg, AssistantMessage):
            if t_first is None:
                t_first = time.perf_counter()
            aggregate = agent_aggregate(msg.content)
        elif isinstance(msg, ResultMessage):
            result = msg
    if result is None or result.is_error:
        raise AssertionError(f"query() ended without a successful ResultMessage: {result!r}")
    return Outcome(deltas, aggregate, t_first)


async def c_query(cl: Clients, spec: StreamSpec) -> Outcome:
    return await query_with(cl, spec, False)


async def c_query_partial(cl: Clients, spec: StreamSpec) -> Outcome:
    return await query_with(cl, spec, True)


Consumer = Callable[[Clients, StreamSpec], Awaitable[Outcome]]

METHODS: dict[str, Consumer] = {
    "raw": c_raw,
    "hand": c_hand,
    "openai_create": c_openai_create,
    "openai_stream": c_openai_stream,
    "query": c_query,
    "query_partial": c_query_partial,
}

LABELS = {
    "raw": "transport floor: httpx2 aiter_raw",
    "hand": "hand parser: aiter_lines + json.loads",
    "openai_create": "AsyncOpenAI create(stream=True)",
    "openai_stream": "AsyncOpenAI .stream() helper",
    "query": "any_agent.query()",
    "query_partial": "any_agent.query(), partial messages",
    "decoder": "any_agent StreamDecoder alone (no I/O)",
}


@lru_cache(maxsize=16)
def _wire_size(spec: StreamSpec) -> int:
    from .streams import render_events

    return sum(len(e) for e in render_events(spec))


def verify(method: str, spec: StreamSpec, out: Outcome) -> None:
    """Raise AssertionError unless ``out`` holds exactly what the stream carried."""
    if method == "raw":
        expected_size = _wire_size(spec)
        if out.events != expected_size:
            raise AssertionError(f"raw: {out.events} bytes, expected {expected_size}")
        return
    if spec.kind == "text":
        expected: Any = expected_text(spec.n)
    else:
        expected = expected_arguments(spec.n, spec.frag)
        if method.startswith("query"):
            expected = json.loads(expected)
    if out.aggregate != expected:
        got = out.aggregate if not isinstance(out.aggregate, str) else f"{len(out.aggregate)} chars"
        raise AssertionError(f"{method}: wrong aggregate ({str(got)[:200]})")
    if method == "query":
        return
    wanted = spec.n if method == "query_partial" else spec.events
    if out.events != wanted:
        raise AssertionError(f"{method}: saw {out.events} events, expected {wanted}")
