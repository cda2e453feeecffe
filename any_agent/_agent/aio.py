"""asyncio helpers shared by the agent and the wire: a sync call in a worker thread, and
the two questions an interrupt asks of the current task (is a cancellation pending? undo
the one the interrupt used)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

__all__ = ["call_in_thread", "describe_exception", "pending_cancellations", "uncancel"]


async def call_in_thread(function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Run a sync callable in a worker thread. A ``StopIteration`` it raises (``next()`` on
    an empty iterator) cannot cross into the awaiting future (asyncio would leave the
    await hanging for ever), so it comes back as a ``RuntimeError``."""

    def call() -> Any:
        try:
            return function(*args, **kwargs)
        except StopIteration as exc:
            raise RuntimeError(f"StopIteration raised inside {function!r}") from exc

    return await asyncio.to_thread(call)


def describe_exception(exc: BaseException) -> str:
    """``Type: message`` for an error fed back to the model, even when ``str(exc)`` fails."""
    try:
        text = str(exc)
    except Exception:
        text = "(the exception's message could not be rendered)"
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def pending_cancellations() -> int | None:
    """How many cancellations of the current task are pending; None where asyncio cannot
    tell (Python 3.10)."""
    cancelling = getattr(asyncio.current_task(), "cancelling", None)  # Python 3.11+
    return None if cancelling is None else int(cancelling())


def uncancel() -> None:
    """Python 3.11+: undo one cancellation of the current task (the one an interrupt or a
    deadline used), so the task lives on; a no-op when none is pending or on 3.10."""
    task = asyncio.current_task()
    if task is not None and hasattr(task, "uncancel"):
        task.uncancel()
