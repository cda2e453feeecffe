"""Tool calls: shape, schema validity, streamed fragmentation, choices, markup leaks."""

from __future__ import annotations

import re
from typing import Any

import orjson

from ..catalogue.checks import impl
from ..harness.context import Ctx, SDKRun
from ..harness.stream import MAX_JSON_DEPTH, StreamSummary, ToolCallAcc, too_deep
from ._prompts import (
    FORECAST_TOOL,
    MCP_WEATHER_PROMPT,
    PARALLEL_PROMPT,
    SYSTEM,
    THINK_PATTERNS,
    TIME_PROMPT,
    TIME_TOOL,
    TOOLS_BY_NAME,
    UNICODE_CITY_PROMPT,
    WEATHER_PROMPT,
    WEATHER_TOOL,
    base_body,
    find_markup,
    message_text,
    validate_schema,
)
from .multiturn import judge_answer

ID_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


def _choice_for(ctx: Ctx, tool: dict[str, Any]) -> Any:
    mode = ctx.target.profile.forced_choice
    if mode == "named":
        return {"type": "function", "function": {"name": tool["function"]["name"]}}
    return mode


def forced_body(
    ctx: Ctx,
    prompt: str = WEATHER_PROMPT,
    tools: list[dict[str, Any]] | None = None,
    *,
    stream: bool = False,
    max_tokens: int = 96,
    **extra: Any,
) -> dict[str, Any]:
    tools = tools or [WEATHER_TOOL]
    extra.setdefault("tool_choice", _choice_for(ctx, tools[0]))
    return base_body(ctx.model, prompt, stream=stream, max_tokens=max_tokens, tools=tools, **extra)


def _calls_of(data: dict[str, Any]) -> list[dict[str, Any]]:
    choices = data.get("choices")
    choice = choices[0] if isinstance(choices, list) and choices else None
    msg = choice.get("message") if isinstance(choice, dict) else None
    calls = msg.get("tool_calls") if isinstance(msg, dict) else None
    return [c for c in calls if isinstance(c, dict)] if isinstance(calls, list) else []


def _fn_of(call: dict[str, Any]) -> dict[str, Any]:
    """A call's ``function`` object ({} when absent or not an object)."""
    fn = call.get("function")
    return fn if isinstance(fn, dict) else {}


def _parse_args(raw: Any) -> tuple[Any, str | None]:
    if not isinstance(raw, str):
        return None, f"arguments is {type(raw).__name__}, not a string"
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        return None, f"arguments are not valid JSON ({exc}): {raw[:80]!r}"
    if not isinstance(value, dict):
        return None, f"arguments parse to {type(value).__name__}, not an object"
    if too_deep(value):  # checks quote argument values: repr recurses
        return None, f"arguments nest deeper than {MAX_JSON_DEPTH} levels"
    return value, None


def _schema_errors(name: str, args: dict[str, Any]) -> list[str]:
    tool = TOOLS_BY_NAME.get(name)
    if tool is None:
        return [f"unknown tool {name!r}"]
    return validate_schema(args, tool["function"]["parameters"])


async def _nonstream_calls(ctx: Ctx, body: dict[str, Any]) -> list[dict[str, Any]]:
    data = await ctx.complete(body)
    calls = _calls_of(data)
    if not calls:
        content = (data["choices"][0].get("message") or {}).get("content")
        ctx.fail(f"no tool_calls returned (content: {str(content)[:80]!r})")
    return calls


async def _stream_calls(ctx: Ctx, body: dict[str, Any]) -> tuple[StreamSummary, list[ToolCallAcc]]:
    s = await ctx.stream(body)
    calls = s.tool_list()
    if not calls:
        ctx.fail(f"no tool call was streamed (content: {s.content[:80]!r})")
    return s, calls


# ---- non-streamed ------------------------------------------------------------------------------


@impl("tools.accepted")
async def accepted(ctx: Ctx) -> None:
    body = base_body(ctx.model, WEATHER_PROMPT, max_tokens=96, tools=[WEATHER_TOOL])
    resp = await ctx.chat(body)
    if resp.status == 0:
        ctx.require_2xx(resp)
    if resp.status >= 500:
        ctx.fail(f"HTTP {resp.status} for a request with tools: {resp.error_message()[:160]}")
    if 400 <= resp.status < 500:
        msg = resp.error_message()
        if "tool" not in msg.lower():
            ctx.fail(f"HTTP {resp.status} without saying tools are unsupported: {msg[:160]}")
        ctx.note(f"tools rejected: {msg[:120]}")


@impl("tools.call-shape")
async def call_shape(ctx: Ctx) -> None:
    calls = await _nonstream_calls(ctx, forced_body(ctx))
    for i, call in enumerate(calls):
        if not isinstance(call.get("id"), str) or not call["id"]:
            ctx.fail(f"call {i}: id is {call.get('id')!r}")
        if call.get("type") != "function":
            ctx.fail(f"call {i}: type is {call.get('type')!r}")
        fn = _fn_of(call)
        if not isinstance(fn.get("name"), str) or fn["name"] not in TOOLS_BY_NAME:
            ctx.fail(f"call {i}: function.name {fn.get('name')!r} was not offered")
        _, problem = _parse_args(fn.get("arguments"))
        if problem:
            ctx.fail(f"call {i}: {problem}")


def _sdk_tool_problems(run: SDKRun, expect: str | None = "get_weather") -> list[str]:
    if run.error is not None:
        return [f"the SDK raised {run.describe()}"]
    problems = [f"ToolUseError: {e.error}" for e in run.of_type("ToolUseError")]
    uses = run.of_type("ToolUseBlock")
    if not uses:
        problems.append(f"no ToolUseBlock ({run.describe()}, text {run.text[:60]!r})")
    for u in uses:
        if expect and u.name != expect:
            problems.append(f"ToolUseBlock name {u.name!r} (expected {expect!r})")
        if not isinstance(u.input, dict):
            problems.append(f"ToolUseBlock input is {type(u.input).__name__}")
        else:
            problems.extend(_schema_errors(u.name, u.input))
        if not u.id:
            problems.append("ToolUseBlock without an id")
    return problems


def _sdk_forced_extra(ctx: Ctx, tool: dict[str, Any]) -> dict[str, Any]:
    return {"seed": 1, "tool_choice": _choice_for(ctx, tool)}


async def _forced_weather_run(ctx: Ctx) -> SDKRun:
    """A forced get_weather call through the SDK."""
    return await ctx.sdk_run(
        WEATHER_PROMPT,
        system_prompt=SYSTEM,
        tools=[WEATHER_TOOL],
        max_tokens=96,
        extra_body=_sdk_forced_extra(ctx, WEATHER_TOOL),
    )


async def _forced_weather_call_sdk(ctx: Ctx) -> None:
    """A forced get_weather call through the SDK: one well-formed ToolUseBlock."""
    problems = _sdk_tool_problems(await _forced_weather_run(ctx))
    if problems:
        ctx.fail("; ".join(problems[:3]))


@impl("tools.call-shape", "sdk")
async def call_shape_sdk(ctx: Ctx) -> None:
    await _forced_weather_call_sdk(ctx)


@impl("tools.args-schema")
async def args_schema(ctx: Ctx) -> None:
    calls = await _nonstream_calls(ctx, forced_body(ctx))
    for i, call in enumerate(calls):
        fn = _fn_of(call)
        args, problem = _parse_args(fn.get("arguments"))
        if problem:
            ctx.fail(f"call {i}: {problem}")
        errors = _schema_errors(str(fn.get("name")), args)
        if errors:
            ctx.fail(f"call {i}: " + "; ".join(errors[:3]))


@impl("tools.finish-reason")
async def finish_reason(ctx: Ctx) -> None:
    accept = {"tool_calls"}
    if ctx.target.profile.forced_choice == "named":
        accept.add("stop")  # OpenAI ends a forced named call with "stop"
    data = await ctx.complete(forced_body(ctx))
    if not _calls_of(data):
        ctx.fail("no tool call to judge (non-streamed)")
    fr = data["choices"][0].get("finish_reason")
    if fr not in accept:
        ctx.fail(f"non-streamed finish_reason is {fr!r} with tool calls")
    s, _ = await _stream_calls(ctx, forced_body(ctx, stream=True))
    if s.finish_reason not in accept:
        ctx.fail(f"streamed finish_reason is {s.finish_reason!r} with tool calls")


# ---- streamed ----------------------------------------------------------------------------------


@impl("tools.stream.index-present")
async def index_present(ctx: Ctx) -> None:
    s, _ = await _stream_calls(ctx, forced_body(ctx, stream=True))
    if s.tool_items_without_index:
        ctx.fail(f"{s.tool_items_without_index} tool_calls fragment(s) without an integer index")


@impl("tools.stream.header-first")
async def header_first(ctx: Ctx) -> None:
    _, calls = await _stream_calls(ctx, forced_body(ctx, stream=True))
    for acc in calls:
        first = acc.first_fragment
        fn = _fn_of(first)
        if not isinstance(first.get("id"), str) or not first["id"]:
            ctx.fail(f"index {acc.index}: first fragment has id {first.get('id')!r}")
        if first.get("type") != "function":
            ctx.fail(f"index {acc.index}: first fragment has type {first.get('type')!r}")
        name = fn.get("name")
        if not name:
            ctx.fail(f"index {acc.index}: first fragment has no function.name")
        if name != acc.name or name not in TOOLS_BY_NAME:
            ctx.fail(f"index {acc.index}: name {name!r} is incomplete or not offered")
        if not acc.had_arguments_key:
            ctx.note(f"index {acc.index}: header fragment has no arguments key")


@impl("tools.stream.id-name-once")
async def id_name_once(ctx: Ctx) -> None:
    _, calls = await _stream_calls(ctx, forced_body(ctx, stream=True))
    problems = []
    for acc in calls:
        for what, n in (("id", acc.repeated_id), ("name", acc.repeated_name)):
            if n:
                problems.append(f"index {acc.index}: {what} repeated in {n} later fragment(s)")
        if acc.repeated_type:
            problems.append(f"index {acc.index}: type repeated in {acc.repeated_type} fragment(s)")
    if problems:
        ctx.fail("; ".join(problems[:3]))


@impl("tools.stream.id-name-once", "sdk")
async def id_name_once_sdk(ctx: Ctx) -> None:
    run = await _forced_weather_run(ctx)
    problems = _sdk_tool_problems(run)
    for u in run.of_type("ToolUseBlock"):
        half = len(u.id) // 2
        if half and len(u.id) % 2 == 0 and u.id[:half] == u.id[half:]:
            problems.append(f"ToolUseBlock id is doubled: {u.id!r}")
    if problems:
        ctx.fail("; ".join(problems[:3]))


@impl("tools.stream.args-concat-valid-json")
async def args_concat(ctx: Ctx) -> None:
    _, calls = await _stream_calls(ctx, forced_body(ctx, stream=True))
    for acc in calls:
        args, problem = _parse_args(acc.arguments)
        if problem:
            ctx.fail(f"index {acc.index}: {problem}")
        errors = _schema_errors(acc.name, args)
        if errors:
            ctx.fail(f"index {acc.index}: " + "; ".join(errors[:3]))
        ctx.facts.setdefault("fragments", []).append(acc.fragments)


@impl("tools.stream.args-concat-valid-json", "sdk")
async def args_concat_sdk(ctx: Ctx) -> None:
    await _forced_weather_call_sdk(ctx)


@impl("tools.stream.equals-nonstream")
async def tools_equals_nonstream(ctx: Ctx) -> None:
    _, streamed = await _stream_calls(ctx, forced_body(ctx, stream=True))
    plain = await _nonstream_calls(ctx, forced_body(ctx))
    a = [(c.name, _parse_args(c.arguments)[0]) for c in streamed]
    fns = [_fn_of(c) for c in plain]
    b = [(fn.get("name"), _parse_args(fn.get("arguments"))[0]) for fn in fns]
    if a != b:
        ctx.fail(f"streamed {a} != non-streamed {b}")


@impl("tools.parallel")
async def parallel(ctx: Ctx) -> None:
    body = forced_body(ctx, PARALLEL_PROMPT, stream=True, max_tokens=128, parallel_tool_calls=True)
    _, calls = await _stream_calls(ctx, body)
    if len(calls) < 2:
        ctx.fail(f"{len(calls)} tool call(s) for two cities")
    ids = [c.id for c in calls]
    if len(set(ids)) != len(ids) or not all(ids):
        ctx.fail(f"tool-call ids are not distinct: {ids}")
    cities = {str((_parse_args(c.arguments)[0] or {}).get("city", "")).lower() for c in calls}
    if not {"paris", "london"} <= cities:
        ctx.warn(f"cities called: {sorted(cities)}")


@impl("tools.parallel", "sdk")
async def parallel_sdk(ctx: Ctx) -> None:
    extra = _sdk_forced_extra(ctx, WEATHER_TOOL)
    extra["parallel_tool_calls"] = True
    run = await ctx.sdk_run(
        PARALLEL_PROMPT, system_prompt=SYSTEM, tools=[WEATHER_TOOL], max_tokens=128,
        extra_body=extra,
    )  # fmt: skip
    problems = _sdk_tool_problems(run)
    uses = run.of_type("ToolUseBlock")
    if len(uses) < 2:
        problems.append(f"{len(uses)} ToolUseBlock(s) for two cities")
    if len({u.id for u in uses}) != len(uses):
        problems.append("ToolUseBlock ids are not distinct")
    if problems:
        ctx.fail("; ".join(problems[:3]))


@impl("tools.choice-required")
async def choice_required(ctx: Ctx) -> None:
    body = base_body(
        ctx.model, "Say hi.", max_tokens=96, tools=[WEATHER_TOOL], tool_choice="required"
    )
    data = await ctx.complete(body)
    if not _calls_of(data):
        fr = data["choices"][0].get("finish_reason")
        ctx.fail(f"no tool call under tool_choice required (finish_reason {fr!r})")


@impl("tools.choice-none")
async def choice_none(ctx: Ctx) -> None:
    body = base_body(
        ctx.model, WEATHER_PROMPT, max_tokens=64, tools=[WEATHER_TOOL], tool_choice="none"
    )
    data = await ctx.complete(body)
    if _calls_of(data):
        ctx.fail("tool_calls returned under tool_choice none")
    content = (data["choices"][0].get("message") or {}).get("content")
    if not isinstance(content, str) or not content.strip():
        ctx.fail(f"no text under tool_choice none (content {content!r})")


@impl("tools.choice-named")
async def choice_named(ctx: Ctx) -> None:
    body = base_body(
        ctx.model,
        "What is the weather in Paris right now?",
        max_tokens=96,
        tools=[WEATHER_TOOL, FORECAST_TOOL],
        tool_choice={"type": "function", "function": {"name": "get_forecast"}},
    )
    resp = await ctx.chat(body)
    if 400 <= resp.status < 500:
        ctx.note(f"named tool_choice rejected with HTTP {resp.status}")
        return
    ctx.require_2xx(resp)
    data = resp.json()
    if not isinstance(data, dict) or not data.get("choices"):
        ctx.fail("response has no choices")
    names = [_fn_of(c).get("name") for c in _calls_of(data)]
    if names != ["get_forecast"] * len(names) or not names:
        ctx.fail(f"named get_forecast, got calls {names or 'none'}")


@impl("tools.no-args")
async def no_args(ctx: Ctx) -> None:
    for stream in (False, True):
        body = forced_body(ctx, TIME_PROMPT, [TIME_TOOL], stream=stream, max_tokens=48)
        if stream:
            _, accs = await _stream_calls(ctx, body)
            pairs: list[tuple[Any, Any]] = [
                (a.name, a.arguments if a.fragments else None) for a in accs
            ]
        else:
            calls = await _nonstream_calls(ctx, body)
            pairs = [(_fn_of(c).get("name"), _fn_of(c).get("arguments")) for c in calls]
        where = "streamed" if stream else "non-streamed"
        for name, raw in pairs:
            if name != "get_time":
                ctx.fail(f"{where}: called {name!r} instead of get_time")
            args, problem = _parse_args(raw)
            if problem:
                ctx.fail(f"{where}: {problem}")
            if args:
                ctx.warn(f"{where}: arguments {args} for a tool without parameters")


@impl("tools.no-args", "sdk")
async def no_args_sdk(ctx: Ctx) -> None:
    run = await ctx.sdk_run(
        TIME_PROMPT,
        system_prompt=SYSTEM,
        tools=[TIME_TOOL],
        max_tokens=48,
        extra_body=_sdk_forced_extra(ctx, TIME_TOOL),
    )
    problems = _sdk_tool_problems(run, expect="get_time")
    for u in run.of_type("ToolUseBlock"):
        if u.input != {}:
            ctx.warn(f"input {u.input!r} for a tool without parameters")
    if problems:
        ctx.fail("; ".join(problems[:3]))


@impl("tools.no-markup-in-content")
async def no_markup(ctx: Ctx) -> None:
    found: list[str] = []
    s = await ctx.stream(forced_body(ctx, stream=True))
    found += [f"forced stream: {m}" for m in find_markup(s.content)]
    s2 = await ctx.stream(forced_body(ctx, PARALLEL_PROMPT, stream=True, max_tokens=128,
                                      parallel_tool_calls=True))  # fmt: skip
    found += [f"parallel stream: {m}" for m in find_markup(s2.content)]
    body = base_body(ctx.model, WEATHER_PROMPT, max_tokens=96, tools=[WEATHER_TOOL])
    data = await ctx.complete(body, "auto request")
    content = message_text(data)
    found += [f"auto: {m}" for m in find_markup(content)]
    if found:
        ctx.fail("markup in content: " + ", ".join(found))


@impl("tools.no-markup-in-content", "sdk")
async def no_markup_sdk(ctx: Ctx) -> None:
    run = await ctx.sdk_run(
        WEATHER_PROMPT, system_prompt=SYSTEM, tools=[WEATHER_TOOL], max_tokens=96,
        extra_body={"seed": 1},
    )  # fmt: skip
    if run.error is not None:
        ctx.fail(f"the SDK raised {run.describe()}")
    leaked = find_markup(run.text)
    if leaked:
        ctx.fail(f"markup in SDK text: {', '.join(leaked)}")
    if not run.of_type("ToolUseBlock"):
        ctx.warn(f"no ToolUseBlock under auto ({run.describe()})")


@impl("tools.ids-unique")
async def ids_unique(ctx: Ctx) -> None:
    body = forced_body(ctx, PARALLEL_PROMPT, max_tokens=128, parallel_tool_calls=True)
    calls = await _nonstream_calls(ctx, body)
    ids = [c.get("id") for c in calls]
    if len(calls) < 2:
        ctx.na("fewer than two calls to compare")
    if len(set(ids)) != len(ids):
        ctx.fail(f"duplicate tool-call ids: {ids}")
    odd = [i for i in ids if not isinstance(i, str) or not ID_RE.match(i)]
    if odd:
        ctx.fail(f"ids outside ^[A-Za-z0-9_-]{{1,64}}$: {odd}")
    if not all(isinstance(i, str) and len(i) == 9 and i.isalnum() for i in ids):
        ctx.note("ids are not Mistral-style (9 alphanumerics)")


@impl("tools.args-unicode")
async def args_unicode(ctx: Ctx) -> None:
    _, calls = await _stream_calls(ctx, forced_body(ctx, UNICODE_CITY_PROMPT, stream=True))
    args, problem = _parse_args(calls[0].arguments)
    if problem:
        ctx.fail(problem)
    city = str(args.get("city", ""))
    if "\ufffd" in city:
        ctx.fail(f"city carries U+FFFD: {city!r}")
    if "São" not in city:
        ctx.warn(f"city is {city!r} (non-ASCII not kept by the model)")


@impl("tools.mcp-round-trip", "sdk")
async def mcp_round_trip_sdk(ctx: Ctx) -> None:
    """An MCP tool through the agent loop: an in-process server (no subprocess, no ``mcp``
    package), its tool offered as ``mcp__weather__get_weather``, run when the model calls it,
    its result sent back for the answer."""
    from any_agent import create_sdk_mcp_server, tool

    ran: list[dict[str, Any]] = []

    @tool("get_weather", "Get the current weather for a city", {"city": str})
    async def get_weather(args: dict[str, Any]) -> dict[str, Any]:
        ran.append(dict(args))
        report = '{"city": "Paris", "temperature_c": 21, "sky": "sunny"}'
        return {"content": [{"type": "text", "text": report}]}

    server = create_sdk_mcp_server(name="weather", version="1.0.0", tools=[get_weather])
    name = "mcp__weather__get_weather"
    run = await ctx.sdk_run(
        MCP_WEATHER_PROMPT,
        system_prompt=SYSTEM,
        mcp_servers={"weather": server},
        allowed_tools=[name],
        auto_execute_tools=True,
        max_turns=3,
        max_tokens=64,
    )
    if run.error is not None:
        ctx.fail(f"the SDK raised {run.describe()}")
    called = [b.name for b in run.of_type("ToolUseBlock")]
    if not ran:
        if called:
            ctx.fail(f"the model called {called} but never {name}, so the MCP tool never ran")
        ctx.fail(f"the model never called {name} ({run.describe()})")
    if not any(str(r.get("city", "")).strip() for r in ran):
        ctx.fail(f"{name} ran with an empty city: {ran!r}")
    result = run.result
    if result is None or result.num_turns < 2:
        ctx.fail("the loop did not send the MCP tool's result back for a second turn")
    if result.stop_reason == "max_turns":
        ctx.warn("the model kept calling the MCP tool until max_turns instead of answering")
        return
    judge_answer(ctx, result.result, 0, "MCP loop")


# ---- issue 16 (suite 0.2.0): relevance, nested arguments, choice, markers, repeats ------------

#: A tool whose arguments nest an object, an array of objects and an enum.
TRIP_TOOL: dict[str, Any] = {
    "type": "function",
    "function": {
        "name": "plan_trip",
        "description": "Plan a trip: who travels, the stops in order, and how",
        "parameters": {
            "type": "object",
            "properties": {
                "traveller": {
                    "type": "object",
                    "properties": {"name": {"type": "string"}, "age": {"type": "integer"}},
                    "required": ["name", "age"],
                },
                "stops": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "properties": {
                            "city": {"type": "string"},
                            "nights": {"type": "integer"},
                        },
                        "required": ["city", "nights"],
                    },
                },
                "transport": {"type": "string", "enum": ["train", "car", "plane"]},
            },
            "required": ["traveller", "stops", "transport"],
        },
    },
}
TRIP_PROMPT = (
    "Plan a trip for Ada, aged 36: 2 nights in Paris, then 3 nights in London, by train. "
    "Use the plan_trip tool."
)
CURRENCY_TOOL: dict[str, Any] = {
    "type": "function",
    "function": {
        "name": "convert_currency",
        "description": "Convert an amount of money from one currency to another",
        "parameters": {
            "type": "object",
            "properties": {
                "amount": {"type": "number"},
                "from_currency": {"type": "string", "enum": ["USD", "EUR", "GBP", "JPY"]},
                "to_currency": {"type": "string", "enum": ["USD", "EUR", "GBP", "JPY"]},
            },
            "required": ["amount", "from_currency", "to_currency"],
        },
    },
}
EMAIL_TOOL: dict[str, Any] = {
    "type": "function",
    "function": {
        "name": "send_email",
        "description": "Send an email",
        "parameters": {
            "type": "object",
            "properties": {
                "to": {"type": "string"},
                "subject": {"type": "string"},
                "body": {"type": "string"},
            },
            "required": ["to", "subject", "body"],
        },
    },
}
#: One relevant tool (convert_currency, third) among five.
CHOICE_TOOLS = [WEATHER_TOOL, EMAIL_TOOL, CURRENCY_TOOL, TIME_TOOL, FORECAST_TOOL]
CHOICE_PROMPT = "Convert 100 US dollars to euros. Use the right tool."
NOTE_TOOL: dict[str, Any] = {
    "type": "function",
    "function": {
        "name": "save_note",
        "description": "Save a note exactly as given",
        "parameters": {
            "type": "object",
            "properties": {"text": {"type": "string"}},
            "required": ["text"],
        },
    },
}
#: A value carrying the Hermes/Qwen end-of-call marker.
NOTE_TEXT = "Close it with </tool_call> and stop."
NOTE_PROMPT = f'Save a note with exactly this text: "{NOTE_TEXT}" Use the save_note tool.'
#: A question no offered tool helps with (BFCL's irrelevance category).
IRRELEVANT_PROMPT = "What is the capital of France? Answer in one word."
#: tools.repeated-runs: the same kind of call, k times.
REPEAT_CITIES = ("Paris", "London", "Tokyo")


def _calls_named(calls: list[dict[str, Any]]) -> list[tuple[str, Any, str | None]]:
    """(name, parsed arguments, problem) per non-streamed call."""
    out = []
    for call in calls:
        fn = _fn_of(call)
        args, problem = _parse_args(fn.get("arguments"))
        out.append((str(fn.get("name")), args, problem))
    return out


def _auto_or_required(ctx: Ctx) -> str:
    """``required`` where the profile forces calls that way, else ``auto``: a named choice would
    give the answer away."""
    return "required" if ctx.target.profile.forced_choice == "required" else "auto"


@impl("tools.no-needless-call")
async def no_needless_call(ctx: Ctx) -> None:
    body = base_body(ctx.model, IRRELEVANT_PROMPT, max_tokens=16,
                     tools=[WEATHER_TOOL, TIME_TOOL], tool_choice="auto")  # fmt: skip
    data = await ctx.complete(body)
    names = [n for n, _, _ in _calls_named(_calls_of(data))]
    if names:
        ctx.fail(f"called {names} for a question no offered tool answers")
    content = message_text(data)
    leaked = find_markup(content)
    if leaked:
        ctx.fail(f"a call written as text for a question no tool answers: {', '.join(leaked)}")
    if not content.strip():
        ctx.warn("no text either (empty content)")


@impl("tools.no-needless-call", "sdk")
async def no_needless_call_sdk(ctx: Ctx) -> None:
    run = await ctx.sdk_run(IRRELEVANT_PROMPT, system_prompt=SYSTEM,
                            tools=[WEATHER_TOOL, TIME_TOOL], max_tokens=16)  # fmt: skip
    if run.error is not None:
        ctx.fail(f"the SDK raised {run.describe()}")
    uses = [u.name for u in run.of_type("ToolUseBlock")]
    if uses:
        texts = sum(bool(getattr(u, "recovered", False)) for u in run.of_type("ToolUseBlock"))
        how = f" ({texts} recovered from the model's text)" if texts else ""
        ctx.fail(f"ToolUseBlock {uses}{how} for a question no offered tool answers")
    if not run.text.strip():
        ctx.warn(f"no text ({run.describe()})")


def _trip_semantics(args: dict[str, Any]) -> list[str]:
    stops = [s for s in args.get("stops") or [] if isinstance(s, dict)]
    seen = [(str(s.get("city", "")).lower(), s.get("nights")) for s in stops]
    odd = []
    if seen != [("paris", 2), ("london", 3)]:
        odd.append(f"stops {seen}")
    if args.get("transport") != "train":
        odd.append(f"transport {args.get('transport')!r}")
    return odd


@impl("tools.args-nested")
async def args_nested(ctx: Ctx) -> None:
    calls = await _nonstream_calls(ctx, forced_body(ctx, TRIP_PROMPT, [TRIP_TOOL], max_tokens=128))
    for i, (name, args, problem) in enumerate(_calls_named(calls)):
        if problem:
            ctx.fail(f"call {i}: {problem}")
        if name != "plan_trip":
            ctx.fail(f"call {i}: {name!r} instead of plan_trip")
        errors = validate_schema(args, TRIP_TOOL["function"]["parameters"])
        if errors:
            ctx.fail(f"call {i}: " + "; ".join(errors[:3]))
        odd = _trip_semantics(args)
        if odd:
            ctx.warn(f"call {i}: valid, but {', '.join(odd)} (the model, not the wire)")


def _say_recovered(ctx: Ctx, uses: list[Any]) -> None:
    """Warn for calls the SDK read from the model's text: they pass for structured calls only
    with that said (the wire layer judges the server's own tool_calls)."""
    names = [u.name for u in uses if getattr(u, "recovered", False)]
    if names:
        ctx.warn(f"ToolUseBlock {names} recovered from the model's text, not a structured call")


@impl("tools.args-nested", "sdk")
async def args_nested_sdk(ctx: Ctx) -> None:
    run = await ctx.sdk_run(TRIP_PROMPT, system_prompt=SYSTEM, tools=[TRIP_TOOL], max_tokens=128,
                            extra_body=_sdk_forced_extra(ctx, TRIP_TOOL))  # fmt: skip
    if run.error is not None:
        ctx.fail(f"the SDK raised {run.describe()}")
    uses = run.of_type("ToolUseBlock")
    if not uses:
        ctx.fail(f"no ToolUseBlock ({run.describe()})")
    for u in uses:
        if u.name != "plan_trip" or not isinstance(u.input, dict):
            ctx.fail(f"ToolUseBlock {u.name!r} with input {type(u.input).__name__}")
        errors = validate_schema(u.input, TRIP_TOOL["function"]["parameters"])
        if errors:
            ctx.fail("ToolUseBlock input: " + "; ".join(errors[:3]))
    _say_recovered(ctx, uses)


@impl("tools.choice-among-several")
async def choice_among_several(ctx: Ctx) -> None:
    body = base_body(ctx.model, CHOICE_PROMPT, max_tokens=64, tools=CHOICE_TOOLS,
                     tool_choice=_auto_or_required(ctx))  # fmt: skip
    calls = _calls_named(await _nonstream_calls(ctx, body))
    names = [n for n, _, _ in calls]
    if set(names) != {"convert_currency"}:
        ctx.fail(f"called {names} for a currency conversion (convert_currency among 5 tools)")
    for name, args, problem in calls:
        if problem:
            ctx.fail(f"{name}: {problem}")
        errors = validate_schema(args, CURRENCY_TOOL["function"]["parameters"])
        if errors:
            ctx.fail(f"{name}: " + "; ".join(errors[:3]))
        got = (args.get("amount"), args.get("from_currency"), args.get("to_currency"))
        if got != (100, "USD", "EUR"):
            ctx.warn(f"the right tool, with arguments {got}")


def _note_problem(where: str, args: Any, problem: str | None) -> str | None:
    """Why a save_note call did not carry NOTE_TEXT's marker, or None."""
    if problem:
        return f"{where}: {problem} (cut at the marker?)"
    text = str((args or {}).get("text", ""))
    if "</tool_call>" in text:
        return None
    head = NOTE_TEXT.split("</tool_call>", 1)[0]
    if text.strip() and head.startswith(text.strip()):
        return f"{where}: the value was cut at the marker: {text!r}"
    return f"{where}: the marker is gone from the value: {text!r}"


@impl("tools.marker-in-arguments")
async def marker_in_arguments(ctx: Ctx) -> None:
    problems: list[str] = []
    paraphrased: list[str] = []
    for stream in (False, True):
        where = "streamed" if stream else "non-streamed"
        body = forced_body(ctx, NOTE_PROMPT, [NOTE_TOOL], stream=stream, max_tokens=64)
        if stream:
            s = await ctx.stream(body)
            found = [(a.name, *_parse_args(a.arguments)) for a in s.tool_list()]
            content = s.content
        else:
            data = await ctx.complete(body)
            found = _calls_named(_calls_of(data))
            content = message_text(data)
        if not found:
            leaked = find_markup(content)
            lost = f", the call left as markup in content ({', '.join(leaked)})" if leaked else ""
            problems.append(f"{where}: no tool call{lost}")
            continue
        for _name, args, problem in found:
            why = _note_problem(where, args, problem)
            if why and "is gone" in why:
                paraphrased.append(why)
            elif why:
                problems.append(why)
    if problems:
        ctx.fail("; ".join(problems))
    for p in paraphrased:
        ctx.warn(f"{p} (the model rewrote it)")


@impl("tools.marker-in-arguments", "sdk")
async def marker_in_arguments_sdk(ctx: Ctx) -> None:
    run = await ctx.sdk_run(NOTE_PROMPT, system_prompt=SYSTEM, tools=[NOTE_TOOL], max_tokens=64,
                            extra_body=_sdk_forced_extra(ctx, NOTE_TOOL))  # fmt: skip
    if run.error is not None:
        ctx.fail(f"the SDK raised {run.describe()}")
    uses = run.of_type("ToolUseBlock")
    if not uses:
        ctx.fail(f"no ToolUseBlock (text {run.text[:80]!r})")
    for u in uses:
        why = _note_problem("ToolUseBlock", u.input if isinstance(u.input, dict) else None, None)
        if why and "is gone" in why:
            ctx.warn(f"{why} (the model rewrote it)")
        elif why:
            ctx.fail(why)
    _say_recovered(ctx, uses)


@impl("tools.parallel-false")
async def parallel_false(ctx: Ctx) -> None:
    body = forced_body(ctx, PARALLEL_PROMPT, max_tokens=128, parallel_tool_calls=False)
    data = await ctx.complete(body)
    names = [n for n, _, _ in _calls_named(_calls_of(data))]
    if not names:
        ctx.na("no tool call to judge")
    if len(names) > 1:
        ctx.fail(f"{len(names)} calls with parallel_tool_calls false: {names}")


def _first_chunk(s: StreamSummary, key: str) -> int | None:
    """Index of the first chunk whose choice-0 delta carries a non-empty ``key``."""
    for n, chunk in enumerate(s.chunks):
        choices = chunk.get("choices")
        for choice in choices if isinstance(choices, list) else []:
            delta = choice.get("delta") if isinstance(choice, dict) else None
            if isinstance(delta, dict) and delta.get(key):
                return n
    return None


@impl("tools.reasoning-then-call")
async def reasoning_then_call(ctx: Ctx) -> None:
    body = base_body(ctx.model, WEATHER_PROMPT, stream=True, max_tokens=128,
                     tools=[WEATHER_TOOL], tool_choice="auto")  # fmt: skip
    s = await ctx.stream(body)
    ctx.require_finished(s, "stream")
    calls = s.tool_list()
    if not s.reasoning_fields:
        if calls:
            ctx.na("the model called the tool without reasoning first")
        ctx.na("the model emitted no reasoning")
    if not calls:
        inside = find_markup(s.reasoning)
        if inside:
            ctx.fail(f"reasoning, then no tool call: the call is inside the reasoning "
                     f"({', '.join(inside)})")  # fmt: skip
        if s.finish_reason == "length":
            ctx.na("the reasoning ran to max_tokens (128) before any call")
        ctx.fail(f"reasoning, then no tool call (finish {s.finish_reason!r})")
    leaked = find_markup(s.content) + find_markup(s.content, THINK_PATTERNS)
    if leaked:
        ctx.fail(f"markup in content: {', '.join(leaked)}")
    for acc in calls:
        args, problem = _parse_args(acc.arguments)
        if problem:
            ctx.fail(f"index {acc.index}: {problem}")
        errors = _schema_errors(acc.name, args)
        if errors:
            ctx.fail(f"index {acc.index}: " + "; ".join(errors[:3]))
    first_reason = min(i for k in s.reasoning_fields if (i := _first_chunk(s, k)) is not None)
    first_call = _first_chunk(s, "tool_calls")
    if first_call is not None and first_call < first_reason:
        ctx.warn("the call was streamed before the reasoning")
    if s.finish_reason != "tool_calls":
        ctx.warn(f"finish_reason {s.finish_reason!r} after the call")


@impl("tools.reasoning-then-call", "sdk")
async def reasoning_then_call_sdk(ctx: Ctx) -> None:
    run = await ctx.sdk_run(WEATHER_PROMPT, system_prompt=SYSTEM, tools=[WEATHER_TOOL],
                            max_tokens=128)  # fmt: skip
    if run.error is not None:
        ctx.fail(f"the SDK raised {run.describe()}")
    if not run.thinking:
        ctx.na(f"no ThinkingBlock ({run.describe()})")
    stop = getattr(run.result, "stop_reason", None)
    if not run.of_type("ToolUseBlock") and stop == "length":
        ctx.na("the reasoning ran to max_tokens (128) before any call")
    problems = _sdk_tool_problems(run)
    if problems:
        ctx.fail("after a ThinkingBlock: " + "; ".join(problems[:3]))
    if find_markup(run.text, THINK_PATTERNS):
        ctx.fail("reasoning markup in SDK text")
    _say_recovered(ctx, run.of_type("ToolUseBlock"))


def repeated_verdict(passed: int, k: int) -> tuple[str, str]:
    """(outcome, message) for ``passed`` good calls out of ``k``: every one passes, all but one
    warns, fewer fails."""
    rate = f"{passed}/{k} good calls (pass@{k} {'yes' if passed else 'no'}, "
    rate += f"pass^{k} {'yes' if passed == k else 'no'})"
    if passed == k:
        return "pass", rate
    return ("warn" if passed == k - 1 else "fail"), rate


@impl("tools.repeated-runs")
async def repeated_runs(ctx: Ctx) -> None:
    failures: list[str] = []
    for city in REPEAT_CITIES:
        prompt = f"What is the weather in {city}? Use the get_weather tool."
        body = base_body(ctx.model, prompt, max_tokens=64, tools=[WEATHER_TOOL],
                         tool_choice="auto")  # fmt: skip
        resp = await ctx.chat(body)
        if resp.status == 0:
            ctx.require_2xx(resp, city)
        data = resp.json() if 200 <= resp.status < 300 else None
        if not isinstance(data, dict) or not isinstance(data.get("choices"), list):
            failures.append(f"{city}: HTTP {resp.status} {resp.error_message()[:80]}")
            continue
        if not data["choices"] or not isinstance(data["choices"][0], dict):
            failures.append(f"{city}: no choices")
            continue
        calls = _calls_named(_calls_of(data))
        why = ""
        if not calls:
            why = f"no call (content {message_text(data)[:40]!r})"
        for name, args, problem in calls:
            if problem or name != "get_weather":
                why = problem or f"called {name!r}"
            elif _schema_errors(name, args):
                why = "; ".join(_schema_errors(name, args)[:2])
            elif city.lower() not in str(args.get("city", "")).lower():
                why = f"city {args.get('city')!r}"
        if find_markup(message_text(data)):
            why = why or "markup in content"
        if why:
            failures.append(f"{city}: {why}")
    k = len(REPEAT_CITIES)
    outcome, rate = repeated_verdict(k - len(failures), k)
    ctx.facts["tool_call_rate"] = rate
    detail = f"{rate}; " + "; ".join(failures) if failures else rate
    if outcome == "fail":
        ctx.fail(detail)
    if outcome == "warn":
        ctx.warn(detail)
    ctx.note(rate)
