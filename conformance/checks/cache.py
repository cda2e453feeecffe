"""The prompt cache: a second request with the same long prefix is reported cached and is
answered sooner.

Each check sends a prefix of filler words (at least that many tokens) in the system
message, salted so no earlier check's prompt shares it, then a second request with the same
prefix and another question: what is reused is the prefix, not an answer. The judgement needs
the reused share to stand clear of the chat template's own tokens (a dozen or so, which any
two requests share) and, on a CPU server, a cold prefill to be measurably slower than a warm
one: :data:`PREFIX_WORDS` (160 words from suite 0.3.0) gives both; a 0.1/0.2 recording asked
with :data:`PREFIX_WORDS_0_2` and replays with it. From 0.3.0 both layers of
``cache.prefix-reported`` send the same salted prefix (the SDK layer's first request may then
find it cached already, which its judgement of the second does not depend on), so run next to
each other they prefill it once.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from typing import Any

from ..catalogue.checks import impl
from ..harness.context import Ctx
from ._prompts import REPLY_OK, base_body, filler
from .timeouts import _first_token_time

PREFIX_WORDS = 160
#: The prefix of suites 0.1 and 0.2 (their recordings replay with it).
PREFIX_WORDS_0_2 = 300
#: the second request must find at least this share of the prefix cached
CACHED_SHARE = 0.5
#: the warm first token must come at least this much sooner than the cold one
FASTER = 0.8
#: a cold first token sooner than this: prefill too fast to tell reuse from noise
MEASURABLE_S = 0.05
REPLY_YES = "Reply with the single word 'YES' and nothing else."
#: a new salt for each try of the live-only timing check: a retry's "cold" request must not
#: find the previous try's prefix cached. Counted per column and layer, so a column's first
#: try sends the same request whether its process certified other columns first (serial) or
#: not (an xdist worker).
_TRIES: dict[tuple[str, str], itertools.count[int]] = {}


def prefix_words(ctx: Ctx) -> int:
    """Filler words in the repeated prefix of the suite the column sends."""
    return PREFIX_WORDS if ctx.requests_since("0.3.0") else PREFIX_WORDS_0_2


def _system(ctx: Ctx, salt: str) -> str:
    return f"Context for this conversation: {filler(prefix_words(ctx), salt)}"


def _pair(ctx: Ctx, salt: str, **extra: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """Two bodies sharing the long system prefix, with different questions."""
    system = _system(ctx, salt)
    first = base_body(ctx.model, REPLY_OK, system=system, max_tokens=4, **extra)
    second = base_body(ctx.model, REPLY_YES, system=system, max_tokens=4, **extra)
    return first, second


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def cached_tokens(data: Any) -> tuple[int | None, str]:
    """The cached prompt tokens a response reports, and where: OpenAI's
    ``usage.prompt_tokens_details.cached_tokens``, else llama.cpp's ``timings.cache_n``."""
    if not isinstance(data, Mapping):
        return None, ""
    usage = data.get("usage")
    details = usage.get("prompt_tokens_details") if isinstance(usage, Mapping) else None
    if isinstance(details, Mapping) and _int(details.get("cached_tokens")) is not None:
        return details["cached_tokens"], "usage.prompt_tokens_details.cached_tokens"
    timings = data.get("timings")
    if isinstance(timings, Mapping) and _int(timings.get("cache_n")) is not None:
        return timings["cache_n"], "timings.cache_n"
    return None, ""


def _not_a_count(data: Any) -> str | None:
    """Where a response puts a cached-token value that is no count (a string, a float, a
    bool, a negative number), and the value; None when there is none."""
    usage = data.get("usage") if isinstance(data, Mapping) else None
    details = usage.get("prompt_tokens_details") if isinstance(usage, Mapping) else None
    timings = data.get("timings") if isinstance(data, Mapping) else None
    for where, holder, key in (
        ("usage.prompt_tokens_details.cached_tokens", details, "cached_tokens"),
        ("timings.cache_n", timings, "cache_n"),
    ):
        value = holder.get(key) if isinstance(holder, Mapping) else None
        if value is not None and (_int(value) is None or value < 0):
            return f"{where} is {str(value)[:40]!r} ({type(value).__name__}): not a token count"
    return None


def _prompt_count(data: Any) -> int | None:
    """``usage.prompt_tokens``, if it is a count."""
    usage = data.get("usage") if isinstance(data, Mapping) else None
    return _int(usage.get("prompt_tokens")) if isinstance(usage, Mapping) else None


@impl("cache.prefix-reported")
async def prefix_reported(ctx: Ctx) -> None:
    first, second = _pair(ctx, "cachecheck")
    await ctx.complete(first, "first request")
    data = await ctx.complete(second, "second request")
    cached, source = cached_tokens(data)
    wrong = _not_a_count(data)
    if wrong:
        ctx.fail(wrong)
    if cached is None:
        ctx.fail(
            "the second request reports no cached tokens (no "
            "usage.prompt_tokens_details.cached_tokens, no timings.cache_n)"
        )
    ctx.facts["cached_tokens"] = cached
    prompt = _prompt_count(data)
    if prompt is not None and cached > prompt:
        ctx.fail(
            f"{cached} cached tokens ({source}) for a prompt of {prompt} tokens "
            "(usage.prompt_tokens): more cached than sent"
        )
    if cached < prefix_words(ctx) * CACHED_SHARE:
        ctx.fail(
            f"{cached} cached tokens ({source}) for a repeated prefix of at least "
            f"{prefix_words(ctx)} tokens: the prefix was not reused"
        )
    if source == "timings.cache_n":
        ctx.warn(
            "reported only in llama.cpp's timings.cache_n; OpenAI clients read "
            "usage.prompt_tokens_details.cached_tokens"
        )
    ctx.note(f"{cached} cached tokens ({source})")


@impl("cache.prefix-reported", "sdk")
async def prefix_reported_sdk(ctx: Ctx) -> None:
    runs = []
    # from 0.3.0 the wire layer's prefix (see the module docstring)
    salt = "cachecheck" if ctx.requests_since("0.3.0") else "cachechecksdk"
    for prompt in (REPLY_OK, REPLY_YES):
        run = await ctx.sdk_run(prompt, system_prompt=_system(ctx, salt), max_tokens=4)
        if run.error is not None:
            ctx.fail(f"the SDK raised {run.describe()}")
        runs.append(run)
    usage = getattr(runs[1].result, "usage", None)
    cached = getattr(usage, "cached_tokens", None)
    ctx.facts["cached_tokens"] = cached
    if cached is None:
        ctx.fail("ResultMessage.usage.cached_tokens is None after a repeated prefix")
    if cached < prefix_words(ctx) * CACHED_SHARE:
        ctx.fail(f"ResultMessage.usage.cached_tokens={cached} for a repeated prefix")
    ctx.note(f"ResultMessage.usage.cached_tokens={cached}")


@impl("cache.time-to-first-token")
async def time_to_first_token(ctx: Ctx) -> None:
    tries = _TRIES.setdefault((ctx.target.column, ctx.layer), itertools.count(1))
    first, second = _pair(ctx, f"cachechecktime{next(tries)}", stream=True)
    times: list[float] = []
    for body, what in ((first, "cold"), (second, "warm")):
        resp = await ctx.chat(body)
        ctx.require_2xx(resp, f"{what} request")
        t = _first_token_time(resp)
        if t is None:
            ctx.fail(f"the {what} stream has no content event")
        times.append(t)
    cold, warm = times
    ctx.facts["cold_first_token_s"] = round(cold, 3)
    ctx.facts["warm_first_token_s"] = round(warm, 3)
    if cold < MEASURABLE_S:
        ctx.na(f"cold first token after {cold:.3f} s: prefill too fast to measure reuse")
    if warm > cold * FASTER:
        ctx.fail(
            f"first token after {warm:.3f} s with the prefix cached, {cold:.3f} s without: "
            "the prefix was processed again"
        )
    ctx.note(f"first token {cold:.3f} s cold, {warm:.3f} s warm")
