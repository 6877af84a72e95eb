"""Reading plain text, Markdown, Word and HTML files: decoding, structure, and clear errors."""

from __future__ import annotations

import codecs
import hashlib
import io
import os
import zipfile
from pathlib import Path

import pytest

from groundcoder.documents import Document, decode_text, read_document
from groundcoder.errors import InputError

# 镕 is in GBK but not in GB2312; 𠀀 (CJK Extension B) only in GB18030.
GBK_TEXT = "公司董事长朱镕基主持会议。\r\n本年度公司持续推进研发创新，提升产品质量。\r\n"


def write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


# --- plain text: encodings ---------------------------------------------------------------------


def test_utf8_text_is_read_with_lf_line_breaks(tmp_path):
    path = write(tmp_path / "report.txt", "第一行。\r\n第二行。\r第三行。\n".encode("utf-8"))
    doc = read_document(path)
    assert doc.text == "第一行。\n第二行。\n第三行。\n"
    assert doc.encoding == "utf-8"
    assert doc.source_format == "text"
    assert doc.pages == [] and doc.page_count == 0
    assert doc.page_of(0) is None
    assert doc.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert isinstance(doc, Document) and doc.path == path


def test_utf8_with_bom_records_utf8_sig_and_drops_the_mark(tmp_path):
    path = write(tmp_path / "bom.txt", codecs.BOM_UTF8 + "年度报告全文\r\n".encode("utf-8"))
    doc = read_document(path)
    assert doc.encoding == "utf-8-sig"
    assert doc.text == "年度报告全文\n"


@pytest.mark.parametrize("codec", ["utf-16-le", "utf-16-be"])
def test_utf16_with_bom_either_byte_order(tmp_path, codec):
    mark = codecs.BOM_UTF16_LE if codec.endswith("le") else codecs.BOM_UTF16_BE
    text = "专精特新企业𠀀，微创新。\r\n"
    path = write(tmp_path / "u16.txt", mark + text.encode(codec))
    doc = read_document(path)
    assert doc.encoding == "utf-16"
    assert doc.text == "专精特新企业𠀀，微创新。\n"


def test_gbk_file_with_a_character_outside_gb2312_decodes_as_gb18030(tmp_path):
    with pytest.raises(UnicodeEncodeError):
        "镕".encode("gb2312")
    path = write(tmp_path / "gbk.txt", GBK_TEXT.encode("gbk"))
    doc = read_document(path)
    assert doc.encoding == "gb18030"
    assert doc.text == GBK_TEXT.replace("\r\n", "\n")


def test_gb18030_four_byte_characters_decode(tmp_path):
    text = "公司名称：𠀀科技股份有限公司，主营精密零部件。"
    path = write(tmp_path / "gb18030.txt", text.encode("gb18030"))
    assert read_document(path).text == text


def test_short_gbk_text_is_still_taken_as_gb18030():
    text, encoding = decode_text("朱镕基".encode("gbk"), "short.txt")
    assert (text, encoding) == ("朱镕基", "gb18030")


def test_big5_text_is_recognised_not_read_as_gbk_mojibake():
    text = "公司持續推進研發創新，提升產品品質。" * 5
    decoded, encoding = decode_text(text.encode("big5"), "big5.txt")
    assert encoding == "big5"
    assert decoded == text


def test_markdown_is_read_as_text(tmp_path):
    path = write(tmp_path / "notes.md", "# 标题\n\n正文。".encode("utf-8"))
    doc = read_document(path)
    assert doc.source_format == "text" and doc.text == "# 标题\n\n正文。"


# --- plain text: refusals ----------------------------------------------------------------------


def test_empty_file_is_refused_naming_the_file(tmp_path):
    path = write(tmp_path / "empty.txt", b"")
    with pytest.raises(InputError) as caught:
        read_document(path)
    assert caught.value.path == path
    assert "empty" in str(caught.value) and "empty.txt" in str(caught.value)


def test_binary_junk_with_a_txt_name_is_refused(tmp_path):
    junk = bytes(range(256)) * 8 + os.urandom(512)
    path = write(tmp_path / "junk.txt", junk)
    with pytest.raises(InputError) as caught:
        read_document(path)
    assert caught.value.path == path
    assert "NUL" in caught.value.message
    assert caught.value.hint


def test_high_bytes_without_nul_are_refused_with_what_was_tried(tmp_path):
    path = write(tmp_path / "junk.txt", bytes(range(0x80, 0x100)) * 16)
    with pytest.raises(InputError) as caught:
        read_document(path)
    message = caught.value.message
    assert "UTF-8" in message and "GB18030" in message
    assert "UTF-8" in caught.value.hint


def test_mostly_control_characters_are_refused(tmp_path):
    path = write(tmp_path / "controls.txt", bytes(range(1, 32)) * 20)
    with pytest.raises(InputError, match="control"):
        read_document(path)


def test_utf16_without_bom_is_refused_and_named_as_such():
    # Chinese UTF-16 has no NUL bytes; ASCII in UTF-16 is half NULs.  Both are named.
    with pytest.raises(InputError, match="UTF-16 without a byte-order mark"):
        decode_text("公司年度报告，研发投入稳步增长，产品质量持续提升。".encode("utf-16-le"), "nobom.txt")
    with pytest.raises(InputError, match="UTF-16 without a byte-order mark"):
        decode_text("annual report".encode("utf-16-le"), "nobom.txt")


def test_utf8_and_gbk_mixed_in_one_file_is_refused():
    sentence = "公司持续推进研发创新。\n"
    data = sentence.encode("utf-8") * 10 + sentence.encode("gbk") * 10
    with pytest.raises(InputError) as caught:
        decode_text(data, "mixed.txt")
    # The first bad byte for UTF-8 is where the GBK part starts: line 11.
    assert "line 11" in caught.value.message


def test_invalid_bytes_after_a_utf8_bom_are_refused_with_their_line():
    data = codecs.BOM_UTF8 + "第一行\n".encode("utf-8") + b"\xff\xfe\xfd\n"
    with pytest.raises(InputError) as caught:
        decode_text(data, "bad.txt")
    assert caught.value.line == 2


def test_latin1_text_is_refused_as_not_chinese():
    with pytest.raises(InputError, match="not a Chinese encoding|does not read as Chinese|not GB18030"):
        decode_text("Café résumé naïve façade, déjà vu.".encode("latin-1") * 3, "latin.txt")


def test_whitespace_only_text_file_is_refused(tmp_path):
    path = write(tmp_path / "blank.txt", b" \r\n\t\n")
    with pytest.raises(InputError, match="no text"):
        read_document(path)


# --- dispatch ----------------------------------------------------------------------------------


def test_unsupported_suffix_is_refused_with_a_hint(tmp_path):
    path = write(tmp_path / "old.doc", b"\xd0\xcf\x11\xe0")
    with pytest.raises(InputError) as caught:
        read_document(path)
    assert "'.doc'" in caught.value.message
    assert ".docx" in caught.value.hint


def test_missing_file_and_folder_are_refused(tmp_path):
    with pytest.raises(InputError, match="no such file"):
        read_document(tmp_path / "absent.pdf")
    folder = tmp_path / "folder.txt"
    folder.mkdir()
    with pytest.raises(InputError, match="not a file"):
        read_document(folder)


def test_suffix_is_case_insensitive(tmp_path):
    path = write(tmp_path / "REPORT.TXT", "大写后缀。".encode("utf-8"))
    assert read_document(path).text == "大写后缀。"


# --- HTML --------------------------------------------------------------------------------------


HTML_PAGE = """<!DOCTYPE html>
<html><head><meta charset="gb2312"><title>年度报告</title>
<style>p { color: red; } .x::before { content: "样式文字"; }</style>
<script>var hidden = "脚本文字。";</script></head>
<body>
<h1>第四节 经营情况讨论与分析</h1>
<p>公司坚持自主创新，
持续加大研发投入。</p><p>董事长朱镕基表示：R&amp;D 投入&nbsp;增长 12%。</p>
<div>第一块<br>第二块</div>
<table><tr><td>项目</td><td>金额</td></tr><tr><td>研发费用</td><td>1,234</td></tr></table>
<ul><li>条目一</li><li>条目二</li></ul>
<noscript>请启用脚本</noscript>
</body></html>
"""


def test_html_drops_scripts_and_styles_and_keeps_blocks_as_lines(tmp_path):
    path = write(tmp_path / "page.html", HTML_PAGE.encode("gb18030"))
    doc = read_document(path)
    assert doc.source_format == "html"
    # Declared gb2312, decoded as gb18030 (the page holds 镕, outside GB2312).
    assert doc.encoding == "gb18030"
    lines = doc.text.split("\n")
    assert lines == [
        "年度报告",
        "第四节 经营情况讨论与分析",
        "公司坚持自主创新，持续加大研发投入。",
        "董事长朱镕基表示：R&D 投入 增长 12%。",
        "第一块",
        "第二块",
        "项目\t金额",
        "研发费用\t1,234",
        "条目一",
        "条目二",
    ]
    assert "脚本" not in doc.text and "样式" not in doc.text and "请启用" not in doc.text


def test_html_without_charset_is_detected_and_recorded(tmp_path):
    path = write(tmp_path / "page.htm", "<p>没有声明编码的网页。</p>".encode("gbk"))
    doc = read_document(path)
    assert doc.encoding == "gb18030"
    assert doc.text == "没有声明编码的网页。"


def test_html_with_a_wrong_charset_label_falls_back_to_detection(tmp_path):
    page = '<meta charset="utf-8"><p>标注错误的编码。</p>'
    path = write(tmp_path / "wrong.html", page.encode("gbk"))
    doc = read_document(path)
    assert doc.encoding == "gb18030" and doc.text == "标注错误的编码。"


def test_html_pre_keeps_its_line_breaks(tmp_path):
    path = write(tmp_path / "pre.html", "<pre>第一行\n  第二行</pre><p>段落</p>".encode("utf-8"))
    assert read_document(path).text == "第一行\n第二行\n段落"


def test_html_with_only_markup_is_refused(tmp_path):
    path = write(tmp_path / "blank.html", b"<html><script>x()</script></html>")
    with pytest.raises(InputError, match="no text"):
        read_document(path)


# --- Word .docx --------------------------------------------------------------------------------


def make_docx(path: Path) -> Path:
    import docx

    document = docx.Document()
    document.add_heading("第四节 经营情况讨论与分析", level=1)
    document.add_paragraph("公司坚持自主创新。")
    table = document.add_table(rows=2, cols=3)
    table.cell(0, 0).text = "项目"
    table.cell(0, 1).text = "2020 年"
    table.cell(0, 2).text = "2021 年"
    merged = table.cell(1, 0).merge(table.cell(1, 1))
    merged.text = "研发投入（合并单元格）"
    table.cell(1, 2).text = "1,234"
    document.add_paragraph("")  # empty paragraphs are no lines
    document.add_paragraph("表格之后的段落。𠀀")
    document.save(path)
    return path


def test_docx_paragraphs_and_tables_come_in_document_order(tmp_path):
    doc = read_document(make_docx(tmp_path / "report.docx"))
    assert doc.source_format == "docx" and doc.encoding is None and doc.pages == []
    assert doc.text.split("\n") == [
        "第四节 经营情况讨论与分析",
        "公司坚持自主创新。",
        "项目\t2020 年\t2021 年",
        "研发投入（合并单元格）\t1,234",
        "表格之后的段落。𠀀",
    ]


def test_corrupt_docx_is_refused(tmp_path):
    path = write(tmp_path / "broken.docx", b"PK\x03\x04 this is not really a zip")
    with pytest.raises(InputError, match="corrupt .docx"):
        read_document(path)


def test_zip_that_is_not_a_word_document_is_refused(tmp_path):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("hello.txt", "not word")
    path = write(tmp_path / "other.docx", buffer.getvalue())
    with pytest.raises(InputError, match="corrupt .docx"):
        read_document(path)


def test_password_protected_or_binary_word_file_named_docx_is_refused(tmp_path):
    path = write(tmp_path / "locked.docx", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 512)
    with pytest.raises(InputError) as caught:
        read_document(path)
    assert "password" in caught.value.message and ".docx" in caught.value.hint


def _with_document_xml(source: Path, target: Path, transform) -> Path:
    with zipfile.ZipFile(source) as original, zipfile.ZipFile(target, "w") as copy:
        for info in original.infolist():
            data = original.read(info)
            if info.filename == "word/document.xml":
                data = transform(data)
            copy.writestr(info, data)
    return target


def test_docx_declaring_xml_entities_is_refused_not_expanded(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("SECRET-CONTENT")

    def add_entities(xml: bytes) -> bytes:
        head, _, body = xml.partition(b"?>")
        doctype = (
            b'<!DOCTYPE w:document [<!ENTITY big "EXPANDED-ENTITY">'
            b'<!ENTITY ext SYSTEM "' + secret.as_uri().encode() + b'">]>'
        )
        body = body.replace("公司坚持自主创新。".encode(), b"&big;&ext;")
        return head + b"?>" + doctype + body

    path = _with_document_xml(make_docx(tmp_path / "plain.docx"), tmp_path / "entities.docx", add_entities)
    with pytest.raises(InputError, match="entities"):
        read_document(path)


def test_python_docx_parser_does_not_expand_entities(tmp_path):
    # The guard above refuses such files; this checks python-docx itself stays safe underneath.
    from docx.oxml.parser import oxml_parser
    from lxml import etree

    secret = tmp_path / "secret.txt"
    secret.write_text("SECRET-CONTENT")
    xml = (
        b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY big "EXPANDED-ENTITY">'
        b'<!ENTITY ext SYSTEM "' + secret.as_uri().encode() + b'">]><r>&big;&ext;</r>'
    )
    root = etree.fromstring(xml, oxml_parser)
    text = "".join(root.itertext())
    assert "EXPANDED-ENTITY" not in text and "SECRET-CONTENT" not in text
