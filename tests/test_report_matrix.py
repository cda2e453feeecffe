"""The compatibility matrix: merging result files, Markdown cells and notes, JSON, determinism.

Inputs are the synthetic result files under ``tests/data/report/`` (not measurements).
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from conformance.catalogue import checks as registry
from conformance.report import build_matrix, load_results, render_all, write_reports
from conformance.report.markdown import md_escape, md_inline, render_markdown
from conformance.report.matrix import Matrix
from conformance.report.providers import SEED_PROVIDERS, family, make_command, record_command
from conformance.results import ResultFileError, parse_run_file

DATA = Path(__file__).parent / "data" / "report"
RESULTS = DATA / "results"
HOSTILE = DATA / "hostile"

STOCK = "llamacpp/qwen2.5-coder-1.5b@b9999-synthetic [stock chat template]"
BARE = "llamacpp-tools/qwen2.5-coder-1.5b@b9999-synthetic [bare-JSON tool chat template]"
VLLM = "vllm/qwen2.5-0.5b@0.0.0-synthetic [--enable-auto-tool-choice --tool-call-parser hermes]"


@pytest.fixture(scope="module")
def matrix() -> Matrix:
    return build_matrix(load_results([RESULTS]))


@pytest.fixture(scope="module")
def markdown(matrix: Matrix) -> str:
    return render_markdown(matrix)


def _matrix_rows(md: str) -> dict[str, list[str]]:
    """check id -> cells of the big matrix table (after Check and Level)."""
    section = md.split("## Matrix", 1)[1].split("## Notes", 1)[0]
    rows: dict[str, list[str]] = {}
    for line in section.splitlines():
        match = re.match(r"\|\s*`([^`]+)`", line)
        if match:
            cells = [c.strip() for c in re.split(r"(?<!\\)\|", line.strip())[1:-1]]
            rows[match.group(1)] = cells[2:]
    return rows


def _matrix_headers(md: str) -> list[str]:
    section = md.split("## Matrix", 1)[1]
    header = next(line for line in section.splitlines() if line.startswith("| Check"))
    return [c.strip() for c in header.strip().split("|")[1:-1]][2:]


def test_columns_recorded_first_then_every_seed_system(matrix: Matrix) -> None:
    keys = [c.key for c in matrix.columns]
    # llamacpp-tools is the same system in another configuration: it stands with llamacpp.
    assert keys[:3] == [STOCK, BARE, VLLM]
    # llama.cpp and vLLM have results; the other five seed systems are "not recorded".
    assert keys[3:] == ["lmstudio", "ollama", "tgwui", "generic", "litellm"]
    assert {family(c.provider) for c in matrix.columns} == {p.id for p in SEED_PROVIDERS}
    assert [c.recorded for c in matrix.columns] == [True] * 3 + [False] * 5


def test_every_seed_system_has_a_column_without_any_results() -> None:
    empty = build_matrix([])
    assert [c.provider for c in empty.columns] == [p.id for p in SEED_PROVIDERS]
    assert not any(c.recorded for c in empty.columns)
    md = render_markdown(empty)
    for seed in SEED_PROVIDERS:
        assert f"`{record_command(seed.id)}`" in md
        assert f"`{make_command(seed.id)}`" in md
    assert "No results yet" in md


def test_record_commands() -> None:
    assert (
        record_command("ollama")
        == "pytest --provider=ollama --model <model> --conformance-mode record"
    )
    assert make_command("ollama") == "make record PROVIDER=ollama MODEL=<model>"
    assert "--base-url <base-url>" in record_command("generic")
    assert "BASE_URL=<base-url>" in make_command("generic")


def test_not_recorded_columns_in_markdown(markdown: str) -> None:
    headers = _matrix_headers(markdown)
    assert headers[3:] == [
        "LM Studio<br>*not recorded*",
        "Ollama<br>*not recorded*",
        "text-generation-webui<br>*not recorded*",
        "Generic OpenAI-compatible<br>*not recorded*",
        "Local gateway (LiteLLM)<br>*not recorded*",
    ]
    not_recorded = markdown.split("## Not recorded yet", 1)[1]
    assert (
        "- **Ollama** (`ollama`): `pytest --provider=ollama --model <model> --conformance-mode "
        "record` — or `make record PROVIDER=ollama MODEL=<model>`" in not_recorded
    )
    assert "llama.cpp" not in not_recorded
    assert "vLLM" not in not_recorded
    # The cells of a column without results stay blank (unknown, as in the OTel matrix).
    for cells in _matrix_rows(markdown).values():
        assert cells[3:] == [""] * 5


def test_two_configurations_of_one_provider_are_two_columns(markdown: str) -> None:
    headers = _matrix_headers(markdown)
    assert headers[0] == "llama.cpp<br>qwen2.5-coder-1.5b@b9999-synthetic<br>*stock chat template*"
    assert headers[1] == (
        "llama.cpp<br>qwen2.5-coder-1.5b@b9999-synthetic<br>*bare-JSON tool chat template*"
    )
    assert headers[2] == (
        "vLLM<br>qwen2.5-0.5b@0.0.0-synthetic<br>*--enable-auto-tool-choice --tool-call-parser "
        "hermes*"
    )


def test_cells_show_wire_and_sdk_with_note_numbers(markdown: str) -> None:
    rows = _matrix_rows(markdown)
    assert {check: cells[:3] for check, cells in rows.items()} == {
        # judged on the wire only (registry and results agree): one symbol per cell
        "stream.done-sentinel": ["✅", "❌¹", "·"],
        "stream.usage-chunk": ["⚠️²", "·", "·"],
        "stream.unicode": ["✅ / ✅", "❌³ / ❌³", "⛔⁴ / ❓⁵"],
        "tools.parallel": ["· / ·", "➖⁶ / ➖⁶", "· / ·"],
        "tools.choice-named": ["🔶⁷", "·", "·"],
        "timeout.time-to-first-token": ["❔ / ❔", "· / ·", "✅ / ✅"],
        "multiturn.history": ["·", "·", "✅"],
        "models.list": ["✅", "✅", "·"],
        "errors.unknown-model": ["❌⁸ / n/a", "· / ·", "· / ·"],
        "chat.basic": ["✅ / ✅", "✅ / ✅", "✅ / ✅"],
    }


def test_notes_explain_every_numbered_cell(markdown: str) -> None:
    notes = markdown.split("## Notes", 1)[1].split("## Not recorded yet", 1)[0]
    lines = [line for line in notes.splitlines() if re.match(r"\d+\. ", line)]
    assert len(lines) == 8
    assert lines[1] == (
        "2. ⚠️ **warning** — usage arrived on the last content chunk, not a separate "
        "`choices: []` chunk"
    )
    assert (
        lines[4] == "5. ❓ **unknown outcome 'sideways'** — an outcome from a future suite version"
    )
    assert lines[5] == (
        "6. ➖ **unsupported** — the profile declares parallel\\_tool\\_calls absent — reason: "
        "llama.cpp defaults parallel\\_tool\\_calls to false"
    )
    assert lines[6] == (
        "7. 🔶 **known failure** — the model answered in text — known failure: named "
        "tool\\_choice is served as auto — <https://example.com/synthetic/llamacpp/issues/1>"
    )
    assert lines[7] == "8. ❌ **fail** — HTTP 200 for an unknown model (expected 404 or 400)"


def test_identical_reasons_share_one_note(matrix: Matrix) -> None:
    # wire and SDK fail the same way in the bare-template column: one note, cited twice.
    assert matrix.note_refs[(BARE, "stream.unicode", "wire")] == 3
    assert matrix.note_refs[(BARE, "stream.unicode", "sdk")] == 3
    assert (STOCK, "chat.basic", "wire") not in matrix.note_refs


def test_rows_follow_the_registry_order(matrix: Matrix, markdown: str) -> None:
    # Areas and checks in catalogue order; an area or check the registry lacks goes last.
    areas = [a for a in registry.AREAS if a in matrix.areas]
    assert matrix.areas == [*areas, "chat"]
    position = {c.id: i for i, c in enumerate(registry.CHECKS)}
    known = [r for r in matrix.rows if r.check in position]
    assert [r.check for r in known] == sorted((r.check for r in known), key=position.__getitem__)
    assert matrix.rows[-1].check == "chat.basic"
    assert [(r.check, r.layers) for r in matrix.rows[:3]] == [
        ("stream.done-sentinel", ("wire",)),
        ("stream.usage-chunk", ("wire",)),
        ("stream.unicode", ("wire", "sdk")),
    ]
    section = markdown.split("## Matrix", 1)[1]
    order = [line.split("|")[1].strip() for line in section.splitlines() if "| **" in line]
    assert order == [f"**{area}**" for area in matrix.areas]
    assert "| `stream.usage-chunk` — Usage chunk with `include_usage` | SHOULD" in (
        re.sub(r" +", " ", section)
    )


def test_newer_run_wins_but_not_run_keeps_the_older_result(matrix: Matrix) -> None:
    vllm = next(c for c in matrix.columns if c.key == VLLM)
    assert vllm.sources == ("vllm__qwen2.5-0.5b.live.json", "vllm__qwen2.5-0.5b.replay.json")
    # multiturn.history failed live on the 25th and passed on replay on the 27th.
    assert vllm.cells[("multiturn.history", "wire")].outcome == "pass"
    # Time to first token is live-only: the replay says not-run, the live pass stays.
    assert vllm.cells[("timeout.time-to-first-token", "wire")].outcome == "pass"
    assert vllm.run is not None
    assert vllm.run.mode == "replay"
    assert vllm.provenance == "replay of 2026-11-25 recording"


def test_summary(matrix: Matrix, markdown: str) -> None:
    stock = next(c for c in matrix.columns if c.key == STOCK)
    assert stock.summary is not None
    # MUST on the wire: models.list, done-sentinel, unicode, chat.basic pass; the known
    # failure of tools.choice-named counts against. On the SDK layer: unicode and chat.basic.
    assert stock.summary.must == {"wire": (4, 5), "sdk": (2, 2)}
    assert stock.summary.counts == {
        "fail": 1,
        "n/a": 1,
        "not-run": 1,
        "pass": 4,
        "warn": 1,
        "xfail": 1,
    }
    # Warnings pass; n/a and not-run are not counted (the timeouts row has nothing else).
    assert list(stock.summary.areas.items()) == [
        ("streaming", (3, 3)),
        ("tools", (0, 1)),
        ("errors", (1, 2)),
        ("chat", (1, 1)),
    ]
    vllm = next(c for c in matrix.columns if c.key == VLLM)
    assert vllm.summary is not None
    assert vllm.summary.must == {"wire": (2, 3), "sdk": (1, 2)}
    assert vllm.summary.counts == {"error": 1, "pass": 3, "unknown": 1}
    summary = re.sub(r" +", " ", markdown.split("## Summary", 1)[1].split("## Legend", 1)[0])
    assert (
        "| 2/3 | 1/2 | 0 | 0 | 0 | 0 | 1 | 0 | 0 | 0 | 0 | streaming 0/1, timeouts 1/1, "
        "multiturn 1/1, chat 1/1 |" in summary
    )


def test_legend_lists_every_symbol(markdown: str) -> None:
    legend = markdown.split("## Legend", 1)[1].split("## Matrix", 1)[0]
    for symbol in ("✅", "⚠️", "🔶", "❌", "⛔", "➖", "n/a", "❔", "·", "❓", "(blank)"):
        assert f"| {symbol} " in legend


def test_columns_table_names_provenance(markdown: str) -> None:
    columns = markdown.split("## Columns", 1)[1].split("## Summary", 1)[0]
    assert "replay of 2026-11-20 recording; suite 0.1.0" in columns
    assert "| llama.cpp | llama.cpp llama-server b9999-synthetic |" in re.sub(r" +", " ", columns)
    assert "from `vllm__qwen2.5-0.5b.live.json`, `vllm__qwen2.5-0.5b.replay.json`" in columns


def test_json_document(matrix: Matrix) -> None:
    doc = json.loads(render_all(matrix)["compatibility.json"])
    assert doc["schema_version"] == 1
    assert doc["kind"] == "any-agent-compatibility-matrix"
    assert [c["key"] for c in doc["columns"]][:3] == [STOCK, BARE, VLLM]
    assert [c["recorded"] for c in doc["columns"]] == [True] * 3 + [False] * 5
    ollama = next(c for c in doc["columns"] if c["provider"] == "ollama")
    assert ollama["record_command"] == record_command("ollama")
    assert "results" not in ollama
    stock = doc["columns"][0]
    assert stock["run"]["configuration"] == "stock chat template"
    assert stock["summary"]["must"]["wire"] == {"passed": 4, "counted": 5}
    # Every input result is carried over whole, plus its note number.
    wire_fail = next(
        r for r in stock["results"] if r["check"] == "errors.unknown-model" and r["layer"] == "wire"
    )
    assert wire_fail["note"] == 8
    assert wire_fail["evidence"]["request"] == {"body": {"model": "no-such-model"}}
    assert [n["number"] for n in doc["notes"]] == list(range(1, 9))
    assert {e["outcome"] for e in doc["legend"]} >= {"pass", "fail", "xfail", "not-run"}
    assert len(doc["checks"]) == len(matrix.rows)


def test_rendering_is_deterministic(tmp_path: Path) -> None:
    # Same results, different file order on disk and a different directory name.
    first = render_all(build_matrix(load_results([RESULTS])))
    copy = tmp_path / "elsewhere"
    copy.mkdir()
    for path in sorted(RESULTS.glob("*.json"), reverse=True):
        shutil.copy(path, copy / path.name)
    second = render_all(build_matrix(load_results([copy])))
    assert first == second
    shuffled = render_all(build_matrix(list(reversed(load_results([RESULTS])))))
    assert first == shuffled


def test_write_reports_leaves_unchanged_files_alone(tmp_path: Path) -> None:
    out = tmp_path / "reports"
    written = write_reports([RESULTS], out)
    assert [w.path.name for w in written] == [
        "compatibility.md",
        "compatibility.html",
        "compatibility.json",
    ]
    assert all(w.changed for w in written)
    before = {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in out.iterdir()}
    again = write_reports([RESULTS], out)
    assert not any(w.changed for w in again)
    after = {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in out.iterdir()}
    assert before == after


def test_markdown_escapes_hostile_strings() -> None:
    md = render_markdown(build_matrix(load_results([HOSTILE])))
    assert "<script" not in md
    assert "<img" not in md
    assert "<b>" not in md
    assert "&lt;script&gt;" in md
    # One logical line per table row: a newline in a message cannot break the table.
    note = next(line for line in md.splitlines() if line.startswith("1. "))
    assert "line one \\| with pipe line two &lt;script&gt;" in note
    assert "`javascript:" in note
    assert "<javascript:" not in note
    matrix_section = md.split("## Matrix", 1)[1].split("## Notes", 1)[0]
    table = [line for line in matrix_section.splitlines() if line.startswith("|")]
    widths = {len(re.split(r"(?<!\\)\|", line)) for line in table}
    assert len(widths) == 1


def test_md_escape() -> None:
    assert md_escape("a|b\nc <d> & `e`") == "a\\|b c &lt;d&gt; &amp; \\`e\\`"
    assert md_inline("Named `tool_choice` <x>") == "Named `tool_choice` &lt;x&gt;"
    assert md_inline("odd ` tick") == "odd \\` tick"
    assert md_inline("a `x|y` b") == "a `x\\|y` b"


def test_bad_result_files_are_reported_with_their_name(tmp_path: Path) -> None:
    (tmp_path / "future.json").write_text(json.dumps({"schema_version": 2}), encoding="utf-8")
    with pytest.raises(ResultFileError, match=r"future\.json: schema_version 2"):
        load_results([tmp_path])
    with pytest.raises(ResultFileError, match=r"x\.json: run: missing 'provider'"):
        parse_run_file({"schema_version": 1, "run": {}, "results": []}, "x.json")
    with pytest.raises(ResultFileError, match=r"results\[0\]: missing 'check'"):
        parse_run_file(
            {"schema_version": 1, "run": {"provider": "p"}, "results": [{"layer": "wire"}]}, "y"
        )
    # The writer's own reader (conformance.results) must accept the file too.
    no_outcome = {
        "schema_version": 1,
        "run": json.loads((RESULTS / "vllm__qwen2.5-0.5b.live.json").read_text(encoding="utf-8"))[
            "run"
        ],
        "results": [{"check": "chat.basic", "layer": "wire"}],
    }
    (tmp_path / "future.json").unlink()
    (tmp_path / "vllm__qwen2.5-0.5b.json").write_text(json.dumps(no_outcome), encoding="utf-8")
    with pytest.raises(ResultFileError, match=r"0\.5b\.json: not a valid result file"):
        load_results([tmp_path])
    (tmp_path / "future.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(ResultFileError, match="cannot read"):
        load_results([tmp_path])


def test_missing_results_directory_gives_an_all_not_recorded_matrix(tmp_path: Path) -> None:
    matrix = build_matrix(load_results([tmp_path / "nothing-here"]))
    assert not matrix.rows
    assert not matrix.recorded_columns
    assert len(matrix.columns) == len(SEED_PROVIDERS)


def test_unknown_provider_gets_its_own_column_after_the_seed_ones() -> None:
    run = parse_run_file(
        {
            "schema_version": 1,
            "run": {"provider": "sglang", "model": "m", "server": {"version": "1"}},
            "results": [{"check": "chat.basic", "layer": "wire", "outcome": "pass"}],
        },
        "sglang.json",
    )
    llama = load_results([RESULTS / "llamacpp__qwen2.5-coder-1.5b.json"])
    matrix = build_matrix([run, *llama])
    assert [c.key for c in matrix.columns][:2] == [
        "llamacpp/qwen2.5-coder-1.5b@b9999-synthetic [stock chat template]",
        "sglang/m@1",
    ]
    assert matrix.columns[1].provider_name == "SGLang"
