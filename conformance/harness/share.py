"""Live mode: one request answers every check that asks the server the same question.

Seven streaming checks send the same "count to five" stream, three tool checks the same
forced call: each judges a different property of one response, so a live run asks once and
hands each check its own copy. Only a column's replayable checks share, and only in live
mode: a record run writes each check's own exchange into its own cassette (vcrpy patches
the process, so a response served from memory would leave the cassette without it), a
replay reads the cassettes, and timing checks measure their own request. A retry of a failing
judgement never shares (it asks again, to see whether chance failed it), and a check that
sends one request twice gets the second answered by the server (``params.seed`` compares
two answers).

The SDK layer shares the same way, one level up (suite 0.3.0): SDK checks that make an
identical query (the same prompt, history and options: ``tools.call-shape``,
``tools.stream.id-name-once`` and ``tools.stream.args-concat-valid-json`` all judge one forced
``get_weather`` run) judge one :class:`SharedRun`, each its own copy. Only a run that ended
cleanly is kept (an error is the server's answer to that check, asked again by the next), and
never a run with tool functions, hooks or MCP servers: those run the caller's code, whose
effects a check may judge.

The memo is bounded by entries and bytes (``--share-max-mb``); what does not fit is not kept
and the session says so once.
"""

from __future__ import annotations

import copy
import threading
from collections import OrderedDict
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

import orjson

if TYPE_CHECKING:  # http.py counts through RunStats: share.py must not import it back
    from .context import SDKRun
    from .http import RawResponse

__all__ = [
    "MAX_SHARED_ENTRIES",
    "ResponseMemo",
    "RunStats",
    "SharedRun",
    "request_key",
    "sdk_run_key",
    "usage_of",
]

#: Responses one column keeps at most (a full run asks ~60 distinct questions).
MAX_SHARED_ENTRIES = 256
#: Default byte bound of one column's memo (``--share-max-mb``).
DEFAULT_SHARE_MAX_MB = 32


def request_key(method: str, path: str, body: Any = None, content: bytes | None = None) -> bytes:
    """``METHOD path`` and the body in one canonical spelling (sorted keys), so a dict built
    in another order is the same question; ``b""`` (never shared) when it cannot be encoded."""
    if body is not None:
        try:
            content = orjson.dumps(body, option=orjson.OPT_SORT_KEYS)
        except (TypeError, orjson.JSONEncodeError):
            return b""
    head = f"{method.upper()} {path}\n".encode("utf-8", "replace")
    return head + (content or b"")


#: SDK options whose values run the caller's code (never shared, whatever they encode to).
_CODE_OPTIONS = frozenset({"mcp_servers", "hooks", "can_use_tool", "stderr", "agents"})


def sdk_run_key(prompt: Any, history: Any, overrides: dict[str, Any]) -> bytes:
    """One SDK query (prompt, history, the options a check sets) in one canonical spelling;
    ``b""`` (never shared) when it runs code of the caller's (tool functions, hooks, MCP
    servers) or cannot be encoded."""
    if overrides.keys() & _CODE_OPTIONS:
        return b""
    tools = overrides.get("tools")
    if tools is not None and not all(isinstance(t, dict) for t in tools):
        return b""  # a tool function (or an MCP tool) runs when the model calls it
    try:
        body = orjson.dumps(
            {"prompt": prompt, "history": history, "options": overrides},
            option=orjson.OPT_SORT_KEYS,
        )
    except (TypeError, orjson.JSONEncodeError):
        return b""
    return b"SDK query\n" + body


@dataclass(slots=True)
class SharedRun:
    """A finished SDK run another check may judge: the run, the exchange excerpt it left and
    the requests it made (counted once, as the first check's)."""

    run: SDKRun
    excerpt: str
    requests: int = 1


def _size(key: bytes, value: RawResponse | SharedRun) -> int:
    if isinstance(value, SharedRun):
        return len(key) + 4 * len(value.excerpt) + 1024
    headers = sum(len(k) + len(v) for k, v in value.headers.items())
    return len(key) + len(value.body) + headers + 16 * len(value.chunk_times) + 256


def _copy(value: RawResponse | SharedRun) -> RawResponse | SharedRun:
    """A copy a check may keep or change without touching another check's."""
    if isinstance(value, SharedRun):
        return replace(value, run=copy.deepcopy(value.run))
    return replace(
        value,
        request_json=copy.deepcopy(value.request_json),
        headers=dict(value.headers),
        chunk_times=list(value.chunk_times),
    )


def _complete(value: RawResponse | SharedRun) -> bool:
    """An answer another check may judge: a response that arrived whole (not a transport
    error, not a stream the client cut), or an SDK run that ended without an error."""
    if isinstance(value, SharedRun):
        return value.run.error is None and value.run.result is not None
    return not (value.status == 0 or value.error or value.aborted)


class ResponseMemo:
    """One column's complete responses (keyed by :func:`request_key`) and SDK runs (keyed by
    :func:`sdk_run_key`); thread-safe."""

    def __init__(self, max_bytes: int, max_entries: int = MAX_SHARED_ENTRIES) -> None:
        self.max_bytes = max_bytes
        self.max_entries = max_entries
        self._entries: OrderedDict[bytes, tuple[RawResponse | SharedRun, int]] = OrderedDict()
        #: Requests being asked right now (``--concurrency``): a second check waits for the
        #: first one's answer instead of asking the same question at the same time.
        self._asking: dict[bytes, threading.Event] = {}
        self._lock = threading.Lock()
        self.bytes_held = 0
        #: Requests answered from memory, responses kept, and responses not kept (too large
        #: for the bound, or pushed out by newer ones).
        self.hits = 0
        self.kept = 0
        self.not_kept = 0

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: bytes) -> RawResponse | SharedRun | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            self.hits += 1
            return _copy(entry[0])

    def claim(self, key: bytes) -> RawResponse | SharedRun | threading.Event | None:
        """The kept response (a copy); or the event to wait on while another check asks the
        same question; or None: the caller asks, then calls :meth:`put` or :meth:`release`."""
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None:
                self.hits += 1
                return _copy(entry[0])
            asking = self._asking.get(key)
            if asking is not None:
                return asking
            self._asking[key] = threading.Event()
            return None

    def release(self, key: bytes) -> None:
        """The claimed question is answered (or failed): whoever waits on it may go on."""
        with self._lock:
            asking = self._asking.pop(key, None)
        if asking is not None:
            asking.set()

    def put(self, key: bytes, value: RawResponse | SharedRun) -> None:
        """Keep a complete answer (:func:`_complete`), and release the claim on it."""
        try:
            self._keep(key, value)
        finally:
            self.release(key)

    def _keep(self, key: bytes, value: RawResponse | SharedRun) -> None:
        if not key or not _complete(value):
            return
        size = _size(key, value)
        with self._lock:
            if key in self._entries:
                return
            if size > self.max_bytes:
                self.not_kept += 1
                return
            while self._entries and (
                self.bytes_held + size > self.max_bytes or len(self._entries) >= self.max_entries
            ):
                _, (_, dropped) = self._entries.popitem(last=False)
                self.bytes_held -= dropped
                self.not_kept += 1
            self._entries[key] = (_copy(value), size)
            self.bytes_held += size
            self.kept += 1


def usage_of(resp: RawResponse) -> tuple[int | None, int | None]:
    """``(prompt_tokens, completion_tokens)`` from a response's ``usage`` (a JSON body's, or a
    stream's last usage chunk) or, failing that, llama.cpp's ``timings`` (``prompt_n``,
    ``predicted_n``, which it sends on a stream without ``include_usage``); None where the
    server did not say."""
    if resp.status == 0 or not resp.body:
        return None, None
    found: dict[str, Any] = {}
    if resp.is_sse:
        for event in reversed(resp.events()):
            if not event.data or not ('"usage"' in event.data or '"timings"' in event.data):
                continue
            data = event.json()
            if isinstance(data, dict):
                found = data
                break
    else:
        data = resp.json()
        found = data if isinstance(data, dict) else {}
    usage, timings = found.get("usage"), found.get("timings")
    if isinstance(usage, dict):
        return _count(usage.get("prompt_tokens")), _count(usage.get("completion_tokens"))
    if isinstance(timings, dict):
        return _count(timings.get("prompt_n")), _count(timings.get("predicted_n"))
    return None, None


def _count(value: Any) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 10**9:
        return value
    return None


@dataclass(slots=True)
class RunStats:
    """What one column's run cost: wall time, requests the server answered, tokens its
    ``usage`` reported (only some responses carry usage: a stream without
    ``include_usage`` does not), and requests answered from the memo instead."""

    wall_s: float = 0.0
    requests: int = 0
    shared: int = 0
    with_usage: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    #: Checks of the column that ran at once at most (``--concurrency``).
    concurrency: int = 1
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def add_request(self, prompt: int | None, completion: int | None, requests: int = 1) -> None:
        with self._lock:
            self.requests += requests
            if prompt is not None or completion is not None:
                self.with_usage += requests
                self.prompt_tokens += prompt or 0
                self.completion_tokens += completion or 0

    def add_shared(self, n: int = 1) -> None:
        with self._lock:
            self.shared += n

    def to_dict(self) -> dict[str, Any]:
        return {
            "wall_s": round(self.wall_s, 1),
            "requests": self.requests,
            "requests_shared": self.shared,
            "requests_with_usage": self.with_usage,
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "concurrency": self.concurrency,
        }

    def merge(self, data: dict[str, Any]) -> None:
        """Add a worker's share (pytest-xdist) to this column's figures."""
        with self._lock:
            self.wall_s += float(data.get("wall_s") or 0.0)
            self.requests += int(data.get("requests") or 0)
            self.shared += int(data.get("requests_shared") or 0)
            self.with_usage += int(data.get("requests_with_usage") or 0)
            self.prompt_tokens += int(data.get("prompt_tokens") or 0)
            self.completion_tokens += int(data.get("completion_tokens") or 0)
            self.concurrency = max(self.concurrency, int(data.get("concurrency") or 1))
