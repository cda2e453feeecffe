"""The agent side of a turn: hooks around prompts, and running the tools the model called."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from .errors import ConfigurationError
from .hooks import HookRunner
from .options import AgentOptions
from .tools import ToolRegistry
from .types import StopReason, ToolUseBlock, ToolUseError

__all__ = ["PromptBlockedError", "ToolLoop", "malformed_call_result", "over_limit_result"]

ToolOutcome = tuple[str, str, bool]  # (tool_use_id, content, is_error)


def malformed_call_result(call: ToolUseError) -> str:
    """What the model is told about a call whose arguments could not be parsed."""
    return (
        f"Error: the arguments were not valid JSON ({call.error}). "
        "Call the tool again with a JSON object."
    )


def over_limit_result(made: int, limit: int) -> str:
    """What the model is told about a call beyond ``max_tool_calls`` (it was not run)."""
    return (
        f"Error: not run: the response made {made} tool calls; at most "
        f"max_tool_calls={limit} run per turn. Call fewer tools at once."
    )


class PromptBlockedError(ConfigurationError):
    """A UserPromptSubmit hook blocked the prompt; the message carries its reason."""


class ToolLoop:
    """Runs registered ``@tool`` functions for a turn's calls, concurrently, in call order.

    Calls to tools given only as OpenAI definitions are left to the caller (manual mode,
    answered with ``Client.add_tool_result``); when no tool has an implementation the
    loop runs nothing. A call is never run twice: ids already in ``executed`` are skipped.
    Only the first ``max_tool_calls`` calls of a response are run or left to the caller;
    the rest are answered here with an error (in manual mode too), so every id has a
    result. At most ``max_concurrent_tools`` calls (hooks included) run at once.
    """

    def __init__(self, options: AgentOptions) -> None:
        self._registry = ToolRegistry(options.tools)
        self._hooks = HookRunner(options.hooks, options.can_use_tool)
        self._auto = options.auto_execute_tools and any(
            self._registry.handles(name) for name in self._registry
        )
        self._max_calls = options.max_tool_calls
        self._max_concurrent = options.max_concurrent_tools
        # one per event loop: a Client may be used again under a new asyncio.run()
        self._slots: tuple[asyncio.AbstractEventLoop, asyncio.Semaphore] | None = None
        self.refused: set[str] = set()  # ids answered with the max_tool_calls error
        self.interrupt_requested = False

    async def user_prompt(self, prompt: str) -> str:
        decision = await self._hooks.user_prompt(prompt)
        if not decision.allowed:
            raise PromptBlockedError(
                f"a UserPromptSubmit hook blocked the prompt: {decision.reason}"
            )
        return decision.prompt

    async def stop(self, reason: StopReason) -> None:
        await self._hooks.stop(reason)

    def mark_over_limit(self, calls: Sequence[ToolUseBlock | ToolUseError]) -> None:
        """Record the calls of a response beyond ``max_tool_calls`` as refused, as soon as the
        caller can see them: ``Client.add_tool_result`` must not answer one before
        :meth:`execute` gives it its error result."""
        self.refused.update(c.id for c in calls[self._max_calls :])

    async def execute(
        self, calls: Sequence[ToolUseBlock | ToolUseError], executed: set[str]
    ) -> list[ToolOutcome]:
        over = [c for c in calls[self._max_calls :] if c.id not in executed]
        refused = [(c.id, over_limit_result(len(calls), self._max_calls), True) for c in over]
        for call in over:
            executed.add(call.id)
            self.refused.add(call.id)
        if not self._auto:
            return refused
        todo = [
            c
            for c in calls[: self._max_calls]
            if c.id not in executed and not self._registry.is_manual(c.name)
        ]
        for call in todo:
            executed.add(call.id)  # before running: a failure must never re-run it
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
            return call.id, malformed_call_result(call), True
        decision = await self._hooks.pre_tool_use(
            call.name, call.input, call.id, recovered=call.recovered
        )
        if not decision.allowed:
            if decision.interrupt:
                self.interrupt_requested = True
            return call.id, decision.message, True
        output = await self._registry.run(call.name, decision.input)
        output = await self._hooks.post_tool_use(
            call.name, decision.input, call.id, output.content, output.is_error
        )
        return call.id, output.content, output.is_error
