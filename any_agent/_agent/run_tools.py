"""Run one turn's tool calls: concurrently, in call order, under the hooks and
``can_use_tool``; and the prompt and stop hooks around a query.

:class:`ToolRunner` is what the agent loop calls; :class:`HookRunner` is the engine behind
the vocabulary in :mod:`any_agent.hooks` (its failure policy is written there). Every hook
failure is logged on the ``any_agent.hooks`` logger.
"""

from __future__ import annotations

import asyncio
import copy
import inspect
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..errors import MCPServerError, PromptBlockedError, ToolResultError
from ..hooks import (
    CanUseTool,
    HookEvent,
    HookMatcher,
    HookResult,
    PermissionResultAllow,
    PermissionResultDeny,
    PostToolUseInput,
    PreToolUseInput,
    StopInput,
    ToolPermissionContext,
    UserPromptSubmitInput,
    check_hooks,
)
from ..options import AgentOptions
from ..tools import RunnableTool, ToolOutput, result_to_text
from ..types import ImageBlock, StopReason, ToolUseBlock, ToolUseError
from .aio import call_in_thread, describe_exception
from .calls import CallLedger, ToolOutcome, malformed_call_result
from .registry import ToolRegistry

__all__ = ["HookRunner", "PreToolDecision", "PromptDecision", "ToolRunner"]

logger = logging.getLogger("any_agent.hooks")


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
    if value is None:
        return None
    if isinstance(value, HookResult):
        if value.decision not in (None, "allow", "deny", "ask"):
            raise _HookFailure(
                f"{_label(fn)} returned decision={value.decision!r:.40}; a hook decides "
                "'allow', 'deny', 'ask' or None"
            )
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

    Built from ``AgentOptions.hooks`` and ``AgentOptions.can_use_tool``, which
    :func:`~any_agent.hooks.check_hooks` checks (``AgentOptions`` already has).
    """

    def __init__(
        self,
        hooks: Mapping[str, Sequence[HookMatcher]] | None = None,
        can_use_tool: CanUseTool | None = None,
        *,
        allowed_tools: Sequence[str] = (),
        disallowed_tools: Sequence[str] = (),
    ) -> None:
        self._matchers = check_hooks(hooks, can_use_tool)
        self._can_use_tool = can_use_tool
        self._context = can_use_tool is not None and _accepts_context(can_use_tool)
        self._allowed = frozenset(allowed_tools)
        self._disallowed = frozenset(disallowed_tools)

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
        """Decide whether the call runs, in claude-agent-sdk's order: ``disallowed_tools``
        (refused, no hook runs: the tool was never offered), PreToolUse hooks, then
        ``allowed_tools``, then ``can_use_tool``.

        Hooks run in order, each seeing the input as rewritten so far. The first denial
        wins. A hook's ``decision="allow"`` or a name in ``allowed_tools`` skips
        ``can_use_tool``, unless a hook said ``"ask"`` (then only ``can_use_tool`` can
        approve). With a non-empty ``allowed_tools`` and no ``can_use_tool``, an unlisted
        tool is refused. Any failure denies.
        """
        current = dict(tool_input)
        if tool_name in self._disallowed:
            return PreToolDecision(False, current, f"the tool {tool_name!r} is disallowed")
        approved = asked = False
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
            asked = asked or result.decision == "ask"
        if not asked and (approved or tool_name in self._allowed):
            return PreToolDecision(True, current)
        if self._can_use_tool is None:
            if asked:
                return PreToolDecision(
                    False,
                    current,
                    "a PreToolUse hook asked for confirmation and there is no can_use_tool to ask",
                )
            if self._allowed:
                return PreToolDecision(
                    False,
                    current,
                    f"the tool {tool_name!r} is not in allowed_tools and no can_use_tool "
                    "approved it",
                )
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
            if verdict.updated_permissions:
                raise _HookFailure(
                    f"{_label(fn)} gave updated_permissions; there are no permission rules "
                    "to update here (allowed_tools / disallowed_tools are fixed per agent)"
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
        images: tuple[Any, ...] = (),
    ) -> ToolOutput:
        """Run PostToolUse hooks; return the result the model will see.

        Each hook sees the result as rewritten so far. If a hook fails, the result is
        replaced by an error result naming the failure (the original is withheld).
        """
        output = ToolOutput(result, is_error, images)
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
                    output = ToolOutput(text, output.is_error, output.images)
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


class ToolRunner:
    """Runs registered ``@tool`` functions for a turn's calls, concurrently, in call order.

    Calls to tools given only as OpenAI definitions are left to the caller (manual mode,
    answered with ``Client.add_tool_result``); when no tool has an implementation the
    runner runs nothing. A call is never run twice: ids the ledger has executed are skipped.
    Only the first ``max_tool_calls`` calls of a response are run or left to the caller;
    the rest are answered with an error (in manual mode too, see :class:`CallLedger`), so
    every id has a result. At most ``max_concurrent_tools`` calls (hooks included) run at
    once.
    """

    def __init__(self, options: AgentOptions) -> None:
        self._registry = ToolRegistry(options.tools)
        self._hooks = HookRunner(
            options.hooks,
            options.can_use_tool,
            allowed_tools=options.allowed_tools,
            disallowed_tools=options.disallowed_tools,
        )
        self._options_auto = options.auto_execute_tools
        self._auto = options.auto_execute_tools and any(
            self._registry.handles(name) for name in self._registry
        )
        self._max_concurrent = options.max_concurrent_tools
        # one per event loop: a Client may be used again under a new asyncio.run()
        self._slots: tuple[asyncio.AbstractEventLoop, asyncio.Semaphore] | None = None
        self.interrupt_requested = False  # a can_use_tool denial asked to stop the query
        #: images the tools of the current turn returned, by call id (taken by the loop)
        self.images: dict[str, tuple[ImageBlock, ...]] = {}
        self.failure: MCPServerError | None = None  # an MCP server failed during a call
        self._mcp_names: set[str] = set()

    def add_tools(self, tools: Sequence[RunnableTool]) -> None:
        """Tools that exist only once the agent runs (MCP servers' tools)."""
        for runnable in tools:
            # a server started again (a new event loop) replaces its own tools
            self._registry.add(runnable, replace=runnable.name in self._mcp_names)
            self._mcp_names.add(runnable.name)
        self._auto = self._options_auto and any(
            self._registry.handles(name) for name in self._registry
        )

    def take_failure(self) -> MCPServerError | None:
        failure, self.failure = self.failure, None
        return failure

    async def user_prompt(self, prompt: str) -> str:
        decision = await self._hooks.user_prompt(prompt)
        if not decision.allowed:
            raise PromptBlockedError(
                f"a UserPromptSubmit hook blocked the prompt: {decision.reason}"
            )
        return decision.prompt

    async def stop(self, reason: StopReason) -> None:
        await self._hooks.stop(reason)

    async def execute(
        self, calls: Sequence[ToolUseBlock | ToolUseError], ledger: CallLedger
    ) -> list[ToolOutcome]:
        refused = ledger.refuse_over_limit(calls) + ledger.refuse_disallowed(calls)
        if not self._auto:
            return refused
        todo = ledger.claim(calls, lambda name: not self._registry.is_manual(name))
        slots = self._semaphore()
        ran = await asyncio.gather(*(self._bounded(slots, c) for c in todo))
        return list(ran) + refused

    def _semaphore(self) -> asyncio.Semaphore:
        loop = asyncio.get_running_loop()
        if self._slots is None or self._slots[0] is not loop:
            self._slots = (loop, asyncio.Semaphore(self._max_concurrent))
        return self._slots[1]

    async def _bounded(
        self, slots: asyncio.Semaphore, call: ToolUseBlock | ToolUseError
    ) -> ToolOutcome:
        # the slot covers the hooks and a sync tool's thread; cancellation (interrupt())
        # releases it, so a cancelled turn never leaves the next one short of slots
        async with slots:
            return await self._one(call)

    async def _one(self, call: ToolUseBlock | ToolUseError) -> ToolOutcome:
        if isinstance(call, ToolUseError):
            return call.id, malformed_call_result(call), True, ()
        decision = await self._hooks.pre_tool_use(
            call.name, call.input, call.id, recovered=call.recovered
        )
        if not decision.allowed:
            if decision.interrupt:
                self.interrupt_requested = True
            return call.id, decision.message, True, ()
        try:
            output = await self._registry.run(call.name, decision.input)
        except MCPServerError as exc:
            # the call gets an error result naming the server (history stays whole); the
            # run then ends with this error (the loop raises it after recording results)
            self.failure = self.failure or exc
            return call.id, f"Error: {exc}", True, ()
        if output.images:
            self.images[call.id] = output.images  # beside the text, which hooks may rewrite
        output = await self._hooks.post_tool_use(
            call.name, decision.input, call.id, output.content, output.is_error, output.images
        )
        return call.id, output.content, output.is_error, output.images
