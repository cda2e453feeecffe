"""No raw Python exception escapes, whatever JSON a server puts where.

Each shape below ended in TypeError / AttributeError / RecursionError before; each is now a
:class:`StreamError` (a malformed event) or, for arguments the SDK cannot use, a
:class:`ToolUseError` whose error result the model sees. Integers beyond 64 bits (a 20-digit
order id) reach the tool, the history and the next request exactly as the model wrote them.
"""

from __future__ import annotations

import contextlib
import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sse_server import (
    Reply,
    SSEServer,
    chunk,
    completion,
    events,
    opts,
    sse,
    text_stream,
    tool_call,
)

from any_agent import (
    AnyAgentError,
    Client,
    HTTPStatusError,
    Message,
    ResultMessage,
    StreamError,
    ToolUseBlock,
    ToolUseError,
    UserMessage,
)
from any_agent._wire.decoder import StreamDecoder
from any_agent._wire.history import assistant_entry, to_request_messages
from any_agent._wire.servers import profile_for
from any_agent.tools import tool

ORDER_ID = 12345678901234567890123  # beyond 64 bits: orjson would make it a float


async def ask(client: Client, prompt: str) -> list[Message]:
    await client.query(prompt)
    return [m async for m in client.receive_response()]


def raw(obj: Any) -> bytes:
    return b"data: " + json.dumps(obj).encode() + b"\n\n"


def choice(**fields: Any) -> dict[str, Any]:
    return {"id": "x", "object": "chat.completion.chunk", "model": "m", "choices": [fields]}


HOSTILE: dict[str, dict[str, Any]] = {
    "choices-number": {"id": "x", "choices": 5},
    "choices-string": {"id": "x", "choices": "abc"},
    "delta-string": choice(index=0, delta="hello"),
    "delta-list": choice(index=0, delta=["hello"]),
    "message-number": choice(index=0, message=7),
    "content-part-int-text": choice(index=0, delta={"content": [{"type": "text", "text": 5}]}),
    "content-part-dict-text": choice(
        index=0, delta={"content": [{"type": "text", "text": {"a": 1}}]}
    ),
    "tool-calls-number": choice(index=0, delta={"tool_calls": 1}),
    "tool-index-list": choice(
        index=0, delta={"tool_calls": [{"index": [0], "id": "c", "function": {"name": "f"}}]}
    ),
    "tool-index-dict": choice(
        index=0, delta={"tool_calls": [{"index": {"i": 0}, "function": {"name": "f"}}]}
    ),
    "tool-id-dict": choice(
        index=0, delta={"tool_calls": [{"id": {"a": 1}, "function": {"name": "f"}}]}
    ),
    "tool-name-list": choice(
        index=0, delta={"tool_calls": [{"index": 0, "id": "c", "function": {"name": ["f"]}}]}
    ),
}


@pytest.mark.parametrize("name", list(HOSTILE))
async def test_hostile_chunk_is_a_stream_error(sse_server: SSEServer, name: str) -> None:
    sse_server.script.stream(
        sse(chunk(role="assistant", content=""), HOSTILE[name], chunk("ok", finish="stop"))
    )
    async with Client(opts(sse_server)) as client:
        with pytest.raises(StreamError, match="malformed"):
            await ask(client, "hi")
        assert client.history == [{"role": "user", "content": "hi"}]
        sse_server.script.stream(text_stream("fine"))
        messages = await ask(client, "again")
    assert isinstance(messages[-1], ResultMessage)
    assert messages[-1].result == "fine"


def deep_error(depth: int) -> bytes:
    return b'data: {"error": ' + b'{"error": ' * depth + b'"x"' + b"}" * (depth + 1) + b"\n\n"


async def test_deeply_nested_error_objects_are_a_stream_error(sse_server: SSEServer) -> None:
    sse_server.script.stream(deep_error(1000))
    async with Client(opts(sse_server)) as client:
        with pytest.raises(StreamError):
            await ask(client, "hi")


# -- big integers -----------------------------------------------------------------------------


def order_tool() -> tuple[Any, list[int]]:
    got: list[int] = []

    @tool
    def cancel_order(order_id: int, note: str = "") -> str:
        """Cancel an order."""
        got.append(order_id)
        return "cancelled"

    return cancel_order, got


def streamed_call(arguments: str, pieces: int) -> bytes:
    size = max(1, len(arguments) // pieces)
    frags = [tool_call(0, id="c1", type="function", name="cancel_order", arguments="")]
    frags += [
        tool_call(0, arguments=arguments[i : i + size]) for i in range(0, len(arguments), size)
    ]
    return sse(
        chunk(role="assistant", content=None),
        *(chunk(tool_calls=[f]) for f in frags),
        chunk(finish="tool_calls"),
    )


@pytest.mark.parametrize(
    "shape", ["fragments", "one-fragment", "object-arguments", "non-streamed", "padded"]
)
async def test_a_20_digit_order_id_reaches_tool_and_history_exactly(
    sse_server: SSEServer, shape: str
) -> None:
    arguments = json.dumps({"order_id": ORDER_ID})
    if shape == "fragments":  # the shortcut path takes the repeated fragments
        sse_server.script.stream(streamed_call(arguments, len(arguments)))
    elif shape == "one-fragment":
        sse_server.script.stream(streamed_call(arguments, 1))
    elif shape == "padded":  # over 64 KiB: the stdlib parser's path
        sse_server.script.stream(
            streamed_call(json.dumps({"order_id": ORDER_ID, "note": "n" * 70_000}), 40)
        )
    elif shape == "object-arguments":  # Ollama-style: arguments as an object
        call = tool_call(0, id="c1", type="function", name="cancel_order")
        call["function"]["arguments"] = {"order_id": ORDER_ID}
        sse_server.script.stream(
            sse(chunk(role="assistant", tool_calls=[call]), chunk(finish="tool_calls"))
        )
    else:  # a server that ignored stream: true
        call = {"id": "c1", "type": "function", "function": {"name": "cancel_order"}}
        call["function"]["arguments"] = arguments
        sse_server.script.json(completion(None, tool_calls=[call], finish="tool_calls"))
    sse_server.script.stream(text_stream("done"))
    cancel_order, got = order_tool()
    async with Client(opts(sse_server, tools=[cancel_order], max_turns=3)) as client:
        messages = await ask(client, "cancel it")
        history = client.history
    assert isinstance(messages[-1], ResultMessage)
    assert got == [ORDER_ID]
    assert type(got[0]) is int
    replayed = sse_server.requests[-1].json["messages"]
    for source in (history, replayed):
        (entry,) = [m for m in source if m.get("tool_calls")]
        assert str(ORDER_ID) in entry["tool_calls"][0]["function"]["arguments"]
        assert json.loads(entry["tool_calls"][0]["function"]["arguments"])["order_id"] == ORDER_ID


def test_big_integers_survive_history_replay() -> None:
    block = ToolUseBlock("c1", "cancel_order", {"order_id": ORDER_ID, "n": [ORDER_ID]})
    entry = assistant_entry("", [block])
    wire = to_request_messages([entry], None, profile_for(None))
    args = wire[0]["tool_calls"][0]["function"]["arguments"]
    assert json.loads(args) == {"order_id": ORDER_ID, "n": [ORDER_ID]}


# -- deep nesting -----------------------------------------------------------------------------


def decode(*items: Any, tools: frozenset[str] = frozenset({"f"})) -> Any:
    decoder = StreamDecoder(tools)
    decoder.feed(b"".join(raw(i) if not isinstance(i, bytes) else i for i in items))
    decoder.close()
    return decoder.result()


@pytest.mark.parametrize("depth", [300, 1000, 100_000])
def test_deeply_nested_string_arguments_are_a_tool_use_error(depth: int) -> None:
    arguments = '{"a": ' + "[" * depth + "]" * depth + "}"
    frag = {"index": 0, "id": "c", "function": {"name": "f", "arguments": arguments}}
    result = decode(choice(index=0, delta={"tool_calls": [frag]}, finish_reason="tool_calls"))
    assert result.failure is None
    (block,) = result.blocks
    assert isinstance(block, ToolUseError)
    assert "nested" in block.error or "depth" in block.error


def test_arguments_object_nested_past_the_writer_limit_is_a_tool_use_error() -> None:
    value: Any = 1
    for _ in range(400):
        value = [value]
    frag = {"index": 0, "id": "c", "function": {"name": "f", "arguments": {"a": value}}}
    result = decode(choice(index=0, delta={"tool_calls": [frag]}, finish_reason="tool_calls"))
    (block,) = result.blocks
    assert isinstance(block, ToolUseError)
    assert "nested" in block.error


def test_an_event_nested_100000_deep_is_malformed() -> None:
    result = decode(b"data: " + b"[" * 100_000 + b"]" * 100_000 + b"\n\n")
    assert result.failure is not None
    assert result.failure.kind == "malformed"


async def test_deep_arguments_never_run_and_the_model_is_told(sse_server: SSEServer) -> None:
    arguments = '{"order_id": ' + "[" * 100_000 + "]" * 100_000 + "}"
    sse_server.script.stream(streamed_call(arguments, 50))
    sse_server.script.stream(text_stream("sorry"))
    cancel_order, got = order_tool()
    async with Client(opts(sse_server, tools=[cancel_order], max_turns=3)) as client:
        messages = await ask(client, "cancel it")
    assert got == []
    results = [b for m in messages if isinstance(m, UserMessage) for b in m.content]
    assert len(results) == 1
    assert results[0].is_error  # type: ignore[union-attr]
    assert isinstance(messages[-1], ResultMessage)
    assert messages[-1].result == "sorry"


# -- property: arbitrary JSON at every position of a realistic chunk --------------------------

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**30), max_value=10**30)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)

REALISTIC: list[dict[str, Any]] = [
    choice(index=0, delta={"role": "assistant", "content": ""}, finish_reason=None),
    choice(index=0, delta={"content": "Hello", "reasoning_content": "hm"}, finish_reason=None),
    choice(
        index=0,
        delta={
            "content": [{"type": "text", "text": "part"}],
            "tool_calls": [
                {
                    "index": 0,
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": "f", "arguments": '{"a": 1}'},
                }
            ],
        },
        finish_reason=None,
    ),
    {
        "id": "x",
        "object": "chat.completion.chunk",
        "model": "m",
        "choices": [{"index": 0, "delta": {}, "finish_reason": "tool_calls"}],
        "usage": {"prompt_tokens": 1, "completion_tokens": 2, "total_tokens": 3},
        "error": None,
    },
]


def paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix] if prefix else []
    if isinstance(value, dict):
        for k, v in value.items():
            out += paths(v, (*prefix, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            out += paths(v, (*prefix, i))
    return out


POSITIONS = [(n, p) for n, event in enumerate(REALISTIC) for p in paths(event)]


def replaced(event: Any, path: tuple[Any, ...], value: Any) -> Any:
    event = json.loads(json.dumps(event))
    target = event
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = value
    return event


def hostile_stream(position: int, value: Any) -> bytes:
    n, path = POSITIONS[position]
    items = [replaced(e, path, value) if i == n else e for i, e in enumerate(REALISTIC)]
    return b"".join(raw(i) for i in items) + b"data: [DONE]\n\n"


@settings(max_examples=1500, deadline=None)
@given(st.integers(0, len(POSITIONS) - 1), json_values, st.integers(1, 64))
def test_arbitrary_json_anywhere_in_a_chunk_only_yields_typed_results(
    position: int, value: Any, split: int
) -> None:
    data = hostile_stream(position, value)
    decoder = StreamDecoder(frozenset({"f"}))
    for i in range(0, len(data), split):
        decoder.feed(data[i : i + split])
    decoder.close()
    result = decoder.result()
    for block in result.blocks:
        if isinstance(block, ToolUseBlock):
            assistant_entry("", [block])  # history can hold it


@settings(max_examples=25, deadline=None)
@given(position=st.integers(0, len(POSITIONS) - 1), value=json_values)
async def test_arbitrary_json_anywhere_through_a_real_client(position: int, value: Any) -> None:
    @tool
    def f(a: int = 0) -> str:
        """A tool."""
        return "ok"

    server = SSEServer().start()  # one per example: a failed turn leaves replies queued
    try:
        server.script.stream(*events(hostile_stream(position, value), done=False))
        server.script.stream(text_stream("after"), times=None)
        async with Client(opts(server, tools=[f], max_turns=2)) as client:
            with contextlib.suppress(AnyAgentError):
                await ask(client, "go")
            assert client.history[0] == {"role": "user", "content": "go"}
    finally:
        server.stop()


def deep_stream(position: int) -> bytes:
    """The realistic stream with a list nested as deep as orjson reads (1,024 levels, the
    event's own included) at one position: deep enough that ``str()`` or ``repr()`` of it is a
    RecursionError."""
    n, path = POSITIONS[position]
    depth = 1024 - len(path) - 2
    deep = b"[" * depth + b"]" * depth
    items = [replaced(e, path, "@DEEP@") if i == n else e for i, e in enumerate(REALISTIC)]
    data = b"".join(raw(i) for i in items) + b"data: [DONE]\n\n"
    return data.replace(b'"@DEEP@"', deep)


@pytest.mark.parametrize("position", range(len(POSITIONS)))
def test_a_value_nested_1000_deep_anywhere_in_a_chunk_is_typed(position: int) -> None:
    decoder = StreamDecoder(frozenset({"f"}))
    decoder.feed(deep_stream(position))
    decoder.close()
    result = decoder.result()
    if result.failure is not None:
        assert len(result.failure.message) < 2000
    for block in result.blocks:
        if isinstance(block, ToolUseBlock):
            assistant_entry("", [block])


DEEP = "[" * 1020 + "]" * 1020


@pytest.mark.parametrize(
    "body",
    [
        '{"detail": ' + "[" * 300 + "]" * 300 + "}",
        '{"detail": ' + DEEP + "}",
        '{"detail": [{"msg": "bad", "loc": 5}]}',
        '{"detail": [{"msg": "bad", "loc": [' + DEEP + ', "a"]}]}',
        '{"detail": [{"msg": "bad", "loc": {"a": 1}}]}',
    ],
    ids=["deep-300", "deep-1020", "loc-number", "loc-deep", "loc-object"],
)
async def test_hostile_fastapi_detail_is_a_typed_error(sse_server: SSEServer, body: str) -> None:
    # FastAPI's {"detail": ...} 422 shape, with what a hostile server puts in it
    sse_server.script.add(Reply(422, {"Content-Type": "application/json"}, body))
    async with Client(opts(sse_server)) as client:
        with pytest.raises(HTTPStatusError) as info:
            await ask(client, "hi")
        assert len(str(info.value)) < 2000
        assert client.history == [{"role": "user", "content": "hi"}]


# -- the exact (stdlib) parser accepts what orjson accepts, no more ----------------------------

BIG = "p" * (70 * 1024)  # past the size where arguments are parsed by the stdlib


@pytest.mark.parametrize(
    "value", ["NaN", "Infinity", "-Infinity", "1e999", '"\\ud800"', '"\\udfff"', '["\\udc00"]']
)
@pytest.mark.parametrize("via", ["small", "big-integer", "large"])
def test_what_orjson_refuses_is_refused_whatever_the_arguments_size(value: str, via: str) -> None:
    # NaN, infinities and lone surrogates were refused in a small call and accepted (the tool
    # ran with nan / an unencodable string) when a 20-digit number or 64 KiB of text sent the
    # call to the stdlib parser
    extra = {"small": "", "big-integer": f', "n": {ORDER_ID}', "large": f', "s": "{BIG}"'}[via]
    arguments = '{"a": ' + value + extra + "}"
    frag = {"index": 0, "id": "c", "function": {"name": "f", "arguments": arguments}}
    result = decode(choice(index=0, delta={"tool_calls": [frag]}, finish_reason="tool_calls"))
    (block,) = result.blocks
    assert isinstance(block, ToolUseError), block


@pytest.mark.parametrize("via", ["big-integer", "large"])
def test_surrogate_pairs_and_finite_numbers_still_parse_exactly(via: str) -> None:
    extra = {"big-integer": f', "n": {ORDER_ID}', "large": f', "s": "{BIG}"'}[via]
    arguments = '{"a": ["\\ud83d\\ude00", 1e308, -0.5]' + extra + "}"
    frag = {"index": 0, "id": "c", "function": {"name": "f", "arguments": arguments}}
    result = decode(choice(index=0, delta={"tool_calls": [frag]}, finish_reason="tool_calls"))
    (block,) = result.blocks
    assert isinstance(block, ToolUseBlock), block
    assert block.input["a"] == ["\U0001f600", 1e308, -0.5]


def test_a_1000_digit_integer_replays_as_written() -> None:
    # valid JSON the SDK parsed exactly; the wire copy used to replace it with {}
    arguments = '{"n": ' + "9" * 1000 + "}"
    entry = {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {"id": "c1", "type": "function", "function": {"name": "f", "arguments": arguments}}
        ],
    }
    wire = to_request_messages([entry], None, profile_for(None))
    assert wire[0]["tool_calls"][0]["function"]["arguments"] == arguments
