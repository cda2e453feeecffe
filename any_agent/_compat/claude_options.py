"""claude-agent-sdk's ``ClaudeAgentOptions`` fields (all 50 of 0.2.189), each mapped onto
:class:`~any_agent.AgentOptions` or refused with the reason.

A refused field is accepted only at a value that means what any-agent does anyway (its
default, mostly); any other value is a :class:`ConfigurationError` naming the field and why,
so that a port never silently behaves differently.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable, Mapping, Sequence
from dataclasses import fields
from typing import Any

from ..config import ENV_BASE_URL, ENV_MODEL, get_base_url
from ..errors import ConfigurationError
from ..options import AgentOptions
from .claude_hooks import adapt_hooks

__all__ = ["CLAUDE_DEFAULT_MAX_TURNS", "CLAUDE_FIELDS", "REFUSED", "claude_to_agent_options"]

#: claude-agent-sdk's ``max_turns`` default is unlimited: its loop runs tools until the model
#: stops. Here the same loop runs, bounded by this many model turns (then ``error_max_turns``).
CLAUDE_DEFAULT_MAX_TURNS = 32
#: the most a ``{"type": "file"}`` system prompt may hold
_MAX_PROMPT_FILE_BYTES = 1024 * 1024

_AGENT_FIELDS = frozenset(f.name for f in fields(AgentOptions))


def _empty(value: Any) -> bool:
    return value is None or (isinstance(value, (Sequence, Mapping)) and not value)


def _none(value: Any) -> bool:
    return value is None


def _false(value: Any) -> bool:
    return value is False or value is None


def _anything(value: Any) -> bool:
    return True


#: field → (which values are accepted, why any other is refused). Values accepted mean
#: what any-agent does anyway.
REFUSED: dict[str, tuple[Callable[[Any], bool], str]] = {
    "permission_mode": (
        lambda v: v in (None, "default"),
        "the modes other than 'default' are about Claude Code's built-in file and shell "
        "tools; use allowed_tools, disallowed_tools, hooks and can_use_tool",
    ),
    "continue_conversation": (_false, "there are no stored sessions: pass history= to Client"),
    "resume": (_none, "there are no stored sessions: pass history= to Client"),
    "session_id": (_none, "there are no stored sessions: pass history= to Client"),
    "fork_session": (_false, "there are no stored sessions: copy Client.history instead"),
    "resume_session_at": (_none, "there are no stored sessions: slice Client.history"),
    "resume_drops_turn": (_none, "there are no stored sessions"),
    "session_store": (_none, "there are no stored sessions: save Client.history yourself"),
    "session_store_flush": (_anything, ""),  # only read with a session_store
    "load_timeout_ms": (_anything, ""),  # only read with a session_store
    "max_budget_usd": (_none, "a local model's cost is not known; bound max_turns/max_tokens"),
    "fallback_model": (_none, "one server and one model per agent"),
    "betas": (_empty, "Anthropic API beta headers"),
    "permission_prompt_tool_name": (_none, "there is no permission prompt: use can_use_tool"),
    "strict_mcp_config": (_anything, ""),  # no other MCP configuration is ever loaded
    "cwd": (_none, "no Claude Code process is started (there are no built-in file tools)"),
    "cli_path": (_none, "no Claude Code CLI is used"),
    "settings": (_none, "Claude Code settings files are not read"),
    "add_dirs": (_empty, "there are no built-in file tools to give directories to"),
    "env": (_empty, "no Claude Code process is started to pass environment variables to"),
    "extra_args": (_empty, "no Claude Code CLI is used"),
    "max_buffer_size": (
        _none,
        "no CLI output is buffered; the byte bounds are max_response_bytes, max_event_bytes "
        "and max_tool_argument_bytes",
    ),
    "debug_stderr": (_anything, ""),  # deprecated and unread by claude-agent-sdk itself
    "stderr": (_none, "no Claude Code process writes to stderr; logs use the logging module"),
    "user": (_none, "no user identifier is sent"),
    "include_hook_events": (_false, "hook events are not yielded as messages"),
    "forward_subagent_text": (_anything, ""),  # there are no subagents whose text to forward
    "verbatim_prompts": (_anything, ""),  # prompts are always sent verbatim (no @path expansion)
    "agents": (_empty, "there are no subagents (no Agent tool)"),
    "setting_sources": (_empty, "Claude Code settings and CLAUDE.md files are not read"),
    "skills": (_none, "there are no Claude Code skills"),
    "sandbox": (_none, "there is no built-in command execution to sandbox"),
    "plugins": (_empty, "there are no Claude Code plugins"),
    "max_thinking_tokens": (_none, "deprecated in claude-agent-sdk; use thinking="),
    "enable_file_checkpointing": (_false, "there are no built-in file tools to checkpoint"),
    "task_budget": (_none, "Anthropic API task budgets; bound max_turns/max_tokens"),
    "client_app": (_none, "no client identifier header is sent"),
}

#: The fields any-agent takes, mapped (``tools``, ``system_prompt``, ``model``, ``max_turns``,
#: ``hooks``) or as they are.
MAPPED = (
    "tools",
    "allowed_tools",
    "system_prompt",
    "mcp_servers",
    "max_turns",
    "disallowed_tools",
    "model",
    "can_use_tool",
    "hooks",
    "include_partial_messages",
    "thinking",
    "effort",
    "output_format",
)

#: Every ``ClaudeAgentOptions`` field of claude-agent-sdk 0.2.189, in its order.
CLAUDE_FIELDS = (
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
)


def _system_prompt(value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    if not isinstance(value, Mapping):
        raise ConfigurationError(
            f"system_prompt must be a str or a claude-agent-sdk prompt dict, got {value!r:.80}"
        )
    kind = value.get("type")
    if kind == "custom":
        # snapshot: the system prompt is byte-stable on every request anyway
        prompt = value.get("prompt")
        if not isinstance(prompt, str):
            raise ConfigurationError("system_prompt {'type': 'custom'} needs a str 'prompt'")
        return prompt
    if kind == "file":
        path = value.get("path")
        if not isinstance(path, str):
            raise ConfigurationError("system_prompt {'type': 'file'} needs a str 'path'")
        try:
            # O_NONBLOCK: a FIFO or a device in the path's place must not block the open
            fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
            with os.fdopen(fd, "rb") as handle:
                if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
                    raise ConfigurationError(f"system_prompt file {path!r} is not a regular file")
                data = handle.read(_MAX_PROMPT_FILE_BYTES + 1)
        except OSError as exc:
            raise ConfigurationError(f"system_prompt file {path!r}: {exc.strerror}") from None
        if len(data) > _MAX_PROMPT_FILE_BYTES:
            raise ConfigurationError(
                f"system_prompt file {path!r} is larger than {_MAX_PROMPT_FILE_BYTES} bytes"
            )
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            raise ConfigurationError(f"system_prompt file {path!r} is not UTF-8 text") from None
    if kind == "preset":
        raise ConfigurationError(
            "system_prompt preset 'claude_code' is not supported: it is Claude Code's own "
            "prompt for its built-in tools; give your system prompt as a str"
        )
    raise ConfigurationError(f"system_prompt type must be 'custom' or 'file', got {kind!r}")


def _tools(value: Any) -> Any:
    if value is None:
        return ()
    if isinstance(value, Mapping) or (
        isinstance(value, Sequence)
        and not isinstance(value, (str, bytes))
        and any(isinstance(t, str) for t in value)
    ):
        raise ConfigurationError(
            "tools names Claude Code's built-in tools (Bash, Read, ...), which any-agent does "
            "not have; give @tool functions or OpenAI tool definitions, or MCP servers"
        )
    return value


def _from_env(name: str, env: str, given: Any) -> Any:
    if given is not None and given != "":
        return given
    value = os.environ.get(env, "").strip()
    if not value:
        raise ConfigurationError(
            f"{name} is not set: ClaudeAgentOptions reads the server from {ENV_BASE_URL} and "
            f"the model from {ENV_MODEL} (set both), or pass base_url= and model="
        )
    return value


def claude_to_agent_options(kwargs: dict[str, Any]) -> dict[str, Any]:
    """The AgentOptions keyword arguments that claude-agent-sdk's ``kwargs`` mean."""
    out: dict[str, Any] = {}
    for name, value in kwargs.items():
        if name in _AGENT_FIELDS and name not in ("tools", "system_prompt", "hooks"):
            out[name] = value
            continue
        if name in REFUSED:
            accepts, why = REFUSED[name]
            if not accepts(value):
                raise ConfigurationError(f"{name}={value!r:.60} is not supported: {why}")
            continue
        if name == "tools":
            out["tools"] = _tools(value)
        elif name == "system_prompt":
            out["system_prompt"] = _system_prompt(value)
        elif name == "hooks":
            out["hooks"] = {} if value is None else adapt_hooks(value)
        else:
            raise ConfigurationError(f"ClaudeAgentOptions has no option {name!r}")
    if out.get("max_turns") is None:
        out["max_turns"] = CLAUDE_DEFAULT_MAX_TURNS
    provider = out.get("provider")
    if provider is not None and not out.get("base_url"):
        out["base_url"] = get_base_url(provider=provider)
    out["base_url"] = _from_env("base_url", ENV_BASE_URL, out.get("base_url"))
    out["model"] = _from_env("model", ENV_MODEL, out.get("model"))
    for name in ("allowed_tools", "disallowed_tools"):
        if out.get(name) is None:
            out.pop(name, None)
    return out
