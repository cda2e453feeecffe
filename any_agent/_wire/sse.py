"""Server-sent events framing: bytes in, ``(field, value)`` events out. Pure and incremental.

Handles LF and CRLF line ends (also a CRLF split across reads), ``:`` comments, ``data:``
with or without the space, multi-line ``data``, unknown fields, and single events of many
megabytes (pieces are kept in a list and joined once, so framing stays linear).

Two non-SSE shapes seen in the wild are passed through as their own kinds: llama.cpp before
Sep 2025 wrote ``error: {...}`` lines, and some proxies forward a backend's raw JSON line
without ``data:``; both come out as ``("error", text)`` / ``("data", text)``.
"""

from __future__ import annotations

__all__ = ["SSEDecoder"]

_DATA = b"data:"
_ERROR = b"error:"


class SSEDecoder:
    """Incremental SSE framer. ``feed`` returns completed events as ``(kind, payload)``.

    ``kind`` is ``"data"`` (one dispatched event's data, lines joined by ``\\n``) or
    ``"error"`` (a legacy ``error:`` line). Comments and other fields are dropped.
    """

    __slots__ = ("_data", "_partial")

    def __init__(self) -> None:
        self._partial: list[bytes] = []  # pieces of an unterminated line
        self._data: list[bytes] = []  # data lines of the event being built

    @property
    def idle(self) -> bool:
        """Whether no line or event is half-read (the next read starts afresh)."""
        return not (self._partial or self._data)

    def feed(self, chunk: bytes) -> list[tuple[str, bytes]]:
        if (
            chunk[-2:] == b"\n\n"
            and chunk[:6] == b"data: "
            and not self._partial
            and not self._data
            and chunk.count(b"\n") == 2
        ):
            return [("data", chunk[6:-2])]  # the common case: one whole event per read
        out: list[tuple[str, bytes]] = []
        if not chunk:
            return out
        if b"\n" not in chunk:
            self._partial.append(chunk)
            return out
        if self._partial:
            self._partial.append(chunk)
            chunk = b"".join(self._partial)
            self._partial = []
        lines = chunk.split(b"\n")
        tail = lines.pop()
        if tail:
            self._partial.append(tail)
        data = self._data
        for line in lines:
            if line[-1:] == b"\r":
                line = line[:-1]
            if not line:
                if data:
                    out.append(("data", data[0] if len(data) == 1 else b"\n".join(data)))
                    data.clear()
                continue
            if line.startswith(_DATA):
                value = line[5:]
                if value[:1] == b" ":
                    value = value[1:]
                data.append(value)
            elif line[:1] == b":":
                continue
            elif line.startswith(_ERROR):
                out.append(("error", line[6:].strip()))
            elif line[:1] in (b"{", b"["):
                # a raw JSON line with no field name: a proxy forwarding a backend body
                data.append(line)
            # other fields (event:, id:, retry:) carry nothing we use
        return out

    def close(self) -> list[tuple[str, bytes]]:
        """Flush at end of stream: a last event without its blank line still counts."""
        out: list[tuple[str, bytes]] = []
        if self._partial:
            out = self.feed(b"\n")
        if self._data:
            data = self._data
            out.append(("data", data[0] if len(data) == 1 else b"\n".join(data)))
            self._data = []
        return out
