"""Check implementations, one module per area; importing this registers them all."""

from __future__ import annotations

from . import context, errors, multiturn, params, reasoning, streaming, timeouts, tools

__all__ = [
    "context",
    "errors",
    "multiturn",
    "params",
    "reasoning",
    "streaming",
    "timeouts",
    "tools",
]
