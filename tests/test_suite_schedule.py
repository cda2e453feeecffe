"""The modules tests/conftest.py schedules by file name exist: a renamed module would
otherwise drop out of START_FIRST or SHARED_RUN without a word, and the suite would run
slower (its heaviest module started last, or a shared run made twice)."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import SHARED_RUN, START_FIRST

TESTS = Path(__file__).resolve().parent


@pytest.mark.parametrize("name", sorted({*START_FIRST, *SHARED_RUN}))
def test_every_scheduled_module_exists(name: str) -> None:
    assert (TESTS / name).is_file(), f"tests/conftest.py names {name}, which is not in tests/"
