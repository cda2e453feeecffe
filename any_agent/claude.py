"""claude-agent-sdk's names over any-agent: a program written for claude-agent-sdk runs after
changing only its import line (``from any_agent import ...``).

``ClaudeAgentOptions`` is :class:`AgentOptions` built from claude-agent-sdk's field names
(every one of its 50 is mapped or refused with the reason: docs/migrating-from-claude-agent-sdk.md);
``ClaudeSDKClient`` is :class:`Client` with claude-agent-sdk's methods.
"""

from __future__ import annotations

from collections import deque
from collections.abc import AsyncIterable, AsyncIterator, Mapping
from dataclasses import dataclass, field
from typing import Any, TypedDict

from ._compat.claude_options import claude_to_agent_options
from .client import Client
from .errors import ConfigurationError
from .options import AgentOptions
from .types import Message

__all__ = ["ClaudeAgentOptions", "ClaudeSDKClient", "HookContext", "SystemMessage"]


class ClaudeAgentOptions(AgentOptions):
    """:class:`AgentOptions` from claude-agent-sdk's keyword arguments.

    ``base_url`` and ``model`` default to ``$ANY_AGENT_BASE_URL`` / ``$ANY_AGENT_MODEL``;
    ``max_turns`` defaults to 32 (claude-agent-sdk's is unlimited); claude-agent-sdk-style
    hooks ``(input_data, tool_use_id, context) -> dict`` are accepted beside any-agent's.
    An option that only means something to Claude Code is a ConfigurationError naming it,
    unless given at a value that means what any-agent does anyway. Every AgentOptions
    field is accepted too.
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**claude_to_agent_options(kwargs))

    def __repr__(self) -> str:
        return "Claude" + super().__repr__()


@dataclass(slots=True)
class SystemMessage:
    """claude-agent-sdk's system message (its CLI's ``init`` frame). Never yielded here: there
    is no CLI; the type exists so that programs matching on it run unchanged."""

    subtype: str
    data: dict[str, Any] = field(default_factory=dict)


class HookContext(TypedDict):
    """The third argument of a claude-agent-sdk hook callback (``signal`` is always None)."""

    signal: Any


_Prompt = str | AsyncIterator[Mapping[str, Any]]


class ClaudeSDKClient:
    """claude-agent-sdk's client over :class:`Client` (the same loop, tools and hooks).

    ``query()`` queues prompts (several may wait); ``receive_response()`` answers the next
    one, yielding whole messages up to its ResultMessage; ``receive_messages()`` answers
    every queued prompt in turn and ends when none is left (claude-agent-sdk's waits for
    more for ever). ``connect``/``disconnect`` and ``async with`` start and stop the
    underlying Client (and what it owns, such as MCP servers).
    """

    def __init__(self, options: AgentOptions | None = None, transport: Any = None) -> None:
        if transport is not None:
            raise ConfigurationError(
                "transport is not supported: any-agent talks HTTP to an OpenAI-compatible server"
            )
        self.options = options if options is not None else ClaudeAgentOptions()
        self._client = Client(self.options)
        self._prompts: deque[_Prompt] = deque()

    @property
    def client(self) -> Client:
        """The underlying :class:`Client` (history, add_tool_result, ...)."""
        return self._client

    async def connect(self, prompt: str | AsyncIterable[Mapping[str, Any]] | None = None) -> None:
        """Start the client; ``prompt`` (if given) is queued as by :meth:`query`."""
        await self._client.__aenter__()
        if prompt is not None:
            await self.query(prompt)

    async def disconnect(self) -> None:
        """Stop the client (HTTP connections and what the Client owns)."""
        await self._client.close()

    async def __aenter__(self) -> ClaudeSDKClient:
        await self.connect()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.disconnect()

    async def query(
        self, prompt: str | AsyncIterable[Mapping[str, Any]], session_id: str = "default"
    ) -> None:
        """Queue a prompt, or an async iterable of claude-agent-sdk user-message dicts (each
        answered in turn, read as it is reached)."""
        if session_id != "default":
            raise ConfigurationError(
                f"session_id={session_id!r} is not supported: a client holds one conversation "
                "(make another ClaudeSDKClient for another)"
            )
        if isinstance(prompt, str):
            self._prompts.append(prompt)
        elif isinstance(prompt, AsyncIterable):
            self._prompts.append(aiter(prompt))
        else:
            raise ConfigurationError(
                f"prompt must be a string (or an async iterable of messages), got "
                f"{type(prompt).__name__}"
            )

    async def _next_prompt(self) -> str | None:
        while self._prompts:
            head = self._prompts[0]
            if isinstance(head, str):
                self._prompts.popleft()
                return head
            try:
                message = await anext(head)
            except StopAsyncIteration:
                self._prompts.popleft()
                continue
            return _message_text(message)
        return None

    async def receive_response(self) -> AsyncIterator[Message]:
        """The next queued prompt's messages, up to and including its ResultMessage."""
        prompt = await self._next_prompt()
        if prompt is None:
            raise ConfigurationError("call `await client.query(prompt)` before receiving")
        async for message in self._answer(prompt):
            yield message

    async def receive_messages(self) -> AsyncIterator[Message]:
        """Every queued prompt's messages, one prompt after another."""
        while (prompt := await self._next_prompt()) is not None:
            async for message in self._answer(prompt):
                yield message

    async def _answer(self, prompt: str) -> AsyncIterator[Message]:
        await self._client.query(prompt)
        async for message in self._client.receive_response():
            yield message

    async def interrupt(self) -> None:
        """Stop the current turn (see :meth:`Client.interrupt`)."""
        await self._client.interrupt()


def _message_text(message: object) -> str:
    """The text of one claude-agent-sdk streaming-input message:
    ``{"type": "user", "message": {"role": "user", "content": str | [{"type": "text", ...}]}}``."""
    inner = message.get("message") if isinstance(message, Mapping) else None
    content = inner.get("content") if isinstance(inner, Mapping) else None
    if isinstance(message, Mapping) and message.get("type", "user") != "user":
        content = None
    if isinstance(content, list) and all(
        isinstance(p, Mapping) and p.get("type") == "text" and isinstance(p.get("text"), str)
        for p in content
    ):
        content = "".join(p["text"] for p in content)
    if not isinstance(content, str):
        raise ConfigurationError(
            'a streamed prompt must be {"type": "user", "message": {"role": "user", '
            f'"content": str or text parts}}}}, got {message!r:.100}'
        )
    return content


async def run_query(
    prompt: str | AsyncIterable[Mapping[str, Any]], options: AgentOptions | None
) -> AsyncIterator[Message]:
    """``query(prompt=..., options=...)`` in claude-agent-sdk's form (``options`` optional)."""
    client = ClaudeSDKClient(options)
    async with client:
        await client.query(prompt)
        async for message in client.receive_messages():
            yield message
