"""Judge what happened (issue 18 item 7).

* ``multiturn.agent-loop[wire]``: a turn 1 that ends in an in-stream error event, with no
  finish reason and no ``[DONE]``, is a failure (llama-server under ``tool_choice: auto``,
  llama.cpp #24644: the 200 has been sent, so the "peg-native format" error arrives as an
  ``error`` event inside the stream), even though a tool call streamed before it;
* live mode tries a failing judgement again (bounded by ``--flaky-tries``): one that holds on
  a retry is ``flaky`` with the counts, shown in the matrix;
* a ``created`` that steps forward chunk by chunk is llama-server's per-chunk clock: one
  warning, in the same words whenever it is seen.

The plugin runs in a subprocess against the scripted server on 127.0.0.1.
"""

from __future__ import annotations

import json
import subprocess
import threading
from pathlib import Path
from typing import Any

import pytest
from child_pytest import run_pytest
from sse_server import Reply, Request, SSEServer, chunk, sse, text_stream, tool_call

from conformance.report import write_reports


def _plugin(cwd: Path, server: SSEServer, *args: str) -> subprocess.CompletedProcess[str]:
    return run_pytest(
        cwd, "-q", "--base-url", server.url, "--model", "test-model", "--layers", "wire",
        "--report-dir", str(cwd / "reports"), *args,
    )  # fmt: skip


def _results(cwd: Path, provider: str = "generic") -> dict[str, dict[str, Any]]:
    path = cwd / "reports" / "results" / f"{provider}__test-model.json"
    data = json.loads(path.read_text(encoding="utf-8"))
    return {f"{r['check']}[{r['layer']}]": r for r in data["results"]}


class AgentLoopServer:
    """Turn 1 (the last message is the user's): a get_weather call. The first ``broken``
    turn-1 requests then end as llama-server's do under #24644: an error event, no
    finish_reason, no [DONE]. Turn 2 (a tool result): a text answer that uses it."""

    def __init__(self, broken: int) -> None:
        self.broken = broken
        self.turn1 = 0
        self._lock = threading.Lock()

    def __call__(self, request: Request) -> Reply:
        body: dict[str, Any] = request.json
        if body["messages"][-1]["role"] == "tool":
            return Reply(chunks=[text_stream("It is sunny in Paris, ", "21 °C.")])
        with self._lock:
            self.turn1 += 1
            broken = self.turn1 <= self.broken
        call = tool_call(0, id="call_1", type="function", name="get_weather", arguments="")
        args = tool_call(0, arguments='{"city": "Paris"}')
        head = [chunk(role="assistant", content=None), chunk(tool_calls=[call])]
        if broken:
            error = {
                "error": {
                    "code": 500,
                    "message": "the model output does not match the expected peg-native format",
                    "type": "server_error",
                }
            }
            return Reply(chunks=[sse(*head, chunk(tool_calls=[args]), error, done=False)])
        return Reply(chunks=[sse(*head, chunk(tool_calls=[args]), chunk(finish="tool_calls"))])


LOOP = ("--checks", "multiturn.agent-loop")


def test_turn_one_ending_in_an_error_event_fails(sse_server: SSEServer, tmp_path: Path) -> None:
    sse_server.script.add(AgentLoopServer(broken=1), times=None)
    _plugin(tmp_path, sse_server, *LOOP, "--flaky-tries", "1")
    got = _results(tmp_path)["multiturn.agent-loop[wire]"]
    assert got["outcome"] == "fail"
    assert "turn 1 ended in an in-stream error event" in got["message"]
    assert "no finish_reason" in got["message"]
    assert "no data: [DONE]" in got["message"]


def test_a_failure_that_holds_on_a_retry_is_flaky(sse_server: SSEServer, tmp_path: Path) -> None:
    script = sse_server.script.add(AgentLoopServer(broken=1), times=None)
    proc = _plugin(tmp_path, sse_server, *LOOP)
    got = _results(tmp_path)["multiturn.agent-loop[wire]"]
    assert got["outcome"] == "flaky", proc.stdout[-2000:]
    # two tries by default (--flaky-tries): the first fails, the retry holds
    assert got["message"].startswith("failed 1 of 2 tries, held 1: turn 1 ended in an in-stream")
    assert script.turn1 == 2
    assert "1 flaky" in proc.stdout

    # the matrix shows it: its own symbol, legend entry and css class
    written = write_reports([tmp_path / "reports" / "results"], tmp_path / "out")
    assert written
    md = (tmp_path / "out" / "compatibility.md").read_text(encoding="utf-8")
    html = (tmp_path / "out" / "compatibility.html").read_text(encoding="utf-8")
    assert "🎲" in md
    assert "flaky" in md
    assert "o-flaky" in html
    assert ".o-flaky{" in html


def test_a_failure_on_every_try_stays_a_failure(sse_server: SSEServer, tmp_path: Path) -> None:
    script = sse_server.script.add(AgentLoopServer(broken=99), times=None)
    _plugin(tmp_path, sse_server, *LOOP, "--flaky-tries", "3")
    got = _results(tmp_path)["multiturn.agent-loop[wire]"]
    assert got["outcome"] == "fail"
    assert got["message"].startswith("failed 3 of 3 tries: ")
    assert script.turn1 == 3


def test_the_llama_server_profile_knows_it(sse_server: SSEServer, tmp_path: Path) -> None:
    sse_server.script.add(AgentLoopServer(broken=99), times=None)
    _plugin(tmp_path, sse_server, *LOOP, "--provider", "llamacpp-tools")
    got = _results(tmp_path, "llamacpp-tools")["multiturn.agent-loop[wire]"]
    assert got["outcome"] == "xfail"
    assert got["link"] == "https://github.com/ggml-org/llama.cpp/issues/24644"
    assert got["message"].startswith("failed 2 of 2 tries")


def test_a_known_deterministic_failure_is_tried_once(sse_server: SSEServer, tmp_path: Path) -> None:
    # the stock-template llamacpp profile lists agent-loop[wire] as a plain known failure
    script = sse_server.script.add(AgentLoopServer(broken=99), times=None)
    _plugin(tmp_path, sse_server, *LOOP, "--provider", "llamacpp")
    assert _results(tmp_path, "llamacpp")["multiturn.agent-loop[wire]"]["outcome"] == "xfail"
    assert script.turn1 == 1


@pytest.mark.parametrize("tries", ["0", "11"])
def test_flaky_tries_is_bounded(sse_server: SSEServer, tmp_path: Path, tries: str) -> None:
    proc = _plugin(tmp_path, sse_server, *LOOP, "--flaky-tries", tries)
    assert proc.returncode == 2
    assert "--flaky-tries takes 1 to 10" in proc.stdout + proc.stderr


def test_a_per_chunk_clock_is_one_warning(sse_server: SSEServer, tmp_path: Path) -> None:
    # llama-server: `created` is the second each chunk was made in
    def answer(request: Request) -> Reply:
        pieces = [chunk(role="assistant", content=""), chunk("1, 2"), chunk(", 3")]
        pieces.append(chunk(finish="stop"))
        stamped = [p | {"created": 1_700_000_000 + i // 2} for i, p in enumerate(pieces)]
        return Reply(chunks=[sse(*stamped)])

    sse_server.script.add(answer, times=None)
    _plugin(tmp_path, sse_server, "--checks", "stream.chunk-shape")
    got = _results(tmp_path)["stream.chunk-shape[wire]"]
    assert got["outcome"] == "warn"
    assert "created is each chunk's own time" in got["message"]
