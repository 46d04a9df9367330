"""Member cards as a printable PDF sheet: ten ID-1 cards (85.6 x 54 mm) per A4 page.

Each card shows the programme, the household's name, its member number in large type,
its site, and a QR code of the member number (a station's serial barcode/QR reader,
``card_kind = "scanner"``, reads it like a card). Drawn with ReportLab (its own QR code
widget: no second library); cut marks are the card outlines.

>>> pdf = card_sheet([MemberCardFace("BANK01-00001", "Siti Aminah", "Bank 01")])
>>> pdf[:5]
b'%PDF-'
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass

from reportlab.graphics import renderPDF
from reportlab.graphics.barcode.qr import QrCodeWidget
from reportlab.graphics.shapes import Drawing
from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.pdfgen.canvas import Canvas

CARD_W, CARD_H = 85.6 * mm, 54 * mm
COLS, ROWS = 2, 5
MAX_CARDS = 10_000


@dataclass(frozen=True, slots=True)
class MemberCardFace:
    member_no: str
    name: str
    site: str | None


def _fit(canvas: Canvas, text: str, font: str, size: float, width: float) -> str:
    while text and canvas.stringWidth(text, font, size) > width:
        text = text[:-2] + "…"
    return text


def _card(canvas: Canvas, x: float, y: float, face: MemberCardFace, programme: str) -> None:
    canvas.setLineWidth(0.3)
    canvas.setStrokeGray(0.6)
    canvas.roundRect(x, y, CARD_W, CARD_H, 3 * mm)
    canvas.setFillColorRGB(0.0, 0.45, 0.3)
    canvas.rect(x, y + CARD_H - 10 * mm, CARD_W, 10 * mm, stroke=0, fill=1)
    canvas.setFillGray(1)
    canvas.setFont("Helvetica-Bold", 11)
    canvas.drawString(
        x + 4 * mm,
        y + CARD_H - 6.5 * mm,
        _fit(canvas, programme, "Helvetica-Bold", 11, CARD_W - 8 * mm),
    )
    qr_size = 30 * mm
    widget = QrCodeWidget(face.member_no, barLevel="M")
    bx0, by0, bx1, by1 = widget.getBounds()
    drawing = Drawing(
        qr_size, qr_size, transform=[qr_size / (bx1 - bx0), 0, 0, qr_size / (by1 - by0), 0, 0]
    )
    drawing.add(widget)
    renderPDF.draw(drawing, canvas, x + CARD_W - qr_size - 3 * mm, y + 4 * mm)
    text_w = CARD_W - qr_size - 9 * mm
    canvas.setFillGray(0)
    canvas.setFont("Helvetica", 7)
    canvas.drawString(x + 4 * mm, y + 34 * mm, "Nama / Name")
    canvas.setFont("Helvetica-Bold", 10)
    canvas.drawString(
        x + 4 * mm, y + 29.5 * mm, _fit(canvas, face.name, "Helvetica-Bold", 10, text_w)
    )
    canvas.setFont("Helvetica", 7)
    canvas.drawString(x + 4 * mm, y + 22 * mm, "No. anggota / Member no.")
    canvas.setFont("Courier-Bold", 12)
    canvas.drawString(
        x + 4 * mm, y + 16.5 * mm, _fit(canvas, face.member_no, "Courier-Bold", 12, text_w)
    )
    if face.site:
        canvas.setFont("Helvetica", 7)
        canvas.drawString(x + 4 * mm, y + 6 * mm, _fit(canvas, face.site, "Helvetica", 7, text_w))


def card_sheet(faces: Sequence[MemberCardFace], programme: str = "Salinmas · Bank Sampah") -> bytes:
    """The PDF of ``faces``, ten to a page (at most :data:`MAX_CARDS`)."""
    if len(faces) > MAX_CARDS:
        raise ValueError(f"at most {MAX_CARDS} cards per sheet")
    buf = io.BytesIO()
    canvas = Canvas(buf, pagesize=A4, pageCompression=1)
    canvas.setTitle("Kartu anggota / Member cards")
    canvas.setAuthor("Salinmas")
    page_w, page_h = A4
    left = (page_w - COLS * CARD_W - 6 * mm) / 2
    top = page_h - (page_h - ROWS * CARD_H - 4 * 3 * mm) / 2
    for i, face in enumerate(faces):
        slot = i % (COLS * ROWS)
        if i and slot == 0:
            canvas.showPage()
        col, row = slot % COLS, slot // COLS
        x = left + col * (CARD_W + 6 * mm)
        y = top - (row + 1) * CARD_H - row * 3 * mm
        _card(canvas, x, y, face, programme)
    if not faces:
        canvas.setFont("Helvetica", 10)
        canvas.drawString(20 * mm, page_h - 20 * mm, "Tidak ada kartu / No cards")
    canvas.showPage()
    canvas.save()
    return buf.getvalue()
