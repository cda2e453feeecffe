"""The words every part of the suite shares: layers, levels, outcomes, modes, the results
schema version and the model slug that names files and columns. Imports nothing of the suite.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Literal

__all__ = [
    "LAYERS",
    "LEVELS",
    "NOT_COUNTED",
    "OUTCOMES",
    "OUTCOME_MEANING",
    "PASSING",
    "SCHEMA_VERSION",
    "Layer",
    "Level",
    "Mode",
    "Outcome",
    "model_slug",
    "version_tuple",
]

SCHEMA_VERSION = 1

Outcome = Literal[
    "pass",
    "warn",
    "fail",
    "flaky",
    "unsupported",
    "n/a",
    "xfail",
    "error",
    "not-run",
    "not-recorded",
    "not-offered",
]
Level = Literal["MUST", "SHOULD", "MAY"]
Layer = Literal["wire", "sdk"]
Mode = Literal["live", "record", "replay"]

#: Every outcome, most to least favourable for a reader skimming a column.
OUTCOMES: tuple[Outcome, ...] = (
    "pass",
    "warn",
    "fail",
    "xfail",
    "flaky",
    "unsupported",
    "n/a",
    "error",
    "not-run",
    "not-recorded",
    "not-offered",
)
#: Outcomes that count as passing in summaries (the matrix's meters, the verdict words).
PASSING = frozenset({"pass", "warn"})
#: Outcomes left out of pass/total counts.
NOT_COUNTED = frozenset({"n/a", "not-run", "not-recorded", "not-offered"})

OUTCOME_MEANING: Mapping[str, str] = {
    "pass": "the requirement holds",
    "warn": "it holds, with a deviation worth knowing (pass with warnings)",
    "fail": "the requirement does not hold",
    "xfail": "a known failure the provider profile lists, with a reason and a link",
    "flaky": "failed on some tries and held on others in one live run (the counts are in the "
    "message); depends on chance, e.g. the server's prompt cache",
    "unsupported": "the provider profile declares the capability absent; not run",
    "n/a": "the check does not apply to this server or model",
    "error": "the harness could not judge (infrastructure, missing or unused cassette)",
    "not-run": "not run in this mode (a live-only check during replay, without a recorded fact)",
    "not-recorded": "the replayed recording predates the check (made by an older suite): the "
    "message gives the command that records it",
    "not-offered": "the server does not serve the endpoint the check needs (HTTP 404 or 405): "
    "an API it does not offer, not a failure of one it does",
}
LEVELS: tuple[Level, ...] = ("MUST", "SHOULD", "MAY")
LAYERS: tuple[Layer, ...] = ("wire", "sdk")


_SLUG_BAD = re.compile(r"[^a-z0-9._-]+")


def model_slug(model: str) -> str:
    """A file-name-safe, stable slug: ``Qwen/Qwen2.5-1.5B`` → ``qwen-qwen2.5-1.5b``.

    A model given as a filesystem path (``transformers serve`` names models by path) is
    reduced to its last component, so no local path ends up in a file name.
    """
    text = model.strip().rstrip("/")
    if text.startswith(("/", "~", ".")) or re.match(r"^[A-Za-z]:[\\/]", text):
        text = re.split(r"[\\/]", text)[-1]
    slug = re.sub(r"\.{2,}", ".", _SLUG_BAD.sub("-", text.lower())).strip("-.")
    return slug[:80] or "model"


def version_tuple(text: str) -> tuple[int, ...]:
    """A suite version as numbers, so versions compare in order: ``0.1.1`` → ``(0, 1, 1)``.
    A pre-release or build suffix is ignored, junk counts as 0, and trailing zeros are dropped
    (``0.2`` equals ``0.2.0``)."""
    parts = [
        int(p) if p.isascii() and p.isdigit() else 0 for p in re.split(r"[-+]", text)[0].split(".")
    ]
    while len(parts) > 1 and parts[-1] == 0:
        parts.pop()
    return tuple(parts)
