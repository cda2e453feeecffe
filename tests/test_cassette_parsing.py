"""Cassettes are read by libyaml, bounded as the pure-Python reader bounds them (issue 15).

:func:`conformance.harness.recording.parse_cassette` reads a replay's cassettes through
PyYAML's C parser (many times faster; most of a replay's time went into the pure-Python one)
and keeps the Python parser for PyYAML builds without libyaml. Both must read a cassette to
the same data, and both must refuse what a contributed cassette may not hold with a typed
error. The whole replay through the plugin is ``test_column_trust`` (hostile cassettes) and
``test_replay_clean`` (the committed results, byte for byte).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from conformance.harness.recording import ReadableYAML, find_recordings, parse_cassette
from conformance.trust import MAX_CASSETTE_BYTES

REPO = Path(__file__).resolve().parents[1]
RECORDINGS = find_recordings(REPO / "cassettes") if (REPO / "cassettes").is_dir() else []
needs_libyaml = pytest.mark.skipif(
    not getattr(yaml, "__with_libyaml__", False), reason="PyYAML was built without libyaml"
)
PARSERS = [pytest.param(True, id="libyaml", marks=needs_libyaml), pytest.param(False, id="python")]

_BODY = '{"messages": [{"role": "user", "content": "héllo ✓ 日本"}], "stream": true}'
_SSE = 'data: {"choices":[{"delta":{"content":"h\\u00e9"}}]}\n\ndata: [DONE]\n\n'


def _recorded() -> dict[str, object]:
    """A cassette as the recorder writes it: literal blocks, unicode, bytes, a JSON body,
    and strings YAML would otherwise read as booleans, numbers, null or dates."""
    request = {
        "method": "POST",
        "uri": "http://conformance.invalid/v1/chat/completions",
        "body": _BODY,
        "headers": {"content-type": ["application/json"]},
    }
    response = {
        "status": {"code": 200, "message": "OK"},
        "headers": {"content-type": ["text/event-stream"], "server": ["yes", "1e3", "~"]},
        "body": {"string": _SSE},
    }
    binary = {
        "status": {"code": 500, "message": ""},
        "headers": {},
        "body": {"string": b"\x00\xff raw bytes"},
    }
    odd = {"method": "GET", "uri": "http://conformance.invalid/v1/models", "body": None}
    return {
        "interactions": [
            {"request": request, "response": response},
            {"request": odd | {"headers": {"x": "2026-12-03"}}, "response": binary},
        ],
        "version": 1,
    }


@pytest.mark.parametrize("libyaml", PARSERS)
def test_a_recorded_cassette_reads_back_as_written(libyaml: bool) -> None:
    data = parse_cassette(ReadableYAML.serialize(_recorded()), libyaml=libyaml)
    first, second = data["interactions"]
    assert first["response"]["body"]["string"] == _SSE
    assert first["response"]["headers"]["server"] == ["yes", "1e3", "~"]
    assert second["response"]["body"]["string"] == b"\x00\xff raw bytes"
    assert second["request"]["headers"] == {"x": "2026-12-03"}
    assert second["request"]["body"] is None
    # the recorder pretty-prints a JSON request body (matching parses it)
    assert json.loads(first["request"]["body"]) == json.loads(_BODY)
    assert "\n" in first["request"]["body"]


@needs_libyaml
@pytest.mark.skipif(not RECORDINGS, reason="no committed recordings under cassettes/")
def test_libyaml_reads_a_committed_column_as_the_python_parser_does() -> None:
    column = max(RECORDINGS, key=lambda d: sum(1 for _ in d.glob("*.yaml")))
    paths = sorted(column.glob("*.yaml"))
    assert len(paths) > 50
    for path in paths:
        text = path.read_text(encoding="utf-8")
        fast, slow = parse_cassette(text), parse_cassette(text, libyaml=False)
        assert fast == slow, path.name
        assert repr(fast) == repr(slow), path.name  # the same types too (1 == 1.0 == True)


_REQUEST = "{method: GET, uri: 'http://conformance.invalid/v1/models', body: '', headers: {}}"
_LAUGHS = "a0: &a0 [lol, lol, lol]\n" + "".join(
    f"a{i}: &a{i} [*a{i - 1}, *a{i - 1}, *a{i - 1}]\n" for i in range(1, 8)
)


@pytest.mark.parametrize("libyaml", PARSERS)
@pytest.mark.parametrize(
    ("text", "error", "needle"),
    [
        (_LAUGHS + "interactions: []\n", ValueError, r"anchors and aliases .*line 1, column 5"),
        ("interactions: &unused []\n", ValueError, "anchors and aliases"),
        ("interactions:\n- &i {request: *i}\n", ValueError, "anchors and aliases"),
        ("interactions: !!python/object/apply:os.system [true]\n", yaml.YAMLError, "constructor"),
        ("interactions: [\n", yaml.YAMLError, "expected"),
        ("interactions: ['\x07']\n", yaml.YAMLError, "characters are not allowed"),
        ("- just a list\n", ValueError, "the document is not a mapping"),
        (
            f"interactions:\n- request: {_REQUEST}\n  response: {{status: {{code: '200'}}}}\n",
            ValueError,
            r"interactions\[0\].response.status.code is not an integer",
        ),
        (" " * (MAX_CASSETTE_BYTES + 1), ValueError, f"larger than {MAX_CASSETTE_BYTES}"),
    ],
    ids=[
        "billion-laughs", "unused-anchor", "self-alias", "python-tag", "unclosed",
        "control-char", "not-a-mapping", "status-type", "too-large",
    ],
)  # fmt: skip
def test_a_hostile_cassette_is_a_typed_error(
    libyaml: bool, text: str, error: type[Exception], needle: str
) -> None:
    with pytest.raises(error, match=needle):
        parse_cassette(text, libyaml=libyaml)


@needs_libyaml
def test_libyaml_refuses_deep_nesting_before_anything_recurses() -> None:
    deep = "interactions: " + "[" * 100_000 + "]" * 100_000 + "\n"
    with pytest.raises(yaml.YAMLError, match="nesting depth"):
        parse_cassette(deep)


def test_an_empty_cassette_is_an_empty_recording() -> None:
    assert parse_cassette("") == {}
    assert parse_cassette("# nothing\n", libyaml=False) == {}


# ---- found by attacking parse_cassette (session 8) -------------------------------------------


@pytest.mark.parametrize("libyaml", PARSERS)
@pytest.mark.parametrize(
    ("text", "needle"),
    [
        # YAML 1.1 base-60 integers: each ``:`` multiplies a growing big int (quadratic time)
        ("interactions: []\nx: 1" + ":1" * 20_000 + "\n", "int of 40001 characters"),
        ("interactions: []\nx: 1" + ":1" * 2_000 + ".5\n", "float of 4003 characters"),
        ("interactions: []\nx: " + "9" * 5000 + "\n", "int of 5000 characters"),
        ("interactions: []\nx: !!int 2e2\n", "'2e2' is not a valid int"),
        ("interactions: []\nx: 2026-13-45\n", "'2026-13-45' is not a valid timestamp"),
        ("interactions: " + "[" * 900 + "]" * 900 + "\n", "nesting depth 65"),
        ("interactions:\n" + "".join(" " * i + "- \n" for i in range(500)), "nesting depth 65"),
    ],
    ids=[
        "base-60-int", "base-60-float", "long-int", "int-tag", "bad-date", "deep-flow",
        "deep-block",
    ],
)  # fmt: skip
def test_a_hostile_scalar_or_depth_is_refused_alike_by_both_parsers(
    libyaml: bool, text: str, needle: str
) -> None:
    with pytest.raises(yaml.YAMLError, match=needle):
        parse_cassette(text, libyaml=libyaml)


@pytest.mark.parametrize("libyaml", PARSERS)
@pytest.mark.parametrize(
    "request_text",
    [
        "{method: GET, uri: 'http://conformance.invalid/v1/models', body: '', headers: {}, x: 1}",
        "{method: GET, uri: 'http://conformance.invalid/v1/models', body: ''}",
    ],
    ids=["extra-key", "no-headers"],
)
def test_a_request_vcrpy_cannot_build_is_refused(libyaml: bool, request_text: str) -> None:
    """vcrpy builds ``Request(**request)``: another key set was a raw ``TypeError``."""
    text = (
        f"interactions:\n- request: {request_text}\n"
        "  response: {status: {code: 200}, headers: {}, body: {string: ''}}\n"
    )
    with pytest.raises(ValueError, match=r"interactions\[0\].request has the keys"):
        parse_cassette(text, libyaml=libyaml)


# ---- the three low findings left open by session 8's attack (session 9) ----------------------


@pytest.mark.parametrize("libyaml", PARSERS)
@pytest.mark.parametrize(
    "text",
    ["interactions: ['\ud800']\n", "# \ud800\ninteractions: []\n", "interactions: []\n\ud800: x\n"],
    ids=["in-a-string", "in-a-comment", "as-a-key"],
)
def test_a_lone_surrogate_is_a_typed_error(libyaml: bool, text: str) -> None:
    """No file holds one (UTF-8 cannot encode it), but ``parse_cassette`` takes any ``str``:
    libyaml's reader encodes it to UTF-8 first, which was a raw ``UnicodeEncodeError``."""
    with pytest.raises(yaml.YAMLError, match="unacceptable character #xd800"):
        parse_cassette(text, libyaml=libyaml)


@pytest.mark.parametrize("libyaml", PARSERS)
def test_the_size_limit_counts_utf8_bytes_as_the_file_check_does(libyaml: bool) -> None:
    """The column check refuses a file of more than ``MAX_CASSETTE_BYTES`` bytes; the same
    text passed in-process was measured in characters (up to 4 bytes each)."""
    text = "# " + "é" * (MAX_CASSETTE_BYTES // 2) + "\ninteractions: []\n"
    assert len(text) < MAX_CASSETTE_BYTES < len(text.encode("utf-8"))
    with pytest.raises(ValueError, match=f"larger than {MAX_CASSETTE_BYTES} bytes"):
        parse_cassette(text, libyaml=libyaml)


@needs_libyaml
def test_a_cassette_of_exactly_the_byte_limit_is_read() -> None:
    tail = "\ninteractions: []\n"
    text = "# " + "é" * ((MAX_CASSETTE_BYTES - 2 - len(tail)) // 2) + tail
    assert len(text.encode("utf-8")) == MAX_CASSETTE_BYTES
    assert parse_cassette(text) == {"interactions": []}


@pytest.mark.parametrize("libyaml", PARSERS)
@pytest.mark.parametrize(
    ("text", "data"),
    [
        ("interactions:\t[]\nversion:\t\t1\n", {"interactions": [], "version": 1}),
        ("interactions: []\nk: \tv\n", {"interactions": [], "k": "v"}),
        ("interactions: []\nk: v\t\n", {"interactions": [], "k": "v"}),
        ("interactions: []\nk:\tv\t# a comment\n", {"interactions": [], "k": "v"}),
        (
            "interactions: []\nk:\t{a:\t1,\tb: [\tx ]\t}\n",
            {"interactions": [], "k": {"a": 1, "b": ["x"]}},
        ),
        ("interactions: []\nk:\t\n  - 1\n", {"interactions": [], "k": [1]}),
        ("interactions: []\n'k':\t\"v\"\n", {"interactions": [], "k": "v"}),
    ],
    ids=[
        "key-tab-value", "space-tab", "trailing-tab", "before-comment", "flow", "before-block",
        "quoted",
    ],
)  # fmt: skip
def test_a_tab_after_a_colon_reads_alike_in_both_parsers(
    libyaml: bool, text: str, data: dict[str, object]
) -> None:
    """YAML allows a tab as separation between tokens (not as indentation); libyaml read
    ``key:\\tvalue`` and the pure-Python scanner refused it: one cassette, two readings."""
    assert parse_cassette(text, libyaml=libyaml) == data


@pytest.mark.parametrize("libyaml", PARSERS)
@pytest.mark.parametrize(
    "text",
    ["\tinteractions: []\n", "interactions:\n-\t{}\n", "interactions: []\n?\tk\n: v\n"],
    ids=["indentation", "after-dash", "after-question-mark"],
)
def test_a_tab_yaml_refuses_is_refused_by_both_parsers(libyaml: bool, text: str) -> None:
    with pytest.raises(yaml.YAMLError, match="cannot start any token"):
        parse_cassette(text, libyaml=libyaml)
