"""The benchmark's overhead section (issue 14): the context guard, the window discovery and the
slot limiter, each measured against the same code with it off.

No timing is asserted (the machine running the tests is not a benchmark machine): the run
must do the work it claims (the usage chunk read, the metadata asked once per client, every
stream in flight at once, no slot left held), and the goals must judge the ratios they are
given. The quick run's overhead section is judged in tests/test_bench_smoke.py, on the one
quick run the smoke test judges too.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from bench.report import OVERHEAD_RATIO, evaluate_goals, write_markdown
from bench.streams import StreamSpec, render_events


def test_a_stream_can_end_with_a_usage_chunk_and_its_name_says_so() -> None:
    spec = StreamSpec("text", 3, usage=1000)
    assert StreamSpec.parse(str(spec)) == spec
    assert str(StreamSpec("text", 3)) == "bench:text:3:4:0:0"  # old names are unchanged
    events = render_events(spec)
    assert len(events) == spec.events + 1  # and [DONE]
    usage = json.loads(events[-2][len(b"data: ") :])
    assert usage["choices"] == []
    assert usage["usage"]["prompt_tokens"] == 1000


def test_a_short_spec_name_gets_each_left_out_field_its_own_default() -> None:
    assert StreamSpec.parse("bench:tool:100000:4") == StreamSpec("tool", 100000, 4)
    paced = StreamSpec.parse("bench:text:1000:0:5:50")
    assert (paced.every, paced.pause_ms, paced.usage) == (5, 50, 0)


def _results(chunk: float, turn: float, slots: float, *, peak: int = 20, later: int = 0) -> Any:
    def pair(ratio: float) -> dict[str, Any]:
        return {"ratio": ratio, "aa_ratio": 1.0, "off_both": 1.0}

    return {
        "guard": {
            "chunk": {
                "n": 2000,
                "cpu_us_per_chunk": {"off": 3.0, "on": 3.0 * chunk, "off_again": 3.0},
                **pair(chunk),
            },
            "turn": {
                "turns": 10,
                "messages": 21,
                "cpu_us_per_turn": {"off": 2000.0, "on": 2000.0 * turn, "off_again": 2000.0},
                "check_us": {"on": 5.0, "off": 4.5},
                **pair(turn),
            },
        },
        "discovery": {
            "reps": 3,
            "median": {
                v: {"first_ms": 10.0, "first_cpu_ms": 4.0, "second_ms": 5.0, "second_cpu_ms": 2.0}
                for v in ("given", "discover")
            },
            "info_first": 2,
            "info_later": later,
            "info_given": 0,
            "extra_first_ms": 8.0,
            "extra_first_cpu_ms": 2.0,
            "first_ratio": 1.6,
            "second_ratio": 1.0,
        },
        "slots": {
            "streams": 20,
            "n": 500,
            "limit": 40,
            "pacing": "20 events / 10 ms",
            "cpu_us_per_chunk": {"none": 20.0, "limit": 20.0 * slots, "none_again": 20.0},
            "peak_in_flight": peak,
            **pair(slots),
        },
    }


def _verdicts(res: Any) -> dict[str, str]:
    names = ("context guard on ÷ off, CPU per chunk", "per turn", "discovery", "slot limiter")
    got = {}
    for g in evaluate_goals(res):
        for name in names:
            if name in g["goal"]:
                got[name] = g["result"]
    assert set(got) == set(names), got
    return got


def test_the_overhead_goals_pass_at_their_ratio_and_miss_past_it() -> None:
    assert set(_verdicts(_results(1.0, OVERHEAD_RATIO, 0.98)).values()) == {"PASS"}
    missed = _verdicts(_results(1.06, 1.2, 1.06))
    assert missed["context guard on ÷ off, CPU per chunk"] == "MISS"
    assert missed["per turn"] == "MISS"
    assert missed["slot limiter"] == "MISS"
    assert missed["discovery"] == "PASS"


def test_a_queued_stream_or_a_second_discovery_is_a_miss() -> None:
    assert _verdicts(_results(1.0, 1.0, 1.0, peak=19))["slot limiter"] == "MISS"
    assert _verdicts(_results(1.0, 1.0, 1.0, later=1))["discovery"] == "MISS"


def test_the_report_shows_the_overhead_section(tmp_path: Path) -> None:
    res = _results(1.0, 1.0, 1.0)
    res["meta"] = {
        "date": "today",
        "quick": True,
        "duration_s": 1.0,
        "versions": {},
        "cpu": "cpu",
        "cores": 2,
        "memory_gb": 1.0,
        "platform": "linux",
        "python": "3",
        "commit": "abc",
        "load_start": 0.0,
        "load_end": 0.0,
    }
    write_markdown(res, tmp_path / "performance.md")
    text = (tmp_path / "performance.md").read_text()
    assert "## Overhead: the context guard, window discovery, the slot limiter" in text
    assert "one-time cost per client" in text
