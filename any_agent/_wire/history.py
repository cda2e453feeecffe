"""Conversation history (plain OpenAI-format dicts) → the ``messages`` a server accepts.

History keeps exactly what the caller saw (ids, raw arguments); this module makes a safe
wire copy of it: one leading system message, replayed arguments that are valid JSON,
string ``content`` on tool-call turns, and tool-call ids unique across the conversation
(and rewritten to 9 alphanumerics for Mistral-family templates).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from typing import Any

import orjson

from ..errors import ConfigurationError
from ..types import ToolUseBlock, ToolUseError
from . import jsontext
from .servers import Profile, ReasoningReplay

__all__ = [
    "REASONING_KEY",
    "assistant_entry",
    "checked_history",
    "reasoning_of",
    "to_request_messages",
]

#: the history key an assistant turn's reasoning is kept under (``reasoning`` is read too:
#: histories saved by other tools)
REASONING_KEY = "reasoning_content"
_REASONING_KEYS = (REASONING_KEY, "reasoning")

_ALNUM = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"


def assistant_entry(
    text: str, calls: Sequence[ToolUseBlock | ToolUseError], reasoning: str = ""
) -> dict[str, Any]:
    """The history entry for one assistant turn (arguments kept as the model wrote them;
    its reasoning, if any, as ``reasoning_content``, whatever field or tags it came in)."""
    entry: dict[str, Any] = {"role": "assistant", "content": text}
    if reasoning:
        entry[REASONING_KEY] = reasoning
    if calls:
        entry["tool_calls"] = [
            {
                "id": c.id,
                "type": "function",
                "function": {
                    "name": c.name,
                    # exact: a 20-digit order id must replay as the model wrote it
                    "arguments": jsontext.dumps(c.input)
                    if isinstance(c, ToolUseBlock)
                    else c.raw_arguments,
                },
            }
            for c in calls
        ]
    return entry


def _alnum9(value: str) -> str:
    digest = hashlib.sha256(value.encode()).digest()
    return "".join(_ALNUM[b % len(_ALNUM)] for b in digest[:9])


def _valid_arguments(raw: Any) -> str:
    if isinstance(raw, dict):
        try:
            return jsontext.dumps(raw)
        except ValueError:
            return "{}"
    if isinstance(raw, str):
        try:  # exact, as the call was parsed: a 1,000-digit integer is valid JSON
            if isinstance(jsontext.loads(raw), dict):
                return raw
        except ValueError:
            pass
    return "{}"


def reasoning_of(entry: Mapping[str, Any]) -> str:
    """The reasoning kept on an assistant history entry ("" when none)."""
    for key in _REASONING_KEYS:
        value = entry.get(key)
        if isinstance(value, str) and value:
            return value
    return ""


def _replayed(out: dict[str, Any], reasoning: str, replay: ReasoningReplay) -> dict[str, Any]:
    """``out`` (a wire assistant message) with ``reasoning`` sent back as ``replay`` says."""
    if not reasoning or replay == "off":
        return out
    if replay == "tags":
        # the shape Qwen/DeepSeek templates render reasoning in, so it tokenizes as generated
        out["content"] = f"<think>\n{reasoning}\n</think>\n\n{out.get('content') or ''}"
    else:
        out[replay] = reasoning
    return out


def to_request_messages(
    history: Sequence[dict[str, Any]],
    system_prompt: str | None,
    profile: Profile,
    replay: ReasoningReplay = "off",
) -> list[dict[str, Any]]:
    """Build the request's ``messages`` from history for a server with ``profile``;
    assistant reasoning is sent back as ``replay`` says (``"off"``: not at all)."""
    systems = [system_prompt] if system_prompt else []
    body: list[dict[str, Any]] = []
    id_map: dict[str, str] = {}
    used: set[str] = set()

    def wire_id(original: str) -> str:
        new = original
        if profile.tool_call_ids == "alnum9":
            new = _alnum9(original)
        while new in used:
            new = _alnum9(new + "'") if profile.tool_call_ids == "alnum9" else f"{new}_"
        used.add(new)
        return new

    # Images a tool returned: a tool message's content is text on most servers (OpenAI's
    # own API takes only text parts there; llama.cpp and Ollama read images from user
    # messages), so they follow the run of tool messages as one user message.
    tool_images: list[tuple[str, list[Any]]] = []

    def flush_images() -> None:
        if not tool_images:
            return
        parts: list[Any] = []
        for wire, images in tool_images:
            parts.append({"type": "text", "text": f"Images returned by tool call {wire}:"})
            parts.extend(images)
        tool_images.clear()
        body.append({"role": "user", "content": parts})

    for entry in history:
        role = entry.get("role")
        if role in ("system", "developer"):
            content = entry.get("content")
            if isinstance(content, str) and content:
                systems.append(content)
            continue
        if role != "tool":
            flush_images()
        if role == "assistant" and entry.get("tool_calls"):
            calls = []
            for call in entry["tool_calls"]:
                fn = call.get("function", {})
                new_id = wire_id(str(call.get("id", "")))
                id_map[str(call.get("id", ""))] = new_id
                calls.append(
                    {
                        "id": new_id,
                        "type": "function",
                        "function": {
                            "name": fn.get("name", ""),
                            "arguments": _valid_arguments(fn.get("arguments")),
                        },
                    }
                )
            content = entry.get("content") or ""
            out: dict[str, Any] = {"role": "assistant", "tool_calls": calls}
            out["content"] = (
                None if (profile.assistant_tool_content == "null" and not content) else content
            )
            body.append(_replayed(out, reasoning_of(entry), replay))
        elif role == "tool":
            original = str(entry.get("tool_call_id", ""))
            content = entry.get("content", "")
            wire = id_map.get(original, original)
            body.append(
                {
                    "role": "tool",
                    "tool_call_id": wire,
                    "content": content
                    if isinstance(content, str)
                    else orjson.dumps(content).decode(),
                }
            )
            images = entry.get("images")
            if isinstance(images, list) and images:
                tool_images.append((wire, images))
            # its images wait for the end of this run of tool messages
        elif role == "assistant":
            plain = {k: v for k, v in entry.items() if k in ("role", "content", "name")}
            body.append(_replayed(plain, reasoning_of(entry), replay))
        else:
            body.append({k: v for k, v in entry.items() if k in ("role", "content", "name")})
    flush_images()
    if systems:
        body.insert(0, {"role": "system", "content": "\n\n".join(systems)})
    return body


_ROLES = ("system", "developer", "user", "assistant", "tool")


def checked_history(history: Any) -> list[dict[str, Any]]:
    """A private copy of a saved history; a wrong shape is named here, not by the server."""
    if history is None:
        return []
    if isinstance(history, (str, bytes, Mapping)) or not isinstance(history, Sequence):
        raise ConfigurationError(
            "history must be a list of OpenAI message dicts (as client.history returns), "
            f"got {type(history).__name__}"
        )
    out: list[dict[str, Any]] = []
    for i, message in enumerate(history):
        if not isinstance(message, Mapping):
            raise ConfigurationError(
                f"history[{i}] must be a message dict, got {type(message).__name__}"
            )
        role = message.get("role")
        if role not in _ROLES:
            raise ConfigurationError(
                f"history[{i}] has role {role!r}; expected one of {', '.join(_ROLES)}"
            )
        for key in _REASONING_KEYS:
            value = message.get(key)
            if value is not None and not isinstance(value, str):
                raise ConfigurationError(
                    f"history[{i}].{key} must be a string (the turn's reasoning), "
                    f"got {type(value).__name__}"
                )
        try:
            out.append(orjson.loads(orjson.dumps(dict(message))))
        except (orjson.JSONEncodeError, TypeError) as exc:
            raise ConfigurationError(f"history[{i}] is not JSON data: {exc}") from None
    return out
