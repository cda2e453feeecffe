"""The agent side of a turn: hooks around prompts, and running the tools the model called."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from .options import AgentOptions
from .types import ToolUseBlock, ToolUseError

__all__ = ["ToolLoop"]

ToolOutcome = tuple[str, str, bool]  # (tool_use_id, content, is_error)


class ToolLoop:
    """Runs registered ``@tool`` functions for a turn's calls, concurrently, in call order.

    Calls to tools given only as OpenAI definitions are left to the caller (manual mode,
    answered with ``Client.add_tool_result``). A call is never run twice: ids already in
    ``executed`` are skipped.
    """

    def __init__(self, options: AgentOptions) -> None:
        from .hooks import HookRunner
        from .tools import ToolRegistry

        self._registry = ToolRegistry(options.tools)
        self._hooks = HookRunner.from_options(options.hooks, options.can_use_tool)
        self._auto = options.auto_execute_tools

    async def user_prompt(self, prompt: str) -> str:
        return await self._hooks.user_prompt(prompt)

    async def stop(self, reason: str) -> None:
        await self._hooks.stop(reason)

    async def execute(
        self, calls: Sequence[ToolUseBlock | ToolUseError], executed: set[str]
    ) -> list[ToolOutcome]:
        if not self._auto:
            return []
        todo = [c for c in calls if c.id not in executed and self._registry.handles(c.name)]
        if not todo:
            return []
        for call in todo:
            executed.add(call.id)  # before running: a failure must never re-run it
        outcomes = await asyncio.gather(*(self._one(c) for c in todo))
        return list(outcomes)

    async def _one(self, call: ToolUseBlock | ToolUseError) -> ToolOutcome:
        if isinstance(call, ToolUseError):
            return (
                call.id,
                f"Error: the arguments were not valid JSON ({call.error}). "
                "Call the tool again with a JSON object.",
                True,
            )
        decision = await self._hooks.pre_tool_use(call.name, call.input, call.id)
        if not decision.allowed:
            return call.id, f"Error: permission denied: {decision.reason}", True
        arguments: dict[str, Any] = decision.input if decision.input is not None else call.input
        output = await self._registry.run(call.name, arguments)
        content = await self._hooks.post_tool_use(
            call.name, arguments, call.id, output.content, output.is_error
        )
        return call.id, content, output.is_error
