"""The one table of servers: for each name a title, a default URL, a request-shaping
profile and the matrix family it is certified in.

Every lookup by server name reads it: ``AgentOptions(provider=...)`` (request shaping),
``config.get_base_url(provider=...)`` (default URL), and the conformance suite (titles,
URLs, families). An unknown name is a :class:`~any_agent.errors.ConfigurationError` that
lists the known ones.

A profile only changes what the SDK *sends*: the stream decoder is the same for every
server (its normalisations are safe everywhere). Default URLs are spelled ``127.0.0.1``
unless the server's own documentation says ``localhost``. The evidence for each quirk is
named next to it: a recording under ``tests/data/servers/`` or ``cassettes/``, or a row
of ``docs/provider-compatibility.md``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Literal

from ..errors import ConfigurationError

__all__ = [
    "PROFILES",
    "REPLAY_MODES",
    "SERVERS",
    "Profile",
    "ReasoningReplay",
    "Server",
    "profile_for",
    "server",
]

#: Where replayed reasoning goes (see ``Profile.reasoning_replay``).
ReasoningReplay = Literal["reasoning_content", "reasoning", "tags", "off"]
REPLAY_MODES: tuple[ReasoningReplay, ...] = ("reasoning_content", "reasoning", "tags", "off")


@dataclass(frozen=True, slots=True)
class Profile:
    """Request-shaping switches for one server family."""

    name: str
    #: ``content`` of a replayed assistant message that only has tool calls. ``""`` is
    #: accepted everywhere we know of; ``None`` (OpenAI's own shape) makes
    #: llama-cpp-python answer HTTP 500.
    assistant_tool_content: Literal["", "null"] = ""
    #: Rewrite replayed tool-call ids: Mistral templates demand exactly 9 alphanumerics.
    tool_call_ids: Literal["keep", "alnum9"] = "keep"
    #: Ask for a usage chunk. Servers that reject it are remembered per client and retried.
    stream_usage: bool = True
    #: llama.cpp defaults ``parallel_tool_calls`` to false; say true where it matters.
    parallel_tool_calls: bool | None = None
    #: The chat template opens ``<think>`` itself, so the stream starts inside reasoning.
    think_open: bool = False
    #: ``text_tool_calls="auto"`` recovers tool calls the model wrote as text. True where the
    #: server is known to leave such calls in ``content`` (its parser did not match the
    #: model's format, or it has none); False where it returns structured calls, so text
    #: that looks like a call is only text. See the evidence per profile below.
    text_tool_calls: bool = False
    notes: tuple[str, ...] = field(default=())
    # -- REASON (issue 14): reasoning replay and thinking control ---------------------------
    #: How an assistant turn's reasoning is sent back on the next request: as the message
    #: field ``reasoning_content`` (llama.cpp's templates read it), as ``reasoning`` (Ollama's
    #: /v1 message field), as ``<think>…</think>`` before the content, or ``"off"`` (not at
    #: all: servers whose templates have no place for it, or that refuse unknown fields).
    #: ``AgentOptions.reasoning_replay`` overrides it; a refusal naming the field turns it
    #: off for the client's lifetime (``_agent/turn.py`` ServerFacts).
    reasoning_replay: ReasoningReplay = "off"
    #: The server takes OpenAI's ``reasoning_effort`` ("low"/"medium"/"high"): where
    #: ``AgentOptions.effort`` goes.
    reasoning_effort: bool = False
    #: How ``thinking={"type": "enabled"|"disabled"}`` switches thinking on or off:
    #: ``chat_template_kwargs.enable_thinking`` (llama.cpp, vLLM, SGLang: Qwen3-style
    #: templates), ``reasoning_effort: "none"`` (Ollama, off only), or None (no switch).
    thinking_switch: Literal["chat_template_kwargs", "reasoning_effort"] | None = None
    #: The request field that caps thinking tokens (``thinking["budget_tokens"]``):
    #: llama.cpp ``reasoning_budget_tokens``, vLLM ``thinking_token_budget``; None: none.
    thinking_budget_field: str | None = None
    # -- context (issue 14): what the server tells about itself, images, slots, retries --
    #: The metadata endpoints ``Client.get_server_info()`` asks, in order of trust (names
    #: of ``_wire/serverinfo.py:ENDPOINTS``; an earlier one's facts win).
    info_endpoints: tuple[str, ...] = ("models",)
    #: Ask them once per client before its first request, so the context guard knows the
    #: window without being told (off where they rarely say it: one request saved).
    discover_window: bool = False
    #: The server's ``POST /tokenize`` dialect, used by the guard near the window's limit:
    #: ``"llamacpp"`` (``{"content"}`` → ``tokens``), ``"vllm"`` (``{"model","messages"}``
    #: → ``count``), or None (the SDK's conservative estimate).
    tokenize: Literal["llamacpp", "vllm"] | None = None
    #: Whether the server takes ``image_url`` content parts: True, False, or None (ask the
    #: server's metadata: llama.cpp ``modalities.vision``, Ollama ``capabilities``, LM
    #: Studio ``type: "vlm"``).
    vision: bool | None = None
    #: Case-insensitive fragments of error messages that are known transient failures of
    #: the server's own tool-call parser: such a failed turn is sent again, unchanged.
    transient_errors: tuple[str, ...] = ()
    #: How many times such a turn is sent again (``AgentOptions.transient_retries`` overrides).
    transient_retries: int = 0
    # -- COMPAT (issue 13): structured output --
    #: ``response_format: json_schema``: ``"enforced"`` where the server constrains decoding
    #: to the schema (the SDK sends it), ``"prompted"`` where it ignores, mis-parses or
    #: refuses the field (the SDK only asks for the schema in the system prompt).
    json_schema: Literal["enforced", "prompted"] = "prompted"
    #: An enforced schema constrains the whole generation, so no tool call can be written
    #: (vLLM, silently: pydantic/pydantic-ai#6552). Where True the SDK never sends
    #: ``response_format`` with tools; a structured answer comes after the tool turns.
    json_schema_excludes_tools: bool = True


@dataclass(frozen=True, slots=True)
class Server:
    """One server name and everything known about it."""

    #: The name ``provider=`` takes (lower case).
    name: str
    #: How reports and messages call it.
    title: str
    #: Its usual OpenAI-compatible base URL; None when it has no default address.
    base_url: str | None
    #: How the SDK shapes requests for it.
    profile: Profile
    #: The matrix column group it is certified in: another server's name for a second
    #: configuration of the same server (default: its own name).
    family: str = ""

    def __post_init__(self) -> None:
        if not self.family:
            object.__setattr__(self, "family", self.name)


_TGWUI = Profile("tgwui", notes=("whole tool calls arrive inside the finish chunk",))

_LLAMACPP = Profile(
    "llamacpp",
    parallel_tool_calls=True,
    # the stock template leaves fenced/bare JSON calls in content (cassettes,
    # tests/data/servers/llamaserver-*-stocktemplate-*)
    text_tool_calls=True,
    # tools/server/server-common.cpp: assistant messages' reasoning_content is parsed and
    # given to the template; reasoning_effort goes to the template's kwargs ("none" turns
    # thinking off); reasoning_budget_tokens (alias thinking_budget_tokens) per request
    reasoning_replay="reasoning_content",
    reasoning_effort=True,
    thinking_switch="chat_template_kwargs",
    thinking_budget_field="reasoning_budget_tokens",
    # response_format json_schema becomes a grammar (server-common.cpp, response_format);
    # with tools that grammar and the tool-call format compete: never sent together
    json_schema="enforced",
    notes=(
        "named tool_choice is served as auto",
        "parallel_tool_calls defaults to false",
    ),
    info_endpoints=("props", "models"),
    discover_window=True,
    tokenize="llamacpp",
    # HTTP 500 / in-stream error "The model produced output that does not match the expected
    # peg-native format" (research/real-servers.md §3.3, llamaserver-*-tools-auto-fenced)
    transient_errors=("peg-native format",),
    transient_retries=2,
)
# unknown server: transformers serve (recorded) answers calls only as JSON text
# reasoning_effort is OpenAI's own field; chat_template_kwargs is what vLLM, llama.cpp and
# SGLang share; no budget field is common to unknown servers
_GENERIC = Profile(
    "generic",
    text_tool_calls=True,
    reasoning_effort=True,
    thinking_switch="chat_template_kwargs",
)

SERVERS = MappingProxyType(
    {
        s.name: s
        for s in (
            Server("generic", "OpenAI-compatible server", "http://127.0.0.1:8000/v1", _GENERIC),
            # structured calls only
            Server(
                "openai",
                "OpenAI API",
                "https://api.openai.com/v1",
                Profile(
                    "openai",
                    reasoning_effort=True,
                    vision=True,
                    json_schema="enforced",
                    json_schema_excludes_tools=False,
                ),
            ),
            Server("llamacpp", "llama.cpp llama-server", "http://localhost:8080/v1", _LLAMACPP),
            Server(
                "llamacpp-tools",
                "llama.cpp llama-server (tool template)",
                "http://localhost:8080/v1",
                _LLAMACPP,
                family="llamacpp",
            ),
            Server(
                "llamacpp-think",
                "llama.cpp llama-server (reasoning template)",
                "http://localhost:8080/v1",
                _LLAMACPP,
                family="llamacpp",
            ),
            # [TOOL_REQUEST]…[END_TOOL_REQUEST] in content (docs/provider-compatibility.md)
            Server(
                "lmstudio",
                "LM Studio",
                "http://localhost:1234/v1",
                Profile(
                    "lmstudio",
                    text_tool_calls=True,
                    # json_schema and text are its only response formats (0.4.x changelog)
                    json_schema="enforced",
                    notes=("rejects empty tool-call ids (made unique by the SDK)",),
                    info_endpoints=("lmstudio_models", "models"),
                    discover_window=True,
                ),
            ),
            # parses calls itself and sends whole structured calls per chunk
            Server(
                "ollama",
                "Ollama (/v1)",
                "http://localhost:11434/v1",
                # openai/openai.go: reasoning_effort ("none" = think off) and the message
                # field reasoning (sent in deltas, read back on assistant messages)
                Profile(
                    "ollama",
                    reasoning_replay="reasoning",
                    reasoning_effort=True,
                    thinking_switch="reasoning_effort",
                    # json_schema becomes Ollama's `format` schema (enforced locally; Ollama
                    # Cloud does not enforce it: pydantic/pydantic-ai#4917)
                    json_schema="enforced",
                    notes=(
                        "swallows mid-stream errors: reported as truncation",
                        "silently drops the oldest messages past num_ctx (the guard's case)",
                    ),
                    info_endpoints=("ollama_ps", "ollama_show", "models"),
                    discover_window=True,
                    # HTTP 500 "error parsing tool call" (ollama/ollama#12884,
                    # cuga-project/cuga-agent#503)
                    transient_errors=("error parsing tool call",),
                    transient_retries=2,
                ),
            ),
            # hermes parser misses calls written without <tool_call> (tests/data/servers/vllm-*)
            Server(
                "vllm",
                "vLLM",
                "http://localhost:8000/v1",
                # reasoning_effort and chat_template_kwargs go to the template;
                # thinking_token_budget caps thinking (needs a --reasoning-parser); replay
                # off: whether a template reads reasoning back is the model's, not vLLM's
                Profile(
                    "vllm",
                    text_tool_calls=True,
                    reasoning_effort=True,
                    thinking_switch="chat_template_kwargs",
                    thinking_budget_field="thinking_token_budget",
                    # guided decoding: enforced, and with tools no call can be written
                    json_schema="enforced",
                    notes=("auto tool choice needs --enable-auto-tool-choice",),
                    discover_window=True,  # /v1/models carries max_model_len
                    tokenize="vllm",
                ),
            ),
            # chatml-function-calling returns structured calls (recorded)
            Server(
                "llamacpp-python",
                "llama-cpp-python server",
                "http://127.0.0.1:8000/v1",
                Profile(
                    "llamacpp-python",
                    notes=(
                        "content:null with tool_calls in history gives HTTP 500",
                        "cuts a running stream when a second request arrives",
                    ),
                ),
            ),
            # structured calls inside the finish chunk
            Server("tgwui", "text-generation-webui", "http://127.0.0.1:5000/v1", _TGWUI),
            Server(
                "tgwui-transformers",
                "text-generation-webui (Transformers loader)",
                "http://127.0.0.1:5000/v1",
                _TGWUI,
                family="tgwui",
            ),
            # passes its backend's content through (recorded in front of llama-server)
            Server(
                "litellm",
                "LiteLLM proxy",
                "http://127.0.0.1:4000/v1",
                Profile(
                    "litellm",
                    text_tool_calls=True,
                    notes=("repeats type on every tool-call fragment",),
                    # passes its backend's 500s through (recorded in front of llama-server)
                    transient_errors=("peg-native format", "error parsing tool call"),
                    transient_retries=2,
                ),
            ),
            # answers calls only as JSON text (cassettes/transformers)
            Server(
                "transformers",
                "transformers serve",
                "http://127.0.0.1:8000/v1",
                Profile("transformers", text_tool_calls=True),
            ),
            # calls come from a grammar, always structured
            Server(
                "tgi",
                "Text Generation Inference",
                "http://127.0.0.1:8080/v1",
                Profile("tgi", notes=("never reports finish_reason tool_calls",)),
            ),
            # llama.cpp-based backends and vLLM-style parsers: unparsed calls stay in content
            Server(
                "localai",
                "LocalAI",
                "http://127.0.0.1:8080/v1",
                Profile("localai", text_tool_calls=True),
            ),
            Server(
                "sglang",
                "SGLang",
                "http://127.0.0.1:30000/v1",
                # test_enable_thinking.py: chat_template_kwargs.enable_thinking
                Profile(
                    "sglang",
                    text_tool_calls=True,
                    reasoning_effort=True,
                    thinking_switch="chat_template_kwargs",
                    discover_window=True,
                    json_schema="enforced",
                ),
            ),
            # Mistral templates' [TOOL_CALLS] reaches content when no parser takes it; a
            # template family served by many servers, so no address of its own
            Server(
                "mistral",
                "Mistral-template server",
                None,
                Profile("mistral", tool_call_ids="alnum9", text_tool_calls=True),
            ),
        )
    }
)

#: The request-shaping profile of each server name.
PROFILES = MappingProxyType({name: s.profile for name, s in SERVERS.items()})


def server(name: str | None) -> Server:
    """The server named ``name`` (case-insensitive; ``None`` → ``generic``); an unknown
    name raises :class:`ConfigurationError` listing the known ones."""
    if name is None:
        return SERVERS["generic"]
    key = name.strip().lower()
    found = SERVERS.get(key)
    if found is None:
        known = ", ".join(sorted(SERVERS))
        raise ConfigurationError(f"unknown provider {name!r}; known providers: {known}")
    return found


def profile_for(name: str | None) -> Profile:
    """The request-shaping profile of the server named ``name`` (``None`` → ``generic``)."""
    return server(name).profile
