"""One tool call whose arguments (1-10 MB) arrive as 100-character fragments, through
any_agent's StreamDecoder: time and peak memory. Each size runs in a fresh interpreter.

The events are rendered before the clock starts (and before tracemalloc starts), one
``feed`` per event, as one HTTP chunk per event would arrive; the time covers SSE framing,
JSON decoding, aggregation, ``close()`` (which parses the finished arguments) and
``result()``. A second figure, the *whole-event parse*, runs the same events through the least
a decoder that parses every event can do (split, ``orjson.loads``, list-append, join, one
final parse); the decoder itself parses only the changed string of an event that repeats its
predecessor's bytes, and the share of events it took that way is reported too.

    python -m bench.aggregate --mb 10 --frag 100 --reps 3
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import statistics
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path
from typing import Any

from .streams import StreamSpec, expected_arguments, render_events

__all__ = ["run_aggregation"]


def _decoder(spec: StreamSpec, events: list[bytes], phases: list[int] | None = None) -> Any:
    """Feed, close, result. With ``phases``, record the tracemalloc peak of the feed phase and
    of close()+result() (which parses the finished arguments) separately."""
    from any_agent import ToolUseBlock
    from any_agent._wire.decoder import StreamDecoder

    decoder = StreamDecoder(frozenset({"write_file"}))
    feed = decoder.feed
    for event in events:
        feed(event)
    if phases is not None:
        phases.append(tracemalloc.get_traced_memory()[1])
        tracemalloc.reset_peak()
    decoder.close()
    blocks = decoder.result().blocks
    if phases is not None:
        phases.append(tracemalloc.get_traced_memory()[1])
    if len(blocks) != 1 or not isinstance(blocks[0], ToolUseBlock):
        raise AssertionError(f"expected one ToolUseBlock, got {blocks!r:.300}")
    return blocks[0].input


def _floor(spec: StreamSpec, events: list[bytes], phases: list[int] | None = None) -> Any:
    import orjson

    parts: list[str] = []
    for event in events:
        data = event[6:-2]
        if data == b"[DONE]":
            continue
        delta = orjson.loads(data)["choices"][0]["delta"]
        for tc in delta.get("tool_calls") or ():
            a = tc["function"].get("arguments")
            if a:
                parts.append(a)
    return orjson.loads("".join(parts))


def child(mb: float, frag: int, reps: int) -> dict[str, Any]:
    import any_agent._wire.decoder  # noqa: F401  (import cost outside the measurement)

    n = int(mb * 1_000_000) // frag
    spec = StreamSpec("tool", n, frag)
    events = render_events(spec)
    final_size = len(expected_arguments(n, frag).encode())
    expected = json.loads(expected_arguments(n, frag))
    expected_arguments.cache_clear()
    out: dict[str, Any] = {"mb": mb, "fragments": n, "frag": frag, "final_bytes": final_size}
    for name, fn in (("decoder", _decoder), ("floor", _floor)):
        times = []
        for _ in range(reps):
            gc.collect()
            t0 = time.perf_counter()
            c0 = time.process_time()
            got = fn(spec, events)
            cpu = time.process_time() - c0
            times.append((cpu, time.perf_counter() - t0))
            if got != expected:
                raise AssertionError(f"{name}: wrong arguments")
            del got
        out[f"{name}_cpu_s"] = statistics.median(t[0] for t in times)
        out[f"{name}_wall_s"] = statistics.median(t[1] for t in times)
        gc.collect()
        phases: list[int] = []
        tracemalloc.start()
        tracemalloc.reset_peak()
        got = fn(spec, events, phases)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        del got
        out[f"{name}_peak_bytes"] = max([peak, *phases])
        out[f"{name}_peak_x_final"] = out[f"{name}_peak_bytes"] / final_size
        if phases:
            out[f"{name}_peak_feed_bytes"] = phases[0]
            out[f"{name}_peak_close_bytes"] = phases[1]
    out.update(_shortcut_share(events))
    out.update(_final_parse(expected_arguments(n, frag)))
    expected_arguments.cache_clear()
    return out


def _shortcut_share(events: list[bytes]) -> dict[str, Any]:
    """How many events the decoder took by its repeated-event shortcut, of all it saw."""
    from any_agent._wire.decoder import StreamDecoder

    decoder = StreamDecoder(frozenset({"write_file"}))
    for event in events:
        decoder.feed(event)
    decoder.close()
    return {"shortcut_events": decoder.shortcut_events, "events_seen": decoder.events_seen}


def _final_parse(text: str) -> dict[str, Any]:
    """The finished arguments parsed once by orjson and once by json: time and the
    tracemalloc peak of each, as a multiple of the text's size."""
    import orjson

    out: dict[str, Any] = {}
    for name, loads in (("orjson", orjson.loads), ("json", json.loads)):
        gc.collect()
        t0 = time.process_time()
        loads(text)
        out[f"final_{name}_cpu_s"] = time.process_time() - t0
        tracemalloc.start()
        tracemalloc.reset_peak()
        value = loads(text)
        out[f"final_{name}_peak_x"] = tracemalloc.get_traced_memory()[1] / len(text)
        tracemalloc.stop()
        del value
    return out


def run_aggregation(sizes_mb: list[float], frag: int = 100, reps: int = 3) -> list[dict[str, Any]]:
    root = str(Path(__file__).resolve().parent.parent)
    env = {**os.environ, "PYTHONPATH": root + os.pathsep + os.environ.get("PYTHONPATH", "")}
    rows: list[dict[str, Any]] = []
    for mb in sizes_mb:
        cmd = [sys.executable, "-m", "bench.aggregate", "--mb", str(mb), "--frag", str(frag)]
        cmd += ["--reps", str(reps)]
        try:
            p = subprocess.run(cmd, cwd=root, env=env, capture_output=True, text=True, timeout=600)
            if p.returncode != 0:
                raise RuntimeError(p.stderr.strip().splitlines()[-1] if p.stderr else "failed")
            rows.append(json.loads(p.stdout.strip().splitlines()[-1]))
        except Exception as exc:  # reported, not fatal
            rows.append({"mb": mb, "frag": frag, "error": f"{type(exc).__name__}: {exc}"[:300]})
        print(f"  aggregation {mb} MB: {rows[-1]}", file=sys.stderr, flush=True)
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--mb", type=float, required=True)
    ap.add_argument("--frag", type=int, default=100)
    ap.add_argument("--reps", type=int, default=3)
    a = ap.parse_args()
    print(json.dumps(child(a.mb, a.frag, a.reps)))


if __name__ == "__main__":
    main()
