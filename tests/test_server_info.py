"""Client.get_server_info(): what each server says about itself, asked per its profile, each
answer bounded, garbage read as "unknown" (issue 14, item 3)."""

from __future__ import annotations

import pytest
from sse_server import (
    LMSTUDIO_MODELS,
    MODELS,
    OLLAMA_PS,
    OLLAMA_SHOW,
    PROPS,
    Reply,
    Scenario,
    SSEServer,
    llamacpp_props,
    lmstudio_models,
    ollama_ps,
    ollama_show,
    opts,
    vllm_models,
)

from any_agent import Client, ServerInfo


async def _info(server: SSEServer, **kw: object) -> ServerInfo:
    async with Client(opts(server, **kw)) as client:
        return await client.get_server_info()


async def test_llamacpp_props(sse_server: SSEServer, script: Scenario) -> None:
    script.json(llamacpp_props(8192, total_slots=4, vision=True), path=PROPS, method="GET")
    info = await _info(sse_server, provider="llamacpp")
    assert info.context_window == 8192
    assert info.total_slots == 4
    assert info.vision is True
    assert info.tools is True
    assert "props" in info.sources
    assert [r.path for r in sse_server.requests].count(PROPS) == 1


async def test_llamacpp_models_meta_when_props_is_missing(
    sse_server: SSEServer, script: Scenario
) -> None:
    # llama-server's /v1/models entry (cassettes/llamacpp/qwen2.5-coder-1.5b/models.list.yaml)
    entry = {
        "id": "test-model",
        "object": "model",
        "owned_by": "llamacpp",
        "architecture": {"input_modalities": ["text"], "output_modalities": ["text"]},
        "meta": {"n_vocab": 151936, "n_ctx": 4096, "n_ctx_train": 32768},
    }
    script.json({"object": "list", "data": [entry]}, path=MODELS, method="GET")
    info = await _info(sse_server, provider="llamacpp")  # /props unscripted: HTTP 500
    assert info.context_window == 4096
    assert info.trained_context == 32768
    assert info.vision is False
    assert any("/props" in p and "HTTP 500" in p for p in info.problems)


async def test_ollama_ps_and_show(sse_server: SSEServer, script: Scenario) -> None:
    script.json(ollama_ps(context_length=2048), path=OLLAMA_PS, method="GET")
    script.json(ollama_show(capabilities=("completion", "vision", "thinking")), path=OLLAMA_SHOW)
    info = await _info(sse_server, provider="ollama")
    assert info.context_window == 2048  # what the loaded model runs with, not the trained 32k
    assert info.trained_context == 32768
    assert info.vision is True
    assert info.reasoning is True
    assert info.tools is False
    assert info.capabilities == ("completion", "vision", "thinking")
    show = next(r for r in sse_server.requests if r.path == OLLAMA_SHOW)
    assert show.json == {"model": "test-model"}


async def test_ollama_num_ctx_parameter(sse_server: SSEServer, script: Scenario) -> None:
    script.json(ollama_show(num_ctx=8192), path=OLLAMA_SHOW)
    info = await _info(sse_server, provider="ollama")  # not loaded: /api/ps lists nothing
    assert info.context_window == 8192


async def test_lmstudio_v0_models(sse_server: SSEServer, script: Scenario) -> None:
    script.json(lmstudio_models(loaded_context_length=16384), path=LMSTUDIO_MODELS, method="GET")
    info = await _info(sse_server, provider="lmstudio")
    assert info.context_window == 16384
    assert info.trained_context == 32768
    assert info.vision is True
    assert info.tools is True


async def test_vllm_max_model_len(sse_server: SSEServer, script: Scenario) -> None:
    script.json(vllm_models(max_model_len=2048), path=MODELS, method="GET")
    info = await _info(sse_server, provider="vllm")
    assert info.context_window == 2048


async def test_generic_server_that_says_nothing(sse_server: SSEServer) -> None:
    info = await _info(sse_server)  # the scripted server's plain /v1/models
    assert info.server == "generic"
    assert info.context_window is None
    assert info.vision is None
    assert info.sources == ()


@pytest.mark.parametrize(
    "reply",
    [
        Reply(body=b"<html>not json</html>"),
        Reply(body=[1, 2, 3]),
        Reply(body={"default_generation_settings": {"n_ctx": "4096"}, "total_slots": -1}),
        Reply(body={"default_generation_settings": {"n_ctx": True}, "n_ctx": 1e9}),
        Reply(body=b"[" * 100_000 + b"]" * 100_000),
        Reply(body=b'{"n_ctx": 4096, ' + b'"x": 1, ' * 600_000 + b'"y": 2}'),
        Reply(status=404, body={"error": "not found"}),
    ],
    ids=["html", "list", "wrong-types", "bool-and-float", "deep", "huge", "404"],
)
async def test_garbage_is_unknown_never_a_crash(
    sse_server: SSEServer, script: Scenario, reply: Reply
) -> None:
    script.add(reply, path=PROPS, method="GET")
    info = await _info(sse_server, provider="llamacpp")
    assert info.context_window is None
    assert info.total_slots is None
    assert any("props" in p for p in info.problems)


async def test_a_slow_endpoint_is_bounded(sse_server: SSEServer, script: Scenario) -> None:
    script.json(llamacpp_props(), path=PROPS, method="GET", stall=30)
    info = await _info(sse_server, provider="llamacpp", server_info_timeout=0.2)
    assert info.context_window is None
    assert any("no answer within 0.2 s" in p for p in info.problems)


async def test_cached_per_client(sse_server: SSEServer, script: Scenario) -> None:
    script.json(llamacpp_props(), path=PROPS, method="GET", times=None)
    async with Client(opts(sse_server, provider="llamacpp")) as client:
        first = await client.get_server_info()
        assert await client.get_server_info() is first
        await client.get_server_info(refresh=True)
    assert [r.path for r in sse_server.requests].count(PROPS) == 2
