"""Deterministic OpenAI-style streams, shared by the loopback server and the checks.

A stream is named by a *spec* string that travels as the request's ``model`` field, so the
server needs no other channel::

    bench:text:10000            role chunk, 10,000 text deltas, finish chunk, [DONE]
    bench:tool:100000:4         one tool call whose arguments arrive in 100,000 4-char pieces
    bench:text:1000:0:5:50      the same text stream, paced: 5 events, then 50 ms of silence
    bench:text:5:4:0:0:9        5 text deltas, then a usage chunk (prompt_tokens 9) before [DONE]

Every content event is one ``data:`` line of compact OpenAI ``chat.completion.chunk`` JSON
(about 200-300 bytes) and the server sends each event as its own HTTP chunk, as uvicorn,
vLLM and llama.cpp do. The expected aggregate of every stream is known here, so each
measured run can be checked for having really done the work.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

__all__ = [
    "TOOL_NAME",
    "TOOL_SPEC",
    "StreamSpec",
    "expected_arguments",
    "expected_text",
    "render_events",
]

TOOL_NAME = "write_file"
TOOL_SPEC: dict[str, Any] = {
    "type": "function",
    "function": {
        "name": TOOL_NAME,
        "description": "Write a text file.",
        "parameters": {
            "type": "object",
            "properties": {"path": {"type": "string"}, "content": {"type": "string"}},
            "required": ["path", "content"],
        },
    },
}

# Short tokens as a model emits them: leading spaces, punctuation, a newline, a quoted word
# (escaped in JSON) and a non-ASCII one (UTF-8 multi-byte on the wire).
_TOKENS = (
    "The",
    " quick",
    " brown",
    " fox",
    ",",
    " said",
    ' "hello"',
    " to",
    " the",
    " caf\u00e9",
    " and",
    " then",
    " wrote",
    " 42",
    " lines",
    ".",
    "\n",
    " It",
    " was",
    " fine",
    "!",
)
_FILLER = "lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor "
_HEAD = '{"path":"notes/out.txt","content":"'
_TAIL = '"}'

_ENVELOPE = (
    '{"id":"chatcmpl-bench0123456789","object":"chat.completion.chunk","created":1700000000,'
    '"model":"bench-model","system_fingerprint":"fp_bench","choices":[{"index":0,"delta":'
)
_USAGE_HEAD = _ENVELOPE.split(',"choices"')[0] + ',"choices":[],"usage":'


@dataclass(frozen=True)
class StreamSpec:
    """What one request asks the server for."""

    kind: str = "text"  # "text" | "tool"
    n: int = 1000  # content (or argument) events, besides the role and finish events
    frag: int = 4  # characters per argument fragment (tool only)
    every: int = 0  # pacing: events per burst (0 = no pacing)
    pause_ms: int = 0  # pacing: silence after each burst
    usage: int = 0  # prompt_tokens of a usage chunk sent after the finish (0: none)

    def __str__(self) -> str:
        text = f"bench:{self.kind}:{self.n}:{self.frag}:{self.every}:{self.pause_ms}"
        return f"{text}:{self.usage}" if self.usage else text

    @classmethod
    def parse(cls, text: str) -> StreamSpec:
        parts = text.split(":")
        if len(parts) < 3 or parts[0] != "bench" or parts[1] not in ("text", "tool"):
            raise ValueError(f"not a bench stream spec: {text!r}")
        given = [int(p) for p in parts[2:]]
        nums = given + [1000, 4, 0, 0, 0][len(given) :]  # the defaults of the fields left out
        return cls(parts[1], nums[0], nums[1], nums[2], nums[3], nums[4])

    @property
    def events(self) -> int:
        """JSON chunks in the stream: the content events plus the role and finish chunks
        (and the usage chunk)."""
        return self.n + 2 + bool(self.usage)

    @property
    def body_key(self) -> tuple[str, int, int, int]:
        return (self.kind, self.n, self.frag, self.usage)


def expected_text(n: int) -> str:
    return "".join(_TOKENS[i % len(_TOKENS)] for i in range(n))


@lru_cache(maxsize=8)
def expected_arguments(n: int, frag: int) -> str:
    """A JSON object of exactly ``n * frag`` characters: ``{"path":..,"content":"lorem.."}``."""
    size = n * frag
    room = size - len(_HEAD) - len(_TAIL)
    if room < 0:
        raise ValueError(f"{n} fragments of {frag} characters are too few for the arguments")
    filler = (_FILLER * (room // len(_FILLER) + 1))[:room]
    return _HEAD + filler + _TAIL


def _event(delta: str, finish: str | None = None) -> bytes:
    reason = "null" if finish is None else f'"{finish}"'
    line = f'data: {_ENVELOPE}{delta},"logprobs":null,"finish_reason":{reason}}}]}}\n\n'
    return line.encode()


def _str(value: str) -> str:
    return json.dumps(value, ensure_ascii=False)


def render_events(spec: StreamSpec) -> list[bytes]:
    """Every SSE event of the stream, ``data: [DONE]`` included, each ending in a blank line."""
    out: list[bytes] = []
    if spec.kind == "text":
        out.append(_event('{"role":"assistant","content":""}'))
        out.extend(
            _event('{"content":' + _str(_TOKENS[i % len(_TOKENS)]) + "}") for i in range(spec.n)
        )
        out.append(_event("{}", "stop"))
    else:
        args = expected_arguments(spec.n, spec.frag)
        out.append(
            _event(
                '{"role":"assistant","content":null,"tool_calls":[{"index":0,'
                f'"id":"call_bench0001","type":"function","function":{{"name":"{TOOL_NAME}",'
                '"arguments":""}}]}'
            )
        )
        f = spec.frag
        out.extend(
            _event(
                '{"tool_calls":[{"index":0,"function":{"arguments":'
                + _str(args[i * f : (i + 1) * f])
                + "}}]}"
            )
            for i in range(spec.n)
        )
        out.append(_event("{}", "tool_calls"))
    if spec.usage:
        # the shape of stream_options.include_usage: no choices, the counts of the request
        usage = (
            f'{{"prompt_tokens":{spec.usage},"completion_tokens":{spec.n},'
            f'"total_tokens":{spec.usage + spec.n}}}'
        )
        out.append(f"data: {_USAGE_HEAD}{usage}}}\n\n".encode())
    out.append(b"data: [DONE]\n\n")
    return out
