"""The stdio transport, our own: the ``mcp`` package's reads a line of any length and
logs garbage instead of failing. Here every line is bounded by ``max_mcp_message_bytes``,
a line that is not JSON-RPC ends the connection with the reason, an exit is noticed at
once, and the process group is always ended (stdin closed, SIGTERM, then SIGKILL)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
from collections.abc import AsyncIterator, Callable
from typing import Any

from ..errors import clip
from .compat import message_json, parse_message, session_message
from .config import StdioSpec

__all__ = ["stdio_transport"]

_READ = 65536
#: how long a server may take to exit after its stdin closes, then after SIGTERM
_GRACE_SECONDS = 2.0


def _environment(extra: dict[str, str] | None) -> dict[str, str]:
    try:
        from mcp.client.stdio import get_default_environment

        env = dict(get_default_environment())
    except ImportError:  # pragma: no cover - the extra is installed where this runs
        env = {k: v for k, v in os.environ.items() if k in ("HOME", "PATH", "LANG", "TMPDIR")}
    env.update(extra or {})
    return env


def _signal_group(process: asyncio.subprocess.Process, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError, OSError):
        if sys.platform == "win32":  # pragma: no cover
            process.kill()
        else:
            os.killpg(process.pid, sig)


async def _drain(process: asyncio.subprocess.Process) -> None:
    if process.stdout is not None and process.returncode is not None:
        while await process.stdout.read(_READ):
            pass


async def _end(process: asyncio.subprocess.Process) -> None:
    """Stop the server: close its stdin, then SIGTERM, then SIGKILL its process group."""
    try:
        if process.stdin is not None and not process.stdin.is_closing():
            process.stdin.close()
        for sig in (signal.SIGTERM, signal.SIGKILL):
            if process.returncode is None:
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(process.wait(), _GRACE_SECONDS)
            if process.returncode is not None:
                break
            _signal_group(process, sig)
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(process.wait(), _GRACE_SECONDS)
        with contextlib.suppress(asyncio.TimeoutError, OSError):
            # read what a dead server left in the pipe (reading stopped at a bound): only
            # then does asyncio see the pipe's end and release the process's transport
            await asyncio.wait_for(_drain(process), _GRACE_SECONDS)
    except BaseException:
        _signal_group(process, signal.SIGKILL)  # cancelled while ending it: no survivor
        raise
    finally:
        _signal_group(process, signal.SIGKILL)  # children the server left behind


@contextlib.asynccontextmanager
async def stdio_transport(
    spec: StdioSpec, max_bytes: int, fail: Callable[[str], None], started: Callable[[int], None]
) -> AsyncIterator[tuple[Any, Any]]:
    """Start the server and yield the (read, write) streams a ClientSession takes.

    ``fail(reason)`` is called once when the connection breaks (exit, garbage, a line over
    ``max_bytes``, a broken pipe); ``started(pid)`` when the process runs."""
    import anyio

    process = await asyncio.create_subprocess_exec(
        spec.command,
        *spec.args,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        env=_environment(dict(spec.env) if spec.env is not None else None),
        start_new_session=sys.platform != "win32",  # its own group: the whole tree is ended
    )
    started(process.pid)
    to_session, read_stream = anyio.create_memory_object_stream[Any](16)
    write_stream, from_session = anyio.create_memory_object_stream[Any](16)
    closing = False

    async def read() -> None:
        assert process.stdout is not None
        held = bytearray()
        try:
            while True:
                chunk = await process.stdout.read(_READ)
                if not chunk:
                    break
                start = 0
                while True:
                    end = chunk.find(b"\n", start)
                    piece = chunk[start:] if end < 0 else chunk[start:end]
                    if len(held) + len(piece) > max_bytes:
                        fail(
                            f"sent a message longer than max_mcp_message_bytes={max_bytes}; "
                            "raise AgentOptions.max_mcp_message_bytes if the server is trusted"
                        )
                        return
                    held += piece
                    if end < 0:
                        break
                    start = end + 1
                    line = bytes(held).strip()
                    held.clear()
                    if not line:
                        continue
                    try:
                        message = parse_message(line)
                    except ValueError:
                        text = line[:200].decode("utf-8", "replace")
                        fail(f"wrote bytes that are not JSON-RPC to stdout: {clip(text, 200)!r}")
                        return
                    await to_session.send(session_message(message))
            if not closing:
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(process.wait(), 1.0)
                fail(f"the server process exited (exit code {process.returncode})")
        except (anyio.ClosedResourceError, anyio.BrokenResourceError):
            pass
        except OSError as exc:
            if not closing:
                fail(f"reading its stdout failed: {exc}")
        finally:
            await to_session.aclose()

    async def write() -> None:
        assert process.stdin is not None
        try:
            async for item in from_session:
                process.stdin.write((message_json(item.message) + "\n").encode("utf-8"))
                await process.stdin.drain()
        except (OSError, anyio.ClosedResourceError, anyio.BrokenResourceError) as exc:
            if not closing:
                fail(f"writing to its stdin failed: {type(exc).__name__}: {exc}")
                await to_session.aclose()

    tasks = [asyncio.ensure_future(read()), asyncio.ensure_future(write())]
    try:
        yield read_stream, write_stream
    finally:
        closing = True
        for task in tasks:
            task.cancel()
        await _end(process)
        await asyncio.gather(*tasks, return_exceptions=True)
        for stream in (read_stream, write_stream, to_session, from_session):
            await stream.aclose()
