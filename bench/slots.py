"""``python -m bench.slots``: does a llama-server with more slots give more total throughput?

Against one running server (start it with ``-np N`` and ``-c`` scaled by N, so each slot keeps
the window a certification needs), for each level of concurrency asked: that many chat
requests at once, each with its own prompt (so no slot reuses another's prefix), each
generating ``--max-tokens`` tokens, a few rounds. Reported per level: wall seconds per round,
tokens generated and prompt tokens processed per second across all requests (from
llama-server's ``timings``), and the speed-up over one request at a time. A CPU server whose
decoding is bound by memory bandwidth gains from batching; one bound by compute does not.
Numbers from a busy machine (or under ``nice``) are only comparable within one run.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from typing import Any

__all__ = ["main", "one_round"]

#: Long enough that the prompt is a realistic prefill (a tool block is ~200 tokens).
_FILLER = (
    "The lighthouse keeper climbed the stairs every evening, counted the ships, wrote the "
    "weather in the log and trimmed the wick before the light went on. "
) * 6


def _ask(base_url: str, model: str, i: int, max_tokens: int) -> dict[str, Any]:
    body = {
        "model": model,
        "messages": [
            {"role": "system", "content": f"Story {i}. {_FILLER}"},
            {"role": "user", "content": "Continue the story for a long while."},
        ],
        "temperature": 0,
        "seed": 1,
        "max_tokens": max_tokens,
    }
    req = urllib.request.Request(
        base_url.rstrip("/") + "/chat/completions",
        data=json.dumps(body).encode(),
        headers={"content-type": "application/json"},
    )
    with urllib.request.urlopen(req, timeout=600) as resp:
        data: dict[str, Any] = json.loads(resp.read())
    timings = data.get("timings")
    return timings if isinstance(timings, dict) else {}


def one_round(base_url: str, model: str, n: int, max_tokens: int, salt: int) -> dict[str, float]:
    """``n`` requests at once: wall seconds, tokens generated and prompt tokens processed."""
    t0 = time.perf_counter()
    with ThreadPoolExecutor(max_workers=n) as pool:
        got = list(pool.map(lambda i: _ask(base_url, model, salt * 100 + i, max_tokens), range(n)))
    wall = time.perf_counter() - t0
    return {
        "wall_s": wall,
        "generated": float(sum(int(t.get("predicted_n") or 0) for t in got)),
        "prompt": float(sum(int(t.get("prompt_n") or 0) for t in got)),
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.slots", description=__doc__.split("\n")[0])
    p.add_argument("--base-url", required=True)
    p.add_argument("--model", default="qwen2.5-coder-1.5b")
    p.add_argument("--levels", default="1,2", help="requests at once, comma-separated")
    p.add_argument("--max-tokens", type=int, default=32)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--json", help="also write the figures here")
    a = p.parse_args(argv)
    levels = [int(x) for x in a.levels.split(",") if x.strip()]
    one_round(a.base_url, a.model, 1, 4, salt=999)  # warm-up: the model's first request
    rows: dict[int, dict[str, float]] = {}
    for n in levels:
        rounds = [one_round(a.base_url, a.model, n, a.max_tokens, salt=r * 10 + n)
                  for r in range(a.rounds)]  # fmt: skip
        wall = statistics.median(r["wall_s"] for r in rounds)
        rows[n] = {
            "wall_s": wall,
            "generated_per_s": statistics.median(r["generated"] / r["wall_s"] for r in rounds),
            "tokens_per_s": statistics.median(
                (r["generated"] + r["prompt"]) / r["wall_s"] for r in rounds
            ),
        }
    base = rows[levels[0]]
    print("| at once | wall s per round | generated tok/s | prompt+generated tok/s | vs first |")
    print("|---:|---:|---:|---:|---:|")
    for n, row in rows.items():
        gain = row["tokens_per_s"] / base["tokens_per_s"] if base["tokens_per_s"] else 0.0
        print(f"| {n} | {row['wall_s']:.1f} | {row['generated_per_s']:.1f} | "
              f"{row['tokens_per_s']:.1f} | {gain:.2f}x |")  # fmt: skip
    if a.json:
        with open(a.json, "w", encoding="utf-8") as f:
            json.dump({"levels": rows, "max_tokens": a.max_tokens}, f, indent=2)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
