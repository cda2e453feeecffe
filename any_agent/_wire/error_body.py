"""Every error-body parser, for HTTP status errors and in-stream ``error`` events alike.

Servers word an error in many shapes: OpenAI's ``{"error": {"message", "type", "code"}}``,
a flat ``{"message"}``, TGI's ``{"error": "...", "error_type"}``, FastAPI's
``{"detail": [{"loc", "msg"}]}``, LiteLLM's stringified dict inside ``message``, and bodies
cut at the read bound (no longer valid JSON). Pure: text in, (message, type, code) out;
the caller scrubs secrets from what it shows.
"""

from __future__ import annotations

import re
from typing import Any

import orjson

from . import jsontext

__all__ = [
    "CONTEXT_EXCEEDED",
    "error_message",
    "parse_error_body",
    "says_context_exceeded",
    "shown",
]

#: how servers word a prompt too long for the window (an HTTP 400/413/422 body that says this
#: is a ContextLengthExceededError)
CONTEXT_EXCEEDED = re.compile(
    r"context length|context size|context window|too long|exceed|maximum context|"
    r"max_new_tokens",
    re.IGNORECASE,
)
# an in-stream error has no HTTP status to narrow "exceed" down: a generator can fail for
# other limits mid-stream (a Python exception's words, a rate limit or quota)
_OTHER_LIMIT = re.compile(r"rate.?limit|quota|recursion|time.?limit|timed? ?out", re.IGNORECASE)


def says_context_exceeded(message: str, code: Any = None) -> bool:
    """Whether an in-stream error event refuses the prompt's length: the words
    :data:`CONTEXT_EXCEEDED` recognises in HTTP bodies, about no other limit, and no status
    code of a rate limit or a server failure (429, 5xx) in the event."""
    if isinstance(code, str) and code.isdigit():
        code = int(code)
    if isinstance(code, int) and not isinstance(code, bool) and (code == 429 or code >= 500):
        return False
    return bool(CONTEXT_EXCEEDED.search(message)) and not _OTHER_LIMIT.search(message)


def error_message(err: Any, _depth: int = 0) -> tuple[str, str | None, Any]:
    """(message, type, code) from any error object shape: dict, string, nested, stringified."""
    if isinstance(err, dict):
        inner = err.get("error")
        if "message" not in err:
            if isinstance(inner, dict) and _depth < 8:
                return error_message(inner, _depth + 1)
            if isinstance(inner, str):  # TGI {"error": "...", "error_type": "..."}
                etype = err.get("error_type") or err.get("type")
                return inner, etype if isinstance(etype, str) else None, err.get("code")
        msg = err.get("message") or err.get("detail") or err.get("msg") or ""
        if not isinstance(msg, str):
            msg = shown(msg, 1000)
        etype = err.get("type") or err.get("error_type")
        code = err.get("code")
        if code is None:
            code = err.get("http_status_code")  # TGI stream errors
        if not isinstance(code, (str, int)) or isinstance(code, bool):
            code = None
        return msg or shown(err, 1000), etype if isinstance(etype, str) else None, code
    if isinstance(err, str):
        return err, None, None
    return shown(err, 1000), None, None


def shown(value: Any, limit: int = 80) -> str:
    """A short, safe description of an unexpected JSON value for an error message."""
    try:
        text = jsontext.dumps(value)
    except ValueError:  # nested too deeply to write
        text = type(value).__name__
    return text if len(text) <= limit else f"{text[:limit]}… ({type(value).__name__})"


_MESSAGE_START = re.compile(r'"(?:message|detail|error)"\s*:\s*"((?:[^"\\]|\\.)*)')


def _cut_message(text: str) -> str:
    """The message of a JSON error body cut at :data:`ERROR_BODY_BYTES` (so no longer valid
    JSON): the start of its ``message`` string, else the text as it is."""
    if not text.lstrip().startswith("{"):
        return text
    m = _MESSAGE_START.search(text)
    if m is None:
        return text
    inner = m.group(1)
    for end in range(len(inner), max(-1, len(inner) - 6), -1):  # a cut \u escape
        try:
            return str(orjson.loads(f'"{inner[:end]}"'))
        except orjson.JSONDecodeError:
            continue
    return text


_ERROR_KEYS = frozenset({"error", "message", "object"})


def _fastapi_detail(detail: Any) -> str:
    """FastAPI's ``{"detail": [{"loc": [...], "msg": ...}]}`` → ``"body.messages: msg"``."""
    if isinstance(detail, str):
        return detail
    problems = []
    for item in detail if isinstance(detail, list) else [detail]:
        if isinstance(item, dict) and isinstance(item.get("msg"), str):
            where = item.get("loc")
            parts = where if isinstance(where, list) else [] if where is None else [where]
            loc = ".".join(p if isinstance(p, str) else shown(p, 40) for p in parts)
            problems.append(f"{loc}: {item['msg']}" if loc else item["msg"])
    return "; ".join(problems) or shown(detail, 1000)


def _unwrap_litellm(message: str) -> str:
    """LiteLLM puts a stringified dict inside ``message``: ``"400: {'error': '...'}"``."""
    m = re.search(r"""['"](?:error|message)['"]\s*:\s*['"](.+?)['"]\s*[,}]""", message)
    return m.group(1) if m and "{" in message[:20] else message


def parse_error_body(text: str, fallback: Any = None) -> tuple[Any, str, str | None, Any]:
    """(parsed body, message, type, code) of an HTTP error body: JSON, a cut JSON body,
    FastAPI's ``detail`` or plain text; ``fallback`` is the body as the client parsed it,
    used when ``text`` is empty. The message is unscrubbed (parsed first: a key written
    with \\u escapes is only recognisable decoded)."""
    try:
        parsed: Any = orjson.loads(text) if text else fallback
    except orjson.JSONDecodeError:
        parsed = _cut_message(text)
    if isinstance(parsed, dict) and "detail" in parsed and not parsed.keys() & _ERROR_KEYS:
        parsed = {"message": _fastapi_detail(parsed["detail"])}
    message, etype, code = error_message(parsed if parsed is not None else text)
    return parsed, _unwrap_litellm(message), etype, code
