"""Security promises (SECURITY.md), each proven on real runs against the scripted server:
no committed recording holds a credential, the API key never leaves through repr, an
exception or a log line, only registered tools run, and arguments are validated first."""

from __future__ import annotations

import logging
import os
import re
import subprocess
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sse_server import MODELS, Reply, SSEServer, chunk, events, sse, text_stream, tool_call

from any_agent import AgentOptions, AnyAgentError, Client, ResultMessage
from any_agent.tools import tool

ROOT = Path(__file__).resolve().parent.parent
KEY = "sk-proj-SECRETd0n0tl3ak-7f3a9c2e1b8d4a6f"  # distinctive: found anywhere it leaks

# -- committed files ----------------------------------------------------------------------------

# A header name with a value (inline, quoted, or as the YAML list item vcrpy writes on the
# next line), or an OpenAI-style key anywhere (sk-..., sk-proj-...).
SECRET = re.compile(
    r"""(authorization|x-api-key|api-key)["']?:\s*(?:-\s*)?["']?"""
    r"(Bearer|sk-|[A-Za-z0-9_-]{20,})"
    r"|(?<![A-Za-z0-9])sk-[A-Za-z0-9_-]{16,}",
    re.IGNORECASE,
)
SCANNED = ("cassettes", "reports", "tests/data")  # recordings, results, recorded server bytes


def committed_files(root: Path, folders: tuple[str, ...] = SCANNED) -> list[Path]:
    """Files git tracks under ``folders`` (every file there when ``root`` is not a checkout)."""
    try:
        out = subprocess.run(
            ["git", "ls-files", "-z", "--", *folders],
            cwd=root,
            capture_output=True,
            check=True,
        ).stdout
        return [root / name for name in out.decode().split("\0") if name]
    except (OSError, subprocess.CalledProcessError):
        return [p for f in folders for p in sorted((root / f).rglob("*")) if p.is_file()]


def find_secrets(files: list[Path], root: Path) -> list[str]:
    """``path:line: match`` for every authorization header or key-like string."""
    found = []
    for path in files:
        if not path.is_file():
            continue  # deleted in the work tree
        text = path.read_bytes().decode("utf-8", "replace")
        for m in SECRET.finditer(text):
            line = text.count("\n", 0, m.start()) + 1
            found.append(f"{path.relative_to(root)}:{line}: {m.group(0)[:24]}…")
    return found


def test_no_committed_recording_or_report_holds_a_credential() -> None:
    files = committed_files(ROOT)
    assert any(p.parts[-3:-1] == ("data", "servers") for p in files)  # the scan sees files
    assert find_secrets(files, ROOT) == []


@pytest.mark.parametrize(
    "planted",
    [
        "    Authorization:\n    - Bearer xyz\n",  # vcrpy's YAML: the value on the next line
        "body: leaked sk-proj-abc_def-0123456789\n",
        '{"headers": {"Authorization": "Bearer abc"}}',
        "  authorization: Bearer eyJhbGciOiJIUzI1NiJ9\n",
        '"x-api-key": "k-0123456789abcdefghij"',
        "api-key: 0123456789abcdefghijABCD",
        "the key was sk-0123456789abcdefXYZ in a body",
    ],
)
def test_the_scanner_catches_a_planted_secret(tmp_path: Path, planted: str) -> None:
    clean = tmp_path / "cassettes" / "generic" / "m" / "clean.yaml"
    clean.parent.mkdir(parents=True)
    clean.write_text(
        "authorization: <redacted>\nbody: Bearer of good news\nask-for-the-weather-again-later\n"
    )
    dirty = tmp_path / "reports" / "results" / "leak.json"
    dirty.parent.mkdir(parents=True)
    dirty.write_text(f"first line\n{planted}")
    files = committed_files(tmp_path, ("cassettes", "reports"))
    assert sorted(files) == sorted([clean, dirty])
    found = find_secrets(files, tmp_path)
    leak = os.path.join("reports", "results", "leak.json")
    assert found
    assert all(f.startswith((f"{leak}:2:", f"{leak}:3:")) for f in found), found


# -- the key never leaks ------------------------------------------------------------------------


def opts(server: SSEServer | str, **kw: Any) -> AgentOptions:
    url = server if isinstance(server, str) else server.url
    base: dict[str, Any] = {"model": "test-model", "base_url": url, "max_retries": 0}
    return AgentOptions(**(base | {"api_key": KEY, "first_token_timeout": 5} | kw))


def test_the_key_is_not_in_any_repr_of_the_options() -> None:
    options = opts("http://127.0.0.1:9/v1")
    for text in (repr(options), str(options), f"{options}", repr([options]), repr(Client(options))):
        assert KEY not in text
        assert KEY[:12] not in text
    assert options.api_key == KEY  # still there to be sent


async def ask(options: AgentOptions) -> None:
    async with Client(options) as client:
        await client.query("hi")
        [m async for m in client.receive_response()]


def everything_said_about(error: BaseException) -> str:
    parts = [
        str(error),
        repr(error),
        *map(str, error.args),
        "".join(traceback.format_exception(type(error), error, error.__traceback__)),
    ]
    parts += [str(v) for v in vars(error).values()]
    return "\n".join(parts)


def echo_401(server: SSEServer) -> None:
    """LiteLLM answers a bad key by quoting it back."""
    message = f"Authentication Error, Invalid proxy server token passed. Received API Key = {KEY}"
    server.script.json({"error": {"message": message, "type": "auth_error"}}, status=401)


FAULTS: dict[str, Callable[[SSEServer], Any]] = {
    "401-echoing-the-key": echo_401,
    "401-text-plain": lambda s: s.script.add(
        Reply(401, {"content-type": "text/plain"}, f"bad key {KEY}")
    ),
    "404-model-listing": lambda s: s.script.error(404, f"no model for key {KEY}"),
    "429": lambda s: s.script.error(429, f"quota for {KEY}", retry_after=30),
    "error-event": lambda s: s.script.stream(sse({"error": {"message": f"key {KEY} revoked"}})),
    "cut-mid-stream": lambda s: s.script.stream(sse(chunk("x"), done=False), end="reset"),
    "first-token-timeout": lambda s: s.script.drop(stall=30, end="hang"),
}


@pytest.mark.parametrize("fault", list(FAULTS))
async def test_the_key_is_in_no_exception(sse_server: SSEServer, fault: str) -> None:
    FAULTS[fault](sse_server)
    options = opts(sse_server, first_token_timeout=0.3)
    with pytest.raises(AnyAgentError) as info:
        await ask(options)
    assert sse_server.requests[0].headers["authorization"] == f"Bearer {KEY}"  # it was sent
    said = everything_said_about(info.value)
    assert KEY not in said
    if fault.startswith(("401", "404", "429", "error")):
        assert "***" in said  # the server's words are kept, with the key masked


async def test_the_key_is_in_no_connection_error() -> None:
    with pytest.raises(AnyAgentError) as info:
        await ask(opts("http://127.0.0.1:9/v1"))
    assert KEY not in everything_said_about(info.value)


async def test_the_key_is_in_no_log_record(
    sse_server: SSEServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)  # every logger: ours, openai, httpx, httpcore
    sse_server.script.stream(text_stream("fine"))
    echo_401(sse_server)
    sse_server.script.json({"object": "list", "data": [{"id": "m"}]}, path=MODELS, method="GET")
    sse_server.script.error(404, "model not found")
    async with Client(opts(sse_server)) as client:
        await client.query("hi")
        [m async for m in client.receive_response()]
        for _ in range(2):
            await client.query("again")
            with pytest.raises(AnyAgentError):
                [m async for m in client.receive_response()]
    assert [r.headers["authorization"] for r in sse_server.requests] == [f"Bearer {KEY}"] * 4
    assert caplog.records  # the libraries did log at DEBUG
    for record in caplog.records:
        assert KEY not in record.getMessage(), record.name
        assert KEY not in str(record.__dict__), record.name
    assert KEY not in caplog.text


# -- tools --------------------------------------------------------------------------------------


def calls_then_answer(server: SSEServer, *calls: tuple[str, str, str]) -> None:
    """Turn 1: the model calls ``(id, name, arguments)``...; turn 2: plain text."""
    frags = [
        tool_call(i, id=cid, name=name, arguments=args) for i, (cid, name, args) in enumerate(calls)
    ]
    server.script.stream(sse(chunk(tool_calls=frags), chunk(finish="tool_calls")))
    server.script.stream(text_stream("done"))


def weather_tool() -> tuple[Any, list[Any]]:
    ran: list[Any] = []

    @tool
    def get_weather(city: str, days: int = 1) -> str:
        """Forecast for a city."""
        ran.append((city, days))
        return f"sunny in {city}"

    return get_weather, ran


async def run_tools(server: SSEServer, tools: list[Any]) -> dict[str, str]:
    """Run one query; return the tool results the SDK sent back, by call id."""
    async with Client(opts(server, tools=tools, max_turns=2)) as client:
        await client.query("go")
        result = [m async for m in client.receive_response()][-1]
    assert isinstance(result, ResultMessage)
    assert result.result == "done"
    sent = server.requests[-1].json["messages"]
    return {m["tool_call_id"]: m["content"] for m in sent if m["role"] == "tool"}


async def test_only_registered_tools_run(
    sse_server: SSEServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    system_calls: list[Any] = []

    def fake_system(*args: Any) -> int:
        system_calls.append(args)
        return 0

    monkeypatch.setattr(os, "system", fake_system)
    get_weather, ran = weather_tool()
    calls_then_answer(
        sse_server,
        ("c1", "os.system", '{"command": "touch /tmp/pwned"}'),
        ("c2", "__import__", '{"name": "os"}'),
        ("c3", "eval", '{"source": "1+1"}'),
        ("c4", "get_weather.__globals__", "{}"),
        ("c5", "Get_Weather", '{"city": "Oslo"}'),
        ("c6", "get_weather", '{"city": "Oslo"}'),
    )
    results = await run_tools(sse_server, [get_weather])
    assert system_calls == []
    assert ran == [("Oslo", 1)]  # only the registered name, spelled exactly
    assert results["c6"] == "sunny in Oslo"
    for cid, name in [
        ("c1", "os.system"),
        ("c2", "__import__"),
        ("c3", "eval"),
        ("c4", "get_weather.__globals__"),
        ("c5", "Get_Weather"),
    ]:
        assert results[cid].startswith(f"Error: unknown tool {name!r}; available: get_weather")


async def test_a_name_that_is_only_a_definition_is_not_run_either(sse_server: SSEServer) -> None:
    """A tool the caller answers by hand (a plain definition) is never looked up elsewhere."""
    get_weather, ran = weather_tool()
    manual = {"type": "function", "function": {"name": "delete_files", "parameters": {}}}
    calls_then_answer(
        sse_server, ("c1", "delete_files", "{}"), ("c2", "get_weather", '{"city": "A"}')
    )
    async with Client(opts(sse_server, tools=[get_weather, manual], max_turns=2)) as client:
        await client.query("go")
        result = [m async for m in client.receive_response()][-1]
    assert isinstance(result, ResultMessage)
    assert result.stop_reason == "tool_calls"  # waits for the caller's answer to c1
    assert ran == [("A", 1)]


@pytest.mark.parametrize(
    ("arguments", "problem"),
    [
        ('{"city": ["Oslo"]}', "'city': Input should be a valid string"),
        ("{}", "missing required argument 'city'"),
        ('{"city": "Oslo", "path": "/etc/passwd"}', "unexpected argument 'path'"),
        ('{"city": "Oslo", "days": "soon"}', "'days'"),
        ('"Oslo"', "not valid JSON"),  # a JSON string, not an object
        ('{"city": "Oslo"', "not valid JSON"),
    ],
    ids=["wrong-type", "missing", "extra", "bad-int", "not-an-object", "truncated-json"],
)
async def test_arguments_are_validated_before_the_tool_runs(
    sse_server: SSEServer, arguments: str, problem: str
) -> None:
    get_weather, ran = weather_tool()
    calls_then_answer(sse_server, ("c1", "get_weather", arguments))
    results = await run_tools(sse_server, [get_weather])
    assert ran == []  # the function was never called
    assert results["c1"].startswith("Error")
    assert problem in results["c1"]


async def test_a_tool_call_streamed_in_pieces_is_validated_whole(sse_server: SSEServer) -> None:
    get_weather, ran = weather_tool()
    pieces = ['{"ci', 'ty": "Oslo", "da', 'ys": 3}']
    frags = [tool_call(0, id="c1", name="get_weather", arguments=pieces[0])]
    frags += [tool_call(0, arguments=p) for p in pieces[1:]]
    sse_server.script.stream(
        *events(*(chunk(tool_calls=[f]) for f in frags), chunk(finish="tool_calls"))
    )
    sse_server.script.stream(text_stream("done"))
    results = await run_tools(sse_server, [get_weather])
    assert ran == [("Oslo", 3)]
    assert results == {"c1": "sunny in Oslo"}
