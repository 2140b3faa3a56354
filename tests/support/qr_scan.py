"""Reading a QR code back from a PNG file as a scanner would: a small PNG reader for the
images segno writes (greyscale, bit depth 1) and browsers' screenshots (RGB or RGBA, bit depth
8), with every row filter of PNG (ISO/IEC 15948 section 9), and zxing-cpp's QR decoder on the
pixels."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import zxingcpp

CHANNELS = {0: 1, 2: 3, 6: 4}  # greyscale, RGB, RGBA


def _chunks(data: bytes) -> tuple[bytes, bytes]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat, header = 8, bytearray(), b""
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos:pos + 4])
        kind, body = data[pos + 4:pos + 8], data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            header = body
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    return header, bytes(idat)


def _unfilter(kind: int, line: bytearray, previous: bytes, bpp: int) -> bytes:
    for x in range(len(line)):
        left = line[x - bpp] if x >= bpp else 0
        up, corner = previous[x], previous[x - bpp] if x >= bpp else 0
        if kind == 1:
            line[x] = (line[x] + left) & 0xFF
        elif kind == 2:
            line[x] = (line[x] + up) & 0xFF
        elif kind == 3:
            line[x] = (line[x] + (left + up) // 2) & 0xFF
        elif kind == 4:
            p = left + up - corner
            pa, pb, pc = abs(p - left), abs(p - up), abs(p - corner)
            line[x] = (line[x] + (left if pa <= pb and pa <= pc else up if pb <= pc else corner)) & 0xFF
    return bytes(line)


def png_pixels(path: Path) -> tuple[int, int, bytes]:
    """Width, height and one grey byte per pixel (0 black, 255 white)."""
    header, idat = _chunks(path.read_bytes())
    width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", header)
    channels = CHANNELS[colour]
    assert interlace == 0 and (depth == 8 or (depth == 1 and channels == 1)), "unsupported PNG"
    stride = (width * channels * depth + 7) // 8
    bpp = max(1, channels * depth // 8)
    raw, rows, previous = zlib.decompress(idat), [], bytes(stride)
    for y in range(height):
        start = y * (stride + 1)
        previous = _unfilter(raw[start], bytearray(raw[start + 1:start + 1 + stride]), previous, bpp)
        if depth == 1:
            rows.append(bytes(255 if previous[x // 8] >> (7 - x % 8) & 1 else 0 for x in range(width)))
        else:
            rows.append(previous[::channels])  # the first channel: black and white either way
    return width, height, b"".join(rows)


def scan_qr(path: Path) -> list[tuple[str, str]]:
    """The text and error correction level of each QR code zxing-cpp finds in the image."""
    width, height, pixels = png_pixels(path)
    image = memoryview(pixels).cast("B", shape=[height, width])
    return [(found.text, found.ec_level) for found in zxingcpp.read_barcodes(
        image, formats=zxingcpp.BarcodeFormat.QRCode)]
