"""A Chinese A4 document (core.pdf): rendered, then read back with poppler's
pdftotext, so what is checked is what a reader sees."""

from __future__ import annotations

import re
import shutil
import subprocess
from datetime import date

import pytest
from reportlab.platypus import PageBreak, Paragraph

from shanzhi.core import pdf

INSTALL_HINT = "run scripts/install-browser.sh (it installs poppler-utils and poppler-data)"


def poppler(tool: str, *args: str, pdf_bytes: bytes = b"") -> str:
    if shutil.which(tool) is None:
        pytest.fail(f"{tool} is missing: {INSTALL_HINT}")
    result = subprocess.run([tool, *args], input=pdf_bytes, capture_output=True, check=True,
                            timeout=60)
    if b"Missing language pack" in result.stderr:
        pytest.fail(f"poppler cannot read the Chinese font (no poppler-data): {INSTALL_HINT}")
    return result.stdout.decode()


def pages_of(document: bytes) -> list[str]:
    """The text of each page, white space removed."""
    text = poppler("pdftotext", "-layout", "-", "-", pdf_bytes=document)
    return [re.sub(r"\s+", "", page) for page in text.split("\f")[:-1]]


def document(*pages: str) -> bytes:
    s = pdf.styles()
    story = [pdf.Title("情况通报")]
    for i, text in enumerate(pages):
        if i:
            story.append(PageBreak())
        story += pdf.paragraphs(text, s["text"])
    return pdf.render(story, title="情况通报 2026-1", author="姑苏区")


def test_a_two_page_document_has_its_title_both_pages_and_their_numbers():
    first, second = pages_of(document("第一页的正文：平江路沿线整治。", "第二页的正文：后续安排。"))

    assert "情况通报" in first
    assert "第一页的正文：平江路沿线整治。" in first and "第二页" not in first
    assert "第二页的正文：后续安排。" in second
    assert "第1页共2页" in first
    assert "第2页共2页" in second


def test_a_one_page_document_carries_no_page_number():
    (only,) = pages_of(document("只有一页。"))

    assert "只有一页。" in only
    assert "页共" not in only


def test_free_text_is_printed_literally_one_paragraph_a_line():
    (page,) = pages_of(document("楼上<302室>漏水 & 物业\n\n  第二行  "))

    assert "楼上<302室>漏水&物业第二行" in page


def test_blank_free_text_prints_none():
    assert [p.text for p in pdf.paragraphs(" \n ", pdf.styles()["text"])] == ["无"]
    assert [p.text for p in pdf.paragraphs("", pdf.styles()["text"], empty="（空）")] == ["（空）"]


def test_the_pdf_is_a4_and_carries_its_title(tmp_path):
    path = tmp_path / "doc.pdf"
    path.write_bytes(document("正文。"))

    info = poppler("pdfinfo", str(path))

    assert re.search(r"^Title:\s+情况通报 2026-1$", info, re.MULTILINE)
    assert re.search(r"^Author:\s+姑苏区$", info, re.MULTILINE)
    assert "(A4)" in info


def test_markup_escapes_and_keeps_line_breaks():
    paragraph = Paragraph(pdf.markup(" a<b> & c\nd "), pdf.styles()["body"])

    assert pdf.markup(" a<b> & c\nd ") == "a&lt;b&gt; &amp; c<br/>d"
    assert paragraph.getPlainText() == "a<b> & cd"


@pytest.mark.parametrize(("n", "words"), [
    (1, "一"), (9, "九"), (10, "十"), (12, "十二"), (20, "二十"), (25, "二十五"), (99, "九十九"),
    (0, "0"), (100, "100"),
])
def test_chinese_numbers(n, words):
    assert pdf.chinese_number(n) == words


def test_chinese_dates():
    assert pdf.chinese_date(date(2026, 12, 2)) == "2026年12月2日"
    assert pdf.chinese_date(date(2027, 1, 31)) == "2027年1月31日"
