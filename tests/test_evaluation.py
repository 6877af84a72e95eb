"""Evaluation at every level against hand-computed numbers: micro/macro F1, per-label scores, top-k,
Cohen's kappa, the "no code" class, calibration and the main-category confusion."""

from __future__ import annotations

import numpy as np
import pytest

from groundcoder.classifier.labels import LabelSpace
from groundcoder.training.evaluation import NO_CODE, ModelOutputs, evaluate

from _training_fixtures import codebook

THRESHOLD = 0.5


@pytest.fixture(scope="module")
def labels():
    return LabelSpace.from_codebook(codebook())


def case(labels):
    truth = [{"专利研发"}, {"价格竞争"}, set(), {"政府补贴"}, set()]
    scores = [
        {"专利研发": 0.9},
        {"客户合作": 0.8, "价格竞争": 0.3},  # wrong concept, right initial and main category
        {},  # no code, rightly
        {"政府补贴": 0.4},  # missed: best score below its threshold
        {"工程师团队": 0.7},  # a code where the coders saw none
    ]
    probs = np.full((len(truth), labels.n_concepts), 0.01)
    for i, row in enumerate(scores):
        for name, p in row.items():
            probs[i, labels.index(name)] = p
    return truth, ModelOutputs(probs, probs >= THRESHOLD, np.clip(probs * 1.5, 0, 1))


def test_levels_micro_macro_and_per_label(labels):
    truth, outputs = case(labels)
    ev = evaluate(labels, truth, outputs, top_k=(1, 3))
    assert ev.n_examples == 5
    assert ev.concept.micro_precision == pytest.approx(1 / 3) and ev.concept.micro_recall == pytest.approx(1 / 3)
    assert ev.concept.micro_f1 == pytest.approx(1 / 3)
    assert ev.concept.n_labels_scored == 3 and ev.concept.macro_f1 == pytest.approx(1 / 3)  # only labels with support
    per = {s.label: s for s in ev.concept.per_label}
    assert (per["专利研发"].precision, per["专利研发"].recall, per["专利研发"].support) == (1.0, 1.0, 1)
    assert (per["客户合作"].support, per["客户合作"].predicted, per["客户合作"].precision) == (0, 1, 0.0)
    assert ev.initial_category.micro_f1 == pytest.approx(2 / 3) and ev.initial_category.macro_f1 == pytest.approx(2 / 3)
    main = {s.label: s for s in ev.main_category.per_label}
    assert (main["技术基础"].precision, main["技术基础"].recall) == (0.5, 1.0)
    assert (main["外部环境"].precision, main["外部环境"].recall) == (1.0, 0.5)
    assert ev.main_category.macro_f1 == pytest.approx(2 / 3)
    assert ev.metric("initial_category.macro_f1") == ev.initial_category.macro_f1
    with pytest.raises(KeyError):
        ev.metric("paragraph.macro_f1")


def test_top_k_kappa_no_code_calibration_and_confusion(labels):
    truth, outputs = case(labels)
    ev = evaluate(labels, truth, outputs, top_k=(1, 3), ece_bins=10)
    assert ev.concept.top_k_accuracy == {"1": pytest.approx(2 / 3), "3": 1.0}
    assert ev.metric("concept.top_1_accuracy") == pytest.approx(2 / 3)
    kappa = {s.label: s.kappa for s in ev.initial_category.per_label}
    assert kappa["研发投入"] == pytest.approx(1.0) and kappa["政策支持"] == pytest.approx(0.0)
    assert (ev.no_code.precision, ev.no_code.recall, ev.no_code.support, ev.no_code.predicted) == (0.5, 0.5, 2, 2)
    cal = ev.calibration
    assert cal.ece_before is not None and cal.nll_before is not None and cal.nll_after > 0
    assert sum(b.count for b in cal.bins_after) == 5 * labels.n_concepts
    confusion = ev.main_confusion
    names = confusion["labels"]
    assert names[-1] == NO_CODE
    m = np.asarray(confusion["matrix"])
    at = lambda r, c: m[names.index(r), names.index(c)]  # noqa: E731
    assert at("技术基础", "技术基础") == 1 and at("外部环境", "外部环境") == 1 and at(NO_CODE, NO_CODE) == 1
    assert at("外部环境", NO_CODE) == 1 and at(NO_CODE, "技术基础") == 1 and m.sum() == 5


def test_concatenated_outputs_score_like_the_whole(labels):
    truth, outputs = case(labels)
    first = ModelOutputs(outputs.probs[:2], outputs.decisions[:2], outputs.probs_uncalibrated[:2])
    rest = ModelOutputs(outputs.probs[2:], outputs.decisions[2:], outputs.probs_uncalibrated[2:])
    joined = evaluate(labels, truth, ModelOutputs.concatenate([first, rest]))
    assert joined.to_dict() == evaluate(labels, truth, outputs).to_dict()
