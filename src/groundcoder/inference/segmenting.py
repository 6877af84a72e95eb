"""What gets coded: segments (sentences, paragraphs or table rows) and the windows the model reads.

Segments come from ``groundcoder.segmentation`` (or the store's own segments, or a table's rows);
``SegmentItem.text == document_text[start:end]`` always, offsets in Unicode code points.

Windows. The model reads at most ``size`` units at once (default: its ``max_length`` minus the
[CLS] and [SEP] tokens). A longer segment is split into overlapping windows of ``size`` units
(tokens of the model's tokenizer, or characters) that start every ``size - overlap`` units; the last
window is moved back to end exactly at the segment's end, so it is full-sized too. Every unit of the
segment is in at least one window.

Merge rule (``merge_max``): a concept's probability for the segment is the **maximum** over its
windows' probabilities -- a paragraph speaks of a concept if any part of it does. Categories are then
derived from the merged concept probabilities as for any segment (max over their concepts, see
``groundcoder.classifier.hierarchy``), so merged predictions are hierarchy-consistent too.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from ..segmentation import split_paragraphs, split_sentences


@dataclass(frozen=True)
class SegmentItem:
    """One segment to code. ``key`` is its id in the outputs (``<doc_id>:<start>-<end>`` or the table's id)."""

    key: str
    text: str
    unit: str  # sentence | paragraph | row
    doc_id: str = ""
    firm: str = ""
    year: int | None = None
    start: int | None = None
    end: int | None = None
    segment_id: int | None = None  # the store's segment id, where it came from the store
    stored: bool = False  # its document is in the project store (codings can be written)


def segment_key(doc_id: str, start: int, end: int) -> str:
    return f"{doc_id}:{start}-{end}"


def split_text(text: str, unit: str) -> list[tuple[int, int]]:
    """(start, end) of the sentences or paragraphs of ``text``."""
    if unit == "sentence":
        return [(s.start, s.end) for s in split_sentences(text)]
    if unit == "paragraph":
        return [(s.start, s.end) for s in split_paragraphs(text)]
    raise ValueError(f"unit must be sentence or paragraph, got {unit!r}")


def document_segments(
    text: str,
    unit: str,
    *,
    doc_id: str,
    firm: str = "",
    year: int | None = None,
    min_chars: int = 1,
    spans: Sequence[tuple[int, int]] | None = None,
    segment_ids: Sequence[int | None] | None = None,
    stored: bool = False,
) -> Iterator[SegmentItem]:
    """The segments of one document, in text order (``spans`` given: those, e.g. the store's)."""
    if spans is None:
        spans = split_text(text, unit)
    ids = segment_ids if segment_ids is not None else [None] * len(spans)
    for (start, end), seg_id in zip(spans, ids):
        piece = text[start:end]
        if len(piece.strip()) < min_chars:
            continue
        yield SegmentItem(
            key=segment_key(doc_id, start, end),
            text=piece,
            unit=unit,
            doc_id=doc_id,
            firm=firm,
            year=year,
            start=start,
            end=end,
            segment_id=seg_id,
            stored=stored,
        )


def window_spans(n: int, size: int, overlap: int) -> list[tuple[int, int]]:
    """Unit ranges [start, end) of the windows over ``n`` units (see the module doc)."""
    if size < 1:
        raise ValueError(f"window size must be >= 1, got {size}")
    if not 0 <= overlap < size:
        raise ValueError(f"window overlap must be in [0, size), got {overlap} for size {size}")
    if n <= size:
        return [(0, n)]
    stride = size - overlap
    spans: list[tuple[int, int]] = []
    start = 0
    while start + size < n:
        spans.append((start, start + size))
        start += stride
    last = (n - size, n)
    if spans[-1] != last:
        spans.append(last)
    return spans


def char_windows(text: str, size: int, overlap: int) -> list[tuple[int, int]]:
    """Character windows [start, end) of ``text`` (offsets into ``text``)."""
    return window_spans(len(text), size, overlap)


def token_windows(offsets: Sequence[tuple[int, int]], size: int, overlap: int) -> list[tuple[int, int, int, int]]:
    """Token windows as (token_start, token_end, char_start, char_end), from a tokenizer's offset map."""
    out = []
    for t0, t1 in window_spans(len(offsets), size, overlap):
        out.append((t0, t1, int(offsets[t0][0]), int(offsets[t1 - 1][1])))
    return out


def merge_max(window_probs: np.ndarray, owners: Sequence[int] | np.ndarray, n_segments: int) -> np.ndarray:
    """Per-segment probabilities: the max over each segment's windows (``owners[i]`` = segment of window i).

    ``owners`` must be non-decreasing (windows grouped by segment, as ``score_segments`` makes them)
    and every segment must have at least one window.
    """
    owners = np.asarray(owners, dtype=np.int64)
    if window_probs.shape[0] != owners.shape[0]:
        raise ValueError("one owner per window")
    if n_segments == 0:
        return np.zeros((0, window_probs.shape[1]), dtype=window_probs.dtype)
    if owners.shape[0] == n_segments:  # one window each: nothing to merge
        return window_probs
    if np.any(np.diff(owners) < 0) or owners[0] != 0 or owners[-1] != n_segments - 1 or len(np.unique(owners)) != n_segments:
        raise ValueError("windows must be grouped by segment, each segment with at least one window")
    starts = np.flatnonzero(np.r_[True, owners[1:] != owners[:-1]])
    return np.maximum.reduceat(window_probs, starts, axis=0)
