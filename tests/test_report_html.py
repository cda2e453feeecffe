"""compatibility.html: self-contained, escaped, locked down by CSP, and carrying the evidence."""

from __future__ import annotations

import base64
import hashlib
import json
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

from conformance.report import build_matrix, load_results, render_html
from conformance.report.matrix import Matrix

DATA = Path(__file__).parent / "data" / "report"
RESULTS = DATA / "results"
HOSTILE = DATA / "hostile"


class _Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.scripts: list[tuple[dict[str, str | None], str]] = []
        self._in_script: dict[str, str | None] | None = None
        self.style = ""
        self._in_style = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        if tag == "script":
            self._in_script = dict(attrs)
        if tag == "style":
            self._in_style = True

    def handle_endtag(self, tag: str) -> None:
        if tag == "script" and self._in_script is not None:
            self._in_script = None
        if tag == "style":
            self._in_style = False

    def handle_data(self, data: str) -> None:
        if self._in_script is not None:
            self.scripts.append((self._in_script, data))
        if self._in_style:
            self.style += data


def _parse(text: str) -> _Page:
    page = _Page()
    page.feed(text)
    page.close()
    return page


@pytest.fixture(scope="module")
def matrix() -> Matrix:
    return build_matrix(load_results([RESULTS]))


@pytest.fixture(scope="module")
def html(matrix: Matrix) -> str:
    return render_html(matrix)


@pytest.fixture(scope="module")
def hostile_html() -> str:
    return render_html(build_matrix(load_results([HOSTILE])))


def _data(page: _Page) -> dict[str, object]:
    blob = next(text for attrs, text in page.scripts if attrs.get("type") == "application/json")
    data = json.loads(blob)
    assert isinstance(data, dict)
    return data


def test_self_contained(html: str) -> None:
    page = _parse(html)
    names = {tag for tag, _ in page.tags}
    assert not names & {"link", "img", "iframe", "object", "embed", "base", "source", "video"}
    for tag, attrs in page.tags:
        assert "src" not in attrs, tag
        href = attrs.get("href") or ""
        if re.match(r"(?i)https?:", href):
            # Only plain navigation links to the references that explain a known failure.
            assert tag == "a", tag
            assert href == "https://example.com/synthetic/llamacpp/issues/1"
            assert attrs.get("rel") == "noopener noreferrer"
    assert "@import" not in page.style
    assert "url(" not in page.style
    assert not re.search(r"(?i)\bsrc\s*=\s*[\"']?https?:", html)
    assert [attrs.get("type") for attrs, _ in page.scripts] == ["application/json", None]


def test_self_contained_without_links_has_no_http_href_at_all(tmp_path: Path) -> None:
    doc = json.loads((RESULTS / "vllm__qwen2.5-0.5b.live.json").read_text(encoding="utf-8"))
    (tmp_path / "vllm__qwen2.5-0.5b.json").write_text(json.dumps(doc), encoding="utf-8")
    text = render_html(build_matrix(load_results([tmp_path])))
    assert not re.search(r"(?i)(src|href)\s*=\s*[\"']?https?:", text)


def test_csp_forbids_network_and_allows_only_our_script(html: str) -> None:
    page = _parse(html)
    meta = next(
        attrs
        for tag, attrs in page.tags
        if tag == "meta" and attrs.get("http-equiv") == "Content-Security-Policy"
    )
    csp = meta["content"] or ""
    assert "default-src 'none'" in csp
    assert "'unsafe-inline'" not in csp.split("script-src", 1)[1].split(";", 1)[0]
    code = next(text for attrs, text in page.scripts if attrs.get("type") is None)
    digest = base64.b64encode(hashlib.sha256(code.encode("utf-8")).digest()).decode("ascii")
    assert f"script-src 'sha256-{digest}'" in csp


def test_cells_filters_and_columns(matrix: Matrix, html: str) -> None:
    page = _parse(html)
    buttons = [a for tag, a in page.tags if tag == "button" and "data-cell" in a]
    assert len(buttons) == len(matrix.rows) * len(matrix.recorded_columns)
    blank = [a for tag, a in page.tags if tag == "td" and "nr" in (a.get("class") or "").split()]
    assert len(blank) == len(matrix.rows) * 5
    areas = [a["value"] for tag, a in page.tags if tag == "input" and a.get("name") == "area"]
    assert areas == matrix.areas
    levels = [a["value"] for tag, a in page.tags if tag == "input" and a.get("name") == "level"]
    assert levels == ["MUST", "SHOULD", "MAY"]
    assert 'id="problems"' in html
    assert 'id="hide-nr"' in html
    assert 'id="search"' in html
    copies = [a["data-copy"] for tag, a in page.tags if tag == "button" and "data-copy" in a]
    assert "pytest --provider=ollama --model <model> --conformance-mode record" in copies
    assert "make record PROVIDER=litellm MODEL=<model>" in copies
    assert html.count("not recorded</div>") == 5
    assert '<li id="note-8">' in html
    # `code spans` in titles and messages become <code>, escaped.
    assert '<div class="title"><code>data: [DONE]</code> ends the stream</div>' in html
    assert "a separate <code>choices: []</code> chunk" in html


def test_cell_data_carries_request_response_and_message(html: str) -> None:
    data = _data(_parse(html))
    cells = data["cells"]
    assert isinstance(cells, dict)
    cell = next(
        c
        for c in cells.values()
        if c["check"] == "errors.unknown-model" and "wire" in c["layers"] and c["layers"]["wire"]
    )
    wire = cell["layers"]["wire"]
    assert wire["outcome"] == "fail"
    assert wire["message"] == "HTTP 200 for an unknown model (expected 404 or 400)"
    assert json.loads(wire["request"]) == {"body": {"model": "no-such-model"}}
    assert wire["response"] == '{"choices": [{"message": {"content": "Hello"}}]}'
    assert wire["note"] == 8
    assert cell["layers"]["sdk"]["outcome"] == "n/a"
    columns = data["columns"]
    assert isinstance(columns, list)
    assert columns[cell["col"]]["configuration"] == "stock chat template"


def test_hostile_strings_are_escaped(hostile_html: str) -> None:
    page = _parse(hostile_html)
    # Only our two script elements, no injected element or event handler anywhere.
    assert sum(1 for tag, _ in page.tags if tag == "script") == 2
    assert not any(tag == "img" for tag, _ in page.tags)
    assert "<b>pipes" not in hostile_html
    assert "&lt;b&gt;pipes&lt;/b&gt;" in hostile_html
    for tag, attrs in page.tags:
        for name, value in attrs.items():
            assert not name.startswith("on"), (tag, name)
            assert not name.startswith("data-pwned")
            if name == "href":
                assert not (value or "").lower().startswith("javascript:")
    assert "<script>document" not in hostile_html
    assert "&lt;script&gt;document.documentElement" in hostile_html
    # The embedded JSON cannot close its script element, and still decodes to the original.
    blob = next(t for a, t in page.scripts if a.get("type") == "application/json")
    assert "</" not in blob
    assert "<" not in blob
    data = _data(page)
    cells = data["cells"]
    assert isinstance(cells, dict)
    excerpt = cells["k0"]["layers"]["wire"]["response"]
    assert excerpt.startswith("</script><script>document.documentElement.setAttribute(")
    assert "\u2028" in excerpt
