"""Importing .qdpx/.qdc as QDA tools write them (hand-made fixtures in each vendor's style)."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest

from groundcoder.cli import main
from groundcoder.demo_corpus.load import _read_quotes
from groundcoder.qdpx import import_file, import_into_store
from groundcoder.store import DocumentRecord, Firm, ProjectStore

NS = 'xmlns="urn:QDA-XML:project:1.0"'


def make_qdpx(path: Path, qde: str, files: dict[str, bytes], qde_name: str = "project.qde") -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(qde_name, qde.encode("utf-8"))
        for name, data in files.items():
            zf.writestr(name, data)
    return path


def sel(
    text: str, quote: str, *, name: str | None = None, shift: int = 0, guid: str, code: str, user: str = "", coding_user: bool = True
) -> str:
    """A PlainTextSelection of ``quote`` (positions in code points of ``text``, plus ``shift``)."""
    start = text.index(quote) + shift
    end = start + len(quote)
    user_attr = f' creatingUser="{user}"' if user else ""
    label = quote if name is None else name
    return (
        f'<PlainTextSelection guid="{guid}" name="{label}" startPosition="{start}" endPosition="{end}"{user_attr}>'
        f'<Coding guid="{guid[:-4]}ffff"{user_attr if coding_user else ""}><CodeRef targetGUID="{code}"/></Coding>'
        "</PlainTextSelection>"
    )


G = "00000000-0000-4000-8000-{:012d}".format  # readable fixture GUIDs


# --------------------------------------------------------------------------------------------------
# NVivo: the codebook as nested Codes (every level codable), braces around upper-case GUIDs, cases
# with variables; a .NET program: positions counted in UTF-16 code units.

NVIVO_TEXT = "2021年，公司引入𠀀MES系统，推进数字化转型投入。\n同时与浙江大学共建联合实验室。\n设备全部完成升级。"


def nvivo_qde(text: str) -> str:
    s = NVIVO_TEXT
    # UTF-16 units: 𠀀 counts twice, so everything after it is shifted by one
    sel1 = sel(s, "推进数字化转型投入", shift=1, guid=G(101), code="{" + G(13).upper() + "}", user=G(1))
    sel2 = sel(s, "与浙江大学共建联合实验室", shift=1, guid=G(102), code=G(23), user=G(1))
    sel3 = sel(s, "设备全部完成升级", shift=1, guid=G(103), code=G(14), user=G(1))
    return f"""<?xml version="1.0" encoding="utf-8"?>
<Project {NS} name="微创新访谈" origin="NVivo 14.23.0">
 <Users><User guid="{{{G(1).upper()}}}" name="王研究员"/></Users>
 <CodeBook><Codes>
  <Code guid="{G(10)}" name="数字赋能" isCodable="true">
   <Code guid="{G(12)}" name="数字化投资" isCodable="true">
    <Code guid="{G(13)}" name="数字化转型投入" isCodable="true"><Description>对数字化的投入</Description></Code>
    <Code guid="{G(14)}" name="设备升级" isCodable="true"/>
   </Code>
  </Code>
  <Code guid="{G(20)}" name="合作网络" isCodable="true">
   <Code guid="{G(22)}" name="产学研合作" isCodable="true">
    <Code guid="{G(23)}" name="共建实验室" isCodable="true"/>
   </Code>
  </Code>
 </Codes></CodeBook>
 <Variables>
  <Variable guid="{G(50)}" name="code" typeOfVariable="Text"/>
  <Variable guid="{G(51)}" name="industry" typeOfVariable="Text"/>
 </Variables>
 <Cases><Case guid="{G(60)}" name="300123 某科技">
  <VariableValue><VariableRef targetGUID="{G(50)}"/><TextValue>300123</TextValue></VariableValue>
  <VariableValue><VariableRef targetGUID="{G(51)}"/><TextValue>软件和信息技术服务业</TextValue></VariableValue>
  <SourceRef targetGUID="{G(70)}"/>
 </Case></Cases>
 <Sources>
  <TextSource guid="{{{G(70).upper()}}}" name="300123_2021年报" plainTextPath="internal://{G(71)}.txt">
   {sel1}{sel2}{sel3}
  </TextSource>
 </Sources>
</Project>"""


@pytest.fixture
def nvivo(tmp_path: Path) -> Path:
    return make_qdpx(tmp_path / "nvivo.qdpx", nvivo_qde(NVIVO_TEXT), {f"sources/{G(71)}.txt": NVIVO_TEXT.encode("utf-8")})


def test_nvivo_nested_codes_cases_and_utf16_positions(nvivo):
    project = import_file(nvivo)
    assert project.codebook is not None
    assert project.codebook.concepts_of("数字化投资") == ("数字化转型投入", "设备升级")
    assert project.codebook.concept("数字化转型投入").description == "对数字化的投入"
    (source,) = project.sources
    assert source.text == NVIVO_TEXT
    assert source.offset_basis.startswith("UTF-16 code units")
    assert source.firm_code == "300123" and source.variables["industry"] == "软件和信息技术服务业"
    quotes = {q.text: q for q in project.training_quotes()}
    assert set(quotes) == {"推进数字化转型投入", "与浙江大学共建联合实验室", "设备全部完成升级"}
    for q in quotes.values():
        assert NVIVO_TEXT[q.start : q.end] == q.text and q.coder == "王研究员" and q.name_matches
    assert quotes["推进数字化转型投入"].concepts == ("数字化转型投入",)  # code GUID in braces, upper case
    assert not project.mismatches


def test_nvivo_project_into_an_empty_store_and_again(nvivo, tmp_path):
    with ProjectStore.open(tmp_path / "s.sqlite") as store:
        first = import_into_store(import_file(nvivo), store, save_codebook=True)
        assert first.firms_added == ["300123"] and first.documents_added == ["300123_2021年报"]
        assert first.codings_added == 3 and first.codebook_saved
        assert store.firm("300123").industry == "软件和信息技术服务业"
        stored = {(c.text, c.concept, c.coder) for c in store.codings()}
        assert ("设备全部完成升级", "设备升级", "王研究员") in stored
        again = import_into_store(import_file(nvivo), store)
        assert again.codings_added == 0 and again.codings_already_stored == 3
        assert again.documents_matched == {"300123_2021年报": "300123_2021年报"}


def test_a_stored_document_is_found_by_its_text_and_quotes_placed_in_it(nvivo, tmp_path):
    with ProjectStore.open(tmp_path / "s.sqlite") as store:
        store.add_firms([Firm("300123")])
        store.add_document(DocumentRecord("my-doc", "300123", NVIVO_TEXT))
        summary = import_into_store(import_file(nvivo), store, add_documents=False)
        assert summary.documents_matched == {"300123_2021年报": "my-doc"}
        assert summary.codings_added == 3
    stored_text = "封面\n" + NVIVO_TEXT  # the stored copy of the text starts differently
    with ProjectStore.open(tmp_path / "t.sqlite") as store:
        store.add_firms([Firm("300123")])
        store.add_document(DocumentRecord("300123_2021年报", "300123", stored_text))
        summary = import_into_store(import_file(nvivo), store)
        assert summary.codings_added == 3
        placed = {c.text: c.start for c in store.codings()}  # text as the store slices it at the offsets
        assert set(placed) == {"推进数字化转型投入", "与浙江大学共建联合实验室", "设备全部完成升级"}
        assert all(start == stored_text.index(text) for text, start in placed.items())  # shifted by the cover line


# --------------------------------------------------------------------------------------------------
# ATLAS.ti: "Sources/" with upper-case file names, flat codes ("Coke::diet" style), quotation
# names cut short with "…", a PDF with a text representation and a region selection.

ATLAS_TEXT = "管理层表示，公司坚持“小步快跑”的迭代策略，每季度发布一次产品更新。客户的意见被及时吸收进设计。"
ATLAS_PDF_TEXT = "年度报告摘要：研发费用同比增长三成。"


def test_atlas_upper_case_sources_flat_codes_and_truncated_names(tmp_path):
    quote = "公司坚持“小步快跑”的迭代策略，每季度发布一次产品更新"
    pdf_quote = "研发费用同比增长三成"
    qde = f"""<?xml version="1.0" encoding="utf-8" standalone="yes"?>
<Project {NS} origin="ATLAS.ti 23.2.1" name="ATLAS 项目" creatingUserGUID="{G(2).upper()}">
 <Users><User guid="{G(2).upper()}" name="Li Ming"/></Users>
 <CodeBook><Codes>
  <Code guid="{G(30).upper()}" name="迭代::快速迭代" isCodable="true" color="#F00082"/>
  <Code guid="{G(31).upper()}" name="研发投入" isCodable="true"/>
 </Codes></CodeBook>
 <Sources>
  <TextSource plainTextPath="internal://{G(80).upper()}.txt" richTextPath="internal://{G(81).upper()}.docx"
     guid="{G(82).upper()}" name="访谈记录.docx" creatingUser="{G(2).upper()}">
   {sel(ATLAS_TEXT, quote, name=quote[:8] + "…", guid=G(201), code=G(30).upper(), user=G(2).upper())}
  </TextSource>
  <PDFSource path="internal://{G(83).upper()}.pdf" guid="{G(84).upper()}" name="年报.pdf">
   <PDFSelection guid="{G(202)}" name="Quotation 2:1" page="0" firstX="1" firstY="1" secondX="9" secondY="9">
    <Coding guid="{G(203)}"><CodeRef targetGUID="{G(31).upper()}"/></Coding>
   </PDFSelection>
   <Representation plainTextPath="internal://{G(85).upper()}.txt" guid="{G(85).upper()}" name="Representation_for_年报.pdf">
    {sel(ATLAS_PDF_TEXT, pdf_quote, guid=G(204), code=G(31).upper(), user=G(2).upper())}
   </Representation>
  </PDFSource>
  <PictureSource guid="{G(86)}" name="车间.jpg" path="internal://{G(86)}.jpg"/>
 </Sources>
</Project>"""
    path = make_qdpx(
        tmp_path / "atlas.qdpx",
        qde,
        {
            f"Sources/{G(80).upper()}.TXT": ATLAS_TEXT.encode("utf-8"),
            f"Sources/{G(85).upper()}.TXT": ATLAS_PDF_TEXT.encode("utf-8"),
            f"Sources/{G(81).upper()}.DOCX": b"PK\x03\x04 not read",
        },
        qde_name="Project.qde",
    )
    project = import_file(path)
    assert project.codebook is None and "1 level deep" in project.codebook_problem
    quotes = {q.text: q for q in project.training_quotes()}
    assert quotes[quote].concepts == ("迭代::快速迭代",) and quotes[quote].coder == "Li Ming"
    assert quotes[quote].name_matches is True  # "公司坚持“小步快跑”的…" is the quote cut short
    assert quotes[pdf_quote].doc == "年报.pdf" and ATLAS_PDF_TEXT[quotes[pdf_quote].start : quotes[pdf_quote].end] == pdf_quote
    warnings = "\n".join(project.warnings)
    assert "1 region selections of PDFs" in warnings and "1 PictureSource sources" in warnings


# --------------------------------------------------------------------------------------------------
# MAXQDA: variables on the TextSource (no cases), the .qde under another name, a BOM in the source.

MAXQDA_TEXT = "公司通过客户共创工作坊收集需求。"


def test_maxqda_variables_on_the_source_any_qde_name_and_bom(tmp_path):
    quote = "客户共创工作坊"
    raw = "\ufeff" + MAXQDA_TEXT
    qde = f"""<?xml version="1.0" encoding="UTF-8"?>
<Project {NS} name="MAXQDA 2022" origin="MAXQDA 22.7.0">
 <Users><User guid="{G(3)}" name="张三" id="ZS"/></Users>
 <CodeBook><Codes>
  <Code guid="{G(40)}" name="合作伙伴" isCodable="true"><Code guid="{G(41)}" name="客户参与" isCodable="true">
   <Code guid="{G(42)}" name="客户共创" isCodable="true"/></Code></Code>
 </Codes></CodeBook>
 <Variables>
  <Variable guid="{G(52)}" name="code" typeOfVariable="Text"/>
  <Variable guid="{G(53)}" name="year" typeOfVariable="Integer"/>
 </Variables>
 <Sources>
  <TextSource guid="{G(90)}" name="688001 2022 年报" plainTextPath="internal://{G(91)}.txt">
   {sel(raw, quote, guid=G(301), code=G(42), user=G(3), coding_user=False)}
   <VariableValue><VariableRef targetGUID="{G(52)}"/><TextValue>688001</TextValue></VariableValue>
   <VariableValue><VariableRef targetGUID="{G(53)}"/><IntegerValue>2022</IntegerValue></VariableValue>
  </TextSource>
 </Sources>
</Project>"""
    path = make_qdpx(tmp_path / "maxqda.qdpx", qde, {f"sources/{G(91)}.txt": raw.encode("utf-8")}, qde_name="MAXQDA 2022.qde")
    project = import_file(path)
    (source,) = project.sources
    assert source.text == MAXQDA_TEXT and source.firm_code == "688001" and source.variables["year"] == 2022
    (q,) = project.training_quotes()
    assert MAXQDA_TEXT[q.start : q.end] == quote == q.text  # the BOM was counted, then stripped and shifted
    assert q.coder == "张三"  # the coding names no user: the selection's creator coded it
    assert q.start == MAXQDA_TEXT.index(quote)
    with ProjectStore.open(tmp_path / "s.sqlite") as store:
        summary = import_into_store(project, store)
        assert summary.documents_added == ["688001 2022 年报"]
        assert store.document("688001 2022 年报").year == 2022


# --------------------------------------------------------------------------------------------------
# QualCoder: CRLF line breaks and a BOM, positions counted in the file (standard) or in its own
# LF text; UTF-16 sources.

QC_LINES = ["一、经营情况", "公司聚焦细分市场，深耕汽车零部件领域。", "二、研发投入", "研发人员占比提升至百分之三十。"]


def qualcoder_project(tmp_path: Path, raw: str, positions_in: str, name: str, encoding: str = "utf-8") -> Path:
    counted = raw if positions_in == "file" else raw.lstrip("\ufeff").replace("\r\n", "\n")
    quotes = ["深耕汽车零部件领域", "研发人员占比提升至百分之三十"]
    selections = "".join(sel(counted, q, guid=G(400 + i), code=G(44 + i), user=G(4)) for i, q in enumerate(quotes))
    qde = f"""<?xml version="1.0" encoding="UTF-8"?>
<Project {NS} name="qc" origin="QualCoder 3.5">
 <Users><User guid="{G(4)}" name="coder_a"/></Users>
 <CodeBook><Codes><Code guid="{G(43)}" name="聚焦" isCodable="false"><Code guid="{G(47)}" name="细分" isCodable="false">
  <Code guid="{G(44)}" name="专注细分" isCodable="true"/><Code guid="{G(45)}" name="研发人才" isCodable="true"/>
 </Code></Code></Codes></CodeBook>
 <Sources><TextSource guid="{G(92)}" name="qc.txt" plainTextPath="internal://{G(93)}.txt">{selections}</TextSource></Sources>
</Project>"""
    return make_qdpx(tmp_path / name, qde, {f"sources/{G(93)}.txt": raw.encode(encoding)})


@pytest.mark.parametrize("positions_in", ["file", "normalised text"])
def test_qualcoder_crlf_and_bom_give_correct_offsets(tmp_path, positions_in):
    raw = "\ufeff" + "\r\n".join(QC_LINES) + "\r\n"
    project = import_file(qualcoder_project(tmp_path, raw, positions_in, "qc.qdpx"))
    (source,) = project.sources
    assert source.text == "\n".join(QC_LINES) + "\n"
    assert "\r" not in source.text and not source.text.startswith("\ufeff")
    quotes = sorted(project.training_quotes(), key=lambda q: q.start)
    assert [q.text for q in quotes] == ["深耕汽车零部件领域", "研发人员占比提升至百分之三十"]
    for q in quotes:
        assert source.text[q.start : q.end] == q.text
    assert quotes[1].start == source.text.index("研发人员")
    if positions_in == "file":
        assert source.offset_basis.startswith("code points in the file")
    else:
        assert "CRLF counted as one" in source.offset_basis and "BOM not counted" in source.offset_basis


def test_utf16_source_with_bom(tmp_path):
    raw = "\ufeff" + "\r\n".join(QC_LINES)
    project = import_file(qualcoder_project(tmp_path, raw, "file", "u16.qdpx", encoding="utf-16-le"))
    (source,) = project.sources
    assert source.encoding == "utf-16-le" and source.text == "\n".join(QC_LINES)
    assert {q.text for q in project.training_quotes()} == {"深耕汽车零部件领域", "研发人员占比提升至百分之三十"}


def test_misnamed_selections_are_reported_not_dropped(tmp_path):
    text = "公司加大研发投入。公司拓展海外市场。"
    qde = f"""<?xml version="1.0" encoding="UTF-8"?>
<Project {NS} name="x">
 <CodeBook><Codes><Code guid="{G(1)}" name="研发" isCodable="true"/></Codes></CodeBook>
 <Sources>
  <TextSource guid="{G(2)}" name="doc">
   <PlainTextContent>{text}</PlainTextContent>
   {sel(text, "公司加大研发投入", guid=G(500), code=G(1))}
   {sel(text, "公司拓展海外市场", name="公司加大研发投入", guid=G(501), code=G(1))}
   <Coding guid="{G(502)}"><CodeRef targetGUID="{G(1)}"/></Coding>
  </TextSource>
  <TextSource guid="{G(3)}" name="external" plainTextPath="relative:///docs/a.txt"/>
  <TextSource guid="{G(4)}" name="lost" plainTextPath="internal://{G(5)}.txt"/>
  <TextSource guid="{G(6)}" name="unknown code" plainTextPath="internal://{G(7)}.txt">
   {sel(text, "公司拓展海外市场", guid=G(503), code=G(999))}
  </TextSource>
 </Sources>
</Project>"""
    path = make_qdpx(tmp_path / "m.qdpx", qde, {f"sources/{G(7)}.txt": text.encode("utf-8")})
    project = import_file(path)
    (mismatch,) = project.mismatches
    assert mismatch.text == "公司拓展海外市场" and mismatch.name == "公司加大研发投入"
    quotes = {q.text: q for q in project.training_quotes()}
    assert quotes["公司拓展海外市场"].name_matches is False  # kept, flagged
    assert quotes["公司加大研发投入"].name_matches is True
    warnings = "\n".join(project.warnings)
    assert "1 selections are named differently" in warnings
    assert "outside the archive (e.g. 'external'" in warnings
    assert "missing from the archive (e.g. 'lost'" in warnings
    assert "1 codings of whole sources" in warnings
    assert "1 codings refer to codes missing from the codebook" in warnings
    assert project.codebook is None and "1 level deep" in project.codebook_problem


def test_qdc_from_another_tool(tmp_path):
    qdc = tmp_path / "nvivo.qdc"
    qdc.write_text(
        f"""<?xml version="1.0" encoding="utf-8"?>
<CodeBook xmlns="urn:QDA-XML:codebook:1.0" origin="NVivo 14">
 <Codes><Code guid="{{{G(10).upper()}}}" name="主范畴" isCodable="true">
  <Code guid="{G(11)}" name="初始范畴" isCodable="true"><Code guid="{G(12)}" name="概念甲" isCodable="true"/>
  <Code guid="{G(13)}" name="概念乙" isCodable="true"/></Code></Code></Codes>
</CodeBook>""",
        encoding="utf-8",
    )
    project = import_file(qdc)
    assert project.codebook.concept_names == ("概念甲", "概念乙")
    assert [c.path for c in project.codes][-1] == ("主范畴", "初始范畴", "概念乙")
    assert project.origin == "NVivo 14" and not project.sources


def test_cli_import_prints_writes_quotes_summary_and_stores(nvivo, tmp_path, capsys):
    out = tmp_path / "out" / "quotes.jsonl"
    store = tmp_path / "project.sqlite"
    main(["qdpx", "import", str(nvivo), "--out", str(out), "--store", str(store)])
    printed = capsys.readouterr().out
    assert "1 sources" in printed and "3 human codings" in printed and "3 training quotes" in printed
    assert "1 added, 3 codings added" in printed
    quotes = _read_quotes(out)  # the demo corpus's reader takes the file as it is
    assert {q.text for q in quotes} == {"推进数字化转型投入", "与浙江大学共建联合实验室", "设备全部完成升级"}
    assert all(q.firm_id == "300123" and NVIVO_TEXT[q.start : q.end] == q.text for q in quotes)
    summary = json.loads((out.parent / "nvivo.import.json").read_text(encoding="utf-8"))
    assert summary["import"]["training_quotes"] == 3 and summary["store"]["codings_added"] == 3
    with ProjectStore.open(store, create=False) as project:
        assert len(project.codings(coder="王研究员")) == 3


def test_cli_import_qdc_into_the_store(tmp_path, capsys):
    from groundcoder.codebook import Codebook

    qdc = tmp_path / "cb.qdc"
    qdc.write_bytes(Codebook.default().to_qdc())
    store = tmp_path / "p.sqlite"
    main(["qdpx", "import", str(qdc), "--store", str(store)])
    assert "codebook version 1" in capsys.readouterr().out
    with ProjectStore.open(store, create=False) as project:
        assert Codebook.from_yaml_text(project.latest_codebook().yaml_text) == Codebook.default()
