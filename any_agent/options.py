"""AgentOptions: everything one agent needs to talk to one server, validated on construction."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from typing import Any, Literal, Protocol, runtime_checkable
from urllib.parse import urlsplit

from ._agent.structured import output_spec
from ._mcp.config import parse_servers, tool_name
from ._wire.credentials import normalize_url, redact_url
from ._wire.servers import REPLAY_MODES, server
from ._wire.thinking import thinking_fields
from .errors import ConfigurationError, ToolDefinitionError
from .hooks import check_hooks

__all__ = ["AgentOptions", "ToolLike"]


@runtime_checkable
class ToolLike(Protocol):
    """What ``AgentOptions.tools`` accepts besides a raw OpenAI function definition.

    ``@tool`` produces objects of this shape: a name and the OpenAI function definition
    sent to the server.
    """

    @property
    def name(self) -> str: ...

    @property
    def definition(self) -> dict[str, Any]: ...


#: The tool names servers accept (OpenAI's rule): ``@tool`` and plain definitions alike.
TOOL_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}\Z")
#: Request fields the SDK owns; ``extra_body`` may not replace them.
_RESERVED_BODY = ("model", "messages", "stream")


def _is_int(value: object) -> bool:
    """An int that is not a bool (``True`` is an int to Python, never a count here)."""
    return isinstance(value, int) and not isinstance(value, bool)


def _positive(name: str, value: float | None, *, allow_none: bool = True) -> None:
    if value is None:
        if not allow_none:
            raise ConfigurationError(f"{name} must be a positive number, got None")
        return
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise ConfigurationError(f"{name} must be a positive number of seconds, got {value!r}")
    if math.isinf(value) or math.isnan(value):
        raise ConfigurationError(f"{name} must be finite, got {value!r}")


def check_unicode(name: str, text: str) -> None:
    """Raise ConfigurationError if ``text`` cannot be sent as UTF-8 (a lone surrogate, as
    from a file name decoded with ``surrogateescape``)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ConfigurationError(
            f"{name} is not valid Unicode text: {exc.reason} at index {exc.start} "
            f"({text[max(0, exc.start - 20) : exc.start + 1]!r}); it cannot be sent as UTF-8"
        ) from None


def claim_tool_name(name: str, seen: set[str]) -> None:
    """Add ``name`` to the names of one agent's tools; a second tool of that name is an error."""
    if name in seen:
        raise ToolDefinitionError(f"two tools are named {name!r}; tool names must be unique")
    seen.add(name)


def tool_definition(spec: Any) -> dict[str, Any]:
    """Return the OpenAI function definition of a tool given as a dict or a ``@tool`` object."""
    if isinstance(spec, ToolLike):
        return spec.definition
    if not isinstance(spec, Mapping):
        raise ToolDefinitionError(
            f"tools entries must be OpenAI function definitions (dicts) or @tool functions, "
            f"got {type(spec).__name__}"
        )
    function = spec.get("function")
    if spec.get("type", "function") != "function" or not isinstance(function, Mapping):
        raise ToolDefinitionError(
            'a tool definition must look like {"type": "function", "function": {"name": ..., '
            f'"parameters": {{...}}}}}}, got keys {sorted(spec)}'
        )
    name = function.get("name")
    if not isinstance(name, str) or not name.strip():
        raise ToolDefinitionError(f"tool definition without a name: {dict(function)!r}")
    if not TOOL_NAME.match(name):
        raise ToolDefinitionError(
            f"tool name {name!r} is invalid; servers accept 1-64 letters, digits, '_' or '-'"
        )
    params = function.get("parameters", {"type": "object", "properties": {}})
    if not isinstance(params, Mapping):
        raise ToolDefinitionError(f"tool {name!r}: parameters must be a JSON schema object")
    return {"type": "function", "function": {**function, "parameters": dict(params)}}


@dataclass(repr=False)
class AgentOptions:
    """Configuration of an agent; invalid values raise :class:`ConfigurationError` at once.

    The first seven fields keep the seed's order so positional construction keeps working.
    ``timeout`` bounds the whole request, ``first_token_timeout`` the wait for the first
    event (a cold model load), and ``idle_timeout`` the longest silence between events.
    ``max_tool_calls`` bounds the calls run from one response (the rest get an error
    result), ``max_concurrent_tools`` how many of them run at once. ``proxy_loopback``
    lets ``HTTP(S)_PROXY``/``ALL_PROXY`` apply to a loopback ``base_url`` (off: a local
    server is always reached directly).
    """

    system_prompt: str | None = None
    model: str = ""
    base_url: str = ""
    max_turns: int = 1
    max_tokens: int | None = 4096
    temperature: float | None = 0.7
    api_key: str = field(default="not-needed", repr=False)
    timeout: float | None = 600.0
    first_token_timeout: float | None = 300.0
    idle_timeout: float | None = 120.0
    tools: Sequence[Mapping[str, Any] | ToolLike] = ()
    include_partial_messages: bool = False
    max_retries: int = 2
    provider: str | None = None
    extra_body: Mapping[str, Any] = field(default_factory=dict)
    auto_execute_tools: bool = True
    hooks: Mapping[str, Sequence[Any]] = field(default_factory=dict)
    can_use_tool: Any = None
    max_response_bytes: int = 256 * 1024 * 1024
    max_event_bytes: int = 32 * 1024 * 1024
    max_tool_argument_bytes: int = 16 * 1024 * 1024
    max_tool_calls: int = 64
    max_concurrent_tools: int = 8
    proxy_loopback: bool = False
    #: Recover tool calls the model wrote as text (``<tool_call>``, fenced JSON, ...):
    #: ``"auto"`` where the provider profile's servers are known to leak them, ``"off"``
    #: never (all text stays visible), ``"always"`` on every server. Recovered calls are
    #: ``ToolUseBlock(recovered=True)``; see SECURITY.md.
    text_tool_calls: Literal["auto", "off", "always"] = "auto"
    #: Characters of one message the text scanner may hold back while a call may be
    #: forming; past it the held text is given out as visible text (no error).
    max_held_text: int = 65_536
    # -- REASON (issue 14): thinking control and reasoning replay (docs/reasoning.md) -------
    #: claude-agent-sdk's thinking switch: ``{"type": "enabled", "budget_tokens": N}``,
    #: ``{"type": "disabled"}`` or ``{"type": "adaptive"}``, mapped to the server's fields
    #: by its profile; a control the server has no field for is a ConfigurationError.
    thinking: Mapping[str, Any] | None = None
    #: ``"low"``, ``"medium"`` or ``"high"``: sent as ``reasoning_effort``.
    effort: Literal["low", "medium", "high"] | None = None
    #: How the model's reasoning is sent back on the next request: ``"auto"`` (the
    #: provider profile's way), ``"reasoning_content"``, ``"reasoning"`` (message fields),
    #: ``"tags"`` (``<think>…</think>`` before the content) or ``"off"``.
    reasoning_replay: Literal["auto", "reasoning_content", "reasoning", "tags", "off"] = "auto"
    # -- context (issue 14): the window, images, server slots, transient parser failures --
    #: Tokens of the model's context window; None reads it from the server (see
    #: ``Client.get_server_info()``), where the provider's profile says it tells.
    context_window: int | None = None
    #: A prompt the guard finds larger than the window: ``"error"`` raises
    #: ContextLengthExceededError before sending, ``"drop_oldest"`` sends it without its
    #: oldest turns (history keeps them), ``"off"`` sends it as it is.
    on_context_overflow: Literal["error", "drop_oldest", "off"] = "error"
    #: A response whose ``prompt_tokens`` show the server cut the prompt (Ollama's default
    #: window): ``"warn"`` logs it (logger ``any_agent.context``), ``"error"`` raises
    #: ContextLengthExceededError, ``"off"`` ignores it.
    on_truncation: Literal["warn", "error", "off"] = "warn"
    #: Seconds one metadata request (``/props``, ``/api/show``, ``/tokenize``, ...) may take.
    server_info_timeout: float = 5.0
    #: Bytes of one image read from ``ImageBlock.path`` or given as ``data``.
    max_image_bytes: int = 20 * 1024 * 1024
    #: The model takes images: None asks the profile, then the server's metadata; True
    #: sends them anyway; False refuses them before sending.
    vision: bool | None = None
    #: Requests in flight to this server (its ``base_url``) from the whole process, every
    #: Client and query() together; more wait for a free slot. None: the server's own
    #: ``total_slots`` when known (llama.cpp ``/props``), else no limit.
    max_concurrent_requests: int | None = None
    #: Times a turn that failed with one of the profile's known transient tool-parser
    #: errors is sent again; None: the profile's number.
    transient_retries: int | None = None
    # -- MCP servers (issue 13; docs/mcp.md) --
    #: name → claude-agent-sdk server config (stdio / http / sse dict, or the in-process
    #: server from ``create_sdk_mcp_server``); tools offered as ``mcp__<name>__<tool>``
    mcp_servers: Mapping[str, Any] = field(default_factory=dict)
    #: seconds one server may take to start (spawn or connect, initialize, tools/list)
    mcp_startup_timeout: float = 30.0
    #: seconds one MCP tool call may take (None: unbounded)
    mcp_tool_timeout: float | None = 600.0
    #: bytes of one message from a stdio MCP server (and one SSE event over HTTP)
    max_mcp_message_bytes: int = 32 * 1024 * 1024
    # -- COMPAT (issue 13): claude-agent-sdk's tool permissions and structured output --
    #: Tool names approved without asking ``can_use_tool`` (claude-agent-sdk's meaning); when
    #: the list is not empty, a call to an unlisted tool is refused unless ``can_use_tool``
    #: approves it. Empty: no allowlist. Names are matched exactly (``mcp__srv__tool`` too).
    allowed_tools: Sequence[str] = ()
    #: Tool names never offered to the model; a call naming one anyway is refused.
    disallowed_tools: Sequence[str] = ()
    #: ``{"type": "json_schema", "schema": {...}}`` or a pydantic model class: the final
    #: answer is validated JSON, in ``ResultMessage.structured_output``.
    output_format: Mapping[str, Any] | type | None = None
    #: How many times an answer that does not match ``output_format`` is asked again.
    max_structured_output_retries: int = 2

    def __post_init__(self) -> None:
        if not isinstance(self.model, str) or not self.model.strip():
            raise ConfigurationError(
                "model is required: pass model='<id>' or model=get_model() (reads ANY_AGENT_MODEL)"
            )
        if not isinstance(self.base_url, str) or not self.base_url.strip():
            raise ConfigurationError(
                "base_url is required: pass base_url='http://host:port/v1' or get_base_url()"
            )
        # one spelling from here on: every scheme check downstream sees lower case
        self.base_url = normalize_url(self.base_url).rstrip("/")
        shown = redact_url(self.base_url)
        parts = urlsplit(self.base_url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ConfigurationError(f"base_url must be an http:// or https:// URL, got {shown!r}")
        try:
            parts.port  # noqa: B018 - parses the port
        except ValueError:
            raise ConfigurationError(f"base_url has an invalid port: {shown!r}") from None
        if "@" in parts.netloc:
            # httpx would send them as Basic auth, replacing the Bearer api_key
            raise ConfigurationError(
                f"base_url carries a user name or password ({shown}); credentials in a URL "
                "end up in logs and would replace the Bearer key: pass the key as api_key="
            )
        if self.system_prompt is not None and not isinstance(self.system_prompt, str):
            raise ConfigurationError(
                f"system_prompt must be a string, got {type(self.system_prompt).__name__}"
            )
        if self.system_prompt is not None:
            check_unicode("system_prompt", self.system_prompt)
        if not _is_int(self.max_turns):
            raise ConfigurationError(f"max_turns must be an int, got {self.max_turns!r}")
        if self.max_turns < 1:
            raise ConfigurationError(f"max_turns must be at least 1, got {self.max_turns}")
        if self.max_tokens is not None and (not _is_int(self.max_tokens) or self.max_tokens < 1):
            raise ConfigurationError(
                f"max_tokens must be a positive int or None, got {self.max_tokens!r}"
            )
        if self.temperature is not None and (
            isinstance(self.temperature, bool)
            or not isinstance(self.temperature, (int, float))
            or not 0.0 <= self.temperature <= 2.0
        ):
            raise ConfigurationError(
                f"temperature must be between 0 and 2 (or None), got {self.temperature!r}"
            )
        for name in ("timeout", "first_token_timeout", "idle_timeout"):
            _positive(name, getattr(self, name))
        if not _is_int(self.max_retries) or (self.max_retries < 0):
            raise ConfigurationError(f"max_retries must be an int >= 0, got {self.max_retries!r}")
        if not isinstance(self.api_key, str):
            raise ConfigurationError("api_key must be a string")
        if self.api_key != self.api_key.strip() or any(
            not " " <= c <= "~" for c in self.api_key
        ):  # the value is never shown: it is a secret
            raise ConfigurationError(
                "api_key must be printable ASCII with no line breaks, control characters or "
                "surrounding whitespace (it is sent as an HTTP header); check how it was read"
            )
        for name in ("max_tool_calls", "max_concurrent_tools"):
            value = getattr(self, name)
            if not _is_int(value) or value < 1:
                raise ConfigurationError(f"{name} must be an int >= 1, got {value!r}")
        for name in ("include_partial_messages", "auto_execute_tools", "proxy_loopback"):
            if not isinstance(getattr(self, name), bool):
                raise ConfigurationError(
                    f"{name} must be True or False, got {getattr(self, name)!r}"
                )
        if not isinstance(self.extra_body, Mapping) or not all(
            isinstance(k, str) for k in self.extra_body
        ):
            raise ConfigurationError(
                f"extra_body must be a dict of request fields, got {self.extra_body!r:.80}"
            )
        reserved = [k for k in _RESERVED_BODY if k in self.extra_body]
        if reserved:
            raise ConfigurationError(
                f"extra_body may not set {reserved[0]!r}: the SDK sends it (use the "
                "AgentOptions field, or the Client's history for messages)"
            )
        if isinstance(self.tools, (str, bytes, Mapping)):
            raise ConfigurationError("tools must be a list of tool definitions or @tool functions")
        seen: set[str] = set()
        for spec in self.tools:
            claim_tool_name(tool_definition(spec)["function"]["name"], seen)
        check_hooks(self.hooks, self.can_use_tool)  # ConfigurationError naming the field
        for name in ("max_response_bytes", "max_event_bytes", "max_tool_argument_bytes"):
            value = getattr(self, name)
            if not _is_int(value) or value < 1:
                raise ConfigurationError(
                    f"{name} must be a positive int (a number of bytes), got {value!r}"
                )
        if self.text_tool_calls not in ("auto", "off", "always"):
            raise ConfigurationError(
                f"text_tool_calls must be 'auto', 'off' or 'always', got {self.text_tool_calls!r}"
            )
        if not _is_int(self.max_held_text) or self.max_held_text < 1:
            raise ConfigurationError(
                f"max_held_text must be a positive int (characters), got {self.max_held_text!r}"
            )
        self._check_context()
        if self.provider is not None and not isinstance(self.provider, str):
            raise ConfigurationError(
                f"provider must be a server name (str) or None, got {self.provider!r}"
            )
        if self.provider is not None:
            server(self.provider)  # raises ConfigurationError for an unknown name
        owners = dict.fromkeys(seen, "in tools")
        for server_spec in parse_servers(self.mcp_servers):  # ConfigurationError naming it
            for sdk_tool in getattr(getattr(server_spec, "server", None), "tools", ()):
                offered = str(tool_name(server_spec.name, sdk_tool.name))
                if offered in owners:  # 'a' + 'b__c' and 'a__b' + 'c' are one name
                    raise ConfigurationError(
                        f"mcp_servers[{server_spec.name!r}]: its tool {offered!r} has the name "
                        f"of a tool {owners[offered]}"
                    )
                owners[offered] = f"of mcp_servers[{server_spec.name!r}]"
        _positive("mcp_startup_timeout", self.mcp_startup_timeout, allow_none=False)
        _positive("mcp_tool_timeout", self.mcp_tool_timeout)
        value = self.max_mcp_message_bytes
        if not _is_int(value) or value < 1:
            raise ConfigurationError(
                f"max_mcp_message_bytes must be a positive int (a number of bytes), got {value!r}"
            )
        if self.reasoning_replay != "auto" and self.reasoning_replay not in REPLAY_MODES:
            raise ConfigurationError(
                "reasoning_replay must be 'auto', 'reasoning_content', 'reasoning', 'tags' or "
                f"'off', got {self.reasoning_replay!r}"
            )
        # ConfigurationError for a bad value or a control the server has no field for
        control = thinking_fields(self.thinking, self.effort, server(self.provider).profile)
        kwargs = self.extra_body.get("chat_template_kwargs")
        if "chat_template_kwargs" in control and not isinstance(kwargs, (Mapping, type(None))):
            # it would replace the SDK's enable_thinking: the control silently dropped
            raise ConfigurationError(
                "extra_body['chat_template_kwargs'] must be a dict (merged with the "
                f"thinking option's enable_thinking), got {type(kwargs).__name__}"
            )
        for name in ("allowed_tools", "disallowed_tools"):
            self._check_tool_list(name)
        output_spec(self.output_format)  # ConfigurationError naming output_format
        retries = self.max_structured_output_retries
        if not _is_int(retries) or not 0 <= retries <= 10:
            raise ConfigurationError(
                f"max_structured_output_retries must be an int from 0 to 10, got {retries!r}"
            )

    def _check_context(self) -> None:
        for name in ("context_window", "max_concurrent_requests"):
            value = getattr(self, name)
            if value is not None and (not _is_int(value) or value < 1):
                raise ConfigurationError(f"{name} must be a positive int or None, got {value!r}")
        if self.on_context_overflow not in ("error", "drop_oldest", "off"):
            raise ConfigurationError(
                "on_context_overflow must be 'error', 'drop_oldest' or 'off', "
                f"got {self.on_context_overflow!r}"
            )
        if self.on_truncation not in ("warn", "error", "off"):
            raise ConfigurationError(
                f"on_truncation must be 'warn', 'error' or 'off', got {self.on_truncation!r}"
            )
        _positive("server_info_timeout", self.server_info_timeout, allow_none=False)
        if not _is_int(self.max_image_bytes) or self.max_image_bytes < 1:
            raise ConfigurationError(
                f"max_image_bytes must be a positive int (bytes), got {self.max_image_bytes!r}"
            )
        if self.vision is not None and not isinstance(self.vision, bool):
            raise ConfigurationError(f"vision must be True, False or None, got {self.vision!r}")
        retries = self.transient_retries
        if retries is not None and (not _is_int(retries) or not 0 <= retries <= 10):
            raise ConfigurationError(
                f"transient_retries must be an int from 0 to 10 or None, got {retries!r}"
            )

    def _check_tool_list(self, name: str) -> None:
        value = getattr(self, name)
        if isinstance(value, (str, bytes, Mapping)) or not isinstance(value, Sequence):
            raise ConfigurationError(f"{name} must be a list of tool names, got {value!r:.80}")
        for entry in value:
            if not isinstance(entry, str) or not entry.strip():
                raise ConfigurationError(f"{name} entries must be tool names, got {entry!r:.80}")
            if "(" in entry or "*" in entry:
                # claude-agent-sdk's rule syntax scopes its built-in tools ("Bash(rm *)")
                raise ConfigurationError(
                    f"{name} entry {entry!r}: only whole tool names are matched here (exactly, "
                    "mcp__<server>__<tool> included); rule patterns such as 'Bash(rm *)' "
                    "scope Claude Code's built-in tools, which any-agent does not have"
                )

    def __repr__(self) -> str:
        def value(name: str) -> str:
            if name == "api_key":
                return repr("***")
            if name == "base_url":
                return repr(redact_url(self.base_url))
            if name == "mcp_servers":  # headers and env may carry tokens
                return repr(
                    {
                        key: {
                            k: (
                                dict.fromkeys(v, "***")
                                if k in ("headers", "env") and isinstance(v, Mapping)
                                else redact_url(v)
                                if k == "url" and isinstance(v, str)
                                else v
                            )
                            for k, v in config.items()
                        }
                        if isinstance(config, Mapping) and config.get("type") != "sdk"
                        else config
                        for key, config in self.mcp_servers.items()
                    }
                )
            return repr(getattr(self, name))

        return f"AgentOptions({', '.join(f'{f.name}={value(f.name)}' for f in fields(self))})"

    def tool_definitions(self) -> list[dict[str, Any]]:
        """The OpenAI ``tools`` array sent to the server (``disallowed_tools`` left out)."""
        definitions = [tool_definition(spec) for spec in self.tools]
        return [d for d in definitions if self.offers(d["function"]["name"])]

    def offers(self, tool_name: str) -> bool:
        """Whether a tool of this name may be offered to the model (not disallowed)."""
        return tool_name not in self.disallowed_tools

    def tool_names(self) -> frozenset[str]:
        return frozenset(d["function"]["name"] for d in self.tool_definitions())
