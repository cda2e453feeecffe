"""Attacks on issue 18's evidence (attacker-fixer, session 4).

An excerpt of a long conversation keeps its end: the last messages are where a multi-turn
check failed (the answer to the tool result, the error), so a shortened list keeps its head
and its tail, never only its head.
"""

from __future__ import annotations

import json

from conformance.harness.context import SDKRun, _sdk_excerpt, _short


def _conversation(n: int) -> list[dict[str, str]]:
    return [{"role": "user", "content": f"message {i}"} for i in range(n)]


def test_a_shortened_request_keeps_its_last_message() -> None:
    messages = _short({"messages": _conversation(12)})["messages"]
    assert messages[0] == {"role": "user", "content": "message 0"}
    assert messages[-1] == {"role": "user", "content": "message 11"}
    assert any("12 items" in str(m) for m in messages)
    assert len(messages) <= 9


def test_the_sdk_excerpt_shows_the_end_of_the_conversation() -> None:
    history = json.loads(_sdk_excerpt(SDKRun(), _conversation(20)))["history"]
    assert history[-1]["content"] == "message 19"
