"""Bounded memory from any server: every buffer the byte path keeps has an option, and
breaking it is a :class:`LimitExceededError` naming the option, never unbounded growth.

Sizes are small (limits of 64 KiB and a little more sent) so the suite stays fast; the
memory the bounds actually hold is measured in ``make bench`` (the ``memory`` cases), not
here. Compressed replies use ``Content-Encoding: gzip`` as nginx, Caddy or a LiteLLM proxy
with compression on send them.
"""

from __future__ import annotations

import gzip
import json
import time
from typing import Any

import pytest
from sse_server import (
    MODELS,
    Reply,
    SSEServer,
    chunk,
    completion,
    error_body,
    events,
    opts,
    sse,
    text_stream,
    tool_call,
)

from any_agent import (
    AgentOptions,
    AnyAgentError,
    Client,
    ConfigurationError,
    HTTPStatusError,
    LimitExceededError,
    Message,
    ModelNotFoundError,
    ResultMessage,
    ServerError,
    StreamError,
)
from any_agent._wire.http import MODELS_BODY_BYTES
from any_agent.errors import MAX_MESSAGE_CHARS
from any_agent.tools import tool

LIMIT = 64 * 1024
BOUND = 10.0  # seconds: only a guard against a hang
OPTIONS = ("max_response_bytes", "max_event_bytes", "max_tool_argument_bytes")


async def ask(client: Client, prompt: str) -> list[Message]:
    await client.query(prompt)
    return [m async for m in client.receive_response()]


async def over_limit(client: Client, prompt: str, option: str, limit: int) -> LimitExceededError:
    started = time.monotonic()
    with pytest.raises(LimitExceededError) as info:
        await ask(client, prompt)
    assert time.monotonic() - started < BOUND
    err = info.value
    assert isinstance(err, StreamError)
    assert (err.option, err.limit) == (option, limit)
    assert f"{option}={limit}" in str(err)
    assert f"raise AgentOptions.{option}" in str(err)
    return err


async def still_works(client: Client, server: SSEServer, prompt: str) -> None:
    """The failed turn left only its prompt in history, and the client goes on."""
    assert client.history[-1] == {"role": "user", "content": prompt}
    server.script.stream(text_stream("fine"))
    messages = await ask(client, "again")
    assert isinstance(messages[-1], ResultMessage)
    assert messages[-1].result == "fine"


def text_events(total: int, piece: str = "x" * 100) -> list[bytes]:
    n = total // len(piece) + 1
    return events(chunk(role="assistant", content=""), *(chunk(piece) for _ in range(n)))


def gzipped(data: bytes) -> bytes:
    return gzip.compress(data, compresslevel=9)


def in_pieces(data: bytes, size: int = 4096) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)]


# -- options ----------------------------------------------------------------------------------


@pytest.mark.parametrize("name", OPTIONS)
@pytest.mark.parametrize("value", [0, -1, True, 1.5, "1024", None])
def test_limit_options_are_validated(name: str, value: Any) -> None:
    with pytest.raises(ConfigurationError, match=name):
        AgentOptions(model="m", base_url="http://127.0.0.1:1/v1", **{name: value})


def test_limit_defaults_are_generous() -> None:
    options = AgentOptions(model="m", base_url="http://127.0.0.1:1/v1")
    assert options.max_response_bytes == 256 * 1024 * 1024
    assert options.max_event_bytes == 32 * 1024 * 1024
    # the bench's 10 MB of tool arguments fits
    assert options.max_tool_argument_bytes == 16 * 1024 * 1024


# -- the whole response -----------------------------------------------------------------------


async def test_a_long_stream_stops_at_max_response_bytes(sse_server: SSEServer) -> None:
    sse_server.script.stream(*text_events(4 * LIMIT))
    async with Client(opts(sse_server, max_response_bytes=LIMIT)) as client:
        await over_limit(client, "talk", "max_response_bytes", LIMIT)
        await still_works(client, sse_server, "talk")


async def test_a_gzip_bomb_stream_counts_decompressed_bytes(sse_server: SSEServer) -> None:
    # ~16 KiB on the wire, 4 MiB once inflated
    body = gzipped(b"".join(text_events(4 * 1024 * 1024, "a" * 4000)))
    assert len(body) < LIMIT
    sse_server.script.stream(*in_pieces(body), headers={"Content-Encoding": "gzip"})
    async with Client(opts(sse_server, max_response_bytes=LIMIT)) as client:
        await over_limit(client, "talk", "max_response_bytes", LIMIT)
        await still_works(client, sse_server, "talk")


async def test_a_gzip_stream_within_the_limits_decodes(sse_server: SSEServer) -> None:
    body = gzipped(text_stream("Hel", "lo"))
    sse_server.script.stream(*in_pieces(body, 7), headers={"Content-Encoding": "gzip"})
    async with Client(opts(sse_server, max_response_bytes=LIMIT)) as client:
        messages = await ask(client, "hi")
    assert isinstance(messages[-1], ResultMessage)
    assert messages[-1].result == "Hello"


async def test_a_gzip_non_streamed_body_stops_at_max_event_bytes(sse_server: SSEServer) -> None:
    # a server that ignored stream: true and answered one (compressed) JSON completion
    body = gzipped(json.dumps(completion("z" * (8 * LIMIT))).encode())
    sse_server.script.json(body, headers={"Content-Encoding": "gzip"})
    async with Client(opts(sse_server, max_event_bytes=LIMIT)) as client:
        await over_limit(client, "talk", "max_event_bytes", LIMIT)
        await still_works(client, sse_server, "talk")


async def test_a_non_streamed_body_within_the_limit_decodes(sse_server: SSEServer) -> None:
    sse_server.script.json(completion("y" * (LIMIT // 2)))
    async with Client(opts(sse_server, max_event_bytes=LIMIT)) as client:
        messages = await ask(client, "talk")
    assert isinstance(messages[-1], ResultMessage)
    assert messages[-1].result == "y" * (LIMIT // 2)


# -- one line / one event ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "head",
    [b'data: {"choices": [{"delta": {"content": "', b": a comment ", b""],
    ids=["data-line", "comment-line", "bare-bytes"],
)
async def test_a_line_without_end_stops_at_max_event_bytes(
    sse_server: SSEServer, head: bytes
) -> None:
    # then the server hangs: only the bound can end this turn (idle_timeout is 10 s)
    pieces = [head, *in_pieces(b"q" * (2 * LIMIT))]
    sse_server.script.stream(
        *events(chunk(role="assistant", content=""), done=False), *pieces, end="hang"
    )
    async with Client(opts(sse_server, max_event_bytes=LIMIT)) as client:
        await over_limit(client, "talk", "max_event_bytes", LIMIT)
        await still_works(client, sse_server, "talk")


async def test_data_lines_without_a_blank_line_stop_at_max_event_bytes(
    sse_server: SSEServer,
) -> None:
    lines = [b"data: " + b"w" * 1000 + b"\n" for _ in range(2 * LIMIT // 1000)]
    sse_server.script.stream(*lines, end="hang")
    async with Client(opts(sse_server, max_event_bytes=LIMIT)) as client:
        await over_limit(client, "talk", "max_event_bytes", LIMIT)
        await still_works(client, sse_server, "talk")


async def test_a_multi_megabyte_event_within_the_limit_decodes(sse_server: SSEServer) -> None:
    sse_server.script.stream(*in_pieces(text_stream("v" * (LIMIT - 200)), 1000))
    async with Client(opts(sse_server, max_event_bytes=LIMIT)) as client:
        messages = await ask(client, "talk")
    assert isinstance(messages[-1], ResultMessage)
    assert len(messages[-1].result or "") == LIMIT - 200


# -- one tool call's arguments ----------------------------------------------------------------


def counted_tool() -> tuple[Any, list[str]]:
    ran: list[str] = []

    @tool
    def save(text: str) -> str:
        """Save text."""
        ran.append(text)
        return "saved"

    return save, ran


def argument_stream(size: int, *, whole: bool = False) -> list[bytes]:
    text = json.dumps({"text": "t" * size})
    if whole:
        frags = [tool_call(0, id="c1", type="function", name="save", arguments=text)]
    else:
        frags = [tool_call(0, id="c1", type="function", name="save", arguments="")]
        frags += [tool_call(0, arguments=text[i : i + 500]) for i in range(0, len(text), 500)]
    return events(
        chunk(role="assistant", content=None),
        *(chunk(tool_calls=[f]) for f in frags),
        chunk(finish="tool_calls"),
    )


@pytest.mark.parametrize("whole", [False, True], ids=["fragments", "one-fragment"])
async def test_tool_arguments_over_the_limit_never_run(sse_server: SSEServer, whole: bool) -> None:
    save, ran = counted_tool()
    sse_server.script.stream(*argument_stream(2 * LIMIT, whole=whole))
    async with Client(
        opts(sse_server, tools=[save], max_turns=3, max_tool_argument_bytes=LIMIT)
    ) as client:
        await over_limit(client, "save it", "max_tool_argument_bytes", LIMIT)
        assert ran == []
        assert not any(m.get("tool_calls") for m in client.history)
        await still_works(client, sse_server, "save it")
    assert ran == []


async def test_tool_arguments_within_the_limit_run(sse_server: SSEServer) -> None:
    save, ran = counted_tool()
    sse_server.script.stream(*argument_stream(LIMIT // 2))
    sse_server.script.stream(text_stream("done"))
    async with Client(
        opts(sse_server, tools=[save], max_turns=3, max_tool_argument_bytes=LIMIT)
    ) as client:
        messages = await ask(client, "save it")
    assert isinstance(messages[-1], ResultMessage)
    assert ran == ["t" * (LIMIT // 2)]


# -- error bodies and messages ----------------------------------------------------------------


def short(err: BaseException) -> None:
    text = str(err)
    assert len(text) < MAX_MESSAGE_CHARS + 200, len(text)
    assert "more characters" in text


async def test_a_gzip_error_body_is_read_only_a_few_kilobytes(sse_server: SSEServer) -> None:
    # 4 MiB of error message, ~4 KiB on the wire
    raw = json.dumps(error_body("boom " * (800 * 1024), type="server_error")).encode()
    sse_server.script.add(
        Reply(500, {"Content-Encoding": "gzip", "Content-Type": "application/json"}, gzipped(raw))
    )
    async with Client(opts(sse_server)) as client:
        with pytest.raises(ServerError) as info:
            await ask(client, "talk")
        assert len(info.value.body) <= 8 * 1024
        assert len(info.value.message) < MAX_MESSAGE_CHARS + 100
        assert info.value.message.startswith("boom boom")
        await still_works(client, sse_server, "talk")


async def test_a_huge_plain_error_body_is_cut_and_the_message_says_so(
    sse_server: SSEServer,
) -> None:
    sse_server.script.add(Reply(400, {"Content-Type": "text/plain"}, "no " * 100_000))
    async with Client(opts(sse_server)) as client:
        with pytest.raises(HTTPStatusError) as info:
            await ask(client, "talk")
    short(info.value)
    assert len(info.value.body) <= 8 * 1024


async def test_a_huge_error_event_message_is_cut(sse_server: SSEServer) -> None:
    sse_server.script.stream(sse({"error": {"message": "bad " * 50_000, "type": "x"}}))
    async with Client(opts(sse_server)) as client:
        with pytest.raises(StreamError) as info:
            await ask(client, "talk")
    short(info.value)


async def test_a_huge_html_page_is_quoted_not_read(sse_server: SSEServer) -> None:
    page = b"<html>" + b"<p>login</p>" * 200_000
    sse_server.script.add(Reply(200, {"Content-Type": "text/html"}, page))
    async with Client(opts(sse_server, max_event_bytes=LIMIT)) as client:
        with pytest.raises(StreamError) as info:
            await ask(client, "talk")
    assert not isinstance(info.value, LimitExceededError)
    assert "HTML page" in str(info.value)
    assert len(str(info.value)) < 1000


def test_limit_exceeded_is_an_any_agent_error() -> None:
    err = LimitExceededError("max_event_bytes", 10)
    assert isinstance(err, AnyAgentError)
    assert str(err) == (
        "the response exceeded max_event_bytes=10; raise AgentOptions.max_event_bytes if the "
        "server is trusted"
    )


async def test_a_gzip_bomb_from_get_models_on_the_404_path_is_not_read(
    sse_server: SSEServer,
) -> None:
    # a 404 for the model makes the SDK ask GET /models which models exist; that answer is
    # best effort and read only up to MODELS_BODY_BYTES, however well it compresses (a page
    # inflating to 600 MiB used to be read whole: ~1.2 GB of RSS while reporting the 404)
    page = b'{"data": [{"id": "evil"}]' + b" " * (MODELS_BODY_BYTES + 1) + b"}"
    sse_server.script.add(Reply(404, {}, error_body("no such model", type="not_found")))
    sse_server.script.add(
        Reply(200, {"Content-Encoding": "gzip"}, gzipped(page)), path=MODELS, method="GET"
    )
    async with Client(opts(sse_server)) as client:
        with pytest.raises(ModelNotFoundError) as info:
            await ask(client, "talk")
        assert info.value.available == []
        await still_works(client, sse_server, "talk")


async def test_a_models_page_within_the_cap_still_names_the_models(
    sse_server: SSEServer,
) -> None:
    page = b'{"data": [{"id": "good"}]' + b" " * (MODELS_BODY_BYTES // 2) + b"}"
    sse_server.script.add(Reply(404, {}, error_body("no such model", type="not_found")))
    sse_server.script.add(
        Reply(200, {"Content-Encoding": "gzip"}, gzipped(page)), path=MODELS, method="GET"
    )
    async with Client(opts(sse_server)) as client:
        with pytest.raises(ModelNotFoundError) as info:
            await ask(client, "talk")
    assert info.value.available == ["good"]


# -- one event's JSON structure ---------------------------------------------------------------

DENSE = b'{"choices": [{"delta": {"content": "hi"}, "finish_reason": "stop"}], "junk": ['


@pytest.mark.parametrize(
    "unit", [b"{},", b"[],", b'"ab",', b"1.5,"], ids=["objects", "lists", "strings", "floats"]
)
async def test_an_event_dense_with_json_items_stops_at_the_item_budget(
    sse_server: SSEServer, unit: bytes
) -> None:
    # 3-5 bytes an item, well under max_event_bytes: parsed, it would be ~20x its size in
    # objects and seconds of CPU on the event loop at 32 MiB (~1.1 GB, ~2.5 s)
    event = b"data: " + DENSE + unit * 8000 + b"0]}\n\n"
    assert len(event) < LIMIT
    sse_server.script.stream(event, b"data: [DONE]\n\n")
    async with Client(opts(sse_server, max_event_bytes=LIMIT)) as client:
        err = await over_limit(client, "talk", "max_event_bytes", LIMIT)
        assert "JSON structure" in str(err)
        await still_works(client, sse_server, "talk")


async def test_a_non_streamed_body_dense_with_json_items_stops_at_the_item_budget(
    sse_server: SSEServer,
) -> None:
    body = DENSE.replace(b'"delta"', b'"message"') + b"[]," * 8000 + b"0]}"
    sse_server.script.json(gzipped(body), headers={"Content-Encoding": "gzip"})
    async with Client(opts(sse_server, max_event_bytes=LIMIT)) as client:
        err = await over_limit(client, "talk", "max_event_bytes", LIMIT)
        assert "JSON structure" in str(err)
        await still_works(client, sse_server, "talk")


async def test_commas_and_brackets_inside_strings_are_not_items(sse_server: SSEServer) -> None:
    # CSV / code / JSON text written as one argument fragment: thousands of commas and
    # brackets, all inside one string, which is one item
    save, ran = counted_tool()
    text = 'a,b,[c],{d},"e"\n' * 2000
    frag = tool_call(0, id="c1", type="function", name="save", arguments=json.dumps({"text": text}))
    sse_server.script.stream(
        *events(
            chunk(role="assistant", content=None),
            chunk(tool_calls=[frag]),
            chunk(finish="tool_calls"),
        )
    )
    sse_server.script.stream(text_stream("done"))
    async with Client(opts(sse_server, tools=[save], max_event_bytes=LIMIT)) as client:
        messages = await ask(client, "save it")
    assert isinstance(messages[-1], ResultMessage)
    assert ran == [text]


@pytest.mark.parametrize("strings", [3, 5000, 20_000])
def test_items_are_counted_outside_strings_on_every_path(strings: int) -> None:
    # few strings (counted in place), many (cut out), more than the budget (refused at once)
    from any_agent._wire.jsontext import too_many_items

    budget = 10_000
    words = [f'"w{i},[{{"' for i in range(strings)]  # each string holds a comma and brackets
    data = ("[" + ",".join(words) + "]").encode()
    assert too_many_items(data, budget) == (strings > budget)
    dense = ("[" + ",".join(words) + "," + "{}," * budget + "0]").encode()
    assert too_many_items(dense, budget)
