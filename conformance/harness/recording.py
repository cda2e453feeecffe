"""Cassettes (vcrpy), manifests, scrubbing and key safety.

Layout, one directory per server column::

    <cassette-dir>/<provider>/<model-slug>/<check-id>.yaml       wire layer
    <cassette-dir>/<provider>/<model-slug>/<check-id>.sdk.yaml   SDK layer
    <cassette-dir>/<provider>/<model-slug>/manifest.json

vcrpy drives httpx2 for both layers (the raw client and the openai client inside any_agent).
Requests match on method, path and JSON body, never host or port; every request header is
dropped before a cassette is written, response headers are kept only from an allow-list, and
bodies are scrubbed of the API key and key-like strings. The hooks run on live requests, on
recorded ones and at load time, so they are idempotent. vcrpy buffers a streamed body while
recording, so timing is measured in live passes and kept in ``manifest.json``.
"""

from __future__ import annotations

import base64
import contextlib
import functools
import json
import platform
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import orjson

from any_agent._wire.credentials import is_loopback, redact_url, scrub

from .. import SUITE_VERSION
from ..results import model_slug
from .stream import parse_sse

__all__ = [
    "CASSETTE_ORIGIN",
    "FILE_SEARCHED",
    "KEY_PATTERNS",
    "PASSWD_LINE_RX",
    "Manifest",
    "cassette_path",
    "column_dir",
    "find_recordings",
    "is_loopback",
    "library_versions",
    "make_vcr",
    "parse_cassette",
    "redact",
    "redact_data",
    "scan_for_secrets",
    "shows_passwd",
    "withheld",
]

CASSETTE_ORIGIN = "http://conformance.invalid"
MANIFEST = "manifest.json"
MANIFEST_FORMAT = 1

#: Response headers worth keeping; everything else (dates, request ids, LiteLLM's
#: ``x-litellm-*`` call ids and durations, ``llm_provider-*`` copies, cookies) is dropped.
KEEP_RESPONSE_HEADERS = frozenset({"content-type", "server", "x-accel-buffering"})

#: Strings that look like credentials. Cassettes and reports must never contain them.
KEY_PATTERNS: tuple[re.Pattern[str], ...] = (
    re.compile(r"sk-(?:proj-|ant-)?[A-Za-z0-9_\-]{16,}"),
    re.compile(r"(?i)\bbearer\s+[A-Za-z0-9._~+/=\-]{8,}"),
    re.compile(r"\bhf_[A-Za-z0-9]{20,}"),
    re.compile(r"\bAKIA[0-9A-Z]{16}\b"),
    re.compile(r"\bgh[pousr]_[A-Za-z0-9]{30,}"),
    re.compile(r"\bxox[abprs]-[A-Za-z0-9-]{10,}"),
    re.compile(r"\bAIza[0-9A-Za-z_\-]{35}\b"),
)
REDACTED = "<redacted>"
#: Header names that must never appear in a cassette or report (case-insensitive).
SECRET_HEADERS = ("authorization", "api-key", "x-api-key", "proxy-authorization", "cookie")


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """Replace the given secrets (in every encoding a server may echo them in: JSON-escaped,
    URL-encoded, base64...) and anything key-like with ``<redacted>``."""
    text = scrub(text, secrets, REDACTED)
    for rx in KEY_PATTERNS:
        text = rx.sub(REDACTED, text)
    return text


def redact_data(value: Any, secrets: Iterable[str] = ()) -> Any:
    """``value`` (decoded JSON) with :func:`redact` applied to every string in it, keys too.
    Never redact a JSON *text*: escaping changes how a secret is spelled (an excerpt that is
    itself JSON gets escaped twice), and a mask over an escape sequence corrupts the text."""
    if isinstance(value, str):
        return redact(value, secrets)
    if isinstance(value, dict):
        return {redact(str(k), secrets): redact_data(v, secrets) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [redact_data(v, secrets) for v in value]
    return value


def scan_for_secrets(text: str, secrets: Iterable[str] = ()) -> list[str]:
    """Problems found in ``text``: key-like strings, secret header names with a value."""
    found: list[str] = []
    for secret in secrets:
        if scrub(text, (secret,), REDACTED) != text:
            found.append("the API key itself (or an encoding of it)")
    for rx in KEY_PATTERNS:
        for m in rx.finditer(text):
            found.append(f"key-like string {m.group(0)[:12]}…")
    for name in SECRET_HEADERS:
        rx = re.compile(rf"(?im)^\s*-?\s*['\"]?{re.escape(name)}['\"]?\s*:")
        if rx.search(text):
            found.append(f"a {name!r} header")
    return found


def public_url(url: str) -> str:
    """The URL without userinfo, query or fragment (safe to store)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    netloc = host + (f":{parts.port}" if parts.port else "")
    return urlunsplit((parts.scheme, netloc, parts.path.rstrip("/"), "", ""))


def column_dir(cassette_dir: str | Path, provider: str, model: str) -> Path:
    return Path(cassette_dir) / provider / model_slug(model)


def cassette_path(
    cassette_dir: str | Path, provider: str, model: str, check_id: str, layer: str
) -> Path:
    suffix = ".yaml" if layer == "wire" else f".{layer}.yaml"
    return column_dir(cassette_dir, provider, model) / f"{check_id}{suffix}"


def library_versions() -> dict[str, str | None]:
    out: dict[str, str | None] = {"python": platform.python_version(), "suite": SUITE_VERSION}
    for dist in ("any-agent-sdk", "vcrpy", "pytest-recording", "httpx2", "openai", "pytest"):
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            out[dist] = None
    return out


# ---- file content ------------------------------------------------------------------------------

#: A line of a passwd file and the rest of its line: root's from its start (``root:x:0:0:``),
#: any other's up to its home directory (``name:x:uid:gid:gecos:/``; times and IPv6
#: addresses have no ``:/`` there). The quantifiers are bounded and a name starts only where
#: a word does: linear on any text.
PASSWD_LINE_RX = re.compile(
    r"(?<![\w.-])(?:root:[^:\s]{0,64}:0:0:|[A-Za-z_][\w.-]{0,31}:[^:\s]{0,64}:\d{1,10}:"
    r"\d{1,10}:[^:\n]{0,256}:/)[^\n\"]{0,256}"
)
#: What is kept of a body that shows such lines (``vision.file-url-refused`` asks a server
#: to read one): its size. Found again on replay, so a replay judges what the live run did.
_WITHHELD = "[{} bytes withheld: they show lines of a passwd file]"
_WITHHELD_RX = re.compile(r"\[\d+ bytes withheld: they show lines of a passwd file\]")
#: How much of a body is searched (the work is bounded; a file check keeps none of a bigger
#: body, see ``vision._withhold``).
FILE_SEARCHED = 1 << 20


def withheld(body: bytes) -> bytes:
    """The stand-in kept for ``body`` when it shows a passwd file."""
    return _WITHHELD.format(len(body)).encode()


def _strings(value: Any, out: dict[tuple[str, str], list[str]]) -> None:
    """Every string in decoded JSON, in order, grouped by the last two keys above it (list
    items share their list's: the pieces of one field across stream events join up); keys
    go in a group of their own. Groups name keys by reference: no path is built."""
    stack: list[tuple[tuple[str, str], Any]] = [(("", ""), value)]
    while stack:
        where, v = stack.pop()
        if isinstance(v, str):
            out.setdefault(where, []).append(v)
        elif isinstance(v, dict):
            out.setdefault(("", "keys"), []).extend(str(k) for k in v)
            stack += reversed([((where[1], str(k)), item) for k, item in v.items()])
        elif isinstance(v, list):
            stack += reversed([(where, item) for item in v])


def _decoded(text: str) -> list[str]:
    """What each long base64 run in ``text`` decodes to (at each of its four alignments),
    and each long hex run."""
    out = []
    # a run is decoded once however often it repeats (an SSE body repeats its ids and model
    # name in every event, and the text joins every view of the body)
    for run in dict.fromkeys(re.findall(r"[A-Za-z0-9+/_-]{12,}", text)[:256]):
        run = run.replace("-", "+").replace("_", "/")
        for skip in range(4):
            piece = run[skip:]
            piece = piece[: len(piece) - len(piece) % 4]
            with contextlib.suppress(ValueError):
                out.append(base64.b64decode(piece).decode("latin-1"))
    for run in dict.fromkeys(re.findall(r"[0-9A-Fa-f]{16,}", text)[:256]):
        out.append(bytes.fromhex(run[: len(run) - len(run) % 2]).decode("latin-1"))
    return out


def shows_passwd(body: bytes) -> bool:
    """``body`` shows lines of a passwd file: as text, JSON-escaped, base64 or hex encoded,
    split across SSE events (their strings are joined before the search), or withheld."""
    body = body[:FILE_SEARCHED]
    raw = body.decode("utf-8", errors="replace")
    if _WITHHELD_RX.search(raw):
        return True
    views = [raw]
    strings: dict[tuple[str, str], list[str]] = {}
    with contextlib.suppress(orjson.JSONDecodeError):
        _strings(orjson.loads(body), strings)
    for ev in parse_sse(body) if "data:" in raw else ():
        _strings(ev.json(), strings)
    views += ["".join(group) for group in strings.values()]
    views += ["\n".join(group) for group in strings.values()]
    views += _decoded(" ".join(views))
    return any(PASSWD_LINE_RX.search(view) for view in views)


# ---- vcrpy -----------------------------------------------------------------------------------


def _redact_body(raw: Any, secrets: tuple[str, ...]) -> Any:
    if isinstance(raw, bytes):
        text = raw.decode("utf-8", errors="surrogateescape")
        clean = redact(text, secrets)
        return raw if clean == text else clean.encode("utf-8", errors="surrogateescape")
    return redact(raw, secrets) if isinstance(raw, str) else raw


def _request_scrubber(secrets: tuple[str, ...]) -> Any:
    def canonical_request(request: Any) -> Any:
        # the query may carry the key (``?key=``); matching ignores it, so it is masked
        parts = urlsplit(request.uri)
        query = urlsplit(redact_url(request.uri, REDACTED)).query
        request.uri = urlunsplit(("http", "conformance.invalid", parts.path, query, ""))
        for name in list(request.headers):
            if name.lower() != "content-type":
                del request.headers[name]
        # a key a server echoed into an answer comes back in the next request's history
        request.body = _redact_body(request.body, secrets)
        return request

    return canonical_request


def _scrubber(secrets: tuple[str, ...]) -> Any:
    def scrub_response(response: dict[str, Any]) -> dict[str, Any]:
        headers = response.get("headers") or {}
        response["headers"] = {
            k: [_redact_body(x, secrets) for x in v]
            if isinstance(v, list)
            else _redact_body(v, secrets)
            for k, v in headers.items()
            if k.lower() in KEEP_RESPONSE_HEADERS
        }
        body = response.get("body") or {}
        if "string" in body:
            raw = body["string"]
            if isinstance(raw, (bytes, str)):
                data = raw.encode("utf-8", "surrogateescape") if isinstance(raw, str) else raw
                if shows_passwd(data):
                    # a file a server read (vision.file-url-refused) is no evidence to keep
                    raw = withheld(data) if isinstance(raw, bytes) else withheld(data).decode()
            body["string"] = _redact_body(raw, secrets)
        return response

    return scrub_response


class ReadableYAML:
    """vcrpy serializer: YAML with multi-line strings as literal blocks (SSE bodies read as
    sent) and JSON request bodies pretty-printed. Matching parses JSON bodies, so the layout
    does not affect replay."""

    @staticmethod
    def serialize(cassette_dict: dict[str, Any]) -> str:
        import yaml

        class Dumper(yaml.SafeDumper):
            def ignore_aliases(self, data: Any) -> bool:
                return True  # the reader refuses aliases (a billion-laughs cassette)

        def represent_str(dumper: yaml.SafeDumper, data: str) -> yaml.Node:
            style = "|" if "\n" in data else None
            return dumper.represent_scalar("tag:yaml.org,2002:str", data, style=style)

        Dumper.add_representer(str, represent_str)
        for interaction in cassette_dict.get("interactions", []):
            request = interaction.get("request") or {}
            body = request.get("body")
            if isinstance(body, str) and body[:1] in "{[":
                with contextlib.suppress(ValueError):
                    request["body"] = json.dumps(json.loads(body), indent=1, ensure_ascii=False)
        return str(yaml.dump(cassette_dict, Dumper=Dumper, allow_unicode=True, sort_keys=False))

    @staticmethod
    def deserialize(cassette_string: str) -> dict[str, Any]:
        return parse_cassette(cassette_string)


def parse_cassette(text: str, *, libyaml: bool = True) -> dict[str, Any]:
    """A cassette's text read as vcrpy reads it, bounded: its size (in bytes of UTF-8, as its
    file is measured), its nesting depth, the length of its numbers and dates, no anchors or
    aliases, no Python tags (``ValueError`` or ``yaml.YAMLError`` otherwise).

    libyaml (PyYAML's C parser) reads it when PyYAML was built with it and ``libyaml`` is
    true: many times faster than the pure-Python parser, which stays for PyYAML builds
    without it. Both read a cassette to the same data."""
    import yaml

    from ..trust import MAX_CASSETTE_BYTES

    # bytes of UTF-8, as the column check measures a cassette's file; a character is 1 to 4
    size = len(text)
    if size <= MAX_CASSETTE_BYTES:  # more characters than that is too many bytes already
        try:
            size = len(text.encode("utf-8"))
        except UnicodeEncodeError as exc:  # a lone surrogate: no file holds one, a str may
            # the pure-Python reader's own error; libyaml's reader raised the encoding error
            raise yaml.reader.ReaderError(
                "<unicode string>", exc.start, ord(text[exc.start]), "unicode",
                "special characters are not allowed",
            ) from None  # fmt: skip
    if size > MAX_CASSETTE_BYTES:
        raise ValueError(f"the cassette is larger than {MAX_CASSETTE_BYTES} bytes")
    python_loader, fast = _cassette_loaders()
    if not libyaml or fast is None:
        data = yaml.load(text, Loader=python_loader)
    else:
        # libyaml composes in C, where no hook can see an anchor: its events are read first
        guard = _EventGuard()
        for event in yaml.parse(text, Loader=fast):
            guard.see(event)
        data = yaml.load(text, Loader=fast)
    if data is None:
        return {}
    _check_cassette(data)
    return data  # type: ignore[no-any-return]


#: Longest number or date a cassette may hold: status codes and versions are a few digits,
#: and YAML 1.1 base-60 integers (``1:2:3``) cost quadratic time in their length.
MAX_CASSETTE_NUMBER_CHARS = 40


class _EventGuard:
    """Refuses, event by event, what makes a cassette a graph (an anchor or an alias: how a
    small file expands to billions of nodes once something walks it) and nesting past the
    manifests' limit, before anything recurses (the pure-Python composer recurses per level;
    libyaml alone stops at 1000). One per parse: the lookups are made once, not per event."""

    def __init__(self) -> None:
        import yaml

        from ..trust import MAX_DEPTH

        self._yaml = yaml
        self._max_depth = MAX_DEPTH
        self.depth = 0

    def see(self, event: Any) -> None:
        yaml = self._yaml
        if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None):
            mark = event.start_mark
            raise ValueError(
                f"YAML anchors and aliases are refused in a cassette (line {mark.line + 1}, "
                f"column {mark.column + 1})"
            )
        if isinstance(event, yaml.CollectionEndEvent):
            self.depth -= 1
        elif isinstance(event, yaml.CollectionStartEvent):
            if self.depth + 1 > self._max_depth:
                raise yaml.composer.ComposerError(
                    None, None,
                    f"nesting depth {self.depth + 1} is over a cassette's limit of "
                    f"{self._max_depth}", event.start_mark,
                )  # fmt: skip
            self.depth += 1


def _bounded_scalar(tag: str) -> Any:
    """SafeLoader's constructor for ``tag``, refusing a long value and turning a value it
    cannot build into a ``yaml.YAMLError`` (not a bare ``ValueError`` or ``OverflowError``)."""
    import yaml

    construct = getattr(yaml.SafeLoader, f"construct_yaml_{tag}")

    def construct_bounded(loader: Any, node: Any) -> Any:
        value = str(node.value)
        if len(value) > MAX_CASSETTE_NUMBER_CHARS:
            raise yaml.constructor.ConstructorError(
                None, None, f"an {tag} of {len(value)} characters is refused in a cassette "
                f"(limit {MAX_CASSETTE_NUMBER_CHARS})", node.start_mark,
            )  # fmt: skip
        try:
            return construct(loader, node)
        except (ValueError, OverflowError) as exc:
            raise yaml.constructor.ConstructorError(
                None, None, f"{value!r} is not a valid {tag}: {exc}", node.start_mark
            ) from None

    return construct_bounded


@functools.cache
def _cassette_loaders() -> tuple[Any, Any]:
    """The pure-Python cassette loader and the libyaml one (``None`` without libyaml)."""
    import yaml

    class CassetteLoader(yaml.SafeLoader):
        """``safe_load`` (no Python tags) that also refuses anchors, aliases and depth."""

        def __init__(self, stream: Any) -> None:
            super().__init__(stream)
            self.guard = _EventGuard()

        def compose_node(self, parent: Any, index: Any) -> Any:
            # compose_node sees a collection's start event; its end is counted below
            self.guard.see(self.peek_event())  # type: ignore[no-untyped-call]
            return super().compose_node(parent, index)

        def compose_sequence_node(self, anchor: Any) -> Any:
            node = super().compose_sequence_node(anchor)
            self.guard.depth -= 1
            return node

        def compose_mapping_node(self, anchor: Any) -> Any:
            node = super().compose_mapping_node(anchor)
            self.guard.depth -= 1
            return node

        def scan_to_next_token(self) -> None:
            """PyYAML's, but with libyaml's rule for tabs between tokens (PyYAML skips only
            spaces and refused ``key:\\tvalue``, which libyaml reads): a tab separates in a
            flow collection and where no simple key may start, never as indentation."""
            if self.index == 0 and self.peek() == "\ufeff":
                self.forward()
            while True:
                while (ch := self.peek()) == " " or (
                    ch == "\t" and (self.flow_level or not self.allow_simple_key)
                ):
                    self.forward()
                if self.peek() == "#":
                    while self.peek() not in "\0\r\n\x85\u2028\u2029":
                        self.forward()
                if not self.scan_line_break():  # type: ignore[no-untyped-call]
                    return
                if not self.flow_level:
                    self.allow_simple_key = True

    loaders: list[Any] = [CassetteLoader]
    fast = getattr(yaml, "CSafeLoader", None)
    if fast is not None:
        loaders.append(type("CassetteCLoader", (fast,), {}))
    for loader in loaders:
        for tag in ("int", "float", "timestamp"):
            loader.add_constructor(f"tag:yaml.org,2002:{tag}", _bounded_scalar(tag))
    return CassetteLoader, loaders[1] if fast is not None else None


_REQUEST_KEYS = frozenset({"body", "headers", "method", "uri"})


def _check_cassette(data: Any) -> None:
    """The shape vcrpy reads, checked before it does (a wrong type is one line, not an
    ``AttributeError`` deep inside vcrpy)."""

    def fail(where: str, what: str) -> None:
        raise ValueError(f"not a cassette: {where} is not {what}")

    if not isinstance(data, dict):
        fail("the document", "a mapping")
    if not isinstance(data.get("interactions", []), list):
        fail("interactions", "a list")
    for i, item in enumerate(data.get("interactions", [])):
        at = f"interactions[{i}]"
        if not isinstance(item, dict):
            fail(at, "a mapping")
        request, response = item.get("request"), item.get("response")
        if not isinstance(request, dict) or not isinstance(response, dict):
            fail(at, "a request and a response")
        if request.keys() != _REQUEST_KEYS:  # vcrpy builds Request(**request)
            keys = ", ".join(sorted(map(str, request)))
            raise ValueError(
                f"not a cassette: {at}.request has the keys {keys[:200]} (not "
                f"{', '.join(sorted(_REQUEST_KEYS))})"
            )
        for key in ("method", "uri"):
            if not isinstance(request.get(key), str):
                fail(f"{at}.request.{key}", "a string")
        if not isinstance(request.get("body"), str | bytes | None):
            fail(f"{at}.request.body", "a string")
        status = response.get("status")
        if not isinstance(status, dict) or type(status.get("code")) is not int:
            fail(f"{at}.response.status.code", "an integer")
        if not isinstance(status.get("message", ""), str):
            fail(f"{at}.response.status.message", "a string")
        body = response.get("body")
        if not isinstance(body, dict) or not isinstance(body.get("string"), str | bytes):
            fail(f"{at}.response.body.string", "a string")
        for side, part in (("request", request), ("response", response)):
            headers = part.get("headers") or {}
            if not isinstance(headers, dict) or not all(
                isinstance(k, str)
                and (
                    isinstance(v, str)
                    or (isinstance(v, list) and all(isinstance(x, str) for x in v))
                )
                for k, v in headers.items()
            ):
                fail(f"{at}.{side}.headers", "a mapping of strings")


def make_vcr(cassette_dir: str | Path, *, record: bool, secrets: tuple[str, ...] = ()) -> Any:
    """A VCR for one column: record (``all``, into a fresh file) or replay (``none``).

    Playback repeats stay off (vcrpy's default), so every recorded interaction plays once.
    """
    import vcr

    v = vcr.VCR(
        serializer="readable-yaml",
        cassette_library_dir=str(cassette_dir),
        record_mode="all" if record else "none",
        match_on=["method", "path", "body"],
        before_record_request=_request_scrubber(secrets),
        before_record_response=_scrubber(secrets),
        decode_compressed_response=True,
        record_on_exception=True,
    )
    v.register_serializer("readable-yaml", ReadableYAML)
    return v


# ---- manifests -------------------------------------------------------------------------------


@dataclass(slots=True)
class Manifest:
    provider: str
    model: str
    base_url: str
    configuration: str | None = None
    server: dict[str, str | None] = field(default_factory=dict)
    model_meta: dict[str, Any] = field(default_factory=dict)
    recorded_at: str | None = None
    suite_version: str = SUITE_VERSION
    libraries: dict[str, str | None] = field(default_factory=dict)
    sampling: dict[str, Any] = field(default_factory=lambda: {"temperature": 0, "seed": 1})
    #: ``check[layer]`` → result dict of live-only checks, measured in the recording session.
    live: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: ``check[layer]`` → outcome of every check in the recording session (regression base).
    expected: dict[str, str] = field(default_factory=dict)
    #: How the server was run: packages and versions, model hashes, flags, chat template.
    deployment: dict[str, Any] = field(default_factory=dict)
    format_version: int = MANIFEST_FORMAT
    #: What the recording run cost (wall time, requests, tokens); a replay shows these.
    run_stats: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        data = {
            "format_version": self.format_version,
            "suite_version": self.suite_version,
            "provider": self.provider,
            "model": self.model,
            "model_slug": model_slug(self.model),
            "configuration": self.configuration,
            "server": self.server,
            "deployment": self.deployment,
            "base_url": self.base_url,
            "model_meta": self.model_meta,
            "recorded_at": self.recorded_at,
            "libraries": self.libraries,
            "sampling": self.sampling,
            "expected": dict(sorted(self.expected.items())),
            "live": dict(sorted(self.live.items())),
        }
        if self.run_stats:  # manifests recorded before run stats existed stay as they were
            data["run_stats"] = dict(self.run_stats)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Manifest:
        return cls(
            provider=data["provider"],
            model=data["model"],
            base_url=data.get("base_url") or CASSETTE_ORIGIN + "/v1",
            configuration=data.get("configuration"),
            server=dict(data.get("server") or {}),
            deployment=dict(data.get("deployment") or {}),
            model_meta=dict(data.get("model_meta") or {}),
            recorded_at=data.get("recorded_at"),
            suite_version=data.get("suite_version") or SUITE_VERSION,
            libraries=dict(data.get("libraries") or {}),
            sampling=dict(data.get("sampling") or {}),
            live=dict(data.get("live") or {}),
            expected=dict(data.get("expected") or {}),
            run_stats=dict(data.get("run_stats") or {}),
            format_version=int(data.get("format_version") or MANIFEST_FORMAT),
        )

    @classmethod
    def load(cls, path: str | Path) -> Manifest:
        """Read a manifest through the bounded reader and the schema (``ColumnError``)."""
        from ..trust import MAX_MANIFEST_BYTES, read_json, validate_manifest

        path = Path(path)
        data = read_json(path, max_bytes=MAX_MANIFEST_BYTES, what="manifest")
        validate_manifest(data, str(path))
        return cls.from_dict(data)

    def save(self, directory: str | Path, secrets: tuple[str, ...] = ()) -> Path:
        path = Path(directory) / MANIFEST
        path.parent.mkdir(parents=True, exist_ok=True)
        text = json.dumps(redact_data(self.to_dict(), secrets), indent=2, ensure_ascii=False)
        tmp = path.with_name(f".{MANIFEST}.tmp")
        tmp.write_text(text + "\n", encoding="utf-8")
        tmp.replace(path)
        return path


def find_recordings(
    cassette_dir: str | Path, provider: str | None = None, models: Iterable[str] = ()
) -> list[Path]:
    """Column directories (holding a manifest) under ``cassette_dir``, sorted."""
    root = Path(cassette_dir)
    pattern = f"{provider}/*/{MANIFEST}" if provider else f"*/*/{MANIFEST}"
    slugs = {model_slug(m) for m in models}
    # A dot directory is a record run's staging copy, never a column.
    out = [p.parent for p in sorted(root.glob(pattern)) if not p.parent.name.startswith(".")]
    if slugs:
        out = [p for p in out if p.name in slugs]
    return out
