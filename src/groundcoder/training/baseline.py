"""The baseline every BERT run is reported against: TF-IDF + one-vs-rest logistic regression.

Features are TF-IDF over character n-grams (1-3 by default) plus jieba words (a private
``jieba.Tokenizer``, never the global one), with sublinear tf; one ``LogisticRegression``
(``class_weight="balanced"``, liblinear) per concept. It has the BERT classifier's shape:

    model = TfidfBaseline(labels, BaselineSettings())
    model.fit(texts, label_sets, val_texts, val_label_sets)   # val: temperature + per-label thresholds
    model.predict_proba(texts)   # [n, n_concepts], calibrated
    model.predict(texts)         # list[HierarchicalPrediction]
    model.save_pretrained(dir); TfidfBaseline.from_pretrained(dir, codebook=None)

Saved without pickle: ``baseline.json`` (settings, vocabularies and idf weights as JSON),
``model.safetensors`` (coefficients and intercepts, float32), ``labels.json`` and
``calibration.json`` (the classifier core's formats). Predictions use the float32 weights also
before saving, so a loaded model gives identical outputs.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from ..atomic import atomic_path, write_json
from ..errors import InputError
from ..jieba_private import shared_tokenizer
from .config import BaselineSettings

BASELINE_FORMAT = "groundcoder.baseline/1"
BASELINE_FILE = "baseline.json"
WEIGHTS_FILE = "model.safetensors"
# Intercept of a concept without a single training example: probability ~ 3e-4, never predicted.
_ABSENT_LOGIT = -8.0


class _WordTokenizer:
    """jieba words through a private ``jieba.Tokenizer`` (the global one is left alone)."""

    def __init__(self) -> None:
        self._tokenizer = shared_tokenizer()

    def __call__(self, text: str) -> list[str]:
        return [w for w in self._tokenizer.lcut(text) if w.strip()]


class TfidfBaseline:
    """TF-IDF (character n-grams + jieba words) with one-vs-rest logistic regression."""

    kind = "baseline"

    def __init__(self, labels: Any, settings: BaselineSettings | None = None, seed: int = 0) -> None:
        self.labels = labels
        self.settings = settings or BaselineSettings()
        self.seed = seed
        self._char = None
        self._word = None
        self.coef_: np.ndarray | None = None  # [n_concepts, n_features] float32
        self.intercept_: np.ndarray | None = None  # [n_concepts] float32
        self.train_positives_: np.ndarray | None = None
        from ..classifier.calibration import CalibrationReport

        self.calibration = CalibrationReport(thresholds={c: 0.5 for c in labels.concepts})

    # ----- features --------------------------------------------------------------------------------

    def _make_vectorizers(self) -> None:
        from sklearn.feature_extraction.text import TfidfVectorizer

        s = self.settings
        self._char = TfidfVectorizer(
            analyzer="char", ngram_range=tuple(s.char_ngrams), min_df=s.min_df, max_features=s.max_features,
            sublinear_tf=True, dtype=np.float64,
        )
        self._word = None
        if s.words:
            self._word = TfidfVectorizer(
                tokenizer=_WordTokenizer(), token_pattern=None, lowercase=True, min_df=s.min_df,
                max_features=s.max_features, sublinear_tf=True, dtype=np.float64,
            )

    def _features(self, texts: Sequence[str], fit: bool = False) -> Any:
        from scipy import sparse

        if self._char is None:
            raise InputError(None, "the baseline is not trained yet", hint="call fit() or load a saved one")
        texts = _check_texts(texts)
        parts = [self._char.fit_transform(texts) if fit else self._char.transform(texts)]
        if self._word is not None:
            parts.append(self._word.fit_transform(texts) if fit else self._word.transform(texts))
        return sparse.hstack(parts, format="csr")

    # ----- training ---------------------------------------------------------------------------------

    def fit(
        self,
        texts: Sequence[str],
        label_sets: Sequence[set[str]],
        val_texts: Sequence[str] | None = None,
        val_label_sets: Sequence[set[str]] | None = None,
        checkpoint_dir: Any = None,  # accepted for the BERT classifier's shape; the baseline trains in seconds
        progress: bool = False,
    ) -> TfidfBaseline:
        from sklearn.linear_model import LogisticRegression

        texts = _check_texts(texts)
        y = self.labels.encode(list(label_sets))
        if len(texts) != y.shape[0]:
            raise InputError(None, f"{len(texts)} texts but {y.shape[0]} label sets")
        if not texts:
            raise InputError(None, "no training examples")
        self._make_vectorizers()
        x = self._features(texts, fit=True)
        n_labels = self.labels.n_concepts
        coef = np.zeros((n_labels, x.shape[1]), dtype=np.float32)
        intercept = np.full(n_labels, _ABSENT_LOGIT, dtype=np.float32)
        positives = y.sum(axis=0).astype(np.int64)
        dual = x.shape[1] > x.shape[0]  # liblinear's dual solver is ~20x faster with more features than examples
        for j in _progress(range(n_labels), progress, "baseline: one logistic regression per concept"):
            if positives[j] == 0:
                continue
            if positives[j] == len(texts):
                intercept[j] = -_ABSENT_LOGIT
                continue
            clf = LogisticRegression(
                C=self.settings.C, class_weight="balanced", solver="liblinear", dual=dual, max_iter=self.settings.max_iter,
                random_state=self.seed,
            )
            clf.fit(x, y[:, j])
            coef[j] = clf.coef_[0]
            intercept[j] = clf.intercept_[0]
        self.coef_, self.intercept_, self.train_positives_ = coef, intercept, positives
        if val_texts is not None and val_label_sets is not None and len(val_texts) and self.settings.calibrate:
            self.calibrate(val_texts, val_label_sets)
        return self

    def calibrate(self, val_texts: Sequence[str], val_label_sets: Sequence[set[str]], n_bins: int = 15) -> Any:
        """Temperature (validation NLL) and per-concept thresholds (validation F1); returns the report."""
        from ..classifier.calibration import (
            CalibrationReport,
            binary_nll,
            expected_calibration_error,
            fit_temperature,
            sigmoid,
            tune_thresholds,
        )

        logits = self.decision_function(val_texts)
        y = self.labels.encode(list(val_label_sets))
        temperature = fit_temperature(logits, y)
        before = sigmoid(logits)
        after = sigmoid(logits / temperature)
        result = tune_thresholds(after, y)
        self.calibration = CalibrationReport(
            temperature=float(temperature),
            thresholds={c: float(t) for c, t in zip(self.labels.concepts, result.thresholds)},
            global_threshold=float(result.global_threshold),
            tuned_labels=[c for c, on in zip(self.labels.concepts, result.tuned) if on],
            ece_before=expected_calibration_error(before, y, n_bins),
            ece_after=expected_calibration_error(after, y, n_bins),
            nll_before=binary_nll(before, y),
            nll_after=binary_nll(after, y),
            n_validation=len(val_texts),
            n_bins=n_bins,
            calibrated=True,
        )
        return self.calibration

    # ----- prediction -------------------------------------------------------------------------------

    def decision_function(self, texts: Sequence[str]) -> np.ndarray:
        """Uncalibrated logits ``[n, n_concepts]`` (float64)."""
        if self.coef_ is None or self.intercept_ is None:
            raise InputError(None, "the baseline is not trained yet", hint="call fit() or load a saved one")
        x = self._features(texts).astype(np.float32)
        logits = np.asarray(x @ self.coef_.T, dtype=np.float32) + self.intercept_[None, :]
        return logits.astype(np.float64)

    def predict_proba(self, texts: Sequence[str], calibrated: bool = True) -> np.ndarray:
        from ..classifier.calibration import sigmoid

        logits = self.decision_function(texts)
        temperature = self.calibration.temperature if calibrated else 1.0
        return sigmoid(logits / temperature)

    def thresholds_array(self) -> np.ndarray:
        """Decision threshold of each concept, in label order (as the BERT classifier's)."""
        return np.asarray(
            [self.calibration.thresholds.get(c, self.calibration.global_threshold) for c in self.labels.concepts],
            dtype=np.float64,
        )

    def predict_decisions(self, texts: Sequence[str]) -> np.ndarray:
        return self.predict_proba(texts) >= self.thresholds_array()[None, :]

    def predict(self, texts: Sequence[str]) -> list[Any]:
        from ..classifier.hierarchy import build_predictions

        return build_predictions(self.predict_proba(texts), self.thresholds_array(), self.labels)

    # ----- saving -----------------------------------------------------------------------------------

    def save_pretrained(self, out_dir: str | Path) -> Path:
        from safetensors.numpy import save_file

        if self.coef_ is None or self._char is None:
            raise InputError(None, "the baseline is not trained yet; nothing to save")
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        tensors = {"coef": np.ascontiguousarray(self.coef_), "intercept": np.ascontiguousarray(self.intercept_),
                   "train_positives": np.ascontiguousarray(self.train_positives_)}
        with atomic_path(out / WEIGHTS_FILE, suffix=".safetensors") as tmp:
            save_file(tensors, str(tmp), metadata={"format": BASELINE_FORMAT})
        vectorizers = {"char": _vectorizer_state(self._char)}
        if self._word is not None:
            vectorizers["word"] = _vectorizer_state(self._word)
        write_json(out / BASELINE_FILE, {
            "format": BASELINE_FORMAT,
            "model_type": "tfidf-logreg",
            "codebook_hash": self.labels.codebook_hash,
            "settings": asdict(self.settings),
            "seed": self.seed,
            "n_features": int(self.coef_.shape[1]),
            "vectorizers": vectorizers,
        })
        self.labels.save(out / "labels.json")
        write_json(out / "calibration.json", self.calibration.to_dict())
        return out

    @classmethod
    def from_pretrained(cls, model_dir: str | Path, codebook: Any = None) -> TfidfBaseline:
        from safetensors.numpy import load_file

        from ..classifier.calibration import CalibrationReport
        from ..classifier.labels import LabelSpace

        model_dir = Path(model_dir)
        meta_path = model_dir / BASELINE_FILE
        if not meta_path.exists():
            raise InputError(model_dir, f"no {BASELINE_FILE}: not a saved TF-IDF baseline")
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        if meta.get("format") != BASELINE_FORMAT:
            raise InputError(meta_path, f"format {meta.get('format')!r} is not {BASELINE_FORMAT!r}")
        labels = LabelSpace.load(model_dir / "labels.json")
        if codebook is not None:
            labels.check_codebook(codebook, what=f"the baseline in {model_dir}")
        settings = meta["settings"]
        settings["char_ngrams"] = tuple(settings["char_ngrams"])
        model = cls(labels, BaselineSettings(**settings), seed=int(meta.get("seed", 0)))
        model._make_vectorizers()
        _restore_vectorizer(model._char, meta["vectorizers"]["char"])
        if model._word is not None:
            _restore_vectorizer(model._word, meta["vectorizers"]["word"])
        tensors = load_file(str(model_dir / WEIGHTS_FILE))
        model.coef_ = tensors["coef"].astype(np.float32)
        model.intercept_ = tensors["intercept"].astype(np.float32)
        model.train_positives_ = tensors.get("train_positives")
        if model.coef_.shape != (labels.n_concepts, meta["n_features"]):
            raise InputError(model_dir / WEIGHTS_FILE, f"weights of shape {model.coef_.shape} do not match "
                             f"{labels.n_concepts} concepts x {meta['n_features']} features")
        cal_path = model_dir / "calibration.json"
        if cal_path.exists():
            model.calibration = CalibrationReport.from_dict(json.loads(cal_path.read_text(encoding="utf-8")))
        return model


def _vectorizer_state(vectorizer: Any) -> dict[str, Any]:
    terms = sorted(vectorizer.vocabulary_, key=vectorizer.vocabulary_.__getitem__)
    return {"terms": terms, "idf": [float(v) for v in vectorizer.idf_]}


def _restore_vectorizer(vectorizer: Any, state: dict[str, Any]) -> None:
    vocabulary = {term: i for i, term in enumerate(state["terms"])}
    vectorizer.set_params(vocabulary=vocabulary)
    vectorizer._validate_vocabulary()  # sets vocabulary_ from the fixed vocabulary
    vectorizer.idf_ = np.asarray(state["idf"], dtype=np.float64)


def _check_texts(texts: Sequence[str]) -> list[str]:
    if isinstance(texts, str):
        raise InputError(None, "texts must be a list of strings, got one string", hint="wrap it in a list: [text]")
    out = list(texts)
    for i, t in enumerate(out):
        if not isinstance(t, str):
            raise InputError(None, f"texts[{i}] is {type(t).__name__}, not a string")
    return out


def _progress(items: Any, enabled: bool, description: str) -> Any:
    if not enabled:
        return items
    from rich.progress import track

    return track(items, description=description, transient=True)
