"""A context-length refusal sent inside a 200 stream (text-generation-webui validates the prompt
in its streaming generator: an in-stream error event) is a ContextLengthExceededError, as the
same words in an HTTP 400 body are; the conversation is kept. Other in-stream errors stay
StreamError. Streams come from the scripted server on 127.0.0.1."""

from __future__ import annotations

import pytest
from sse_server import SSEServer, chunk, error_body, opts, sse, text_stream

from any_agent import (
    AgentOptions,
    Client,
    ContextLengthExceededError,
    ResultMessage,
    StreamError,
    query,
)
from conformance.testing.fakeserver import FakeServer

OVER = "the request exceeds the context size (512 tokens)"


async def _fails(options: AgentOptions, prompt: str = "hi") -> tuple[Exception, Client]:
    client = Client(options)
    async with client:
        await client.query(prompt)
        with pytest.raises(Exception) as caught:  # noqa: PT011  (the type is what is judged)
            [m async for m in client.receive_response()]
    assert isinstance(caught.value, Exception)
    return caught.value, client


@pytest.mark.parametrize(
    "event",
    [
        # OpenAI's shape (text-generation-webui's extension, the reference server)
        sse(error_body(OVER)),
        # after the role chunk, with a status code in the event
        sse(chunk(role="assistant", content=""), error_body(OVER, code=400)),
        # TGI's flat shape
        sse({"error": "Input validation error: `inputs` tokens + `max_new_tokens` must be "
                      "<= 512. Given: 600 `inputs` tokens and 8 `max_new_tokens`",
             "error_type": "validation"}),
        # a legacy ``error:`` line
        b'error: {"message": "This model\'s maximum context length is 512 tokens"}\n\n',
    ],
)  # fmt: skip
async def test_an_in_stream_context_refusal_is_context_length_exceeded(
    sse_server: SSEServer, event: bytes
) -> None:
    sse_server.script.stream(event)
    exc, client = await _fails(opts(sse_server), "a long prompt")
    assert isinstance(exc, ContextLengthExceededError), repr(exc)
    assert exc.status == 0  # no HTTP status refused it
    assert "inside its HTTP 200 stream" in str(exc)
    assert exc.body  # the event itself
    # an error never loses history: the prompt is kept, nothing of the turn is added
    assert client.history == [{"role": "user", "content": "a long prompt"}]


@pytest.mark.parametrize(
    "message",
    [
        "Rate limit exceeded, retry later",
        "maximum recursion depth exceeded while calling a Python object",
        "CUDA out of memory",
    ],
)
async def test_other_in_stream_errors_stay_stream_errors(
    sse_server: SSEServer, message: str
) -> None:
    sse_server.script.stream(sse(error_body(message)))
    exc, _ = await _fails(opts(sse_server))
    assert type(exc) is StreamError, repr(exc)
    assert message in str(exc)


async def test_a_server_failure_code_in_the_event_is_not_a_context_error(
    sse_server: SSEServer,
) -> None:
    sse_server.script.stream(sse(error_body("prompt too long for the KV cache", code=503)))
    exc, _ = await _fails(opts(sse_server))
    assert type(exc) is StreamError, repr(exc)


async def test_the_result_says_prompt_too_long_and_the_window_known(sse_server: SSEServer) -> None:
    sse_server.script.stream(sse(error_body(OVER)))
    sse_server.script.stream(text_stream("short answer"))
    options = opts(sse_server, context_window=512)
    async with Client(options) as client:
        await client.query("first")
        with pytest.raises(ContextLengthExceededError) as caught:
            [m async for m in client.receive_response()]
        assert caught.value.context_window == 512
        # the same client goes on: the refused prompt is history, the next turn carries it
        await client.query("second")
        done = [m async for m in client.receive_response()]
        assert isinstance(done[-1], ResultMessage)
        sent = sse_server.chat_requests[-1].json["messages"]
        assert [m["content"] for m in sent if m["role"] == "user"] == ["first", "second"]


async def test_query_ends_with_prompt_too_long(sse_server: SSEServer) -> None:
    sse_server.script.stream(sse(error_body(OVER)))
    with pytest.raises(ContextLengthExceededError):
        [m async for m in query("hi", opts(sse_server))]


async def test_the_reference_servers_overflow_in_stream_quirk() -> None:
    """The fake server's ``overflow-in-stream``: a prompt over its 512-word window, streamed."""
    with FakeServer(["overflow-in-stream"]) as srv:
        options = AgentOptions(model="ref-model", base_url=srv.base_url, max_retries=0)
        prompt = "Summarise: " + "word " * 600
        exc, client = await _fails(options, prompt)
    assert isinstance(exc, ContextLengthExceededError), repr(exc)
    assert "exceeds the context size" in str(exc)
    assert client.history[-1] == {"role": "user", "content": prompt}


async def test_a_key_the_server_echoes_in_the_event_is_scrubbed(sse_server: SSEServer) -> None:
    key = "sk-live-0123456789abcdef"
    escaped = "".join(f"\\u{ord(c):04x}" for c in key)  # only recognisable decoded
    event = b'data: {"error": {"message": "' + f"{OVER} for key {escaped}".encode() + b'"}}\n\n'
    sse_server.script.stream(event)
    exc, _ = await _fails(opts(sse_server, api_key=key))
    assert isinstance(exc, ContextLengthExceededError), repr(exc)
    assert key not in str(exc)
    assert key not in exc.body
    assert "exceeds the context size" in exc.body
