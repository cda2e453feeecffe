"""What a check implementation gets: the target, a wire client, an SDK helper, verdicts.

A check is ``async def check(ctx) -> None``. It ends in one of these ways:

* returns normally → ``pass`` (``warn`` if it called :meth:`Ctx.warn`);
* :meth:`Ctx.fail`, :meth:`Ctx.na`, :meth:`Ctx.unsupported` → that outcome, with a message;
* any other exception → ``error`` (the harness, not the server, is at fault).
"""

from __future__ import annotations

import asyncio
import copy
import json
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, NoReturn

from .. import SUITE_VERSION
from ..catalogue.checks import Check
from ..catalogue.profiles import ProviderProfile
from ..results import Layer, Mode, Outcome
from ..vocabulary import version_tuple
from .http import DEFAULT_MAX_RESPONSE_BYTES, RawResponse, WireClient
from .share import ResponseMemo, RunStats, SharedRun, request_key, sdk_run_key
from .stream import StreamSummary, summarize_stream

__all__ = ["Ctx", "RequestTimedOut", "ResponseTooLarge", "SDKRun", "Target", "Verdict"]


class Verdict(Exception):
    """Ends a check with ``outcome`` (raised by :meth:`Ctx.fail`, :meth:`Ctx.na`, ...)."""

    def __init__(self, outcome: Outcome, message: str) -> None:
        super().__init__(message)
        self.outcome: Outcome = outcome
        self.message = message


class ResponseTooLarge(Verdict):
    """A response body passed ``--max-response-bytes``: the check fails, naming the bound."""

    def __init__(self, resp: RawResponse) -> None:
        super().__init__(
            "fail",
            f"{resp.method} {resp.path}: the body passed {resp.too_large} bytes "
            "(--max-response-bytes); reading stopped there",
        )


class RequestTimedOut(Verdict):
    """A response did not finish within ``--request-timeout``: the check cannot judge it
    (``error``). ``resp`` is what arrived by then, for a check that judges a hang itself."""

    def __init__(self, resp: RawResponse) -> None:
        if resp.status:
            got = f"HTTP {resp.status}, {len(resp.body)} bytes of the body arrived"
        else:
            got = "no status line arrived"
        super().__init__(
            "error",
            f"{resp.method} {resp.path}: the response did not finish within "
            f"{resp.timed_out:g} s (--request-timeout; {got})",
        )
        self.resp = resp


@dataclass(slots=True)
class Target:
    """One server column under test."""

    provider: str
    profile: ProviderProfile
    base_url: str
    model: str
    mode: Mode
    api_key: str | None = field(default=None, repr=False)
    connect_timeout: float = 10.0
    request_timeout: float = 120.0
    #: Bytes of one response body read before the check fails (``--max-response-bytes``).
    max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES
    #: Bounds for the liveness checks (warn above them).
    first_token_timeout: float = 30.0
    idle_timeout: float = 30.0
    #: Live mode: tries of a failing judgement in all (the runner's ``flaky`` rule).
    flaky_tries: int = 1
    #: The ``/v1/models`` entry for the model (context size etc.), if known.
    model_meta: Mapping[str, Any] = field(default_factory=dict)
    #: The suite whose requests the column sends: this one live and when recording, the
    #: recording's own in a replay (so a 0.1 cassette is asked what 0.1 asked).
    suite_version: str = SUITE_VERSION
    #: Live mode: the byte bound of the column's shared responses; 0 sends every request
    #: (record and replay modes, ``--no-share-requests``).
    share_max_bytes: int = 0
    #: Live mode: how many of the column's replayable checks run at once (harness/pool.py).
    concurrency: int = 1

    @property
    def column(self) -> str:
        from ..results import model_slug

        return f"{self.provider}/{model_slug(self.model)}"

    def context_window(self) -> int | None:
        meta = self.model_meta
        for source in (meta.get("meta") or {}, meta):
            if not isinstance(source, Mapping):
                continue
            for key in ("n_ctx", "max_model_len", "context_length", "max_context_length"):
                value = source.get(key)
                if isinstance(value, int) and value > 0:
                    return value
        return None


_CUT_BODY = "without sending complete message body"


#: Exchanges one check keeps as evidence (a check makes a handful; a runaway loop is cut).
MAX_EXCHANGES = 16


def _short(value: Any, limit: int = 240) -> Any:
    """A request excerpt: long strings cut, long lists shortened to their first and last
    four items (a conversation's end is where a multi-turn check failed)."""
    if isinstance(value, str):
        return value if len(value) <= limit else value[:limit] + f"… [{len(value)} chars]"
    if isinstance(value, list):
        if len(value) <= 8:
            return [_short(v, limit) for v in value]
        head = [_short(v, limit) for v in value[:4]]
        tail = [_short(v, limit) for v in value[-4:]]
        return [*head, f"… [{len(value)} items, {len(value) - 8} left out]", *tail]
    if isinstance(value, dict):
        return {k: _short(v, limit) for k, v in value.items()}
    return value


class Ctx:
    """Per (check, layer) execution context."""

    def __init__(self, check: Check, layer: Layer, target: Target, wire: WireClient) -> None:
        self.check = check
        self.layer = layer
        self.target = target
        self.wire = wire
        self.model = target.model
        self.warnings: list[str] = []
        self.notes: list[str] = []
        #: Measured facts (timings, server traits) kept in results and manifests.
        self.facts: dict[str, Any] = {}
        self.last_request: Any = None
        self.last_response: RawResponse | None = None
        #: Every exchange of the check, in order (request excerpt, response excerpt), wire
        #: and SDK layer alike; the first MAX_EXCHANGES are kept, then only a count.
        self.exchanges: list[dict[str, Any]] = []
        self.exchanges_dropped = 0
        self.extra_excerpt: str | None = None
        #: Why a recording of this check cannot be replayed (a request timed out or the
        #: connection failed: vcrpy records nothing for it), or None.
        self.unreplayable: str | None = None
        #: Live mode, a replayable check's first try: the column's shared responses
        #: (:mod:`conformance.harness.share`); None sends every request.
        self.memo: ResponseMemo | None = None
        #: The requests this check sent already: asked twice, the server answers again.
        self._asked: set[bytes] = set()
        #: Requests this check got from the memo instead of the server.
        self.shared = 0
        #: The column's run figures, for the SDK layer's requests (the wire client counts
        #: its own); None in a replay, which sends nothing.
        self.stats: RunStats | None = None

    def _exchange(self, request: Any, response_excerpt: str | None) -> None:
        if len(self.exchanges) >= MAX_EXCHANGES:
            self.exchanges_dropped += 1
            return
        self.exchanges.append({"request": request, "response_excerpt": response_excerpt})

    def _seen(self, resp: RawResponse) -> RawResponse:
        self.last_response = resp
        self._exchange(self.last_request, resp.excerpt())
        if resp.error and not resp.aborted:
            self.unreplayable = resp.error  # vcrpy records nothing for a failed exchange
        if resp.too_large is not None:
            raise ResponseTooLarge(resp)
        if resp.timed_out is not None:
            raise RequestTimedOut(resp)
        return resp

    def requests_since(self, version: str) -> bool:
        """The column sends the requests of suite ``version`` or later: a check whose request
        changed in ``version`` builds the new one only then (older recordings replay)."""
        return version_tuple(self.target.suite_version) >= version_tuple(version)

    # -- verdicts ----------------------------------------------------------------------------
    def fail(self, message: str) -> NoReturn:
        raise Verdict("fail", message)

    def na(self, message: str) -> NoReturn:
        raise Verdict("n/a", message)

    def unsupported(self, message: str) -> NoReturn:
        raise Verdict("unsupported", message)

    def not_offered(self, message: str) -> NoReturn:
        """End the check as ``not-offered``: the server does not serve the API it needs."""
        raise Verdict("not-offered", message)

    def require_offered(self, resp: RawResponse, what: str) -> None:
        """End the check as ``not-offered`` when the endpoint answers 404 or 405; a 404 that
        names the model is a failure instead (the API is there, the model name is not)."""
        if resp.status == 404 and self.model and self.model in resp.error_message():
            self.fail(f"{what}: HTTP 404 naming the model: {resp.error_message()[:160]}")
        if resp.status in (404, 405):
            msg = resp.error_message()
            self.not_offered(f"{what}: HTTP {resp.status}" + (f": {msg[:160]}" if msg else ""))

    def warn(self, message: str) -> None:
        self.warnings.append(message)

    def note(self, message: str) -> None:
        self.notes.append(message)

    def expect(self, condition: bool, message: str) -> None:
        if not condition:
            self.fail(message)

    # -- requests ----------------------------------------------------------------------------
    async def _send(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        content: bytes | None = None,
        abort_after_events: int | None = None,
    ) -> RawResponse:
        """One request, answered from the column's memo when another check asked it already."""
        key = b""
        memo = self.memo
        if memo is not None and abort_after_events is None:
            key = request_key(method, path, json, content)
            if key in self._asked:
                key = b""  # the check asks again on purpose: the server answers
            elif key:
                self._asked.add(key)
                got = await self._claim(memo, key)
                if isinstance(got, RawResponse):
                    self.shared += 1
                    return got
                if got is not None:
                    key = b""  # another check asked it and kept nothing: ask the server
        resp: RawResponse | None = None
        try:
            resp = await self.wire.request(
                method, path, json=json, content=content, abort_after_events=abort_after_events
            )
        finally:
            if key and memo is not None:
                if resp is None:
                    memo.release(key)
                else:
                    memo.put(key, resp)
        return resp

    async def _claim(self, memo: ResponseMemo, key: bytes) -> RawResponse | SharedRun | bool | None:
        """The kept answer to ``key``; None: this check asks (and must put or release it);
        False: another check asked it and kept nothing, so this one asks without a claim.
        Waiting on a check that is asking it now is bounded by the request deadline."""
        got = memo.claim(key)
        if not isinstance(got, threading.Event):
            return got
        await asyncio.to_thread(got.wait, self.target.request_timeout)
        kept = memo.get(key)
        return False if kept is None else kept

    async def chat(
        self, body: Mapping[str, Any], *, abort_after_events: int | None = None
    ) -> RawResponse:
        self.last_request = _short(copy.deepcopy(dict(body)))
        resp = await self._send(
            "POST", "chat/completions", json=dict(body), abort_after_events=abort_after_events
        )
        return self._seen(resp)

    async def get(self, path: str) -> RawResponse:
        self.last_request = {"method": "GET", "path": path}
        return self._seen(await self._send("GET", path))

    async def post_json(self, path: str, body: Mapping[str, Any]) -> RawResponse:
        """POST a JSON body to ``path`` under the base URL (``messages``, ``responses``...)."""
        self.last_request = {
            "method": "POST",
            "path": path,
            "body": _short(copy.deepcopy(dict(body))),
        }
        return self._seen(await self._send("POST", path, json=dict(body)))

    async def post_stream(self, path: str, body: Mapping[str, Any]) -> RawResponse:
        """POST a streamed request to ``path``; ``resp.events()`` are its SSE events (an
        event's name is :attr:`SSEEvent.event`)."""
        return await self.post_json(path, {**body, "stream": True})

    async def post_raw(self, path: str, content: bytes) -> RawResponse:
        self.last_request = {"method": "POST", "path": path, "body": _short(content.decode())}
        return self._seen(await self._send("POST", path, content=content))

    def require_2xx(self, resp: RawResponse, what: str = "request") -> None:
        """Fail unless the response is 2xx; a transport error ends the check as ``error``."""
        if resp.too_large is not None:  # also for responses not fetched via self.chat
            raise ResponseTooLarge(resp)
        if resp.error and not resp.aborted:
            self.unreplayable = resp.error  # also for responses not fetched via self.chat
        if resp.timed_out is not None:
            raise RequestTimedOut(resp)
        if resp.status == 0:
            if resp.error and _CUT_BODY in resp.error:
                # the server sent headers and then dropped the connection mid-body (while
                # recording, vcrpy buffers the body, so this surfaces before the status)
                self.fail(f"{what}: the server closed the connection mid-response ({resp.error})")
            raise Verdict("error", f"{what}: no response from the server ({resp.error})")
        if not 200 <= resp.status < 300:
            msg = resp.error_message()
            self.fail(f"{what}: HTTP {resp.status}" + (f": {msg[:200]}" if msg else ""))

    async def stream(self, body: Mapping[str, Any], what: str = "stream") -> StreamSummary:
        """Send a streamed request, require 2xx, and summarise its events."""
        resp = await self.chat(body)
        self.require_2xx(resp, what)
        return summarize_stream(resp.events())

    def require_finished(self, s: StreamSummary, what: str) -> None:
        """Fail unless the stream ended as a completed answer: no in-stream error event and a
        finish reason. Checks that judge what a stream *said* (the call to loop on, the answer
        to a tool result) need this first; a cut or erroring stream is not an answer."""
        if s.error_events:
            detail = json.dumps(s.error_events[-1], ensure_ascii=False, default=str)[:200]
            done = "" if s.done_count else ", no data: [DONE]"
            finish = "" if s.finish_reason else ", no finish_reason"
            self.fail(f"{what} ended in an in-stream error event{finish}{done}: {detail}")
        if s.finish_reason is None:
            done = " and no data: [DONE]" if not s.done_count else ""
            self.fail(f"{what} ended without a finish_reason{done} (the stream was cut)")

    async def complete(self, body: Mapping[str, Any], what: str = "request") -> dict[str, Any]:
        """Send a non-streamed request, require 2xx and a JSON object with a choice."""
        resp = await self.chat(body)
        self.require_2xx(resp, what)
        data = resp.json()
        if not isinstance(data, dict):
            self.fail(f"{what}: response body is not a JSON object")
        choices = data.get("choices")
        if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
            self.fail(f"{what}: response has no choices")
        message = choices[0].get("message")
        if message is not None and not isinstance(message, dict):
            self.fail(f"{what}: choices[0].message is {type(message).__name__}, not an object")
        content = (message or {}).get("content")
        if content is not None and not isinstance(content, (str, list)):
            self.fail(f"{what}: message.content is {type(content).__name__}, not a string")
        return data

    # -- SDK layer ---------------------------------------------------------------------------
    def sdk_options(self, **overrides: Any) -> Any:
        from any_agent import AgentOptions

        kwargs: dict[str, Any] = {
            "model": self.model,
            "base_url": self.target.base_url,
            "api_key": self.target.api_key or "not-needed",
            "temperature": 0,
            "max_tokens": 64,
            "max_turns": 1,
            "max_retries": 0,
            "provider": self.target.profile.sdk_provider,
            "extra_body": {"seed": 1},
            "auto_execute_tools": False,
            "timeout": self.target.request_timeout,
            "first_token_timeout": self.target.request_timeout,
            "idle_timeout": self.target.request_timeout,
            # the server's own failures are what is judged: the SDK does not resend them
            "transient_retries": 0,
        }
        kwargs.update(overrides)
        return AgentOptions(**kwargs)

    async def sdk_run(
        self,
        prompt: str | None,
        *,
        history: list[dict[str, Any]] | None = None,
        **overrides: Any,
    ) -> SDKRun:
        """Run one SDK query; errors are captured, not raised. In live mode a query another
        check of the column made already (same prompt, history and options; no tool
        functions, hooks or MCP servers) is judged on that run's copy (harness/share.py)."""
        self.last_request = {"sdk": True, "prompt": prompt, "history": _short(history or [])}
        memo = self.memo
        key = sdk_run_key(prompt, history, overrides) if memo is not None else b""
        if key in self._asked:
            key = b""  # the check asks again on purpose: the server answers
        elif key and memo is not None:
            self._asked.add(key)
            got = await self._claim(memo, key)
            if isinstance(got, SharedRun):
                self.shared += got.requests
                self._exchange(self.last_request, got.excerpt)
                return got.run
            if got is not None:
                key = b""
        run: SDKRun | None = None
        excerpt = ""
        try:
            run, excerpt = await self._sdk_query(prompt, history, overrides)
        finally:
            if key and memo is not None:
                if run is None:
                    memo.release(key)
                else:
                    memo.put(key, SharedRun(run, excerpt, _requests_of(run)))
        if isinstance(run.error, TimeoutError) and not overrides.keys() & _TIMEOUT_OPTIONS:
            # the suite gives the SDK --request-timeout for each of its deadlines: a request
            # past it is one the check cannot judge, as on the wire layer (RequestTimedOut)
            raise Verdict(
                "error",
                f"the SDK raised {run.describe()} (the suite sets the SDK's timeout, "
                f"first_token_timeout and idle_timeout to --request-timeout "
                f"{self.target.request_timeout:g} s)",
            )
        return run

    async def _sdk_query(
        self, prompt: str | None, history: list[dict[str, Any]] | None, overrides: dict[str, Any]
    ) -> tuple[SDKRun, str]:
        """The SDK query itself: the run and the exchange excerpt it leaves."""
        from any_agent import (
            AnyAgentError,
            AssistantMessage,
            Client,
            ConnectionFailedError,
            ResultMessage,
        )

        run = SDKRun()
        options = self.sdk_options(**overrides)
        sent: list[dict[str, Any]] = []
        try:
            async with Client(options, history=history) as client:
                try:
                    await client.query(prompt)
                    async for msg in client.receive_response():
                        if isinstance(msg, AssistantMessage):
                            run.assistant.append(msg)
                            run.blocks.extend(msg.content)
                        elif isinstance(msg, ResultMessage):
                            run.result = msg
                finally:
                    sent = list(client.history)
        except AnyAgentError as exc:
            _reraise_cassette_error(exc)
            run.error = exc
            if isinstance(exc, (TimeoutError, ConnectionFailedError)):
                self.unreplayable = f"{type(exc).__name__}: {exc}"
        excerpt = _sdk_excerpt(run, sent)
        self._exchange(self.last_request, excerpt)
        if self.stats is not None:
            _count_sdk(self.stats, run)
        return run, excerpt


#: AgentOptions deadlines a check may set itself (it then judges the timeout it asked for).
_TIMEOUT_OPTIONS = frozenset({"timeout", "first_token_timeout", "idle_timeout"})


def _requests_of(run: SDKRun) -> int:
    """The requests an SDK run made, as its ResultMessage reports them (at least one)."""
    result = run.result if run.result is not None else getattr(run.error, "result", None)
    per_model = getattr(result, "model_usage", None)
    requests = 0
    if isinstance(per_model, dict):
        requests = sum(int(getattr(m, "requests", 0) or 0) for m in per_model.values())
    return max(requests, 1)


def _count_sdk(stats: RunStats, run: SDKRun) -> None:
    """The SDK's requests and tokens, as its ResultMessage reports them (one request and no
    tokens when a failure left none)."""
    result = run.result if run.result is not None else getattr(run.error, "result", None)
    requests = _requests_of(run)
    usage = getattr(result, "usage", None)
    prompt = getattr(usage, "prompt_tokens", None)
    completion = getattr(usage, "completion_tokens", None)
    stats.add_request(
        prompt if isinstance(prompt, int) else None,
        completion if isinstance(completion, int) else None,
        requests=requests,
    )


def _sdk_excerpt(run: SDKRun, history: list[dict[str, Any]]) -> str:
    """What the SDK made of the exchange: the conversation as it stands (what was sent and
    answered, tool results included), what it yielded, and how it ended."""
    yielded = [_block_text(b) for b in run.blocks]
    end: dict[str, Any] = {}
    if run.result is not None:
        end = {
            "stop_reason": getattr(run.result, "stop_reason", None),
            "num_turns": getattr(run.result, "num_turns", None),
            "is_error": getattr(run.result, "is_error", None),
        }
    if run.error is not None:
        end["error"] = f"{type(run.error).__name__}: {run.error}"[:500]
    data = {"history": _short(history), "yielded": _short(yielded), "end": end}
    text = json.dumps(data, ensure_ascii=False, indent=1, default=str)
    return text if len(text) <= 8192 else text[:8192] + f"… [{len(text)} chars]"


def _block_text(block: Any) -> str:
    name = type(block).__name__
    for attr in ("text", "thinking"):
        value = getattr(block, attr, None)
        if isinstance(value, str):
            return f"{name}: {value}"
    if hasattr(block, "name"):
        return f"{name}: {block.name}({json.dumps(getattr(block, 'input', None), default=str)})"
    return name


@dataclass(slots=True)
class SDKRun:
    assistant: list[Any] = field(default_factory=list)
    blocks: list[Any] = field(default_factory=list)
    result: Any = None
    error: BaseException | None = None

    def of_type(self, name: str) -> list[Any]:
        return [b for b in self.blocks if type(b).__name__ == name]

    @property
    def text(self) -> str:
        return "".join(b.text for b in self.of_type("TextBlock"))

    @property
    def thinking(self) -> str:
        return "".join(b.thinking for b in self.of_type("ThinkingBlock"))

    def describe(self) -> str:
        if self.error is not None:
            return f"{type(self.error).__name__}: {self.error}"
        parts = [type(b).__name__ for b in self.blocks]
        stop = getattr(self.result, "stop_reason", None)
        return f"blocks={parts} stop_reason={stop}"


def cassette_error_in(exc: BaseException | None) -> BaseException | None:
    """The vcrpy "no recorded interaction" error somewhere in ``exc``'s chain, if any."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if type(exc).__name__ == "CannotOverwriteExistingCassetteException":
            return exc
        exc = exc.__cause__ or exc.__context__
    return None


def _reraise_cassette_error(exc: BaseException) -> None:
    found = cassette_error_in(exc)
    if found is not None:
        raise found
