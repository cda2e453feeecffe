"""Every example in examples/ runs, as a user would run it, against the scripted server.

The server answers like a small tool-calling model: a tool call when tools are offered and
the last message is the user's, a text answer otherwise. ``make examples-check`` runs this file.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from sse_server import Reply, Request, SSEServer, chunk, sse, text_stream, tool_call

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
SCRIPTS = sorted(p for p in EXAMPLES.glob("*.py") if not p.name.startswith("_"))

EXPECTED = {
    "simple_query.py": ["2, 3, 5", "stop=stop"],
    "env_config.py": ["provider ollama", "using test-model", "2, 3, 5"],
    "chat.py": ["> What is my name?", "2, 3, 5", "[stop]"],
    "manual_tools.py": ["[tool call] get_weather({'city': 'Paris'})", "after 2 turns"],
    "tool_agent.py": [
        "[call] get_weather({'city': 'Paris'})",
        '[result] {"city":"Paris"',
        "1 tool calls",
    ],
    "timeouts.py": ["done: '2, 3, 5"],
    "mcp_stdio.py": [
        "[call] mcp__weather__get_weather({'city': 'Paris'})",
        '"temperature": 21',
        "[stop: 1 tool calls]",
    ],
    "claude_sdk_program.py": [
        "[hook] mcp__weather__get_weather({'city': 'Paris'})",
        "[tool] mcp__weather__get_weather({'city': 'Paris'})",
        "[success] structured: {'answer': '2, 3, 5 are primes.'}",
    ],
    "claude_sdk_custom_tools.py": [
        "ToolUseBlock(id='call_1', name='mcp__people__greet', input={'name': 'Alice'}",
        "ToolResultBlock(tool_use_id='call_1', content='Hello, Alice!'",
        "[call] mcp__calc__add({'a': 15, 'b': 27})",
        "[result] 15 + 27 = 42",
        "[error] cannot divide by zero",
        "[test-model] 2, 3, 5 are primes.",
        "[success] 2 turns, error=False",
    ],
    "claude_sdk_mcp_servers.py": [
        "[call] mcp__weather__get_weather({'city': 'Paris'})",
        '"temperature": 21',
        "[call] mcp__units__to_fahrenheit({'celsius': 21})",
        "[result] 69.8 °F",
        "[success] 2, 3, 5 are primes.",
    ],
    "claude_sdk_structured_output.py": [
        "city: 2, 3, 5 are primes., 2, 3, 5 are primes., 2.5M",
        "plain: {'capital': '2, 3, 5 are primes.', 'rivers': ['2, 3, 5 are primes.']}",
    ],
}
# claude-agent-sdk programs take no command line: the server comes from the environment
FROM_ENVIRONMENT = {p.name for p in SCRIPTS if p.name.startswith("claude_sdk_")}


# the arguments the scripted model gives each tool, by the tool's own name
ARGUMENTS = {
    "greet": {"name": "Alice"},
    "add": {"a": 15, "b": 27},
    "divide": {"a": 1, "b": 0},
    "to_fahrenheit": {"celsius": 21},
}
SCHEMA_MARKER = "matches this JSON schema:\n"


def example_value(schema: dict[str, Any]) -> Any:
    """A value matching a small JSON schema (objects, arrays, scalars)."""
    kind = schema.get("type")
    if kind == "object":
        return {key: example_value(sub) for key, sub in schema.get("properties", {}).items()}
    if kind == "array":
        return [example_value(schema.get("items", {"type": "string"}))]
    return {"integer": 2, "number": 2.5, "boolean": True}.get(str(kind), "2, 3, 5 are primes.")


def answer(request: Request) -> Reply:
    body: dict[str, Any] = request.json
    last = body["messages"][-1]
    system = str(body["messages"][0].get("content"))
    if body.get("tools") and last["role"] == "user":
        # the tool the prompt names (claude_sdk_* examples), else the first one offered
        names = [t["function"]["name"] for t in body["tools"]]
        named = [n for n in names if n.rsplit("__", 1)[-1] in str(last["content"])]
        name = (named or names)[0]
        arguments = ARGUMENTS.get(name.rsplit("__", 1)[-1], {"city": "Paris"})
        stream = sse(
            chunk(role="assistant", content=None),
            chunk(
                tool_calls=[
                    tool_call(
                        0, id="call_1", type="function", name=name, arguments=json.dumps(arguments)
                    )
                ]
            ),
            chunk(finish="tool_calls"),
        )
    elif SCHEMA_MARKER in system:
        # output_format asked for a JSON answer in the system prompt
        schema = json.loads(system.split(SCHEMA_MARKER, 1)[1])
        stream = text_stream(json.dumps(example_value(schema)), usage=(12, 6))
    else:
        stream = text_stream("2, 3, 5", " are primes.", usage=(12, 6))
    return Reply(chunks=[stream])


def test_every_example_has_expectations() -> None:
    assert {p.name for p in SCRIPTS} == set(EXPECTED)


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
def test_example_runs(sse_server: SSEServer, script: Path) -> None:
    sse_server.script.add(answer, times=None)
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANY_AGENT_")}
    argv = [sys.executable, script.name]
    if script.name in FROM_ENVIRONMENT:
        env |= {"ANY_AGENT_BASE_URL": sse_server.url, "ANY_AGENT_MODEL": "test-model"}
    else:
        argv += ["--base-url", sse_server.url, "--model", "test-model"]
    proc = subprocess.run(
        argv,
        cwd=EXAMPLES,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    for needle in EXPECTED[script.name]:
        assert needle in proc.stdout, f"{needle!r} not in output:\n{proc.stdout}"
