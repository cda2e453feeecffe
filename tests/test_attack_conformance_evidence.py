"""Attacks on issue 18's evidence (attacker-fixer, session 4).

An excerpt of a long conversation keeps its end: the last messages are where a multi-turn
check failed (the answer to the tool result, the error), so a shortened list keeps its head
and its tail, never only its head.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from child_pytest import run_pytest
from sse_server import Reply, Request, SSEServer, chunk, sse, text_stream, tool_call

from conformance.harness.context import SDKRun, _sdk_excerpt, _short
from conformance.harness.recording import Manifest


def _conversation(n: int) -> list[dict[str, str]]:
    return [{"role": "user", "content": f"message {i}"} for i in range(n)]


def test_a_shortened_request_keeps_its_last_message() -> None:
    messages = _short({"messages": _conversation(12)})["messages"]
    assert messages[0] == {"role": "user", "content": "message 0"}
    assert messages[-1] == {"role": "user", "content": "message 11"}
    assert any("12 items" in str(m) for m in messages)
    assert len(messages) <= 9


def test_the_sdk_excerpt_shows_the_end_of_the_conversation() -> None:
    history = json.loads(_sdk_excerpt(SDKRun(), _conversation(20)))["history"]
    assert history[-1]["content"] == "message 19"


# ---- secrets in kept exchanges ----------------------------------------------------------------

#: An API key with a quote in it: JSON escapes it, so a redaction run over JSON text (which
#: doubles the escaping of an excerpt that is itself JSON) no longer sees it.
QUOTED_KEY = 'k3yw1thq"te+sl/9'


class EchoingServer:
    """A hostile server: turn 1 calls get_weather, turn 2 answers with the caller's
    Authorization header in its text (as the fake server's `secret-headers` quirk does)."""

    def __call__(self, request: Request) -> Reply:
        body: dict[str, Any] = request.json
        if body["messages"][-1]["role"] == "tool":
            said = request.headers.get("authorization", "").removeprefix("Bearer ")
            return Reply(chunks=[text_stream(f"It is sunny; you sent {said}", " 21 °C.")])
        call = tool_call(
            0, id="call_1", type="function", name="get_weather", arguments='{"city": "Paris"}'
        )
        head = chunk(role="assistant", content=None)
        return Reply(chunks=[sse(head, chunk(tool_calls=[call]), chunk(finish="tool_calls"))])


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in (k, *_strings(v))]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return []


def test_an_echoed_key_is_redacted_in_every_exchange(sse_server: SSEServer, tmp_path: Path) -> None:
    sse_server.script.add(EchoingServer(), times=None)
    proc = run_pytest(
        tmp_path, "-q",
        "--base-url", sse_server.url, "--model", "test-model", "--layers", "wire",
        "--checks", "multiturn.agent-loop", "--api-key-env", "ATTACK_KEY",
        "--flaky-tries", "1", "--report-dir", str(tmp_path / "reports"),
        env={"ATTACK_KEY": QUOTED_KEY},
    )  # fmt: skip
    path = tmp_path / "reports" / "results" / "generic__test-model.json"
    assert path.is_file(), proc.stdout[-3000:] + proc.stderr[-3000:]
    raw = path.read_text(encoding="utf-8")
    got = json.loads(raw)["results"][0]
    exchanges = got["evidence"]["exchanges"]
    assert len(exchanges) == 2
    assert "you sent" in exchanges[1]["response_excerpt"], exchanges[1]
    escaped = json.dumps(QUOTED_KEY)[1:-1]
    for text in (raw, *_strings(got)):
        assert QUOTED_KEY not in text
        assert escaped not in text


def test_a_manifest_with_server_text_and_a_quoted_key_stays_json(tmp_path: Path) -> None:
    # the model's /v1/models entry is the server's text: it may hold escapes next to pieces
    # of the key; a redaction over the JSON text masked half an escape and broke the file
    key = 'bceg"fdac\\"feegg\\h'
    echo = 'h\\ggeef"\\cadf"gecbh\\ggeef"\\cadf"gecbbceg"fdac\\"feegg\\hbceg"fdac\\\\'
    manifest = Manifest(provider="generic", model="m", base_url="http://127.0.0.1:1/v1")
    manifest.model_meta = {"id": "m", "note": echo}
    path = manifest.save(tmp_path, (key,))
    data = json.loads(path.read_text(encoding="utf-8"))
    assert key not in json.dumps(data, ensure_ascii=False)
    assert key not in data["model_meta"]["note"]
