"""The repeated-event shortcut (``any_agent._wire.shortcut``) changes speed, never results.

Every test decodes the same bytes twice, with the shortcut and with every event parsed in
full, and requires identical events and results: over every stream recorded from a real
server (``cassettes/``, ``tests/data/servers/``), over generated streams built to break it
(strings with quotes, backslashes, control characters and invalid UTF-8, envelopes that
change, JSON smuggled into a string's place), and over any re-split of those bytes.
"""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import orjson
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from any_agent._wire.decoder import Event, StreamDecoder, ToolArgsDelta, ToolStart, TurnResult
from any_agent._wire.shortcut import (
    ARGUMENTS,
    CONTENT,
    THINKING,
    Template,
    between,
    slot_of,
    template_for,
)

ROOT = Path(__file__).resolve().parent.parent
TOOLS = frozenset({"get_weather", "write_file"})


def learn(payload: bytes, obj: dict[str, Any]) -> Template | None:
    """What the decoder learns from an event it has just handled in full."""
    slot = slot_of(obj)
    return None if slot is None else template_for(payload, slot)


class FullPath(StreamDecoder):
    """The decoder with the shortcut off: every event parsed in full."""

    def _learn(self, payload: bytes, obj: dict[str, Any]) -> None:
        return None


def decode(cls: type[StreamDecoder], reads: Iterable[bytes]) -> tuple[list[Event], TurnResult, int]:
    dec = cls(TOOLS, id_seed="seed")
    out: list[Event] = []
    for read in reads:
        out += dec.feed(read)
    out += dec.close()
    return out, dec.result(), dec.shortcut_events


def same_both_ways(reads: list[bytes]) -> int:
    """Decode with and without the shortcut; assert identical; return shortcut events."""
    fast_events, fast, hits = decode(StreamDecoder, reads)
    full_events, full, none = decode(FullPath, reads)
    assert none == 0
    assert fast_events == full_events
    assert fast == full
    return hits


def per_event(body: bytes) -> list[bytes]:
    """One read per SSE event, as llama.cpp, vLLM and uvicorn write them."""
    parts = body.split(b"\n\n")
    return [p + b"\n\n" for p in parts[:-1]] + ([parts[-1]] if parts[-1] else [])


def recorded_streams() -> list[tuple[str, bytes]]:
    found = [(p.name, p.read_bytes()) for p in sorted((ROOT / "tests/data/servers").glob("*.sse"))]
    for path in sorted((ROOT / "cassettes").rglob("*.yaml")):
        for i, inter in enumerate(
            yaml.load(path.read_text(), Loader=yaml.CSafeLoader)["interactions"]
        ):
            body = inter["response"]["body"]["string"]
            if isinstance(body, str) and body.startswith("data:"):
                found.append((f"{path.relative_to(ROOT / 'cassettes')}#{i}", body.encode()))
    return found


RECORDED = recorded_streams()


def test_recorded_streams_exist() -> None:
    assert len(RECORDED) > 100


def test_every_recorded_stream_decodes_the_same_with_the_shortcut() -> None:
    """Real bytes from six server set-ups, one read per event and all at once."""
    hits = events = 0
    for name, body in RECORDED:
        try:
            hits += same_both_ways(per_event(body))
            same_both_ways([body])
        except AssertionError as exc:
            raise AssertionError(f"{name}: {exc}") from None
        events += body.count(b"\n\n")
    # the shortcut really ran: most events of real streams repeat their predecessor's shape
    assert hits > events // 3


# -- streams built to break it ------------------------------------------------------------------
_TRICKY = st.text(
    st.characters(codec="utf-8") | st.sampled_from(['"', "\\", "\n", "\x00", "\u2028", "}", "/"]),
    max_size=12,
)
_ENVELOPE = {"id": "chatcmpl-x", "object": "chat.completion.chunk", "created": 1, "model": "m"}


@st.composite
def envelopes(draw: st.DrawFn) -> dict[str, Any]:
    """How a server writes its chunks: key order, spaces, escaping, extra fields."""
    return {
        "ascii": draw(st.booleans()),
        "spaces": draw(st.booleans()),
        "choices_first": draw(st.booleans()),  # llama-server puts choices first
        "timer": draw(st.sampled_from([None, "constant", "counter"])),
        "repeat_header": draw(st.booleans()),  # id/type/name on every fragment
        "index": draw(st.sampled_from([0, None])),
    }


def render(env: dict[str, Any], delta: dict[str, Any], n: int, **extra: Any) -> bytes:
    """One event as this envelope writes it; ``extra`` goes into the choice, or at the top
    for ``usage``."""
    body: dict[str, Any] = dict(_ENVELOPE)
    if "usage" in extra:
        body["usage"] = extra.pop("usage")
    choices = [{"index": 0, "delta": delta, **extra}]
    body = {"choices": choices, **body} if env["choices_first"] else {**body, "choices": choices}
    if env["timer"] == "constant":
        body["timings"] = {"t": 1.5}
    elif env["timer"] == "counter":
        body["timings"] = {"t": n}
    sep = (", ", ": ") if env["spaces"] else (",", ":")
    text = json.dumps(body, ensure_ascii=env["ascii"], separators=sep)
    return b"data: " + text.encode() + b"\n\n"


_SMUGGLED = ['"},"finish_reason":"length","x":{"y":"', '","usage":{"prompt_tokens":7},"z":"']
_STEP = st.one_of(
    st.tuples(st.sampled_from(["text", "reasoning_content", "reasoning", "args"]), _TRICKY),
    st.tuples(st.just("new_call"), st.sampled_from(sorted(TOOLS))),
    st.tuples(st.just("whole_call"), _TRICKY),  # old Ollama: no index, no id, name + arguments
    st.tuples(st.just("summary"), st.just("")),  # LiteLLM: the whole arguments once more
    st.tuples(st.just("finish"), st.sampled_from(["stop", "tool_calls", "length"])),
    st.tuples(st.just("usage"), st.integers(0, 9)),
    st.tuples(st.just("smuggled"), st.sampled_from(_SMUGGLED)),
    st.tuples(st.just("bad_utf8"), st.just("\udcff")),
    st.tuples(st.just("done"), st.just("")),
)
_CONTENT_OPEN = re.compile(rb'"content": ?"')


def build(env: dict[str, Any], steps: list[tuple[str, Any]]) -> list[bytes]:
    """One read per event for these steps, written as ``env`` says."""
    reads: list[bytes] = []
    calls = 0
    name = "get_weather"
    last_text = b""
    sent: list[str] = []  # the current call's arguments so far
    for n, (kind, value) in enumerate(steps):
        if kind == "summary":
            kind, value = "args", "".join(sent)
        if kind == "text":
            reads.append(render(env, {"content": value}, n))
            last_text = reads[-1]
        elif kind in ("reasoning_content", "reasoning"):
            reads.append(render(env, {"content": None, kind: value}, n))
        elif kind == "new_call":
            calls += 1
            name = value
            sent = []
            fn = {"name": name, "arguments": ""}
            frag = {"index": calls - 1, "id": f"call_{calls}", "type": "function", "function": fn}
            reads.append(render(env, {"tool_calls": [frag]}, n))
        elif kind == "whole_call":
            frag = {"function": {"name": "get_weather", "arguments": value}}
            reads.append(render(env, {"tool_calls": [frag]}, n))
        elif kind == "args":
            sent.append(value)
            frag = {"function": {"arguments": value}}
            if env["index"] is not None or not calls:
                frag["index"] = max(calls - 1, 0)
            if env["repeat_header"] and calls:
                frag |= {"id": f"call_{calls}", "type": "function"}
                frag["function"]["name"] = name
            reads.append(render(env, {"tool_calls": [frag]}, n))
        elif kind == "finish":
            reads.append(render(env, {}, n, finish_reason=value))
        elif kind == "usage":
            usage = {"prompt_tokens": value, "completion_tokens": 1, "total_tokens": value + 1}
            reads.append(render(env, {}, n, usage=usage))
        elif kind in ("smuggled", "bad_utf8") and last_text:
            # the last text event with something else in the string's place: JSON that
            # closes the string early, or bytes that are not UTF-8
            inside = value.encode() if kind == "smuggled" else b"\xff\xfe"
            reads.append(_CONTENT_OPEN.sub(lambda m, i=inside: m.group() + i, last_text, count=1))
        elif kind == "done":
            reads.append(b"data: [DONE]\n\n")
    return reads


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(envelopes(), st.lists(_STEP, max_size=30), st.data())
def test_property_generated_streams_decode_the_same(
    env: dict[str, Any], steps: list[tuple[str, Any]], data: st.DataObject
) -> None:
    reads = build(env, steps)
    same_both_ways(reads)
    body = b"".join(reads)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(body)), max_size=12)))
    points = [0, *cuts, len(body)]
    same_both_ways([body[a:b] for a, b in itertools.pairwise(points)])


# -- the template, on its own --------------------------------------------------------------------
def event(**delta: Any) -> tuple[bytes, dict[str, Any]]:
    obj = {**_ENVELOPE, "choices": [{"index": 0, "delta": delta, "finish_reason": None}]}
    return orjson.dumps(obj), obj


@pytest.mark.parametrize(
    ("delta", "slot"),
    [
        ({"content": "hi"}, CONTENT),
        ({"content": None, "reasoning_content": "hm"}, THINKING),
        ({"reasoning": "hm"}, THINKING),
        ({"tool_calls": [{"index": 0, "function": {"arguments": '{"a"'}}]}, ARGUMENTS),
    ],
)
def test_learns_each_kind_of_string(delta: dict[str, Any], slot: str) -> None:
    payload, obj = event(**delta)
    template = learn(payload, obj)
    assert template is not None
    assert template.slot == slot
    changed = payload.replace(b'hi"', b'ho \\"q\\""').replace(b'hm"', b'ho \\"q\\""')
    changed = changed.replace(b'{\\"a\\""', b'ho \\"q\\""')
    assert between(changed, template.prefix, template.suffix) == 'ho "q"'
    assert between(b"data: " + changed + b"\n\n", template.head, template.tail) == 'ho "q"'


@pytest.mark.parametrize(
    "delta",
    [
        {"content": ""},  # nothing to key on
        {"content": "a", "reasoning_content": "b"},  # two strings in one event
        {"content": [{"type": "text", "text": "a"}]},  # content parts
        {"tool_calls": [{"function": {"name": "f", "arguments": "{}"}}]},  # keyed by position
        {"tool_calls": [{"index": 0, "function": {"arguments": "a"}}] * 2},  # two fragments
        {"function_call": {"name": "f", "arguments": "a"}},  # legacy function_call
    ],
)
def test_events_whose_effects_are_not_one_string_get_no_template(delta: dict[str, Any]) -> None:
    payload, obj = event(**delta)
    assert learn(payload, obj) is None


def test_events_with_usage_finish_or_error_get_no_template() -> None:
    _, obj = event(content="a")
    for extra in ({"usage": {"prompt_tokens": 1}}, {"error": {"message": "x"}}):
        changed = obj | extra
        assert learn(orjson.dumps(changed), changed) is None
    obj["choices"][0]["finish_reason"] = "stop"
    assert learn(orjson.dumps(obj), obj) is None


def test_a_string_first_found_in_another_field_gets_no_template() -> None:
    """The probes: the id's bytes come first and equal the content's, so no template."""
    payload, obj = event(content="chatcmpl-x")
    assert learn(payload, obj) is None


@pytest.mark.parametrize(
    "reads",
    [
        # the probe text already in the event, where one probe would have been fooled
        [
            b'data: {"id":"any-agent:probe:1",'
            b'"choices":[{"delta":{"content":"any-agent:probe:1"}}]}',
            b'data: {"id":"zzz","choices":[{"delta":{"content":"any-agent:probe:1"}}]}',
        ],
        # a duplicate key written with an escape: the bytes found first are a key
        [
            b'data: {"choices":[{"delta":'
            b'{"conten\\u0074":"any-agent:probe:1","content":"content"}}]}',
            b'data: {"choices":[{"delta":'
            b'{"conten\\u0074":"any-agent:probe:1","hello":"content"}}]}',
        ],
    ],
    ids=["probe-text-in-the-event", "escaped-duplicate-key"],
)
def test_a_template_is_only_made_where_the_string_really_is(reads: list[bytes]) -> None:
    """Found by fuzzing (both cases): the string's place is proven with two probes."""
    assert same_both_ways([r + b"\n\n" for r in reads]) == 0


def test_a_numeric_id_repeated_on_every_fragment_is_one_call() -> None:
    """Found by fuzzing: an id sent as a number (kept as text) with the name on every fragment
    made the full path start a new call per fragment; both paths now keep one call."""
    ev = b'data: {"choices":[{"delta":{"tool_calls":[{"index":0,"id":1,"function":'
    reads = [ev + b'{"name":"f","arguments":"%s"}}]}}]}\n\n' % a for a in (b"{}", b"")]
    reads += [ev + b'{"name":"f","arguments":"%s"}}]}}]}\n\n' % a for a in (b" ", b"\\n")]
    same_both_ways(reads)
    events, result, _ = decode(StreamDecoder, reads)
    assert sum(isinstance(e, ToolStart) for e in events) == 1
    assert len(result.blocks) == 1


@pytest.mark.parametrize("ascii_only", [False, True], ids=["utf-8", "ensure-ascii"])
def test_non_ascii_text_gets_a_template_however_the_server_escapes_it(ascii_only: bool) -> None:
    """Python servers with ``ensure_ascii`` write ``caf\\u00e9``; orjson writes UTF-8."""
    obj = {**_ENVELOPE, "choices": [{"index": 0, "delta": {"content": "café"}}]}
    payload = json.dumps(obj, ensure_ascii=ascii_only).encode()
    assert learn(payload, obj) is not None
    assert same_both_ways([b"data: " + payload + b"\n\n"] * 3) == 2


def test_a_string_that_cannot_be_located_stops_the_learning() -> None:
    """llama-cpp-python sends each argument fragment twice (``function_call`` and
    ``tool_calls``): no template can be proven, and after four tries the decoder stops
    paying for them."""
    name = "llamacpp-python/qwen2.5-coder-1.5b/tools.stream.equals-nonstream.yaml#0"
    body = dict(RECORDED)[name]
    assert b'"function_call": {"name": "get_weather", "arguments": ' in body
    dec = StreamDecoder(TOOLS)
    for read in per_event(body):
        dec.feed(read)
    assert dec.shortcut_events == 0
    assert dec._templates_wasted == 4


def test_json_smuggled_into_the_string_takes_the_full_path() -> None:
    """Bytes around match the template, but the middle is not one string literal: the finish
    reason inside it must be seen, which only the full parse does."""
    first = orjson.dumps({**_ENVELOPE, "choices": [{"index": 0, "delta": {"content": "a"}}]})
    smuggled = first.replace(
        b'"content":"a"', b'"content":"a"},"finish_reason":"length","x":{"y":""', 1
    )
    assert json.loads(smuggled)["choices"][0]["finish_reason"] == "length"
    reads = [b"data: " + first + b"\n\n", b"data: " + smuggled + b"\n\n"]
    assert same_both_ways(reads) == 0
    assert decode(StreamDecoder, reads)[1].finish_reason == "length"


def test_a_per_event_counter_stops_the_learning() -> None:
    """llama-server with ``timings_per_token`` changes every event: after a few templates
    that never matched, the decoder stops paying for learning them."""
    reads = [
        b"data: "
        + orjson.dumps(
            {**_ENVELOPE, "timings": {"n": n}, "choices": [{"delta": {"content": f"t{n}"}}]}
        )
        + b"\n\n"
        for n in range(40)
    ]
    assert same_both_ways(reads) == 0
    dec = StreamDecoder()
    for read in reads:
        dec.feed(read)
    assert dec._templates_wasted == 4
    assert dec._template is None


def test_a_summary_chunk_in_the_templates_bytes_is_still_dropped() -> None:
    """LiteLLM resends the whole arguments at the end, in the same envelope as the fragments:
    the shortcut decodes it and must drop it as the full path does."""
    env = {"ascii": False, "spaces": False, "choices_first": False, "timer": None}
    env |= {"repeat_header": False, "index": 0}
    steps = [("new_call", "get_weather"), ("args", '{"city":'), ("args", '"Paris"}')]
    reads = build(env, [*steps, ("summary", ""), ("finish", "tool_calls")])
    assert same_both_ways(reads) == 2
    events, result, _ = decode(StreamDecoder, reads)
    assert [e.fragment for e in events if isinstance(e, ToolArgsDelta)] == ['{"city":', '"Paris"}']
    assert result.blocks[0].input == {"city": "Paris"}  # type: ignore[union-attr]


def test_a_very_large_event_gets_no_template() -> None:
    """A whole 100 KB call in one event: learning would cost two more passes over it."""
    payload, obj = event(tool_calls=[{"index": 0, "function": {"arguments": "x" * 100_000}}])
    assert learn(payload, obj) is None
    small, small_obj = event(tool_calls=[{"index": 0, "function": {"arguments": "x" * 100}}])
    assert learn(small, small_obj) is not None
