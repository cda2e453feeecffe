"""HTTP: one request through the openai client, the raw SSE bytes back, typed status errors.

The openai client does what it is good at (base URL, auth, retries with backoff that
honour ``Retry-After``, status errors); the body is read as raw bytes and decoded by our
own pure decoder, which is several times cheaper per chunk than building pydantic models.
Every failure leaves here as an :class:`~any_agent.errors.AnyAgentError`.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import email.utils
import functools
import math
import re
import ssl
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from typing import Any

import httpx2
import openai
import orjson

from .._agent.aio import uncancel
from ..errors import (
    AnyAgentError,
    ConnectionFailedError,
    ContextLengthExceededError,
    HTTPStatusError,
    InvalidRequestError,
    LimitExceededError,
    ModelNotFoundError,
    RateLimitError,
    ServerError,
    StreamError,
)
from ..options import AgentOptions
from . import jsontext
from .credentials import (
    is_loopback,
    redact_url,
    register_log_secrets,
    scrub,
    split_query,
    url_secrets,
)
from .deadlines import Watchdog
from .error_body import CONTEXT_EXCEEDED, parse_error_body

__all__ = ["ERROR_BODY_BYTES", "MODELS_BODY_BYTES", "Transport"]

_MODEL_MISSING = re.compile(
    r"model.*(not found|does not exist|not exist|unknown|invalid model)|invalid model name|"
    r"no models? loaded|model_not_found|server is pinned to",  # the last: transformers serve
    re.IGNORECASE,
)
_DRAIN_SECONDS = 0.25
#: how much of an error (or HTML) body is read: enough for any server's message, and a
#: compressed 512 MiB error page is never inflated past it
ERROR_BODY_BYTES = 8 * 1024
#: how much of a ``GET /models`` answer is read (it only names the models on offer when the
#: requested one is missing; the largest public catalogues are well under this)
MODELS_BODY_BYTES = 4 * 1024 * 1024


@functools.lru_cache(maxsize=1)
def _ssl_context() -> ssl.SSLContext:
    """One TLS context per process: building one costs ~25 ms of CPU (the CA bundle)."""
    return httpx2.create_ssl_context()


class Transport:
    """One HTTP client per agent: pooled, keep-alive, sized for many concurrent streams."""

    def __init__(self, options: AgentOptions) -> None:
        self.options = options
        #: the base URL as shown in messages and ``ConnectionFailedError.url``: without
        #: the credentials a query may carry (``?key=``)
        self.base_url = redact_url(options.base_url)
        key = options.api_key
        self.secrets: tuple[str, ...] = url_secrets(options.base_url) + (
            (key,) if len(key) >= 8 and key != "not-needed" else ()
        )
        register_log_secrets(self.secrets)  # httpx2 logs every URL, httpcore2 every header
        self.cut_reason: str | None = None  # why the last body ended early, if it did
        root, query = split_query(options.base_url)
        self._models_url = f"{root}/models"
        self._http = httpx2.AsyncClient(
            verify=_ssl_context(),
            limits=httpx2.Limits(max_connections=None, max_keepalive_connections=512),
            timeout=httpx2.Timeout(None, connect=min(30.0, options.timeout or 30.0)),
            follow_redirects=False,
            event_hooks={"response": [_cap_error_body]},
            # a local server is reached directly: HTTP(S)_PROXY / ALL_PROXY would send the
            # prompt and the key through another host (and most proxies cannot reach it)
            trust_env=options.proxy_loopback or not is_loopback(options.base_url),
            params=query,  # the base URL's own query (``?key=``), on every request
        )
        self._client = openai.AsyncOpenAI(
            base_url=root,
            api_key=options.api_key or "not-needed",
            max_retries=options.max_retries,
            http_client=self._http,
            timeout=httpx2.Timeout(None, connect=min(30.0, options.timeout or 30.0)),
        )

    async def aclose(self) -> None:
        await self._client.close()

    def redact(self, text: str) -> str:
        """``text`` without the API key or the base URL's credentials, in any encoding a
        server may echo them in: nothing the SDK raises may carry them."""
        return scrub(text, self.secrets)

    async def stream(self, body: dict[str, Any], watchdog: Watchdog) -> AsyncGenerator[bytes, None]:
        """POST /chat/completions and yield raw body bytes; errors come out typed."""
        # Only model and stream go through openai's typed parameters; the rest is sent as
        # extra_body, verbatim. openai's per-request transform walks every message (about
        # 0.2 ms each), which made a 100-message agent history cost ~18 ms of CPU a turn.
        # The JSON on the wire is the same.
        extra = {k: v for k, v in body.items() if k not in ("model", "stream")}
        self.cut_reason = None
        try:
            watchdog.arm()
            async with self._client.chat.completions.with_streaming_response.create(
                model=body["model"], messages=(), stream=True, extra_body=extra
            ) as response:
                # decoded incrementally (at most 1 MiB per piece, however well it compresses),
                # and counted after decoding: a 1 MB gzip bomb stops at the bound
                chunks = response.http_response.aiter_bytes().__aiter__()
                media = response.http_response.headers.get("content-type", "").lower()
                whole: list[bytes] | None = None  # a body that is not an event stream
                html = media.startswith("text/html")
                if html or media.startswith("application/json"):
                    whole = []
                received = 0
                max_total = self.options.max_response_bytes
                # a body that is not a stream is one event; an HTML page is only quoted
                max_whole = ERROR_BODY_BYTES if html else self.options.max_event_bytes
                while True:
                    try:
                        chunk = await chunks.__anext__()
                    except StopAsyncIteration:
                        break
                    except httpx2.HTTPError as exc:
                        # the body was cut: end here and let the decoder judge whether the
                        # answer was complete (a cut before the finish is a truncation)
                        self.cut_reason = _cause(exc, self.redact)
                        break
                    watchdog.disarm()
                    received += len(chunk)
                    if received > max_total:
                        raise LimitExceededError("max_response_bytes", max_total)
                    if whole is None:
                        yield chunk
                    else:
                        whole.append(chunk)
                        if received > max_whole:
                            if html:
                                break
                            raise LimitExceededError(
                                "max_event_bytes", max_whole, "the (non-streamed) response body"
                            )
                    watchdog.arm()
                watchdog.disarm()
                if whole is not None:
                    body_bytes = b"".join(whole)
                    whole = None
                    limit = self.options.max_event_bytes
                    if jsontext.too_many_items(body_bytes, jsontext.item_budget(limit)):
                        raise LimitExceededError(
                            "max_event_bytes",
                            limit,
                            "the (non-streamed) response body's JSON structure (more than "
                            f"{jsontext.item_budget(limit)} items, one per 16 bytes of "
                            "max_event_bytes)",
                        )
                    yield _as_one_event(media, body_bytes, self.base_url, self.redact)
            return
        except asyncio.CancelledError:
            watchdog.disarm()
            if watchdog.fired == "finished":
                uncancel()  # complete; the server just never closed or sent [DONE]
                return
            if watchdog.fired and watchdog.fired != "interrupt":
                uncancel()
                raise watchdog.error() from None
            raise
        except openai.APIStatusError as exc:
            watchdog.disarm()
            failed: AnyAgentError = await self._status_error(exc, body, watchdog.remaining())
        except openai.APIConnectionError as exc:
            watchdog.disarm()
            failed = ConnectionFailedError(
                f"could not reach the server at {self.base_url}: {_cause(exc, self.redact)}",
                url=self.base_url,
            )
        except httpx2.HTTPError as exc:
            watchdog.disarm()
            failed = ConnectionFailedError(
                f"the connection to {self.base_url} failed mid-stream: {_cause(exc, self.redact)}",
                url=self.base_url,
            )
        # raised here, outside the except clauses: ``raise ... from None`` would still keep
        # the openai exception as ``__context__``, and it holds the request's Authorization
        # header and the unscrubbed body
        raise failed

    async def drain(self, chunks: AsyncIterator[bytes], watchdog: Watchdog) -> None:
        """Read to EOF after ``[DONE]`` (bounded) so the connection goes back to the pool."""
        watchdog.cancel()

        async def exhaust() -> None:
            async for _ in chunks:
                pass

        with contextlib.suppress(asyncio.TimeoutError, AnyAgentError):
            await asyncio.wait_for(exhaust(), _DRAIN_SECONDS)

    async def list_models(self, limit: float = 5.0) -> list[str]:
        """Model ids from ``GET /models``; empty when the server does not answer in ``limit``
        seconds or its answer is larger than :data:`MODELS_BODY_BYTES`."""

        async def fetch() -> bytes | None:
            async with self._http.stream(
                "GET",
                self._models_url,
                headers={"Authorization": f"Bearer {self.options.api_key}"},
            ) as response:
                kept = bytearray()
                # read as it inflates and stop at the cap: a compressed page of model ids
                # must not become gigabytes while an error is being reported
                async for piece in response.aiter_bytes():
                    kept += piece
                    if len(kept) > MODELS_BODY_BYTES:
                        return None
                return bytes(kept)

        try:
            content = await asyncio.wait_for(fetch(), limit)
            if content is None:
                return []
            data = orjson.loads(content).get("data") or []
            ids = (str(m.get("id")) for m in data if isinstance(m, dict) and m.get("id"))
            return sorted(self.redact(i) for i in ids)  # they go into the error message
        except Exception:  # best effort: the error being reported matters more
            return []

    def base_root(self) -> str:
        """``base_url`` without its query (sent on every request anyway)."""
        return split_query(self.options.base_url)[0]

    def root_url(self) -> str:
        """The server's root: ``base_url`` without its query and its ``/v1`` (llama.cpp's
        ``/props`` and Ollama's ``/api/*`` live there)."""
        root, _ = split_query(self.options.base_url)
        return root[:-3] if root.endswith("/v1") else root

    async def fetch_json(
        self, method: str, url: str, body: Any = None, *, limit: float, max_bytes: int
    ) -> tuple[Any, str | None]:
        """One metadata request: ``(parsed JSON, None)``, or ``(None, why not)`` when it
        failed, took longer than ``limit`` seconds, sent more than ``max_bytes`` (read as it
        inflates), more JSON items than that allows, or something that is not JSON. Never
        raises (but for cancellation): what a server says about itself is a hint."""
        where = f"{method} {redact_url(url)}"

        headers = {"Authorization": f"Bearer {self.options.api_key}"}
        if body is not None:
            # declared, as the openai client declares its own: a body of unknown type is
            # bytes to whatever reads it (a server's framework, a proxy, a replayed cassette,
            # which then compares it byte for byte and misses the request)
            headers["Content-Type"] = "application/json"

        async def fetch() -> tuple[bytes | None, str | None]:
            async with self._http.stream(
                method,
                url,
                headers=headers,
                content=None if body is None else orjson.dumps(body),
            ) as response:
                if response.status_code != 200:
                    return None, f"{where}: HTTP {response.status_code}"
                kept = bytearray()
                async for piece in response.aiter_bytes():
                    kept += piece
                    if len(kept) > max_bytes:
                        return None, f"{where}: answer larger than {max_bytes} bytes"
                return bytes(kept), None

        try:
            content, problem = await asyncio.wait_for(fetch(), limit)
        except asyncio.TimeoutError:
            return None, f"{where}: no answer within {limit:g} s"
        except Exception as exc:  # refused, reset, TLS, a proxy: all mean "it does not say"
            return None, f"{where}: {type(exc).__name__}: {_cause(exc, self.redact)}"
        if content is None:
            return None, problem
        if jsontext.too_many_items(content, jsontext.item_budget(max_bytes)):
            return None, f"{where}: answer with too many JSON items"
        try:
            return orjson.loads(content), None
        except orjson.JSONDecodeError:
            return None, f"{where}: answer is not JSON"

    async def _status_error(
        self, exc: openai.APIStatusError, body: dict[str, Any], remaining: float | None = None
    ) -> HTTPStatusError:
        status = exc.status_code
        try:
            text = exc.response.text
        except Exception:
            text = ""
        # parsed before it is scrubbed: a key written with \u escapes is only recognisable
        # decoded, so every field is scrubbed after decoding (some servers echo the key)
        parsed, message, etype, code = parse_error_body(text, exc.body)
        message = self.redact(message)
        etype = None if etype is None else self.redact(etype)
        clean = self.redact(text)
        if parsed is not None and not isinstance(parsed, str):
            decoded = orjson.dumps(parsed).decode()
            if self.redact(decoded) != decoded:  # a secret hidden by escapes in the raw text
                clean = self.redact(decoded)
        text = clean
        if not message and 300 <= status < 400:
            where = exc.response.headers.get("location")
            message = (
                f"a redirect{f' to {where}' if where else ''}, which the SDK does not follow "
                "(a POST would not survive it); point base_url at the final address"
            )
        message = message or "the server sent no error message"
        if etype in ("None", "null", ""):  # LiteLLM stringifies a missing type
            etype = None
        code_s = None if code is None else self.redact(str(code))
        snippet = text[:2000]
        if status == 429:
            return RateLimitError(
                message,
                status=status,
                retry_after=_retry_after(exc),
                body=snippet,
                error_type=etype,
                code=code_s,
            )
        if (
            status in (400, 404, 422)
            and (status == 404 or _MODEL_MISSING.search(message) or code_s == "model_not_found")
            and not CONTEXT_EXCEEDED.search(message)
        ):
            model = str(body.get("model", ""))
            return ModelNotFoundError(
                message,
                status=status,
                model=model,
                available=await self.list_models(5.0 if remaining is None else min(5.0, remaining)),
                body=snippet,
                error_type=etype,
                code=code_s,
            )
        if status in (400, 413, 422) and CONTEXT_EXCEEDED.search(message):
            return ContextLengthExceededError(
                message, status=status, body=snippet, error_type=etype, code=code_s
            )
        if status >= 500:
            return ServerError(message, status=status, body=snippet, error_type=etype, code=code_s)
        if status in (400, 422):
            return InvalidRequestError(
                message, status=status, body=snippet, error_type=etype, code=code_s
            )
        return HTTPStatusError(message, status=status, body=snippet, error_type=etype, code=code_s)


async def _cap_error_body(response: httpx2.Response) -> None:
    """Read at most :data:`ERROR_BODY_BYTES` of an error or redirect body (decompressed)
    before the openai client reads it all: its words fit, a hostile body does not."""
    if response.status_code < 300:
        return
    kept = bytearray()
    try:
        async with contextlib.aclosing(response.aiter_bytes()) as pieces:
            async for piece in pieces:
                kept += piece[: ERROR_BODY_BYTES - len(kept)]
                if len(kept) >= ERROR_BODY_BYTES:
                    break
    except httpx2.HTTPError:
        pass  # a cut or undecodable error body: what arrived is the message
    finally:
        await response.aclose()
    response._content = bytes(kept)  # what .read()/.text now return


def _cause(exc: BaseException, redact: Callable[[str], str]) -> str:
    inner = exc.__cause__ or exc.__context__
    text = str(inner or exc) or type(inner or exc).__name__
    return redact(text.splitlines()[0])[:300]  # scrubbed before it is cut: no half key


def _as_one_event(media: str, body: bytes, base_url: str, redact: Callable[[str], str]) -> bytes:
    """A 200 that is not an event stream: a JSON completion (a server that ignored
    ``stream: true``) becomes one event, so it decodes like a stream; an HTML page (a proxy's
    login or error page) is an error that says so."""
    if media.startswith("text/html"):
        snippet = redact(body.decode("utf-8", "replace"))[:300]  # scrubbed, then cut
        raise StreamError(
            f"{base_url} answered 200 with an HTML page, not an event stream "
            f"(a proxy or the wrong base_url?): {snippet!r}"
        )
    try:
        value = orjson.loads(body)
    except orjson.JSONDecodeError:
        return body  # the decoder reports what it is
    return b"data: " + orjson.dumps(value) + b"\n\n"


def _retry_after(exc: openai.APIStatusError) -> float | None:
    """Seconds from ``Retry-After`` (a number or an HTTP date); None when absent or not a
    finite delay (``nan``, ``inf``, garbage); a negative or past value is 0."""
    value = exc.response.headers.get("retry-after")
    if value is None:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=datetime.timezone.utc)
        seconds = (when - datetime.datetime.now(datetime.timezone.utc)).total_seconds()
    if not math.isfinite(seconds):
        return None
    return max(0.0, seconds)
