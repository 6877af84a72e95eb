"""The demo corpus goes into a project store whole, and `groundcoder ingest` reads its documents."""

from collections import Counter

from groundcoder.cli import main
from groundcoder.demo_corpus.load import load_demo_corpus
from groundcoder.demo_corpus.to_store import load_demo_into_store
from groundcoder.paths import demo_corpus_dir
from groundcoder.store import ProjectStore


def test_loader_puts_every_firm_document_and_coding_into_the_store(tmp_path):
    corpus = load_demo_corpus()
    summary = load_demo_into_store(tmp_path / "demo.sqlite", corpus)
    expected = sum(len(q.concepts) for q in corpus.quotes + corpus.coder2)
    assert (summary.firms, summary.documents, summary.codings) == (40, len(corpus.documents), expected)
    with ProjectStore.open(tmp_path / "demo.sqlite") as store:
        codings = store.codings()
        assert Counter(c.coder for c in codings)["coder1"] == sum(len(q.concepts) for q in corpus.quotes)
        for c in codings[:200]:
            assert store.document_text(c.doc_id)[c.start:c.end] == c.text
        assert store.firm("D0039").attributes["sample"] == "holdout_new"
        assert store.latest_codebook() is not None
    again = load_demo_into_store(tmp_path / "demo.sqlite", corpus)
    assert again.documents == 0 and again.skipped_documents == len(corpus.documents)


def test_ingest_command_reads_the_demo_documents_with_their_manifest(tmp_path, monkeypatch):
    root = demo_corpus_dir()
    store = tmp_path / "p.sqlite"
    try:
        main(["ingest", str(root / "docs"), "--firms", str(root / "firms.csv"),
              "--manifest", str(root / "documents.csv"), "--store", str(store)])
    except SystemExit as exc:
        assert exc.code in (0, None)
    with ProjectStore.open(store) as st:
        docs = st.documents()
        assert len(docs) == 160
        assert Counter(d.kind for d in docs) == Counter(annual_report=80, website=40, news=20, journal=20)
