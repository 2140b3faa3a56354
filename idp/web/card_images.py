"""The campus card's images, pure: a Code 128 barcode (``python-barcode``) and a QR code
(``segno``, a regular QR symbol: phones do not all read Micro QR) of the number, as SVG, and
the printable card as one SVG document (name, home university, number, barcode).

The SVG card prints at its true size (85.6 x 54 mm, the ID-1 card) from every browser, in
the browser's fonts; ``idp.web.card_png`` draws the same card as a 300 dpi PNG with a bundled
font, for those who download it or print it outside a browser. The images go
into pages as ``data:`` URIs, which the CSP's ``img-src`` allows: python-barcode writes
``style`` attributes, which ``style-src 'self'`` would refuse in SVG inlined into the page
but which an image document keeps to itself."""

from __future__ import annotations

import base64
import io
from xml.sax.saxutils import escape, quoteattr

import segno
from barcode import Code128
from barcode.writer import SVGWriter

from idp.provisioning.card_numbers import grouped

CARD_WIDTH_MM, CARD_HEIGHT_MM = 85.6, 54.0


def barcode_svg(number: str) -> bytes:
    """Code 128 (set C: two digits a symbol), 0.33 mm modules, 10 mm high, quiet zones of
    ten modules; without text (the number is printed beside it)."""
    out = io.BytesIO()
    Code128(number, writer=SVGWriter()).write(out, options={
        "module_width": 0.33, "module_height": 10.0, "quiet_zone": 3.3, "write_text": False,
        "margin_top": 0, "margin_bottom": 0, "compress": False})
    return out.getvalue()


def qr_svg(number: str) -> bytes:
    """A QR code (level M or better) of the number, with its four-module quiet zone."""
    out = io.BytesIO()
    segno.make_qr(number, error="m").save(out, kind="svg", scale=6, border=4, xmldecl=False)
    return out.getvalue()


def data_uri(svg: bytes) -> str:
    return "data:image/svg+xml;base64," + base64.b64encode(svg).decode("ascii")


def printable_card(*, name: str, university: str, number: str, title: str) -> str:
    """The card as an SVG document in millimetres; the texts escaped, the barcode an image."""
    lines = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{CARD_WIDTH_MM}mm" '
        f'height="{CARD_HEIGHT_MM}mm" viewBox="0 0 {CARD_WIDTH_MM} {CARD_HEIGHT_MM}">',
        f"<title>{escape(title)}: {number}</title>",
        f'<rect x="0.25" y="0.25" width="{CARD_WIDTH_MM - 0.5}" height="{CARD_HEIGHT_MM - 0.5}" '
        'rx="3" fill="#ffffff" stroke="#444444" stroke-width="0.3"/>',
        _text(5, 8, 3.2, title, weight="bold", fill="#1b4f72"),
        _text(5, 17, 4.6, name, weight="bold"),
        _text(5, 23, 3.2, university),
        _text(5, 32, 4.4, grouped(number), family="monospace", number=number),
        f'<image x="5" y="36" width="{CARD_WIDTH_MM - 10}" height="13" '
        f'preserveAspectRatio="xMinYMid meet" href={quoteattr(data_uri(barcode_svg(number)))}/>',
        "</svg>",
    ]
    return "\n".join(lines) + "\n"


def _text(x: float, y: float, size: float, content: str, *, weight: str = "normal",
          fill: str = "#000000", family: str = "sans-serif", number: str | None = None) -> str:
    extra = f" data-number={quoteattr(number)}" if number else ""
    return (f'<text x="{x}" y="{y}" font-size="{size}" font-family="{family}" '
            f'font-weight="{weight}" fill="{fill}"{extra}>{escape(content)}</text>')
