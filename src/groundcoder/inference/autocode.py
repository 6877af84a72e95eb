"""Auto-coding: segments in, suggestions out, streamed in bounded chunks.

``score_segments(items, coder, ...)`` turns a stream of ``SegmentItem`` into chunks of merged,
calibrated concept probabilities: each segment becomes one or more windows (see ``segmenting``),
windows are collected until ``chunk_windows`` of them are waiting, scored in length-bucketed
batches (``batching``), and merged back per segment (max over windows). Only one chunk's windows and
probabilities are held at a time, so coding a 300-page report needs no more memory than a short one.

``code_segments`` turns those into ``SegmentResult``: per segment the concepts that pass their
thresholds, best first, at most ``top_k``, each with its calibrated probability and the initial
category, main category and role the codebook puts above it -- or an explicit "no code" when no
concept passes (the best concept is still reported as the nearest miss).

The model reads each segment without its closing sentence marks (``model_text``; the outputs keep
the segment's text and offsets): hand-coded quotes rarely end with 。, uncoded sentences always do.

Outputs are a pure function of the inputs, the model and the settings (the chunking and batching
depend only on them): the same inputs give identical outputs.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from .segmenting import SegmentItem, char_windows, merge_max, token_windows


@dataclass(frozen=True)
class ScoringSettings:
    window_unit: str = "tokens"  # tokens | chars (the baseline always uses chars)
    window_size: int | None = None  # None: the coder's own (max_length minus special tokens)
    window_overlap: int = 16
    chunk_windows: int = 2048
    strip_end_marks: bool = True  # the model reads a segment without its closing 。！？； (see model_text)


@dataclass(frozen=True)
class Suggestion:
    concept: str
    initial_category: str
    main_category: str
    role: str
    confidence: float
    threshold: float


@dataclass(frozen=True)
class SegmentResult:
    item: SegmentItem
    suggestions: tuple[Suggestion, ...]
    best_concept: str
    best_confidence: float
    windows: int

    @property
    def no_code(self) -> bool:
        return not self.suggestions


@dataclass
class ScoredChunk:
    items: list[SegmentItem]
    probs: np.ndarray  # [len(items), n_concepts] merged, calibrated
    windows: list[int]  # windows per item


def _window_size(coder: object, settings: ScoringSettings) -> tuple[str, int, int]:
    unit = settings.window_unit if getattr(coder, "kind", "bert") == "bert" else "chars"
    if unit == "tokens" and not getattr(coder, "can_slice_tokens", False):
        unit = "chars"
    size = settings.window_size or int(getattr(coder, "window_size"))
    if getattr(coder, "kind", "bert") == "bert" and unit == "tokens":
        size = min(size, int(coder.window_size))  # type: ignore[attr-defined]
    overlap = min(settings.window_overlap, max(0, size // 2))
    return unit, size, overlap


def score_segments(
    items: Iterable[SegmentItem],
    coder: object,
    settings: ScoringSettings = ScoringSettings(),
    on_scored: Callable[[int], None] | None = None,
) -> Iterator[ScoredChunk]:
    """Chunks of (items, merged probabilities, windows per item), in input order."""
    unit, size, overlap = _window_size(coder, settings)
    pending: list[SegmentItem] = []
    waiting = 0  # windows of the pending segments, estimated from characters (~ tokens for Chinese)
    stride = max(1, size - overlap)
    for item in items:
        pending.append(item)
        n = len(item.text)
        waiting += 1 if n <= size else 1 + -(-(n - size) // stride)
        if waiting >= settings.chunk_windows:
            chunk = _score_chunk(pending, coder, unit, size, overlap, settings.strip_end_marks)
            release_memory()
            yield chunk
            if on_scored:
                on_scored(len(pending))
            pending, waiting = [], 0
    if pending:
        chunk = _score_chunk(pending, coder, unit, size, overlap, settings.strip_end_marks)
        release_memory()
        yield chunk
        if on_scored:
            on_scored(len(pending))


def release_memory() -> None:
    """Hand freed heap memory back to the OS (glibc only; a no-op elsewhere).

    Batches of different widths leave the allocator's heap fragmented, and glibc keeps freed
    blocks, so a long report's resident memory would creep up batch after batch; trimming after
    each chunk keeps it at what one chunk needs.
    """
    global _TRIM
    if _TRIM is None:
        _TRIM = False
        try:
            import ctypes
            import ctypes.util

            name = ctypes.util.find_library("c")
            libc = ctypes.CDLL(name) if name else None
            if libc is not None and hasattr(libc, "malloc_trim"):
                _TRIM = libc.malloc_trim
        except (OSError, AttributeError):
            _TRIM = False
    if _TRIM:
        _TRIM(0)


_TRIM: Any = None


END_MARKS = "。！？；!?;…．"


def model_text(text: str, strip_end_marks: bool = True) -> str:
    """What the model reads of a segment: without its closing sentence marks (and white space).

    Hand-coded quotes -- the positives a model is trained on -- rarely include the 。 that ends the
    sentence, while uncoded sentences used as "no code" examples always do; a model can learn that
    shortcut ("ends with 。 -> no code"; seen on the demo corpus: a compact model coded 0 % of the
    held-out sentences as split, 17 % without their final mark). The segment's text and offsets in
    the outputs are not changed. A text of marks only is read as it is.
    """
    if not strip_end_marks:
        return text
    stripped = text.rstrip()
    while stripped and stripped[-1] in END_MARKS:
        stripped = stripped[:-1].rstrip()
    return stripped or text


def _score_chunk(items: list[SegmentItem], coder: object, unit: str, size: int, overlap: int, strip: bool = True) -> ScoredChunk:
    texts = [model_text(i.text, strip) for i in items]
    owners: list[int] = []
    if unit == "tokens":
        ids, offsets = coder.encode(texts)  # type: ignore[attr-defined]
        inputs: list[list[int]] = []
        for k, (seq, offs) in enumerate(zip(ids, offsets)):
            if len(seq) <= size:
                inputs.append(coder.wrap(seq))  # type: ignore[attr-defined]
                owners.append(k)
                continue
            for t0, t1, _, _ in token_windows(offs, size, overlap):
                inputs.append(coder.wrap(seq[t0:t1]))  # type: ignore[attr-defined]
                owners.append(k)
        probs = coder.proba_ids(inputs)  # type: ignore[attr-defined]
    else:
        window_texts: list[str] = []
        for k, text in enumerate(texts):
            for c0, c1 in char_windows(text, size, overlap):
                window_texts.append(text[c0:c1])
                owners.append(k)
        probs = coder.proba_texts(window_texts)  # type: ignore[attr-defined]
    merged = merge_max(probs, owners, len(items))
    counts = np.bincount(np.asarray(owners, dtype=np.int64), minlength=len(items)).tolist()
    return ScoredChunk(items, np.asarray(merged, dtype=np.float32), counts)


def suggestions_for(probs: np.ndarray, thresholds: np.ndarray, labels: object, top_k: int) -> list[tuple[tuple[Suggestion, ...], str, float]]:
    """Per row: (suggestions passing their thresholds, best first, at most top_k; best concept; its probability)."""
    concepts = labels.concepts  # type: ignore[attr-defined]
    initial = labels.concept_initial  # type: ignore[attr-defined]
    main = labels.concept_main  # type: ignore[attr-defined]
    role_of_main = dict(zip(labels.main_categories, labels.main_role))  # type: ignore[attr-defined]
    out = []
    for row in probs:
        # Ties broken by label order: deterministic.
        order = np.lexsort((np.arange(len(row)), -row.astype(np.float64)))
        best = int(order[0])
        chosen: list[int] = []
        for j in order:  # thresholds differ by concept: a lower-ranked concept may pass where a higher one does not
            if row[j] >= thresholds[j]:
                chosen.append(int(j))
                if len(chosen) == top_k:
                    break
        suggestions = tuple(
            Suggestion(
                concept=concepts[j],
                initial_category=initial[j],
                main_category=main[j],
                role=role_of_main.get(main[j]) or "",
                confidence=float(row[j]),
                threshold=float(thresholds[j]),
            )
            for j in chosen
        )
        out.append((suggestions, concepts[best], float(row[best])))
    return out


def code_segments(
    items: Iterable[SegmentItem],
    coder: object,
    *,
    top_k: int = 3,
    settings: ScoringSettings = ScoringSettings(),
    on_scored: Callable[[int], None] | None = None,
) -> Iterator[SegmentResult]:
    """One ``SegmentResult`` per input segment, in input order (streamed chunk by chunk)."""
    thresholds = np.asarray(coder.thresholds, dtype=np.float64)  # type: ignore[attr-defined]
    for chunk in score_segments(items, coder, settings, on_scored):
        rows = suggestions_for(chunk.probs, thresholds, coder.labels, top_k)  # type: ignore[attr-defined]
        for item, (suggestions, best, best_p), n_windows in zip(chunk.items, rows, chunk.windows):
            yield SegmentResult(item, suggestions, best, best_p, n_windows)
