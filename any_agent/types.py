"""The SDK's vocabulary: content blocks, messages and stream events.

Plain dataclasses, as in claude-agent-sdk: cheap to build, easy to match on with
``isinstance`` or ``match``, and serialisable with :func:`dataclasses.asdict`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

__all__ = [
    "AssistantMessage",
    "ContentBlock",
    "ContextUsage",
    "ImageBlock",
    "Message",
    "ModelUsage",
    "ResultMessage",
    "ServerInfo",
    "StopReason",
    "StreamEvent",
    "TerminalReason",
    "TextBlock",
    "ThinkingBlock",
    "ToolResultBlock",
    "ToolUseBlock",
    "ToolUseError",
    "Usage",
    "UserMessage",
]

StopReason = Literal[
    "stop",  # the model finished its answer
    "length",  # max_tokens (or the context) ran out
    "tool_calls",  # the turn ended with tool calls that nobody answered
    "max_turns",  # the loop hit AgentOptions.max_turns
    "content_filter",
    "interrupted",  # Client.interrupt()
    "error",
]


@dataclass(slots=True)
class TextBlock:
    """Visible text from the model."""

    text: str
    type: Literal["text"] = field(default="text", repr=False)


@dataclass(slots=True)
class ThinkingBlock:
    """Reasoning, whether the server sent it as a field or as ``<think>`` tags in the text."""

    thinking: str
    type: Literal["thinking"] = field(default="thinking", repr=False)


@dataclass(slots=True)
class ImageBlock:
    """An image given to the model: exactly one of ``url``, ``data`` (raw bytes, with
    ``media_type``) or ``path`` (a local file the SDK reads when it sends the image)."""

    url: str | None = None
    data: bytes | None = None
    media_type: str | None = None
    path: str | None = None
    type: Literal["image"] = field(default="image", repr=False)


@dataclass(slots=True)
class ToolUseBlock:
    """A well-formed tool call: ``input`` is the parsed arguments object.

    ``recovered`` is True when the call was read from the model's text (a template that
    writes calls as markup or JSON) rather than sent by the server as a structured tool
    call; hooks and ``can_use_tool`` see it and may refuse such calls (SECURITY.md)."""

    id: str
    name: str
    input: dict[str, Any]
    type: Literal["tool_use"] = field(default="tool_use", repr=False)
    recovered: bool = False


@dataclass(slots=True)
class ToolUseError:
    """A tool call the SDK could not parse; kept in history so the model can be told."""

    id: str
    name: str
    raw_arguments: str
    error: str
    type: Literal["tool_use_error"] = field(default="tool_use_error", repr=False)


@dataclass(slots=True)
class ToolResultBlock:
    """The result of a tool call, as sent back to the model."""

    tool_use_id: str
    content: str
    is_error: bool = False
    type: Literal["tool_result"] = field(default="tool_result", repr=False)
    #: images the tool returned besides its text (an MCP tool's image content)
    images: list[ImageBlock] = field(default_factory=list)


ContentBlock = (
    TextBlock | ThinkingBlock | ImageBlock | ToolUseBlock | ToolUseError | ToolResultBlock
)


@dataclass(slots=True)
class Usage:
    """Token counts as the server reported them (``None`` when it did not).

    ``cached_tokens``: prompt tokens the server reused from its cache
    (``usage.prompt_tokens_details.cached_tokens``, or llama.cpp's ``timings.cache_n``);
    ``reasoning_tokens``: completion tokens spent thinking
    (``usage.completion_tokens_details.reasoning_tokens``)."""

    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    total_tokens: int | None = None
    cached_tokens: int | None = None
    reasoning_tokens: int | None = None

    def __add__(self, other: Usage) -> Usage:
        def add(a: int | None, b: int | None) -> int | None:
            return None if a is None and b is None else (a or 0) + (b or 0)

        return Usage(
            add(self.prompt_tokens, other.prompt_tokens),
            add(self.completion_tokens, other.completion_tokens),
            add(self.total_tokens, other.total_tokens),
            add(self.cached_tokens, other.cached_tokens),
            add(self.reasoning_tokens, other.reasoning_tokens),
        )


@dataclass(slots=True)
class AssistantMessage:
    """One model turn: its blocks in the order the model produced them."""

    content: list[ContentBlock]
    model: str = ""
    stop_reason: StopReason | None = None
    role: Literal["assistant"] = field(default="assistant", repr=False)

    @property
    def text(self) -> str:
        """The turn's visible text, joined."""
        return "".join(b.text for b in self.content if isinstance(b, TextBlock))


@dataclass(slots=True)
class UserMessage:
    """What was sent to the model on the user's side: a prompt, or tool results."""

    content: str | list[ContentBlock]
    role: Literal["user"] = field(default="user", repr=False)


@dataclass(slots=True)
class StreamEvent:
    """A token-level update, yielded only with ``include_partial_messages=True``.

    ``type`` is one of ``text_delta``, ``thinking_delta``, ``tool_use_start``,
    ``tool_input_delta`` and ``tool_use_stop``. ``index`` numbers the tool call within
    the turn; ``delta`` is the new text or argument fragment.
    """

    type: Literal[
        "text_delta", "thinking_delta", "tool_use_start", "tool_input_delta", "tool_use_stop"
    ]
    delta: str = ""
    index: int = 0
    name: str = ""
    id: str = ""


@dataclass(slots=True)
class ModelUsage:
    """One model's share of a query (claude-agent-sdk's ``ModelUsage``, in snake case).

    The token counts are the sums the server reported over the model's turns (``None``
    when it never did); ``context_window`` is the model's window where it is known (None
    until the server or ``AgentOptions`` says); ``max_output_tokens`` the request's cap."""

    input_tokens: int | None = None
    output_tokens: int | None = None
    cache_read_input_tokens: int | None = None
    reasoning_tokens: int | None = None
    context_window: int | None = None
    max_output_tokens: int | None = None
    requests: int = 0


#: Why a query's loop ended (claude-agent-sdk's names where they exist): ``completed``,
#: ``max_turns``, ``tool_deferred`` (calls left for the caller), ``aborted_streaming`` /
#: ``aborted_tools`` (interrupted during a model turn / during tools); and on an error
#: (``AnyAgentError.result``): ``api_error`` (an HTTP error status), ``prompt_too_long``,
#: ``connection_error``, ``timeout``, ``stream_error``, ``limit_exceeded``,
#: ``prompt_blocked``, ``error``.
TerminalReason = Literal[
    "completed",
    "max_turns",
    "tool_deferred",
    "aborted_streaming",
    "aborted_tools",
    "api_error",
    "prompt_too_long",
    "connection_error",
    "timeout",
    "stream_error",
    "limit_exceeded",
    "prompt_blocked",
    "error",
]


@dataclass(slots=True)
class ResultMessage:
    """The last message of every query: outcome, timing and usage."""

    num_turns: int
    duration_ms: int
    duration_api_ms: int
    is_error: bool
    stop_reason: StopReason
    result: str
    usage: Usage = field(default_factory=Usage)
    time_to_first_token_ms: int | None = None
    tokens_per_second: float | None = None
    num_tool_calls: int = 0
    error: str | None = None
    subtype: Literal[
        "success",
        "error_max_turns",
        "error_during_execution",
        "interrupted",
        "error_max_structured_output_retries",
    ] = "success"
    #: the validated final answer when ``AgentOptions.output_format`` is set: a dict (or
    #: other JSON value) for a JSON schema, an instance for a pydantic model class
    structured_output: Any = None
    # -- REASON (issue 14 item 7): what claude-agent-sdk users read ------------------------
    #: why the loop ended (see :data:`TerminalReason`)
    terminal_reason: TerminalReason | None = None
    #: the HTTP status of the API error that ended the run (on ``AnyAgentError.result``)
    api_error_status: int | None = None
    #: per model (as the server named it): its tokens, cache, window and requests
    model_usage: dict[str, ModelUsage] = field(default_factory=dict)

    @property
    def total_cost_usd(self) -> float | None:
        """Always None: a local model's cost is not known (claude-agent-sdk's field)."""
        return None


@dataclass(frozen=True, slots=True)
class ServerInfo:
    """What the server says about itself (``Client.get_server_info()``); ``None`` is unknown.

    ``context_window`` is the window one request gets (llama.cpp: one slot's ``n_ctx``;
    Ollama: the loaded model's ``context_length`` or ``num_ctx``); ``trained_context`` the
    model's own maximum. ``sources`` names the endpoints that answered, ``problems`` why the
    others told nothing (each bounded in time and size; garbage is a problem, not a crash).
    """

    server: str
    model: str
    context_window: int | None = None
    trained_context: int | None = None
    total_slots: int | None = None
    vision: bool | None = None
    tools: bool | None = None
    reasoning: bool | None = None
    capabilities: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()
    problems: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ContextUsage:
    """Tokens the conversation uses against the window (``Client.get_context_usage()``).

    ``used_tokens`` is the server's ``prompt_tokens + completion_tokens`` of the last turn
    when it reported them (``estimated=False``), else the SDK's estimate of the history.
    """

    used_tokens: int
    context_window: int | None
    estimated: bool

    @property
    def remaining_tokens(self) -> int | None:
        """Tokens left in the window (``None`` when the window is unknown)."""
        return None if self.context_window is None else self.context_window - self.used_tokens

    @property
    def percent_used(self) -> float | None:
        """How full the window is, 0-100 (``None`` when the window is unknown)."""
        if not self.context_window:
            return None
        return round(100 * self.used_tokens / self.context_window, 1)


Message = AssistantMessage | UserMessage | ResultMessage | StreamEvent
