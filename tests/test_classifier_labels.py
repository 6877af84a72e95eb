"""LabelSpace: concept order, hierarchy maps, multi-hot encoding, JSON round trip, codebook identity."""

from __future__ import annotations

import numpy as np
import pytest
from classifier_helpers import small_codebook

from groundcoder.classifier import CodebookMismatchError, LabelSpace
from groundcoder.codebook import Codebook
from groundcoder.errors import GroundcoderError, InputError


@pytest.fixture(scope="module")
def codebook() -> Codebook:
    return Codebook.default()


def test_from_codebook_follows_the_codebook(codebook):
    labels = LabelSpace.from_codebook(codebook)
    assert labels.concepts == codebook.concept_names
    assert labels.codebook_hash == codebook.hash
    for j, concept in enumerate(labels.concepts):
        path = codebook.concept_path(concept)
        assert labels.concept_initial[j] == path.initial
        assert labels.concept_main[j] == path.main
        assert labels.role_of(concept) == path.role
    assert labels.initial_categories == tuple(ic.name for ic in codebook.initial_categories)
    assert labels.main_categories == tuple(m.name for m in codebook.main_categories)
    # every concept sits in exactly one initial and one main category
    assert (labels.concept_to_initial.sum(axis=1) == 1).all()
    assert (labels.concept_to_main.sum(axis=1) == 1).all()


def test_json_round_trip(codebook, tmp_path):
    labels = LabelSpace.from_codebook(codebook)
    assert LabelSpace.from_dict(labels.to_dict()) == labels
    labels.save(tmp_path / "labels.json")
    assert LabelSpace.load(tmp_path / "labels.json") == labels


def test_encode_multi_hot_and_no_code():
    labels = LabelSpace.from_codebook(small_codebook())
    y = labels.encode([{"人工智能"}, set(), ["缓解冲击", "云计算服务"], None])
    assert y.shape == (4, 4) and y.dtype == np.float32
    assert y[0].tolist() == [1, 0, 0, 0]
    assert y[1].sum() == 0 and y[3].sum() == 0
    assert labels.decode(y[2] > 0) == ["云计算服务", "缓解冲击"]


def test_encode_reports_unknown_concepts_with_suggestions():
    labels = LabelSpace.from_codebook(small_codebook())
    with pytest.raises(InputError) as err:
        labels.encode([{"人工智能"}, {"人工智慧"}])
    text = str(err.value)
    assert "label_sets[1]" in text and "人工智慧" in text and "人工智能" in text
    with pytest.raises(InputError, match="initial category"):
        labels.encode([{"数字技术应用"}])
    with pytest.raises(InputError, match="must be a set"):
        labels.encode(["人工智能"])        # a bare string would iterate characters
    with pytest.raises(InputError, match="list of sets"):
        labels.encode("人工智能")


def test_mismatched_codebook_is_refused(codebook):
    labels = LabelSpace.from_codebook(small_codebook())
    labels.check_codebook(small_codebook())  # same scheme: fine
    with pytest.raises(CodebookMismatchError) as err:
        labels.check_codebook(codebook)
    assert isinstance(err.value, GroundcoderError)
    message = str(err.value)
    assert labels.codebook_hash in message and codebook.hash in message
    assert "retrain" in message


def test_inconsistent_label_space_is_refused():
    with pytest.raises(InputError, match="unknown initial"):
        LabelSpace(("a",), ("x",), ("y",), ("m",), ("m",), (None,), "h")
