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
import time
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
}
MODEL = "ref-model"
CITIES = ("Paris", "London", "São Paulo", "Tokyo")
STORY = (
    "Once upon a time a lighthouse keeper watched the sea every night and wrote down each "
    "ship that passed the rocks below his tower while the storms came and went"
)


def _stable(*parts: Any) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()


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
        total_slots: int | None = None,
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
            # each request's arrival and end (monotonic s) and its first body bytes
            entry: dict[str, Any] = {
                "method": method,
                "path": path,
                "headers": headers,
                "body": body[:4096],
            }
            entry["t0"] = time.monotonic()
            self.requests.append(entry)
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
            try:
                if "slow-headers" in self.quirks:
                    await asyncio.sleep(1.5)
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
        if method == "GET" and path == "/props" and self.total_slots is not None:
            await self._send_json(writer, 200, {"total_slots": self.total_slots})
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
        for m in messages:
            if not isinstance(m, dict) or m.get("role") not in (
                "system", "user", "assistant", "tool", "developer"
            ):  # fmt: skip
                raise BadRequest(400, "invalid message role")
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
            if wants:
                name = named or ("get_time" if "get_time" in tools and "time" in prompt.lower()
                                 else tools[0])  # fmt: skip
                if name == "get_time":
                    plan["calls"] = [("get_time", {})]
                else:
                    cities = [c for c in CITIES if c in prompt] or ["Paris"]
                    if req.get("parallel_tool_calls") is False:
                        cities = cities[:1]
                    plan["calls"] = [(name, {"city": c}) for c in cities]
                return plan
        plan["text"] = self._answer(prompt, messages)
        if "reason" in str(req.get("model")) and "times" in prompt:
            plan["reasoning"] = "17 * 23 = 340 + 51 = 391."
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
            completion_tokens += ntok
            choices.append({"index": i, "message": message, "finish_reason": finish})
        prompt_tokens = sum(len(_text_of(m.get("content")).split()) for m in req["messages"])
        return {
            "id": cid,
            "object": "chat.completion",
            "created": 1700000000,
            "model": req["model"],
            "choices": choices,
            "usage": {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": completion_tokens,
                "total_tokens": prompt_tokens + completion_tokens,
            },
        }

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
            text, finish, completion_tokens = self._limit(req, text)
            for piece in self._tokens(text):
                await send(chunk({"content": piece}))
        await send(chunk({}, finish))
        opts = req.get("stream_options") or {}
        if opts.get("include_usage") and "no-usage" not in q:
            prompt_tokens = sum(len(_text_of(m.get("content")).split()) for m in req["messages"])
            usage = {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": completion_tokens,
                "total_tokens": prompt_tokens + completion_tokens,
            }
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
