"""The review loop: what the researcher did with groundcoder's suggestions in their QDA tool.

groundcoder exports suggestions as codings by the user ``groundcoder-model``; the researcher keeps,
deletes or recodes them in NVivo, ATLAS.ti, MAXQDA or QualCoder and exports the project again. Read
against the suggestions that were exported, that file says, per suggestion (same document, same
span or one overlapping it by at least ``overlap`` (intersection over union)):

* **kept**: a coding of the suggested concept is still there, by a person or untouched;
* **relabelled**: the suggested concept is gone, and a person coded the span with another concept
  that was not itself suggested there; the new concept counts;
* **rejected**: nothing of the kind is left: a negative for that concept ("not this concept");

and every other human coding that was not in the export is **new_human**. Suggestions in documents that are not in the file
were not reviewed and are left alone.

``apply_review`` records a rejection as a human coding of that concept with ``polarity="negative"``
(store schema 2), with a ``[groundcoder] {...}`` memo. The store returns positive codings unless
asked otherwise, so a rejection is never read as a code; ``negative_records`` lists the rejections.
"""

from __future__ import annotations

import dataclasses

import bisect
import json
import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..codebook.qdc import DATA_PREFIX, split_description
from ..store import Coding, ProjectStore
from .import_ import Placer, match_sources
from .model import NEGATIVE_PREFIX, QdaProject

KEPT, REJECTED, RELABELLED, NEW_HUMAN = "kept", "rejected", "relabelled", "new_human"
DEFAULT_OVERLAP = 0.5


@dataclass(frozen=True)
class Suggestion:
    """One model suggestion that was exported for review (positions in the stored document)."""

    doc_id: str
    start: int
    end: int
    concept: str
    model_run_id: str | None = None
    confidence: float | None = None
    text: str = ""


@dataclass(frozen=True)
class ReviewedCoding:
    """A coding in the reviewed file, placed on the stored document."""

    doc_id: str
    start: int
    end: int
    concept: str
    coder: str
    is_model: bool
    text: str = ""


@dataclass(frozen=True)
class ReviewItem:
    """One decision: the concept it is about, where, by whom ("" = not said: untouched or deleted)."""

    doc_id: str
    start: int
    end: int
    concept: str  # kept/new_human/relabelled: the concept that counts; rejected: the concept refused
    coder: str = ""
    text: str = ""
    suggestion: Suggestion | None = None  # None for new_human
    untouched: bool = False  # kept: still by the model user, nobody re-coded it


@dataclass(frozen=True)
class ReviewOutcome:
    kept: tuple[ReviewItem, ...]
    rejected: tuple[ReviewItem, ...]
    relabelled: tuple[ReviewItem, ...]
    new_human: tuple[ReviewItem, ...]
    not_reviewed: tuple[Suggestion, ...] = ()  # in documents the file does not have
    unknown_model_codings: int = 0  # codings by the model user that match no exported suggestion
    warnings: tuple[str, ...] = ()

    def counts(self) -> dict[str, int]:
        return {
            KEPT: len(self.kept),
            REJECTED: len(self.rejected),
            RELABELLED: len(self.relabelled),
            NEW_HUMAN: len(self.new_human),
            "not_reviewed": len(self.not_reviewed),
            "unknown_model_codings": self.unknown_model_codings,
        }

    def to_json(self) -> dict[str, Any]:
        def rows(items: Iterable[ReviewItem]) -> list[dict[str, Any]]:
            return [
                {
                    "doc_id": i.doc_id,
                    "start": i.start,
                    "end": i.end,
                    "concept": i.concept,
                    "coder": i.coder,
                    "text": i.text,
                    "suggested": i.suggestion.concept if i.suggestion else None,
                    "confidence": i.suggestion.confidence if i.suggestion else None,
                    "untouched": i.untouched,
                }
                for i in items
            ]

        return {
            "counts": self.counts(),
            KEPT: rows(self.kept),
            REJECTED: rows(self.rejected),
            RELABELLED: rows(self.relabelled),
            NEW_HUMAN: rows(self.new_human),
            "warnings": list(self.warnings),
        }


def _iou(a_start: int, a_end: int, b_start: int, b_end: int) -> float:
    inter = min(a_end, b_end) - max(a_start, b_start)
    if inter <= 0:
        return 0.0
    return inter / (max(a_end, b_end) - min(a_start, b_start))


def review_outcome(
    codings: Sequence[ReviewedCoding],
    suggestions: Sequence[Suggestion],
    reviewed_docs: Iterable[str],
    *,
    overlap: float = DEFAULT_OVERLAP,
    known_human: Iterable[tuple[str, int, int, str, str]] = (),
) -> ReviewOutcome:
    """Compare the codings of a reviewed file with the suggestions that were exported (pure).

    ``known_human``: (doc, start, end, concept, coder) of human codings that were exported and so
    are not new (they are not listed in ``new_human``).
    """
    known = set(known_human)
    if not 0 < overlap <= 1:
        raise ValueError(f"overlap must be in (0, 1], got {overlap}")
    reviewed = set(reviewed_docs)
    by_doc: dict[str, list[ReviewedCoding]] = defaultdict(list)
    for c in codings:
        by_doc[c.doc_id].append(c)
    sugg_by_doc: dict[str, list[Suggestion]] = defaultdict(list)
    not_reviewed: list[Suggestion] = []
    for s in suggestions:
        (sugg_by_doc[s.doc_id] if s.doc_id in reviewed else not_reviewed).append(s)

    kept: list[ReviewItem] = []
    rejected: list[ReviewItem] = []
    relabelled: list[ReviewItem] = []
    new_human: list[ReviewItem] = []
    unknown_model = 0

    def near(a_start: int, a_end: int, b_start: int, b_end: int) -> bool:
        return (a_start, a_end) == (b_start, b_end) or _iou(a_start, a_end, b_start, b_end) >= overlap

    def window(starts: list[int], s: Suggestion) -> range:
        # A span with IoU >= overlap with s starts before s.end and at or after s.end - len(s) / overlap
        # (its union with s is at most len(s) / overlap): only those of the start-sorted list need a look.
        lo = bisect.bisect_left(starts, s.end - math.ceil((s.end - s.start) / overlap))
        return range(lo, bisect.bisect_left(starts, s.end))

    for doc_id in sorted(set(by_doc) | set(sugg_by_doc)):
        doc_codings = sorted(by_doc.get(doc_id, []), key=lambda c: (c.start, c.end, c.concept, c.coder))
        coding_starts = [c.start for c in doc_codings]
        doc_suggestions = sorted(set(sugg_by_doc.get(doc_id, [])), key=lambda s: (s.start, s.end, s.concept))
        suggestion_starts = [s.start for s in doc_suggestions]
        consumed: set[int] = set()
        for s in doc_suggestions:
            nearby = [(i, doc_codings[i]) for i in window(coding_starts, s)]
            same = [(i, c) for i, c in nearby if c.concept == s.concept and near(c.start, c.end, s.start, s.end)]
            if same:
                # prefer the exact span, then a person's coding
                same.sort(key=lambda ic: ((ic[1].start, ic[1].end) != (s.start, s.end), ic[1].is_model))
                consumed.update(i for i, _ in same)
                humans = [c for _, c in same if not c.is_model]
                chosen = humans[0] if humans else same[0][1]
                kept.append(
                    ReviewItem(doc_id, chosen.start, chosen.end, s.concept, chosen.coder if humans else "", chosen.text or s.text, s, untouched=not humans)
                )
                continue
            suggested_here = {
                o.concept
                for o in (doc_suggestions[j] for j in window(suggestion_starts, s))
                if near(o.start, o.end, s.start, s.end)
            }
            # a person's new coding of another concept there (one that was exported already says nothing new)
            others = [
                (i, c)
                for i, c in nearby
                if not c.is_model
                and c.concept not in suggested_here
                and (doc_id, c.start, c.end, c.concept, c.coder) not in known
                and near(c.start, c.end, s.start, s.end)
            ]
            if others:
                seen: set[str] = set()
                for i, c in others:
                    consumed.add(i)
                    if c.concept in seen:
                        continue
                    seen.add(c.concept)
                    relabelled.append(ReviewItem(doc_id, c.start, c.end, c.concept, c.coder, c.text or s.text, s))
                continue
            rejected.append(ReviewItem(doc_id, s.start, s.end, s.concept, "", s.text, s))
        for i, c in enumerate(doc_codings):
            if i in consumed:
                continue
            if c.is_model:
                unknown_model += 1
            elif (doc_id, c.start, c.end, c.concept, c.coder) not in known:
                new_human.append(ReviewItem(doc_id, c.start, c.end, c.concept, c.coder, c.text))
    new_human = list({(i.doc_id, i.start, i.end, i.concept, i.coder): i for i in new_human}.values())
    warnings = []
    if kept and all(i.untouched for i in kept) and not (rejected or relabelled or new_human):
        warnings.append(
            f"nothing was changed in review: all {len(kept)} suggestions are still the model's own codings and count as kept "
            "(skip them with --untouched skip if the file was not really reviewed)"
        )
    if not_reviewed:
        warnings.append(f"{len(not_reviewed)} suggestions are in documents the reviewed file does not have; left as they are")
    if unknown_model:
        warnings.append(f"{unknown_model} codings by the model user match no exported suggestion; ignored")
    return ReviewOutcome(tuple(kept), tuple(rejected), tuple(relabelled), tuple(new_human), tuple(not_reviewed), unknown_model, tuple(warnings))


# --------------------------------------------------------------------------------------------------
# Where the suggestions and the reviewed codings come from


def suggestions_from_project(project: QdaProject) -> list[Suggestion]:
    """The suggestions in a project groundcoder exported (codings by the model user), by document id."""
    sources = {s.guid: s for s in project.sources}
    out = []
    for sel in project.selections:
        for c in sel.codings:
            if c.is_model and c.code_name:
                out.append(
                    Suggestion(
                        sources[sel.source_guid].doc_id,
                        sel.start,
                        sel.end,
                        c.code_name,
                        c.data.get("model_run_id"),
                        c.data.get("confidence"),
                        sel.text,
                    )
                )
    return out


def suggestions_from_store(
    store: ProjectStore,
    doc_ids: Iterable[str],
    *,
    model_run_ids: Sequence[str] | None = None,
    created_up_to: str | None = None,
) -> list[Suggestion]:
    """The stored model codings of these documents (of these runs, created no later than ``created_up_to``)."""
    out = []
    for doc_id in sorted(set(doc_ids)):
        for c in store.codings(doc_id=doc_id, coder_kind="model"):
            if model_run_ids is not None and c.model_run_id not in model_run_ids:
                continue
            if created_up_to and c.created_at and c.created_at > created_up_to:
                continue
            out.append(Suggestion(c.doc_id, c.start, c.end, c.concept, c.model_run_id, c.confidence, c.text or ""))
    return out


def reviewed_codings(project: QdaProject, store: ProjectStore | None = None) -> tuple[list[ReviewedCoding], set[str], list[str]]:
    """(codings placed on stored documents, ids of the documents the file has, problems).

    Without a store, positions are the file's own and documents are named by ``QdaSource.doc_id``.
    """
    problems: list[str] = []
    placers: dict[str, tuple[str, Placer | None]] = {}
    if store is None:
        for s in project.sources:
            placers[s.guid] = (s.doc_id, None)
    else:
        for guid, match in match_sources(project, store).items():
            placers[guid] = (match.doc_id, Placer(project.source(guid), store.document_text(match.doc_id)))
        for s in project.sources:
            if s.guid not in placers:
                problems.append(f"source {s.name!r} is not a document of this project; its codings were not compared")
    out: list[ReviewedCoding] = []
    for sel in project.selections:
        if sel.source_guid not in placers:
            continue
        doc_id, placer = placers[sel.source_guid]
        span = (sel.start, sel.end) if placer is None else placer.place(sel.start, sel.end)
        if span is None:
            problems.append(f"selection {sel.text[:30]!r} in {doc_id}: its text is not in the stored document; not compared")
            continue
        text = sel.text if placer is None else placer.stored[span[0] : span[1]]
        for c in sel.codings:
            if c.code_name:
                out.append(ReviewedCoding(doc_id, span[0], span[1], c.code_name, c.user_name, c.is_model, text))
    return out, {doc for doc, _ in placers.values()}, problems


def review_qdpx(
    reviewed: QdaProject,
    store: ProjectStore | None = None,
    *,
    original: QdaProject | None = None,
    model_run_ids: Sequence[str] | None = None,
    overlap: float = DEFAULT_OVERLAP,
) -> ReviewOutcome:
    """The outcome of a review, against ``original`` (the exported file) if given, else the store.

    From the store, the suggestions are the model codings of the reviewed documents: of
    ``model_run_ids`` if given, else of the runs the export recorded in its project description
    (``[groundcoder] {"suggestions": ...}``), created no later than the newest exported one.
    """
    codings, docs, problems = reviewed_codings(reviewed, store)
    known: set[tuple[str, int, int, str, str]] = set()
    if store is not None:
        for doc_id in docs:
            known.update((c.doc_id, c.start, c.end, c.concept, c.coder) for c in store.codings(doc_id=doc_id, coder_kind="human"))
    if original is not None:
        original_codings, _, _ = reviewed_codings(original)
        known.update((c.doc_id, c.start, c.end, c.concept, c.coder) for c in original_codings if not c.is_model)
        suggestions = suggestions_from_project(original)
    elif store is not None:
        recorded = reviewed.data.get("suggestions") if isinstance(reviewed.data.get("suggestions"), dict) else {}
        runs = list(model_run_ids) if model_run_ids is not None else recorded.get("model_run_ids")
        every_doc = [d.doc_id for d in store.documents()]  # those not in the file come back as not_reviewed
        suggestions = suggestions_from_store(store, every_doc, model_run_ids=runs, created_up_to=recorded.get("latest_created_at") or None)
        if not recorded and model_run_ids is None:
            problems.append(
                "the reviewed file does not say which suggestions were exported (its project description was dropped); "
                "every stored suggestion in its documents was compared: pass the exported file (--against) or --model-run to be exact"
            )
    else:
        suggestions = suggestions_from_project(reviewed)
    outcome = review_outcome(codings, suggestions, docs, overlap=overlap, known_human=known)
    if problems:
        outcome = ReviewOutcome(
            outcome.kept, outcome.rejected, outcome.relabelled, outcome.new_human, outcome.not_reviewed,
            outcome.unknown_model_codings, tuple(problems) + outcome.warnings,
        )  # fmt: skip
    return outcome


# --------------------------------------------------------------------------------------------------
# Into the store, and back out for retraining


@dataclass
class ApplySummary:
    positives_added: int = 0
    negatives_added: int = 0
    already_stored: int = 0
    by_decision: dict[str, int] = field(default_factory=dict)


def _memo(decision: str, item: ReviewItem, source: str) -> str:
    data: dict[str, Any] = {"review": decision, "source": source}
    if item.suggestion is not None:
        data.update(
            suggested=item.suggestion.concept,
            model_run_id=item.suggestion.model_run_id,
            confidence=item.suggestion.confidence,
        )
    return DATA_PREFIX + json.dumps(data, ensure_ascii=False, sort_keys=True)


def apply_review(
    outcome: ReviewOutcome,
    store: ProjectStore,
    *,
    reviewer: str = "reviewer",
    source: str | Path = "",
    negate_relabelled: bool = True,
    keep_untouched: bool = True,
) -> ApplySummary:
    """Write the outcome into the store so retraining picks it up; all or nothing.

    kept, relabelled (new concept) and new_human -> human codings (by the person who made them, or
    ``reviewer`` where the file does not say); rejected, and with ``negate_relabelled`` the concept
    a relabelled suggestion had -> negative records (human codings with polarity negative).
    ``keep_untouched=False`` leaves out kept suggestions nobody re-coded (still the model's codings).
    """
    source = str(source)
    positives: list[Coding] = []
    negatives: list[Coding] = []

    def human(item: ReviewItem, concept: str, decision: str) -> Coding:
        return Coding(
            doc_id=item.doc_id,
            start=item.start,
            end=item.end,
            concept=concept,
            coder=item.coder or reviewer,
            memo=_memo(decision, item, source),
            text=item.text or None,
        )

    for item in outcome.kept:
        if keep_untouched or not item.untouched:
            positives.append(human(item, item.concept, KEPT))
    for item in outcome.relabelled:
        positives.append(human(item, item.concept, RELABELLED))
        if negate_relabelled and item.suggestion is not None:
            s = item.suggestion
            negatives.append(
                Coding(s.doc_id, s.start, s.end, s.concept, item.coder or reviewer,
                       memo=_memo(RELABELLED, item, source), text=s.text or None, polarity="negative")
            )  # fmt: skip
    for item in outcome.new_human:
        positives.append(human(item, item.concept, NEW_HUMAN))
    for item in outcome.rejected:
        negatives.append(dataclasses.replace(human(item, item.concept, REJECTED), polarity="negative"))
    with store.transaction():
        added_pos = store.add_codings(positives)
        added_neg = store.add_codings(negatives)
    return ApplySummary(
        positives_added=added_pos,
        negatives_added=added_neg,
        already_stored=len(positives) + len(negatives) - added_pos - added_neg,
        by_decision=outcome.counts(),
    )


@dataclass(frozen=True)
class NegativeRecord:
    """The researcher said: this span is *not* ``concept``."""

    doc_id: str
    start: int
    end: int
    concept: str
    coder: str
    text: str
    review: dict[str, Any] = field(default_factory=dict)


def is_negative(coding: Coding) -> bool:
    return coding.polarity == "negative"


def negative_records(store: ProjectStore) -> list[NegativeRecord]:
    out = []
    for c in store.codings(coder_kind="human", polarity="negative"):
        _, data = split_description(c.memo)
        out.append(NegativeRecord(c.doc_id, c.start, c.end, c.concept, c.coder, c.text or "", data))
    return out


def positive_human_codings(store: ProjectStore, coder: str | None = None) -> list[Coding]:
    """Human codings that are training positives (the store's default: negatives left out)."""
    return store.codings(coder=coder, coder_kind="human", polarity="positive")
