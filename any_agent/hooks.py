"""Hooks and tool permissions, in the style of claude-agent-sdk.

``AgentOptions.hooks`` maps an event name to a list of :class:`HookMatcher`; each matcher
selects tools by name (a regular expression, or None for every tool) and lists the hook
callables to run. A hook receives the event's input dataclass and returns a
:class:`HookResult` or None (no opinion). Hooks and ``can_use_tool`` may be async or sync;
sync ones run in a worker thread.

Failure policy: a PreToolUse hook or ``can_use_tool`` that raises, times out or returns
something other than its documented result type *denies* the call (fail closed), with the
error as the reason. A failing PostToolUse hook replaces the result with an error result;
a failing UserPromptSubmit hook blocks the prompt; a failing Stop hook is logged and
ignored. Every such failure is also logged on the ``any_agent.hooks`` logger.
"""

from __future__ import annotations

import asyncio
import copy
import inspect
import logging
import re
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal, TypeAlias

from .errors import ConfigurationError, ToolResultError
from .tools import ToolOutput, call_in_thread, describe_exception, result_to_text
from .types import StopReason

__all__ = [
    "HOOK_EVENTS",
    "CanUseTool",
    "HookCallback",
    "HookEvent",
    "HookInput",
    "HookMatcher",
    "HookResult",
    "HookRunner",
    "PermissionResult",
    "PermissionResultAllow",
    "PermissionResultDeny",
    "PostToolUseInput",
    "PreToolDecision",
    "PreToolUseInput",
    "PromptDecision",
    "StopInput",
    "ToolPermissionContext",
    "UserPromptSubmitInput",
]

logger = logging.getLogger("any_agent.hooks")

HookEvent = Literal["PreToolUse", "PostToolUse", "UserPromptSubmit", "Stop"]
HOOK_EVENTS: tuple[HookEvent, ...] = ("PreToolUse", "PostToolUse", "UserPromptSubmit", "Stop")
_TOOL_EVENTS = ("PreToolUse", "PostToolUse")


@dataclass(frozen=True, slots=True)
class PreToolUseInput:
    """A tool call about to run. ``tool_input`` is a copy: rewrite it via ``updated_input``.

    ``recovered`` is True when the call was read from the model's text, not sent as a
    structured call (``ToolUseBlock.recovered``): a hook may refuse those."""

    tool_name: str
    tool_input: dict[str, Any]
    tool_use_id: str
    recovered: bool = False
    hook_event_name: ClassVar[HookEvent] = "PreToolUse"


@dataclass(frozen=True, slots=True)
class PostToolUseInput:
    """A tool call that has run; ``result`` is the text the model will see."""

    tool_name: str
    tool_input: dict[str, Any]
    tool_use_id: str
    result: str
    is_error: bool
    hook_event_name: ClassVar[HookEvent] = "PostToolUse"


@dataclass(frozen=True, slots=True)
class UserPromptSubmitInput:
    """A prompt about to be sent to the model."""

    prompt: str
    hook_event_name: ClassVar[HookEvent] = "UserPromptSubmit"


@dataclass(frozen=True, slots=True)
class StopInput:
    """The agent finished a query (observational)."""

    stop_reason: StopReason
    hook_event_name: ClassVar[HookEvent] = "Stop"


HookInput: TypeAlias = PreToolUseInput | PostToolUseInput | UserPromptSubmitInput | StopInput


@dataclass(frozen=True, slots=True)
class HookResult:
    """What a hook decided; every field is optional and None means "no change".

    - PreToolUse: ``decision="deny"`` refuses the call (``reason`` is shown to the model);
      ``decision="allow"`` approves it without asking ``can_use_tool``; ``updated_input``
      replaces the arguments.
    - PostToolUse: ``updated_result`` replaces the result text.
    - UserPromptSubmit: ``decision="deny"`` blocks the prompt; ``updated_prompt`` rewrites it.
    - Stop: the result is ignored.
    """

    decision: Literal["allow", "deny"] | None = None
    reason: str | None = None
    updated_input: Mapping[str, Any] | None = None
    updated_result: str | None = None
    updated_prompt: str | None = None

    @classmethod
    def deny(cls, reason: str) -> HookResult:
        """Refuse the tool call (PreToolUse) or block the prompt (UserPromptSubmit)."""
        return cls(decision="deny", reason=reason)

    @classmethod
    def allow(cls, updated_input: Mapping[str, Any] | None = None) -> HookResult:
        """Approve the tool call without asking ``can_use_tool`` (PreToolUse)."""
        return cls(decision="allow", updated_input=updated_input)


HookCallback: TypeAlias = Callable[[Any], Awaitable[HookResult | None] | HookResult | None]
"""A hook: ``(input) -> HookResult | None``, async or sync."""


@dataclass(slots=True)
class HookMatcher:
    """Hooks to run for the tools whose name matches ``matcher``.

    ``matcher`` is a regular expression matched against the whole tool name (``"Bash"``,
    ``"read_.*|write_file"``); None, ``""`` or ``"*"`` match every tool. It is ignored for
    UserPromptSubmit and Stop. ``timeout`` bounds each hook call, in seconds.
    """

    matcher: str | None = None
    hooks: Sequence[HookCallback] = field(default_factory=list)
    timeout: float | None = 60.0
    _pattern: re.Pattern[str] | None = field(init=False, repr=False, compare=False, default=None)

    def __post_init__(self) -> None:
        if self.matcher is not None and not isinstance(self.matcher, str):
            raise ConfigurationError(
                f"HookMatcher.matcher must be a str regex or None, got {self.matcher!r}"
            )
        if self.matcher and self.matcher != "*":
            try:
                self._pattern = re.compile(self.matcher)
            except re.error as exc:
                raise ConfigurationError(
                    f"HookMatcher.matcher {self.matcher!r} is not a valid regex: {exc}"
                ) from exc
        if callable(self.hooks) or isinstance(self.hooks, (str, bytes)):
            raise ConfigurationError("HookMatcher.hooks must be a list of callables")
        for hook in self.hooks:
            if not callable(hook):
                raise ConfigurationError(
                    f"HookMatcher.hooks must contain callables, got {type(hook).__name__}"
                )
        if self.timeout is not None and (
            isinstance(self.timeout, bool)
            or not isinstance(self.timeout, (int, float))
            or not self.timeout > 0
        ):
            raise ConfigurationError(
                f"HookMatcher.timeout must be a positive number or None, got {self.timeout!r}"
            )

    def matches(self, tool_name: str) -> bool:
        """Whether this matcher applies to ``tool_name``."""
        return self._pattern is None or self._pattern.fullmatch(tool_name) is not None


@dataclass(frozen=True, slots=True)
class ToolPermissionContext:
    """Extra facts passed to a three-argument ``can_use_tool``; ``recovered`` as in
    :class:`PreToolUseInput`."""

    tool_use_id: str
    recovered: bool = False


@dataclass(frozen=True, slots=True)
class PermissionResultAllow:
    """``can_use_tool`` allows the call, optionally with rewritten arguments."""

    updated_input: Mapping[str, Any] | None = None
    behavior: Literal["allow"] = "allow"


@dataclass(frozen=True, slots=True)
class PermissionResultDeny:
    """``can_use_tool`` refuses the call; ``message`` is shown to the model.

    ``interrupt=True`` asks the loop to stop the query after this turn.
    """

    message: str = ""
    interrupt: bool = False
    behavior: Literal["deny"] = "deny"


PermissionResult: TypeAlias = PermissionResultAllow | PermissionResultDeny

CanUseTool: TypeAlias = Callable[..., Awaitable[PermissionResult] | PermissionResult]
"""``(tool_name, tool_input[, context]) -> PermissionResultAllow | PermissionResultDeny``."""


@dataclass(frozen=True, slots=True)
class PreToolDecision:
    """Whether a tool call may run, and with which arguments.

    ``input`` is the argument object to run with (rewritten by hooks or ``can_use_tool``,
    or the original). When ``allowed`` is False, ``reason`` says why in words for the
    model and ``message`` is the full text for the error tool result.
    """

    allowed: bool
    input: dict[str, Any]
    reason: str | None = None
    interrupt: bool = False

    @property
    def message(self) -> str:
        """The tool-result text for a denied call."""
        return f"Permission denied: {self.reason or 'the tool call was not allowed'}"


@dataclass(frozen=True, slots=True)
class PromptDecision:
    """Whether a prompt may be sent, and its (possibly rewritten) text."""

    allowed: bool
    prompt: str
    reason: str | None = None


class _HookFailure(Exception):
    """A hook raised, timed out or returned the wrong type; the message says which."""


def _label(fn: Callable[..., Any]) -> str:
    name = getattr(fn, "__name__", None)
    return name if isinstance(name, str) else type(fn).__name__


async def _call(fn: Callable[..., Any], args: tuple[Any, ...], timeout: float | None) -> Any:
    """Call a hook (async, or sync in a thread); every failure becomes :class:`_HookFailure`."""

    async def invoke() -> Any:
        try:
            if inspect.iscoroutinefunction(fn) or inspect.iscoroutinefunction(
                getattr(fn, "__call__", None)  # noqa: B004
            ):
                return await fn(*args)
            value = await call_in_thread(fn, *args)
            return await value if inspect.isawaitable(value) else value
        except Exception as exc:
            raise _HookFailure(f"{_label(fn)} raised {describe_exception(exc)}") from exc

    if timeout is None:
        return await invoke()
    try:
        return await asyncio.wait_for(invoke(), timeout)
    except asyncio.TimeoutError as exc:
        raise _HookFailure(f"{_label(fn)} timed out after {timeout:g}s") from exc


def _as_result(fn: Callable[..., Any], value: Any) -> HookResult | None:
    if value is None or isinstance(value, HookResult):
        return value
    raise _HookFailure(
        f"{_label(fn)} returned {type(value).__name__}; a hook returns HookResult or None"
    )


def _as_input(fn: Callable[..., Any], value: Any) -> dict[str, Any]:
    if not isinstance(value, Mapping) or not all(isinstance(k, str) for k in value):
        raise _HookFailure(
            f"{_label(fn)} gave updated_input of type {type(value).__name__}; "
            "it must be a dict with str keys"
        )
    return dict(value)


def _accepts_context(fn: Callable[..., Any]) -> bool:
    try:
        inspect.signature(fn).bind(None, None, None)
    except (TypeError, ValueError):
        return False
    return True


class HookRunner:
    """Runs the hooks and the permission callback of one agent; the loop's only entry point.

    Built from ``AgentOptions.hooks`` and ``AgentOptions.can_use_tool``; both are checked
    here and a bad configuration raises :class:`ConfigurationError`.
    """

    def __init__(
        self,
        hooks: Mapping[str, Sequence[HookMatcher]] | None = None,
        can_use_tool: CanUseTool | None = None,
    ) -> None:
        hooks = {} if hooks is None else hooks
        if not isinstance(hooks, Mapping):
            raise ConfigurationError(
                f"hooks must be a dict of event name -> [HookMatcher, ...], "
                f"got {type(hooks).__name__}"
            )
        self._matchers: dict[str, tuple[HookMatcher, ...]] = {}
        for event, matchers in hooks.items():
            if event not in HOOK_EVENTS:
                raise ConfigurationError(
                    f"unknown hook event {event!r}; expected one of {', '.join(HOOK_EVENTS)}"
                )
            if isinstance(matchers, HookMatcher) or not isinstance(matchers, Sequence):
                raise ConfigurationError(
                    f"hooks[{event!r}] must be a list of HookMatcher, got {type(matchers).__name__}"
                )
            for i, matcher in enumerate(matchers):
                if not isinstance(matcher, HookMatcher):
                    hint = " (wrap it: HookMatcher(hooks=[fn]))" if callable(matcher) else ""
                    raise ConfigurationError(
                        f"hooks[{event!r}][{i}] must be a HookMatcher, "
                        f"got {type(matcher).__name__}{hint}"
                    )
            self._matchers[event] = tuple(matchers)
        if can_use_tool is not None and not callable(can_use_tool):
            raise ConfigurationError(
                f"can_use_tool must be a callable, got {type(can_use_tool).__name__}"
            )
        self._can_use_tool = can_use_tool
        self._context = can_use_tool is not None and _accepts_context(can_use_tool)

    def has_hooks(self, event: HookEvent) -> bool:
        """Whether any hook is registered for ``event``."""
        return any(m.hooks for m in self._matchers.get(event, ()))

    def _selected(
        self, event: HookEvent, tool_name: str | None = None
    ) -> list[tuple[Callable[..., Any], float | None]]:
        return [
            (hook, matcher.timeout)
            for matcher in self._matchers.get(event, ())
            if tool_name is None or matcher.matches(tool_name)
            for hook in matcher.hooks
        ]

    async def pre_tool_use(
        self,
        tool_name: str,
        tool_input: Mapping[str, Any],
        tool_use_id: str,
        *,
        recovered: bool = False,
    ) -> PreToolDecision:
        """Run PreToolUse hooks, then ``can_use_tool``; decide whether the call runs.

        Hooks run in order, each seeing the input as rewritten so far. The first denial
        wins. A hook's ``decision="allow"`` skips ``can_use_tool``. Any failure denies.
        """
        current = dict(tool_input)
        approved = False
        for hook, timeout in self._selected("PreToolUse", tool_name):
            try:
                event = PreToolUseInput(tool_name, copy.deepcopy(current), tool_use_id, recovered)
                result = _as_result(hook, await _call(hook, (event,), timeout))
                if result is None:
                    continue
                if result.updated_input is not None:
                    current = _as_input(hook, result.updated_input)
            except _HookFailure as exc:
                return self._fail_closed("PreToolUse hook", exc, current)
            if result.decision == "deny":
                return PreToolDecision(
                    False, current, result.reason or f"denied by the hook {_label(hook)}"
                )
            approved = approved or result.decision == "allow"
        if approved or self._can_use_tool is None:
            return PreToolDecision(True, current)
        fn = self._can_use_tool
        args: tuple[Any, ...] = (tool_name, copy.deepcopy(current))
        if self._context:
            args = (*args, ToolPermissionContext(tool_use_id, recovered))
        try:
            verdict = await _call(fn, args, None)
            if isinstance(verdict, PermissionResultDeny):
                return PreToolDecision(
                    False,
                    current,
                    verdict.message or f"denied by {_label(fn)}",
                    interrupt=verdict.interrupt,
                )
            if not isinstance(verdict, PermissionResultAllow):
                raise _HookFailure(
                    f"{_label(fn)} returned {type(verdict).__name__}; can_use_tool returns "
                    "PermissionResultAllow or PermissionResultDeny"
                )
            if verdict.updated_input is not None:
                current = _as_input(fn, verdict.updated_input)
        except _HookFailure as exc:
            return self._fail_closed("can_use_tool", exc, current)
        return PreToolDecision(True, current)

    @staticmethod
    def _fail_closed(what: str, exc: _HookFailure, current: dict[str, Any]) -> PreToolDecision:
        logger.warning("%s failed, denying the tool call: %s", what, exc, exc_info=exc.__cause__)
        return PreToolDecision(False, current, f"{what} failed: {exc}")

    async def post_tool_use(
        self,
        tool_name: str,
        tool_input: Mapping[str, Any],
        tool_use_id: str,
        result: str,
        is_error: bool,
    ) -> ToolOutput:
        """Run PostToolUse hooks; return the result the model will see.

        Each hook sees the result as rewritten so far. If a hook fails, the result is
        replaced by an error result naming the failure (the original is withheld).
        """
        output = ToolOutput(result, is_error)
        for hook, timeout in self._selected("PostToolUse", tool_name):
            event = PostToolUseInput(
                tool_name,
                copy.deepcopy(dict(tool_input)),
                tool_use_id,
                output.content,
                output.is_error,
            )
            try:
                decision = _as_result(hook, await _call(hook, (event,), timeout))
                if decision is not None and decision.updated_result is not None:
                    try:
                        text = result_to_text(decision.updated_result)
                    except ToolResultError as exc:
                        raise _HookFailure(f"{_label(hook)} gave {exc}") from exc
                    output = ToolOutput(text, output.is_error)
            except _HookFailure as exc:
                logger.warning("PostToolUse hook failed: %s", exc, exc_info=exc.__cause__)
                return ToolOutput(f"PostToolUse hook failed: {exc}", is_error=True)
        return output

    async def user_prompt(self, prompt: str) -> PromptDecision:
        """Run UserPromptSubmit hooks; return whether and what to send."""
        current = prompt
        for hook, timeout in self._selected("UserPromptSubmit"):
            try:
                result = _as_result(
                    hook, await _call(hook, (UserPromptSubmitInput(current),), timeout)
                )
                if result is not None and result.updated_prompt is not None:
                    if not isinstance(result.updated_prompt, str):
                        raise _HookFailure(f"{_label(hook)} gave a non-str updated_prompt")
                    current = result.updated_prompt
            except _HookFailure as exc:
                logger.warning("UserPromptSubmit hook failed: %s", exc, exc_info=exc.__cause__)
                return PromptDecision(False, current, f"UserPromptSubmit hook failed: {exc}")
            if result is not None and result.decision == "deny":
                return PromptDecision(
                    False, current, result.reason or f"blocked by the hook {_label(hook)}"
                )
        return PromptDecision(True, current)

    async def stop(self, stop_reason: StopReason) -> None:
        """Run Stop hooks; their failures are logged, never raised."""
        for hook, timeout in self._selected("Stop"):
            try:
                await _call(hook, (StopInput(stop_reason),), timeout)
            except _HookFailure as exc:
                logger.warning("Stop hook failed: %s", exc, exc_info=exc.__cause__)
