"""The shipped demo corpus: in sync with its authoring files, valid against the codebook, varied."""

from __future__ import annotations

from collections import Counter, defaultdict
from pathlib import Path

import pytest

from groundcoder.codebook import Codebook
from groundcoder.demo_corpus.build import build_corpus
from groundcoder.demo_corpus.load import load_demo_corpus
from groundcoder.demo_corpus.quality import dominant_phrases, similar_pairs
from groundcoder.paths import demo_corpus_dir


@pytest.fixture(scope="module")
def corpus():
    return load_demo_corpus()


@pytest.fixture(scope="module")
def codebook():
    return Codebook.default()


def test_shipped_corpus_is_exactly_what_the_authoring_files_build(tmp_path):
    build_corpus(demo_corpus_dir() / "authoring", tmp_path)
    root = demo_corpus_dir()
    for name in ("firms.csv", "documents.csv", "coded.jsonl", "coder2.jsonl"):
        assert (tmp_path / name).read_bytes() == (root / name).read_bytes(), name
    built = sorted(p.name for p in (tmp_path / "docs").iterdir())
    assert built == sorted(p.name for p in (root / "docs").iterdir())
    for name in built:
        assert (tmp_path / "docs" / name).read_bytes() == (root / "docs" / name).read_bytes(), name


def test_every_quote_is_an_exact_substring_at_its_offsets(corpus):
    for q in corpus.quotes + corpus.coder2:
        assert corpus.text(q.doc_id)[q.start:q.end] == q.text, q.quote_id


def test_every_concept_is_in_the_codebook_unless_marked_new(corpus, codebook):
    names = {c.name for c in codebook.concepts}
    for q in corpus.quotes + corpus.coder2:
        for concept in q.concepts:
            assert concept in names or concept in q.new_concepts, (q.quote_id, concept)
    for q in corpus.quotes:
        for concept in q.new_concepts:
            assert concept not in names


def test_counts_meet_the_minimums(corpus, codebook):
    assert 38 <= len(corpus.firms) <= 45
    assert len(corpus.quotes) >= 850
    train = set(corpus.train_firms)
    per_concept = Counter(c for q in corpus.quotes if q.firm_id in train for c in q.concepts)
    thin = {c.name: per_concept[c.name] for c in codebook.concepts if per_concept[c.name] < 6}
    assert not thin, f"concepts with fewer than 6 training quotes: {thin}"
    # uneven like real coding: the most frequent concept has several times the quotes of the rarest
    assert max(per_concept.values()) >= 2 * min(per_concept.values())
    multi = sum(1 for q in corpus.quotes if len(q.concepts) > 1)
    assert multi >= 0.03 * len(corpus.quotes)
    assert len(corpus.coder2) >= 150


def test_documents_have_realistic_lengths_and_kinds(corpus):
    kinds = Counter(d.kind for d in corpus.documents)
    assert kinds["annual_report"] >= 2 * len(corpus.firms)
    assert kinds["website"] >= len(corpus.firms) - 2
    assert kinds["news"] > 0 and kinds["journal"] > 0
    for doc in corpus.documents:
        assert 1500 <= len(corpus.text(doc.doc_id)) <= 6000, doc.doc_id
    # "no code" is a real class: a large share of every document's text is uncoded
    coded_chars = defaultdict(int)
    for q in corpus.quotes:
        coded_chars[q.doc_id] += q.end - q.start
    for doc in corpus.documents:
        assert coded_chars[doc.doc_id] < 0.8 * len(corpus.text(doc.doc_id)), doc.doc_id


def test_samples_are_disjoint_and_held_out_firms_use_a_subset(corpus, codebook):
    train, hold, new = set(corpus.train_firms), set(corpus.holdout_firms), set(corpus.holdout_new_firms)
    assert len(hold) == 5 and len(new) == 2 and len(train) >= 30
    assert not (train & hold) and not (train & new) and not (hold & new)
    held_quotes = corpus.quotes_of(hold)
    concepts = {c for q in held_quotes for c in q.concepts}
    initial = {codebook.parent_of(c) for c in concepts}
    main = {codebook.parent_of(i) for i in initial}
    assert 24 <= len(concepts) <= 32 and 8 <= len(initial) <= 10 and len(main) == 5
    assert not any(q.new_concepts for q in held_quotes)
    new_theme = Counter(c for q in corpus.quotes_of(new) for c in q.new_concepts)
    assert new_theme and all(n >= 10 for n in new_theme.values())
    for firm in new:
        assert sum(1 for q in corpus.quotes_of([firm]) if q.new_concepts) >= 5, firm


def test_quotes_are_varied_not_templated(corpus):
    texts = sorted({q.text for q in corpus.quotes})
    pairs = similar_pairs(texts, limit=0.5)
    assert not pairs, [(texts[p.first], texts[p.second], round(p.similarity, 2)) for p in pairs[:5]]
    by_concept = defaultdict(list)
    for q in corpus.quotes:
        for c in q.concepts:
            by_concept[c].append(q.text)
    assert not dominant_phrases(by_concept)


def test_second_coder_disagrees_realistically(corpus):
    first = {q.quote_id: set(q.concepts) for q in corpus.quotes}
    reviewed = [q for q in corpus.coder2 if q.quote_id in first]
    agree = sum(1 for q in reviewed if set(q.concepts) == first[q.quote_id])
    share = agree / len(reviewed)
    assert 0.6 <= share <= 0.92, share
    assert any(not q.concepts for q in reviewed)          # coder2 left some uncoded
    assert any(q.quote_id not in first for q in corpus.coder2)  # and coded some passages coder1 did not


def test_quality_checks_catch_templates():
    pairs = similar_pairs(["公司享受高新技术企业所得税优惠政策，税率为15%", "公司享受高新技术企业所得税优惠政策，税率为百分之十五"])
    assert pairs and pairs[0].similarity > 0.5
    templated = {"税收优惠": [f"公司依法享受高新技术企业优惠{x}" for x in ("甲", "乙", "丙", "丁", "戊")]}
    assert dominant_phrases(templated)
