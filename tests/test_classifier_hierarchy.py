"""Category scores and decisions derived from concepts never violate the codebook tree."""

from __future__ import annotations

import numpy as np
import pytest
from classifier_helpers import small_codebook

from groundcoder.classifier import (
    LabelSpace,
    build_predictions,
    derive_category_decisions,
    derive_category_scores,
    hierarchy_violations,
)
from groundcoder.codebook import Codebook
from groundcoder.errors import InputError


def test_category_scores_are_the_max_of_their_concepts():
    labels = LabelSpace.from_codebook(small_codebook())
    # concepts: 人工智能, 云计算服务 (数字技术应用), 知识共享与学习 (知识多样性), 缓解冲击 (风险承担能力)
    probs = np.array([[0.2, 0.7, 0.1, 0.4], [0.0, 0.0, 0.0, 0.0]])
    initial, main = derive_category_scores(probs, labels)
    assert initial.tolist() == [[0.7, 0.1, 0.4], [0.0, 0.0, 0.0]]
    assert main.tolist() == [[0.7, 0.4], [0.0, 0.0]]


def test_categories_are_predicted_iff_a_child_concept_is():
    labels = LabelSpace.from_codebook(small_codebook())
    dec = np.array([[False, True, False, False], [False, False, False, True], [False] * 4])
    initial, main = derive_category_decisions(dec, labels)
    assert initial.tolist() == [[True, False, False], [False, False, True], [False, False, False]]
    assert main.tolist() == [[True, False], [False, True], [False, False]]


def test_random_predictions_never_violate_the_hierarchy():
    codebook = Codebook.default()
    labels = LabelSpace.from_codebook(codebook)
    rng = np.random.default_rng(0)
    # sparse, peaky probabilities like a real model's, plus random per-concept thresholds
    probs = rng.beta(0.3, 3.0, size=(600, labels.n_concepts))
    thresholds = rng.uniform(0.05, 0.95, size=labels.n_concepts)
    preds = build_predictions(probs, thresholds, labels)
    assert any(p.no_code for p in preds) and any(len(p.concepts) > 1 for p in preds)
    for i, pred in enumerate(preds):
        assert hierarchy_violations(pred, labels) == []
        on = {c for j, c in enumerate(labels.concepts) if probs[i, j] >= thresholds[j]}
        assert set(pred.concepts) == on
        # checked against the codebook itself, not the label space
        assert set(pred.initial_categories) == {codebook.concept_path(c).initial for c in on}
        assert set(pred.main_categories) == {codebook.concept_path(c).main for c in on}
        assert set(pred.roles) == {codebook.concept_path(c).role for c in on}
        for c in labels.concepts:
            path = codebook.concept_path(c)
            assert pred.initial_scores[path.initial] >= pred.concept_scores[c]
            assert pred.main_scores[path.main] >= pred.initial_scores[path.initial]
        for ic in labels.initial_categories:
            assert pred.initial_scores[ic] == max(pred.concept_scores[c] for c in codebook.concepts_of(ic))
        if pred.concepts:  # best first
            scores = [pred.concept_scores[c] for c in pred.concepts]
            assert scores == sorted(scores, reverse=True)


def test_no_code_is_explicit():
    labels = LabelSpace.from_codebook(small_codebook())
    (pred,) = build_predictions(np.array([[0.3, 0.2, 0.1, 0.4]]), 0.5, labels)
    assert pred.no_code
    assert pred.concepts == pred.initial_categories == pred.main_categories == pred.roles == ()
    assert pred.top_concept == ("缓解冲击", 0.4)
    assert pred.to_dict()["no_code"] is True


def test_violations_are_detected():
    from groundcoder.classifier import HierarchicalPrediction

    labels = LabelSpace.from_codebook(small_codebook())
    (good,) = build_predictions(np.array([[0.9, 0.1, 0.1, 0.1]]), 0.5, labels)
    bad = HierarchicalPrediction(good.concepts, (), good.main_categories, ("内部驱动因素",), good.concept_scores,
                                 good.initial_scores, good.main_scores)
    problems = hierarchy_violations(bad, labels)
    assert any("数字技术应用 missing" in p for p in problems)
    assert any("内部驱动因素 predicted without" in p for p in problems)


def test_shapes_are_checked():
    labels = LabelSpace.from_codebook(small_codebook())
    with pytest.raises(InputError, match=r"\[n_samples, 4\]"):
        derive_category_scores(np.zeros((2, 3)), labels)
    with pytest.raises(InputError, match="thresholds"):
        build_predictions(np.zeros((2, 4)), [0.5, 0.5], labels)
