"""One request serving every check that asks the same question (issue 15 item 4).

Live mode only: the checks whose requests are byte-identical after canonical key order
judge one response; a retry of a failing judgement, a check that asks twice, a timing
check, a record run and a replay each send their own requests. The plugin runs in a
subprocess against the reference server on 127.0.0.1, which counts what it receives.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from conformance_run import run_plugin

from conformance.harness.http import RawResponse
from conformance.harness.share import ResponseMemo, request_key
from conformance.testing.fakeserver import FakeServer


def _run(cwd: Path, url: str, *args: str) -> subprocess.CompletedProcess[str]:
    return run_plugin(cwd, "--base-url", url, *args)


def _results(cwd: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(
        (cwd / "reports" / "results" / "generic__ref-model.json").read_text(encoding="utf-8")
    )
    return data


def _outcomes(data: dict[str, Any]) -> dict[str, str]:
    return {f"{r['check']}[{r['layer']}]": r["outcome"] for r in data["results"]}


def _chats(server: FakeServer) -> int:
    return sum(1 for r in server.requests if r["path"] == "/v1/chat/completions")


def test_sharing_sends_fewer_requests_with_the_same_outcomes(tmp_path: Path) -> None:
    counts, outcomes, stats = [], [], []
    # the third run shares under --concurrency: a question asked while another check is
    # asking it waits for that answer
    for i, flags in enumerate(
        (["--share-requests"], ["--no-share-requests"], ["--concurrency", "4"])
    ):
        cwd = tmp_path / str(i)
        cwd.mkdir()
        with FakeServer() as server:
            proc = _run(cwd, server.base_url, *flags)
            counts.append(_chats(server))
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
        data = _results(cwd)
        outcomes.append(_outcomes(data))
        stats.append(data["run"]["stats"])
    shared, unshared, concurrent = counts
    assert outcomes[0] == outcomes[1] == outcomes[2]
    assert concurrent == shared, counts
    assert len(outcomes[0]) >= 60
    # the seven "count to five" streams, the forced tool calls, ... are asked once
    assert shared <= unshared - 10, (shared, unshared)
    assert stats[0]["requests_shared"] >= 10
    assert stats[1]["requests_shared"] == 0


def test_a_retry_asks_the_server_again(tmp_path: Path) -> None:
    """With no [DONE] the done-sentinel check fails on the response it shared with
    sse-framing; each of its two retries is a fresh request."""
    args = ("--layers", "wire", "--checks", "stream.sse-framing", "--checks",
            "stream.done-sentinel", "--flaky-tries", "3")  # fmt: skip
    sent = []
    for flag in ("--share-requests", "--no-share-requests"):
        cwd = tmp_path / flag.strip("-")
        cwd.mkdir()
        with FakeServer(["no-done"]) as server:
            proc = _run(cwd, server.base_url, flag, *args)
            sent.append(_chats(server))
        assert _outcomes(_results(cwd))["stream.done-sentinel[wire]"] == "fail", proc.stdout
    assert sent == [1 + 2, 2 + 2]


def test_a_check_that_asks_twice_gets_two_answers(tmp_path: Path) -> None:
    with FakeServer() as server:
        proc = _run(tmp_path, server.base_url, "--layers", "wire", "--checks", "params.seed")
        assert _chats(server) == 2, proc.stdout
    assert _outcomes(_results(tmp_path)) == {"params.seed[wire]": "pass"}


def test_a_record_run_sends_every_check_its_own_requests(tmp_path: Path) -> None:
    args = ("--layers", "wire", "--checks", "stream.sse-framing", "--checks",
            "stream.done-sentinel", "--checks", "stream.role-once")  # fmt: skip
    with FakeServer() as server:
        proc = _run(tmp_path, server.base_url, "--conformance-mode", "record",
                    "--cassette-dir", str(tmp_path / "cassettes"), *args)  # fmt: skip
        assert proc.returncode == 0, proc.stdout[-3000:]
        assert _chats(server) == 3
    column = tmp_path / "cassettes" / "generic" / "ref-model"
    for check in ("stream.sse-framing", "stream.done-sentinel", "stream.role-once"):
        text = (column / f"{check}.yaml").read_text(encoding="utf-8")
        assert text.count("uri:") == 1, check  # each cassette holds its own exchange
    stats = json.loads((column / "manifest.json").read_text(encoding="utf-8"))["run_stats"]
    assert stats["requests"] == 3
    assert stats["requests_shared"] == 0
    assert stats["wall_s"] >= 0
    assert _results(tmp_path)["run"]["stats"] == stats
    # a replay sends nothing and shows the recording run's figures, not its own
    (tmp_path / "reports" / "results" / "generic__ref-model.json").unlink()
    replay = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q",
         "--conformance-mode", "replay", "--cassette-dir", str(tmp_path / "cassettes"),
         "--report-dir", str(tmp_path / "reports")],
        cwd=tmp_path, capture_output=True, text=True, timeout=300, check=False,
        env={k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")},
    )  # fmt: skip
    assert replay.returncode == 0, replay.stdout[-3000:]
    assert _results(tmp_path)["run"]["stats"] == stats


def test_a_few_checks_recorded_into_a_column_keep_the_whole_runs_figures(
    tmp_path: Path,
) -> None:
    three = ("--layers", "wire", "--checks", "stream.sse-framing", "--checks",
             "stream.done-sentinel", "--checks", "stream.role-once")  # fmt: skip
    manifest = tmp_path / "cassettes" / "generic" / "ref-model" / "manifest.json"
    with FakeServer() as server:
        cassettes = ("--conformance-mode", "record", "--cassette-dir", str(tmp_path / "cassettes"))
        assert _run(tmp_path, server.base_url, *cassettes, *three).returncode == 0
        whole = json.loads(manifest.read_text(encoding="utf-8"))
        one = ("--layers", "wire", "--checks", "stream.role-once")
        assert _run(tmp_path, server.base_url, *cassettes, *one).returncode == 0
    again = json.loads(manifest.read_text(encoding="utf-8"))
    assert whole["run_stats"]["requests"] == 3
    assert again["run_stats"] == whole["run_stats"]  # not the one-check run's 1 request
    assert set(again["expected"]) == set(whole["expected"])
    assert again["recorded_at"] >= whole["recorded_at"]


def _response(body: bytes, **kw: Any) -> RawResponse:
    return RawResponse(method="POST", path="/v1/x", request_json=None, status=200, body=body, **kw)


def test_memo_key_is_canonical_and_memo_is_bounded() -> None:
    assert request_key("post", "p", {"a": 1, "b": 2}) == request_key("POST", "p", {"b": 2, "a": 1})
    assert request_key("POST", "p", {"a": 1}) != request_key("POST", "q", {"a": 1})
    assert request_key("POST", "p", {1: 1}) == b""  # not encodable: never shared
    memo = ResponseMemo(max_bytes=4096, max_entries=2)
    memo.put(b"k1", _response(b"x" * 10_000))  # larger than the whole bound
    assert len(memo) == 0
    assert memo.not_kept == 1
    for key in (b"a", b"b", b"c"):
        memo.put(key, _response(b"y" * 100))
    assert len(memo) == 2
    assert memo.get(b"a") is None
    assert memo.not_kept == 2
    assert memo.bytes_held <= memo.max_bytes
    memo.put(b"err", _response(b"", error="ReadTimeout"))
    memo.put(b"cut", _response(b"data: {}\n\n", aborted=True))
    assert memo.get(b"err") is None
    assert memo.get(b"cut") is None
    got = memo.get(b"c")
    assert got is not None
    assert got.body == b"y" * 100
    got.headers["x"] = "changed"
    again = memo.get(b"c")
    assert again is not None
    assert "x" not in again.headers


@pytest.mark.parametrize("value", ["0", "2000"])
def test_share_max_mb_is_bounded(tmp_path: Path, value: str) -> None:
    proc = _run(tmp_path, "http://127.0.0.1:9/v1", "--share-max-mb", value)
    assert proc.returncode == 2
    assert "--share-max-mb takes 1 to 1024" in proc.stderr


def test_the_summary_says_when_the_sharing_bound_was_reached() -> None:
    from types import SimpleNamespace

    from conformance.harness.share import RunStats
    from conformance.plugin import cost_lines

    memo = ResponseMemo(max_bytes=1024 * 1024, max_entries=1)
    memo.put(b"a", _response(b"1"))
    memo.put(b"b", _response(b"2"))  # pushes "a" out
    stats = RunStats(wall_s=125.0, requests=40, shared=9, with_usage=3)
    column = SimpleNamespace(
        stats=stats, memo=memo, target=SimpleNamespace(share_max_bytes=1 << 20)
    )
    lines = cost_lines(column)  # type: ignore[arg-type]
    assert lines[0].startswith("run: 2 min, 40 requests (9 more answered by a shared response)")
    assert "1 response(s) not kept for sharing" in lines[1]
    assert "--share-max-mb 1" in lines[1]
    column.memo = ResponseMemo(max_bytes=1024)
    assert len(cost_lines(column)) == 1  # type: ignore[arg-type]


def test_tokens_come_from_usage_or_llama_cpp_timings() -> None:
    from conformance.harness.share import usage_of

    sse = {"content-type": "text/event-stream"}
    plain = _response(b'{"usage": {"prompt_tokens": 7, "completion_tokens": 3}}')
    assert usage_of(plain) == (7, 3)
    stream = _response(
        b'data: {"choices": []}\n\ndata: {"choices": [], "timings": {"prompt_n": 5, '
        b'"predicted_n": 9}}\n\ndata: [DONE]\n\n',
        headers=sse,
    )
    assert usage_of(stream) == (5, 9)
    assert usage_of(_response(b'data: {"choices": []}\n\n', headers=sse)) == (None, None)
    assert usage_of(_response(b'{"usage": {"prompt_tokens": -1, "completion_tokens": true}}')) == (
        None,
        None,
    )
