"""``python -m bench [--quick] [--out DIR]``: run the benchmark, write ``DIR/performance.md``,
``DIR/performance.png`` and the raw results as JSON (``--json``).

Full mode takes about 6-8 minutes on 2 cores; ``--quick`` is a smoke run of well under a
minute with small sizes. ``--only`` runs some sections (single, aggregation, concurrency,
requests, overhead, replay, memory, scanning). ``--render JSON`` measures nothing and writes
the report again from the raw results of an earlier run (after editing ``bench/history.md`` or
the report's layout).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import importlib.metadata
import json
import os
import platform
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .aggregate import run_aggregation
from .concurrency import run_concurrency
from .memory import run_memory
from .overhead import run_discovery, run_guard, run_slots
from .replay import run_replay
from .report import evaluate_goals, write_chart, write_markdown
from .requests import run_connections, run_imports, run_ttfc
from .scanning import run_scanning
from .server import ServerProcess
from .single import run_single, server_speed
from .streams import StreamSpec

ROOT = Path(__file__).resolve().parent.parent
SECTIONS = (
    "single",
    "aggregation",
    "concurrency",
    "requests",
    "overhead",
    "replay",
    "memory",
    "scanning",
)


@dataclass
class Config:
    quick: bool
    sizes: list[int]
    reps: dict[int, int]
    methods: list[str] = field(
        default_factory=lambda: [
            "raw",
            "hand",
            "openai_create",
            "openai_stream",
            "query",
            "query_partial",
            "decoder",
        ]
    )
    agg_mb: list[float] = field(default_factory=lambda: [1.0, 2.0, 4.0, 10.0])
    agg_reps: int = 3
    streams: int = 200
    stream_n: int = 1000
    conc_clients: list[str] = field(default_factory=lambda: ["query", "hand", "openai_create"])
    ttfc_requests: int = 100
    connection_requests: int = 50
    import_reps: int = 5
    memory_limit: int = 64 * 1024 * 1024  # bytes; payloads are 4× (plain) and 16× (gzip) it
    scan_kb: list[int] = field(default_factory=lambda: [256, 512, 1024, 2048])
    scan_reps: int = 3
    # overhead: the context guard, window discovery and the slot limiter, each vs off
    guard_n: int = 10_000
    guard_reps: int = 9
    guard_turns: int = 20
    guard_turn_reps: int = 7
    discovery_reps: int = 15
    slot_streams: int = 100
    slot_n: int = 1000
    slot_pacing: tuple[int, int] = (40, 10)  # events per burst, ms of silence after it
    slot_reps: int = 5

    @classmethod
    def full(cls) -> Config:
        return cls(False, [10_000, 100_000], {10_000: 5, 100_000: 3})

    @classmethod
    def smoke(cls) -> Config:
        return cls(
            True,
            [2_000],
            {2_000: 2},
            agg_mb=[0.1, 0.2, 0.4, 1.0],
            agg_reps=1,
            streams=20,
            stream_n=100,
            conc_clients=["query", "hand"],
            ttfc_requests=10,
            connection_requests=10,
            import_reps=1,
            memory_limit=8 * 1024 * 1024,
            scan_kb=[32, 64, 128],
            scan_reps=1,
            guard_n=2000,
            guard_reps=5,
            guard_turns=10,
            guard_turn_reps=3,
            discovery_reps=3,
            slot_streams=20,
            slot_n=500,
            slot_pacing=(20, 10),
            slot_reps=5,
        )


def _log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def _meta(quick: bool) -> dict[str, Any]:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = 0.0
    with contextlib.suppress(ValueError, OSError, AttributeError):
        mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    versions = {}
    for dist in ("openai", "httpx2", "httpcore2", "h11", "orjson", "pydantic"):
        with contextlib.suppress(importlib.metadata.PackageNotFoundError):
            versions[dist] = importlib.metadata.version(dist)
    try:
        sha = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--", "any_agent"],
            cwd=ROOT,
            capture_output=True,
            text=True,
        ).stdout.strip()
        commit = (sha or "unknown") + (" (with uncommitted changes in any_agent/)" if dirty else "")
    except OSError:
        commit = "unknown"
    return {
        "date": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "quick": quick,
        "cpu": cpu,
        "cores": os.cpu_count() or 0,
        "memory_gb": mem,
        "platform": platform.platform(terse=True),
        "python": platform.python_version(),
        "versions": versions,
        "commit": commit,
        "load_start": os.getloadavg()[0],
    }


async def _run(cfg: Config, sections: set[str], res: dict[str, Any]) -> None:
    with ServerProcess() as server:
        if "single" in sections:
            _log("server check")
            n = 10_000 if cfg.quick else 100_000
            res["server"] = server_speed(server, StreamSpec("text", n))
            _log("single-stream methods")
            res["single"] = await run_single(server, cfg.sizes, cfg.reps, cfg.methods)
        if "concurrency" in sections:
            _log(f"concurrency: {cfg.streams} paced streams × {cfg.stream_n}")
            res["concurrency"] = await run_concurrency(
                server, cfg.conc_clients, cfg.streams, cfg.stream_n, 5, 50
            )
        if "requests" in sections:
            _log("per-request: TTFC, connections")
            methods = ["hand", "openai_create", "client", "query"]
            res["ttfc"] = await run_ttfc(server, methods, cfg.ttfc_requests)
            res["connections"] = await run_connections(server, methods, cfg.connection_requests)
        if "overhead" in sections:
            _log("overhead: the context guard, window discovery, the slot limiter")
            res["guard"] = await run_guard(
                server, cfg.guard_n, cfg.guard_reps, cfg.guard_turns, cfg.guard_turn_reps
            )
            res["discovery"] = await run_discovery(server, cfg.discovery_reps)
            every, pause = cfg.slot_pacing
            res["slots"] = await run_slots(
                server, cfg.slot_streams, cfg.slot_n, every, pause, cfg.slot_reps
            )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    ap.add_argument("--quick", action="store_true", help="small sizes: a smoke run")
    ap.add_argument("--out", type=Path, default=ROOT / "reports", help="report directory")
    ap.add_argument(
        "--json",
        type=Path,
        help="raw results (default: OUT/performance.json, or build/bench/ when OUT is reports/)",
    )
    ap.add_argument("--only", nargs="+", choices=SECTIONS, help="run only these sections")
    ap.add_argument(
        "--render",
        type=Path,
        metavar="JSON",
        help="measure nothing: write the report and chart again from these raw results",
    )
    a = ap.parse_args(argv)
    if a.render is not None:
        rendered: dict[str, Any] = json.loads(a.render.read_text())
        a.out.mkdir(parents=True, exist_ok=True)
        write_chart(rendered, a.out / "performance.png")
        write_markdown(rendered, a.out / "performance.md")
        _log(f"wrote {a.out / 'performance.md'} from {a.render}")
        return 0
    cfg = Config.smoke() if a.quick else Config.full()
    sections = set(a.only or SECTIONS)
    a.out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    res: dict[str, Any] = {"meta": _meta(cfg.quick)}
    asyncio.run(_run(cfg, sections, res))
    if "aggregation" in sections:
        _log("aggregation")
        res["aggregation"] = run_aggregation(cfg.agg_mb, 100, cfg.agg_reps)
    if "requests" in sections:
        _log("imports")
        res["imports"] = run_imports(cfg.import_reps)
    if "memory" in sections:
        _log(f"memory vs hostile payloads (limit {cfg.memory_limit // 2**20} MiB)")
        res["memory"] = run_memory(cfg.memory_limit)
    if "scanning" in sections:
        _log("worst-case text scanning")
        res["scanning"] = run_scanning(cfg.scan_kb, cfg.scan_reps)
    if "replay" in sections:
        _log("conformance replay")
        res["replay"] = run_replay(ROOT, run=not cfg.quick)
    res["meta"].update(load_end=os.getloadavg()[0], duration_s=time.perf_counter() - t0)
    res["goals"] = evaluate_goals(res)
    raw = a.json or (
        ROOT / "build" / "bench" / "performance.json"
        if a.out.resolve() == (ROOT / "reports").resolve()
        else a.out / "performance.json"
    )
    why = write_chart(res, a.out / "performance.png")
    if why:
        res["meta"]["chart"] = why
        _log(f"no chart: {why}")
    raw.parent.mkdir(parents=True, exist_ok=True)
    raw.write_text(json.dumps(res, indent=1, default=str) + "\n")
    write_markdown(res, a.out / "performance.md")
    for g in res["goals"]:
        _log(f"{g['result']:4}  {g['goal']}: {g['measured']} (target {g['target']})")
    _log(f"wrote {a.out / 'performance.md'} in {time.perf_counter() - t0:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
