"""bench/certify_breakdown.py: a column's cost per check and area, from its cassettes and
manifest (llama-server's ``timings``, else ``usage``)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from bench.certify_breakdown import column_costs, main, render, response_cost
from conformance.testing.fakeserver import FakeServer

ROOT = Path(__file__).resolve().parent.parent
TIMINGS = {"cache_n": 300, "prompt_n": 12, "predicted_n": 3, "prompt_ms": 400.0,
           "predicted_ms": 150.5}  # fmt: skip


def test_a_response_costs_what_its_timings_or_usage_say() -> None:
    body = json.dumps({"usage": {"prompt_tokens": 312, "completion_tokens": 3}, "timings": TIMINGS})
    cost = response_cost(body)
    assert (cost.requests, cost.prompt, cost.cached, cost.generated) == (1, 12, 300, 3)
    assert cost.server_ms == 550.5
    usage = {
        "prompt_tokens": 50,
        "completion_tokens": 7,
        "prompt_tokens_details": {"cached_tokens": 20},
    }
    stream = f"data: {json.dumps({'choices': []})}\n\ndata: {json.dumps({'usage': usage})}\n\n"
    cost = response_cost(stream + "data: [DONE]\n\n")
    assert (cost.prompt, cost.cached, cost.generated, cost.server_ms) == (30, 20, 7, None)
    cut = (
        'HTTP 200 text/event-stream\ndata: {"timings":'
        + json.dumps(TIMINGS)
        + ',"id":"x… [9 bytes]'
    )
    assert response_cost(cut).prompt == 12  # an excerpt cut after the timings object
    nothing = response_cost('{"error": {"message": "no"}}')
    assert (nothing.requests, nothing.prompt, nothing.server_ms) == (1, None, None)


def _interaction(uri: str, method: str, body: str) -> dict[str, object]:
    return {"request": {"method": method, "uri": uri, "body": ""},
            "response": {"status": {"code": 200}, "body": {"string": body}}}  # fmt: skip


def test_a_column_is_summed_per_check_and_area(tmp_path: Path) -> None:
    answer = json.dumps({"timings": TIMINGS})
    cassettes = {
        "cache.prefix-reported.yaml": [
            _interaction("http://conformance.invalid/v1/chat/completions", "POST", answer),
            _interaction("http://conformance.invalid/v1/chat/completions", "POST", answer),
        ],
        "cache.prefix-reported.sdk.yaml": [
            _interaction("http://conformance.invalid/props", "GET", "{}"),  # not a request
            _interaction("http://conformance.invalid/v1/chat/completions", "POST", answer),
        ],
    }
    for name, interactions in cassettes.items():
        (tmp_path / name).write_text(yaml.safe_dump({"interactions": interactions}))
    live = {"evidence": {"exchanges": [{"request": {}, "response_excerpt": answer}] * 3},
            "duration_s": 2.5}  # fmt: skip
    (tmp_path / "manifest.json").write_text(
        json.dumps({"live": {"cache.time-to-first-token[wire]": live}})
    )
    costs = column_costs(tmp_path)
    assert costs["cache.prefix-reported[wire]"].requests == 2
    assert costs["cache.prefix-reported[sdk]"].requests == 1
    assert costs["cache.time-to-first-token[wire]"].generated == 9
    assert costs["cache.time-to-first-token[wire]"].wall_s == 2.5
    text = render(costs, "t")
    assert "| cache | 6 | 72 | 1800 | 18 | 3.3 | 2.5 |" in text
    assert "| **all** | 6 |" in text


def test_the_committed_llamacpp_tools_column_breaks_down(tmp_path: Path) -> None:
    column = ROOT / "cassettes" / "llamacpp-tools" / "qwen2.5-coder-1.5b"
    out = tmp_path / "breakdown.md"
    assert main(["--column", str(column), "--out", str(out)]) == 0
    text = out.read_text(encoding="utf-8")
    manifest = json.loads((column / "manifest.json").read_text(encoding="utf-8"))
    rows = [ln for ln in text.split("### Every check")[1].splitlines() if ln.startswith("| `")]
    recorded = {
        f"{p.name.removesuffix('.yaml').removesuffix('.sdk')}["
        f"{'sdk' if p.name.endswith('.sdk.yaml') else 'wire'}]"
        for p in column.glob("*.yaml")
    }
    assert len(rows) == len(recorded | set(manifest["live"]))
    total = next(ln for ln in text.splitlines() if ln.startswith("| **all** |"))
    assert int(total.split("|")[2]) == sum(int(r.split("|")[2]) for r in rows)


def test_bench_slots_reports_each_level(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from bench.slots import main as slots

    out = tmp_path / "slots.json"
    with FakeServer() as server:
        assert slots(["--base-url", server.base_url, "--model", "ref-model", "--levels", "1,2",
                      "--rounds", "1", "--max-tokens", "4", "--json", str(out)]) == 0  # fmt: skip
    rows = [ln for ln in capsys.readouterr().out.splitlines() if ln.startswith("| 1 |")
            or ln.startswith("| 2 |")]  # fmt: skip
    assert len(rows) == 2
    levels = json.loads(out.read_text(encoding="utf-8"))["levels"]
    assert set(levels) == {"1", "2"}
    assert all(level["generated_per_s"] > 0 for level in levels.values())
