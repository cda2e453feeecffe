"""The matrix in every format: ``not-offered`` (an endpoint the server does not serve) is shown
as itself and never counted as failing; rows are grouped by area in catalogue order, each
area with a heading that carries every column's area summary.

Inputs are synthetic result files written here (not measurements).
"""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

from conformance.catalogue import checks as registry
from conformance.plugin import area_summary
from conformance.report import build_matrix, load_results, render_all
from conformance.report.matrix import Matrix, outcome_info
from conformance.results import CheckResult, ResultsFile, RunInfo, ServerInfo, must_verdict
from conformance.results import write_results as write
from conformance.vocabulary import NOT_COUNTED, PASSING

NOT_OFFERED_MSG = "POST /v1/messages: HTTP 404: not found"


def _run(provider: str = "llamacpp") -> RunInfo:
    return RunInfo(
        provider=provider,
        column=f"{provider}/m",
        configuration=None,
        server=ServerInfo(name="llama.cpp llama-server", version="b1"),
        model="m",
        mode="live",
        date="2026-12-02T00:00:00+00:00",
        suite_version="0.2.0",
        any_agent_version="0.2.0",
        python="3.11.7",
        base_url="http://127.0.0.1:8080/v1",
        recorded_date=None,
    )


def _result(
    check: str, area: str, outcome: str, layer: str = "wire", message: str = ""
) -> CheckResult:
    return CheckResult(
        check=check, layer=layer, outcome=outcome, level="MUST",  # type: ignore[arg-type]
        area=area, title=check, message=message,
    )  # fmt: skip


@pytest.fixture(scope="module")
def offered(tmp_path_factory: pytest.TempPathFactory) -> Matrix:
    """One column: a pass, a fail, and an area (/v1/messages) the server does not serve."""
    root = tmp_path_factory.mktemp("offered")
    results = [
        _result("stream.done-sentinel", "streaming", "pass"),
        _result("models.list", "errors", "fail", message="data is not an array"),
        _result("messages.basic", "messages", "not-offered", message=NOT_OFFERED_MSG),
        _result("messages.basic", "messages", "not-offered", "sdk", NOT_OFFERED_MSG),
        _result("messages.stream", "messages", "not-offered", message=NOT_OFFERED_MSG),
    ]
    write(root, ResultsFile(run=_run(), results=results))
    return build_matrix(load_results([root / "results"]))


def _md_rows(md: str) -> dict[str, str]:
    section = md.split("## Matrix", 1)[1].split("## Notes", 1)[0]
    return {
        m.group(1): line for line in section.splitlines() if (m := re.match(r"\|\s*(\S+)", line))
    }


def test_markdown_shows_not_offered_as_itself_and_does_not_count_it(offered: Matrix) -> None:
    md = render_all(offered)["compatibility.md"]
    rows = _md_rows(md)
    cell = rows["`messages.basic`"]
    assert outcome_info("not-offered").symbol == "🚫"
    assert "🚫" in cell
    assert "❌" not in cell
    assert "❌" in rows["`models.list`"]
    # the area's heading row says the whole area is not offered, in that column
    assert "🚫 *not offered*" in rows["**messages**"]
    assert "*1/1 passed*" in rows["**streaming**"]
    assert "*0/1 passed*" in rows["**errors**"]
    summary = re.sub(r" +", " ", md.split("## Summary", 1)[1].split("## Legend", 1)[0])
    assert "🚫 not offered" in summary
    # MUST on the wire: one pass of two counted; fail 1, ..., not recorded 0, not offered 2
    assert "| 1/2 | — | 1 | 0 | 0 | 0 | 0 | 0 | 0 | 0 | 2 | streaming 1/1, errors 0/1 |" in summary
    notes = md.split("## Notes", 1)[1]
    assert f"🚫 **not offered** — {NOT_OFFERED_MSG}" in notes
    assert "| 🚫 | not offered |" in re.sub(r" +", " ", md)


class _Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.pills: list[tuple[str, str]] = []  # (class, title)
        self.area_sums: list[tuple[str, str]] = []  # (class, data-col)
        self.areas: list[str] = []
        self.chips: list[str] = []
        self._chip = False
        self.chip_text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        cls = a.get("class", "")
        if "pill" in cls.split():
            self.pills.append((cls, a.get("title", "")))
        if tag == "td" and "area-sum" in cls.split():
            self.area_sums.append((cls, a.get("data-col", "")))
        if tag == "tbody" and "data-area" in a:
            self.areas.append(a["data-area"])
        self._chip = "chip" in cls.split()

    def handle_data(self, data: str) -> None:
        if self._chip:
            self.chip_text.append(data)
            self._chip = False


def _page(html: str) -> _Page:
    page = _Page()
    page.feed(html)
    return page


def test_html_gives_not_offered_its_own_class_and_colour(offered: Matrix) -> None:
    html = render_all(offered)["compatibility.html"]
    page = _page(html)
    offered_pills = [c for c, _ in page.pills if "o-not-offered" in c]
    assert len(offered_pills) >= 3  # two wire cells, one SDK cell
    assert not any("o-fail" in c and "o-not-offered" in c for c, _ in page.pills)
    # its own colour, in light and dark schemes, not the failure red
    rule = re.search(r"\.o-not-offered\{([^}]*)\}", html)
    assert rule is not None
    assert "--o-notoffered-bg" in rule.group(1)
    assert "--o-fail" not in rule.group(1)
    light = re.search(r"--o-notoffered-bg:(#[0-9a-f]+)", html)
    fail = re.search(r"--o-fail-bg:(#[0-9a-f]+)", html)
    assert light
    assert fail
    assert light.group(1) != fail.group(1)
    assert html.count("--o-notoffered-fg:") == 2  # light and dark
    # the card counts it apart, and the MUST meter counts one pass of two
    assert "∅ 2 not offered" in page.chip_text
    assert "MUST · wire</span>" in html
    assert re.search(r"MUST · wire</span><span class=\"bar\"><i class=\"[a-z]+\" "
                     r"style=\"width:50%\"></i></span><b>1/2</b>", html)  # fmt: skip
    # "only rows with problems" leaves out an endpoint that is not served
    found = re.findall(r'data-problem="(\d)" data-search="([a-z.-]+) ', html)
    flags = {name: flag for flag, name in found}
    assert flags["messages.basic"] == "0"
    assert flags["messages.stream"] == "0"
    assert flags["models.list"] == "1"
    states = {c.split()[-1] for c, col in page.area_sums if col == "0"}
    assert "not-offered" in states
    assert "part" in states  # errors: 0/1


def test_json_lists_not_offered_as_not_counted(offered: Matrix) -> None:
    doc = json.loads(render_all(offered)["compatibility.json"])
    legend = {e["outcome"]: e for e in doc["legend"]}
    assert legend["not-offered"]["counted"] is False
    assert legend["not-offered"]["passing"] is False
    assert legend["fail"]["counted"] is True
    assert legend["pass"]["passing"] is True
    assert "not-offered" in doc["not_counted"]
    column = doc["columns"][0]
    summary = column["summary"]
    assert summary["checks_by_outcome"]["not-offered"] == 2
    assert summary["checks_by_outcome"]["fail"] == 1
    assert summary["must"]["wire"] == {"passed": 1, "counted": 2}
    assert summary["areas_not_offered"] == ["messages"]
    assert "messages" not in summary["areas"]
    entry = next(r for r in column["results"] if r["check"] == "messages.basic")
    assert entry["outcome"] == "not-offered"
    assert doc["notes"][entry["note"] - 1]["message"] == NOT_OFFERED_MSG


def test_the_plugin_summary_names_not_offered_and_keeps_every_must() -> None:
    results = [
        _result("stream.done-sentinel", "streaming", "pass"),
        _result("messages.basic", "messages", "not-offered", message=NOT_OFFERED_MSG),
        _result("messages.stream", "messages", "not-offered", message=NOT_OFFERED_MSG),
    ]
    lines = area_summary(results)
    assert lines == ["streaming: 1 pass", "messages: 2 not-offered"]
    assert must_verdict((r.level, r.outcome) for r in results) == "every MUST holds"
    assert "not-offered" in NOT_COUNTED
    assert "not-offered" not in PASSING


# ---- areas -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def every_area(tmp_path_factory: pytest.TempPathFactory) -> Matrix:
    """One passing check of every catalogue area, written in reverse catalogue order."""
    root = tmp_path_factory.mktemp("areas")
    first = {}
    for check in registry.CHECKS:
        first.setdefault(check.area, check)
    results = [_result(c.id, c.area, "pass") for c in reversed(list(first.values()))]
    write(root, ResultsFile(run=_run(), results=results))
    return build_matrix(load_results([root / "results"]))


def test_every_area_renders_in_catalogue_order_with_a_heading_and_summary(
    every_area: Matrix,
) -> None:
    areas = list(registry.AREAS)
    assert "vision" in areas
    assert every_area.areas == areas
    reports = render_all(every_area)
    md = reports["compatibility.md"]
    headings = re.findall(r"^\|\s*\*\*([a-z]+)\*\*\s*\|", md, re.MULTILINE)
    assert headings == areas
    rows = _md_rows(md)
    for area in areas:
        assert "*1/1 passed*" in rows[f"**{area}**"], area
    page = _page(reports["compatibility.html"])
    assert page.areas == areas
    ncols = len(every_area.columns)
    assert len(page.area_sums) == ncols * len(areas)
    recorded = [c for c, col in page.area_sums if col == "0"]
    assert recorded == ["area-sum full"] * len(areas)
    doc = json.loads(reports["compatibility.json"])
    assert doc["areas"] == areas
    # the document's keys are sorted: "areas" is where the order is
    assert set(doc["columns"][0]["summary"]["areas"]) == set(areas)


def test_the_docs_check_table_is_grouped_by_area_in_catalogue_order() -> None:
    from conformance.docs import BEGIN, END, checks_tables, render

    tables = checks_tables()
    headings = re.findall(r"^### `([a-z]+)` \((\d+) checks?\)$", tables, re.MULTILINE)
    assert [area for area, _ in headings] == list(registry.AREAS)
    for (area, count), section in zip(
        headings, re.split(r"^### .*$", tables, flags=re.MULTILINE)[1:], strict=True
    ):
        ids = re.findall(r"^\| `([^`]+)`", section, re.MULTILINE)
        assert ids == [c.id for c in registry.CHECKS if c.area == area]
        assert int(count) == len(ids)
    assert tables.startswith(f"{len(registry.CHECKS)} checks in {len(registry.AREAS)} areas.")
    page = render(f"intro\n\n{BEGIN}\nstale\n{END}\n\nafter\n")
    assert page.startswith("intro\n\n")
    assert page.endswith("\n\nafter\n")
    assert "stale" not in page
    assert "### `vision` (5 checks)" in page


_NOT_OFFERED_CONFTEST = """
import conformance.checks  # noqa: F401 - registers the real implementations first
from conformance.catalogue.checks import IMPLEMENTATIONS


async def _needs_a_missing_endpoint(ctx):
    resp = await ctx.post_json("no-such-api", {"x": 1})
    ctx.require_offered(resp, "POST /v1/no-such-api")


IMPLEMENTATIONS[("models.list", "wire")] = _needs_a_missing_endpoint
"""


def test_the_plugin_reports_not_offered_apart_and_exits_zero(tmp_path: Path) -> None:
    from test_conformance_plugin import results, run

    from conformance.testing.fakeserver import FakeServer

    (tmp_path / "conftest.py").write_text(_NOT_OFFERED_CONFTEST)
    with FakeServer() as srv:
        proc = run(
            tmp_path, "--base-url", srv.base_url, "--checks", "models.list,stream.sse-framing"
        )
    assert proc.returncode == 0, proc.stdout[-3000:]  # a MUST check, and still not a failure
    got = results(tmp_path)["models.list[wire]"]
    assert got["outcome"] == "not-offered"
    assert "POST /v1/no-such-api: HTTP 404" in got["message"]
    assert "  errors: 1 not-offered" in proc.stdout
    assert "  streaming: 1 pass" in proc.stdout
    assert "1 pass, 1 not-offered — every MUST holds" in proc.stdout
    assert "1 not-offered" in proc.stdout.splitlines()[-1]
    assert "failed" not in proc.stdout.splitlines()[-1]
