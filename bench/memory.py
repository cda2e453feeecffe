"""Memory against hostile payloads: the peak RSS a response can make a client hold.

A server process answers with payloads several times the configured limit, plain and
gzip-compressed (a gzip bomb: a few hundred KiB on the wire that inflate to 16× the limit):
a long text stream, one non-streamed JSON body, one line that never ends, one tool call's
arguments, an error (HTTP 500) body, and one event just under the limit made of ``{},``
(3 bytes a JSON item, ~20× its size once parsed: only the item budget stops it). Each case
runs in a fresh client interpreter with the option that bounds it (``max_response_bytes``,
``max_event_bytes`` or ``max_tool_argument_bytes``; the error body has none: it is read to a
fixed 8 KiB) set to the limit and the others at their defaults; after a
warm-up request the RSS high-water mark is reset to the current RSS
(``/proc/self/clear_refs``), the hostile request runs, and the rise of the high-water mark
(``VmHWM``) is the figure, so import and warm-up memory do not count. The goal is growth
≤ 3× the limit, with the expected error raised.

    python -m bench.memory --serve --port-file PATH
    python -m bench.memory --case stream --variant gzip --limit 8388608 --url URL
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import urllib.request
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

__all__ = ["CASES", "run_memory"]

#: case → (what it is, the error expected)
CASES: dict[str, tuple[str, str]] = {
    "stream": ("a text stream", "LimitExceededError:max_response_bytes"),
    "json": ("one non-streamed JSON body", "LimitExceededError:max_event_bytes"),
    "line": ("one line that never ends", "LimitExceededError:max_event_bytes"),
    "tool-args": ("one tool call's arguments", "LimitExceededError:max_tool_argument_bytes"),
    "error": ("an HTTP 500 error body", "ServerError"),
    # just under the limit in bytes, but 3 bytes a JSON item: ~20x its size once parsed
    "dense": ("one event dense with JSON items", "LimitExceededError:max_event_bytes"),
}
VARIANTS = ("plain", "gzip")
_SLICE = 256 * 1024
_GZIP_FACTOR = 16  # a gzip payload inflates to this many times the limit
_PLAIN_FACTOR = 4


# -- payloads -------------------------------------------------------------------------------
def _event(delta: dict[str, Any]) -> bytes:
    body: dict[str, Any] = {"id": "x", "object": "chat.completion.chunk", "model": "m"}
    body["choices"] = [{"index": 0, "delta": delta, "finish_reason": None}]
    return b"data: " + json.dumps(body, separators=(",", ":")).encode() + b"\n\n"


def _repeat(head: bytes, unit: bytes, size: int, tail: bytes = b"") -> Iterator[bytes]:
    """``head`` then ``unit`` repeated, then ``tail``: about ``size`` bytes in all (never
    more), in slices of about 256 KiB."""
    yield head
    block = unit * max(1, _SLICE // len(unit))
    sent = len(head) + len(tail)
    while sent + len(block) <= size:
        yield block
        sent += len(block)
    yield unit * ((size - sent) // len(unit))
    yield tail


def _payload(case: str, size: int) -> tuple[int, str, Iterator[bytes]]:
    """(status, content type, body pieces) of ``size`` bytes (before compression)."""
    if case == "stream":
        unit = _event({"content": "x" * 100})
        return 200, "text/event-stream", _repeat(_event({"role": "assistant"}), unit, size)
    if case == "json":
        head = b'{"id":"x","object":"chat.completion","choices":[{"index":0,"message":'
        return 200, "application/json", _repeat(head + b'{"content":"', b"x" * 1024, size)
    if case == "line":
        return 200, "text/event-stream", _repeat(b"data: ", b"x" * 1024, size)
    if case == "tool-args":
        first: dict[str, Any] = {"index": 0, "id": "c1", "type": "function"}
        first["function"] = {"name": "save", "arguments": '{"text": "'}
        unit = _event({"tool_calls": [{"index": 0, "function": {"arguments": "x" * 100}}]})
        return 200, "text/event-stream", _repeat(_event({"tool_calls": [first]}), unit, size)
    if case == "dense":
        head = b'data: {"choices":[{"index":0,"delta":{"content":"x"}}],"junk":['
        return 200, "text/event-stream", _repeat(head, b"{},", size, b"{}]}\n\n")
    head = b'{"error":{"type":"server_error","message":"'
    return 500, "application/json", _repeat(head, b"boom " * 200, size)


_GZIPPED: dict[tuple[str, int], bytes] = {}


def _gzipped(case: str, size: int) -> bytes:
    key = (case, size)
    if key not in _GZIPPED:
        packer = zlib.compressobj(9, zlib.DEFLATED, 31)
        out = [packer.compress(piece) for piece in _payload(case, size)[2]]
        _GZIPPED[key] = b"".join(out) + packer.flush()
    return _GZIPPED[key]


# -- the server -----------------------------------------------------------------------------
_WIRE: dict[str, int] = {}  # "case:variant:size" → bytes on the wire, for GET /wire


async def _serve_one(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(ConnectionError, asyncio.IncompleteReadError):
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n"):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":", 1)[1])
            request = json.loads(await reader.readexactly(length)) if length else {}
            model = str(request.get("model", ""))
            if head.startswith(b"GET /wire"):
                body = json.dumps(_WIRE).encode()
                writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: %d\r\n\r\n%s" % (len(body), body))
                await writer.drain()
                continue
            if model == "warm":
                body = _event({"content": "ok"}) + b"data: [DONE]\n\n"
                body = body.replace(b'"finish_reason":null', b'"finish_reason":"stop"')
                writer.write(
                    b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n"
                    b"content-length: %d\r\n\r\n%s" % (len(body), body)
                )
                await writer.drain()
                continue
            case, variant, size = model.split(":")
            status, media, pieces = _payload(case, int(size))
            extra = b""
            _WIRE[model] = int(size)
            if variant == "gzip":
                pieces = iter([_gzipped(case, int(size))])
                extra = b"content-encoding: gzip\r\n"
                _WIRE[model] = len(_gzipped(case, int(size)))
            writer.write(
                b"HTTP/1.1 %d X\r\ncontent-type: %s\r\n%stransfer-encoding: chunked\r\n\r\n"
                % (status, media.encode(), extra)
            )
            for piece in pieces:
                for i in range(0, len(piece), 64 * 1024):
                    part = piece[i : i + 64 * 1024]
                    writer.write(b"%x\r\n%s\r\n" % (len(part), part))
                    await writer.drain()
            writer.write(b"0\r\n\r\n")
            await writer.drain()
    writer.close()


async def _serve(port_file: Path) -> None:
    server = await asyncio.start_server(_serve_one, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    await asyncio.to_thread(port_file.write_text, str(port))
    async with server:
        await server.serve_forever()


# -- one client, in its own interpreter -----------------------------------------------------
def _status_kib(field: str) -> int | None:
    with contextlib.suppress(OSError, ValueError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return None


def _reset_peak() -> int:
    """Start the RSS high-water mark afresh at the current RSS; return that RSS in bytes.

    ``ru_maxrss`` cannot be used: Linux keeps it across ``exec``, so a child started by a
    larger parent reports the parent's size. ``VmHWM`` is the process's own, and writing 5 to
    ``clear_refs`` resets it."""
    with contextlib.suppress(OSError):
        Path("/proc/self/clear_refs").write_text("5")
    return 1024 * (_status_kib("VmRSS") or 0)


def _rss_peak() -> int:
    kib = _status_kib("VmHWM")
    if kib is None:
        kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    return kib * 1024


async def _child(case: str, variant: str, limit: int, url: str) -> dict[str, Any]:
    from any_agent import AgentOptions, Client, LimitExceededError, tool

    @tool
    def save(text: str) -> str:
        """Save text."""
        return "saved"

    size = limit * (_GZIP_FACTOR if variant == "gzip" else _PLAIN_FACTOR)
    if case == "dense":
        size = limit - 1024  # within max_event_bytes: only the item budget stops it
    base: dict[str, Any] = {"base_url": url, "max_retries": 0, "timeout": 600, "tools": [save]}
    option = CASES[case][1].partition(":")[2] or "max_event_bytes"
    base[option] = limit  # the bound under test; the others keep their defaults
    async with Client(AgentOptions(model="warm", **base)) as warm:
        await warm.query("hi")
        async for _ in warm.receive_response():
            pass
    before = max(_reset_peak(), 0)
    started = time.perf_counter()
    error = "none"
    async with Client(AgentOptions(model=f"{case}:{variant}:{size}", **base)) as client:
        await client.query("go")
        try:
            async for _ in client.receive_response():
                pass
        except LimitExceededError as exc:
            error = f"LimitExceededError:{exc.option}"
        except Exception as exc:
            error = type(exc).__name__
    peak = _rss_peak()
    return {
        "case": case,
        "variant": variant,
        "limit": limit,
        "payload": size,
        "rss_before": before,
        "rss_peak": peak,
        "growth": peak - before,
        "error": error,
        "expected": CASES[case][1],
        "seconds": time.perf_counter() - started,
    }


def run_memory(limit: int) -> list[dict[str, Any]]:
    """Every case × variant with the option that bounds it at ``limit``; one row each."""
    root = str(Path(__file__).resolve().parent.parent)
    env = {**os.environ, "PYTHONPATH": root + os.pathsep + os.environ.get("PYTHONPATH", "")}
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp:
        port_file = Path(tmp) / "port"
        server = subprocess.Popen(
            [sys.executable, "-m", "bench.memory", "--serve", "--port-file", str(port_file)],
            cwd=root,
            env=env,
        )
        try:
            deadline = time.monotonic() + 30
            while not port_file.exists() or not port_file.read_text():
                if time.monotonic() > deadline or server.poll() is not None:
                    raise RuntimeError("the memory bench server did not start")
                time.sleep(0.05)
            url = f"http://127.0.0.1:{port_file.read_text()}/v1"
            for case in CASES:
                for variant in VARIANTS:
                    cmd = [sys.executable, "-m", "bench.memory", "--case", case]
                    cmd += ["--variant", variant, "--limit", str(limit), "--url", url]
                    try:
                        p = subprocess.run(
                            cmd, cwd=root, env=env, capture_output=True, text=True, timeout=600
                        )
                        if p.returncode != 0:
                            tail = p.stderr.strip().splitlines()[-1:] or ["failed"]
                            raise RuntimeError(tail[0])
                        rows.append(json.loads(p.stdout.strip().splitlines()[-1]))
                    except Exception as exc:  # reported, not fatal
                        rows.append(
                            {
                                "case": case,
                                "variant": variant,
                                "limit": limit,
                                "error": f"{type(exc).__name__}: {exc}"[:300],
                                "expected": CASES[case][1],
                            }
                        )
                    print(f"  memory {case}/{variant}: {rows[-1]}", file=sys.stderr, flush=True)
            with urllib.request.urlopen(f"{url[:-3]}/wire", timeout=30) as answer:
                wire = json.loads(answer.read())
            for row in rows:
                row["wire"] = wire.get(f"{row['case']}:{row['variant']}:{row.get('payload')}")
        finally:
            server.terminate()
            server.wait(10)
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--serve", action="store_true")
    ap.add_argument("--port-file", type=Path)
    ap.add_argument("--case", choices=list(CASES))
    ap.add_argument("--variant", choices=VARIANTS, default="plain")
    ap.add_argument("--limit", type=int, default=8 * 1024 * 1024)
    ap.add_argument("--url", default="")
    a = ap.parse_args()
    if a.serve:
        assert a.port_file is not None
        asyncio.run(_serve(a.port_file))
        return
    print(json.dumps(asyncio.run(_child(a.case, a.variant, a.limit, a.url))))


if __name__ == "__main__":
    main()
