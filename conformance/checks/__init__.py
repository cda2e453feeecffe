"""Check implementations, one module per area; importing this registers them all."""

from __future__ import annotations

from . import errors, multiturn, params, reasoning, streaming, timeouts, tools, vision

__all__ = ["errors", "multiturn", "params", "reasoning", "streaming", "timeouts", "tools", "vision"]
