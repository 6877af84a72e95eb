"""What ``groundcoder code`` writes: suggestion rows, the per-firm summary, codings for the store.

``suggestions.csv`` / ``.xlsx``: one row per segment and suggestion, best first (``rank`` 1..k);
a segment without any concept passing its threshold has one row with ``no_code`` true, an empty
concept and the nearest miss in ``best_concept`` / ``best_confidence``. Columns: id, firm, document,
year, start, end (code points; ``text == document[start:end]``), text, unit, rank, concept,
initial_category, main_category, role, confidence (calibrated probability), threshold, no_code,
best_concept, best_confidence, windows (how many windows the model read), model (run id).

``firm_summary.csv`` / ``.xlsx``: per firm the documents, segments, coded segments and their share,
suggestions, and suggestions per main category (one column per main category of the codebook).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from ..store import Coding
from .autocode import SegmentResult

SUGGESTION_COLUMNS = (
    "id", "firm", "document", "year", "start", "end", "text", "unit", "rank", "concept", "initial_category",
    "main_category", "role", "confidence", "threshold", "no_code", "best_concept", "best_confidence", "windows", "model",
)  # fmt: skip


def suggestion_rows(result: SegmentResult, model_id: str) -> list[tuple[Any, ...]]:
    """The rows of one segment, in ``SUGGESTION_COLUMNS`` order."""
    item = result.item
    head = (item.key, item.firm, item.doc_id, item.year, item.start, item.end, item.text, item.unit)
    tail = (result.best_concept, round(result.best_confidence, 6), result.windows, model_id)
    if result.no_code:
        return [head + (0, "", "", "", "", None, None, True) + tail]
    return [
        head + (rank, s.concept, s.initial_category, s.main_category, s.role, round(s.confidence, 6), round(s.threshold, 6), False) + tail
        for rank, s in enumerate(result.suggestions, start=1)
    ]


def model_codings(result: SegmentResult, coder_id: str, run_id: str) -> list[Coding]:
    """The segment's suggestions as model codings for the store (none for "no code")."""
    item = result.item
    if not item.stored or item.start is None or item.end is None:
        return []
    return [
        Coding(
            doc_id=item.doc_id,
            start=item.start,
            end=item.end,
            concept=s.concept,
            coder=coder_id,
            coder_kind="model",
            model_run_id=run_id,
            confidence=min(1.0, max(0.0, float(s.confidence))),
            text=item.text,
        )
        for s in result.suggestions
    ]


@dataclass
class _FirmCounts:
    documents: set[str] = field(default_factory=set)
    segments: int = 0
    coded: int = 0
    suggestions: int = 0
    by_main: dict[str, int] = field(default_factory=lambda: defaultdict(int))


class FirmSummary:
    """Running per-firm counts (segments are added as they are coded)."""

    def __init__(self, main_categories: Sequence[str]) -> None:
        self.main_categories = list(main_categories)
        self._firms: dict[str, _FirmCounts] = {}

    def add(self, result: SegmentResult) -> None:
        counts = self._firms.setdefault(result.item.firm or "", _FirmCounts())
        if result.item.doc_id:
            counts.documents.add(result.item.doc_id)
        counts.segments += 1
        if not result.no_code:
            counts.coded += 1
        for s in result.suggestions:
            counts.suggestions += 1
            counts.by_main[s.main_category] += 1

    def rows(self) -> list[dict[str, Any]]:
        out = []
        for firm in sorted(self._firms):
            c = self._firms[firm]
            row: dict[str, Any] = {
                "firm": firm,
                "documents": len(c.documents),
                "segments": c.segments,
                "coded_segments": c.coded,
                "coded_share": round(c.coded / c.segments, 4) if c.segments else 0.0,
                "suggestions": c.suggestions,
            }
            for main in self.main_categories:
                row[f"suggestions: {main}"] = c.by_main.get(main, 0)
            out.append(row)
        return out

    def totals(self) -> dict[str, Any]:
        segments = sum(c.segments for c in self._firms.values())
        coded = sum(c.coded for c in self._firms.values())
        by_main: dict[str, int] = {m: 0 for m in self.main_categories}
        for c in self._firms.values():
            for k, v in c.by_main.items():
                by_main[k] = by_main.get(k, 0) + v
        return {
            "firms": len(self._firms),
            "documents": sum(len(c.documents) for c in self._firms.values()),
            "segments": segments,
            "coded_segments": coded,
            "coded_share": round(coded / segments, 4) if segments else 0.0,
            "suggestions": sum(c.suggestions for c in self._firms.values()),
            "suggestions_per_main_category": by_main,
        }
