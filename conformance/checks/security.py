"""Security: control strings in message text stay text; a missing or wrong API key is
refused with 401 and an OpenAI error body.

Special tokens are judged by what they cost, not by what a model says: the same request is
sent without and with four ``<|im_start|>`` in a row (then ``<|im_end|>``, then ``<eos>``).
Kept as text each string costs two or more tokens (``<|``, ``im``, ``_end``, ``|>``); parsed
as a control token, one (none when a server strips it), so ``usage.prompt_tokens`` tells the
two apart whatever the tokenizer. A string that is no special token of the model costs the
same as text either way, and passes: nothing could be injected with it.
"""

from __future__ import annotations

import json
from typing import Any

from ..catalogue.checks import impl
from ..harness.context import Ctx
from ..harness.http import RawResponse, WireClient
from ._prompts import (
    CONTROL_REPEAT,
    CONTROL_STRINGS,
    CONTROL_WORD,
    WEATHER_TOOL,
    base_body,
    control_text,
    reply_text,
    tool_history,
)

#: Prompt tokens the repeated strings may cost at most when parsed (one each, plus one for the
#: space before them) and at least as text (two each).
_PARSED_MAX = CONTROL_REPEAT + 1
_TEXT_MIN = 2 * CONTROL_REPEAT


def _prompt_tokens(ctx: Ctx, data: dict[str, Any], what: str) -> int | None:
    """``usage.prompt_tokens`` (None when absent); a value that is no count fails: the
    judgement is a difference of two of them."""
    usage = data.get("usage")
    n = usage.get("prompt_tokens") if isinstance(usage, dict) else None
    if n is None:
        return None
    if not isinstance(n, int) or isinstance(n, bool) or n < 0:
        ctx.fail(f"{what}: usage.prompt_tokens is {str(n)[:40]!r} ({type(n).__name__}), "
                 "not a token count")  # fmt: skip
    return n


def _parsed(ctx: Ctx, costs: dict[str, int]) -> list[str]:
    """The control strings whose cost shows they were parsed (warns on unclear costs)."""
    ctx.facts["control_string_prompt_tokens"] = dict(costs)
    parsed = [f"{c} x{CONTROL_REPEAT} cost {n}" for c, n in costs.items() if n <= _PARSED_MAX]
    unclear = [f"{c} x{CONTROL_REPEAT} cost {n}" for c, n in costs.items()
               if _PARSED_MAX < n < _TEXT_MIN]  # fmt: skip
    if unclear:
        ctx.warn(f"inconclusive prompt-token costs: {', '.join(unclear)}")
    return parsed


async def _costs(
    ctx: Ctx, body_for: Any, what: str
) -> tuple[dict[str, int] | None, dict[str, dict[str, Any]]]:
    """Each control string's extra prompt tokens over the plain request (None without
    usage), and the replies."""
    plain_body = body_for(None)
    plain = await ctx.complete(plain_body, f"{what} without control strings")
    replies: dict[str, dict[str, Any]] = {}
    costs: dict[str, int] | None = {}
    base = _prompt_tokens(ctx, plain, f"{what} without control strings")
    words = sum(len(str(m.get("content") or "").split()) for m in plain_body["messages"])
    if base is not None and base < words:
        # each word is a token at least: a smaller count (a constant, say) counts nothing, and
        # the same count for every prompt would read as control strings that cost nothing
        ctx.fail(f"{what} without control strings: usage.prompt_tokens {base} is below the "
                 f"{words} words of the prompt: the usage does not count the prompt")  # fmt: skip
    for control in CONTROL_STRINGS:
        data = await ctx.complete(body_for(control), f"{what} with {control}")
        replies[control] = data
        n = _prompt_tokens(ctx, data, f"{what} with {control}")
        if base is None or n is None or costs is None:
            costs = None
            continue
        if n < base:
            # the strings are added text: dropped they cost nothing, never less than nothing
            ctx.fail(f"{what} with {control}: usage.prompt_tokens {n} is below the {base} of "
                     "the same prompt without it: the usage does not count the prompt")  # fmt: skip
        costs[control] = n - base
    return costs, replies


def _fail_parsed(ctx: Ctx, parsed: list[str], where: str) -> None:
    if parsed:
        ctx.fail(
            f"{where}: {'; '.join(parsed)} prompt tokens: parsed as control tokens (or "
            f"dropped), not kept as text (as text each costs {_TEXT_MIN} or more)"
        )


@impl("security.special-tokens-user")
async def special_tokens_user(ctx: Ctx) -> None:
    def body(control: str | None) -> dict[str, Any]:
        return base_body(ctx.model, control_text(control), system=None, max_tokens=8)

    costs, replies = await _costs(ctx, body, "user text")
    if costs is not None:
        _fail_parsed(ctx, _parsed(ctx, costs), "user text")
    broken = [c for c, data in replies.items() if CONTROL_WORD not in reply_text(data).lower()]
    if broken:
        what = f"the reply ignores the instruction after {', '.join(broken)}"
        if costs is None:
            ctx.fail(f"{what}: the turn broke there (no usage to count tokens)")
        ctx.warn(what)


def _tool_messages(control: str | None) -> list[dict[str, Any]]:
    note = control_text(control).split(": ", 1)[1].split(" Reply", 1)[0]
    result = {"city": "Paris", "temperature_c": 21, "sky": "sunny", "note": note}
    return tool_history(content="", tool_content=json.dumps(result))


@impl("security.special-tokens-tool")
async def special_tokens_tool(ctx: Ctx) -> None:
    def body(control: str | None) -> dict[str, Any]:
        return base_body(ctx.model, _tool_messages(control), max_tokens=12, tools=[WEATHER_TOOL])

    costs, replies = await _costs(ctx, body, "tool result")
    if costs is None:
        ctx.na("no usage.prompt_tokens to compare (the only measure for a tool result)")
    _fail_parsed(ctx, _parsed(ctx, costs), "tool result")
    unused = [c for c, data in replies.items() if "21" not in reply_text(data)]
    if unused:
        ctx.warn(f"the answer does not use the tool result after {', '.join(unused)}")


#: Never a real key: it only has to be wrong.
WRONG_KEY = "conformance-wrong-key-0000"


async def _unauthenticated(ctx: Ctx, key: str | None, body: dict[str, Any]) -> RawResponse:
    """``body`` sent with ``key`` (None: no Authorization header), kept as evidence."""
    target = ctx.target
    ctx.last_request = {"key": "wrong" if key else "none", "body": body}
    async with WireClient(target.base_url, api_key=key, connect_timeout=target.connect_timeout,
                          request_timeout=target.request_timeout) as client:  # fmt: skip
        resp = await client.chat(body)
    return ctx._seen(resp)


def _auth_problem(resp: RawResponse) -> str | None:
    """Why a refusal is not 401 with an OpenAI error body, or None."""
    if resp.status >= 500 or resp.status < 400:
        return f"HTTP {resp.status}"
    data = resp.json()
    err = data.get("error") if isinstance(data, dict) else None
    if not isinstance(err, dict) or not isinstance(err.get("message"), str):
        return f"HTTP {resp.status} with a body that is not an OpenAI error: {resp.text()[:80]!r}"
    if not isinstance(err.get("type"), str):
        return f"HTTP {resp.status}: error.type is {err.get('type')!r}"
    if resp.status != 401:
        return f"HTTP {resp.status} (expected 401)"
    return None


@impl("security.auth-rejected")
async def auth_rejected(ctx: Ctx) -> None:
    missing = await _unauthenticated(ctx, None, base_body(ctx.model, "Say hi.", max_tokens=2))
    if missing.status == 0:
        ctx.require_2xx(missing, "no key")
    if 200 <= missing.status < 300:
        ctx.na("the server answers requests without a key: it has no authentication")
    wrong = await _unauthenticated(ctx, WRONG_KEY, base_body(ctx.model, "Say hi.", max_tokens=3))
    if wrong.status == 0:
        ctx.require_2xx(wrong, "wrong key")
    if 200 <= wrong.status < 300:
        ctx.fail(f"HTTP {wrong.status} with a wrong key (a request without one was refused)")
    problems = [
        f"{what}: {problem}"
        for what, resp in (("no key", missing), ("wrong key", wrong))
        if (problem := _auth_problem(resp))
    ]
    if problems:
        ctx.fail("; ".join(problems))


@impl("security.auth-rejected", "sdk")
async def auth_rejected_sdk(ctx: Ctx) -> None:
    from any_agent import HTTPStatusError

    run = await ctx.sdk_run("Say hi.", api_key=WRONG_KEY, max_tokens=3)
    err = run.error
    if err is None:
        ctx.na("the server accepted a wrong key: it has no authentication")
    if WRONG_KEY in str(err):
        ctx.fail(f"the error repeats the API key: {type(err).__name__}")
    if not isinstance(err, HTTPStatusError):
        ctx.fail(f"a wrong key raised {type(err).__name__}: {str(err)[:120]}, not HTTPStatusError")
    if err.status != 401:
        ctx.fail(f"a wrong key raised HTTPStatusError {err.status}, not 401")
    if not err.message.strip():
        ctx.warn("the error carries no message from the server")
