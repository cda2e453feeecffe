"""query(): one prompt, one conversation, streamed as messages."""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator, Mapping
from typing import Any

from .client import Client
from .errors import ConfigurationError
from .options import AgentOptions
from .types import Message

__all__ = ["query"]


async def query(
    prompt: str | AsyncIterable[Mapping[str, Any]], options: AgentOptions | None = None
) -> AsyncIterator[Message]:
    """Send ``prompt`` and yield messages: an ``AssistantMessage`` per model turn (tool
    results as ``UserMessage`` when ``@tool`` functions run), then one ``ResultMessage``.

    With ``options.include_partial_messages`` token-level ``StreamEvent``s come first.
    claude-agent-sdk's form works too: ``query(prompt=..., options=...)`` with ``options``
    left out (then ``ClaudeAgentOptions()``: server and model from the environment), and an
    async iterable of user-message dicts as the prompt (each answered in turn).
    """
    if not isinstance(prompt, (str, AsyncIterable)):
        raise ConfigurationError(f"prompt must be a string, got {type(prompt).__name__}")
    if options is None or not isinstance(prompt, str):
        from .claude import run_query

        async for message in run_query(prompt, options):
            yield message
        return
    async with Client(options) as client:
        await client.query(prompt)
        async for message in client.receive_response():
            yield message
