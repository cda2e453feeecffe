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

import re
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal, TypeAlias

from .errors import ConfigurationError
from .types import StopReason

__all__ = [
    "HOOK_EVENTS",
    "CanUseTool",
    "HookCallback",
    "HookEvent",
    "HookInput",
    "HookMatcher",
    "HookResult",
    "PermissionResult",
    "PermissionResultAllow",
    "PermissionResultDeny",
    "PostToolUseInput",
    "PreToolUseInput",
    "StopInput",
    "ToolPermissionContext",
    "UserPromptSubmitInput",
]

HookEvent = Literal["PreToolUse", "PostToolUse", "UserPromptSubmit", "Stop"]
HOOK_EVENTS: tuple[HookEvent, ...] = ("PreToolUse", "PostToolUse", "UserPromptSubmit", "Stop")


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
      ``decision="allow"`` approves it without asking ``can_use_tool``; ``decision="ask"``
      makes ``can_use_tool`` decide even if the tool is in ``allowed_tools`` or another hook
      allowed it (refused when there is no ``can_use_tool``); ``updated_input`` replaces
      the arguments. Any other decision is a hook failure (the call is refused).
    - PostToolUse: ``updated_result`` replaces the result text.
    - UserPromptSubmit: ``decision="deny"`` blocks the prompt; ``updated_prompt`` rewrites it.
    - Stop: the result is ignored.
    """

    decision: Literal["allow", "deny", "ask"] | None = None
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
    #: claude-agent-sdk's failure policy; any-agent's hooks always fail closed (``"block"``),
    #: so only None and ``"block"`` are accepted.
    on_failure: Literal["block"] | None = None

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

        if self.on_failure not in (None, "block"):
            raise ConfigurationError(
                f"HookMatcher.on_failure={self.on_failure!r} is not supported: a hook that "
                "fails always blocks its action here (on_failure='block')"
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
    #: claude-agent-sdk's fields, for its callbacks: no abort signal, no suggestions
    signal: Any = None
    suggestions: tuple[Any, ...] = ()


@dataclass(frozen=True, slots=True)
class PermissionResultAllow:
    """``can_use_tool`` allows the call, optionally with rewritten arguments.

    ``updated_permissions`` (claude-agent-sdk's permission-rule updates) must be None or
    empty: there are no stored permission rules to update."""

    updated_input: Mapping[str, Any] | None = None
    behavior: Literal["allow"] = "allow"
    updated_permissions: Sequence[Any] | None = None


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


def check_hooks(hooks: object, can_use_tool: object) -> dict[str, tuple[HookMatcher, ...]]:
    """``AgentOptions.hooks`` and ``can_use_tool`` checked: the matchers by event name.
    Known event names, lists of :class:`HookMatcher` and a callable ``can_use_tool``, else
    a :class:`ConfigurationError` naming the field."""
    hooks = {} if hooks is None else hooks
    if not isinstance(hooks, Mapping):
        raise ConfigurationError(
            f"hooks must be a dict of event name -> [HookMatcher, ...], got {type(hooks).__name__}"
        )
    checked: dict[str, tuple[HookMatcher, ...]] = {}
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
        checked[event] = tuple(matchers)
    if can_use_tool is not None and not callable(can_use_tool):
        raise ConfigurationError(
            f"can_use_tool must be a callable, got {type(can_use_tool).__name__}"
        )
    return checked
