"""Attacks on the suite-0.2 structured, security, context, cache, vision and params checks
(attacker-fixer, session 6): a hostile server on 127.0.0.1 answers them with values of the
wrong type or size, echoes a file or a key, or holds the image port. Each outcome must be a
verdict naming what is wrong (never a harness error, never a hang), and no file content or
key may reach a result."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sse_server import CHAT, Reply, Request, SSEServer, completion, error_body, sse

from conformance.catalogue import checks as registry
from conformance.catalogue.profiles import PROFILES
from conformance.checks import vision
from conformance.harness.context import Target
from conformance.harness.recording import Manifest
from conformance.harness.runner import Column, run_item
from conformance.results import CheckResult
from conformance.vocabulary import Layer

Behaviour = Callable[[Request], Reply]
#: What the hostile server answers now (each test sets it).
BEHAVIOUR: dict[str, Behaviour] = {}
PATHS = (CHAT, "/props", "/tokenize")


def _answer(request: Request) -> Reply:
    return BEHAVIOUR["now"](request)


@pytest.fixture(scope="module")
def server() -> Iterator[SSEServer]:
    srv = SSEServer().start()
    for path in PATHS:
        srv.script.add(_answer, path=path, times=None)
    try:
        yield srv
    finally:
        srv.stop()


def _judge(
    url: str,
    check: str,
    layer: Layer = "wire",
    *,
    meta: dict[str, Any] | None = None,
    key: str | None = None,
) -> CheckResult:
    target = Target(provider="generic", profile=PROFILES["generic"], base_url=url,
                    model="ref-model", mode="live", api_key=key, request_timeout=5.0,
                    model_meta=meta or {})  # fmt: skip
    manifest = Manifest(provider="generic", model="ref-model", base_url=url)
    column = Column(target=target, cassette_dir=Path("unused"), manifest=manifest)
    return run_item(registry.get(check), layer, column)


def _shown(result: CheckResult) -> str:
    """Everything a result keeps: message and evidence."""
    return json.dumps(result.to_dict(), ensure_ascii=False)


def _usage(**usage: Any) -> Behaviour:
    def reply(request: Request) -> Reply:
        body = completion("OK", usage=(310, 1))
        body["usage"].update(usage)
        return Reply(body=body)

    return reply


# ---- context: the window the server advertises -------------------------------------------------

CONTEXT = [("context.overflow-stream", "wire"), ("context.overflow-stream", "sdk"),
           ("context.max-tokens-past-window", "wire"), ("context.no-silent-truncation", "wire"),
           ("context.no-silent-truncation", "sdk")]  # fmt: skip


def test_an_absurd_window_is_never_filled_with_a_prompt(server: SSEServer) -> None:
    # a /v1/models entry claiming a trillion tokens made each context check build a prompt of
    # 1.25 trillion words (memory exhausted, or a hang)
    BEHAVIOUR["now"] = lambda r: Reply(body=completion("OK"))
    before = len(server.requests)
    for check, layer in CONTEXT:
        res = _judge(server.url, check, layer, meta={"max_model_len": 10**12})
        assert res.outcome == "n/a", (check, layer, res.message)
        assert "1000000000000 tokens: more than the 1048576" in res.message
    assert all(len(r.body) < 100_000 for r in server.requests[before:])


def test_a_window_that_is_no_count_fails_naming_it(server: SSEServer) -> None:
    # ``true`` is an int to Python: it was taken as a window of one token, and a one-word
    # prompt "over" it judged the server to truncate silently
    BEHAVIOUR["now"] = lambda r: Reply(body=completion("OK"))
    res = _judge(server.url, "context.overflow-stream", meta={"max_model_len": True})
    assert res.outcome == "fail", res.message
    assert "a context window of True: not a token count" in res.message


# ---- cache: cached tokens ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("details", "words"),
    [
        ({"cached_tokens": "300"}, "cached_tokens is '300' (str): not a token count"),
        ({"cached_tokens": 300.5}, "cached_tokens is '300.5' (float): not a token count"),
        ({"cached_tokens": True}, "cached_tokens is 'True' (bool): not a token count"),
        ({"cached_tokens": -300}, "cached_tokens is '-300' (int): not a token count"),
        ({"cached_tokens": 10**15}, "1000000000000000 cached tokens (usage.prompt_tokens_"
                                    "details.cached_tokens) for a prompt of 310 tokens"),
    ],
)  # fmt: skip
def test_cached_tokens_that_are_no_count_fail(
    server: SSEServer, details: dict[str, Any], words: str
) -> None:
    # before: a string or a float read as "no cached tokens"; a count larger than the whole
    # prompt passed as a reused prefix
    BEHAVIOUR["now"] = _usage(prompt_tokens_details=details)
    res = _judge(server.url, "cache.prefix-reported")
    assert res.outcome == "fail", res.message
    assert words in res.message


# ---- security: usage counts of the control-string checks ---------------------------------------


@pytest.mark.parametrize(
    ("prompt_tokens", "words"),
    [
        (-5, "usage.prompt_tokens is '-5' (int), not a token count"),
        ("12", "usage.prompt_tokens is '12' (str), not a token count"),
        (12.0, "usage.prompt_tokens is '12.0' (float), not a token count"),
    ],
)
def test_prompt_tokens_that_are_no_count_fail_the_control_string_checks(
    server: SSEServer, prompt_tokens: Any, words: str
) -> None:
    # before: -5 both times was a cost of 0, "parsed as control tokens"; a string made the
    # tool check n/a ("no usage")
    BEHAVIOUR["now"] = _usage(prompt_tokens=prompt_tokens)
    for check in ("security.special-tokens-user", "security.special-tokens-tool"):
        res = _judge(server.url, check)
        assert res.outcome == "fail", (check, res.message)
        assert words in res.message
        assert "without control strings" in res.message


def test_a_count_that_falls_when_text_is_added_fails(server: SSEServer) -> None:
    def reply(request: Request) -> Reply:
        text = json.dumps(request.json["messages"])
        return _usage(prompt_tokens=5 if "<" in text else 50)(request)

    BEHAVIOUR["now"] = reply
    res = _judge(server.url, "security.special-tokens-user")
    assert res.outcome == "fail", res.message
    assert "usage.prompt_tokens 5 is below the 50 of the same prompt" in res.message


# ---- security: the key a 401 echoes ------------------------------------------------------------

REAL_KEY = "sk-s6b-real-key-never-sent-0123456789"


def test_a_401_echoing_the_key_keeps_the_real_key_out_of_every_result(
    server: SSEServer,
) -> None:
    def reply(request: Request) -> Reply:
        said = request.headers.get("authorization", "")
        return Reply(401, body=error_body(f"bad key {said!r} ({base64.b64encode(said.encode())!r})",
                                          type="authentication_error"))  # fmt: skip

    BEHAVIOUR["now"] = reply
    before = len(server.requests)
    for layer in ("wire", "sdk"):
        res = _judge(server.url, "security.auth-rejected", layer, key=REAL_KEY)  # type: ignore[arg-type]
        assert res.outcome in ("pass", "fail"), res.message
        assert REAL_KEY not in _shown(res)
    # the check sends no key and a wrong one, never the column's
    sent = [r.headers.get("authorization", "") for r in server.requests[before:]]
    assert sent
    assert not any(REAL_KEY in s for s in sent)


# ---- vision: the file a server echoes ----------------------------------------------------------

LINES = "root:x:0:0:root:/root:/bin/bash\ndaemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\n"
DAEMON = "daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin"
B64 = base64.b64encode(LINES.encode()).decode()


def _escaped(text: str) -> str:
    return "".join(f"\\u{ord(c):04x}" for c in text)


def _split_stream(request: Request) -> Reply:
    pieces = ["It says ro", "ot:x:0:", "0:root:/root:/bin/bash"]
    items: list[dict[str, Any] | bytes | str] = [
        {"choices": [{"index": 0, "delta": {"content": p}}]} for p in pieces
    ]
    return Reply(headers={"content-type": "text/event-stream"}, chunks=[sse(*items)])


ECHOES: dict[str, Behaviour] = {
    "plain 400": lambda r: Reply(400, body=error_body(f"cannot decode image: {LINES}")),
    "only a daemon line": lambda r: Reply(400, body=error_body(f"bad image {DAEMON}")),
    "json-escaped": lambda r: Reply(400, body=(
        '{"error": {"message": "bad image ' + _escaped(LINES[:40]) + '", "type": "x"}}'
    ).encode()),
    "base64 in the error": lambda r: Reply(400, body=error_body(f"not an image: {B64}")),
    "base64 shifted": lambda r: Reply(400, body=error_body(f"bytes=x{B64[4:]}")),
    "hex in the error": lambda r: Reply(400, body=error_body(f"0x{LINES.encode().hex()}")),
    "split across SSE": _split_stream,
    "a 200 that reads it": lambda r: Reply(body=completion(f"The file says: {LINES}")),
}  # fmt: skip


def test_the_file_never_reaches_a_result_whatever_its_shape(server: SSEServer) -> None:
    # before: only root's line in plain text was found; the raw body (any shape) was kept as
    # evidence, so a base64, escaped or split echo of the file went into results
    for name, behaviour in ECHOES.items():
        BEHAVIOUR["now"] = behaviour
        res = _judge(server.url, "vision.file-url-refused")
        assert res.outcome == "fail", (name, res.message)
        assert "shows the content of file:///etc/passwd" in res.message, name
        shown = _shown(res)
        for leak in ("root:x:0", "daemon:x:1", B64[:16], LINES.encode().hex()[:16], "/bin/bash",
                     _escaped("root")):  # fmt: skip
            assert leak not in shown, (name, leak)


def test_a_plain_refusal_still_passes_with_its_message(server: SSEServer) -> None:
    BEHAVIOUR["now"] = lambda r: Reply(400, body=error_body("file:// URLs are not allowed"))
    res = _judge(server.url, "vision.file-url-refused")
    assert res.outcome == "pass", res.message
    assert "file:// URLs are not allowed" in (res.evidence.response_excerpt or "")


def test_the_file_search_is_linear_on_a_hostile_body() -> None:
    from conformance.harness.http import RawResponse

    body = ("a" * 300_000 + ":" + "1:" * 100_000).encode()
    t0 = time.perf_counter()
    assert not vision.shows_file(RawResponse("POST", CHAT, None, 400, body=body))
    vision._shown(body.decode())
    # deep keys over many leaves: the groups must not copy a path per leaf
    deep = ('{"' + "k" * 1000 + '":') * 300 + "[" + '"a",' * 100_000 + '"a"]' + "}" * 300
    assert not vision.shows_file(RawResponse("POST", CHAT, None, 400, body=deep.encode()))
    assert time.perf_counter() - t0 < 3.0


# ---- vision: the image port --------------------------------------------------------------------


def _bind_image_port(sock: socket.socket) -> None:
    """Bind ``sock`` to the image port. The port is fixed (recordings name it), and a replay
    in another process or xdist worker may hold it for the length of a vision check, so wait
    for it a while."""
    deadline = time.monotonic() + 60
    while True:
        try:
            sock.bind(("127.0.0.1", vision.IMAGE_PORT))
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


class PortHolder:
    """A hostile process on the image port: a blue PNG at every path."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        _bind_image_port(self.sock)
        self.sock.listen(8)
        self.sock.settimeout(0.2)
        self.stop = False
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        png = vision.solid_png((20, 40, 220))
        while not self.stop:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            with conn:
                conn.recv(4096)
                conn.sendall(b"HTTP/1.1 200 OK\r\ncontent-type: image/png\r\ncontent-length: "
                             + str(len(png)).encode() + b"\r\n\r\n" + png)  # fmt: skip

    def close(self) -> None:
        self.stop = True
        self.thread.join(2)
        self.sock.close()


def test_a_held_image_port_is_never_judged_as_the_servers_fault(
    server: SSEServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    # before: vision.url-unreachable went on without its image server and failed the model
    # server for fetching what the port's holder served at the "missing" URL
    monkeypatch.setattr(vision, "_BIND_WAIT_S", 0.3)
    BEHAVIOUR["now"] = lambda r: Reply(body=completion("blue"))
    holder = PortHolder()
    try:
        unreachable = _judge(server.url, "vision.url-unreachable")
        by_url = _judge(server.url, "vision.image-url")
    finally:
        holder.close()
    assert unreachable.outcome == "error", unreachable.message
    assert "another process holds port 127.0.0.1:8089" in unreachable.message
    assert by_url.outcome == "error", by_url.message
    assert "8089 is taken" in by_url.message


def _rebind() -> None:
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        _bind_image_port(s)


def _talk(payload: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", vision.IMAGE_PORT), timeout=3) as s:
        s.sendall(payload)
        out = b""
        while chunk := s.recv(4096):
            out += chunk
    return out


def test_the_image_server_serves_one_png_and_ends_even_when_cancelled() -> None:
    async def go() -> dict[str, bytes]:
        got: dict[str, bytes] = {}
        async with vision.serve_image():
            held = socket.create_connection(("127.0.0.1", vision.IMAGE_PORT))  # slowloris
            held.sendall(b"GET /conformance/vision-red.png HTTP/1.1\r\n")
            for name, payload in {
                "traversal": b"GET /conformance/../conformance/vision-red.png HTTP/1.0\r\n\r\n",
                "absolute": b"GET http://127.0.0.1:8089/conformance/vision-red.png HTTP/1.0"
                            b"\r\n\r\n",
                "huge": b"GET /" + b"a" * 100_000 + b" HTTP/1.0\r\n\r\n",
                "post": b"POST /conformance/vision-red.png HTTP/1.0\r\n\r\n",
            }.items():  # fmt: skip
                got[name] = await asyncio.to_thread(_talk, payload)
        held.close()
        return got

    got = asyncio.run(go())
    assert all(not v or v.startswith(b"HTTP/1.1 404") for v in got.values()), got
    _rebind()  # the port is free again

    async def cancelled() -> None:
        async def inside() -> None:
            async with vision.serve_image():
                await asyncio.sleep(30)

        task = asyncio.create_task(inside())
        await asyncio.sleep(0.2)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    t0 = time.perf_counter()
    asyncio.run(cancelled())
    assert time.perf_counter() - t0 < 7
    _rebind()


def test_a_recording_keeps_no_file_and_replays_the_same_verdict(
    server: SSEServer, tmp_path: Path
) -> None:
    # before: the cassette kept the server's answer as it came, the file in it
    outcomes = {}
    for name in ("plain 400", "base64 in the error", "split across SSE"):
        BEHAVIOUR["now"] = ECHOES[name]
        for mode in ("record", "replay"):
            url = server.url if mode == "record" else "http://127.0.0.1:9/v1"
            target = Target(provider="generic", profile=PROFILES["generic"], base_url=url,
                            model="ref-model", mode=mode, request_timeout=5.0)  # type: ignore[arg-type]  # fmt: skip
            manifest = Manifest(provider="generic", model="ref-model", base_url=url)
            column = Column(target=target, cassette_dir=tmp_path / name, manifest=manifest)
            res = run_item(registry.get("vision.file-url-refused"), "wire", column)
            outcomes[(name, mode)] = (res.outcome, res.message)
        cassette = next((tmp_path / name).rglob("vision.file-url-refused.yaml")).read_text()
        assert "bytes withheld: they show lines of a passwd file" in cassette, name
        for leak in ("root:x:0", "ot:x:0:", B64[:16], "/bin/bash"):
            assert leak not in cassette, (name, leak)
        assert outcomes[(name, "record")] == outcomes[(name, "replay")], name
        assert outcomes[(name, "replay")][0] == "fail"


def test_a_flood_of_idle_connections_is_cut_and_the_png_still_served(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # before: every idle connection was kept for its 5 s, each an open descriptor of ours
    monkeypatch.setattr(vision, "_HEAD_WAIT_S", 1.0)

    async def go() -> tuple[int, bytes]:
        async with vision.serve_image():
            idle = [socket.create_connection(("127.0.0.1", vision.IMAGE_PORT))
                    for _ in range(vision._MAX_CLIENTS + 40)]  # fmt: skip
            await asyncio.sleep(0.3)
            cut = 0
            for s in idle:
                s.settimeout(0.05)
                with contextlib.suppress(TimeoutError, OSError):
                    cut += s.recv(1) == b""
            await asyncio.sleep(1.2)  # the idle ones time out
            png = await asyncio.to_thread(
                _talk, f"GET {vision.IMAGE_PATH} HTTP/1.0\r\n\r\n".encode()
            )
            for s in idle:
                s.close()
            return cut, png

    cut, png = asyncio.run(go())
    assert cut >= 40
    assert png.endswith(vision.solid_png((220, 20, 20)))


def test_an_absurd_advertised_window_is_no_window(server: SSEServer) -> None:
    # before: a /v1/models entry naming 10**15 tokens passed as the window advertised
    BEHAVIOUR["now"] = lambda r: Reply(404, body=error_body("no such endpoint"))
    entry = {"id": "ref-model", "object": "model", "context_length": 10**15}
    server.script.json({"object": "list", "data": [entry]}, path="/v1/models", method="GET")
    res = _judge(server.url, "context.window-advertised")
    assert res.outcome == "fail", res.message
    assert "no context window in the /v1/models entry" in res.message


# ---- params: logprobs, logit_bias, prefill -------------------------------------------------------


def _logprobs(content: Any) -> Behaviour:
    def reply(request: Request) -> Reply:
        if request.json.get("stream"):
            chunks = [{"choices": [{"index": 0, "delta": {"content": "1"}, "logprobs": {
                "content": content}}]}, {"choices": [{"index": 0, "delta": {},
                                                      "finish_reason": "stop"}]}]  # fmt: skip
            return Reply(headers={"content-type": "text/event-stream"}, chunks=[sse(*chunks)])
        body = completion("1")
        body["choices"][0]["logprobs"] = {"content": content}
        return Reply(body=body)

    return reply


@pytest.mark.parametrize(
    ("content", "words"),
    [
        ("1 2 3", "logprobs.content is str, not an array"),
        ([[1]], "logprobs.content[0] has no string token"),
        ([{"token": 1, "logprob": -0.1, "top_logprobs": []}], "has no string token"),
        ([{"token": "1", "logprob": "-0.1", "top_logprobs": []}], "logprob is '-0.1'"),
        ([{"token": "1", "logprob": True, "top_logprobs": []}], "logprob is True"),
        ([{"token": "1", "logprob": 3.0, "top_logprobs": []}], "not a number <= 0"),
        ([{"token": "1", "logprob": -0.1, "top_logprobs": {"a": 1}}], "top_logprobs is not a"),
    ],
)
def test_logprobs_of_the_wrong_shape_fail_naming_it(
    server: SSEServer, content: Any, words: str
) -> None:
    BEHAVIOUR["now"] = _logprobs(content)
    for check in ("params.logprobs", "params.logprobs-stream"):
        res = _judge(server.url, check)
        if check == "params.logprobs-stream" and not isinstance(content, list):
            assert res.outcome == "fail", res.message  # no chunk carries a list there
            continue
        assert res.outcome == "fail", (check, res.message)
        assert words in res.message, check


@pytest.mark.parametrize(
    "tokenized",
    [[1, 2], {"tokens": "12"}, {"tokens": [True]}, {"tokens": []}, {"tokens": [1.5]}, "x"],
)
def test_token_ids_that_are_no_ids_make_logit_bias_na(server: SSEServer, tokenized: Any) -> None:
    BEHAVIOUR["now"] = lambda r: Reply(body=tokenized if r.path == "/tokenize" else completion("1"))
    res = _judge(server.url, "params.logit-bias")
    assert res.outcome == "n/a", res.message
    assert "no token ids to bias" in res.message


@pytest.mark.parametrize("body", [[1], {"choices": "x"}, {"choices": [{"message": "5"}]}, "5"])
def test_a_prefill_answer_of_the_wrong_shape_fails(server: SSEServer, body: Any) -> None:
    BEHAVIOUR["now"] = lambda r: Reply(body=body)
    res = _judge(server.url, "params.assistant-prefill")
    assert res.outcome == "fail", res.message
    assert "does not continue" in res.message


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("root:x:0:0:ro", True),
        ("nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin", True),
        ("bin:*:2:2::/bin:", True),
        ("at time:12:30:45: the server started", False),
        ("listening on fe80:0:0:0:1:2:3:4", False),
        ("see https://example.invalid:8080/a", False),
    ],
)
def test_what_counts_as_a_line_of_the_file(text: str, shown: bool) -> None:
    from conformance.harness.recording import shows_passwd

    # the recorder withholds every body that shows one: a time or an address must not count
    assert shows_passwd(json.dumps({"error": {"message": text}}).encode()) is shown


def test_a_huge_body_is_searched_in_part_and_never_kept(server: SSEServer) -> None:
    # before this fix's first version: any body over the searched size counted as the file,
    # so the recorder would have withheld a large legitimate answer of any check
    from conformance.harness.recording import FILE_SEARCHED, shows_passwd

    big = ("x " * FILE_SEARCHED).encode()
    assert not shows_passwd(big)
    BEHAVIOUR["now"] = lambda r: Reply(400, body=error_body("no files. " + "x" * FILE_SEARCHED))
    res = _judge(server.url, "vision.file-url-refused")
    assert res.outcome == "pass", res.message
    assert "bytes not kept: too many to search" in (res.evidence.response_excerpt or "")


@pytest.mark.parametrize(
    "chunk",
    [{"choices": "abc"}, {"choices": 5}, {"choices": [{"delta": "x"}]}, {"choices": [7]}],
)
def test_a_stream_of_the_wrong_shape_has_no_first_token(
    server: SSEServer, chunk: dict[str, Any]
) -> None:
    # before: cache.time-to-first-token (and the timeout checks) read every choice as a dict:
    # "harness error: AttributeError"
    def reply(request: Request) -> Reply:
        return Reply(headers={"content-type": "text/event-stream"}, chunks=[sse(chunk)])

    BEHAVIOUR["now"] = reply
    res = _judge(server.url, "cache.time-to-first-token")
    assert res.outcome == "fail", res.message
    assert "the cold stream has no content event" in res.message


def test_a_constant_usage_below_the_prompt_is_not_taken_for_parsed_tokens(
    server: SSEServer,
) -> None:
    # before: prompt_tokens 3 for every request was a cost of 0 per control string, "parsed as
    # control tokens": a verdict about the tokenizer from a count of nothing
    BEHAVIOUR["now"] = _usage(prompt_tokens=3)
    for check in ("security.special-tokens-user", "security.special-tokens-tool"):
        res = _judge(server.url, check)
        assert res.outcome == "fail", (check, res.message)
        assert "usage.prompt_tokens 3 is below the" in res.message
        assert "parsed" not in res.message


def test_a_negative_prompt_count_is_no_truncation_but_no_count(server: SSEServer) -> None:
    # before: prompt_tokens=-5 read as "the server dropped part of it silently"
    BEHAVIOUR["now"] = _usage(prompt_tokens=-5)
    res = _judge(server.url, "context.no-silent-truncation", meta={"max_model_len": 64})
    assert res.outcome == "fail", res.message
    assert "usage.prompt_tokens=-5: not a token count" in res.message
