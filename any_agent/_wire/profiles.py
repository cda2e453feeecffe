"""Server quirks as data: what each server does, and how the SDK shapes requests for it.

The stream decoder is the same for every server (its normalisations are safe everywhere);
a profile only changes what the SDK *sends*. Evidence keys refer to the research notes
summarised in ``docs/provider-compatibility.md``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Literal

from ..errors import ConfigurationError

__all__ = ["PROFILES", "Profile", "profile_for"]


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


PROFILES = MappingProxyType(
    {
        p.name: p
        for p in (
            # unknown server: transformers serve (recorded) answers calls only as JSON text
            Profile("generic", text_tool_calls=True),
            Profile("openai"),  # structured calls only
            Profile(
                "llamacpp",
                parallel_tool_calls=True,
                # the stock template leaves fenced/bare JSON calls in content (cassettes,
                # tests/data/servers/llamaserver-*-stocktemplate-*)
                text_tool_calls=True,
                notes=(
                    "named tool_choice is served as auto",
                    "parallel_tool_calls defaults to false",
                ),
            ),
            # [TOOL_REQUEST]…[END_TOOL_REQUEST] in content (docs/provider-compatibility.md)
            Profile(
                "lmstudio",
                text_tool_calls=True,
                notes=("rejects empty tool-call ids (made unique by the SDK)",),
            ),
            # parses calls itself and sends whole structured calls per chunk
            Profile("ollama", notes=("swallows mid-stream errors: reported as truncation",)),
            # hermes parser misses calls written without <tool_call> (tests/data/servers/vllm-*)
            Profile(
                "vllm",
                text_tool_calls=True,
                notes=("auto tool choice needs --enable-auto-tool-choice",),
            ),
            # chatml-function-calling returns structured calls (recorded)
            Profile(
                "llamacpp-python",
                notes=(
                    "content:null with tool_calls in history gives HTTP 500",
                    "cuts a running stream when a second request arrives",
                ),
            ),
            # structured calls inside the finish chunk
            Profile("tgwui", notes=("whole tool calls arrive inside the finish chunk",)),
            # passes its backend's content through (recorded in front of llama-server)
            Profile(
                "litellm", text_tool_calls=True, notes=("repeats type on every tool-call fragment",)
            ),
            # calls come from a grammar, always structured
            Profile("tgi", notes=("never reports finish_reason tool_calls",)),
            # llama.cpp-based backends and vLLM-style parsers: unparsed calls stay in content
            Profile("localai", text_tool_calls=True),
            Profile("sglang", text_tool_calls=True),
            # Mistral templates' [TOOL_CALLS] reaches content when no parser takes it
            Profile("mistral", tool_call_ids="alnum9", text_tool_calls=True),
        )
    }
)


def profile_for(name: str | None) -> Profile:
    """The profile named ``name`` (``None`` → ``generic``); unknown names are an error."""
    if name is None:
        return PROFILES["generic"]
    key = name.strip().lower()
    if key not in PROFILES:
        raise ConfigurationError(
            f"unknown provider profile {name!r}; known: {', '.join(sorted(PROFILES))}"
        )
    return PROFILES[key]
