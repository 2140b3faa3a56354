"""Reading a QR code back from a PNG file as a scanner would: a small PNG reader for the
greyscale images segno writes (bit depth 1 or 8, every row filter of PNG, ISO/IEC 15948
section 9), and zxing-cpp's QR decoder on the pixels."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import zxingcpp


def png_pixels(path: Path) -> tuple[int, int, bytes]:
    """Width, height and one byte per pixel (0 black, 255 white) of a greyscale PNG."""
    data = path.read_bytes()
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
    width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", header)
    assert colour == 0 and depth in (1, 8) and interlace == 0, "only plain greyscale"
    stride = (width * depth + 7) // 8
    raw, rows, previous = zlib.decompress(bytes(idat)), [], bytes(stride)
    for y in range(height):
        kind, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for x in range(stride):
            left = line[x - 1] if x else 0
            up, corner = previous[x], previous[x - 1] if x else 0
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
        previous = bytes(line)
        if depth == 8:
            rows.append(previous)
        else:
            rows.append(bytes(255 if previous[x // 8] >> (7 - x % 8) & 1 else 0 for x in range(width)))
    return width, height, b"".join(rows)


def scan_qr(path: Path) -> list[tuple[str, str]]:
    """The text and error correction level of each QR code zxing-cpp finds in the image."""
    width, height, pixels = png_pixels(path)
    image = memoryview(pixels).cast("B", shape=[height, width])
    return [(found.text, found.ec_level) for found in zxingcpp.read_barcodes(
        image, formats=zxingcpp.BarcodeFormat.QRCode)]
