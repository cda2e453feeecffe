"""Errors and model listing."""

from __future__ import annotations

import re

import orjson

from ..catalogue.checks import impl
from ..harness.context import Ctx
from ._prompts import UNKNOWN_MODEL, base_body

CONTEXT_RX = re.compile(r"context|too long|exceed|maximum|length|tokens", re.IGNORECASE)


@impl("models.list")
async def models_list(ctx: Ctx) -> None:
    resp = await ctx.get("models")
    ctx.require_2xx(resp, "GET /models")
    data = resp.json()
    if not isinstance(data, dict):
        ctx.fail("body is not a JSON object")
    if data.get("object") != "list":
        ctx.fail(f"object is {data.get('object')!r}, not 'list'")
    items = data.get("data")
    if not isinstance(items, list):
        ctx.fail(f"data is {type(items).__name__}, not an array")
    ids = []
    for i, m in enumerate(items):
        if not isinstance(m, dict) or not isinstance(m.get("id"), str):
            ctx.fail(f"data[{i}] has no string id")
        ids.append(m["id"])
        if m.get("object") != "model":
            ctx.fail(f"data[{i}].object is {m.get('object')!r}")
        if not isinstance(m.get("created"), int) or not isinstance(m.get("owned_by"), str):
            ctx.warn(f"data[{i}] lacks integer created or string owned_by")
    if ctx.model not in ids:
        ctx.warn(f"the model under test ({ctx.model}) is not listed")


@impl("errors.unknown-model")
async def unknown_model(ctx: Ctx) -> None:
    body = base_body(UNKNOWN_MODEL, "Say hi.", max_tokens=4)
    resp = await ctx.chat(body)
    if resp.status == 0:
        ctx.require_2xx(resp)
    if 200 <= resp.status < 300:
        ctx.fail("HTTP 200 for a model the server does not serve (the name is ignored)")
    if resp.status >= 500:
        ctx.fail(f"HTTP {resp.status} for an unknown model")
    if resp.status not in (404, 400):
        ctx.warn(f"HTTP {resp.status} (expected 404)")
    if UNKNOWN_MODEL not in resp.error_message():
        ctx.warn("the error message does not name the model")


@impl("errors.unknown-model", "sdk")
async def unknown_model_sdk(ctx: Ctx) -> None:
    from any_agent import HTTPStatusError, ModelNotFoundError

    run = await ctx.sdk_run("Say hi.", model=UNKNOWN_MODEL, max_tokens=4)
    err = run.error
    if err is None:
        result = run.result
        if result is not None and getattr(result, "is_error", False):
            ctx.warn(f"reported as an error result, not raised: {result.error}")
            return
        ctx.fail(f"no error for an unknown model ({run.describe()})")
    if isinstance(err, ModelNotFoundError):
        return
    if isinstance(err, HTTPStatusError):
        ctx.warn(f"HTTPStatusError {err.status}, not ModelNotFoundError")
        return
    ctx.fail(f"unexpected error type {type(err).__name__}: {err}")


@impl("errors.bad-request-shape")
async def bad_request_shape(ctx: Ctx) -> None:
    cases: dict[str, bytes] = {
        "invalid JSON": b'{"model": "' + ctx.model.encode() + b'", "messages": [',
        "no messages": orjson.dumps({"model": ctx.model, "max_tokens": 4}),
        "messages not an array": orjson.dumps(
            {"model": ctx.model, "messages": "hello", "max_tokens": 4}
        ),
    }
    failed: list[str] = []
    for name, raw in cases.items():
        resp = await ctx.post_raw("chat/completions", raw)
        if resp.status in (400, 422):
            continue
        if 400 <= resp.status < 500:
            ctx.warn(f"{name}: HTTP {resp.status} (expected 400/422)")
            continue
        failed.append(f"{name}: HTTP {resp.status or resp.error}")
    if failed:
        ctx.fail("; ".join(failed))


@impl("errors.error-body-shape")
async def error_body_shape(ctx: Ctx) -> None:
    resp = await ctx.post_raw(
        "chat/completions", orjson.dumps({"model": ctx.model, "max_tokens": 4})
    )
    if resp.status < 400:
        ctx.na(f"the request was not rejected (HTTP {resp.status}); no error body to judge")
    data = resp.json()
    if not isinstance(data, dict):
        ctx.fail(f"error body is not a JSON object: {resp.text()[:80]!r}")
    err = data.get("error")
    if not isinstance(err, dict):
        ctx.fail(f"no error object (keys: {sorted(data)})")
    if not isinstance(err.get("message"), str):
        ctx.fail("error.message is not a string")
    if not isinstance(err.get("type"), str):
        ctx.fail(f"error.type is {err.get('type')!r}")
    code = err.get("code")
    if code is not None and not isinstance(code, str):
        ctx.warn(f"error.code is {type(code).__name__} ({code!r}), OpenAI uses a string or null")


@impl("errors.context-overflow")
async def context_overflow(ctx: Ctx) -> None:
    n_ctx = ctx.target.context_window()
    if n_ctx is None:
        ctx.na("the context window is unknown (/v1/models gave no n_ctx / max_model_len)")
    words = " ".join(["hello"] * (2 * n_ctx))
    resp = await ctx.chat(base_body(ctx.model, f"Summarise: {words}", max_tokens=8))
    ctx.facts["context_window"] = n_ctx
    if resp.status == 0:
        ctx.require_2xx(resp)
    if 200 <= resp.status < 300:
        ctx.fail(f"HTTP {resp.status} for a prompt of ~{2 * n_ctx} tokens (silently truncated)")
    if resp.status >= 500:
        ctx.fail(f"HTTP {resp.status} for context overflow")
    if resp.status != 400:
        ctx.warn(f"HTTP {resp.status} (OpenAI: 400)")
    if not CONTEXT_RX.search(resp.error_message()):
        ctx.warn(f"the message does not mention the context: {resp.error_message()[:80]!r}")


@impl("errors.stream-invalid-request")
async def stream_invalid_request(ctx: Ctx) -> None:
    raw = orjson.dumps({"model": ctx.model, "messages": "hello", "stream": True, "max_tokens": 4})
    resp = await ctx.post_raw("chat/completions", raw)
    if 400 <= resp.status < 500:
        return
    if 200 <= resp.status < 300:
        ctx.fail(f"HTTP {resp.status} ({resp.content_type}) for an invalid streamed request")
    ctx.fail(f"HTTP {resp.status or resp.error} for an invalid streamed request")
