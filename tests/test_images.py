"""Images in (issue 14, item 5): prompts of TextBlock and ImageBlock and the images tools
return are sent as OpenAI ``image_url`` content parts to servers that take them; a server
that does not, or an unusable image, is a clear error before anything is sent."""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from sse_server import (
    CHAT,
    PROPS,
    Scenario,
    SSEServer,
    chunk,
    llamacpp_props,
    opts,
    sse,
    text_stream,
    tool_call,
)

from any_agent import (
    Client,
    ConfigurationError,
    ImageBlock,
    ResultMessage,
    TextBlock,
    ToolOutput,
    UserMessage,
    query,
)

# the first bytes of a PNG are all the SDK reads to know it is one
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + bytes(64)
PNG_URI = "data:image/png;base64," + base64.b64encode(PNG).decode()


def _sent(server: SSEServer, i: int = 0) -> list[dict[str, Any]]:
    chats = [r for r in server.requests if r.path == CHAT]
    messages: list[dict[str, Any]] = chats[i].json["messages"]
    return messages


async def _drain(prompt: Any, **kw: Any) -> list[Any]:
    return [m async for m in query(prompt, kw.pop("options"))]


async def test_prompt_parts_to_a_vision_server(
    sse_server: SSEServer, script: Scenario, tmp_path: Path
) -> None:
    # llama-server started with --mmproj says so in /props modalities.vision
    script.json(llamacpp_props(32768, vision=True), path=PROPS, method="GET")
    script.stream(text_stream("a cat"))
    photo = tmp_path / "photo.bin"  # a misleading suffix: the content says PNG
    photo.write_bytes(PNG)
    prompt = [
        TextBlock("what is in these?"),
        ImageBlock(url="https://example.invalid/cat.jpg"),
        ImageBlock(data=PNG),
        ImageBlock(path=str(photo)),
    ]
    await _drain(prompt, options=opts(sse_server, provider="llamacpp", max_tokens=64))
    assert _sent(sse_server)[-1] == {
        "role": "user",
        "content": [
            {"type": "text", "text": "what is in these?"},
            {"type": "image_url", "image_url": {"url": "https://example.invalid/cat.jpg"}},
            {"type": "image_url", "image_url": {"url": PNG_URI}},
            {"type": "image_url", "image_url": {"url": PNG_URI}},
        ],
    }


async def test_history_with_images_is_json_and_loads(
    sse_server: SSEServer, script: Scenario
) -> None:
    script.stream(text_stream("one"))
    script.stream(text_stream("two"))
    options = opts(sse_server, vision=True)
    async with Client(options) as client:
        await client.query([TextBlock("look"), ImageBlock(data=PNG, media_type="image/png")])
        [m async for m in client.receive_response()]
        saved = json.loads(json.dumps(client.history))
    async with Client(options, history=saved) as again:
        await again.query("and now?")
        [m async for m in again.receive_response()]
    assert _sent(sse_server, 1)[0] == _sent(sse_server, 0)[0]


async def test_a_text_only_server_is_a_clear_error(sse_server: SSEServer, script: Scenario) -> None:
    script.json(llamacpp_props(4096, vision=False), path=PROPS, method="GET")
    async with Client(opts(sse_server, provider="llamacpp")) as client:
        await client.query([TextBlock("look"), ImageBlock(data=PNG)])
        with pytest.raises(ConfigurationError, match=r"does not accept images.*vision=True"):
            [m async for m in client.receive_response()]
        assert client.history == []  # nothing half-sent is kept
    assert not [r for r in sse_server.requests if r.path == CHAT]


async def test_a_server_that_does_not_say_is_an_error_too(
    sse_server: SSEServer, script: Scenario
) -> None:
    with pytest.raises(ConfigurationError, match="does not say it accepts images"):
        await _drain([ImageBlock(url="https://example.invalid/x.png")], options=opts(sse_server))


@pytest.mark.parametrize(
    ("make", "named"),
    [
        (lambda d: ImageBlock(path=str(d / "missing.png")), r"missing\.png.*cannot be read"),
        (lambda d: ImageBlock(path=str(d)), "not a regular file"),
        (lambda d: ImageBlock(path=str(d / "big.png")), "max_image_bytes=100"),
        (lambda d: ImageBlock(path=str(d / "notes.txt")), "not an image"),
        (lambda d: ImageBlock(data=b"plain bytes"), "media_type"),
        (lambda d: ImageBlock(url="file:///etc/passwd"), "http"),
        (lambda d: ImageBlock(url="data:text/html,<b>"), "data:image/"),
        (lambda d: ImageBlock(), "exactly one of url, data or path"),
        (lambda d: ImageBlock(url="https://x.invalid/a.png", data=PNG), "exactly one"),
    ],
    ids=["missing", "directory", "too-big", "not-image", "data-untyped", "file-url", "html",
         "empty", "two"],
)  # fmt: skip
async def test_bad_images_name_what_is_wrong(
    sse_server: SSEServer, tmp_path: Path, make: Any, named: str
) -> None:
    (tmp_path / "big.png").write_bytes(PNG + bytes(200))
    (tmp_path / "notes.txt").write_text("hello")
    client = Client(opts(sse_server, vision=True, max_image_bytes=100))
    with pytest.raises(ConfigurationError, match=named):
        await client.query([TextBlock("x"), make(tmp_path)])
    assert sse_server.requests == []


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads any file")
async def test_an_unreadable_path_is_named(sse_server: SSEServer, tmp_path: Path) -> None:
    secret = tmp_path / "secret.png"
    secret.write_bytes(PNG)
    secret.chmod(0)
    with pytest.raises(ConfigurationError, match=r"secret\.png.*cannot be read"):
        await Client(opts(sse_server, vision=True)).query([ImageBlock(path=str(secret))])


class Screenshot:
    """A user-made tool (as an MCP tool would be) whose output carries an image."""

    name = "screenshot"
    definition: Mapping[str, Any] = {
        "type": "function",
        "function": {"name": "screenshot", "parameters": {"type": "object", "properties": {}}},
    }

    async def run(self, arguments: Mapping[str, Any]) -> ToolOutput:
        return ToolOutput("captured", images=(ImageBlock(data=PNG, media_type="image/png"),))


def _call_then_answer(script: Scenario) -> None:
    script.stream(
        sse(
            chunk(tool_calls=[tool_call(0, id="call_1", name="screenshot", arguments="{}")]),
            chunk(finish="tool_calls"),
        )
    )
    script.stream(text_stream("I see a screen"))


async def test_tool_images_follow_the_tool_messages(
    sse_server: SSEServer, script: Scenario
) -> None:
    _call_then_answer(script)
    options = opts(sse_server, tools=[Screenshot()], max_turns=3, vision=True)
    messages = await _drain("take a screenshot", options=options)
    second = _sent(sse_server, 1)
    # OpenAI's API takes only text in a tool message's content (and llama.cpp/Ollama read
    # images from user messages): the images come as a user message right after it
    assert second[-2] == {"role": "tool", "tool_call_id": "call_1", "content": "captured"}
    assert second[-1] == {
        "role": "user",
        "content": [
            {"type": "text", "text": "Images returned by tool call call_1:"},
            {"type": "image_url", "image_url": {"url": PNG_URI}},
        ],
    }
    results = [m for m in messages if isinstance(m, UserMessage)]
    assert results[0].content[0].images == [ImageBlock(data=PNG, media_type="image/png")]  # type: ignore[union-attr]
    assert isinstance(messages[-1], ResultMessage)


async def test_tool_images_to_a_text_only_server_become_a_note(
    sse_server: SSEServer, script: Scenario
) -> None:
    _call_then_answer(script)
    options = opts(sse_server, tools=[Screenshot()], max_turns=3, vision=False)
    await _drain("take a screenshot", options=options)
    second = _sent(sse_server, 1)
    assert second[-1]["role"] == "tool"
    assert second[-1]["content"].startswith("captured\n[1 image(s) not sent: ")
    assert "image_url" not in json.dumps(second)


async def test_a_fifo_is_refused_without_blocking(sse_server: SSEServer, tmp_path: Path) -> None:
    pipe = tmp_path / "pipe.png"
    os.mkfifo(pipe)
    with pytest.raises(ConfigurationError, match="not a regular file"):
        await Client(opts(sse_server, vision=True)).query([ImageBlock(path=str(pipe))])


class LocalFileTool(Screenshot):
    """A tool (or an MCP server) that names a local file as its image."""

    def __init__(self, path: Path) -> None:
        self._path = path

    async def run(self, arguments: Mapping[str, Any]) -> ToolOutput:
        return ToolOutput("see file", images=(ImageBlock(path=str(self._path)),))


async def test_a_tool_cannot_make_the_sdk_send_a_local_file(
    sse_server: SSEServer, script: Scenario, tmp_path: Path
) -> None:
    secret = tmp_path / "secret.png"
    secret.write_bytes(PNG)
    _call_then_answer(script)
    options = opts(sse_server, tools=[LocalFileTool(secret)], max_turns=3, vision=True)
    await _drain("take a screenshot", options=options)
    second = _sent(sse_server, 1)
    assert "image_url" not in json.dumps(second)
    assert "may not be a path" in second[-1]["content"]
