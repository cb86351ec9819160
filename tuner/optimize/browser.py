"""Render report.html in a real browser: headless Chromium (Debian's ``/usr/bin/chromium``), for
the report's tests and ``benchmarks/report_screenshot.py``.

Chromium runs with no network services of its own (no background networking, component
updates, sync or QUIC) and a fresh profile directory, removed afterwards; on a timeout its whole
process group is killed.  :func:`png_info` decodes a PNG with zlib alone, to check a screenshot
is an image and not a blank page.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import struct
import subprocess
import tempfile
import zlib
from dataclasses import dataclass
from pathlib import Path

CHROMIUM = "/usr/bin/chromium"
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
)
WINDOW = (1280, 800)
TIMEOUT = 120.0


class BrowserError(RuntimeError):
    pass


def chromium() -> str | None:
    """The Chromium binary, or None when it is not installed."""
    if os.access(CHROMIUM, os.X_OK):
        return CHROMIUM
    return shutil.which("chromium")


def run(
    args: list[str], *, window: tuple[int, int] = WINDOW, budget_ms: int = 5000,
    timeout: float = TIMEOUT,
) -> str:  # fmt: skip
    """Run headless Chromium with ``args`` and a fresh profile; its stdout.  ``budget_ms`` of
    virtual time lets the page's scripts (plotly) finish before the DOM or the pixels are read."""
    binary = chromium()
    if binary is None:
        raise BrowserError(f"{CHROMIUM} is not installed (apt-get install chromium)")
    profile = tempfile.mkdtemp(prefix="celery-tune-chromium-")
    command = [
        binary, *FLAGS, f"--user-data-dir={profile}", f"--window-size={window[0]},{window[1]}",
        f"--virtual-time-budget={budget_ms}", *args,
    ]  # fmt: skip
    try:
        proc = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True
        )
        try:
            out, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
            raise BrowserError(f"chromium did not finish in {timeout:g} s: killed") from None
        finally:
            # Renderer and GPU children a crashed browser may leave behind (its own group).
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
        if proc.returncode != 0:
            tail = err.decode(errors="replace").strip().splitlines()[-3:]
            raise BrowserError(f"chromium exited {proc.returncode}: {' | '.join(tail)}")
        return out.decode(errors="replace")
    finally:
        shutil.rmtree(profile, ignore_errors=True)


def dump_dom(page: Path, **kwargs: object) -> str:
    """The page's DOM after its scripts ran."""
    return run(["--dump-dom", page.resolve().as_uri()], **kwargs)  # type: ignore[arg-type]


def screenshot(page: Path, out: Path, **kwargs: object) -> Path:
    """A PNG of the page's first screen (the window, 1280x800 unless ``window`` says)."""
    out = out.resolve()
    out.unlink(missing_ok=True)
    run([f"--screenshot={out}", page.resolve().as_uri()], **kwargs)  # type: ignore[arg-type]
    if not out.exists():
        raise BrowserError(f"chromium wrote no screenshot to {out}")
    return out


@dataclass(frozen=True)
class PngInfo:
    width: int
    height: int
    colours: int  # distinct pixel values (counted up to a cap)
    dominant: float  # share of pixels with the most common value


def _paeth(a: int, b: int, c: int) -> int:
    p = a + b - c
    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
    if pa <= pb and pa <= pc:
        return a
    return b if pb <= pc else c


def _unfilter(data: bytes, width: int, height: int, bpp: int) -> list[bytes]:
    """The PNG's scanlines with their filters undone (PNG spec, section 9)."""
    stride = width * bpp
    rows: list[bytes] = []
    prev = bytearray(stride)
    pos = 0
    for _ in range(height):
        kind = data[pos]
        line = bytearray(data[pos + 1 : pos + 1 + stride])
        pos += 1 + stride
        if kind == 1:
            for i in range(bpp, stride):
                line[i] = (line[i] + line[i - bpp]) & 0xFF
        elif kind == 2:
            line = bytearray((x + y) & 0xFF for x, y in zip(line, prev, strict=True))
        elif kind == 3:
            for i in range(stride):
                left = line[i - bpp] if i >= bpp else 0
                line[i] = (line[i] + ((left + prev[i]) >> 1)) & 0xFF
        elif kind == 4:
            for i in range(stride):
                left = line[i - bpp] if i >= bpp else 0
                corner = prev[i - bpp] if i >= bpp else 0
                line[i] = (line[i] + _paeth(left, prev[i], corner)) & 0xFF
        elif kind != 0:
            raise BrowserError(f"PNG: unknown filter type {kind}")
        rows.append(bytes(line))
        prev = line
    return rows


def png_info(path: Path, cap: int = 4096) -> PngInfo:
    """Decode an 8-bit, non-interlaced RGB/RGBA/grey PNG (what Chromium writes) and count its
    colours.  Raises BrowserError when it is not such a PNG."""
    blob = path.read_bytes()
    if blob[:8] != b"\x89PNG\r\n\x1a\n":
        raise BrowserError(f"{path}: not a PNG (bad signature)")
    pos, idat, header = 8, bytearray(), None
    while pos < len(blob):
        (length,) = struct.unpack(">I", blob[pos : pos + 4])
        kind = blob[pos + 4 : pos + 8]
        body = blob[pos + 8 : pos + 8 + length]
        (crc,) = struct.unpack(">I", blob[pos + 8 + length : pos + 12 + length])
        if zlib.crc32(kind + body) != crc:
            raise BrowserError(f"{path}: bad CRC in chunk {kind!r}")
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
        elif kind == b"IEND":
            break
        pos += 12 + length
    if header is None:
        raise BrowserError(f"{path}: no IHDR chunk")
    width, height, depth, colour_type, _, _, interlace = header
    channels = {0: 1, 2: 3, 4: 2, 6: 4}.get(colour_type)
    if depth != 8 or interlace or channels is None:
        raise BrowserError(f"{path}: unsupported PNG (depth {depth}, colour type {colour_type})")
    rows = _unfilter(zlib.decompress(bytes(idat)), width, height, channels)
    counts: dict[bytes, int] = {}
    for row in rows:
        for x in range(0, len(row), channels):
            pixel = row[x : x + channels]
            if pixel in counts or len(counts) < cap:
                counts[pixel] = counts.get(pixel, 0) + 1
    top = max(counts.values()) if counts else 0
    return PngInfo(width, height, len(counts), top / max(1, width * height))
