"""Flagged segments -> candidate new concepts: deterministic clustering, keywords, nearest concepts.

Segments the novelty detector flags are clustered by what they say: jieba words (a private
``jieba.Tokenizer``, stopwords and numbers dropped) weighted by TF-IDF over every scored segment and
the reference quotes, cosine distance, average-linkage agglomerative clustering (deterministic).

The distance threshold is not guessed either: it is a percentile (default the 75th) of the codebook's
own concepts' spread, the mean pairwise cosine distance between quotes of one concept in the same
space, so a candidate may be as loose as three quarters of the concepts the researcher already
accepted, no looser.

A cluster becomes a *candidate new concept* when it has at least ``min_segments`` segments from at
least ``min_firms`` firms (by default 2, or 1 with a single held-out firm): a theme of one firm's
segments is usually that firm's products or people, not a concept. Each candidate is shown with
representative quotes (nearest its centroid), its top keywords (c-TF-IDF against all scored
segments) and its nearest existing concepts (Mahalanobis distance of its centroid embedding).
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import InputError

# Function words and the words every firm document uses; keywords never show them.
STOPWORDS = frozenset("""
的 了 和 与 及 以及 或 或者 在 是 为 为了 对 对于 等 等等 将 把 被 也 都 而 并 并且 从 以 其 其中 中 上 下 个 这 那 之 所 已 已经
由 向 于 就 还 又 再 很 更 最 该 此 各 每 该 一 一个 一些 一种 有 有的 没有 不 要 会 能 可 可以 可能 需要 进行 通过 开展 实现 根据
按照 其他 相关 方面 主要 我们 我 他们 他 她 它 你 公司 企业 本 本公司 报告期 报告期内 年度 年 月 日 同时 因此 所以 但 但是 如果
以上 以下 之后 之前 目前 已有 并非 不是 这些 那些 这个 那个 这样 那样 如何 什么 自己 我们的 之一 方式 情况 过程 工作 作为
""".split())
_NUMERIC = re.compile(r"^[\d\.\-%％,，·:：/]+$|^\d+[年月日号]?$|^[\W_]+$")


class WordTokenizer:
    """jieba words through a private ``jieba.Tokenizer`` (never the global one), stopwords and numbers dropped."""

    def __init__(self, stopwords: frozenset[str] | set[str] = STOPWORDS, min_chars: int = 2) -> None:
        from ..jieba_private import shared_tokenizer

        self._tokenizer = shared_tokenizer()  # read-only use: no words are added
        self.stopwords = frozenset(stopwords)
        self.min_chars = min_chars

    def __call__(self, text: str) -> list[str]:
        out = []
        for word in self._tokenizer.lcut(text):
            word = word.strip()
            if len(word) < self.min_chars or word in self.stopwords or _NUMERIC.match(word):
                continue
            out.append(word)
        return out


@dataclass(frozen=True)
class FlaggedSegment:
    """A held-out segment the novelty detector could not place."""

    segment_id: str
    firm_id: str
    doc_id: str
    start: int
    end: int
    text: str
    novelty: float                              # combined score in [0, 1]
    unplaced: float                             # P(fits no concept | coded)
    codeable: float                             # P(coded at all)
    max_probability: float
    mahalanobis: float
    nearest: tuple[tuple[str, float], ...]      # nearest concepts (Mahalanobis), nearest first


@dataclass(frozen=True)
class CandidateConcept:
    """A cluster of flagged segments: a candidate new concept for the researcher to review."""

    candidate_id: str
    label: str                                         # its top keywords, joined
    segments: tuple[FlaggedSegment, ...]               # by novelty, highest first
    firms: tuple[str, ...]
    representatives: tuple[FlaggedSegment, ...]        # nearest the centroid
    keywords: tuple[tuple[str, float], ...]
    nearest_concepts: tuple[tuple[str, str, float], ...]   # (concept, initial category, distance)
    spread: float                                      # mean pairwise cosine distance (0 for one segment)
    mean_novelty: float
    is_candidate: bool = True                          # False: below the support rule (shown, not counted)

    @property
    def size(self) -> int:
        return len(self.segments)


@dataclass(frozen=True)
class ClusterSettings:
    threshold_percentile: float = 75.0     # of the codebook's within-concept spreads
    distance_threshold: float | None = None  # fixed cosine distance instead of the percentile
    min_segments: int = 3
    min_firms: int | None = None           # default: 2, or 1 with one held-out firm
    representatives: int = 5
    keywords: int = 8
    nearest: int = 3
    min_df: int = 2

    def __post_init__(self) -> None:
        if not 0 < self.threshold_percentile <= 100:
            raise InputError(None, f"threshold_percentile {self.threshold_percentile} is not in (0, 100]")
        if self.distance_threshold is not None and not 0 < self.distance_threshold <= 2:
            raise InputError(None, f"distance_threshold {self.distance_threshold} is not a cosine distance in (0, 2]")
        if self.min_segments < 1 or (self.min_firms is not None and self.min_firms < 1):
            raise InputError(None, "min_segments and min_firms must be at least 1")


@dataclass
class ClusteringResult:
    candidates: list[CandidateConcept]        # pass the support rule, largest first
    other_clusters: list[CandidateConcept]    # flagged, but below the support rule
    distance_threshold: float
    threshold_source: str
    min_segments: int
    min_firms: int
    n_flagged: int
    concept_spreads: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "distance_threshold": self.distance_threshold,
            "threshold_source": self.threshold_source,
            "min_segments": self.min_segments,
            "min_firms": self.min_firms,
            "n_flagged": self.n_flagged,
            "n_candidates": len(self.candidates),
            "n_other_clusters": len(self.other_clusters),
        }


def _mean_pairwise(x: Any) -> float:
    from sklearn.metrics.pairwise import cosine_distances

    n = x.shape[0]
    if n < 2:
        return 0.0
    d = cosine_distances(x)
    return float(d[np.triu_indices(n, 1)].mean())


def concept_spreads(vectorizer: Any, quotes: Sequence[tuple[str, Sequence[str]]], min_quotes: int = 4) -> dict[str, float]:
    """Mean pairwise cosine distance between the quotes of each concept with ``min_quotes``+ quotes."""
    by_concept: dict[str, list[str]] = {}
    for text, concepts in quotes:
        for c in concepts:
            by_concept.setdefault(c, []).append(text)
    return {c: _mean_pairwise(vectorizer.transform(texts)) for c, texts in sorted(by_concept.items()) if len(texts) >= min_quotes}


def cluster_flagged(
    flagged: Sequence[FlaggedSegment],
    embeddings: np.ndarray,
    all_texts: Sequence[str],
    reference_quotes: Sequence[tuple[str, Sequence[str]]],
    detector: Any = None,
    codebook: Any = None,
    settings: ClusterSettings | None = None,
    n_firms: int | None = None,
    tokenizer: WordTokenizer | None = None,
    id_prefix: str = "候选新概念",
) -> ClusteringResult:
    """Cluster ``flagged`` segments into candidate concepts (see the module docstring).

    ``embeddings``: the detector's embedding of each flagged segment (for nearest concepts);
    ``all_texts``: every scored segment (background for keywords and idf); ``reference_quotes``:
    (text, concepts) of the reference quotes, for the within-concept spread.
    """
    from sklearn.cluster import AgglomerativeClustering
    from sklearn.feature_extraction.text import TfidfVectorizer

    settings = settings or ClusterSettings()
    tokenizer = tokenizer or WordTokenizer()
    min_firms = settings.min_firms if settings.min_firms is not None else (1 if (n_firms or 2) < 2 else 2)
    flagged = list(flagged)
    background = list(all_texts) + [t for t, _ in reference_quotes]
    vectorizer = TfidfVectorizer(tokenizer=tokenizer, token_pattern=None, lowercase=False, sublinear_tf=True,
                                 min_df=settings.min_df if len(background) >= 20 else 1)
    if not background:
        raise InputError(None, "nothing to cluster against: no scored segments and no reference quotes")
    try:
        vectorizer.fit(background)
    except ValueError as exc:  # empty vocabulary
        raise InputError(None, f"no words to cluster on ({exc})") from exc
    spreads = concept_spreads(vectorizer, reference_quotes)
    if settings.distance_threshold is not None:
        threshold, source = settings.distance_threshold, "fixed"
    elif spreads:
        threshold = float(np.percentile(list(spreads.values()), settings.threshold_percentile))
        source = f"{settings.threshold_percentile:g}th percentile of {len(spreads)} concepts' within-concept spread"
    else:
        threshold, source = 0.9, "default (no concept has 4+ reference quotes)"
    result = ClusteringResult([], [], threshold, source, settings.min_segments, min_firms, len(flagged), spreads)
    if not flagged:
        return result

    x = vectorizer.transform([s.text for s in flagged]).toarray()
    empty = ~x.any(axis=1)
    x[empty] = 1e-6  # a segment with no known word: its own cluster, not NaN distances
    if len(flagged) == 1:
        labels = np.zeros(1, dtype=int)
    else:
        labels = AgglomerativeClustering(n_clusters=None, distance_threshold=threshold, metric="cosine",
                                         linkage="average").fit(x).labels_
    idf = dict(zip(vectorizer.get_feature_names_out(), vectorizer.idf_))
    clusters = []
    for label in sorted(set(labels.tolist())):
        rows = np.nonzero(labels == label)[0]
        clusters.append(_describe(rows, flagged, x, embeddings, idf, tokenizer, detector, codebook, settings))
    clusters.sort(key=lambda c: (-c.size, -len(c.firms), -c.mean_novelty, c.segments[0].segment_id))
    number = 0
    for c in clusters:
        if c.size >= settings.min_segments and len(c.firms) >= min_firms:
            number += 1
            result.candidates.append(_renamed(c, f"{id_prefix}{number}", True))
        else:
            result.other_clusters.append(_renamed(c, "", False))
    for i, c in enumerate(result.other_clusters, start=1):
        result.other_clusters[i - 1] = _renamed(c, f"flagged-{i}", False)
    return result


def _renamed(c: CandidateConcept, new_id: str, is_candidate: bool) -> CandidateConcept:
    from dataclasses import replace

    return replace(c, candidate_id=new_id, is_candidate=is_candidate)


def _describe(rows: np.ndarray, flagged: list[FlaggedSegment], x: np.ndarray, embeddings: np.ndarray, idf: dict[str, float],
              tokenizer: WordTokenizer, detector: Any, codebook: Any, settings: ClusterSettings) -> CandidateConcept:
    members = [flagged[i] for i in rows]
    xs = x[rows]
    centroid = xs.mean(axis=0)
    norms = np.linalg.norm(xs, axis=1) * (np.linalg.norm(centroid) or 1.0)
    sims = (xs @ centroid) / np.where(norms > 0, norms, 1.0)
    rep_order = sorted(range(len(members)), key=lambda i: (-sims[i], -members[i].novelty, members[i].segment_id))
    representatives = tuple(members[i] for i in rep_order[: settings.representatives])
    counts: Counter[str] = Counter()
    total = 0
    for s in members:
        words = tokenizer(s.text)
        counts.update(words)
        total += len(words)
    scored = []
    for word, n in counts.items():
        weight = (n / max(total, 1)) * idf.get(word, math.log(1 + len(flagged)))
        doc_support = sum(1 for s in members if word in s.text)
        if len(members) > 1 and doc_support < 2:
            continue  # a keyword of one segment does not describe a cluster
        scored.append((word, round(float(weight), 4)))
    scored.sort(key=lambda kv: (-kv[1], kv[0]))
    keywords = tuple(scored[: settings.keywords])
    nearest: tuple[tuple[str, str, float], ...] = ()
    if detector is not None and len(embeddings):
        centroid_embedding = np.asarray(embeddings)[rows].mean(axis=0)
        pairs = detector.nearest_concepts(centroid_embedding, settings.nearest)
        nearest = tuple((name, _initial_of(codebook, name), round(dist, 3)) for name, dist in pairs)
    segments = tuple(sorted(members, key=lambda s: (-s.novelty, s.segment_id)))
    return CandidateConcept(
        candidate_id="",
        label="/".join(w for w, _ in keywords[:3]) or members[0].text[:12],
        segments=segments,
        firms=tuple(sorted({s.firm_id for s in members})),
        representatives=representatives,
        keywords=keywords,
        nearest_concepts=nearest,
        spread=round(_mean_pairwise(xs), 4),
        mean_novelty=round(float(np.mean([s.novelty for s in members])), 4),
    )


def _initial_of(codebook: Any, concept: str) -> str:
    if codebook is None:
        return ""
    try:
        return codebook.concept_path(concept).initial
    except KeyError:
        return ""
