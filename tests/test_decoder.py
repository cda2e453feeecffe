"""Byte-level tests of the stream decoder: every server shape we know of, and every
normalisation the decoder makes, each named for the shape and citing who produces it.

Evidence keys ([LC1], [TG1], ...) resolve in docs/provider-compatibility.md, "Evidence keys".
Files under ``tests/data/servers/`` are raw SSE recorded from real servers (each names its
source in a leading SSE comment, which the decoder ignores).
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any, get_args, get_type_hints

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scanning import scan
from sse_server import chunk, sse, tool_call, usage_chunk

from any_agent._wire.decoder import (
    Event,
    StreamDecoder,
    TextDelta,
    ThinkingDelta,
    ToolArgsDelta,
    ToolDone,
    ToolStart,
    TurnResult,
)
from any_agent._wire.sse import SSEDecoder
from any_agent.types import (
    StreamEvent,
    TextBlock,
    ThinkingBlock,
    ToolUseBlock,
    ToolUseError,
    Usage,
)

DATA = Path(__file__).parent / "data" / "servers"
WEATHER = frozenset({"get_weather"})
PARIS = {"city": "Paris"}


def raw(name: str) -> bytes:
    return (DATA / f"{name}.sse").read_bytes()


def decode(
    stream: bytes | Iterable[bytes], tools: Iterable[str] = (), **kw: Any
) -> tuple[list[Event], TurnResult]:
    dec = StreamDecoder(frozenset(tools), **kw)
    out: list[Event] = []
    for part in [stream] if isinstance(stream, bytes) else stream:
        out += dec.feed(part)
    out += dec.close()
    return out, dec.result()


def pieces(data: bytes, cuts: Iterable[int]) -> list[bytes]:
    points = [0, *sorted(set(cuts)), len(data)]
    return [data[a:b] for a, b in itertools.pairwise(points)]


def frames(data: bytes, parts: Iterable[bytes] = ()) -> list[tuple[str, bytes]]:
    dec = SSEDecoder()
    out: list[tuple[str, bytes]] = []
    for part in parts or [data]:
        out += dec.feed(part)
    return out + dec.close()


def tools_stream(*frags: dict[str, Any], finish: str = "tool_calls") -> bytes:
    return sse(*(chunk(tool_calls=[f]) for f in frags), chunk(finish=finish))


# ===================================================================== 4.1 SSE framing
def test_sse_comments_and_pings_are_ignored() -> None:
    """llama.cpp sends ``: ping`` while idle [LC5]; llama-cpp-python ``: ping - <timestamp>``
    every 15 s [LP1]; TGI axum keep-alive comments [TG3]."""
    data = b": ping\n\n" + sse(chunk("Hi")) + b": ping - 2026-11-27 13:56:42.1+00:00\n\n:\n\n"
    assert frames(data) == [("data", orjson.dumps(chunk("Hi"))), ("data", b"[DONE]")]


def test_sse_data_without_space_after_colon() -> None:
    """The SSE spec makes the space optional [CL19]."""
    assert frames(b'data:{"a":1}\n\ndata:[DONE]\n\n') == [("data", b'{"a":1}'), ("data", b"[DONE]")]


def test_sse_crlf_line_ends() -> None:
    """sse-starlette's default separator is CRLF (text-generation-webui [TW2]); llama-cpp-python
    sets ``sep="\\n"`` [LP1]. Both frame the same."""
    lf = frames(sse(chunk("a"), chunk(finish="stop")))
    assert frames(sse(chunk("a"), chunk(finish="stop"), crlf=True)) == lf


@pytest.mark.parametrize("cut", range(1, 12))
def test_sse_crlf_split_anywhere_even_between_cr_and_lf(cut: int) -> None:
    """TCP may split ``\\r\\n`` itself; the framer must not see an empty line there."""
    data = b'data: {"a":1}\r\n\r\ndata: [DONE]\r\n\r\n'
    parts = pieces(data, [cut, cut + 3, 15, 16, 17])
    assert frames(data, parts) == [("data", b'{"a":1}'), ("data", b"[DONE]")]


def test_sse_multiline_data_is_joined_with_newlines() -> None:
    """Multi-line ``data`` is one event (spec); a JSON object pretty-printed over lines parses."""
    data = b'data: {"choices":\ndata: []}\n\n'
    assert frames(data) == [("data", b'{"choices":\n[]}')]
    _, res = decode(data + sse(chunk("x", finish="stop")))
    assert res.blocks == [TextBlock("x")]


def test_sse_unknown_fields_are_dropped() -> None:
    """``event:``, ``id:``, ``retry:`` and made-up fields carry nothing the SDK uses (spec)."""
    data = b"event: message\nid: 7\nretry: 100\nfoo: bar\ndata: 1\n\n"
    assert frames(data) == [("data", b"1")]


def test_sse_empty_data_payload_is_skipped() -> None:
    """Empty ``data:`` lines are skipped, not parsed."""
    _, res = decode(b"data:\n\ndata: \n\n" + sse(chunk("x", finish="stop")))
    assert res.blocks == [TextBlock("x")]
    assert res.failure is None


def test_sse_last_event_without_blank_line_is_flushed_at_eof() -> None:
    """A server that closes right after its last ``data:`` line (no blank line) loses nothing."""
    _, res = decode(
        sse(chunk("x"), done=False)
        + b'data: {"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}'
    )
    assert res.finish_reason == "stop"
    assert res.failure is None


def test_sse_legacy_error_line_llama_server_before_sep_2025() -> None:
    """llama.cpp before PR #16109 wrote a non-SSE ``error: {...}`` line mid-stream [LC4, LC13]."""
    data = sse(chunk("x"), done=False)
    data += (
        b'error: {"code":500,"message":"Failed to parse input at pos 12","type":"server_error"}\n\n'
    )
    _, res = decode(data)
    assert res.failure is not None
    assert res.failure.kind == "error_event"
    assert res.failure.message == "Failed to parse input at pos 12"
    assert (res.failure.error_type, res.failure.code) == ("server_error", 500)


def test_sse_raw_json_line_without_data_prefix_is_an_error() -> None:
    """A proxy forwarding a backend error body as a bare JSON line [LC14]."""
    data = (
        sse(chunk("x"), done=False)
        + b'{"error":{"message":"exceed_context_size_error","code":400}}\n'
    )
    _, res = decode(data)
    assert res.failure is not None
    assert res.failure.message == "exceed_context_size_error"


def test_sse_ten_megabyte_event_in_64k_pieces() -> None:
    """One huge event (a long answer, or big arguments) must not be framed quadratically."""
    big = "é" * (5 * 1024 * 1024)  # 10 MiB of UTF-8
    args = json.dumps({"blob": "x" * (1024 * 1024)})
    data = sse(
        chunk(big),
        chunk(tool_calls=[tool_call(0, id="c", name="put", arguments=args)]),
        chunk(finish="stop"),
    )
    parts = [data[i : i + 65536] for i in range(0, len(data), 65536)]
    evs, res = decode(parts, tools={"put"})
    assert res.blocks[0] == TextBlock(big)
    assert res.blocks[1] == ToolUseBlock("c", "put", {"blob": "x" * (1024 * 1024)})
    assert res.finish_reason == "tool_calls"
    assert "".join(e.text for e in evs if isinstance(e, TextDelta)) == big


# ===================================================================== 4.1 end of stream
def test_done_missing_after_finish_is_a_complete_answer() -> None:
    """llama-cpp-python and text-generation-webui send ``[DONE]`` only on a clean end, tgw
    before 2023 never [LP1, TW2, TW4]: a finish_reason is what makes the answer complete."""
    _, res = decode(sse(chunk("Hi"), chunk(finish="stop"), done=False))
    assert (res.finish_reason, res.failure, res.done_seen) == ("stop", None, False)


def test_stream_cut_before_finish_is_truncated() -> None:
    """Ollama swallows a mid-stream error (empty chunk, EOF, no finish, no [DONE]) (code)
    [OL2, OL3]; LiteLLM guardrails drop the socket [LT2]; openai-python ends silently [OA2]."""
    _, res = decode(sse(chunk("Hel"), chunk(""), done=False))
    assert res.failure is not None
    assert res.failure.kind == "truncated"
    assert res.blocks == [TextBlock("Hel")]
    assert res.finish_reason is None


def test_done_without_finish_reason_is_truncated() -> None:
    """llama-cpp-python interrupted by a second request still sends ``[DONE]`` [LP3]."""
    _, res = decode(sse(chunk("Hel")))
    assert res.done_seen
    assert res.failure is not None
    assert res.failure.kind == "truncated"


def test_empty_body_is_truncated() -> None:
    """A 200 with no events at all (connection dropped before the first token)."""
    _, res = decode(b"")
    assert res.failure is not None
    assert res.failure.kind == "truncated"
    assert res.blocks == []


# ===================================================================== 4.1 #2 errors in the stream
def test_error_event_openai_shape_then_done() -> None:
    """vLLM, SGLang, LocalAI: ``data: {"error":{...}}`` then ``[DONE]`` [VL1, SG1, LA1]."""
    err = {
        "error": {"message": "boom", "type": "server_error", "param": None, "code": "server_error"}
    }
    _, res = decode(sse(chunk("a"), err))
    assert res.failure is not None
    assert (res.failure.kind, res.failure.message, res.failure.error_type) == (
        "error_event",
        "boom",
        "server_error",
    )
    assert res.done_seen
    assert res.blocks == [TextBlock("a")]


def test_error_event_llama_server_peg_format_real() -> None:
    """llama-server (stock template) streams content ``\\`\\`\\`json\\n``, tool fragments, then
    ``{"error":{"code":500,...}}`` with no finish and no [DONE] —
    tests/data/servers/llamaserver-qwen05b-tools-auto-fenced-stream.sse."""
    _, res = decode(raw("llamaserver-qwen05b-tools-auto-fenced-stream"), WEATHER)
    assert res.failure is not None
    assert res.failure.kind == "error_event"
    assert res.failure.code == 500
    assert "peg-native format" in res.failure.message
    assert res.blocks == [
        TextBlock("```json\n"),
        ToolUseBlock("lDy0vVOOyJRsXzX0eqqycOF56PIU0Dot", "get_weather", PARIS),
    ]
    assert not res.done_seen


def test_error_event_as_plain_string() -> None:
    """An ``error`` whose value is a string (LM Studio request errors [LM5], proxies)."""
    _, res = decode(sse({"error": "model crashed"}, done=False))
    assert res.failure is not None
    assert res.failure.message == "model crashed"


def test_error_event_flat_object_error() -> None:
    """vLLM 2024 builds and SGLang: flat ``{"object":"error","message",...,"code":int}``
    [VL7, SG2]."""
    flat = {
        "object": "error",
        "message": "bad",
        "type": "BadRequestError",
        "param": None,
        "code": 400,
    }
    _, res = decode(sse(flat))
    assert res.failure is not None
    assert (res.failure.message, res.failure.error_type, res.failure.code) == (
        "bad",
        "BadRequestError",
        400,
    )


def test_error_event_tgi_error_and_error_type() -> None:
    """TGI error JSON is ``{"error":"<string>","error_type":"validation"}`` [TG3]."""
    _, res = decode(sse({"error": "Input validation error", "error_type": "validation"}))
    assert res.failure is not None
    assert (res.failure.message, res.failure.error_type) == ("Input validation error", "validation")


def test_error_event_tgi_stream_http_status_code() -> None:
    """TGI's stream error: ``{"error":{"message","http_status_code":422}}``, no type [TG4]."""
    _, res = decode(sse({"error": {"message": "too long", "http_status_code": 422}}))
    assert res.failure is not None
    assert (res.failure.message, res.failure.code) == ("too long", 422)


def test_error_event_litellm_without_done() -> None:
    """LiteLLM sends the error frame and no [DONE] [LT1, LT2]; the error wins over truncation."""
    _, res = decode(
        sse(chunk("a"), {"error": {"message": "rate", "type": "None", "code": "429"}}, done=False)
    )
    assert res.failure is not None
    assert res.failure.kind == "error_event"


def test_malformed_json_event_is_reported() -> None:
    """Garbage in a data line is a malformed stream, not a crash."""
    _, res = decode(
        sse(chunk("a"), done=False) + b"data: {not json\n\n" + sse(chunk(finish="stop"))
    )
    assert res.failure is not None
    assert res.failure.kind == "malformed"


def test_invalid_utf8_inside_a_json_string_is_replaced() -> None:
    """A server that cuts a multi-byte character between tokens writes invalid UTF-8 into one
    event; the text keeps U+FFFD and the stream goes on."""
    bad = b'data: {"choices":[{"index":0,"delta":{"content":"caf\xc3"}}]}\n\n'
    _, res = decode(sse(chunk("x"), done=False) + bad + sse(chunk("!", finish="stop")))
    assert res.blocks == [TextBlock("xcaf\ufffd!")]
    assert res.failure is None


def test_several_json_objects_in_one_event() -> None:
    """Two ``data:`` lines with no blank line between them: each line is its own chunk."""
    data = (
        b"data: "
        + orjson.dumps(chunk("a"))
        + b"\ndata: "
        + orjson.dumps(chunk("b", finish="stop"))
        + b"\n\n"
    )
    _, res = decode(data)
    assert res.blocks == [TextBlock("ab")]
    assert res.finish_reason == "stop"
    assert res.failure is None


def test_done_with_trailing_spaces() -> None:
    """``data: [DONE] `` (trailing blank) is still the end marker."""
    _, res = decode(sse(chunk("a", finish="stop"), done=False) + b"data: [DONE]  \n\n")
    assert res.done_seen
    assert res.failure is None


# ===================================================================== 4.2 chunk fields
def test_null_fields_are_the_same_as_absent() -> None:
    """SGLang sends explicit nulls [SG3], llama-cpp-python ``content/function_call/tool_calls:
    null`` [LP2], LocalAI ``content:null`` on every non-text delta [LA3]."""
    nulls = {
        "role": None,
        "content": None,
        "tool_calls": None,
        "reasoning_content": None,
        "function_call": None,
    }
    data = sse(
        chunk(delta=nulls),
        chunk(delta=dict(nulls, content="Hi")),
        chunk(delta=nulls, finish="stop"),
    )
    _, res = decode(data)
    assert res.blocks == [TextBlock("Hi")]
    assert res.finish_reason == "stop"
    assert res.failure is None


def test_role_repeated_on_every_delta() -> None:
    """TGI puts ``"role":"assistant"`` on every delta [TG1]; LocalAI repeats it on tool
    deltas [LA2]."""
    _, res = decode(
        sse(
            *(chunk(t, role="assistant") for t in ("a", "b")),
            chunk(role="assistant", finish="stop"),
        )
    )
    assert res.blocks == [TextBlock("ab")]


def test_usage_trailer_with_empty_choices_vllm_real() -> None:
    """vLLM's ``include_usage`` trailer: ``choices: []`` + usage —
    tests/data/servers/vllm-qwen05b-stream-usage.sse [VL1]."""
    _, res = decode(raw("vllm-qwen05b-stream-usage"))
    assert res.usage == Usage(32, 10, 42)
    assert res.blocks == [TextBlock("Hello! How can I assist you today?")]
    assert res.finish_reason == "stop"
    assert res.failure is None


def test_usage_trailer_llama_server_real() -> None:
    """llama-server: role chunk ``content:null``, finish chunk, then ``choices:[]`` + usage +
    ``timings`` — tests/data/servers/llamaserver-qwen05b-stream-usage.sse [LC1]."""
    _, res = decode(raw("llamaserver-qwen05b-stream-usage"))
    # prompt_tokens_details.cached_tokens (and timings.cache_n) say 24 prompt tokens reused
    assert res.usage == Usage(32, 10, 42, cached_tokens=24)
    assert res.failure is None
    assert res.model == "qwen2.5-coder-0.5b"


def test_usage_on_litellm_empty_delta_choice_real() -> None:
    """LiteLLM sends usage on ``choices:[{"index":0,"delta":{}}]`` with no finish_reason —
    tests/data/servers/litellm-llamaserver-qwen15b-stream-usage.sse [LT5]."""
    _, res = decode(raw("litellm-llamaserver-qwen15b-stream-usage"))
    # LiteLLM passes llama-server's cached_tokens on and adds reasoning_tokens: 0
    assert res.usage == Usage(32, 10, 42, cached_tokens=24, reasoning_tokens=0)
    assert res.finish_reason == "stop"
    assert res.failure is None


def test_no_usage_at_all() -> None:
    """llama-cpp-python has no ``stream_options`` [LP5]: usage stays unknown, not zero."""
    _, res = decode(raw("llamacpppython-fc-qwen15b-tools-auto-stream"))
    assert res.usage == Usage()
    assert res.blocks == []
    assert res.finish_reason == "stop"


def test_last_usage_wins() -> None:
    """vLLM/SGLang ``continuous_usage_stats`` put usage on every chunk [VL1, SG1]."""
    u = [{"prompt_tokens": 5, "completion_tokens": n, "total_tokens": 5 + n} for n in (1, 2)]
    _, res = decode(
        sse(
            chunk("a", usage=u[0]),
            chunk("b", usage=u[1], finish="stop"),
            {"choices": [], "usage": None},
        )
    )
    assert res.usage == Usage(5, 2, 7)


def test_unknown_fields_and_foreign_event_objects_are_ignored() -> None:
    """``timings`` [LC1], ``stop_reason``/``token_ids`` [VL1], ``matched_stop`` [SG1],
    ``provider_specific_fields`` [LT5], ``obfuscation`` [OA4], and LocalAI's
    ``{"type":"mcp_tool_result"}`` events with no ``choices`` [LA1]."""
    extra = chunk("a", refusal=None, provider_specific_fields={"x": 1})
    extra |= {"timings": {"prompt_n": 1}, "obfuscation": "abc", "sglext": {}}
    extra["choices"][0] |= {"stop_reason": None, "token_ids": None, "matched_stop": None}
    mcp = {"type": "mcp_tool_result", "name": "search", "result": "..."}
    _, res = decode(sse(extra, mcp, chunk(finish="stop")))
    assert res.blocks == [TextBlock("a")]
    assert res.failure is None


def test_second_choice_is_ignored() -> None:
    """``n > 1`` on servers that honour it: the SDK follows choice 0 only."""
    two = chunk("a")
    two["choices"].append({"index": 1, "delta": {"content": "B"}, "finish_reason": None})
    _, res = decode(sse(two, chunk(finish="stop")))
    assert res.blocks == [TextBlock("a")]


# ===================================================================== 2B / 4.3 tool calls
def test_fragments_by_index_llama_server_real() -> None:
    """llama-server: header (index, id, type, name, ``"{"``), then index + argument pieces,
    ``finish_reason:"tool_calls"`` [LC2] —
    tests/data/servers/llamaserver-qwen05b-tools-auto-stream.sse."""
    evs, res = decode(raw("llamaserver-qwen05b-tools-auto-stream"), WEATHER)
    assert res.blocks == [ToolUseBlock("AMeX7JlccT9IqFXzM9P5YCqWAOyiy4SV", "get_weather", PARIS)]
    assert res.finish_reason == "tool_calls"
    kinds = [type(e) for e in evs]
    assert kinds[0] is ToolStart
    assert kinds[-1] is ToolDone
    assert kinds.count(ToolArgsDelta) == 7
    assert "".join(e.fragment for e in evs if isinstance(e, ToolArgsDelta)) == '{"city": "Paris"}'


def test_parallel_fragments_llama_server_real() -> None:
    """Two calls (index 0 and 1) after leaked ``<tools>\\n`` content —
    tests/data/servers/llamaserver-qwen15b-tools-parallel-stream.sse."""
    _, res = decode(raw("llamaserver-qwen15b-tools-parallel-stream"), WEATHER)
    assert res.blocks == [
        TextBlock("<tools>\n"),
        ToolUseBlock("WihvwXipv4LeBufFYtEpAx2K2gE2hfCq", "get_weather", PARIS),
        ToolUseBlock("4Xvl1dRiZQD73gMiIuqja6OXYW6sMgvH", "get_weather", {"city": "London"}),
    ]


def test_header_without_arguments_and_named_choice_stop_vllm_real() -> None:
    """vLLM's header has no ``arguments`` key; a named ``tool_choice`` ends with
    ``finish_reason:"stop"`` [VL4, VL6] — tests/data/servers/vllm-qwen05b-tools-named-stream.sse."""
    _, res = decode(raw("vllm-qwen05b-tools-named-stream"), WEATHER)
    assert res.blocks == [ToolUseBlock("chatcmpl-tool-8a2bf5d4c53a417d", "get_weather", PARIS)]
    assert res.finish_reason == "tool_calls"


def test_repeated_id_type_name_llama_cpp_python_real() -> None:
    """llama-cpp-python repeats id/type/name on every fragment and duplicates each one as a
    legacy ``function_call`` delta [LP2] —
    tests/data/servers/llamacpppython-fc-qwen15b-extra-tools-named-stream.sse."""
    evs, res = decode(raw("llamacpppython-fc-qwen15b-extra-tools-named-stream"), WEATHER)
    assert res.blocks == [
        ToolUseBlock(
            "call__0_get_weather_cmpl-0fe7c7cc-4f07-40f5-ad26-1813e8f9f037", "get_weather", PARIS
        )
    ]
    assert sum(isinstance(e, ToolStart) for e in evs) == 1


def test_repeated_type_every_chunk_litellm_real() -> None:
    """LiteLLM repeats ``type`` on every fragment, ``id``/``name`` only on headers [LT3, LT7] —
    tests/data/servers/litellm-llamaserver-qwen15b-tools-parallel-stream.sse."""
    _, res = decode(raw("litellm-llamaserver-qwen15b-tools-parallel-stream"), WEATHER)
    assert [b for b in res.blocks if isinstance(b, ToolUseBlock)] == [
        ToolUseBlock("ywEccU293p6WU1osPXEnTzKuj9coosFS", "get_weather", PARIS),
        ToolUseBlock("GFZNTLLP07QKye1L5DUOijdvagHGVBxG", "get_weather", {"city": "London"}),
    ]


def test_repeated_id_and_type_tgi_with_eos_token_finish() -> None:
    """TGI: ``index:0``, ``id`` and ``type`` on every fragment, name on the first only,
    ``description:null``, role on every delta, finish ``eos_token`` (never ``tool_calls``)
    [TG1, TG2]."""

    def frag(args: str, name: str | None = None) -> dict[str, Any]:
        fn = {"description": None, "name": name, "arguments": args}
        return {"index": 0, "id": "0", "type": "function", "function": fn}

    parts = ['{"', "city", '":"', "Paris", '"}']
    data = sse(
        *(
            chunk(role="assistant", tool_calls=[frag(p, "get_weather" if i == 0 else None)])
            for i, p in enumerate(parts)
        ),
        chunk(role="assistant", finish="eos_token"),
    )
    _, res = decode(data, WEATHER)
    assert res.blocks == [ToolUseBlock("0", "get_weather", PARIS)]
    assert res.finish_reason == "tool_calls"


def test_id_on_every_chunk_and_summary_chunk_litellm() -> None:
    """LiteLLM sends ``id`` on every chunk and then a duplicate "summary" chunk with the whole
    arguments, sometimes JSON-encoded again [LT3]."""
    pieces_ = ['{"city"', ': "Par', 'is"}']
    frags = [tool_call(0, id="call_abc", type="function", name="get_weather", arguments=pieces_[0])]
    frags += [tool_call(0, id="call_abc", type="function", arguments=p) for p in pieces_[1:]]
    whole = "".join(pieces_)
    for summary in (whole, json.dumps(whole)):
        summ = tool_call(0, id="call_abc", type="function", name="get_weather", arguments=summary)
        _, res = decode(tools_stream(*frags, summ), WEATHER)
        assert res.blocks == [ToolUseBlock("call_abc", "get_weather", PARIS)], summary


def test_forced_index_zero_keeps_parallel_calls_apart_litellm() -> None:
    """LiteLLM forces a missing ``index`` to 0, which merges parallel calls in naive clients
    [LT5, LT6]; a new id with a new name on the same index starts a new call."""
    frags = [
        tool_call(0, id="a", name="get_weather", arguments='{"city":'),
        tool_call(0, arguments='"A"}'),
        tool_call(0, id="b", name="get_weather", arguments='{"city":'),
        tool_call(0, arguments='"B"}'),
    ]
    _, res = decode(tools_stream(*frags), WEATHER)
    assert res.blocks == [
        ToolUseBlock("a", "get_weather", {"city": "A"}),
        ToolUseBlock("b", "get_weather", {"city": "B"}),
    ]


def test_missing_index_whole_calls_per_chunk_old_ollama() -> None:
    """Ollama before #7881 sent each call whole in its own chunk with no ``index``, and
    ``"content":""`` on every chunk; older builds ended with ``stop`` [OL1, OL8, OL9, OL12]."""
    calls = [
        {
            "id": f"call_{c}",
            "type": "function",
            "function": {"name": "get_weather", "arguments": json.dumps({"city": c})},
        }
        for c in ("A", "B")
    ]
    data = sse(
        *(chunk("", role="assistant", tool_calls=[c]) for c in calls), chunk("", finish="stop")
    )
    _, res = decode(data, WEATHER)
    assert res.blocks == [
        ToolUseBlock("call_A", "get_weather", {"city": "A"}),
        ToolUseBlock("call_B", "get_weather", {"city": "B"}),
    ]
    assert res.finish_reason == "tool_calls"


def test_missing_index_and_id_fragments_continue_the_last_call() -> None:
    """No index and no id: a fragment with a name starts a call, the rest continue it."""
    frags = [
        tool_call(None, name="get_weather", arguments='{"city":'),
        tool_call(None, arguments='"A"}'),
        tool_call(None, name="get_weather", arguments='{"city":"B"}'),
    ]
    _, res = decode(tools_stream(*frags), WEATHER)
    inputs = [(type(b), b.input) for b in res.blocks if isinstance(b, ToolUseBlock)]
    assert inputs == [(ToolUseBlock, {"city": "A"}), (ToolUseBlock, {"city": "B"})]


def test_whole_calls_inside_the_finish_chunk_text_generation_webui() -> None:
    """text-generation-webui streams content until it detects a call, then sends one final
    chunk with ``finish_reason`` **and** the whole ``tool_calls`` array [TW1]."""
    calls = [
        {
            "index": i,
            "id": f"call_{i:08d}",
            "type": "function",
            "function": {"name": "get_weather", "arguments": json.dumps({"city": c})},
        }
        for i, c in enumerate("AB")
    ]
    data = sse(
        chunk("", role="assistant", refusal=None),
        chunk("Let me check."),
        chunk(tool_calls=calls, finish="tool_calls"),
    )
    _, res = decode(data, WEATHER)
    assert res.blocks == [
        TextBlock("Let me check."),
        ToolUseBlock("call_00000000", "get_weather", {"city": "A"}),
        ToolUseBlock("call_00000001", "get_weather", {"city": "B"}),
    ]


def test_arguments_as_a_json_object() -> None:
    """Some servers put an object where the spec says a string."""
    _, res = decode(
        tools_stream(tool_call(0, id="c", name="get_weather", arguments=PARIS)), WEATHER
    )
    assert res.blocks == [ToolUseBlock("c", "get_weather", PARIS)]


@pytest.mark.parametrize(
    "arguments", ["", None, "null", "  "], ids=["empty", "missing", "null", "blank"]
)
def test_empty_or_missing_arguments_become_empty_object(arguments: str | None) -> None:
    """vLLM hermes streams no arguments at all for a no-parameter call [VL5]; Ollama
    guarantees ``"{}"`` [OL5]; others send ``""``."""
    _, res = decode(tools_stream(tool_call(0, id="c", name="now", arguments=arguments)), {"now"})
    assert res.blocks == [ToolUseBlock("c", "now", {})]


def test_double_encoded_arguments_string() -> None:
    """Arguments JSON-encoded twice (a JSON string holding the object) still parse."""
    _, res = decode(
        tools_stream(
            tool_call(0, id="c", name="get_weather", arguments=json.dumps(json.dumps(PARIS)))
        ),
        WEATHER,
    )
    assert res.blocks == [ToolUseBlock("c", "get_weather", PARIS)]


def test_duplicate_ids_are_made_unique_and_stable_localai() -> None:
    """LocalAI gives every call the completion UUID as id [LA2]; TGI uses ``"0"`` [TG1]. Ids
    are made unique, and generated ones are stable for the same stream and seed."""
    uuid = "7b2e4c1a-0d44-4c52-9f8e-2f0a9d1c3b5e"
    frags = [
        tool_call(
            i, id=uuid, type="function", name="get_weather", arguments=json.dumps({"city": c})
        )
        for i, c in enumerate("AB")
    ]
    _, first = decode(tools_stream(*frags), WEATHER, id_seed="run-1")
    _, again = decode(tools_stream(*frags), WEATHER, id_seed="run-1")
    ids = [b.id for b in first.blocks if isinstance(b, ToolUseBlock)]
    assert ids[0] == uuid
    assert ids[1] != uuid
    assert len(set(ids)) == 2
    assert first.blocks == again.blocks


@pytest.mark.parametrize("given_id", ["", None], ids=["empty", "absent"])
def test_empty_or_absent_id_is_generated(given_id: str | None) -> None:
    """LM Studio has sent ``"id":""`` and then rejects it on replay [LM1, LM8]."""
    frag = tool_call(0, name="get_weather", arguments="{}") | (
        {"id": given_id} if given_id is not None else {}
    )
    _, res = decode(tools_stream(frag), WEATHER)
    (block,) = res.blocks
    assert isinstance(block, ToolUseBlock)
    assert block.id.startswith("call_")
    assert len(block.id) == 29


@pytest.mark.parametrize(
    ("finish", "expected"),
    [
        ("stop", "tool_calls"),
        ("eos_token", "tool_calls"),
        ("stop_sequence", "tool_calls"),
        ("tool_calls", "tool_calls"),
        ("length", "length"),
        ("abort", "error"),
    ],
)
def test_finish_reason_is_not_trusted_with_calls(finish: str, expected: str) -> None:
    """Calls count whatever the finish says: OpenAI gpt-4o and vLLM named choice say ``stop``
    [OA5, VL6], TGI ``eos_token``/``stop_sequence`` [TG2], vLLM/SGLang ``abort`` [VL1, SG1]."""
    _, res = decode(
        tools_stream(tool_call(0, id="c", name="get_weather", arguments="{}"), finish=finish),
        WEATHER,
    )
    assert res.finish_reason == expected
    assert isinstance(res.blocks[0], ToolUseBlock)


@pytest.mark.parametrize(
    ("finish", "expected"),
    [
        ("eos_token", "stop"),
        ("stop_sequence", "stop"),
        ("eos", "stop"),
        ("tool_calls", "stop"),
        ("length", "length"),
        ("content_filter", "content_filter"),
        ("something_new", "stop"),
    ],
)
def test_finish_reason_normalised_without_calls(finish: str, expected: str) -> None:
    """TGI ``eos_token``/``stop_sequence`` [TG2]; a ``tool_calls`` finish with no calls (LiteLLM
    provider mapping [LT8]) is a plain stop."""
    _, res = decode(sse(chunk("a"), chunk(finish=finish)))
    assert res.finish_reason == expected


def test_malformed_arguments_become_tool_use_error() -> None:
    """A small model writes broken JSON (llama.cpp answers 500 in the same case [LC8]; vLLM
    leaves it [VL5]). The call is kept as a ToolUseError so the model can be told."""
    _, res = decode(
        tools_stream(tool_call(0, id="c", name="get_weather", arguments='{"city": "Par')), WEATHER
    )
    (block,) = res.blocks
    assert isinstance(block, ToolUseError)
    assert block.raw_arguments == '{"city": "Par'
    assert block.id == "c"
    assert res.finish_reason == "tool_calls"


def test_arguments_that_are_not_an_object_become_tool_use_error() -> None:
    """``[1,2]`` or ``"x"`` parse as JSON but are not arguments."""
    _, res = decode(tools_stream(tool_call(0, id="c", name="f", arguments="[1, 2]")), {"f"})
    assert isinstance(res.blocks[0], ToolUseError)


def test_call_without_name_becomes_tool_use_error() -> None:
    """LM Studio ≤0.3.15 sent later fragments with ``name:""`` and has lost names [LM10]."""
    _, res = decode(tools_stream(tool_call(0, id="c", arguments="{}")))
    assert isinstance(res.blocks[0], ToolUseError)
    assert res.blocks[0].error


def test_legacy_function_call_delta_alone() -> None:
    """Legacy ``function_call`` deltas (LocalAI ``function_call`` finish [LA1])."""
    data = sse(
        chunk(function_call={"name": "get_weather", "arguments": '{"city":'}),
        chunk(function_call={"arguments": '"Paris"}'}),
        chunk(finish="function_call"),
    )
    _, res = decode(data, WEATHER)
    (block,) = res.blocks
    assert isinstance(block, ToolUseBlock)
    assert (block.name, block.input) == ("get_weather", PARIS)
    assert res.finish_reason == "tool_calls"


def test_tool_events_in_order() -> None:
    """Events: one ``tool_start`` per call (index, id, name), ``tool_args`` pieces, and a
    ``tool_done`` per call at the end with the finished block."""
    frags = [
        tool_call(0, id="a", name="get_weather", arguments='{"city":'),
        tool_call(1, id="b", name="get_weather"),
        tool_call(0, arguments='"A"}'),
        tool_call(1, arguments='{"city":"B"}'),
    ]
    evs, res = decode(tools_stream(*frags), WEATHER)
    assert [(e.kind, e.index) for e in evs if not isinstance(e, TextDelta | ThinkingDelta)] == [
        ("tool_use_start", 0),
        ("tool_input_delta", 0),
        ("tool_use_start", 1),
        ("tool_input_delta", 0),
        ("tool_input_delta", 1),
        ("tool_use_stop", 0),
        ("tool_use_stop", 1),
    ]
    assert evs[0] == ToolStart(0, "a", "get_weather")
    assert [e.block for e in evs if isinstance(e, ToolDone)] == res.blocks


def test_every_event_kind_is_the_stream_event_type_it_becomes() -> None:
    """The decoder's event kinds are StreamEvent.type values, one per event class."""
    classes = get_args(Event)
    types = get_args(get_type_hints(StreamEvent)["type"])
    assert sorted(c.kind for c in classes) == sorted(types)


# ===================================================================== 2C / 4.4 reasoning
def test_reasoning_content_field() -> None:
    """``reasoning_content``: llama.cpp [LC2], SGLang [SG1], tgw [TW1], LiteLLM [LT5]."""
    evs, res = decode(
        sse(
            chunk(reasoning="Let me "),
            chunk(reasoning="think."),
            chunk("Answer."),
            chunk(finish="stop"),
        )
    )
    assert res.blocks == [ThinkingBlock("Let me think."), TextBlock("Answer.")]
    assert [type(e) for e in evs] == [ThinkingDelta, ThinkingDelta, TextDelta]


def test_reasoning_field_with_empty_content_ollama() -> None:
    """Ollama: ``reasoning`` with ``"content":""`` on every reasoning chunk [OL1, OL16];
    vLLM since late 2025 and LocalAI also use ``reasoning`` [VL2, LA3]."""
    _, res = decode(
        sse(
            chunk("", reasoning=None, delta={"reasoning": " need"}),
            chunk("Hi", delta={"reasoning": None}),
            chunk(finish="stop"),
        )
    )
    assert res.blocks == [ThinkingBlock(" need"), TextBlock("Hi")]


def test_both_reasoning_fields_are_not_doubled() -> None:
    """During vLLM's rename both ``reasoning`` and ``reasoning_content`` carried the same text
    [VL2]; LiteLLM adds ``thinking_blocks`` next to ``reasoning_content`` [LT5]."""
    both = chunk(
        delta={
            "reasoning": "hm",
            "reasoning_content": "hm",
            "thinking_blocks": [{"thinking": "hm"}],
        }
    )
    _, res = decode(sse(both, chunk("ok", finish="stop")))
    assert res.blocks == [ThinkingBlock("hm"), TextBlock("ok")]


def test_think_tags_in_content() -> None:
    """No reasoning parser: TGI, llama-cpp-python, LM Studio, llama.cpp ``--reasoning-format
    none`` leave ``<think>`` in content [TG1, LP2, LM2, LC2]."""
    _, res = decode(sse(chunk("<think>\nPlan.\n</think>\n\nHello!"), chunk(finish="stop")))
    assert res.blocks == [ThinkingBlock("\nPlan.\n"), TextBlock("Hello!")]


THINK_TEXT = "<think>Reason ü…</think>\n\nAnswer <b>bold</b> <th"


@pytest.mark.parametrize("tools", [(), ("get_weather",)], ids=["no-tools", "tools"])
def test_think_tags_split_at_every_position(tools: tuple[str, ...]) -> None:
    """Tags arrive cut anywhere: every two- and three-way split gives the same pieces."""
    whole = scan([THINK_TEXT], tools)
    assert whole == [("thinking", "Reason ü…"), ("text", "Answer <b>bold</b> <th")]
    n = len(THINK_TEXT)
    for i in range(n + 1):
        assert scan([THINK_TEXT[:i], THINK_TEXT[i:]], tools) == whole, i
        for j in range(i, min(n, i + 9) + 1):
            assert scan([THINK_TEXT[:i], THINK_TEXT[i:j], THINK_TEXT[j:]], tools) == whole, (i, j)


def test_think_tags_one_character_per_chunk_through_the_decoder() -> None:
    """The same through the whole decoder, one character per SSE event."""
    _, res = decode(sse(*(chunk(c) for c in "<think>a</think>b"), chunk(finish="stop")))
    assert res.blocks == [ThinkingBlock("a"), TextBlock("b")]


def test_template_opens_think_itself() -> None:
    """Qwen3 / DeepSeek-R1 templates put ``<think>`` in the prompt, so only ``</think>``
    streams; the profile sets ``think_open``."""
    _, res = decode(
        sse(chunk("Plan it.</th"), chunk("ink>\n\nDone."), chunk(finish="stop")), think_open=True
    )
    assert res.blocks == [ThinkingBlock("Plan it."), TextBlock("Done.")]


def test_unopened_think_close_tag_without_profile() -> None:
    """Same stream, profile unknown: a ``</think>`` that ends a line in the first text block
    splits it at the end."""
    _, res = decode(sse(chunk("Plan it.\n</th"), chunk("ink>\n\nDone."), chunk(finish="stop")))
    assert res.blocks == [ThinkingBlock("Plan it.\n"), TextBlock("Done.")]
    _, quoted = decode(sse(chunk("Close it with `</think>` please."), chunk(finish="stop")))
    assert quoted.blocks == [TextBlock("Close it with `</think>` please.")]


def test_reasoning_budget_exhausted_gives_length_and_no_text() -> None:
    """Reasoning used every token: ``length`` with no text is surfaced as is."""
    _, res = decode(sse(chunk(reasoning="hmm " * 10), chunk(finish="length")))
    assert res.finish_reason == "length"
    assert res.blocks == [ThinkingBlock("hmm " * 10)]


# ===================================================================== 4.3 #18 calls leaked as text
def test_bare_json_call_qwen05b_real() -> None:
    """Qwen2.5-Coder-0.5B without a tool parser writes ``{"name":…,"arguments":…}`` as content
    and ends with ``stop`` — tests/data/servers/vllm-qwen05b-tools-auto-stream.sse (the same
    model on llama-server with the stock template does the same)."""
    evs, res = decode(raw("vllm-qwen05b-tools-auto-stream"), WEATHER)
    (block,) = res.blocks
    assert isinstance(block, ToolUseBlock)
    assert (block.name, block.input) == ("get_weather", PARIS)
    assert res.finish_reason == "tool_calls"
    assert not any(isinstance(e, TextDelta) for e in evs)


def test_fenced_json_call_llama_server_stock_template_real() -> None:
    """Qwen2.5-Coder-1.5B on llama-server's stock template: a ```` ```json ```` fence streamed
    token by token (```` ``` ````, ``json``, ``\\n``, ...), then 50 newlines until ``length`` —
    tests/data/servers/llamaserver-qwen15b-stocktemplate-tools-required-stream.sse."""
    _, res = decode(raw("llamaserver-qwen15b-stocktemplate-tools-required-stream"), WEATHER)
    (block,) = res.blocks
    assert isinstance(block, ToolUseBlock)
    assert (block.name, block.input) == ("get_weather", PARIS)
    assert res.finish_reason == "length"
    assert res.usage == Usage(188, 128, 316, cached_tokens=187)


def test_leaked_bare_json_without_tools_stays_text() -> None:
    """No tools offered: nothing is scanned for calls."""
    _, res = decode(raw("vllm-qwen05b-tools-auto-stream"))
    assert res.blocks == [TextBlock('{"name": "get_weather", "arguments": {"city": "Paris"}}')]
    assert res.finish_reason == "stop"


LEAKED = {
    # a call after prose counts only from a line start (issue 11: mid-line it is quoted)
    "hermes": (
        'Sure.\n<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n</tool_call>',
        "Sure.\n",
    ),
    "lmstudio": (
        '[TOOL_REQUEST]{"name": "get_weather", "arguments": {"city": "Paris"}}[END_TOOL_REQUEST]',
        "",
    ),
    "mistral-json": ('[TOOL_CALLS][{"name": "get_weather", "arguments": {"city": "Paris"}}]', ""),
    "mistral-args": ('[TOOL_CALLS]get_weather[ARGS]{"city": "Paris"}', ""),
    "qwen3-xml": (
        "<tool_call>\n<function=get_weather>\n<parameter=city>\nParis\n</parameter>\n</function>\n</tool_call>",
        "",
    ),
    "qwen3-xml-bare": (
        "<function=get_weather>\n<parameter=city>\nParis\n</parameter>\n</function>",
        "",
    ),
    "pythonic": ('<|tool_call_start|>[get_weather(city="Paris")]<|tool_call_end|>', ""),
    "llama-python-tag": (
        '<|python_tag|>{"name": "get_weather", "parameters": {"city": "Paris"}}',
        "",
    ),
    "fenced": ('```json\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n```', ""),
    "bare": ('\n{"name": "get_weather", "arguments": {"city": "Paris"}}', ""),
}


@pytest.mark.parametrize("name", LEAKED)
def test_leaked_markup_becomes_a_call(name: str) -> None:
    """Markup left in content: Hermes ``<tool_call>`` (vLLM/SGLang without a parser [VL5, SG1]),
    LM Studio ``[TOOL_REQUEST]`` [LM1, LM7], Mistral ``[TOOL_CALLS]`` (v3 JSON list and v11
    ``name[ARGS]{…}``), Qwen3-Coder ``<function=…>``, LFM2 pythonic ``<|tool_call_start|>``,
    Llama ``<|python_tag|>``, and fenced / bare JSON (Qwen2.5-Coder)."""
    text, before = LEAKED[name]
    expected = ([("text", before)] if before else []) + [("call", ("get_weather", PARIS))]
    assert scan([text]) == expected
    for i in range(len(text) + 1):
        assert scan([text[:i], text[i:]]) == expected, i
    _, res = decode(
        sse(*(chunk(text[i : i + 3]) for i in range(0, len(text), 3)), chunk(finish="stop")),
        WEATHER,
    )
    assert [type(b) for b in res.blocks] == [TextBlock] * bool(before) + [ToolUseBlock]
    assert res.finish_reason == "tool_calls"


@pytest.mark.parametrize("name", LEAKED)
def test_leaked_markup_naming_a_tool_not_offered_stays_text(name: str) -> None:
    """A call to a tool nobody offered is text, never executed."""
    text, _ = LEAKED[name]
    assert scan([text], tools={"other_tool"}) == [("text", text)]


@pytest.mark.parametrize(
    "text",
    [
        '{"city": "Paris", "temp": 20}',
        '{"name": "Paris"} is a city.',
        'Use {"name": "get_weather", "arguments": {}} like this.',
        "```python\nprint({'a': 1})\n```",
        "```json\n[1, 2, 3]\n```",
        "{ unbalanced",
        "if (a < b && c <= d) { x = y<z; }",
        "[TOOL_REQUEST] is how LM Studio marks calls",
    ],
)
def test_text_that_merely_looks_like_json_stays_text(text: str) -> None:
    """Only well-formed calls to offered tools are taken; everything else is given back as
    text, whole and unchanged."""
    assert scan([text]) == [("text", text)]
    assert scan(list(text)) == [("text", text)]


def test_native_tool_calls_after_held_content_keep_order() -> None:
    """Content held as a possible fence (```` ```json\\n ````) is given back before the
    server's own tool call, not after it (real: llamaserver-qwen05b-tools-auto-fenced-stream)."""
    data = sse(
        chunk("```"),
        chunk("json\n"),
        chunk(tool_calls=[tool_call(0, id="c", name="get_weather", arguments="{}")]),
        chunk(finish="tool_calls"),
    )
    _, res = decode(data, WEATHER)
    assert [type(b) for b in res.blocks] == [TextBlock, ToolUseBlock]


def test_whitespace_around_leaked_calls_is_dropped() -> None:
    """Newlines between and after leaked calls are not an answer (the stock-template stream
    ends with 50 of them)."""
    call = '<tool_call>{"name": "get_weather", "arguments": {}}</tool_call>'
    text = f"\n{call}\n\n{call}\n\n"
    assert scan([text]) == [("call", ("get_weather", {})), ("call", ("get_weather", {}))]


# ===================================================================== properties
CORPUS: list[bytes] = [raw(p.stem) for p in sorted(DATA.glob("*.sse"))] + [
    sse(
        chunk("héllo 世界 🎉 "),
        chunk("<think>ü</think>"),
        chunk('<tool_call>{"name": "get_weather", "arguments": {"city": "Zürich"}}</tool_call>'),
        b": ping\n\n",
        chunk(finish="stop"),
        usage_chunk(3, 4),
        crlf=True,
    ),
    sse(
        chunk(reasoning="🤔"), chunk("ok"), {"error": {"message": "late", "code": 500}}, done=False
    ),
]


def _outcome(res: TurnResult) -> tuple[Any, ...]:
    kind = res.failure.kind if res.failure else None
    return res.blocks, res.finish_reason, res.usage, kind, res.done_seen


def _text_of(evs: list[Event], kind: type[TextDelta | ThinkingDelta]) -> str:
    return "".join(e.text for e in evs if isinstance(e, kind))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_property_any_resplit_of_the_bytes_gives_the_same_result(data: st.DataObject) -> None:
    """However TCP cuts the bytes (inside multi-byte UTF-8, between ``\\r`` and ``\\n``, inside
    ``data:``), blocks, finish, usage and failure are identical, and so is the streamed text."""
    stream = data.draw(st.sampled_from(CORPUS))
    cuts = data.draw(st.lists(st.integers(0, len(stream)), max_size=40))
    whole_evs, whole = decode(stream, WEATHER)
    split_evs, split = decode(pieces(stream, cuts), WEATHER)
    assert _outcome(split) == _outcome(whole)
    for kind in (TextDelta, ThinkingDelta):
        assert _text_of(split_evs, kind) == _text_of(whole_evs, kind)


@st.composite
def _parallel_calls(draw: st.DrawFn) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """k calls, each cut into argument fragments, interleaved keeping each call's own order."""
    k = draw(st.integers(1, 4))
    repeat = draw(st.booleans())  # llama-cpp-python / TGI: id, type, name on every fragment
    bare_header = draw(st.booleans())  # vLLM: header without ``arguments``
    values = st.one_of(st.integers(), st.booleans(), st.text(max_size=6), st.none())
    calls, queues = [], []
    for i in range(k):
        args = draw(st.dictionaries(st.text(max_size=4), values, max_size=3))
        text = json.dumps(args, ensure_ascii=draw(st.booleans()))
        cuts = draw(st.lists(st.integers(0, len(text)), max_size=6))
        parts = [
            text[a:b] for a, b in zip([0, *sorted(cuts)], [*sorted(cuts), len(text)], strict=False)
        ]
        calls.append({"id": f"call_{i}", "name": f"tool_{i % 2}", "input": args})
        head = tool_call(
            i,
            id=f"call_{i}",
            type="function",
            name=f"tool_{i % 2}",
            arguments=None if bare_header else parts.pop(0),
        )
        rest = [
            tool_call(i, arguments=p) | ({"id": f"call_{i}", "type": "function"} if repeat else {})
            for p in parts
        ]
        if repeat:
            for r in rest:
                r["function"]["name"] = f"tool_{i % 2}"
        queues.append([head, *rest])
    order = draw(st.permutations([i for i, q in enumerate(queues) for _ in q]))
    frags = [queues[i].pop(0) for i in order]
    return calls, frags


@settings(max_examples=300, deadline=None)
@given(_parallel_calls(), st.data())
def test_property_interleaved_parallel_fragments_reassemble(
    spec: tuple[list[dict[str, Any]], list[dict[str, Any]]], data: st.DataObject
) -> None:
    """Parallel calls whose fragments arrive interleaved (by ``index``), with or without
    repeated id/type/name, reassemble to the same calls, in first-seen order."""
    calls, frags = spec
    group = data.draw(st.integers(1, 3))  # fragments per chunk
    stream = sse(
        *(chunk(tool_calls=frags[i : i + group]) for i in range(0, len(frags), group)),
        chunk(finish="stop"),
    )
    cuts = data.draw(st.lists(st.integers(0, len(stream)), max_size=10))
    _, res = decode(pieces(stream, cuts), {"tool_0", "tool_1"})
    first_seen = list(dict.fromkeys(f["index"] for f in frags))
    assert res.blocks == [
        ToolUseBlock(calls[i]["id"], calls[i]["name"], calls[i]["input"]) for i in first_seen
    ]
    assert res.finish_reason == "tool_calls"


_VOCAB = [
    "Hello ",
    "world",
    " ",
    "\n",
    "é",
    "世界",
    "🎉",
    "<",
    ">",
    "<think>",
    "</think>",
    "<th",
    "{",
    "}",
    '"',
    "\\",
    "`",
    "```",
    "```json\n",
    "[",
    "]",
    "[TOOL_CALLS]",
    "<tool_call>",
    "</tool_call>",
    '{"name": "get_weather", "arguments": {"city": "Paris"}}',
    '{"name": "nope"}',
    "<function=get_weather>",
    "<parameter=city>Paris</parameter>",
    "</function>",
    "<|tool_call_start|>",
    "<|tool_call_end|>",
    'get_weather(city="Paris")',
    "[TOOL_REQUEST]",
    "[END_TOOL_REQUEST]",
]


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from(_VOCAB), max_size=14), st.data(), st.booleans(), st.booleans())
def test_property_text_scanner_is_split_invariant(
    words: list[str], data: st.DataObject, tools: bool, think_open: bool
) -> None:
    """Any text made of tags, markers, JSON and multi-byte characters scans the same however it
    is cut."""
    text = "".join(words)
    names = WEATHER if tools else frozenset()
    whole = scan([text], names, think_open=think_open)
    cuts = data.draw(st.lists(st.integers(0, len(text)), max_size=8))
    parts = [
        text[a:b] for a, b in zip([0, *sorted(cuts)], [*sorted(cuts), len(text)], strict=False)
    ]
    assert scan(parts, names, think_open=think_open) == whole


def test_integers_beyond_64_bits_stay_exact() -> None:
    """Found by the interleaving property: orjson turns such integers into floats."""
    big = -9223372036854775809
    stream = sse(
        chunk(tool_calls=[tool_call(0, id="c", name="f", arguments=f'{{"n": {big}}}')]),
        chunk(finish="tool_calls"),
    )
    _, result = decode(stream)
    call = result.blocks[0]
    assert isinstance(call, ToolUseBlock)
    assert call.input == {"n": big}
    assert isinstance(call.input["n"], int)
