"""Auto-coding: windows, bucketing, hierarchy-consistent and reproducible outputs, inputs, store, CLI."""

from __future__ import annotations

import json
import random

import numpy as np
import pandas as pd
import pytest
from _inference_fixtures import RUN_ID, build_tiny_run, corpus_documents, make_store
from classifier_helpers import CONCEPT_WORDS, FILLER, separable_corpus, small_codebook

from groundcoder.errors import InputError
from groundcoder.inference import (
    BertCoder,
    ScoringSettings,
    code_segments,
    document_segments,
    load_code_config,
    load_coder,
    merge_max,
    plan_batches,
    read_segment_table,
    resolve_model,
    run_bucketed,
    run_code,
    run_one_by_one,
    window_spans,
)
from groundcoder.inference.autocode import model_text
from groundcoder.inference.segmenting import token_windows
from groundcoder.store import ProjectStore


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory):
    return build_tiny_run(tmp_path_factory.getbasetemp() / "inference")


@pytest.fixture(scope="module")
def coder(tiny_run):
    return load_coder(tiny_run, batch_size=7, max_batch_tokens=200, threads=1)


def config(tiny_run, out, **overrides):
    values = {"model": str(tiny_run), "output.folder": str(out), "output.progress": False, "inference.threads": 1}
    values.update(overrides)
    return load_code_config(None, values)


# ----- windows and merging ------------------------------------------------------------------------


@pytest.mark.parametrize("n,size,overlap", [(5, 10, 2), (10, 10, 2), (11, 10, 2), (57, 10, 3), (100, 16, 0), (33, 8, 7)])
def test_windows_cover_every_unit_with_full_size_overlapping_windows(n, size, overlap):
    spans = window_spans(n, size, overlap)
    covered = np.zeros(n, dtype=int)
    for s, e in spans:
        covered[s:e] += 1
    assert covered.min() >= 1
    if n <= size:
        assert spans == [(0, n)]
    else:
        assert all(e - s == size for s, e in spans)  # the last one moved back, not a stub
        assert spans[-1][1] == n
        assert all(b[0] <= a[1] and a[1] - b[0] >= overlap for a, b in zip(spans, spans[1:]))
        assert all(b[0] > a[0] for a, b in zip(spans, spans[1:]))


def test_windows_refuse_an_overlap_as_large_as_the_window():
    with pytest.raises(ValueError):
        window_spans(50, 10, 10)


def test_merge_is_the_max_over_each_segments_windows():
    rng = np.random.default_rng(0)
    owners = [0, 1, 1, 1, 2, 3, 3]
    probs = rng.random((7, 5)).astype(np.float32)
    merged = merge_max(probs, owners, 4)
    assert merged.shape == (4, 5)
    np.testing.assert_array_equal(merged[1], probs[1:4].max(axis=0))
    np.testing.assert_array_equal(merged[3], probs[5:7].max(axis=0))
    np.testing.assert_array_equal(merged[0], probs[0])
    with pytest.raises(ValueError):
        merge_max(probs, [0, 1, 0, 1, 2, 3, 3], 4)  # not grouped by segment


# ----- bucketing ----------------------------------------------------------------------------------


def test_batches_are_length_sorted_within_limits_and_outputs_come_back_in_input_order():
    rng = random.Random(1)
    ids = [[rng.randint(5, 99) for _ in range(rng.randint(1, 40))] for _ in range(103)]
    lengths = [len(x) for x in ids]
    batches = plan_batches(lengths, batch_size=8, max_batch_tokens=120)
    flat = np.concatenate(batches)
    assert sorted(flat.tolist()) == list(range(len(ids)))
    widths = [max(lengths[i] for i in b) for b in batches]
    assert widths == sorted(widths)  # buckets go from short to long
    assert all(len(b) <= 8 and (len(b) == 1 or len(b) * w <= 120) for b, w in zip(batches, widths))

    def forward(input_ids, mask):  # depends on the row's own tokens only
        return np.stack([(input_ids * mask).sum(1), mask.sum(1)], axis=1).astype(np.float32)

    batched = run_bucketed(ids, forward, width=2, pad_id=0, batch_size=8, max_batch_tokens=120)
    naive = run_one_by_one(ids, forward, width=2)
    np.testing.assert_array_equal(batched, naive)
    np.testing.assert_array_equal(batched[:, 1], lengths)


def test_bucketed_coder_matches_predict_proba_and_the_one_by_one_loop(coder):
    texts, _ = separable_corpus(45, seed=11)
    texts[3] = "短。"
    batched = coder.proba_texts(texts)
    assert batched.shape == (45, coder.labels.n_concepts)
    np.testing.assert_allclose(batched, coder.clf.predict_proba(texts), atol=2e-6)
    np.testing.assert_allclose(batched, coder.proba_one_by_one(texts), atol=2e-6)
    assert isinstance(coder, BertCoder) and coder.can_slice_tokens


# ----- long segments ------------------------------------------------------------------------------


def test_a_long_paragraph_is_windowed_and_each_concept_takes_its_best_window(coder):
    rng = random.Random(3)
    first = "".join(rng.choice(FILLER) for _ in range(6)) + "".join(CONCEPT_WORDS["人工智能"][:3]) + "。"
    middle = "".join(rng.choice(FILLER) for _ in range(40)) + "。"
    last = "".join(rng.choice(FILLER) for _ in range(6)) + "".join(CONCEPT_WORDS["缓解冲击"][:3]) + "。"
    text = first + middle + last
    items = list(document_segments(text, "paragraph", doc_id="D", firm="F"))
    assert len(items) == 1
    settings = ScoringSettings(window_unit="tokens", window_overlap=8)
    [result] = list(code_segments(items, coder, top_k=4, settings=settings))
    assert result.windows > 2

    read = model_text(text)  # the model reads it without the final 。
    assert read == text[:-1]
    ids, offsets = coder.encode([read])
    windows = token_windows(offsets[0], coder.window_size, 8)
    assert len(windows) == result.windows
    per_window = coder.proba_texts([read[c0:c1] for _, _, c0, c1 in windows])
    expected = per_window.max(axis=0)
    got = {s.concept: s.confidence for s in result.suggestions}
    for j, concept in enumerate(coder.labels.concepts):
        if concept in got:
            assert got[concept] == pytest.approx(float(expected[j]), abs=2e-6)
    # The two concepts sit in different windows; the merged paragraph carries both.
    assert {"人工智能", "缓解冲击"} <= set(got)
    best = int(np.argmax(expected))
    assert result.best_concept == coder.labels.concepts[best]


class RecordingCoder:
    """Remembers what the model is given to read."""

    kind = "baseline"
    window_size = 400

    def __init__(self) -> None:
        from groundcoder.classifier import LabelSpace

        self.labels = LabelSpace.from_codebook(small_codebook())
        self.thresholds = np.full(self.labels.n_concepts, 0.5)
        self.read: list[str] = []

    def proba_texts(self, texts):
        self.read.extend(texts)
        return np.full((len(texts), self.labels.n_concepts), 0.9, dtype=np.float32)


def test_the_model_reads_segments_without_their_closing_marks_but_outputs_keep_them():
    text = "公司引入机器视觉。\n原材料涨价？！\n“我们要创新。”\n。。"
    items = list(document_segments(text, "paragraph", doc_id="D"))
    coder = RecordingCoder()
    results = list(code_segments(items, coder))
    assert coder.read == ["公司引入机器视觉", "原材料涨价", "“我们要创新。”", "。。"]
    assert [r.item.text for r in results] == ["公司引入机器视觉。", "原材料涨价？！", "“我们要创新。”", "。。"]
    assert all(text[r.item.start : r.item.end] == r.item.text for r in results)
    coder = RecordingCoder()
    list(code_segments(items, coder, settings=ScoringSettings(strip_end_marks=False)))
    assert coder.read == [i.text for i in items]


# ----- the job: store in, store and tables out ----------------------------------------------------


@pytest.fixture
def store_path(tmp_path):
    path = tmp_path / "project.sqlite"
    make_store(path).close()
    return path


def test_every_output_row_is_hierarchy_consistent_and_stored_as_model_codings(tiny_run, store_path, tmp_path):
    result = run_code(config(tiny_run, tmp_path / "out", **{"input.store": str(store_path), "inference.top_k": 2}))
    rows = pd.read_csv(tmp_path / "out" / "suggestions.csv", encoding="utf-8-sig", keep_default_na=False)
    assert list(rows.columns)[:8] == ["id", "firm", "document", "year", "start", "end", "text", "unit"]
    codebook = small_codebook()
    role_of = {m: r.name for r in codebook.roles for m in r.main_categories}
    with ProjectStore.open(store_path) as store:
        texts = {d.doc_id: store.document_text(d.doc_id) for d in store.documents()}
        codings = store.codings(coder="groundcoder-model")
        run = store.model_run(RUN_ID)
    assert run is not None and run.path.endswith("model")
    for row in rows.itertuples():
        assert texts[row.document][int(row.start) : int(row.end)] == row.text
        if row.no_code in (True, "True"):
            assert row.concept == "" and row.initial_category == "" and row.main_category == "" and row.role == ""
            assert row.rank == 0 and row.best_concept in codebook.concept_names
            continue
        path = codebook.concept_path(row.concept)
        assert (row.initial_category, row.main_category, row.role) == (path.initial, path.main, path.role)
        assert row.role == role_of[row.main_category]
        assert float(row.confidence) >= float(row.threshold)
    per_segment = rows.groupby("id")
    assert per_segment.ngroups == result.segments
    for _, group in per_segment:
        assert len(group) <= 2
        if len(group) > 1:
            assert list(group["rank"]) == [1, 2]
            assert list(group["confidence"]) == sorted(group["confidence"], reverse=True)
    suggested = rows[rows["no_code"].astype(str) != "True"]
    assert len(codings) == len(suggested) == result.suggestions > 0
    assert all(c.coder_kind == "model" and c.model_run_id == RUN_ID for c in codings)
    by_key = {(r.document, int(r.start), int(r.end), r.concept): float(r.confidence) for r in suggested.itertuples()}
    assert {(c.doc_id, c.start, c.end, c.concept): round(c.confidence, 6) for c in codings} == by_key
    summary = json.loads((tmp_path / "out" / "code_summary.json").read_text(encoding="utf-8"))
    assert summary["store"]["codings_added"] == len(codings) and summary["store"]["codebook_matches_model"]
    firm_rows = pd.read_csv(tmp_path / "out" / "firm_summary.csv", encoding="utf-8-sig")
    assert firm_rows["segments"].sum() == result.segments
    assert firm_rows["suggestions: 数字基础设施"].sum() + firm_rows["suggestions: 组织能力"].sum() == result.suggestions
    assert (tmp_path / "out" / "suggestions.xlsx").exists() and (tmp_path / "out" / "firm_summary.xlsx").exists()

    again = run_code(config(tiny_run, tmp_path / "out2", **{"input.store": str(store_path), "inference.top_k": 2}))
    assert again.summary["store"]["codings_added"] == 0  # nothing stored twice
    with ProjectStore.open(store_path) as store:
        assert len(store.codings(coder="groundcoder-model")) == len(codings)


def test_outputs_are_reproducible_and_independent_of_chunking_and_batching(tiny_run, store_path, tmp_path):
    common = {"input.store": str(store_path), "output.write_store": False, "segmentation.unit": "paragraph",
              "segmentation.window.size": 24, "segmentation.window.overlap": 6}
    run_code(config(tiny_run, tmp_path / "a", **common))
    run_code(config(tiny_run, tmp_path / "b", **common))
    first = (tmp_path / "a" / "suggestions.csv").read_bytes()
    assert first == (tmp_path / "b" / "suggestions.csv").read_bytes()
    run_code(config(tiny_run, tmp_path / "c", **common, **{"inference.chunk_windows": 5, "inference.batch_size": 3}))
    a = pd.read_csv(tmp_path / "a" / "suggestions.csv", encoding="utf-8-sig", keep_default_na=False)
    c = pd.read_csv(tmp_path / "c" / "suggestions.csv", encoding="utf-8-sig", keep_default_na=False)
    assert (a["windows"] > 1).any()  # paragraphs longer than 24 tokens were windowed
    assert a[["id", "concept", "rank"]].equals(c[["id", "concept", "rank"]])
    np.testing.assert_allclose(a["best_confidence"], c["best_confidence"], atol=1e-5)


def test_no_code_is_explicit_when_nothing_passes(tiny_run, store_path, tmp_path):
    result = run_code(config(tiny_run, tmp_path / "out", **{"input.store": str(store_path), "inference.threshold": 1.0}))
    rows = pd.read_csv(tmp_path / "out" / "suggestions.csv", encoding="utf-8-sig", keep_default_na=False)
    assert len(rows) == result.segments and result.suggestions == 0
    assert rows["no_code"].astype(str).eq("True").all() and rows["concept"].eq("").all()
    assert rows["best_concept"].ne("").all()
    assert result.summary["store"]["codings_added"] == 0


# ----- inputs ---------------------------------------------------------------------------------------


def _table_rows():
    texts, _ = separable_corpus(12, seed=21)
    return [{"id": f"s{i}", "text": t, "firm": "F9", "year": 2021} for i, t in enumerate(texts)]


def test_tables_in_csv_xlsx_and_jsonl_give_the_same_suggestions(tiny_run, tmp_path):
    from groundcoder import tables

    rows = _table_rows()
    tables.write_csv(rows, tmp_path / "t.csv")
    tables.write_xlsx({"t": rows}, tmp_path / "t.xlsx")
    (tmp_path / "t.jsonl").write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n", encoding="utf-8")
    outputs = []
    for name in ("t.csv", "t.xlsx", "t.jsonl"):
        result = run_code(config(tiny_run, tmp_path / name.replace(".", "_"), **{"input.table": str(tmp_path / name)}))
        assert result.segments == 12
        outputs.append(pd.read_csv(result.files["suggestions_csv"], encoding="utf-8-sig", keep_default_na=False))
    assert outputs[0]["id"].iloc[0] == "s0" and set(outputs[0]["firm"]) == {"F9"}
    for other in outputs[1:]:
        assert outputs[0].equals(other)


def test_bad_table_rows_are_reported_with_their_row_numbers(tmp_path):
    (tmp_path / "bad.csv").write_text("id,text\na,公司推进数字化。\n,没有编号的文本。\nc,\na,重复的编号。\n", encoding="utf-8")
    with pytest.raises(InputError) as err:
        read_segment_table(tmp_path / "bad.csv")
    message = str(err.value)
    assert "bad.csv" in message and "row 3: no id" in message and "row 4: id 'c' has no text" in message
    assert "row 5: id 'a' repeats row 2" in message
    (tmp_path / "bad.jsonl").write_text('{"id": "a", "text": "好"}\n{"id": "b", "text": \n', encoding="utf-8")
    with pytest.raises(InputError, match=r"line 2"):
        read_segment_table(tmp_path / "bad.jsonl")
    (tmp_path / "cols.csv").write_text("编号,正文\n1,公司。\n", encoding="utf-8")
    with pytest.raises(InputError, match="no text column"):
        read_segment_table(tmp_path / "cols.csv")


def test_document_files_are_matched_to_the_store_by_their_bytes(tiny_run, tmp_path):
    docs = corpus_documents(3, seed=8)
    folder = tmp_path / "reports"
    folder.mkdir()
    for doc_id, _, _, text in docs:
        (folder / f"{doc_id}.txt").write_text(text, encoding="utf-8")
    (folder / "notes.xyz").write_text("not a document", encoding="utf-8")
    from groundcoder.documents import read_document

    store_path = tmp_path / "p.sqlite"
    stored = docs[:1]
    store = make_store(store_path, [])
    from groundcoder.segmentation import split_sentences
    from groundcoder.store import DocumentRecord

    doc = read_document(folder / f"{stored[0][0]}.txt")
    store.add_document(DocumentRecord("stored-id", "F1", doc.text, year=2020, sha256=doc.sha256), segments=split_sentences(doc.text))
    store.close()
    result = run_code(config(tiny_run, tmp_path / "out", **{"input.documents": [str(folder)], "input.store": str(store_path)}))
    s = result.summary
    assert s["input"]["documents"] == 3 and len(s["input"]["not_in_store"]) == 2
    assert any("notes.xyz" in x for x in s["input"]["skipped"])
    rows = pd.read_csv(result.files["suggestions_csv"], encoding="utf-8-sig", keep_default_na=False)
    assert set(rows["document"]) == {"stored-id", docs[1][0], docs[2][0]}
    assert set(rows.loc[rows["document"] == docs[1][0], "firm"]) == {"F2"}  # from the file name
    with ProjectStore.open(store_path) as st:
        codings = st.codings(coder="groundcoder-model")
    assert codings and {c.doc_id for c in codings} == {"stored-id"}
    assert s["store"]["codings_added"] == len(codings)


# ----- models and the CLI ---------------------------------------------------------------------------


def test_models_resolve_from_run_folder_model_folder_run_id_and_current(tiny_run, tmp_path):
    runs = tiny_run.parent
    assert resolve_model(tiny_run).run_id == RUN_ID
    assert resolve_model(tiny_run / "model").run_id == RUN_ID
    assert resolve_model(RUN_ID, runs_dir=runs).model_dir == tiny_run / "model"
    with pytest.raises(InputError, match="no current model"):
        resolve_model("current", runs_dir=runs)
    current = tmp_path / "runs"
    current.mkdir()
    (current / RUN_ID).symlink_to(tiny_run, target_is_directory=True)
    (current / "current.json").write_text(json.dumps({"run_id": RUN_ID}), encoding="utf-8")
    assert resolve_model("current", runs_dir=current).run_id == RUN_ID
    with pytest.raises(InputError, match="no model here"):
        resolve_model(tmp_path / "nope", runs_dir=runs)
    (tmp_path / "unfinished").mkdir()
    (tmp_path / "unfinished" / "run.json").write_text("{}", encoding="utf-8")
    with pytest.raises(InputError, match="no saved model"):
        resolve_model(tmp_path / "unfinished")


def test_the_tfidf_baseline_codes_through_the_same_pipeline(tmp_path):
    from groundcoder.classifier import LabelSpace
    from groundcoder.inference import BaselineCoder
    from groundcoder.training import TfidfBaseline
    from groundcoder.training.config import BaselineSettings

    texts, labels = separable_corpus(120, seed=4)
    model = TfidfBaseline(LabelSpace.from_codebook(small_codebook()), BaselineSettings(words=False))
    model.fit(texts, labels)
    model.save_pretrained(tmp_path / "run" / "model")
    coder = load_coder(tmp_path / "run")
    assert isinstance(coder, BaselineCoder) and coder.ref.kind == "baseline"
    items = list(document_segments("".join(texts[:5]) + "\n" + "".join(texts[5:8]), "sentence", doc_id="D"))
    results = list(code_segments(items, coder, top_k=2))
    assert len(results) == len(items)
    np.testing.assert_allclose(
        [r.best_confidence for r in results], coder.proba_texts([model_text(i.text) for i in items]).max(axis=1), atol=1e-6
    )
    for r in results:
        for s in r.suggestions:
            assert s.initial_category == coder.labels.initial_of(s.concept)


def test_cli_code_writes_tables_and_a_json_summary(tiny_run, tmp_path):
    from groundcoder import tables
    from groundcoder.cli import main

    tables.write_csv(_table_rows(), tmp_path / "segments.csv")
    main(["code", "--model", str(tiny_run), "--input", str(tmp_path / "segments.csv"), "--out", str(tmp_path / "out"), "--top-k", "1"])
    summary = json.loads((tmp_path / "out" / "code_summary.json").read_text(encoding="utf-8"))
    assert summary["command"] == "groundcoder code" and summary["totals"]["segments"] == 12
    assert summary["input"]["kind"] == "table" and summary["model"]["run_id"] == RUN_ID
    rows = pd.read_csv(tmp_path / "out" / "suggestions.csv", encoding="utf-8-sig", keep_default_na=False)
    assert rows.groupby("id").size().max() == 1
    with pytest.raises(SystemExit) as exit_info:
        main(["code", "--model", str(tmp_path / "missing"), "--input", str(tmp_path / "segments.csv"), "--out", str(tmp_path / "x")])
    assert exit_info.value.code == 2
