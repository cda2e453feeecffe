"""Streaming: SSE framing, chunk envelope, role, finish reason, usage, unicode, isolation."""

from __future__ import annotations

import asyncio
import itertools
from typing import Any

from ..catalogue.checks import impl
from ..harness.context import Ctx
from ..harness.stream import FINISH_REASONS, StreamSummary, summarize_stream
from ._prompts import (
    COUNT_TO_5,
    SYSTEM,
    UNICODE_PROMPT,
    base_body,
    message_text,
)


def _count_body(ctx: Ctx, **extra: Any) -> dict[str, Any]:
    return base_body(ctx.model, COUNT_TO_5, stream=True, max_tokens=32, **extra)


@impl("stream.sse-framing")
async def sse_framing(ctx: Ctx) -> None:
    resp = await ctx.chat(_count_body(ctx))
    ctx.require_2xx(resp)
    if not resp.is_sse:
        ctx.fail(f"Content-Type is {resp.content_type!r}, not text/event-stream")
    events = resp.events()
    if not events:
        ctx.fail("the stream carried no events")
    summary = summarize_stream(events)
    if summary.problems:
        ctx.fail("; ".join(summary.problems[:3]))
    fields = sorted({f.split(":", 1)[0] for e in events for f in e.fields})
    if fields:
        ctx.note(f"extra SSE fields: {', '.join(fields)}")
    raw = resp.body
    if b"\r\n" in raw and b"\n\n" in raw.replace(b"\r\n", b"\n") and b"\r\n\r\n" not in raw:
        ctx.warn("mixed CRLF/LF line ends")
    if not summary.chunks:
        ctx.fail("no JSON chunk in the stream")


@impl("stream.done-sentinel")
async def done_sentinel(ctx: Ctx) -> None:
    s = await ctx.stream(_count_body(ctx))
    if s.done_count == 0:
        ctx.fail("the stream ended without data: [DONE]")
    if s.done_count > 1:
        ctx.fail(f"data: [DONE] was sent {s.done_count} times")
    if not s.done_last:
        ctx.fail("events follow data: [DONE]")


@impl("stream.chunk-shape")
async def chunk_shape(ctx: Ctx) -> None:
    s = await ctx.stream(_count_body(ctx))
    if not s.chunks:
        ctx.fail("no chunks")
    for i, chunk in enumerate(s.chunks):
        if chunk.get("object") != "chat.completion.chunk":
            ctx.fail(f"chunk {i}: object is {chunk.get('object')!r}")
        if not isinstance(chunk.get("id"), str) or not chunk["id"]:
            ctx.fail(f"chunk {i}: id is {chunk.get('id')!r}")
        if not isinstance(chunk.get("model"), str):
            ctx.fail(f"chunk {i}: model is {chunk.get('model')!r}")
        created = chunk.get("created")
        if not isinstance(created, int) or isinstance(created, bool):
            ctx.fail(f"chunk {i}: created is {created!r}")
        if not isinstance(chunk.get("choices"), list):
            ctx.fail(f"chunk {i}: choices is not an array")
    if len(s.ids) > 1:
        ctx.fail(f"the id changes within one stream ({len(s.ids)} ids)")
    if len(s.created) > 1:
        stamps = [c["created"] for c in s.chunks if isinstance(c.get("created"), int)]
        if all(b >= a for a, b in itertools.pairwise(stamps)):
            # llama-server stamps each chunk with its own second: a stream that lasts over a
            # second shows it, a shorter one does not. The same words either way it is seen.
            ctx.warn(
                "created is each chunk's own time (it changes once a stream lasts over a "
                "second); OpenAI keeps it constant"
            )
        else:
            ctx.warn(
                "created changes from chunk to chunk, out of time order (OpenAI keeps it constant)"
            )
    models = {c.get("model") for c in s.chunks}
    if "" in models:
        ctx.warn('model is "" in some chunks')


@impl("stream.role-once")
async def role_once(ctx: Ctx) -> None:
    s = await ctx.stream(_count_body(ctx))
    if s.first_choice_chunk_role != "assistant":
        ctx.fail(f"the first chunk's delta.role is {s.first_choice_chunk_role!r}")
    if None in s.roles:
        ctx.fail("a chunk sends role: null")
    if len(s.roles) > 1:
        ctx.warn(f"role is repeated in {len(s.roles) - 1} later chunks")


def _finish_problems(s: StreamSummary) -> list[str]:
    problems: list[str] = []
    if not s.finish_reasons:
        problems.append("no finish_reason in the stream")
    for idx, reasons in s.finish_reasons.items():
        if len(reasons) != 1:
            problems.append(f"choice {idx}: {len(reasons)} finish reasons {reasons}")
        for r in reasons:
            if r not in FINISH_REASONS:
                problems.append(f"choice {idx}: finish_reason {r!r} is not an OpenAI value")
    if s.content_after_finish:
        problems.append("content arrives after the finish_reason")
    return problems


@impl("stream.finish-reason-once")
async def finish_reason_once(ctx: Ctx) -> None:
    s = await ctx.stream(_count_body(ctx))
    problems = _finish_problems(s)
    if problems:
        ctx.fail("; ".join(problems))


@impl("stream.length-finish")
async def length_finish(ctx: Ctx) -> None:
    body = base_body(
        ctx.model, "Write a long story about a lighthouse keeper.", stream=True, max_tokens=5
    )
    s = await ctx.stream(body)
    if s.finish_reason != "length":
        ctx.fail(f"finish_reason is {s.finish_reason!r}, expected 'length' at max_tokens=5")
    if s.done_count != 1:
        ctx.fail("no single data: [DONE] after a length stop")
    problems = _finish_problems(s)
    if problems:
        ctx.fail("; ".join(problems))


@impl("stream.usage-chunk")
async def usage_chunk(ctx: Ctx) -> None:
    s = await ctx.stream(_count_body(ctx, stream_options={"include_usage": True}))
    if not s.usage_chunks:
        ctx.fail("no chunk carries usage despite include_usage")
    if len(s.usage_chunks) > 1:
        ctx.warn(f"{len(s.usage_chunks)} chunks carry usage (expected one)")
    last = s.usage_chunks[-1]
    usage = last["usage"]
    nums = [usage.get(k) for k in ("prompt_tokens", "completion_tokens", "total_tokens")]
    if not all(isinstance(n, int) for n in nums):
        ctx.fail(f"usage counts are not all integers: {usage}")
    if nums[0] + nums[1] != nums[2]:
        ctx.warn(f"total_tokens {nums[2]} != prompt {nums[0]} + completion {nums[1]}")
    if last.get("choices") != []:
        ctx.warn(f"the usage chunk has choices={str(last.get('choices'))[:80]} (OpenAI: [])")
    # it must come after the finish chunk
    order = s.chunks.index(last)
    finish_at = [
        i
        for i, c in enumerate(s.chunks)
        if isinstance(c.get("choices"), list)
        and any(isinstance(ch, dict) and ch.get("finish_reason") for ch in c["choices"])
    ]
    if finish_at and order < finish_at[0]:
        ctx.fail("the usage chunk precedes the finish chunk")


@impl("stream.no-null-fields")
async def no_null_fields(ctx: Ctx) -> None:
    s = await ctx.stream(_count_body(ctx))
    if s.null_fields:
        uniq = sorted(set(s.null_fields))
        ctx.fail(f"explicit nulls in deltas: {', '.join(uniq)}")


async def _stream_and_plain(ctx: Ctx, prompt: str) -> tuple[StreamSummary, dict[str, Any]]:
    s = await ctx.stream(base_body(ctx.model, prompt, stream=True, max_tokens=32))
    data = await ctx.complete(base_body(ctx.model, prompt, max_tokens=32), "non-streamed request")
    return s, data


@impl("stream.equals-nonstream")
async def equals_nonstream(ctx: Ctx) -> None:
    s, data = await _stream_and_plain(ctx, COUNT_TO_5)
    choice = data["choices"][0]
    text = message_text(data)
    ctx.facts["stream_text"] = s.content[:200]
    if s.content != text:
        ctx.fail(f"stream {s.content[:60]!r} != non-stream {text[:60]!r}")
    if s.finish_reason != choice.get("finish_reason"):
        ctx.fail(f"finish_reason {s.finish_reason!r} != {choice.get('finish_reason')!r}")


@impl("stream.equals-nonstream", "sdk")
async def equals_nonstream_sdk(ctx: Ctx) -> None:
    data = await ctx.complete(
        base_body(ctx.model, COUNT_TO_5, max_tokens=32), "non-streamed request"
    )
    text = message_text(data)
    run = await ctx.sdk_run(COUNT_TO_5, system_prompt=SYSTEM, max_tokens=32)
    if run.error is not None:
        ctx.fail(f"the SDK raised {run.describe()}")
    if run.text != text:
        ctx.fail(f"SDK text {run.text[:60]!r} != non-stream content {text[:60]!r}")


@impl("stream.unicode")
async def unicode(ctx: Ctx) -> None:
    s, data = await _stream_and_plain(ctx, UNICODE_PROMPT)
    for i, piece in enumerate(s.content_deltas):
        if "\ufffd" in piece:
            ctx.fail(f"delta {i} carries U+FFFD (a character split across events): {piece!r}")
    text = message_text(data)
    if "\ufffd" in text:
        ctx.fail("the non-streamed content carries U+FFFD")
    if s.content != text:
        ctx.warn(f"stream {s.content[:40]!r} != non-stream {text[:40]!r}")
    kept = [ch for ch in ("你", "м", "é", "🌍") if ch in s.content]
    if not kept:
        ctx.warn("the model did not repeat any non-ASCII character (check is weak for this model)")


@impl("stream.unicode", "sdk")
async def unicode_sdk(ctx: Ctx) -> None:
    run = await ctx.sdk_run(UNICODE_PROMPT, system_prompt=SYSTEM, max_tokens=32)
    if run.error is not None:
        ctx.fail(f"the SDK raised {run.describe()}")
    if "\ufffd" in run.text:
        ctx.fail("SDK text carries U+FFFD")
    if not run.text:
        ctx.fail("SDK returned no text")


@impl("stream.concurrent-isolated")
async def concurrent_isolated(ctx: Ctx) -> None:
    words = ["apple", "river", "mountain"]
    bodies = [
        base_body(
            ctx.model,
            f"Reply with the single word {w!r} and nothing else.",
            stream=True,
            max_tokens=12,
        )
        for w in words
    ]
    resps = await asyncio.gather(*(ctx.wire.chat(b) for b in bodies))
    ctx.last_request = bodies[0]
    ctx.last_response = resps[0]
    ids: list[str] = []
    texts: list[str] = []
    for w, resp in zip(words, resps, strict=True):
        ctx.require_2xx(resp, f"stream {w!r}")
        s = summarize_stream(resp.events())
        if s.done_count != 1 or not s.finish_reason:
            # a stream the server cut short is not recorded faithfully by vcrpy: keep this
            # result in the manifest instead of replaying it
            ctx.unreplayable = f"stream {w!r} was cut short by the server"
        if s.done_count != 1:
            ctx.fail(f"stream {w!r} did not end with one [DONE]")
        if not s.finish_reason:
            ctx.fail(f"stream {w!r} has no finish_reason (interrupted?)")
        ids.extend(s.ids)
        texts.append(s.content)
    if len(set(ids)) != len(words):
        ctx.fail(f"stream ids are not distinct: {ids}")
    for i, (w, t) in enumerate(zip(words, texts, strict=True)):
        others = [o for j, o in enumerate(words) if j != i]
        if any(o in t.lower() for o in others):
            ctx.fail(f"stream {w!r} carries another stream's word: {t[:60]!r}")
        if w not in t.lower():
            ctx.warn(f"stream {w!r} answered {t[:40]!r}")


@impl("stream.keepalive-comments")
async def keepalive_comments(ctx: Ctx) -> None:
    s = await ctx.stream(_count_body(ctx))
    ctx.facts["comment_lines"] = s.comments
    if s.comments:
        ctx.note(f"{s.comments} comment line(s) in the stream")
