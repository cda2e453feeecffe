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
from .servers import Profile

__all__ = ["assistant_entry", "checked_history", "to_request_messages"]

_ALNUM = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"


def assistant_entry(text: str, calls: Sequence[ToolUseBlock | ToolUseError]) -> dict[str, Any]:
    """The history entry for one assistant turn (arguments kept as the model wrote them)."""
    entry: dict[str, Any] = {"role": "assistant", "content": text}
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


def to_request_messages(
    history: Sequence[dict[str, Any]], system_prompt: str | None, profile: Profile
) -> list[dict[str, Any]]:
    """Build the request's ``messages`` from history for a server with ``profile``."""
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
            body.append(out)
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
        try:
            out.append(orjson.loads(orjson.dumps(dict(message))))
        except (orjson.JSONEncodeError, TypeError) as exc:
            raise ConfigurationError(f"history[{i}] is not JSON data: {exc}") from None
    return out
