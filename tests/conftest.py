"""Shared fixtures. ``sse_server`` is a scripted OpenAI-compatible server on 127.0.0.1
(see :mod:`tests.sse_server`); it runs in its own thread, so sync and async tests can use it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sse_server import Scenario, SSEServer


@pytest.fixture
def sse_server() -> Iterator[SSEServer]:
    """A fresh server per test; ``sse_server.url`` is the base URL (``.../v1``)."""
    server = SSEServer().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def script(sse_server: SSEServer) -> Scenario:
    """The server's reply queue: ``script.stream(...)``, ``script.json(...)``, ..."""
    return sse_server.script
