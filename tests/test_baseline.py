"""The TF-IDF + logistic-regression baseline: learns, calibrates, keeps the hierarchy, saves without pickle."""

from __future__ import annotations

import numpy as np
import pytest

from groundcoder.classifier.hierarchy import hierarchy_violations
from groundcoder.classifier.labels import CodebookMismatchError, LabelSpace
from groundcoder.codebook import Codebook
from groundcoder.training.baseline import TfidfBaseline
from groundcoder.training.config import BaselineSettings
from groundcoder.training.data import NegativeSettings, build_examples, label_sets, load_quotes, texts
from groundcoder.training.splits import SplitSettings, make_splits

from _training_fixtures import codebook, make_corpus


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    import jieba

    root = tmp_path_factory.mktemp("baseline")
    cb = codebook()
    corpus = make_corpus(root, n_firms=8)
    examples, _ = build_examples(load_quotes(corpus["quotes"], cb, documents=corpus["documents"]), NegativeSettings(ratio=0.5))
    split = make_splits(examples, SplitSettings(n_folds=4, val_fraction=0.25), seed=0)[0]
    train, val, test = (split.part(examples, p) for p in ("train", "val", "test"))
    labels = LabelSpace.from_codebook(cb)
    global_jieba_ready = jieba.dt.initialized
    model = TfidfBaseline(labels, BaselineSettings(min_df=1), seed=0)
    model.fit(texts(train), label_sets(train))
    report = model.calibrate(texts(val), label_sets(val))
    assert jieba.dt.initialized == global_jieba_ready  # a private tokenizer: the global one is left alone
    return {"model": model, "cb": cb, "labels": labels, "test": test, "report": report, "root": root}


def test_learns_a_separable_fixture_well_above_chance(trained):
    model, test, labels = trained["model"], trained["test"], trained["labels"]
    y = labels.encode(label_sets(test)).astype(bool)
    decisions = model.predict_decisions(texts(test))
    tp = (y & decisions).sum()
    f1 = 2 * tp / (y.sum() + decisions.sum())
    assert f1 >= 0.9  # chance level of 6 concepts is ~0.17
    probs = model.predict_proba(texts(test))
    assert probs.shape == (len(test), labels.n_concepts) and ((probs >= 0) & (probs <= 1)).all()
    # The top concept of every coded test quote is one of its concepts.
    coded = y.any(axis=1)
    assert y[np.arange(len(y)), probs.argmax(axis=1)][coded].mean() >= 0.9


def test_calibration_lowers_validation_nll(trained):
    report = trained["report"]
    assert report.calibrated and report.temperature != 1.0
    assert report.nll_after < report.nll_before


def test_every_prediction_respects_the_hierarchy(trained):
    model, test, labels = trained["model"], trained["test"], trained["labels"]
    predictions = model.predict(texts(test))
    assert len(predictions) == len(test)
    assert any(p.no_code for p in predictions) and any(p.concepts for p in predictions)
    for p in predictions:
        assert hierarchy_violations(p, labels) == []


def test_save_and_load_give_identical_outputs_without_pickle(trained, tmp_path):
    model, test, cb = trained["model"], trained["test"], trained["cb"]
    out = model.save_pretrained(tmp_path / "baseline")
    files = sorted(p.name for p in out.iterdir())
    assert files == ["baseline.json", "calibration.json", "labels.json", "model.safetensors"]
    loaded = TfidfBaseline.from_pretrained(out, codebook=cb)
    probe = texts(test) + ["完全无关的句子", "ESG 2023"]
    assert np.array_equal(model.predict_proba(probe), loaded.predict_proba(probe))
    assert [p.concepts for p in model.predict(probe)] == [p.concepts for p in loaded.predict(probe)]
    assert np.array_equal(model.thresholds_array(), loaded.thresholds_array())


def test_a_different_codebook_is_refused(trained, tmp_path):
    out = trained["model"].save_pretrained(tmp_path / "baseline")
    with pytest.raises(CodebookMismatchError, match="retrain"):
        TfidfBaseline.from_pretrained(out, codebook=Codebook.default())
