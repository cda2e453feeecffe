"""Per-request costs: time to first chunk on a warm client, TCP connections opened by
sequential requests (counted by the server's accept counter), and import time in a fresh
interpreter.
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from .consumers import Clients, Outcome, agent_options, c_hand, c_openai_create, c_query_partial
from .server import ServerProcess
from .streams import StreamSpec

__all__ = ["run_connections", "run_imports", "run_ttfc"]

SMALL = StreamSpec("text", 5)
Request = Callable[[], Awaitable[float]]  # one request; returns its time to first chunk


class _AgentClient:
    """One any_agent ``Client`` reused for sequential turns (include_partial_messages on)."""

    def __init__(self, base_url: str) -> None:
        from any_agent import Client

        self.client = Client(agent_options(base_url, SMALL, partial=True))

    async def turn(self) -> float:
        from any_agent import ResultMessage, StreamEvent

        t0 = time.perf_counter()
        t_first = None
        await self.client.query("go")
        result = None
        async for msg in self.client.receive_response():
            if t_first is None and isinstance(msg, StreamEvent):
                t_first = time.perf_counter()
            elif isinstance(msg, ResultMessage):
                result = msg
        if result is None or result.is_error or t_first is None:
            raise AssertionError(f"Client turn failed: {result!r}")
        return t_first - t0

    async def aclose(self) -> None:
        await self.client.close()


def _first(out: Outcome, t0: float) -> float:
    if out.t_first is None:
        raise AssertionError("no chunk arrived")
    return out.t_first - t0


@asynccontextmanager
async def _method(name: str, base_url: str) -> AsyncIterator[Request]:
    """A fresh client for ``name``; yields a function making one request through it."""
    if name == "client":
        agent = _AgentClient(base_url)
        try:
            yield agent.turn
        finally:
            await agent.aclose()
        return
    cl = Clients(base_url)
    fn = {"hand": c_hand, "openai_create": c_openai_create, "query": c_query_partial}[name]

    async def one() -> float:
        t0 = time.perf_counter()
        return _first(await fn(cl, SMALL), t0)

    try:
        yield one
    finally:
        await cl.aclose()


LABELS = {
    "hand": "hand parser, warm httpx2 client",
    "openai_create": "AsyncOpenAI create(stream=True), warm client",
    "client": "any_agent Client, one turn per request",
    "query": "any_agent.query(), one call per request",
}


async def run_ttfc(
    server: ServerProcess, methods: list[str], requests: int
) -> list[dict[str, Any]]:
    """Warm TTFC: each method gets a fresh client, one untimed request, then ``per_client``
    timed ones; methods take turns in rounds so that drift hits all of them alike."""
    server.prepare([SMALL])
    per_client = 10
    samples: dict[str, list[float]] = {m: [] for m in methods}
    errors: dict[str, str] = {}
    for _ in range(max(1, requests // per_client)):
        for m in methods:
            if m in errors:
                continue
            try:
                async with _method(m, server.base_url) as one:
                    await one()
                    for _ in range(per_client):
                        samples[m].append(await one())
            except Exception as exc:  # reported, not fatal
                errors[m] = f"{type(exc).__name__}: {exc}"[:300]
    rows = []
    for m in methods:
        xs = sorted(samples[m])
        row: dict[str, Any] = {"method": m, "requests": len(xs)}
        if xs:
            row["ttfc_ms_p50"] = statistics.median(xs) * 1e3
            row["ttfc_ms_p90"] = xs[min(len(xs) - 1, int(0.9 * len(xs)))] * 1e3
        if m in errors:
            row["error"] = errors[m]
        rows.append(row)
    return rows


async def run_connections(
    server: ServerProcess, methods: list[str], count: int = 50
) -> list[dict[str, Any]]:
    """TCP connections the server accepted during ``count`` sequential requests, each
    method starting from a fresh client (so the first request must connect)."""
    server.prepare([SMALL])
    rows = []
    for m in methods:
        row: dict[str, Any] = {"method": m, "requests": count}
        try:
            async with _method(m, server.base_url) as one:
                server.reset()
                for _ in range(count):
                    await one()
                opened = server.stats()["connections"] - 1  # less the /stats request's own
            row.update(connections=opened, after_first=max(0, opened - 1))
        except Exception as exc:  # reported, not fatal
            row["error"] = f"{type(exc).__name__}: {exc}"[:300]
        rows.append(row)
    return rows


_IMPORTS = {
    "import any_agent": "import any_agent",
    "import any_agent; any_agent.query": "import any_agent; any_agent.query",
    "import openai (reference)": "import openai",
    "import httpx2 (reference)": "import httpx2",
}
_SNIPPET = "import time; t0 = time.perf_counter(); {stmt}; print(time.perf_counter() - t0)"


def run_imports(reps: int) -> list[dict[str, Any]]:
    """Median import time per statement, each in a fresh interpreter (bytecode already
    cached: one untimed run first), statements interleaved."""
    root = str(Path(__file__).resolve().parent.parent)
    env = {**os.environ, "PYTHONPATH": root + os.pathsep + os.environ.get("PYTHONPATH", "")}
    samples: dict[str, list[float]] = {k: [] for k in _IMPORTS}
    errors: dict[str, str] = {}
    for rep in range(reps + 1):
        for label, stmt in _IMPORTS.items():
            if label in errors:
                continue
            p = subprocess.run(
                [sys.executable, "-c", _SNIPPET.format(stmt=stmt)],
                cwd=root,
                env=env,
                capture_output=True,
                text=True,
                timeout=120,
            )
            if p.returncode != 0:
                errors[label] = (p.stderr.strip().splitlines() or ["failed"])[-1][:300]
            elif rep:
                samples[label].append(float(p.stdout.strip().splitlines()[-1]))
    rows = []
    for label in _IMPORTS:
        row: dict[str, Any] = {"statement": label, "reps": len(samples[label])}
        if samples[label]:
            row["ms"] = statistics.median(samples[label]) * 1e3
        if label in errors:
            row["error"] = errors[label]
        rows.append(row)
    return rows


def _selftest() -> None:  # pragma: no cover - manual use
    async def go() -> None:
        with ServerProcess() as s:
            print(json.dumps(await run_ttfc(s, ["hand", "openai_create", "client", "query"], 40)))
            print(
                json.dumps(await run_connections(s, ["hand", "openai_create", "client", "query"]))
            )
        print(json.dumps(run_imports(2)))

    asyncio.run(go())


if __name__ == "__main__":
    _selftest()
