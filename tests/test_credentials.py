"""Credentials stay secret (SDK side, on the scripted server): base_url credentials, an echoed
key in every encoding, and loopback requests that never go through an environment proxy."""

from __future__ import annotations

import base64
import json
import logging
import socket
import threading
import traceback
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote, quote_plus

import pytest
from sse_server import Reply, SSEServer, text_stream

from any_agent import AgentOptions, AnyAgentError, Client, ConfigurationError

# printable ASCII with the characters each encoding changes: / + = " \
KEY = 'sk-test/0123+4567="89\\abcdefghij'
URL_SECRET = "qs-secret-9876543210"


def opts(url: str, **kw: Any) -> AgentOptions:
    base: dict[str, Any] = {"model": "m", "base_url": url, "max_retries": 0}
    return AgentOptions(**(base | {"api_key": KEY, "first_token_timeout": 5} | kw))


async def ask(options: AgentOptions) -> list[Any]:
    async with Client(options) as client:
        await client.query("hi")
        return [m async for m in client.receive_response()]


def everything_said_about(error: BaseException) -> str:
    parts = [str(error), repr(error), *map(str, error.args)]
    parts.append("".join(traceback.format_exception(type(error), error, error.__traceback__)))
    parts += [str(v) for v in vars(error).values()]
    return "\n".join(parts)


def encodings(secret: str) -> dict[str, str]:
    raw = secret.encode()
    return {
        "raw": secret,
        "json": json.dumps(secret)[1:-1],
        "json-slash": json.dumps(secret)[1:-1].replace("/", "\\/"),
        "url": quote(secret, safe=""),
        "url-lower-hex": quote(secret, safe="").replace("%2F", "%2f").replace("%2B", "%2b"),
        "url-plus": quote_plus(secret),
        "base64": base64.b64encode(raw).decode(),
        "base64-url": base64.urlsafe_b64encode(raw).decode(),
        "basic-auth": base64.b64encode(b"user:" + raw).decode(),
        "base64-offset-2": base64.b64encode(b"ab" + raw).decode(),
    }


# -- the plain-http guard and base_url credentials ------------------------------------------


@pytest.mark.parametrize("scheme", ["HTTP", "Http", "hTTp"])
def test_the_scheme_is_normalised_once(scheme: str) -> None:
    options = opts(f"{scheme}://127.0.0.1:9/v1")
    assert options.base_url == "http://127.0.0.1:9/v1"


def test_user_and_password_in_base_url_are_refused_without_echoing_them() -> None:
    with pytest.raises(ConfigurationError) as info:
        opts("http://alice:hunter2-password@127.0.0.1:9/v1")
    said = f"{info.value}{info.value!r}{info.value.args}"  # (the traceback quotes this test)
    assert "api_key" in said
    assert "hunter2" not in said
    assert "alice" not in said


async def test_a_key_in_the_query_is_sent_but_never_shown(
    sse_server: SSEServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    sse_server.script.stream(text_stream("fine"))
    options = opts(f"{sse_server.url}?api-version=2&key={URL_SECRET}")
    assert URL_SECRET not in repr(options)
    assert "api-version=2" in repr(options)
    messages = await ask(options)
    assert messages[-1].result == "fine"
    request = sse_server.requests[0]
    # the openai client appends paths to base_url: the query must not land in the path
    assert request.path == "/v1/chat/completions"
    assert request.query == f"api-version=2&key={URL_SECRET}"
    assert request.headers["authorization"] == f"Bearer {KEY}"  # not replaced
    assert caplog.records
    assert URL_SECRET not in caplog.text


@pytest.mark.parametrize("name", ["%6Bey", "api%5Fkey", "KEY", "x-api-key"])
def test_a_query_key_with_an_encoded_name_is_masked_in_repr(name: str) -> None:
    # the server decodes ``%6Bey`` to ``key``; repr must mask it like ``key``
    options = opts(f"http://127.0.0.1:9/v1?{name}={URL_SECRET}&x=1")
    assert URL_SECRET not in repr(options)
    assert "x=1" in repr(options)


async def test_a_query_key_is_in_no_error_and_no_url_attribute() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nothing listens there
    with pytest.raises(AnyAgentError) as info:
        await ask(opts(f"http://127.0.0.1:{port}/v1?key={URL_SECRET}"))
    said = everything_said_about(info.value)
    assert URL_SECRET not in said
    assert f"127.0.0.1:{port}" in said
    assert URL_SECRET not in str(getattr(info.value, "url", ""))


# -- an echoed key, in every encoding --------------------------------------------------------


def test_every_encoding_is_derived_and_scrubbed() -> None:
    from any_agent._wire.credentials import scrub, secret_forms

    forms = secret_forms(KEY)
    for name, text in encodings(KEY).items():
        clean = scrub(f"<{text}>", [KEY])
        assert KEY not in clean, name
        if name not in ("basic-auth", "base64-offset-2", "url-lower-hex"):
            assert text in forms, name
        if name not in ("basic-auth", "base64-offset-2"):
            assert clean == "<***>", name
        else:  # inside a longer base64 value: the characters that encode the key go
            assert clean.count("***") == 1, name


@pytest.mark.parametrize("where", ["body", "header"])
async def test_a_key_echoed_in_any_encoding_is_in_no_error_and_no_debug_log(
    sse_server: SSEServer, caplog: pytest.LogCaptureFixture, where: str
) -> None:
    # LiteLLM quotes the refused key back in a 401; proxies echo it in headers
    caplog.set_level(logging.DEBUG)
    echoed = encodings(KEY)
    message = "bad key: " + " | ".join(echoed.values())
    body = {"error": {"message": message, "type": "auth_error"}}
    headers = {f"x-echo-{n}": v for n, v in echoed.items() if '"' not in v and "\\" not in v}
    if where == "header":
        body = {"error": {"message": "bad key", "type": "auth_error"}}
    sse_server.script.add(Reply(401, headers if where == "header" else {}, body))
    with pytest.raises(AnyAgentError) as info:
        await ask(opts(sse_server.url))
    said = everything_said_about(info.value) + "\n" + caplog.text
    assert caplog.records
    for name, text in echoed.items():
        assert text not in said, name
    assert "***" in said


def chain_said(error: BaseException) -> str:
    """What the error and every exception chained to it would show (``__cause__`` and
    ``__context__``, suppressed or not: a crash reporter may walk them all)."""
    parts: list[str] = []
    seen: BaseException | None = error
    while seen is not None:
        parts.append(everything_said_about(seen))
        for attr in ("body", "request", "response"):
            value = getattr(seen, attr, None)
            parts.append(str(value))
            parts.append(str(getattr(value, "headers", "")))
        seen = seen.__cause__ or seen.__context__
    return "\n".join(parts)


def fragments(secret: str, size: int = 12) -> list[str]:
    return [secret[i : i + size] for i in range(len(secret) - size + 1)]


def u_escaped(text: str) -> str:
    """``text`` as a JSON string body with every character ``\\uXXXX``-escaped."""
    return "".join(f"\\u{ord(c):04x}" for c in text)


@pytest.mark.parametrize("status", [400, 401, 403, 404, 422, 429, 500, 503, 302])
async def test_a_key_hidden_by_json_escapes_is_in_no_field_of_the_error(
    sse_server: SSEServer, status: int
) -> None:
    # every field of the error body is the server's; with \u escapes the raw text does not
    # contain the key, the decoded message, type and code do
    esc = u_escaped(KEY)
    raw = f'{{"error":{{"message":"bad {esc}","type":"{esc}","code":"{esc}"}}}}'
    headers = {"content-type": "application/json", "location": "http://127.0.0.1:9/"}
    sse_server.script.add(Reply(status, headers, raw.encode()))
    # a 404 lists the served models in the message: one is named by the key
    sse_server.script.add(
        Reply(200, {}, {"object": "list", "data": [{"id": KEY}]}), path="/v1/models", method="GET"
    )
    with pytest.raises(AnyAgentError) as info:
        await ask(opts(sse_server.url))
    said = chain_said(info.value)
    assert [f for f in fragments(KEY) if f in said] == []
    assert esc[:60] not in said
    assert info.value.__context__ is None  # the openai error holds the Authorization header


async def test_a_key_in_an_in_stream_error_event_is_in_no_field(sse_server: SSEServer) -> None:
    esc = u_escaped(KEY)
    event = f'data: {{"error":{{"message":"bad {esc}","type":"{esc}","code":"{esc}"}}}}\n\n'
    sse_server.script.add(Reply(200, {"content-type": "text/event-stream"}, event.encode()))
    with pytest.raises(AnyAgentError) as info:
        await ask(opts(sse_server.url))
    said = chain_said(info.value)
    assert [f for f in fragments(KEY) if f in said] == []


@pytest.mark.parametrize("offset", [280, 290, 295])
async def test_a_key_cut_by_a_snippet_leaves_no_part_of_it(
    sse_server: SSEServer, offset: int
) -> None:
    # an HTML page shown in the error cut to 300 characters: a key across the cut was
    # scrubbed only after the cut, so its first characters stayed
    page = ("<html>" + "x" * (offset - 6) + KEY + "</html>").encode()
    sse_server.script.add(Reply(200, {"content-type": "text/html"}, page))
    with pytest.raises(AnyAgentError) as info:
        await ask(opts(sse_server.url))
    said = chain_said(info.value)
    assert "HTML page" in said
    assert [f for f in fragments(KEY) if f in said] == []
    assert KEY[:5] not in said  # not even the first characters


def test_a_fragment_of_a_key_is_scrubbed() -> None:
    from any_agent._wire.credentials import scrub

    key = "sk-live-Abcdefghij0123456789KLMNOP"
    cases = {
        f"cut: {key[:20]}'": "cut: ***'",
        f"from the middle: {key[9:]} ok": "from the middle: *** ok",
        f"split: {key[:15]}|{key[15:]}.": "split: ***|***.",
        f"short {key[:11]}": f"short {key[:11]}",  # under 12 characters: not recognisable
        "an ordinary line": "an ordinary line",
    }
    for text, clean in cases.items():
        assert scrub(text, [key]) == clean


# -- loopback requests and environment proxies -----------------------------------------------


class ProxyListener:
    """A plain TCP listener on 127.0.0.1 that records whether anyone connected (and answers
    502, as a proxy that cannot reach the target would)."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.contacted = threading.Event()
        self.first_line = b""
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn:
                self.contacted.set()
                conn.settimeout(5)
                try:
                    self.first_line = self.first_line or conn.recv(65536).split(b"\r\n")[0]
                    conn.sendall(b"HTTP/1.1 502 Bad Gateway\r\ncontent-length: 0\r\n\r\n")
                except OSError:
                    pass

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def proxy(monkeypatch: pytest.MonkeyPatch) -> Iterator[ProxyListener]:
    listener = ProxyListener()
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy"):
        monkeypatch.setenv(name, listener.url)
    monkeypatch.setenv("all_proxy", listener.url)
    for name in ("NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    try:
        yield listener
    finally:
        listener.close()


async def test_loopback_requests_ignore_the_environment_proxy(
    sse_server: SSEServer, proxy: ProxyListener
) -> None:
    sse_server.script.stream(text_stream("direct"))
    messages = await ask(opts(sse_server.url))
    assert messages[-1].result == "direct"
    assert not proxy.contacted.is_set()
    assert len(sse_server.requests) == 1


async def test_proxy_loopback_opts_in(sse_server: SSEServer, proxy: ProxyListener) -> None:
    with pytest.raises(AnyAgentError):
        await ask(opts(sse_server.url, proxy_loopback=True))
    assert proxy.contacted.is_set()
    assert b"/v1/chat/completions" in proxy.first_line  # the proxy was asked for it
    assert sse_server.requests == []


def test_proxy_loopback_is_validated() -> None:
    with pytest.raises(ConfigurationError, match="proxy_loopback"):
        opts("http://127.0.0.1:9/v1", proxy_loopback="yes")
