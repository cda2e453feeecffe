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
    MCPServerError,
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
    ContextUsage,
    ImageBlock,
    Message,
    ModelUsage,
    ResultMessage,
    ServerInfo,
    StreamEvent,
    TerminalReason,
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
    from .mcp import (
        McpHttpServerConfig,
        McpSdkServerConfig,
        McpServerConfig,
        McpSSEServerConfig,
        McpStdioServerConfig,
        SdkMcpTool,
        create_sdk_mcp_server,
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
    "ContextUsage",
    "FirstTokenTimeoutError",
    "HTTPStatusError",
    "HookContext",
    "HookMatcher",
    "HookResult",
    "IdleTimeoutError",
    "ImageBlock",
    "InvalidRequestError",
    "LimitExceededError",
    "MCPServerError",
    "McpHttpServerConfig",
    "McpSSEServerConfig",
    "McpSdkServerConfig",
    "McpServerConfig",
    "McpStdioServerConfig",
    "Message",
    "ModelNotFoundError",
    "ModelUsage",
    "OverallTimeoutError",
    "PermissionResultAllow",
    "PermissionResultDeny",
    "PostToolUseInput",
    "PreToolUseInput",
    "PromptBlockedError",
    "RateLimitError",
    "ResultMessage",
    "SdkMcpTool",
    "ServerError",
    "ServerInfo",
    "StopInput",
    "StreamError",
    "StreamEvent",
    "StreamTruncatedError",
    "SystemMessage",
    "TerminalReason",
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
    "create_sdk_mcp_server",
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
            "McpHttpServerConfig",
            "McpSSEServerConfig",
            "McpSdkServerConfig",
            "McpServerConfig",
            "McpStdioServerConfig",
            "SdkMcpTool",
            "create_sdk_mcp_server",
        ),
        ".mcp",
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
