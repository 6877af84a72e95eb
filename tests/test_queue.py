"""The active-learning queue: uncertainty, diversity against near-duplicates, store candidates, exports."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from _inference_fixtures import build_tiny_run, corpus_documents, make_store
from classifier_helpers import small_codebook

from groundcoder.classifier import LabelSpace
from groundcoder.inference import ScoringSettings, entropy_uncertainty, load_code_config, margin_uncertainty, run_queue, select_diverse
from groundcoder.inference.queue import Candidate, char_ngrams, jaccard, rank_candidates, uncoded_segments
from groundcoder.inference.segmenting import SegmentItem
from groundcoder.store import Coding, ProjectStore


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory):
    return build_tiny_run(tmp_path_factory.getbasetemp() / "inference")


BOILERPLATE = "公司严格按照相关法律法规要求履行信息披露义务并持续完善内部控制制度第{}条"


class TextRuleCoder:
    """A stand-in model whose probabilities are read off the text: boilerplate sits right at a threshold."""

    kind = "baseline"
    window_unit = "chars"
    window_size = 400
    can_slice_tokens = False

    def __init__(self) -> None:
        self.labels = LabelSpace.from_codebook(small_codebook())
        self.thresholds = np.full(self.labels.n_concepts, 0.5)

    def proba_texts(self, texts):
        out = np.full((len(texts), self.labels.n_concepts), 0.02, dtype=np.float32)
        for i, t in enumerate(texts):
            if "法律法规" in t:
                out[i, 0] = 0.5 + 0.001 * (len(t) % 7)  # the most uncertain of all, and all alike
            else:
                out[i, 1] = 0.6 + 0.01 * (sum(map(ord, t)) % 30)  # moderately uncertain, all different
        return out


def _items(texts):
    return [SegmentItem(key=f"k{i}", text=t, unit="sentence", doc_id="D", start=0, end=len(t)) for i, t in enumerate(texts)]


def test_margin_and_entropy_uncertainty():
    probs = np.array([[0.5, 0.01], [0.9, 0.02], [0.3, 0.7]])
    thresholds = np.array([0.5, 0.6])
    np.testing.assert_allclose(margin_uncertainty(probs, thresholds), [1.0, 0.6, 0.9])
    ent = entropy_uncertainty(probs)
    assert ent[2] > ent[0] > ent[1] and ent[0] == pytest.approx(1 + entropy_uncertainty(np.array([[0.01]]))[0])
    assert ent[2] == pytest.approx(2 * entropy_uncertainty(np.array([[0.3]]))[0])


def test_near_duplicates_do_not_fill_the_queue():
    texts = [BOILERPLATE.format(i) for i in range(12)]  # near-duplicates: one character differs
    texts += ["公司引入神经网络质检系统提升良率", "报告期内云平台上云部署完成", "疫情冲击下备货三个月稳住交付", "师带徒与内部培训促进知识共享",
              "数据中心扩容后弹性算力充足", "原材料涨价导致订单下滑", "读书会和技术讲座常态化开展", "机器视觉用于来料检验"]
    assert jaccard(char_ngrams(texts[0]), char_ngrams(texts[1])) > 0.5
    coder = TextRuleCoder()
    pool, counts = rank_candidates(_items(texts), coder, ScoringSettings(), strategy="margin", pool_size=100)
    assert counts["distinct"] == len(texts)
    assert all("法律法规" in c.item.text for c in pool[:12])  # they are the most uncertain
    plain = select_diverse(pool, 6, diversity="none")
    assert sum("法律法规" in p.candidate.item.text for p in plain) == 6
    diverse = select_diverse(pool, 6, diversity="jaccard", jaccard_cap=0.5)
    assert len(diverse) == 6
    assert sum("法律法规" in p.candidate.item.text for p in diverse) == 1
    assert diverse[0].candidate is pool[0] and all(p.max_similarity <= 0.5 for p in diverse)
    # Embedding max-min: the near-duplicates share an embedding, so one of them is enough.
    emb = np.array([[1.0, 0.0, 0.0] if "法律法规" in c.item.text else [0.0, np.cos(k), np.sin(k)] for k, c in enumerate(pool)])
    by_embedding = select_diverse(pool, 6, diversity="embedding", embeddings=emb, embedding_weight=0.7, jaccard_cap=1.0)
    assert sum("法律法规" in p.candidate.item.text for p in by_embedding) == 1


def test_exact_repeats_are_counted_once_and_the_pool_is_bounded():
    texts = ["公司持续推进数字化转型工作。"] * 5 + [f"第{i}项业务稳步推进发展。" for i in range(30)]
    pool, counts = rank_candidates(_items(texts), TextRuleCoder(), ScoringSettings(chunk_windows=4), strategy="entropy", pool_size=10)
    assert counts == {"distinct": 31, "exact_repeats": 4}
    assert len(pool) == 10
    everything, _ = rank_candidates(_items(texts), TextRuleCoder(), ScoringSettings(), strategy="entropy", pool_size=100)
    assert [c.item.key for c in pool] == [c.item.key for c in everything[:10]]  # the heap kept the top 10
    repeated = next(c for c in everything if c.item.text == texts[0])
    assert repeated.copies == 5


def test_segments_coded_by_humans_are_not_candidates(tmp_path):
    store = make_store(tmp_path / "p.sqlite")
    doc = store.documents()[0].doc_id
    sentences = store.segments(doc, kind="sentence")
    coded = sentences[2]
    store.add_codings([Coding(doc, coded.start + 1, coded.end - 1, "人工智能", "coder1")])
    stats: dict[str, int] = {}
    items = list(uncoded_segments(store, "sentence", min_chars=1, stats=stats))
    store.close()
    assert stats["coded_by_humans"] == 1
    assert all(not (i.doc_id == doc and i.start < coded.end and coded.start < i.end) for i in items)
    assert any(i.segment_id == sentences[3].id for i in items)


def test_queue_job_writes_csv_xlsx_qdpx_and_summary(tiny_run, tmp_path):
    docs = corpus_documents(4, seed=9)
    doc_id, firm, year, text = docs[0]
    text += "\n" + "".join(BOILERPLATE.format(i) + "。" for i in range(8))
    docs[0] = (doc_id, firm, year, text)
    store = make_store(tmp_path / "p.sqlite", docs)
    first = store.segments(doc_id, kind="sentence")[0]
    store.add_codings([Coding(doc_id, first.start, first.end, "云计算服务", "coder1")])
    store.close()
    config = load_code_config(None, {
        "model": str(tiny_run), "input.store": str(tmp_path / "p.sqlite"), "queue.n": 10, "queue.folder": str(tmp_path / "q"),
        "output.progress": False, "inference.threads": 1,
    })
    result = run_queue(config)
    rows = pd.read_csv(tmp_path / "q" / "queue.csv", encoding="utf-8-sig", keep_default_na=False)
    assert len(rows) == 10 and list(rows["rank"]) == list(range(1, 11))
    assert list(rows["uncertainty"]) == sorted(rows["uncertainty"], reverse=True)  # jaccard keeps the ranking order
    assert sum("法律法规" in t for t in rows["text"]) <= 1
    assert not ((rows["document"] == doc_id) & (rows["start"] == first.start)).any()
    with ProjectStore.open(tmp_path / "p.sqlite") as st:
        texts = {d.doc_id: st.document_text(d.doc_id) for d in st.documents()}
    assert all(texts[r.document][r.start : r.end] == r.text for r in rows.itertuples())
    assert (tmp_path / "q" / "queue.xlsx").exists()
    summary = json.loads((tmp_path / "q" / "queue_summary.json").read_text(encoding="utf-8"))
    assert summary["queued"] == 10 and summary["candidates"]["coded_by_humans"] == 1 and summary["strategy"] == "margin"

    from groundcoder.qdpx import import_file

    project = import_file(tmp_path / "q" / "queue.qdpx")
    assert len(project.selections) == 10
    to_review = [c for c in project.codes if c.name == "待编码 to-review"]
    assert len(to_review) == 1
    by_text = {s.text for s in project.selections}
    assert by_text == set(rows["text"])
    codings = [c for s in project.selections for c in s.codings]
    assert all(c.code_name == "待编码 to-review" and c.user_name == "groundcoder-queue" and not c.is_model for c in codings)
    assert any("queue rank 1;" in n for c in codings for n in c.notes)
    assert result.files["queue_qdpx"].endswith("queue.qdpx")


def test_cli_queue_with_entropy_and_embedding_diversity(tiny_run, tmp_path):
    from groundcoder.cli import main

    make_store(tmp_path / "p.sqlite").close()
    main(["queue", "--model", str(tiny_run), "--store", str(tmp_path / "p.sqlite"), "--n", "5", "--out", str(tmp_path / "q"),
          "--strategy", "entropy", "--diversity", "embedding", "--no-qdpx", "--firms", "F1"])
    summary = json.loads((tmp_path / "q" / "queue_summary.json").read_text(encoding="utf-8"))
    assert summary["queued"] == 5 and summary["diversity"] == "embedding" and summary["firms"] == ["F1"]
    rows = pd.read_csv(tmp_path / "q" / "queue.csv", encoding="utf-8-sig", keep_default_na=False)
    assert set(rows["firm"]) == {"F1"} and not (tmp_path / "q" / "queue.qdpx").exists()
    with pytest.raises(SystemExit) as exit_info:
        main(["queue", "--model", str(tiny_run), "--store", str(tmp_path / "missing.sqlite"), "--out", str(tmp_path / "x")])
    assert exit_info.value.code == 2


def test_candidate_records_the_models_best_guesses():
    coder = TextRuleCoder()
    pool, _ = rank_candidates(_items(["公司引入神经网络。"]), coder, ScoringSettings(), strategy="margin", pool_size=5)
    [c] = pool
    assert isinstance(c, Candidate) and c.top[0][0] == coder.labels.concepts[1] and c.suggested == (coder.labels.concepts[1],)
