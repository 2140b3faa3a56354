"""The printable campus card as a PNG, pure: 85.6 x 54 mm (the ID-1 card) at 300 dpi, with the
title, the person's name, the home university, the number and its Code 128 barcode.

The bars are drawn from python-barcode's module pattern, a whole number of pixels per module
(4 px, 0.34 mm at 300 dpi), so no scaling blurs an edge a scanner has to find; a quiet zone of
ten modules stays white on either side. The texts use the bundled DejaVu Sans (``fonts/``,
its licence beside it), which covers Cyrillic whatever fonts the server has; a text too wide
for the card is set smaller, then cut with an ellipsis."""

from __future__ import annotations

import io
from pathlib import Path

from barcode import Code128
from PIL import Image, ImageDraw, ImageFont

from idp.provisioning.card_numbers import grouped

DPI = 300
WIDTH_PX, HEIGHT_PX = 1011, 638  # 85.6 x 54 mm
MODULE_PX = 4
QUIET_MODULES = 10
BAR_HEIGHT_PX = 118  # 10 mm
FONTS = Path(__file__).parent / "fonts"
_MARGIN = 59  # 5 mm
_ROOM = WIDTH_PX - 2 * _MARGIN
_INK, _TITLE_INK, _EDGE = (0, 0, 0), (27, 79, 114), (68, 68, 68)

Font = ImageFont.FreeTypeFont


def mm(value: float) -> int:
    return round(value * DPI / 25.4)


def code128_modules(number: str) -> str:
    """The symbol as modules, ``1`` a bar and ``0`` a space, without quiet zones."""
    return str(Code128(number).build()[0])


def printable_card_png(*, name: str, university: str, number: str, title: str) -> bytes:
    image = Image.new("RGB", (WIDTH_PX, HEIGHT_PX), "white")
    draw = ImageDraw.Draw(image)
    draw.rounded_rectangle((2, 2, WIDTH_PX - 3, HEIGHT_PX - 3), radius=mm(3), outline=_EDGE,
                           width=3)
    _text(draw, mm(8), title, _font(38, bold=True), fill=_TITLE_INK)
    _text(draw, mm(16), name, _fitted(draw, name, 54, bold=True))
    for row, line in enumerate(_wrapped(draw, university, _font(32, bold=False))):
        _text(draw, mm(22) + row * mm(4), line, _font(32, bold=False))
    _text(draw, mm(33), grouped(number), _font(50, bold=False))
    _bars(draw, code128_modules(number), top=mm(37))
    out = io.BytesIO()
    image.save(out, format="PNG", dpi=(DPI, DPI), optimize=True)
    return out.getvalue()


def _text(draw: ImageDraw.ImageDraw, baseline: int, text: str, font: Font, *,
          fill: tuple[int, int, int] = _INK) -> None:
    """One line on ``baseline``, cut with an ellipsis where it would leave the card."""
    while len(text) > 1 and draw.textlength(text, font=font) > _ROOM:
        text = text[:-2] + "…"
    draw.text((_MARGIN, baseline), text, font=font, fill=fill, anchor="ls")


def _fitted(draw: ImageDraw.ImageDraw, text: str, size: int, *, bold: bool) -> Font:
    """The font at ``size``, or smaller (down to two thirds) until ``text`` fits."""
    font, smallest = _font(size, bold), size * 2 // 3
    while draw.textlength(text, font=font) > _ROOM and size > smallest:
        size -= 2
        font = _font(size, bold)
    return font


def _wrapped(draw: ImageDraw.ImageDraw, text: str, font: Font) -> list[str]:
    """``text`` over at most two lines, broken between words (the second cut if need be)."""
    words = text.split()
    for split in range(len(words) - 1, 0, -1):
        first = " ".join(words[:split])
        if draw.textlength(first, font=font) <= _ROOM:
            rest = " ".join(words[split:])
            return [first, rest] if draw.textlength(text, font=font) > _ROOM else [text]
    return [text]


def _font(size: int, bold: bool) -> Font:
    return ImageFont.truetype(FONTS / ("DejaVuSans-Bold.ttf" if bold else "DejaVuSans.ttf"), size)


def _bars(draw: ImageDraw.ImageDraw, modules: str, *, top: int) -> None:
    """Each run of bars as one black rectangle, after a quiet zone left of it."""
    left = _MARGIN + QUIET_MODULES * MODULE_PX
    start = None
    for index, module in enumerate(modules + "0"):
        if module == "1" and start is None:
            start = index
        elif module == "0" and start is not None:
            draw.rectangle((left + start * MODULE_PX, top, left + index * MODULE_PX - 1,
                            top + BAR_HEIGHT_PX - 1), fill=_INK)
            start = None
