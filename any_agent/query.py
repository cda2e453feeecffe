"""query(): one prompt, one conversation, streamed as messages."""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator, Mapping, Sequence
from typing import Any

from .client import Client
from .errors import ConfigurationError
from .options import AgentOptions
from .types import ImageBlock, Message, TextBlock

__all__ = ["query"]


async def query(
    prompt: str | Sequence[TextBlock | ImageBlock] | AsyncIterable[Mapping[str, Any]],
    options: AgentOptions | None = None,
) -> AsyncIterator[Message]:
    """Send ``prompt`` (a string, or a list of TextBlock and ImageBlock) and yield
    messages: an ``AssistantMessage`` per model turn (tool results as ``UserMessage`` when
    ``@tool`` functions run), then one ``ResultMessage``.

    With ``options.include_partial_messages`` token-level ``StreamEvent``s come first.
    claude-agent-sdk's form works too: ``query(prompt=..., options=...)`` with ``options``
    left out (then ``ClaudeAgentOptions()``: server and model from the environment), and an
    async iterable of user-message dicts as the prompt (each answered in turn).
    """
    if isinstance(prompt, AsyncIterable):
        from .claude import run_query

        async for message in run_query(prompt, options):
            yield message
        return
    if not isinstance(prompt, (str, list, tuple)):
        raise ConfigurationError(
            "prompt must be a string, a list of TextBlock and ImageBlock, or an async "
            f"iterable of user-message dicts, got {type(prompt).__name__}"
        )
    if options is None:
        from .claude import ClaudeAgentOptions

        options = ClaudeAgentOptions()
    async with Client(options) as client:
        await client.query(prompt)
        async for message in client.receive_response():
            yield message
