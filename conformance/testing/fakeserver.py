"""A behavioural reference server: OpenAI's wire shapes, a deterministic toy "model", and
switchable quirks taken from real servers. It lets the suite be tested (and demonstrated)
without a model:

    python -m conformance.testing.fakeserver --port 8099 [--quirk no-done --quirk repeat-tool-id]
    pytest --base-url http://127.0.0.1:8099/v1 --model ref-model

The toy model answers the suite's prompts structurally (counts, repeats, calls the weather
tool for the named cities, ...). Quirks: see :data:`QUIRKS`.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import hashlib
import hmac
import json
import re
import threading
import time
import zlib
from collections import OrderedDict
from collections.abc import Iterable
from typing import Any

__all__ = ["QUIRKS", "FakeServer", "main"]

QUIRKS: dict[str, str] = {
    "no-done": "streams end without data: [DONE]",
    "role-every-chunk": "delta.role is repeated on every chunk",
    "repeat-tool-id": "id, type and name are repeated on every tool-call fragment",
    "no-tool-index": "tool-call fragments carry no index",
    "ignore-model": "any model name is served (200)",
    "500-bad-args": "malformed replayed arguments give HTTP 500",
    "markup": "tool calls are written into content as <tool_call> markup",
    "no-usage": "stream_options.include_usage is ignored",
    "named-as-auto": "a named tool_choice is ignored",
    "secret-headers": "responses carry x-litellm-* headers and echo a key-like string",
    "slow-headers": "headers are sent after 1.5 s",
    "stream-drops-tool-calls": "streamed tool calls are dropped: the stream ends with "
    "finish_reason stop and no delta.tool_calls (LiteLLM's ollama/ route, BerriAI/litellm#35711)",
    # -- suite 0.2: structured output, parameters, security --
    "schema-not-enforced": "response_format json_schema is accepted and ignored: free text "
    "comes back (Ollama Cloud, pydantic/pydantic-ai#4917)",
    "schema-blocks-tools": "json_schema beside tools constrains the whole answer, so no tool "
    "call is made (vLLM's guided decoding, pydantic/pydantic-ai#6552)",
    "bad-schema-500": "a malformed json_schema gives HTTP 500 (SGLang, sgl-project/sglang#9461)",
    "schema-tools-exclusive": "tools with response_format get HTTP 422 (TGI: the two are "
    "exclusive, its router/src/lib.rs)",
    "no-logprobs": "logprobs is accepted and ignored: no choices[].logprobs "
    "(text-generation-webui's loaders other than llama.cpp and ExLlamav3)",
    "logit-bias-ignored": "logit_bias is accepted and ignored (SGLang's OpenAI API, "
    "sgl-project/sglang#6171)",
    "prefill-new-turn": "a final assistant message is answered as a new turn (vLLM without "
    "continue_final_message)",
    "special-tokens-parsed": "control strings in message text become control tokens "
    "(<|im_end|> ends the turn): llama-server tokenizes the whole templated prompt with "
    "special tokens parsed (ggml-org/llama.cpp#26273)",
    "auth-error-string": 'a missing or wrong key gets 401 with {"error": "Unauthorized"} '
    "(vLLM --api-key, vllm/entrypoints/openai/server_utils.py AuthenticationMiddleware)",
    "json-object-ignored": "response_format json_object is ignored (text-generation-webui's "
    "request model has no response_format, modules/api/typing.py)",
    # the Anthropic Messages API (/v1/messages)
    "no-messages-api": "/v1/messages and /v1/messages/count_tokens answer 404 (a server "
    "without the Anthropic API)",
    "msg-openai-stop-reason": "/v1/messages reports OpenAI finish reasons (stop, length, "
    "tool_calls) as stop_reason, unmapped (no real server known; guards the mapping)",
    "msg-no-event-lines": "streamed /v1/messages events have data: lines and no event: names "
    "(Anthropic-compatible proxies, earendil-works/pi#1983)",
    "msg-tool-input-string": "tool_use.input is the arguments as a JSON string, not an object "
    "(no real server known; the OpenAI arguments shape leaking through)",
    "msg-tool-start-no-input": "a streamed tool_use content_block_start has no input field "
    "(llama-server, ggml-org/llama.cpp#22960)",
    "msg-stream-empty-tool-input": "streamed tool_use blocks get no input_json_delta, so the "
    "input is empty (LiteLLM's /v1/messages, BerriAI/litellm#25390)",
    "msg-tool-result-500": "a tool_result block gives HTTP 500 unsupported content[].type "
    "(llama-server before it converted tool_result blocks; its test_compat_anthropic.py)",
    "msg-count-tokens-constant": "/v1/messages/count_tokens gives the same count for every "
    "prompt (a stub endpoint; no real server known)",
    "no-count-tokens": "/v1/messages is served but /v1/messages/count_tokens answers 404 "
    "(the LiteLLM proxy before it added the endpoint, BerriAI/litellm#13252)",
    # issue 16, tools and reasoning
    "eager-tools": "tool_choice auto is served like required: a call even when none is needed "
    "(TGI, huggingface/text-generation-inference#2549)",
    "numbers-as-strings": "integer tool-call arguments are sent as JSON strings (SGLang, "
    "sgl-project/sglang#41316)",
    "first-tool": "under auto the first offered tool is called whatever the prompt asks (a small "
    "model's choice among several tools: BFCL's multiple category, caniollama multi_tool_5x)",
    "tool-end-in-args": "a Hermes-style parser cuts the call at the first </tool_call>, even "
    "inside a JSON string: the call is lost and the markup left in content "
    "(ollama/ollama#12017 for '}', raullenchai/Rapid-MLX#1542 for a closing marker)",
    "ignore-parallel-false": "parallel_tool_calls false is ignored: several calls in one turn "
    "(sgl-project/sglang#9696; Ollama's /v1 has no such field)",
    "call-in-reasoning": "after reasoning, the call is written inside the reasoning text and no "
    "tool_calls are parsed (vllm-project/vllm#39056; llama-server with QwQ-32B's template)",
    "flaky-calls": "under auto only calls for Paris are parsed; others stay as JSON text in "
    "content (vLLM's hermes parser with small Qwen2.5 models, vllm-project/vllm#28806)",
    "thinking-off-ignored": "chat_template_kwargs.enable_thinking false and reasoning_effort none "
    "are ignored (a template that never reads them: raullenchai/Rapid-MLX#3045)",
    "budget-ignored": "a per-request thinking budget is ignored (llama-server, "
    "ggml-org/llama.cpp#20297 and #23673)",
    "no-reasoning-tokens": "usage has no completion_tokens_details.reasoning_tokens "
    "(llama-server's usage carries prompt_tokens_details only: "
    "cassettes/llamacpp-tools/*/params.usage.yaml)",
    "reasoning-tool-turn-422": "reasoning replayed on an assistant tool-call turn is refused with "
    "422 extra_forbidden (LiteLLM proxy to Mistral, BerriAI/litellm#30835)",
    "auto-500": "a call under tool_choice auto gets HTTP 500 'does not match the expected "
    "peg-native format' (llama-server, ggml-org/llama.cpp#24644)",
    # /v1/responses
    "no-responses-api": "/v1/responses answers 404 (servers without the Responses API: Ollama "
    "before v0.13.3, ollama/ollama#13595; llama-cpp-python)",
    "responses-chat-shape": "/v1/responses answers with a chat.completion object",
    "responses-delta-before-item": "streamed text deltas come before their "
    "response.output_item.added",
    "responses-no-call-id": "function_call output items carry no call_id",
    "responses-args-mismatch": "streamed function-call argument deltas do not join to "
    "response.function_call_arguments.done (the last fragment is sent twice)",
    "responses-tools-rejected": "a /v1/responses request with tools gets HTTP 400 (vLLM before "
    "Responses tool parsing, for models other than gpt-oss: vllm/entrypoints/openai/"
    "serving_responses.py)",
    "responses-tool-output-rejected": "function_call_output input items get HTTP 400 (llama.cpp "
    "answers so for input items it cannot place, tools/server convert_responses_to_chatcmpl)",
    "responses-stateless": "previous_response_id gets HTTP 400 naming it (llama.cpp: "
    "tools/server convert_responses_to_chatcmpl refuses it)",
    "responses-store-ignored": "store: true is ignored: the response says store: false and a "
    "previous_response_id is not found, 404 (vLLM without VLLM_ENABLE_RESPONSES_API_STORE)",
    "responses-ignore-previous": "previous_response_id is accepted and silently ignored",
    "responses-store-lost": "a response says store: true, yet previous_response_id naming it "
    "is not found (404)",
    "responses-no-store-field": "response objects carry no store field",
    # context and cache (suite 0.2)
    "silent-truncation": "a prompt over the window is answered 200: the oldest messages are "
    "dropped until it fits and the last one is cut (Ollama past num_ctx, server/prompt.go; "
    "KeithCu/writeragent#570 logs 'truncating input prompt limit=4095 prompt=5354')",
    "overflow-in-stream": "a streamed prompt over the window gets 200 and the refusal as an "
    "in-stream error event (text-generation-webui validates inside the streaming generator, "
    "modules/api/completions.py)",
    "max-tokens-blames-prompt": "a max_tokens larger than the window left is refused with a "
    "message about the input length only (vLLM before PR #36197, vllm-project/vllm#33418)",
    "max-tokens-clamped": "a max_tokens larger than the window left is lowered to what the "
    "prompt leaves (FastChat, lm-sys/FastChat#2544; a sound answer, not a failure)",
    "context-shift": "a max_tokens larger than the window left is accepted and generation runs "
    "past the window, shifting the prompt out (llama-server with --context-shift; "
    "coddy-project/coddy-agent#106)",
    "no-window-info": "/v1/models entries carry no context size (Ollama's and LM Studio's "
    "/v1/models)",
    "no-cache-report": "the prompt prefix is reused but usage has no "
    "prompt_tokens_details.cached_tokens and no timings (vLLM without "
    "--enable-prompt-tokens-details: prompt_tokens_details null in cassettes/vllm; Ollama's /v1 "
    "usage has no such field)",
    "no-prompt-cache": "every prompt is processed in full and nothing is reported cached "
    "(vLLM --no-enable-prefix-caching, llama-server requests with cache_prompt false)",
    # vision (the toy model names the colour of a solid-colour PNG)
    "image-500": "any image part gets HTTP 500 'image input is not supported by this server' "
    "(llama-server started without --mmproj, ggml-org/llama.cpp#13566)",
    "image-url-refused": "an http(s) image URL gets 400 'invalid image input': only data URIs "
    "are read (Ollama's OpenAI layer, ollama/ollama#6753)",
    "images-ignored": "image parts are dropped and the text-only model answers 'blue' whatever "
    "the image (text-generation-webui's llama.cpp loader without a vision model: "
    "cassettes/tgwui, 2026-12-02)",
    "bad-image-500": "image bytes that do not decode give HTTP 500 (SGLang's PIL fallback, "
    "sgl-project/sglang#28131)",
    "fetch-error-500": "an image URL that cannot be fetched gives HTTP 500 (vLLM, "
    "vllm-project/vllm#40856)",
    "reads-file-urls": "a file:// image URL is read from the server's own disk and answered "
    "(FastChat's load_image, lm-sys/FastChat#3873)",
}
MODEL = "ref-model"
MESSAGES_PATHS = ("/v1/messages", "/v1/messages/count_tokens")
#: What the toy model thinks for an arithmetic prompt (long enough to cut with a budget).
REASONING = "17 times 23: 17 * 20 = 340 and 17 * 3 = 51, so the product is 340 + 51 = 391."
#: Which offered tool a prompt asks for (issue 16's choice among several), in order.
_PICKS = (
    ("convert_currency", r"convert|currenc"),
    ("get_forecast", r"forecast"),
    ("plan_trip", r"\btrip\b"),
    ("save_note", r"\bnote\b"),
    ("get_time", r"time"),
)
#: Arguments the toy model gives the tools that take more than a city.
_CANNED_ARGS: dict[str, dict[str, Any]] = {
    "plan_trip": {
        "traveller": {"name": "Ada", "age": 36},
        "stops": [{"city": "Paris", "nights": 2}, {"city": "London", "nights": 3}],
        "transport": "train",
    },
    "convert_currency": {"amount": 100, "from_currency": "USD", "to_currency": "EUR"},
}
CITIES = ("Paris", "London", "São Paulo", "Tokyo")
STORY = (
    "Once upon a time a lighthouse keeper watched the sea every night and wrote down each "
    "ship that passed the rocks below his tower while the storms came and went"
)


def _stable(*parts: Any) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()


def _stringify(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _stringify(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_stringify(v) for v in value]
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return value


def _text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(p.get("text", "") for p in content if isinstance(p, dict))
    return ""


# ---- suite 0.2 toy pieces: structured output, logprobs, logit_bias, special tokens ----------
_SCHEMA_TYPES = frozenset({"string", "integer", "number", "boolean", "object", "array", "null"})


def _schema_problem(schema: Any, depth: int = 0) -> str | None:
    """Why ``schema`` is no JSON schema (the subset the toy model serves), or None."""
    if depth > 16:
        return "schema nested too deeply"
    if not isinstance(schema, dict):
        return "a schema must be an object"
    kind = schema.get("type")
    names = kind if isinstance(kind, list) else [kind] if kind is not None else []
    if any(not isinstance(n, str) or n not in _SCHEMA_TYPES for n in names):
        return f"invalid type {kind!r}"
    props = schema.get("properties")
    if props is not None:
        if not isinstance(props, dict):
            return "properties must be an object"
        for sub in props.values():
            problem = _schema_problem(sub, depth + 1)
            if problem:
                return problem
    required = schema.get("required")
    if required is not None and not (
        isinstance(required, list) and all(isinstance(r, str) for r in required)
    ):
        return "required must be an array of strings"
    items = schema.get("items")
    return None if items is None else _schema_problem(items, depth + 1)


def _instance(schema: dict[str, Any], text: str, depth: int = 0) -> Any:
    """A value valid against ``schema``, taken from the free answer ``text`` where it can be:
    what a grammar-constrained model writes for that answer."""
    if isinstance(schema.get("enum"), list) and schema["enum"]:
        return schema["enum"][0]
    kind = schema.get("type")
    kind = kind[0] if isinstance(kind, list) and kind else kind
    numbers = [int(n) for n in re.findall(r"-?\d+", text)[:16]]
    if kind == "object" or (kind is None and "properties" in schema):
        props = schema.get("properties") or {}
        return {k: _instance(v, text, depth + 1) for k, v in props.items() if depth < 8}
    if kind == "array":
        raw = schema.get("items")
        items: dict[str, Any] = raw if isinstance(raw, dict) else {}
        if items.get("type") in ("integer", "number"):
            return numbers
        return [_instance(items, text, depth + 1)] if depth < 8 else []
    if kind in ("integer", "number"):
        return numbers[0] if numbers else 0
    if kind == "boolean":
        return True
    if kind == "null":
        return None
    words = re.findall(r"[^\W\d_]+", text)
    return words[0] if words else "ok"


def _shape_answer(req: dict[str, Any], text: str, quirks: frozenset[str]) -> str:
    """The answer as ``response_format`` constrains it (json_schema, json_object)."""
    rf = req.get("response_format")
    if not isinstance(rf, dict):
        prompted = _prompted_schema(req)
        return text if prompted is None else json.dumps(_instance(prompted, text))
    try:
        parsed: Any = json.loads(text)
    except ValueError:
        parsed = None
    if rf.get("type") == "json_schema" and "schema-not-enforced" not in quirks:
        raw = rf.get("json_schema")
        spec: dict[str, Any] = raw if isinstance(raw, dict) else {}
        schema = spec.get("schema")
        if not isinstance(schema, dict):
            return text if isinstance(parsed, dict) else json.dumps({"answer": text})
        required = schema.get("required") or []
        if isinstance(parsed, dict) and all(k in parsed for k in required):
            return text
        return json.dumps(_instance(schema, text))
    if rf.get("type") == "json_object" and "json-object-ignored" not in quirks:
        return text if isinstance(parsed, dict) else json.dumps({"answer": text})
    return text


def _prompted_schema(req: dict[str, Any]) -> dict[str, Any] | None:
    """A schema the system prompt asks the answer to match (the toy model obeys it)."""
    for m in req.get("messages") or []:
        text = _text_of(m.get("content")) if m.get("role") == "system" else ""
        at = text.find("JSON schema:\n")
        if at >= 0:
            try:
                schema, _ = json.JSONDecoder().raw_decode(text, at + len("JSON schema:\n"))
            except ValueError:
                return None
            return schema if isinstance(schema, dict) else None
    return None


def _token_id(piece: str) -> int:
    """The toy vocabulary: a piece's id is a stable hash (what ``/tokenize`` reports)."""
    return int(_stable("tok", piece.strip())[:6], 16) % 100_000 + 1000


def _logprob_entry(token: str, top: int) -> dict[str, Any]:
    lp = -round(int(_stable("lp", token)[:4], 16) / 65536, 4)
    alts = [(token, lp), (token.upper() if token.upper() != token else token + "!", lp - 2.0)]
    return {
        "token": token,
        "logprob": lp,
        "bytes": list(token.encode()),
        "top_logprobs": [
            {"token": t, "logprob": v, "bytes": list(t.encode())} for t, v in alts[:top]
        ],
    }


def _apply_logit_bias(req: dict[str, Any], text: str, vocab: dict[int, str]) -> str:
    """+100 on a known id makes every token that piece; -100 drops the pieces it names."""
    bias = req.get("logit_bias")
    if not isinstance(bias, dict) or not bias:
        return text
    values: dict[int, float] = {}
    for key, value in bias.items():
        with contextlib.suppress(TypeError, ValueError):
            values[int(key)] = float(value)
    forced = [i for i, v in values.items() if v >= 50 and i in vocab]
    if forced:
        limit = req.get("max_completion_tokens") or req.get("max_tokens") or 8
        return vocab[forced[0]] * max(1, min(int(limit), 8))
    banned = {i for i, v in values.items() if v <= -50}
    kept = [t for t in re.findall(r"\s*\S+", text) if _token_id(t) not in banned]
    return "".join(kept).lstrip() or "Okay."


#: Chat-template control strings the toy model's vocabulary holds as special tokens.
SPECIAL_TOKENS = ("<|im_start|>", "<|im_end|>", "<|endoftext|>", "<eos>")


def _count_tokens(text: str, parse_special: bool) -> int:
    """Toy token count: one per word; a word holding control strings costs its pieces as
    text, or one per control string when they are parsed as special tokens."""
    n = 0
    for word in text.split():
        specials = sum(word.count(t) for t in SPECIAL_TOKENS)
        if not specials:
            n += 1
        elif parse_special:
            n += specials
        else:
            n += len(re.findall(r"[A-Za-z]+|[^A-Za-z\s]+", word))
    return n


def _schema_blocks_tools(req: dict[str, Any], quirks: frozenset[str]) -> bool:
    rf = req.get("response_format")
    return (
        "schema-blocks-tools" in quirks and isinstance(rf, dict) and rf.get("type") == "json_schema"
    )


class BadRequest(Exception):
    def __init__(self, status: int, message: str, type_: str = "invalid_request_error") -> None:
        super().__init__(message)
        self.status, self.message, self.type = status, message, type_


class InStreamError(BadRequest):
    """A refusal sent after a 200, as an in-stream error event (``overflow-in-stream``)."""


def _words(req: dict[str, Any]) -> list[str]:
    """The toy model's tokens of a prompt: the words of every message's text, in order."""
    return [w for m in req["messages"] for w in _text_of(m.get("content")).split()]


def _prompt_words(req: dict[str, Any]) -> int:
    return sum(len(_text_of(m.get("content")).split()) for m in req["messages"])


class FakeServer:
    """Run with ``with FakeServer(...) as srv: srv.base_url``."""

    def __init__(
        self,
        quirks: Iterable[str] = (),
        *,
        delay: float = 0.002,
        models: Iterable[str] = (MODEL,),
        n_ctx: int = 512,
        prefill_delay: float = 0.0005,
        vision: bool = True,
        host: str = "127.0.0.1",
        port: int = 0,
        api_key: str | None = None,
        total_slots: int | None = None,
    ) -> None:
        self.quirks = frozenset(quirks)
        #: When set, /v1 requests need ``Authorization: Bearer <api_key>`` (401 otherwise).
        self.api_key = api_key
        unknown = self.quirks - set(QUIRKS)
        if unknown:
            raise ValueError(f"unknown quirks {sorted(unknown)}")
        self.delay = delay
        self.models = tuple(models)
        self.n_ctx = n_ctx
        #: seconds of "prompt processing" per prompt word not found in the prefix cache
        self.prefill_delay = prefill_delay
        #: each model's last prompt, as words (one slot's prompt cache per model, as
        #: llama-server keeps; per model so two columns on one server do not evict each other)
        self._cached_words: dict[str, list[str]] = {}
        #: False: a text-only model, which refuses image parts with a 400 saying so.
        self.vision = vision
        self.host, self.port = host, port
        self.requests: list[dict[str, Any]] = []
        #: ids ``/tokenize`` handed out → their pieces (what ``logit_bias`` can name)
        self.vocab: dict[int, str] = {}
        #: ``GET /props`` answers llama-server's ``total_slots`` when set (404 otherwise).
        self.total_slots = total_slots
        #: Requests being handled now, and the most at once (tests of ``--concurrency``).
        self.in_flight = 0
        self.max_in_flight = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: asyncio.base_events.Server | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}/v1"

    # -- lifecycle ---------------------------------------------------------------------------
    def start(self) -> FakeServer:
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("fake server did not start")
        return self

    def stop(self) -> None:
        if self._loop is not None and self._server is not None:
            self._loop.call_soon_threadsafe(self._server.close)
            self._loop.call_soon_threadsafe(self._loop.stop)
        if self._thread is not None:
            self._thread.join(5)

    def __enter__(self) -> FakeServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        asyncio.set_event_loop(loop)
        self._server = loop.run_until_complete(
            asyncio.start_server(self._handle, self.host, self.port)
        )
        self.port = self._server.sockets[0].getsockname()[1]
        self._ready.set()
        try:
            loop.run_forever()
        finally:
            loop.close()

    def serve_forever(self) -> None:
        self._run()

    # -- HTTP ----------------------------------------------------------------------------------
    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            method, path, _ = lines[0].split(" ", 2)
            headers = {}
            for line in lines[1:]:
                if ":" in line:
                    k, v = line.split(":", 1)
                    headers[k.strip().lower()] = v.strip()
            body = b""
            if "content-length" in headers:
                body = await reader.readexactly(int(headers["content-length"]))
            # each request's arrival and end (monotonic s), for tests of --concurrency
            entry: dict[str, Any] = {"method": method, "path": path, "headers": headers,
                                     "body": body, "t0": time.monotonic()}  # fmt: skip
            self.requests.append(entry)
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
            try:
                if "slow-headers" in self.quirks:
                    await asyncio.sleep(1.5)
                if self._refused(path, headers):
                    await self._unauthorized(writer)
                    return
                await self._route(method, path, body, writer)
            finally:
                self.in_flight -= 1
                entry["t1"] = time.monotonic()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            with contextlib.suppress(Exception):
                writer.close()
                await writer.wait_closed()

    def _refused(self, path: str, headers: dict[str, str]) -> bool:
        if self.api_key is None or not path.startswith("/v1/"):
            return False
        scheme, _, token = headers.get("authorization", "").partition(" ")
        return scheme.lower() != "bearer" or not hmac.compare_digest(token, self.api_key)

    async def _unauthorized(self, writer: asyncio.StreamWriter) -> None:
        if "auth-error-string" in self.quirks:
            await self._send_json(writer, 401, {"error": "Unauthorized"})
            return
        err = {"message": "Invalid API Key", "type": "authentication_error", "param": None,
               "code": "invalid_api_key"}  # fmt: skip
        await self._send_json(writer, 401, {"error": err})

    def _extra_headers(self) -> str:
        if "secret-headers" not in self.quirks:
            return ""
        return (
            "x-litellm-call-id: 5f0c8e0e-1111-2222-3333-444455556666\r\n"
            "x-litellm-response-duration-ms: 12.5\r\n"
            "llm_provider-x-request-id: abc\r\n"
        )

    async def _send_json(self, writer: asyncio.StreamWriter, status: int, obj: Any) -> None:
        data = json.dumps(obj).encode()
        writer.write(
            (
                f"HTTP/1.1 {status} X\r\ncontent-type: application/json\r\n"
                f"content-length: {len(data)}\r\nconnection: close\r\n"
                f"{self._extra_headers()}\r\n"
            ).encode()
            + data
        )
        await writer.drain()

    async def _route(
        self, method: str, path: str, body: bytes, writer: asyncio.StreamWriter
    ) -> None:
        if method == "GET" and path == "/v1/models":
            data = [
                {
                    "id": m,
                    "object": "model",
                    "created": 1700000000,
                    "owned_by": "conformance-fake",
                    **({} if "no-window-info" in self.quirks else {"meta": {"n_ctx": self.n_ctx}}),
                    "architecture": {
                        "input_modalities": ["text", "image"] if self.vision else ["text"]
                    },
                }
                for m in self.models
            ]
            await self._send_json(writer, 200, {"object": "list", "data": data})
            return
        if path == "/v1/redirect-me":
            writer.write(
                b"HTTP/1.1 307 Temporary Redirect\r\nlocation: /v1/models\r\n"
                b"content-length: 0\r\nconnection: close\r\n\r\n"
            )
            await writer.drain()
            return
        if method == "GET" and path == "/props" and self.total_slots is not None:
            await self._send_json(writer, 200, {"total_slots": self.total_slots})
            return
        if method == "GET" and path == "/version":
            await self._send_json(writer, 200, {"version": "fake-1"})
            return
        if method == "POST" and path == "/tokenize":
            await self._tokenize(body, writer)
            return
        if method == "POST" and path == "/v1/responses":
            await self._responses(body, writer)
            return
        bare = path.split("?", 1)[0]
        offered = {*MESSAGES_PATHS} if "no-messages-api" not in self.quirks else set()
        if "no-count-tokens" in self.quirks:
            offered.discard("/v1/messages/count_tokens")
        if method == "POST" and bare in offered:
            await self._messages_api(bare, body, writer)
            return
        if method != "POST" or path != "/v1/chat/completions":
            await self._send_json(writer, 404, {"error": {"message": "not found", "type": "x"}})
            return
        try:
            req = self._validate(body)
            plan = self._plan(req)
            seen = await self._look(req)
            if seen is not None:
                plan = {"text": seen, "calls": [], "reasoning": ""}
        except BadRequest as exc:
            err = {"message": exc.message, "type": exc.type, "param": None, "code": None}
            if isinstance(exc, InStreamError):
                await self._stream_error(writer, err)
                return
            await self._send_json(writer, exc.status, {"error": err})
            return
        plan["cached"] = self._prefix_cache(req)
        prefill = self.prefill_delay * max(0, _prompt_words(req) - plan["cached"])
        if req.get("stream"):
            await self._stream(req, plan, writer, prefill)
        else:
            await asyncio.sleep(prefill)
            await self._send_json(writer, 200, self._completion(req, plan))

    async def _tokenize(self, body: bytes, writer: asyncio.StreamWriter) -> None:
        """llama.cpp's ``{"content"}`` and vLLM's ``{"prompt"}`` shapes → ``{"tokens": [...]}``."""
        try:
            req = json.loads(body)
        except ValueError:
            req = None
        text = None
        if isinstance(req, dict):
            text = req.get("content", req.get("prompt"))
        if not isinstance(text, str):
            err = {"message": "content must be a string", "type": "invalid_request_error"}
            await self._send_json(writer, 400, {"error": err})
            return
        ids = []
        for piece in self._tokens(text):
            tid = _token_id(piece)
            self.vocab[tid] = piece.strip()
            ids.append(tid)
        await self._send_json(writer, 200, {"tokens": ids})

    # -- the toy model -------------------------------------------------------------------------
    def _validate(self, body: bytes) -> dict[str, Any]:
        try:
            req = json.loads(body)
        except ValueError as exc:
            raise BadRequest(400, f"invalid JSON: {exc}") from None
        if not isinstance(req, dict):
            raise BadRequest(400, "body must be an object")
        messages = req.get("messages")
        if not isinstance(messages, list) or not messages:
            raise BadRequest(400, "'messages' must be a non-empty array")
        model = req.get("model")
        if model not in self.models and "ignore-model" not in self.quirks:
            raise BadRequest(404, f"The model `{model}` does not exist", "not_found_error")
        self._fit_window(req)
        for i, m in enumerate(messages):
            if not isinstance(m, dict) or m.get("role") not in (
                "system", "user", "assistant", "tool", "developer"
            ):  # fmt: skip
                raise BadRequest(400, "invalid message role")
            extra = [k for k in ("reasoning_content", "reasoning") if k in m]
            if "reasoning-tool-turn-422" in self.quirks and m.get("tool_calls") and extra:
                raise BadRequest(422, f"messages.{i}.{extra[0]}: Extra inputs are not permitted")
            for call in m.get("tool_calls") or []:
                args = (call.get("function") or {}).get("arguments")
                try:
                    json.loads(str(args))
                except ValueError:
                    status = 500 if "500-bad-args" in self.quirks else 400
                    raise BadRequest(status, "tool call arguments are not valid JSON") from None
        rf = req.get("response_format")
        if rf and req.get("tools") and "schema-tools-exclusive" in self.quirks:
            raise BadRequest(422, "response_format and tools cannot be used together")
        if isinstance(rf, dict) and isinstance(rf.get("json_schema"), dict):
            schema = rf["json_schema"].get("schema")
            problem = None if schema is None else _schema_problem(schema)
            if problem:
                status = 500 if "bad-schema-500" in self.quirks else 400
                raise BadRequest(status, f"response_format.json_schema.schema: {problem}")
        return req

    def _fit_window(self, req: dict[str, Any]) -> None:
        """The window: a prompt over ``n_ctx`` words is refused (or cut, with the
        ``silent-truncation`` quirk), and so is a ``max_tokens`` that alone fills the window."""
        words = _prompt_words(req)
        if words > self.n_ctx:
            if "silent-truncation" in self.quirks:
                messages = req["messages"]
                while _prompt_words(req) > self.n_ctx and len(messages) > 1:
                    last = len(messages) - 1
                    first = next(
                        (i for i, m in enumerate(messages) if m.get("role") != "system"), last
                    )
                    if first == last:
                        break
                    del messages[first]  # Ollama keeps the system message and the last turns
                over = _prompt_words(req) - self.n_ctx
                if over > 0:
                    last = messages[-1]
                    kept = _text_of(last.get("content")).split()[over:]
                    messages[-1] = {**last, "content": " ".join(kept)}
                return
            message = f"the request exceeds the context size ({self.n_ctx} tokens)"
            if req.get("stream") and "overflow-in-stream" in self.quirks:
                raise InStreamError(400, message)
            raise BadRequest(400, message)
        limit = req.get("max_completion_tokens") or req.get("max_tokens")
        if isinstance(limit, int) and limit >= self.n_ctx:
            if "context-shift" in self.quirks:
                req["_ramble"] = limit  # generated to the limit, whatever was asked
                return
            if "max-tokens-clamped" in self.quirks:
                key = "max_completion_tokens" if req.get("max_completion_tokens") else "max_tokens"
                req[key] = self.n_ctx - words
                return
            if "max-tokens-blames-prompt" in self.quirks:
                raise BadRequest(
                    400,
                    f"This model's maximum context length is {self.n_ctx - limit} tokens; the "
                    f"request has {words} input tokens. Shorten the input.",
                )
            raise BadRequest(
                400,
                f"max_tokens ({limit}) is larger than the {self.n_ctx - words} tokens the prompt "
                f"leaves of the context size ({self.n_ctx} tokens)",
            )

    def forget_prompts(self) -> None:
        """Empty the prompt caches, so a second run starts as cold as the first did."""
        self._cached_words.clear()

    def _prefix_cache(self, req: dict[str, Any]) -> int:
        """Prompt words reused from the last prompt (its common prefix with this one)."""
        words = _words(req)
        if "no-prompt-cache" in self.quirks:
            return 0
        model = str(req.get("model"))
        cached = 0
        for a, b in zip(self._cached_words.get(model, ()), words, strict=False):
            if a != b:
                break
            cached += 1
        if model in self._cached_words or len(self._cached_words) < 64:
            self._cached_words[model] = words
        return cached

    def _usage(self, req: dict[str, Any], plan: dict[str, Any], completion: int) -> dict[str, Any]:
        """``usage`` and llama-server's ``timings`` (``cache_n`` reused, ``prompt_n`` new)."""
        prompt_tokens = self._prompt_tokens(req)
        usage: dict[str, Any] = {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion,
            "total_tokens": prompt_tokens + completion,
        }
        if plan["reasoning"] and "no-reasoning-tokens" not in self.quirks:
            thought = len(self._tokens(plan["reasoning"]))
            usage["completion_tokens_details"] = {"reasoning_tokens": thought}
        if "no-cache-report" in self.quirks:
            return {"usage": usage}
        cached = min(plan.get("cached", 0), prompt_tokens)
        usage["prompt_tokens_details"] = {"cached_tokens": cached}
        timings = {"cache_n": cached, "prompt_n": prompt_tokens - cached, "predicted_n": completion}
        return {"usage": usage, "timings": timings}

    async def _stream_error(self, writer: asyncio.StreamWriter, err: dict[str, Any]) -> None:
        writer.write(
            b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n"
            b"transfer-encoding: chunked\r\nconnection: close\r\n\r\n"
        )
        for data in (json.dumps({"error": err}).encode(), b"[DONE]"):
            event = b"data: " + data + b"\n\n"
            writer.write(f"{len(event):x}\r\n".encode() + event + b"\r\n")
        writer.write(b"0\r\n\r\n")
        await writer.drain()

    def _plan(self, req: dict[str, Any]) -> dict[str, Any]:
        """Decide the answer: ``{"text": str, "calls": [(name, args)], "reasoning": str}``."""
        messages = req["messages"]
        last = messages[-1]
        prompt = _text_of(last.get("content"))
        if "special-tokens-parsed" in self.quirks and "<|im_end|>" in prompt:
            prompt = prompt[: prompt.index("<|im_end|>")]  # the turn ended there
        tools = [t.get("function", {}).get("name") for t in req.get("tools") or []]
        choice = req.get("tool_choice", "auto")
        plan: dict[str, Any] = {"text": "", "calls": [], "reasoning": ""}
        if last.get("role") == "tool":
            plan["text"] = "The weather in Paris is 21 degrees and sunny."
            return plan
        if last.get("role") == "assistant" and len(messages) > 1:
            plan["text"] = self._continue(prompt, messages)
            return plan
        if tools and choice != "none" and not _schema_blocks_tools(req, self.quirks):
            named = choice.get("function", {}).get("name") if isinstance(choice, dict) else None
            if named and "named-as-auto" in self.quirks:
                named = None
            wants = choice == "required" or named or re.search(r"weather|time|tool", prompt, re.I)
            if wants or (choice == "auto" and "eager-tools" in self.quirks):
                name = named or self._pick(prompt, tools)
                if name == "get_time":
                    plan["calls"] = [("get_time", {})]
                elif name in _CANNED_ARGS or name == "save_note":
                    plan["calls"] = [(name, self._canned(name, prompt))]
                else:
                    cities = [c for c in CITIES if c in prompt] or ["Paris"]
                    if req.get("parallel_tool_calls") is False and (
                        "ignore-parallel-false" not in self.quirks
                    ):
                        cities = cities[:1]
                    plan["calls"] = [(name, {"city": c}) for c in cities]
                if "reason" in str(req.get("model")):
                    plan["reasoning"] = self._reasoning(req, f"The user asks me to use {name}.")
                return self._call_quirks(req, plan)
        plan["text"] = _shape_answer(req, self._answer(prompt, messages), self.quirks)
        if "logit-bias-ignored" not in self.quirks:
            plan["text"] = _apply_logit_bias(req, plan["text"], self.vocab)
        if req.get("_ramble"):
            plan["text"] = " ".join(["more"] * req["_ramble"])
        if "reason" in str(req.get("model")) and "times" in prompt:
            plan["reasoning"] = self._reasoning(req, REASONING)
        return plan

    # -- issue 16: tool choice among several, canned arguments, reasoning controls -------------
    def _pick(self, prompt: str, tools: list[Any]) -> Any:
        """The offered tool the prompt asks for (the first when none fits)."""
        if "first-tool" not in self.quirks:
            for name, rx in _PICKS:
                if name in tools and re.search(rx, prompt, re.I):
                    return name
        return tools[0]

    def _canned(self, name: str, prompt: str) -> dict[str, Any]:
        if name == "save_note":
            m = re.search(r'"([^"]*)"', prompt)
            return {"text": m.group(1) if m else prompt}
        args: dict[str, Any] = json.loads(json.dumps(_CANNED_ARGS[name]))
        if "numbers-as-strings" in self.quirks:
            return dict(_stringify(args))
        return args

    def _reasoning(self, req: dict[str, Any], text: str) -> str:
        """The toy model's reasoning under the request's thinking controls."""
        kwargs = req.get("chat_template_kwargs")
        off = (isinstance(kwargs, dict) and kwargs.get("enable_thinking") is False) or req.get(
            "reasoning_effort"
        ) == "none"
        if off and "thinking-off-ignored" not in self.quirks:
            return ""
        budget = req.get("reasoning_budget_tokens", req.get("thinking_token_budget"))
        if isinstance(budget, int) and budget >= 0 and "budget-ignored" not in self.quirks:
            return "".join(self._tokens(text)[:budget]).strip()
        return text

    def _call_quirks(self, req: dict[str, Any], plan: dict[str, Any]) -> dict[str, Any]:
        calls = plan["calls"]
        if "auto-500" in self.quirks and req.get("tool_choice", "auto") == "auto":
            raise BadRequest(
                500, "The model produced output that does not match the expected peg-native format"
            )
        if "tool-end-in-args" in self.quirks:
            text = self._markup(calls)
            head = text.split("</tool_call>", 1)[0].removeprefix("<tool_call>")
            try:
                json.loads(head)
            except ValueError:
                plan["calls"], plan["text"] = [], text
        if "call-in-reasoning" in self.quirks and plan["reasoning"]:
            plan["reasoning"] += " " + self._markup(calls)
            plan["calls"] = []
        if "flaky-calls" in self.quirks and req.get("tool_choice", "auto") == "auto":
            kept = [c for c in calls if c[1].get("city") == "Paris"]
            if len(kept) < len(calls):
                plan["calls"] = kept
                plan["text"] = "".join(json.dumps({"name": n, "arguments": a}) for n, a in calls)
        return plan

    def _continue(self, prefix: str, messages: list[dict[str, Any]]) -> str:
        """A final assistant message is a prefill: the answer carries on after it."""
        users = [_text_of(m.get("content")) for m in messages if m.get("role") == "user"]
        answer = self._answer(users[-1] if users else "", messages)
        head = prefix.strip()
        if "prefill-new-turn" in self.quirks or not head or not answer.startswith(head):
            return answer
        return answer[len(head) :]

    def _answer(self, prompt: str, messages: list[dict[str, Any]]) -> str:
        m = re.search(r"Count from 1 to (\d+)", prompt)
        if m:
            return ", ".join(str(i) for i in range(1, int(m.group(1)) + 1))
        m = re.search(r"Repeat exactly this text and nothing else: (.*)$", prompt)
        if m:
            return m.group(1)
        m = re.search(r"single word '(\w+)'", prompt)
        if m:
            return m.group(1)
        if "my name" in prompt.lower():
            return "Ada"
        if "capital of France" in prompt:
            return '{"capital": "Paris"}'
        if "times 23" in prompt:
            return "17 times 23 is 391."
        if "answer" in prompt.lower() and "repeat" in prompt.lower():
            return "391"
        if prompt.startswith("Say OK"):
            return "OK"
        if prompt.lower().startswith("say hi"):
            return "Hi!"
        if "Summarise" in prompt:
            return "Hello."
        return " ".join([STORY] * 8)

    # -- the toy model's eyes -------------------------------------------------------------------
    async def _look(self, req: dict[str, Any]) -> str | None:
        """The answer to the last user message's images (their colours), or None without any;
        BadRequest for an image it cannot take, as the quirks say."""
        last = req["messages"][-1]
        content = last.get("content") if last.get("role") == "user" else None
        parts = [
            p for p in content or [] if isinstance(p, dict) and p.get("type") == "image_url"
        ] if isinstance(content, list) else []  # fmt: skip
        if not parts:
            return None
        if "image-500" in self.quirks:
            raise BadRequest(500, "image input is not supported by this server", "server_error")
        if "images-ignored" in self.quirks:
            return "blue"
        if not self.vision:
            raise BadRequest(400, f"{req['model']} is not a vision model: it takes no images")
        names: list[str] = []
        for part in parts[:4]:
            url = (part.get("image_url") or {}).get("url")
            if not isinstance(url, str):
                raise BadRequest(400, "image_url.url must be a string")
            head = url[:16].lower()
            if head.startswith("data:"):
                data = _data_uri_bytes(url)
            elif head.startswith(("http://", "https://")):
                if "image-url-refused" in self.quirks:
                    raise BadRequest(400, "invalid image input")
                data = await self._fetch(url)
            elif head.startswith("file:") and "reads-file-urls" in self.quirks:
                try:
                    # a blocking read, as the servers that do this do it
                    with open(url[len("file://") :], "rb") as f:  # noqa: ASYNC230
                        data = f.read(65536)
                except OSError as exc:
                    raise BadRequest(500, f"cannot open {url}: {exc}", "server_error") from None
                if _png_colour(data) is None:
                    names.append(f"no picture but {len(data)} bytes of text")
                    continue
            else:
                raise BadRequest(400, f"unsupported image URL {url[:40]!r}: use data: or http(s)")
            colour = _png_colour(data)
            if colour is None:
                status = 500 if "bad-image-500" in self.quirks else 400
                raise BadRequest(status, "the image cannot be decoded (not a PNG this model reads)")
            names.append(colour)
        return " and ".join(names).capitalize() + "."

    async def _fetch(self, url: str) -> bytes:
        """GET an image URL on loopback only (a reference server fetches nothing else)."""
        from urllib.parse import urlsplit

        failed = 500 if "fetch-error-500" in self.quirks else 400
        parts = urlsplit(url)
        if parts.scheme != "http" or parts.hostname not in ("127.0.0.1", "localhost"):
            raise BadRequest(
                400, "the reference server fetches http:// image URLs on loopback only"
            )
        try:
            reader, writer = await asyncio.wait_for(
                asyncio.open_connection(parts.hostname, parts.port or 80), 5
            )
        except (OSError, asyncio.TimeoutError) as exc:
            raise BadRequest(failed, f"could not fetch the image: {exc}") from None
        try:
            path = parts.path or "/"
            writer.write(f"GET {path} HTTP/1.0\r\nhost: {parts.netloc}\r\n\r\n".encode())
            await writer.drain()
            raw = await asyncio.wait_for(reader.read(_MAX_IMAGE + 4096), 5)
        except (OSError, asyncio.TimeoutError) as exc:
            raise BadRequest(failed, f"could not fetch the image: {exc}") from None
        finally:
            writer.close()
        head, _, data = raw.partition(b"\r\n\r\n")
        status = head.split(b"\r\n", 1)[0].split(b" ")
        if len(status) < 2 or status[1] != b"200":
            shown = b" ".join(status[1:]).decode("latin-1")[:40]
            raise BadRequest(failed, f"could not fetch the image: HTTP {shown}")
        return data

    @staticmethod
    def _tokens(text: str) -> list[str]:
        return re.findall(r"\s*\S+", text) or ([text] if text else [])

    def _limit(self, req: dict[str, Any], text: str) -> tuple[str, str, int]:
        tokens = self._tokens(text)
        finish = "stop"
        limit = req.get("max_completion_tokens") or req.get("max_tokens")
        if isinstance(limit, int) and len(tokens) > limit:
            tokens, finish = tokens[:limit], "length"
        out = "".join(tokens)
        stops = req.get("stop")
        for s in [stops] if isinstance(stops, str) else stops or []:
            if s and s in out:
                out, finish = out[: out.index(s)], "stop"
        return out, finish, len(self._tokens(out))

    def _prompt_tokens(self, req: dict[str, Any]) -> int:
        parse = "special-tokens-parsed" in self.quirks
        return sum(_count_tokens(_text_of(m.get("content")), parse) for m in req["messages"])

    def _logprobs(self, req: dict[str, Any], text: str) -> dict[str, Any]:
        """``{"logprobs": ...}`` for ``text`` when the request asks for them, else ``{}``."""
        if not req.get("logprobs") or "no-logprobs" in self.quirks:
            return {}
        top = req.get("top_logprobs")
        top = top if isinstance(top, int) and 0 <= top <= 20 else 0
        return {"logprobs": {"content": [_logprob_entry(t, top) for t in self._tokens(text)]}}

    def _ids(self, req: dict[str, Any]) -> tuple[str, list[str]]:
        h = _stable(req)
        return "chatcmpl-" + h[:24], [f"call_{_stable(h, i)[:24]}" for i in range(8)]

    def _markup(self, calls: list[tuple[str, dict[str, Any]]]) -> str:
        return "".join(
            f"<tool_call>{json.dumps({'name': n, 'arguments': a})}</tool_call>" for n, a in calls
        )

    def _completion(self, req: dict[str, Any], plan: dict[str, Any]) -> dict[str, Any]:
        cid, call_ids = self._ids(req)
        n = req.get("n") or 1
        choices = []
        completion_tokens = 0
        for i in range(n if isinstance(n, int) and 0 < n <= 4 else 1):
            message: dict[str, Any] = {"role": "assistant"}
            if plan["calls"] and "markup" not in self.quirks:
                message["content"] = None
                message["tool_calls"] = [
                    {
                        "id": call_ids[k],
                        "type": "function",
                        "function": {"name": name, "arguments": json.dumps(args)},
                    }
                    for k, (name, args) in enumerate(plan["calls"])
                ]
                finish, ntok = "tool_calls", 10
            else:
                text = self._markup(plan["calls"]) if plan["calls"] else plan["text"]
                text, finish, ntok = self._limit(req, text)
                message["content"] = text
            if plan["reasoning"]:
                message["reasoning_content"] = plan["reasoning"]
                ntok += len(self._tokens(plan["reasoning"]))
            completion_tokens += ntok
            choice = {"index": i, "message": message, "finish_reason": finish}
            choice.update(self._logprobs(req, message.get("content") or ""))
            choices.append(choice)
        return {
            "id": cid,
            "object": "chat.completion",
            "created": 1700000000,
            "model": req["model"],
            "choices": choices,
            **self._usage(req, plan, completion_tokens),
        }

    async def _stream(
        self,
        req: dict[str, Any],
        plan: dict[str, Any],
        writer: asyncio.StreamWriter,
        prefill: float = 0.0,
    ) -> None:
        cid, call_ids = self._ids(req)
        q = self.quirks
        writer.write(
            (
                "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n"
                "transfer-encoding: chunked\r\nconnection: close\r\n"
                f"{self._extra_headers()}\r\n"
            ).encode()
        )

        async def send(obj: Any) -> None:
            data = b"data: " + (obj if isinstance(obj, bytes) else json.dumps(obj).encode())
            data += b"\n\n"
            writer.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
            await writer.drain()
            if self.delay:
                await asyncio.sleep(self.delay)

        def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
            if "role-every-chunk" in q:
                delta = {"role": "assistant", **delta}
            return {
                "id": cid,
                "object": "chat.completion.chunk",
                "created": 1700000000,
                "model": req["model"],
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
            }

        await writer.drain()
        await asyncio.sleep(prefill)  # headers first, then silence while the prompt is read
        await send(chunk({"role": "assistant", "content": ""}))
        completion_tokens = 0
        if plan["reasoning"]:
            for piece in self._tokens(plan["reasoning"]):
                await send(chunk({"reasoning_content": piece}))
                completion_tokens += 1
        if plan["calls"] and "stream-drops-tool-calls" in q:
            finish = "stop"
        elif plan["calls"] and "markup" not in q:
            for k, (name, args) in enumerate(plan["calls"]):
                raw = json.dumps(args)
                head: dict[str, Any] = {
                    "index": k,
                    "id": call_ids[k],
                    "type": "function",
                    "function": {"name": name, "arguments": ""},
                }
                if "no-tool-index" in q:
                    del head["index"]
                await send(chunk({"tool_calls": [head]}))
                for i in range(0, len(raw), 3):
                    frag: dict[str, Any] = {"index": k, "function": {"arguments": raw[i : i + 3]}}
                    if "repeat-tool-id" in q:
                        frag.update(id=call_ids[k], type="function")
                        frag["function"]["name"] = name
                    if "no-tool-index" in q:
                        del frag["index"]
                    await send(chunk({"tool_calls": [frag]}))
                    completion_tokens += 1
            finish = "tool_calls"
        else:
            text = self._markup(plan["calls"]) if plan["calls"] else plan["text"]
            text, finish, ntok = self._limit(req, text)
            completion_tokens += ntok
            for piece in self._tokens(text):
                c = chunk({"content": piece})
                c["choices"][0].update(self._logprobs(req, piece))
                await send(c)
        await send(chunk({}, finish))
        opts = req.get("stream_options") or {}
        if opts.get("include_usage") and "no-usage" not in q:
            await send({**chunk({}), "choices": [], **self._usage(req, plan, completion_tokens)})
        if "secret-headers" in q:
            echo = b": echo sk-live-abcdefghijklmnop1234567890\n\n"
            writer.write(f"{len(echo):x}\r\n".encode() + echo + b"\r\n")
        if "no-done" not in q:
            await send(b"[DONE]")
        writer.write(b"0\r\n\r\n")
        await writer.drain()

    # -- the Anthropic Messages API: translated to the toy model's chat request --------------
    async def _messages_api(self, path: str, body: bytes, writer: asyncio.StreamWriter) -> None:
        try:
            req = json.loads(body)
            chat = self._chat_from_messages(req, count_only=path.endswith("/count_tokens"))
            if path.endswith("/count_tokens"):
                n = 1 if "msg-count-tokens-constant" in self.quirks else self._input_tokens(chat)
                await self._send_json(writer, 200, {"input_tokens": n})
                return
            plan = self._plan(chat)
        except ValueError as exc:
            await self._send_anthropic_error(writer, BadRequest(400, f"invalid JSON: {exc}"))
            return
        except BadRequest as exc:
            await self._send_anthropic_error(writer, exc)
            return
        if req.get("stream"):
            await self._anthropic_stream(req, chat, plan, writer)
        else:
            await self._send_json(writer, 200, self._anthropic_reply(req, chat, plan))

    async def _send_anthropic_error(self, writer: asyncio.StreamWriter, exc: BadRequest) -> None:
        kind = "api_error" if exc.status >= 500 else exc.type
        err = {"type": "error", "error": {"type": kind, "message": exc.message}}
        await self._send_json(writer, exc.status, err)

    def _chat_from_messages(self, req: Any, *, count_only: bool) -> dict[str, Any]:
        if not isinstance(req, dict):
            raise BadRequest(400, "body must be an object")
        turns = req.get("messages")
        if not isinstance(turns, list) or not turns:
            raise BadRequest(400, "messages: must be a non-empty array")
        if req.get("model") not in self.models and "ignore-model" not in self.quirks:
            raise BadRequest(404, f"model: {req.get('model')}", "not_found_error")
        limit = req.get("max_tokens")
        if not count_only and (not isinstance(limit, int) or limit < 1):
            raise BadRequest(400, "max_tokens: a positive integer is required")
        messages: list[dict[str, Any]] = []
        if req.get("system"):
            messages.append({"role": "system", "content": _text_of(req["system"])})
        for turn in turns:
            messages += self._chat_turn(turn)
        chat: dict[str, Any] = {"model": req["model"], "messages": messages, "max_tokens": limit}
        tools = req.get("tools") or []
        chat["tools"] = [
            {
                "type": "function",
                "function": {"name": t.get("name"), "parameters": t.get("input_schema")},
            }
            for t in tools
            if isinstance(t, dict)
        ]
        choice = req.get("tool_choice") or {}
        kind = choice.get("type") if isinstance(choice, dict) else None
        if kind == "any":
            chat["tool_choice"] = "required"
        elif kind == "tool":
            chat["tool_choice"] = {"type": "function", "function": {"name": choice.get("name")}}
        elif kind == "none":
            chat["tool_choice"] = "none"
        return chat

    def _chat_turn(self, turn: Any) -> list[dict[str, Any]]:
        if not isinstance(turn, dict) or turn.get("role") not in ("user", "assistant"):
            raise BadRequest(400, "messages: each turn has role user or assistant")
        role, content = turn["role"], turn.get("content")
        if isinstance(content, str):
            return [{"role": role, "content": content}]
        if not isinstance(content, list):
            raise BadRequest(400, "content: a string or an array of blocks")
        texts: list[str] = []
        calls: list[dict[str, Any]] = []
        results: list[dict[str, Any]] = []
        for block in content:
            kind = block.get("type") if isinstance(block, dict) else None
            if kind == "text":
                texts.append(str(block.get("text", "")))
            elif kind == "tool_use" and role == "assistant":
                fn = {"name": block.get("name"), "arguments": json.dumps(block.get("input") or {})}
                calls.append({"id": block.get("id"), "type": "function", "function": fn})
            elif kind == "tool_result" and role == "user":
                if "msg-tool-result-500" in self.quirks:
                    raise BadRequest(500, "unsupported content[].type")
                results.append({"role": "tool", "tool_call_id": block.get("tool_use_id"),
                                "content": _text_of(block.get("content"))})  # fmt: skip
            elif kind not in ("image", "thinking"):
                raise BadRequest(400, f"content: unsupported block type {kind!r}")
        out: list[dict[str, Any]] = []
        if texts or calls or not results:
            msg: dict[str, Any] = {"role": role, "content": "".join(texts)}
            if calls:
                msg["tool_calls"] = calls
            out.append(msg)
        return out + results

    @staticmethod
    def _input_tokens(chat: dict[str, Any]) -> int:
        return sum(len(_text_of(m.get("content")).split()) for m in chat["messages"])

    def _stop_reason(self, finish: str) -> str:
        if "msg-openai-stop-reason" in self.quirks:
            return finish
        return {"stop": "end_turn", "length": "max_tokens", "tool_calls": "tool_use"}[finish]

    def _anthropic_content(
        self, req: dict[str, Any], chat: dict[str, Any], plan: dict[str, Any]
    ) -> tuple[list[dict[str, Any]], str, int]:
        """The reply's blocks, its stop reason and output token count."""
        ids = [f"toolu_{_stable(req, i)[:24]}" for i in range(len(plan["calls"]))]
        blocks: list[dict[str, Any]] = []
        if plan["reasoning"]:
            blocks.append({"type": "thinking", "thinking": plan["reasoning"], "signature": ""})
        if plan["calls"]:
            for k, (name, args) in enumerate(plan["calls"]):
                blocks.append({"type": "tool_use", "id": ids[k], "name": name, "input": args})
            return blocks, self._stop_reason("tool_calls"), 10
        text, finish, ntok = self._limit(chat, plan["text"])
        blocks.append({"type": "text", "text": text})
        return blocks, self._stop_reason(finish), ntok

    def _anthropic_reply(
        self, req: dict[str, Any], chat: dict[str, Any], plan: dict[str, Any]
    ) -> dict[str, Any]:
        blocks, stop, ntok = self._anthropic_content(req, chat, plan)
        if "msg-tool-input-string" in self.quirks:
            for b in blocks:
                if b["type"] == "tool_use":
                    b["input"] = json.dumps(b["input"])
        return {
            "id": "msg_" + _stable(req)[:24],
            "type": "message",
            "role": "assistant",
            "model": req["model"],
            "content": blocks,
            "stop_reason": stop,
            "stop_sequence": None,
            "usage": {"input_tokens": self._input_tokens(chat), "output_tokens": ntok},
        }

    async def _anthropic_stream(
        self,
        req: dict[str, Any],
        chat: dict[str, Any],
        plan: dict[str, Any],
        writer: asyncio.StreamWriter,
    ) -> None:
        q = self.quirks
        blocks, stop, ntok = self._anthropic_content(req, chat, plan)
        writer.write(
            b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n"
            b"transfer-encoding: chunked\r\nconnection: close\r\n\r\n"
        )

        async def send(kind: str, **fields: Any) -> None:
            data = b"" if "msg-no-event-lines" in q else f"event: {kind}\n".encode()
            data += b"data: " + json.dumps({"type": kind, **fields}).encode() + b"\n\n"
            writer.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
            await writer.drain()
            if self.delay:
                await asyncio.sleep(self.delay)

        message = {
            "id": "msg_" + _stable(req)[:24],
            "type": "message",
            "role": "assistant",
            "model": req["model"],
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": {"input_tokens": self._input_tokens(chat), "output_tokens": 1},
        }
        await send("message_start", message=message)
        await send("ping")
        start: dict[str, Any]
        delta: dict[str, Any]
        for i, block in enumerate(blocks):
            if block["type"] == "text":
                await send(
                    "content_block_start", index=i, content_block={"type": "text", "text": ""}
                )
                for piece in self._tokens(block["text"]):
                    await send(
                        "content_block_delta", index=i, delta={"type": "text_delta", "text": piece}
                    )
            elif block["type"] == "thinking":
                start = {"type": "thinking", "thinking": "", "signature": ""}
                await send("content_block_start", index=i, content_block=start)
                for piece in self._tokens(block["thinking"]):
                    delta = {"type": "thinking_delta", "thinking": piece}
                    await send("content_block_delta", index=i, delta=delta)
            else:
                start = {"type": "tool_use", "id": block["id"], "name": block["name"], "input": {}}
                if "msg-tool-start-no-input" in q:
                    del start["input"]
                await send("content_block_start", index=i, content_block=start)
                raw = json.dumps(block["input"])
                if "msg-stream-empty-tool-input" in q:
                    raw = ""
                for k in range(0, len(raw), 3):
                    delta = {"type": "input_json_delta", "partial_json": raw[k : k + 3]}
                    await send("content_block_delta", index=i, delta=delta)
            await send("content_block_stop", index=i)
        delta = {"stop_reason": stop, "stop_sequence": None}
        await send("message_delta", delta=delta, usage={"output_tokens": ntok})
        await send("message_stop")
        writer.write(b"0\r\n\r\n")
        await writer.drain()

    # -- /v1/responses: the Responses API over the same toy model ------------------------------
    #: Responses kept for previous_response_id (the oldest is dropped first).
    RESPONSES_KEPT = 64

    def _kept(self) -> OrderedDict[str, list[dict[str, Any]]]:
        kept: OrderedDict[str, list[dict[str, Any]]] = self.__dict__.setdefault(
            "_responses_kept", OrderedDict()
        )
        return kept

    async def _responses(self, body: bytes, writer: asyncio.StreamWriter) -> None:
        if "no-responses-api" in self.quirks:
            await self._send_json(writer, 404, {"error": {"message": "not found", "type": "x"}})
            return
        try:
            req, chat = self._responses_request(body)
        except BadRequest as exc:
            err = {"message": exc.message, "type": exc.type, "param": None, "code": None}
            await self._send_json(writer, exc.status, {"error": err})
            return
        plan = self._responses_plan(chat)
        obj, history, keep = self._response_object(req, chat, plan)
        if keep:
            kept = self._kept()
            kept[obj["id"]] = history
            while len(kept) > self.RESPONSES_KEPT:
                kept.popitem(last=False)
        if "responses-chat-shape" in self.quirks:
            await self._send_json(writer, 200, self._completion(chat, plan))
        elif req.get("stream"):
            await self._responses_stream(obj, writer)
        else:
            await self._send_json(writer, 200, obj)

    def _responses_request(self, body: bytes) -> tuple[dict[str, Any], dict[str, Any]]:
        """Validate a Responses request; return it and the chat-completions request it means."""
        q = self.quirks
        try:
            req = json.loads(body)
        except ValueError as exc:
            raise BadRequest(400, f"invalid JSON: {exc}") from None
        if not isinstance(req, dict):
            raise BadRequest(400, "body must be an object")
        model = req.get("model")
        if model not in self.models and "ignore-model" not in q:
            raise BadRequest(404, f"The model `{model}` does not exist", "not_found_error")
        messages: list[dict[str, Any]] = []
        if isinstance(req.get("instructions"), str):
            messages.append({"role": "system", "content": req["instructions"]})
        prev = req.get("previous_response_id")
        if prev is not None:
            if "responses-stateless" in q:
                raise BadRequest(400, "this server does not support 'previous_response_id'")
            if "responses-ignore-previous" not in q:
                stored = None if "responses-store-ignored" in q else self._kept().get(str(prev))
                if stored is None:
                    raise BadRequest(404, f"no stored response with id {prev!r}", "not_found")
                messages.extend(stored)
        raw = req.get("input")
        if isinstance(raw, str):
            messages.append({"role": "user", "content": raw})
        elif isinstance(raw, list) and raw:
            for item in raw:
                self._responses_item(item, messages)
        else:
            raise BadRequest(400, "'input' must be a string or a non-empty array of items")
        tools = []
        for tool in req.get("tools") or []:
            if "responses-tools-rejected" in q:
                raise BadRequest(400, "tool use is not supported on /v1/responses for this model")
            if not isinstance(tool, dict) or tool.get("type") != "function":
                raise BadRequest(400, "only function tools are supported")
            fn = {k: tool[k] for k in ("name", "description", "parameters") if k in tool}
            tools.append({"type": "function", "function": fn})
        choice = req.get("tool_choice", "auto")
        if isinstance(choice, dict):
            choice = {"type": "function", "function": {"name": choice.get("name")}}
        words = sum(len(_text_of(m.get("content")).split()) for m in messages)
        if words > self.n_ctx:
            raise BadRequest(400, f"the request exceeds the context size ({self.n_ctx} tokens)")
        chat: dict[str, Any] = {"model": model, "messages": messages, "tool_choice": choice}
        if tools:
            chat["tools"] = tools
        if isinstance(req.get("max_output_tokens"), int):
            chat["max_tokens"] = req["max_output_tokens"]
        return req, chat

    def _responses_item(self, item: Any, messages: list[dict[str, Any]]) -> None:
        """Append one input item to ``messages`` as chat completions would carry it."""
        if not isinstance(item, dict):
            raise BadRequest(400, "an input item must be an object")
        kind = item.get("type", "message")
        if kind == "message" and item.get("role") in ("user", "system", "developer", "assistant"):
            content = item.get("content")
            if isinstance(content, list):
                parts = [p for p in content if isinstance(p, dict)]
                if len(parts) != len(content) or any(
                    p.get("type") not in ("input_text", "output_text")
                    or not isinstance(p.get("text"), str)
                    for p in parts
                ):
                    raise BadRequest(400, "content parts must be input_text or output_text")
                content = "".join(p["text"] for p in parts)
            if not isinstance(content, str):
                raise BadRequest(400, "a message item needs string or array content")
            messages.append({"role": item["role"], "content": content})
            return
        if kind == "function_call":
            fields = [item.get(k) for k in ("call_id", "name", "arguments")]
            if not all(isinstance(f, str) and f for f in fields):
                raise BadRequest(400, "a function_call item needs call_id, name and arguments")
            try:
                json.loads(item["arguments"])
            except ValueError:
                raise BadRequest(400, "function_call arguments are not valid JSON") from None
            call = {"id": item["call_id"], "type": "function",
                    "function": {"name": item["name"], "arguments": item["arguments"]}}  # fmt: skip
            last = messages[-1] if messages else {}
            if last.get("role") == "assistant" and not last.get("content"):
                last.setdefault("tool_calls", []).append(call)
            else:
                messages.append({"role": "assistant", "content": None, "tool_calls": [call]})
            return
        if kind == "function_call_output" and "responses-tool-output-rejected" not in self.quirks:
            if not isinstance(item.get("call_id"), str) or not isinstance(item.get("output"), str):
                raise BadRequest(400, "a function_call_output item needs call_id and output")
            messages.append(
                {"role": "tool", "tool_call_id": item["call_id"], "content": item["output"]}
            )
            return
        raise BadRequest(400, f"cannot determine the type of input item {kind!r}")

    def _responses_plan(self, chat: dict[str, Any]) -> dict[str, Any]:
        messages = chat["messages"]
        prompt = _text_of(messages[-1].get("content"))
        if messages[-1].get("role") == "user" and "What is the code word" in prompt:
            # the toy model remembers only what this request's conversation holds
            earlier = " ".join(_text_of(m.get("content")) for m in messages[:-1])
            m = re.search(r"code word (\w+)", earlier)
            return {"text": m.group(1) if m else "I do not know.", "calls": [], "reasoning": ""}
        return self._plan(chat)

    def _response_object(
        self, req: dict[str, Any], chat: dict[str, Any], plan: dict[str, Any]
    ) -> tuple[dict[str, Any], list[dict[str, Any]], bool]:
        """The response object, the conversation it ends, and whether to keep that for
        previous_response_id."""
        h = _stable(req)
        items: list[dict[str, Any]] = []
        status, ntok = "completed", 10
        if plan["calls"]:
            calls = []
            for k, (name, args) in enumerate(plan["calls"]):
                call_id = f"call_{_stable(h, k)[:24]}"
                item = {"type": "function_call", "id": f"fc_{_stable(h, 'fc', k)[:24]}",
                        "call_id": call_id, "name": name, "arguments": json.dumps(args),
                        "status": "completed"}  # fmt: skip
                if "responses-no-call-id" in self.quirks:
                    del item["call_id"]
                items.append(item)
                fn = {"name": name, "arguments": item["arguments"]}
                calls.append({"id": call_id, "type": "function", "function": fn})
            said: dict[str, Any] = {"role": "assistant", "content": None, "tool_calls": calls}
        else:
            text, finish, ntok = self._limit(chat, plan["text"])
            status = "incomplete" if finish == "length" else "completed"
            part = {"type": "output_text", "text": text, "annotations": []}
            items.append({"type": "message", "id": f"msg_{h[:24]}", "status": "completed",
                          "role": "assistant", "content": [part]})  # fmt: skip
            said = {"role": "assistant", "content": text}
        prompt_tokens = sum(len(_text_of(m.get("content")).split()) for m in chat["messages"])
        obj: dict[str, Any] = {
            "id": f"resp_{h[:24]}",
            "object": "response",
            "created_at": 1700000000,
            "status": status,
            "model": req["model"],
            "output": items,
            "incomplete_details": {"reason": "max_output_tokens"}
            if status != "completed"
            else None,
            "previous_response_id": req.get("previous_response_id"),
            "usage": {
                "input_tokens": prompt_tokens,
                "output_tokens": ntok,
                "total_tokens": prompt_tokens + ntok,
            },
        }
        said_stored = req.get("store") is not False and "responses-store-ignored" not in self.quirks
        if not self.quirks & {"responses-stateless", "responses-no-store-field"}:
            obj["store"] = said_stored
        keep = said_stored and not self.quirks & {"responses-stateless", "responses-store-lost"}
        history = [m for m in chat["messages"] if m.get("role") != "system"] + [said]
        return obj, history, keep

    async def _responses_stream(self, obj: dict[str, Any], writer: asyncio.StreamWriter) -> None:
        q = self.quirks
        writer.write(
            b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n"
            b"transfer-encoding: chunked\r\nconnection: close\r\n\r\n"
        )
        seq = 0

        async def send(kind: str, **data: Any) -> None:
            nonlocal seq
            payload = json.dumps({"type": kind, "sequence_number": seq, **data})
            seq += 1
            chunk = f"event: {kind}\ndata: {payload}\n\n".encode()
            writer.write(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
            await writer.drain()
            if self.delay:
                await asyncio.sleep(self.delay)

        head = {**obj, "status": "in_progress", "output": [], "usage": None}
        await send("response.created", response=head)
        await send("response.in_progress", response=head)
        for i, item in enumerate(obj["output"]):
            ref = {"item_id": item["id"], "output_index": i}
            if item["type"] == "message":
                text = item["content"][0]["text"]
                empty = {"type": "output_text", "text": "", "annotations": []}
                deltas = [{"content_index": 0, "delta": t} for t in self._tokens(text)]
                if "responses-delta-before-item" in q:
                    for d in deltas:
                        await send("response.output_text.delta", **ref, **d)
                    deltas = []
                await send("response.output_item.added", output_index=i,
                           item={**item, "status": "in_progress", "content": []})  # fmt: skip
                await send("response.content_part.added", **ref, content_index=0, part=empty)
                for d in deltas:
                    await send("response.output_text.delta", **ref, **d)
                await send("response.output_text.done", **ref, content_index=0, text=text)
                await send("response.content_part.done", **ref, content_index=0,
                           part=item["content"][0])  # fmt: skip
            else:
                raw = item["arguments"]
                pieces = [raw[k : k + 3] for k in range(0, len(raw), 3)]
                if "responses-args-mismatch" in q:
                    pieces.append(pieces[-1])
                await send("response.output_item.added", output_index=i,
                           item={**item, "status": "in_progress", "arguments": ""})  # fmt: skip
                for piece in pieces:
                    await send("response.function_call_arguments.delta", **ref, delta=piece)
                await send("response.function_call_arguments.done", **ref, arguments=raw)
            await send("response.output_item.done", output_index=i, item=item)
        await send("response.completed", response=obj)
        writer.write(b"0\r\n\r\n")
        await writer.drain()


_MAX_IMAGE = 1 << 20
#: The colours the toy model can name.
_PALETTE = {
    "red": (255, 0, 0), "green": (0, 255, 0), "blue": (0, 0, 255),
    "yellow": (255, 255, 0), "white": (255, 255, 255), "black": (0, 0, 0),
}  # fmt: skip


def _data_uri_bytes(url: str) -> bytes:
    if len(url) > _MAX_IMAGE * 4 // 3 + 64:
        raise BadRequest(400, "the image is too large")
    meta, sep, payload = url[5:].partition(",")
    if not sep or not meta.startswith("image/") or not meta.endswith(";base64"):
        raise BadRequest(400, "a data URI image must be data:image/...;base64,...")
    try:
        return base64.b64decode(payload, validate=True)
    except ValueError:
        raise BadRequest(400, "the data URI is not valid base64") from None


def _png_colour(data: bytes) -> str | None:
    """The palette colour nearest the first pixel of an 8-bit RGB(A) PNG, or None."""
    if not data.startswith(b"\x89PNG\r\n\x1a\n"):
        return None
    pos, header, idat = 8, b"", b""
    while pos + 8 <= len(data) and len(idat) <= _MAX_IMAGE:
        length = int.from_bytes(data[pos : pos + 4], "big")
        kind, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]
        pos += 12 + length
        if kind == b"IHDR":
            header = body
        elif kind == b"IDAT":
            idat += body
        elif kind == b"IEND":
            break
    if len(header) != 13 or header[8] != 8 or header[9] not in (2, 6) or not idat:
        return None
    try:
        # the filter byte and the first pixel are all the toy model looks at
        first = zlib.decompressobj().decompress(idat, 8)
    except zlib.error:
        return None
    if len(first) < 4 or first[0] not in (0, 1, 2):  # these leave row 0's first pixel raw
        return None
    rgb = first[1:4]
    return min(
        _PALETTE, key=lambda n: sum((a - b) ** 2 for a, b in zip(_PALETTE[n], rgb, strict=True))
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m conformance.testing.fakeserver")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8099)
    parser.add_argument("--quirk", action="append", default=[], choices=sorted(QUIRKS))
    parser.add_argument("--model", action="append", default=None)
    parser.add_argument("--delay", type=float, default=0.01)
    parser.add_argument("--no-vision", action="store_true", help="a text-only model")
    parser.add_argument("--api-key", default=None, help="require this Bearer key on /v1")
    args = parser.parse_args(argv)
    srv = FakeServer(
        args.quirk, delay=args.delay, models=args.model or (MODEL,), vision=not args.no_vision,
        host=args.host, port=args.port, api_key=args.api_key,
    )  # fmt: skip
    print(f"BASE_URL={srv.base_url} MODEL={srv.models[0]}", flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        srv.serve_forever()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
