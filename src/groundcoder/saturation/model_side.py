"""The model's side of a saturation test: code every sentence of the held-out firms' documents, flag
what it cannot place, cluster the flagged sentences into candidate new concepts.

``code_with_model`` returns a ``ModelCoding``: per held-out firm the concepts the model predicts
(its calibrated per-concept thresholds) plus the candidate concepts its flagged sentences fall in, so
the saturation metrics run on model codes exactly as on human codes. Where human codes of the same
firms exist, it also checks itself against them (``HumanCheck``): how well the novelty score ranks
the sentences inside quotes the coder marked with a concept the codebook lacks, and which human new
concept each candidate's sentences belong to. That check is reported, never used to tune anything.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..segmentation import split_sentences
from .clustering import ClusteringResult, ClusterSettings, FlaggedSegment, cluster_flagged
from .metrics import FirmCodes
from .novelty import NoveltyCalibration, NoveltyDetector, finite


@dataclass(frozen=True)
class HeldOutSegment:
    """A sentence of a held-out firm's document."""

    segment_id: str
    firm_id: str
    doc_id: str
    start: int
    end: int
    text: str


def document_segments(documents: Iterable[tuple[str, str, str]], min_chars: int = 8) -> list[HeldOutSegment]:
    """Sentences of (doc_id, firm_id, text) documents with at least ``min_chars`` non-space characters."""
    out = []
    for doc_id, firm_id, text in documents:
        for s in split_sentences(text):
            if len("".join(s.text.split())) < min_chars:
                continue
            out.append(HeldOutSegment(f"{doc_id}:{s.start}-{s.end}", firm_id, doc_id, s.start, s.end, s.text))
    return out


@dataclass(frozen=True)
class HumanSpan:
    """A human-coded span of a held-out firm (for the check against human codes)."""

    doc_id: str
    start: int
    end: int
    concepts: tuple[str, ...]
    new_concepts: tuple[str, ...]


@dataclass
class HumanCheck:
    """The model's novelty against the human codes of the same firms (reported, not tuned on)."""

    n_segments: int
    n_new: int                          # sentences inside a quote coded with a concept the codebook lacks
    n_known: int                        # inside a quote coded only with codebook concepts
    n_uncoded: int
    auroc_vs_all: float | None          # new vs. known + uncoded
    auroc_vs_known: float | None        # new vs. known quotes only
    flagged: dict[str, int]             # kind -> flagged sentences
    candidate_match: dict[str, dict[str, Any]]   # candidate id -> {"concept": best human new concept, "share": ..., "n": ...}

    def to_dict(self) -> dict[str, Any]:
        return {
            "n_segments": self.n_segments, "n_new": self.n_new, "n_known": self.n_known, "n_uncoded": self.n_uncoded,
            "auroc_vs_all": finite(self.auroc_vs_all), "auroc_vs_known": finite(self.auroc_vs_known),
            "flagged": self.flagged, "candidate_match": self.candidate_match,
        }


@dataclass
class ModelCoding:
    model_name: str
    model_kind: str
    calibration: NoveltyCalibration
    segments: list[HeldOutSegment]
    predicted: list[tuple[str, ...]]
    novelty: np.ndarray
    unplaced: np.ndarray
    codeable: np.ndarray
    max_probability: np.ndarray
    mahalanobis: np.ndarray
    flagged: list[FlaggedSegment]
    clustering: ClusteringResult
    firm_codes: list[FirmCodes]
    human_check: HumanCheck | None = None
    notes: list[str] = field(default_factory=list)
    threshold: float = 0.0            # the novelty threshold used
    threshold_source: str = ""

    @property
    def candidates(self):
        return self.clustering.candidates


def code_with_model(
    model: Any,
    detector: NoveltyDetector,
    calibration: NoveltyCalibration,
    segments: Sequence[HeldOutSegment],
    firms: Sequence[str],
    reference_quotes: Sequence[tuple[str, Sequence[str]]],
    codebook: Any,
    cluster_settings: ClusterSettings | None = None,
    model_name: str = "model",
    human_spans: Sequence[HumanSpan] = (),
    threshold: float | None = None,
    threshold_source: str = "",
) -> ModelCoding:
    """Code ``segments`` with ``model``, flag and cluster what it cannot place (see the module docstring).

    ``threshold``: on the combined novelty score; default the calibration's own (leave-concepts-out).
    """
    if threshold is None:
        threshold, threshold_source = calibration.threshold, threshold_source or "the leave-concepts-out threshold"
    segments = list(segments)
    texts = [s.text for s in segments]
    scores = detector.score(texts)
    features = scores.features()
    novelty = calibration.combined(features) if len(segments) else np.zeros(0)
    unplaced = calibration.unplaced(features) if len(segments) else np.zeros(0)
    codeable = calibration.codeable(features) if len(segments) else np.zeros(0)
    flags = novelty >= threshold
    thresholds = model.thresholds_array() if hasattr(model, "thresholds_array") else np.full(scores.probabilities.shape[1], 0.5)
    decisions = scores.probabilities >= np.asarray(thresholds)[None, :] if len(segments) else np.zeros((0, 0), bool)
    names = detector.view.labels.concepts
    predicted = [tuple(names[j] for j in np.nonzero(row)[0]) for row in decisions]
    flagged = []
    flagged_rows = np.nonzero(flags)[0]
    for i in flagged_rows:
        s = segments[i]
        near = tuple((names[j], round(float(d), 3)) for j, d in zip(scores.nearest[i], scores.nearest_distance[i]))
        flagged.append(FlaggedSegment(s.segment_id, s.firm_id, s.doc_id, s.start, s.end, s.text, round(float(novelty[i]), 4),
                                      round(float(unplaced[i]), 4), round(float(codeable[i]), 4),
                                      round(float(scores.max_probability[i]), 4), round(float(scores.mahalanobis[i]), 3), near))
    clustering = cluster_flagged(flagged, scores.embeddings[flagged_rows] if len(flagged_rows) else np.zeros((0, 1)), texts,
                                 reference_quotes, detector=detector, codebook=codebook, settings=cluster_settings,
                                 n_firms=len(firms))
    candidate_of = {seg.segment_id: c.candidate_id for c in clustering.candidates for seg in c.segments}
    counts: dict[str, Counter[str]] = {f: Counter() for f in firms}
    for s, concepts in zip(segments, predicted):
        if s.firm_id not in counts:
            continue
        counts[s.firm_id].update(concepts)
        if s.segment_id in candidate_of:
            counts[s.firm_id][candidate_of[s.segment_id]] += 1
    firm_codes = [FirmCodes(f, counts[f]) for f in firms]
    coding = ModelCoding(model_name, detector.view.kind, calibration, segments, predicted, novelty, unplaced, codeable,
                         scores.max_probability, scores.mahalanobis, flagged, clustering, firm_codes,
                         threshold=float(threshold), threshold_source=threshold_source)
    if human_spans:
        coding.human_check = check_against_humans(coding, human_spans)
    return coding


def _kind_of(segment: HeldOutSegment, spans_by_doc: dict[str, list[HumanSpan]]) -> tuple[str, tuple[str, ...]]:
    overlapping = [h for h in spans_by_doc.get(segment.doc_id, ()) if segment.start < h.end and h.start < segment.end]
    if not overlapping:
        return "uncoded", ()
    new = tuple(sorted({c for h in overlapping for c in h.new_concepts}))
    return ("new", new) if new else ("known", ())


def check_against_humans(coding: ModelCoding, spans: Sequence[HumanSpan]) -> HumanCheck:
    from sklearn.metrics import roc_auc_score

    by_doc: dict[str, list[HumanSpan]] = {}
    for h in spans:
        by_doc.setdefault(h.doc_id, []).append(h)
    kinds, news = [], {}
    for s in coding.segments:
        kind, new = _kind_of(s, by_doc)
        kinds.append(kind)
        news[s.segment_id] = new
    k = np.asarray(kinds)
    y = k == "new"

    def auc(mask: np.ndarray) -> float | None:
        if y[mask].all() or not y[mask].any():
            return None
        return float(roc_auc_score(y[mask], coding.novelty[mask]))

    flagged_ids = {f.segment_id for f in coding.flagged}
    flagged_kinds = Counter(kind for s, kind in zip(coding.segments, kinds) if s.segment_id in flagged_ids)
    match = {}
    for c in coding.clustering.candidates:
        concepts = Counter(n for seg in c.segments for n in news.get(seg.segment_id, ()))
        if concepts:
            best, n = concepts.most_common(1)[0]
            match[c.candidate_id] = {"concept": best, "n": n, "share": round(n / c.size, 3)}
        else:
            match[c.candidate_id] = {"concept": None, "n": 0, "share": 0.0}
    return HumanCheck(len(k), int(y.sum()), int((k == "known").sum()), int((k == "uncoded").sum()),
                      auc(np.ones(len(k), bool)), auc(k != "uncoded"),
                      {kind: int(flagged_kinds.get(kind, 0)) for kind in ("new", "known", "uncoded")}, match)
