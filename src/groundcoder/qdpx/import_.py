"""Bring an imported REFI-QDA project into the project store: documents, firms and human codings.

Sources are matched to stored documents by the GUID groundcoder exported them with, else by name
(the document id), else by identical text. When a matched source's text differs from the stored
text (another tool re-exported it), each quote is placed by finding its text in the stored document
nearest to where it was; a quote that cannot be found is reported, never stored at a guessed place.
Sources that match nothing are added as new documents when their firm is known (a case or source
variable ``code``, or a case named by a firm code).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

from ..codebook.qdc import guid_for
from ..errors import InputError
from ..store import Coding, DocumentRecord, Firm, ProjectStore, sha256_text
from ._text import OffsetMap, normalise
from .model import QdaProject, QdaSource, TrainingQuote

IMPORT_CODER = "qdpx-import"


@dataclass(frozen=True)
class SourceMatch:
    source_guid: str
    doc_id: str
    how: str  # guid | name | text | added
    same_text: bool


class Placer:
    """Places spans of an imported source onto its stored document's text."""

    def __init__(self, source: QdaSource, stored_text: str) -> None:
        self.source = source
        self.stored = stored_text
        self.normalised = normalise(stored_text)
        self.same = self.normalised == source.text
        self._map = OffsetMap(stored_text) if self.normalised != stored_text else None

    def place(self, start: int, end: int) -> tuple[int, int] | None:
        """(start, end) in the stored text for a span of the imported text, or None if not found."""
        if not self.same:
            quote = self.source.text[start:end]
            found = _nearest(self.normalised, quote, start)
            if found is None:
                return None
            start, end = found, found + len(quote)
        if self._map is not None:  # stored text keeps a BOM or CRs: back to its own positions
            start, end = self._map.unmap(start), self._map.unmap(end)
        return start, end


def _nearest(text: str, quote: str, near: int, limit: int = 1000) -> int | None:
    if not quote:
        return None
    best: int | None = None
    position = text.find(quote)
    seen = 0
    while position != -1 and seen < limit:
        if best is None or abs(position - near) < abs(best - near):
            best = position
        position = text.find(quote, position + 1)
        seen += 1
    return best


def match_sources(project: QdaProject, store: ProjectStore) -> dict[str, SourceMatch]:
    """Source GUID -> the stored document it is, for every source that is in the store."""
    stored = store.documents()
    by_guid = {guid_for("source", d.doc_id): d.doc_id for d in stored}
    ids = {d.doc_id for d in stored}
    matches: dict[str, SourceMatch] = {}
    unmatched: list[QdaSource] = []
    for source in project.sources:
        doc_id = by_guid.get(source.guid)
        how = "guid"
        if doc_id is None:
            for candidate in (source.doc_id, source.name):
                if candidate in ids:
                    doc_id, how = candidate, "name"
                    break
        if doc_id is None:
            unmatched.append(source)
            continue
        same = normalise(store.document_text(doc_id)) == source.text
        matches[source.guid] = SourceMatch(source.guid, doc_id, how, same)
    if unmatched:
        by_text: dict[str, str] = {}
        for d in stored:
            by_text.setdefault(sha256_text(normalise(store.document_text(d.doc_id))), d.doc_id)
        for source in unmatched:
            doc_id = by_text.get(sha256_text(source.text))
            if doc_id is not None:
                matches[source.guid] = SourceMatch(source.guid, doc_id, "text", True)
    return matches


@dataclass
class StoreImportSummary:
    documents_matched: dict[str, str] = field(default_factory=dict)  # source name -> doc id
    documents_added: list[str] = field(default_factory=list)
    firms_added: list[str] = field(default_factory=list)
    sources_not_stored: list[str] = field(default_factory=list)  # with the reason
    codings_added: int = 0
    codings_already_stored: int = 0
    quotes_not_placed: list[str] = field(default_factory=list)
    concepts_outside_codebook: list[str] = field(default_factory=list)
    codebook_saved: bool = False

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def _firm_code(source: QdaSource, project: QdaProject, known: set[str]) -> str:
    code = source.firm_code
    if code:
        return code
    for case_name in source.cases:
        for token in (case_name, case_name.split()[0] if case_name.split() else ""):
            if token in known:
                return token
    return ""


def import_into_store(
    project: QdaProject,
    store: ProjectStore,
    *,
    add_documents: bool = True,
    coder: str | None = None,
    save_codebook: bool = False,
    default_kind: str = "annual_report",
) -> StoreImportSummary:
    """Store the project's human codings (and, with ``add_documents``, its new sources); one transaction.

    ``coder`` replaces the coder ids of the file (default: each coding's user name). Model
    suggestions are not stored here: see ``groundcoder.qdpx.review`` for reviewed suggestions.
    """
    summary = StoreImportSummary()
    quotes = project.training_quotes()
    with store.transaction():
        if save_codebook and project.codebook is not None:
            store.add_codebook_version(project.codebook.to_yaml(), note=f"imported from {project.path}")
            summary.codebook_saved = True
        matches = match_sources(project, store)
        known_firms = {f.code for f in store.firms()}
        for source in project.sources:
            match = matches.get(source.guid)
            if match is not None:
                summary.documents_matched[source.name] = match.doc_id
                continue
            if not add_documents:
                summary.sources_not_stored.append(f"{source.name}: not in the store (adding documents is off)")
                continue
            firm = _firm_code(source, project, known_firms)
            if not firm:
                summary.sources_not_stored.append(
                    f"{source.name}: no firm code (give its case or source a variable 'code', or name the case by the firm code)"
                )
                continue
            if firm not in known_firms:
                name = str(source.variables.get("name", "") or (source.cases[0] if source.cases else ""))
                industry = str(source.variables.get("industry", "") or "")
                store.add_firms([Firm(firm, name=name, industry=industry)])
                known_firms.add(firm)
                summary.firms_added.append(firm)
            year = source.variables.get("year", source.data.get("year"))
            try:
                year = int(year) if year not in (None, "") else None
            except (TypeError, ValueError):
                year = None
            record = DocumentRecord(
                doc_id=source.doc_id,
                firm_code=firm,
                text=source.text,
                kind=str(source.variables.get("kind") or source.data.get("kind") or default_kind),
                year=year,
                title=str(source.data.get("title") or source.name),
                source_path=f"{project.path}#{source.name}",
                source_format="qdpx",
                encoding=source.encoding,
            )
            try:
                store.add_document(record)
            except InputError as exc:
                summary.sources_not_stored.append(f"{source.name}: {exc.message}")
                continue
            matches[source.guid] = SourceMatch(source.guid, source.doc_id, "added", True)
            summary.documents_added.append(source.doc_id)

        codings = list(_codings_for_store(project, store, matches, quotes, coder, summary))
        added = store.add_codings(codings)
        summary.codings_added = added
        summary.codings_already_stored = len(codings) - added
        latest = store.latest_codebook()
        if latest is not None:
            from ..codebook import Codebook

            names = set(Codebook.from_yaml_text(latest.yaml_text).concept_names)
            summary.concepts_outside_codebook = sorted({c.concept for c in codings} - names)
    return summary


def _codings_for_store(
    project: QdaProject,
    store: ProjectStore,
    matches: dict[str, SourceMatch],
    quotes: Iterable[TrainingQuote],
    coder: str | None,
    summary: StoreImportSummary,
) -> Iterable[Coding]:
    placers: dict[str, Placer] = {}
    sources_by_doc = {s.doc_id: s for s in project.sources}
    selection_source = {sel.guid: sel.source_guid for sel in project.selections}
    for quote in quotes:
        source_guid = selection_source.get(quote.selection_guid) or sources_by_doc[quote.doc].guid
        match = matches.get(source_guid)
        if match is None:
            continue
        if source_guid not in placers:
            placers[source_guid] = Placer(project.source(source_guid), store.document_text(match.doc_id))
        placed = placers[source_guid].place(quote.start, quote.end)
        if placed is None:
            summary.quotes_not_placed.append(f"{quote.doc} [{quote.start}:{quote.end}] {quote.text[:30]!r}: text not found in {match.doc_id}")
            continue
        start, end = placed
        for concept in quote.concepts:
            yield Coding(
                doc_id=match.doc_id,
                start=start,
                end=end,
                concept=concept,
                coder=coder or quote.coder or IMPORT_CODER,
                memo=quote.memo,
                text=placers[source_guid].stored[start:end],
            )
