"""The items a session runs, in the order a serial run runs them: columns in order, each
column's checks with ``timeout.cold-start`` first, then layers. The plugin collects from it
and, under pytest-xdist, the controller (which collects nothing) counts and orders with it.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from .catalogue.checks import Check
from .harness.runner import Column, recording_predates
from .settings import Settings
from .vocabulary import Layer

__all__ = ["planned_items"]


def planned_items(s: Settings, columns: Sequence[Column]) -> Iterator[tuple[Column, Check, Layer]]:
    """Every (column, check, layer) the session runs."""
    ordered = sorted(s.checks, key=lambda c: c.id != "timeout.cold-start")
    for column in columns:
        expected = column.manifest.expected
        recorded_only = s.mode == "replay" and not s.explicit_checks and bool(expected)
        for check in ordered:
            for layer in check.layers:
                if layer not in s.layers:
                    continue
                if (
                    recorded_only
                    and f"{check.id}[{layer}]" not in expected
                    and not recording_predates(column, check, layer)
                ):
                    continue  # replay what was recorded unless --checks says more; a check
                    # newer than the recording is shown as not-recorded, not left out
                yield column, check, layer
