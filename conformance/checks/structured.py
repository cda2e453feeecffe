"""Structured output: a ``json_schema`` the server enforces (not merely accepts), the schema
beside tools, an invalid schema refused, ``json_object`` streamed.

``params.response-format-json-*`` (suite 0.1) ask for JSON in the prompt, so a model that
follows instructions passes them unconstrained; these checks ask for prose under a schema.
"""

from __future__ import annotations

from typing import Any

import orjson

from ..catalogue.checks import impl
from ..harness.context import Ctx
from ._prompts import (
    ANSWER_SCHEMA,
    ENFORCED_SCHEMAS,
    INVALID_SCHEMAS,
    JSON_OBJECT_PROMPTS,
    JSON_SYSTEM,
    WEATHER_PROMPT,
    WEATHER_TOOL,
    base_body,
    reply_text,
    schema_format,
    validate_schema,
)

#: Room for the schema's JSON answer, and no more: a grammar-constrained model stops when
#: the object closes.
_ANSWER_TOKENS = 40


def _judge(text: str, schema: dict[str, Any], finish: Any) -> str | None:
    """Why ``text`` is not a JSON value valid against ``schema``, or None."""
    cut = " (cut by max_tokens)" if finish == "length" else ""
    try:
        value = orjson.loads(text.strip())
    except orjson.JSONDecodeError:
        return f"not JSON{cut}: {text[:60]!r}"
    errors = validate_schema(value, schema)
    return "; ".join(errors[:2]) + cut if errors else None


@impl("structured.json-schema-enforced")
async def json_schema_enforced(ctx: Ctx) -> None:
    failed: list[str] = []
    for i, (prompt, schema) in enumerate(ENFORCED_SCHEMAS, 1):
        fmt = schema_format(f"answer{i}", schema)
        body = base_body(ctx.model, prompt, system=None, max_tokens=_ANSWER_TOKENS,
                         response_format=fmt)  # fmt: skip
        data = await ctx.complete(body, f"prompt {i}")
        problem = _judge(reply_text(data), schema, data["choices"][0].get("finish_reason"))
        if problem:
            failed.append(f"prompt {i} ({prompt[:24]!r}): {problem}")
    if failed:
        ctx.fail(f"{len(failed)} of {len(ENFORCED_SCHEMAS)} answers break the schema: "
                 + "; ".join(failed))  # fmt: skip


@impl("structured.json-schema-enforced", "sdk")
async def json_schema_enforced_sdk(ctx: Ctx) -> None:
    failed: list[str] = []
    for i, (prompt, schema) in enumerate(ENFORCED_SCHEMAS, 1):
        run = await ctx.sdk_run(
            prompt,
            output_format={"type": "json_schema", "schema": schema},
            max_tokens=_ANSWER_TOKENS,
        )
        result = run.result
        if run.error is not None or result is None:
            failed.append(f"prompt {i}: {run.describe()}")
            continue
        if getattr(result, "subtype", "") != "success":
            failed.append(f"prompt {i}: {result.subtype}: {result.error}")
            continue
        errors = validate_schema(result.structured_output, schema)
        if errors:
            failed.append(f"prompt {i}: structured_output {'; '.join(errors[:2])}")
    if failed:
        ctx.fail("; ".join(failed))


@impl("structured.json-schema-with-tools")
async def json_schema_with_tools(ctx: Ctx) -> None:
    body = base_body(ctx.model, WEATHER_PROMPT, max_tokens=64, tools=[WEATHER_TOOL],
                     response_format=schema_format("answer", ANSWER_SCHEMA))  # fmt: skip
    resp = await ctx.chat(body)
    if 400 <= resp.status < 500:
        ctx.note(f"refused with HTTP {resp.status}: {resp.error_message()[:120]}")
        return
    ctx.require_2xx(resp)
    data = resp.json()
    choices = data.get("choices") if isinstance(data, dict) else None
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
        ctx.fail("response has no choices")
    message = choices[0].get("message")
    message = message if isinstance(message, dict) else {}
    calls = message.get("tool_calls")
    names = [
        c["function"].get("name")
        for c in (calls if isinstance(calls, list) else [])
        if isinstance(c, dict) and isinstance(c.get("function"), dict)
    ]
    if "get_weather" in names:
        return
    if names:
        ctx.fail(f"called {names}, not get_weather")
    text = message.get("content")
    ctx.fail(
        "HTTP 200 without the tool call (the schema made the call impossible); content: "
        f"{str(text)[:80]!r}"
    )


@impl("structured.json-schema-with-tools", "sdk")
async def json_schema_with_tools_sdk(ctx: Ctx) -> None:
    # the SDK sends response_format beside tools only where the profile says the server
    # keeps tool calls possible with it; the structured answer comes after the tool turns
    fmt = {"type": "json_schema", "schema": ANSWER_SCHEMA}
    run = await ctx.sdk_run(WEATHER_PROMPT, tools=[WEATHER_TOOL], max_tokens=64, output_format=fmt)
    if run.error is not None:
        ctx.fail(f"the SDK raised {run.describe()}")
    names = [getattr(b, "name", None) for b in run.of_type("ToolUseBlock")]
    if "get_weather" not in names:
        ctx.fail(f"no get_weather call with output_format set ({run.describe()})")


@impl("structured.invalid-schema")
async def invalid_schema(ctx: Ctx) -> None:
    failed: list[str] = []
    for name, schema in INVALID_SCHEMAS:
        body = base_body(ctx.model, "Say hi.", system=None, max_tokens=8,
                         response_format=schema_format("bad", schema))  # fmt: skip
        resp = await ctx.chat(body)
        if resp.status == 0:
            ctx.require_2xx(resp, name)
        if 400 <= resp.status < 500:
            continue
        failed.append(f"{name}: HTTP {resp.status}")
    if failed:
        ctx.fail("; ".join(failed))


@impl("structured.json-object-stream")
async def json_object_stream(ctx: Ctx) -> None:
    failed: list[str] = []
    for i, prompt in enumerate(JSON_OBJECT_PROMPTS, 1):
        body = base_body(ctx.model, prompt, system=JSON_SYSTEM, stream=True,
                         max_tokens=_ANSWER_TOKENS,
                         response_format={"type": "json_object"})  # fmt: skip
        s = await ctx.stream(body, f"stream {i}")
        ctx.require_finished(s, f"stream {i}")
        try:
            value = orjson.loads(s.content.strip())
        except orjson.JSONDecodeError:
            failed.append(f"stream {i}: content is not JSON: {s.content[:60]!r}")
            continue
        if not isinstance(value, dict):
            failed.append(f"stream {i}: JSON {type(value).__name__}, not an object")
    if failed:
        ctx.fail("; ".join(failed))
