"""MCP tool results (content items, ``isError``, ``structuredContent``) → ToolOutput:
text items joined, images as ImageBlocks, structured content as JSON when no text came."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping, Sequence
from typing import Any

from ..errors import ToolResultError
from ..tools import ToolOutput, result_to_text
from ..types import ImageBlock

__all__ = ["to_output"]


def _item_text(item: Mapping[str, Any], images: list[ImageBlock]) -> str | None:
    kind = item.get("type")
    if kind == "text":
        text = item.get("text")
        return text if isinstance(text, str) else None
    if kind == "image":
        data, mime = item.get("data"), item.get("mimeType") or item.get("mime_type")
        if not isinstance(data, str) or not isinstance(mime, str):
            return "[an image without base64 'data' and 'mimeType' was dropped]"
        try:
            raw = base64.b64decode(data, validate=True)
        except (binascii.Error, ValueError):
            return "[an image whose data is not valid base64 was dropped]"
        images.append(ImageBlock(data=raw, media_type=mime))
        return None
    if kind == "resource":
        resource = item.get("resource")
        if isinstance(resource, Mapping):
            if isinstance(resource.get("text"), str):
                return str(resource["text"])
            return f"[binary resource {resource.get('uri')!s:.200} not shown]"
    if kind == "resource_link":
        return f"[resource link: {item.get('uri')!s:.200}]"
    if kind == "audio":
        return f"[audio ({item.get('mimeType')!s:.50}) not shown]"
    return f"[content of type {kind!s:.50} not shown]"


def to_output(content: Any, is_error: Any, structured: Any = None) -> ToolOutput:
    """One MCP tool result as the ToolOutput the model sees."""
    images: list[ImageBlock] = []
    texts: list[str] = []
    items: Sequence[Any] = content if isinstance(content, (list, tuple)) else ()
    if content is not None and not isinstance(content, (list, tuple)):
        texts.append("[the result's 'content' was not a list]")
        is_error = True
    for item in items:
        if not isinstance(item, Mapping):
            texts.append("[a content item that is not an object was dropped]")
            continue
        text = _item_text(item, images)
        if text is not None:
            texts.append(text)
    if not texts and structured is not None:
        try:
            texts.append(result_to_text(structured))
        except ToolResultError:
            texts.append("[structured content that is not JSON was dropped]")
    return ToolOutput("\n".join(texts), is_error=is_error is True, images=tuple(images))
