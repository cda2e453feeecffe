"""The items a session runs: :func:`planned_items` in catalogue order (columns in order, each
column's checks with ``timeout.cold-start`` first, then layers), which is the order results,
reports and manifests keep; and :func:`run_order`, the order a live or record run sends them
in, with the checks whose requests share a long prompt prefix next to each other
(:data:`RUN_GROUPS`). The plugin collects in run order; under pytest-xdist the controller
(which collects nothing) counts with :func:`planned_items`, and results are put back in its
order before anything is written (:func:`in_catalogue_order`).
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterator, Sequence

from .catalogue.checks import Check
from .harness.runner import Column, recording_predates
from .settings import Settings
from .vocabulary import Layer

__all__ = ["RUN_GROUPS", "group_rank", "in_catalogue_order", "planned_items", "run_order"]

#: Checks whose requests open with the same long prompt prefix, in the order they run. A
#: llama-server with one slot keeps the last prompt's KV cache and reuses the longest prefix
#: a new prompt shares with it, so a check run right after one with the same system message
#: and tools prefills only what follows them. Each group runs where its first member comes in
#: catalogue order; a check in no group keeps its place. Globs, matched against check ids.
#: Only the order changes: every check sends the same requests and is judged the same way.
RUN_GROUPS: tuple[tuple[str, ...], ...] = (
    # The system prompt and get_weather (~200 tokens with the template's tool preamble):
    # the tools area, the multi-turn tool histories, and the other areas' calls of it
    # (structured output beside it, control tokens in its result, the Messages and
    # Responses APIs' tool turns, which llama-server renders through the same template).
    # Then the checks that offer get_weather first and more tools after it.
    (
        "tools.accepted",
        "tools.call-shape",
        "tools.args-schema",
        "tools.finish-reason",
        "tools.stream.*",
        "tools.parallel",
        "tools.choice-required",
        "tools.choice-none",
        "tools.no-markup-in-content",
        "tools.ids-unique",
        "tools.args-unicode",
        "tools.parallel-false",
        "tools.reasoning-then-call",
        "tools.repeated-runs",
        "multiturn.tool-result-roundtrip",
        "multiturn.agent-loop",
        "multiturn.assistant-content-*",
        "multiturn.tool-call-id-formats",
        "multiturn.replayed-arguments",
        "reasoning.interleaved-accepted",
        "structured.json-schema-with-tools",
        "security.special-tokens-tool",
        "messages.tool-use",
        "messages.stream.tool-use",
        "messages.tool-result",
        "responses.function-call",
        "responses.function-call-stream",
        "responses.input-items-roundtrip",
        "tools.choice-named",
        "tools.no-needless-call",
        "tools.choice-among-several",
    ),
)


def group_rank(check_id: str) -> tuple[int, int] | None:
    """``(group, place in it)`` of a check in :data:`RUN_GROUPS`, or None."""
    for g, members in enumerate(RUN_GROUPS):
        for place, pattern in enumerate(members):
            if fnmatch.fnmatchcase(check_id, pattern):
                return g, place
    return None


def planned_items(s: Settings, columns: Sequence[Column]) -> Iterator[tuple[Column, Check, Layer]]:
    """Every (column, check, layer) the session runs, in catalogue order."""
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


def run_order(s: Settings, columns: Sequence[Column]) -> list[tuple[Column, Check, Layer]]:
    """The planned items in the order they are sent: live and record runs keep each
    :data:`RUN_GROUPS` group together (``--run-order catalogue`` does not); a replay, which
    asks no server, keeps catalogue order."""
    items = list(planned_items(s, columns))
    if s.mode == "replay" or s.run_order == "catalogue":
        return items
    column_index = {id(c): i for i, c in enumerate(columns)}
    keys: list[tuple[int, int, int, int]] = []
    first_of_group: dict[tuple[int, int], int] = {}
    for i, (column, check, _layer) in enumerate(items):
        col, rank = column_index[id(column)], group_rank(check.id)
        if rank is None:
            keys.append((col, i, 0, i))
        else:
            # a group runs where its first member comes, its members in the group's order
            first = first_of_group.setdefault((col, rank[0]), i)
            keys.append((col, first, rank[1] + 1, i))
    return [items[i] for i in sorted(range(len(items)), key=keys.__getitem__)]


def in_catalogue_order(s: Settings, columns: Sequence[Column]) -> None:
    """Sort each column's results into :func:`planned_items` order (they ran in run order,
    or, under pytest-xdist or ``--concurrency``, in whatever order they finished)."""
    order = {
        (c.target.column, f"{check.id}[{layer}]"): i
        for i, (c, check, layer) in enumerate(planned_items(s, columns))
    }
    for column in columns:
        name = column.target.column
        column.results.sort(key=lambda r: order.get((name, r.key), len(order)))
