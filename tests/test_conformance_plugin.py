"""The plugin end to end: pytest runs in a subprocess (real exit codes, real entry point)
against the reference fake server (``conformance.testing.fakeserver``) with and without quirks."""

from __future__ import annotations

import json
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from child_pytest import run_pytest

from conformance.harness.recording import scan_for_secrets
from conformance.testing.fakeserver import FakeServer

KEY = "sk-test-0123456789abcdefghijklmnop"


def run(
    cwd: Path, *args: str, env: dict[str, str] | None = None, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    return run_pytest(cwd, "-q", *args, env=env, timeout=timeout)


def results(cwd: Path, name: str = "generic__ref-model.json") -> dict[str, dict[str, Any]]:
    data = json.loads((cwd / "reports" / "results" / name).read_text())
    return {f"{r['check']}[{r['layer']}]": r for r in data["results"]}


@pytest.fixture
def server() -> Iterator[FakeServer]:
    with FakeServer() as srv:
        yield srv


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# ---- inertness and usage -----------------------------------------------------------------------


def test_inert_without_options(tmp_path: Path) -> None:
    (tmp_path / "test_x.py").write_text("def test_ok():\n    assert True\n")
    proc = run(tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "1 passed" in proc.stdout
    assert "conformance" not in proc.stdout
    assert not (tmp_path / "reports").exists()


def test_options_are_listed_in_help(tmp_path: Path) -> None:
    proc = run(tmp_path, "--help")
    for opt in ("--provider", "--base-url", "--model", "--api-key-env", "--conformance-mode",
                "--cassette-dir", "--checks", "--report-dir", "--request-timeout",
                "--allow-insecure", "--conformance-list"):  # fmt: skip
        assert opt in proc.stdout


def test_conformance_list(tmp_path: Path) -> None:
    proc = run(tmp_path, "--conformance-list")
    assert proc.returncode == 0
    assert "stream.done-sentinel" in proc.stdout
    assert "tools.stream.args-concat-valid-json" in proc.stdout
    assert not (tmp_path / "reports").exists()


def test_unreachable_server_exits_2_with_url_and_start_command(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{_free_port()}/v1"
    proc = run(tmp_path, "--provider", "llamacpp", "--base-url", url, "--connect-timeout", "2")
    assert proc.returncode == 2
    line = [ln for ln in proc.stderr.splitlines() if "conformance" in ln]
    assert len(line) == 1, proc.stderr
    assert url in line[0]
    assert "llama-server" in line[0]


@pytest.mark.parametrize(
    ("args", "env", "needle"),
    [
        (["--provider", "nope"], {}, "unknown provider"),
        (["--conformance-mode", "live"], {}, "needs --provider"),
        (["--base-url", "ftp://x"], {}, "http://"),
        (["--base-url", "http://127.0.0.1:9/v1", "--api-key-env", "NO_SUCH_VAR_XYZ"], {}, "empty"),
        (["--base-url", "http://127.0.0.1:9/v1", "--checks", "nothing.*"], {}, "no check"),
        (["--conformance-mode", "replay", "--cassette-dir", "nowhere"], {}, "no recordings"),
    ],
)
def test_usage_errors_exit_2(
    tmp_path: Path, args: list[str], env: dict[str, str], needle: str
) -> None:
    proc = run(tmp_path, *args, env=env)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert needle in proc.stderr
    assert KEY not in proc.stdout + proc.stderr


# ``127.1`` is 127.0.0.1 to the resolver (a numeric form: no DNS is asked) but not to the key
# guard, which accepts only ``localhost`` and literal loopback addresses: it stands in for a
# remote host, and nothing ever leaves 127.0.0.0/8 even if the guard were wrong.
@pytest.mark.parametrize("scheme", ["http", "HTTP", "Http"])
def test_the_key_is_refused_over_plain_http_whatever_the_scheme_case(
    tmp_path: Path, scheme: str
) -> None:
    url = f"{scheme}://127.1:{_free_port()}/v1"  # nothing listens: a wrong guard is refused
    proc = run(tmp_path, "--base-url", url, "--api-key-env", "CONF_KEY", env={"CONF_KEY": KEY})
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "refusing to send the API key over plain http" in proc.stderr
    assert "cannot reach" not in proc.stderr  # refused before any connection
    assert KEY not in proc.stdout + proc.stderr


def test_allow_insecure_lets_the_key_go_to_a_remote_http_host(
    tmp_path: Path, server: FakeServer
) -> None:
    port = server.base_url.split(":")[2].split("/")[0]
    url = f"http://127.1:{port}/v1"  # not loopback to the guard; reaches the fake server
    args = ("--base-url", url, "--api-key-env", "CONF_KEY", "--checks", "stream.done-sentinel")
    refused = run(tmp_path, *args, env={"CONF_KEY": KEY})
    assert refused.returncode == 2
    assert "refusing to send the API key over plain http" in refused.stderr  # a real test
    proc = run(tmp_path, *args, "--allow-insecure", env={"CONF_KEY": KEY})
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "refusing" not in proc.stderr  # got past the key check
    sent = {r["headers"].get("authorization") for r in server.requests}
    assert f"Bearer {KEY}" in sent  # and the key went with the requests
    assert KEY not in proc.stdout + proc.stderr


# ---- live runs and outcomes --------------------------------------------------------------------


def test_reference_server_passes_every_check(tmp_path: Path, server: FakeServer) -> None:
    proc = run(tmp_path, "--base-url", server.base_url)
    assert proc.returncode == 0, proc.stdout[-3000:]
    res = results(tmp_path)
    assert len(res) >= 60
    outcomes = {r["outcome"] for r in res.values()}
    assert outcomes <= {"pass", "n/a"}, {
        k: r["message"] for k, r in res.items() if r["outcome"] != "pass"
    }
    data = json.loads((tmp_path / "reports/results/generic__ref-model.json").read_text())
    assert data["run"]["mode"] == "live"
    assert data["run"]["column"] == "generic/ref-model"
    assert data["run"]["recorded_date"] is None
    assert res["timeout.time-to-first-token[sdk]"]["outcome"] == "pass"


def test_must_failure_exits_1(tmp_path: Path) -> None:
    with FakeServer(["no-done"]) as srv:
        proc = run(tmp_path, "--base-url", srv.base_url, "--checks", "stream.*")
    assert proc.returncode == 1
    res = results(tmp_path)
    assert res["stream.done-sentinel[wire]"]["outcome"] == "fail"
    assert res["stream.done-sentinel[wire]"]["level"] == "MUST"
    assert res["stream.role-once[wire]"]["outcome"] == "pass"
    assert "without data: [DONE]" in res["stream.done-sentinel[wire]"]["message"]


def test_should_failure_is_reported_but_exits_0(tmp_path: Path) -> None:
    with FakeServer(["repeat-tool-id"]) as srv:
        proc = run(tmp_path, "--base-url", srv.base_url, "--checks", "tools.stream.*")
    assert proc.returncode == 0, proc.stdout[-2000:]
    res = results(tmp_path)
    assert res["tools.stream.id-name-once[wire]"]["outcome"] == "fail"
    assert res["tools.stream.id-name-once[wire]"]["level"] == "SHOULD"
    assert "should-fail" in proc.stdout


def test_sdk_layer_sees_what_the_wire_layer_sees(tmp_path: Path) -> None:
    with FakeServer(["markup"]) as srv:
        run(tmp_path, "--base-url", srv.base_url, "--checks", "tools.no-markup-in-content")
    res = results(tmp_path)
    assert res["tools.no-markup-in-content[wire]"]["outcome"] == "fail"
    # the SDK recovers calls leaked as <tool_call> text: its text must stay clean
    assert res["tools.no-markup-in-content[sdk]"]["outcome"] in ("pass", "warn")


def test_known_failure_becomes_xfail_with_reason_and_link(tmp_path: Path) -> None:
    with FakeServer(["named-as-auto", "ignore-model"]) as srv:
        proc = run(
            tmp_path, "--provider", "llamacpp-tools", "--base-url", srv.base_url,
            "--checks", "tools.choice-named,errors.unknown-model", "--layers", "wire",
        )  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-2000:]
    res = results(tmp_path, "llamacpp-tools__ref-model.json")
    named = res["tools.choice-named[wire]"]
    assert named["outcome"] == "xfail"
    assert "auto" in named["reason"]
    assert named["link"].startswith("https://")
    assert res["errors.unknown-model[wire]"]["outcome"] == "xfail"


def test_known_failure_that_passes_is_a_warning(tmp_path: Path, server: FakeServer) -> None:
    run(tmp_path, "--provider", "llamacpp-tools", "--base-url", server.base_url,
        "--checks", "tools.choice-named", "--layers", "wire")  # fmt: skip
    r = results(tmp_path, "llamacpp-tools__ref-model.json")["tools.choice-named[wire]"]
    assert r["outcome"] == "warn"
    assert "update the profile" in r["message"]


def test_declared_capability_absent_is_unsupported(tmp_path: Path, server: FakeServer) -> None:
    proc = run(tmp_path, "--provider", "llamacpp-python", "--base-url", server.base_url,
               "--checks", "stream.usage-chunk")  # fmt: skip
    assert proc.returncode == 0
    r = results(tmp_path, "llamacpp-python__ref-model.json")["stream.usage-chunk[wire]"]
    assert r["outcome"] == "unsupported"


def test_explicit_paths_still_collect_user_tests(tmp_path: Path, server: FakeServer) -> None:
    (tmp_path / "test_x.py").write_text("def test_ok():\n    assert True\n")
    proc = run(tmp_path, "test_x.py", "--base-url", server.base_url, "--checks", "models.list")
    assert proc.returncode == 0
    assert "2 passed" in proc.stdout


# ---- record / replay ---------------------------------------------------------------------------

CHECKS = "stream.done-sentinel,tools.parallel,timeout.time-to-first-token,errors.unknown-model"


@pytest.fixture
def recorded(tmp_path: Path) -> Path:
    with FakeServer(["secret-headers"]) as srv:
        proc = run(
            tmp_path, "--base-url", srv.base_url, "--conformance-mode", "record",
            "--checks", CHECKS, "--api-key-env", "CONF_KEY", env={"CONF_KEY": KEY},
        )  # fmt: skip
        sent = [r["headers"].get("authorization") for r in srv.requests]
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    assert f"Bearer {KEY}" in sent
    assert "ETA" in proc.stdout  # progress lines while recording
    return tmp_path


def test_record_writes_cassettes_and_manifest(recorded: Path) -> None:
    col = recorded / "cassettes" / "generic" / "ref-model"
    names = sorted(p.name for p in col.iterdir())
    assert "manifest.json" in names
    assert "stream.done-sentinel.yaml" in names
    assert "tools.parallel.sdk.yaml" in names
    assert not any(n.startswith("timeout.") for n in names)  # live-only: no cassette
    manifest = json.loads((col / "manifest.json").read_text())
    assert manifest["server"]["version"] == "fake-1"
    assert manifest["model_meta"]["meta"]["n_ctx"] == 512
    assert manifest["libraries"]["vcrpy"]
    live = manifest["live"]["timeout.time-to-first-token[wire]"]
    assert live["outcome"] == "pass"
    assert "time_to_first_token_s" in live["facts"]
    assert manifest["expected"]["stream.done-sentinel[wire]"] == "pass"
    results_file = json.loads((recorded / "reports/results/generic__ref-model.json").read_text())
    assert results_file["run"]["mode"] == "record"


def test_recordings_are_scrubbed(recorded: Path) -> None:
    for path in [
        *recorded.joinpath("cassettes").rglob("*"),
        *recorded.joinpath("reports").rglob("*"),
    ]:
        if path.is_file():
            text = path.read_text()
            assert KEY not in text, path
            assert scan_for_secrets(text, [KEY]) == [], path
            assert "x-litellm" not in text, path
            assert "llm_provider" not in text, path
    cassette = yaml.safe_load(
        (recorded / "cassettes/generic/ref-model/stream.done-sentinel.yaml").read_text()
    )
    req = cassette["interactions"][0]["request"]
    assert req["uri"] == "http://conformance.invalid/v1/chat/completions"
    assert set(req["headers"]) <= {"content-type"}
    assert "<redacted>" in cassette["interactions"][0]["response"]["body"]["string"]


def test_replay_offline_reproduces_the_recording(recorded: Path) -> None:
    (recorded / "reports").rename(recorded / "reports-record")
    proc = run(recorded, "--conformance-mode", "replay")  # the server is gone
    assert proc.returncode == 0, proc.stdout[-3000:]
    res = results(recorded)
    data = json.loads((recorded / "reports/results/generic__ref-model.json").read_text())
    assert data["run"]["mode"] == "replay"
    assert data["run"]["recorded_date"]
    assert res["stream.done-sentinel[wire]"]["outcome"] == "pass"
    assert res["tools.parallel[sdk]"]["outcome"] == "pass"
    ttft = res["timeout.time-to-first-token[wire]"]
    assert ttft["from_manifest"] is True
    assert ttft["outcome"] == "pass"
    assert ttft["message"].startswith("recorded ")
    assert res["errors.unknown-model[sdk]"]["outcome"] == "pass"


def test_replay_without_live_measurement_is_not_run(recorded: Path) -> None:
    proc = run(recorded, "--conformance-mode", "replay", "--checks", "timeout.longest-gap")
    assert proc.returncode == 0
    assert results(recorded)["timeout.longest-gap[wire]"]["outcome"] == "not-run"


def test_replay_with_a_missing_cassette_is_an_error(recorded: Path) -> None:
    (recorded / "cassettes/generic/ref-model/tools.parallel.yaml").unlink()
    proc = run(recorded, "--conformance-mode", "replay", "--checks", "tools.parallel")
    assert proc.returncode == 1
    r = results(recorded)["tools.parallel[wire]"]
    assert r["outcome"] == "error"
    assert "missing cassette" in r["message"]


def test_replay_with_an_unused_interaction_is_an_error(recorded: Path) -> None:
    path = recorded / "cassettes/generic/ref-model/stream.done-sentinel.yaml"
    data = yaml.safe_load(path.read_text())
    extra = json.loads(data["interactions"][0]["request"]["body"])
    extra["max_tokens"] = 31
    dup = json.loads(json.dumps(data["interactions"][0]))
    dup["request"]["body"] = json.dumps(extra)
    data["interactions"].append(dup)
    path.write_text(yaml.safe_dump(data))
    proc = run(recorded, "--conformance-mode", "replay", "--checks", "stream.done-sentinel")
    assert proc.returncode == 1
    r = results(recorded)["stream.done-sentinel[wire]"]
    assert r["outcome"] == "error"
    assert "not used" in r["message"]


def test_replay_with_a_changed_request_is_an_error(recorded: Path) -> None:
    path = recorded / "cassettes/generic/ref-model/stream.done-sentinel.yaml"
    data = yaml.safe_load(path.read_text())
    body = json.loads(data["interactions"][0]["request"]["body"])
    body["max_tokens"] = 7
    data["interactions"][0]["request"]["body"] = json.dumps(body)
    path.write_text(yaml.safe_dump(data))
    proc = run(recorded, "--conformance-mode", "replay", "--checks", "stream.done-sentinel")
    assert proc.returncode == 1
    r = results(recorded)["stream.done-sentinel[wire]"]
    assert r["outcome"] == "error"
    assert "no matching interaction" in r["message"]


def test_a_recording_that_timed_out_is_reported_from_the_manifest(tmp_path: Path) -> None:
    with FakeServer(["slow-headers"]) as srv:
        proc = run(
            tmp_path, "--base-url", srv.base_url, "--conformance-mode", "record",
            "--checks", "stream.done-sentinel", "--request-timeout", "0.5",
        )  # fmt: skip
    assert proc.returncode == 1
    manifest = json.loads((tmp_path / "cassettes/generic/ref-model/manifest.json").read_text())
    assert "stream.done-sentinel[wire]" in manifest["live"]
    proc = run(tmp_path, "--conformance-mode", "replay")
    r = results(tmp_path)["stream.done-sentinel[wire]"]
    assert r["from_manifest"] is True
    assert "not replayable" in r["message"]
    assert "no matching interaction" not in r["message"]
