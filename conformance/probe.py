"""Before a live run: is the server there, which models does it serve, what is it?

Uses ``GET /v1/models`` (reachability, model ids, context size, ``owned_by``), response
headers (``Server``, ``x-litellm-version``), llama.cpp's ``/props`` and vLLM's ``/version``.
None of these go into cassettes; what they tell is kept in the manifest. Each answer is read
whole within a deadline and :data:`PROBE_MAX_BYTES`, not only each read within a timeout.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import httpx2

from .catalogue.profiles import ProviderProfile
from .settings import UsageError

__all__ = ["ServerFacts", "plain_version", "probe_server", "reported_version"]

_OWNED_BY = {
    "llamacpp": "llama.cpp llama-server",
    "vllm": "vLLM",
    "sglang": "SGLang",
    "library": "Ollama",
    "lmstudio": "LM Studio",
    "organization_owner": "LM Studio",
}


@dataclass(slots=True)
class ServerFacts:
    model_ids: list[str] = field(default_factory=list)
    models: list[dict[str, Any]] = field(default_factory=list)
    server_name: str | None = None
    server_version: str | None = None
    #: Requests the server serves at once (llama.cpp ``/props`` ``total_slots``), if it says.
    total_slots: int | None = None

    def meta_for(self, model: str) -> dict[str, Any]:
        for m in self.models:
            if m.get("id") == model:
                return m
        return {}


def _unreachable(base_url: str, err: str, profile: ProviderProfile) -> Exception:
    """Which port was tried, and which port this project's own server scripts use."""
    parts = urlsplit(base_url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    text = f"cannot reach {base_url} (port {port}: {err}); "
    name, ours = profile.name, profile.project_port
    if ours == port:
        text += f"start this project's {name} server: make server PROVIDER={name}"
    else:
        text += f"start the server first: {profile.start_command}"
        if ours is not None:
            text += (
                f"; this project's own server scripts serve {name} on port {ours} "
                f"(make server PROVIDER={name}): certify that one with make certify "
                f"PROVIDER={name}, or --base-url http://127.0.0.1:{ours}/v1"
            )
    return UsageError(text)


#: A llama-server built without git metadata (a wheel built from a source archive) reports
#: ``b0-unknown``: no version at all, so the column's deployment facts say more.
_NO_VERSION = re.compile(r"(b0)?[-_ ]?(unknown)?", re.IGNORECASE)
#: What a version may be to label a column (it goes into every report and the manifest):
#: one line of printable characters, no markup or table cell boundaries.
_PLAIN_VERSION = re.compile(r"[^\s<>|`*_\[\]\\](?:[^<>|`*_\[\]\\]{0,62}[^\s<>|`*_\[\]\\])?")


def plain_version(text: object) -> str | None:
    """``text`` stripped when it is a plain version (:data:`_PLAIN_VERSION`, printable), else
    None: a server's or a contributor's words label a column only when they are one."""
    if not isinstance(text, str):
        return None
    text = text.strip()
    if not _PLAIN_VERSION.fullmatch(text) or not text.isprintable():
        return None
    return text


def reported_version(text: object) -> str | None:
    """A version a server reported, or None when it is empty, a placeholder or not plain."""
    plain = plain_version(text)
    if plain is None or _NO_VERSION.fullmatch(plain):
        return None
    return plain


#: Bytes of one probe answer (a large gateway's model list is well under it).
PROBE_MAX_BYTES = 4 * 1024 * 1024


class _Unbounded(Exception):
    """A probe answer that did not end within its bound (time or bytes)."""


def _get(
    client: httpx2.Client, url: str, headers: dict[str, str], limit_s: float, per_read: bool
) -> tuple[httpx2.Response, bytes]:
    """``GET url`` read whole, within ``limit_s`` seconds and :data:`PROBE_MAX_BYTES`, else
    :class:`_Unbounded`: httpx2's read timeout bounds each read, so a server that trickles a
    byte a second never trips it (the deadline is checked between reads, so one more read
    timeout at most; ``per_read``: ``limit_s`` is each read's timeout too)."""
    deadline = time.monotonic() + limit_s
    each = limit_s if per_read else httpx2.USE_CLIENT_DEFAULT
    with client.stream("GET", url, headers=headers, timeout=each) as resp:
        body = bytearray()
        for chunk in resp.iter_bytes():
            body += chunk
            if len(body) > PROBE_MAX_BYTES:
                raise _Unbounded(f"sent more than {PROBE_MAX_BYTES} bytes")
            if time.monotonic() > deadline:
                raise _Unbounded(f"did not answer within {limit_s:g} s")
    return resp, bytes(body)


def probe_server(
    base_url: str, api_key: str | None, profile: ProviderProfile, *, timeout: float = 10.0
) -> ServerFacts:
    headers = {"authorization": f"Bearer {api_key}"} if api_key else {}
    facts = ServerFacts()
    url = base_url.rstrip("/")
    with httpx2.Client(
        timeout=httpx2.Timeout(max(timeout, 30.0), connect=timeout),
        follow_redirects=False,
        trust_env=False,
    ) as client:
        try:
            resp, body = _get(client, url + "/models", headers, max(timeout, 30.0), False)
        except httpx2.HTTPError as exc:
            raise _unreachable(url, f"{type(exc).__name__}: {exc}".strip(": "), profile) from None
        except _Unbounded as exc:
            raise UsageError(f"{url}/models {exc}") from None
        if resp.status_code in (401, 403):
            raise UsageError(
                f"{url}/models answered HTTP {resp.status_code}: pass the key with "
                "--api-key-env VAR"
            )
        data: Any = None
        if resp.status_code == 200:
            try:
                data = json.loads(body)
            except (ValueError, RecursionError):
                data = None
        items = data.get("data") if isinstance(data, dict) else None
        if isinstance(items, list):
            facts.models = [m for m in items if isinstance(m, dict)]
            facts.model_ids = [str(m["id"]) for m in facts.models if m.get("id")]
        owned = {str(m.get("owned_by")) for m in facts.models}
        name = next((_OWNED_BY[o] for o in owned if o in _OWNED_BY), None)
        server_header = resp.headers.get("server", "")
        if "llama.cpp" in server_header.lower():
            name = "llama.cpp llama-server"
        litellm = resp.headers.get("x-litellm-version")
        if litellm:
            name, facts.server_version = "LiteLLM proxy", reported_version(litellm)
        root = url[:-3] if url.endswith("/v1") else url
        for path in ("/props", "/version"):
            try:
                r, answer = _get(client, root + path, headers, 5.0, True)
            except (httpx2.HTTPError, _Unbounded):
                continue
            if r.status_code != 200:
                continue
            try:
                info = json.loads(answer)
            except (ValueError, RecursionError):
                continue
            if not isinstance(info, dict):
                continue
            slots = info.get("total_slots") if path == "/props" else None
            if isinstance(slots, int) and not isinstance(slots, bool) and slots > 0:
                facts.total_slots = slots
            if path == "/props" and isinstance(info.get("build_info"), str):
                name = name or "llama.cpp llama-server"
                facts.server_version = reported_version(info["build_info"])
            elif path == "/version" and isinstance(info.get("version"), str):
                facts.server_version = facts.server_version or reported_version(info["version"])
        facts.server_name = name or profile.title
    return facts
