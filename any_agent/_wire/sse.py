"""Server-sent events framing: bytes in, ``(field, value)`` events out. Pure and incremental.

Handles LF, CRLF and CR-only line ends (as the WHATWG spec allows; a CRLF split across reads
is one line end), ``:`` comments, ``data:`` with or without the space, multi-line ``data``,
unknown fields, and single events of many megabytes (pieces are kept in a list and joined
once, so framing stays linear). One line or event larger than ``max_event_bytes`` raises
:class:`~any_agent.errors.LimitExceededError` instead of growing without bound.

Two non-SSE shapes seen in the wild are passed through as their own kinds: llama.cpp before
Sep 2025 wrote ``error: {...}`` lines, and some proxies forward a backend's raw JSON line
without ``data:``; both come out as ``("error", text)`` / ``("data", text)``.
"""

from __future__ import annotations

from ..errors import LimitExceededError

__all__ = ["SSEDecoder"]

_DATA = b"data:"
_BOM = b"\xef\xbb\xbf"  # one leading U+FEFF is ignored (WHATWG), however the bytes are split
_ERROR = b"error:"


class SSEDecoder:
    """Incremental SSE framer. ``feed`` returns completed events as ``(kind, payload)``.

    ``kind`` is ``"data"`` (one dispatched event's data, lines joined by ``\\n``) or
    ``"error"`` (a legacy ``error:`` line). Comments and other fields are dropped.
    """

    __slots__ = (
        "_after_cr",
        "_data",
        "_data_size",
        "_max",
        "_partial",
        "_partial_size",
        "_start",
    )

    def __init__(self, max_event_bytes: int = 32 * 1024 * 1024) -> None:
        self._max = max_event_bytes
        self._partial: list[bytes] = []  # pieces of an unterminated line
        self._partial_size = 0
        self._data: list[bytes] = []  # data lines of the event being built
        self._data_size = 0
        self._after_cr = False  # the last read ended with CR: a LF opening the next ends it
        self._start: bytes | None = b""  # the stream's first bytes while they may be a BOM

    @property
    def idle(self) -> bool:
        """Whether no line or event is half-read (the next read starts afresh)."""
        return not (self._partial or self._data or self._after_cr or self._start)

    def _too_large(self) -> LimitExceededError:
        self._partial, self._data = [], []
        self._partial_size = self._data_size = 0
        return LimitExceededError("max_event_bytes", self._max, "one event (or line)")

    def feed(self, chunk: bytes) -> list[tuple[str, bytes]]:
        if self._start is not None:
            chunk = self._start + chunk
            if len(chunk) < 3 and _BOM.startswith(chunk):
                self._start = chunk
                return []
            self._start = None
            if chunk.startswith(_BOM):
                chunk = chunk[3:]
        if (
            chunk[-2:] == b"\n\n"
            and chunk[:6] == b"data: "
            and not self._partial
            and not self._data
            and chunk.count(b"\n") == 2
            and b"\r" not in chunk
            and len(chunk) - 2 <= self._max
        ):
            self._after_cr = False
            return [("data", chunk[6:-2])]  # the common case: one whole event per read
        out: list[tuple[str, bytes]] = []
        if not chunk:
            return out
        if self._after_cr:
            self._after_cr = False
            if chunk[:1] == b"\n":  # the second half of a CRLF split across reads
                chunk = chunk[1:]
                if not chunk:
                    return out
        if b"\r" in chunk:
            # a lone CR ends a line too; a CR ending this read may be half of a CRLF
            self._after_cr = chunk[-1:] == b"\r"
            chunk = chunk.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        if b"\n" not in chunk:
            self._partial.append(chunk)
            self._partial_size += len(chunk)
            if self._partial_size > self._max:
                raise self._too_large()
            return out
        if self._partial:
            self._partial.append(chunk)
            chunk = b"".join(self._partial)
            self._partial = []
            self._partial_size = 0
        lines = chunk.split(b"\n")
        chunk = b""  # a multi-megabyte line is held once (in lines), not twice
        tail = lines.pop()
        if tail:
            if len(tail) > self._max:
                raise self._too_large()
            self._partial.append(tail)
            self._partial_size = len(tail)
        data = self._data
        for line in lines:
            if len(line) > self._max:  # as when the line arrives in pieces
                raise self._too_large()
            if not line:
                if data:
                    out.append(("data", data[0] if len(data) == 1 else b"\n".join(data)))
                    data.clear()
                    self._data_size = 0
                continue
            if line.startswith(_DATA):
                value = line[6:] if line[5:6] == b" " else line[5:]  # one copy, not two
                data.append(value)
                self._data_size += len(value) + 1  # the newline joining it to the next
                if self._data_size - 1 > self._max:
                    raise self._too_large()
            elif line[:1] == b":":
                continue
            elif line.startswith(_ERROR):
                out.append(("error", line[6:].strip()))
            elif line[:1] in (b"{", b"["):
                # a raw JSON line with no field name: a proxy forwarding a backend body
                data.append(line)
                self._data_size += len(line) + 1
                if self._data_size - 1 > self._max:
                    raise self._too_large()
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
            self._data_size = 0
        return out
