"""Reasoning: separated from content, accepted in history, never leaked as markup."""

from __future__ import annotations

from ..catalogue.checks import impl
from ..harness.context import Ctx
from ._prompts import ARITHMETIC_PROMPT, THINK_PATTERNS, base_body, find_markup, message_text


def _separated_tokens(ctx: Ctx) -> int:
    """Reasoning (or its leaked markup) comes first, so a few tokens show where it goes;
    0.1 recordings asked for 160 and replay with that."""
    return 32 if ctx.requests_since("0.2.0") else 160


@impl("reasoning.separated")
async def separated(ctx: Ctx) -> None:
    body = base_body(ctx.model, ARITHMETIC_PROMPT, stream=True, max_tokens=_separated_tokens(ctx))
    s = await ctx.stream(body)
    leaked = find_markup(s.content, THINK_PATTERNS)
    if leaked:
        ctx.fail(f"reasoning markup in content: {', '.join(leaked)}")
    if not s.reasoning_fields:
        ctx.na("the model emitted no reasoning")
    ctx.facts["reasoning_fields"] = sorted(s.reasoning_fields)
    if len(s.reasoning_fields) > 1:
        ctx.warn("reasoning arrives in both reasoning_content and reasoning")
    ctx.note(f"reasoning field: {', '.join(sorted(s.reasoning_fields))}")


@impl("reasoning.separated", "sdk")
async def separated_sdk(ctx: Ctx) -> None:
    run = await ctx.sdk_run(ARITHMETIC_PROMPT, max_tokens=_separated_tokens(ctx))
    if run.error is not None:
        ctx.fail(f"the SDK raised {run.describe()}")
    leaked = find_markup(run.text, THINK_PATTERNS)
    if leaked:
        ctx.fail(f"reasoning markup in SDK text: {', '.join(leaked)}")
    if not run.thinking:
        ctx.na("no ThinkingBlock (the model emitted no reasoning)")


@impl("reasoning.history-accepted")
async def history_accepted(ctx: Ctx) -> None:
    failed = []
    for field in ("reasoning_content", "reasoning"):
        messages = [
            {"role": "user", "content": "What is 17 times 23?"},
            {"role": "assistant", "content": "391", field: "17 * 23 = 340 + 51 = 391."},
            {"role": "user", "content": "Thanks. Repeat the answer."},
        ]
        resp = await ctx.chat(base_body(ctx.model, messages, max_tokens=16))
        if not 200 <= resp.status < 300:
            failed.append(f"{field}: HTTP {resp.status or resp.error}")
    if failed:
        ctx.fail("; ".join(failed))


@impl("reasoning.no-think-leak")
async def no_think_leak(ctx: Ctx) -> None:
    data = await ctx.complete(base_body(ctx.model, ARITHMETIC_PROMPT, max_tokens=160))
    content = message_text(data)
    opens, closes = content.count("<think>"), content.count("</think>")
    if opens != closes:
        ctx.fail(f"unbalanced thinking markup in content ({opens} open, {closes} close)")
    if "<|channel|>" in content:
        ctx.fail("harmony channel markers in content")
    if opens:
        ctx.warn("balanced <think> blocks in content (reasoning not separated)")
