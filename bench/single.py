"""Single-stream cost per method: every method on the same stream, interleaved in rotating
order inside one process, after a warm-up; the median of several repetitions is kept.

CPU time (``time.process_time``) of this process is the primary figure: the server runs in
another process, and CPU time is far less disturbed than wall time by other work on a small,
shared machine. Each run is verified (see :func:`bench.consumers.verify`).
"""

from __future__ import annotations

import asyncio
import gc
import socket
import statistics
import sys
import time
from typing import Any

from .consumers import METHODS, Clients, verify
from .server import ServerProcess
from .streams import TOOL_NAME, StreamSpec, expected_arguments, expected_text, render_events

__all__ = ["decode_only", "run_single", "server_speed"]


def decode_only(spec: StreamSpec, events: list[bytes]) -> Any:
    """Feed pre-rendered events (one ``feed`` per event) through any_agent's StreamDecoder."""
    from any_agent import TextBlock, ToolUseBlock
    from any_agent._wire.decoder import StreamDecoder

    names = frozenset({TOOL_NAME}) if spec.kind == "tool" else frozenset()
    decoder = StreamDecoder(names)
    feed = decoder.feed
    for event in events:
        feed(event)
    decoder.close()
    blocks = decoder.result().blocks
    calls = [b for b in blocks if isinstance(b, ToolUseBlock)]
    if calls:
        return calls[0].input
    return "".join(b.text for b in blocks if isinstance(b, TextBlock))


def _check_decoded(spec: StreamSpec, got: Any) -> None:
    import json

    if spec.kind == "text":
        ok = got == expected_text(spec.n)
    else:
        ok = got == json.loads(expected_arguments(spec.n, spec.frag))
    if not ok:
        raise AssertionError("decoder: wrong aggregate")


def server_speed(server: ServerProcess, spec: StreamSpec) -> dict[str, Any]:
    """How fast the server delivers ``spec`` to a blocking socket that parses nothing."""
    server.prepare([spec])
    body = f'{{"model":"{spec}","messages":[],"stream":true}}'.encode()
    head = (
        b"POST /v1/chat/completions HTTP/1.1\r\nhost: bench\r\ncontent-type: application/json\r\n"
        b"content-length: %d\r\nconnection: close\r\n\r\n" % len(body)
    )
    best = None
    for _ in range(3):
        with socket.create_connection((server.host, server.port)) as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
            t0 = time.perf_counter()
            s.sendall(head + body)
            size = 0
            tail = b""
            while True:
                b = s.recv(1 << 20)
                if not b:
                    break
                size += len(b)
                tail = (tail + b)[-5:]
                if tail == b"0\r\n\r\n":
                    break
            wall = time.perf_counter() - t0
        if best is None or wall < best[0]:
            best = (wall, size)
    assert best is not None
    wall, size = best
    return {
        "spec": str(spec),
        "events": spec.events,
        "bytes": size,
        "wall_s": wall,
        "chunks_per_s": spec.events / wall,
        "mb_per_s": size / wall / 1e6,
    }


async def _timed(
    method: str, cl: Clients, spec: StreamSpec, events: list[bytes] | None
) -> dict[str, Any]:
    gc.collect()
    if method == "decoder":
        assert events is not None
        c0 = time.process_time()
        t0 = time.perf_counter()
        got = decode_only(spec, events)
        wall = time.perf_counter() - t0
        cpu = time.process_time() - c0
        _check_decoded(spec, got)
        return {"cpu_s": cpu, "wall_s": wall}
    fn = METHODS[method]
    c0 = time.process_time()
    t0 = time.perf_counter()
    out = await asyncio.wait_for(fn(cl, spec), 900)
    wall = time.perf_counter() - t0
    cpu = time.process_time() - c0
    verify(method, spec, out)
    return {"cpu_s": cpu, "wall_s": wall}


def _log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


async def run_single(
    server: ServerProcess,
    sizes: list[int],
    reps: dict[int, int],
    methods: list[str],
    *,
    frag: int = 4,
    cap_cpu_s: float = 15.0,
) -> list[dict[str, Any]]:
    """Rows of ``{method, kind, n, cpu_s, wall_s, cpu_us_per_chunk, ...}`` (medians)."""
    specs = [StreamSpec(kind, n, frag) for n in sizes for kind in ("text", "tool")]
    warm = [StreamSpec(kind, 200, frag) for kind in ("text", "tool")]
    server.prepare(specs + warm)
    cl = Clients(server.base_url)
    rows: list[dict[str, Any]] = []
    events: list[bytes] | None
    try:
        for spec in warm:  # imports, connection pools, caches, the server's first writes
            events = render_events(spec)
            for _ in range(2):
                for m in methods:
                    try:
                        await _timed(m, cl, spec, events)
                    except Exception as exc:  # the timed runs will record it
                        _log(f"  warm-up {m} {spec}: {type(exc).__name__}: {exc}")
        for spec in specs:
            events = render_events(spec) if "decoder" in methods else None
            runs: dict[str, list[dict[str, Any]]] = {m: [] for m in methods}
            errors: dict[str, str] = {}
            for rep in range(reps[spec.n]):
                k = rep % len(methods)
                for m in methods[k:] + methods[:k]:
                    if m in errors or (len(runs[m]) >= 3 and runs[m][-1]["cpu_s"] > cap_cpu_s):
                        continue  # three runs of a method this slow are enough
                    try:
                        runs[m].append(await _timed(m, cl, spec, events))
                    except Exception as exc:  # reported in the table, not fatal
                        errors[m] = f"{type(exc).__name__}: {exc}"[:300]
                        _log(f"  {m} {spec}: {errors[m]}")
            for m in methods:
                rs = runs[m]
                row: dict[str, Any] = {"method": m, "kind": spec.kind, "n": spec.n, "reps": len(rs)}
                if rs:
                    cpu = statistics.median(r["cpu_s"] for r in rs)
                    wall = statistics.median(r["wall_s"] for r in rs)
                    row.update(
                        cpu_s=cpu,
                        wall_s=wall,
                        cpu_all=[round(r["cpu_s"], 5) for r in rs],
                        cpu_us_per_chunk=cpu / spec.events * 1e6,
                        chunks_per_s=spec.events / wall,
                    )
                if m in errors:
                    row["error"] = errors[m]
                rows.append(row)
                us = row.get("cpu_us_per_chunk")
                _log(
                    f"  {spec.kind:4} n={spec.n:<7} {m:14} "
                    + (f"{us:8.2f} us/chunk" if us else row.get("error", ""))
                )
    finally:
        await cl.aclose()
    return rows
