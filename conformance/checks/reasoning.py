"""Reasoning: separated from content, accepted in history (tool turns too), never leaked as
markup, switched off and budgeted on request, counted in usage."""

from __future__ import annotations

from typing import Any

from ..catalogue.checks import impl
from ..harness.context import Ctx
from ..harness.stream import StreamSummary
from ._prompts import (
    ARITHMETIC_PROMPT,
    SYSTEM,
    THINK_PATTERNS,
    WEATHER_PROMPT,
    WEATHER_TOOL,
    base_body,
    find_markup,
    message_text,
    tool_history,
)


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


# ---- issue 16 (suite 0.2.0): thinking off, budget, interleaved history, usage ----------------

#: reasoning.budget: the thinking budget asked for, and the most reasoning that honours it
#: (room for a closing message or tag the server injects when the budget runs out).
BUDGET = 8
BUDGET_LIMIT = 2 * BUDGET
_OFF_CONTROLS: dict[str, dict[str, Any]] = {
    "chat_template_kwargs": {"chat_template_kwargs": {"enable_thinking": False}},
    "reasoning_effort": {"reasoning_effort": "none"},
}


def _sdk_profile(ctx: Ctx) -> Any:
    """The SDK's request-shaping profile for the column's server (thinking fields)."""
    from any_agent._wire.servers import server

    return server(ctx.target.profile.sdk_provider).profile


def _thought(data: dict[str, Any]) -> str:
    """Reasoning of a non-streamed answer: its field, or ``<think>`` text in ``content``."""
    msg = data["choices"][0].get("message")
    msg = msg if isinstance(msg, dict) else {}
    for key in ("reasoning_content", "reasoning"):
        if isinstance(msg.get(key), str) and msg[key].strip():
            return str(msg[key])
    return "<think>" if find_markup(message_text(data), THINK_PATTERNS) else ""


def _has_choice(data: Any) -> bool:
    """A JSON object whose ``choices[0]`` is an object (what ``_thought`` reads)."""
    choices = data.get("choices") if isinstance(data, dict) else None
    return isinstance(choices, list) and bool(choices) and isinstance(choices[0], dict)


@impl("reasoning.thinking-off")
async def thinking_off(ctx: Ctx) -> None:
    base = base_body(ctx.model, ARITHMETIC_PROMPT, max_tokens=32)
    if not _thought(await ctx.complete(base, "baseline")):
        ctx.na("the model emitted no reasoning without a switch, so none to turn off")
    switch = _sdk_profile(ctx).thinking_switch
    tried = [switch] if switch in _OFF_CONTROLS else list(_OFF_CONTROLS)
    outcomes = []
    for name in tried:
        resp = await ctx.chat({**base, **_OFF_CONTROLS[name]})
        if 400 <= resp.status < 500:
            outcomes.append(f"{name}: HTTP {resp.status} {resp.error_message()[:80]}")
            continue
        ctx.require_2xx(resp, name)
        data = resp.json()
        if not _has_choice(data):
            ctx.fail(f"{name}: response has no choices")
        if not _thought(data):
            ctx.note(f"thinking off via {name}")
            return
        outcomes.append(f"{name}: still reasoning")
    ctx.fail("thinking stayed on: " + "; ".join(outcomes))


@impl("reasoning.thinking-off", "sdk")
async def thinking_off_sdk(ctx: Ctx) -> None:
    from any_agent import ConfigurationError

    on = await ctx.sdk_run(ARITHMETIC_PROMPT, max_tokens=32)
    if on.error is not None:
        ctx.fail(f"the SDK raised {on.describe()}")
    if not on.thinking:
        ctx.na("no ThinkingBlock without the option, so none to turn off")
    try:
        off = await ctx.sdk_run(ARITHMETIC_PROMPT, max_tokens=32, thinking={"type": "disabled"})
    except ConfigurationError as exc:
        ctx.na(f"the SDK has no thinking switch for this server: {exc}")
    if off.error is not None:
        ctx.fail(f"the SDK raised {off.describe()}")
    if off.thinking:
        ctx.fail(f"thinking={{'type': 'disabled'}}: still a ThinkingBlock ({off.thinking[:60]!r})")


_REASONING_KEYS = ("reasoning_content", "reasoning")


def _text(delta: dict[str, Any], key: str) -> bool:
    value = delta.get(key)
    return isinstance(value, str) and bool(value)


def _reasoning_tokens(s: StreamSummary) -> tuple[int, str]:
    """(tokens of reasoning, how counted): the usage count when given, else the number of
    reasoning deltas (each carries at least one token, so it never overstates)."""
    for chunk in reversed(s.usage_chunks):
        details = (chunk.get("usage") or {}).get("completion_tokens_details")
        value = details.get("reasoning_tokens") if isinstance(details, dict) else None
        if isinstance(value, int) and not isinstance(value, bool) and value > 0:
            return value, "usage.reasoning_tokens"
    deltas = 0
    for chunk in s.chunks:
        choices = chunk.get("choices")
        for choice in choices if isinstance(choices, list) else []:
            delta = choice.get("delta") if isinstance(choice, dict) else None
            if isinstance(delta, dict) and any(_text(delta, k) for k in _REASONING_KEYS):
                deltas += 1
    return deltas, "reasoning deltas"


@impl("reasoning.budget")
async def budget(ctx: Ctx) -> None:
    field = _sdk_profile(ctx).thinking_budget_field
    if field is None:
        ctx.na(f"no per-request thinking budget field is known for {ctx.target.profile.name}")
    base = base_body(ctx.model, ARITHMETIC_PROMPT, stream=True, max_tokens=32,
                     stream_options={"include_usage": True})  # fmt: skip
    free, how = _reasoning_tokens(await ctx.stream(base, "without a budget"))
    if free <= BUDGET_LIMIT:
        ctx.na(f"{free} {how} without a budget: too few to judge one of {BUDGET}")
    capped, how = _reasoning_tokens(await ctx.stream({**base, field: BUDGET}, "with a budget"))
    ctx.facts["reasoning_tokens"] = {"free": free, "budget": BUDGET, "capped": capped}
    if capped > BUDGET_LIMIT:
        ctx.fail(f"{field}: {BUDGET} gave {capped} {how} ({free} without it)")
    ctx.note(f"{field}: {BUDGET} gave {capped} {how} ({free} without it)")


@impl("reasoning.interleaved-accepted")
async def interleaved_accepted(ctx: Ctx) -> None:
    failed = []
    for field in ("reasoning_content", "reasoning"):
        messages = tool_history()
        messages[2][field] = "The user wants the weather in Paris, so I call get_weather."
        body = base_body(ctx.model, messages, max_tokens=32, tools=[WEATHER_TOOL])
        resp = await ctx.chat(body)
        if not 200 <= resp.status < 300:
            failed.append(f"{field}: HTTP {resp.status or resp.error} {resp.error_message()[:80]}")
            continue
        data = resp.json()
        if not _has_choice(data):
            failed.append(f"{field}: no choices")
        elif not message_text(data).strip():
            ctx.warn(f"{field}: accepted, but no text answer to the tool result")
    if failed:
        ctx.fail("; ".join(failed))


@impl("reasoning.interleaved-accepted", "sdk")
async def interleaved_accepted_sdk(ctx: Ctx) -> None:
    """A tool loop with a reasoning model: the SDK sends the turn's reasoning back as its
    profile says and must still get the answer (a refusal naming the field is learnt)."""
    from any_agent import tool

    if _sdk_profile(ctx).reasoning_replay == "off":
        ctx.na("the SDK sends no reasoning back to this server (its profile's replay is off)")
    ran: list[str] = []

    @tool
    def get_weather(city: str) -> dict[str, Any]:
        """Get the current weather for a city

        Args:
            city: City name, e.g. Paris
        """
        ran.append(city)
        return {"city": city, "temperature_c": 21, "sky": "sunny"}

    run = await ctx.sdk_run(WEATHER_PROMPT, system_prompt=SYSTEM, tools=[get_weather],
                            auto_execute_tools=True, max_turns=3, max_tokens=128)  # fmt: skip
    if run.error is not None:
        ctx.fail(f"the SDK raised {run.describe()}")
    if not ran:
        ctx.na(f"the model never called get_weather ({run.describe()})")
    if not run.thinking:
        ctx.na("no ThinkingBlock before the call: no reasoning to send back")
    result = run.result
    if result is None or result.num_turns < 2:
        ctx.fail("the loop did not send the tool result back for a second turn")
    if not str(result.result or "").strip():
        ctx.fail("no answer after the tool result")


def _usage_problem(usage: Any) -> str | None:
    if not isinstance(usage, dict):
        return "no usage"
    details = usage.get("completion_tokens_details")
    value = details.get("reasoning_tokens") if isinstance(details, dict) else None
    if not isinstance(value, int) or isinstance(value, bool):
        return f"no completion_tokens_details.reasoning_tokens (usage {str(usage)[:120]})"
    completion = usage.get("completion_tokens")
    if value <= 0 or (isinstance(completion, int) and value > completion):
        return f"reasoning_tokens {value} with completion_tokens {completion}"
    return None


@impl("reasoning.usage-tokens")
async def usage_tokens(ctx: Ctx) -> None:
    data = await ctx.complete(base_body(ctx.model, ARITHMETIC_PROMPT, max_tokens=32))
    if not _thought(data):
        ctx.na("the model emitted no reasoning")
    problem = _usage_problem(data.get("usage"))
    if problem:
        ctx.fail(problem)


@impl("reasoning.usage-tokens", "sdk")
async def usage_tokens_sdk(ctx: Ctx) -> None:
    run = await ctx.sdk_run(ARITHMETIC_PROMPT, max_tokens=32)
    if run.error is not None:
        ctx.fail(f"the SDK raised {run.describe()}")
    if not run.thinking:
        ctx.na("no ThinkingBlock (the model emitted no reasoning)")
    usage = getattr(run.result, "usage", None)
    value = getattr(usage, "reasoning_tokens", None)
    if not isinstance(value, int) or value <= 0:
        ctx.fail(f"ResultMessage.usage.reasoning_tokens is {value!r} after a ThinkingBlock")
