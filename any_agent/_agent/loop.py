"""The agent loop: prompt hooks, model turns, tool runs, until a stop reason; then the
ResultMessage. ``Client`` is its public face."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncGenerator, Sequence
from typing import Any

from .._wire.decoder import TurnResult
from .._wire.servers import profile_for
from ..errors import ConfigurationError
from ..options import AgentOptions
from ..types import (
    Message,
    ResultMessage,
    StopReason,
    TextBlock,
    ToolResultBlock,
    ToolUseBlock,
    ToolUseError,
    UserMessage,
)
from .aio import pending_cancellations
from .calls import CallLedger, ToolOutcome
from .run_tools import ToolRunner
from .structured import Verdict
from .turn import Deltas, RunStats, Turns, stop_reason

__all__ = ["AgentLoop"]


class AgentLoop:
    """The state of one conversation between queries, and the loop that runs a query.

    ``history`` is the conversation in OpenAI message format; ``ledger`` its tool calls;
    ``turns`` its model requests. One query runs at a time (``running``); ``run_done`` is
    set when it ends.
    """

    def __init__(self, options: AgentOptions, history: list[dict[str, Any]]) -> None:
        self.options = options
        self.history = history
        self.ledger = CallLedger(options.max_tool_calls)
        self.turns = Turns(options, profile_for(options.provider))
        self._tools = ToolRunner(options)
        self._pending_prompt: str | None = None
        self._has_pending = False
        self._interrupted = False
        self.running = False
        self.run_done: asyncio.Event | None = None  # set when the current receive_* ends
        self._tools_task: asyncio.Future[list[ToolOutcome]] | None = None

    def queue(self, prompt: str | None) -> None:
        """The prompt of the next run (None: continue without a new user message)."""
        self._pending_prompt = prompt
        self._has_pending = True

    def interrupt(self) -> None:
        """Stop the current turn and any running tools."""
        self._interrupted = True
        self.turns.interrupt()
        if self._tools_task is not None:
            self._tools_task.cancel()

    def _is_interrupted(self) -> bool:
        return self._interrupted

    async def run(self, wanted: Deltas) -> AsyncGenerator[Message, None]:
        """The agent loop; ``wanted`` says which StreamEvents the caller reads (none are
        built for a caller who reads only whole messages)."""
        if self.running:
            raise ConfigurationError("receive_* is already running for this client")
        if not self._has_pending:
            raise ConfigurationError("call `await client.query(prompt)` before receiving")
        self.running = True
        self.run_done = asyncio.Event()
        self._interrupted = False
        stats = RunStats()
        prompt, self._pending_prompt, self._has_pending = self._pending_prompt, None, False
        ledger = self.ledger
        try:
            ledger.close(self.history)
            if prompt is not None:
                prompt = await self._tools.user_prompt(prompt)
                self.history.append({"role": "user", "content": prompt})
            stop: StopReason = "stop"
            last_text = ""
            output = self.turns.output
            asked_again = 0
            structured: Verdict | None = None
            self.turns.structured_turn = False
            while True:
                if self._interrupted:
                    stop = "interrupted"
                    break
                turn: TurnResult | None = None
                items = self.turns.run(self.history, ledger, stats, wanted, self._is_interrupted)
                async with contextlib.aclosing(items) as turn_items:
                    async for item in turn_items:
                        if isinstance(item, TurnResult):
                            turn = item
                        else:
                            yield item
                assert turn is not None
                stats.turns += 1
                calls = [b for b in turn.blocks if isinstance(b, (ToolUseBlock, ToolUseError))]
                last_text = "".join(b.text for b in turn.blocks if isinstance(b, TextBlock))
                stats.tool_calls += len(calls)
                if self._interrupted:
                    stop = "interrupted"
                    break
                if not calls:
                    stop = stop_reason(turn.finish_reason)
                    if output is None or stop not in ("stop", "length"):
                        break
                    structured = output.check(last_text)
                    if structured.ok or asked_again >= self.options.max_structured_output_retries:
                        break
                    if stats.turns >= self.options.max_turns:
                        stop = "max_turns"
                        break
                    # asked again in the conversation, as it happened; now with the schema
                    # enforced where the server can (tools or not)
                    asked_again += 1
                    self.history.append({"role": "user", "content": output.reask(structured.error)})
                    self.turns.structured_turn = True
                    continue
                results = await self._run_tools(calls)
                if results is None:  # interrupt() stopped the tools
                    ledger.close(self.history)
                    stop = "interrupted"
                    break
                ledger.record(results)
                if results:
                    yield UserMessage(
                        [ToolResultBlock(cid, text, err) for cid, text, err in results]
                    )
                if self._tools.interrupt_requested:
                    self._tools.interrupt_requested = False
                    ledger.close(self.history)
                    stop = "interrupted"
                    break
                if not ledger.answered(calls):
                    stop = "tool_calls"  # manual mode: the caller answers, then query(None)
                    break
                if stats.turns >= self.options.max_turns:
                    stop = "max_turns"
                    break
                ledger.close(self.history)
            await self._tools.stop(stop)
            yield _result(stats, stop, last_text, structured)
        finally:
            # on an error, history keeps the prompt and every completed turn; the failed
            # turn's partial output is dropped (an interrupt keeps its partial text)
            self.running = False
            self.run_done.set()
            self.turns.watchdog = None
            self.turns.structured_turn = False

    async def _run_tools(
        self, calls: Sequence[ToolUseBlock | ToolUseError]
    ) -> list[ToolOutcome] | None:
        """Run the called tools; None when :meth:`interrupt` stopped them (a tool may hang:
        nothing else bounds it)."""
        task = asyncio.ensure_future(self._tools.execute(calls, self.ledger))
        self._tools_task = task
        try:
            return await task
        except asyncio.CancelledError:
            if self._interrupted and task.cancelled() and not pending_cancellations():
                return None
            raise
        finally:
            self._tools_task = None


def _result(
    stats: RunStats, stop: StopReason, text: str, structured: Verdict | None
) -> ResultMessage:
    duration = time.monotonic() - stats.started
    tps = (
        round(stats.generated / stats.generating_seconds, 2)
        if stats.generating_seconds > 0
        else None
    )
    subtype = {"max_turns": "error_max_turns", "interrupted": "interrupted"}.get(stop, "success")
    failed = structured is not None and not structured.ok and stop in ("stop", "length")
    error = None
    if failed:
        assert structured is not None
        subtype = "error_max_structured_output_retries"
        error = f"the answer does not match output_format: {structured.error}"
    return ResultMessage(
        num_turns=stats.turns,
        duration_ms=int(duration * 1000),
        duration_api_ms=int(stats.api_seconds * 1000),
        is_error=stop in ("error", "max_turns") or failed,
        stop_reason=stop,
        result=text,
        usage=stats.usage,
        time_to_first_token_ms=stats.first_token_ms,
        tokens_per_second=tps,
        num_tool_calls=stats.tool_calls,
        error=error,
        subtype=subtype,  # type: ignore[arg-type]
        structured_output=structured.value if structured is not None and structured.ok else None,
    )
