"""The context window: overflow refused before a stream, ``max_tokens`` past the window, no
silent truncation, the window advertised.

Token counts are judged against a lower bound, never an estimate: the prompts are
:func:`~._prompts.filler` words, each at least one token, so a prompt of N words is at least
N tokens whatever the tokenizer (``errors.context-overflow`` relies on the same bound).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from any_agent._wire import serverinfo

from ..catalogue.checks import impl
from ..harness.context import Ctx
from ..harness.http import RawResponse
from ..harness.stream import summarize_stream
from ._prompts import REPLY_OK, base_body, filler
from .errors import CONTEXT_RX

#: a refusal of ``max_tokens`` names the output side, not only the prompt (vllm#33418)
OUTPUT_RX = re.compile(
    r"max_tokens|max_completion_tokens|max_new_tokens|n_predict|completion|output|generat",
    re.IGNORECASE,
)
#: a server that read the whole prompt counts at least this share of its words (room for a
#: tokenizer that joins a few of them; a truncating server keeps at most the window, which
#: the prompts exceed by a quarter)
READ_SHARE = 0.9
#: metadata endpoints at the server root that may name the window, in the order asked; each
#: is read by the SDK's own reader (``any_agent._wire.serverinfo``)
INFO_ENDPOINTS = ("props", "ollama_ps", "ollama_show", "lmstudio_models")
#: the largest window the checks overflow: a prompt over it is about 1.3 million words (some
#: 8 MB); a server advertising more (or an absurd count) is not sent a prompt that size
MAX_WINDOW = 1 << 20
#: ``/v1/models`` keys other servers use for the window
_WINDOW_KEYS = ("max_model_len", "context_length", "max_context_length", "context_window")


def _over(window: int) -> int:
    """Words of a prompt sure to be over ``window`` tokens, by a quarter."""
    return window + window // 4


def _models_window(data: Any, model: str) -> int | None:
    found = serverinfo.read_models(data, model).get("context_window")
    if isinstance(found, int):
        return found
    items = data.get("data") if isinstance(data, Mapping) else None
    for entry in items if isinstance(items, list) else ():
        if isinstance(entry, Mapping) and entry.get("id") == model:
            for key in _WINDOW_KEYS:
                value = entry.get(key)
                # the bound of the SDK's own reader: a larger count is no window
                if isinstance(value, int) and not isinstance(value, bool) and 0 < value < 1 << 31:
                    return value
    return None


async def _ask_metadata(ctx: Ctx) -> tuple[int | None, str]:
    """The window from the server's metadata endpoints (404s are skipped), and its source."""
    for name in INFO_ENDPOINTS:
        endpoint = serverinfo.ENDPOINTS[name]
        url = ctx.wire.root_url(endpoint.path)
        if endpoint.method == "POST":
            resp = await ctx.post_json(url, {"model": ctx.model})
        else:
            resp = await ctx.get(url)
        if not 200 <= resp.status < 300:
            continue
        window = endpoint.read(resp.json(), ctx.model).get("context_window")
        if isinstance(window, int):
            return window, f"{endpoint.method} {endpoint.path}"
    return None, ""


async def _window(ctx: Ctx) -> int:
    """The window under test: ``/v1/models`` (read when the column started), else the
    metadata endpoints; ``n/a`` when no source names it."""
    window = ctx.target.context_window()
    source = "/v1/models"
    if window is None:
        window, source = await _ask_metadata(ctx)
    if window is None:
        ctx.na(
            "the context window is unknown (neither /v1/models nor a metadata endpoint names it)"
        )
    if isinstance(window, bool) or not isinstance(window, int) or window <= 0:
        ctx.fail(f"{source} names a context window of {window!r}: not a token count")
    ctx.facts["context_window"] = window
    ctx.facts["context_window_source"] = source
    if window > MAX_WINDOW:
        ctx.na(
            f"{source} names a context window of {window} tokens: more than the {MAX_WINDOW} "
            "the suite overflows (a prompt over it is too large to send)"
        )
    return window


def _judge_refusal(ctx: Ctx, resp: RawResponse, what: str) -> None:
    """A 4xx refusal of an over-window prompt: 400 and a message about the context."""
    if resp.status != 400:
        ctx.warn(f"{what}: HTTP {resp.status} (OpenAI: 400)")
    if not CONTEXT_RX.search(resp.error_message()):
        ctx.warn(f"{what}: the message does not mention the context: {resp.error_message()[:80]!r}")


def _prompt_tokens(data: Any) -> int | None:
    usage = data.get("usage") if isinstance(data, Mapping) else None
    value = usage.get("prompt_tokens") if isinstance(usage, Mapping) else None
    return value if isinstance(value, int) and not isinstance(value, bool) else None


# ---- a streamed prompt over the window ---------------------------------------------------------


@impl("context.overflow-stream")
async def overflow_stream(ctx: Ctx) -> None:
    window = await _window(ctx)
    words = _over(window)
    resp = await ctx.chat(
        base_body(ctx.model, f"Summarise: {filler(words)}", stream=True, max_tokens=8)
    )
    if resp.status == 0:
        ctx.require_2xx(resp)
    if 400 <= resp.status < 500:
        _judge_refusal(ctx, resp, "streamed overflow")
        return
    if resp.status >= 500:
        ctx.fail(f"HTTP {resp.status} for a streamed prompt over the window")
    s = summarize_stream(resp.events())
    if s.error_events:
        ctx.fail(
            f"HTTP {resp.status}, then the refusal as an in-stream error event: a client has "
            "already taken the 200 as an answer (refuse before the stream)"
        )
    ctx.fail(
        f"HTTP {resp.status} stream for a prompt of at least {words} tokens over the window "
        f"({window}): the prompt was silently truncated (or the window advertised is wrong)"
    )


@impl("context.overflow-stream", "sdk")
async def overflow_stream_sdk(ctx: Ctx) -> None:
    from any_agent import ContextLengthExceededError

    window = await _window(ctx)
    run = await ctx.sdk_run(f"Summarise: {filler(_over(window))}", max_tokens=8)
    err = run.error
    if isinstance(err, ContextLengthExceededError):
        status = getattr(err, "status", 0) or 0
        if status:
            ctx.note(f"ContextLengthExceededError from the server's HTTP {status}")
        elif getattr(err, "body", ""):  # the SDK's own refusals carry no server body
            ctx.note("ContextLengthExceededError from the server's in-stream error event")
        else:
            ctx.note("ContextLengthExceededError before sending (the SDK's guard)")
        return
    if err is not None:
        ctx.fail(f"{type(err).__name__}, not ContextLengthExceededError: {err}")
    ctx.fail(f"no error for a prompt over the window ({run.describe()})")


# ---- max_tokens larger than the window left ----------------------------------------------------


@impl("context.max-tokens-past-window")
async def max_tokens_past_window(ctx: Ctx) -> None:
    window = await _window(ctx)
    # any prompt at all leaves less than the whole window for the answer; a server that
    # accepts it could generate that much: the stop keeps a rambling model to one line
    resp = await ctx.chat(base_body(ctx.model, REPLY_OK, max_tokens=window, stop=["\n"]))
    if resp.status == 0:
        ctx.require_2xx(resp)
    if resp.status >= 500:
        ctx.fail(f"HTTP {resp.status} for max_tokens={window} (the whole window)")
    if 400 <= resp.status < 500:
        message = resp.error_message()
        if not OUTPUT_RX.search(message):
            ctx.fail(
                f"HTTP {resp.status}, but the message does not name max_tokens or the output "
                f"length (a client cannot tell what to lower): {message[:160]!r}"
            )
        ctx.note(f"refused: HTTP {resp.status}")
        return
    data = resp.json()
    choices = data.get("choices") if isinstance(data, dict) else None
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
        ctx.fail(f"HTTP {resp.status} without a choice")
    if not choices[0].get("finish_reason"):
        ctx.fail(f"HTTP {resp.status}, but the answer has no finish_reason")
    usage = data.get("usage") if isinstance(data, dict) else None
    if isinstance(usage, dict):
        prompt, completion = usage.get("prompt_tokens"), usage.get("completion_tokens")
        if isinstance(prompt, int) and isinstance(completion, int) and prompt + completion > window:
            ctx.fail(
                f"{prompt} prompt + {completion} completion tokens in a window of {window}: "
                "the server shifted the context (the start of the prompt was dropped)"
            )
    ctx.note("accepted: the answer stayed within the window (clamped or finished early)")


# ---- silent truncation -------------------------------------------------------------------------


def _long_history(window: int) -> tuple[list[dict[str, Any]], int]:
    """An earlier turn over the window, then a short question: a server that drops the oldest
    messages (Ollama) and one that cuts the prompt both count fewer tokens than were sent."""
    history = [
        {"role": "user", "content": f"Remember these words: {filler(_over(window))}"},
        {"role": "assistant", "content": "OK"},
    ]
    words = sum(len(m["content"].split()) for m in history) + len(REPLY_OK.split())
    return history, words


@impl("context.no-silent-truncation")
async def no_silent_truncation(ctx: Ctx) -> None:
    window = await _window(ctx)
    history, words = _long_history(window)
    messages = [*history, {"role": "user", "content": REPLY_OK}]
    resp = await ctx.chat(base_body(ctx.model, messages, max_tokens=4))
    if resp.status == 0:
        ctx.require_2xx(resp)
    if 400 <= resp.status < 500:
        _judge_refusal(ctx, resp, "refused")
        return
    if resp.status >= 500:
        ctx.fail(f"HTTP {resp.status} for a conversation over the window")
    got = _prompt_tokens(resp.json())
    ctx.facts["prompt_words_sent"] = words
    ctx.facts["prompt_tokens"] = got
    if got is None:
        ctx.na(f"HTTP {resp.status} without usage.prompt_tokens: a truncation cannot be measured")
    if got < 0:
        ctx.fail(f"HTTP {resp.status} with usage.prompt_tokens={got}: not a token count")
    if got < words * READ_SHARE:
        ctx.fail(
            f"HTTP {resp.status} with prompt_tokens={got} for a conversation of at least "
            f"{words} tokens (window {window}): the server dropped part of it silently"
        )
    ctx.warn(
        f"the server read all {got} tokens of a conversation over the window it advertises "
        f"({window}): the advertised window is smaller than the real one"
    )


@impl("context.no-silent-truncation", "sdk")
async def no_silent_truncation_sdk(ctx: Ctx) -> None:
    from any_agent import ContextLengthExceededError

    window = await _window(ctx)
    history, words = _long_history(window)
    run = await ctx.sdk_run(REPLY_OK, history=history, max_tokens=4, on_truncation="error")
    err = run.error
    if isinstance(err, ContextLengthExceededError):
        status = getattr(err, "status", 0) or 0
        ctx.note(
            f"refused by the server (HTTP {status})"
            if status
            else f"the SDK raised ContextLengthExceededError itself: {err}"
        )
        return
    if err is not None:
        ctx.fail(f"{type(err).__name__}, not ContextLengthExceededError: {err}")
    usage = getattr(run.result, "usage", None)
    got = getattr(usage, "prompt_tokens", None)
    if isinstance(got, int) and got < words * READ_SHARE:
        ctx.fail(
            f"the server counted {got} of at least {words} prompt tokens and the SDK said "
            "nothing (on_truncation='error')"
        )
    if got is None:
        ctx.na("no usage.prompt_tokens reached the SDK: a truncation cannot be measured")


# ---- the window advertised ---------------------------------------------------------------------


@impl("context.window-advertised")
async def window_advertised(ctx: Ctx) -> None:
    resp = await ctx.get("models")
    ctx.require_2xx(resp, "GET /v1/models")
    window = _models_window(resp.json(), ctx.model)
    if window is not None:
        ctx.facts["context_window"] = window
        ctx.note(f"/v1/models: {window} tokens")
        return
    window, source = await _ask_metadata(ctx)
    if window is None:
        ctx.fail(
            "no context window in the /v1/models entry nor at /props, /api/ps, /api/show or "
            "/api/v0/models: a client cannot size its prompts"
        )
    ctx.facts["context_window"] = window
    ctx.note(f"not in /v1/models; {source}: {window} tokens")
