"""The context guard (issue 14, item 3): a prompt larger than the window is refused before it
is sent (or its oldest turns dropped), ``max_tokens`` past what the window leaves is lowered,
a small prompt costs no request, and a server that cut the prompt silently is caught."""

from __future__ import annotations

import logging

import pytest
from sse_server import (
    CHAT,
    MODELS,
    PROPS,
    TOKENIZE,
    Scenario,
    SSEServer,
    chunk,
    llamacpp_props,
    llamacpp_tokenize,
    opts,
    sse,
    text_stream,
    vllm_models,
    vllm_tokenize,
)

from any_agent import (
    AgentOptions,
    Client,
    ConfigurationError,
    ContextLengthExceededError,
    ResultMessage,
    query,
)


def _chat_requests(server: SSEServer) -> list[object]:
    return [r for r in server.requests if r.path == CHAT]


async def _run(options: AgentOptions, prompt: str = "hi") -> ResultMessage:
    result = None
    async for message in query(prompt, options):
        if isinstance(message, ResultMessage):
            result = message
    assert result is not None
    return result


async def test_default_max_tokens_on_a_4096_server_is_lowered(
    sse_server: SSEServer, script: Scenario
) -> None:
    # today's default max_tokens=4096 on llama-server -c 4096: the prompt leaves less
    script.json(llamacpp_props(4096), path=PROPS, method="GET")
    script.json(llamacpp_tokenize(30), path=TOKENIZE)
    script.stream(text_stream("ok", usage=(30, 1)))
    await _run(opts(sse_server, provider="llamacpp"))
    sent = _chat_requests(sse_server)[0].json  # type: ignore[attr-defined]
    assert sent["max_tokens"] == 4096 - (30 + 8)  # the count plus the message framing
    tokenize = next(r for r in sse_server.requests if r.path == TOKENIZE)
    assert tokenize.json == {"content": "hi"}


async def test_a_small_prompt_costs_no_tokenize(sse_server: SSEServer, script: Scenario) -> None:
    script.json(llamacpp_props(32768), path=PROPS, method="GET")
    script.stream(text_stream("ok"), times=3)
    async with Client(opts(sse_server, provider="llamacpp", max_tokens=512)) as client:
        for _ in range(3):
            await client.query("hello there")
            [m async for m in client.receive_response()]
    paths = [r.path for r in sse_server.requests]
    assert TOKENIZE not in paths
    assert paths.count(PROPS) == 1  # discovered once per client, not per turn
    assert [r.json["max_tokens"] for r in _chat_requests(sse_server)] == [512] * 3  # type: ignore[attr-defined]


async def test_a_prompt_over_the_window_is_refused_before_sending(
    sse_server: SSEServer, script: Scenario
) -> None:
    script.json(llamacpp_props(4096), path=PROPS, method="GET")
    script.json(llamacpp_tokenize(5000), path=TOKENIZE)
    async with Client(opts(sse_server, provider="llamacpp")) as client:
        await client.query("x " * 6000)
        with pytest.raises(ContextLengthExceededError) as caught:
            [m async for m in client.receive_response()]
        assert client.history[-1]["role"] == "user"  # the prompt is kept
    assert caught.value.prompt_tokens == 5000 + 8
    assert caught.value.context_window == 4096
    assert "5008 tokens" in str(caught.value)
    assert "4096" in str(caught.value)
    assert caught.value.status == 0
    assert _chat_requests(sse_server) == []


async def test_no_tokenizer_uses_the_conservative_estimate(
    sse_server: SSEServer, script: Scenario
) -> None:
    # a generic server: the window is given, nothing is asked of the server
    with pytest.raises(ContextLengthExceededError, match="estimated at 3 bytes a token"):
        await _run(opts(sse_server, context_window=1000), "word " * 1000)
    assert sse_server.requests == []


async def test_a_failed_tokenize_falls_back_to_the_estimate_once(
    sse_server: SSEServer, script: Scenario
) -> None:
    script.json(llamacpp_props(2048), path=PROPS, method="GET")
    script.stream(text_stream("ok"), times=2)
    async with Client(opts(sse_server, provider="llamacpp", max_tokens=2040)) as client:
        for _ in range(2):
            await client.query("a short question, " * 4)  # near the limit with max_tokens
            [m async for m in client.receive_response()]
    # /tokenize unscripted → 500: asked once, then the estimate
    assert [r.path for r in sse_server.requests].count(TOKENIZE) == 1
    assert all(r.json["max_tokens"] < 2040 for r in _chat_requests(sse_server))  # type: ignore[attr-defined]


async def test_vllm_tokenize_counts_the_messages(sse_server: SSEServer, script: Scenario) -> None:
    script.json(vllm_models(max_model_len=4096), path=MODELS, method="GET")
    script.json(vllm_tokenize(100), path=TOKENIZE)
    script.stream(text_stream("ok"))
    await _run(opts(sse_server, provider="vllm", system_prompt="be brief"))
    tokenize = next(r for r in sse_server.requests if r.path == TOKENIZE)
    assert tokenize.json["messages"][0] == {"role": "system", "content": "be brief"}
    assert _chat_requests(sse_server)[0].json["max_tokens"] == 4096 - 100  # type: ignore[attr-defined]


async def test_drop_oldest_sends_the_latest_turns_and_keeps_history(
    sse_server: SSEServer, script: Scenario
) -> None:
    history = []
    for i in range(6):
        history += [
            {"role": "user", "content": f"question {i} " + "pad " * 200},
            {"role": "assistant", "content": f"answer {i}"},
        ]
    script.stream(text_stream("ok"))
    options = opts(
        sse_server,
        context_window=1200,
        on_context_overflow="drop_oldest",
        max_tokens=64,
        system_prompt="sys",
    )
    async with Client(options, history=history) as client:
        await client.query("the last question")
        [m async for m in client.receive_response()]
        assert len(client.history) == 12 + 2
    sent = _chat_requests(sse_server)[0].json["messages"]  # type: ignore[attr-defined]
    assert sent[0] == {"role": "system", "content": "sys"}
    assert sent[-1] == {"role": "user", "content": "the last question"}
    assert sent[1]["role"] == "user"  # whole turns dropped, from the oldest
    assert not any("question 0" in str(m.get("content")) for m in sent)
    assert 3 <= len(sent) < 14


async def test_off_sends_anything(sse_server: SSEServer, script: Scenario) -> None:
    script.stream(text_stream("ok"))
    await _run(opts(sse_server, context_window=100, on_context_overflow="off"), "w " * 500)
    assert len(_chat_requests(sse_server)) == 1


def _ollama_cut_stream() -> bytes:
    # Ollama past num_ctx: HTTP 200, and usage shows the prompt it kept (haoxiang-xu/PuPu#129:
    # prompt_eval_count 2051 of ~15,750)
    return sse(
        chunk("ok"),
        chunk(finish="stop"),
        chunk(usage={"prompt_tokens": 2048, "completion_tokens": 1, "total_tokens": 2049}),
    )


async def test_silent_truncation_warns(
    sse_server: SSEServer, script: Scenario, caplog: pytest.LogCaptureFixture
) -> None:
    script.stream(_ollama_cut_stream())
    with caplog.at_level(logging.WARNING, logger="any_agent.context"):
        await _run(opts(sse_server), "lorem ipsum dolor " * 3000)
    assert any("cut the prompt" in r.getMessage() for r in caplog.records)
    assert any("2048 prompt tokens" in r.getMessage() for r in caplog.records)


async def test_silent_truncation_raises_when_asked(sse_server: SSEServer, script: Scenario) -> None:
    script.stream(_ollama_cut_stream())
    async with Client(opts(sse_server, on_truncation="error")) as client:
        await client.query("lorem ipsum dolor " * 3000)
        with pytest.raises(ContextLengthExceededError, match="cut the prompt") as caught:
            [m async for m in client.receive_response()]
        assert caught.value.prompt_tokens == 2048
        assert client.history[-1]["role"] == "user"  # the cut turn's answer is not kept


async def test_an_honest_count_is_not_truncation(
    sse_server: SSEServer, script: Scenario, caplog: pytest.LogCaptureFixture
) -> None:
    script.stream(text_stream("ok", usage=(12000, 1)))
    with caplog.at_level(logging.WARNING, logger="any_agent.context"):
        await _run(opts(sse_server, on_truncation="error"), "lorem ipsum dolor " * 3000)
    assert not caplog.records


async def test_context_usage(sse_server: SSEServer, script: Scenario) -> None:
    script.json(llamacpp_props(8192), path=PROPS, method="GET")
    script.stream(text_stream("ok", usage=(100, 20)))
    async with Client(opts(sse_server, provider="llamacpp", max_tokens=64)) as client:
        before = await client.get_context_usage()
        assert before.estimated
        assert before.context_window == 8192
        await client.query("hi")
        [m async for m in client.receive_response()]
        after = await client.get_context_usage()
    assert after.used_tokens == 120
    assert not after.estimated
    assert after.remaining_tokens == 8192 - 120
    assert after.percent_used == 1.5


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("context_window", -1),
        ("context_window", 0),
        ("context_window", True),
        ("on_context_overflow", "truncate"),
        ("on_truncation", "ignore"),
        ("server_info_timeout", 0),
        ("max_concurrent_requests", 0),
        ("transient_retries", -1),
        ("max_image_bytes", 0),
        ("vision", "yes"),
    ],
)
def test_bad_context_options_name_the_field(field: str, value: object) -> None:
    with pytest.raises(ConfigurationError, match=field):
        AgentOptions(model="m", base_url="http://127.0.0.1:1/v1", **{field: value})  # type: ignore[arg-type]


async def test_metadata_posts_declare_their_json_body(
    sse_server: SSEServer, script: Scenario
) -> None:
    """``/tokenize`` went without a Content-Type: a recording replayed it as raw bytes, so
    the request was not found there and the SDK fell back to its estimate (a different
    conversation with the server than the one recorded). GETs carry no body and no type."""
    script.json(llamacpp_props(600), path=PROPS, method="GET")
    script.json(llamacpp_tokenize(30), path=TOKENIZE)
    script.stream(text_stream("ok"))
    await _run(opts(sse_server, provider="llamacpp", max_tokens=512), "a question " * 20)
    by_path = {r.path: r for r in sse_server.requests}
    assert by_path[TOKENIZE].headers["content-type"] == "application/json"
    assert by_path[TOKENIZE].json == {"content": "a question " * 20}
    assert "content-type" not in by_path[PROPS].headers
