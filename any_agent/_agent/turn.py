"""One model request: the body, the HTTP stream, the decoder and the deadlines, turned into
StreamEvents, one AssistantMessage and the decoder's TurnResult.

:class:`Turns` holds what outlives one request: the HTTP transport (one connection pool per
event loop), the deadlines of the request in flight (so ``Client.interrupt`` can stop it)
and the :class:`ServerFacts` learnt from the server's refusals (a request the server refused
for a field the client can drop is sent once more without it).
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import AsyncGenerator, Callable, Sequence
from contextlib import aclosing
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from .._wire.deadlines import Watchdog
from .._wire.decoder import (
    StreamDecoder,
    TextDelta,
    ThinkingDelta,
    ToolArgsDelta,
    ToolDone,
    ToolStart,
    TurnResult,
)
from .._wire.error_body import says_context_exceeded
from .._wire.history import assistant_entry, to_request_messages
from .._wire.http import Transport
from .._wire.servers import Profile, ReasoningReplay
from .._wire.thinking import merge_fields, thinking_fields
from ..errors import (
    ContextLengthExceededError,
    InvalidRequestError,
    LimitExceededError,
    ServerError,
    StreamError,
    StreamTruncatedError,
)
from ..options import AgentOptions
from ..types import (
    AssistantMessage,
    ContentBlock,
    StopReason,
    StreamEvent,
    TextBlock,
    ThinkingBlock,
    ToolUseBlock,
    ToolUseError,
    Usage,
)
from .aio import uncancel
from .calls import CallLedger
from .context import ContextGuard, ServerInfoCache
from .slots import ServerSlots, slots_for
from .structured import output_spec

__all__ = [
    "ALL_DELTAS",
    "NO_DELTAS",
    "TEXT_DELTAS",
    "Deltas",
    "RunStats",
    "ServerFacts",
    "Turns",
    "rejects_stream_options",
    "stop_reason",
]

# the events that mean the model has started answering (time to first token)
_FIRST_OUTPUT = (TextDelta, ThinkingDelta, ToolStart)

logger = logging.getLogger("any_agent.context")

# silence after the finish_reason that ends a stream whose server never sends [DONE]
_AFTER_FINISH_SECONDS = 2.0


class Deltas(NamedTuple):
    """Which StreamEvents a receive_* method reads; the others are never built."""

    text: bool
    thinking: bool
    tools: bool


ALL_DELTAS = Deltas(text=True, thinking=True, tools=True)
TEXT_DELTAS = Deltas(text=True, thinking=True, tools=False)
NO_DELTAS = Deltas(text=False, thinking=False, tools=False)


@dataclass
class RunStats:
    """What one query measured over its turns: the figures of its ResultMessage."""

    started: float = field(default_factory=time.monotonic)
    api_seconds: float = 0.0
    turns: int = 0
    tool_calls: int = 0
    usage: Usage = field(default_factory=Usage)
    #: per model, as the server named it: (usage summed, requests answered)
    model_usage: dict[str, tuple[Usage, int]] = field(default_factory=dict)
    first_token_ms: int | None = None
    generated: int = 0
    generating_seconds: float = 0.0


def rejects_stream_options(exc: InvalidRequestError) -> bool:
    """Whether a refused request was refused for its ``stream_options`` field.

    The servers that refuse it validate the body strictly and predate the field: OpenAI-style
    validators answer 400 "Unrecognized request argument supplied: stream_options", and
    pydantic/FastAPI servers that forbid extra fields answer 422 with a ``detail`` whose
    location names it (``body.stream_options: Extra inputs are not permitted``, as
    ``_wire/error_body.py`` renders it). No status, type or code says which field was
    refused, so the message naming the field is the only signal there is. (llama-cpp-python,
    which has no such field, accepts it and sends no usage: see cassettes/llamacpp-python/.)
    """
    return "stream_options" in exc.message


def _names_field(message: str, name: str) -> bool:
    """Whether ``message`` names the field ``name`` as a whole word (``reasoning`` is not
    named by ``reasoning_effort`` nor by ``reasoning_content``)."""
    return re.search(rf"(?<![A-Za-z0-9_]){re.escape(name)}(?![A-Za-z0-9_])", message) is not None


@dataclass(slots=True)
class ServerFacts:
    """What one client has learnt its server refuses, from the server's own answers. It starts
    from the server's :class:`Profile` and lasts the client's lifetime; a fact only ever turns
    a request field off, and stands only once the request sent without the field is answered
    (each costs one refused request, once)."""

    #: send ``stream_options: {"include_usage": true}`` (a usage chunk at the end)
    stream_usage: bool
    #: how assistant reasoning is sent back (``"off"`` once a refusal named its field)
    replay: ReasoningReplay = "off"
    #: the last request carried the replay field (only then can a refusal be about it)
    replay_sent: bool = False

    def learn(self, exc: InvalidRequestError) -> str | None:
        """Record what ``exc`` says the server refuses; the fact learnt (then the request,
        sent again, is shaped differently), or None when there is nothing new."""
        if isinstance(exc, ContextLengthExceededError):
            return None  # about the prompt's length, whatever request text it quotes
        if self.stream_usage and rejects_stream_options(exc):
            self.stream_usage = False
            return "stream_options"
        replay = self.replay
        if (
            self.replay_sent
            and replay in ("reasoning_content", "reasoning")
            and _names_field(exc.message, replay)
        ):
            # the field name alone: servers say "reasoning_content was unexpected" or
            # "body.messages.1.assistant.reasoning_content: Extra inputs are not permitted"
            self.replay = "off"
            return replay
        return None

    def names_any(self, exc: InvalidRequestError, learnt: Sequence[str]) -> bool:
        """Whether the refusal of a request sent without the fields ``learnt`` still names
        one of them: then the name was never the field (a prompt echoed in the message, a
        user's own ``extra_body``)."""
        for fact in learnt:
            if fact == "stream_options" and rejects_stream_options(exc):
                return True
            if fact in ("reasoning_content", "reasoning") and _names_field(exc.message, fact):
                return True
        return False

    def forget(self, learnt: Sequence[str]) -> None:
        """Undo the facts ``learnt`` in one request: the request sent without their fields
        was refused as well, so no answer proved them (a message that echoed the request
        named the field, and stops naming it once the field is gone)."""
        for fact in learnt:
            if fact == "stream_options":
                self.stream_usage = True
            elif fact in ("reasoning_content", "reasoning"):
                self.replay = fact  # type: ignore[assignment]


def stop_reason(finish: str | None) -> StopReason:
    """The StopReason a server's finish_reason means (anything unknown is a plain stop)."""
    if finish in ("stop", "length", "tool_calls", "content_filter", "error"):
        return finish  # type: ignore[return-value]
    return "stop"


class Turns:
    """Model requests for one conversation, one at a time."""

    def __init__(self, options: AgentOptions, profile: Profile) -> None:
        self.options = options
        self._profile = profile
        self._transport: Transport | None = None
        self._transport_loop: asyncio.AbstractEventLoop | None = None
        replay = options.reasoning_replay
        self.facts = ServerFacts(
            stream_usage=profile.stream_usage,
            replay=profile.reasoning_replay if replay == "auto" else replay,
        )
        # checked when the options were built: a bad thinking option never gets here
        self._thinking = thinking_fields(options.thinking, options.effort, profile)
        self.watchdog: Watchdog | None = None  # the deadlines of the request in flight
        #: the task sizing a request or queued for a server slot (nothing sent yet): an
        #: interrupt cancels it there, where no watchdog is reading
        self._before_send: asyncio.Task[Any] | None = None
        self.server_info = ServerInfoCache(options, profile)
        self.guard = ContextGuard(options, profile, self.server_info)
        self.mcp_tools: list[dict[str, Any]] = []  # MCP tools offered besides options.tools

        self.output = output_spec(options.output_format)
        #: the agent loop asked again for the structured answer: enforce the schema even
        #: where that makes tool calls impossible
        self.structured_turn = False

    def transport(self) -> Transport:
        """The HTTP transport of the running event loop."""
        loop = asyncio.get_running_loop()
        if self._transport is None or self._transport_loop is not loop:
            # pooled connections belong to the event loop that opened them: a client used
            # again under a new loop (a second asyncio.run) starts a new pool
            self._transport = Transport(self.options)
            self._transport_loop = loop
        return self._transport

    async def vision(self) -> tuple[bool, str]:
        """Whether the server takes image parts, and the words that say who said so."""
        if self.options.vision is not None:
            said = "accepts" if self.options.vision else "refuses"
            return self.options.vision, f"AgentOptions.vision {said} images"
        profile = self._profile
        if profile.vision is not None:
            said = "accepts" if profile.vision else "does not accept"
            return profile.vision, f"the {profile.name!r} profile {said} images"
        info = await self.server_info.get(self.transport())
        if info.vision is not None:
            said = "accepts" if info.vision else "does not accept"
            return info.vision, f"the server's {', '.join(info.sources)} says it {said} images"
        return False, (
            f"the server does not say it accepts images (provider {profile.name!r}; asked "
            f"{', '.join(profile.info_endpoints)})"
        )

    def _slots(self) -> ServerSlots | None:
        """The server's process-wide slots, when a limit is known."""
        limit = self.options.max_concurrent_requests
        if limit is None and self.server_info.info is not None:
            limit = self.server_info.info.total_slots
        return None if limit is None else slots_for(self.options.base_url, limit)

    def _transient(self, exc: ServerError | StreamError) -> bool:
        """Whether ``exc`` is one of the profile's known transient parser failures."""
        text = str(exc).lower()
        return any(p.lower() in text for p in self._profile.transient_errors)

    async def aclose(self) -> None:
        """Close the HTTP connections (only from the event loop that opened them)."""
        if self._transport is not None:
            if self._transport_loop is asyncio.get_running_loop():
                await self._transport.aclose()
            self._transport = None

    def tool_names(self) -> frozenset[str]:
        """The names of every tool offered: ``AgentOptions.tools`` and MCP tools."""
        return self.options.tool_names() | {d["function"]["name"] for d in self.mcp_tools}

    def interrupt(self) -> None:
        """Stop the request in flight now (its stream is closed, its partial text kept)."""
        if self.watchdog is not None:
            self.watchdog.interrupt()
        if self._before_send is not None:
            self._before_send.cancel()

    async def run(
        self,
        history: list[dict[str, Any]],
        ledger: CallLedger,
        stats: RunStats,
        wanted: Deltas,
        interrupted: Callable[[], bool],
    ) -> AsyncGenerator[Any, None]:
        """One model turn: :meth:`_turn`, sent again (at most the profile's
        ``transient_retries`` times, unchanged) after one of the server's known transient
        tool-parser failures. Nothing of the failed attempt reaches history; StreamEvents it
        already yielded stay yielded."""
        retries = self.options.transient_retries
        if retries is None:
            retries = self._profile.transient_retries
        attempt = 0
        while True:
            try:
                async with aclosing(
                    self._turn(history, ledger, stats, wanted, interrupted)
                ) as items:
                    async for item in items:
                        yield item
                return
            except (ServerError, StreamError) as exc:
                if attempt >= retries or interrupted() or not self._transient(exc):
                    raise
                attempt += 1
                logger.info(
                    "transient server failure, sent again (%d/%d): %s",
                    attempt,
                    retries,
                    exc,
                )

    async def _turn(
        self,
        history: list[dict[str, Any]],
        ledger: CallLedger,
        stats: RunStats,
        wanted: Deltas,
        interrupted: Callable[[], bool],
    ) -> AsyncGenerator[Any, None]:
        """One model request: yields StreamEvents, then AssistantMessage, then TurnResult.

        The turn's assistant entry is appended to ``history`` and its calls opened in
        ``ledger`` before the AssistantMessage is yielded (answerable once seen). A request
        the server refuses teaching a :class:`ServerFacts` fact is sent once more, shaped by
        it (the refusal is an HTTP status: nothing was yielded yet); each fact is learnt at
        most once, so there are at most as many retries as facts."""
        learnt: list[str] = []
        while True:
            try:
                async with aclosing(
                    self._request(history, ledger, stats, wanted, interrupted)
                ) as items:
                    async for item in items:
                        yield item
                return
            except InvalidRequestError as exc:
                facts = self.facts
                fact = None if facts.names_any(exc, learnt) else facts.learn(exc)
                if fact is None:
                    # a fact stands only once a request without its field is answered
                    facts.forget(learnt)
                    raise
                learnt.append(fact)
                if interrupted():
                    # interrupted between the refusal and its retry: the retry is not sent
                    yield AssistantMessage([], self.options.model, "interrupted")
                    yield TurnResult([], "stop", Usage(), "", None, False, 0)
                    return

    async def _request(
        self,
        history: list[dict[str, Any]],
        ledger: CallLedger,
        stats: RunStats,
        wanted: Deltas,
        interrupted: Callable[[], bool],
    ) -> AsyncGenerator[Any, None]:
        """One HTTP request of :meth:`run`."""
        options = self.options
        transport = self.transport()
        body = self._request_body(history)
        recover = options.text_tool_calls == "always" or (
            options.text_tool_calls == "auto" and self._profile.text_tool_calls
        )
        slots: ServerSlots | None = None
        self._before_send = asyncio.current_task()
        try:
            # the guard may ask the server (its window, /tokenize), and a slot may be a long
            # wait: an interrupt cancels either (no watchdog is reading yet)
            sizing = await self.guard.check(body, transport)  # may lower max_tokens, or refuse
            watchdog = Watchdog(options.first_token_timeout, options.idle_timeout, options.timeout)
            self.watchdog = watchdog
            slots = self._slots()  # after the guard: it may have learnt total_slots
            if slots is not None and interrupted():
                slots = None  # not taken
            elif slots is not None:
                # the wait for a slot is bounded by the user's own deadlines
                waits = [t for t in (options.first_token_timeout, options.timeout) if t is not None]
                await slots.acquire(min(waits) if waits else None)
        except asyncio.CancelledError:
            if not interrupted():
                raise
            uncancel()
            # acquire, cancelled, gives back a slot handed to it meanwhile: none is held
            slots = None
        finally:
            self._before_send = None
        if interrupted():  # before anything was sent: nothing to keep
            if slots is not None:
                slots.release()
            if self.watchdog is not None:
                self.watchdog.cancel()
            yield AssistantMessage([], options.model, "interrupted")
            yield TurnResult([], "stop", Usage(), "", None, False, 0)
            return
        decoder = StreamDecoder(
            self.tool_names() if recover else frozenset(),
            think_open=self._profile.think_open,
            max_held_text=options.max_held_text,
            id_seed=f"{len(history)}",
            # ids must be unique across the conversation (TGI sends "0" every turn)
            reserved_ids=frozenset(
                str(c.get("id")) for m in history for c in m.get("tool_calls") or ()
            ),
            max_event_bytes=options.max_event_bytes,
            max_tool_argument_bytes=options.max_tool_argument_bytes,
            deadline_check=watchdog.check_overall,
        )
        started = time.monotonic()
        first_at: float | None = None
        partial_text: list[str] = []
        chunks = transport.stream(body, watchdog)  # an async generator: nothing runs yet
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
                        if first_at is None and type(event) in _FIRST_OUTPUT:
                            first_at = time.monotonic()
                        if type(event) is TextDelta:
                            partial_text.append(event.text)
                            if wanted.text:
                                yield StreamEvent(event.kind, event.text)
                        elif type(event) is ThinkingDelta:
                            if wanted.thinking:
                                yield StreamEvent(event.kind, event.text)
                        elif not wanted.tools:
                            pass
                        elif type(event) is ToolStart:
                            yield StreamEvent(
                                event.kind, index=event.index, id=event.id, name=event.name
                            )
                        elif type(event) is ToolArgsDelta:
                            yield StreamEvent(event.kind, event.fragment, index=event.index)
                        if interrupted():
                            raise asyncio.CancelledError
                    if decoder.done_seen or decoder.failure is not None:
                        break
                if decoder.done_seen:
                    await transport.drain(chunks, watchdog)
            except asyncio.CancelledError:
                if not interrupted():
                    raise
                uncancel()
        finally:
            watchdog.cancel()
            try:
                await chunks.aclose()
            finally:
                if slots is not None:
                    slots.release()
            stats.api_seconds += time.monotonic() - started
        if interrupted():
            text = "".join(partial_text)
            if text:
                history.append({"role": "assistant", "content": text})
            result = decoder.result()
            kept: list[ContentBlock] = [TextBlock(text)] if text else []
            yield AssistantMessage(list(kept), result.model, "interrupted")
            yield TurnResult(
                kept, "stop", result.usage, result.model, None, False, result.events_seen
            )
            return
        for event in decoder.close():
            if type(event) is TextDelta:
                if wanted.text:
                    yield StreamEvent(event.kind, event.text)
            elif type(event) is ThinkingDelta:
                if wanted.thinking:
                    yield StreamEvent(event.kind, event.text)
            elif type(event) is ToolDone and wanted.tools:
                block = event.block
                yield StreamEvent(event.kind, index=event.index, id=block.id, name=block.name)
        result = decoder.result()
        failure = result.failure
        if failure is not None and failure.kind == "limit":
            assert failure.option is not None
            assert failure.limit is not None
            raise LimitExceededError(failure.option, failure.limit, failure.subject or "")
        if failure is not None:
            cls = StreamTruncatedError if failure.kind == "truncated" else StreamError
            message = transport.redact(failure.message)
            # every field is the server's: each may echo the key (decoded from \u escapes)
            etype, code = failure.error_type, failure.code
            if failure.kind == "error_event" and says_context_exceeded(message, code):
                # text-generation-webui checks the length inside its streaming generator:
                # the refusal of a 400 body, after a 200; nothing of the turn is kept
                raise ContextLengthExceededError(
                    f"the server refused the prompt inside its HTTP 200 stream (an error "
                    f"event): {message}",
                    body=transport.redact(failure.body),
                    error_type=None if etype is None else transport.redact(etype),
                    code=None if code is None else transport.redact(str(code)),
                    context_window=self.guard.known_window(),
                )
            if transport.cut_reason:
                message = f"{message} ({transport.cut_reason})"
            raise cls(
                message,
                error_type=None if etype is None else transport.redact(etype),
                code=transport.redact(code) if isinstance(code, str) else code,
            )
        self.guard.after(result.usage, sizing)  # a prompt the server cut: warn or raise
        ended = time.monotonic()
        if stats.first_token_ms is None and first_at is not None:
            stats.first_token_ms = int((first_at - started) * 1000)
        stats.usage = stats.usage + result.usage
        model = result.model or options.model
        so_far, requests = stats.model_usage.get(model, (Usage(), 0))
        stats.model_usage[model] = (so_far + result.usage, requests + 1)
        generated = result.usage.completion_tokens or result.events_seen
        if first_at is not None and generated:
            stats.generated += generated
            stats.generating_seconds += ended - first_at
        text = "".join(b.text for b in result.blocks if isinstance(b, TextBlock))
        reasoning = "".join(b.thinking for b in result.blocks if isinstance(b, ThinkingBlock))
        calls = [b for b in result.blocks if isinstance(b, (ToolUseBlock, ToolUseError))]
        history.append(assistant_entry(text, calls, reasoning))
        ledger.opened(calls)  # before the caller sees them: answerable, or refused
        reason = stop_reason(result.finish_reason)
        yield AssistantMessage(list(result.blocks), result.model or options.model, reason)
        yield result

    def _request_body(self, history: list[dict[str, Any]]) -> dict[str, Any]:
        options = self.options
        facts = self.facts
        messages = to_request_messages(history, self._system_prompt(), self._profile, facts.replay)
        facts.replay_sent = facts.replay in ("reasoning_content", "reasoning") and any(
            facts.replay in m for m in messages
        )
        body: dict[str, Any] = {"model": options.model, "messages": messages, "stream": True}
        if self.facts.stream_usage:
            body["stream_options"] = {"include_usage": True}
        if options.temperature is not None:
            body["temperature"] = options.temperature
        if options.max_tokens is not None:
            body["max_tokens"] = options.max_tokens
        offered = [t for t in self.mcp_tools if options.offers(t["function"]["name"])]
        tools = options.tool_definitions() + offered
        schema_only = self._schema_only_turn()
        if tools and not schema_only:
            body["tools"] = tools
            if self._profile.parallel_tool_calls is not None:
                body["parallel_tool_calls"] = self._profile.parallel_tool_calls
        if self.output is not None and (schema_only or self._enforce_schema(bool(tools))):
            body["response_format"] = self.output.response_format()
        merge_fields(body, self._thinking, options.extra_body)
        return body

    def _enforce_schema(self, with_tools: bool) -> bool:
        """Whether this request carries ``response_format``: where the server enforces it,
        and never beside tools it would make impossible."""
        profile = self._profile
        if profile.json_schema != "enforced":
            return False
        return not with_tools or not profile.json_schema_excludes_tools

    def _schema_only_turn(self) -> bool:
        """The loop asks again for the structured answer on a server whose enforced schema
        rules tool calls out: that request offers no tools and enforces the schema (the tools
        came first; the two are never sent together there)."""
        profile = self._profile
        return (
            self.output is not None
            and self.structured_turn
            and profile.json_schema == "enforced"
            and profile.json_schema_excludes_tools
        )

    def _system_prompt(self) -> str | None:
        base = self.options.system_prompt
        return base if self.output is None else self.output.system_prompt(base)
