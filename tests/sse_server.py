"""A scripted loopback HTTP/1.1 server that plays OpenAI-compatible endpoints for tests.

It runs its own event loop in a background thread, so it serves sync tests and tests on any
pytest-asyncio loop alike. A test queues replies per ``(method, path)``; each request takes
the next one (``GET /v1/models`` has a default). Streams are lists of raw byte chunks: each
``bytes`` item is written as one HTTP chunk, a ``float`` item sleeps that many seconds.

    server.script.stream(*events(chunk("Hel"), chunk("lo", finish="stop")), gap=0.01)
    server.script.stream(sse(chunk("Hel")), end="close")        # cut before the finish
    server.script.json(completion("hi"), stall=2.0)             # nothing for 2 s, then JSON
    server.script.error(429, "slow down", retry_after=1)
    server.requests[-1].json["messages"]                        # what the SDK sent

Faults: ``stall`` (silence before the status line), ``gap`` or float items (silence between
chunks), ``end="close"`` (drop the socket without the final zero-length chunk), ``"reset"``
(TCP RST), ``"hang"`` (keep the socket open, send nothing, until the client leaves),
``"trickle"`` (send ``trickle`` bytes every ``every`` s until the client leaves), and
``silent=True`` (never send a status line; then ``end`` applies). Every sleep also watches
the socket, so a client that leaves is noticed at once (``client_disconnects``,
``Request.client_left``).
"""

from __future__ import annotations

import asyncio
import contextlib
import http
import json
import socket
import struct
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

from any_agent import AgentOptions

__all__ = [
    "CHAT",
    "MODELS",
    "Reply",
    "Request",
    "SSEServer",
    "Scenario",
    "chunk",
    "completion",
    "error_body",
    "events",
    "opts",
    "sse",
    "text_stream",
    "tool_call",
    "usage_chunk",
]

CHAT = "/v1/chat/completions"
MODELS = "/v1/models"
End = Literal["eof", "close", "reset", "hang", "trickle"]
Step = bytes | float


@dataclass
class Request:
    """One request as received. ``headers`` names are lower-case."""

    method: str
    path: str
    query: str
    headers: dict[str, str]
    body: bytes
    json: Any  # the parsed body, or None
    connection: int  # which TCP connection carried it (1-based, in accept order)
    client_left: bool = False  # the client went away before the reply was complete


@dataclass
class Reply:
    """What to answer: a JSON ``body`` (Content-Length) or a ``chunks`` stream (chunked)."""

    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: Any = None  # JSON value, or raw bytes / str
    chunks: list[Step] | None = None
    stall: float = 0.0
    gap: float = 0.0
    end: End = "eof"
    trickle: bytes = b": ping\n\n"
    every: float = 0.05
    silent: bool = False


Scripted = Reply | Callable[[Request], Reply]
_S = TypeVar("_S", bound=Scripted)


class Scenario:
    """Queues of replies per ``(method, path)``; ``times=None`` repeats a reply forever."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._queues: dict[tuple[str, str], deque[list[Any]]] = {}

    def add(
        self, reply: _S, *, path: str = CHAT, method: str = "POST", times: int | None = 1
    ) -> _S:
        """Queue ``reply`` (or a function of the request returning one); returns it."""
        with self._lock:
            self._queues.setdefault((method, path), deque()).append([reply, times])
        return reply

    def take(self, request: Request) -> Reply | None:
        with self._lock:
            queue = self._queues.get((request.method, request.path))
            if not queue:
                return None
            entry = queue[0]
            if entry[1] is not None:
                entry[1] -= 1
                if entry[1] <= 0:
                    queue.popleft()
        reply = entry[0]
        return reply if isinstance(reply, Reply) else reply(request)

    def pending(self) -> int:
        """Replies queued and not yet taken (forever-replies count once)."""
        with self._lock:
            return sum(len(q) for q in self._queues.values())

    # ``opts`` below are :class:`Reply` fields: status, headers, stall, gap, end, trickle, ...
    def json(
        self,
        body: Any,
        *,
        path: str = CHAT,
        method: str = "POST",
        times: int | None = 1,
        **opts: Any,
    ) -> Reply:
        """Answer with ``body`` as JSON (Content-Length, keep-alive)."""
        return self.add(Reply(body=body, **opts), path=path, method=method, times=times)

    def stream(self, *steps: Step, path: str = CHAT, times: int | None = 1, **opts: Any) -> Reply:
        """Answer with a chunked stream: ``bytes`` steps are written, ``float`` steps sleep."""
        return self.add(Reply(chunks=list(steps), **opts), path=path, times=times)

    def error(
        self,
        status: int,
        message: str = "scripted error",
        *,
        retry_after: float | None = None,
        path: str = CHAT,
        times: int | None = 1,
        **fields: Any,
    ) -> Reply:
        """An OpenAI-style error body; ``retry_after`` adds the header (429, 503)."""
        headers = {} if retry_after is None else {"Retry-After": f"{retry_after:g}"}
        reply = Reply(status, headers, error_body(message, **fields))
        return self.add(reply, path=path, times=times)

    def drop(
        self, *, stall: float = 0.0, end: End = "close", path: str = CHAT, times: int | None = 1
    ) -> Reply:
        """No response at all: after ``stall`` seconds, close / reset / hang the connection."""
        return self.add(Reply(stall=stall, end=end, silent=True), path=path, times=times)


class _Conn:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, number: int):
        self.reader, self.writer, self.number = reader, writer, number
        self.buf = b""

    async def _more(self) -> bool:
        data = await self.reader.read(65536)
        self.buf += data
        return bool(data)

    async def read_until(self, sep: bytes) -> bytes | None:
        while (i := self.buf.find(sep)) == -1:
            if not await self._more():
                return None
        out, self.buf = self.buf[: i + len(sep)], self.buf[i + len(sep) :]
        return out

    async def read_exact(self, n: int) -> bytes | None:
        while len(self.buf) < n:
            if not await self._more():
                return None
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    async def idle(self, seconds: float) -> bool:
        """Sleep, watching the socket. False if the client closed it meanwhile."""
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            try:
                if not await asyncio.wait_for(self._more(), left):
                    return False
            except asyncio.TimeoutError:
                return True
        return True

    async def send(self, data: bytes) -> bool:
        try:
            self.writer.write(data)
            await self.writer.drain()
        except (ConnectionError, RuntimeError):
            return False
        return True


class SSEServer:
    """The loopback server. ``url`` is the base URL to give the SDK (ends in ``/v1``)."""

    def __init__(self) -> None:
        self.script = Scenario()
        self.requests: list[Request] = []
        self.unscripted: list[Request] = []  # answered 500 because nothing was queued
        self.connections_accepted = 0
        self.connections_open = 0
        self.client_disconnects = 0
        self.port = 0
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, daemon=True, name="sse-server"
        )
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    @property
    def chat_requests(self) -> list[Request]:
        """The chat-completion requests only (profiles that discover the server's window
        also send metadata GETs such as ``/props``)."""
        return [r for r in self.requests if r.method == "POST" and r.path == CHAT]

    def start(self) -> SSEServer:
        self._thread.start()
        self._server = self._call(asyncio.start_server(self._accept, "127.0.0.1", 0))
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    def stop(self) -> None:
        async def shutdown() -> None:
            assert self._server is not None
            self._server.close()
            for task in list(self._tasks):
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)

        self._call(shutdown())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
        self._loop.close()

    def _call(self, coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(10)

    def wait_until(
        self, predicate: Callable[[], bool], timeout: float = 5.0, what: str = ""
    ) -> None:
        """Block (sync tests) until ``predicate()`` holds; AssertionError after ``timeout``."""
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() > deadline:
                raise AssertionError(f"sse_server: timed out waiting for {what or predicate}")
            time.sleep(0.005)

    async def until(
        self, predicate: Callable[[], bool], timeout: float = 5.0, what: str = ""
    ) -> None:
        """Async twin of :meth:`wait_until`, for tests running on an event loop."""
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() > deadline:
                raise AssertionError(f"sse_server: timed out waiting for {what or predicate}")
            await asyncio.sleep(0.005)

    # -- serving ----------------------------------------------------------------------------
    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        self.connections_accepted += 1
        self.connections_open += 1
        conn = _Conn(reader, writer, self.connections_accepted)
        try:
            while await self._one(conn):
                pass
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            self.connections_open -= 1
            self._tasks.discard(task)
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def _one(self, conn: _Conn) -> bool:
        """Serve one request; False when the connection is done."""
        head = await conn.read_until(b"\r\n\r\n")
        if head is None:
            return False
        line, *lines = head.decode("latin-1").split("\r\n")
        method, target, version = line.split(" ", 2)
        headers: dict[str, str] = {}
        for h in filter(None, lines):
            name, _, value = h.partition(":")
            key = name.strip().lower()
            headers[key] = f"{headers[key]}, {value.strip()}" if key in headers else value.strip()
        body = await self._body(conn, headers)
        if body is None:
            return False
        path, _, query = target.partition("?")
        try:
            parsed = json.loads(body) if body else None
        except ValueError:
            parsed = None
        req = Request(method, path, query, headers, body, parsed, conn.number)
        self.requests.append(req)
        reply = self.script.take(req) or self._default(req)
        keep = await self._respond(conn, req, reply)
        return keep and headers.get("connection", "").lower() != "close" and version == "HTTP/1.1"

    async def _body(self, conn: _Conn, headers: dict[str, str]) -> bytes | None:
        if "chunked" in headers.get("transfer-encoding", "").lower():
            parts: list[bytes] = []
            while (size_line := await conn.read_until(b"\r\n")) is not None:
                size = int(size_line.split(b";")[0], 16)
                data = await conn.read_exact(size + 2)
                if data is None:
                    return None
                if size == 0:
                    return b"".join(parts)
                parts.append(data[:-2])
            return None
        return await conn.read_exact(int(headers.get("content-length", "0")))

    def _default(self, req: Request) -> Reply:
        if req.method == "GET" and req.path == MODELS:
            model = {"id": "test-model", "object": "model", "created": 0, "owned_by": "sse_server"}
            return Reply(body={"object": "list", "data": [model]})
        self.unscripted.append(req)
        msg = f"sse_server: nothing scripted for {req.method} {req.path}"
        return Reply(500, body=error_body(msg, type="test_error"))

    async def _respond(self, conn: _Conn, req: Request, reply: Reply) -> bool:
        """Write one reply; False if the connection must not be reused."""
        if reply.stall and not await conn.idle(reply.stall):
            return self._left(req)
        if reply.silent:
            return await self._end(conn, req, reply)
        try:
            phrase = http.HTTPStatus(reply.status).phrase
        except ValueError:
            phrase = "Scripted"
        streaming = reply.chunks is not None
        hdrs = {"content-type": "text/event-stream" if streaming else "application/json"}
        if streaming:
            hdrs |= {"transfer-encoding": "chunked", "cache-control": "no-cache"}
        else:
            raw = reply.body
            payload = (
                raw
                if isinstance(raw, bytes)
                else raw.encode()
                if isinstance(raw, str)
                else json.dumps(raw).encode()
            )
            hdrs["content-length"] = str(len(payload))
        hdrs |= {k.lower(): v for k, v in reply.headers.items()}
        head = f"HTTP/1.1 {reply.status} {phrase}\r\n" + "".join(
            f"{k}: {v}\r\n" for k, v in hdrs.items()
        )
        if not streaming:
            if not await conn.send(head.encode() + b"\r\n" + payload):
                return self._left(req)
            return hdrs.get("connection", "").lower() != "close"
        if not await conn.send(head.encode() + b"\r\n"):
            return self._left(req)
        assert reply.chunks is not None
        for i, step in enumerate(reply.chunks):
            if isinstance(step, (int, float)):
                ok = await conn.idle(step)
            else:
                ok = (not step) or await conn.send(b"%x\r\n%s\r\n" % (len(step), step))
                if ok and reply.gap and i < len(reply.chunks) - 1:
                    ok = await conn.idle(reply.gap)
            if not ok:
                return self._left(req)
        return await self._end(conn, req, reply)

    async def _end(self, conn: _Conn, req: Request, reply: Reply) -> bool:
        if reply.end == "eof" and not reply.silent:
            return await conn.send(b"0\r\n\r\n") or self._left(req)
        if reply.end == "reset":
            sock = conn.writer.get_extra_info("socket")
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            conn.writer.transport.abort()
        elif reply.end == "hang":
            while await conn.idle(3600):
                pass
            self._left(req)
        elif reply.end == "trickle":
            while await conn.send(b"%x\r\n%s\r\n" % (len(reply.trickle), reply.trickle)):
                if not await conn.idle(reply.every):
                    break
            self._left(req)
        return False

    def _left(self, req: Request) -> bool:
        req.client_left = True
        self.client_disconnects += 1
        return False


# -- building payloads ----------------------------------------------------------------------
def sse(*items: dict[str, Any] | bytes | str, done: bool = True, crlf: bool = False) -> bytes:
    """SSE bytes: each dict becomes ``data: <json>`` plus a blank line; bytes/str go in raw."""
    return b"".join(events(*items, done=done, crlf=crlf))


def events(
    *items: dict[str, Any] | bytes | str, done: bool = True, crlf: bool = False
) -> list[bytes]:
    """Like :func:`sse`, one ``bytes`` per event (so each is written as its own HTTP chunk)."""
    nl = b"\r\n" if crlf else b"\n"

    def one(item: dict[str, Any] | bytes | str) -> bytes:
        if isinstance(item, (bytes, str)):
            return item.encode() if isinstance(item, str) else item
        return b"data: " + json.dumps(item, separators=(",", ":")).encode() + nl + nl

    return [one(i) for i in items] + ([b"data: [DONE]" + nl + nl] if done else [])


_CHUNK = {
    "id": "chatcmpl-test",
    "object": "chat.completion.chunk",
    "created": 0,
    "model": "test-model",
}
_DELTA_KEYS = {"reasoning": "reasoning_content"}


def chunk(
    content: str | None = None,
    *,
    finish: str | None = None,
    usage: dict[str, Any] | None = None,
    **delta: Any,
) -> dict[str, Any]:
    """One ``chat.completion.chunk`` whose delta holds the fields given (``reasoning=`` means
    ``reasoning_content``). ``None`` values are left out; pass ``delta={...}`` for exact nulls."""
    d: dict[str, Any] = delta.pop("delta", {})
    if content is not None:
        d["content"] = content
    d |= {_DELTA_KEYS.get(k, k): v for k, v in delta.items() if v is not None}
    obj = {**_CHUNK, "choices": [{"index": 0, "delta": d, "finish_reason": finish}]}
    return obj if usage is None else obj | {"usage": usage}


def tool_call(
    index: int | None = 0,
    *,
    id: str | None = None,
    name: str | None = None,
    arguments: Any = None,
    type: str | None = None,
) -> dict[str, Any]:
    """One tool-call fragment; ``None`` fields are left out (``index=None`` drops the index)."""
    fn = {k: v for k, v in (("name", name), ("arguments", arguments)) if v is not None}
    frag: dict[str, Any] = {} if index is None else {"index": index}
    frag |= {k: v for k, v in (("id", id), ("type", type)) if v is not None}
    return frag | {"function": fn}


def usage_chunk(prompt: int, completion: int) -> dict[str, Any]:
    """The ``include_usage`` trailer: ``choices: []`` and the counts."""
    usage = {"prompt_tokens": prompt, "completion_tokens": completion}
    return {**_CHUNK, "choices": [], "usage": usage | {"total_tokens": prompt + completion}}


def text_stream(*pieces: str, finish: str = "stop", usage: tuple[int, int] | None = None) -> bytes:
    """A whole plain-text answer: role chunk, one chunk per piece, finish, usage, ``[DONE]``."""
    items: list[dict[str, Any]] = [chunk(role="assistant", content="")]
    items += [chunk(p) for p in pieces]
    items.append(chunk(finish=finish))
    if usage is not None:
        items.append(usage_chunk(*usage))
    return sse(*items)


def completion(
    content: str | None = None,
    *,
    tool_calls: list[dict[str, Any]] | None = None,
    finish: str = "stop",
    usage: tuple[int, int] = (10, 5),
    **message: Any,
) -> dict[str, Any]:
    """A non-streaming ``chat.completion`` body."""
    msg: dict[str, Any] = {"role": "assistant", "content": content, **message}
    if tool_calls is not None:
        msg["tool_calls"] = tool_calls
    p, c = usage
    return {
        "id": "chatcmpl-test",
        "object": "chat.completion",
        "created": 0,
        "model": "test-model",
        "choices": [{"index": 0, "message": msg, "finish_reason": finish}],
        "usage": {"prompt_tokens": p, "completion_tokens": c, "total_tokens": p + c},
    }


def error_body(
    message: str, *, type: str = "invalid_request_error", code: Any = None
) -> dict[str, Any]:
    """An OpenAI-style error body."""
    return {"error": {"message": message, "type": type, "param": None, "code": code}}


def opts(server: SSEServer, **kw: Any) -> AgentOptions:
    """AgentOptions for ``server`` with no retries and short, test-sized deadlines (10 s to the
    first token and between events, 30 s overall); ``kw`` overrides any field."""
    base: dict[str, Any] = {
        "model": "test-model",
        "base_url": server.url,
        "max_retries": 0,
        "first_token_timeout": 10,
        "idle_timeout": 10,
        "timeout": 30,
    }
    return AgentOptions(**(base | kw))


# -- metadata routes (issue 14): shapes of real servers' documented answers -----------------
PROPS = "/props"  # llama.cpp, at the server root (not under /v1)
TOKENIZE = "/tokenize"  # llama.cpp and vLLM, at the root
OLLAMA_SHOW = "/api/show"
OLLAMA_PS = "/api/ps"
LMSTUDIO_MODELS = "/api/v0/models"


def llamacpp_props(
    n_ctx: int = 4096, *, total_slots: int = 1, vision: bool = False, tools: bool = True
) -> dict[str, Any]:
    """llama-server ``GET /props`` (ggml-org/llama.cpp tools/server/README.md, "GET /props":
    ``default_generation_settings`` with the slot's ``n_ctx``, ``total_slots``, ``modalities``,
    ``chat_template_caps``; trimmed to the fields read plus a few neighbours)."""
    return {
        "default_generation_settings": {
            "id": 0,
            "id_task": -1,
            "n_ctx": n_ctx,
            "speculative": False,
            "is_processing": False,
            "params": {"n_predict": -1, "temperature": 0.8, "top_k": 40},
        },
        "total_slots": total_slots,
        "model_path": "/models/qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
        "modalities": {"vision": vision, "audio": False},
        "chat_template": "{% for message in messages %}...{% endfor %}",
        "chat_template_caps": {
            "supports_parallel_tool_calls": tools,
            "supports_system_role": True,
            "supports_tool_calls": tools,
            "supports_tools": tools,
        },
        "bos_token": "<|endoftext|>",
        "eos_token": "<|im_end|>",
        "build_info": "b6000-abcdef0",
    }


def llamacpp_tokenize(count: int) -> dict[str, Any]:
    """llama-server ``POST /tokenize`` → ``{"tokens": [ids]}`` (tools/server/README.md)."""
    return {"tokens": list(range(1000, 1000 + count))}


def vllm_tokenize(count: int, max_model_len: int = 4096) -> dict[str, Any]:
    """vLLM ``POST /tokenize`` → ``count``, ``max_model_len``, ``tokens``
    (vllm/entrypoints/openai/protocol.py ``TokenizeResponse``)."""
    return {"count": count, "max_model_len": max_model_len, "tokens": list(range(count))}


def vllm_models(model: str = "test-model", max_model_len: int = 4096) -> dict[str, Any]:
    """vLLM ``GET /v1/models``: ``root``, ``parent``, ``max_model_len``, ``owned_by: vllm``
    (recorded: cassettes/vllm/qwen2.5-coder-0.5b; research/provider-quirks.md [VL3])."""
    entry = {
        "id": model,
        "object": "model",
        "created": 1760000000,
        "owned_by": "vllm",
        "root": f"/models/{model}",
        "parent": None,
        "max_model_len": max_model_len,
        "permission": [],
    }
    return {"object": "list", "data": [entry]}


def ollama_show(
    *, capabilities: tuple[str, ...] = ("completion", "tools"), num_ctx: int | None = None
) -> dict[str, Any]:
    """Ollama ``POST /api/show`` (docs.ollama.com/api/show): ``capabilities``, the Modelfile
    ``parameters`` as text, ``model_info`` with ``<arch>.context_length`` (trained)."""
    params = 'stop                           "<|im_end|>"\ntemperature                    0.7'
    if num_ctx is not None:
        params += f"\nnum_ctx                        {num_ctx}"
    return {
        "modelfile": '# Modelfile generated by "ollama show"\nFROM /models/blob\n',
        "parameters": params,
        "template": "{{ .System }}{{ .Prompt }}",
        "details": {
            "parent_model": "",
            "format": "gguf",
            "family": "qwen2",
            "families": ["qwen2"],
            "parameter_size": "7.6B",
            "quantization_level": "Q4_K_M",
        },
        "model_info": {
            "general.architecture": "qwen2",
            "general.parameter_count": 7615616512,
            "qwen2.context_length": 32768,
            "qwen2.embedding_length": 3584,
        },
        "capabilities": list(capabilities),
        "modified_at": "2025-08-01T10:00:00.000000000+02:00",
    }


def ollama_ps(model: str = "test-model", context_length: int = 4096) -> dict[str, Any]:
    """Ollama ``GET /api/ps``: the loaded model with the window it runs with
    (``context_length``; ollama-python's ``ProcessResponse``)."""
    return {
        "models": [
            {
                "name": model,
                "model": model,
                "size": 5618579456,
                "digest": "dae161e27b0e90dd1856c8bb3209201fd6736d8eb66298e75ed87571486f4364",
                "details": {"format": "gguf", "family": "qwen2", "parameter_size": "7.6B"},
                "expires_at": "2025-08-06T14:23:28.7482+02:00",
                "size_vram": 5618579456,
                "context_length": context_length,
            }
        ]
    }


def lmstudio_models(
    model: str = "test-model", *, kind: str = "vlm", loaded_context_length: int | None = 8192
) -> dict[str, Any]:
    """LM Studio ``GET /api/v0/models`` (lmstudio.ai/docs/developer/rest/endpoints):
    ``type`` llm | vlm | embeddings, ``state``, ``max_context_length``, and for a loaded
    model ``loaded_context_length``."""
    entry: dict[str, Any] = {
        "id": model,
        "object": "model",
        "type": kind,
        "publisher": "lmstudio-community",
        "arch": "qwen2_vl",
        "compatibility_type": "gguf",
        "quantization": "Q4_K_M",
        "state": "loaded" if loaded_context_length else "not-loaded",
        "max_context_length": 32768,
        "capabilities": ["tool_use"],
    }
    if loaded_context_length:
        entry["loaded_context_length"] = loaded_context_length
    return {"object": "list", "data": [entry]}
