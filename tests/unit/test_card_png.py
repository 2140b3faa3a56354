"""The PNG card's bundled font draws Cyrillic (not the empty boxes of a missing glyph), and
the wheel's package data carries the font files with their licence."""

from __future__ import annotations

import tomllib
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from idp.web.card_png import FONTS

ROOT = Path(__file__).resolve().parents[2]


def drawn(font: ImageFont.FreeTypeFont, text: str) -> bytes:
    image = Image.new("L", (200, 80), 0)
    ImageDraw.Draw(image).text((10, 10), text, font=font, fill=255)
    return image.tobytes()


def test_the_bundled_fonts_draw_cyrillic_letters() -> None:
    for name in ("DejaVuSans.ttf", "DejaVuSans-Bold.ttf"):
        font = ImageFont.truetype(FONTS / name, 48)
        missing = drawn(font, "\ue000")  # a private-use code point: the missing-glyph box
        letters = [drawn(font, ch) for ch in "ЖЯЁщ"]
        assert missing not in letters and len(set(letters)) == 4


def test_the_fonts_and_their_licence_go_into_the_wheel() -> None:
    assert {p.name for p in FONTS.iterdir()} >= {"DejaVuSans.ttf", "DejaVuSans-Bold.ttf",
                                                 "LICENSE"}
    assert "Bitstream" in (FONTS / "LICENSE").read_text(encoding="utf-8")
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert "web/fonts/*" in project["tool"]["setuptools"]["package-data"]["idp"]
    assert any(d.startswith("Pillow") for d in project["project"]["dependencies"])
