"""claude-agent-sdk hook callbacks, run by any-agent's hook engine.

A claude-agent-sdk hook is ``async def hook(input_data: dict, tool_use_id: str | None,
context: dict) -> dict``; any-agent's takes one input dataclass and returns a
:class:`~any_agent.hooks.HookResult`. :func:`adapt_hooks` wraps the first kind so that the
engine (its order, timeouts and fail-closed policy) is the same for both. The dict a hook
returns is translated:

- PreToolUse: ``hookSpecificOutput.permissionDecision`` ``"deny"`` / ``"allow"`` (with
  ``permissionDecisionReason``, ``updatedInput``); ``"ask"`` makes ``can_use_tool`` decide
  (refused without one, even for a tool in ``allowed_tools``); ``"defer"`` refuses (a call
  is never held back for later here); top-level ``decision: "block"`` denies,
  ``"approve"`` allows, any other value is a hook failure; ``continue_: False`` denies
  with ``stopReason``.
- PostToolUse: ``updatedToolOutput`` / ``updatedMCPToolOutput`` replace the result;
  ``additionalContext`` and a ``decision: "block"`` reason are appended to it.
- UserPromptSubmit: ``decision: "block"`` (or ``continue_: False``) blocks the prompt;
  ``additionalContext`` is appended to the prompt.
- Stop: observational, as in any-agent.

Anything else that is not a dict, or ``async_`` (deferred) output, is a hook failure.
"""

from __future__ import annotations

import inspect
import os
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from .._agent.aio import call_in_thread
from ..errors import ConfigurationError
from ..hooks import (
    HookMatcher,
    HookResult,
    PostToolUseInput,
    PreToolUseInput,
    StopInput,
    UserPromptSubmitInput,
)
from ..tools import result_to_text

__all__ = ["CLAUDE_ONLY_EVENTS", "adapt_hooks", "is_claude_hook"]

#: claude-agent-sdk hook events that have no counterpart here, and why.
CLAUDE_ONLY_EVENTS = {
    "PostToolUseFailure": "a failed tool call is a PostToolUse with is_error=True here",
    "SubagentStop": "there are no subagents",
    "SubagentStart": "there are no subagents",
    "PreCompact": "the conversation is never compacted",
    "Notification": "there are no Claude Code notifications",
    "PermissionRequest": "there is no permission prompt: use can_use_tool",
}


def is_claude_hook(fn: Callable[..., Any]) -> bool:
    """Whether ``fn`` takes claude-agent-sdk's three arguments (input, tool_use_id, context)."""
    try:
        inspect.signature(fn).bind(None, None, None)
    except (TypeError, ValueError):
        return False
    return True


class _ClaudeHook:
    """One claude-agent-sdk callback as an any-agent hook."""

    def __init__(self, fn: Callable[..., Any]) -> None:
        self._fn = fn
        name = getattr(fn, "__name__", None)
        self.__name__ = name if isinstance(name, str) else type(fn).__name__

    async def __call__(self, event: object) -> HookResult | None:
        args = (_input_dict(event), getattr(event, "tool_use_id", None), {"signal": None})
        if inspect.iscoroutinefunction(self._fn):
            value = await self._fn(*args)
        else:  # a sync callback must not block the event loop
            value = await call_in_thread(self._fn, *args)
        if inspect.isawaitable(value):
            value = await value
        return _result(event, value)


def _input_dict(event: object) -> dict[str, Any]:
    base: dict[str, Any] = {
        "session_id": "default",
        "transcript_path": "",
        "cwd": os.getcwd(),
        "permission_mode": "default",
    }
    if isinstance(event, PreToolUseInput):
        return base | {
            "hook_event_name": "PreToolUse",
            "tool_name": event.tool_name,
            "tool_input": event.tool_input,
            "tool_use_id": event.tool_use_id,
        }
    if isinstance(event, PostToolUseInput):
        return base | {
            "hook_event_name": "PostToolUse",
            "tool_name": event.tool_name,
            "tool_input": event.tool_input,
            "tool_response": event.result,
            "tool_use_id": event.tool_use_id,
        }
    if isinstance(event, UserPromptSubmitInput):
        return base | {"hook_event_name": "UserPromptSubmit", "prompt": event.prompt}
    assert isinstance(event, StopInput)
    return base | {"hook_event_name": "Stop", "stop_hook_active": False}


def _text(value: object, what: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise TypeError(f"{what} must be a str, got {type(value).__name__}")
    return value


def _result(event: object, out: object) -> HookResult | None:
    if out is None:
        return None
    if not isinstance(out, Mapping):
        raise TypeError(
            f"returned {type(out).__name__}; a claude-agent-sdk hook returns a dict ({{}} for "
            "no opinion)"
        )
    if out.get("async_") or out.get("async"):
        raise TypeError("returned async_ (deferred) output, which is not supported")
    specific = out.get("hookSpecificOutput") or {}
    if not isinstance(specific, Mapping):
        raise TypeError("hookSpecificOutput must be a dict")
    stopped = out.get("continue_", out.get("continue", True)) is False
    stop_reason = _text(out.get("stopReason"), "stopReason")
    reason = _text(out.get("reason"), "reason")
    top = out.get("decision")
    if top not in (None, "approve", "block"):
        raise TypeError(f"unknown decision {top!r:.40}; claude-agent-sdk's are 'approve', 'block'")
    blocked = top == "block"
    if isinstance(event, PreToolUseInput):
        decision = specific.get("permissionDecision")
        why = _text(specific.get("permissionDecisionReason"), "permissionDecisionReason")
        updated = specific.get("updatedInput")
        if decision not in (None, "allow", "deny", "ask", "defer"):
            raise TypeError(f"unknown permissionDecision {decision!r}")
        if stopped or blocked or decision == "deny":
            return HookResult.deny(why or reason or stop_reason or "denied by a PreToolUse hook")
        if decision == "defer":
            return HookResult.deny(
                why or "a PreToolUse hook deferred the call (calls are not held back here)"
            )
        if decision == "ask":
            return HookResult(decision="ask", reason=why, updated_input=updated)
        if decision == "allow" or top == "approve":
            return HookResult.allow(updated)
        return HookResult(updated_input=updated)
    if isinstance(event, PostToolUseInput):
        replaced = specific.get("updatedToolOutput", specific.get("updatedMCPToolOutput"))
        said = [_text(specific.get("additionalContext"), "additionalContext")]
        if blocked:
            said.append(reason)
        extra = [t for t in said if t]
        if replaced is None and not extra:
            return None
        text = event.result if replaced is None else result_to_text(replaced)
        return HookResult(updated_result="\n\n".join([text, *extra]))
    if isinstance(event, UserPromptSubmitInput):
        if stopped or blocked:
            return HookResult.deny(reason or stop_reason or "blocked by a UserPromptSubmit hook")
        context = _text(specific.get("additionalContext"), "additionalContext")
        return HookResult(updated_prompt=f"{event.prompt}\n\n{context}") if context else None
    return None


def adapt_hooks(hooks: object) -> object:
    """``hooks`` with each claude-agent-sdk callback wrapped (any-agent's pass unchanged);
    a claude-agent-sdk event with no counterpart is a ConfigurationError saying why."""
    if not isinstance(hooks, Mapping):
        return hooks  # AgentOptions names the mistake
    adapted: dict[Any, Any] = {}
    for event, matchers in hooks.items():
        if event in CLAUDE_ONLY_EVENTS:
            raise ConfigurationError(
                f"hooks[{event!r}] is not supported: {CLAUDE_ONLY_EVENTS[event]}"
            )
        if not isinstance(matchers, Sequence) or isinstance(matchers, (str, bytes)):
            adapted[event] = matchers
            continue
        adapted[event] = [_adapt_matcher(m) for m in matchers]
    return adapted


def _adapt_matcher(matcher: object) -> object:
    if not isinstance(matcher, HookMatcher):
        return matcher
    hooks = [
        _ClaudeHook(h) if callable(h) and is_claude_hook(h) else h
        for h in (matcher.hooks if isinstance(matcher.hooks, Sequence) else ())
    ]
    return HookMatcher(matcher.matcher, hooks, matcher.timeout, on_failure=matcher.on_failure)
