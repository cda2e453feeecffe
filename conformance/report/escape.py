"""The one set of escaping functions every renderer uses for values from result files.

Result files are contributed input: any string in them may try to become a link, an image,
raw HTML, a code span that swallows its neighbours, a table cell boundary or a new line.
Markdown output goes through :func:`md_text` / :func:`md_inline` / :func:`md_code`, HTML
through :func:`html_text` / :func:`html_inline` / :func:`css_token`, and the only links
either renders are the ones :func:`safe_link` lets through.
"""

from __future__ import annotations

import re
from html import escape

__all__ = [
    "css_token",
    "html_inline",
    "html_text",
    "json_visible",
    "md_code",
    "md_inline",
    "md_text",
    "safe_link",
    "visible",
]

#: Characters that open Markdown inline markup mid-line (emphasis, code, links and images,
#: table cells, GFM strikethrough, GitHub math), backslash-escaped. Block markers (``#``,
#: ``-``, ``>``) cannot start a line: every value is joined onto one line after a prefix.
_MD_SPECIAL = "\\`*_[]|~$"
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
#: http(s) URLs from RFC 3986's unreserved and reserved sets, minus the characters that end
#: a Markdown autolink or a table cell, or open markup: ``<>()|`"'`` and whitespace.
_LINK = re.compile(r"^https?://[A-Za-z0-9\-._~:/?#\[\]@!$&*+,;=%]{1,2000}$")


#: Bidirectional overrides and isolates, zero-width characters and the BOM: invisible, they
#: make a name display as another (``evil\u202egpj.exe``) or two names look alike.
_INVISIBLE = re.compile("[\u061c\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff]")


def visible(text: str) -> str:
    """``text`` with every invisible formatting character shown as ``<U+XXXX>``."""
    return _INVISIBLE.sub(lambda m: f"<U+{ord(m.group()):04X}>", text)


def json_visible(text: str) -> str:
    """JSON ``text`` with invisible formatting characters written as ``\\uXXXX`` escapes: the
    same data once parsed, and a viewer shows them (they occur only inside strings)."""
    return _INVISIBLE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def _one_line(text: str) -> str:
    """Control characters and every run of whitespace (newlines included) become one space;
    invisible formatting characters become visible."""
    return re.sub(r"\s+", " ", _CONTROL.sub(" ", visible(str(text))))


def _md_plain(text: str) -> str:
    text = _one_line(text)
    for char, entity in (("&", "&amp;"), ("<", "&lt;"), (">", "&gt;")):
        text = text.replace(char, entity)
    return "".join("\\" + c if c in _MD_SPECIAL else c for c in text)


def md_text(text: str) -> str:
    """Arbitrary text shown literally in Markdown, on one line, safe in a table cell."""
    return _md_plain(text).strip()


def md_code(text: str) -> str:
    """A code span that holds any content: the fence is longer than any backtick run inside
    it, and pipes are escaped (GFM splits table cells on them even inside code)."""
    text = _one_line(text).strip().replace("|", "\\|")
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if text.startswith("`") or text.endswith("`") or not text.strip() else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def md_inline(text: str) -> str:
    """Like :func:`md_text`, but balanced `backtick spans` stay code spans (titles use them)."""
    parts = _one_line(text).split("`")
    if len(parts) < 3 or len(parts) % 2 == 0:
        return md_text(text)
    return "".join(
        md_code(part) if i % 2 and part.strip() else _md_plain(part) for i, part in enumerate(parts)
    ).strip()


def safe_link(url: str | None) -> str | None:
    """``url`` when it is a plain http(s) URL that can be rendered as a link, else ``None``."""
    if url and _LINK.fullmatch(url):
        return url
    return None


def html_text(text: object) -> str:
    """Text for HTML content or a quoted attribute value."""
    return escape(visible(str(text)), quote=True)


def html_inline(text: str) -> str:
    """Escaped text in which balanced `backtick spans` become ``<code>``."""
    parts = text.split("`")
    if len(parts) < 3 or len(parts) % 2 == 0:
        return html_text(text)
    return "".join(
        f"<code>{html_text(part)}</code>" if i % 2 and part.strip() else html_text(part)
        for i, part in enumerate(parts)
    )


def css_token(text: str | None) -> str:
    """A value usable inside a class name: only ``[A-Za-z0-9-]``, so it adds no other class."""
    return re.sub(r"[^A-Za-z0-9-]+", "", text or "")[:40] or "unknown"
