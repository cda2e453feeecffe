"""Every ```python block in README.md and docs/*.md runs as written (issue 18 item 1).

Each block is written to a file and run in a subprocess with ``ANY_AGENT_BASE_URL`` and
``ANY_AGENT_MODEL`` pointing at the scripted server, which answers like a small
tool-calling model: when the request offers tools and its last message is the user's, a call
of the first tool with arguments made from that tool's schema; otherwise a short text. A
block must exit 0 *and* talk to the server: a block that only defines a function and never
runs it is the bug this guards against. A block that is deliberately partial has the line
``<!-- fragment -->`` right before its opening fence and is not run. New files under docs/
are picked up without changing this file.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sse_server import Reply, Request, SSEServer, chunk, sse, text_stream, tool_call
from test_examples import SCHEMA_MARKER, example_value

REPO = Path(__file__).resolve().parents[1]
FRAGMENT = "<!-- fragment -->"
_OPEN = re.compile(r"^(?P<indent> {0,3})(?P<fence>`{3,}|~{3,})\s*(?P<lang>[\w+-]*)")


@dataclass(frozen=True)
class Block:
    path: Path
    line: int  # 1-based line of the opening fence
    code: str
    fragment: bool

    @property
    def name(self) -> str:
        return f"{self.path.relative_to(REPO)}:{self.line}"


def python_blocks(path: Path) -> list[Block]:
    """The ```python (or ```py) blocks of one Markdown file, in order."""
    lines = path.read_text(encoding="utf-8").splitlines()
    blocks: list[Block] = []
    i = 0
    while i < len(lines):
        m = _OPEN.match(lines[i])
        if not m:
            i += 1
            continue
        fence, start = m["fence"], i
        i += 1
        body: list[str] = []
        while i < len(lines) and not lines[i].strip().startswith(fence):
            body.append(lines[i])
            i += 1
        i += 1  # the closing fence
        if m["lang"].lower() in ("python", "py", "python3"):
            before = next((ln.strip() for ln in reversed(lines[:start]) if ln.strip()), "")
            blocks.append(Block(path, start + 1, "\n".join(body) + "\n", before == FRAGMENT))
    return blocks


def doc_files() -> list[Path]:
    return [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]


BLOCKS = [b for path in doc_files() for b in python_blocks(path)]
RUNNABLE = [b for b in BLOCKS if not b.fragment]


def _value(schema: dict[str, Any]) -> Any:
    if schema.get("enum"):
        return schema["enum"][0]
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "string")
    return {"integer": 1, "number": 1.5, "boolean": True, "array": [], "object": {}}.get(
        str(kind), "Paris"
    )


def arguments_for(tool: dict[str, Any]) -> dict[str, Any]:
    """Arguments for every required property of an OpenAI tool definition."""
    params = (tool.get("function") or {}).get("parameters") or {}
    props = params.get("properties") or {}
    return {name: _value(props.get(name) or {}) for name in params.get("required") or []}


def answer(request: Request) -> Reply:
    body: dict[str, Any] = request.json
    last = body["messages"][-1]
    tools = body.get("tools") or []
    if tools and last["role"] == "user":
        first = tools[0]
        call = tool_call(
            0,
            id="call_1",
            type="function",
            name=first["function"]["name"],
            arguments=json.dumps(arguments_for(first)),
        )
        opening = chunk(role="assistant", content=None)
        stream = sse(opening, chunk(tool_calls=[call]), chunk(finish="tool_calls"))
    elif SCHEMA_MARKER in system_prompt(body):
        # output_format: the SDK asked for JSON matching the schema in the system prompt
        schema = json.loads(system_prompt(body).split(SCHEMA_MARKER, 1)[1])
        stream = text_stream(json.dumps(example_value(schema)), usage=(12, 6))
    else:
        stream = text_stream("2, 3, 5", " are primes.", usage=(12, 6))
    return Reply(chunks=[stream])


def system_prompt(body: dict[str, Any]) -> str:
    first = body["messages"][0]
    return str(first.get("content") or "") if first.get("role") == "system" else ""


#: ResultMessage subtypes of a run that failed: a block printing one did not work as written
ERROR_SUBTYPES = ("error_max_structured_output_retries", "error_during_execution")


def test_the_docs_have_blocks_to_run() -> None:
    assert len(RUNNABLE) >= 4, [b.name for b in BLOCKS]


def test_fragment_marker_and_fences_are_read(tmp_path: Path) -> None:
    doc = tmp_path / "x.md"
    doc.write_text(
        "text\n```python\nprint(1)\n```\n\n<!-- fragment -->\n\n```python\nx = ...\n```\n"
        "```sh\nmake\n```\n````py\n```python\n````\n",
        encoding="utf-8",
    )
    got = [(b.line, b.code, b.fragment) for b in python_blocks(doc)]
    assert got == [(2, "print(1)\n", False), (8, "x = ...\n", True), (14, "```python\n", False)]


@pytest.mark.parametrize("block", RUNNABLE, ids=lambda b: b.name)
def test_block_runs_as_written(sse_server: SSEServer, block: Block, tmp_path: Path) -> None:
    sse_server.script.add(answer, times=None)
    program = tmp_path / "block.py"
    program.write_text(block.code, encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ANY_AGENT_", "PYTEST_"))}
    env |= {"ANY_AGENT_BASE_URL": sse_server.url, "ANY_AGENT_MODEL": "test-model"}
    proc = subprocess.run(
        [sys.executable, str(program)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, f"{block.name} failed:\n{proc.stdout[-2000:]}{proc.stderr[-3000:]}"
    failed = [s for s in ERROR_SUBTYPES if s in proc.stdout]
    assert not failed, f"{block.name} ran into {failed[0]}:\n{proc.stdout[-2000:]}"
    assert sse_server.requests, (
        f"{block.name} exited without talking to the server: a complete program runs "
        f"(asyncio.run(main())); a deliberate fragment has `{FRAGMENT}` before its fence"
    )
