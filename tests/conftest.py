"""Shared fixtures. ``sse_server`` is a scripted OpenAI-compatible server on 127.0.0.1
(see :mod:`tests.sse_server`); it runs in its own thread, so sync and async tests can use it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sse_server import Scenario, SSEServer


@pytest.fixture
def sse_server() -> Iterator[SSEServer]:
    """A fresh server per test; ``sse_server.url`` is the base URL (``.../v1``)."""
    server = SSEServer().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def script(sse_server: SSEServer) -> Scenario:
    """The server's reply queue: ``script.stream(...)``, ``script.json(...)``, ..."""
    return sse_server.script


#: Modules whose tests each run whole pytest sessions, a build or the benchmark. They start
#: first: started last, as their names sort, one worker ran them alone long after the other
#: had finished.
START_FIRST = (
    "test_xdist_certify.py",
    "test_packaging.py",
    "test_conformance_cassettes.py",
    "test_bench_smoke.py",
    "test_replay_clean.py",
)
#: Modules whose tests judge one module-scoped run between them: xdist sends each such module
#: to one worker whole, so that run happens once (every other test goes wherever is free).
SHARED_RUN = ("test_bench_smoke.py", "test_replay_clean.py")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Put the :data:`START_FIRST` modules' tests first, each module's order kept."""
    rank = {name: i for i, name in enumerate(START_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """Under ``-n N`` with xdist's default ``--dist load``: one scope per test, except the
    :data:`SHARED_RUN` modules, one scope each. (``--dist loadgroup`` would say this with
    marks, but xdist 3.8's groups are lost under pytest 9.2: see conformance/distributed.py.)
    A conformance session (the plugin's own ``loadscope``, one column per worker) and any
    other mode the user asks for keep xdist's scheduler."""
    if config.option.dist != "load":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class SharedRunModulesTogether(LoadScopeScheduling):  # type: ignore[misc]
        def _split_scope(self, nodeid: str) -> str:
            module = nodeid.split("::", 1)[0]
            return module if Path(module).name in SHARED_RUN else nodeid

    return SharedRunModulesTogether(config, log)
