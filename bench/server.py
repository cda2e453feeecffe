"""Loopback SSE server for the benchmark, run in its own process.

Raw asyncio streams, HTTP/1.1 keep-alive, chunked transfer encoding with one HTTP chunk per
SSE event. Response bodies are rendered once per stream spec (``POST /prepare`` renders them
ahead of the timed runs), so serving a stream is a few large ``write`` calls of ready bytes.
``bench/__main__`` measures what this server delivers to a plain blocking socket and reports
it next to the fastest client, which shows that the server is not the bottleneck.

Endpoints::

    POST /v1/chat/completions   the stream named by the request's "model" (see streams.py)
    GET  /props, /v1/models     llama-server's metadata (window WINDOW, SLOTS slots), counted
                                as "info" requests: what the window discovery asks
    POST /prepare               {"specs": [...]}: render those bodies now
    GET  /stats                 counters: accepted connections, requests, streams, peaks
    GET  /reset                 zero the counters (the peaks restart from what is active)

    python -m bench.server --port 0 --port-file PATH
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from types import TracebackType
from typing import Any

from .streams import StreamSpec, render_events

__all__ = ["ServerProcess"]

_HEADERS = (
    b"HTTP/1.1 200 OK\r\n"
    b"content-type: text/event-stream; charset=utf-8\r\n"
    b"cache-control: no-cache\r\n"
    b"x-request-id: req_bench\r\n"
    b"transfer-encoding: chunked\r\n\r\n"
)
_SLICE = 256 * 1024
#: the window and slots the metadata endpoints report (llama-server -c 32768 -np 4)
WINDOW = 32768
SLOTS = 4
# the parts of llama-server's answers the SDK reads (b6000-era /props and /v1/models)
_PROPS = {
    "default_generation_settings": {"n_ctx": WINDOW, "params": {"n_predict": -1}},
    "total_slots": SLOTS,
    "model_path": "/models/bench.gguf",
    "chat_template_caps": {"supports_tool_calls": True, "supports_tools": True},
    "modalities": {"vision": False, "audio": False},
    "build_info": "b6000-bench",
}
_MODELS = {
    "object": "list",
    "data": [
        {
            "id": "bench-model",
            "object": "model",
            "owned_by": "llamacpp",
            "meta": {"n_ctx": WINDOW, "n_ctx_train": 131072, "n_params": 8030261312},
        }
    ],
}
_END = b"0\r\n\r\n"


def _frame(event: bytes) -> bytes:
    return b"%x\r\n%b\r\n" % (len(event), event)


class _Server:
    def __init__(self) -> None:
        self.bodies: dict[tuple[str, int, int, int], bytes] = {}
        self.bursts: dict[tuple[str, int, int, int, int], list[bytes]] = {}
        self.stats = {
            "connections": 0,  # accepted TCP connections
            "active": 0,
            "peak_active": 0,
            "requests": 0,
            "streams": 0,  # chat completion responses started
            "streams_active": 0,
            "peak_streams": 0,  # most responses in flight at once
            "info": 0,  # metadata requests (/props, /v1/models)
        }

    def body(self, spec: StreamSpec) -> bytes:
        body = self.bodies.get(spec.body_key)
        if body is None:
            body = b"".join(_frame(e) for e in render_events(spec)) + _END
            self.bodies[spec.body_key] = body
        return body

    def paced(self, spec: StreamSpec) -> list[bytes]:
        key = (*spec.body_key, spec.every)
        bursts = self.bursts.get(key)
        if bursts is None:
            events = render_events(spec)
            bursts = [
                b"".join(_frame(e) for e in events[i : i + spec.every])
                for i in range(0, len(events), spec.every)
            ]
            bursts[-1] += _END
            self.bursts[key] = bursts
        return bursts

    @staticmethod
    def _json(writer: asyncio.StreamWriter, obj: Any) -> None:
        data = json.dumps(obj).encode()
        writer.write(
            b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n"
            b"content-length: %d\r\n\r\n%b" % (len(data), data)
        )

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        st = self.stats
        st["connections"] += 1
        st["active"] += 1
        st["peak_active"] = max(st["peak_active"], st["active"])
        try:
            while True:
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except (asyncio.IncompleteReadError, ConnectionError, asyncio.CancelledError):
                    return  # the peer is gone, or the server is shutting down
                request_line, *lines = head.decode("latin-1").split("\r\n")
                _, path, _ = request_line.split(" ", 2)
                headers = {}
                for line in lines:
                    name, sep, value = line.partition(":")
                    if sep:
                        headers[name.strip().lower()] = value.strip()
                length = int(headers.get("content-length") or 0)
                payload = await reader.readexactly(length) if length else b""
                st["requests"] += 1
                if path.endswith("/chat/completions"):
                    spec = StreamSpec.parse(json.loads(payload)["model"])
                    await self._stream(spec, writer)
                elif path == "/props" or path.endswith("/v1/models"):
                    st["info"] += 1
                    self._json(writer, _PROPS if path == "/props" else _MODELS)
                elif path.endswith("/prepare"):
                    for text in json.loads(payload)["specs"]:
                        spec = StreamSpec.parse(text)
                        self.paced(spec) if spec.every else self.body(spec)
                    self._json(writer, {"ok": True})
                elif path.endswith("/stats"):
                    self._json(writer, st)
                elif path.endswith("/reset"):
                    st.update(
                        connections=0,
                        requests=0,
                        streams=0,
                        info=0,
                        peak_active=st["active"],
                        peak_streams=st["streams_active"],
                    )
                    self._json(writer, st)
                else:
                    writer.write(b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n")
                await writer.drain()
                if headers.get("connection", "").lower() == "close":
                    return
        except (ConnectionError, asyncio.IncompleteReadError):
            return
        finally:
            st["active"] -= 1
            writer.close()

    async def _stream(self, spec: StreamSpec, writer: asyncio.StreamWriter) -> None:
        st = self.stats
        st["streams"] += 1
        st["streams_active"] += 1
        st["peak_streams"] = max(st["peak_streams"], st["streams_active"])
        try:
            await self._send(spec, writer)
        finally:
            st["streams_active"] -= 1

    async def _send(self, spec: StreamSpec, writer: asyncio.StreamWriter) -> None:
        writer.write(_HEADERS)
        if spec.every:
            bursts = self.paced(spec)
            pause = spec.pause_ms / 1000
            for i, burst in enumerate(bursts):
                if i:
                    await asyncio.sleep(pause)
                writer.write(burst)
                await writer.drain()
            return
        view = memoryview(self.body(spec))
        for i in range(0, len(view), _SLICE):
            writer.write(view[i : i + _SLICE])
            await writer.drain()


def _write_port(port_file: str, port: int) -> None:
    tmp = port_file + ".tmp"
    Path(tmp).write_text(str(port))
    os.replace(tmp, port_file)  # atomic: the parent never reads a half-written file


async def _serve(host: str, port: int, port_file: str | None) -> None:
    server = _Server()
    srv = await asyncio.start_server(server.handle, host, port, backlog=2048, limit=1 << 22)
    bound = srv.sockets[0].getsockname()[1]
    if port_file:
        _write_port(port_file, bound)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    async with srv:
        await stop.wait()


class ServerProcess:
    """Starts the server in a child process; ``url`` is its ``/v1`` base URL."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.host = host
        self.port = 0
        self._proc: subprocess.Popen[bytes] | None = None
        self._dir: str | None = None

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}/v1"

    def __enter__(self) -> ServerProcess:
        import tempfile

        self._dir = tempfile.mkdtemp(prefix="bench-server-")
        port_file = os.path.join(self._dir, "port")
        root = str(Path(__file__).resolve().parent.parent)
        env = {**os.environ, "PYTHONPATH": root + os.pathsep + os.environ.get("PYTHONPATH", "")}
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "bench.server", "--host", self.host, "--port-file", port_file],
            cwd=root,
            env=env,
        )
        deadline = time.monotonic() + 30
        while not os.path.exists(port_file):
            if self._proc.poll() is not None or time.monotonic() > deadline:
                self.__exit__(None, None, None)
                raise RuntimeError("the bench server did not start")
            time.sleep(0.02)
        self.port = int(Path(port_file).read_text())
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._proc is not None:
            self._proc.terminate()
            try:
                self._proc.wait(10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
            self._proc = None
        if self._dir is not None:
            import shutil

            shutil.rmtree(self._dir, ignore_errors=True)

    def _call(self, path: str, payload: Any = None) -> dict[str, Any]:
        data = None if payload is None else json.dumps(payload).encode()
        req = urllib.request.Request(f"http://{self.host}:{self.port}{path}", data=data)
        with urllib.request.urlopen(req, timeout=300) as resp:
            result: dict[str, Any] = json.loads(resp.read())
            return result

    def prepare(self, specs: list[StreamSpec]) -> None:
        self._call("/prepare", {"specs": [str(s) for s in specs]})

    def stats(self) -> dict[str, int]:
        return self._call("/stats")

    def reset(self) -> dict[str, int]:
        return self._call("/reset")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--port-file")
    a = ap.parse_args()
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(a.host, a.port, a.port_file))


if __name__ == "__main__":
    main()
