"""What the context guard, the window discovery and the slot limiter cost (issue 14).

Each is measured against the same code with it switched off, on the same server and the same
stream, the variants interleaved in rotating order inside one run; an *A/A* variant (the
"off" configuration run a second time under another name) shows the noise of the comparison
in that very run, which is what a ratio has to be read against.

* **Guard per chunk**: one ``query()`` per run over a text stream of N deltas that ends with
  a usage chunk, so the check after the response compares the server's ``prompt_tokens``
  too. *On*: ``context_window`` given, ``on_context_overflow="error"`` and
  ``on_truncation="warn"`` (the defaults); *off*: both ``"off"``.
* **Guard per turn**: one ``Client``, ``turns`` sequential 5-delta turns (the history grows
  to ``2 × turns`` messages, each of which the guard walks every turn); CPU per turn.
* **The guard alone**: ``ContextGuard.check`` + ``after`` on the last turn's body, no I/O.
* **Window discovery** (the ``llamacpp`` profile, which asks ``/props`` and ``/v1/models``
  before a client's first request): the first and the second turn of a fresh ``Client``
  that discovers, against one given ``context_window`` and ``max_concurrent_requests``.
* **Slot limiter**: ``streams`` paced ``query()`` streams at once, with
  ``max_concurrent_requests`` set to twice their number (never waiting) against none.
"""

from __future__ import annotations

import asyncio
import gc
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any

from .consumers import Clients, agent_options, query_with, verify
from .server import SLOTS, WINDOW, ServerProcess
from .streams import StreamSpec, expected_text

__all__ = ["run_discovery", "run_guard", "run_slots"]

#: the prompt_tokens the bench server's usage chunk reports: more than the guard's floor for
#: every prompt here (a byte count / 8), so the check after a response finds nothing cut
PROMPT_TOKENS = 1000
GUARD_ON: dict[str, Any] = {"context_window": WINDOW}
GUARD_OFF: dict[str, Any] = {
    "context_window": WINDOW,
    "on_context_overflow": "off",
    "on_truncation": "off",
}
GUARD_VARIANTS = {"off": GUARD_OFF, "on": GUARD_ON, "off_again": GUARD_OFF}


def _log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


async def _rotate(
    variants: list[str], reps: int, run: Callable[[str], Awaitable[dict[str, float]]]
) -> dict[str, list[dict[str, float]]]:
    """``reps`` rounds of every variant, each round starting one variant later."""
    out: dict[str, list[dict[str, float]]] = {v: [] for v in variants}
    for rep in range(reps):
        k = rep % len(variants)
        for v in variants[k:] + variants[:k]:
            gc.collect()
            out[v].append(await run(v))
    return out


def _median(rs: list[dict[str, float]], key: str) -> float:
    return statistics.median(r[key] for r in rs)


def _ratios(
    runs: dict[str, list[dict[str, float]]], key: str, on: str, off: str, again: str
) -> dict[str, float]:
    """on ÷ off, against the median of both off variants' runs (a steadier baseline than
    either alone), and the A/A ratio of the two off variants: this run's noise."""
    med = {v: _median(rs, key) for v, rs in runs.items()}
    both = _median(runs[off] + runs[again], key)
    return {"ratio": med[on] / both, "aa_ratio": med[again] / med[off], "off_both": both}


async def _guard_chunk(server: ServerProcess, cl: Clients, n: int, reps: int) -> dict[str, Any]:
    spec = StreamSpec("text", n, usage=PROMPT_TOKENS)
    server.prepare([spec])

    async def one(variant: str) -> dict[str, float]:
        c0 = time.process_time()
        out = await query_with(cl, spec, **GUARD_VARIANTS[variant])
        cpu = time.process_time() - c0
        verify("query", spec, out)
        return {"cpu_us_per_chunk": cpu / spec.events * 1e6}

    for v in GUARD_VARIANTS:  # warm-up
        await one(v)
    runs = await _rotate(list(GUARD_VARIANTS), reps, one)
    med = {v: _median(rs, "cpu_us_per_chunk") for v, rs in runs.items()}
    return {
        "n": n,
        "reps": reps,
        "cpu_us_per_chunk": med,
        "cpu_all": {v: [round(r["cpu_us_per_chunk"], 4) for r in rs] for v, rs in runs.items()},
        **_ratios(runs, "cpu_us_per_chunk", "on", "off", "off_again"),
    }


async def _client_turn(client: Any, text: str) -> Any:
    from any_agent import AssistantMessage, ResultMessage, TextBlock

    await client.query("go")
    got, result = "", None
    async for msg in client.receive_response():
        if isinstance(msg, AssistantMessage):
            got += "".join(b.text for b in msg.content if isinstance(b, TextBlock))
        elif isinstance(msg, ResultMessage):
            result = msg
    if result is None or result.is_error or got != text:
        raise AssertionError(f"Client turn failed: {result!r}, text {got[:80]!r}")
    if result.usage.prompt_tokens != PROMPT_TOKENS:
        raise AssertionError(f"the usage chunk was not read: {result.usage!r}")
    return result


async def _guard_turn(
    server: ServerProcess, base_url: str, turns: int, reps: int
) -> dict[str, Any]:
    from any_agent import Client

    spec = StreamSpec("text", 5, usage=PROMPT_TOKENS)
    server.prepare([spec])
    text = expected_text(spec.n)
    last_body: dict[str, Any] = {}

    async def one(variant: str) -> dict[str, float]:
        client = Client(agent_options(base_url, spec, partial=False, **GUARD_VARIANTS[variant]))
        try:
            c0 = time.process_time()
            for _ in range(turns):
                await _client_turn(client, text)
            cpu = time.process_time() - c0
            if variant == "on":
                last_body.update(
                    model=str(spec), messages=[*client.history, {"role": "user", "content": "go"}]
                )
        finally:
            await client.close()
        return {"cpu_us_per_turn": cpu / turns * 1e6}

    await one("on")  # warm-up
    runs = await _rotate(list(GUARD_VARIANTS), reps, one)
    med = {v: _median(rs, "cpu_us_per_turn") for v, rs in runs.items()}
    alone = await _guard_alone(base_url, spec, last_body)
    return {
        "turns": turns,
        "messages": len(last_body.get("messages", ())),
        "reps": reps,
        "cpu_us_per_turn": med,
        "cpu_all": {v: [round(r["cpu_us_per_turn"], 1) for r in rs] for v, rs in runs.items()},
        **_ratios(runs, "cpu_us_per_turn", "on", "off", "off_again"),
        "check_us": alone,
    }


async def _guard_alone(
    base_url: str, spec: StreamSpec, body: dict[str, Any], calls: int = 2000
) -> dict[str, float]:
    """CPU µs of ``check`` + ``after`` on ``body``, on and off (no request: the window is
    given, the prompt small)."""
    from any_agent import Usage
    from any_agent._agent.context import ContextGuard, ServerInfoCache
    from any_agent._wire.servers import profile_for

    usage = Usage(prompt_tokens=PROMPT_TOKENS, completion_tokens=5)
    out = {}
    for variant in ("on", "off"):
        options = agent_options(base_url, spec, partial=False, **GUARD_VARIANTS[variant])
        profile = profile_for(options.provider)
        guard = ContextGuard(options, profile, ServerInfoCache(options, profile))
        transport: Any = None  # never used: the window is given and the prompt fits
        c0 = time.process_time()
        for _ in range(calls):
            sizing = await guard.check(dict(body, max_tokens=None), transport)
            guard.after(usage, sizing)
        out[variant] = (time.process_time() - c0) / calls * 1e6
    return out


async def run_guard(
    server: ServerProcess, n: int, reps: int, turns: int, turn_reps: int
) -> dict[str, Any]:
    """The context guard on vs off: CPU per chunk, CPU per turn, and the check alone."""
    cl = Clients(server.base_url)
    try:
        chunk = await _guard_chunk(server, cl, n, reps)
        _log(f"  guard per chunk: {chunk}")
    finally:
        await cl.aclose()
    turn = await _guard_turn(server, server.base_url, turns, turn_reps)
    _log(f"  guard per turn: {turn}")
    return {"chunk": chunk, "turn": turn}


async def run_discovery(server: ServerProcess, reps: int) -> dict[str, Any]:
    """First and second turn of a fresh llamacpp-profile Client: discovering the window
    (``/props`` + ``/v1/models`` before the first request) vs a given window."""
    from any_agent import Client

    spec = StreamSpec("text", 5, usage=PROMPT_TOKENS)
    server.prepare([spec])
    text = expected_text(spec.n)
    variants = {
        "given": {"context_window": WINDOW, "max_concurrent_requests": SLOTS},
        "discover": {},
    }

    async def one(variant: str) -> dict[str, float]:
        options = agent_options(
            server.base_url, spec, partial=False, provider="llamacpp", **variants[variant]
        )
        client = Client(options)
        try:
            server.reset()
            c0, t0 = time.process_time(), time.perf_counter()
            await _client_turn(client, text)
            wall1, cpu1 = time.perf_counter() - t0, time.process_time() - c0
            info1 = server.stats()["info"]
            c0, t0 = time.process_time(), time.perf_counter()
            await _client_turn(client, text)
            wall2, cpu2 = time.perf_counter() - t0, time.process_time() - c0
            info2 = server.stats()["info"] - info1
            if variant == "discover":
                info = await client.get_server_info()
                if info.context_window != WINDOW or info.total_slots != SLOTS:
                    raise AssertionError(f"discovery read the wrong facts: {info!r}")
        finally:
            await client.close()
        return {
            "first_ms": wall1 * 1e3,
            "first_cpu_ms": cpu1 * 1e3,
            "second_ms": wall2 * 1e3,
            "second_cpu_ms": cpu2 * 1e3,
            "info_first": info1,
            "info_later": info2,
        }

    for v in variants:  # warm-up: imports, the server's first answers
        await one(v)
    runs = await _rotate(list(variants), reps, one)
    keys = ("first_ms", "first_cpu_ms", "second_ms", "second_cpu_ms")
    med = {v: {k: _median(rs, k) for k in keys} for v, rs in runs.items()}
    d, g = med["discover"], med["given"]
    row = {
        "reps": reps,
        "median": med,
        "info_first": max(r["info_first"] for r in runs["discover"]),
        "info_later": max(r["info_later"] for rs in runs.values() for r in rs),
        "info_given": max(r["info_first"] for r in runs["given"]),
        "extra_first_ms": d["first_ms"] - g["first_ms"],
        "extra_first_cpu_ms": d["first_cpu_ms"] - g["first_cpu_ms"],
        "first_ratio": d["first_ms"] / g["first_ms"],
        "second_ratio": d["second_ms"] / g["second_ms"],
    }
    _log(f"  window discovery: {row}")
    return row


async def run_slots(
    server: ServerProcess, streams: int, n: int, every: int, pause_ms: int, reps: int
) -> dict[str, Any]:
    """``streams`` paced query() streams at once, a slot limit of twice that vs none."""
    from any_agent._agent import slots as slot_registry

    spec = StreamSpec("text", n, every=every, pause_ms=pause_ms)
    server.prepare([spec, StreamSpec("text", 20)])
    limit = 2 * streams
    variants: dict[str, dict[str, Any]] = {
        "none": {},
        "limit": {"max_concurrent_requests": limit},
        "none_again": {},
    }
    cl = Clients(server.base_url)

    async def one(variant: str) -> dict[str, float]:
        server.reset()
        c0, t0 = time.process_time(), time.perf_counter()
        outs = await asyncio.gather(
            *(query_with(cl, spec, **variants[variant]) for _ in range(streams))
        )
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        for out in outs:
            verify("query", spec, out)
        peak = server.stats()["peak_streams"]
        held = sum(s.in_use for s in slot_registry._registry.values())
        if held:
            raise AssertionError(f"{held} slot(s) still held after every stream ended")
        return {
            "cpu_us_per_chunk": cpu / (streams * spec.events) * 1e6,
            "wall_s": wall,
            "peak": peak,
        }

    try:
        for v in variants:  # warm-up
            await query_with(cl, StreamSpec("text", 20), **variants[v])
        runs = await _rotate(list(variants), reps, one)
    finally:
        await cl.aclose()
    med = {v: _median(rs, "cpu_us_per_chunk") for v, rs in runs.items()}
    row = {
        "streams": streams,
        "n": n,
        "limit": limit,
        "pacing": f"{every} events / {pause_ms} ms",
        "reps": reps,
        "cpu_us_per_chunk": med,
        "cpu_all": {v: [round(r["cpu_us_per_chunk"], 4) for r in rs] for v, rs in runs.items()},
        "wall_s": {v: _median(rs, "wall_s") for v, rs in runs.items()},
        "peak_in_flight": min(r["peak"] for rs in runs.values() for r in rs),
        **_ratios(runs, "cpu_us_per_chunk", "limit", "none", "none_again"),
    }
    _log(f"  slot limiter: {row}")
    return row
