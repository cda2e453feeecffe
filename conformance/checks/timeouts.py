"""Timeouts and liveness, measured live (vcrpy buffers streams, so none of this replays).

Recorded runs keep these results in the cassette manifest; replay reports them from there.
The time to headers and to the first token are judged on the first token, so from suite
0.3.0 those requests ask for :data:`FIRST_TOKEN_MAX_TOKENS` (a CPU server spent most of the
check generating the other twelve of the 16 asked before); the longest gap and the dropped
stream keep their lengths (a gap needs a stream to happen in, a generation that runs on after
the client left needs one long enough to notice).
"""

from __future__ import annotations

import itertools

from ..catalogue.checks import impl
from ..harness.context import Ctx
from ..harness.http import RawResponse
from ..harness.stream import summarize_stream
from ._prompts import COUNT_TO_20, SHORT_STORY, base_body

#: Tokens the first-token checks ask for from suite 0.3.0 (16 before).
FIRST_TOKEN_MAX_TOKENS = 4


def _first_token_budget(ctx: Ctx) -> int:
    return FIRST_TOKEN_MAX_TOKENS if ctx.requests_since("0.3.0") else 16


def _first_token_time(resp: RawResponse) -> float | None:
    for ev in resp.events():
        obj = ev.json()
        if not isinstance(obj, dict):
            continue
        choices = obj.get("choices")
        for choice in choices if isinstance(choices, list) else []:
            delta = choice.get("delta") if isinstance(choice, dict) else None
            if not isinstance(delta, dict):
                continue  # a hostile chunk is no token
            if delta.get("content") or delta.get("tool_calls") or delta.get("reasoning_content") \
                    or delta.get("reasoning"):  # fmt: skip
                return ev.t
    return None


@impl("timeout.time-to-headers")
async def time_to_headers(ctx: Ctx) -> None:
    budget = _first_token_budget(ctx)
    resp = await ctx.chat(base_body(ctx.model, COUNT_TO_20, stream=True, max_tokens=budget))
    ctx.require_2xx(resp)
    t = resp.t_headers or 0.0
    ctx.facts["time_to_headers_s"] = round(t, 3)
    ctx.facts["time_to_first_byte_s"] = round(resp.t_first_byte or 0.0, 3)
    bound = ctx.target.first_token_timeout
    if t > bound:
        ctx.fail(f"headers after {t:.2f} s (bound {bound:g} s)")
    ctx.note(f"headers after {t:.3f} s")


@impl("timeout.time-to-first-token")
async def time_to_first_token(ctx: Ctx) -> None:
    budget = _first_token_budget(ctx)
    resp = await ctx.chat(base_body(ctx.model, COUNT_TO_20, stream=True, max_tokens=budget))
    ctx.require_2xx(resp)
    t = _first_token_time(resp)
    if t is None:
        ctx.fail("no content event arrived")
    ctx.facts["time_to_first_token_s"] = round(t, 3)
    bound = ctx.target.first_token_timeout
    if t > bound:
        ctx.fail(f"first token after {t:.2f} s (bound {bound:g} s)")
    ctx.note(f"first token after {t:.3f} s")


@impl("timeout.time-to-first-token", "sdk")
async def time_to_first_token_sdk(ctx: Ctx) -> None:
    run = await ctx.sdk_run(COUNT_TO_20, max_tokens=_first_token_budget(ctx))
    if run.error is not None:
        ctx.fail(f"the SDK raised {run.describe()}")
    ms = getattr(run.result, "time_to_first_token_ms", None)
    if ms is None:
        ctx.fail("ResultMessage.time_to_first_token_ms is missing")
    ctx.facts["time_to_first_token_ms"] = ms
    if ms / 1000 > ctx.target.first_token_timeout:
        ctx.fail(f"SDK first token after {ms} ms")
    ctx.note(f"SDK time to first token {ms} ms")


@impl("timeout.longest-gap")
async def longest_gap(ctx: Ctx) -> None:
    resp = await ctx.chat(base_body(ctx.model, SHORT_STORY, stream=True, max_tokens=96))
    ctx.require_2xx(resp)
    times = [t for t, _ in resp.chunk_times]
    if len(times) < 2:
        ctx.na("the response arrived in one piece; no gap to measure")
    gap = max(b - a for a, b in itertools.pairwise(times))
    ctx.facts["longest_gap_s"] = round(gap, 3)
    ctx.facts["chunks"] = len(times)
    ctx.facts["total_s"] = round(resp.t_total, 3)
    if gap > ctx.target.idle_timeout:
        ctx.fail(f"{gap:.1f} s without a byte (idle bound {ctx.target.idle_timeout:g} s)")
    ctx.note(f"longest gap {gap:.3f} s over {len(times)} chunks")


@impl("timeout.client-disconnect")
async def client_disconnect(ctx: Ctx) -> None:
    short = base_body(ctx.model, "Say OK.", max_tokens=4)
    base = await ctx.chat(short)
    ctx.require_2xx(base, "baseline request")
    baseline = base.t_total
    cut = await ctx.chat(
        base_body(ctx.model, SHORT_STORY, stream=True, max_tokens=400), abort_after_events=3
    )
    ctx.require_2xx(cut, "stream to drop")
    if not cut.aborted:
        ctx.na("the stream ended before three events; nothing to drop")
    after = await ctx.chat(short)
    ctx.facts.update(baseline_s=round(baseline, 3), after_disconnect_s=round(after.t_total, 3))
    if not 200 <= after.status < 300:
        ctx.fail(f"the request after a dropped stream got {after.status or after.error}")
    limit = max(3 * baseline, baseline + ctx.target.first_token_timeout)
    if after.t_total > limit:
        ctx.fail(f"the next request took {after.t_total:.1f} s (baseline {baseline:.1f} s)")
    if after.t_total > 2 * baseline + 2:
        ctx.warn(
            f"the next request took {after.t_total:.1f} s against {baseline:.1f} s: the "
            "dropped generation probably ran on"
        )


@impl("timeout.cold-start")
async def cold_start(ctx: Ctx) -> None:
    body = base_body(ctx.model, "Say OK.", stream=True, max_tokens=4)
    first = await ctx.chat(body)
    ctx.require_2xx(first)
    second = await ctx.chat(body)
    ctx.require_2xx(second)
    s = summarize_stream(first.events())
    if not s.finish_reason:
        ctx.warn("the first request ended without a finish_reason")
    ctx.facts.update(first_s=round(first.t_total, 3), warm_s=round(second.t_total, 3))
    if first.t_total > ctx.target.first_token_timeout:
        ctx.warn(f"first request took {first.t_total:.1f} s (a model load?)")
    ctx.note(f"first request {first.t_total:.3f} s, warm {second.t_total:.3f} s")
