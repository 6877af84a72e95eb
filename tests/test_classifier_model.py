"""BertConceptClassifier on a tiny BERT: learning, hierarchy, calibration, save/load, codebook identity."""

from __future__ import annotations

import classifier_helpers  # noqa: F401  (sets HF_HUB_OFFLINE before transformers loads)
import numpy as np
import pytest
from classifier_helpers import separable_corpus, small_codebook, tiny_model_folder, tiny_settings

from groundcoder.classifier import (
    BertConceptClassifier,
    CodebookMismatchError,
    LabelSpace,
    hierarchy_violations,
)
from groundcoder.codebook import Codebook
from groundcoder.errors import GroundcoderError, InputError


@pytest.fixture(scope="module")
def tiny_base(tmp_path_factory):
    return tiny_model_folder(tmp_path_factory.mktemp("tiny-bert"))


@pytest.fixture(scope="module")
def labels():
    return LabelSpace.from_codebook(small_codebook())


@pytest.fixture(scope="module")
def data():
    return {"train": separable_corpus(240, seed=0), "val": separable_corpus(100, seed=1),
            "test": separable_corpus(100, seed=2)}


@pytest.fixture(scope="module")
def trained(tiny_base, labels, data):
    clf = BertConceptClassifier(labels, base_model=tiny_base, settings=tiny_settings())
    texts, label_sets = data["train"]
    history = clf.fit(texts, label_sets, *data["val"], progress=False)
    return clf, history


def macro_f1(y_true, y_pred):
    from sklearn.metrics import f1_score

    return f1_score(y_true, y_pred, average="macro", zero_division=0)


def test_learns_a_separable_task_well_above_chance(trained, labels, data):
    clf, history = trained
    assert len(history.epochs) == 4 and history.steps == 4 * 15
    assert history.epochs[-1].train_loss < history.epochs[0].train_loss
    assert history.epochs[-1].val_loss < history.epochs[0].val_loss
    texts, label_sets = data["test"]
    y = labels.encode(label_sets)
    assert macro_f1(y, clf.predict_decisions(texts)) > 0.8
    preds = clf.predict(texts)
    no_code_right = [p.no_code for p, ls in zip(preds, label_sets) if not ls]
    assert np.mean(no_code_right) > 0.8


def test_output_shapes(trained, labels, tiny_base):
    clf, _ = trained
    texts = ["公司推进深度学习与机器视觉。", "备货三个月稳住交付", ""]
    assert clf.predict_logits(texts).shape == (3, labels.n_concepts)
    proba = clf.predict_proba(texts)
    assert proba.shape == (3, 4) and proba.dtype == np.float32 and ((proba >= 0) & (proba <= 1)).all()
    assert clf.embed(texts).shape == (3, 64)
    assert clf.predict_logits([]).shape == (0, 4)
    assert clf.predict([]) == []


def test_length_sorted_batches_keep_the_input_order(trained, data):
    clf, _ = trained
    texts = data["test"][0][:40]
    texts = [t * (1 + i % 3) for i, t in enumerate(texts)]   # varied lengths
    together = clf.predict_logits(texts)
    one_by_one = np.vstack([clf.predict_logits([t]) for t in texts])
    np.testing.assert_allclose(together, one_by_one, atol=1e-5)


def test_trained_predictions_respect_the_hierarchy(trained, labels, data):
    clf, _ = trained
    texts = data["test"][0] + data["val"][0]
    for pred in clf.predict(texts):
        assert hierarchy_violations(pred, labels) == []


def test_calibration_lowers_nll_of_an_over_confident_model(tiny_base, labels, data):
    import torch

    clf = BertConceptClassifier(labels, base_model=tiny_base, settings=tiny_settings(epochs=3))
    clf.fit(*data["train"], progress=False)
    with torch.no_grad():            # make it deliberately over-confident
        clf._net.head.weight.mul_(6.0)
        clf._net.head.bias.mul_(6.0)
    report = clf.calibrate(*data["val"])
    assert report.calibrated and report.temperature > 1.5
    assert report.nll_after < report.nll_before
    assert report.ece_before is not None and report.ece_after is not None
    assert set(report.thresholds) == set(labels.concepts)
    assert all(0 < t < 1 for t in report.thresholds.values())
    # predict_proba now divides the logits by T
    logits = clf.predict_logits(data["val"][0][:5])
    np.testing.assert_allclose(clf.predict_proba(data["val"][0][:5]), 1 / (1 + np.exp(-logits / report.temperature)),
                               rtol=1e-5, atol=1e-6)
    for pred in clf.predict(data["val"][0]):
        assert hierarchy_violations(pred, labels) == []


def test_save_and_load_give_identical_outputs(trained, labels, data, tmp_path):
    clf, _ = trained
    clf.calibrate(*data["val"])
    folder = clf.save_pretrained(tmp_path / "run")
    names = {p.name for p in folder.iterdir()}
    assert {"model.safetensors", "config.json", "head.safetensors", "labels.json", "calibration.json",
            "classifier.json", "tokenizer.json"} <= names
    assert not any(n.endswith((".bin", ".pt", ".pkl", ".pickle")) for n in names)
    loaded = BertConceptClassifier.from_pretrained(folder, codebook=small_codebook())
    texts = data["test"][0]
    np.testing.assert_array_equal(loaded.predict_logits(texts), clf.predict_logits(texts))
    np.testing.assert_array_equal(loaded.predict_proba(texts), clf.predict_proba(texts))
    np.testing.assert_array_equal(loaded.embed(texts), clf.embed(texts))
    assert [p.concepts for p in loaded.predict(texts)] == [p.concepts for p in clf.predict(texts)]
    assert loaded.calibration == clf.calibration
    assert loaded.labels == labels
    assert loaded.history is not None and len(loaded.history.epochs) == 4
    # the saved encoder is an ordinary Hugging Face checkpoint
    from transformers import AutoModel

    encoder = AutoModel.from_pretrained(str(folder))
    assert encoder.config.hidden_size == 64


def test_a_model_refuses_another_codebook(trained, tmp_path):
    clf, _ = trained
    folder = clf.save_pretrained(tmp_path / "run")
    other = Codebook.default()
    with pytest.raises(CodebookMismatchError) as err:
        BertConceptClassifier.from_pretrained(folder, codebook=other)
    message = str(err.value)
    assert isinstance(err.value, GroundcoderError)
    assert small_codebook().hash in message and other.hash in message
    assert "retrain" in message


def test_loading_something_else_is_a_clear_error(tmp_path):
    with pytest.raises(InputError, match="not found"):
        BertConceptClassifier.from_pretrained(tmp_path / "nope")
    (tmp_path / "half").mkdir()
    (tmp_path / "half" / "config.json").write_text("{}")
    with pytest.raises(InputError, match="missing .*labels.json"):
        BertConceptClassifier.from_pretrained(tmp_path / "half")


def test_bad_training_input_is_reported(tiny_base, labels):
    clf = BertConceptClassifier(labels, base_model=tiny_base, settings=tiny_settings())
    with pytest.raises(InputError, match="list of strings"):
        clf.fit("一段文字", [{"人工智能"}], progress=False)
    with pytest.raises(InputError, match="2 items but label_sets has 1"):
        clf.fit(["甲", "乙"], [{"人工智能"}], progress=False)
    with pytest.raises(InputError, match="unknown concept '数字孪生'"):
        clf.fit(["甲", "乙"], [{"人工智能"}, {"数字孪生"}], progress=False)
    with pytest.raises(InputError, match=r"texts\[1\] must be a string"):
        clf.predict(["甲", 3])
    with pytest.raises(InputError, match="lr must be a number > 0"):
        tiny_settings(lr=-1)
    with pytest.raises(InputError, match="unknown training settings"):
        type(tiny_settings()).from_dict({"epochs": 2, "learning_rate": 1e-3})
