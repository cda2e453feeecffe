"""any_agent: claude-agent-sdk ergonomics for local models on OpenAI-compatible servers."""

import typing as _typing

from .errors import (
    AnyAgentError,
    ClaudeSDKError,
    ConfigurationError,
    ConnectionFailedError,
    ContextLengthExceededError,
    FirstTokenTimeoutError,
    HTTPStatusError,
    IdleTimeoutError,
    InvalidRequestError,
    LimitExceededError,
    ModelNotFoundError,
    OverallTimeoutError,
    PromptBlockedError,
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
    ImageBlock,
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

if _typing.TYPE_CHECKING:
    from .claude import ClaudeAgentOptions, ClaudeSDKClient, HookContext, SystemMessage
    from .client import Client
    from .hooks import (
        HookMatcher,
        HookResult,
        PermissionResultAllow,
        PermissionResultDeny,
        PostToolUseInput,
        PreToolUseInput,
        StopInput,
        ToolPermissionContext,
        UserPromptSubmitInput,
    )
    from .query import query
    from .tools import Tool, ToolOutput, tool

__version__ = "0.1.0"

__all__ = [
    "AgentOptions",
    "AnyAgentError",
    "AssistantMessage",
    "ClaudeAgentOptions",
    "ClaudeSDKClient",
    "ClaudeSDKError",
    "Client",
    "ConfigurationError",
    "ConnectionFailedError",
    "ContentBlock",
    "ContextLengthExceededError",
    "FirstTokenTimeoutError",
    "HTTPStatusError",
    "HookContext",
    "HookMatcher",
    "HookResult",
    "IdleTimeoutError",
    "ImageBlock",
    "InvalidRequestError",
    "LimitExceededError",
    "Message",
    "ModelNotFoundError",
    "OverallTimeoutError",
    "PermissionResultAllow",
    "PermissionResultDeny",
    "PostToolUseInput",
    "PreToolUseInput",
    "PromptBlockedError",
    "RateLimitError",
    "ResultMessage",
    "ServerError",
    "StopInput",
    "StreamError",
    "StreamEvent",
    "StreamTruncatedError",
    "SystemMessage",
    "TextBlock",
    "ThinkingBlock",
    "TimeoutError",
    "Tool",
    "ToolDefinitionError",
    "ToolOutput",
    "ToolPermissionContext",
    "ToolResultBlock",
    "ToolResultError",
    "ToolUseBlock",
    "ToolUseError",
    "Usage",
    "UserMessage",
    "UserPromptSubmitInput",
    "__version__",
    "query",
    "tool",
]

# openai (and its HTTP stack) take ~0.4 s to import: load them on first use, not on import.
_LAZY = {
    "Client": ".client",
    "query": ".query",
    "tool": ".tools",
    "Tool": ".tools",
    "ToolOutput": ".tools",
    **dict.fromkeys(
        ("ClaudeAgentOptions", "ClaudeSDKClient", "HookContext", "SystemMessage"), ".claude"
    ),
    **dict.fromkeys(
        (
            "HookMatcher",
            "HookResult",
            "PermissionResultAllow",
            "PermissionResultDeny",
            "PostToolUseInput",
            "PreToolUseInput",
            "StopInput",
            "ToolPermissionContext",
            "UserPromptSubmitInput",
        ),
        ".hooks",
    ),
}


def __getattr__(name: str) -> _typing.Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'any_agent' has no attribute {name!r}")
    from importlib import import_module

    value = getattr(import_module(module, __name__), name)
    globals()[name] = value
    return value
