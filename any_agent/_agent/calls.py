"""The tool-call ledger of one conversation: every call the model made is open, then
answered (by a tool, a hook, the caller or the ``max_tool_calls`` refusal), then closed
into the history as a ``tool`` message. A call is run at most once and every call gets a
result: an unanswered one is closed with a placeholder error.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from ..errors import ToolResultError
from ..tools import result_to_text
from ..types import ImageBlock, ToolUseBlock, ToolUseError

__all__ = [
    "CallLedger",
    "ToolOutcome",
    "disallowed_result",
    "malformed_call_result",
    "over_limit_result",
]

# (tool_use_id, content, is_error, images the tool returned besides its text)
ToolOutcome = tuple[str, str, bool, tuple[ImageBlock, ...]]
Call = ToolUseBlock | ToolUseError


def malformed_call_result(call: ToolUseError) -> str:
    """What the model is told about a call whose arguments could not be parsed."""
    return (
        f"Error: the arguments were not valid JSON ({call.error}). "
        "Call the tool again with a JSON object."
    )


def over_limit_result(made: int, limit: int) -> str:
    """What the model is told about a call beyond ``max_tool_calls`` (it was not run)."""
    return (
        f"Error: not run: the response made {made} tool calls; at most "
        f"max_tool_calls={limit} run per turn. Call fewer tools at once."
    )


def disallowed_result(name: str) -> str:
    """What the model is told about a call to a tool in ``disallowed_tools`` (not run)."""
    return f"Permission denied: the tool {name!r} is disallowed"


class CallLedger:
    """Open calls, their answers, the ids already run and those refused as over the limit."""

    def __init__(self, max_tool_calls: int, disallowed_tools: Sequence[str] = ()) -> None:
        self._max_calls = max_tool_calls
        # calls naming these are refused here, in manual mode too: never left to the caller
        self._disallowed = frozenset(disallowed_tools)
        self.open: dict[str, Call] = {}
        self.results: dict[str, tuple[str, bool]] = {}
        self.executed: set[str] = set()
        self.refused: set[str] = set()  # ids answered with the max_tool_calls error
        #: image content parts a call's tool returned, kept beside its tool message
        self.images: dict[str, list[dict[str, Any]]] = {}

    def opened(self, calls: Sequence[Call]) -> None:
        """A response made ``calls``: answerable as soon as the caller sees them. Those
        beyond ``max_tool_calls`` are refused now, so the caller cannot answer one before
        :meth:`refuse_over_limit` gives it its error result."""
        self.refused.update(c.id for c in calls[self._max_calls :])
        for call in calls:
            self.open[call.id] = call

    def answer(self, tool_use_id: str, result: Any, is_error: bool) -> None:
        """The caller's result for an open call (``Client.add_tool_result``)."""
        if tool_use_id not in self.open:
            known = ", ".join(sorted(self.open)) or "none"
            raise ToolResultError(
                f"no open tool call with id {tool_use_id!r} (open calls: {known})"
            )
        call = self.open[tool_use_id]
        if isinstance(call, ToolUseBlock) and call.name in self._disallowed:
            raise ToolResultError(
                f"tool call {tool_use_id!r} names {call.name!r}, which is in disallowed_tools; "
                "it is refused and not run"
            )
        if tool_use_id in self.refused:
            raise ToolResultError(
                f"tool call {tool_use_id!r} was beyond max_tool_calls="
                f"{self._max_calls} and already has an error result; it is not run"
            )
        self.results[tool_use_id] = (result_to_text(result), bool(is_error))

    def record(self, outcomes: Sequence[ToolOutcome]) -> None:
        """Results of calls run here; a result the caller already gave is kept."""
        for call_id, text, is_error, _images in outcomes:
            self.results.setdefault(call_id, (text, is_error))

    def answered(self, calls: Sequence[Call]) -> bool:
        """Whether every well-formed call has a result (else the caller must answer)."""
        return all(c.id in self.results for c in calls if isinstance(c, ToolUseBlock))

    def refuse_over_limit(self, calls: Sequence[Call]) -> list[ToolOutcome]:
        """Error results for the calls beyond ``max_tool_calls`` not yet answered."""
        over = [c for c in calls[self._max_calls :] if c.id not in self.executed]
        refused: list[ToolOutcome] = [
            (c.id, over_limit_result(len(calls), self._max_calls), True, ()) for c in over
        ]
        for call in over:
            self.executed.add(call.id)
            self.refused.add(call.id)
        return refused

    def refuse_disallowed(self, calls: Sequence[Call]) -> list[ToolOutcome]:
        """Error results for the calls within the limit that name a disallowed tool (it was
        never offered): whoever would run them, the SDK or the caller, never does."""
        denied = [
            c
            for c in calls[: self._max_calls]
            if isinstance(c, ToolUseBlock)
            and c.name in self._disallowed
            and c.id not in self.executed
        ]
        for call in denied:
            self.executed.add(call.id)
        return [(c.id, disallowed_result(c.name), True, ()) for c in denied]

    def claim(self, calls: Sequence[Call], runs_here: Callable[[str], bool]) -> list[Call]:
        """The calls within the limit to run now, marked executed before they run: a
        failure must never re-run one."""
        todo = [
            c for c in calls[: self._max_calls] if c.id not in self.executed and runs_here(c.name)
        ]
        for call in todo:
            self.executed.add(call.id)
        return todo

    def close(self, history: list[dict[str, Any]]) -> None:
        """Append tool results for the open calls (placeholders for unanswered ones)."""
        if not self.open:
            return
        for call_id, call in self.open.items():
            text, is_error = self.results.pop(call_id, (None, True))
            if text is None:
                if isinstance(call, ToolUseError):
                    text = malformed_call_result(call)
                else:
                    text = "Error: no result was provided for this tool call."
            elif is_error and not text.lower().startswith("error"):
                text = f"Error: {text}"  # the wire has no is_error flag; say it in words
            entry: dict[str, Any] = {"role": "tool", "tool_call_id": call_id, "content": text}
            images = self.images.pop(call_id, None)
            if images:
                entry["images"] = images  # sent after the tool messages (_wire/history.py)
            history.append(entry)
            self.executed.add(call_id)
        self.open.clear()
