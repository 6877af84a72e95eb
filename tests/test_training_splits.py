"""Firm-grouped splits: no firm on two sides, every firm tested once in k-fold, deterministic by seed."""

from __future__ import annotations

from collections import Counter

import pytest

from groundcoder.errors import InputError
from groundcoder.training.data import TrainingExample
from groundcoder.training.splits import FirmSplit, SplitSettings, make_splits


def examples(n_firms: int = 12) -> list[TrainingExample]:
    out = []
    for f in range(n_firms):
        for i in range(1 + (f * 7) % 9):  # uneven firm sizes
            out.append(TrainingExample(f"firm {f} quote {i}", frozenset({"c"}) if i % 2 else frozenset(), f"F{f:02d}"))
    return out


@pytest.mark.parametrize("n_folds", [2, 3, 5])
def test_kfold_never_puts_a_firm_on_two_sides_and_tests_every_firm_once(n_folds):
    data = examples()
    splits = make_splits(data, SplitSettings(strategy="kfold", n_folds=n_folds, val_fraction=0.2), seed=3)
    assert len(splits) == n_folds
    all_firms = {e.firm_id for e in data}
    tested = Counter(f for s in splits for f in s.test_firms)
    assert set(tested) == all_firms and set(tested.values()) == {1}
    for s in splits:
        train, val, test = set(s.train_firms), set(s.val_firms), set(s.test_firms)
        assert not (train & val) and not (train & test) and not (val & test)
        assert train | val | test == all_firms and val
        # The examples follow their firm: no text of a test firm is in training.
        assert not {e.text for e in s.part(data, "train")} & {e.text for e in s.part(data, "test")}
        assert len(s.part(data, "train")) + len(s.part(data, "val")) + len(s.part(data, "test")) == len(data)
    sizes = [len(s.part(data, "test")) for s in splits]
    assert max(sizes) - min(sizes) <= max(Counter(e.firm_id for e in data).values())  # balanced by examples


def test_splits_are_deterministic_by_seed():
    data = examples()
    settings = SplitSettings(strategy="kfold", n_folds=4)
    assert make_splits(data, settings, seed=1) == make_splits(list(reversed(data)), settings, seed=1)
    assert make_splits(data, settings, seed=1) != make_splits(data, settings, seed=2)


def test_holdout_with_named_or_drawn_test_firms():
    data = examples()
    (split,) = make_splits(data, SplitSettings(strategy="holdout", test_firms=("F03", "F07")), seed=0)
    assert split.test_firms == ("F03", "F07") and not {"F03", "F07"} & set(split.train_firms + split.val_firms)
    (drawn,) = make_splits(data, SplitSettings(strategy="holdout", test_fraction=0.25), seed=0)
    assert len(drawn.test_firms) == 3
    with pytest.raises(InputError, match="without training data"):
        make_splits(data, SplitSettings(strategy="holdout", test_firms=("F99",)), seed=0)


def test_a_leaking_split_cannot_be_built_and_too_few_firms_are_refused():
    with pytest.raises(ValueError, match="both train and test"):
        FirmSplit(0, ("A", "B"), ("C",), ("B",))
    with pytest.raises(InputError, match="need at least 6"):
        make_splits(examples(4), SplitSettings(strategy="kfold", n_folds=5), seed=0)
