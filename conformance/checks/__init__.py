"""Check implementations, one module per area; importing this registers them all."""

from __future__ import annotations

from . import errors, messages, multiturn, params, reasoning, responses, streaming, timeouts, tools

__all__ = [
    "errors",
    "messages",
    "multiturn",
    "params",
    "reasoning",
    "responses",
    "streaming",
    "timeouts",
    "tools",
]
