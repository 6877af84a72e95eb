"""``groundcoder queue``: which uncoded segments the researcher should code next (active learning).

Candidates: the segments (sentence or paragraph; the store's own where ingest saved them) of the
stored documents (of ``--firms``) that no human coding overlaps and that have at least
``min_chars`` characters. Exact repeats (same text after removing white space) count once; the row
says how many copies there are.

Uncertainty (higher = more worth a human look), from the model's calibrated concept probabilities
``p`` and its per-concept thresholds ``t``:

* ``margin`` (default): ``1 - min_j |p_j - t_j|`` -- how close the segment's most doubtful concept
  decision is to flipping (a multi-label margin: each concept is its own yes/no decision).
* ``entropy``: ``sum_j H(p_j)``, the binary entropies (bits) of all concept decisions together.

Only the ``n * pool_factor`` most uncertain candidates are kept while scoring (a bounded heap), so
a project of any size is ranked in bounded memory.

Diversity, so the queue is not ten copies of one boilerplate sentence:

* ``jaccard`` (default): walk down the uncertainty ranking and skip a candidate whose character
  ``ngram``-gram Jaccard similarity to any segment already queued exceeds ``jaccard_cap``.
* ``embedding``: greedy max-min over the pool: the next segment maximises
  ``(1 - w) * uncertainty / max_uncertainty + w * min cosine distance to the queued ones / 2``
  (``w = embedding_weight``; BERT models only, PyTorch embeddings), with the Jaccard cap still
  applied to near-duplicates.
* ``none``: the ``n`` most uncertain.

Outputs (``--out``): ``queue.csv`` / ``.xlsx`` (rank, segment id, firm, document, year, offsets,
text, uncertainty, the model's top concepts, ...), ``queue.qdpx`` -- the queued segments as
selections coded with the code ``待编码 to-review`` by the user ``groundcoder-queue``, the rank,
uncertainty and the model's best guesses in each coding's note, for the researcher to code in
NVivo, ATLAS.ti, MAXQDA or QualCoder -- and ``queue_summary.json``. The to-review code is not a
codebook concept: it lands under the export's "not in codebook" branch; remove it from a segment
once it is coded (an import reports any left as a concept outside the codebook).
"""

from __future__ import annotations

import hashlib
import heapq
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .. import __version__
from ..atomic import write_json
from ..errors import InputError
from .autocode import score_segments
from .config import CodeConfig, QueueSettings
from .segmenting import SegmentItem, document_segments

QUEUE_CODER = "groundcoder-queue"
SUMMARY_NAME = "queue_summary.json"


# --------------------------------------------------------------------------------------------------
# Uncertainty


def margin_uncertainty(probs: np.ndarray, thresholds: np.ndarray) -> np.ndarray:
    """``1 - min_j |p_j - t_j|`` per row (1: a concept exactly at its threshold)."""
    probs = np.asarray(probs, dtype=np.float64)
    if probs.size == 0:
        return np.zeros(probs.shape[0])
    return 1.0 - np.min(np.abs(probs - np.asarray(thresholds, dtype=np.float64)[None, :]), axis=1)


def entropy_uncertainty(probs: np.ndarray) -> np.ndarray:
    """Summed binary entropy (bits) of every concept decision, per row."""
    p = np.clip(np.asarray(probs, dtype=np.float64), 1e-12, 1 - 1e-12)
    return np.sum(-(p * np.log2(p) + (1 - p) * np.log2(1 - p)), axis=1)


def uncertainty(probs: np.ndarray, thresholds: np.ndarray, strategy: str) -> np.ndarray:
    if strategy == "margin":
        return margin_uncertainty(probs, thresholds)
    if strategy == "entropy":
        return entropy_uncertainty(probs)
    raise InputError(None, f"unknown uncertainty strategy {strategy!r}", hint="margin or entropy")


# --------------------------------------------------------------------------------------------------
# Diversity


def _squash(text: str) -> str:
    return "".join(text.split())


def char_ngrams(text: str, n: int = 5) -> frozenset[str]:
    text = _squash(text)
    if len(text) <= n:
        return frozenset([text])
    return frozenset(text[i : i + n] for i in range(len(text) - n + 1))


def jaccard(a: frozenset[str], b: frozenset[str]) -> float:
    if not a and not b:
        return 1.0
    inter = len(a & b)
    return inter / (len(a) + len(b) - inter)


@dataclass
class Candidate:
    item: SegmentItem
    uncertainty: float
    order: int  # position in the scan (deterministic tie-break)
    top: tuple[tuple[str, float], ...]  # the model's best concepts (probability)
    suggested: tuple[str, ...]  # concepts passing their thresholds
    copies: int = 1


@dataclass
class Picked:
    candidate: Candidate
    max_similarity: float  # char n-gram Jaccard to the most similar segment queued before it


def select_diverse(
    pool: Sequence[Candidate],
    n: int,
    *,
    diversity: str = "jaccard",
    jaccard_cap: float = 0.5,
    ngram: int = 5,
    embeddings: np.ndarray | None = None,
    embedding_weight: float = 0.5,
) -> list[Picked]:
    """Choose ``n`` of ``pool`` (ranked most uncertain first) by the diversity rule (see the module doc)."""
    rank_index = sorted(range(len(pool)), key=lambda i: (-pool[i].uncertainty, pool[i].order))
    ranked = [pool[i] for i in rank_index]
    grams = [char_ngrams(c.item.text, ngram) for c in ranked]

    def max_sim(i: int, chosen: list[int]) -> float:
        return max((jaccard(grams[i], grams[j]) for j in chosen), default=0.0)

    chosen: list[int] = []
    sims: list[float] = []
    if diversity == "none":
        chosen = list(range(min(n, len(ranked))))
        sims = [max_sim(i, chosen[:k]) for k, i in enumerate(chosen)]
    elif diversity == "jaccard" or embeddings is None:
        for i in range(len(ranked)):
            if len(chosen) >= n:
                break
            s = max_sim(i, chosen)
            if s > jaccard_cap:
                continue
            chosen.append(i)
            sims.append(s)
    elif diversity == "embedding":
        if embeddings.shape[0] != len(pool):
            raise ValueError("one embedding per pool candidate")
        emb = np.asarray(embeddings, dtype=np.float64)[rank_index]
        emb = emb / np.maximum(np.linalg.norm(emb, axis=1, keepdims=True), 1e-12)
        u = np.asarray([c.uncertainty for c in ranked], dtype=np.float64)
        u_norm = u / u.max() if len(u) and u.max() > 0 else np.zeros_like(u)
        min_dist = np.ones(len(ranked))  # cosine distance / 2 to the nearest chosen, 1 before any is chosen
        available = np.ones(len(ranked), dtype=bool)
        while len(chosen) < n and available.any():
            score = (1 - embedding_weight) * u_norm + embedding_weight * min_dist
            score[~available] = -np.inf
            i = int(np.argmax(score))  # first maximum: the more uncertain on ties
            available[i] = False
            s = max_sim(i, chosen)
            if s > jaccard_cap:
                continue
            chosen.append(i)
            sims.append(s)
            dist = (1.0 - emb @ emb[i]) / 2.0
            min_dist = np.minimum(min_dist, np.clip(dist, 0.0, 1.0))
    else:
        raise InputError(None, f"unknown diversity rule {diversity!r}", hint="jaccard, embedding or none")
    return [Picked(ranked[i], round(s, 4)) for i, s in zip(chosen, sims)]


# --------------------------------------------------------------------------------------------------
# Candidates from the store


class _Spans:
    """Does [start, end) overlap any of the spans? (sorted starts + running max of ends: O(log n))."""

    def __init__(self, spans: Iterable[tuple[int, int]]) -> None:
        import bisect

        spans = sorted(spans)
        self._bisect = bisect.bisect_left
        self._starts = [s for s, _ in spans]
        self._max_end: list[int] = []
        for _, e in spans:
            self._max_end.append(max(e, self._max_end[-1]) if self._max_end else e)

    def overlaps(self, start: int, end: int) -> bool:
        k = self._bisect(self._starts, end)  # spans[:k] start before this one ends
        return k > 0 and self._max_end[k - 1] > start


def uncoded_segments(store: Any, unit: str, firms: Iterable[str] = (), min_chars: int = 8, stats: dict[str, int] | None = None) -> Iterator[SegmentItem]:
    """Segments of the stored documents that no human coding overlaps (see the module doc)."""
    firms = [f for f in firms if f]
    records = []
    for firm in firms or [None]:
        records.extend(store.documents(firm_id=firm))
    if not records:
        raise InputError(store.path, "no stored documents" + (f" of firms {', '.join(firms)}" if firms else ""),
                         hint="run `groundcoder ingest` first, or check --firms")
    stats = stats if stats is not None else {}
    for record in records:
        text = store.document_text(record.doc_id)
        human = _Spans((c.start, c.end) for c in store.codings(doc_id=record.doc_id, coder_kind="human"))
        stored = store.segments(record.doc_id, kind=unit)
        spans = [(s.start, s.end) for s in stored] if stored else None
        ids = [s.id for s in stored] if stored else None
        for item in document_segments(text, unit, doc_id=record.doc_id, firm=record.firm_code, year=record.year,
                                      min_chars=min_chars, spans=spans, segment_ids=ids, stored=True):
            stats["segments"] = stats.get("segments", 0) + 1
            if human.overlaps(item.start or 0, item.end or 0):
                stats["coded_by_humans"] = stats.get("coded_by_humans", 0) + 1
                continue
            yield item


def rank_candidates(items: Iterable[SegmentItem], coder: Any, settings: Any, *, strategy: str, pool_size: int,
                    top_concepts: int = 3, on_scored: Any = None) -> tuple[list[Candidate], dict[str, int]]:
    """The ``pool_size`` most uncertain distinct candidates (exact repeats counted on the first)."""
    thresholds = np.asarray(coder.thresholds, dtype=np.float64)
    concepts = coder.labels.concepts
    heap: list[tuple[float, int, int]] = []  # (uncertainty, -order, key) min-heap of the best
    kept: dict[int, Candidate] = {}
    first_of: dict[bytes, int] = {}  # text digest -> order of its first occurrence
    copies: dict[int, int] = {}
    order = 0
    scanned = duplicates = 0

    def distinct(stream: Iterable[SegmentItem]) -> Iterator[SegmentItem]:
        nonlocal order, duplicates, scanned
        for item in stream:
            scanned += 1
            digest = hashlib.blake2b(_squash(item.text).encode("utf-8"), digest_size=12).digest()
            if digest in first_of:
                copies[first_of[digest]] = copies.get(first_of[digest], 1) + 1
                duplicates += 1
                continue
            first_of[digest] = order
            order += 1
            yield item

    position = 0
    for chunk in score_segments(distinct(items), coder, settings, on_scored):
        u = uncertainty(chunk.probs, thresholds, strategy)
        for k, item in enumerate(chunk.items):
            entry = (float(u[k]), -position, position)
            if len(heap) < pool_size:
                heapq.heappush(heap, entry)
            elif entry > heap[0]:
                evicted = heapq.heapreplace(heap, entry)
                kept.pop(evicted[2], None)
            else:
                position += 1
                continue
            row = chunk.probs[k]
            best = np.lexsort((np.arange(len(row)), -row.astype(np.float64)))[:top_concepts]
            kept[position] = Candidate(
                item=item,
                uncertainty=float(u[k]),
                order=position,
                top=tuple((concepts[j], round(float(row[j]), 4)) for j in best),
                suggested=tuple(concepts[j] for j in best if row[j] >= thresholds[j]),
            )
            position += 1
    pool = [kept[p] for _, _, p in heap if p in kept]
    for c in pool:
        c.copies = copies.get(c.order, 1)
    return sorted(pool, key=lambda c: (-c.uncertainty, c.order)), {"distinct": order, "exact_repeats": duplicates}


# --------------------------------------------------------------------------------------------------
# The job


@dataclass
class QueueResult:
    out_dir: Path
    picked: list[Picked]
    files: dict[str, str | None]
    summary: dict[str, Any]
    rows: list[dict[str, Any]] = field(default_factory=list, repr=False)


def queue_rows(picked: Sequence[Picked], strategy: str) -> list[dict[str, Any]]:
    rows = []
    for rank, p in enumerate(picked, start=1):
        c = p.candidate
        rows.append({
            "rank": rank,
            "id": c.item.key,
            "segment_id": c.item.segment_id,
            "firm": c.item.firm,
            "document": c.item.doc_id,
            "year": c.item.year,
            "start": c.item.start,
            "end": c.item.end,
            "text": c.item.text,
            "uncertainty": round(c.uncertainty, 6),
            "strategy": strategy,
            "model_top_concepts": "; ".join(f"{name} ({prob:.3f})" for name, prob in c.top),
            "model_suggests": "; ".join(c.suggested),
            "max_similarity_to_earlier": p.max_similarity,
            "copies": c.copies,
        })
    return rows


def _codebook_for(store: Any, labels: Any) -> Any:
    from ..codebook import Codebook

    latest = store.latest_codebook()
    if latest is not None:
        return Codebook.from_yaml_text(latest.yaml_text, store.path)
    return Codebook.default()


def export_queue_qdpx(store: Any, picked: Sequence[Picked], out: Path, labels: Any, q: QueueSettings, strategy: str) -> Any:
    """The queued segments as selections coded ``q.code_name`` by ``groundcoder-queue`` (via the qdpx export)."""
    from ..qdpx.export import ExportData, export_qdpx
    from ..store import Coding

    doc_ids = list(dict.fromkeys(p.candidate.item.doc_id for p in picked))
    documents = [store.document(d) for d in doc_ids]
    firm_codes = {d.firm_code for d in documents if d is not None}
    codings = []
    for rank, p in enumerate(picked, start=1):
        c = p.candidate
        guesses = ", ".join(f"{name} {prob:.2f}" for name, prob in c.top)
        codings.append(Coding(
            doc_id=c.item.doc_id, start=c.item.start or 0, end=c.item.end or 0, concept=q.code_name, coder=QUEUE_CODER,
            memo=f"queue rank {rank}; uncertainty ({strategy}) {c.uncertainty:.3f}; model's best guesses: {guesses}",
            text=c.item.text,
        ))
    data = ExportData(
        codebook=_codebook_for(store, labels),
        documents=[d for d in documents if d is not None],
        firms=[f for f in store.firms() if f.code in firm_codes],
        codings=codings,
        name=f"groundcoder queue ({len(picked)} segments to code)",
    )
    return export_qdpx(out, data)


def run_queue(config: CodeConfig, *, console: Any = None, log: Any = None) -> QueueResult:
    """Rank, diversify and export the queue of ``config`` (``input.store`` is required)."""
    from .. import tables
    from .job import Progress, check_runtime, make_coder, open_store, scoring_settings
    from .models import resolve_model

    started = time.perf_counter()
    check_runtime(config)
    q = config.queue
    out_dir = Path(q.folder)
    store = open_store(config, required=True)
    try:
        ref = resolve_model(config.model, runs_dir=config.runs_dir, store=store)
        coder, runtime_info = make_coder(config, ref, log or (lambda _: None), console)
        stats: dict[str, int] = {}
        pool_size = max(q.n, q.n * q.pool_factor)
        progress = Progress(config.output.progress, console)
        try:
            items = uncoded_segments(store, q.unit, config.input.firms, q.min_chars, stats)
            pool, counts = rank_candidates(items, coder, scoring_settings(config), strategy=q.strategy, pool_size=pool_size,
                                           on_scored=progress.scored)
        finally:
            progress.close()
        stats.update(counts)
        if not pool:
            raise InputError(store.path, "every segment is already coded by a human: nothing to queue",
                             hint="ingest more documents, or queue another --unit")
        embeddings = None
        diversity = q.diversity
        note = None
        if diversity == "embedding":
            texts = [c.item.text for c in pool]
            embeddings = coder.embed_texts(texts) if hasattr(coder, "embed_texts") else None
            if embeddings is None:
                diversity, note = "jaccard", "the TF-IDF baseline has no embeddings: used the Jaccard cap instead"
        picked = select_diverse(pool, q.n, diversity=diversity, jaccard_cap=q.jaccard_cap, ngram=q.ngram,
                                embeddings=embeddings, embedding_weight=q.embedding_weight)
        rows = queue_rows(picked, q.strategy)
        files: dict[str, str | None] = {"queue_csv": str(tables.write_csv(rows, out_dir / "queue.csv"))}
        if config.output.xlsx:
            files["queue_xlsx"] = str(tables.write_xlsx({"queue": rows}, out_dir / "queue.xlsx"))
        qdpx_summary = None
        if q.qdpx:
            exported = export_queue_qdpx(store, picked, out_dir / "queue.qdpx", coder.labels, q, q.strategy)
            files["queue_qdpx"] = str(exported.path)
            qdpx_summary = exported.to_json()
        summary = {
            "command": "groundcoder queue",
            "groundcoder_version": __version__,
            "model": {**ref.to_json(), **coder.describe()},
            "runtime": runtime_info,
            "store": str(store.path),
            "firms": list(config.input.firms),
            "unit": q.unit,
            "strategy": q.strategy,
            "diversity": diversity,
            "diversity_note": note,
            "jaccard_cap": q.jaccard_cap,
            "ngram": q.ngram,
            "requested": q.n,
            "queued": len(rows),
            "candidates": stats,
            "pool_size": len(pool),
            "qdpx": qdpx_summary,
            "seconds": round(time.perf_counter() - started, 3),
            "outputs": files,
            "config": config.to_dict(),
        }
        files["summary"] = str(write_json(out_dir / SUMMARY_NAME, summary))
        return QueueResult(out_dir, picked, files, summary, rows)
    finally:
        store.close()
