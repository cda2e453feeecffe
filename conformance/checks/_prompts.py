"""Every prompt, tool and request builder the checks send, in one place.

Everything here is deterministic: temperature 0, a fixed seed, fixed tool-call ids in
synthetic histories, no timestamps or random values in a request. A recorded cassette
matches a request on its JSON body, so changing any text here means re-recording.
"""

from __future__ import annotations

import re
from typing import Any

__all__ = [
    "ARITHMETIC_PROMPT",
    "CAPITAL",
    "CAPITAL_SCHEMA",
    "COUNT_TO_5",
    "COUNT_TO_20",
    "FORECAST_TOOL",
    "FOREIGN_IDS",
    "LONG_STORY",
    "MARKUP_PATTERNS",
    "MCP_WEATHER_PROMPT",
    "PARALLEL_PROMPT",
    "SEED",
    "SHORT_STORY",
    "SYSTEM",
    "TIME_PROMPT",
    "TIME_TOOL",
    "UNICODE_CITY_PROMPT",
    "UNICODE_PROMPT",
    "UNICODE_TEXT",
    "UNKNOWN_MODEL",
    "WEATHER_PROMPT",
    "WEATHER_TOOL",
    "base_body",
    "find_markup",
    "message_text",
    "tool_history",
    "validate_schema",
]

SEED = 1
SYSTEM = (
    "You are a helpful assistant. Use the provided tools when useful. When a tool response "
    "is available, answer the user using it instead of calling the tool again."
)

# ---- prompts ---------------------------------------------------------------------------------
COUNT_TO_5 = "Count from 1 to 5, separated by commas. Reply with the numbers only."
COUNT_TO_20 = "Count from 1 to 20, separated by commas."
LONG_STORY = "Write a long story about a lighthouse keeper."
SHORT_STORY = "Write a short story about a lighthouse keeper, about ten sentences long."
CAPITAL = 'What is the capital of France? Reply as a JSON object with the key "capital".'
CAPITAL_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"capital": {"type": "string"}},
    "required": ["capital"],
    "additionalProperties": False,
}
ARITHMETIC_PROMPT = "What is 17 times 23? Think step by step, then give the answer."
UNICODE_TEXT = "你好, мир, café, 🌍🚀"
UNICODE_PROMPT = f"Repeat exactly this text and nothing else: {UNICODE_TEXT}"
WEATHER_PROMPT = "What is the weather in Paris? Use the get_weather tool."
PARALLEL_PROMPT = "What is the weather in Paris and in London? Call the tool once for each city."
TIME_PROMPT = "What time is it now? Use the get_time tool."
UNICODE_CITY_PROMPT = "What is the weather in São Paulo? Use the get_weather tool."
#: tools.mcp-round-trip: the in-process MCP server "weather" offers get_weather under this name
MCP_WEATHER_PROMPT = "What is the weather in Paris? Use the mcp__weather__get_weather tool."
#: A model id no server serves.
UNKNOWN_MODEL = "no-such-model-conformance-xyz"
#: Tool-call ids in the shapes other servers mint, for histories a server must accept.
FOREIGN_IDS = (
    "call_Zp4cQ0rXo1l8DnVb6sWt2yHk",
    "toolu_01A09q90qw90lq917835lq9",
    "functions.get_weather:0",
    "123456789",
)

# ---- tools -----------------------------------------------------------------------------------
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


def message_text(data: dict[str, Any], i: int = 0) -> str:
    """The text of choice ``i`` of a non-streamed response ("" when absent or null); content
    parts give their joined ``text``."""
    message = data["choices"][i].get("message")
    content = message.get("content") if isinstance(message, dict) else None
    if isinstance(content, list):
        return "".join(p["text"] for p in content if isinstance(p, dict)
                       and isinstance(p.get("text"), str))  # fmt: skip
    return content if isinstance(content, str) else ""
