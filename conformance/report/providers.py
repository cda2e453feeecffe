"""The systems the matrix always shows, recorded or not, and how to record each one."""

from __future__ import annotations

from dataclasses import dataclass

from any_agent._wire.servers import SERVERS

__all__ = [
    "SEED_PROVIDERS",
    "SeedProvider",
    "display_name",
    "family",
    "make_command",
    "record_command",
]


@dataclass(frozen=True)
class SeedProvider:
    id: str
    name: str
    #: The provider has no default address, so the command must name one.
    needs_base_url: bool = False


#: Every system the project sets out to certify, in display order.
#: (Group names, not server titles: a group holds every configuration of one system.)
SEED_PROVIDERS: tuple[SeedProvider, ...] = (
    SeedProvider("lmstudio", "LM Studio"),
    SeedProvider("ollama", "Ollama"),
    SeedProvider("llamacpp", "llama.cpp"),
    SeedProvider("vllm", "vLLM"),
    SeedProvider("tgwui", "text-generation-webui"),
    SeedProvider("generic", "Generic OpenAI-compatible", needs_base_url=True),
    SeedProvider("litellm", "Local gateway (LiteLLM)"),
)

_BY_ID = {p.id: p for p in SEED_PROVIDERS}
#: Names for providers that may show up in results without being seed columns.
_EXTRA_NAMES = {
    "llamacpp-python": "llama-cpp-python",
    "transformers": "transformers serve",
    "openai": "OpenAI",
    "tgi": "Text Generation Inference",
    "localai": "LocalAI",
    "sglang": "SGLang",
    "mistral": "Mistral",
}


def family(provider: str) -> str:
    """The seed system a provider profile belongs to (itself when it is not a variant): the
    server table's ``family``, so a second configuration fills its system's column group."""
    known = SERVERS.get(provider)
    return known.family if known is not None else provider


def display_name(provider: str) -> str:
    seed = _BY_ID.get(family(provider))
    if seed is not None:
        return seed.name
    return _EXTRA_NAMES.get(provider, provider)


def _needs_base_url(provider: str) -> bool:
    seed = _BY_ID.get(provider)
    return seed.needs_base_url if seed is not None else False


def _known(provider: str) -> str | None:
    """``provider`` when it names a profile the suite ships (result files are contributed
    input: their provider string never becomes part of a command verbatim)."""
    from conformance.catalogue.profiles import PROFILES

    return provider if provider in PROFILES or provider in _BY_ID else None


def record_command(provider: str) -> str:
    """The pytest command a user runs to record ``provider`` (composed from known parts)."""
    known = _known(provider)
    if known is None:
        return "pytest --base-url <base-url> --model <model> --conformance-mode record"
    base = " --base-url <base-url>" if _needs_base_url(known) else ""
    return f"pytest --provider={known}{base} --model <model> --conformance-mode record"


def make_command(provider: str) -> str:
    """The same through the Makefile."""
    known = _known(provider)
    if known is None:
        return "make record PROVIDER=generic BASE_URL=<base-url> MODEL=<model>"
    base = " BASE_URL=<base-url>" if _needs_base_url(known) else ""
    return f"make record PROVIDER={known}{base} MODEL=<model>"
