"""Client: one conversation with one server — streaming, history, tools, interrupts."""

from __future__ import annotations

import asyncio
import contextlib
import copy
import time
from collections.abc import AsyncGenerator, AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import orjson

from ._loop import ToolLoop, ToolOutcome, malformed_call_result
from ._wire.assemble import StreamDecoder, TurnResult
from ._wire.history import assistant_entry, to_request_messages
from ._wire.profiles import profile_for
from ._wire.transport import Transport, Watchdog
from .errors import (
    ConfigurationError,
    InvalidRequestError,
    LimitExceededError,
    StreamError,
    StreamTruncatedError,
    ToolResultError,
)
from .options import AgentOptions, check_unicode
from .tools import cancel_requests, result_to_text
from .types import (
    AssistantMessage,
    ContentBlock,
    Message,
    ResultMessage,
    StopReason,
    StreamEvent,
    TextBlock,
    ThinkingBlock,
    ToolResultBlock,
    ToolUseBlock,
    ToolUseError,
    Usage,
    UserMessage,
)

__all__ = ["Client"]


# silence after the finish_reason that ends a stream whose server never sends [DONE]
_AFTER_FINISH_SECONDS = 2.0

# how long query() waits for a receive_* loop the caller left with `break` to be closed
_SETTLE_SECONDS = 1.0


class _Deltas(NamedTuple):
    """Which StreamEvents a receive_* method reads; the others are never built."""

    text: bool
    thinking: bool
    tools: bool


_ALL_DELTAS = _Deltas(text=True, thinking=True, tools=True)
_TEXT_DELTAS = _Deltas(text=True, thinking=True, tools=False)
_NO_DELTAS = _Deltas(text=False, thinking=False, tools=False)


@dataclass
class _RunStats:
    started: float = field(default_factory=time.monotonic)
    api_seconds: float = 0.0
    turns: int = 0
    tool_calls: int = 0
    usage: Usage = field(default_factory=Usage)
    first_token_ms: int | None = None
    generated: int = 0
    generating_seconds: float = 0.0


class Client:
    """A multi-turn conversation, claude-agent-sdk style.

    ``await client.query(prompt)`` queues a prompt; ``receive_messages()`` streams blocks
    as they arrive (text in pieces, tool calls whole) and ends with the
    :class:`ResultMessage`; ``receive_response()`` yields whole messages instead.
    ``history`` is plain JSON-serialisable data: pass it to a new ``Client`` to continue.
    """

    def __init__(self, options: AgentOptions, *, history: Sequence[dict[str, Any]] | None = None):
        if not isinstance(options, AgentOptions):
            raise ConfigurationError(f"Client needs an AgentOptions, got {type(options).__name__}")
        self.options = options
        self._profile = profile_for(options.provider)
        self._history: list[dict[str, Any]] = _checked_history(history)
        self._transport: Transport | None = None
        self._transport_loop: asyncio.AbstractEventLoop | None = None
        self._pending_prompt: str | None = None
        self._has_pending = False
        self._results: dict[str, tuple[str, bool]] = {}
        self._executed: set[str] = set()
        self._open_calls: dict[str, ToolUseBlock | ToolUseError] = {}
        self._stream_usage = self._profile.stream_usage
        self._watchdog: Watchdog | None = None
        self._interrupted = False
        self._running = False
        self._run_done: asyncio.Event | None = None  # set when the current receive_* ends
        self._tools_task: asyncio.Future[list[ToolOutcome]] | None = None
        self._tools = ToolLoop(options)

    # -- context manager --------------------------------------------------------------------
    async def __aenter__(self) -> Client:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        """Close the HTTP connections. The history stays readable."""
        if self._transport is not None:
            if self._transport_loop is asyncio.get_running_loop():
                await self._transport.aclose()
            self._transport = None

    # -- conversation -----------------------------------------------------------------------
    @property
    def history(self) -> list[dict[str, Any]]:
        """A copy of the conversation in OpenAI message format (JSON-serialisable)."""
        return copy.deepcopy(self._history)

    async def query(self, prompt: str | None = None) -> None:
        """Queue ``prompt`` for the next ``receive_*`` call.

        ``None`` continues the conversation without a new user message (after manual
        tool results were added with :meth:`add_tool_result`).
        """
        if prompt is not None:
            if not isinstance(prompt, str):
                raise ConfigurationError(f"prompt must be a string, got {type(prompt).__name__}")
            check_unicode("prompt", prompt)
        if self._running:
            await self._settle()
        self._pending_prompt = prompt
        self._has_pending = True

    async def _settle(self) -> None:
        """A ``receive_*`` loop left with ``break`` is closed by asyncio a moment later (its
        finaliser runs on the loop); wait for that, briefly, before calling it misuse."""
        done = self._run_done
        if done is not None:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(done.wait(), _SETTLE_SECONDS)
        if self._running:
            raise ConfigurationError(
                "a response is still being received; finish, break out of, or interrupt it"
            )

    def add_tool_result(self, tool_use_id: str, result: Any, *, is_error: bool = False) -> None:
        """Give the result of a tool call the model made; it is sent on the next request."""
        if tool_use_id not in self._open_calls:
            known = ", ".join(sorted(self._open_calls)) or "none"
            raise ToolResultError(
                f"no open tool call with id {tool_use_id!r} (open calls: {known})"
            )
        if tool_use_id in self._tools.refused:
            raise ToolResultError(
                f"tool call {tool_use_id!r} was beyond max_tool_calls="
                f"{self.options.max_tool_calls} and already has an error result; it is not run"
            )
        self._results[tool_use_id] = (result_to_text(result), bool(is_error))

    async def interrupt(self) -> None:
        """Stop the current turn: the HTTP stream is closed, partial text is kept; tools that
        are running are cancelled (their calls get an error result on the next request)."""
        self._interrupted = True
        if self._watchdog is not None:
            self._watchdog.interrupt()
        if self._tools_task is not None:
            self._tools_task.cancel()

    async def receive_messages(self) -> AsyncIterator[ContentBlock | ResultMessage]:
        """Blocks as they stream: text and thinking in pieces, tool calls and results whole."""
        async with contextlib.aclosing(self._run(_TEXT_DELTAS)) as run:
            async for item in run:
                if isinstance(item, StreamEvent):
                    if item.type == "text_delta":
                        yield TextBlock(item.delta)
                    elif item.type == "thinking_delta":
                        yield ThinkingBlock(item.delta)
                elif isinstance(item, AssistantMessage):
                    for block in item.content:
                        if isinstance(block, (ToolUseBlock, ToolUseError)):
                            yield block
                elif isinstance(item, UserMessage):
                    if isinstance(item.content, list):
                        for block in item.content:
                            yield block
                elif isinstance(item, ResultMessage):
                    yield item

    async def receive_response(self) -> AsyncIterator[Message]:
        """Whole messages: an AssistantMessage per model turn, tool results, then the result."""
        wanted = _ALL_DELTAS if self.options.include_partial_messages else _NO_DELTAS
        # closing this generator (break, aclose) closes the loop and its HTTP stream now
        async with contextlib.aclosing(self._run(wanted)) as run:
            async for item in run:
                yield item

    # -- the loop ---------------------------------------------------------------------------
    async def _run(self, wanted: _Deltas) -> AsyncGenerator[Message, None]:
        """The agent loop; ``wanted`` says which StreamEvents the caller reads (none are
        built for a caller who reads only whole messages)."""
        if self._running:
            raise ConfigurationError("receive_* is already running for this client")
        if not self._has_pending:
            raise ConfigurationError("call `await client.query(prompt)` before receiving")
        self._running = True
        self._run_done = asyncio.Event()
        self._interrupted = False
        stats = _RunStats()
        prompt, self._pending_prompt, self._has_pending = self._pending_prompt, None, False
        try:
            self._close_open_calls()
            if prompt is not None:
                prompt = await self._tools.user_prompt(prompt)
                self._history.append({"role": "user", "content": prompt})
            stop: StopReason = "stop"
            last_text = ""
            while True:
                if self._interrupted:
                    stop = "interrupted"
                    break
                turn: TurnResult | None = None
                async with contextlib.aclosing(self._turn(stats, wanted)) as turn_items:
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
                    stop = _stop_reason(turn.finish_reason)
                    break
                results = await self._run_tools(calls)
                if results is None:  # interrupt() stopped the tools
                    self._close_open_calls()
                    stop = "interrupted"
                    break
                for call_id, text, is_error in results:
                    self._results.setdefault(call_id, (text, is_error))
                if results:
                    yield UserMessage(
                        [ToolResultBlock(cid, text, err) for cid, text, err in results]
                    )
                if self._tools.interrupt_requested:
                    self._tools.interrupt_requested = False
                    self._close_open_calls()
                    stop = "interrupted"
                    break
                if not all(c.id in self._results for c in calls if isinstance(c, ToolUseBlock)):
                    stop = "tool_calls"  # manual mode: the caller answers, then query(None)
                    break
                if stats.turns >= self.options.max_turns:
                    stop = "max_turns"
                    break
                self._close_open_calls()
            await self._tools.stop(stop)
            yield self._result(stats, stop, last_text)
        finally:
            # on an error, history keeps the prompt and every completed turn; the failed
            # turn's partial output is dropped (an interrupt keeps its partial text)
            self._running = False
            self._run_done.set()
            self._watchdog = None

    async def _run_tools(
        self, calls: list[ToolUseBlock | ToolUseError]
    ) -> list[ToolOutcome] | None:
        """Run the called tools; None when :meth:`interrupt` stopped them (a tool may hang:
        nothing else bounds it)."""
        task = asyncio.ensure_future(self._tools.execute(calls, self._executed))
        self._tools_task = task
        try:
            return await task
        except asyncio.CancelledError:
            if self._interrupted and task.cancelled() and not cancel_requests():
                return None
            raise
        finally:
            self._tools_task = None

    def _close_open_calls(self) -> None:
        """Append tool results for the open calls (placeholders for unanswered ones)."""
        if not self._open_calls:
            return
        for call_id, call in self._open_calls.items():
            text, is_error = self._results.pop(call_id, (None, True))
            if text is None:
                if isinstance(call, ToolUseError):
                    text = malformed_call_result(call)
                else:
                    text = "Error: no result was provided for this tool call."
            elif is_error and not text.lower().startswith("error"):
                text = f"Error: {text}"  # the wire has no is_error flag; say it in words
            self._history.append({"role": "tool", "tool_call_id": call_id, "content": text})
            self._executed.add(call_id)
        self._open_calls.clear()

    async def _turn(self, stats: _RunStats, wanted: _Deltas) -> AsyncGenerator[Any, None]:
        """One model request: yields StreamEvents, then AssistantMessage, then TurnResult."""
        options = self.options
        loop = asyncio.get_running_loop()
        if self._transport is None or self._transport_loop is not loop:
            # pooled connections belong to the event loop that opened them: a client used
            # again under a new loop (a second asyncio.run) starts a new pool
            self._transport = Transport(options)
            self._transport_loop = loop
        transport = self._transport
        body = self._request_body()
        recover = options.text_tool_calls == "always" or (
            options.text_tool_calls == "auto" and self._profile.text_tool_calls
        )
        watchdog = Watchdog(options.first_token_timeout, options.idle_timeout, options.timeout)
        self._watchdog = watchdog
        decoder = StreamDecoder(
            options.tool_names() if recover else frozenset(),
            think_open=self._profile.think_open,
            max_held_text=options.max_held_text,
            id_seed=f"{len(self._history)}",
            # ids must be unique across the conversation (TGI sends "0" every turn)
            reserved_ids=frozenset(
                str(c.get("id")) for m in self._history for c in m.get("tool_calls") or ()
            ),
            max_event_bytes=options.max_event_bytes,
            max_tool_argument_bytes=options.max_tool_argument_bytes,
            deadline_check=watchdog.check_overall,
        )
        started = time.monotonic()
        first_at: float | None = None
        partial_text: list[str] = []
        chunks = transport.stream(body, watchdog)
        try:
            try:
                async for chunk in chunks:
                    events = decoder.feed(chunk)
                    if not watchdog.got_first and decoder.events_seen:
                        watchdog.got_first = True
                    if decoder.finish_reason is not None and not watchdog.finished:
                        # only [DONE] or a usage chunk may follow: don't wait idle_timeout
                        # on a server that keeps the connection open without them
                        watchdog.finishing(_AFTER_FINISH_SECONDS)
                    for event in events:
                        kind = event[0]
                        if first_at is None and kind in ("text", "thinking", "tool_start"):
                            first_at = time.monotonic()
                        if kind == "text":
                            partial_text.append(event[1])
                            if wanted.text:
                                yield StreamEvent("text_delta", event[1])
                        elif kind == "thinking":
                            if wanted.thinking:
                                yield StreamEvent("thinking_delta", event[1])
                        elif not wanted.tools:
                            pass
                        elif kind == "tool_start":
                            yield StreamEvent(
                                "tool_use_start", index=event[1], id=event[2], name=event[3]
                            )
                        elif kind == "tool_args":
                            yield StreamEvent("tool_input_delta", event[2], index=event[1])
                        if self._interrupted:
                            raise asyncio.CancelledError
                    if decoder.done_seen or decoder.failure is not None:
                        break
                if decoder.done_seen:
                    await transport.drain(chunks, watchdog)
            except InvalidRequestError as exc:
                if self._stream_usage and "stream_options" in exc.message:
                    self._stream_usage = False  # this server rejects it; ask without
                    async for item in self._turn(stats, wanted):
                        yield item
                    return
                raise
            except asyncio.CancelledError:
                if not self._interrupted:
                    raise
                _uncancel_if_needed()
        finally:
            watchdog.cancel()
            await chunks.aclose()
            stats.api_seconds += time.monotonic() - started
        if self._interrupted:
            text = "".join(partial_text)
            if text:
                self._history.append({"role": "assistant", "content": text})
            result = decoder.result()
            kept: list[ContentBlock] = [TextBlock(text)] if text else []
            yield AssistantMessage(list(kept), result.model, "interrupted")
            yield TurnResult(
                kept, "stop", result.usage, result.model, None, False, result.events_seen
            )
            return
        for event in decoder.close():
            if event[0] == "text" and wanted.text:
                yield StreamEvent("text_delta", event[1])
            elif event[0] == "thinking" and wanted.thinking:
                yield StreamEvent("thinking_delta", event[1])
            elif event[0] == "tool_done" and wanted.tools:
                block = event[2]
                yield StreamEvent("tool_use_stop", index=event[1], id=block.id, name=block.name)
        result = decoder.result()
        failure = result.failure
        if failure is not None and failure.kind == "limit":
            assert failure.option is not None
            assert failure.limit is not None
            raise LimitExceededError(failure.option, failure.limit, failure.subject or "")
        if failure is not None:
            cls = StreamTruncatedError if failure.kind == "truncated" else StreamError
            message = transport.redact(failure.message)
            if transport.cut_reason:
                message = f"{message} ({transport.cut_reason})"
            # every field is the server's: each may echo the key (decoded from \u escapes)
            etype, code = failure.error_type, failure.code
            raise cls(
                message,
                error_type=None if etype is None else transport.redact(etype),
                code=transport.redact(code) if isinstance(code, str) else code,
            )
        ended = time.monotonic()
        if stats.first_token_ms is None and first_at is not None:
            stats.first_token_ms = int((first_at - started) * 1000)
        stats.usage = stats.usage + result.usage
        generated = result.usage.completion_tokens or result.events_seen
        if first_at is not None and generated:
            stats.generated += generated
            stats.generating_seconds += ended - first_at
        text = "".join(b.text for b in result.blocks if isinstance(b, TextBlock))
        calls = [b for b in result.blocks if isinstance(b, (ToolUseBlock, ToolUseError))]
        self._history.append(assistant_entry(text, calls))
        self._tools.mark_over_limit(calls)  # before the caller sees them: not answerable
        for call in calls:
            self._open_calls[call.id] = call  # answerable as soon as the caller sees it
        reason = _stop_reason(result.finish_reason)
        yield AssistantMessage(list(result.blocks), result.model or options.model, reason)
        yield result

    def _request_body(self) -> dict[str, Any]:
        options = self.options
        body: dict[str, Any] = {
            "model": options.model,
            "messages": to_request_messages(self._history, options.system_prompt, self._profile),
            "stream": True,
        }
        if self._stream_usage:
            body["stream_options"] = {"include_usage": True}
        if options.temperature is not None:
            body["temperature"] = options.temperature
        if options.max_tokens is not None:
            body["max_tokens"] = options.max_tokens
        tools = options.tool_definitions()
        if tools:
            body["tools"] = tools
            if self._profile.parallel_tool_calls is not None:
                body["parallel_tool_calls"] = self._profile.parallel_tool_calls
        body.update(options.extra_body)
        return body

    def _result(self, stats: _RunStats, stop: StopReason, text: str) -> ResultMessage:
        duration = time.monotonic() - stats.started
        tps = (
            round(stats.generated / stats.generating_seconds, 2)
            if stats.generating_seconds > 0
            else None
        )
        subtype = {"max_turns": "error_max_turns", "interrupted": "interrupted"}.get(
            stop, "success"
        )
        return ResultMessage(
            num_turns=stats.turns,
            duration_ms=int(duration * 1000),
            duration_api_ms=int(stats.api_seconds * 1000),
            is_error=stop in ("error", "max_turns"),
            stop_reason=stop,
            result=text,
            usage=stats.usage,
            time_to_first_token_ms=stats.first_token_ms,
            tokens_per_second=tps,
            num_tool_calls=stats.tool_calls,
            subtype=subtype,  # type: ignore[arg-type]
        )


_ROLES = ("system", "developer", "user", "assistant", "tool")


def _checked_history(history: Any) -> list[dict[str, Any]]:
    """A private copy of a saved history; a wrong shape is named here, not by the server."""
    if history is None:
        return []
    if isinstance(history, (str, bytes, Mapping)) or not isinstance(history, Sequence):
        raise ConfigurationError(
            "history must be a list of OpenAI message dicts (as client.history returns), "
            f"got {type(history).__name__}"
        )
    out: list[dict[str, Any]] = []
    for i, message in enumerate(history):
        if not isinstance(message, Mapping):
            raise ConfigurationError(
                f"history[{i}] must be a message dict, got {type(message).__name__}"
            )
        role = message.get("role")
        if role not in _ROLES:
            raise ConfigurationError(
                f"history[{i}] has role {role!r}; expected one of {', '.join(_ROLES)}"
            )
        try:
            out.append(orjson.loads(orjson.dumps(dict(message))))
        except (orjson.JSONEncodeError, TypeError) as exc:
            raise ConfigurationError(f"history[{i}] is not JSON data: {exc}") from None
    return out


def _uncancel_if_needed() -> None:
    """Python 3.11+: undo the cancellation an interrupt used, so the task lives on."""
    task = asyncio.current_task()
    uncancel = getattr(task, "uncancel", None)
    if uncancel is not None and getattr(task, "cancelling", lambda: 0)():
        uncancel()


def _stop_reason(finish: str | None) -> StopReason:
    if finish in ("stop", "length", "tool_calls", "content_filter", "error"):
        return finish  # type: ignore[return-value]
    return "stop"
