"""Every prompt, tool and request builder the checks send, in one place.

Everything here is deterministic: temperature 0, a fixed seed, fixed tool-call ids in
synthetic histories, no timestamps or random values in a request. A recorded cassette
matches a request on its JSON body, so changing any text here means re-recording.
"""

from __future__ import annotations

import re
from typing import Any

__all__ = [
    "ANSWER_SCHEMA",
    "ARITHMETIC_PROMPT",
    "CAPITAL",
    "CAPITAL_SCHEMA",
    "CONTROL_REPEAT",
    "CONTROL_STRINGS",
    "CONTROL_WORD",
    "COUNT_TO_5",
    "COUNT_TO_20",
    "ENFORCED_SCHEMAS",
    "FORCED_WORD",
    "FORECAST_TOOL",
    "FOREIGN_IDS",
    "INVALID_SCHEMAS",
    "JSON_OBJECT_PROMPTS",
    "JSON_SYSTEM",
    "LONG_STORY",
    "MARKUP_PATTERNS",
    "MCP_WEATHER_PROMPT",
    "OK_PROMPT",
    "PARALLEL_PROMPT",
    "PREFILL_PREFIX",
    "PREFILL_PROMPT",
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
    "control_text",
    "find_markup",
    "message_text",
    "reply_text",
    "schema_format",
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


# ---- suite 0.2: structured output, parameters, security ----------------------------------------
def _object(**props: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": props,
        "required": list(props),
        "additionalProperties": False,
    }


#: structured.json-schema-enforced: prompts that do not ask for JSON, each with a schema a
#: server must still hold the answer to (only constrained decoding gets all three right).
ENFORCED_SCHEMAS: tuple[tuple[str, dict[str, Any]], ...] = (
    ("Say hi to me.", _object(greeting={"type": "string"})),
    (COUNT_TO_5, _object(numbers={"type": "array", "items": {"type": "integer"}})),
    (
        "Is Paris in France? Answer yes or no.",
        _object(answer={"type": "string", "enum": ["yes", "no"]}),
    ),
)
#: A schema for an answer that a tool call should come before (json_schema beside tools).
ANSWER_SCHEMA: dict[str, Any] = _object(answer={"type": "string"})
#: Schemas that are no JSON schema: a server must refuse them.
INVALID_SCHEMAS: tuple[tuple[str, dict[str, Any]], ...] = (
    ("type is a number", {"type": 12}),
    ("properties is a string", {"type": "object", "properties": "city"}),
)
JSON_SYSTEM = "Reply in JSON."
JSON_OBJECT_PROMPTS = (COUNT_TO_5, "Say hi to me.")


#: params.logit-bias: the reply it biases, the word it forces and the word it bans.
OK_PROMPT = "Say OK and nothing else."
FORCED_WORD = "banana"
#: params.assistant-prefill: a count the final assistant message has started.
PREFILL_PROMPT = "Count from 1 to 10, separated by commas."
PREFILL_PREFIX = "1, 2, 3, 4,"


#: security.special-tokens-*: control strings chat templates use, each sent four in a row (as
#: text each costs two or more tokens; parsed as a control token, one).
CONTROL_STRINGS = ("<|im_start|>", "<|im_end|>", "<eos>")
CONTROL_REPEAT = 4
CONTROL_WORD = "marigold"


def control_text(control: str | None) -> str:
    """Words with ``control`` repeated between two of them (or without it), then an
    instruction that a conversation which did not break there still follows."""
    group = f" {control * CONTROL_REPEAT}" if control else ""
    return (
        f"Here are some words: alpha{group} beta gamma. Reply with the single word "
        f"'{CONTROL_WORD}'."
    )


def reply_text(data: Any) -> str:
    """Choice 0's ``content`` of a non-streamed response; "" unless it is a string (a hostile
    or odd body ends in a verdict about the text, never in a crash)."""
    choices = data.get("choices") if isinstance(data, dict) else None
    first = choices[0] if isinstance(choices, list) and choices else None
    message = first.get("message") if isinstance(first, dict) else None
    content = message.get("content") if isinstance(message, dict) else None
    return content if isinstance(content, str) else ""


def schema_format(name: str, schema: dict[str, Any]) -> dict[str, Any]:
    """A strict ``response_format: json_schema``."""
    return {"type": "json_schema", "json_schema": {"name": name, "strict": True, "schema": schema}}


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


# ---- context window and prompt cache (suite 0.2) -----------------------------------------
#: Short common words: each is at least one token for every mainstream tokenizer (their
#: pre-tokenizers split on whitespace), so a filler's word count is a lower bound of its tokens.
FILLER_WORDS = ("apple", "river", "stone", "cloud", "garden", "window", "bread", "candle",
                "forest", "music", "paper", "silver", "mountain", "orange", "pencil", "rabbit",
                "summer", "table", "valley", "winter")  # fmt: skip
REPLY_OK = "Reply with the single word 'OK' and nothing else."


def filler(n: int, salt: str = "") -> str:
    """``n`` words (``salt`` first, when given, makes a prefix no earlier request shares)."""
    words = [salt] if salt else []
    words += [FILLER_WORDS[i % len(FILLER_WORDS)] for i in range(n - len(words))]
    return " ".join(words)
