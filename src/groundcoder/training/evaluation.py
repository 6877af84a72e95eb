"""Evaluation of a concept classifier at every level of the codebook, against the human codes.

``evaluate(labels, true_label_sets, outputs)`` scores one model's outputs (``ModelOutputs``: the
calibrated concept probabilities, the concept decisions and, where known, the uncalibrated
probabilities) on a set of examples and returns an ``Evaluation``:

* per level (``concept``, ``initial_category``, ``main_category``): micro and macro precision /
  recall / F1, per-label precision, recall, F1, support, predicted count and Cohen's kappa
  (the label present/absent per example, model against human), top-k accuracy. Category decisions
  and scores are derived from the concepts exactly as the classifier does
  (``groundcoder.classifier.hierarchy``), so they never break the tree.
  **Macro** averages are over the labels that occur in the evaluated examples (support > 0): with
  85 concepts and a few test firms many concepts have no test quote, and counting them as 0 (or
  dropping them silently) would say more about the split than the model. ``n_labels_scored`` says
  how many labels that is. **Top-k accuracy** is the share of examples with at least one true label
  whose k highest-scoring labels include one of them.
* ``no_code``: "no code" as a class of its own: precision and recall of predicting nothing for
  examples the human coders left uncoded.
* ``calibration``: expected calibration error and binary NLL of the concept probabilities before and
  after temperature scaling (when uncalibrated probabilities are given), with reliability-diagram
  bins.
* ``main_confusion``: human main category (rows) against the model's best predicted main category
  (columns), for examples with at most one human main category; "no code" is a row and a column.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

LEVELS = ("concept", "initial_category", "main_category")
NO_CODE = "(no code)"


@dataclass
class ModelOutputs:
    """What a model said about a list of texts."""

    probs: np.ndarray  # calibrated concept probabilities [n, n_concepts]
    decisions: np.ndarray  # bool [n, n_concepts]: probs >= the model's thresholds
    probs_uncalibrated: np.ndarray | None = None  # before temperature scaling, for ECE/NLL before

    @classmethod
    def concatenate(cls, parts: Sequence[ModelOutputs]) -> ModelOutputs:
        uncal = None
        if all(p.probs_uncalibrated is not None for p in parts):
            uncal = np.concatenate([p.probs_uncalibrated for p in parts])  # type: ignore[misc]
        return cls(np.concatenate([p.probs for p in parts]), np.concatenate([p.decisions for p in parts]), uncal)


@dataclass
class LabelScore:
    label: str
    precision: float
    recall: float
    f1: float
    support: int
    predicted: int
    kappa: float | None


@dataclass
class LevelMetrics:
    level: str
    n_examples: int
    n_labels_scored: int
    micro_precision: float
    micro_recall: float
    micro_f1: float
    macro_precision: float
    macro_recall: float
    macro_f1: float
    mean_kappa: float | None
    top_k_accuracy: dict[str, float]
    per_label: list[LabelScore]

    def get(self, key: str) -> float | None:
        if key.startswith("top_") and key.endswith("_accuracy") and key not in self.__dataclass_fields__:
            return self.top_k_accuracy.get(key[len("top_") : -len("_accuracy")])
        value = getattr(self, key, None)
        return value if isinstance(value, (int, float)) else None


@dataclass
class NoCodeMetrics:
    precision: float
    recall: float
    f1: float
    support: int  # examples the human coders left uncoded
    predicted: int  # examples the model left uncoded


@dataclass
class ReliabilityBin:
    lower: float
    upper: float
    count: int
    mean_probability: float | None
    observed_rate: float | None


@dataclass
class CalibrationMetrics:
    ece_before: float | None
    ece_after: float
    nll_before: float | None
    nll_after: float
    n_bins: int
    bins_before: list[ReliabilityBin] = field(default_factory=list)
    bins_after: list[ReliabilityBin] = field(default_factory=list)


@dataclass
class Evaluation:
    n_examples: int
    concept: LevelMetrics
    initial_category: LevelMetrics
    main_category: LevelMetrics
    no_code: NoCodeMetrics
    calibration: CalibrationMetrics
    main_confusion: dict[str, Any]

    def level(self, name: str) -> LevelMetrics:
        if name not in LEVELS:
            raise KeyError(f"unknown level {name!r}; levels: {', '.join(LEVELS)}")
        return getattr(self, name)

    def metric(self, dotted: str) -> float | None:
        """``initial_category.macro_f1``, ``no_code.recall``, ``calibration.ece_after`` ..."""
        head, _, key = dotted.partition(".")
        if head in LEVELS:
            return self.level(head).get(key)
        if head in ("no_code", "calibration"):
            value = getattr(getattr(self, head), key, None)
            return value if isinstance(value, (int, float)) else None
        raise KeyError(f"unknown metric {dotted!r}: start with one of {', '.join(LEVELS)}, no_code, calibration")

    def to_dict(self) -> dict[str, Any]:
        return _clean(asdict(self))

    def summary(self) -> dict[str, Any]:
        """The headline numbers (no per-label tables)."""
        out: dict[str, Any] = {"n_examples": self.n_examples}
        for level in LEVELS:
            m = self.level(level)
            out[level] = {
                "micro_f1": m.micro_f1,
                "macro_f1": m.macro_f1,
                "mean_kappa": m.mean_kappa,
                **{f"top_{k}_accuracy": v for k, v in m.top_k_accuracy.items()},
            }
        out["no_code"] = asdict(self.no_code)
        out["calibration"] = {k: getattr(self.calibration, k) for k in ("ece_before", "ece_after", "nll_before", "nll_after")}
        return _clean(out)


# --------------------------------------------------------------------------------------------------


def evaluate(
    labels: Any,
    true_label_sets: Sequence[set[str] | frozenset[str]],
    outputs: ModelOutputs,
    top_k: Sequence[int] = (1, 3, 5),
    ece_bins: int = 10,
) -> Evaluation:
    """Score ``outputs`` against the human codes (see the module docstring)."""
    from ..classifier.hierarchy import derive_category_decisions, derive_category_scores

    y = labels.encode([set(s) for s in true_label_sets]).astype(bool)
    probs = np.asarray(outputs.probs, dtype=np.float64)
    decisions = np.asarray(outputs.decisions, dtype=bool)
    if probs.shape != y.shape or decisions.shape != y.shape:
        raise ValueError(f"outputs of shape {probs.shape}/{decisions.shape} for {y.shape} true labels")
    y_initial, y_main = derive_category_decisions(y, labels)
    d_initial, d_main = derive_category_decisions(decisions, labels)
    s_initial, s_main = derive_category_scores(probs, labels)
    concept = _level("concept", labels.concepts, y, decisions, probs, top_k)
    initial = _level("initial_category", labels.initial_categories, y_initial, d_initial, s_initial, top_k)
    main = _level("main_category", labels.main_categories, y_main, d_main, s_main, top_k)
    no_code = _no_code(y, decisions)
    calibration = _calibration(probs, outputs.probs_uncalibrated, y, ece_bins)
    confusion = _main_confusion(labels.main_categories, y_main, d_main, s_main)
    return Evaluation(len(y), concept, initial, main, no_code, calibration, confusion)


def _prf(tp: float, fp: float, fn: float) -> tuple[float, float, float]:
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else 0.0
    return precision, recall, f1


def _kappa(truth: np.ndarray, pred: np.ndarray) -> float | None:
    from sklearn.metrics import cohen_kappa_score

    if len(truth) == 0:
        return None
    # Undefined when both raters say the same constant thing (chance agreement is 1).
    if truth.min() == truth.max() and pred.min() == pred.max():
        return 1.0 if truth[0] == pred[0] else None
    value = float(cohen_kappa_score(truth.astype(int), pred.astype(int)))
    return value if math.isfinite(value) else None


def _level(
    name: str, names: Sequence[str], y: np.ndarray, d: np.ndarray, scores: np.ndarray, top_k: Sequence[int]
) -> LevelMetrics:
    tp = (y & d).sum(axis=0)
    fp = (~y & d).sum(axis=0)
    fn = (y & ~d).sum(axis=0)
    support = y.sum(axis=0)
    per_label = []
    for j, label in enumerate(names):
        p, r, f = _prf(tp[j], fp[j], fn[j])
        kappa = _kappa(y[:, j], d[:, j]) if support[j] > 0 or d[:, j].any() else None
        per_label.append(LabelScore(label, p, r, f, int(support[j]), int(d[:, j].sum()), kappa))
    micro_p, micro_r, micro_f = _prf(tp.sum(), fp.sum(), fn.sum())
    scored = [s for s in per_label if s.support > 0]
    macro = lambda key: float(np.mean([getattr(s, key) for s in scored])) if scored else 0.0  # noqa: E731
    kappas = [s.kappa for s in scored if s.kappa is not None]
    has_truth = y.any(axis=1)
    accuracies: dict[str, float] = {}
    order = np.argsort(-scores, axis=1, kind="stable")
    for k in top_k:
        k_eff = min(k, len(names))
        hits = np.take_along_axis(y, order[:, :k_eff], axis=1).any(axis=1)
        accuracies[str(k)] = float(hits[has_truth].mean()) if has_truth.any() else 0.0
    return LevelMetrics(
        level=name,
        n_examples=int(len(y)),
        n_labels_scored=len(scored),
        micro_precision=micro_p,
        micro_recall=micro_r,
        micro_f1=micro_f,
        macro_precision=macro("precision"),
        macro_recall=macro("recall"),
        macro_f1=macro("f1"),
        mean_kappa=float(np.mean(kappas)) if kappas else None,
        top_k_accuracy=accuracies,
        per_label=per_label,
    )


def _no_code(y: np.ndarray, d: np.ndarray) -> NoCodeMetrics:
    truth = ~y.any(axis=1)
    pred = ~d.any(axis=1)
    tp = int((truth & pred).sum())
    p, r, f = _prf(tp, int((~truth & pred).sum()), int((truth & ~pred).sum()))
    return NoCodeMetrics(p, r, f, int(truth.sum()), int(pred.sum()))


def reliability_bins(probs: np.ndarray, y: np.ndarray, n_bins: int) -> list[ReliabilityBin]:
    """Equal-width bins over every (example, concept) probability, right-closed as the core's ECE."""
    p = np.asarray(probs, dtype=np.float64).ravel()
    t = np.asarray(y, dtype=np.float64).ravel()
    index = np.clip(np.ceil(p * n_bins).astype(np.int64) - 1, 0, n_bins - 1)
    out = []
    for b in range(n_bins):
        mask = index == b
        count = int(mask.sum())
        out.append(
            ReliabilityBin(
                b / n_bins,
                (b + 1) / n_bins,
                count,
                float(p[mask].mean()) if count else None,
                float(t[mask].mean()) if count else None,
            )
        )
    return out


def _calibration(probs: np.ndarray, uncalibrated: np.ndarray | None, y: np.ndarray, n_bins: int) -> CalibrationMetrics:
    from ..classifier.calibration import binary_nll, expected_calibration_error

    target = y.astype(np.float64)
    before_ece = before_nll = None
    bins_before: list[ReliabilityBin] = []
    if uncalibrated is not None and len(y):
        before_ece = expected_calibration_error(uncalibrated, target, n_bins)
        before_nll = binary_nll(uncalibrated, target)
        bins_before = reliability_bins(uncalibrated, target, n_bins)
    if not len(y):
        return CalibrationMetrics(None, float("nan"), None, float("nan"), n_bins)
    return CalibrationMetrics(
        ece_before=before_ece,
        ece_after=expected_calibration_error(probs, target, n_bins),
        nll_before=before_nll,
        nll_after=binary_nll(probs, target),
        n_bins=n_bins,
        bins_before=bins_before,
        bins_after=reliability_bins(probs, target, n_bins),
    )


def _main_confusion(names: Sequence[str], y: np.ndarray, d: np.ndarray, scores: np.ndarray) -> dict[str, Any]:
    classes = [*names, NO_CODE]
    matrix = np.zeros((len(classes), len(classes)), dtype=np.int64)
    skipped = 0
    for i in range(len(y)):
        truth = np.flatnonzero(y[i])
        if len(truth) > 1:
            skipped += 1
            continue
        row = int(truth[0]) if len(truth) else len(names)
        predicted = np.flatnonzero(d[i])
        col = int(predicted[np.argmax(scores[i, predicted])]) if len(predicted) else len(names)
        matrix[row, col] += 1
    return {"labels": classes, "matrix": matrix.tolist(), "skipped_multi_main": skipped}


def _clean(value: Any) -> Any:
    """JSON-safe: NaN/inf -> None, numpy scalars -> Python."""
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    if isinstance(value, (np.floating, float)):
        value = float(value)
        return value if math.isfinite(value) else None
    if isinstance(value, np.integer):
        return int(value)
    return value


def outputs_of(model: Any, texts: Sequence[str]) -> ModelOutputs:
    """Run a classifier (BERT or baseline) and collect its ``ModelOutputs``."""
    probs = np.asarray(model.predict_proba(list(texts)), dtype=np.float64)
    thresholds = _thresholds_of(model)
    uncal = None
    try:
        uncal = np.asarray(model.predict_proba(list(texts), calibrated=False), dtype=np.float64)
    except TypeError:
        temperature = float(getattr(getattr(model, "calibration", None), "temperature", 1.0) or 1.0)
        if temperature != 1.0:
            from ..classifier.calibration import sigmoid

            clipped = np.clip(probs, 1e-12, 1 - 1e-12)
            uncal = sigmoid(temperature * np.log(clipped / (1 - clipped)))
        else:
            uncal = probs
    return ModelOutputs(probs, probs >= thresholds[None, :], uncal)


def _thresholds_of(model: Any) -> np.ndarray:
    labels = model.labels
    if callable(getattr(model, "thresholds_array", None)):
        return np.asarray(model.thresholds_array(), dtype=np.float64)
    value = getattr(model, "thresholds", None)
    if value is not None and not callable(value):
        if isinstance(value, dict):
            return np.asarray([float(value.get(c, 0.5)) for c in labels.concepts])
        return np.asarray(value, dtype=np.float64)
    calibration = getattr(model, "calibration", None)
    mapping = getattr(calibration, "thresholds", None) or {}
    return np.asarray([float(mapping.get(c, 0.5)) for c in labels.concepts])
