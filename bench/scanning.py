"""Worst-case text scanning: adversarial ``content`` (whitespace runs in unclosed markers,
thousands of openers, unclosed fences and think tags) through ``TextScanner``, whole and in
small pieces, at doubling sizes. The scan must be linear: time(2N) ÷ time(N) ≤ 2.5 for the
slowest family at each size.

    python -m bench.scanning --kb 256 512 1024 2048
"""

from __future__ import annotations

import argparse
import gc
import json
import statistics
import time
from collections.abc import Callable
from typing import Any

__all__ = ["FAMILIES", "run_scanning"]

_CALL = '{"name": "get_weather", "arguments": {"city": "Paris"}}'


def _repeat(unit: str, prefix: str = "") -> Callable[[int], str]:
    def make(n: int) -> str:
        return prefix + unit * max(1, (n - len(prefix)) // len(unit))

    return make


#: name → text of about n characters. Each was slow in some version of the scanner: the
#: first three backtracked cubically (the fence and ``<parameter=…>`` patterns), the opener
#: families were quadratic in one large piece (D9).
FAMILIES: dict[str, Callable[[int], str]] = {
    "blanks in an unclosed json fence": _repeat(" ", "```json\n{"),
    "blanks after an opening fence": _repeat(" ", "``` "),
    "blanks in a parameter body": _repeat(" ", "<function=get_weather><parameter=city>"),
    "openers, back to back": _repeat("<tool_call>"),
    "openers mid-line": _repeat("x <tool_call> <function=f> [TOOL_CALLS] <|python_tag|> "),
    "openers in code spans": _repeat("`<tool_call>` x "),
    "openers at line starts": _repeat("\n<tool_call>x"),
    "unclosed think tag": _repeat("<", "<think>"),
    "braces": _repeat("{"),
    "finished calls": _repeat(f"<tool_call>{_CALL}</tool_call>\n"),
    "closers inside a JSON string argument": _repeat(
        r"a \" </tool_call> \\ ", '<tool_call>{"name": "get_weather", "arguments": {"city": "'
    ),
}
PIECE = 16  # characters per feed() in the "pieces" runs (a few tokens per SSE event)


def _scan(text: str, piece: int | None) -> None:
    from any_agent._wire.textscan import TextScanner

    scanner = TextScanner(frozenset({"get_weather"}))
    if piece is None:
        scanner.feed(text)
    else:
        feed = scanner.feed
        for i in range(0, len(text), piece):
            feed(text[i : i + piece])
    scanner.close()


def measure(n: int, reps: int) -> dict[str, Any]:
    row: dict[str, Any] = {"chars": n, "families": {}}
    for name, make in FAMILIES.items():
        text = make(n)
        times: dict[str, float] = {}
        for label, piece in (("whole", None), ("pieces", PIECE)):
            runs = []
            for _ in range(reps):
                gc.collect()
                t0 = time.process_time()
                _scan(text, piece)
                runs.append(time.process_time() - t0)
            times[label] = statistics.median(runs)
        row["families"][name] = times
    for label in ("whole", "pieces"):
        worst = max(row["families"].items(), key=lambda kv: kv[1][label])
        row[f"worst_{label}_s"] = worst[1][label]
        row[f"worst_{label}_family"] = worst[0]
    return row


def run_scanning(sizes_kb: list[int], reps: int = 3) -> list[dict[str, Any]]:
    import sys

    import any_agent._wire.textscan  # noqa: F401  (import cost outside the measurement)

    rows: list[dict[str, Any]] = []
    for kb in sizes_kb:
        try:
            rows.append(measure(kb * 1024, reps))
        except Exception as exc:  # reported, not fatal
            rows.append({"chars": kb * 1024, "error": f"{type(exc).__name__}: {exc}"[:300]})
        print(f"  scanning {kb} KiB: {rows[-1].get('worst_whole_s')}", file=sys.stderr)
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--kb", type=int, nargs="+", default=[256, 512, 1024, 2048])
    ap.add_argument("--reps", type=int, default=3)
    a = ap.parse_args()
    print(json.dumps(run_scanning(a.kb, a.reps), indent=1))


if __name__ == "__main__":
    main()
