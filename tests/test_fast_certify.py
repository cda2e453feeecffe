"""A faster live certification (issue 15 item 4): smaller requests where the judgement allows
(sent only by suite 0.2.0 on: 0.1 recordings are asked what they were asked), fewer tries
of a failing judgement, and the server's slots as the concurrency a column may use.

The plugin runs in a subprocess against the reference server on 127.0.0.1.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

from child_pytest import run_pytest

from conformance.testing.fakeserver import FakeServer

ROOT = Path(__file__).resolve().parent.parent


def _pytest(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return run_pytest(cwd, "-q", "--report-dir", str(cwd / "reports"), *args)


def _outcomes(cwd: Path, name: str) -> dict[str, Any]:
    data = json.loads((cwd / "reports" / "results" / name).read_text(encoding="utf-8"))
    return {f"{r['check']}[{r['layer']}]": r for r in data["results"]}


def test_reasoning_separated_asks_for_fewer_tokens_from_suite_0_2(tmp_path: Path) -> None:
    cassettes = tmp_path / "cassettes"
    with FakeServer() as server:
        proc = _pytest(tmp_path, "--base-url", server.base_url, "--conformance-mode",
                       "record", "--cassette-dir", str(cassettes),
                       "--checks", "reasoning.separated")  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-3000:]
    for name in ("reasoning.separated.yaml", "reasoning.separated.sdk.yaml"):
        text = (cassettes / "generic" / "ref-model" / name).read_text(encoding="utf-8")
        assert '"max_tokens": 32' in text, name
        assert "160" not in text, name


#: A suite-0.1.0 recording kept for this test: the committed llamacpp column's manifest and its
#: reasoning.separated cassettes as recorded on 2026-11-27 (git c42a2b9), copied byte for byte
#: when cassettes/ had no 0.1 column left.
COLUMN_0_1 = ROOT / "tests" / "data" / "cassettes-0.1" / "llamacpp" / "qwen2.5-coder-1.5b"


def test_a_0_1_recording_of_reasoning_separated_replays_with_its_own_request(
    tmp_path: Path,
) -> None:
    """A column recorded by suite 0.1.0 asked with max_tokens 160: its replay must send that
    body (vcrpy matches on it) and keep the recorded outcomes."""
    assert '"max_tokens": 160' in (COLUMN_0_1 / "reasoning.separated.yaml").read_text("utf-8")
    _replays_as_recorded(tmp_path, COLUMN_0_1, "0.1.0", "reasoning.separated")


def _replays_as_recorded(cwd: Path, column: Path, suite: str, check: str) -> None:
    """The committed ``column`` (cassettes/<provider>/<model>), recorded by ``suite``,
    replays ``check`` (both layers) with its recorded outcomes."""
    provider = column.parent.name
    manifest = json.loads((column / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["suite_version"] == suite
    cassette_dir = str(column.parent.parent)
    proc = _pytest(cwd, "--conformance-mode", "replay", "--cassette-dir", cassette_dir,
                   "--provider", provider, "--checks", check)  # fmt: skip
    res = _outcomes(cwd, f"{provider}__{column.name}.json")
    for key in (f"{check}[wire]", f"{check}[sdk]"):
        assert res[key]["outcome"] == manifest["expected"][key], (key, res[key]["message"])
        assert res[key]["outcome"] != "error", proc.stdout[-2000:]


def _stats(cwd: Path) -> dict[str, Any]:
    data = json.loads((cwd / "reports" / "results" / "generic__ref-model.json").read_text())
    stats: dict[str, Any] = data["run"]["stats"]
    return stats


def _overlaps(a: dict[str, Any], b: dict[str, Any]) -> bool:
    return bool(a["t0"] < b["t1"] and b["t0"] < a["t1"])


def test_concurrency_runs_checks_at_once_and_timing_checks_alone(tmp_path: Path) -> None:
    """``--concurrency 4``: the tool checks overlap at the server, the outcomes are the serial
    run's, and the timing check's request (the only one counting to 20) overlaps nothing."""
    args = ("--layers", "wire", "--checks", "tools.*", "--checks", "timeout.time-to-headers",
            "--no-share-requests")  # fmt: skip
    outcomes = []
    for n in ("1", "4"):
        cwd = tmp_path / n
        cwd.mkdir()
        with FakeServer(delay=0.01) as server:
            proc = _pytest(cwd, "--base-url", server.base_url, "--concurrency", n, *args)
            chats = [r for r in server.requests if r["path"] == "/v1/chat/completions"]
            peak = server.max_in_flight
        assert proc.returncode == 0, proc.stdout[-3000:]
        outcomes.append(
            {k: r["outcome"] for k, r in _outcomes(cwd, "generic__ref-model.json").items()}
        )
        assert _stats(cwd)["concurrency"] == int(n)
        timing = [r for r in chats if b"20" in r["body"] and b"Count" in r["body"]]
        assert len(timing) == 1, [r["body"][:80] for r in chats]
        others = [r for r in chats if r is not timing[0]]
        assert not any(_overlaps(timing[0], r) for r in others), n
        if n == "1":
            assert peak == 1
        else:
            assert peak >= 2  # the pool really ran checks at once
    assert outcomes[0] == outcomes[1]
    assert len(outcomes[0]) >= 15


def test_concurrency_defaults_to_the_servers_slots(tmp_path: Path) -> None:
    for slots, expected in ((3, 3), (None, 1)):
        cwd = tmp_path / str(slots)
        cwd.mkdir()
        with FakeServer(total_slots=slots) as server:
            proc = _pytest(cwd, "--base-url", server.base_url, "--layers", "wire",
                           "--checks", "stream.role-once")  # fmt: skip
        assert proc.returncode == 0, proc.stdout[-3000:]
        assert _stats(cwd)["concurrency"] == expected


def test_concurrency_is_refused_outside_live_mode_and_bounded(tmp_path: Path) -> None:
    url = "http://127.0.0.1:9/v1"
    for args, needle in (
        (("--base-url", url, "--conformance-mode", "record", "--concurrency", "2"),
         "--concurrency 2: record mode runs one check at a time"),
        (("--conformance-mode", "replay", "--concurrency", "2"),
         "--concurrency 2: replay mode runs one check at a time"),
        (("--base-url", url, "--concurrency", "0"), "--concurrency takes 1 to 16"),
        (("--base-url", url, "--concurrency", "17"), "--concurrency takes 1 to 16"),
    ):  # fmt: skip
        proc = _pytest(tmp_path, *args)
        assert proc.returncode == 2, (args, proc.stdout[-2000:])
        lines = [ln for ln in proc.stderr.splitlines() if "conformance:" in ln]
        assert len(lines) == 1, proc.stderr
        assert needle in lines[0]


def test_suite_0_3_asks_the_cache_and_first_token_checks_for_less(tmp_path: Path) -> None:
    """From suite 0.3.0 the cache prefix is 160 words, one salted prefix for both layers, and
    the first-token checks ask for 4 tokens; the committed 0.2 recording of the
    llamacpp-tools column still replays with its 300-word prefixes."""
    cassettes = tmp_path / "cassettes"
    with FakeServer() as server:
        proc = _pytest(tmp_path, "--base-url", server.base_url, "--conformance-mode", "record",
                       "--cassette-dir", str(cassettes), "--checks", "cache.prefix-reported",
                       "--checks", "timeout.time-to-*")  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-3000:]
    column = cassettes / "generic" / "ref-model"
    for name in ("cache.prefix-reported.yaml", "cache.prefix-reported.sdk.yaml"):
        text = (column / name).read_text(encoding="utf-8")
        prefixes = set(re.findall(r"Context for this conversation: (\w+) ([a-z ]+)", text))
        assert len(prefixes) == 1, (name, prefixes)  # the two requests, and both layers
        ((salt, words),) = prefixes
        assert salt == "cachecheck"
        assert len(words.split()) == 160 - 1, name
    live = json.loads((column / "manifest.json").read_text(encoding="utf-8"))["live"]
    for key in ("timeout.time-to-headers[wire]", "timeout.time-to-first-token[wire]"):
        assert live[key]["evidence"]["request"]["max_tokens"] == 4, key
    results = _outcomes(tmp_path, "generic__ref-model.json")
    assert {k: r["outcome"] for k, r in results.items() if k.startswith("cache.")} == {
        "cache.prefix-reported[wire]": "pass",
        "cache.prefix-reported[sdk]": "pass",
    }

    replay = tmp_path / "replay"
    replay.mkdir()
    _replays_as_recorded(
        replay,
        ROOT / "cassettes" / "llamacpp-tools" / "qwen2.5-coder-1.5b",
        "0.2.0",
        "cache.prefix-reported",
    )
