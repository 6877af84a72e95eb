"""Segments the classifier cannot place: novelty scores, and thresholds calibrated by leave-concepts-out.

A held-out segment is a *candidate new concept* when it looks codeable (like the passages coders
code, not like boilerplate) but fits none of the codebook's concepts. Four scores per segment:

* ``low_confidence``: 1 - the maximum calibrated concept probability (MSP; Hendrycks & Gimpel 2017);
* ``low_energy``: minus the joint energy of the multi-label logits, ``sum_j softplus(l_j / T)``
  (Wang et al. 2021's multi-label energy: a segment near no concept has small logits everywhere);
* ``mahalanobis``: the Mahalanobis distance of the segment's embedding to the nearest concept mean,
  means fitted on the training quotes, one covariance shared by all concepts (within-concept
  residuals, Ledoit-Wolf shrinkage; Lee et al. 2018);
* ``relevance``: the log-odds that the segment is coded at all, from a logistic regression on the
  embeddings of coded quotes vs. the uncoded ("no code") sentences of the training documents. It
  separates an unknown theme from filler, which is just as far from every concept.

Embeddings: the BERT classifier's pooled encoder output (``embed``), or for the TF-IDF baseline its
own TF-IDF space; both reduced to at most ``dims`` dimensions (PCA / TruncatedSVD, seeded) and
L2-normalised, so both kinds of model work the same way.

The scores are combined as ``P(unplaced) * P(codeable)``: a logistic regression on the three
unplaced scores (quotes of left-out concepts vs. quotes of kept concepts) times a logistic
recalibration of the relevance log-odds (coded vs. uncoded), so a segment must be both. The combiner
and its threshold are **calibrated, not guessed**, by leave-concepts-out on the training corpus
(``calibrate_novelty``): in each round a few concepts are dropped from training (every quote carrying
one of them is removed), a model of the same kind and settings is trained on some firms, calibrated
on others, and scored on the rest (the evaluation firms): quotes of the dropped concepts are the
positives, quotes of kept concepts and uncoded sentences the negatives. The reported AUROC is
out-of-round (each round scored by a combiner fitted on the other rounds); the operating point is
picked on those out-of-round scores: by default the lowest threshold whose false-positive rate stays
at most 10% (``threshold_rule="fpr"``: novel segments are rare among a report's sentences, so false
alarms cost more than misses; a recurring theme is still caught by the clustering), or Youden's J,
or a target TPR. Round models see fewer firms than the final model, which is more confident, so the
raw threshold would not carry over; the operating point does: ``NoveltyCalibration.threshold_on``
sets the final model's threshold at the same false-positive rate on known material (quotes and
uncoded sentences) of firms it was not trained on. ``NoveltyCalibration`` is JSON and is stored with
the model run.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import math
import random
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from ..atomic import write_json
from ..errors import InputError

CALIBRATION_FORMAT = "groundcoder.novelty-calibration/1"
CALIBRATION_FILE = "novelty_calibration.json"
FEATURES = ("low_confidence", "low_energy", "mahalanobis", "relevance")
THRESHOLD_RULES = ("youden", "tpr", "fpr")


def single_blas():
    """One BLAS thread for the small dense algebra here: on a shared 2-core machine OpenBLAS's own
    threads fight the other processes' and a 1,500 x 1,500 decomposition gets five times slower."""
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=1, user_api="blas")


# --------------------------------------------------------------------------------------------------
# The model, whatever its kind


class ModelView:
    """What novelty needs from a classifier: calibrated probabilities, logits and raw features.

    Works with ``BertConceptClassifier`` (``embed``, ``predict_logits``) and with the TF-IDF
    baseline (``decision_function`` and its TF-IDF features); anything else is refused.
    """

    def __init__(self, model: Any) -> None:
        self.model = model
        if hasattr(model, "embed") and hasattr(model, "predict_logits"):
            self.kind = "bert"
        elif hasattr(model, "decision_function") and hasattr(model, "_features"):
            self.kind = "baseline"
        else:
            raise InputError(None, f"cannot score novelty with a {type(model).__name__}",
                             hint="use a BertConceptClassifier or the TF-IDF baseline (groundcoder.training.TfidfBaseline)")
        self.labels = model.labels

    @property
    def temperature(self) -> float:
        calibration = getattr(self.model, "calibration", None)
        t = getattr(calibration, "temperature", 1.0) if calibration is not None else 1.0
        return float(t) if t and t > 0 else 1.0

    def logits(self, texts: Sequence[str]) -> np.ndarray:
        """Logits divided by the calibration temperature, ``[n, n_concepts]``."""
        raw = self.model.predict_logits(list(texts)) if self.kind == "bert" else self.model.decision_function(list(texts))
        return np.asarray(raw, dtype=np.float64) / self.temperature

    def raw_features(self, texts: Sequence[str]) -> Any:
        """BERT: pooled embeddings (dense); baseline: TF-IDF rows (sparse)."""
        if self.kind == "bert":
            return np.asarray(self.model.embed(list(texts)), dtype=np.float64)
        return self.model._features(list(texts))


# --------------------------------------------------------------------------------------------------
# Embedding and geometry


def _l2(z: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(z, axis=1, keepdims=True)
    return z / np.maximum(norms, 1e-12)


class _GramSVD:
    """Truncated SVD of a sparse ``X`` [n, d] with n << d through the Gram matrix ``X X^T`` (exact).

    A 2,000 x 200,000 TF-IDF matrix takes seconds this way instead of a minute of randomized QR on
    200,000-row blocks. ``transform(Y) = Y V_k = (Y X^T) U_k / s_k``; eigenvector signs are fixed
    (largest component positive), so the result is deterministic.
    """

    def __init__(self, n_components: int, seed: int = 0) -> None:
        self.n_components = n_components
        self.seed = seed

    def fit(self, x: Any) -> _GramSVD:
        from scipy import sparse
        from sklearn.utils.extmath import randomized_svd

        self._x = sparse.csr_matrix(x, dtype=np.float64)
        gram = (self._x @ self._x.T).toarray()
        k = min(self.n_components, gram.shape[0])
        if k >= gram.shape[0] // 2:
            values, vectors = np.linalg.eigh(gram)
            order = np.argsort(values)[::-1][:k]
            values, vectors = values[order], vectors[:, order]
        else:  # the Gram matrix is symmetric PSD: its singular vectors are its eigenvectors
            vectors, values, _ = randomized_svd(gram, k, n_iter=6, random_state=self.seed)
        keep = values > 1e-10 * max(values[0], 1e-300)
        values, vectors = values[keep], vectors[:, keep]
        signs = np.sign(vectors[np.argmax(np.abs(vectors), axis=0), np.arange(vectors.shape[1])])
        self._coef = vectors * signs / np.sqrt(values)
        return self

    def transform(self, y: Any) -> np.ndarray:
        from scipy import sparse

        product = sparse.csr_matrix(y, dtype=np.float64) @ self._x.T
        return np.asarray(product @ self._coef)


class Embedder:
    """Raw features -> at most ``dims`` dimensions (truncated SVD for sparse TF-IDF, PCA for dense
    embeddings), L2-normalised."""

    def __init__(self, dims: int = 128, seed: int = 0, max_fit_rows: int = 1500) -> None:
        self.dims = dims
        self.seed = seed
        self.max_fit_rows = max_fit_rows
        self._reducer: Any = None

    def fit(self, raw: Any) -> Embedder:
        """Fit on ``raw`` (at most ``max_fit_rows`` rows of it, a seeded sample: the basis needs no more)."""
        from scipy import sparse

        if raw.shape[0] > self.max_fit_rows:
            rows = np.sort(np.random.default_rng(self.seed).choice(raw.shape[0], self.max_fit_rows, replace=False))
            raw = raw[rows]
        n, d = raw.shape
        k = max(1, min(self.dims, d - 1 if d > 1 else 1, n - 1 if n > 1 else 1))
        if sparse.issparse(raw):
            if n <= d:
                self._reducer = _GramSVD(k, self.seed).fit(raw)
                return self
            from sklearn.decomposition import TruncatedSVD

            self._reducer = TruncatedSVD(n_components=k, random_state=self.seed, algorithm="randomized", n_iter=7)
        else:
            from sklearn.decomposition import PCA

            self._reducer = PCA(n_components=k, random_state=self.seed, svd_solver="full") if k < d else None
        if self._reducer is not None:
            self._reducer.fit(raw)
        return self

    def transform(self, raw: Any) -> np.ndarray:
        z = self._reducer.transform(raw) if self._reducer is not None else np.asarray(raw, dtype=np.float64)
        return _l2(np.asarray(z, dtype=np.float64))


@dataclass
class SegmentScores:
    """Scores of ``n`` segments; every array has ``n`` rows."""

    max_probability: np.ndarray
    joint_energy: np.ndarray
    mahalanobis: np.ndarray
    relevance: np.ndarray            # log-odds "this is coded at all"
    nearest: np.ndarray              # [n, k] concept indices, nearest first
    nearest_distance: np.ndarray     # [n, k]
    embeddings: np.ndarray           # [n, d] L2-normalised
    probabilities: np.ndarray        # [n, n_concepts] calibrated

    def features(self) -> np.ndarray:
        """``[n, 4]`` in ``FEATURES`` order, each oriented so that larger = more novel."""
        return np.column_stack([1.0 - self.max_probability, -self.joint_energy, self.mahalanobis, self.relevance])

    def __len__(self) -> int:
        return len(self.max_probability)


def _softplus(x: np.ndarray) -> np.ndarray:
    return np.logaddexp(0.0, x)


class NoveltyDetector:
    """Concept means, shared covariance and the relevance model, fitted on the training quotes."""

    def __init__(self, view: ModelView, embedder: Embedder, concept_index: np.ndarray, means: np.ndarray,
                 precision: np.ndarray, relevance: Any, n_nearest: int = 3) -> None:
        self.view = view
        self.embedder = embedder
        self.concept_index = concept_index    # label-space indices of the concepts with a mean
        self.means = means                    # [k, d]
        self.precision = precision            # [d, d]
        self.relevance_model = relevance      # LogisticRegression or None (no uncoded sentences)
        self.n_nearest = n_nearest

    @property
    def concepts(self) -> tuple[str, ...]:
        names = self.view.labels.concepts
        return tuple(names[i] for i in self.concept_index)

    @classmethod
    def fit(cls, model: Any, texts: Sequence[str], label_sets: Sequence[set[str] | frozenset[str]], *,
            dims: int = 128, min_support: int = 2, seed: int = 0) -> NoveltyDetector:
        """Fit on training texts; an empty label set is an uncoded sentence."""
        with single_blas():
            return cls._fit(model, texts, label_sets, dims=dims, min_support=min_support, seed=seed)

    @classmethod
    def _fit(cls, model: Any, texts: Sequence[str], label_sets: Sequence[set[str] | frozenset[str]], *,
             dims: int, min_support: int, seed: int) -> NoveltyDetector:
        from sklearn.covariance import LedoitWolf
        from sklearn.linear_model import LogisticRegression

        view = model if isinstance(model, ModelView) else ModelView(model)
        texts = list(texts)
        if len(texts) != len(label_sets):
            raise InputError(None, f"{len(texts)} texts but {len(label_sets)} label sets")
        y = view.labels.encode([set(s) for s in label_sets])
        coded = y.sum(axis=1) > 0
        if coded.sum() < 2:
            raise InputError(None, "novelty needs coded training quotes; got fewer than two")
        raw = view.raw_features(texts)
        embedder = Embedder(dims, seed).fit(raw)
        z = embedder.transform(raw)
        index, means, residuals = [], [], []
        for j in range(y.shape[1]):
            rows = y[:, j] > 0
            if rows.sum() < min_support:
                continue
            mu = z[rows].mean(axis=0)
            index.append(j)
            means.append(mu)
            residuals.append(z[rows] - mu)
        if not index:
            raise InputError(None, f"no concept has {min_support} or more training quotes: no concept means to measure distance to")
        precision = LedoitWolf().fit(np.vstack(residuals)).precision_
        relevance = None
        if 0 < coded.sum() < len(coded):
            relevance = LogisticRegression(C=1.0, class_weight="balanced", max_iter=2000, random_state=seed).fit(z, coded)
        return cls(view, embedder, np.asarray(index), np.vstack(means), precision, relevance)

    def distances(self, z: np.ndarray) -> np.ndarray:
        """Mahalanobis distance of each row of ``z`` to each concept mean, ``[n, k]``."""
        zp = z @ self.precision
        mp = self.means @ self.precision
        sq = np.einsum("ij,ij->i", zp, z)[:, None] - 2 * zp @ self.means.T + np.einsum("ij,ij->i", mp, self.means)[None, :]
        return np.sqrt(np.maximum(sq, 0.0))

    def score(self, texts: Sequence[str], batch: int = 2048) -> SegmentScores:
        with single_blas():
            return self._score(list(texts), batch)

    def _score(self, texts: list[str], batch: int) -> SegmentScores:
        if not texts:
            empty = np.zeros(0)
            return SegmentScores(empty, empty, empty, empty, np.zeros((0, self.n_nearest), int), np.zeros((0, self.n_nearest)),
                                 np.zeros((0, self.means.shape[1])), np.zeros((0, self.view.labels.n_concepts)))
        logits = self.view.logits(texts)
        probs = 1.0 / (1.0 + np.exp(-logits))
        z = self.embedder.transform(self.view.raw_features(texts))
        k = min(self.n_nearest, len(self.concept_index))
        nearest = np.zeros((len(texts), k), dtype=int)
        nearest_d = np.zeros((len(texts), k))
        for start in range(0, len(texts), batch):
            d = self.distances(z[start:start + batch])
            order = np.argsort(d, axis=1, kind="stable")[:, :k]
            nearest[start:start + batch] = self.concept_index[order]
            nearest_d[start:start + batch] = np.take_along_axis(d, order, axis=1)
        if self.relevance_model is not None:
            relevance = self.relevance_model.decision_function(z)
        else:
            relevance = np.zeros(len(texts))
        return SegmentScores(probs.max(axis=1), _softplus(logits).sum(axis=1), nearest_d[:, 0], relevance,
                             nearest, nearest_d, z, probs)

    def nearest_concepts(self, vector: np.ndarray, k: int = 3) -> list[tuple[str, float]]:
        """The ``k`` concepts whose means are nearest (Mahalanobis) to one embedding (e.g. a cluster centroid)."""
        d = self.distances(_l2(np.asarray(vector, dtype=np.float64).reshape(1, -1)))[0]
        order = np.argsort(d, kind="stable")[:k]
        names = self.view.labels.concepts
        return [(names[self.concept_index[i]], float(d[i])) for i in order]


# --------------------------------------------------------------------------------------------------
# The calibration


@dataclass(frozen=True)
class CalibrationRound:
    """One leave-concepts-out round."""

    round: int
    dropped: tuple[str, ...]
    fit_firms: int
    val_firms: int
    eval_firms: tuple[str, ...]
    n_dropped_quotes: int        # positives: quotes of the dropped concepts in the evaluation firms
    n_kept_quotes: int           # negatives: quotes of kept concepts
    n_uncoded: int               # negatives: uncoded sentences
    auroc: float | None          # out-of-round combined score, dropped vs. kept + uncoded


@dataclass(frozen=True)
class NoveltyCalibration:
    """The combiner, its threshold and the evidence (AUROCs) from leave-concepts-out."""

    model_kind: str
    codebook_hash: str
    model_id: str
    data_fingerprint: str
    features: tuple[str, ...]
    mean: tuple[float, ...]                # unplaced model: standardisation of the first three features
    scale: tuple[float, ...]
    weights: tuple[float, ...]
    intercept: float
    relevance_slope: float                 # codeable model: Platt scaling of the relevance log-odds
    relevance_intercept: float
    threshold: float                       # on the combined score P(unplaced) * P(codeable)
    threshold_rule: str                    # "youden" or "tpr>=0.90"
    tpr: float                             # at the threshold, out of round
    fpr: float                             # against kept quotes and uncoded sentences
    fpr_kept: float                        # against kept-concept quotes only
    auroc: float                           # combined, dropped vs. kept + uncoded (out of round)
    auroc_kept: float                      # combined, dropped vs. kept-concept quotes only
    component_auroc: dict[str, dict[str, float]]
    rounds: tuple[CalibrationRound, ...]
    settings: dict[str, Any] = field(default_factory=dict)
    created_at: str = ""

    def unplaced(self, features: np.ndarray) -> np.ndarray:
        """P(the segment fits no concept | it is coded), from the three unplaced scores."""
        x = np.asarray(features, dtype=np.float64)
        return _apply(x[:, :3], np.asarray(self.mean), np.asarray(self.scale), np.asarray(self.weights), self.intercept)

    def codeable(self, features: np.ndarray) -> np.ndarray:
        """P(the segment is coded at all), the relevance log-odds recalibrated out of sample."""
        x = np.asarray(features, dtype=np.float64)
        return 1.0 / (1.0 + np.exp(-(self.relevance_slope * x[:, 3] + self.relevance_intercept)))

    def combined(self, features: np.ndarray) -> np.ndarray:
        """Novelty score in [0, 1]: P(unplaced) * P(codeable), for rows of ``features`` (``FEATURES`` order)."""
        return self.unplaced(features) * self.codeable(features)

    def flag(self, features: np.ndarray, threshold: float | None = None) -> np.ndarray:
        return self.combined(features) >= (self.threshold if threshold is None else threshold)

    def threshold_on(self, known_features: np.ndarray) -> float:
        """The threshold giving the calibrated operating point on another model of the same kind.

        Leave-concepts-out picks an operating point (FPR ``self.fpr`` against kept quotes and uncoded
        sentences). The round models were trained on fewer firms than the final model, which is more
        confident, so the raw threshold does not carry over; the false-positive rate does: this is the
        ``1 - fpr`` quantile of the combined score of ``known_features``, known material (quotes and
        uncoded sentences) of firms the final model was not trained on.
        """
        scores = self.combined(np.asarray(known_features, dtype=np.float64))
        if len(scores) == 0:
            return self.threshold
        # the lowest threshold t with mean(scores >= t) <= fpr (ties included)
        values = np.unique(scores)
        flagged = len(scores) - np.searchsorted(np.sort(scores), values, side="left")
        ok = np.nonzero(flagged <= self.fpr * len(scores) + 1e-9)[0]
        return float(values[ok[0]]) if len(ok) else float(np.nextafter(values[-1], np.inf))

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["format"] = CALIBRATION_FORMAT
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any], path: str | Path | None = None) -> NoveltyCalibration:
        if data.get("format") != CALIBRATION_FORMAT:
            raise InputError(path, f"not a novelty calibration (format {data.get('format')!r})",
                             hint="delete it; `groundcoder saturation` calibrates again")
        try:
            rounds = tuple(CalibrationRound(**{**r, "dropped": tuple(r["dropped"]), "eval_firms": tuple(r["eval_firms"])})
                           for r in data["rounds"])
            values = {k: data[k] for k in cls.__dataclass_fields__ if k in data and k != "rounds"}
            for key in ("features", "mean", "scale", "weights"):
                values[key] = tuple(values[key])
            return cls(**values, rounds=rounds)
        except (KeyError, TypeError) as exc:
            raise InputError(path, f"incomplete novelty calibration ({exc})", hint="delete it to calibrate again") from exc

    def save(self, path: str | Path) -> Path:
        return write_json(path, self.to_dict())

    @classmethod
    def load(cls, path: str | Path) -> NoveltyCalibration:
        path = Path(path)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise InputError(path, f"not valid JSON ({exc.msg})", hint="delete it to calibrate again") from exc
        return cls.from_dict(data, path)

    def summary(self) -> str:
        return (f"leave-concepts-out AUROC {self.auroc:.3f} (vs kept-concept quotes only {self.auroc_kept:.3f}) over "
                f"{len(self.rounds)} rounds; threshold {self.threshold:.3f} ({self.threshold_rule}): "
                f"TPR {self.tpr:.2f}, FPR {self.fpr:.3f}")


@dataclass(frozen=True)
class CalibrationSettings:
    rounds: int = 3
    drop_fraction: float = 0.1            # of the concepts with enough quotes, per round
    min_drop: int = 2
    min_quotes: int = 4                   # a concept needs this many quotes to be dropped
    eval_fraction: float = 0.3            # of the firms: scored
    val_fraction: float = 0.15            # of the firms: temperature and thresholds of the round's model
    dims: int = 128
    threshold_rule: str = "fpr"           # fpr | youden | tpr
    target_tpr: float = 0.9               # rule tpr: the highest threshold reaching this TPR
    target_fpr: float = 0.1               # rule fpr: the lowest threshold keeping FPR at most this
    seed: int = 0

    def __post_init__(self) -> None:
        problems = []
        if self.rounds < 2:
            problems.append(f"rounds is {self.rounds}; out-of-round scores need at least 2")
        if not 0 < self.drop_fraction < 1:
            problems.append(f"drop_fraction {self.drop_fraction} is not in (0, 1)")
        if not 0 < self.eval_fraction < 1 or not 0 <= self.val_fraction < 1 or self.eval_fraction + self.val_fraction >= 1:
            problems.append("eval_fraction and val_fraction must leave firms to train on")
        if self.threshold_rule not in THRESHOLD_RULES:
            problems.append(f"threshold_rule {self.threshold_rule!r} is not one of {', '.join(THRESHOLD_RULES)}")
        if not 0 < self.target_tpr < 1:
            problems.append(f"target_tpr {self.target_tpr} is not in (0, 1)")
        if not 0 < self.target_fpr < 1:
            problems.append(f"target_fpr {self.target_fpr} is not in (0, 1)")
        if problems:
            raise InputError(None, "bad novelty calibration settings: " + "; ".join(problems))


def _fit_logistic(x: np.ndarray, y: np.ndarray, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    from sklearn.linear_model import LogisticRegression

    mean = x.mean(axis=0)
    scale = x.std(axis=0)
    scale = np.where(scale > 1e-12, scale, 1.0)
    clf = LogisticRegression(C=1.0, class_weight="balanced", max_iter=1000, random_state=seed).fit((x - mean) / scale, y)
    return mean, scale, clf.coef_[0].copy(), float(clf.intercept_[0])


def _apply(x: np.ndarray, mean: np.ndarray, scale: np.ndarray, w: np.ndarray, b: float) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-(((x - mean) / scale) @ w + b)))


@dataclass(frozen=True)
class _Combiner:
    """P(unplaced | coded) from the three unplaced scores (dropped vs. kept quotes) times
    P(coded) from the relevance log-odds (coded vs. uncoded), both logistic."""

    unplaced: tuple[np.ndarray, np.ndarray, np.ndarray, float]
    relevance: tuple[float, float]

    @classmethod
    def fit(cls, x: np.ndarray, kinds: np.ndarray, seed: int = 0) -> _Combiner:
        from sklearn.linear_model import LogisticRegression

        coded = kinds != "uncoded"
        if len(set(kinds[coded].tolist())) < 2:
            raise InputError(None, "leave-concepts-out needs quotes of dropped and of kept concepts", hint="use more rounds")
        unplaced = _fit_logistic(x[coded, :3], (kinds[coded] == "dropped").astype(int), seed)
        if coded.all() or not coded.any():
            relevance = (0.0, 10.0)  # no uncoded sentences: every segment counts as codeable
        else:
            clf = LogisticRegression(C=1.0, class_weight="balanced", max_iter=1000, random_state=seed)
            clf.fit(x[:, 3:4], coded.astype(int))
            relevance = (float(clf.coef_[0, 0]), float(clf.intercept_[0]))
        return cls(unplaced, relevance)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        p_unplaced = _apply(x[:, :3], *self.unplaced)
        p_coded = 1.0 / (1.0 + np.exp(-(self.relevance[0] * x[:, 3] + self.relevance[1])))
        return p_unplaced * p_coded


def _auc(y: np.ndarray, s: np.ndarray) -> float | None:
    from sklearn.metrics import roc_auc_score

    if len(set(y.tolist())) < 2:
        return None
    return float(roc_auc_score(y, s))


def choose_threshold(y: np.ndarray, score: np.ndarray, rule: str = "youden", target_tpr: float = 0.9,
                     target_fpr: float = 0.1) -> tuple[float, float, float]:
    """Threshold on ``score``: Youden's J (max TPR - FPR), the highest one reaching ``target_tpr``, or the
    lowest one whose FPR stays at most ``target_fpr``; returns (threshold, TPR, FPR)."""
    from sklearn.metrics import roc_curve

    fpr, tpr, thresholds = roc_curve(y, score, drop_intermediate=False)
    finite = np.isfinite(thresholds)
    fpr, tpr, thresholds = fpr[finite], tpr[finite], thresholds[finite]
    if rule == "youden":
        i = int(np.argmax(tpr - fpr))
    elif rule == "tpr":
        reaching = np.nonzero(tpr >= target_tpr)[0]
        i = int(reaching[0]) if len(reaching) else len(tpr) - 1
    else:
        within = np.nonzero(fpr <= target_fpr)[0]
        i = int(within[-1]) if len(within) else 0
    return float(thresholds[i]), float(tpr[i]), float(fpr[i])


def _firm_parts(firms: list[str], rng: random.Random, eval_fraction: float, val_fraction: float) -> tuple[list[str], list[str], list[str]]:
    order = firms[:]
    rng.shuffle(order)
    n_eval = max(1, int(round(eval_fraction * len(order))))
    n_val = max(1, int(round(val_fraction * len(order)))) if val_fraction > 0 else 0
    if len(order) - n_eval - n_val < 1:
        raise InputError(None, f"{len(order)} firms are too few for leave-concepts-out (evaluation, validation and training firms)",
                         hint="code more reference firms, or lower eval_fraction / val_fraction")
    return order[n_eval + n_val:], order[n_eval:n_eval + n_val], order[:n_eval]


@dataclass
class CalibrationScores:
    """The raw material of a calibration: features of every scored example, with its kind and round."""

    features: np.ndarray      # [n, 4], FEATURES order
    kinds: np.ndarray         # "dropped" | "kept" | "uncoded"
    rounds: np.ndarray        # round number
    meta: list[tuple]         # per round: (round, dropped, n_fit_firms, n_val_firms, eval_firms)

    @property
    def positive(self) -> np.ndarray:
        return (self.kinds == "dropped").astype(int)


def leave_concepts_out_scores(
    examples: Sequence[Any],
    labels: Any,
    make_model: Callable[[], Any],
    settings: CalibrationSettings | None = None,
    log: Callable[[str], None] | None = None,
) -> CalibrationScores:
    """Train one model per round without a few concepts and score the evaluation firms' examples."""
    settings = settings or CalibrationSettings()
    log = log or (lambda message: None)
    examples = list(examples)
    firms = sorted({e.firm_id for e in examples})
    quote_counts: dict[str, int] = {}
    for e in examples:
        for c in e.concepts:
            quote_counts[c] = quote_counts.get(c, 0) + 1
    eligible = sorted(c for c, n in quote_counts.items() if n >= settings.min_quotes)
    if len(eligible) < 2 * settings.min_drop:
        raise InputError(None, f"only {len(eligible)} concepts have {settings.min_quotes}+ quotes: too few to leave some out",
                         hint="code more reference quotes before calibrating novelty")
    if not any(not e.concepts for e in examples):
        log("note: no uncoded sentences in the reference data; the relevance score cannot be learned")
    n_drop = max(settings.min_drop, int(round(settings.drop_fraction * len(eligible))))
    rng = random.Random(settings.seed)
    pool = eligible[:]
    rng.shuffle(pool)
    feats, kinds, round_ids, meta = [], [], [], []
    for r in range(settings.rounds):
        start = (r * n_drop) % len(pool)
        dropped = set((pool + pool)[start:start + n_drop])
        fit_f, val_f, eval_f = _firm_parts(firms, random.Random(settings.seed * 1000 + r), settings.eval_fraction, settings.val_fraction)
        fit_set, val_set, eval_set = set(fit_f), set(val_f), set(eval_f)
        train = [e for e in examples if e.firm_id in fit_set and not (set(e.concepts) & dropped)]
        val = [e for e in examples if e.firm_id in val_set and not (set(e.concepts) & dropped)]
        log(f"novelty calibration round {r + 1}/{settings.rounds}: leaving out {len(dropped)} concepts, "
            f"training on {len(train)} examples of {len(fit_f)} firms")
        model = make_model()
        quiet = {"progress": False} if "progress" in inspect.signature(model.fit).parameters else {}
        model.fit([e.text for e in train], [set(e.concepts) for e in train], **quiet)
        if val and hasattr(model, "calibrate"):
            model.calibrate([e.text for e in val], [set(e.concepts) for e in val])
        detector = NoveltyDetector.fit(model, [e.text for e in train], [set(e.concepts) for e in train],
                                       dims=settings.dims, seed=settings.seed)
        scored, kind = [], []
        for e in examples:
            if e.firm_id not in eval_set:
                continue
            concepts = set(e.concepts)
            if not concepts:
                label = "uncoded"
            elif concepts <= dropped:
                label = "dropped"
            elif not concepts & dropped:
                label = "kept"
            else:
                continue  # dropped and kept concepts together: neither positive nor negative
            scored.append(e.text)
            kind.append(label)
        kind_arr = np.asarray(kind)
        if not (kind_arr == "dropped").any():
            log(f"  round {r + 1}: the evaluation firms have no quote of the dropped concepts; round skipped")
            continue
        feats.append(detector.score(scored).features())
        kinds.append(kind_arr)
        round_ids.append(np.full(len(kind_arr), r))
        meta.append((r, tuple(sorted(dropped)), len(fit_f), len(val_f), tuple(sorted(eval_f))))
    if len(feats) < 2:
        raise InputError(None, "fewer than two leave-concepts-out rounds had quotes of the dropped concepts to score",
                         hint="use more rounds or more reference firms")
    return CalibrationScores(np.vstack(feats), np.concatenate(kinds), np.concatenate(round_ids), meta)


def fit_calibration(
    scores: CalibrationScores,
    settings: CalibrationSettings | None = None,
    *,
    labels: Any = None,
    model_kind: str = "",
    model_id: str = "",
    data_fingerprint: str = "",
) -> NoveltyCalibration:
    """The combiner, its out-of-round AUROC and the threshold, from leave-concepts-out scores."""
    settings = settings or CalibrationSettings()
    x_all, y_all, k_all, r_all = scores.features, scores.positive, scores.kinds, scores.rounds
    oor = np.zeros(len(y_all))
    for r in np.unique(r_all):
        train_rows, test_rows = r_all != r, r_all == r
        oor[test_rows] = _Combiner.fit(x_all[train_rows], k_all[train_rows], settings.seed)(x_all[test_rows])
    threshold, tpr, fpr = choose_threshold(y_all, oor, settings.threshold_rule, settings.target_tpr, settings.target_fpr)
    kept_rows = k_all != "uncoded"
    fpr_kept = float(((oor >= threshold) & (k_all == "kept")).sum() / max(1, (k_all == "kept").sum()))
    component = {}
    for j, name in enumerate(FEATURES):
        component[name] = {
            "vs_all": _auc(y_all, x_all[:, j]) or float("nan"),
            "vs_kept": _auc(y_all[kept_rows], x_all[kept_rows, j]) or float("nan"),
        }
    final = _Combiner.fit(x_all, k_all, settings.seed)
    mean, scale, w, b = final.unplaced
    rounds = []
    for (r, dropped, nf, nv, ef) in scores.meta:
        rows = r_all == r
        rounds.append(CalibrationRound(r, dropped, nf, nv, ef, int((k_all[rows] == "dropped").sum()),
                                       int((k_all[rows] == "kept").sum()), int((k_all[rows] == "uncoded").sum()),
                                       _auc(y_all[rows], oor[rows])))
    rule = {"youden": "youden", "tpr": f"tpr>={settings.target_tpr:.2f}", "fpr": f"fpr<={settings.target_fpr:.2f}"}[settings.threshold_rule]
    return NoveltyCalibration(
        model_kind=model_kind,
        codebook_hash=getattr(labels, "codebook_hash", "") if labels is not None else "",
        model_id=model_id,
        data_fingerprint=data_fingerprint,
        features=FEATURES,
        mean=tuple(float(v) for v in mean),
        scale=tuple(float(v) for v in scale),
        weights=tuple(float(v) for v in w),
        intercept=b,
        relevance_slope=final.relevance[0],
        relevance_intercept=final.relevance[1],
        threshold=threshold,
        threshold_rule=rule,
        tpr=tpr,
        fpr=fpr,
        fpr_kept=fpr_kept,
        auroc=_auc(y_all, oor) or float("nan"),
        auroc_kept=_auc(y_all[kept_rows], oor[kept_rows]) or float("nan"),
        component_auroc=component,
        rounds=tuple(rounds),
        settings=asdict(settings),
        created_at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
    )


def calibrate_novelty(
    examples: Sequence[Any],
    labels: Any,
    make_model: Callable[[], Any],
    settings: CalibrationSettings | None = None,
    *,
    model_kind: str = "",
    model_id: str = "",
    log: Callable[[str], None] | None = None,
) -> NoveltyCalibration:
    """Leave-concepts-out calibration of the novelty threshold (see the module docstring).

    ``examples``: ``TrainingExample``-like records (``text``, ``concepts``, ``firm_id``; empty
    concepts = an uncoded sentence) of the reference firms; ``make_model()`` returns an untrained
    model of the kind being calibrated, with ``fit`` and ``calibrate``.
    """
    settings = settings or CalibrationSettings()
    scores = leave_concepts_out_scores(examples, labels, make_model, settings, log)
    with single_blas():
        return fit_calibration(scores, settings, labels=labels, model_kind=model_kind, model_id=model_id,
                               data_fingerprint=examples_fingerprint(examples))


def examples_fingerprint(examples: Sequence[Any]) -> str:
    """sha256 of the examples (text, concepts, firm), in a canonical order."""
    digest = hashlib.sha256()
    for text, concepts, firm in sorted((e.text, tuple(sorted(e.concepts)), e.firm_id) for e in examples):
        digest.update(json.dumps([text, concepts, firm], ensure_ascii=False).encode("utf-8"))
        digest.update(b"\n")
    return digest.hexdigest()


def finite(value: float | None) -> float | None:
    """None for NaN/inf (JSON has no NaN)."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return None
    return value
