"""Check implementations, one module per area; importing this registers them all."""

from __future__ import annotations

from . import cache, context, errors, multiturn, params, reasoning, streaming, timeouts, tools

__all__ = [
    "cache",
    "context",
    "errors",
    "multiturn",
    "params",
    "reasoning",
    "streaming",
    "timeouts",
    "tools",
]
