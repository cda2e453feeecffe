"""Check implementations, one module per area; importing this registers them all."""

from __future__ import annotations

from . import (
    cache,
    context,
    errors,
    messages,
    multiturn,
    params,
    reasoning,
    responses,
    security,
    streaming,
    structured,
    timeouts,
    tools,
    vision,
)

__all__ = [
    "cache",
    "context",
    "errors",
    "messages",
    "multiturn",
    "params",
    "reasoning",
    "responses",
    "security",
    "streaming",
    "structured",
    "timeouts",
    "tools",
    "vision",
]
