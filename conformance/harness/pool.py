"""Live mode: several of one column's checks at once, up to the server's slots.

pytest still reports the items one by one, in catalogue order; with ``Target.concurrency``
above 1 the first item of a column hands every replayable check of the column to a pool of
that many threads (each check runs its own event loop, as it does serially), and each item
then reports its check's result. A timing check (``replayable=False``) measures the server
alone, and so does a check marked ``alone`` (the prompt-cache check, whose second request
must follow its first): it waits until the pool has nothing left, then runs by itself.
Record and replay never get here (``Settings.concurrency_for`` is 1 there: vcrpy patches the
whole process).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor, wait
from concurrent.futures import TimeoutError as FutureTimeout

from ..catalogue.checks import Check
from ..results import CheckResult, Layer
from .runner import Column, check_deadline, run_item

__all__ = ["ColumnPool"]


class ColumnPool:
    """One column's replayable checks, started at once, at most ``concurrency`` running."""

    def __init__(self, column: Column, items: Sequence[tuple[Check, Layer]]) -> None:
        self.column = column
        target = column.target
        if column.started is None:
            column.started = time.perf_counter()
        column.shared_responses()  # made once, before the threads that use it start
        self._executor = ThreadPoolExecutor(
            max_workers=max(1, target.concurrency), thread_name_prefix="conformance-check"
        )
        # a check is bounded by its tries, each by its deadline (runner.check_deadline)
        self.per_check_s = check_deadline(target.request_timeout) * max(1, target.flaky_tries) + 30
        self._futures: dict[tuple[str, Layer], Future[CheckResult]] = {}
        for check, layer in items:
            if check.replayable and not check.alone and (check.id, layer) not in self._futures:
                self._futures[(check.id, layer)] = self._executor.submit(
                    run_item, check, layer, column
                )
        self._bound = self.per_check_s * max(1, len(self._futures))

    def result(self, check: Check, layer: Layer) -> CheckResult:
        """The check's result: from the pool, or (a timing check, or one the pool was not
        given) run here once nothing else of the column is running."""
        future = self._futures.pop((check.id, layer), None)
        if future is None:
            self._drain()
            return run_item(check, layer, self.column)
        try:
            return future.result(timeout=self._bound)
        except FutureTimeout:
            return _unfinished(check, layer, self._bound)

    def _drain(self) -> None:
        pending = [f for f in self._futures.values() if not f.done()]
        if pending:
            wait(pending, timeout=self._bound)

    def close(self) -> None:
        """Drop checks not started (a session stopped early); running ones end by their
        own timeouts."""
        self._executor.shutdown(wait=False, cancel_futures=True)


def _unfinished(check: Check, layer: Layer, bound: float) -> CheckResult:
    return CheckResult(
        check=check.id,
        layer=layer,
        outcome="error",
        level=check.level,
        area=check.area,
        title=check.title,
        message=f"the check did not finish within {bound:g} s (--concurrency)",
    )
