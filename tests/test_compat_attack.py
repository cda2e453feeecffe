"""Hostile inputs against claude-agent-sdk compatibility and structured output (issue 13
items 3-4): model answers that are slow or crashing to parse and validate, hooks and
permission lists that must fail closed, ClaudeSDKClient edge cases."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

import pytest
from pydantic import BaseModel, field_validator
from sse_server import SSEServer, chunk, opts, sse, text_stream, tool_call

from any_agent import (
    ClaudeAgentOptions,
    Client,
    HookMatcher,
    HookResult,
    PermissionResultDeny,
    ResultMessage,
    ToolResultBlock,
    ToolResultError,
    ToolUseBlock,
    UserMessage,
    query,
    tool,
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


# --------------------------------------------------------------------------- hook decisions

WIPED: list[str] = []


@tool
def wipe(path: str) -> str:
    """Delete a path."""
    WIPED.append(path)
    return f"wiped {path}"


async def wipe_call(server: SSEServer, **kw: Any) -> str:
    """The tool message the model got for one call to ``wipe``; asserts it did not run."""
    WIPED.clear()
    server.script.stream(
        sse(
            chunk(role="assistant", content=None),
            chunk(
                tool_calls=[
                    tool_call(0, id="c1", type="function", name="wipe", arguments='{"path":"/"}')
                ]
            ),
            chunk(finish="tool_calls"),
        )
    )
    server.script.stream(text_stream("ok"))
    options = ClaudeAgentOptions(
        base_url=server.url, model="test-model", max_retries=0, tools=[wipe], max_turns=3, **kw
    )
    async for _ in query("go", options):
        pass
    content: str = server.chat_requests[1].json["messages"][-1]["content"]
    assert WIPED == []
    return content


def claude_hook(output: dict[str, Any]) -> Any:
    async def hook(data: dict[str, Any], tool_use_id: Any, context: Any) -> dict[str, Any]:
        return output

    return {"PreToolUse": [HookMatcher(hooks=[hook])]}


@pytest.mark.parametrize("decision", ["ask", "defer"])
async def test_a_claude_hook_asking_or_deferring_never_lets_the_tool_run_unasked(
    sse_server: SSEServer, decision: str
) -> None:
    # "ask" wants a person's yes (can_use_tool here); "defer" wants the call held back
    hooks = claude_hook({"hookSpecificOutput": {"permissionDecision": decision}})
    content = await wipe_call(sse_server, hooks=hooks)
    assert content.startswith("Error: Permission denied")


async def test_a_claude_hook_asking_goes_to_can_use_tool_even_for_a_listed_tool(
    sse_server: SSEServer,
) -> None:
    asked: list[str] = []

    async def ask(name: str, args: dict[str, Any]) -> Any:
        asked.append(name)
        return PermissionResultDeny("the person said no")

    hooks = claude_hook({"hookSpecificOutput": {"permissionDecision": "ask"}})
    content = await wipe_call(sse_server, hooks=hooks, allowed_tools=["wipe"], can_use_tool=ask)
    assert asked == ["wipe"]
    assert "the person said no" in content


@pytest.mark.parametrize("output", [{"decision": "deny"}, {"decision": "Block"}])
async def test_a_claude_hook_with_an_unknown_top_level_decision_fails_closed(
    sse_server: SSEServer, output: dict[str, Any]
) -> None:
    content = await wipe_call(sse_server, hooks=claude_hook(output))
    assert "PreToolUse hook failed" in content


async def test_a_native_hook_with_an_unknown_decision_fails_closed(sse_server: SSEServer) -> None:
    async def hook(event: Any) -> HookResult:
        return HookResult(decision="block")  # type: ignore[arg-type]

    hooks = {"PreToolUse": [HookMatcher(hooks=[hook])]}
    content = await wipe_call(sse_server, hooks=hooks)
    assert "PreToolUse hook failed" in content


# --------------------------------------------------------------------------- options


def test_a_system_prompt_file_that_is_a_fifo_is_refused_not_waited_on(tmp_path: Any) -> None:
    fifo = tmp_path / "prompt"
    os.mkfifo(fifo)  # no writer: opening it for reading blocks for ever
    program = (
        "import sys\n"
        "from any_agent import ClaudeAgentOptions, ConfigurationError\n"
        "try:\n"
        "    ClaudeAgentOptions(base_url='http://127.0.0.1:9/v1', model='m',\n"
        "                       system_prompt={'type': 'file', 'path': sys.argv[1]})\n"
        "except ConfigurationError as exc:\n"
        "    print(exc)\n"
    )
    try:
        done = subprocess.run(
            [sys.executable, "-c", program, str(fifo)],
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
    except subprocess.TimeoutExpired:
        raise AssertionError("reading the FIFO hung") from None
    assert "not a regular file" in done.stdout


async def test_retries_cut_short_by_max_turns_say_max_turns(sse_server: SSEServer) -> None:
    sse_server.script.stream(text_stream("not json"))
    result = await run(sse_server, output_format=FORMAT, max_turns=1)
    assert (result.subtype, result.terminal_reason) == ("error_max_turns", "max_turns")
