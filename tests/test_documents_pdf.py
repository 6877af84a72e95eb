"""Reading PDFs end to end: Chinese text from real PDF files (made with reportlab), cleaning, errors."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from groundcoder.documents import PageSpan, read_document
from groundcoder.errors import InputError

reportlab = pytest.importorskip("reportlab")

from reportlab.pdfbase import pdfmetrics  # noqa: E402
from reportlab.pdfbase.cidfonts import UnicodeCIDFont  # noqa: E402
from reportlab.pdfgen import canvas  # noqa: E402

FONT = "STSong-Light"  # built-in CID font: Chinese text without a font file
pdfmetrics.registerFont(UnicodeCIDFont(FONT))

HEADER = "示例精密科技股份有限公司 2020 年年度报告全文"
LINE_CHARS = 26  # characters per printed line: the right margin

PARAGRAPHS = [
    "第四节 经营情况讨论与分析",
    "一、概述",
    "报告期内，公司坚持专精特新发展道路，围绕精密零部件主业持续开展工艺改进和产品迭代，"
    "全年完成技术改造项目十二项，产品良品率较上年提高三个百分点，客户满意度保持行业前列。",
    "公司研发投入占营业收入的比例达到百分之六，新增发明专利授权五项，"
    "参与制定行业标准两项，核心技术人员队伍保持稳定。",
    "二、主营业务分析",
    "面对原材料价格波动，公司通过精益生产和供应链协同控制成本，毛利率保持稳定；"
    "同时积极开拓新能源汽车和医疗器械领域客户，新领域收入占比提高到百分之十八。",
    "第五节 重要事项",
]


def wrap(paragraph: str, width: int = LINE_CHARS) -> list[str]:
    """Cut a paragraph into printed lines at the right margin, as a typesetter does."""
    return [paragraph[i : i + width] for i in range(0, len(paragraph), width)]


def make_pdf(path: Path, pages: list[list[str]], header: str | None = HEADER, footer: str | None = "{n} / {total}") -> Path:
    """A PDF whose pages carry the given body lines, a running header and a page-number footer."""
    pdf = canvas.Canvas(str(path))
    total = len(pages)
    for number, lines in enumerate(pages, start=1):
        pdf.setFont(FONT, 10)
        if header:
            pdf.drawString(72, 800, header)
        y = 770
        for line in lines:
            pdf.drawString(72, y, line)
            y -= 16
        if footer:
            pdf.drawString(290, 40, footer.format(n=number, total=total))
        pdf.showPage()
    pdf.save()
    return path


def layout(paragraphs: list[str], lines_per_page: int) -> list[list[str]]:
    lines = [line for paragraph in paragraphs for line in wrap(paragraph)]
    return [lines[i : i + lines_per_page] for i in range(0, len(lines), lines_per_page)]


@pytest.mark.parametrize("footer", ["{n} / {total}", "- {n} -", "第{n}页", "{n}"])
def test_pdf_is_cleaned_end_to_end(tmp_path, footer):
    pages = layout(PARAGRAPHS, lines_per_page=5)
    assert len(pages) >= 3
    path = make_pdf(tmp_path / "report.pdf", pages, footer=footer)
    doc = read_document(path)

    # Headers and page numbers gone, printer line breaks joined, paragraphs kept.
    assert doc.text == "\n".join(PARAGRAPHS)
    assert doc.source_format == "pdf" and doc.encoding is None
    assert doc.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert len(doc.pages) == len(pages)
    assert all(isinstance(span, PageSpan) for span in doc.pages)
    # Spans tile the text.
    assert doc.pages[0].start == 0 and doc.pages[-1].end == len(doc.text)
    assert all(a.end == b.start for a, b in zip(doc.pages, doc.pages[1:]))


def test_page_of_maps_offsets_back_to_the_printed_page(tmp_path):
    pages = layout(PARAGRAPHS, lines_per_page=5)
    doc = read_document(make_pdf(tmp_path / "report.pdf", pages))
    for page_no, lines in enumerate(pages, start=1):
        for line in lines:
            offset = doc.text.find(line)
            assert offset >= 0
            assert doc.page_of(offset) == page_no
            assert doc.page_of(offset + len(line) - 1) == page_no
    assert doc.page_of(len(doc.text)) is None
    assert doc.page_of(-1) is None


def test_blank_page_gets_an_empty_span_and_a_note(tmp_path):
    pages = layout(PARAGRAPHS, lines_per_page=5)
    pages.insert(1, [])
    doc = read_document(make_pdf(tmp_path / "report.pdf", pages))
    assert doc.text == "\n".join(PARAGRAPHS)
    blank = doc.pages[1]
    assert blank.page_no == 2 and blank.start == blank.end
    assert any("no text" in note and "2" in note for note in doc.notes)


def test_cjk_extension_b_survives_pdf_extraction(tmp_path):
    text = "公司名称含生僻字𠀀，属于扩展B区。"
    doc = read_document(make_pdf(tmp_path / "rare.pdf", [[text]], header=None, footer=None))
    assert doc.text == text


# --- bad PDFs ----------------------------------------------------------------------------------


def test_empty_pdf_file_is_refused(tmp_path):
    path = tmp_path / "empty.pdf"
    path.write_bytes(b"")
    with pytest.raises(InputError) as caught:
        read_document(path)
    assert caught.value.path == path and "empty" in caught.value.message


def test_corrupt_pdf_is_refused(tmp_path):
    path = tmp_path / "corrupt.pdf"
    path.write_bytes(b"%PDF-1.7\n" + b"\x13\x37 this is not a PDF body " * 40)
    with pytest.raises(InputError) as caught:
        read_document(path)
    assert caught.value.path == path
    assert "corrupt" in caught.value.message
    assert caught.value.hint


def test_file_named_pdf_that_is_not_one_is_refused(tmp_path):
    path = tmp_path / "page.pdf"
    path.write_bytes("<html><body>网页另存为</body></html>".encode("utf-8"))
    with pytest.raises(InputError, match="not a PDF"):
        read_document(path)


def test_truncated_pdf_is_refused_or_read_never_crashes(tmp_path):
    whole = make_pdf(tmp_path / "whole.pdf", layout(PARAGRAPHS, 5)).read_bytes()
    path = tmp_path / "truncated.pdf"
    path.write_bytes(whole[: len(whole) // 3])
    try:
        doc = read_document(path)
    except InputError as exc:
        assert exc.path == path
    else:  # PDFium repairs some truncated files: then what it reads must be real text
        assert doc.text and set(doc.text) <= set("\n".join(PARAGRAPHS))


def _encrypt(source: Path, target: Path, user_password: str, owner_password: str) -> Path:
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter(clone_from=PdfReader(source))
    writer.encrypt(user_password=user_password, owner_password=owner_password, algorithm="RC4-128")
    with open(target, "wb") as handle:
        writer.write(handle)
    return target


def test_encrypted_pdf_is_refused_with_what_to_do(tmp_path):
    pytest.importorskip("pypdf")
    plain = make_pdf(tmp_path / "plain.pdf", layout(PARAGRAPHS, 5))
    path = _encrypt(plain, tmp_path / "locked.pdf", user_password="secret", owner_password="owner")
    with pytest.raises(InputError) as caught:
        read_document(path)
    assert caught.value.path == path
    assert "encrypted" in caught.value.message
    assert "password" in caught.value.hint and "unencrypted" in caught.value.hint


def test_pdf_with_only_an_owner_password_opens(tmp_path):
    # No password is needed to open it (only to edit it): its text is readable.
    pytest.importorskip("pypdf")
    plain = make_pdf(tmp_path / "plain.pdf", layout(PARAGRAPHS, 5))
    path = _encrypt(plain, tmp_path / "owner-only.pdf", user_password="", owner_password="owner")
    assert read_document(path).text == "\n".join(PARAGRAPHS)


def test_pdf_without_extractable_text_is_refused_with_ocr_hint(tmp_path):
    path = tmp_path / "scanned.pdf"
    pdf = canvas.Canvas(str(path))
    for _ in range(2):
        pdf.rect(72, 72, 400, 600, fill=1)  # an image-like page: shapes, no text
        pdf.showPage()
    pdf.save()
    with pytest.raises(InputError) as caught:
        read_document(path)
    assert "no extractable text" in caught.value.message
    assert "OCR" in caught.value.hint
