"""Secrets: credentials in a base URL, every encoded form of a secret, and their scrubbing.

One place derives what a secret can look like once a server echoes it back (JSON-escaped,
URL-encoded, base64 at any alignment, HTML-escaped) and removes all of it; the SDK's errors
and DEBUG logs and the conformance suite's cassettes and reports all scrub through
:func:`scrub`.
"""

from __future__ import annotations

import base64
import functools
import html
import ipaddress
import json
import logging
import re
import threading
from collections.abc import Iterable
from urllib.parse import parse_qsl, quote, quote_plus, unquote, unquote_plus, urlsplit, urlunsplit

__all__ = [
    "is_loopback",
    "normalize_url",
    "redact_url",
    "register_log_secrets",
    "scrub",
    "secret_forms",
    "split_query",
    "url_secrets",
]

#: Query parameter names (or parts of them, split at ``_ - .``) whose value is a credential:
#: ``key``, ``api_key``, ``x-api-key``, ``access_token``, ``apiKey``, ``sig``...
_SECRET_WORDS = frozenset(
    {"key", "apikey", "token", "secret", "password", "passwd", "pwd", "auth", "sig"}
    | {"signature", "credential", "credentials", "session", "code"}
)
_SECRET_SUFFIXES = ("key", "token", "secret", "password")
#: Raw secrets shorter than this are not scrubbed (they would match ordinary text);
#: encoded forms are derived only from secrets at least ``_MIN_ENCODED`` long.
_MIN_RAW = 4
_MIN_ENCODED = 8


def normalize_url(url: str) -> str:
    """``url`` with its scheme and host in lower case (``HTTP://Host`` → ``http://host``), so
    that every later comparison of the scheme sees one spelling."""
    parts = urlsplit(url.strip())
    netloc = parts.netloc
    userinfo, at, hostport = netloc.rpartition("@")
    netloc = f"{userinfo}{at}{hostport.lower()}"
    return urlunsplit((parts.scheme.lower(), netloc, parts.path, parts.query, parts.fragment))


def is_loopback(url: str) -> bool:
    """Whether ``url``'s host is this machine without asking DNS: ``localhost`` (which
    ``/etc/hosts`` names), an address in ``127.0.0.0/8``, ``::1`` or ``::ffff:127.x.y.z``.

    Names that only a resolver maps to loopback — ``foo.localhost``, ``localhost.``,
    ``localhost.localdomain`` — are not: a stock glibc resolver (``hosts: files dns``) asks the
    DNS server for them, which may answer with any address. Short IPv4 forms (``127.1``) are
    not either (a conservative answer: the plain-http key guard refuses them)."""
    host = (urlsplit(url).hostname or "").strip("[]").lower()
    if host == "localhost":
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped.is_loopback  # (Python < 3.13 says False)
    return address.is_loopback


def _is_secret_param(name: str) -> bool:
    lowered = name.lower()
    words = re.split(r"[_\-.]", lowered)
    return lowered.endswith(_SECRET_SUFFIXES) or any(w in _SECRET_WORDS for w in words)


def url_secrets(url: str) -> tuple[str, ...]:
    """The credentials written into ``url``: user name and password, secret query values."""
    parts = urlsplit(url)
    found = [parts.password or "", parts.username or ""]
    found += [unquote(s) for s in found]
    for name, value in parse_qsl(parts.query, keep_blank_values=True):
        if _is_secret_param(name):
            found.append(value)
    for piece in parts.query.split("&"):  # the value as written, before percent-decoding
        name, _, value = piece.partition("=")
        if _is_secret_param(unquote_plus(name)):  # ``%6Bey`` is ``key`` to the server
            found.append(value)
    return tuple(dict.fromkeys(s for s in found if len(s) >= _MIN_RAW))


def redact_url(url: str, mask: str = "***") -> str:
    """``url`` with its user name, password and secret query values replaced by ``mask``
    (what ``repr``, errors and ``.url`` show)."""
    parts = urlsplit(url)
    netloc = parts.netloc
    if "@" in netloc:
        netloc = f"{mask}@{netloc.rpartition('@')[2]}"
    query = "&".join(
        f"{name}={mask}" if eq and _is_secret_param(unquote_plus(name)) else f"{name}{eq}{value}"
        for name, eq, value in (p.partition("=") for p in parts.query.split("&") if p)
    )
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def split_query(url: str) -> tuple[str, dict[str, str]]:
    """``url`` without its query, and the query as parameters (the openai client appends
    paths to the base URL, which would land after a query written into it)."""
    parts = urlsplit(url)
    base = urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))
    return base, dict(parse_qsl(parts.query, keep_blank_values=True))


def _base64_cores(raw: bytes) -> set[str]:
    """The characters of base64 text that encode only ``raw``, for each of the three byte
    alignments it can have inside a longer encoded value (``user:key`` in Basic auth)."""
    cores: set[str] = set()
    n = len(raw)
    for offset in range(3):
        encoded = base64.b64encode(b"\0" * offset + raw).decode("ascii")
        start = -(-offset * 8 // 6)  # the first character with no bits of the padding
        end = (offset + n) * 8 // 6  # past the last character made only of ``raw``'s bits
        core = encoded[start:end]
        cores.add(core)
        cores.add(core.translate(str.maketrans("+/", "-_")))  # the URL-safe alphabet
        if offset == 0:
            cores.add(encoded)
            cores.add(base64.urlsafe_b64encode(raw).decode("ascii"))
    return cores


@functools.lru_cache(maxsize=256)
def secret_forms(secret: str) -> frozenset[str]:
    """Every spelling of ``secret`` a server might echo back: as is, JSON-escaped (with and
    without ``\\uXXXX`` for non-ASCII, with ``\\/``), URL-encoded (``+`` for spaces; the
    scrubber matches ``%XX`` in either case), JSON-escaped URL-encoded, HTML-escaped, and
    base64 (standard and URL-safe alphabet, at every alignment). Empty for a secret too
    short to scrub."""
    if len(secret) < _MIN_RAW:
        return frozenset()
    forms = {secret}
    if len(secret) >= _MIN_ENCODED:
        # (the hex digits of a %XX escape match in either case: see _pattern)
        encoded = {quote(secret, safe=""), quote(secret, safe="/"), quote_plus(secret)}
        forms |= encoded
        for text in (secret, *encoded):
            for ascii_only in (True, False):
                escaped = json.dumps(text, ensure_ascii=ascii_only)[1:-1]
                forms |= {escaped, escaped.replace("/", "\\/")}
        forms.add(html.escape(secret))
        forms |= _base64_cores(secret.encode("utf-8"))
    return frozenset(f for f in forms if len(f) >= _MIN_RAW)


@functools.lru_cache(maxsize=64)
def _pattern(secrets: tuple[str, ...]) -> re.Pattern[str] | None:
    forms = set().union(*(secret_forms(s) for s in secrets)) if secrets else set()
    if not forms:
        return None
    # longest first: a form that contains another is removed whole
    return re.compile("|".join(_literal(f) for f in sorted(forms, key=len, reverse=True)))


def _literal(form: str) -> str:
    """A pattern for ``form`` in which each ``%XX`` escape matches in either case."""
    pieces = re.split(r"(%[0-9A-Fa-f]{2})", form)
    return "".join(
        "%" + "".join(f"[{c.upper()}{c.lower()}]" if c.isalpha() else c for c in p[1:])
        if i % 2
        else re.escape(p)
        for i, p in enumerate(pieces)
    )


#: A run of at least this many characters of a secret is a fragment of it and is masked too
#: (a message cut to a length, or a value split across two stream events, shows part of
#: a key: what stays visible is shorter than this); applies to secrets at least
#: ``_MIN_FRAGMENTED`` long, raw or JSON-escaped.
_FRAGMENT = 12
_MIN_FRAGMENTED = 16


@functools.lru_cache(maxsize=64)
def _fragments(
    secrets: tuple[str, ...],
) -> tuple[re.Pattern[str], dict[str, list[tuple[str, int]]]] | None:
    """A pattern for every ``_FRAGMENT``-character window of each secret (raw and
    JSON-escaped), and where each window sits in which spelling (to extend a match)."""
    where: dict[str, list[tuple[str, int]]] = {}
    for secret in secrets:
        if len(secret) < _MIN_FRAGMENTED:
            continue
        escaped = json.dumps(secret)[1:-1]
        for form in {secret, escaped, escaped.replace("/", "\\/")}:
            for i in range(len(form) - _FRAGMENT + 1):
                where.setdefault(form[i : i + _FRAGMENT], []).append((form, i))
    if not where:
        return None
    return re.compile("|".join(re.escape(w) for w in where)), where


def _mask_fragments(text: str, secrets: tuple[str, ...], mask: str) -> str:
    found = _fragments(secrets)
    if found is None:
        return text
    pattern, where = found
    out: list[str] = []
    pos = 0
    while (m := pattern.search(text, pos)) is not None:
        end = m.end()
        for form, i in where[m.group(0)]:  # the longest run of that spelling from here
            k = 0
            rest = form[i + _FRAGMENT :]
            while k < len(rest) and m.end() + k < len(text) and text[m.end() + k] == rest[k]:
                k += 1
            end = max(end, m.end() + k)
        out += (text[pos : m.start()], mask)
        pos = end
    out.append(text[pos:])
    return "".join(out)


def scrub(text: str, secrets: Iterable[str], mask: str = "***") -> str:
    """``text`` with every encoded form of every secret replaced by ``mask``, and every run
    of ``_FRAGMENT`` or more of a secret's characters (a key cut short or split in two)."""
    key = tuple(sorted({s for s in secrets if s}))
    pattern = _pattern(key)
    if pattern is not None:
        text = pattern.sub(mask, text)
    return _mask_fragments(text, key, mask)


# ---- logs ------------------------------------------------------------------------------------

#: Loggers that can carry a request URL, headers or body (``httpx2`` logs every URL at INFO,
#: ``httpcore2`` response headers at DEBUG, ``openai`` request options at DEBUG).
_LOGGERS = (
    "any_agent",
    "any_agent.hooks",
    "httpx2",
    "httpcore2.connection",
    "httpcore2.http11",
    "httpcore2.http2",
    "httpcore2.proxy",
    "openai",
    "openai._base_client",
    "openai._response",
)


class _ScrubFilter(logging.Filter):
    """Rewrites a record whose rendered message holds a registered secret."""

    def __init__(self) -> None:
        super().__init__()
        self.secrets: set[str] = set()

    def filter(self, record: logging.LogRecord) -> bool:
        if self.secrets:
            try:
                message = record.getMessage()
            except Exception:  # a broken record is the logging module's to report
                return True
            clean = scrub(message, tuple(self.secrets))
            if clean != message:
                record.msg, record.args = clean, None
        return True


_FILTER = _ScrubFilter()
_FILTER_LOCK = threading.Lock()


def register_log_secrets(secrets: Iterable[str]) -> None:
    """Scrub ``secrets`` (in every encoded form) from the HTTP and SDK loggers' records."""
    new = {s for s in secrets if len(s) >= _MIN_RAW}
    if not new:
        return
    with _FILTER_LOCK:
        if not _FILTER.secrets:
            for name in _LOGGERS:
                logging.getLogger(name).addFilter(_FILTER)
        _FILTER.secrets |= new
