"""The context window: what the server says about itself, the guard before each request,
and the check after each response.

:class:`ServerInfoCache` asks the profile's metadata endpoints once per client (each bounded
by ``server_info_timeout`` and a byte cap) and keeps the merged answer. :class:`ContextGuard`
sizes a request body before it is sent: a cheap upper bound first (bytes of text: a token is
never shorter than a byte), and only when that bound does not clearly fit the window, the
server's ``/tokenize`` (llama.cpp, vLLM) or a conservative estimate. So a small prompt costs
one walk over the messages and no request. After the response it compares the server's
``prompt_tokens`` with what was sent, to catch a server that cut the prompt silently.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from .._wire import jsontext, serverinfo
from .._wire.http import Transport
from .._wire.servers import Profile
from ..errors import ContextLengthExceededError
from ..options import AgentOptions
from ..types import ContextUsage, ServerInfo, Usage

__all__ = ["ContextGuard", "ServerInfoCache", "Sizing", "logger"]

logger = logging.getLogger("any_agent.context")

#: the most bytes a metadata answer may have (Ollama's /api/show carries the template and
#: the license text; llama.cpp's /props the template: tens of KB)
INFO_BYTES = 4 * 1024 * 1024
#: tokens counted for each message's template framing (role markers, separators)
MESSAGE_TOKENS = 8
#: an image's tokens, estimated (llama.cpp/vLLM models spend ~256-1,600 per image)
IMAGE_TOKENS = 1024
#: its upper bound for the no-request fast path
IMAGE_TOKENS_MAX = 4096
#: bytes per token of the conservative estimate: English runs ~4-5, code ~3-4, CJK ~3
ESTIMATE_BYTES_PER_TOKEN = 3
#: bytes per token below which a server's prompt_tokens means it cut the prompt: no
#: tokenizer packs text into 8 bytes a token except on long runs of one character
TRUNCATION_BYTES_PER_TOKEN = 8
#: the fields an assistant message's reasoning is replayed in (``_wire/history.py``)
REPLAY_FIELDS = ("reasoning_content", "reasoning")
#: most ``/tokenize`` requests the guard sends while dropping turns to fit
DROP_COUNTS = 3
#: fewest answer tokens the guard leaves room for before refusing
MIN_ANSWER_TOKENS = 16


class ServerInfoCache:
    """``Client.get_server_info()``: the profile's endpoints, asked together, once."""

    def __init__(self, options: AgentOptions, profile: Profile) -> None:
        self._options = options
        self._profile = profile
        self.info: ServerInfo | None = None
        self._lock: asyncio.Lock | None = None
        self._lock_loop: asyncio.AbstractEventLoop | None = None

    async def get(self, transport: Transport, *, refresh: bool = False) -> ServerInfo:
        loop = asyncio.get_running_loop()
        if self._lock is None or self._lock_loop is not loop:
            self._lock, self._lock_loop = asyncio.Lock(), loop
        async with self._lock:  # concurrent callers share one round of requests
            if self.info is None or refresh:
                self.info = await self._fetch(transport)
            return self.info

    async def _fetch(self, transport: Transport) -> ServerInfo:
        options, profile = self._options, self._profile
        endpoints = [serverinfo.ENDPOINTS[n] for n in profile.info_endpoints]
        root, base = transport.root_url(), transport.base_root()

        async def ask(e: serverinfo.Endpoint) -> tuple[Any, str | None]:
            url = (base if e.under_base else root) + e.path
            body = {"model": options.model} if e.model_body else None
            return await transport.fetch_json(
                e.method, url, body, limit=options.server_info_timeout, max_bytes=INFO_BYTES
            )

        answers = await asyncio.gather(*(ask(e) for e in endpoints))
        facts: serverinfo.Facts = {}
        sources: list[str] = []
        problems: list[str] = []
        for endpoint, (value, problem) in zip(endpoints, answers, strict=True):
            if problem is not None:
                problems.append(transport.redact(problem))
                continue
            found = endpoint.read(value, options.model)
            if found:
                sources.append(endpoint.name)
                facts = serverinfo.merge(facts, found)
            else:
                problems.append(f"{endpoint.name}: nothing recognised in the answer")
        return ServerInfo(
            server=profile.name,
            model=options.model,
            sources=tuple(sources),
            problems=tuple(problems),
            **facts,
        )


@dataclass(slots=True)
class Sizing:
    """What the guard measured of one request body."""

    text_bytes: int
    messages: int
    images: int
    #: tokens of the prompt: the server's count when it was asked, else the estimate
    tokens: int
    #: how ``tokens`` was found: ``"upper bound"``, ``"tokenize"`` or ``"estimate"``
    how: str

    @property
    def upper(self) -> int:
        """Tokens the prompt cannot exceed (one per byte, the largest image size)."""
        return self.text_bytes + MESSAGE_TOKENS * self.messages + IMAGE_TOKENS_MAX * self.images

    @property
    def estimate(self) -> int:
        return (
            math.ceil(self.text_bytes / ESTIMATE_BYTES_PER_TOKEN)
            + MESSAGE_TOKENS * self.messages
            + IMAGE_TOKENS * self.images
        )


def _message_texts(message: dict[str, Any], texts: list[str]) -> int:
    """Append the texts of one message to ``texts``; its image count."""
    images = 0
    content = message.get("content")
    if isinstance(content, str):
        texts.append(content)
    elif isinstance(content, list):
        for part in content:
            if not isinstance(part, dict):
                continue
            if part.get("type") == "image_url":
                images += 1
            elif isinstance(part.get("text"), str):
                texts.append(part["text"])
    for call in message.get("tool_calls") or ():
        fn = call.get("function") or {}
        texts.append(f"{fn.get('name', '')} {fn.get('arguments', '')}")
    for key in REPLAY_FIELDS:  # replayed reasoning is prompt text the template renders
        value = message.get(key)
        if isinstance(value, str):
            texts.append(value)
    return images


def _bytes(texts: Sequence[str]) -> int:
    return sum(len(t.encode("utf-8", "replace")) for t in texts)


def _tools_text(tools: Any) -> str:
    try:
        return jsontext.dumps(tools)
    except ValueError:
        return str(tools)


def _measure(messages: Sequence[dict[str, Any]], tools: Any) -> tuple[int, int, list[str]]:
    """Bytes of text, images, and the texts themselves (for ``/tokenize``)."""
    texts: list[str] = []
    images = sum(_message_texts(message, texts) for message in messages)
    if tools:
        texts.append(_tools_text(tools))
    return _bytes(texts), images, texts


def _turn_starts(messages: Sequence[dict[str, Any]], first: int) -> list[int]:
    """Where each turn of ``messages[first:]`` starts: ``first``, then each user message
    (but one right after a tool message: it carries that tool's images, and belongs to
    the tool call's turn)."""
    starts = [first]
    for i in range(first + 1, len(messages)):
        if messages[i].get("role") == "user" and messages[i - 1].get("role") != "tool":
            starts.append(i)
    return starts


class ContextGuard:
    """Sizes each request body against the window, and each response against the request."""

    def __init__(self, options: AgentOptions, profile: Profile, info: ServerInfoCache) -> None:
        self._options = options
        self._profile = profile
        self._info = info
        self._tokenize_works = profile.tokenize is not None
        #: the last request's sizing and the server's usage for it (get_context_usage)
        self.last_sizing: Sizing | None = None
        self.last_usage: Usage | None = None

    def known_window(self) -> int | None:
        """The window as far as it is known now (the option, or server info already read);
        never asks the server."""
        if self._options.context_window is not None:
            return self._options.context_window
        info = self._info.info
        return None if info is None else info.context_window

    async def window(self, transport: Transport) -> tuple[int | None, str]:
        """The window and where it came from; may ask the server once per client."""
        options = self._options
        if options.context_window is not None:
            return options.context_window, "AgentOptions.context_window"
        if self._info.info is None and self._profile.discover_window:
            await self._info.get(transport)
        info = self._info.info
        if info is not None and info.context_window is not None:
            return info.context_window, f"the server's {', '.join(info.sources)}"
        return None, ""

    def size(self, body: dict[str, Any]) -> Sizing:
        """The cheap measure of ``body`` (no request)."""
        messages = body["messages"]
        text_bytes, images, _ = _measure(messages, body.get("tools"))
        sizing = Sizing(text_bytes, len(messages), images, 0, "upper bound")
        sizing.tokens = sizing.upper
        return sizing

    async def check(self, body: dict[str, Any], transport: Transport) -> Sizing:
        """Fit ``body`` into the window before it is sent: lower ``max_tokens`` to what the
        window leaves, drop the oldest turns (``drop_oldest``), or raise
        :class:`ContextLengthExceededError` naming the numbers."""
        sizing = self.size(body)
        self.last_sizing = sizing
        if self._options.on_context_overflow == "off":
            return sizing
        window, source = await self.window(transport)
        if window is None:
            return sizing
        answer = body.get("max_tokens")
        if sizing.upper + (answer or 0) <= window:
            return sizing  # clearly fits: nothing asked, nothing changed
        await self._count(sizing, body, transport)
        if sizing.tokens + MIN_ANSWER_TOKENS > window:
            if self._options.on_context_overflow != "drop_oldest":
                raise self._overflow(sizing, window, source)
            sizing = await self._drop_oldest(sizing, body, window, source, transport)
            self.last_sizing = sizing
        if answer is not None and sizing.tokens + answer > window:
            left = window - sizing.tokens
            logger.info(
                "max_tokens lowered from %d to %d: the prompt is %d tokens (%s) and the "
                "window is %d (%s)",
                answer,
                left,
                sizing.tokens,
                sizing.how,
                window,
                source,
            )
            body["max_tokens"] = left
        return sizing

    async def _count(self, sizing: Sizing, body: dict[str, Any], transport: Transport) -> None:
        """The prompt's tokens: the server's ``/tokenize`` where it has one (once it failed,
        not asked again), else the conservative estimate."""
        dialect = self._profile.tokenize
        if dialect is not None and self._tokenize_works:
            if dialect == "vllm":
                payload: dict[str, Any] = {"model": body["model"], "messages": body["messages"]}
                extra = 0
            else:
                _, _, texts = _measure(body["messages"], body.get("tools"))
                payload = {"content": "\n".join(texts)}
                extra = MESSAGE_TOKENS * sizing.messages + IMAGE_TOKENS * sizing.images
            value, problem = await transport.fetch_json(
                "POST",
                transport.root_url() + "/tokenize",
                payload,
                limit=self._options.server_info_timeout,
                max_bytes=INFO_BYTES,
            )
            count = serverinfo.count_tokens(value)
            if count is not None:
                if dialect == "vllm" and body.get("tools"):
                    tools = jsontext.dumps(body["tools"]).encode()
                    extra = math.ceil(len(tools) / ESTIMATE_BYTES_PER_TOKEN)
                sizing.tokens, sizing.how = count + extra, "tokenize"
                return
            logger.info("no token count from the server (%s); estimating from now on", problem)
            self._tokenize_works = False
        sizing.tokens, sizing.how = sizing.estimate, "estimate"

    async def _drop_oldest(
        self,
        sizing: Sizing,
        body: dict[str, Any],
        window: int,
        source: str,
        transport: Transport,
    ) -> Sizing:
        """Drop the oldest whole turns of the wire copy (from the first non-system message up
        to a later turn's user message, so a tool call never loses its result) until the
        rest fits; :class:`ContextLengthExceededError` when even the last turn does not.

        Linear in the messages: each message is measured once and the cut found on running
        sums; the server's ``/tokenize`` is asked at most :data:`DROP_COUNTS` more times
        (its count of what is left scales the estimate of each cut)."""
        messages: list[dict[str, Any]] = body["messages"]
        first = next((i for i, m in enumerate(messages) if m.get("role") != "system"), None)
        if first is None:
            raise self._overflow(sizing, window, source)
        starts = _turn_starts(messages, first)
        # per message: bytes of text and images, summed from the end (what a cut leaves)
        tail_bytes = [0] * (len(messages) + 1)
        tail_images = [0] * (len(messages) + 1)
        for i in range(len(messages) - 1, -1, -1):
            texts: list[str] = []
            images = _message_texts(messages[i], texts)
            tail_bytes[i] = tail_bytes[i + 1] + _bytes(texts)
            tail_images[i] = tail_images[i + 1] + images
        head_bytes = tail_bytes[0] - tail_bytes[first]  # the system message(s), always kept
        head_images = tail_images[0] - tail_images[first]
        other_bytes = sizing.text_bytes - tail_bytes[0]  # the tools' definitions

        def left_by(k: int) -> Sizing:
            cut = starts[k]
            return Sizing(
                head_bytes + other_bytes + tail_bytes[cut],
                first + len(messages) - cut,
                head_images + tail_images[cut],
                0,
                "upper bound",
            )

        counts = DROP_COUNTS
        k = 0
        measured = sizing
        while measured.tokens + MIN_ANSWER_TOKENS > window:
            # tokens per estimated token, as last measured (1 when estimated)
            ratio = measured.tokens / max(1, measured.estimate)
            k += 1
            while (
                k < len(starts) - 1
                and math.ceil(left_by(k).estimate * ratio) + MIN_ANSWER_TOKENS > window
            ):
                k += 1
            if k >= len(starts):  # even the last turn alone does not fit
                raise self._overflow(measured, window, source)
            measured = left_by(k)
            measured.tokens = measured.upper
            if measured.upper + MIN_ANSWER_TOKENS <= window:
                break  # fits by the bound alone
            if counts > 0 and self._tokenize_works:
                counts -= 1
                kept = messages[:first] + messages[starts[k] :]
                await self._count(measured, {**body, "messages": kept}, transport)
            else:
                measured.tokens, measured.how = measured.estimate, "estimate"
        del messages[first : starts[k]]
        return measured

    def _overflow(self, sizing: Sizing, window: int, source: str) -> ContextLengthExceededError:
        counted = (
            "counted by the server's /tokenize"
            if sizing.how == "tokenize"
            else f"estimated at {ESTIMATE_BYTES_PER_TOKEN} bytes a token: the server has no "
            "tokenizer endpoint"
        )
        hint = (
            "shorten the conversation, raise the server's window, or set "
            "on_context_overflow='drop_oldest'"
            if self._options.on_context_overflow == "error"
            else "even without its older turns; shorten the prompt or raise the window"
        )
        return ContextLengthExceededError(
            f"the prompt is {sizing.tokens} tokens ({counted}) and the context window is "
            f"{window} tokens ({source}), leaving no room for an answer; not sent ({hint}; "
            "on_context_overflow='off' sends it anyway)",
            prompt_tokens=sizing.tokens,
            context_window=window,
        )

    def usage(self, history: Sequence[dict[str, Any]], window: int | None) -> ContextUsage:
        """The conversation's tokens: the last turn's server counts, else an estimate."""
        last = self.last_usage
        if last is not None and last.prompt_tokens is not None:
            used = last.prompt_tokens + (last.completion_tokens or 0)
            return ContextUsage(used, window, estimated=False)
        system = self._options.system_prompt or ""
        text_bytes, images, _ = _measure(history, self._options.tool_definitions())
        sizing = Sizing(
            text_bytes + len(system.encode()), len(history) + bool(system), images, 0, "estimate"
        )
        return ContextUsage(sizing.estimate, window, estimated=True)

    def after(self, usage: Usage, sizing: Sizing | None) -> None:
        """Compare the server's ``prompt_tokens`` with what was sent: far fewer means the
        server dropped part of the prompt (Ollama past ``num_ctx``, behind HTTP 200)."""
        self.last_usage = usage
        option = self._options.on_truncation
        got = usage.prompt_tokens
        if option == "off" or sizing is None or not got:
            # 0 is no count: Ollama says 0 for a prompt it found in its cache (ollama#5370),
            # and a server that cut a prompt still counts what it kept
            return
        cached = usage.cached_tokens
        if cached is not None and got < cached:
            got += cached  # counted apart from the newly evaluated tokens, not inside them
        if sizing.how == "tokenize":
            expected = sizing.tokens - MESSAGE_TOKENS * sizing.messages
            cut = got * 5 < expected * 4  # a fifth missing: more than template differences
        else:
            expected = sizing.text_bytes // TRUNCATION_BYTES_PER_TOKEN
            cut = got < expected
        if not cut:
            return
        message = (
            f"the server counted {got} prompt tokens for a prompt of "
            + (
                f"{sizing.tokens} tokens (its own /tokenize)"
                if sizing.how == "tokenize"
                else f"{sizing.text_bytes} bytes of text (at least {expected} tokens)"
            )
            + ": it cut the prompt to fit its context window (Ollama's default num_ctx does "
            "this silently); raise the server's window (OLLAMA_CONTEXT_LENGTH, llama-server "
            "-c) or shorten the conversation"
        )
        if option == "error":
            raise ContextLengthExceededError(message, prompt_tokens=got)
        logger.warning("%s", message)
