"""The context-window and prompt-cache checks (suite 0.2) against the reference fake server:
each passes on it and fails with the quirk of the real server it guards against."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from child_pytest import run_pytest

from conformance.checks.cache import cached_tokens
from conformance.checks.context import _models_window
from conformance.testing.fakeserver import FakeServer


def _run(
    cwd: Path, quirks: list[str], checks: str, provider: str = "generic"
) -> tuple[int, dict[str, dict[str, Any]]]:
    with FakeServer(quirks) as srv:
        proc = run_pytest(cwd, "-q", "--provider", provider, "--base-url", srv.base_url,
                          "--checks", checks, "--flaky-tries", "1")  # fmt: skip
    path = cwd / "reports" / "results" / f"{provider}__ref-model.json"
    assert path.exists(), proc.stdout[-2000:] + proc.stderr[-2000:]
    data = json.loads(path.read_text())
    return proc.returncode, {f"{r['check']}[{r['layer']}]": r for r in data["results"]}


def test_context_and_cache_checks_pass_on_the_reference_server(tmp_path: Path) -> None:
    code, res = _run(tmp_path, [], "context.*,cache.*")
    assert code == 0
    assert set(res) == {
        "cache.prefix-reported[wire]",
        "cache.prefix-reported[sdk]",
        "cache.time-to-first-token[wire]",
        "context.overflow-stream[wire]",
        "context.overflow-stream[sdk]",
        "context.max-tokens-past-window[wire]",
        "context.no-silent-truncation[wire]",
        "context.no-silent-truncation[sdk]",
        "context.window-advertised[wire]",
    }
    assert {k: r["outcome"] for k, r in res.items() if r["outcome"] != "pass"} == {}
    assert res["context.window-advertised[wire]"]["message"] == "/v1/models: 512 tokens"


@pytest.mark.parametrize(
    ("quirk", "checks", "failing", "words"),
    [
        # Ollama past num_ctx: 200 with the oldest messages dropped
        ("silent-truncation", "context.no-silent-truncation,context.overflow-stream",
         ["context.no-silent-truncation[wire]", "context.overflow-stream[wire]"],
         "silently"),
        # text-generation-webui: validation inside the streaming generator, after the 200
        # (the SDK raises ContextLengthExceededError from that event: tested below)
        ("overflow-in-stream", "context.overflow-stream",
         ["context.overflow-stream[wire]"], "in-stream error"),
        # vLLM before PR #36197: the refusal blames the input only
        ("max-tokens-blames-prompt", "context.max-tokens-past-window",
         ["context.max-tokens-past-window[wire]"], "does not name max_tokens"),
        # llama-server with --context-shift: accepted, and generated past the window
        ("context-shift", "context.max-tokens-past-window",
         ["context.max-tokens-past-window[wire]"], "shifted the context"),
        # Ollama's and LM Studio's /v1/models: no window, and no metadata endpoint here
        ("no-window-info", "context.*", ["context.window-advertised[wire]"],
         "no context window"),
        # vLLM without --enable-prompt-tokens-details, Ollama's /v1: reused, not reported
        ("no-cache-report", "cache.*",
         ["cache.prefix-reported[wire]", "cache.prefix-reported[sdk]"], "no cached tokens"),
        # prefix caching off: nothing reused, the prefix is processed again
        ("no-prompt-cache", "cache.*",
         ["cache.prefix-reported[wire]", "cache.prefix-reported[sdk]",
          "cache.time-to-first-token[wire]"], "not reused"),
    ],
)  # fmt: skip
def test_each_check_fails_with_its_quirk(
    tmp_path: Path, quirk: str, checks: str, failing: list[str], words: str
) -> None:
    _, res = _run(tmp_path, [quirk], checks)
    for key in failing:
        assert res[key]["outcome"] == "fail", (key, res[key]["message"])
    assert words in res[failing[0]]["message"]
    if quirk == "silent-truncation":  # the SDK (on_truncation="error") catches what the wire shows
        sdk = res["context.no-silent-truncation[sdk]"]
        assert sdk["outcome"] == "pass", sdk["message"]
        assert "cut the prompt" in sdk["message"]
    if quirk == "overflow-in-stream":  # the refusal in the 200 stream is the SDK's typed error
        sdk = res["context.overflow-stream[sdk]"]
        assert sdk["outcome"] == "pass", sdk["message"]
        assert "in-stream error event" in sdk["message"]
    if quirk == "no-cache-report":  # reused, so answered sooner: only the report is missing
        assert res["cache.time-to-first-token[wire]"]["outcome"] == "pass"
    if quirk == "no-window-info":  # a window no source names: the checks that need it are n/a
        assert {k: r["outcome"] for k, r in res.items() if k not in failing} == dict.fromkeys(
            set(res) - set(failing), "n/a"
        )


def test_a_max_tokens_clamped_to_the_window_left_is_a_sound_answer(tmp_path: Path) -> None:
    _, res = _run(tmp_path, ["max-tokens-clamped"], "context.max-tokens-past-window")
    r = res["context.max-tokens-past-window[wire]"]
    assert r["outcome"] == "pass", r["message"]
    assert r["message"].startswith("accepted")


def test_ollamas_silent_truncation_is_its_known_failure_and_the_sdk_catches_it(
    tmp_path: Path,
) -> None:
    _, res = _run(tmp_path, ["silent-truncation"], "context.no-silent-truncation", "ollama")
    wire = res["context.no-silent-truncation[wire]"]
    assert wire["outcome"] == "xfail", wire["message"]
    assert wire["link"].startswith("https://")
    assert res["context.no-silent-truncation[sdk]"]["outcome"] == "pass"


def test_the_window_is_read_from_the_keys_servers_use_in_v1_models() -> None:
    def listing(**entry: Any) -> dict[str, Any]:
        return {"object": "list", "data": [{"id": "m", "object": "model", **entry}]}

    assert _models_window(listing(max_model_len=8192), "m") == 8192  # vLLM, SGLang
    assert _models_window(listing(meta={"n_ctx": 4096}), "m") == 4096  # llama-server
    assert _models_window(listing(context_length=32768), "m") == 32768
    assert _models_window(listing(context_length=True), "m") is None
    assert _models_window(listing(context_length="4096"), "m") is None
    assert _models_window(listing(), "m") is None
    assert _models_window({"data": None}, "m") is None
    assert _models_window([1, 2], "m") is None


def test_cached_tokens_are_read_from_usage_or_llamacpp_timings() -> None:
    details = {"usage": {"prompt_tokens": 9, "prompt_tokens_details": {"cached_tokens": 7}}}
    assert cached_tokens(details) == (7, "usage.prompt_tokens_details.cached_tokens")
    both = {**details, "timings": {"cache_n": 8}}
    assert cached_tokens(both)[0] == 7  # OpenAI's field first
    assert cached_tokens({"timings": {"cache_n": 8}}) == (8, "timings.cache_n")
    vllm = {"usage": {"prompt_tokens": 9, "prompt_tokens_details": None}}
    assert cached_tokens(vllm) == (None, "")
    assert cached_tokens({"usage": {"prompt_tokens_details": {"cached_tokens": True}}}) == (
        None,
        "",
    )
    assert cached_tokens({"timings": {"cache_n": "8"}}) == (None, "")
    assert cached_tokens(None) == (None, "")
