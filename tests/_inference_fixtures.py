"""Shared fixtures of the auto-coding, ONNX and queue tests: a tiny trained run folder and a small store.

The run is trained once per test session (a 2-layer, 64-hidden BERT, 3 epochs on the separable
4-concept corpus, calibrated) and kept under pytest's session temp folder; each module reuses it.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from classifier_helpers import separable_corpus, small_codebook, tiny_model_folder, tiny_settings

RUN_ID = "tiny-run"


def build_tiny_run(base: Path) -> Path:
    """``base/runs/tiny-run/`` with ``model/`` (BERT save_pretrained) and ``run.json``; built once."""
    runs = base / "runs"
    run_dir = runs / RUN_ID
    if (run_dir / "run.json").exists():
        return run_dir
    from groundcoder.classifier import BertConceptClassifier, LabelSpace

    tmp = base / ".building"
    if tmp.exists():
        shutil.rmtree(tmp)
    folder = tiny_model_folder(tmp / "base")
    clf = BertConceptClassifier(LabelSpace.from_codebook(small_codebook()), base_model=folder, settings=tiny_settings(epochs=3))
    texts, labels = separable_corpus(160, seed=0)
    clf.fit(texts, labels, progress=False)
    val_texts, val_labels = separable_corpus(80, seed=1)
    clf.calibrate(val_texts, val_labels)
    clf.save_pretrained(tmp / RUN_ID / "model")
    (tmp / RUN_ID / "run.json").write_text(json.dumps({
        "run_id": RUN_ID, "kind": "bert", "base_model": str(folder), "metrics": {"initial_category": {"macro_f1": 1.0}},
    }), encoding="utf-8")
    runs.mkdir(parents=True, exist_ok=True)
    shutil.move(str(tmp / RUN_ID), str(run_dir))
    return run_dir


def copy_run(run_dir: Path, target: Path) -> Path:
    """A private copy (own ONNX cache) of the run folder."""
    shutil.copytree(run_dir, target, ignore=shutil.ignore_patterns("onnx"))
    return target


def corpus_documents(n_docs: int = 4, seed: int = 5) -> list[tuple[str, str, int, str]]:
    """(doc_id, firm, year, text) of small documents: paragraphs of three separable sentences each."""
    texts, _ = separable_corpus(30 * n_docs, seed=seed)
    docs = []
    for k in range(n_docs):
        part = texts[k * 30 : (k + 1) * 30]
        text = "\n".join("".join(part[i : i + 3]) for i in range(0, 30, 3))
        firm = f"F{k % 2 + 1}"
        docs.append((f"{firm}-AR{2020 + k}", firm, 2020 + k, text))
    return docs


def make_store(path: Path, docs: list[tuple[str, str, int, str]] | None = None, *, codebook=None):
    """A project store with two firms, the documents (sentence and paragraph segments) and the codebook."""
    from groundcoder.segmentation import split_paragraphs, split_sentences
    from groundcoder.store import DocumentRecord, Firm, ProjectStore

    store = ProjectStore.open(path)
    store.add_codebook_version((codebook or small_codebook()).to_yaml())
    store.add_firms([Firm("F1", "一号公司", "software"), Firm("F2", "二号公司", "manufacturing")])
    for doc_id, firm, year, text in docs if docs is not None else corpus_documents():
        store.add_document(DocumentRecord(doc_id, firm, text, year=year, title=doc_id),
                           segments=split_sentences(text) + split_paragraphs(text))
    return store
