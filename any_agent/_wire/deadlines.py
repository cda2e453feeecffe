"""The one owner of a request's deadlines: first token, idle between events, overall.

:class:`Watchdog` is created per model request (``_agent/turn.py``), armed and disarmed
around each network read (``http.py``), told decoder facts (the first event, the finish
reason) by the turn, and interrupted by ``Client.interrupt``. On expiry it cancels the
reading task; :meth:`Watchdog.error` is the timeout error that cancellation becomes.
"""

from __future__ import annotations

import asyncio

from ..errors import (
    AnyAgentError,
    FirstTokenTimeoutError,
    IdleTimeoutError,
    OverallTimeoutError,
)

__all__ = ["Watchdog"]


class Watchdog:
    """Enforces first-token, idle and overall deadlines with one timer, not one per chunk.

    The timer only acts while the reader is waiting on the network (``arm``/``disarm``),
    so a slow consumer is never mistaken for a slow server. On expiry it cancels the
    reading task; the reader turns that cancellation into the matching timeout error. An
    overall deadline that passes while the caller's own code runs never cancels that code:
    the next ``arm`` raises the timeout instead.
    """

    __slots__ = (
        "_first",
        "_handle",
        "_idle",
        "_loop",
        "_overall",
        "_since",
        "_start",
        "_task",
        "_waiting",
        "_when",
        "finished",
        "fired",
        "got_first",
    )

    def __init__(self, first: float | None, idle: float | None, overall: float | None) -> None:
        self._loop = asyncio.get_running_loop()
        self._task = asyncio.current_task()
        self._first, self._idle, self._overall = first, idle, overall
        self._start = self._since = self._loop.time()
        self._waiting = False
        self.got_first = False
        self.finished = False  # the model finished; only optional trailers may follow
        self.fired: str | None = None
        self._handle: asyncio.TimerHandle | None = None
        self._when = float("inf")
        self._schedule()

    def _deadline(self) -> tuple[float, str] | None:
        candidates: list[tuple[float, str]] = []
        if self._overall is not None:
            candidates.append((self._start + self._overall, "overall"))
        if self._waiting:
            if not self.got_first and self._first is not None:
                candidates.append((self._since + self._first, "first_token"))
            elif self.got_first and self._idle is not None:
                candidates.append((self._since + self._idle, "idle"))
        return min(candidates) if candidates else None

    def _schedule(self) -> None:
        deadline = self._deadline()
        if deadline is None:
            self._when = float("inf")
            return
        self._when = deadline[0]
        self._handle = self._loop.call_at(self._when, self._check)

    def _check(self) -> None:
        self._handle = None
        deadline = self._deadline()
        if deadline and self._loop.time() >= deadline[0] - 1e-3:
            self.fired = "finished" if self.finished and deadline[1] == "idle" else deadline[1]
            if self._waiting and self._task is not None:
                self._task.cancel()
            return
        self._schedule()

    def finishing(self, grace: float) -> None:
        """The finish_reason has arrived: after ``grace`` seconds of silence the stream counts
        as ended (``fired == "finished"``), not as an idle timeout."""
        self.finished = True
        if self._idle is None or self._idle > grace:
            self._idle = grace

    def remaining(self) -> float | None:
        """Seconds left before the overall deadline (None: no overall timeout)."""
        if self._overall is None:
            return None
        return max(0.0, self._start + self._overall - self._loop.time())

    def check_overall(self) -> None:
        """Raise the overall timeout if it has passed (between slices of long work on the
        event loop, where the timer cannot run)."""
        if self._overall is not None and self._loop.time() >= self._start + self._overall:
            self.fired = "overall"
            raise self.error()

    def arm(self) -> None:
        """The reader starts waiting on the network (one float compare on the hot path)."""
        if self.fired == "overall":
            raise self.error()  # it passed while the caller was busy
        now = self._loop.time()
        self._since = now
        self._waiting = True
        limit = self._idle if self.got_first else self._first
        if limit is not None and self._when > now + limit:
            if self._handle is not None:
                self._handle.cancel()
            self._schedule()

    def disarm(self) -> None:
        self._waiting = False

    def interrupt(self) -> None:
        """Stop the reader now (Client.interrupt from another task)."""
        self.fired = "interrupt"
        if self._waiting and self._task is not None:
            self._task.cancel()

    def cancel(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None

    def error(self) -> AnyAgentError:
        kind = self.fired
        if kind == "first_token":
            assert self._first is not None
            return FirstTokenTimeoutError(
                f"no response from the server within first_token_timeout={self._first:g}s "
                "(is the model still loading? raise first_token_timeout for cold starts)",
                limit=self._first,
            )
        if kind == "idle":
            assert self._idle is not None
            return IdleTimeoutError(
                f"the stream went silent for more than idle_timeout={self._idle:g}s",
                limit=self._idle,
            )
        assert self._overall is not None
        return OverallTimeoutError(
            f"the request took longer than timeout={self._overall:g}s", limit=self._overall
        )
