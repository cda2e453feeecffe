"""tools.mcp-round-trip[sdk]: the MCP tool round trip as a conformance check, against the
reference fake server (live, record, replay), and how a recording made before the check
existed replays: ``not-recorded`` with the command that records it, never a silent gap and
never an error; a missing cassette in a recording that knows the check stays an error."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from test_conformance_plugin import results, run

from conformance.catalogue.checks import get
from conformance.report.matrix import NOT_COUNTED, NOTE_OUTCOMES, outcome_info
from conformance.testing.fakeserver import FakeServer
from conformance.vocabulary import OUTCOMES

CHECK = "tools.mcp-round-trip"
KEY = f"{CHECK}[sdk]"
COLUMN = Path("cassettes/generic/ref-model")


def test_the_check_is_an_sdk_only_should_gated_on_tools() -> None:
    check = get(CHECK)
    assert check.layers == ("sdk",)
    assert check.level == "SHOULD"
    assert check.requires == ("tools",)
    assert check.since == "0.1.1"  # the suite version that added it


def test_passes_on_the_reference_server(tmp_path: Path) -> None:
    with FakeServer() as srv:
        proc = run(tmp_path, "--base-url", srv.base_url, "--checks", CHECK)
    assert proc.returncode == 0, proc.stdout[-2000:]
    result = results(tmp_path)[KEY]
    assert result["outcome"] == "pass", result["message"]
    # the evidence shows the call by its MCP name and the MCP tool's result going back
    excerpt = result["evidence"]["response_excerpt"]
    assert "mcp__weather__get_weather" in excerpt
    assert "temperature_c" in excerpt


def test_fails_when_the_server_drops_streamed_tool_calls(tmp_path: Path) -> None:
    # LiteLLM's ollama/ route streams no delta.tool_calls (BerriAI/litellm#35711)
    with FakeServer(["stream-drops-tool-calls"]) as srv:
        proc = run(tmp_path, "--base-url", srv.base_url, "--checks", CHECK, "--flaky-tries", "1")
    assert proc.returncode == 0, proc.stdout[-2000:]  # a SHOULD failure is reported, not fatal
    result = results(tmp_path)[KEY]
    assert result["outcome"] == "fail"
    assert "never called mcp__weather__get_weather" in result["message"]


@pytest.fixture
def recorded(tmp_path: Path) -> Path:
    with FakeServer() as srv:
        proc = run(
            tmp_path, "--base-url", srv.base_url, "--conformance-mode", "record",
            "--checks", f"{CHECK},models.list",
        )  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    return tmp_path


def _manifest(root: Path) -> tuple[Path, dict[str, Any]]:
    path = root / COLUMN / "manifest.json"
    return path, json.loads(path.read_text())


def test_records_an_sdk_cassette_and_replays_it_offline(recorded: Path) -> None:
    assert (recorded / COLUMN / f"{CHECK}.sdk.yaml").is_file()
    assert not (recorded / COLUMN / f"{CHECK}.yaml").exists()  # no wire layer
    _, manifest = _manifest(recorded)
    assert manifest["expected"][KEY] == "pass"
    proc = run(recorded, "--conformance-mode", "replay")  # the server is gone
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert results(recorded)[KEY]["outcome"] == "pass"


def _as_if_recorded_before_the_check(root: Path) -> None:
    """The column as suite 0.1.0 left it: no cassette, no outcome, the older version."""
    (root / COLUMN / f"{CHECK}.sdk.yaml").unlink()
    path, manifest = _manifest(root)
    manifest["suite_version"] = "0.1.0"
    del manifest["expected"][KEY]
    path.write_text(json.dumps(manifest))


def test_an_older_recording_replays_it_as_not_recorded_with_the_command(recorded: Path) -> None:
    _as_if_recorded_before_the_check(recorded)
    proc = run(recorded, "--conformance-mode", "replay")
    assert proc.returncode == 0, proc.stdout[-3000:]
    result = results(recorded)[KEY]
    assert result["outcome"] == "not-recorded"
    assert "suite 0.1.0" in result["message"]
    assert f"make record PROVIDER=generic MODEL=ref-model CHECKS={CHECK}" in result["message"]
    assert results(recorded)["models.list[wire]"]["outcome"] == "pass"  # the old ones replay


def test_the_matrix_shows_not_recorded_with_a_note(recorded: Path) -> None:
    _as_if_recorded_before_the_check(recorded)
    run(recorded, "--conformance-mode", "replay")
    from conformance.cli import main

    assert main(["matrix", "--results", str(recorded / "reports/results"),
                 "--out", str(recorded / "out")]) == 0  # fmt: skip
    text = (recorded / "out/compatibility.md").read_text()
    row = next(line for line in text.splitlines() if f"`{CHECK}`" in line)
    assert outcome_info("not-recorded").symbol in row
    assert "make record PROVIDER=generic MODEL=ref-model" in text
    assert "not-recorded" in OUTCOMES
    assert "not-recorded" in NOTE_OUTCOMES
    assert "not-recorded" in NOT_COUNTED


def test_a_recording_that_knows_the_check_still_errs_on_a_missing_cassette(
    recorded: Path,
) -> None:
    (recorded / COLUMN / f"{CHECK}.sdk.yaml").unlink()  # the manifest still lists it
    proc = run(recorded, "--conformance-mode", "replay")
    assert proc.returncode == 1
    result = results(recorded)[KEY]
    assert result["outcome"] == "error"
    assert "missing cassette" in result["message"]


def test_every_committed_column_shows_it() -> None:
    # reports/ comes from `make certify`: a column recorded before the check says so
    root = Path(__file__).resolve().parent.parent / "reports" / "results"
    files = sorted(root.glob("*.json"))
    assert files
    for path in files:
        data = json.loads(path.read_text())
        found = [r for r in data["results"] if f"{r['check']}[{r['layer']}]" == KEY]
        assert len(found) == 1, path.name
        assert found[0]["outcome"] != "error", path.name
