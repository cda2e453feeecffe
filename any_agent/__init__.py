"""any_agent: claude-agent-sdk ergonomics for local models on OpenAI-compatible servers."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .errors import (
    AnyAgentError,
    ConfigurationError,
    ConnectionFailedError,
    ContextLengthExceededError,
    FirstTokenTimeoutError,
    HTTPStatusError,
    IdleTimeoutError,
    InvalidRequestError,
    ModelNotFoundError,
    OverallTimeoutError,
    RateLimitError,
    ServerError,
    StreamError,
    StreamTruncatedError,
    TimeoutError,
    ToolDefinitionError,
    ToolResultError,
)
from .options import AgentOptions
from .types import (
    AssistantMessage,
    ContentBlock,
    Message,
    ResultMessage,
    StreamEvent,
    TextBlock,
    ThinkingBlock,
    ToolResultBlock,
    ToolUseBlock,
    ToolUseError,
    Usage,
    UserMessage,
)

if TYPE_CHECKING:
    from .client import Client
    from .query import query
    from .tools import tool

__version__ = "0.1.0"

__all__ = [
    "AgentOptions",
    "AnyAgentError",
    "AssistantMessage",
    "Client",
    "ConfigurationError",
    "ConnectionFailedError",
    "ContentBlock",
    "ContextLengthExceededError",
    "FirstTokenTimeoutError",
    "HTTPStatusError",
    "IdleTimeoutError",
    "InvalidRequestError",
    "Message",
    "ModelNotFoundError",
    "OverallTimeoutError",
    "RateLimitError",
    "ResultMessage",
    "ServerError",
    "StreamError",
    "StreamEvent",
    "StreamTruncatedError",
    "TextBlock",
    "ThinkingBlock",
    "TimeoutError",
    "ToolDefinitionError",
    "ToolResultBlock",
    "ToolResultError",
    "ToolUseBlock",
    "ToolUseError",
    "Usage",
    "UserMessage",
    "__version__",
    "query",
    "tool",
]

# openai (and its HTTP stack) take ~0.4 s to import: load them on first use, not on import.
_LAZY = {"Client": ".client", "query": ".query", "tool": ".tools"}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'any_agent' has no attribute {name!r}")
    from importlib import import_module

    value = getattr(import_module(module, __name__), name)
    globals()[name] = value
    return value
