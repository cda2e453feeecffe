"""Request parameters: token limits, stop, response_format, n, seed, usage."""

from __future__ import annotations

from typing import Any

import orjson

from ..catalogue.checks import impl
from ..harness.context import Ctx
from ._prompts import (
    CAPITAL,
    CAPITAL_SCHEMA,
    COUNT_TO_5,
    LONG_STORY,
    base_body,
    message_text,
    validate_schema,
)


async def _limit(ctx: Ctx, field: str) -> None:
    body = base_body(ctx.model, LONG_STORY, max_tokens=None)
    body[field] = 8
    data = await ctx.complete(body)
    fr = data["choices"][0].get("finish_reason")
    usage = data.get("usage") or {}
    n = usage.get("completion_tokens")
    if isinstance(n, int):
        ctx.facts["completion_tokens"] = n
        if n > 9:
            ctx.fail(f"{field}=8 gave {n} completion tokens")
    else:
        words = len(message_text(data).split())
        if words > 12:
            ctx.fail(f"{field}=8 gave {words} words and no usage")
        ctx.warn("no usage to count tokens; judged by length")
    if fr != "length":
        ctx.fail(f"finish_reason is {fr!r}, expected 'length'")


@impl("params.max-tokens")
async def max_tokens(ctx: Ctx) -> None:
    await _limit(ctx, "max_tokens")


@impl("params.max-completion-tokens")
async def max_completion_tokens(ctx: Ctx) -> None:
    await _limit(ctx, "max_completion_tokens")


@impl("params.stop")
async def stop(ctx: Ctx) -> None:
    for value in ("4", ["4", "END"]):
        data = await ctx.complete(base_body(ctx.model, COUNT_TO_5, max_tokens=32, stop=value))
        text = message_text(data)
        fr = data["choices"][0].get("finish_reason")
        kind = "string" if isinstance(value, str) else "list"
        if "4" in text:
            ctx.fail(f"stop ({kind}) text appears in content: {text[:60]!r}")
        if fr != "stop":
            ctx.fail(f"stop ({kind}): finish_reason is {fr!r}")
        if "3" not in text:
            ctx.warn(f"stop ({kind}): unexpected content {text[:40]!r}")


def _json_content(ctx: Ctx, data: dict[str, Any]) -> Any:
    text = message_text(data).strip()
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        ctx.fail(f"content is not JSON: {text[:80]!r}")


@impl("params.response-format-json-object")
async def json_object(ctx: Ctx) -> None:
    body = base_body(ctx.model, CAPITAL, max_tokens=48, response_format={"type": "json_object"})
    value = _json_content(ctx, await ctx.complete(body))
    if not isinstance(value, dict):
        ctx.fail(f"content is JSON {type(value).__name__}, not an object")


@impl("params.response-format-json-schema")
async def json_schema(ctx: Ctx) -> None:
    fmt = {
        "type": "json_schema",
        "json_schema": {"name": "capital", "strict": True, "schema": CAPITAL_SCHEMA},
    }
    body = base_body(ctx.model, CAPITAL, max_tokens=48, response_format=fmt)
    value = _json_content(ctx, await ctx.complete(body))
    errors = validate_schema(value, CAPITAL_SCHEMA)
    if errors:
        ctx.fail("; ".join(errors[:3]))


@impl("params.n")
async def n_choices(ctx: Ctx) -> None:
    resp = await ctx.chat(base_body(ctx.model, COUNT_TO_5, max_tokens=16, n=2))
    if 400 <= resp.status < 500:
        ctx.note(f"n=2 rejected with HTTP {resp.status}")
        return
    ctx.require_2xx(resp)
    data = resp.json()
    choices = data.get("choices") if isinstance(data, dict) else None
    if not isinstance(choices, list):
        ctx.fail("no choices")
    indexes = sorted(str(c.get("index")) for c in choices if isinstance(c, dict))
    if indexes != ["0", "1"]:
        ctx.fail(f"n=2 returned choices with indexes {indexes}")


@impl("params.seed")
async def seed(ctx: Ctx) -> None:
    body = base_body(ctx.model, LONG_STORY, max_tokens=24)
    a = message_text(await ctx.complete(body, "first"))
    b = message_text(await ctx.complete(body, "second"))
    if a != b:
        ctx.fail(f"same seed, different content: {a[:40]!r} / {b[:40]!r}")


@impl("params.usage")
async def usage(ctx: Ctx) -> None:
    data = await ctx.complete(base_body(ctx.model, COUNT_TO_5, max_tokens=16))
    u = data.get("usage")
    if not isinstance(u, dict):
        ctx.fail("no usage object")
    nums = [u.get(k) for k in ("prompt_tokens", "completion_tokens", "total_tokens")]
    if not all(isinstance(x, int) and not isinstance(x, bool) for x in nums):
        ctx.fail(f"usage counts are not all integers: {u}")
    if int(nums[0] or 0) + int(nums[1] or 0) != nums[2]:
        ctx.fail(f"total_tokens {nums[2]} != {nums[0]} + {nums[1]}")
