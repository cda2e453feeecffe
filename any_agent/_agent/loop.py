"""The agent loop: prompt hooks, model turns, tool runs, until a stop reason; then the
ResultMessage. ``Client`` is its public face."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncGenerator, Sequence
from typing import Any

from .._mcp.session import McpHub
from .._wire.decoder import TurnResult
from .._wire.images import image_part, prompt_text
from .._wire.servers import profile_for
from ..errors import (
    AnyAgentError,
    ConfigurationError,
    ConnectionFailedError,
    ContextLengthExceededError,
    HTTPStatusError,
    LimitExceededError,
    PromptBlockedError,
    StreamError,
    TimeoutError,
)
from ..options import AgentOptions
from ..types import (
    ImageBlock,
    Message,
    ModelUsage,
    ResultMessage,
    StopReason,
    TerminalReason,
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
        self.ledger = CallLedger(options.max_tool_calls, options.disallowed_tools)
        self.turns = Turns(options, profile_for(options.provider))
        self._tools = ToolRunner(options)
        self.mcp = McpHub(options)
        self._tools.add_tools(self.mcp.local_tools)
        self._local_mcp = [t.definition for t in self.mcp.local_tools]
        self.turns.mcp_tools = list(self._local_mcp)
        self._pending_prompt: str | list[dict[str, Any]] | None = None
        self._has_pending = False
        self._interrupted = False
        self.running = False
        self.run_done: asyncio.Event | None = None  # set when the current receive_* ends
        self._tools_task: asyncio.Future[list[ToolOutcome]] | None = None

    async def start_mcp(self) -> None:
        """Start the MCP servers (once per event loop); a failure is MCPServerError and
        leaves nothing running."""
        if not self.mcp.needs_start:
            return
        tools = await self.mcp.start()
        try:
            self._tools.add_tools(tools)
        except BaseException:
            await self.mcp.close()
            raise
        self.turns.mcp_tools = self._local_mcp + [t.definition for t in tools]

    async def aclose(self) -> None:
        """Stop the MCP servers and close the HTTP connections."""
        try:
            await self.mcp.close()
        finally:
            await self.turns.aclose()

    def queue(self, prompt: str | list[dict[str, Any]] | None) -> None:
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
        last_text = ""
        try:
            await self.start_mcp()
            ledger.close(self.history)
            if prompt is not None:
                prompt = await self._prompt_hooks(prompt)
                self.history.append({"role": "user", "content": prompt})
            stop: StopReason = "stop"
            ended: TerminalReason = "completed"
            output = self.turns.output
            asked_again = 0
            structured: Verdict | None = None
            self.turns.structured_turn = False
            while True:
                if self._interrupted:
                    stop, ended = "interrupted", "aborted_streaming"
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
                    stop, ended = "interrupted", "aborted_streaming"
                    break
                if not calls:
                    stop = stop_reason(turn.finish_reason)
                    if output is None or stop not in ("stop", "length"):
                        break
                    structured = output.check(last_text)
                    if structured.ok or asked_again >= self.options.max_structured_output_retries:
                        break
                    if stats.turns >= self.options.max_turns:
                        stop, ended = "max_turns", "max_turns"
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
                    stop, ended = "interrupted", "aborted_tools"
                    break
                ledger.record(results)
                if results:
                    blocks = [ToolResultBlock(cid, text, err) for cid, text, err, _ in results]
                    await self._tool_images(blocks)
                    yield UserMessage(list(blocks))
                failure = self._tools.take_failure()
                if failure is not None:
                    ledger.close(self.history)  # the failed call's error result is kept
                    raise failure
                if self._tools.interrupt_requested:
                    self._tools.interrupt_requested = False
                    ledger.close(self.history)
                    stop, ended = "interrupted", "aborted_tools"
                    break
                if not ledger.answered(calls):
                    # manual mode: the caller answers, then query(None)
                    stop, ended = "tool_calls", "tool_deferred"
                    break
                if stats.turns >= self.options.max_turns:
                    stop, ended = "max_turns", "max_turns"
                    break
                ledger.close(self.history)
            await self._tools.stop(stop)
            yield _result(
                stats,
                stop,
                last_text,
                ended,
                self.options,
                structured=structured,
                window=self.turns.guard.known_window(),
            )
        except AnyAgentError as exc:
            # errors stay exceptions (a caller who stops at the ResultMessage would never see
            # one yielded before it); the run's figures travel on the exception
            if exc.result is None:
                exc.result = _result(
                    stats,
                    "error",
                    last_text,
                    _terminal_reason(exc),
                    self.options,
                    # status 0: the SDK's own measure (the context guard), no API error
                    status=exc.status if isinstance(exc, HTTPStatusError) and exc.status else None,
                    error=str(exc),
                    window=self.turns.guard.known_window(),
                )
            raise
        finally:
            # on an error, history keeps the prompt and every completed turn; the failed
            # turn's partial output is dropped (an interrupt keeps its partial text)
            self.running = False
            self.run_done.set()
            self.turns.watchdog = None
            self.turns.structured_turn = False

    async def _prompt_hooks(self, prompt: str | list[dict[str, Any]]) -> Any:
        """UserPromptSubmit hooks see the prompt's text; images are checked against the
        server before anything reaches history."""
        if isinstance(prompt, str):
            return await self._tools.user_prompt(prompt)
        if any(p.get("type") == "image_url" for p in prompt):
            accepted, why = await self.turns.vision()
            if not accepted:
                raise ConfigurationError(
                    f"the prompt has images and {why}; set AgentOptions(vision=True) if the "
                    "model does take images"
                )
        text = prompt_text(prompt)
        new = await self._tools.user_prompt(text)
        if new == text:
            return prompt
        images = [p for p in prompt if p.get("type") != "text"]
        return [{"type": "text", "text": new}, *images]

    async def _tool_images(self, blocks: list[ToolResultBlock]) -> None:
        """Images the tools returned: content parts beside their tool messages, or a note
        in the result when the server takes no images or an image is unusable."""
        found = self._tools.images
        if not found:
            return
        self._tools.images = {}
        accepted: bool | None = None
        why = ""
        for block in blocks:
            images = found.get(block.tool_use_id)
            if not images:
                continue
            if accepted is None:
                accepted, why = await self.turns.vision()
            notes: list[str] = []
            parts: list[dict[str, Any]] = []
            if not accepted:
                notes.append(f"[{len(images)} image(s) not sent: {why}]")
            else:
                for image in images:
                    if isinstance(image, ImageBlock) and image.path is not None:
                        # a tool's output is untrusted: it never makes the SDK read a file
                        notes.append("[an image not sent: a tool's image may not be a path]")
                        continue
                    try:
                        parts.append(image_part(image, self.options.max_image_bytes))
                    except ConfigurationError as exc:
                        notes.append(f"[an image not sent: {exc}]")
            block.images = list(images)
            if parts:
                self.ledger.images[block.tool_use_id] = parts
            if notes:
                text, err = self.ledger.results.get(block.tool_use_id, (block.content, False))
                text = f"{text}\n{' '.join(notes)}"
                self.ledger.results[block.tool_use_id] = (text, err)
                block.content = text

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


def _terminal_reason(exc: AnyAgentError) -> TerminalReason:
    """Which failure ended a run, by the error's class (most specific first)."""
    for cls, reason in _ERROR_REASONS:
        if isinstance(exc, cls):
            return reason
    return "error"


_ERROR_REASONS: tuple[tuple[type[AnyAgentError], TerminalReason], ...] = (
    (ContextLengthExceededError, "prompt_too_long"),
    (HTTPStatusError, "api_error"),
    (ConnectionFailedError, "connection_error"),
    (TimeoutError, "timeout"),
    (LimitExceededError, "limit_exceeded"),
    (StreamError, "stream_error"),
    (PromptBlockedError, "prompt_blocked"),
)


def _result(
    stats: RunStats,
    stop: StopReason,
    text: str,
    ended: TerminalReason,
    options: AgentOptions,
    *,
    status: int | None = None,
    error: str | None = None,
    structured: Verdict | None = None,
    window: int | None = None,
) -> ResultMessage:
    duration = time.monotonic() - stats.started
    tps = (
        round(stats.generated / stats.generating_seconds, 2)
        if stats.generating_seconds > 0
        else None
    )
    subtype = {
        "max_turns": "error_max_turns",
        "interrupted": "interrupted",
        "error": "error_during_execution",
    }.get(stop, "success")
    per_model = {
        model: ModelUsage(
            input_tokens=usage.prompt_tokens,
            output_tokens=usage.completion_tokens,
            cache_read_input_tokens=usage.cached_tokens,
            reasoning_tokens=usage.reasoning_tokens,
            context_window=window,
            max_output_tokens=options.max_tokens,
            requests=requests,
        )
        for model, (usage, requests) in stats.model_usage.items()
    }
    failed = structured is not None and not structured.ok and stop in ("stop", "length")
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
        terminal_reason=ended,
        api_error_status=status,
        model_usage=per_model,
        structured_output=structured.value if structured is not None and structured.ok else None,
    )
