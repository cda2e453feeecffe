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
import contextlib
import hashlib
import json
import re
import threading
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


class BadRequest(Exception):
    def __init__(self, status: int, message: str, type_: str = "invalid_request_error") -> None:
        super().__init__(message)
        self.status, self.message, self.type = status, message, type_


class FakeServer:
    """Run with ``with FakeServer(...) as srv: srv.base_url``."""

    def __init__(
        self,
        quirks: Iterable[str] = (),
        *,
        delay: float = 0.002,
        models: Iterable[str] = (MODEL,),
        n_ctx: int = 512,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.quirks = frozenset(quirks)
        unknown = self.quirks - set(QUIRKS)
        if unknown:
            raise ValueError(f"unknown quirks {sorted(unknown)}")
        self.delay = delay
        self.models = tuple(models)
        self.n_ctx = n_ctx
        self.host, self.port = host, port
        self.requests: list[dict[str, Any]] = []
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
            self.requests.append({"method": method, "path": path, "headers": headers})
            if "slow-headers" in self.quirks:
                await asyncio.sleep(1.5)
            await self._route(method, path, body, writer)
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            with contextlib.suppress(Exception):
                writer.close()
                await writer.wait_closed()

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
                    "meta": {"n_ctx": self.n_ctx},
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
        if method == "GET" and path == "/version":
            await self._send_json(writer, 200, {"version": "fake-1"})
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
        except BadRequest as exc:
            err = {"message": exc.message, "type": exc.type, "param": None, "code": None}
            await self._send_json(writer, exc.status, {"error": err})
            return
        if req.get("stream"):
            await self._stream(req, plan, writer)
        else:
            await self._send_json(writer, 200, self._completion(req, plan))

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
        words = sum(len(_text_of(m.get("content")).split()) for m in messages)
        if words > self.n_ctx:
            raise BadRequest(400, f"the request exceeds the context size ({self.n_ctx} tokens)")
        for m in messages:
            if not isinstance(m, dict) or m.get("role") not in (
                "system", "user", "assistant", "tool", "developer"
            ):  # fmt: skip
                raise BadRequest(400, "invalid message role")
            if (
                "reasoning-tool-turn-422" in self.quirks
                and m.get("tool_calls")
                and any(k in m for k in ("reasoning_content", "reasoning"))
            ):
                raise BadRequest(422, "messages: extra inputs are not permitted (reasoning)")
            for call in m.get("tool_calls") or []:
                args = (call.get("function") or {}).get("arguments")
                try:
                    json.loads(str(args))
                except ValueError:
                    status = 500 if "500-bad-args" in self.quirks else 400
                    raise BadRequest(status, "tool call arguments are not valid JSON") from None
        return req

    def _plan(self, req: dict[str, Any]) -> dict[str, Any]:
        """Decide the answer: ``{"text": str, "calls": [(name, args)], "reasoning": str}``."""
        messages = req["messages"]
        last = messages[-1]
        prompt = _text_of(last.get("content"))
        tools = [t.get("function", {}).get("name") for t in req.get("tools") or []]
        choice = req.get("tool_choice", "auto")
        plan: dict[str, Any] = {"text": "", "calls": [], "reasoning": ""}
        if last.get("role") == "tool":
            plan["text"] = "The weather in Paris is 21 degrees and sunny."
            return plan
        if tools and choice != "none":
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
        plan["text"] = self._answer(prompt, messages)
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
            choices.append({"index": i, "message": message, "finish_reason": finish})
        prompt_tokens = sum(len(_text_of(m.get("content")).split()) for m in req["messages"])
        return {
            "id": cid,
            "object": "chat.completion",
            "created": 1700000000,
            "model": req["model"],
            "choices": choices,
            "usage": self._usage(plan, prompt_tokens, completion_tokens),
        }

    def _usage(self, plan: dict[str, Any], prompt_tokens: int, completion: int) -> dict[str, Any]:
        usage: dict[str, Any] = {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion,
            "total_tokens": prompt_tokens + completion,
        }
        if plan["reasoning"] and "no-reasoning-tokens" not in self.quirks:
            thought = len(self._tokens(plan["reasoning"]))
            usage["completion_tokens_details"] = {"reasoning_tokens": thought}
        return usage

    async def _stream(
        self, req: dict[str, Any], plan: dict[str, Any], writer: asyncio.StreamWriter
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
                await send(chunk({"content": piece}))
        await send(chunk({}, finish))
        opts = req.get("stream_options") or {}
        if opts.get("include_usage") and "no-usage" not in q:
            prompt_tokens = sum(len(_text_of(m.get("content")).split()) for m in req["messages"])
            usage = self._usage(plan, prompt_tokens, completion_tokens)
            await send({**chunk({}), "choices": [], "usage": usage})
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m conformance.testing.fakeserver")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8099)
    parser.add_argument("--quirk", action="append", default=[], choices=sorted(QUIRKS))
    parser.add_argument("--model", action="append", default=None)
    parser.add_argument("--delay", type=float, default=0.01)
    args = parser.parse_args(argv)
    srv = FakeServer(
        args.quirk, delay=args.delay, models=args.model or (MODEL,), host=args.host, port=args.port
    )
    print(f"BASE_URL={srv.base_url} MODEL={srv.models[0]}", flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        srv.serve_forever()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
