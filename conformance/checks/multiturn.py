"""Multi-turn input: histories, tool results, content shapes, ids, roles."""

from __future__ import annotations

from typing import Any

from ..catalogue.checks import impl
from ..harness.context import Ctx
from ..harness.http import RawResponse
from ..harness.stream import summarize_stream
from ._prompts import (
    FOREIGN_IDS,
    SYSTEM,
    WEATHER_PROMPT,
    WEATHER_TOOL,
    base_body,
    message_text,
    tool_history,
)


def _body(ctx: Ctx, messages: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    return base_body(ctx.model, messages, max_tokens=64, tools=[WEATHER_TOOL], **extra)


def _status_word(resp: RawResponse) -> str:
    if resp.status == 0:
        return f"no response ({resp.error})"
    msg = resp.error_message()
    return f"HTTP {resp.status}" + (f" ({msg[:100]})" if resp.status >= 400 and msg else "")


async def _accepted(ctx: Ctx, messages: list[dict[str, Any]], what: str) -> dict[str, Any]:
    return await ctx.complete(_body(ctx, messages), what)


@impl("multiturn.history")
async def history(ctx: Ctx) -> None:
    messages = [
        {"role": "system", "content": "You are a helpful assistant."},
        {"role": "user", "content": "My name is Ada."},
        {"role": "assistant", "content": "Nice to meet you, Ada."},
        {"role": "user", "content": "What is my name? Answer with the name only."},
    ]
    data = await ctx.complete(base_body(ctx.model, messages, max_tokens=16))
    content = message_text(data)
    if not content.strip():
        ctx.fail("empty answer to a multi-turn history")
    if "ada" not in content.lower():
        ctx.warn(f"the answer does not use the history: {content[:60]!r}")


def judge_answer(ctx: Ctx, content: str, calls: int, where: str) -> None:
    if calls and not content.strip():
        ctx.warn(f"{where}: the model called the tool again instead of answering")
        return
    if not content.strip():
        ctx.fail(f"{where}: empty answer after a tool result")
    if not any(k in content.lower() for k in ("21", "sunny")):
        ctx.warn(f"{where}: the answer does not use the tool result: {content[:60]!r}")


async def _judge_streamed_answer(ctx: Ctx, messages: list[dict[str, Any]], where: str) -> None:
    """Stream the answer to ``messages`` (which end with a tool result) and judge it."""
    resp = await ctx.chat(_body(ctx, messages, stream=True))
    ctx.require_2xx(resp, where)
    s = summarize_stream(resp.events())
    ctx.require_finished(s, where)
    judge_answer(ctx, s.content, len(s.tool_calls), where)


@impl("multiturn.tool-result-roundtrip")
async def tool_result_roundtrip(ctx: Ctx) -> None:
    messages = tool_history(content="")
    data = await ctx.complete(_body(ctx, messages), "non-streamed")
    msg = data["choices"][0].get("message") or {}
    judge_answer(ctx, msg.get("content") or "", len(msg.get("tool_calls") or []), "non-streamed")
    await _judge_streamed_answer(ctx, messages, "streamed")


@impl("multiturn.tool-result-roundtrip", "sdk")
async def tool_result_roundtrip_sdk(ctx: Ctx) -> None:
    history = tool_history(content="")[1:]  # the SDK adds the system prompt itself
    run = await ctx.sdk_run(
        None, history=history, system_prompt=SYSTEM, tools=[WEATHER_TOOL], max_tokens=64
    )
    if run.error is not None:
        ctx.fail(f"the SDK raised {run.describe()}")
    judge_answer(ctx, run.text, len(run.of_type("ToolUseBlock")), "SDK")


@impl("multiturn.assistant-content-null")
async def content_null(ctx: Ctx) -> None:
    await _accepted(ctx, tool_history(content=None), "assistant content null")


@impl("multiturn.assistant-content-empty")
async def content_empty(ctx: Ctx) -> None:
    await _accepted(ctx, tool_history(content=""), 'assistant content ""')


@impl("multiturn.assistant-content-absent")
async def content_absent(ctx: Ctx) -> None:
    await _accepted(ctx, tool_history(omit_content=True), "assistant content absent")


@impl("multiturn.tool-call-id-formats")
async def id_formats(ctx: Ctx) -> None:
    failed: list[str] = []
    for call_id in FOREIGN_IDS:
        resp = await ctx.chat(_body(ctx, tool_history(call_id=call_id, content="")))
        if not 200 <= resp.status < 300:
            failed.append(f"{call_id!r}: {_status_word(resp)}")
    if failed:
        ctx.fail("rejected ids: " + "; ".join(failed))


@impl("multiturn.replayed-arguments")
async def replayed_arguments(ctx: Ctx) -> None:
    ok = await ctx.chat(_body(ctx, tool_history(arguments="{}", content="")))
    if not 200 <= ok.status < 300:
        ctx.fail(f'arguments "{{}}" rejected: {_status_word(ok)}')
    for raw in ("{", ""):
        resp = await ctx.chat(_body(ctx, tool_history(arguments=raw, content="")))
        if resp.status == 0 or resp.status >= 500:
            ctx.fail(f"arguments {raw!r}: {_status_word(resp)}")
        if 200 <= resp.status < 300 and raw:
            ctx.warn(f"malformed arguments {raw!r} accepted (HTTP {resp.status})")


@impl("multiturn.system-placement")
async def system_placement(ctx: Ctx) -> None:
    variants = {
        "two leading system messages": [
            {"role": "system", "content": "You are a helpful assistant."},
            {"role": "system", "content": "Answer briefly."},
            {"role": "user", "content": "Say hi."},
        ],
        "system after an assistant turn": [
            {"role": "system", "content": "You are a helpful assistant."},
            {"role": "user", "content": "Say hi."},
            {"role": "assistant", "content": "Hi!"},
            {"role": "system", "content": "From now on answer in French."},
            {"role": "user", "content": "Say hi again."},
        ],
        "developer role": [
            {"role": "developer", "content": "Answer briefly."},
            {"role": "user", "content": "Say hi."},
        ],
    }
    failed: list[str] = []
    for name, messages in variants.items():
        resp = await ctx.chat(base_body(ctx.model, messages, max_tokens=16))
        if resp.status == 0 or resp.status >= 500:
            failed.append(f"{name}: {_status_word(resp)}")
        elif resp.status >= 400:
            ctx.warn(f"{name}: {_status_word(resp)}")
    if failed:
        ctx.fail("; ".join(failed))


@impl("multiturn.content-parts")
async def content_parts(ctx: Ctx) -> None:
    parts = [
        {"type": "text", "text": "Count from 1 to 5,"},
        {"type": "text", "text": " separated by commas."},
    ]
    messages: list[dict[str, Any]] = [
        {"role": "system", "content": [{"type": "text", "text": "You are a helpful assistant."}]},
        {"role": "user", "content": parts},
    ]
    data = await ctx.complete(base_body(ctx.model, messages, max_tokens=24), "text parts")
    content = message_text(data)
    if not content.strip():
        ctx.fail("empty answer to content given as parts")
    tool_parts = [{"type": "text", "text": '{"city": "Paris", "temperature_c": 21}'}]
    resp = await ctx.chat(_body(ctx, tool_history(content="", tool_content=tool_parts)))
    if not 200 <= resp.status < 300:
        ctx.fail(f"tool message with array content: {_status_word(resp)}")


_LOOP_PROMPT = WEATHER_PROMPT  # the tool checks' prompt: the loop adds only the second turn


@impl("multiturn.agent-loop")
async def agent_loop(ctx: Ctx) -> None:
    """The two requests an agent loop makes, on the wire: the call, then the result."""
    first = [{"role": "system", "content": SYSTEM}, {"role": "user", "content": _LOOP_PROMPT}]
    resp = await ctx.chat(_body(ctx, first, stream=True))
    ctx.require_2xx(resp, "turn 1")
    turn1 = summarize_stream(resp.events())
    ctx.require_finished(turn1, "turn 1")
    calls = turn1.tool_list()
    if not calls or calls[0].name != "get_weather":
        ctx.fail("turn 1 returned no structured get_weather call (tool_calls) to loop on")
    call = calls[0]
    history: list[dict[str, Any]] = [
        *first,
        {
            "role": "assistant",
            "content": "",
            "tool_calls": [
                {
                    "id": call.id or "call_0",
                    "type": "function",
                    "function": {"name": call.name, "arguments": call.arguments or "{}"},
                }
            ],
        },
        {
            "role": "tool",
            "tool_call_id": call.id or "call_0",
            "content": '{"city": "Paris", "temperature_c": 21, "sky": "sunny"}',
        },
    ]
    await _judge_streamed_answer(ctx, history, "turn 2")


@impl("multiturn.agent-loop", "sdk")
async def agent_loop_sdk(ctx: Ctx) -> None:
    """query() with a real @tool: the SDK runs it and feeds the result back by itself."""
    from any_agent import tool

    ran: list[dict[str, Any]] = []

    @tool
    def get_weather(city: str, unit: str = "celsius") -> dict[str, Any]:
        """Get the current weather for a city

        Args:
            city: City name, e.g. Paris
            unit: celsius or fahrenheit
        """
        ran.append({"city": city, "unit": unit})
        return {"city": city, "temperature_c": 21, "sky": "sunny"}

    run = await ctx.sdk_run(
        _LOOP_PROMPT,
        system_prompt=SYSTEM,
        tools=[get_weather],
        auto_execute_tools=True,
        max_turns=3,
        max_tokens=64,
    )
    if run.error is not None:
        ctx.fail(f"the SDK raised {run.describe()}")
    if not ran:
        ctx.fail("the model never called get_weather, so the loop had nothing to run")
    if not any(str(r["city"]).strip() for r in ran):
        ctx.fail(f"get_weather ran with an empty city: {ran!r}")
    result = run.result
    if result is None or result.num_turns < 2:
        ctx.fail("the loop did not send the tool result back for a second turn")
    if result.stop_reason == "max_turns":
        ctx.warn("the model kept calling the tool until max_turns instead of answering")
        return
    judge_answer(ctx, result.result, 0, "SDK loop")
