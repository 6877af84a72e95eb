"""Training data: loaders for tables, JSONL, the store and demo-style corpora; validation with row numbers;
duplicate merging; multi-label rows; "no code" negatives."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import openpyxl
import pytest

from groundcoder.errors import InputError
from groundcoder.segmentation import split_sentences
from groundcoder.training.data import (
    NegativeSettings,
    TrainingDataError,
    build_examples,
    load_quotes,
    load_store_quotes,
    negative_candidates,
)

from _training_fixtures import codebook, make_corpus


@pytest.fixture(scope="module")
def cb():
    return codebook()


def write_csv(path: Path, rows: list[dict], columns: list[str]) -> Path:
    with open(path, "w", encoding="utf-8-sig", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)
    return path


def test_csv_rows_become_examples_with_merged_duplicates_and_multi_labels(tmp_path, cb):
    path = write_csv(tmp_path / "quotes.csv", [
        {"text": "公司申请发明专利", "concept": "专利研发", "coder": "a", "firm_id": "F1"},
        {"text": "公司申请发明专利", "concept": "数字平台", "coder": "b", "firm_id": "F1"},  # same text: merged
        {"text": "同行压价竞争激烈", "concept": "价格竞争；客户合作", "coder": "a", "firm_id": "F2"},  # full-width ;
        {"text": "", "concept": "", "coder": "", "firm_id": ""},  # blank row: skipped
    ], ["text", "concept", "coder", "firm_id"])
    quotes = load_quotes(path, cb)
    examples, summary = build_examples(quotes, NegativeSettings(enabled=False))
    assert [(e.text, e.concepts, e.firm_id) for e in examples] == [
        ("公司申请发明专利", frozenset({"专利研发", "数字平台"}), "F1"),
        ("同行压价竞争激烈", frozenset({"价格竞争", "客户合作"}), "F2"),
    ]
    assert summary.merged_duplicates == 1 and summary.multi_label == 2 and summary.negatives == 0
    assert examples[0].source == "quotes.csv:2"


def test_bad_rows_are_reported_together_with_row_numbers_and_suggestions(tmp_path, cb):
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "D1.txt").write_text("公司申请发明专利。价格战加剧。", encoding="utf-8")
    path = write_csv(tmp_path / "quotes.csv", [
        {"text": "公司申请发明专利", "concept": "专利研发", "coder": "a", "firm_id": "F1", "doc_id": "", "start": "", "end": ""},
        {"text": "价格战加剧", "concept": "价格竟争", "coder": "a", "firm_id": "F1", "doc_id": "", "start": "", "end": ""},
        {"text": "", "concept": "政府补贴", "coder": "a", "firm_id": "F1", "doc_id": "", "start": "", "end": ""},
        {"text": "", "concept": "政府补贴", "coder": "a", "firm_id": "F1", "doc_id": "D1", "start": "9", "end": "400"},
        {"text": "", "concept": "政府补贴", "coder": "a", "firm_id": "F1", "doc_id": "D1", "start": "x", "end": "4"},
        {"text": "价格战加剧", "concept": "价格竞争", "coder": "a", "firm_id": "F1", "doc_id": "D1", "start": "0", "end": "5"},
        {"text": "x", "concept": "", "coder": "a", "firm_id": "F1", "doc_id": "", "start": "", "end": ""},
    ], ["text", "concept", "coder", "firm_id", "doc_id", "start", "end"])
    with pytest.raises(TrainingDataError) as info:
        load_quotes(path, cb, documents=docs)
    err = info.value
    rows = {p.row: p.message for p in err.problems}
    assert sorted(rows) == [3, 4, 5, 6, 7, 8]  # header is row 1: the first data row (row 2) is fine
    assert "unknown concept '价格竟争'" in rows[3] and "'价格竞争'" in rows[3]  # the close match is suggested
    assert "missing text" in rows[4]
    assert "bad offsets 9:400" in rows[5] and "only 15 characters" in rows[5]
    assert "bad offsets" in rows[6] and "whole numbers" in rows[6]
    assert "bad offsets 0:5" in rows[7] and "not the quote" in rows[7]
    assert "no concept" in rows[8]
    text = str(err)
    assert str(path) in text and "6 bad rows" in text and "row 3: unknown concept" in text


def test_xlsx_rows_are_numbered_as_excel_shows_them(tmp_path, cb):
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append(["Text", "Concept", "Coder", "Firm_ID"])  # header names are case-insensitive
    sheet.append(["公司申请发明专利", "专利研发", "a", "F1"])
    sheet.append(["地方政府补贴到位", "政府补助", "a", "F1"])
    workbook.save(tmp_path / "quotes.xlsx")
    with pytest.raises(TrainingDataError) as info:
        load_quotes(tmp_path / "quotes.xlsx", cb)
    (problem,) = info.value.problems
    assert problem.row == 3 and "政府补贴" in problem.message


def test_jsonl_problems_name_lines_and_a_missing_column_names_the_header(tmp_path, cb):
    path = tmp_path / "quotes.jsonl"
    path.write_text(
        json.dumps({"text": "公司申请发明专利", "concepts": ["专利研发"], "firm_id": "F1"}, ensure_ascii=False) + "\n"
        + "{not json\n"
        + json.dumps({"text": "价格战", "concepts": ["研发投入"], "firm_id": "F1"}, ensure_ascii=False) + "\n",
        encoding="utf-8",
    )
    with pytest.raises(TrainingDataError) as info:
        load_quotes(path, cb)
    assert [p.line for p in info.value.problems] == [2]
    path.write_text(path.read_text(encoding="utf-8").replace("{not json\n", ""), encoding="utf-8")
    with pytest.raises(TrainingDataError) as info:
        load_quotes(path, cb)
    (problem,) = info.value.problems
    assert problem.line == 2
    assert "'研发投入' is an initial category, not a concept" in problem.message and "专利研发" in problem.message
    no_concept = write_csv(tmp_path / "bad.csv", [{"text": "x"}], ["text"])
    with pytest.raises(InputError, match="header lacks concept"):
        load_quotes(no_concept, cb)


def test_a_refi_qda_project_trains_like_the_store_it_came_from(tmp_path, cb):
    from groundcoder.qdpx import export_qdpx
    from groundcoder.store import Coding, DocumentRecord, Firm, ProjectStore

    text = "公司申请发明专利。报告期内公司营业收入同比增长百分之五。价格战加剧。"
    with ProjectStore.open(tmp_path / "p.sqlite") as store:
        store.add_firms([Firm("F1")])
        store.add_document(DocumentRecord("D1", "F1", text), segments=split_sentences(text),
                           codings=[Coding("D1", 0, 8, "专利研发", "alice"), Coding("D1", 28, 33, "价格竞争", "alice")])
        export_qdpx(tmp_path / "p.qdpx", store, codebook=cb)
    quotes = load_quotes(tmp_path / "p.qdpx", cb)
    assert sorted((r.text, r.concepts, r.doc_id, r.start) for r in quotes.rows) == [
        ("价格战加剧", ("价格竞争",), "D1", 28), ("公司申请发明专利", ("专利研发",), "D1", 0)]
    assert {r.firm_id for r in quotes.rows} == {"F1"}  # the firm travels as a case variable
    examples, summary = build_examples(quotes, NegativeSettings(ratio=1.0))
    assert summary.negatives == 1 and summary.positives == 2  # negatives from the project's own source text
    with ProjectStore.open(tmp_path / "q.sqlite") as store:
        store.add_firms([Firm("F1")])
        store.add_document(DocumentRecord("D1", "F1", text), codings=[Coding("D1", 0, 8, "专利发明", "alice")])
        export_qdpx(tmp_path / "q.qdpx", store)
    with pytest.raises(TrainingDataError, match="quote 1 \\(D1 0:8, coder alice\\): unknown concept '专利发明'"):
        load_quotes(tmp_path / "q.qdpx", cb)


def test_unknown_suffixes_are_refused(tmp_path, cb):
    (tmp_path / "quotes.txt").write_text("x", encoding="utf-8")
    with pytest.raises(InputError, match="cannot read training data"):
        load_quotes(tmp_path / "quotes.txt", cb)


def test_negatives_are_uncoded_sentences_of_coded_documents(tmp_path, cb):
    corpus = make_corpus(tmp_path, n_firms=3)
    quotes = load_quotes(corpus["quotes"], cb, documents=corpus["documents"])
    assert {r.firm_id for r in quotes.rows} == {"F00", "F01", "F02"}  # from documents.csv
    candidates = negative_candidates(quotes, min_chars=8)
    coded = [(r.doc_id, r.start, r.end) for r in quotes.rows]
    assert candidates
    for e in candidates:
        assert e.concepts == frozenset() and len(e.text) >= 8
        text = quotes.documents[e.doc_id].text
        seg = next(s for s in split_sentences(text) if s.text == e.text)
        assert not any(d == e.doc_id and seg.start < end and start < seg.end for d, start, end in coded)
    examples, summary = build_examples(quotes, NegativeSettings(ratio=0.1), seed=1)
    assert summary.negatives == round(0.1 * summary.positives)
    again, _ = build_examples(quotes, NegativeSettings(ratio=0.1), seed=1)
    assert examples == again  # seeded
    capped, summary = build_examples(quotes, NegativeSettings(ratio=5.0, cap=3), seed=1)
    assert summary.negatives == 3
    short, summary = build_examples(quotes, NegativeSettings(ratio=5.0, cap=None, min_chars=1000), seed=1)
    assert summary.negatives == 0


def test_store_codings_train_with_their_firms_and_unknown_concepts_are_refused(tmp_path, cb):
    from groundcoder.store import Coding, DocumentRecord, Firm, ProjectStore

    text = "公司申请发明专利。报告期内公司营业收入同比增长百分之五。价格战加剧。"
    with ProjectStore.open(tmp_path / "p.sqlite") as store:
        store.add_firms([Firm("F1")])
        store.add_document(
            DocumentRecord("D1", "F1", text),
            segments=split_sentences(text),
            codings=[Coding("D1", 0, 8, "专利研发", "alice"), Coding("D1", 28, 33, "价格竞争", "alice"),
                     Coding("D1", 0, 8, "数字平台", "bob")],
        )
    quotes = load_store_quotes(tmp_path / "p.sqlite", cb)
    examples, summary = build_examples(quotes, NegativeSettings(ratio=1.0), seed=0)
    assert {e.text: e.concepts for e in examples if e.concepts} == {
        "公司申请发明专利": frozenset({"专利研发", "数字平台"}), "价格战加剧": frozenset({"价格竞争"})}
    assert [e.text for e in examples if not e.concepts] == ["报告期内公司营业收入同比增长百分之五。"]
    assert all(e.firm_id == "F1" for e in examples)
    only_bob = load_store_quotes(tmp_path / "p.sqlite", cb, coders=["bob"])
    assert [r.concepts for r in only_bob.rows] == [("数字平台",)]
    with ProjectStore.open(tmp_path / "p.sqlite") as store:
        store.add_codings([Coding("D1", 10, 20, "营收增长", "alice")])
    with pytest.raises(TrainingDataError, match="unknown concept '营收增长'") as info:
        load_store_quotes(tmp_path / "p.sqlite", cb)
    assert "coding 4" in str(info.value)
