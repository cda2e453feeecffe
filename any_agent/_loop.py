"""The agent side of a turn: hooks around prompts, and running the tools the model called."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from .errors import ConfigurationError
from .hooks import HookRunner
from .options import AgentOptions
from .tools import ToolRegistry
from .types import StopReason, ToolUseBlock, ToolUseError

__all__ = ["PromptBlockedError", "ToolLoop", "malformed_call_result"]

ToolOutcome = tuple[str, str, bool]  # (tool_use_id, content, is_error)


def malformed_call_result(call: ToolUseError) -> str:
    """What the model is told about a call whose arguments could not be parsed."""
    return (
        f"Error: the arguments were not valid JSON ({call.error}). "
        "Call the tool again with a JSON object."
    )


class PromptBlockedError(ConfigurationError):
    """A UserPromptSubmit hook blocked the prompt; the message carries its reason."""


class ToolLoop:
    """Runs registered ``@tool`` functions for a turn's calls, concurrently, in call order.

    Calls to tools given only as OpenAI definitions are left to the caller (manual mode,
    answered with ``Client.add_tool_result``); when no tool has an implementation the
    loop runs nothing. A call is never run twice: ids already in ``executed`` are skipped.
    """

    def __init__(self, options: AgentOptions) -> None:
        self._registry = ToolRegistry(options.tools)
        self._hooks = HookRunner(options.hooks, options.can_use_tool)
        self._auto = options.auto_execute_tools and any(
            self._registry.handles(name) for name in self._registry
        )
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

    async def execute(
        self, calls: Sequence[ToolUseBlock | ToolUseError], executed: set[str]
    ) -> list[ToolOutcome]:
        if not self._auto:
            return []
        todo = [c for c in calls if c.id not in executed and not self._registry.is_manual(c.name)]
        for call in todo:
            executed.add(call.id)  # before running: a failure must never re-run it
        return list(await asyncio.gather(*(self._one(c) for c in todo)))

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
