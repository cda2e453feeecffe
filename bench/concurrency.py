"""Many paced streams through one process.

The server sends every stream in bursts of ``every`` events with ``pause_ms`` of silence
between bursts (5 events / 50 ms = 100 tokens/s), so the nominal wall time is the pacing
alone: ``(bursts - 1) * pause``. Timers overshoot a little, so the *ideal* used for the ratio
is the time one paced stream takes when a blocking socket reads it alone (never less than
the nominal time). A client that keeps up finishes close to it; one that cannot decode
20,000 chunks/s falls behind and finishes late.

Pool waits are read at the server: it counts the responses in flight at once. When that
peak equals the number of streams, no stream waited for a connection; a stream that did wait
shows up as a lower peak, or as a ``PoolTimeout`` error.
"""

from __future__ import annotations

import asyncio
import math
import socket
import statistics
import sys
import time
from collections import Counter
from typing import Any

from .consumers import Clients, Consumer, c_hand, c_openai_create, c_query_partial, verify
from .server import ServerProcess
from .streams import StreamSpec

__all__ = ["CLIENTS", "nominal_seconds", "run_concurrency", "socket_alone_seconds"]

# name -> (consumer, description)
CLIENTS: dict[str, tuple[Consumer, str]] = {
    "query": (c_query_partial, "any_agent.query() per stream, partial messages on"),
    "hand": (c_hand, "hand parser, one httpx2 client, unlimited pool"),
    "openai_create": (c_openai_create, "one AsyncOpenAI client (defaults), create(stream=True)"),
}


def nominal_seconds(spec: StreamSpec) -> float:
    events = spec.n + 3  # role, n deltas, finish, [DONE]
    return (math.ceil(events / spec.every) - 1) * spec.pause_ms / 1000


def _pct(xs: list[float], p: float) -> float | None:
    if not xs:
        return None
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(p / 100 * len(xs)))]


def socket_alone_seconds(server: ServerProcess, spec: StreamSpec) -> float:
    """One paced stream read by a blocking socket that parses nothing."""
    body = f'{{"model":"{spec}","messages":[],"stream":true}}'.encode()
    head = (
        b"POST /v1/chat/completions HTTP/1.1\r\nhost: bench\r\n"
        b"content-type: application/json\r\ncontent-length: %d\r\n"
        b"connection: close\r\n\r\n" % len(body)
    )
    with socket.create_connection((server.host, server.port)) as s:
        t0 = time.perf_counter()
        s.sendall(head + body)
        while s.recv(1 << 16):
            pass
        return time.perf_counter() - t0


async def _one_client(
    server: ServerProcess, name: str, streams: int, spec: StreamSpec, ideal: float
) -> dict[str, Any]:
    fn = CLIENTS[name][0]
    cl = Clients(server.base_url)
    errors: Counter[str] = Counter()
    ttfc: list[float] = []
    durations: list[float] = []
    chunks = 0
    try:
        await fn(cl, StreamSpec("text", 20))  # warm-up: imports and one connection
        server.reset()

        async def stream() -> None:
            nonlocal chunks
            t0 = time.perf_counter()
            try:
                out = await fn(cl, spec)
                verify(name if name != "query" else "query_partial", spec, out)
            except Exception as exc:  # counted by type
                errors[type(exc).__name__] += 1
                return
            chunks += spec.events
            if out.t_first is not None:
                ttfc.append(out.t_first - t0)
            durations.append(time.perf_counter() - t0)

        c0 = time.process_time()
        t0 = time.perf_counter()
        await asyncio.gather(*(stream() for _ in range(streams)))
        wall = time.perf_counter() - t0
        cpu = time.process_time() - c0
        st = server.stats()
    finally:
        await cl.aclose()
    return {
        "client": name,
        "streams": streams,
        "n": spec.n,
        "pacing": f"{spec.every} events / {spec.pause_ms} ms",
        "ok": len(durations),
        "errors": dict(errors),
        "pool_timeouts": errors.get("PoolTimeout", 0),
        "wall_s": wall,
        "ideal_s": ideal,
        "nominal_s": nominal_seconds(spec),
        "wall_x_ideal": wall / ideal if ideal else None,
        "cpu_s": cpu,
        "cpu_util": cpu / wall,
        "cpu_us_per_chunk": cpu / max(1, chunks) * 1e6,
        "chunks_per_s": chunks / wall,
        "ttfc_ms_p50": (_pct(ttfc, 50) or 0) * 1e3,
        "ttfc_ms_p99": (_pct(ttfc, 99) or 0) * 1e3,
        "stream_s_p50": statistics.median(durations) if durations else None,
        "stream_s_max": max(durations) if durations else None,
        "server_streams": st["streams"],
        "server_peak_in_flight": st["peak_streams"],
        "pool_waits": max(0, streams - st["peak_streams"]),
        "server_new_connections": st["connections"] - 1,  # less the /stats request's own
    }


async def run_concurrency(
    server: ServerProcess, clients: list[str], streams: int, n: int, every: int, pause_ms: int
) -> list[dict[str, Any]]:
    spec = StreamSpec("text", n, every=every, pause_ms=pause_ms)
    server.prepare([spec, StreamSpec("text", 20)])
    alone = socket_alone_seconds(server, spec)
    ideal = max(alone, nominal_seconds(spec))
    rows = []
    for name in clients:
        try:
            row = await _one_client(server, name, streams, spec, ideal)
        except Exception as exc:  # reported, not fatal
            row = {
                "client": name,
                "streams": streams,
                "n": n,
                "error": f"{type(exc).__name__}: {exc}",
            }
        rows.append(row)
        print(f"  concurrency {name}: {row}", flush=True, file=sys.stderr)
    return rows
