"""Every example in examples/ runs, as a user would run it, against the scripted server.

The server answers like a small tool-calling model: a tool call when tools are offered and
the last message is the user's, a text answer otherwise. ``make examples-check`` runs this file.
"""

from __future__ import annotations

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
        "[hook] get_weather({'city': 'Paris'})",
        "[tool] get_weather({'city': 'Paris'})",
        "[success] structured: {'answer': '2, 3, 5 are primes.'}",
    ],
}
# claude-agent-sdk programs take no command line: the server comes from the environment
FROM_ENVIRONMENT = {"claude_sdk_program.py"}


def answer(request: Request) -> Reply:
    body: dict[str, Any] = request.json
    last = body["messages"][-1]
    if body.get("tools") and last["role"] == "user":
        name = body["tools"][0]["function"]["name"]
        stream = sse(
            chunk(role="assistant", content=None),
            chunk(
                tool_calls=[
                    tool_call(
                        0, id="call_1", type="function", name=name, arguments='{"city": "Paris"}'
                    )
                ]
            ),
            chunk(finish="tool_calls"),
        )
    elif "JSON schema" in str(body["messages"][0].get("content")):
        # output_format asked for a JSON answer in the system prompt
        stream = text_stream('{"answer": "2, 3, 5 are primes."}', usage=(12, 6))
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
