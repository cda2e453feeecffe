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
}
MODEL = "ref-model"
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
            self.requests.append({"method": method, "path": path, "headers": headers, "body": body})
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
