"""compatibility.html in a real browser: headless Chromium draws it and runs its script.

Needs the Debian package ``chromium`` (``apt-get install -y --no-install-recommends chromium
fonts-dejavu-core``); the tests are skipped, saying so, only when no Chromium is installed.
"""

from __future__ import annotations

import re
import shutil
import struct
import subprocess
import zlib
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import pytest

from conformance.report import build_matrix, load_results, render_html

DATA = Path(__file__).parent / "data" / "report"
WIDTH, HEIGHT = 1400, 1000

CHROMIUM = next(
    (
        path
        for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
        if (path := shutil.which(name))
    ),
    None,
)
pytestmark = pytest.mark.skipif(
    CHROMIUM is None,
    reason="headless Chromium is not installed (apt-get install -y chromium fonts-dejavu-core)",
)


def _chromium(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    assert CHROMIUM is not None
    command = [
        CHROMIUM,
        "--headless",
        "--no-sandbox",  # CI runs as root
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--no-first-run",
        "--no-default-browser-check",
        "--hide-scrollbars",
        f"--user-data-dir={tmp_path / 'chromium-profile'}",
        "--virtual-time-budget=3000",
        *args,
    ]
    proc = subprocess.run(command, capture_output=True, text=True, timeout=180, check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc


def _render(tmp_path: Path, results: Path, name: str = "compatibility.html") -> Path:
    page = tmp_path / name
    page.write_text(render_html(build_matrix(load_results([results]))), encoding="utf-8")
    return page


def _decode_png(data: bytes) -> tuple[int, int, list[bytes]]:
    """Width, height and RGB rows of an 8-bit RGB/RGBA, non-interlaced PNG."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, header = 8, b"", b""
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind = data[pos + 4 : pos + 8]
        body = data[pos + 8 : pos + 8 + length]
        if kind == b"IHDR":
            header = body
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", header)
    assert (depth, interlace) == (8, 0)
    assert colour in (2, 6)  # RGB or RGBA
    bpp = 3 if colour == 2 else 4
    raw = zlib.decompress(idat)
    stride = width * bpp
    rows: list[bytes] = []
    prev = bytearray(stride)
    for y in range(height):
        start = y * (stride + 1)
        kind, line = raw[start], bytearray(raw[start + 1 : start + 1 + stride])
        for i in range(stride):
            left = line[i - bpp] if i >= bpp else 0
            up = prev[i]
            corner = prev[i - bpp] if i >= bpp else 0
            if kind == 1:
                line[i] = (line[i] + left) & 0xFF
            elif kind == 2:
                line[i] = (line[i] + up) & 0xFF
            elif kind == 3:
                line[i] = (line[i] + (left + up) // 2) & 0xFF
            elif kind == 4:
                p = left + up - corner
                pa, pb, pc = abs(p - left), abs(p - up), abs(p - corner)
                pred = left if pa <= pb and pa <= pc else (up if pb <= pc else corner)
                line[i] = (line[i] + pred) & 0xFF
        prev = line
        rgb = bytes(line) if bpp == 3 else bytes(b for j, b in enumerate(line) if j % 4 != 3)
        rows.append(rgb)
    return width, height, rows


def _pixels(rows: Sequence[bytes]) -> list[tuple[int, int, int]]:
    return [
        (row[i], row[i + 1], row[i + 2]) for row in rows[::2] for i in range(0, len(row), 6)
    ]  # every other pixel both ways is plenty


def test_screenshot_looks_like_a_matrix(tmp_path: Path) -> None:
    page = _render(tmp_path, DATA / "results")
    shot = tmp_path / "matrix.png"
    _chromium(tmp_path, f"--screenshot={shot}", f"--window-size={WIDTH},{HEIGHT}", page.as_uri())
    data = shot.read_bytes()
    assert len(data) > 30_000, len(data)
    width, height, rows = _decode_png(data)
    assert (width, height) == (WIDTH, HEIGHT)
    pixels = _pixels(rows)
    colours = Counter(pixels)
    assert len(colours) > 200, len(colours)  # text, pills, bars: not a blank page
    _background, most = colours.most_common(1)[0]
    assert len(pixels) - most > len(pixels) // 10

    def near(target: tuple[int, int, int]) -> int:
        return sum(
            n
            for colour, n in colours.items()
            if all(abs(a - b) <= 6 for a, b in zip(colour, target, strict=True))
        )

    # Coloured cells: the pass pills' green and the fail pills' red backgrounds are drawn.
    assert near((0xD7, 0xF3, 0xE0)) > 100
    assert near((0xFD, 0xD9, 0xD7)) > 50


def test_page_script_runs_and_hostile_evidence_does_not(tmp_path: Path) -> None:
    page = _render(tmp_path, DATA / "hostile")
    # The fragment opens the detail drawer on the hostile cell, so its excerpt is in the DOM.
    dom = _chromium(tmp_path, "--dump-dom", page.as_uri() + "#cell=k0").stdout
    root = re.search(r"<html[^>]*>", dom)
    assert root is not None
    assert "pwned" not in root.group(0)
    drawer = dom.split('id="drawer-body"', 1)[1]
    # Our script ran (the CSP hash matches) and showed the excerpt as text.
    assert "<pre>&lt;/script&gt;&lt;script&gt;document.documentElement.setAttribute(" in drawer
    assert "Response excerpt" in drawer
    assert re.search(r'id="shown"[^>]*>1 of 1 checks<', dom)

    # Control: the same payload in a page without our escaping does run, so the check can tell.
    control = tmp_path / "control.html"
    control.write_text(
        "<!doctype html><html><body><script>"
        "document.documentElement.setAttribute('data-pwned','control')"
        "</script></body></html>",
        encoding="utf-8",
    )
    dom = _chromium(tmp_path, "--dump-dom", control.as_uri()).stdout
    root = re.search(r"<html[^>]*>", dom)
    assert root is not None
    assert 'data-pwned="control"' in root.group(0)
