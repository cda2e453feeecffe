"""Server slots: one request limit per server, shared by every Client and query() in the
process (any thread, any event loop), so an agent fan-out queues on the client instead of
overloading a llama-server started with ``-np 2`` or an Ollama with ``OLLAMA_NUM_PARALLEL``.

A server is its ``base_url`` without the query (already normalised by AgentOptions). Waiters
are served first come, first served; each waits on its own event loop's future, handed a
slot from whichever thread releases one.
"""

from __future__ import annotations

import asyncio
import threading
from collections import deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from .._wire.credentials import redact_url, split_query
from ..errors import FirstTokenTimeoutError

__all__ = ["ServerSlots", "slots_for"]

_Waiter = tuple[asyncio.AbstractEventLoop, "asyncio.Future[None]"]


class ServerSlots:
    """At most ``limit`` requests in flight; the rest wait in order."""

    def __init__(self, url: str, limit: int) -> None:
        self.url = url
        self.limit = limit
        self.in_use = 0
        self._lock = threading.Lock()
        self._waiters: deque[_Waiter] = deque()

    @property
    def waiting(self) -> int:
        return len(self._waiters)

    def resize(self, limit: int) -> None:
        """A new limit (the latest caller's word): a larger one admits waiters at once."""
        with self._lock:
            self.limit = limit
        self._wake()

    @asynccontextmanager
    async def slot(self, wait_limit: float | None) -> AsyncIterator[None]:
        """Hold one slot for the body; wait at most ``wait_limit`` seconds for it."""
        await self.acquire(wait_limit)
        try:
            yield
        finally:
            self.release()

    async def acquire(self, wait_limit: float | None) -> None:
        """Take a slot, waiting at most ``wait_limit`` seconds (FirstTokenTimeoutError)."""
        loop = asyncio.get_running_loop()
        with self._lock:
            if self.in_use < self.limit and not self._waiters:
                self.in_use += 1
                return
            future: asyncio.Future[None] = loop.create_future()
            waiter = (loop, future)
            self._waiters.append(waiter)
        try:
            await asyncio.wait_for(asyncio.shield(future), wait_limit)
        except BaseException as exc:
            with self._lock:
                queued = waiter in self._waiters
                if queued:
                    self._waiters.remove(waiter)
            if not queued:
                # the slot was handed over (or is being): give it back
                if future.done() and not future.cancelled():
                    self.release()
                else:
                    future.cancel()  # _grant sees it and releases
            if isinstance(exc, asyncio.TimeoutError):
                raise FirstTokenTimeoutError(
                    f"no free slot at {redact_url(self.url)} within {wait_limit:g} s: "
                    f"{self.limit} request(s) in flight (max_concurrent_requests or the "
                    "server's total_slots)",
                    limit=float(wait_limit or 0),
                ) from None
            raise

    def release(self) -> None:
        with self._lock:
            self.in_use -= 1
        self._wake()

    def _wake(self) -> None:
        while True:
            with self._lock:
                if self.in_use >= self.limit or not self._waiters:
                    return
                loop, future = self._waiters.popleft()
                self.in_use += 1
            try:
                loop.call_soon_threadsafe(self._grant, future)
            except RuntimeError:  # that loop is closed: its waiter is gone
                with self._lock:
                    self.in_use -= 1

    def _grant(self, future: asyncio.Future[None]) -> None:
        if future.done():  # cancelled before the slot arrived
            self.release()
        else:
            future.set_result(None)


_registry: dict[str, ServerSlots] = {}
_registry_lock = threading.Lock()


def slots_for(base_url: str, limit: int) -> ServerSlots:
    """The process-wide slots of the server at ``base_url``, limited to ``limit``."""
    key = split_query(base_url)[0].rstrip("/")
    with _registry_lock:
        slots = _registry.get(key)
        if slots is None:
            slots = _registry[key] = ServerSlots(key, limit)
            return slots
    if slots.limit != limit:
        slots.resize(limit)
    return slots
