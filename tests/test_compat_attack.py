"""Hostile inputs against claude-agent-sdk compatibility and structured output (issue 13
items 3-4): model answers that are slow or crashing to parse and validate, hooks and
permission lists that must fail closed, ClaudeSDKClient edge cases."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import pytest
from pydantic import BaseModel, field_validator
from sse_server import SSEServer, chunk, opts, sse, text_stream, tool_call

from any_agent import (
    Client,
    ResultMessage,
    ToolResultBlock,
    ToolResultError,
    ToolUseBlock,
    UserMessage,
    query,
)

SCHEMA = {"type": "object", "properties": {"x": {"type": "integer"}}, "required": ["x"]}
FORMAT = {"type": "json_schema", "schema": SCHEMA}


def check_within(text: str, seconds: float = 120.0, spec: Any = FORMAT) -> dict[str, Any]:
    """``OutputSpec.check(text)`` in a child process (a regex holds the GIL, so no thread
    can time it out), failing the test instead of hanging if it never ends."""
    program = (
        "import json, sys\n"
        "from any_agent._agent.structured import output_spec\n"
        "spec, text = json.load(sys.stdin)\n"
        "v = output_spec(spec).check(text)\n"
        "print(json.dumps({'ok': v.ok, 'value': v.value, 'error': v.error}))\n"
    )
    try:
        done = subprocess.run(
            [sys.executable, "-c", program],
            input=json.dumps([spec, text]),
            capture_output=True,
            text=True,
            timeout=seconds,
            check=True,
        )
    except subprocess.TimeoutExpired:
        raise AssertionError(f"check() did not finish within {seconds:g} s") from None
    verdict: dict[str, Any] = json.loads(done.stdout)
    return verdict


async def run(server: SSEServer, **kw: Any) -> ResultMessage:
    result = None
    async for message in query("give x", opts(server, **kw)):
        if isinstance(message, ResultMessage):
            result = message
    assert result is not None
    return result


def test_an_unclosed_fence_before_a_long_run_of_whitespace_is_linear() -> None:
    # the fence search was a regex with ``\s*`` before a lazy ``.*?``: quadratic in the
    # whitespace after an unclosed fence (1 MB took hours)
    verdict = check_within("```" + " " * 400_000)
    assert not verdict["ok"]


def test_a_fenced_answer_still_parses() -> None:
    verdict = check_within('Here:\n```json\n{"x": 3}\n```\nthat is all')
    assert verdict["value"] == {"x": 3}


class Strict(BaseModel):
    x: int

    @field_validator("x")
    @classmethod
    def refuse(cls, value: int) -> int:
        if value != 7:
            raise KeyError("the validator's own bug")  # not a ValueError: pydantic re-raises
        return value


async def test_an_output_class_validator_raising_any_exception_is_asked_again(
    sse_server: SSEServer,
) -> None:
    sse_server.script.stream(text_stream('{"x": 1}'))
    sse_server.script.stream(text_stream('{"x": 7}'))
    result = await run(sse_server, output_format=Strict, max_turns=3)
    assert result.structured_output == Strict(x=7)
    reask = sse_server.chat_requests[1].json["messages"][-1]["content"]
    assert "KeyError" in reask


async def test_an_output_class_validator_raising_ends_in_an_error_result(
    sse_server: SSEServer,
) -> None:
    sse_server.script.stream(text_stream('{"x": 1}'))
    result = await run(
        sse_server, output_format=Strict, max_turns=3, max_structured_output_retries=0
    )
    assert result.subtype == "error_max_structured_output_retries"
    assert result.error is not None
    assert "KeyError" in result.error


WIPE = {
    "type": "function",
    "function": {
        "name": "wipe_disk",
        "description": "Erase the disk.",
        "parameters": {"type": "object", "properties": {}},
    },
}
LOOKUP = {
    "type": "function",
    "function": {
        "name": "lookup",
        "description": "Look a word up.",
        "parameters": {"type": "object", "properties": {}},
    },
}


def call_stream(name: str) -> bytes:
    return sse(
        chunk(role="assistant", content=None),
        chunk(tool_calls=[tool_call(0, id="c1", type="function", name=name, arguments="{}")]),
        chunk(finish="tool_calls"),
    )


async def test_a_disallowed_manual_tool_is_refused_not_left_to_the_caller(
    sse_server: SSEServer,
) -> None:
    # manual mode: a caller's loop that runs every ToolUseBlock it sees would run the
    # disallowed tool the model called anyway
    sse_server.script.stream(call_stream("wipe_disk"))
    sse_server.script.stream(text_stream("done"))
    client = Client(
        opts(sse_server, tools=[WIPE, LOOKUP], disallowed_tools=["wipe_disk"], max_turns=3)
    )
    seen: list[Any] = []
    async with client:
        await client.query("hi")
        async for message in client.receive_response():
            seen.append(message)
            if isinstance(message, UserMessage) or not hasattr(message, "content"):
                continue
            for block in message.content:
                if isinstance(block, ToolUseBlock):
                    with pytest.raises(ToolResultError, match="disallowed"):
                        client.add_tool_result(block.id, "wiped")
    result = seen[-1]
    assert isinstance(result, ResultMessage)
    assert result.stop_reason == "stop"
    refusals = [
        b
        for m in seen
        if isinstance(m, UserMessage) and isinstance(m.content, list)
        for b in m.content
        if isinstance(b, ToolResultBlock)
    ]
    assert [(b.is_error, "disallowed" in str(b.content)) for b in refusals] == [(True, True)]
    tool_message = sse_server.chat_requests[1].json["messages"][-1]
    assert "wiped" not in tool_message["content"]
