"""Load the demo corpus into a project store: firms, documents with segments, both coders' codings,
and the default codebook, each document in its own transaction."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from ..codebook import Codebook
from ..segmentation import split_paragraphs, split_sentences
from ..store import Coding, DocumentRecord, Firm, ProjectStore
from .load import DemoCorpus, load_demo_corpus


@dataclass(frozen=True)
class DemoLoadSummary:
    firms: int
    documents: int
    codings: int
    skipped_documents: int


def load_demo_into_store(store: ProjectStore | str | Path, corpus: DemoCorpus | None = None,
                         codebook: Codebook | None = None) -> DemoLoadSummary:
    """Idempotent: documents already in the store (same doc id) are skipped."""
    corpus = corpus or load_demo_corpus()
    codebook = codebook or Codebook.default()
    own = not isinstance(store, ProjectStore)
    st = ProjectStore.open(store) if own else store
    try:
        st.add_codebook_version(codebook.to_yaml(), note="demo corpus default codebook")
        st.add_firms(Firm(f.firm_id, f.name, f.industry, dt.date.fromisoformat(f.founded),
                          {"short_name": f.short_name, "province": f.province, "board": f.board,
                           "sample": f.sample, "products": f.products}) for f in corpus.firms)
        by_doc: dict[str, list[Coding]] = {}
        for quotes in (corpus.quotes, corpus.coder2):
            for q in quotes:
                for concept in q.concepts:
                    by_doc.setdefault(q.doc_id, []).append(
                        Coding(q.doc_id, q.start, q.end, concept, q.coder, memo=q.memo or "", text=q.text))
        n_docs = n_codings = skipped = 0
        for doc in corpus.documents:
            if st.document(doc.doc_id, with_text=False) is not None:
                skipped += 1
                continue
            text = corpus.text(doc.doc_id)
            codings = by_doc.get(doc.doc_id, [])
            st.add_document(
                DocumentRecord(doc.doc_id, doc.firm_id, text, kind=doc.kind, year=doc.year, title=doc.title,
                               source_path=str(doc.path.relative_to(corpus.root)), source_format="text",
                               encoding="utf-8"),
                segments=split_sentences(text) + split_paragraphs(text),
                codings=codings)
            n_docs += 1
            n_codings += len(codings)
        return DemoLoadSummary(len(corpus.firms), n_docs, n_codings, skipped)
    finally:
        if own:
            st.close()
