"""Check implementations, one module per area; importing this registers them all."""

from __future__ import annotations

from . import (
    errors,
    multiturn,
    params,
    reasoning,
    security,
    streaming,
    structured,
    timeouts,
    tools,
)

__all__ = [
    "errors",
    "multiturn",
    "params",
    "reasoning",
    "security",
    "streaming",
    "structured",
    "timeouts",
    "tools",
]
