"""claude-agent-sdk's names (issue 13 item 3): ClaudeAgentOptions (every one of its 50 fields
mapped or refused), ClaudeSDKClient, query(prompt=..., options=...), claude-agent-sdk-style
hooks, and allowed_tools / disallowed_tools with claude-agent-sdk 0.2.189's meaning."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sse_server import SSEServer, chunk, sse, text_stream, tool_call

import any_agent
from any_agent import (
    AgentOptions,
    AssistantMessage,
    ClaudeAgentOptions,
    ClaudeSDKClient,
    ClaudeSDKError,
    ConfigurationError,
    HookMatcher,
    PermissionResultAllow,
    PermissionResultDeny,
    ResultMessage,
    TextBlock,
    ToolPermissionContext,
    UserMessage,
    query,
    tool,
)
from any_agent._compat.claude_options import CLAUDE_DEFAULT_MAX_TURNS, MAPPED, REFUSED

# ClaudeAgentOptions' fields in claude-agent-sdk 0.2.189 (read from its types.py with ast)
CLAUDE_0_2_189_FIELDS = [
    "tools",
    "allowed_tools",
    "system_prompt",
    "mcp_servers",
    "strict_mcp_config",
    "permission_mode",
    "continue_conversation",
    "resume",
    "session_id",
    "max_turns",
    "max_budget_usd",
    "disallowed_tools",
    "model",
    "fallback_model",
    "betas",
    "permission_prompt_tool_name",
    "cwd",
    "cli_path",
    "settings",
    "add_dirs",
    "env",
    "extra_args",
    "max_buffer_size",
    "debug_stderr",
    "stderr",
    "can_use_tool",
    "hooks",
    "user",
    "include_partial_messages",
    "include_hook_events",
    "forward_subagent_text",
    "verbatim_prompts",
    "fork_session",
    "resume_session_at",
    "resume_drops_turn",
    "agents",
    "setting_sources",
    "skills",
    "sandbox",
    "plugins",
    "max_thinking_tokens",
    "thinking",
    "effort",
    "output_format",
    "enable_file_checkpointing",
    "session_store",
    "session_store_flush",
    "load_timeout_ms",
    "task_budget",
    "client_app",
]

# a value of each refused field that means something only Claude Code can do
REFUSED_VALUES: dict[str, Any] = {
    "permission_mode": "acceptEdits",
    "continue_conversation": True,
    "resume": "abc",
    "session_id": "0b3e7a9e-1111-4222-8333-944445555666",
    "fork_session": True,
    "resume_session_at": "uuid",
    "resume_drops_turn": "uuid",
    "session_store": object(),
    "max_budget_usd": 1.0,
    "fallback_model": "other",
    "betas": ["context-1m-2025-08-07"],
    "permission_prompt_tool_name": "mcp__p__ask",
    "cwd": "/tmp",
    "cli_path": "/usr/bin/claude",
    "settings": "settings.json",
    "add_dirs": ["/tmp"],
    "env": {"A": "1"},
    "extra_args": {"verbose": None},
    "max_buffer_size": 1024,
    "stderr": print,
    "user": "alice",
    "include_hook_events": True,
    "agents": {"reviewer": object()},
    "setting_sources": ["project"],
    "skills": "all",
    "sandbox": {"enabled": True},
    "plugins": [{"type": "local", "path": "."}],
    "max_thinking_tokens": 1024,
    "enable_file_checkpointing": True,
    "task_budget": {"total": 1000},
    "client_app": "my-app/1.0",
}


@pytest.fixture
def env(sse_server: SSEServer, monkeypatch: pytest.MonkeyPatch) -> SSEServer:
    """The environment a ported program runs in: server and model from the variables."""
    monkeypatch.setenv("ANY_AGENT_BASE_URL", sse_server.url)
    monkeypatch.setenv("ANY_AGENT_MODEL", "test-model")
    return sse_server


def call_stream(name: str, arguments: str, call_id: str = "call_1") -> bytes:
    return sse(
        chunk(role="assistant", content=None),
        chunk(
            tool_calls=[tool_call(0, id=call_id, type="function", name=name, arguments=arguments)]
        ),
        chunk(finish="tool_calls"),
    )


def tool_messages(server: SSEServer, request: int) -> list[str]:
    body = server.requests[request].json
    return [m["content"] for m in body["messages"] if m["role"] == "tool"]


# --------------------------------------------------------------------------- options


def test_every_claude_field_is_mapped_or_refused() -> None:
    assert len(CLAUDE_0_2_189_FIELDS) == 50
    assert set(CLAUDE_0_2_189_FIELDS) <= set(MAPPED) | set(REFUSED)


def test_server_and_model_come_from_the_environment(env: SSEServer) -> None:
    options = ClaudeAgentOptions(system_prompt="be brief")
    assert isinstance(options, AgentOptions)
    assert (options.base_url, options.model) == (env.url, "test-model")
    assert options.system_prompt == "be brief"


def test_missing_environment_names_both_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ANY_AGENT_BASE_URL", raising=False)
    monkeypatch.delenv("ANY_AGENT_MODEL", raising=False)
    with pytest.raises(ConfigurationError) as info:
        ClaudeAgentOptions()
    assert "ANY_AGENT_BASE_URL" in str(info.value)
    assert "ANY_AGENT_MODEL" in str(info.value)


def test_max_turns_default_is_bounded_not_one(env: SSEServer) -> None:
    # claude-agent-sdk's default is unlimited: tools run until the model stops
    assert ClaudeAgentOptions().max_turns == CLAUDE_DEFAULT_MAX_TURNS > 1
    assert ClaudeAgentOptions(max_turns=1).max_turns == 1


@pytest.mark.parametrize("name", sorted(REFUSED_VALUES))
def test_claude_code_only_options_are_refused_by_name(env: SSEServer, name: str) -> None:
    with pytest.raises(ConfigurationError, match=name):
        ClaudeAgentOptions(**{name: REFUSED_VALUES[name]})


def test_claude_defaults_of_refused_options_are_accepted(env: SSEServer) -> None:
    ClaudeAgentOptions(
        permission_mode="default",
        continue_conversation=False,
        betas=[],
        add_dirs=[],
        env={},
        extra_args={},
        setting_sources=[],
        plugins=[],
        strict_mcp_config=True,
        verbatim_prompts=True,
        session_store_flush="batched",
        load_timeout_ms=60_000,
    )


def test_unknown_option_is_named(env: SSEServer) -> None:
    with pytest.raises(ConfigurationError, match="no option 'max_turn'"):
        ClaudeAgentOptions(max_turn=3)


def test_builtin_tool_names_are_refused(env: SSEServer) -> None:
    with pytest.raises(ConfigurationError, match="built-in tools"):
        ClaudeAgentOptions(tools=["Bash", "Read"])
    with pytest.raises(ConfigurationError, match="built-in tools"):
        ClaudeAgentOptions(tools={"type": "preset", "preset": "claude_code"})
    assert ClaudeAgentOptions(tools=[]).tools == []


def test_system_prompt_forms(env: SSEServer, tmp_path: Path) -> None:
    custom = ClaudeAgentOptions(system_prompt={"type": "custom", "prompt": "x", "snapshot": True})
    assert custom.system_prompt == "x"
    path = tmp_path / "prompt.txt"
    path.write_text("from a file", encoding="utf-8")
    from_file = ClaudeAgentOptions(system_prompt={"type": "file", "path": str(path)})
    assert from_file.system_prompt == "from a file"
    with pytest.raises(ConfigurationError, match="claude_code"):
        ClaudeAgentOptions(system_prompt={"type": "preset", "preset": "claude_code"})


def test_rule_patterns_are_refused(env: SSEServer) -> None:
    with pytest.raises(ConfigurationError, match="allowed_tools"):
        ClaudeAgentOptions(allowed_tools=["Bash(rm *)"])
    with pytest.raises(ConfigurationError, match="disallowed_tools"):
        AgentOptions(model="m", base_url="http://127.0.0.1:1/v1", disallowed_tools="Bash")


def test_claude_only_hook_events_are_refused(env: SSEServer) -> None:
    with pytest.raises(ConfigurationError, match="PreCompact"):
        ClaudeAgentOptions(hooks={"PreCompact": [HookMatcher(hooks=[])]})


def test_claude_sdk_error_is_the_base_error() -> None:
    assert ClaudeSDKError is any_agent.AnyAgentError


# --------------------------------------------------------------------------- README programs


@tool(name="Bash")
def bash(command: str) -> str:
    """Run a shell command (a stand-in: echoes it)."""
    return f"ran: {command}"


async def check_bash_command(input_data: dict[str, Any], tool_use_id: Any, context: Any) -> Any:
    # claude-agent-sdk README's hook program, as written there
    tool_name = input_data["tool_name"]
    tool_input = input_data["tool_input"]
    if tool_name != "Bash":
        return {}
    command = tool_input.get("command", "")
    block_patterns = ["foo.sh"]
    for pattern in block_patterns:
        if pattern in command:
            return {
                "hookSpecificOutput": {
                    "hookEventName": "PreToolUse",
                    "permissionDecision": "deny",
                    "permissionDecisionReason": f"Command contains invalid pattern: {pattern}",
                }
            }
    return {}


async def test_readme_hook_program_runs(env: SSEServer) -> None:
    env.script.stream(call_stream("Bash", '{"command": "./foo.sh --help"}'))
    env.script.stream(text_stream("blocked"))
    env.script.stream(call_stream("Bash", '{"command": "echo hi"}', "call_2"))
    env.script.stream(text_stream("done"))
    options = ClaudeAgentOptions(
        allowed_tools=["Bash"],
        hooks={"PreToolUse": [HookMatcher(matcher="Bash", hooks=[check_bash_command])]},
        tools=[bash],
    )
    seen: list[Any] = []
    async with ClaudeSDKClient(options=options) as client:
        await client.query("Run the bash command: ./foo.sh --help")
        async for msg in client.receive_response():
            seen.append(msg)
        await client.query("Run the bash command: echo 'Hello from hooks example!'")
        async for msg in client.receive_response():
            seen.append(msg)
    assert tool_messages(env, 1) == [
        "Error: Permission denied: Command contains invalid pattern: foo.sh"
    ]
    assert tool_messages(env, 3)[-1] == "ran: echo hi"
    results = [m for m in seen if isinstance(m, ResultMessage)]
    assert [r.result for r in results] == ["blocked", "done"]


async def test_readme_query_program_runs(env: SSEServer) -> None:
    env.script.stream(text_stream("4"))
    texts = []
    async for message in query(prompt="What is 2 + 2?"):
        if isinstance(message, AssistantMessage):
            texts += [b.text for b in message.content if isinstance(b, TextBlock)]
    assert texts == ["4"]
    assert env.requests[-1].json["model"] == "test-model"


# --------------------------------------------------------------------------- permissions


@tool
def add(a: int, b: int) -> int:
    """Add two numbers."""
    return a + b


@tool
def wipe(path: str) -> str:
    """Delete a path."""
    return f"wiped {path}"


async def run_calls(server: SSEServer, name: str, **kw: Any) -> list[str]:
    server.script.stream(
        call_stream(name, '{"a": 1, "b": 2}' if name == "add" else '{"path": "/"}')
    )
    server.script.stream(text_stream("ok"))
    async for _ in query("go", ClaudeAgentOptions(tools=[add, wipe], **kw)):
        pass
    return tool_messages(server, 1)


async def test_listed_tool_runs_without_asking_can_use_tool(env: SSEServer) -> None:
    asked: list[str] = []

    async def ask(name: str, args: dict[str, Any], ctx: ToolPermissionContext) -> Any:
        asked.append(name)
        return PermissionResultDeny("no")

    assert await run_calls(env, "add", allowed_tools=["add"], can_use_tool=ask) == ["3"]
    assert asked == []


async def test_unlisted_tool_is_offered_but_refused(env: SSEServer) -> None:
    result = await run_calls(env, "wipe", allowed_tools=["add"])
    offered = [t["function"]["name"] for t in env.requests[0].json["tools"]]
    assert offered == ["add", "wipe"]  # still offered: allowed_tools only approves
    assert "not in allowed_tools" in result[0]


async def test_unlisted_tool_runs_when_can_use_tool_allows(env: SSEServer) -> None:
    async def ask(name: str, args: dict[str, Any], ctx: ToolPermissionContext) -> Any:
        assert ctx.suggestions == ()
        assert ctx.signal is None
        return PermissionResultAllow(updated_input={"path": "/tmp"})

    assert await run_calls(env, "wipe", allowed_tools=["add"], can_use_tool=ask) == ["wiped /tmp"]


async def test_empty_allowed_tools_is_no_allowlist(env: SSEServer) -> None:
    assert await run_calls(env, "wipe") == ["wiped /"]


async def test_hook_allow_approves_an_unlisted_tool(env: SSEServer) -> None:
    async def approve(data: dict[str, Any], tool_use_id: Any, context: Any) -> Any:
        return {
            "hookSpecificOutput": {"hookEventName": "PreToolUse", "permissionDecision": "allow"}
        }

    hooks = {"PreToolUse": [HookMatcher(hooks=[approve])]}
    assert await run_calls(env, "wipe", allowed_tools=["add"], hooks=hooks) == ["wiped /"]


async def test_disallowed_tool_is_not_offered_and_its_call_refused(env: SSEServer) -> None:
    ran: list[str] = []

    async def spy(data: dict[str, Any], tool_use_id: Any, context: Any) -> Any:
        ran.append(data["tool_name"])
        return {
            "hookSpecificOutput": {"hookEventName": "PreToolUse", "permissionDecision": "allow"}
        }

    hooks = {"PreToolUse": [HookMatcher(hooks=[spy])]}
    result = await run_calls(env, "wipe", disallowed_tools=["wipe"], hooks=hooks)
    offered = [t["function"]["name"] for t in env.requests[0].json["tools"]]
    assert offered == ["add"]
    assert "disallowed" in result[0]
    assert ran == []  # refused before any hook: the tool was never offered


async def test_mcp_style_names_are_matched_exactly(env: SSEServer) -> None:
    opts = ClaudeAgentOptions(allowed_tools=["mcp__calc__add"], disallowed_tools=["mcp__calc__sub"])
    assert opts.offers("mcp__calc__add")
    assert not opts.offers("mcp__calc__sub")
    assert opts.offers("mcp__calc")


# --------------------------------------------------------------------------- hook outputs


async def test_post_tool_use_additional_context_and_replaced_output(env: SSEServer) -> None:
    async def post(data: dict[str, Any], tool_use_id: Any, context: Any) -> Any:
        assert data["hook_event_name"] == "PostToolUse"
        assert data["tool_response"] == "3"
        assert tool_use_id == "call_1"
        return {
            "hookSpecificOutput": {
                "hookEventName": "PostToolUse",
                "updatedToolOutput": {"sum": 3},
                "additionalContext": "checked",
            }
        }

    hooks = {"PostToolUse": [HookMatcher(hooks=[post])]}
    assert await run_calls(env, "add", hooks=hooks) == ['{"sum":3}\n\nchecked']


async def test_user_prompt_submit_block_and_context(env: SSEServer) -> None:
    def context(data: dict[str, Any], tool_use_id: Any, ctx: Any) -> Any:  # sync is fine
        return {
            "hookSpecificOutput": {
                "hookEventName": "UserPromptSubmit",
                "additionalContext": "today is Monday",
            }
        }

    env.script.stream(text_stream("ok"))
    hooks = {"UserPromptSubmit": [HookMatcher(hooks=[context])]}
    async for _ in query("what day?", ClaudeAgentOptions(hooks=hooks)):
        pass
    assert env.requests[0].json["messages"][-1]["content"] == "what day?\n\ntoday is Monday"

    async def block(data: dict[str, Any], tool_use_id: Any, ctx: Any) -> Any:
        return {"decision": "block", "reason": "no secrets"}

    with pytest.raises(any_agent.PromptBlockedError, match="no secrets"):
        async for _ in query(
            "x", ClaudeAgentOptions(hooks={"UserPromptSubmit": [HookMatcher(hooks=[block])]})
        ):
            pass


async def test_a_hook_returning_garbage_fails_closed(env: SSEServer) -> None:
    async def bad(data: dict[str, Any], tool_use_id: Any, context: Any) -> Any:
        return "yes"

    hooks = {"PreToolUse": [HookMatcher(hooks=[bad])]}
    result = await run_calls(env, "add", hooks=hooks)
    assert result[0].startswith("Error: Permission denied: PreToolUse hook failed")


def test_on_failure_continue_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="on_failure"):
        HookMatcher(hooks=[], on_failure="continue")  # type: ignore[arg-type]


# --------------------------------------------------------------------------- the client


async def test_queued_prompts_are_answered_in_turn(env: SSEServer) -> None:
    env.script.stream(text_stream("one"))
    env.script.stream(text_stream("two"))
    results = []
    async with ClaudeSDKClient() as client:
        await client.query("first")
        await client.query("second")
        async for message in client.receive_messages():  # ends: no prompt is left
            if isinstance(message, ResultMessage):
                results.append(message.result)
        assert [m["content"] for m in client.client.history if m["role"] == "user"] == [
            "first",
            "second",
        ]
    assert results == ["one", "two"]


async def test_streamed_prompt_messages(env: SSEServer) -> None:
    env.script.stream(text_stream("a"))
    env.script.stream(text_stream("b"))

    async def prompts() -> AsyncIterator[dict[str, Any]]:
        yield {"type": "user", "message": {"role": "user", "content": "hello"}}
        yield {
            "type": "user",
            "message": {"role": "user", "content": [{"type": "text", "text": "again"}]},
        }

    results = [m.result async for m in query(prompt=prompts()) if isinstance(m, ResultMessage)]
    assert results == ["a", "b"]
    assert env.requests[1].json["messages"][-1]["content"] == "again"


async def test_client_refuses_other_sessions_and_transports(env: SSEServer) -> None:
    client = ClaudeSDKClient()
    with pytest.raises(ConfigurationError, match="session_id"):
        await client.query("x", session_id="other")
    with pytest.raises(ConfigurationError, match="transport"):
        ClaudeSDKClient(transport=object())
    with pytest.raises(ConfigurationError, match="query"):
        async for _ in client.receive_response():
            pass
    await client.disconnect()


async def test_interrupt_stops_the_turn(env: SSEServer) -> None:
    env.script.stream(sse(chunk(role="assistant", content="partial"), done=False), end="hang")
    result = None
    async with ClaudeSDKClient(ClaudeAgentOptions(include_partial_messages=True)) as client:
        await client.query("long")
        async for message in client.receive_response():
            if isinstance(message, any_agent.StreamEvent):
                await client.interrupt()
            if isinstance(message, ResultMessage):
                result = message
    assert result is not None
    assert result.stop_reason == "interrupted"
    assert result.result == "partial"


def test_tool_result_user_message_type_is_shared() -> None:
    # claude-agent-sdk programs match UserMessage for tool results
    assert any_agent.UserMessage is UserMessage
    assert any_agent.SystemMessage("init").data == {}


def test_the_migration_guide_lists_every_field() -> None:
    guide = (
        Path(__file__).parent.parent / "docs" / "migrating-from-claude-agent-sdk.md"
    ).read_text()
    rows = {
        line.split("|")[1].strip().strip("`")
        for line in guide.splitlines()
        if line.startswith("| `")
    }
    assert set(CLAUDE_0_2_189_FIELDS) <= rows
