"""query(): one prompt, one conversation, streamed as messages."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence

from .client import Client
from .errors import ConfigurationError
from .options import AgentOptions
from .types import ImageBlock, Message, TextBlock

__all__ = ["query"]


async def query(
    prompt: str | Sequence[TextBlock | ImageBlock], options: AgentOptions
) -> AsyncIterator[Message]:
    """Send ``prompt`` (a string, or a list of TextBlock and ImageBlock) and yield
    messages: an ``AssistantMessage`` per model turn (tool results as ``UserMessage`` when
    ``@tool`` functions run), then one ``ResultMessage``.

    With ``options.include_partial_messages`` token-level ``StreamEvent``s come first.
    """
    if not isinstance(prompt, (str, list, tuple)):
        raise ConfigurationError(
            "prompt must be a string or a list of TextBlock and ImageBlock, "
            f"got {type(prompt).__name__}"
        )
    async with Client(options) as client:
        await client.query(prompt)
        async for message in client.receive_response():
            yield message
