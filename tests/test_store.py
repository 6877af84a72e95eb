"""The project store: schema, transactions, typed round trips, migrations and export."""

from __future__ import annotations

import csv
import sqlite3
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import openpyxl
import pytest

from groundcoder import store as store_module
from groundcoder.cleaning import PageSpan
from groundcoder.errors import InputError
from groundcoder.store import (
    APPLICATION_ID,
    EXPORTABLE_TABLES,
    Coding,
    DocumentRecord,
    Firm,
    Migration,
    ProjectStore,
    SegmentRecord,
    schema_version,
)

# "𠮷" is outside the BMP: one code point, two UTF-16 units, four UTF-8 bytes. Offsets must count it once.
TEXT = "𠮷公司坚持微创新。\n\n公司研发投入占比5.2%，新增专利12项。"


@dataclass
class Seg:  # stands in for groundcoder.segmentation.Segment
    start: int
    end: int
    kind: str


def _span(text: str, piece: str) -> tuple[int, int]:
    start = text.index(piece)
    return start, start + len(piece)


def _doc(doc_id: str = "F001_2021", firm: str = "F001", text: str = TEXT, sha: str = "") -> DocumentRecord:
    return DocumentRecord(
        doc_id=doc_id,
        firm_code=firm,
        text=text,
        kind="annual_report",
        year=2021,
        title="2021年年度报告",
        source_path=f"/data/{doc_id}.txt",
        source_format="txt",
        encoding="gb18030",
        sha256=sha,
        pages=(PageSpan(1, 0, 10), PageSpan(2, 10, len(text))),
    )


def _sentences(text: str = TEXT) -> list[Seg]:
    first = _span(text, "𠮷公司坚持微创新。")
    second = _span(text, "公司研发投入占比5.2%，新增专利12项。")
    return [Seg(*first, "sentence"), Seg(*second, "sentence"), Seg(0, len(text), "paragraph")]


def _snapshot(path: Path) -> dict[str, list[tuple]]:
    conn = sqlite3.connect(path)
    try:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table' ORDER BY name")]
        return {t: sorted(conn.execute(f"SELECT * FROM {t}").fetchall(), key=repr) for t in tables}
    finally:
        conn.close()


@pytest.fixture
def store(tmp_path: Path):
    with ProjectStore.open(tmp_path / "project.sqlite") as s:
        s.add_firms([Firm("F001", "杭州启衡精密传动股份有限公司", "manufacturing", date(2006, 4, 12), {"province": "浙江"}), Firm("F002", "另一家")])
        yield s


# ---- opening -----------------------------------------------------------------------------------


def test_open_creates_store_with_wal_foreign_keys_and_version(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "project.sqlite"
    with ProjectStore.open(path) as s:
        assert s.version == schema_version()
        assert s._conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert s._conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
        assert s._conn.execute("PRAGMA application_id").fetchone()[0] == APPLICATION_ID
    assert path.is_file()
    with ProjectStore.open(path) as again:  # reopening an up-to-date store changes nothing
        assert again.counts()["firms"] == 0


def test_zero_byte_file_and_unversioned_empty_database_are_initialised(tmp_path: Path) -> None:
    empty = tmp_path / "touched.sqlite"
    empty.write_bytes(b"")
    v0 = tmp_path / "v0.sqlite"
    conn = sqlite3.connect(v0)
    conn.execute("PRAGMA user_version = 0")
    conn.execute("VACUUM")  # writes the header, so this is a real (empty) v0 database file
    conn.close()
    assert v0.stat().st_size > 0
    for path in (empty, v0):
        with ProjectStore.open(path) as s:
            assert s.version == schema_version()
            s.add_firms([Firm("X1")])
            assert [f.code for f in s.firms()] == ["X1"]


def test_store_from_newer_groundcoder_is_refused_and_left_unchanged(tmp_path: Path) -> None:
    path = tmp_path / "project.sqlite"
    with ProjectStore.open(path) as s:
        s.add_firms([Firm("F001")])
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version = {schema_version() + 5}")
    conn.close()
    before = path.read_bytes()
    with pytest.raises(InputError, match="newer groundcoder") as info:
        ProjectStore.open(path)
    assert info.value.path == path and "upgrade" in str(info.value)
    assert path.read_bytes() == before


def test_foreign_sqlite_and_non_sqlite_files_are_refused(tmp_path: Path) -> None:
    other = tmp_path / "other.sqlite"
    conn = sqlite3.connect(other)
    conn.execute("CREATE TABLE customers (id INTEGER)")
    conn.commit()
    conn.close()
    with pytest.raises(InputError, match="not a groundcoder project store"):
        ProjectStore.open(other)
    other_app = tmp_path / "app.sqlite"
    conn = sqlite3.connect(other_app)
    conn.execute("PRAGMA application_id = 1234")
    conn.execute("VACUUM")
    conn.close()
    with pytest.raises(InputError, match="another program"):
        ProjectStore.open(other_app)
    text = tmp_path / "firms.csv"
    text.write_text("code,name\n" * 100, encoding="utf-8")
    with pytest.raises(InputError, match="not a readable SQLite file") as info:
        ProjectStore.open(text)
    assert info.value.path == text
    assert text.read_text(encoding="utf-8").startswith("code,name")
    with pytest.raises(InputError, match="folder"):
        ProjectStore.open(tmp_path)


def _v2() -> Migration:
    return Migration(schema_version() + 1, "firms get a province", ("ALTER TABLE firms ADD COLUMN province TEXT NOT NULL DEFAULT ''",))


def test_older_store_is_migrated_in_order_keeping_its_data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "project.sqlite"
    with ProjectStore.open(path) as s:  # written by "this" version (v1)
        s.add_firms([Firm("F001", "甲公司")])
        s.add_document(_doc(), segments=_sentences())
    latest = schema_version()
    monkeypatch.setattr(store_module, "MIGRATIONS", store_module.MIGRATIONS + (_v2(),))
    with ProjectStore.open(path) as s:
        assert s.version == latest + 1
        columns = [r[1] for r in s._conn.execute("PRAGMA table_info(firms)")]
        assert "province" in columns
        assert [f.name for f in s.firms()] == ["甲公司"]
        assert s.document_text("F001_2021") == TEXT
        assert len(s.segments("F001_2021")) == 3


def test_failing_migration_leaves_the_store_at_its_old_version(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "project.sqlite"
    with ProjectStore.open(path) as s:
        s.add_firms([Firm("F001", "甲公司")])
    new, old = schema_version() + 1, schema_version()
    broken = Migration(new, "half-done", ("ALTER TABLE firms ADD COLUMN province TEXT", "ALTER TABLE no_such_table ADD COLUMN x"))
    monkeypatch.setattr(store_module, "MIGRATIONS", store_module.MIGRATIONS + (broken,))
    with pytest.raises(InputError, match=f"could not be upgraded to store schema version {new}.*left unchanged at version {old}"):
        ProjectStore.open(path)
    monkeypatch.undo()
    with ProjectStore.open(path) as s:
        assert s.version == old
        assert "province" not in [r[1] for r in s._conn.execute("PRAGMA table_info(firms)")]
        assert [f.name for f in s.firms()] == ["甲公司"]


# ---- firms and documents -----------------------------------------------------------------------


def test_firms_round_trip_and_update(store: ProjectStore) -> None:
    firm = store.firm("F001")
    assert firm == Firm("F001", "杭州启衡精密传动股份有限公司", "manufacturing", date(2006, 4, 12), {"province": "浙江"})
    store.add_firms([Firm("F002", "改名后", "software")])
    assert store.firm("F002").name == "改名后"
    assert [f.code for f in store.firms()] == ["F001", "F002"]
    assert store.firm("nope") is None


def test_document_round_trip_with_code_point_offsets(store: ProjectStore) -> None:
    start, end = _span(TEXT, "新增专利12项")
    stored = store.add_document(
        _doc(),
        segments=_sentences(),
        codings=[Coding("F001_2021", start, end, "研发投入", "coder1", text="新增专利12项", memo="数量")],
    )
    assert stored.text is None and stored.char_count == len(TEXT) and stored.ingested_at
    assert stored.pages == (PageSpan(1, 0, 10), PageSpan(2, 10, len(TEXT)))
    assert stored.encoding == "gb18030" and stored.year == 2021
    assert store.document_text("F001_2021") == TEXT
    assert store.document("F001_2021").text == TEXT
    [listed] = store.documents(firm_id="F001")
    assert listed.text is None and listed.doc_id == "F001_2021"
    assert store.documents(firm_id="F002") == []
    segments = store.segments("F001_2021", kind="sentence")
    assert [s.text for s in segments] == ["𠮷公司坚持微创新。", "公司研发投入占比5.2%，新增专利12项。"]
    assert all(TEXT[s.start : s.end] == s.text for s in segments)
    [coding] = store.codings(doc_id="F001_2021")
    assert (coding.text, coding.memo, coding.coder_kind) == ("新增专利12项", "数量", "human")
    assert TEXT[coding.start : coding.end] == coding.text


def test_document_hash_defaults_to_text_hash_and_is_looked_up(store: ProjectStore) -> None:
    store.add_document(_doc(sha="ab" * 32))
    assert store.has_document_hash("ab" * 32)
    assert store.document_id_for_hash("ab" * 32) == "F001_2021"
    assert not store.has_document_hash("cd" * 32)
    other = _doc("F002_2021", firm="F002", text="别的文本")
    assert other.sha256 == store_module.sha256_text("别的文本")


def test_document_problems_are_clear_errors(store: ProjectStore) -> None:
    with pytest.raises(InputError, match="firm 'F999'.*not in the project's firm table"):
        store.add_document(_doc(firm="F999"))
    store.add_document(_doc())
    with pytest.raises(InputError, match="same content is already stored as document 'F001_2021'"):
        store.add_document(_doc("F001_2021_copy"))
    with pytest.raises(InputError, match="document id 'F001_2021' is already used"):
        store.add_document(_doc(text="另一份文本"))
    with pytest.raises(InputError, match="no document 'missing'"):
        store.document_text("missing")
    assert store.document("missing") is None


# ---- transactions ------------------------------------------------------------------------------


def _failing_segments(exc: BaseException):
    yield Seg(0, 3, "sentence")
    yield Seg(3, 6, "sentence")
    raise exc


@pytest.mark.parametrize("exc", [RuntimeError("disk on fire"), KeyboardInterrupt()])
def test_import_failing_midway_leaves_store_unchanged(store: ProjectStore, exc: BaseException) -> None:
    store.add_document(_doc("F002_2020", firm="F002", text="早先的文档。"), segments=[Seg(0, 6, "sentence")])
    before = _snapshot(store.path)
    with pytest.raises(type(exc)):
        store.add_document(_doc(), segments=_failing_segments(exc))
    assert _snapshot(store.path) == before
    assert store.document("F001_2021") is None
    assert store.documents() == store.documents(firm_id="F002")


def test_bad_coding_rolls_back_the_whole_document(store: ProjectStore) -> None:
    before = _snapshot(store.path)
    with pytest.raises(InputError, match="outside the document text"):
        store.add_document(_doc(), segments=_sentences(), codings=[Coding("F001_2021", 5, len(TEXT) + 1, "研发投入", "c1")])
    with pytest.raises(InputError, match="segment 1 .* outside the text"):
        store.add_document(_doc(), segments=[Seg(0, len(TEXT) + 3, "sentence")])
    with pytest.raises(InputError, match="not what the document has"):
        store.add_document(_doc(), codings=[Coding("F001_2021", 0, 2, "研发投入", "c1", text="公司")])
    assert _snapshot(store.path) == before


def test_caller_transaction_groups_several_documents(store: ProjectStore) -> None:
    with pytest.raises(RuntimeError):
        with store.transaction():
            store.add_document(_doc("A", text="第一份。"))
            store.add_document(_doc("B", text="第二份。"))
            raise RuntimeError("loader failed after two documents")
    assert store.documents() == []
    with store.transaction():
        store.add_document(_doc("A", text="第一份。"))
        store.add_document(_doc("B", text="第二份。"))
    assert [d.doc_id for d in store.documents()] == ["A", "B"]


def test_hard_crash_mid_document_leaves_no_trace(store: ProjectStore, tmp_path: Path) -> None:
    """The process dies (no rollback, no cleanup) while a document is half-inserted."""
    store.add_document(_doc("F002_2020", firm="F002", text="早先的文档。"))
    before = _snapshot(store.path)
    script = textwrap.dedent(
        f"""
        import os
        from groundcoder.store import ProjectStore, DocumentRecord
        from dataclasses import dataclass

        @dataclass
        class Seg:
            start: int
            end: int
            kind: str

        def segments():
            yield Seg(0, 2, "sentence")
            os._exit(9)  # killed mid-transaction: the document row and a segment are already written

        s = ProjectStore.open({str(store.path)!r})
        s.add_document(DocumentRecord("F001_2021", "F001", {TEXT!r}), segments=segments())
        """
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert result.returncode == 9, result.stderr
    assert _snapshot(store.path) == before


def test_remove_document_takes_segments_and_codings_with_it(store: ProjectStore) -> None:
    store.add_document(_doc(), segments=_sentences(), codings=[Coding("F001_2021", 0, 3, "研发投入", "c1")])
    store.remove_document("F001_2021")
    assert store.counts() | {"firms": 0} == {"firms": 0, "documents": 0, "segments": 0, "codings": 0, "codebook_versions": 0, "model_runs": 0}
    with pytest.raises(InputError, match="no document"):
        store.remove_document("F001_2021")


# ---- codings, codebooks, model runs ------------------------------------------------------------


def test_codings_filters_dedup_and_validation(store: ProjectStore) -> None:
    store.add_document(_doc())
    store.add_model_run("run-1", path="models/runs/run-1", base_model="bert-base-chinese")
    human = Coding("F001_2021", 0, 3, "研发投入", "coder1")
    model = Coding("F001_2021", 0, 3, "研发投入", "run-1", coder_kind="model", model_run_id="run-1", confidence=0.9)
    assert store.add_codings([human, model]) == 2
    assert store.add_codings([human]) == 0  # the same coding again is kept once
    assert [c.coder for c in store.codings(coder="coder1")] == ["coder1"]
    assert [c.confidence for c in store.codings(coder_kind="model")] == [0.9]
    assert [c.coder for c in store.codings(model_run_id="run-1")] == ["run-1"]
    assert all(c.text == "𠮷公司" for c in store.codings())
    with pytest.raises(InputError, match="names its model run"):
        store.add_codings([Coding("F001_2021", 0, 3, "x", "m", coder_kind="model")])
    with pytest.raises(InputError, match="model run 'run-9' is not in the store"):
        store.add_codings([Coding("F001_2021", 0, 3, "x", "m", coder_kind="model", model_run_id="run-9")])
    with pytest.raises(InputError, match="coder kind 'robot'"):
        store.add_codings([Coding("F001_2021", 0, 3, "x", "m", coder_kind="robot")])
    with pytest.raises(InputError, match="confidence 1.5"):
        store.add_codings([Coding("F001_2021", 0, 3, "x", "m", coder_kind="model", model_run_id="run-1", confidence=1.5)])
    with pytest.raises(InputError, match="no document 'nope'"):
        store.add_codings([Coding("F001_2021", 3, 5, "y", "coder1"), Coding("nope", 0, 1, "x", "c")])
    assert len(store.codings()) == 2  # the valid coding in the failed batch was not kept either


def test_codebook_versions_are_kept_once_per_text(store: ProjectStore) -> None:
    first = store.add_codebook_version("concepts:\n  - 研发投入\n", note="start")
    again = store.add_codebook_version("concepts:\n  - 研发投入\n")
    second = store.add_codebook_version("concepts:\n  - 研发投入\n  - 忘却学习\n")
    assert again.id == first.id and again.note == "start"
    assert second.id != first.id and second.sha256 != first.sha256
    assert [v.id for v in store.codebook_versions()] == [first.id, second.id]
    assert store.latest_codebook() == second


def test_model_runs_keep_history_and_one_current(store: ProjectStore) -> None:
    assert store.current_model() is None
    store.add_model_run("r1", path="models/runs/r1", base_model="compact", config={"lr": 3e-5}, make_current=True)
    store.add_model_run("r2", path="models/runs/r2", base_model="bert-base-chinese", metrics={"f1": 0.7})
    assert store.current_model().run_id == "r1"
    store.set_current_model("r2")
    assert store.current_model().run_id == "r2"
    assert [(r.run_id, r.is_current) for r in store.model_runs()] == [("r1", False), ("r2", True)]
    assert [run for run, _ in store.current_model_history()] == ["r1", "r2"]
    assert store.model_run("r1").config == {"lr": 3e-5}
    assert store.update_model_metrics("r1", {"f1": 0.8}).metrics == {"f1": 0.8}
    with pytest.raises(InputError, match="no model run 'r3'.*r1, r2"):
        store.set_current_model("r3")
    with pytest.raises(InputError, match="already recorded"):
        store.add_model_run("r1", path="x", base_model="y")


# ---- export ------------------------------------------------------------------------------------


def test_export_every_table_as_csv_and_xlsx(store: ProjectStore, tmp_path: Path) -> None:
    start, end = _span(TEXT, "新增专利12项")
    store.add_document(_doc(), segments=_sentences(), codings=[Coding("F001_2021", start, end, "研发投入", "coder1")])
    store.add_codebook_version("concepts: []\n")
    store.add_model_run("r1", path="p", base_model="b", make_current=True)
    for name in EXPORTABLE_TABLES:
        csv_path, xlsx_path = store.export_table(name, tmp_path / "out" / name)
        assert csv_path.read_bytes().startswith(b"\xef\xbb\xbf")
        assert xlsx_path is not None and xlsx_path.is_file()
    with open(tmp_path / "out" / "codings.csv", encoding="utf-8-sig", newline="") as fh:
        [row] = list(csv.DictReader(fh))
    assert row["quote"] == "新增专利12项" and row["firm_code"] == "F001" and row["concept"] == "研发投入"
    with open(tmp_path / "out" / "documents.csv", encoding="utf-8-sig", newline="") as fh:
        [doc] = list(csv.DictReader(fh))
    assert "text" not in doc and doc["char_count"] == str(len(TEXT)) and doc["pages"] == "2"
    sheet = openpyxl.load_workbook(tmp_path / "out" / "firms.xlsx").active
    header = [c.value for c in sheet[1]]
    assert header == ["code", "name", "industry", "founded", "province"]  # attributes become columns
    assert [c.value for c in sheet[2]] == ["F001", "杭州启衡精密传动股份有限公司", "manufacturing", "2006-04-12", "浙江"]


def test_export_unknown_table_lists_the_tables(store: ProjectStore, tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no table 'coding'") as info:
        store.export_table("coding", tmp_path / "x")
    assert all(name in str(info.value) for name in EXPORTABLE_TABLES)
    assert not list(tmp_path.glob("x*"))


def test_export_cuts_cells_too_long_for_excel_but_not_in_csv(store: ProjectStore, tmp_path: Path) -> None:
    long_yaml = "# " + "长" * 40_000 + "\n"
    store.add_codebook_version(long_yaml)
    csv_path, xlsx_path = store.export_table("codebook_versions", tmp_path / "cb")
    with open(csv_path, encoding="utf-8-sig", newline="") as fh:
        assert next(csv.DictReader(fh))["yaml_text"] == long_yaml
    cell = openpyxl.load_workbook(xlsx_path).active["E2"].value
    assert len(cell) <= 32_767 and "Excel cell limit" in cell


def test_segment_records_are_typed(store: ProjectStore) -> None:
    store.add_document(_doc(), segments=_sentences())
    [paragraph] = store.segments("F001_2021", kind="paragraph")
    assert isinstance(paragraph, SegmentRecord) and paragraph.text == TEXT and paragraph.id is not None


def test_negative_codings_are_kept_apart_and_v1_rejections_are_migrated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "project.sqlite"
    monkeypatch.setattr(store_module, "MIGRATIONS", store_module.MIGRATIONS[:1])
    with ProjectStore.open(path) as s:  # a version-1 store holding an interim "not:" rejection
        s.add_firms([Firm("F001", "甲公司")])
        s.add_document(_doc(), segments=_sentences())
    conn = sqlite3.connect(path)
    with conn:
        for concept in ("not:产品特性", "产品特性"):
            conn.execute("""INSERT INTO codings (doc_id, start_char, end_char, concept, coder_id, coder_kind, memo, created_at)
                            VALUES ('F001_2021', 0, 4, ?, '审阅者', 'human', '', '2024-01-01')""", (concept,))
    conn.close()
    monkeypatch.undo()
    with ProjectStore.open(path) as s:
        assert s.version == schema_version()
        assert [(c.concept, c.polarity) for c in s.codings()] == [("产品特性", "positive")]
        assert [(c.concept, c.polarity) for c in s.codings(polarity="negative")] == [("产品特性", "negative")]
        assert len(s.codings(polarity=None)) == 2
        with pytest.raises(InputError, match="polarity"):
            s.add_codings([Coding("F001_2021", 0, 4, "产品特性", "审阅者", polarity="maybe")])
