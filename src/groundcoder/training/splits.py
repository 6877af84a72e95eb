"""Splits grouped by firm: no firm is ever on two sides (train, validation, test) of a split.

Firms, not quotes, are the unit: quotes of one firm share its wording, products and people, so a
quote-level split would let the model score on firms it has already read. ``make_splits`` gives

* ``kfold``: the firms in ``n_folds`` folds (GroupKFold-like, balanced by example count,
  deterministic for a seed); fold *i* is the test set of split *i*;
* ``holdout``: one split whose test firms are named (``test_firms``) or drawn (``test_fraction``).

Each split also sets aside validation firms from its training firms (``val_fraction``, at least one)
for early stopping, calibration and threshold tuning.
"""

from __future__ import annotations

import hashlib
import json
import random
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass

from ..errors import InputError
from .data import TrainingExample


@dataclass(frozen=True)
class FirmSplit:
    """Firms of one split; ``fold`` is the fold number (k-fold) or 0 (holdout)."""

    fold: int
    train_firms: tuple[str, ...]
    val_firms: tuple[str, ...]
    test_firms: tuple[str, ...]
    strategy: str = "kfold"

    def __post_init__(self) -> None:
        check_disjoint(self)

    def part(self, examples: Sequence[TrainingExample], name: str) -> list[TrainingExample]:
        firms = set({"train": self.train_firms, "val": self.val_firms, "test": self.test_firms}[name])
        return [e for e in examples if e.firm_id in firms]

    def signature(self) -> str:
        """Identifies the evaluation split (the test firms): runs with equal signatures compare directly."""
        return hashlib.sha256(json.dumps(sorted(self.test_firms), ensure_ascii=False).encode("utf-8")).hexdigest()[:16]

    def to_dict(self) -> dict:
        return {**asdict(self), "signature": self.signature()}


@dataclass(frozen=True)
class SplitSettings:
    strategy: str = "kfold"  # kfold | holdout
    n_folds: int = 5
    test_firms: tuple[str, ...] = ()  # holdout: these firms are the test set
    test_fraction: float = 0.2  # holdout without test_firms: this share of firms, drawn by seed
    val_fraction: float = 0.15  # of each split's training firms


def check_disjoint(split: FirmSplit) -> None:
    """Raise if a firm is in two parts of a split (a leak)."""
    parts = {"train": set(split.train_firms), "validation": set(split.val_firms), "test": set(split.test_firms)}
    names = list(parts)
    for i, a in enumerate(names):
        for b in names[i + 1 :]:
            shared = parts[a] & parts[b]
            if shared:
                raise ValueError(f"split {split.fold}: firms in both {a} and {b}: {sorted(shared)[:5]}")


def make_splits(examples: Sequence[TrainingExample], settings: SplitSettings, seed: int) -> list[FirmSplit]:
    """Firm-grouped splits of ``examples`` (see the module docstring)."""
    sizes = Counter(e.firm_id for e in examples)
    firms = sorted(sizes)
    if settings.strategy == "kfold":
        if settings.n_folds < 2:
            raise InputError(None, f"splits.n_folds is {settings.n_folds}; k-fold needs at least 2", hint="or use strategy: holdout")
        if len(firms) < settings.n_folds + 1:
            raise InputError(
                None,
                f"{len(firms)} firm(s) in the training data: {settings.n_folds}-fold splits by firm need at least "
                f"{settings.n_folds + 1} (each fold a test set, and validation firms besides)",
                hint="lower splits.n_folds, or add coded quotes of more firms",
            )
        folds = _balanced_folds(firms, sizes, settings.n_folds, seed)
        splits = []
        for fold, test in enumerate(folds):
            rest = [f for f in firms if f not in set(test)]
            train, val = _take_validation(rest, sizes, settings.val_fraction, seed + 1000 + fold)
            splits.append(FirmSplit(fold, tuple(train), tuple(val), tuple(sorted(test)), "kfold"))
        return splits
    if settings.strategy == "holdout":
        if settings.test_firms:
            unknown = [f for f in settings.test_firms if f not in sizes]
            if unknown:
                raise InputError(None, f"splits.test_firms names firms without training data: {unknown[:5]}", hint=f"firms: {firms[:10]}")
            test = sorted(set(settings.test_firms))
        else:
            n_test = max(1, round(settings.test_fraction * len(firms)))
            shuffled = firms[:]
            random.Random(seed).shuffle(shuffled)
            test = sorted(shuffled[:n_test])
        rest = [f for f in firms if f not in set(test)]
        if len(rest) < 2:
            raise InputError(None, f"only {len(rest)} firm(s) left for training and validation", hint="hold out fewer firms")
        train, val = _take_validation(rest, sizes, settings.val_fraction, seed + 1000)
        return [FirmSplit(0, tuple(train), tuple(val), tuple(test), "holdout")]
    raise InputError(None, f"unknown splits.strategy {settings.strategy!r}", hint="kfold or holdout")


def _balanced_folds(firms: list[str], sizes: Counter, n_folds: int, seed: int) -> list[list[str]]:
    """Largest firms first (seeded tie-break), each into the fold with the fewest examples so far."""
    rng = random.Random(seed)
    order = firms[:]
    rng.shuffle(order)
    order.sort(key=lambda f: -sizes[f])  # stable: ties keep the seeded order
    folds: list[list[str]] = [[] for _ in range(n_folds)]
    load = [0] * n_folds
    for firm in order:
        target = min(range(n_folds), key=lambda i: (load[i], len(folds[i]), i))
        folds[target].append(firm)
        load[target] += sizes[firm]
    return folds


def _take_validation(firms: list[str], sizes: Counter, fraction: float, seed: int) -> tuple[list[str], list[str]]:
    if len(firms) < 2:
        raise InputError(None, "too few firms to set aside validation firms", hint="add coded quotes of more firms")
    shuffled = sorted(firms)
    random.Random(seed).shuffle(shuffled)
    n_val = min(len(firms) - 1, max(1, round(fraction * len(firms))))
    val = sorted(shuffled[:n_val])
    train = sorted(shuffled[n_val:])
    return train, val
