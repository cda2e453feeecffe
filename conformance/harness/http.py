"""The suite's raw HTTP client (the ``wire`` layer): it keeps every byte and when it arrived.

Checks judge the server's own bytes, not what a client library makes of them: the OpenAI
SDK ignores comment lines, stops silently at EOF without ``[DONE]`` and concatenates repeated
fields. This client uses ``httpx2`` directly (vcrpy records and replays it), never follows
redirects, never reads proxy settings or ``.netrc`` from the environment, and sends the API
key only in the ``Authorization`` header.

Under vcrpy the body of a recorded response is replayed as one chunk, so timing and chunk
boundaries are only meaningful in live mode; SSE *events* survive replay intact.
"""

from __future__ import annotations

import asyncio
import functools
import ssl
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx2
import orjson

from .. import SUITE_VERSION
from .share import RunStats, usage_of
from .stream import MAX_JSON_DEPTH, SSEEvent, loads_bounded, parse_sse

__all__ = [
    "DEFAULT_MAX_RESPONSE_BYTES",
    "BodyTooLarge",
    "RawResponse",
    "WireClient",
    "error_message_of",
]

USER_AGENT = f"any-agent-conformance/{SUITE_VERSION}"
#: Bytes of one response body the client reads (``--max-response-bytes``): a hostile server
#: on loopback can send gigabytes within the request timeout.
DEFAULT_MAX_RESPONSE_BYTES = 16 * 1024 * 1024
#: Arrival records kept per body; later chunks are folded into the last record, so a server
#: that sends its bytes one recv() at a time cannot grow a list without bound.
MAX_CHUNK_TIMES = 65536


@functools.lru_cache(maxsize=1)
def _tls_context() -> ssl.SSLContext:
    """One TLS context per process: building one reads the whole CA bundle (tens of ms of
    CPU), and the suite opens a client for every check, replayed ones too."""
    return httpx2.create_ssl_context(trust_env=False)


class BodyTooLarge(Exception):
    """A response body passed ``--max-response-bytes`` where the suite cannot stop reading
    itself: while recording, vcrpy reads a whole body before the client sees any of it
    (:func:`conformance.harness.recording.bounded_bodies` raises it there). Deliberately not
    an ``httpx2`` error: nothing on the way may take it for a transport failure and retry."""

    def __init__(self, limit: int, what: str = "a response body") -> None:
        super().__init__(f"{what} passed {limit} bytes (--max-response-bytes)")
        self.limit = limit


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
    #: The body passed the client's byte bound: reading stopped there (``body`` is cut).
    too_large: int | None = None
    #: The request passed its total deadline (``--request-timeout``, in s): reading stopped
    #: there; ``body`` is what arrived by then.
    timed_out: float | None = None

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "")

    @property
    def is_sse(self) -> bool:
        return self.content_type.split(";")[0].strip().lower() == "text/event-stream"

    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")

    def json(self) -> Any:
        """The body as JSON, or None (not JSON, or nested past ``MAX_JSON_DEPTH``)."""
        return loads_bounded(self.body)

    def json_problem(self) -> str:
        """Why :meth:`json` gives None for this body: "not JSON" or the nesting bound."""
        try:
            orjson.loads(self.body)
        except orjson.JSONDecodeError:
            return "not JSON"
        return f"JSON nested deeper than {MAX_JSON_DEPTH} levels"

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
    """The message a server put where an error body keeps one, else "".

    Deliberately not ``any_agent._wire.error_body``: that one normalises for users and falls
    back to showing the whole body, which would let a check that asks "did the server say
    why?" pass on a body that says nothing."""
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


class WireClient:
    """Raw async client bound to one base URL. Use as an async context manager."""

    def __init__(
        self,
        base_url: str,
        *,
        api_key: str | None = None,
        connect_timeout: float = 10.0,
        request_timeout: float = 120.0,
        stats: RunStats | None = None,
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        #: Counts every request sent and the tokens its usage reports (None: not counted).
        self.stats = stats
        self.max_response_bytes = max_response_bytes
        self._headers = {"user-agent": USER_AGENT, "accept-encoding": "identity"}
        if api_key:
            self._headers["authorization"] = f"Bearer {api_key}"
        self.request_timeout = request_timeout
        self._client = httpx2.AsyncClient(
            verify=_tls_context(),
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
        """One request, read to the end, to ``max_response_bytes`` or to the total deadline
        (``timeout``, else the client's ``request_timeout``): whichever comes first. Never
        raises for what the server does; ``error``, ``too_large`` and ``timed_out`` say it."""
        url = self.url(path)
        headers = dict(self._headers)
        if json is not None:
            content = orjson.dumps(json)
        if content is not None:
            headers["content-type"] = "application/json"
        resp = RawResponse(method=method, path=httpx2.URL(url).path, request_json=json, status=0)
        buf = bytearray()  # one buffer, not an object per chunk
        t0 = time.perf_counter()
        # httpx2's read timeout bounds each read, so a server dripping a byte a second
        # never trips it; the deadline bounds the whole request, recording included (vcrpy
        # reads the body inside the request)
        deadline = self.request_timeout if timeout is None else timeout
        try:
            await asyncio.wait_for(
                self._read(resp, buf, t0, method, url, content, headers, abort_after_events),
                deadline,
            )
        except (asyncio.TimeoutError, httpx2.ReadTimeout, httpx2.WriteTimeout):
            # a silent read (httpx2's own timeout, also request_timeout) passes it as well
            resp.timed_out = deadline
            resp.error = (
                f"timed out: the response did not finish within {deadline:g} s (--request-timeout)"
            )
        except httpx2.HTTPError as exc:
            resp.error = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        except BodyTooLarge as exc:
            resp.too_large = exc.limit
            resp.aborted = True  # stopped on purpose: not a transport failure
        resp.body = bytes(buf)  # also what arrived before a failure
        resp.t_total = time.perf_counter() - t0
        if self.stats is not None:
            self.stats.add_request(*usage_of(resp))
        return resp

    async def _read(
        self,
        resp: RawResponse,
        buf: bytearray,
        t0: float,
        method: str,
        url: str,
        content: bytes | None,
        headers: dict[str, str],
        abort_after_events: int | None,
    ) -> None:
        """Send the request and read its body into ``resp`` and ``buf`` (up to the bounds)."""
        async with self._client.stream(method, url, content=content, headers=headers) as r:
            resp.t_headers = time.perf_counter() - t0
            resp.status = r.status_code
            resp.headers = {k.lower(): v for k, v in r.headers.items()}
            blank_lines = 0
            size = 0
            async for chunk in r.aiter_raw():
                t = time.perf_counter() - t0
                if not chunk:
                    continue
                if resp.t_first_byte is None:
                    resp.t_first_byte = t
                size += len(chunk)
                if size > self.max_response_bytes:
                    resp.too_large = self.max_response_bytes
                    resp.aborted = True  # closed on purpose: not a transport failure
                    break
                buf += chunk
                times = resp.chunk_times
                if len(times) < MAX_CHUNK_TIMES:
                    times.append((t, len(chunk)))
                else:
                    times[-1] = (t, times[-1][1] + len(chunk))
                if abort_after_events is not None:
                    blank_lines += chunk.count(b"\n\n") + chunk.count(b"\r\n\r\n")
                    if blank_lines >= abort_after_events:
                        resp.aborted = True
                        break
