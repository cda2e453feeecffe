"""Repeated-event shortcut: decode an event by parsing only the one string that changed.

A long stream is hundreds of thousands of events that are byte-for-byte the previous event
except for one delta string: the text, the reasoning, or a tool call's next argument
fragment. After the decoder has handled an event in full, :func:`template_for` records the bytes
before and after that string. A next event with exactly those bytes around it differs only
inside the string, so parsing the string alone (``orjson.loads`` of the quoted slice) gives
what parsing the whole event would: the bytes before it leave a JSON parser in the same
state (inside a just-opened string), the quoted slice parses only if it is one complete
string literal, and the bytes after it are the same tokens in the same place.

:func:`slot_of` accepts only events whose every other effect on the decoder is idempotent
(no usage, finish reason, error or second delta field), and :func:`template_for` proves the
string's place by parsing the event twice more with a different probe string in it each time.
Whatever does not fit takes the full path, so the shortcut changes speed, never results.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import orjson

__all__ = ["Slot", "Template", "between", "slot_of", "template_for"]

# kinds of slot, as the decoder applies them
CONTENT = "content"
THINKING = "thinking"
ARGUMENTS = "arguments"

_PROBES = ("any-agent:probe:1", "any-agent:probe:2")

# (kind, path to the string in the event, the string)
Slot = tuple[str, tuple[Any, ...], str]

# an event this large (a whole call in one chunk) is not worth a template: learning costs
# about two more passes over it, and such events are seldom followed by look-alikes
_MAX_EVENT = 1 << 16


@dataclass(slots=True, frozen=True)
class Template:
    """The bytes around one string of an event; ``slot`` says which string it is.

    ``head``/``tail`` are the same bytes as one whole SSE event arrives in a read
    (``data: ``, the event, a blank line), so the common case skips the SSE framer too; they
    are empty when the event's own bytes hold a line break (then that would not be one event).
    """

    prefix: bytes  # up to and including the string's opening quote
    suffix: bytes  # from the string's closing quote to the end
    slot: str
    head: bytes
    tail: bytes

    @classmethod
    def around(cls, prefix: bytes, suffix: bytes, slot: str) -> Template:
        if b"\n" in prefix or b"\n" in suffix:
            return cls(prefix, suffix, slot, b"", b"")
        return cls(prefix, suffix, slot, b"data: " + prefix, suffix + b"\n\n")


def between(data: bytes, head: bytes, tail: bytes) -> str | None:
    """The string between ``head`` and ``tail`` when ``data`` is exactly ``head``, one JSON
    string's content, ``tail`` (``head`` ends with its opening quote, ``tail`` starts with
    its closing one); None otherwise, and always None for an empty ``head``.

    Use ``prefix``/``suffix`` on an event's data, ``head``/``tail`` on a read that may be
    exactly one SSE event: a JSON string cannot hold a raw line break, so such a match is
    one event and nothing else.
    """
    if not (head and data.startswith(head) and data.endswith(tail)):
        return None
    start = len(head) - 1
    end = len(data) - len(tail) + 1
    if end - start < 2:
        return None  # head and tail overlap
    try:
        value: str = orjson.loads(data[start:end])
    except orjson.JSONDecodeError:
        return None  # not one string literal (or invalid UTF-8): the full path decides
    return value


def template_for(payload: bytes, slot: Slot) -> Template | None:
    """A template from an event the decoder has just handled in full, given its
    :func:`slot_of`; None when the string's place in the bytes cannot be proven."""
    kind, path, value = slot
    if len(payload) > _MAX_EVENT:
        return None
    encodings = [orjson.dumps(value)]
    if not value.isascii():  # Python servers' json.dumps writes \u escapes
        encodings.append(json.dumps(value).encode())
    for encoded in encodings:
        at = payload.find(encoded)
        if at < 0:
            continue
        prefix = payload[: at + 1]
        suffix = payload[at + len(encoded) - 1 :]
        if _proven(prefix, suffix, path):
            return Template.around(prefix, suffix, kind)
    return None


def _proven(prefix: bytes, suffix: bytes, path: tuple[Any, ...]) -> bool:
    """Whether the string between ``prefix`` and ``suffix`` is the value at ``path``: with
    each of two different strings put there, the event must parse and hold that string at
    ``path`` (a value that came from anywhere else would be the same both times)."""
    for probe in _PROBES:
        try:
            doc = orjson.loads(prefix + probe.encode() + suffix)
        except orjson.JSONDecodeError:
            return False
        if _get(doc, path) != probe:
            return False
    return True


def slot_of(obj: dict[str, Any]) -> Slot | None:
    """(slot kind, path to the string, its value) when the event's only effect that depends
    on its content is that one string; None otherwise. Cheap: no pass over the bytes."""
    if obj.get("error") or obj.get("object") == "error" or obj.get("usage"):
        return None
    choices = obj.get("choices")
    if not isinstance(choices, list) or len(choices) != 1:
        return None
    choice = choices[0]
    if not isinstance(choice, dict) or choice.get("finish_reason"):
        return None
    if choice.get("index", 0) not in (0, None):
        return None
    key = "delta" if choice.get("delta") else "message"
    delta = choice.get(key)
    if not isinstance(delta, dict):
        return None
    base: tuple[Any, ...] = ("choices", 0, key)
    content = delta.get("content")
    reasoning_content = delta.get("reasoning_content")
    reasoning = delta.get("reasoning")
    calls = delta.get("tool_calls")
    if calls:
        if content or reasoning_content or reasoning or not isinstance(calls, list):
            return None
        if len(calls) != 1 or not isinstance(calls[0], dict):
            return None
        frag = calls[0]
        fn = frag.get("function")
        if not isinstance(fn, dict):
            return None
        args = fn.get("arguments")
        if not isinstance(args, str) or not args:
            return None
        if frag.get("index") is None and not frag.get("id") and fn.get("name"):
            return None  # keyed by position: the same bytes again would be a new call
        return ARGUMENTS, (*base, "tool_calls", 0, "function", "arguments"), args
    if delta.get("function_call"):
        return None
    if isinstance(content, str) and content:
        if reasoning_content or reasoning:
            return None
        return CONTENT, (*base, "content"), content
    if content:
        return None  # content parts
    if isinstance(reasoning_content, str) and reasoning_content:
        if reasoning:  # an emptied reasoning_content would let this one through
            return None
        return THINKING, (*base, "reasoning_content"), reasoning_content
    if isinstance(reasoning, str) and reasoning and not reasoning_content:
        return THINKING, (*base, "reasoning"), reasoning
    return None


def _get(obj: Any, path: tuple[Any, ...]) -> Any:
    for step in path:
        try:
            obj = obj[step]
        except (KeyError, IndexError, TypeError):
            return None
    return obj
