"""Cassettes and reports never hold a key a server echoed back, in any encoding, in a body or a
header, nor a credential from the base URL's query (recorded into tmp_path, never cassettes/)."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from urllib.parse import quote, quote_plus

import httpx2
import pytest
from sse_server import Reply, SSEServer, sse

from conformance.harness.recording import make_vcr, redact, scan_for_secrets

KEY = "sk-conf/0123+4567=89abcdefghijklmn"
URL_SECRET = "qs-conf-secret-24680"


def encodings(secret: str) -> dict[str, str]:
    raw = secret.encode()
    return {
        "raw": secret,
        "json": json.dumps(secret)[1:-1].replace("/", "\\/"),
        "url": quote(secret, safe=""),
        "url-lower-hex": quote(secret, safe="").lower(),
        "url-plus": quote_plus(secret),
        "base64": base64.b64encode(raw).decode(),
        "base64-url": base64.urlsafe_b64encode(raw).decode(),
        "basic-auth": base64.b64encode(b"user:" + raw).decode(),
    }


@pytest.mark.parametrize(("name", "text"), list(encodings(KEY).items()))
def test_report_text_is_scrubbed_of_every_encoding(name: str, text: str) -> None:
    clean = redact(f"the server said {text} back", [KEY])
    assert text not in clean
    assert "<redacted>" in clean
    assert scan_for_secrets(f"planted {text}", [KEY]), name  # the scanner sees it too


def test_a_recording_holds_no_encoding_of_the_key(tmp_path: Path, sse_server: SSEServer) -> None:
    echoed = encodings(KEY)
    # a LiteLLM-style proxy echoing what it was given, in a header and in the stream
    headers = {"server": f"echo {echoed['base64']} {echoed['url']}"}
    body = sse(*({"echo": text} for text in echoed.values()))
    sse_server.script.add(Reply(200, headers | {"content-type": "text/event-stream"}, body))
    secrets = (KEY, URL_SECRET)
    url = f"{sse_server.url}/chat/completions?key={URL_SECRET}"
    request = {"model": "m", "messages": [{"role": "assistant", "content": f"was {KEY}"}]}
    vcr = make_vcr(tmp_path, record=True, secrets=secrets)
    with vcr.use_cassette("echo.yaml"), httpx2.Client(trust_env=False) as client:
        live = client.post(url, json=request, headers={"authorization": f"Bearer {KEY}"})
    assert KEY in live.text  # the server really echoed it
    text = (tmp_path / "echo.yaml").read_text()
    for name, form in echoed.items():
        assert form not in text, name
    assert URL_SECRET not in text
    assert scan_for_secrets(text, secrets) == []
    assert "<redacted>" in text
    # replay still matches the scrubbed request
    replay = make_vcr(tmp_path, record=False, secrets=secrets)
    with replay.use_cassette("echo.yaml"), httpx2.Client(trust_env=False) as client:
        again = client.post(url, json=request)
    assert again.status_code == 200
    assert KEY not in again.text


def test_a_key_split_across_stream_events_is_not_recorded(
    tmp_path: Path, sse_server: SSEServer
) -> None:
    # a server that streams the key back a piece at a time: no event holds it whole
    pieces = [KEY[:14], KEY[14:]]
    body = sse(*({"choices": [{"delta": {"content": p}}]} for p in pieces))
    sse_server.script.add(Reply(200, {"content-type": "text/event-stream"}, body))
    vcr = make_vcr(tmp_path, record=True, secrets=(KEY,))
    with vcr.use_cassette("split.yaml"), httpx2.Client(trust_env=False) as client:
        live = client.post(f"{sse_server.url}/chat/completions", json={"model": "m"})
    assert all(p in live.text for p in pieces)
    text = (tmp_path / "split.yaml").read_text()
    for piece in pieces:
        assert json.dumps(piece)[1:-1].replace("/", "\\/") not in text
        assert piece not in text
