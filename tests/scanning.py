"""Test helper shared by the decoder and text-scanner tests."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from any_agent._wire.textscan import TextScanner

WEATHER = frozenset({"get_weather"})


def scan(parts: Iterable[str], tools: Iterable[str] = WEATHER, **kw: Any) -> list[tuple[str, Any]]:
    """TextScanner output with adjacent text/thinking pieces merged."""
    scanner = TextScanner(frozenset(tools), **kw)
    out: list[tuple[str, Any]] = []
    for part in parts:
        out += scanner.feed(part)
    out += scanner.close()
    merged: list[tuple[str, Any]] = []
    for kind, value in out:
        if merged and kind == merged[-1][0] and kind != "call":
            merged[-1] = (kind, merged[-1][1] + value)
        else:
            merged.append((kind, value))
    return merged
