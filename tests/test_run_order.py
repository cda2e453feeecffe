"""A faster live certification (issue 15 item 4), suite 0.3.0: checks whose requests share a
long prompt prefix run next to each other (results stay in catalogue order), and SDK checks
that make an identical query judge one run.

The plugin runs in a subprocess against the reference server on 127.0.0.1, which records
every request it gets (the SDK's come with the openai client's user agent).
"""

from __future__ import annotations

import fnmatch
import json
import subprocess
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from conformance_run import run_plugin

from conformance.catalogue.checks import CHECKS
from conformance.harness.context import SDKRun
from conformance.harness.share import ResponseMemo, SharedRun, sdk_run_key
from conformance.plan import RUN_GROUPS, planned_items, run_order
from conformance.testing.fakeserver import FakeServer


def _run(cwd: Path, url: str, *args: str) -> subprocess.CompletedProcess[str]:
    return run_plugin(cwd, "--base-url", url, *args)


def _results(cwd: Path) -> list[tuple[str, str]]:
    path = cwd / "reports" / "results" / "generic__ref-model.json"
    data = json.loads(path.read_text(encoding="utf-8"))
    return [(f"{r['check']}[{r['layer']}]", r["outcome"]) for r in data["results"]]


def _offers_weather(request: dict[str, Any]) -> bool:
    body = json.loads(request["body"] or b"{}")
    return any(t.get("function", {}).get("name") == "get_weather" for t in body.get("tools") or [])


def _is_sdk(request: dict[str, Any]) -> bool:
    return not request["headers"].get("user-agent", "").startswith("any-agent-conformance/")


# ---- the order ----------------------------------------------------------------------------------


def _session(mode: str, run_order: str = "prefix") -> Any:
    return SimpleNamespace(
        mode=mode, run_order=run_order, checks=list(CHECKS), layers=("wire", "sdk"),
        explicit_checks=False,
    )  # fmt: skip


def _column(name: str) -> Any:
    return SimpleNamespace(
        manifest=SimpleNamespace(expected={}), target=SimpleNamespace(column=name)
    )


def _names(items: Any) -> list[tuple[str, str, str]]:
    return [(column.target.column, check.id, layer) for column, check, layer in items]


def test_every_group_member_names_a_check() -> None:
    ids = [c.id for c in CHECKS]
    for group in RUN_GROUPS:
        for pattern in group:
            assert fnmatch.filter(ids, pattern), pattern


def test_run_order_is_the_plan_regrouped() -> None:
    columns = [_column("a"), _column("b")]
    plan = _names(planned_items(_session("live"), columns))
    sent = _names(run_order(_session("live"), columns))
    assert sorted(sent) == sorted(plan)
    assert len(sent) == len(set(sent))
    assert sent != plan
    for column in ("a", "b"):
        mine = [check for name, check, _ in sent if name == column]
        assert mine[0] == "timeout.cold-start"  # the server's first request stays the cold one
        group = [i for i, check in enumerate(mine) if any(
            fnmatch.fnmatchcase(check, p) for p in RUN_GROUPS[0])]  # fmt: skip
        assert group == list(range(group[0], group[0] + len(group)))  # one run of them
    assert [name for name, _, _ in sent] == sorted(name for name, _, _ in sent)  # columns in turn
    for mode, order in (("replay", "prefix"), ("live", "catalogue")):
        assert _names(run_order(_session(mode, order), columns)) == plan


def test_grouped_order_sends_the_shared_prefix_together_and_writes_catalogue_order(
    tmp_path: Path,
) -> None:
    args = ("--layers", "wire", "--no-share-requests", "--checks", "tools.accepted",
            "--checks", "tools.no-args", "--checks", "multiturn.history", "--checks",
            "multiturn.agent-loop", "--checks", "security.special-tokens-tool")  # fmt: skip
    results, weather = [], []
    for order in ("prefix", "catalogue"):
        cwd = tmp_path / order
        cwd.mkdir()
        with FakeServer() as server:
            proc = _run(cwd, server.base_url, "--run-order", order, *args)
            chats = [r for r in server.requests if r["path"] == "/v1/chat/completions"]
        assert proc.returncode == 0, proc.stdout[-3000:]
        results.append(_results(cwd))
        weather.append([_offers_weather(r) for r in chats])
    assert results[0] == results[1]  # same outcomes, both in catalogue order
    assert [k for k, _ in results[0]][:2] == ["tools.accepted[wire]", "tools.no-args[wire]"]
    grouped, catalogue = weather
    first_other = grouped.index(False)
    assert not any(grouped[first_other:]), grouped  # every get_weather request came first
    assert grouped.count(True) == catalogue.count(True) >= 4
    assert catalogue != grouped


def test_run_order_is_a_known_word(tmp_path: Path) -> None:
    proc = _run(tmp_path, "http://127.0.0.1:9/v1", "--run-order", "random")
    assert proc.returncode == 2, proc.stderr
    lines = [ln for ln in proc.stderr.splitlines() if "conformance:" in ln]
    assert len(lines) == 1, proc.stderr
    assert "conformance: --run-order takes prefix or catalogue, got 'random'" in lines[0]


# ---- shared SDK runs ----------------------------------------------------------------------------

FORCED = ("tools.call-shape", "tools.stream.id-name-once", "tools.stream.args-concat-valid-json")


def test_identical_sdk_queries_judge_one_run(tmp_path: Path) -> None:
    checks = [arg for check in (*FORCED, "errors.unknown-model", "tools.mcp-round-trip")
              for arg in ("--checks", check)]  # fmt: skip
    sent, results, stats = [], [], []
    for i, flags in enumerate(
        (["--share-requests"], ["--no-share-requests"], ["--concurrency", "4"])
    ):
        cwd = tmp_path / str(i)
        cwd.mkdir()
        with FakeServer(delay=0.01) as server:
            proc = _run(cwd, server.base_url, "--layers", "sdk", *flags, *checks)
            sent.append([r for r in server.requests if _is_sdk(r) and r["method"] == "POST"])
        assert proc.returncode == 0, proc.stdout[-3000:]
        results.append(_results(cwd))
        data = json.loads((cwd / "reports" / "results" / "generic__ref-model.json").read_text())
        stats.append(data["run"]["stats"])
    shared, unshared, concurrent = (len(s) for s in sent)
    assert results[0] == results[1] == results[2]
    assert len(results[0]) == 5
    assert shared == unshared - 2, (shared, unshared)  # three forced runs, one asked
    assert concurrent == shared  # a check whose query is in flight waits for its answer
    assert stats[0]["requests_shared"] == 2
    assert stats[1]["requests_shared"] == 0


def _weather(city: str) -> str:
    return city


@pytest.mark.parametrize(
    "overrides",
    [
        {"tools": [_weather]},
        {"mcp_servers": {"weather": {"type": "sdk"}}},
        {"hooks": {}},
        {"can_use_tool": None},
        {"extra_body": {"seed": object()}},
    ],
)
def test_sdk_runs_with_code_or_unencodable_options_are_never_shared(
    overrides: dict[str, Any],
) -> None:
    assert sdk_run_key("hi", None, overrides) == b""


def test_sdk_run_key_is_canonical_and_error_runs_are_not_kept() -> None:
    tool = {"type": "function", "function": {"name": "f", "parameters": {}}}
    a = sdk_run_key("hi", None, {"tools": [tool], "max_tokens": 8, "extra_body": {"a": 1, "b": 2}})
    b = sdk_run_key("hi", None, {"extra_body": {"b": 2, "a": 1}, "max_tokens": 8, "tools": [tool]})
    assert a == b != b""
    assert a != sdk_run_key("hi", [{"role": "user", "content": "x"}], {"max_tokens": 8})
    memo = ResponseMemo(max_bytes=1 << 20)
    memo.put(b"failed", SharedRun(SDKRun(error=RuntimeError("HTTP 500")), "x"))
    memo.put(b"no result", SharedRun(SDKRun(), "x"))
    assert memo.get(b"failed") is None
    assert memo.get(b"no result") is None
    memo.put(b"ok", SharedRun(SDKRun(blocks=["TextBlock"], result="done"), "x"))
    got = memo.get(b"ok")
    assert isinstance(got, SharedRun)
    got.run.blocks.append("changed")
    again = memo.get(b"ok")
    assert isinstance(again, SharedRun)
    assert again.run.blocks == ["TextBlock"]  # each check judges its own copy
