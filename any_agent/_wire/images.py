"""Images → OpenAI content parts (``{"type": "image_url", "image_url": {"url": ...}}``).

A URL is sent as it is (``http(s)://`` or ``data:image/...``); bytes become a data URI;
a path is read here, once, when the prompt is queued (a readable regular file of at most
``max_image_bytes``, its media type read from its first bytes only: a file's name never
makes it an image, so a path to any other file is refused, not sent).
History keeps the part itself, so it stays JSON and loads into a new Client unchanged.
"""

from __future__ import annotations

import base64
import os
import stat
from collections.abc import Sequence
from typing import Any

from ..errors import ConfigurationError
from ..types import ImageBlock, TextBlock

__all__ = ["count_image_parts", "image_part", "prompt_content", "prompt_text"]

# the first bytes of each format servers' vision encoders take
_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
    (b"BM", "image/bmp"),
)


def _sniff(data: bytes) -> str | None:
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    for magic, media in _MAGIC:
        if data.startswith(magic):
            return media
    return None


def _read(path: str, max_bytes: int) -> tuple[bytes, str]:
    """The file's bytes and media type; ConfigurationError naming the path otherwise."""
    shown = repr(path)
    try:
        # O_NONBLOCK: a FIFO or a device in the path's place must not block the open
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
        with os.fdopen(fd, "rb") as f:
            info = os.fstat(f.fileno())
            if not stat.S_ISREG(info.st_mode):
                raise ConfigurationError(f"ImageBlock.path {shown} is not a regular file")
            if info.st_size > max_bytes:
                raise ConfigurationError(
                    f"ImageBlock.path {shown} is {info.st_size} bytes, over "
                    f"max_image_bytes={max_bytes}"
                )
            data = f.read(max_bytes + 1)
    except IsADirectoryError:
        raise ConfigurationError(f"ImageBlock.path {shown} is not a regular file") from None
    except OSError as exc:
        raise ConfigurationError(
            f"ImageBlock.path {shown} cannot be read: {exc.strerror or exc}"
        ) from None
    if len(data) > max_bytes:  # it grew while being read
        raise ConfigurationError(f"ImageBlock.path {shown} is over max_image_bytes={max_bytes}")
    media = _sniff(data)
    if media is None:
        raise ConfigurationError(
            f"ImageBlock.path {shown} is not an image the SDK recognises by its content "
            "(PNG, JPEG, GIF, WebP, BMP); its name does not count"
        )
    return data, media


def image_part(block: ImageBlock, max_bytes: int) -> dict[str, Any]:
    """The content part of one image; ConfigurationError naming what is wrong with it."""
    if not isinstance(block, ImageBlock):
        raise ConfigurationError(f"expected an ImageBlock, got {type(block).__name__}")
    given = [n for n in ("url", "data", "path") if getattr(block, n) is not None]
    if len(given) != 1:
        raise ConfigurationError(
            f"ImageBlock needs exactly one of url, data or path; got {given or 'none'}"
        )
    if block.url is not None:
        url = block.url
        if not isinstance(url, str):
            raise ConfigurationError(f"ImageBlock.url must be a str, got {type(url).__name__}")
        lower = url[:16].lower()
        if lower.startswith("data:"):
            if not lower.startswith("data:image/"):
                raise ConfigurationError("ImageBlock.url is a data URI that is not data:image/")
            if len(url) > max_bytes * 4 // 3 + 64:
                raise ConfigurationError(f"ImageBlock.url is over max_image_bytes={max_bytes}")
        elif not lower.startswith(("http://", "https://")):
            raise ConfigurationError(
                f"ImageBlock.url must be http(s):// or data:image/..., got {url[:40]!r}"
            )
        return {"type": "image_url", "image_url": {"url": url}}
    if block.data is not None:
        data = block.data
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise ConfigurationError(f"ImageBlock.data must be bytes, got {type(data).__name__}")
        data = bytes(data)
        if len(data) > max_bytes:
            raise ConfigurationError(
                f"ImageBlock.data is {len(data)} bytes, over max_image_bytes={max_bytes}"
            )
        media = block.media_type or _sniff(data)
        if not isinstance(media, str) or not media.startswith("image/") or "," in media:
            raise ConfigurationError(
                f"ImageBlock.media_type must be an image/* type (data given), got {media!r}"
            )
    else:
        path = block.path
        if not isinstance(path, (str, os.PathLike)):
            raise ConfigurationError(f"ImageBlock.path must be a str, got {type(path).__name__}")
        data, media = _read(str(os.fspath(path)), max_bytes)
    encoded = base64.b64encode(data).decode("ascii")
    return {"type": "image_url", "image_url": {"url": f"data:{media};base64,{encoded}"}}


def prompt_content(
    prompt: str | Sequence[TextBlock | ImageBlock], max_bytes: int
) -> str | list[dict[str, Any]]:
    """A user message's ``content``: the string itself, or text and image parts in order."""
    if isinstance(prompt, str):
        return prompt
    if isinstance(prompt, (bytes, bytearray)) or not isinstance(prompt, Sequence):
        raise ConfigurationError(
            "prompt must be a str or a list of TextBlock and ImageBlock, "
            f"got {type(prompt).__name__}"
        )
    parts: list[dict[str, Any]] = []
    for i, block in enumerate(prompt):
        if isinstance(block, TextBlock) and isinstance(block.text, str):
            parts.append({"type": "text", "text": block.text})
        elif isinstance(block, ImageBlock):
            parts.append(image_part(block, max_bytes))
        else:
            raise ConfigurationError(
                f"prompt[{i}] must be a TextBlock or an ImageBlock, got {type(block).__name__}"
            )
    if not parts:
        raise ConfigurationError("prompt is an empty list: give text or an image")
    return parts


def prompt_text(content: str | list[dict[str, Any]]) -> str:
    """The text of a user message's content (what UserPromptSubmit hooks see)."""
    if isinstance(content, str):
        return content
    return "\n".join(p["text"] for p in content if p.get("type") == "text")


def count_image_parts(messages: Sequence[dict[str, Any]]) -> int:
    """Image parts in request messages."""
    return sum(
        1
        for m in messages
        if isinstance(m.get("content"), list)
        for p in m["content"]
        if isinstance(p, dict) and p.get("type") == "image_url"
    )
