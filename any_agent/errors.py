"""Every error the SDK raises derives from :class:`AnyAgentError`.

The hierarchy separates what a caller can act on: a server that is not there
(:class:`ConnectionFailedError`), a server that is too slow in one of three
distinct ways (:class:`TimeoutError` subclasses), a server that said no
(:class:`HTTPStatusError` and friends), and a stream that broke after it began
(:class:`StreamError`). Bad input from the caller is a ``ValueError``/``TypeError``
subclass as well, so ordinary ``except ValueError`` keeps working.

* AnyAgentError (also importable as ClaudeSDKError, claude-agent-sdk's name)
  + ConfigurationError (ValueError) - an option, provider name, history or prompt
    - PromptBlockedError - a UserPromptSubmit hook blocked the prompt
  + ToolDefinitionError (TypeError) - a tool cannot be described to the model
  + ToolResultError (ValueError) - a result for an unknown call, or not serialisable
  + ConnectionFailedError - the server cannot be reached
  + TimeoutError (builtins.TimeoutError)
    - FirstTokenTimeoutError
    - IdleTimeoutError
    - OverallTimeoutError
  + HTTPStatusError - the server answered with an error status
    - InvalidRequestError
      . ContextLengthExceededError
    - ModelNotFoundError
    - RateLimitError
    - ServerError
  + StreamError - the stream broke after it began
    - StreamTruncatedError
    - LimitExceededError - a response broke one of the max_* bounds
  + MCPServerError - an MCP server failed to start, died, hung or sent garbage (``.server``)
"""

from __future__ import annotations

import builtins
from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .types import ResultMessage

__all__ = [
    "AnyAgentError",
    "ClaudeSDKError",
    "ConfigurationError",
    "ConnectionFailedError",
    "ContextLengthExceededError",
    "FirstTokenTimeoutError",
    "HTTPStatusError",
    "IdleTimeoutError",
    "InvalidRequestError",
    "LimitExceededError",
    "MCPServerError",
    "ModelNotFoundError",
    "OverallTimeoutError",
    "PromptBlockedError",
    "RateLimitError",
    "ServerError",
    "StreamError",
    "StreamTruncatedError",
    "TimeoutError",
    "ToolDefinitionError",
    "ToolResultError",
]


class AnyAgentError(Exception):
    """Base class of every error raised by any_agent.

    An error that ends a query carries that query's :class:`~any_agent.ResultMessage` as
    ``result`` (``is_error``, ``terminal_reason``, ``api_error_status``, the usage so far);
    None for an error raised before any query ran (a bad option)."""

    result: ResultMessage | None = None


#: claude-agent-sdk's base error, for ``except ClaudeSDKError`` in ported programs.
ClaudeSDKError = AnyAgentError


#: the longest server-supplied text an exception message carries
MAX_MESSAGE_CHARS = 1000


def clip(text: str, limit: int = MAX_MESSAGE_CHARS) -> str:
    """``text`` cut to ``limit`` characters, saying how much was left off: a server's
    words may be megabytes long and an exception message must stay readable."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}… ({len(text) - limit} more characters)"


class ConfigurationError(AnyAgentError, ValueError):
    """An option, provider name or environment setting is invalid; the message names it."""


class PromptBlockedError(ConfigurationError):
    """A UserPromptSubmit hook blocked the prompt; the message carries its reason."""


class ToolDefinitionError(AnyAgentError, TypeError):
    """A tool cannot be described to the model (unsupported annotation, duplicate name, ...)."""


class ToolResultError(AnyAgentError, ValueError):
    """A tool result was given for an unknown call, or cannot be serialised."""


class ConnectionFailedError(AnyAgentError):
    """The server could not be reached (refused, DNS failure, reset before any response)."""

    def __init__(self, message: str, *, url: str) -> None:
        super().__init__(message)
        self.url = url


class TimeoutError(AnyAgentError, builtins.TimeoutError):
    """The server was too slow; ``limit`` is the bound in seconds that was exceeded."""

    kind = "overall"

    def __init__(self, message: str, *, limit: float) -> None:
        super().__init__(message)
        self.limit = limit


class FirstTokenTimeoutError(TimeoutError):
    """Nothing arrived (no headers, or no first event) within ``first_token_timeout``."""

    kind = "first_token"


class IdleTimeoutError(TimeoutError):
    """The stream went silent for longer than ``idle_timeout`` between events."""

    kind = "idle"


class OverallTimeoutError(TimeoutError):
    """The whole request took longer than ``timeout``."""

    kind = "overall"


class HTTPStatusError(AnyAgentError):
    """The server answered with an HTTP error status.

    ``status`` is the HTTP status, ``message`` the server's own words, extracted from
    whichever error-body shape it uses, and ``body`` the raw body text (truncated).
    """

    def __init__(
        self,
        message: str,
        *,
        status: int,
        body: str = "",
        error_type: str | None = None,
        code: str | None = None,
    ) -> None:
        message = clip(message)
        super().__init__(f"HTTP {status}: {message}")
        self.status = status
        self.message = message
        self.body = body
        self.error_type = error_type
        self.code = code


class InvalidRequestError(HTTPStatusError):
    """The server rejected the request as malformed (400/422)."""


class ModelNotFoundError(HTTPStatusError):
    """The server does not serve the requested model; ``available`` lists what it does serve."""

    def __init__(
        self,
        message: str,
        *,
        status: int,
        model: str,
        available: Sequence[str] = (),
        body: str = "",
        error_type: str | None = None,
        code: str | None = None,
    ) -> None:
        if available:
            message = f"{message} (model {model!r}; the server offers: {', '.join(available)})"
        super().__init__(message, status=status, body=body, error_type=error_type, code=code)
        self.model = model
        self.available = list(available)


class ContextLengthExceededError(InvalidRequestError):
    """The prompt does not fit the model's context window.

    Raised from the server's refusal (``status`` is its HTTP status) or by the SDK itself:
    before sending, when the context guard finds the prompt larger than the window, and after
    a response whose ``prompt_tokens`` show the server cut the prompt (``status`` 0: nothing
    was refused, the SDK measured). A refusal sent as an error event inside a 200 stream
    (text-generation-webui) has ``status`` 0 too, and ``body`` holds that event. The numbers
    compared are ``prompt_tokens`` and ``context_window`` (``None`` when not known).
    """

    def __init__(
        self,
        message: str,
        *,
        status: int = 0,
        body: str = "",
        error_type: str | None = None,
        code: str | None = None,
        prompt_tokens: int | None = None,
        context_window: int | None = None,
    ) -> None:
        super().__init__(message, status=status, body=body, error_type=error_type, code=code)
        if status == 0:
            self.args = (self.message,)  # measured by the SDK: no HTTP status to show
        self.prompt_tokens = prompt_tokens
        self.context_window = context_window


class RateLimitError(HTTPStatusError):
    """HTTP 429 after the bounded retries; ``retry_after`` is the server's hint in seconds."""

    def __init__(
        self,
        message: str,
        *,
        status: int = 429,
        retry_after: float | None = None,
        body: str = "",
        error_type: str | None = None,
        code: str | None = None,
    ) -> None:
        super().__init__(message, status=status, body=body, error_type=error_type, code=code)
        self.retry_after = retry_after


class ServerError(HTTPStatusError):
    """The server failed (HTTP 5xx)."""


class StreamError(AnyAgentError):
    """The stream reported an error after it began (an ``error`` event or line)."""

    def __init__(
        self, message: str, *, error_type: str | None = None, code: str | int | None = None
    ) -> None:
        super().__init__(clip(message))
        self.error_type = error_type
        self.code = code


class StreamTruncatedError(StreamError):
    """The stream ended before the model finished (no ``finish_reason``): a partial answer."""


class LimitExceededError(StreamError):
    """The response broke a size bound: ``option`` names the :class:`AgentOptions` field and
    ``limit`` its value. Nothing of the turn is kept and no tool of it runs."""

    def __init__(self, option: str, limit: int, what: str = "the response") -> None:
        super().__init__(
            f"{what} exceeded {option}={limit}; raise AgentOptions.{option} if the server "
            "is trusted",
            error_type="limit_exceeded",
        )
        self.option = option
        self.limit = limit
        self.what = what


class MCPServerError(AnyAgentError):
    """An MCP server of ``AgentOptions.mcp_servers`` failed: it could not start, did not
    answer within ``mcp_startup_timeout`` or ``mcp_tool_timeout``, died, or sent bytes that
    are not MCP. ``server`` is its name in ``mcp_servers``; ``tool`` the MCP tool being
    called, if any. The conversation's history is kept (see docs/mcp.md)."""

    def __init__(self, server: str, message: str, *, tool: str | None = None) -> None:
        super().__init__(f"MCP server {server!r}: {clip(message)}")
        self.server = server
        self.tool = tool
