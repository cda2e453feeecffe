"""The wire layer: a raw HTTP client that keeps every byte and when it arrived.

Checks judge the server's own bytes, not what a client library makes of them: the OpenAI
SDK ignores comment lines, stops silently at EOF without ``[DONE]`` and concatenates repeated
fields. This client uses ``httpx2`` directly (vcrpy records and replays it), never follows
redirects, never reads proxy settings or ``.netrc`` from the environment, and sends the API
key only in the ``Authorization`` header.

Under vcrpy the body of a recorded response is replayed as one chunk, so timing and chunk
boundaries are only meaningful in live mode; SSE *events* survive replay intact.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx2
import orjson

from . import SUITE_VERSION

__all__ = [
    "FINISH_REASONS",
    "RawResponse",
    "SSEEvent",
    "StreamSummary",
    "ToolCallAcc",
    "WireClient",
    "parse_sse",
    "summarize_stream",
]

FINISH_REASONS = frozenset({"stop", "length", "tool_calls", "content_filter", "function_call"})
USER_AGENT = f"any-agent-conformance/{SUITE_VERSION}"


@dataclass(slots=True)
class SSEEvent:
    """One SSE event (lines up to a blank line), with everything a strict reader sees."""

    t: float  # seconds since the request was sent (0 in replay)
    data: str | None  # joined data lines, or None when the event had no data line
    comments: list[str] = field(default_factory=list)
    fields: list[str] = field(default_factory=list)  # event:/id:/retry: lines
    stray: list[str] = field(default_factory=list)  # lines that are no SSE field at all

    @property
    def is_done(self) -> bool:
        return self.data is not None and self.data.strip() == "[DONE]"

    def json(self) -> Any:
        if self.data is None or self.is_done:
            return None
        try:
            return orjson.loads(self.data)
        except orjson.JSONDecodeError:
            return None


def parse_sse(body: bytes, chunk_times: list[tuple[float, int]] | None = None) -> list[SSEEvent]:
    """Split a whole SSE body into events. ``chunk_times`` ``[(t, nbytes)]`` dates each event.

    Lines end with LF or CRLF. A blank line ends an event. A trailing event without its blank
    line still counts (a server that closed early).
    """
    ends: list[tuple[int, float]] = []
    pos = 0
    for t, n in chunk_times or ():
        pos += n
        ends.append((pos, t))

    def time_at(offset: int) -> float:
        for end, t in ends:
            if offset < end:
                return t
        return ends[-1][1] if ends else 0.0

    events: list[SSEEvent] = []
    cur = SSEEvent(t=0.0, data=None)
    data_lines: list[str] = []
    has_content = False
    offset = 0
    raw_lines = body.split(b"\n")
    for i, raw in enumerate(raw_lines):
        line_bytes = raw[:-1] if raw.endswith(b"\r") else raw
        line = line_bytes.decode("utf-8", errors="replace")
        line_end = offset + len(raw)
        offset = line_end + 1
        last = i == len(raw_lines) - 1
        if not line:
            if has_content:
                cur.data = "\n".join(data_lines) if data_lines else None
                cur.t = time_at(line_end)
                events.append(cur)
            cur = SSEEvent(t=0.0, data=None)
            data_lines = []
            has_content = False
            continue
        has_content = True
        if line.startswith(":"):
            cur.comments.append(line[1:].strip())
        elif line.startswith("data:"):
            value = line[5:]
            data_lines.append(value[1:] if value.startswith(" ") else value)
        elif line.split(":", 1)[0] in ("event", "id", "retry"):
            cur.fields.append(line)
        else:
            cur.stray.append(line)
        if last and has_content:
            cur.data = "\n".join(data_lines) if data_lines else None
            cur.t = time_at(line_end)
            events.append(cur)
    return events


@dataclass(slots=True)
class RawResponse:
    method: str
    path: str
    request_json: Any
    status: int  # 0: no HTTP response (transport error)
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    chunk_times: list[tuple[float, int]] = field(default_factory=list)
    t_headers: float | None = None
    t_first_byte: float | None = None
    t_total: float = 0.0
    error: str | None = None  # transport error text
    aborted: bool = False  # the client closed the stream on purpose

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "")

    @property
    def is_sse(self) -> bool:
        return self.content_type.split(";")[0].strip().lower() == "text/event-stream"

    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")

    def json(self) -> Any:
        try:
            return orjson.loads(self.body)
        except orjson.JSONDecodeError:
            return None

    def events(self) -> list[SSEEvent]:
        return parse_sse(self.body, self.chunk_times)

    def excerpt(self, limit: int = 1024) -> str:
        head = f"HTTP {self.status}" if self.status else f"no response ({self.error})"
        ctype = self.content_type
        text = self.text()
        if len(text) > limit:
            text = text[:limit] + f"… [{len(self.body)} bytes]"
        return f"{head} {ctype}\n{text}".strip()

    def error_message(self) -> str:
        """The server's error message, whatever body shape it used ("" if none)."""
        data = self.json()
        return error_message_of(data) or (self.text()[:200] if self.status >= 400 else "")


def error_message_of(data: Any) -> str:
    if isinstance(data, dict):
        err = data.get("error", data)
        if isinstance(err, str):
            return err
        if isinstance(err, dict):
            msg = err.get("message") or err.get("msg") or err.get("detail")
            if isinstance(msg, str):
                return msg
        detail = data.get("detail")
        if detail is not None:
            return str(detail)[:300]
    return ""


@dataclass(slots=True)
class ToolCallAcc:
    index: int
    id: str | None = None
    type: str | None = None
    name: str = ""
    arguments: str = ""
    fragments: int = 0
    first_fragment: dict[str, Any] = field(default_factory=dict)
    repeated_id: int = 0
    repeated_name: int = 0
    repeated_type: int = 0
    had_arguments_key: bool = False


@dataclass(slots=True)
class StreamSummary:
    """What a strict reader reconstructs from a chat-completions stream (choice 0 unless noted)."""

    events: list[SSEEvent]
    chunks: list[dict[str, Any]]
    problems: list[str]  # framing problems (non-JSON data, stray lines)
    done_count: int
    done_last: bool
    content: str
    reasoning: str
    reasoning_fields: set[str]
    roles: list[Any]  # every `role` value seen in deltas, in order (choice 0)
    first_choice_chunk_role: Any
    finish_reasons: dict[int, list[str]]
    content_after_finish: bool
    tool_calls: dict[int, ToolCallAcc]
    tool_items_without_index: int
    usage_chunks: list[dict[str, Any]]
    error_events: list[Any]
    null_fields: list[str]
    ids: set[str]
    created: set[Any]
    comments: int
    content_deltas: list[str]

    @property
    def finish_reason(self) -> str | None:
        reasons = self.finish_reasons.get(0) or []
        return reasons[-1] if reasons else None

    def tool_list(self) -> list[ToolCallAcc]:
        return [self.tool_calls[i] for i in sorted(self.tool_calls)]


def summarize_stream(events: list[SSEEvent]) -> StreamSummary:
    chunks: list[dict[str, Any]] = []
    problems: list[str] = []
    done_count = 0
    done_last = False
    content: list[str] = []
    content_deltas: list[str] = []
    reasoning: list[str] = []
    reasoning_fields: set[str] = set()
    roles: list[Any] = []
    first_role: Any = ...
    finish: dict[int, list[str]] = {}
    content_after_finish = False
    tools: dict[int, ToolCallAcc] = {}
    no_index = 0
    usage_chunks: list[dict[str, Any]] = []
    errors: list[Any] = []
    nulls: list[str] = []
    ids: set[str] = set()
    created: set[Any] = set()
    comments = 0
    for n, ev in enumerate(events):
        comments += len(ev.comments)
        for line in ev.stray:
            problems.append(f"line without an SSE field: {line[:80]!r}")
        if ev.data is None:
            continue
        if ev.is_done:
            done_count += 1
            done_last = n == len(events) - 1 or all(e.data is None for e in events[n + 1 :])
            continue
        obj = ev.json()
        if not isinstance(obj, dict):
            problems.append(f"data is not a JSON object: {ev.data[:80]!r}")
            continue
        if "error" in obj and "choices" not in obj:
            errors.append(obj["error"])
            continue
        chunks.append(obj)
        if isinstance(obj.get("id"), str):
            ids.add(obj["id"])
        created.add(obj.get("created"))
        if isinstance(obj.get("usage"), dict):
            usage_chunks.append(obj)
        choices = obj.get("choices")
        if not isinstance(choices, list):
            continue
        for choice in choices:
            if not isinstance(choice, dict):
                continue
            idx = choice.get("index", 0)
            idx = idx if isinstance(idx, int) else 0
            delta = choice.get("delta") or {}
            if not isinstance(delta, dict):
                delta = {}
            if idx == 0:
                if first_role is ...:
                    first_role = delta.get("role")
                if "role" in delta:
                    roles.append(delta.get("role"))
            for key in ("role", "tool_calls", "reasoning_content", "reasoning", "function_call"):
                if key in delta and delta[key] is None:
                    nulls.append(f"delta.{key}")
            text = delta.get("content")
            if isinstance(text, str) and text and idx == 0:
                content.append(text)
                content_deltas.append(text)
                if finish.get(idx):
                    content_after_finish = True
            for key in ("reasoning_content", "reasoning"):
                val = delta.get(key)
                if isinstance(val, str) and val and idx == 0:
                    reasoning.append(val)
                    reasoning_fields.add(key)
            for item in delta.get("tool_calls") or []:
                if not isinstance(item, dict) or idx != 0:
                    continue
                ti = item.get("index")
                if not isinstance(ti, int):
                    no_index += 1
                    ti = max(tools) if tools else 0
                acc = tools.get(ti)
                raw_fn = item.get("function")
                fn: dict[str, Any] = raw_fn if isinstance(raw_fn, dict) else {}
                for key in ("id", "type"):
                    if key in item and item[key] is None:
                        nulls.append(f"tool_calls[].{key}")
                if "name" in fn and fn["name"] is None:
                    nulls.append("tool_calls[].function.name")
                if acc is None:
                    acc = ToolCallAcc(index=ti, first_fragment=item)
                    tools[ti] = acc
                    acc.id = item.get("id")
                    acc.type = item.get("type")
                    acc.name = fn.get("name") or ""
                    acc.had_arguments_key = "arguments" in fn
                else:
                    if item.get("id"):
                        acc.repeated_id += 1
                        acc.id = acc.id or item["id"]
                    if item.get("type"):
                        acc.repeated_type += 1
                    if fn.get("name"):
                        acc.repeated_name += 1
                        acc.name = acc.name or fn["name"]
                args = fn.get("arguments")
                if isinstance(args, str):
                    acc.arguments += args
                acc.fragments += 1
                if finish.get(idx):
                    content_after_finish = True
            fr = choice.get("finish_reason")
            if fr is not None:
                finish.setdefault(idx, []).append(fr)
    return StreamSummary(
        events=events,
        chunks=chunks,
        problems=problems,
        done_count=done_count,
        done_last=done_last,
        content="".join(content),
        reasoning="".join(reasoning),
        reasoning_fields=reasoning_fields,
        roles=roles,
        first_choice_chunk_role=None if first_role is ... else first_role,
        finish_reasons=finish,
        content_after_finish=content_after_finish,
        tool_calls=tools,
        tool_items_without_index=no_index,
        usage_chunks=usage_chunks,
        error_events=errors,
        null_fields=nulls,
        ids=ids,
        created=created,
        comments=comments,
        content_deltas=content_deltas,
    )


class WireClient:
    """Raw async client bound to one base URL. Use as an async context manager."""

    def __init__(
        self,
        base_url: str,
        *,
        api_key: str | None = None,
        connect_timeout: float = 10.0,
        request_timeout: float = 120.0,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._headers = {"user-agent": USER_AGENT, "accept-encoding": "identity"}
        if api_key:
            self._headers["authorization"] = f"Bearer {api_key}"
        self.request_timeout = request_timeout
        self._client = httpx2.AsyncClient(
            timeout=httpx2.Timeout(request_timeout, connect=connect_timeout),
            follow_redirects=False,
            trust_env=False,
            # one connection per request: a server that closes a kept-alive connection after a
            # stream (seen with llama-server) must not turn the next request into an error
            limits=httpx2.Limits(max_keepalive_connections=0),
        )

    async def __aenter__(self) -> WireClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._client.aclose()

    def url(self, path: str) -> str:
        if path.startswith("http://") or path.startswith("https://"):
            return path
        return self.base_url + "/" + path.lstrip("/")

    def root_url(self, path: str) -> str:
        """A path at the server root (``/props``, ``/version``), outside ``/v1``."""
        base = self.base_url
        for suffix in ("/v1", "/api/v1"):
            if base.endswith(suffix):
                base = base[: -len(suffix)]
                break
        return base + "/" + path.lstrip("/")

    async def chat(
        self, body: Mapping[str, Any], *, abort_after_events: int | None = None
    ) -> RawResponse:
        return await self.request(
            "POST", "chat/completions", json=dict(body), abort_after_events=abort_after_events
        )

    async def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        content: bytes | None = None,
        abort_after_events: int | None = None,
        timeout: float | None = None,
    ) -> RawResponse:
        url = self.url(path)
        headers = dict(self._headers)
        if json is not None:
            content = orjson.dumps(json)
        if content is not None:
            headers["content-type"] = "application/json"
        resp = RawResponse(method=method, path=httpx2.URL(url).path, request_json=json, status=0)
        parts: list[bytes] = []
        t0 = time.perf_counter()
        kwargs: dict[str, Any] = {}
        if timeout is not None:
            kwargs["timeout"] = httpx2.Timeout(timeout)
        try:
            async with self._client.stream(
                method, url, content=content, headers=headers, **kwargs
            ) as r:
                resp.t_headers = time.perf_counter() - t0
                resp.status = r.status_code
                resp.headers = {k.lower(): v for k, v in r.headers.items()}
                blank_lines = 0
                async for chunk in r.aiter_raw():
                    t = time.perf_counter() - t0
                    if not chunk:
                        continue
                    if resp.t_first_byte is None:
                        resp.t_first_byte = t
                    parts.append(chunk)
                    resp.chunk_times.append((t, len(chunk)))
                    if abort_after_events is not None:
                        blank_lines += chunk.count(b"\n\n") + chunk.count(b"\r\n\r\n")
                        if blank_lines >= abort_after_events:
                            resp.aborted = True
                            break
        except httpx2.HTTPError as exc:
            resp.error = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        resp.body = b"".join(parts)  # also what arrived before a failure
        resp.t_total = time.perf_counter() - t0
        return resp
