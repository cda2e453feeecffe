"""The security checks (suite 0.2) against the reference fake server: control strings in
message text, and a missing or wrong API key. Each passes on it and fails with the quirk a
real server has; the auth check is n/a on a server without authentication."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from conformance_run import run_check
from test_conformance_plugin import results, run

from conformance.catalogue.checks import get
from conformance.testing.fakeserver import FakeServer

KEY = "fake-server-key-for-tests"


@pytest.fixture(scope="module")
def server() -> Iterator[FakeServer]:
    with FakeServer() as srv:
        yield srv


@pytest.mark.parametrize(
    "check_id", ["security.special-tokens-user", "security.special-tokens-tool"]
)
def test_control_strings_stay_text_on_the_reference_server(
    server: FakeServer, check_id: str
) -> None:
    result = run_check(check_id, server.base_url)
    assert result.outcome == "pass", result.message
    assert get(check_id).since == "0.2.0"


@pytest.mark.parametrize(
    ("check_id", "where"),
    [
        ("security.special-tokens-user", "user text"),
        ("security.special-tokens-tool", "tool result"),
    ],
)
def test_parsed_control_strings_fail(check_id: str, where: str) -> None:
    # llama-server parses special tokens in the whole templated prompt (llama.cpp#26273)
    with FakeServer(["special-tokens-parsed"]) as srv:
        result = run_check(check_id, srv.base_url)
    assert result.outcome == "fail", result.message
    assert f"{where}: <|im_start|> x4 cost 4" in result.message
    assert "<eos> x4 cost 4" in result.message
    assert "parsed as control tokens" in result.message


def test_auth_passes_where_the_server_refuses_with_401_and_an_openai_body() -> None:
    with FakeServer(api_key=KEY) as srv:
        result = run_check("security.auth-rejected", srv.base_url, api_key=KEY)
        sent = [r["headers"].get("authorization") for r in srv.requests]
    assert result.outcome == "pass", result.message
    assert sent == [None, "Bearer conformance-wrong-key-0000"]
    assert result.evidence.exchanges is not None
    assert all("HTTP 401" in x["response_excerpt"] for x in result.evidence.exchanges)
    assert KEY not in str(result.evidence.exchanges)


def test_auth_is_not_applicable_on_a_server_without_auth(server: FakeServer) -> None:
    result = run_check("security.auth-rejected", server.base_url)
    assert result.outcome == "n/a", result.message
    assert "has no authentication" in result.message


def test_a_401_without_an_openai_error_body_fails() -> None:
    # vLLM --api-key answers {"error": "Unauthorized"} (server_utils.py AuthenticationMiddleware)
    with FakeServer(["auth-error-string"], api_key=KEY) as srv:
        result = run_check("security.auth-rejected", srv.base_url, api_key=KEY)
    assert result.outcome == "fail", result.message
    assert "no key: HTTP 401 with a body that is not an OpenAI error" in result.message
    assert "wrong key:" in result.message


def test_the_reference_server_requires_its_key_on_v1_only() -> None:
    import httpx2

    with FakeServer(api_key=KEY) as srv:
        ok = httpx2.get(srv.base_url + "/models", headers={"authorization": f"Bearer {KEY}"})
        refused = httpx2.get(srv.base_url + "/models", headers={"authorization": "Bearer x"})
        root = httpx2.get(srv.base_url.removesuffix("/v1") + "/version")
    assert (ok.status_code, refused.status_code, root.status_code) == (200, 401, 200)
    assert refused.json()["error"]["type"] == "authentication_error"


# ---- recorded and replayed through the plugin ----------------------------------------------

#: The suite 0.2 checks whose requests go beyond one client's chat completions: their own
#: keyless client, /tokenize at the server root, a streamed logprobs request, the SDK.
NEW = (
    "security.auth-rejected,params.logit-bias,params.logprobs-stream,"
    "structured.json-schema-enforced"
)


def test_the_new_checks_record_and_replay_offline_with_the_same_outcomes(tmp_path: Path) -> None:
    # the auth check's own keyless client and /tokenize at the server root are recorded too
    with FakeServer(api_key=KEY) as srv:
        proc = run(
            tmp_path, "--base-url", srv.base_url, "--conformance-mode", "record",
            "--checks", NEW, "--api-key-env", "CONF_KEY", env={"CONF_KEY": KEY},
        )  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    recorded = {k: r["outcome"] for k, r in results(tmp_path).items()}
    assert recorded["security.auth-rejected[wire]"] == "pass"
    assert recorded["security.auth-rejected[sdk]"] == "pass"
    assert set(recorded.values()) == {"pass"}, recorded
    column = tmp_path / "cassettes" / "generic" / "ref-model"
    assert (column / "params.logit-bias.yaml").is_file()
    for path in column.iterdir():
        assert KEY not in path.read_text(), path
    (tmp_path / "reports").rename(tmp_path / "reports-record")
    proc = run(tmp_path, "--conformance-mode", "replay")  # the server is gone
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert {k: r["outcome"] for k, r in results(tmp_path).items()} == recorded


def test_the_sdk_raises_a_401_that_does_not_repeat_the_key() -> None:
    with FakeServer(api_key=KEY) as srv:
        result = run_check("security.auth-rejected", srv.base_url, "sdk", api_key=KEY)
        sent = [r["headers"].get("authorization") for r in srv.requests]
    assert result.outcome == "pass", result.message
    assert sent == ["Bearer conformance-wrong-key-0000"]  # once: a 401 is not retried
    with FakeServer() as srv:
        result = run_check("security.auth-rejected", srv.base_url, "sdk")
    assert result.outcome == "n/a", result.message
