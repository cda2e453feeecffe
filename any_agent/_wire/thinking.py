"""Thinking control: ``AgentOptions.thinking`` / ``effort`` (claude-agent-sdk's names) → the
request fields a server takes, read from its :class:`~.servers.Profile`.

Checked once, when the options are built: a bad value, or a control the server has no field
for, is a :class:`~any_agent.errors.ConfigurationError` naming the option (never a control
silently dropped). The fields are merged into the body before ``extra_body``, whose keys
win (``chat_template_kwargs`` key by key).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..errors import ConfigurationError
from .servers import Profile

__all__ = ["EFFORTS", "MAX_BUDGET", "THINKING_TYPES", "merge_fields", "thinking_fields"]

EFFORTS = ("low", "medium", "high")
THINKING_TYPES = ("enabled", "disabled", "adaptive")
_THINKING_KEYS = ("type", "budget_tokens")
#: the largest budget every server reads exactly (llama-server keeps it in a C int)
MAX_BUDGET = 2**31 - 1


def _check(thinking: Any, effort: Any) -> tuple[str | None, int | None]:
    """(thinking type, budget) from the options; ConfigurationError naming a bad value."""
    if effort is not None and effort not in EFFORTS:
        raise ConfigurationError(f"effort must be 'low', 'medium', 'high' or None, got {effort!r}")
    if thinking is None:
        return None, None
    if not isinstance(thinking, Mapping):
        raise ConfigurationError(
            'thinking must be a dict like {"type": "enabled", "budget_tokens": 1024} or None, '
            f"got {type(thinking).__name__}"
        )
    unknown = sorted(str(k) for k in thinking if k not in _THINKING_KEYS)
    if unknown:
        raise ConfigurationError(
            f"thinking has unknown key {unknown[0]!r}; it takes 'type' and 'budget_tokens'"
        )
    kind = thinking.get("type")
    if kind not in THINKING_TYPES:
        raise ConfigurationError(
            f"thinking['type'] must be 'enabled', 'disabled' or 'adaptive', got {kind!r}"
        )
    budget = thinking.get("budget_tokens")
    if budget is not None:
        if isinstance(budget, bool) or not isinstance(budget, int) or budget < 1:
            raise ConfigurationError(
                "thinking['budget_tokens'] must be a positive int (tokens of thinking; "
                f"to turn thinking off use type 'disabled'), got {budget!r}"
            )
        if budget > MAX_BUDGET:
            # llama-server reads it into a C int: a wider value is cut (2**32 to 0)
            raise ConfigurationError(
                f"thinking['budget_tokens'] must be at most {MAX_BUDGET} (a 32-bit count of "
                f"tokens, as servers read it), got {budget!r}"
            )
        if kind != "enabled":
            raise ConfigurationError(
                f"thinking['budget_tokens'] needs type 'enabled', got type {kind!r}"
            )
    if kind == "disabled" and effort is not None:
        raise ConfigurationError(
            f"effort={effort!r} with thinking type 'disabled': an effort is for thinking; "
            "drop one of them"
        )
    return kind, budget


def thinking_fields(thinking: Any, effort: Any, profile: Profile) -> dict[str, Any]:
    """The request fields for ``thinking`` and ``effort`` on a server with ``profile``.

    ``{"type": "adaptive"}`` sends nothing of its own (the model decides, the server's
    default). Raises ConfigurationError for a bad value or a control the server has no
    field for."""
    kind, budget = _check(thinking, effort)
    fields: dict[str, Any] = {}
    where = f"provider {profile.name!r}"
    if effort is not None:
        if not profile.reasoning_effort:
            raise ConfigurationError(
                f"effort: {where} has no reasoning_effort field; set it in extra_body if "
                "your server takes one"
            )
        fields["reasoning_effort"] = effort
    if kind in ("enabled", "disabled"):
        on = kind == "enabled"
        switch = profile.thinking_switch
        if switch == "chat_template_kwargs":
            fields["chat_template_kwargs"] = {"enable_thinking": on}
        elif switch == "reasoning_effort" and not on:
            fields["reasoning_effort"] = "none"
        elif switch == "reasoning_effort":
            # Ollama thinks by default for a thinking model; "enabled" needs no field
            pass
        else:
            raise ConfigurationError(
                f"thinking: {where} has no way to turn thinking {'on' if on else 'off'} per "
                "request; set the server's own field in extra_body"
            )
    if budget is not None:
        if profile.thinking_budget_field is None:
            raise ConfigurationError(
                f"thinking['budget_tokens']: {where} takes no thinking budget per request "
                "(llama.cpp and vLLM do: provider='llamacpp' or 'vllm')"
            )
        fields[profile.thinking_budget_field] = budget
    return fields


def merge_fields(body: dict[str, Any], fields: Mapping[str, Any], extra: Mapping[str, Any]) -> None:
    """Put ``fields`` into ``body``, then ``extra`` (extra_body) over them: a key the user set
    wins, except that ``chat_template_kwargs`` is merged key by key (user's keys winning)."""
    body.update(fields)
    for key, value in extra.items():
        mine = body.get(key)
        if (
            key == "chat_template_kwargs"
            and isinstance(mine, Mapping)
            and isinstance(value, Mapping)
        ):
            body[key] = {**mine, **value}
        else:
            body[key] = value
