"""Request parameters: token limits, stop, response_format, n, seed, usage, and (suite 0.2)
logprobs, logit_bias and assistant prefill."""

from __future__ import annotations

from typing import Any

import orjson

from ..catalogue.checks import impl
from ..harness.context import Ctx
from ..harness.http import RawResponse
from ._prompts import (
    CAPITAL,
    CAPITAL_SCHEMA,
    COUNT_TO_5,
    FORCED_WORD,
    LONG_STORY,
    OK_PROMPT,
    PREFILL_PREFIX,
    PREFILL_PROMPT,
    base_body,
    message_text,
    reply_text,
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
        ctx.fail(f"same seed, different content: {parting(a, b)}")


def parting(a: str, b: str, before: int = 20, after: int = 40) -> str:
    """Where two texts first differ, with a little of each around it (two answers that
    share their first 40 characters read the same when shown from their start)."""
    pairs = enumerate(zip(a, b, strict=False))
    i = next((n for n, (x, y) in pairs if x != y), min(len(a), len(b)))
    start = max(0, i - before)

    def shown(text: str) -> str:
        cut = text[start : i + after]
        return ("…" if start else "") + cut + ("…" if len(text) > i + after else "")

    return f"the answers differ from character {i + 1}: {shown(a)!r} / {shown(b)!r}"


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


# ---- suite 0.2: logprobs, logit_bias, assistant prefill ---------------------------------------


def _logprob_tokens(ctx: Ctx, entries: Any, where: str) -> list[str]:
    """The ``token`` of each ``logprobs.content`` entry, each entry's shape judged."""
    if not isinstance(entries, list):
        ctx.fail(f"{where}: logprobs.content is {type(entries).__name__}, not an array")
    tokens: list[str] = []
    for i, e in enumerate(entries):
        lp = e.get("logprob") if isinstance(e, dict) else None
        if not isinstance(e, dict) or not isinstance(e.get("token"), str):
            ctx.fail(f"{where}: logprobs.content[{i}] has no string token")
        if not isinstance(lp, (int, float)) or isinstance(lp, bool) or lp > 1e-6:
            ctx.fail(f"{where}: logprobs.content[{i}].logprob is {lp!r}, not a number <= 0")
        top = e.get("top_logprobs")
        if not isinstance(top, list) or len(top) > 2:
            ctx.fail(f"{where}: logprobs.content[{i}].top_logprobs is not a list of at most 2")
        if not top:
            ctx.warn(f"{where}: top_logprobs is empty although top_logprobs: 2 was asked")
        tokens.append(e["token"])
    return tokens


def _same_text(ctx: Ctx, tokens: list[str], content: str, where: str) -> None:
    joined = "".join(tokens)
    if joined == content:
        return
    if joined.strip() == content.strip():
        ctx.warn(f"{where}: the tokens differ from the content in whitespace only")
        return
    if content and content in joined:
        # a reasoning model's thinking, or an end-of-turn token, scored with the answer
        ctx.warn(f"{where}: the tokens cover more than the content ({joined[:60]!r})")
        return
    ctx.fail(f"{where}: the tokens concatenate to {joined[:60]!r}, the content is {content[:60]!r}")


@impl("params.logprobs")
async def logprobs(ctx: Ctx) -> None:
    body = base_body(ctx.model, COUNT_TO_5, max_tokens=16, logprobs=True, top_logprobs=2)
    data = await ctx.complete(body)
    lp = data["choices"][0].get("logprobs")
    if not isinstance(lp, dict) or not lp.get("content"):
        ctx.fail(f"no choices[0].logprobs.content (logprobs is {str(lp)[:60]})")
    tokens = _logprob_tokens(ctx, lp["content"], "non-streamed")
    _same_text(ctx, tokens, reply_text(data), "non-streamed")


@impl("params.logprobs-stream")
async def logprobs_stream(ctx: Ctx) -> None:
    body = base_body(ctx.model, COUNT_TO_5, stream=True, max_tokens=16, logprobs=True,
                     top_logprobs=2)  # fmt: skip
    s = await ctx.stream(body)
    ctx.require_finished(s, "stream")
    entries: list[Any] = []
    for chunk in s.chunks:
        choices = chunk.get("choices")
        for choice in choices if isinstance(choices, list) else []:
            if not isinstance(choice, dict) or choice.get("index", 0) != 0:
                continue
            lp = choice.get("logprobs")
            if isinstance(lp, dict) and isinstance(lp.get("content"), list):
                entries.extend(lp["content"])
    if not entries:
        ctx.fail("no chunk carries logprobs.content")
    _same_text(ctx, _logprob_tokens(ctx, entries, "streamed"), s.content, "streamed")


async def _token_ids(ctx: Ctx, text: str) -> list[int]:
    """``text``'s token ids from the server's ``/tokenize`` (llama.cpp's and vLLM's shapes in
    one body); n/a when the server offers none: ids are the model's, never guessed."""
    body = {"content": text, "prompt": text, "model": ctx.model, "add_special": False,
            "add_special_tokens": False}  # fmt: skip
    resp: RawResponse = await ctx.post_json(ctx.wire.root_url("tokenize"), body)
    if resp.status == 0:
        ctx.require_2xx(resp, "POST /tokenize")
    if not 200 <= resp.status < 300:
        ctx.na(f"no token ids to bias: POST /tokenize gave HTTP {resp.status}")
    data = resp.json()
    ids = data.get("tokens") if isinstance(data, dict) else None
    if (
        not isinstance(ids, list)
        or not ids
        or not all(isinstance(i, int) and not isinstance(i, bool) for i in ids)
    ):
        ctx.na(f"no token ids to bias: /tokenize answered {resp.text()[:80]!r}")
    return ids


def _repeats_a_prefix(text: str, word: str) -> bool:
    """``text`` (spaces ignored) is one leading piece of ``word`` over and over, as a +100
    bias on that piece's id makes every generated token."""
    t = "".join(text.split())
    if len(t) > 256:  # a few biased tokens, not an essay
        return False
    for k in range(1, min(len(word), len(t)) + 1):
        unit = t[:k]
        if word.startswith(unit) and (unit * (len(t) // k + 1)).startswith(t):
            return True
    return False


@impl("params.logit-bias")
async def logit_bias(ctx: Ctx) -> None:
    forced = (await _token_ids(ctx, FORCED_WORD))[0]
    usual = reply_text(await ctx.complete(base_body(ctx.model, OK_PROMPT, max_tokens=3),
                                            "unbiased"))  # fmt: skip
    body = base_body(ctx.model, OK_PROMPT, max_tokens=3, logit_bias={str(forced): 100})
    text = reply_text(await ctx.complete(body, "forced"))
    if not text.strip() or not _repeats_a_prefix(text, FORCED_WORD):
        ctx.fail(f"+100 on token {forced} (the start of {FORCED_WORD!r}) gave {text[:40]!r}")
    if not usual.strip():
        ctx.warn("the unbiased reply is empty: the ban was not judged")
        return
    banned = (await _token_ids(ctx, usual.strip()))[0]
    body = base_body(ctx.model, OK_PROMPT, max_tokens=3, logit_bias={str(banned): -100})
    text = reply_text(await ctx.complete(body, "banned"))
    if text == usual:
        ctx.warn(f"-100 on token {banned} left the reply as it was ({usual[:30]!r})")


@impl("params.assistant-prefill")
async def assistant_prefill(ctx: Ctx) -> None:
    messages = [
        {"role": "user", "content": PREFILL_PROMPT},
        {"role": "assistant", "content": PREFILL_PREFIX},
    ]
    resp = await ctx.chat(base_body(ctx.model, messages, max_tokens=8))
    if 400 <= resp.status < 500:
        ctx.note(f"prefill rejected with HTTP {resp.status}: {resp.error_message()[:120]}")
        return
    ctx.require_2xx(resp)
    text = reply_text(resp.json()).lstrip()
    if text.startswith("5"):
        return
    if text.startswith("1"):
        ctx.fail(f"answered as a new turn (or repeated the prefix): {text[:40]!r}")
    ctx.fail(f"the reply does not continue {PREFILL_PREFIX!r}: {text[:40]!r}")
