"""Vision: images given as ``image_url`` content parts (data URIs and URLs).

Each image is a tiny solid-colour PNG built here, whose colour the answer must name. For
the URL case the harness serves the PNG itself, on a fixed loopback address
(:data:`IMAGE_URL`): a recorded cassette matches a request on its JSON body, so the URL
must be the same on every machine and every run. A replay sends the recorded request and
needs no image server.

A model without vision is not failed for lacking it: a 4xx that says the model takes no
images ends the image checks as ``n/a``. A 5xx for an image is a failure wherever it comes
from (llama-server without ``--mmproj`` answers 500).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import errno
import functools
import re
import struct
import zlib
from collections.abc import AsyncIterator
from typing import Any, cast

from ..catalogue.checks import impl
from ..harness.context import Ctx, RequestTimedOut, Verdict
from ..harness.http import RawResponse
from ..harness.recording import FILE_SEARCHED, PASSWD_LINE_RX, shows_passwd, withheld
from ._prompts import base_body, message_text

__all__ = [
    "FILE_URL",
    "IMAGE_PORT",
    "IMAGE_URL",
    "MISSING_URL",
    "VISION_PROMPT",
    "serve_image",
    "solid_png",
]

#: The loopback port the harness serves its image on (fixed: the URL is part of the
#: recorded request body).
IMAGE_PORT = 8089
IMAGE_PATH = "/conformance/vision-red.png"
IMAGE_URL = f"http://127.0.0.1:{IMAGE_PORT}{IMAGE_PATH}"
#: Nothing is served there: the image server answers 404 (and with no server, nothing
#: listens).
MISSING_URL = f"http://127.0.0.1:{IMAGE_PORT}/conformance/missing.png"
FILE_URL = "file:///etc/passwd"
VISION_PROMPT = "What colour is this image? Answer with one word."
#: A short answer names a colour; a few more tokens for models that add a full stop.
_MAX_TOKENS = 8
#: How long to wait for the image port when another run holds it (a parallel session).
_BIND_WAIT_S = 10.0

_COLOURS: dict[str, tuple[int, int, int]] = {"red": (220, 20, 20), "blue": (20, 40, 220)}
#: What a 4xx says when the model takes no images at all (as opposed to this image).
NO_VISION_RX = re.compile(
    r"not an? (multimodal|vision)|no (vision|image input)|mmproj|"
    r"(image|vision|multimodal)[^.]{0,40}not (supported|enabled)|"
    r"(does not|doesn't|cannot) (support|accept|take) (image|vision|multimodal)",
    re.IGNORECASE,
)
#: A run that may be the file in an encoding (base64, hex): letters and digits mixed.
_ENCODED_RX = re.compile(
    r"(?<![A-Za-z0-9+/_-])(?=[A-Za-z+/_-]{0,200}\d)(?=[0-9+/_-]{0,200}[A-Za-z])"
    r"[A-Za-z0-9+/_-]{16,}={0,2}"
)


def solid_png(rgb: tuple[int, int, int], size: int = 16) -> bytes:
    """A ``size``×``size`` PNG of one colour (8-bit RGB, no interlace): about 80 bytes."""
    row = b"\x00" + bytes(rgb) * size  # filter type 0, then the pixels
    raw = row * size

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw, 9))
        + chunk(b"IEND", b"")
    )


def data_uri(data: bytes, media: str = "image/png") -> str:
    return f"data:{media};base64,{base64.b64encode(data).decode('ascii')}"


def image_body(model: str, url: str) -> dict[str, Any]:
    """One user message: the question, then the image."""
    content = [
        {"type": "text", "text": VISION_PROMPT},
        {"type": "image_url", "image_url": {"url": url}},
    ]
    return base_body(model, [{"role": "user", "content": content}], max_tokens=_MAX_TOKENS)


# ---- the harness's image server ---------------------------------------------------------------


#: Connections the image server keeps open at once (each waits at most _HEAD_WAIT_S for its
#: request head); more are closed at once: a flood of idle ones cannot use up the harness's
#: file descriptors.
_MAX_CLIENTS = 32
_HEAD_WAIT_S = 5.0


async def _answer(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, active: list[int]
) -> None:
    if active[0] >= _MAX_CLIENTS:
        with contextlib.suppress(OSError):
            writer.close()
        return
    active[0] += 1
    try:
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), _HEAD_WAIT_S)
        parts = head.split(b"\r\n", 1)[0].split(b" ")
        path = parts[1].decode("latin-1") if len(parts) >= 2 else ""
        if parts[0] in (b"GET", b"HEAD") and path == IMAGE_PATH:
            body = solid_png(_COLOURS["red"])
            status, kind = "200 OK", "image/png"
        else:
            body, status, kind = b"not found", "404 Not Found", "text/plain"
        writer.write(
            f"HTTP/1.1 {status}\r\ncontent-type: {kind}\r\ncontent-length: {len(body)}\r\n"
            "connection: close\r\n\r\n".encode()
            + (body if parts[0] != b"HEAD" else b"")
        )
        await writer.drain()
    except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, asyncio.TimeoutError, OSError):
        pass  # a client that sends no request head gets nothing
    finally:
        active[0] -= 1
        with contextlib.suppress(OSError):
            writer.close()


@contextlib.asynccontextmanager
async def serve_image(*, required: bool = True) -> AsyncIterator[bool]:
    """Serve :data:`IMAGE_URL` on 127.0.0.1 while the block runs; yields whether it does.

    The port is fixed, so another session may hold it for a moment: wait up to
    ``_BIND_WAIT_S`` for it, then end the check as ``error`` (``required``) or go on
    without it (yield False)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + _BIND_WAIT_S
    server: asyncio.base_events.Server | None = None
    active = [0]
    while server is None:
        try:
            server = await asyncio.start_server(
                functools.partial(_answer, active=active),
                "127.0.0.1",
                IMAGE_PORT,
                limit=8192,
                reuse_address=True,
            )
        except OSError as exc:
            if exc.errno != errno.EADDRINUSE:
                raise Verdict("error", f"cannot serve the image on {IMAGE_URL}: {exc}") from None
            if loop.time() >= deadline:
                if required:
                    raise Verdict(
                        "error",
                        f"port 127.0.0.1:{IMAGE_PORT} is taken (the check serves its image "
                        "there): free it and run again",
                    ) from None
                yield False
                return
            await asyncio.sleep(0.2)
    try:
        yield True
    finally:
        server.close()
        await server.wait_closed()


# ---- judgements ---------------------------------------------------------------------------------


async def _ask(ctx: Ctx, url: str) -> RawResponse:
    """The image request; one that passes ``--request-timeout`` comes back (a hang on the
    image is judged here, by :func:`_no_response`), not as the harness's ``error``."""
    try:
        return await ctx.chat(image_body(ctx.model, url))
    except RequestTimedOut as late:
        return late.resp


def _no_response(ctx: Ctx, resp: RawResponse, what: str) -> None:
    """A request that got no HTTP answer: a timeout is the server hanging on the image."""
    if resp.timed_out is not None:
        ctx.unreplayable = resp.error
        answer = "no complete answer" if resp.status else "no answer"
        ctx.fail(f"{what}: {answer} within {resp.timed_out:g} s ({resp.error})")
    if resp.status != 0:
        return
    error = resp.error or ""
    if "timed out" in error.lower() or "timeout" in error.lower():
        ctx.unreplayable = error
        ctx.fail(f"{what}: no answer within {ctx.target.request_timeout:g} s ({error})")
    ctx.require_2xx(resp, what)  # raises: the connection failed


def _refused_for_no_vision(ctx: Ctx, resp: RawResponse, what: str) -> None:
    """End as n/a when a 4xx says the model takes no images at all."""
    msg = resp.error_message()
    if 400 <= resp.status < 500 and NO_VISION_RX.search(msg):
        ctx.na(f"the model takes no images ({what}: HTTP {resp.status}: {msg[:160]})")


def _shown(text: str) -> str:
    """``text`` for a message or evidence, without the file's content should a server echo
    it: lines of it masked, and any long encoded run (base64, hex), whatever it holds."""
    return _ENCODED_RX.sub("[encoded data]", PASSWD_LINE_RX.sub("[a line of the file]", text))


def shows_file(resp: RawResponse) -> bool:
    """The body shows lines of ``/etc/passwd`` (in any shape :func:`shows_passwd` finds)."""
    return shows_passwd(resp.body)


def _withhold(ctx: Ctx, resp: RawResponse, leaked: bool) -> None:
    """Keep the body out of the evidence when it shows the file (or is too big to have been
    searched whole); else keep it masked."""
    if leaked:
        resp.body = withheld(resp.body)
    elif len(resp.body) > FILE_SEARCHED:
        resp.body = f"[{len(resp.body)} bytes not kept: too many to search for the file]".encode()
    else:
        resp.body = _shown(resp.text()).encode()
    if ctx.exchanges and ctx.last_response is resp:
        ctx.exchanges[-1]["response_excerpt"] = resp.excerpt()


def _names_colour(ctx: Ctx, text: str, colour: str, what: str) -> None:
    if not re.search(rf"\b{colour}\b", text, re.IGNORECASE):
        ctx.fail(f"{what}: the answer does not name the image's colour ({colour}): {text[:120]!r}")
    others = [c for c in _COLOURS if c != colour and re.search(rf"\b{c}\b", text, re.IGNORECASE)]
    if others:
        ctx.fail(f"{what}: the answer names {others[0]} too, for a {colour} image: {text[:120]!r}")


#: The data-URI check asks about two images of different colours: a model that ignores the
#: image and always names one colour (a text-only model behind a server that drops image
#: parts) gets one of them wrong.
DATA_URI_COLOURS = ("blue", "red")


async def _understood(ctx: Ctx, url: str, colour: str, what: str) -> None:
    resp = await _ask(ctx, url)
    _no_response(ctx, resp, what)
    if resp.status >= 500:
        ctx.fail(f"{what}: HTTP {resp.status}: {resp.error_message()[:200]}")
    _refused_for_no_vision(ctx, resp, what)
    ctx.require_2xx(resp, what)
    data = resp.json()
    if not isinstance(data, dict) or not isinstance(data.get("choices"), list):
        ctx.fail(f"{what}: the response has no choices")
    if not data["choices"] or not isinstance(data["choices"][0], dict):
        ctx.fail(f"{what}: the response has no choices")
    message = data["choices"][0].get("message")
    content = message.get("content") if isinstance(message, dict) else None
    if not isinstance(content, str):
        ctx.fail(f"{what}: choices[0].message.content is {type(content).__name__}, not text")
    _names_colour(ctx, content, colour, what)


async def _refused(ctx: Ctx, url: str, what: str) -> RawResponse:
    """Send ``url`` as the image and require a 4xx (n/a when the model takes no images)."""
    resp = await _ask(ctx, url)
    _no_response(ctx, resp, what)
    _judge_refusal(ctx, resp, what)
    return resp


def _judge_refusal(ctx: Ctx, resp: RawResponse, what: str) -> None:
    """Require a 4xx: a 2xx took the image as fine, a 5xx is the server failing."""
    if 200 <= resp.status < 300:
        text = ""
        data = resp.json()
        if isinstance(data, dict) and data.get("choices"):
            with contextlib.suppress(AttributeError, IndexError, KeyError, TypeError):
                text = str(message_text(data))
        ctx.fail(f"{what}: HTTP {resp.status}, answered as if it were fine: {_shown(text)[:120]!r}")
    if resp.status >= 500 or resp.status < 400:
        msg = _shown(resp.error_message())
        ctx.fail(f"{what}: HTTP {resp.status}" + (f": {msg[:200]}" if msg else ""))


# ---- checks -------------------------------------------------------------------------------------


@impl("vision.image-data-uri")
async def image_data_uri(ctx: Ctx) -> None:
    for colour in DATA_URI_COLOURS:
        url = data_uri(solid_png(_COLOURS[colour]))
        await _understood(ctx, url, colour, f"data URI image ({colour})")


@impl("vision.image-data-uri", "sdk")
async def image_data_uri_sdk(ctx: Ctx) -> None:
    from any_agent import ConfigurationError, HTTPStatusError, ImageBlock, TextBlock

    overrides: dict[str, Any] = {}
    for colour in DATA_URI_COLOURS:
        blocks = [TextBlock(VISION_PROMPT), ImageBlock(data=solid_png(_COLOURS[colour]))]
        run = await _sdk_image_run(ctx, blocks, **overrides)
        if isinstance(run.error, ConfigurationError) and "does not say" in str(run.error):
            # the SDK takes images only where the server says it does; it did not say
            ctx.warn(
                "the server does not say the model takes images: the SDK sends them only with "
                "AgentOptions(vision=True)"
            )
            overrides = {"vision": True}
            run = await _sdk_image_run(ctx, blocks, **overrides)
        err = run.error
        if isinstance(err, ConfigurationError) and "images" in str(err):
            ctx.na(f"the server says the model takes no images; the SDK refused to send it: {err}")
        if isinstance(err, HTTPStatusError):
            status = err.status
            if 400 <= status < 500 and NO_VISION_RX.search(str(err)):
                ctx.na(f"the model takes no images (HTTP {status}: {str(err)[:160]})")
            ctx.fail(f"{type(err).__name__}: {err}")
        if err is not None:
            ctx.fail(f"{type(err).__name__}: {err}")
        _names_colour(ctx, run.text, colour, f"SDK data URI image ({colour})")


async def _sdk_image_run(ctx: Ctx, blocks: list[Any], **overrides: Any) -> Any:
    # the context guard counts an image as ~1,000 tokens whatever its size: a 16x16 PNG on a
    # small window is not what is judged here
    overrides.setdefault("on_context_overflow", "off")
    try:
        return await ctx.sdk_run(cast(Any, blocks), max_tokens=_MAX_TOKENS, **overrides)
    finally:
        # the evidence is JSON: name the image rather than keep the block object
        req = ctx.last_request
        if isinstance(req, dict) and req.get("prompt") is blocks:
            req["prompt"] = [VISION_PROMPT, "<ImageBlock: a 16x16 PNG given as bytes>"]


@impl("vision.image-url")
async def image_url(ctx: Ctx) -> None:
    from any_agent._wire.credentials import is_loopback

    if ctx.target.mode == "replay":
        await _understood(ctx, IMAGE_URL, "red", "image URL")
        return
    if not is_loopback(ctx.target.base_url):
        ctx.na(
            f"the server is not on this machine: it cannot fetch the image the harness serves "
            f"at {IMAGE_URL}"
        )
    async with serve_image():
        try:
            await _understood(ctx, IMAGE_URL, "red", "image URL")
        except Verdict as verdict:
            if verdict.outcome == "fail" and "HTTP 4" in verdict.message:
                raise Verdict(
                    "fail",
                    f"{verdict.message} (the harness served the image at {IMAGE_URL}; a server "
                    "in a container cannot reach this machine's loopback)",
                ) from None
            raise


@impl("vision.malformed-image")
async def malformed_image(ctx: Ctx) -> None:
    bogus = data_uri(b"this is not an image, only text that claims to be a PNG.")
    resp = await _refused(ctx, bogus, "an image/png data URI of text bytes")
    _refused_for_no_vision(ctx, resp, "malformed image")


@impl("vision.url-unreachable")
async def url_unreachable(ctx: Ctx) -> None:
    what = f"image URL {MISSING_URL} (nothing is served there)"
    if ctx.target.mode == "replay":
        resp = await _refused(ctx, MISSING_URL, what)
    else:
        async with serve_image(required=False) as serving:
            resp = await _ask(ctx, MISSING_URL)
        _no_response(ctx, resp, what)
        if not serving and 200 <= resp.status < 300:
            # another process holds the port: what it serves there is not known to be nothing
            raise Verdict(
                "error",
                f"{what}: HTTP {resp.status}, but another process holds port 127.0.0.1:"
                f"{IMAGE_PORT} and may serve an image there: free it and run again",
            )
        _judge_refusal(ctx, resp, what)
    _refused_for_no_vision(ctx, resp, "unfetchable image URL")


@impl("vision.file-url-refused")
async def file_url_refused(ctx: Ctx) -> None:
    resp = await _ask(ctx, FILE_URL)
    leaked = shows_file(resp)
    # judged on the server's own bytes, shown only masked: the body may be the file
    judged = RawResponse(resp.method, resp.path, None, resp.status, resp.headers, resp.body,
                         error=resp.error, timed_out=resp.timed_out)  # fmt: skip
    _withhold(ctx, resp, leaked)
    if leaked:
        ctx.fail(f"the answer shows the content of {FILE_URL}: the server read its own disk")
    _no_response(ctx, judged, f"image URL {FILE_URL}")
    _judge_refusal(ctx, judged, f"image URL {FILE_URL}")
    if NO_VISION_RX.search(judged.error_message()):
        ctx.note("the model takes no images: refused before any image was read")
