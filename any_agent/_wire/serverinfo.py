"""What a server says about itself, read from its metadata endpoints (pure: bytes → facts).

Each endpoint a :class:`~any_agent._wire.servers.Profile` may list (``info_endpoints``) is
one :class:`Endpoint` here: how to ask (method, path, body) and how to read the answer. A
reader takes the parsed JSON and returns the facts it found; anything it does not recognise
is left unknown (``None``), never guessed. The shapes, per server:

* ``props`` — llama.cpp ``GET /props``: ``default_generation_settings.n_ctx`` (the window
  of one slot; older builds put ``n_ctx`` at the top), ``total_slots`` (``-np``),
  ``modalities.vision``, ``chat_template_caps.supports_tool_calls`` (tools/server/README.md).
* ``models`` — ``GET /v1/models``: vLLM and SGLang ``max_model_len`` per model; llama.cpp
  ``meta.n_ctx`` / ``meta.n_ctx_train`` and ``architecture.input_modalities`` (recorded in
  ``cassettes/llamacpp/*/models.list.yaml``); LM Studio's and Ollama's carry no window.
* ``lmstudio_models`` — LM Studio ``GET /api/v0/models``: ``max_context_length``,
  ``loaded_context_length`` (the window it was loaded with), ``type: "vlm"`` for vision,
  ``capabilities: ["tool_use"]`` (lmstudio.ai/docs/developer/rest/endpoints).
* ``ollama_show`` — Ollama ``POST /api/show {"model"}``: ``capabilities`` (``completion``,
  ``tools``, ``vision``, ``thinking``), ``parameters`` text (``num_ctx 8192``), and
  ``model_info["<arch>.context_length"]`` (trained) (docs.ollama.com/api/show).
* ``ollama_ps`` — Ollama ``GET /api/ps``: ``models[].context_length``, the window the loaded
  model really runs with (``OLLAMA_CONTEXT_LENGTH`` or ``num_ctx``), which ``/v1`` requests
  cannot change.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["ENDPOINTS", "Endpoint", "Facts", "count_tokens", "merge"]

#: what one endpoint told: keys are ServerInfo field names
Facts = dict[str, Any]

# an integer a server may sensibly report as a window or a slot count
_MAX_SANE = 1 << 31
_NUM_CTX = re.compile(r"^\s*num_ctx\s+(\d{1,10})\s*$", re.MULTILINE)


def _int(value: Any) -> int | None:
    """A positive int, or None (bools, floats, strings and absurd values are not counts)."""
    if isinstance(value, bool) or not isinstance(value, int):
        return None
    return value if 0 < value < _MAX_SANE else None


def _bool(value: Any) -> bool | None:
    return value if isinstance(value, bool) else None


def _entry_for(items: Any, model: str, *keys: str) -> Mapping[str, Any] | None:
    """The entry of ``items`` whose ``keys`` name ``model``; the only entry when there is one
    (llama-server serves one model under whatever name the request gives)."""
    if not isinstance(items, list):
        return None
    dicts = [m for m in items if isinstance(m, Mapping)]
    for m in dicts:
        if any(m.get(k) == model for k in keys):
            return m
    return dicts[0] if len(dicts) == 1 else None


def read_props(value: Any, model: str) -> Facts:
    """llama.cpp ``GET /props``."""
    if not isinstance(value, Mapping):
        return {}
    facts: Facts = {}
    settings = value.get("default_generation_settings")
    n_ctx = _int(settings.get("n_ctx")) if isinstance(settings, Mapping) else None
    facts["context_window"] = n_ctx or _int(value.get("n_ctx"))
    facts["total_slots"] = _int(value.get("total_slots"))
    modalities = value.get("modalities")
    if isinstance(modalities, Mapping):
        facts["vision"] = _bool(modalities.get("vision"))
    caps = value.get("chat_template_caps")
    if isinstance(caps, Mapping):
        facts["tools"] = _bool(caps.get("supports_tool_calls", caps.get("supports_tools")))
    return {k: v for k, v in facts.items() if v is not None}


def read_models(value: Any, model: str) -> Facts:
    """``GET /v1/models`` (vLLM, SGLang, llama.cpp metadata)."""
    if not isinstance(value, Mapping):
        return {}
    entry = _entry_for(value.get("data"), model, "id", "root")
    if entry is None:
        return {}
    facts: Facts = {"context_window": _int(entry.get("max_model_len"))}
    meta = entry.get("meta")
    if isinstance(meta, Mapping):
        facts["context_window"] = facts["context_window"] or _int(meta.get("n_ctx"))
        facts["trained_context"] = _int(meta.get("n_ctx_train"))
    arch = entry.get("architecture")
    if isinstance(arch, Mapping) and isinstance(arch.get("input_modalities"), list):
        facts["vision"] = "image" in arch["input_modalities"]
    return {k: v for k, v in facts.items() if v is not None}


def read_lmstudio(value: Any, model: str) -> Facts:
    """LM Studio ``GET /api/v0/models``."""
    if not isinstance(value, Mapping):
        return {}
    entry = _entry_for(value.get("data"), model, "id")
    if entry is None:
        return {}
    facts: Facts = {
        "context_window": _int(entry.get("loaded_context_length")),
        "trained_context": _int(entry.get("max_context_length")),
    }
    kind = entry.get("type")
    if isinstance(kind, str):
        facts["vision"] = kind == "vlm"
    caps = entry.get("capabilities")
    if isinstance(caps, list):
        facts["capabilities"] = tuple(str(c) for c in caps if isinstance(c, str))[:32]
        facts["tools"] = "tool_use" in caps
    return {k: v for k, v in facts.items() if v is not None}


def read_ollama_show(value: Any, model: str) -> Facts:
    """Ollama ``POST /api/show``."""
    if not isinstance(value, Mapping):
        return {}
    facts: Facts = {}
    caps = value.get("capabilities")
    if isinstance(caps, list):
        names = tuple(str(c) for c in caps if isinstance(c, str))[:32]
        facts["capabilities"] = names
        facts["vision"] = "vision" in names
        facts["tools"] = "tools" in names
        facts["reasoning"] = "thinking" in names
    params = value.get("parameters")
    if isinstance(params, str):
        found = _NUM_CTX.search(params[:65536])
        if found:
            facts["context_window"] = _int(int(found.group(1)))
    info = value.get("model_info")
    if isinstance(info, Mapping):
        arch = info.get("general.architecture")
        if isinstance(arch, str):
            facts["trained_context"] = _int(info.get(f"{arch}.context_length"))
    return {k: v for k, v in facts.items() if v is not None}


def read_ollama_ps(value: Any, model: str) -> Facts:
    """Ollama ``GET /api/ps`` (only a loaded model is listed)."""
    if not isinstance(value, Mapping):
        return {}
    items = value.get("models")
    if not isinstance(items, list):
        return {}
    for m in items:
        if isinstance(m, Mapping) and model in (m.get("name"), m.get("model")):
            window = _int(m.get("context_length"))
            return {"context_window": window} if window else {}
    return {}


@dataclass(frozen=True, slots=True)
class Endpoint:
    """How to ask one metadata endpoint and how to read its answer."""

    name: str
    method: str
    #: path below the server root (``/props``) or, with ``under_base``, below ``base_url``
    path: str
    read: Callable[[Any, str], Facts]
    under_base: bool = False
    #: the request sends ``{"model": <model>}``
    model_body: bool = False


ENDPOINTS: Mapping[str, Endpoint] = {
    e.name: e
    for e in (
        Endpoint("props", "GET", "/props", read_props),
        Endpoint("models", "GET", "/models", read_models, under_base=True),
        Endpoint("lmstudio_models", "GET", "/api/v0/models", read_lmstudio),
        Endpoint("ollama_show", "POST", "/api/show", read_ollama_show, model_body=True),
        Endpoint("ollama_ps", "GET", "/api/ps", read_ollama_ps),
    )
}


def merge(first: Facts, later: Facts) -> Facts:
    """``first`` with what ``later`` adds (an earlier endpoint in the Profile's list wins)."""
    return {**later, **first}


def count_tokens(value: Any) -> int | None:
    """The token count of a ``/tokenize`` answer: vLLM's ``count``, or the length of
    llama.cpp's (or vLLM's) ``tokens`` list; None for anything else."""
    if not isinstance(value, Mapping):
        return None
    count = value.get("count")
    if isinstance(count, int) and not isinstance(count, bool) and count >= 0:
        return count
    tokens = value.get("tokens")
    return len(tokens) if isinstance(tokens, list) else None
