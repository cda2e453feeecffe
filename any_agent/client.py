"""Client: one conversation with one server — streaming, history, tools, interrupts.

The public face of :class:`any_agent._agent.loop.AgentLoop`, which runs the agent loop;
one model request is :mod:`any_agent._agent.turn`.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
from collections.abc import AsyncIterator, Sequence
from typing import Any

from ._agent.loop import AgentLoop
from ._agent.turn import ALL_DELTAS, NO_DELTAS, TEXT_DELTAS
from ._wire.history import checked_history
from ._wire.images import prompt_content
from .errors import ConfigurationError
from .options import AgentOptions, check_unicode
from .types import (
    AssistantMessage,
    ContentBlock,
    ContextUsage,
    ImageBlock,
    Message,
    ResultMessage,
    ServerInfo,
    StreamEvent,
    TextBlock,
    ThinkingBlock,
    ToolUseBlock,
    ToolUseError,
    UserMessage,
)

__all__ = ["Client"]

# how long query() waits for a receive_* loop the caller left with `break` to be closed
_SETTLE_SECONDS = 1.0


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
        self._agent = AgentLoop(options, checked_history(history))

    # -- context manager --------------------------------------------------------------------
    async def __aenter__(self) -> Client:
        """Start the MCP servers of ``options.mcp_servers`` (MCPServerError if one fails)."""
        await self._agent.start_mcp()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        """Stop the MCP servers and close the HTTP connections. The history stays readable."""
        await self._agent.aclose()

    # -- conversation -----------------------------------------------------------------------
    @property
    def history(self) -> list[dict[str, Any]]:
        """A copy of the conversation in OpenAI message format (JSON-serialisable)."""
        return copy.deepcopy(self._agent.history)

    async def query(self, prompt: str | Sequence[TextBlock | ImageBlock] | None = None) -> None:
        """Queue ``prompt`` for the next ``receive_*`` call: a string, or a list of
        :class:`TextBlock` and :class:`ImageBlock` (an image's ``path`` is read now).

        ``None`` continues the conversation without a new user message (after manual
        tool results were added with :meth:`add_tool_result`).
        """
        content: str | list[dict[str, Any]] | None = None
        if prompt is not None:
            if isinstance(prompt, str):
                check_unicode("prompt", prompt)
                content = prompt
            elif isinstance(prompt, (list, tuple)):
                for i, block in enumerate(prompt):
                    if isinstance(block, TextBlock) and isinstance(block.text, str):
                        check_unicode(f"prompt[{i}].text", block.text)
                content = prompt_content(prompt, self.options.max_image_bytes)
            else:
                raise ConfigurationError(
                    "prompt must be a string or a list of TextBlock and ImageBlock, "
                    f"got {type(prompt).__name__}"
                )
        if self._agent.running:
            await self._settle()
        self._agent.queue(content)

    async def get_server_info(self, *, refresh: bool = False) -> ServerInfo:
        """What the server says about itself: context window, slots, vision, tools
        (asked once per client, from the endpoints the provider's profile lists; each
        bounded by ``server_info_timeout``). What it does not say is ``None``."""
        turns = self._agent.turns
        return await turns.server_info.get(turns.transport(), refresh=refresh)

    async def get_context_usage(self) -> ContextUsage:
        """Tokens the conversation uses against the context window: the server's counts of
        the last turn when it sent them, else the SDK's estimate of the history."""
        turns = self._agent.turns
        window, _ = await turns.guard.window(turns.transport())
        if window is None and self.options.on_context_overflow != "off":
            window = (await self.get_server_info()).context_window
        return turns.guard.usage(self._agent.history, window)

    async def _settle(self) -> None:
        """A ``receive_*`` loop left with ``break`` is closed by asyncio a moment later (its
        finaliser runs on the loop); wait for that, briefly, before calling it misuse."""
        done = self._agent.run_done
        if done is not None:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(done.wait(), _SETTLE_SECONDS)
        if self._agent.running:
            raise ConfigurationError(
                "a response is still being received; finish, break out of, or interrupt it"
            )

    def add_tool_result(self, tool_use_id: str, result: Any, *, is_error: bool = False) -> None:
        """Give the result of a tool call the model made; it is sent on the next request."""
        self._agent.ledger.answer(tool_use_id, result, is_error)

    async def interrupt(self) -> None:
        """Stop the current turn: the HTTP stream is closed, partial text is kept; tools that
        are running are cancelled (their calls get an error result on the next request)."""
        self._agent.interrupt()

    async def receive_messages(self) -> AsyncIterator[ContentBlock | ResultMessage]:
        """Blocks as they stream: text and thinking in pieces, tool calls and results whole."""
        async with contextlib.aclosing(self._agent.run(TEXT_DELTAS)) as run:
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
        wanted = ALL_DELTAS if self.options.include_partial_messages else NO_DELTAS
        # closing this generator (break, aclose) closes the loop and its HTTP stream now
        async with contextlib.aclosing(self._agent.run(wanted)) as run:
            async for item in run:
                yield item
