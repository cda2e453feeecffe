"""Bad input: every mistake a caller can make gets a clear error that names the field or value.

Complements tests/test_options.py, test_config.py, test_tools.py and test_client.py (the
cases there are not repeated): AgentOptions fields they leave out, provider names, tool
lists, tool results, prompts and saved histories, and the conformance plugin's options.
"""

from __future__ import annotations

import json
import math
import socket
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from child_pytest import run_pytest
from sse_server import MODELS, SSEServer, chunk, sse, text_stream, tool_call

from any_agent import (
    AgentOptions,
    AnyAgentError,
    Client,
    ConfigurationError,
    ResultMessage,
    ToolDefinitionError,
    ToolResultError,
    ToolUseBlock,
    query,
)
from any_agent.config import get_base_url, get_model
from any_agent.tools import tool
from conformance import OLDEST_REPLAYABLE, SUITE_VERSION
from conformance.harness.recording import Manifest

OK: dict[str, Any] = {"model": "m", "base_url": "http://127.0.0.1:9/v1"}
KEY = "sk-badinput-0123456789abcdefXYZ"


def weather(city: str) -> str:
    """Weather for a city."""
    return f"sunny in {city}"


WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
    },
}


# -- AgentOptions: fields and values test_options.py does not cover -----------------------------


@pytest.mark.parametrize(
    ("field", "value", "named"),
    [
        ("model", None, "model"),
        ("model", 42, "model"),
        ("base_url", None, "base_url"),
        ("base_url", 8080, "base_url"),
        ("base_url", "http://localhost:notaport/v1", "base_url"),
        ("max_retries", True, "max_retries"),
        ("max_retries", 1.5, "max_retries"),
        ("max_retries", "2", "max_retries"),
        ("max_tokens", True, "max_tokens"),
        ("max_tokens", 1.5, "max_tokens"),
        ("temperature", True, "temperature"),
        ("temperature", math.nan, "temperature"),
        ("timeout", math.nan, "timeout"),
        ("timeout", True, "timeout"),
        ("first_token_timeout", -0.5, "first_token_timeout"),
        ("idle_timeout", 0, "idle_timeout"),
        ("include_partial_messages", "yes", "include_partial_messages"),
        ("auto_execute_tools", "false", "auto_execute_tools"),  # a truthy string from env
        ("extra_body", [("seed", 1)], "extra_body"),
        ("extra_body", "seed=1", "extra_body"),
        ("extra_body", {"messages": []}, "'messages'"),
        ("extra_body", {"stream": False}, "'stream'"),
        ("extra_body", {1: "x"}, "extra_body"),
        ("provider", 42, "provider"),
        ("system_prompt", ["be brief"], "system_prompt"),
    ],
    ids=lambda v: repr(v)[:24] if not isinstance(v, str) or " " in v else v,
)
def test_agent_options_name_the_field(field: str, value: Any, named: str) -> None:
    with pytest.raises(ConfigurationError) as info:
        AgentOptions(**{**OK, field: value})
    assert named in str(info.value)


@pytest.mark.parametrize(
    "key",
    [
        f"{KEY}\n",  # a line read from a file, newline kept
        f"{KEY}\r\nX-Injected: 1",  # header injection
        f" {KEY}",  # pasted with a space
        f"{KEY}\x00",
        f"{KEY[:10]}é{KEY[10:]}",  # not ASCII: cannot go in an HTTP header
    ],
    ids=["newline", "crlf-injection", "leading-space", "nul", "non-ascii"],
)
def test_api_key_that_cannot_be_a_header_is_refused_without_echoing_it(key: str) -> None:
    with pytest.raises(ConfigurationError) as info:
        AgentOptions(**OK, api_key=key)
    assert "api_key" in str(info.value)
    assert KEY[:12] not in str(info.value)


def test_api_key_with_inner_space_is_a_legal_header_value() -> None:
    assert AgentOptions(**OK, api_key="Token abc").api_key == "Token abc"


# -- provider names -----------------------------------------------------------------------------


def test_get_base_url_with_a_plausible_typo_lists_the_known_providers() -> None:
    with pytest.raises(ConfigurationError, match=r"'llama\.cpp'") as info:
        get_base_url(provider="llama.cpp")
    assert "llamacpp" in str(info.value)


@pytest.mark.parametrize(
    ("call", "named"),
    [
        (lambda: get_base_url(provider=8080), "provider"),  # type: ignore[arg-type]
        (lambda: get_base_url(fallback=8080), "fallback"),  # type: ignore[arg-type]
        (lambda: get_model(fallback=42), "fallback"),  # type: ignore[arg-type]
    ],
    ids=["provider-int", "url-fallback-int", "model-fallback-int"],
)
def test_config_helpers_reject_non_strings(
    monkeypatch: pytest.MonkeyPatch, call: Callable[[], str], named: str
) -> None:
    monkeypatch.delenv("ANY_AGENT_MODEL", raising=False)
    monkeypatch.delenv("ANY_AGENT_BASE_URL", raising=False)
    with pytest.raises(ConfigurationError, match=named):
        call()


def test_agent_options_unknown_provider_profile_lists_known_ones() -> None:
    with pytest.raises(ConfigurationError, match="'lmstudoi'") as info:
        AgentOptions(**OK, provider="lmstudoi")
    assert "llamacpp" in str(info.value)


# -- tools --------------------------------------------------------------------------------------


def test_a_plain_function_in_options_tools_names_its_type() -> None:
    with pytest.raises(ToolDefinitionError, match="@tool functions, got function"):
        AgentOptions(**OK, tools=[weather])  # type: ignore[list-item]


def test_unsupported_annotation_names_the_parameter_and_type() -> None:
    def connect(sock: socket.socket) -> str:
        return "x"

    with pytest.raises(ToolDefinitionError, match=r"parameter 'sock' .*socket"):
        tool(connect)


def test_duplicate_names_across_a_tool_and_a_definition() -> None:
    get_weather = tool(name="get_weather")(weather)
    with pytest.raises(ToolDefinitionError, match="two tools are named 'get_weather'"):
        AgentOptions(**OK, tools=[WEATHER, get_weather])


def test_duplicate_names_from_two_renamed_tools() -> None:
    def other(city: str) -> str:
        return city

    first = tool(name="lookup")(weather)
    second = tool(name="lookup")(other)
    with pytest.raises(ToolDefinitionError, match="two tools are named 'lookup'"):
        AgentOptions(**OK, tools=[first, second])


@pytest.mark.parametrize("bad", [3.5, b"tool", ["f"]])
def test_tool_of_a_non_callable_names_its_type(bad: Any) -> None:
    with pytest.raises(ToolDefinitionError, match=f"needs a function, got {type(bad).__name__}"):
        tool(bad)


@pytest.mark.parametrize("bad", [None, "get_weather", 3.5])
def test_options_tools_entry_that_is_not_a_tool_names_its_type(bad: Any) -> None:
    with pytest.raises(ToolDefinitionError, match=f"got {type(bad).__name__}"):
        AgentOptions(**OK, tools=[bad])


@pytest.mark.parametrize("name", ["os.system", "get weather", "x" * 65, "名前"])
def test_definition_with_a_name_servers_reject(name: str) -> None:
    spec = {"type": "function", "function": {"name": name, "parameters": {"type": "object"}}}
    with pytest.raises(ToolDefinitionError) as info:
        AgentOptions(**OK, tools=[spec])
    assert repr(name)[:40] in str(info.value)


# -- Client input: options, prompts, histories ---------------------------------------------------


def test_client_needs_agent_options() -> None:
    with pytest.raises(ConfigurationError, match="AgentOptions, got dict"):
        Client(OK)  # type: ignore[arg-type]


async def test_query_function_checks_its_options() -> None:
    with pytest.raises(ConfigurationError, match="AgentOptions, got dict"):
        [m async for m in query("hi", OK)]  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("prompt", "named"),
    # a list is a prompt of blocks (issue 14): its wrong element is named
    [(["hi"], r"prompt\[0\] .* got str"), ({"role": "user"}, "got dict"), (3.0, "got float")],
)
async def test_prompt_of_the_wrong_type_names_it(prompt: Any, named: str) -> None:
    client = Client(AgentOptions(**OK))
    with pytest.raises(ConfigurationError, match=named):
        await client.query(prompt)


async def test_query_function_with_no_prompt() -> None:
    with pytest.raises(ConfigurationError, match="got NoneType"):
        [m async for m in query(None, AgentOptions(**OK))]  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("history", "named"),
    [
        ("user: hi", "history"),
        ({"role": "user", "content": "hi"}, "history"),
        ([42], "history[0]"),
        ([{"role": "user", "content": "a"}, {"content": "no role"}], "history[1]"),
        ([{"role": "banana", "content": "x"}], "'banana'"),
        ([{"role": "user", "content": object()}], "history[0]"),
    ],
    ids=["string", "one-message", "not-a-dict", "no-role", "bad-role", "not-json"],
)
def test_saved_history_of_the_wrong_shape_names_the_entry(history: Any, named: str) -> None:
    with pytest.raises(ConfigurationError) as info:
        Client(AgentOptions(**OK), history=history)
    assert named in str(info.value)


# -- tool results -------------------------------------------------------------------------------


def manual_call() -> bytes:
    return sse(
        chunk(tool_calls=[tool_call(0, id="c1", name="get_weather", arguments='{"city":"Oslo"}')]),
        chunk(finish="tool_calls"),
    )


def server_opts(server: SSEServer, **kw: Any) -> AgentOptions:
    return AgentOptions(
        model="m", base_url=server.url, max_retries=0, tools=[WEATHER], max_turns=3, **kw
    )


@pytest.mark.parametrize(
    ("result", "type_name"),
    [(object(), "object"), ({"at": socket.socket}, "dict"), (lambda: 1, "function")],
    ids=["object", "class-in-dict", "function"],
)
async def test_tool_result_that_is_not_json_names_its_type(
    sse_server: SSEServer, result: Any, type_name: str
) -> None:
    sse_server.script.stream(manual_call())
    sse_server.script.stream(text_stream("fine"))
    async with Client(server_opts(sse_server)) as client:
        await client.query("weather?")
        seen: list[Any] = []
        async for block in client.receive_messages():
            seen.append(block)
            if isinstance(block, ToolUseBlock):
                with pytest.raises(ToolResultError, match=f"type {type_name} cannot be serial"):
                    client.add_tool_result(block.id, result)
                client.add_tool_result(block.id, "12 C")  # the call is still answerable
        assert seen[-1].result == "fine"  # the run went on with the good result
    assert sse_server.requests[-1].json["messages"][-1]["content"] == "12 C"


async def test_tool_result_for_a_call_already_answered(sse_server: SSEServer) -> None:
    sse_server.script.stream(manual_call())
    sse_server.script.stream(text_stream("fine"))
    async with Client(server_opts(sse_server)) as client:
        await client.query("weather?")
        [m async for m in client.receive_response()]
        client.add_tool_result("c1", "12 C")
        await client.query(None)
        [m async for m in client.receive_response()]
        with pytest.raises(ToolResultError, match=r"'c1' \(open calls: none\)"):
            client.add_tool_result("c1", "again")


async def test_query_while_a_response_is_streaming(sse_server: SSEServer) -> None:
    sse_server.script.stream(text_stream("a", "b"))
    async with Client(server_opts(sse_server)) as client:
        await client.query("hi")
        async for item in client.receive_messages():
            if not isinstance(item, ResultMessage):
                with pytest.raises(ConfigurationError, match="still being received"):
                    await client.query("interrupting")


def test_every_bad_input_error_is_an_any_agent_error_and_a_builtin() -> None:
    """Callers may catch ours or the builtin they would expect."""
    assert issubclass(ConfigurationError, (AnyAgentError, ValueError))
    assert issubclass(ToolDefinitionError, (AnyAgentError, TypeError))
    assert issubclass(ToolResultError, (AnyAgentError, ValueError))


# -- conformance plugin options ------------------------------------------------------------------


def run_plugin(cwd: Path, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return run_pytest(cwd, "-q", *args, timeout=timeout)


def usage_error(proc: subprocess.CompletedProcess[str]) -> str:
    """The one ``conformance: ...`` line of a usage error (exit 2, no traceback)."""
    assert proc.returncode == 2, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert "Traceback" not in proc.stdout + proc.stderr, proc.stdout + proc.stderr
    lines = [ln for ln in proc.stderr.splitlines() if "conformance" in ln]
    assert lines, proc.stderr
    return lines[0]


def recording(root: Path, *, suite_version: str = SUITE_VERSION) -> Path:
    column = root / "cassettes" / "generic" / "ref-model"
    Manifest(
        provider="generic",
        model="ref-model",
        base_url="http://conformance.invalid/v1",
        suite_version=suite_version,
    ).save(column)
    return column


def test_conformance_unknown_provider_lists_the_profiles(tmp_path: Path) -> None:
    line = usage_error(run_plugin(tmp_path, "--provider", "ollamaa", "--checks", "models.list"))
    assert "'ollamaa'" in line
    assert "ollama" in line.replace("'ollamaa'", "")


@pytest.mark.parametrize("url", ["http://", "http:///v1", "127.0.0.1:8080/v1"])
def test_conformance_base_url_without_a_host(tmp_path: Path, url: str) -> None:
    line = usage_error(run_plugin(tmp_path, "--base-url", url, "--checks", "models.list"))
    assert repr(url) in line
    assert "cannot reach" not in line  # refused as an option, not tried as a server


def test_conformance_missing_model_when_the_server_lists_none(
    tmp_path: Path, sse_server: SSEServer
) -> None:
    sse_server.script.json({"object": "list", "data": []}, path=MODELS, method="GET", times=None)
    args = ["--base-url", sse_server.url, "--checks", "models.list"]
    line = usage_error(run_plugin(tmp_path, *args))
    assert "--model" in line


def test_conformance_replay_of_a_model_never_recorded(tmp_path: Path) -> None:
    recording(tmp_path)
    args = ["--conformance-mode", "replay", "--provider", "generic", "--model", "other-model"]
    line = usage_error(run_plugin(tmp_path, *args, "--checks", "models.list"))
    assert "no recordings" in line


def test_conformance_cassette_dir_that_is_a_file(tmp_path: Path) -> None:
    (tmp_path / "cassettes.tar").write_text("not a directory")
    line = usage_error(
        run_plugin(tmp_path, "--conformance-mode", "replay", "--cassette-dir", "cassettes.tar")
    )
    assert "cassettes.tar" in line


def test_conformance_unreadable_manifest(tmp_path: Path) -> None:
    column = recording(tmp_path)
    (column / "manifest.json").write_text("{ not json")
    line = usage_error(run_plugin(tmp_path, "--conformance-mode", "replay"))
    assert "manifest.json" in line


def test_conformance_cassette_from_another_suite_version(tmp_path: Path) -> None:
    column = recording(tmp_path, suite_version="0.0.0-old")
    assert json.loads((column / "manifest.json").read_text())["suite_version"] == "0.0.0-old"
    line = usage_error(run_plugin(tmp_path, "--conformance-mode", "replay"))
    assert "0.0.0-old" in line
    assert SUITE_VERSION in line


@pytest.mark.parametrize(
    "version", ["0..2", "00.2.0", "-rc1", "0.2.0.", "1" * 40, "0.2.0\n", "٠.٢.٠", "0.2.0-"]
)
def test_a_manifest_whose_suite_version_is_no_release_is_refused(
    tmp_path: Path, version: str
) -> None:
    recording(tmp_path, suite_version=version)
    line = usage_error(run_plugin(tmp_path, "--conformance-mode", "replay"))
    assert "suite_version" in line


def test_conformance_cassette_from_a_newer_suite_is_refused(tmp_path: Path) -> None:
    recording(tmp_path, suite_version="9.0.0")
    line = usage_error(run_plugin(tmp_path, "--conformance-mode", "replay"))
    assert "9.0.0" in line
    assert f"from {OLDEST_REPLAYABLE} to {SUITE_VERSION}" in line


@pytest.mark.parametrize(
    ("option", "value"),
    [
        ("--request-timeout", "0"),
        ("--request-timeout", "-5"),
        ("--connect-timeout", "-1"),
        ("--idle-timeout", "0"),
    ],
)
def test_conformance_timeouts_must_be_positive(tmp_path: Path, option: str, value: str) -> None:
    line = usage_error(run_plugin(tmp_path, "--base-url", "http://127.0.0.1:9/v1", option, value))
    assert option in line
