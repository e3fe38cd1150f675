"""A Chinese A4 document as a PDF: the font, the paragraph styles, a title,
free text as paragraphs, and 第 N 页 共 M 页 at the foot of every page.

A document module builds its story (a list of ReportLab flowables) from these
parts and hands it to :func:`render`. The font is ReportLab's built-in CID
font STSong-Light: nothing is embedded or downloaded, every PDF reader ships
the matching Adobe-GB1 font.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from io import BytesIO
from typing import Any
from xml.sax.saxutils import escape

from reportlab.lib.enums import TA_CENTER, TA_RIGHT
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import cm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import Flowable, Paragraph, SimpleDocTemplate

FONT = "STSong-Light"
MARGIN = 2.5 * cm
#: The width of the text between the margins.
WIDTH = A4[0] - 2 * MARGIN

_DIGITS = "零一二三四五六七八九"


def chinese_number(n: int) -> str:
    """1 → 一, 10 → 十, 12 → 十二, 25 → 二十五 (1 to 99: clause and copy counts)."""
    if not 0 < n < 100:
        return str(n)
    tens, ones = divmod(n, 10)
    if tens == 0:
        return _DIGITS[ones]
    return ("" if tens == 1 else _DIGITS[tens]) + "十" + (_DIGITS[ones] if ones else "")


def chinese_date(day: date) -> str:
    """2026-12-02 → 2026年12月2日, as Chinese documents write a date."""
    return f"{day.year}年{day.month}月{day.day}日"


def register_font() -> None:
    if FONT not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(UnicodeCIDFont(FONT))


def styles() -> dict[str, ParagraphStyle]:
    """The paragraph styles: ``body`` (12 pt, wrapped as CJK), ``text`` (its
    first line indented two characters), ``heading``, ``subtitle``, ``number``
    (a document number at the top right), ``clause`` (a numbered clause, its
    number hanging), ``right``, ``small``."""
    register_font()
    base = ParagraphStyle("body", fontName=FONT, fontSize=12, leading=20, wordWrap="CJK")
    return {
        "subtitle": ParagraphStyle("subtitle", parent=base, fontSize=14, leading=20,
                                   alignment=TA_CENTER),
        "number": ParagraphStyle("number", parent=base, fontSize=11, alignment=TA_RIGHT),
        "heading": ParagraphStyle("heading", parent=base, fontSize=13, leading=22,
                                  spaceBefore=10, spaceAfter=2),
        "body": base,
        "text": ParagraphStyle("text", parent=base, firstLineIndent=24),
        "clause": ParagraphStyle("clause", parent=base, leftIndent=24, firstLineIndent=-24),
        "right": ParagraphStyle("right", parent=base, alignment=TA_RIGHT),
        "small": ParagraphStyle("small", parent=base, fontSize=10, leading=14),
    }


def markup(text: str) -> str:
    """Plain text as Paragraph markup: escaped, line breaks kept."""
    return escape(text.strip()).replace("\n", "<br/>")


def paragraphs(text: str, style: ParagraphStyle, *, empty: str = "无") -> list[Paragraph]:
    """One paragraph per non-blank line of free text (``empty`` when there is none)."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return [Paragraph(escape(line), style) for line in lines or [empty]]


class Title(Flowable):
    """The centred title, drawn filled and stroked: the CID font has no bold
    face, so a thin outline gives it the weight of a heading."""

    def __init__(self, text: str, size: float = 22) -> None:
        super().__init__()
        self.text = text
        self.size = size

    def wrap(self, available_width: float, available_height: float) -> tuple[float, float]:
        self.width = available_width
        self.height = self.size * 1.5
        return self.width, self.height

    def draw(self) -> None:
        text_width = self.canv.stringWidth(self.text, FONT, self.size)
        self.canv.saveState()
        self.canv.setLineWidth(self.size / 40)
        text = self.canv.beginText((self.width - text_width) / 2, self.size * 0.4)
        text.setFont(FONT, self.size)
        text.setTextRenderMode(2)  # fill, then stroke
        text.textOut(self.text)
        self.canv.drawText(text)
        self.canv.restoreState()


class NumberedCanvas(Canvas):
    """Draws 第 N 页 共 M 页 at the foot of each page once the page count is
    known (only when there is more than one page)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._pages: list[dict[str, Any]] = []

    def showPage(self) -> None:
        self._pages.append(dict(self.__dict__))
        self._startPage()

    def save(self) -> None:
        total = len(self._pages)
        for page in self._pages:
            self.__dict__.update(page)
            if total > 1:
                self.setFont(FONT, 9)
                self.drawCentredString(A4[0] / 2, 1.4 * cm,
                                       f"第 {self._pageNumber} 页 共 {total} 页")
            super().showPage()
        super().save()


def render(story: Sequence[Flowable], *, title: str, author: str = "",
           subject: str = "") -> bytes:
    """The bytes of an A4 PDF of ``story``, titled ``title`` in its metadata."""
    register_font()
    buffer = BytesIO()
    SimpleDocTemplate(buffer, pagesize=A4, leftMargin=MARGIN, rightMargin=MARGIN,
                      topMargin=MARGIN, bottomMargin=MARGIN, title=title, author=author,
                      subject=subject, creator="shanzhi",
                      ).build(list(story), canvasmaker=NumberedCanvas)
    return buffer.getvalue()
