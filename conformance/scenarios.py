"""Fixed prompts, tools and request builders shared by the checks.

Everything here is deterministic: temperature 0, a fixed seed, fixed tool-call ids in
synthetic histories, no timestamps or random values in a request. A recorded cassette
matches a request on its JSON body, so changing any text here means re-recording.
"""

from __future__ import annotations

import re
from typing import Any

__all__ = [
    "FORECAST_TOOL",
    "MARKUP_PATTERNS",
    "SEED",
    "SYSTEM",
    "TIME_TOOL",
    "WEATHER_TOOL",
    "base_body",
    "find_markup",
    "tool_history",
    "validate_schema",
]

SEED = 1
SYSTEM = (
    "You are a helpful assistant. Use the provided tools when useful. When a tool response "
    "is available, answer the user using it instead of calling the tool again."
)

WEATHER_TOOL: dict[str, Any] = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Get the current weather for a city",
        "parameters": {
            "type": "object",
            "properties": {
                "city": {"type": "string", "description": "City name, e.g. Paris"},
                "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
            },
            "required": ["city"],
        },
    },
}
FORECAST_TOOL: dict[str, Any] = {
    "type": "function",
    "function": {
        "name": "get_forecast",
        "description": "Get the weather forecast for a city for the next days",
        "parameters": {
            "type": "object",
            "properties": {
                "city": {"type": "string", "description": "City name"},
                "days": {"type": "integer", "description": "Number of days, 1 to 7"},
            },
            "required": ["city"],
        },
    },
}
TIME_TOOL: dict[str, Any] = {
    "type": "function",
    "function": {
        "name": "get_time",
        "description": "Get the current time. Takes no arguments.",
        "parameters": {"type": "object", "properties": {}},
    },
}
TOOLS_BY_NAME = {t["function"]["name"]: t for t in (WEATHER_TOOL, FORECAST_TOOL, TIME_TOOL)}


def base_body(
    model: str,
    prompt: str | list[dict[str, Any]],
    *,
    stream: bool = False,
    max_tokens: int | None = 48,
    system: str | None = SYSTEM,
    **extra: Any,
) -> dict[str, Any]:
    """A chat-completions body: system + user (or the given messages), temperature 0, seed."""
    if isinstance(prompt, str):
        messages: list[dict[str, Any]] = []
        if system is not None:
            messages.append({"role": "system", "content": system})
        messages.append({"role": "user", "content": prompt})
    else:
        messages = prompt
    body: dict[str, Any] = {
        "model": model,
        "messages": messages,
        "temperature": 0,
        "seed": SEED,
    }
    if max_tokens is not None:
        body["max_tokens"] = max_tokens
    if stream:
        body["stream"] = True
    body.update(extra)
    return body


def tool_history(
    *,
    call_id: str = "call_weather_0001",
    arguments: str = '{"city": "Paris"}',
    content: Any = None,
    omit_content: bool = False,
    tool_content: Any = '{"city": "Paris", "temperature_c": 21, "sky": "sunny"}',
) -> list[dict[str, Any]]:
    """user → assistant(tool_calls) → tool: the canonical round trip, shape adjustable."""
    assistant: dict[str, Any] = {
        "role": "assistant",
        "tool_calls": [
            {
                "id": call_id,
                "type": "function",
                "function": {"name": "get_weather", "arguments": arguments},
            }
        ],
    }
    if not omit_content:
        assistant["content"] = content
    return [
        {"role": "system", "content": SYSTEM},
        {"role": "user", "content": "What is the weather in Paris?"},
        assistant,
        {"role": "tool", "tool_call_id": call_id, "content": tool_content},
    ]


#: Tool-call markup that must not reach ``content`` (name, regex).
MARKUP_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("<tool_call>", re.compile(r"</?tool_call>")),
    ("<tools>", re.compile(r"</?tools>")),
    ("[TOOL_REQUEST]", re.compile(r"\[/?(?:END_)?TOOL_REQUEST\]")),
    ("[TOOL_CALLS]", re.compile(r"\[TOOL_CALLS\]")),
    ("<|python_tag|>", re.compile(r"<\|python_tag\|>")),
    ("<|tool_call_start|>", re.compile(r"<\|tool_calls?(?:_section)?_(?:begin|start)\|>")),
    ("<function=", re.compile(r"<function=")),
    ("<|channel|>", re.compile(r"<\|channel\|>")),
    (
        "raw call JSON",
        re.compile(r"\{\s*\"name\"\s*:\s*\"(?:get_weather|get_forecast|get_time)\""),
    ),
)
THINK_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("<think>", re.compile(r"</?think>")),
    ("<|channel|>", re.compile(r"<\|channel\|>|<\|start\|>assistant")),
)


def find_markup(
    text: str, patterns: tuple[tuple[str, re.Pattern[str]], ...] = MARKUP_PATTERNS
) -> list[str]:
    return [name for name, rx in patterns if rx.search(text or "")]


_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
    "object": (dict,),
    "array": (list,),
    "null": (type(None),),
}


def validate_schema(instance: Any, schema: dict[str, Any], path: str = "$") -> list[str]:
    """Validate against the JSON-schema subset tools use; returns the problems found."""
    errors: list[str] = []
    types = schema.get("type")
    if types is not None:
        names = types if isinstance(types, list) else [types]
        ok = False
        for name in names:
            py = _TYPES.get(name)
            if py is None:
                ok = True
                break
            if isinstance(instance, bool) and name in ("integer", "number"):
                continue
            if isinstance(instance, py):
                ok = True
                break
        if not ok:
            return [f"{path}: expected {'/'.join(names)}, got {type(instance).__name__}"]
    if "enum" in schema and instance not in schema["enum"]:
        errors.append(f"{path}: {instance!r} not in {schema['enum']!r}")
    if isinstance(instance, dict):
        props: dict[str, Any] = schema.get("properties") or {}
        for key in schema.get("required") or []:
            if key not in instance:
                errors.append(f"{path}: missing required {key!r}")
        for key, value in instance.items():
            if key in props:
                errors.extend(validate_schema(value, props[key], f"{path}.{key}"))
            elif schema.get("additionalProperties") is False:
                errors.append(f"{path}: unexpected property {key!r}")
    if isinstance(instance, list) and isinstance(schema.get("items"), dict):
        for i, item in enumerate(instance):
            errors.extend(validate_schema(item, schema["items"], f"{path}[{i}]"))
    return errors
