"""``groundcoder ingest``: matching files to firms, skipping, failures, interruption, the CLI."""

from __future__ import annotations

import hashlib
import json
import sqlite3
from pathlib import Path

import pytest

from groundcoder import ingest as ingest_module
from groundcoder.cli import main
from groundcoder.errors import InputError
from groundcoder.ingest import (
    SUMMARY_NAME,
    FirmCodes,
    compile_pattern,
    ingest_folder,
    match_by_name,
    normalize_kind,
)
from groundcoder.store import Firm, ProjectStore

GBK_TEXT = "平安银行2021年年度报告。\n\n公司坚持科技引领，持续加大研发投入。全年新增专利三十项。\n"
BOM_TEXT = "宁德时代2020年年度报告。\n\n公司在电池材料上开展微创新，改进工艺十二项。\n"
UTF8_TEXT = "启衡精密2019年年度报告。\n\n公司与高校共建实验室。\n"
FIRMS_CSV = "证券代码,公司名称,行业,成立日期\n000001,平安银行,金融,1987-12-22\n300750,宁德时代,制造业,2011-12-16\nD0001,启衡精密,manufacturing,2006-04-12\n"


def _corpus(root: Path) -> tuple[Path, Path]:
    docs = root / "docs"
    docs.mkdir()
    (docs / "000001_2021.txt").write_bytes(GBK_TEXT.encode("gbk"))
    (docs / "300750_2020年年度报告.txt").write_bytes(b"\xef\xbb\xbf" + BOM_TEXT.encode("utf-8"))
    sub = docs / "2019"
    sub.mkdir()
    (sub / "D0001.txt").write_text(UTF8_TEXT, encoding="utf-8")
    (docs / "000009_2021.txt").write_text("未知公司的年报。", encoding="utf-8")
    junk = bytes(range(256)) * 40  # binary junk with NUL bytes, named like a real report
    (docs / "000001_2018.txt").write_bytes(junk)
    (docs / "notes.xlsx").write_bytes(b"PK")  # a type groundcoder does not read
    (docs / ".DS_Store").write_bytes(b"\x00")
    firms = root / "firms.csv"
    firms.write_text(FIRMS_CSV, encoding="utf-8")
    return docs, firms


def _docs_in(store_path: Path) -> dict[str, tuple]:
    conn = sqlite3.connect(store_path)
    try:
        rows = conn.execute("SELECT doc_id, firm_code, year, encoding, text FROM documents").fetchall()
        return {r[0]: r[1:] for r in rows}
    finally:
        conn.close()


def _segment_doc_ids(store_path: Path) -> set[str]:
    conn = sqlite3.connect(store_path)
    try:
        return {r[0] for r in conn.execute("SELECT DISTINCT doc_id FROM segments")}
    finally:
        conn.close()


def test_ingest_reads_gbk_and_bom_files_and_reports_the_rest(tmp_path: Path) -> None:
    docs, firms = _corpus(tmp_path)
    store_path = tmp_path / "project.sqlite"
    summary = ingest_folder(docs, firms, store_path)

    assert sorted(f.file for f in summary.ingested) == ["000001_2021.txt", "2019/D0001.txt", "300750_2020年年度报告.txt"]
    failed = {f.file: f.reason for f in summary.failed}
    assert set(failed) == {"000009_2021.txt", "000001_2018.txt"}
    assert "'000009'" in failed["000009_2021.txt"] and "firms.csv" in failed["000009_2021.txt"]
    assert "not text" in failed["000001_2018.txt"] or "binary" in failed["000001_2018.txt"]
    assert summary.unsupported == ["notes.xlsx"]

    stored = _docs_in(store_path)
    assert stored["000001_2021"][:3] == ("000001", 2021, "gb18030")
    assert stored["000001_2021"][3] == GBK_TEXT
    assert stored["300750_2020年年度报告"][:3] == ("300750", 2020, "utf-8-sig")
    assert stored["300750_2020年年度报告"][3] == BOM_TEXT
    assert stored["2019/D0001"][:2] == ("D0001", 2019)  # year from the folder name
    assert _segment_doc_ids(store_path) == set(stored)

    with ProjectStore.open(store_path) as store:
        assert {f.code for f in store.firms()} == {"000001", "300750", "D0001"}
        sentences = store.segments("000001_2021", kind="sentence")
        assert sentences and all(GBK_TEXT[s.start : s.end] == s.text for s in sentences)
        assert store.documents(firm_id="000001")[0].sha256 == hashlib.sha256(GBK_TEXT.encode("gbk")).hexdigest()

    written = json.loads((tmp_path / SUMMARY_NAME).read_text(encoding="utf-8"))
    assert written["counts"] == {"ingested": 3, "skipped_duplicate": 0, "failed": 2, "unsupported": 1, "not_in_manifest": 0}
    assert {f["file"] for f in written["failed"]} == set(failed)
    assert written["firms_encoding"] == "utf-8" and written["interrupted"] is False


def test_rerun_skips_files_already_ingested_by_content(tmp_path: Path) -> None:
    docs, firms = _corpus(tmp_path)
    store_path = tmp_path / "project.sqlite"
    ingest_folder(docs, firms, store_path)
    before = _docs_in(store_path)
    (docs / "000001_2021_copy.txt").write_bytes(GBK_TEXT.encode("gbk"))  # same bytes, new name
    again = ingest_folder(docs, firms, store_path)
    assert again.ingested == []
    assert {d.file: d.same_as for d in again.duplicates} == {
        "000001_2021.txt": "000001_2021",
        "000001_2021_copy.txt": "000001_2021",
        "2019/D0001.txt": "2019/D0001",
        "300750_2020年年度报告.txt": "300750_2020年年度报告",
    }
    assert len(again.failed) == 2
    assert _docs_in(store_path) == before


def test_firm_table_row_missing_its_code_stops_before_anything_is_written(tmp_path: Path) -> None:
    docs, firms = _corpus(tmp_path)
    firms.write_text("code,name\n000001,平安银行\n,宁德时代\n", encoding="utf-8")
    store_path = tmp_path / "project.sqlite"
    with pytest.raises(InputError, match="no firm code") as info:
        ingest_folder(docs, firms, store_path)
    assert info.value.path == firms and info.value.row == 3
    assert not store_path.exists()


class _Exploding:
    """A segment whose offsets blow up when the store reads them, i.e. inside the document's transaction."""

    def __init__(self, exc: BaseException) -> None:
        self.exc = exc
        self.kind = "sentence"

    @property
    def start(self) -> int:
        raise self.exc

    end = start


def _fail_on(monkeypatch: pytest.MonkeyPatch, marker: str, exc: BaseException) -> None:
    real = ingest_module.split_sentences

    def split(text: str):
        segments = list(real(text))
        return segments[:1] + [_Exploding(exc)] if marker in text else segments

    monkeypatch.setattr(ingest_module, "split_sentences", split)


def test_interruption_midway_keeps_earlier_documents_and_no_partial_one(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    docs, firms = _corpus(tmp_path)
    store_path = tmp_path / "project.sqlite"
    # Files go in path order: 000001_2018 (junk), 000001_2021, 000009 (unknown), 2019/D0001, then 300750.
    _fail_on(monkeypatch, "宁德时代", KeyboardInterrupt())
    with pytest.raises(KeyboardInterrupt):
        ingest_folder(docs, firms, store_path)
    stored = _docs_in(store_path)
    assert set(stored) == {"000001_2021", "2019/D0001"}
    assert _segment_doc_ids(store_path) == set(stored)  # the interrupted document left no segments
    written = json.loads((tmp_path / SUMMARY_NAME).read_text(encoding="utf-8"))
    assert written["interrupted"] is True
    assert [f["file"] for f in written["ingested"]] == ["000001_2021.txt", "2019/D0001.txt"]

    monkeypatch.undo()
    resumed = ingest_folder(docs, firms, store_path)
    assert [d.file for d in resumed.duplicates] == ["000001_2021.txt", "2019/D0001.txt"]
    assert [f.file for f in resumed.ingested] == ["300750_2020年年度报告.txt"]
    assert {k: v for k, v in _docs_in(store_path).items() if k in stored} == stored


def test_one_document_failing_in_the_store_does_not_stop_the_others(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    docs, firms = _corpus(tmp_path)
    store_path = tmp_path / "project.sqlite"
    _fail_on(monkeypatch, "宁德时代", ValueError("segmenter bug"))
    summary = ingest_folder(docs, firms, store_path)
    failed = {f.file: f.reason for f in summary.failed}
    assert "segmenter bug" in failed["300750_2020年年度报告.txt"]
    assert set(_docs_in(store_path)) == {"000001_2021", "2019/D0001"}
    assert "300750_2020年年度报告" not in _segment_doc_ids(store_path)


def test_manifest_like_a_real_one(tmp_path: Path) -> None:
    docs, firms = _corpus(tmp_path)
    gbk_sha = hashlib.sha256(GBK_TEXT.encode("gbk")).hexdigest()
    manifest = docs / "manifest.csv"
    manifest.write_text(
        "file,firm_code,firm_name,year,kind,sha256\n"
        f'000001_2021.txt,000001,平安银行,2021,"annual report (年度报告), as published",{gbk_sha}\n'
        f"2019/D0001.txt,D0001,启衡精密,2019年,官网,{'0' * 64}\n"
        "300750_2020年年度报告.txt,300750,宁德时代,,新闻,\n"
        "missing.pdf,000001,平安银行,2020,年报,\n"
        "000009_2021.txt,000009,未知,2021,interview,\n",
        encoding="utf-8-sig",
    )
    store_path = tmp_path / "project.sqlite"
    summary = ingest_folder(docs, firms, store_path, manifest_path=manifest)
    ingested = {f.file: (f.kind, f.year) for f in summary.ingested}
    assert ingested == {"000001_2021.txt": ("annual_report", 2021), "300750_2020年年度报告.txt": ("news", None)}
    failed = {f.file: f.reason for f in summary.failed}
    assert "SHA-256 differs" in failed["2019/D0001.txt"]
    assert "not found" in failed["missing.pdf"]
    assert "'000009'" in failed["000009_2021.txt"]
    assert sorted(summary.not_in_manifest) == ["000001_2018.txt"]


def test_manifest_problems_name_the_row(tmp_path: Path) -> None:
    docs, firms = _corpus(tmp_path)
    manifest = tmp_path / "manifest.csv"
    manifest.write_text("file,code,year\n000001_2021.txt,000001,2021\n300750_2020年年度报告.txt,300750,二〇二〇\n", encoding="utf-8")
    with pytest.raises(InputError, match="not a 4-digit year") as info:
        ingest_folder(docs, firms, tmp_path / "p.sqlite", manifest_path=manifest)
    assert info.value.row == 3
    manifest.write_text("file,code\n000001_2021.txt,000001\n000001_2021.txt,000001\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"listed again \(first at row 2\)") as info:
        ingest_folder(docs, firms, tmp_path / "p.sqlite", manifest_path=manifest)
    assert info.value.row == 3
    manifest.write_text("file,year\n000001_2021.txt,2021\n", encoding="utf-8")
    with pytest.raises(InputError, match="no code column"):
        ingest_folder(docs, firms, tmp_path / "p.sqlite", manifest_path=manifest)


# ---- matching by name --------------------------------------------------------------------------

FIRMS = FirmCodes([Firm("000001"), Firm("0000012"), Firm("300750.SZ"), Firm("D0001")])


@pytest.mark.parametrize(
    ("name", "code", "year"),
    [
        ("000001_2021.pdf", "000001", 2021),
        ("000001平安银行2021年年度报告.pdf", "000001", 2021),
        ("000001_平安银行_2021年年度报告_2022-03-10.pdf", "000001", 2021),
        ("0000012_2020.txt", "0000012", 2020),  # the longer code wins
        ("300750_2019.pdf", "300750.SZ", 2019),  # exchange suffix in the firm table
        ("2017/D0001-AR.txt", "D0001", 2017),
        ("０００００１_2021.pdf", "000001", 2021),  # full-width digits
        ("D0001.txt", "D0001", None),
    ],
)
def test_default_matching(name: str, code: str, year: int | None) -> None:
    source = match_by_name(Path(name), name, FIRMS, Path("firms.csv"), None, "annual_report")
    assert (source.firm_code, source.year, source.problem) == (code, year, None)


@pytest.mark.parametrize(
    ("name", "reason"),
    [("000002_2021.pdf", "no firm with code '000002'"), ("D00011.txt", "'D00011'"), ("平安银行2021.pdf", "does not start with a firm code")],
)
def test_default_matching_explains_misses(name: str, reason: str) -> None:
    source = match_by_name(Path(name), name, FIRMS, Path("firms.csv"), None, "annual_report")
    assert source.firm_code is None and reason in source.problem


@pytest.mark.parametrize(
    ("pattern", "name", "code", "year"),
    [
        ("{year}_{code}", "2021_000001_年报.pdf", "000001", 2021),
        ("*_{code}_{year}", "年报_300750_2019.pdf", "300750.SZ", 2019),
        ("{code}{year}", "0000012021.pdf", "000001", 2021),
        ("{year}/{code}", "2020/D0001.txt", "D0001", 2020),
    ],
)
def test_pattern_matching(pattern: str, name: str, code: str, year: int) -> None:
    source = match_by_name(Path(name), name, FIRMS, Path("firms.csv"), compile_pattern(pattern), "annual_report")
    assert (source.firm_code, source.year, source.problem) == (code, year, None)


def test_pattern_errors() -> None:
    source = match_by_name(Path("x.pdf"), "x.pdf", FIRMS, Path("firms.csv"), compile_pattern("{year}_{code}"), "annual_report")
    assert "does not match --pattern '{year}_{code}'" in source.problem
    with pytest.raises(InputError, match="unknown placeholder {firm}"):
        compile_pattern("{firm}_{year}")
    with pytest.raises(InputError, match="must contain {code} once"):
        compile_pattern("{year}")


def test_kind_words() -> None:
    assert normalize_kind("年度报告") == "annual_report"
    assert normalize_kind("Annual Report (年度报告), as published") == "annual_report"
    assert normalize_kind("公司官网") == "website"
    assert normalize_kind("") == "annual_report"
    assert normalize_kind("Expert Interview") == "expert_interview"
    assert normalize_kind("newsletter") == "newsletter"  # not "news"


# ---- command line ------------------------------------------------------------------------------


def test_cli_ingest_then_export(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    docs, firms = _corpus(tmp_path)
    store_path = tmp_path / "proj" / "project.sqlite"
    main(["ingest", str(docs), "--firms", str(firms), "--store", str(store_path)])  # failures reported, not fatal
    out = capsys.readouterr().out
    assert "ingested 3" in out and "failed 2" in out and "000009_2021.txt" in out
    assert (store_path.parent / SUMMARY_NAME).is_file()

    main(["export", "documents", "--store", str(store_path)])
    assert (store_path.parent / "documents.csv").is_file() and (store_path.parent / "documents.xlsx").is_file()

    with pytest.raises(SystemExit) as exit_info:
        main(["export", "nonsense", "--store", str(store_path)])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "no table 'nonsense'" in err and "codings" in err

    with pytest.raises(SystemExit) as exit_info:
        main(["export", "firms", "--store", str(tmp_path / "none.sqlite")])
    assert exit_info.value.code == 2 and "no project store" in capsys.readouterr().err
    assert not (tmp_path / "none.sqlite").exists()


def test_cli_reports_missing_folder_cleanly(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    firms = tmp_path / "firms.csv"
    firms.write_text(FIRMS_CSV, encoding="utf-8")
    with pytest.raises(SystemExit) as exit_info:
        main(["ingest", str(tmp_path / "nowhere"), "--firms", str(firms), "--store", str(tmp_path / "p.sqlite")])
    assert exit_info.value.code == 2 and "folder not found" in capsys.readouterr().err
