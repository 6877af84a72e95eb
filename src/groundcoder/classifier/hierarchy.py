"""Initial and main categories derived from concept scores, so no prediction violates the codebook tree.

Contract:

* Scores: ``derive_category_scores(concept_scores, labels)`` -> ``(initial [n, n_initial],
  main [n, n_main])``; a category's score is the **max** of its concepts' scores (so it is at least
  its best concept's). Works on probabilities or logits alike (max commutes with any monotone map).
* Decisions: ``derive_category_decisions(concept_decisions, labels)`` -> boolean
  ``(initial, main)``; a category is predicted **iff** at least one of its predicted concepts
  belongs to it (a main category iff one of its initial categories is predicted).
* ``build_predictions(probs, thresholds, labels)`` -> one ``HierarchicalPrediction`` per row:
  concept j is predicted iff ``probs[:, j] >= thresholds[j]``; nothing passing its threshold is an
  explicit "no code" prediction (``no_code`` True, empty tuples at every level).
* ``hierarchy_violations(prediction, labels)`` lists every way a prediction breaks the tree (an
  orphan category, a concept without its categories, a category scored below its best concept);
  it is empty for everything ``build_predictions`` makes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import InputError
from .labels import LabelSpace


class ScoreRow(Mapping[str, float]):
    """A read-only ``{label: score}`` view of one row of a score matrix (no per-row dict copies)."""

    __slots__ = ("_names", "_index", "_row")

    def __init__(self, names: tuple[str, ...], index: Mapping[str, int], row: np.ndarray) -> None:
        self._names = names
        self._index = index
        self._row = row

    def __getitem__(self, key: str) -> float:
        return float(self._row[self._index[key]])

    def __iter__(self):
        return iter(self._names)

    def __len__(self) -> int:
        return len(self._names)

    def __repr__(self) -> str:
        return "{" + ", ".join(f"{k!r}: {self[k]:.4g}" for k in self._names) + "}"


@dataclass(frozen=True)
class HierarchicalPrediction:
    """Predicted labels of one text at every level of the codebook, with the scores behind them.

    ``concepts`` are the concepts that passed their thresholds, best first; ``initial_categories``,
    ``main_categories`` and ``roles`` are exactly the parents of those concepts, ordered by score.
    ``concept_scores`` holds every concept's (calibrated) probability; ``initial_scores`` and
    ``main_scores`` the derived max-of-children scores. ``no_code`` is True when no concept passed.
    """

    concepts: tuple[str, ...]
    initial_categories: tuple[str, ...]
    main_categories: tuple[str, ...]
    roles: tuple[str, ...]
    concept_scores: Mapping[str, float] = field(repr=False)
    initial_scores: Mapping[str, float] = field(repr=False)
    main_scores: Mapping[str, float] = field(repr=False)

    @property
    def no_code(self) -> bool:
        return not self.concepts

    @property
    def top_concept(self) -> tuple[str, float]:
        """The highest-scoring concept whether or not it passed its threshold."""
        name = max(self.concept_scores, key=self.concept_scores.__getitem__)
        return name, self.concept_scores[name]

    def to_dict(self, top_k: int | None = 5) -> dict[str, Any]:
        """JSON-ready summary: predicted labels per level plus the ``top_k`` concept scores."""
        ranked = sorted(self.concept_scores.items(), key=lambda kv: -kv[1])
        return {
            "no_code": self.no_code,
            "concepts": list(self.concepts),
            "initial_categories": list(self.initial_categories),
            "main_categories": list(self.main_categories),
            "roles": list(self.roles),
            "concept_scores": {k: round(float(v), 6) for k, v in (ranked if top_k is None else ranked[:top_k])},
            "initial_scores": {k: round(float(self.initial_scores[k]), 6) for k in self.initial_categories},
            "main_scores": {k: round(float(self.main_scores[k]), 6) for k in self.main_categories},
        }


def _check_matrix(values: Any, labels: LabelSpace, what: str) -> np.ndarray:
    arr = np.asarray(values)
    if arr.ndim == 1 and arr.shape[0] == labels.n_concepts:
        arr = arr[None, :]
    if arr.ndim != 2 or arr.shape[1] != labels.n_concepts:
        raise InputError(None, f"{what} must have shape [n_samples, {labels.n_concepts}] (one column per concept), "
                               f"got shape {arr.shape}")
    return arr


def derive_category_scores(concept_scores: Any, labels: LabelSpace) -> tuple[np.ndarray, np.ndarray]:
    """Max over each category's concepts: ``(initial [n, n_initial], main [n, n_main])``."""
    scores = _check_matrix(concept_scores, labels, "concept_scores")
    if not np.issubdtype(scores.dtype, np.floating):
        scores = scores.astype(np.float64)
    n = scores.shape[0]
    initial = np.empty((n, len(labels.initial_categories)), dtype=scores.dtype)
    for k in range(len(labels.initial_categories)):
        initial[:, k] = scores[:, labels.concept_to_initial[:, k]].max(axis=1)
    main = np.empty((n, len(labels.main_categories)), dtype=scores.dtype)
    for m in range(len(labels.main_categories)):
        main[:, m] = scores[:, labels.concept_to_main[:, m]].max(axis=1)
    return initial, main


def derive_category_decisions(concept_decisions: Any, labels: LabelSpace) -> tuple[np.ndarray, np.ndarray]:
    """A category is on iff one of its concepts is on: boolean ``(initial, main)``."""
    dec = _check_matrix(concept_decisions, labels, "concept_decisions").astype(bool)
    initial = (dec.astype(np.int64) @ labels.concept_to_initial.astype(np.int64)) > 0
    main = (dec.astype(np.int64) @ labels.concept_to_main.astype(np.int64)) > 0
    return initial, main


def _thresholds(thresholds: Any, labels: LabelSpace) -> np.ndarray:
    if thresholds is None:
        return np.full(labels.n_concepts, 0.5)
    if isinstance(thresholds, Mapping):
        out = np.full(labels.n_concepts, 0.5)
        for name, value in thresholds.items():
            out[labels.index(name)] = float(value)
        return out
    arr = np.asarray(thresholds, dtype=np.float64)
    if arr.ndim == 0:
        return np.full(labels.n_concepts, float(arr))
    if arr.shape != (labels.n_concepts,):
        raise InputError(None, f"thresholds must be one number or {labels.n_concepts} (one per concept), got shape {arr.shape}")
    return arr


def build_predictions(probs: Any, thresholds: Any, labels: LabelSpace) -> list[HierarchicalPrediction]:
    """One ``HierarchicalPrediction`` per row of ``probs`` ``[n, n_concepts]``."""
    probs = _check_matrix(probs, labels, "probs").astype(np.float64)
    thr = _thresholds(thresholds, labels)
    decisions = probs >= thr[None, :]
    init_scores, main_scores = derive_category_scores(probs, labels)
    init_dec, main_dec = derive_category_decisions(decisions, labels)
    role_of_main = dict(zip(labels.main_categories, labels.main_role))
    out = []
    for i in range(probs.shape[0]):
        on = np.flatnonzero(decisions[i])
        concepts = tuple(labels.concepts[j] for j in sorted(on, key=lambda j: (-probs[i, j], j)))
        initials = tuple(labels.initial_categories[k] for k in sorted(np.flatnonzero(init_dec[i]),
                                                                      key=lambda k: (-init_scores[i, k], k)))
        mains = tuple(labels.main_categories[m] for m in sorted(np.flatnonzero(main_dec[i]),
                                                                key=lambda m: (-main_scores[i, m], m)))
        roles = tuple(dict.fromkeys(r for r in (role_of_main[m] for m in mains) if r is not None))
        out.append(HierarchicalPrediction(
            concepts=concepts,
            initial_categories=initials,
            main_categories=mains,
            roles=roles,
            concept_scores=ScoreRow(labels.concepts, labels.concept_index, probs[i]),
            initial_scores=ScoreRow(labels.initial_categories, labels.initial_index, init_scores[i]),
            main_scores=ScoreRow(labels.main_categories, labels.main_index, main_scores[i]),
        ))
    return out


def hierarchy_violations(prediction: HierarchicalPrediction, labels: LabelSpace) -> list[str]:
    """Every way ``prediction`` breaks the codebook tree; empty when it is consistent."""
    problems: list[str] = []
    want_initial = {labels.initial_of(c) for c in prediction.concepts}
    want_main = {labels.main_of(c) for c in prediction.concepts}
    want_roles = {labels.role_of(c) for c in prediction.concepts} - {None}
    for name, want, got in (("initial category", want_initial, set(prediction.initial_categories)),
                            ("main category", want_main, set(prediction.main_categories)),
                            ("role", want_roles, set(prediction.roles))):
        for missing in sorted(want - got):
            problems.append(f"{name} {missing} missing although one of its concepts is predicted")
        for orphan in sorted(got - want):
            problems.append(f"{name} {orphan} predicted without any predicted concept under it")
    for j, c in enumerate(labels.concepts):
        s = prediction.concept_scores[c]
        if prediction.initial_scores[labels.concept_initial[j]] < s:
            problems.append(f"initial category {labels.concept_initial[j]} scores below its concept {c}")
        if prediction.main_scores[labels.concept_main[j]] < s:
            problems.append(f"main category {labels.concept_main[j]} scores below its concept {c}")
    if prediction.no_code and (prediction.initial_categories or prediction.main_categories or prediction.roles):
        problems.append("no code, yet categories are predicted")
    return problems


def as_multi_hot(predictions: Sequence[HierarchicalPrediction], labels: LabelSpace) -> np.ndarray:
    """Boolean ``[n, n_concepts]`` matrix of the predicted concepts."""
    out = np.zeros((len(predictions), labels.n_concepts), dtype=bool)
    for i, p in enumerate(predictions):
        for c in p.concepts:
            out[i, labels.concept_index[c]] = True
    return out
