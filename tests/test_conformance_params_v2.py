"""The suite 0.2 parameter checks (logprobs, logit_bias, assistant prefill) against the
reference fake server: each passes on it and fails with the quirk a real server has."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from conformance_run import run_check

from conformance.catalogue.checks import get
from conformance.testing.fakeserver import FakeServer

CHECKS = (
    "params.logprobs",
    "params.logprobs-stream",
    "params.logit-bias",
    "params.assistant-prefill",
)


@pytest.fixture(scope="module")
def server() -> Iterator[FakeServer]:
    with FakeServer() as srv:
        yield srv


@pytest.mark.parametrize("check_id", CHECKS)
def test_passes_on_the_reference_server(server: FakeServer, check_id: str) -> None:
    result = run_check(check_id, server.base_url)
    assert result.outcome == "pass", result.message
    assert get(check_id).since == "0.2.0"


@pytest.mark.parametrize(
    ("check_id", "quirk", "words"),
    [
        ("params.logprobs", "no-logprobs", "no choices[0].logprobs.content"),
        ("params.logprobs-stream", "no-logprobs", "no chunk carries logprobs.content"),
        ("params.logit-bias", "logit-bias-ignored", "+100 on token"),
        ("params.assistant-prefill", "prefill-new-turn", "answered as a new turn"),
    ],
)
def test_fails_with_the_real_servers_quirk(check_id: str, quirk: str, words: str) -> None:
    with FakeServer([quirk]) as srv:
        result = run_check(check_id, srv.base_url)
    assert result.outcome == "fail", result.message
    assert words in result.message


def test_logit_bias_learns_the_ids_from_tokenize_and_bans_the_usual_reply() -> None:
    with FakeServer() as srv:
        result = run_check("params.logit-bias", srv.base_url)
        paths = [r["path"] for r in srv.requests]
    assert result.outcome == "pass", result.message
    assert paths.count("/tokenize") == 2  # the forced word, then the usual reply
    assert result.evidence.exchanges is not None
    banned = result.evidence.exchanges[-1]
    assert "logit_bias" in str(banned["request"])
    assert "Okay." in str(banned["response_excerpt"])  # the reply changed


def test_logit_bias_is_not_applicable_without_tokenize() -> None:
    # served under a prefix, the server's root has no /tokenize (404): token ids are the
    # model's and are never guessed
    with FakeServer() as srv:
        result = run_check("params.logit-bias", srv.base_url + "/sub/v1")
    assert result.outcome == "n/a", result.message
    assert "POST /tokenize gave HTTP 404" in result.message


@pytest.mark.parametrize(
    ("text", "ok"),
    [("bananabanana", True), ("ban ban ban", True), ("b", True), ("OK", False), ("bananas", False)],
)
def test_a_forced_reply_repeats_a_leading_piece(text: str, ok: bool) -> None:
    from conformance.checks.params import _repeats_a_prefix

    assert _repeats_a_prefix(text, "banana") is ok


@pytest.mark.parametrize(
    ("tokens", "outcome"),
    [
        (["1", ",", " 2"], "pass"),
        (["1", ",", " 2", " "], "warn"),  # whitespace only
        (["<think>", "ok", "</think>", "1", ",", " 2"], "warn"),  # reasoning scored too
        (["1", ",", " 3"], "fail"),
    ],
)
def test_logprob_tokens_must_spell_the_content(tokens: list[str], outcome: str) -> None:
    from conformance.catalogue.profiles import PROFILES
    from conformance.checks.params import _same_text
    from conformance.harness.context import Ctx, Target, Verdict

    target = Target(provider="generic", profile=PROFILES["generic"],
                    base_url="http://127.0.0.1:9/v1", model="m", mode="live")  # fmt: skip
    ctx = Ctx(get("params.logprobs"), "wire", target, wire=None)  # type: ignore[arg-type]
    if outcome == "fail":
        with pytest.raises(Verdict, match=r"concatenate to '1, 3'"):
            _same_text(ctx, tokens, "1, 2", "non-streamed")
        return
    _same_text(ctx, tokens, "1, 2", "non-streamed")
    assert ("warn" if ctx.warnings else "pass") == outcome


@pytest.mark.parametrize(
    "body",
    [None, [], {"choices": "x"}, {"choices": [5]}, {"choices": [{"message": "hi"}]},
     {"choices": [{"message": {"content": ["a", "b"]}}]}, {"choices": [{"message": {}}]}],
)  # fmt: skip
def test_reply_text_of_an_odd_body_is_empty_text(body: object) -> None:
    from conformance.checks._prompts import reply_text

    assert reply_text(body) == ""
    assert reply_text({"choices": [{"message": {"content": "ok"}}]}) == "ok"
