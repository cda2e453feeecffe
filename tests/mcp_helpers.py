"""Shared pieces of the MCP tests: the test server's configs, a turn that calls tools,
and whether a process is still alive."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sse_server import chunk, sse, tool_call

SERVERS = Path(__file__).parent / "mcp_servers"
TOOLS_SERVER = str(SERVERS / "tools_server.py")


def stdio_config(pid_file: Path, **extra: Any) -> dict[str, Any]:
    """The tools server as a stdio subprocess that writes its pid to ``pid_file``."""
    return {"command": sys.executable, "args": [TOOLS_SERVER, "--pid-file", str(pid_file)]} | extra


def calls_turn(*calls: tuple[str, str, str]) -> bytes:
    """One streamed turn calling ``(id, name, arguments)``."""
    items: list[dict[str, Any]] = [chunk(role="assistant", content=None)]
    for index, (cid, name, args) in enumerate(calls):
        items.append(
            chunk(tool_calls=[tool_call(index, id=cid, type="function", name=name, arguments="")])
        )
        items.append(chunk(tool_calls=[tool_call(index, arguments=args)]))
    items.append(chunk(finish="tool_calls"))
    return sse(*items)


def alive(pid: int) -> bool:
    """Whether ``pid`` is a running process (a zombie is not)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with contextlib.suppress(OSError):
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        return state != "Z"
    return True


def read_pid(pid_file: Path) -> int:
    return int(pid_file.read_text())


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def http_server() -> Iterator[str]:
    """The tools server on streamable HTTP at 127.0.0.1 (a free port); yields its URL."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, TOOLS_SERVER, "http", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            with socket.socket() as sock:
                if sock.connect_ex(("127.0.0.1", port)) == 0:
                    break
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the MCP HTTP test server did not start")
            time.sleep(0.05)
        yield f"http://127.0.0.1:{port}/mcp"
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
