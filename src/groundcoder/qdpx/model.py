"""Data classes at the REFI-QDA boundary: what an imported project holds, and what import returns.

Positions are always Unicode code points into ``QdaSource.text``, end exclusive
(``text[start:end]``), *after* normalisation: no byte-order mark, LF line breaks. The positions
the file gave (``raw_start``/``raw_end``) are kept for messages.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..codebook import Codebook

MODEL_USER_NAME = "groundcoder-model"
# Prefix of the concept of a negative record ("the researcher said: not this concept").
NEGATIVE_PREFIX = "not:"


@dataclass(frozen=True)
class QdaUser:
    guid: str
    name: str = ""
    id: str = ""

    @property
    def label(self) -> str:
        """What groundcoder uses as the coder id: the name, else the id, else the GUID."""
        return self.name or self.id or self.guid


@dataclass(frozen=True)
class QdaCode:
    """One code of the project's code tree, whatever its depth."""

    guid: str
    name: str
    is_codable: bool
    parent: str | None = None  # GUID of the parent code
    description: str = ""
    path: tuple[str, ...] = ()  # names from the top of the tree down to this code
    outside_codebook: bool = False  # under groundcoder's "not in codebook" branch


@dataclass(frozen=True)
class QdaCoding:
    guid: str
    code_guid: str
    code_name: str  # "" if the code is not in the code tree (reported)
    user_guid: str = ""
    user_name: str = ""
    notes: tuple[str, ...] = ()  # texts of the Notes the coding refers to
    data: Mapping[str, Any] = field(default_factory=dict)  # the "[groundcoder] {...}" line of a note, if any
    is_model: bool = False  # made by the groundcoder-model user (a suggestion)


@dataclass(frozen=True)
class QdaSelection:
    guid: str
    source_guid: str
    start: int
    end: int
    text: str
    name: str = ""
    description: str = ""
    codings: tuple[QdaCoding, ...] = ()
    user_guid: str = ""
    raw_start: int = 0
    raw_end: int = 0
    # True: the name is the selected text (possibly cut short with "…"); False: it is not (see the
    # project's mismatches); None: no name, or a label that is not meant to quote the text.
    name_matches: bool | None = None


@dataclass(frozen=True)
class QdaSource:
    guid: str
    name: str
    text: str  # normalised: no BOM, LF line breaks
    member: str = ""  # where the text came from: archive member, or "PlainTextContent"
    encoding: str = "utf-8"
    description: str = ""
    variables: Mapping[str, Any] = field(default_factory=dict)  # case variables, overridden by the source's own
    cases: tuple[str, ...] = ()  # names of the cases the source belongs to
    offset_basis: str = "code points"  # how the file counted positions (see reader.OffsetBasis)
    data: Mapping[str, Any] = field(default_factory=dict)  # the "[groundcoder] {...}" line of the description

    @property
    def doc_id(self) -> str:
        """The groundcoder document id: the one groundcoder exported, else the source's name."""
        return str(self.data.get("doc_id") or self.name or self.guid)

    @property
    def firm_code(self) -> str:
        for key in ("firm_code", "firm", "code", "firm_id", "证券代码", "公司代码", "股票代码"):
            value = self.variables.get(key)
            if value not in (None, ""):
                return str(value)
        return str(self.data.get("firm_code", ""))


@dataclass(frozen=True)
class QdaCase:
    guid: str
    name: str
    variables: Mapping[str, Any] = field(default_factory=dict)
    source_guids: tuple[str, ...] = ()
    description: str = ""


@dataclass(frozen=True)
class QdaVertex:
    guid: str
    name: str
    x: int
    y: int
    represented_guid: str = ""
    shape: str = ""
    color: str = ""


@dataclass(frozen=True)
class QdaEdge:
    guid: str
    source: str  # vertex GUID
    target: str
    name: str = ""
    direction: str = ""
    represented_guid: str = ""
    color: str = ""
    line_style: str = ""


@dataclass(frozen=True)
class QdaGraph:
    guid: str
    name: str
    vertices: tuple[QdaVertex, ...] = ()
    edges: tuple[QdaEdge, ...] = ()

    def to_networkx(self) -> Any:
        """A networkx DiGraph (Graph when no edge is one-way) keyed by vertex name."""
        import networkx as nx

        directed = any(e.direction == "OneWay" for e in self.edges)
        graph = nx.DiGraph(name=self.name) if directed else nx.Graph(name=self.name)
        names = {v.guid: v.name or v.guid for v in self.vertices}
        for v in self.vertices:
            graph.add_node(names[v.guid], pos=(v.x, v.y), guid=v.guid, represented_guid=v.represented_guid, shape=v.shape)
        for e in self.edges:
            graph.add_edge(names.get(e.source, e.source), names.get(e.target, e.target), label=e.name, direction=e.direction)
        return graph


@dataclass(frozen=True)
class SelectionMismatch:
    """A selection whose ``name`` attribute is not the text at its positions."""

    source: str
    selection_guid: str
    start: int
    end: int
    name: str
    text: str

    def __str__(self) -> str:
        return f"{self.source} [{self.start}:{self.end}] is {_short(self.text)!r} but the selection is named {_short(self.name)!r}"


@dataclass(frozen=True)
class TrainingQuote:
    """A human coding as a training example: ``text == document[start:end]``."""

    doc: str
    start: int
    end: int
    text: str
    concepts: tuple[str, ...]
    coder: str
    firm: str = ""
    memo: str = ""
    selection_guid: str = ""
    name_matches: bool | None = None

    def to_json(self) -> dict[str, Any]:
        """A row in the demo corpus's coded.jsonl format (plus provenance), so training reads it the same way."""
        return {
            "quote_id": f"{self.selection_guid or f'{self.doc}:{self.start}-{self.end}'}#{self.coder}",
            "doc_id": self.doc,
            "firm_id": self.firm,
            "start": self.start,
            "end": self.end,
            "text": self.text,
            "concepts": list(self.concepts),
            "coder": self.coder,
            "memo": self.memo or None,
            "name_matches": self.name_matches,
        }


@dataclass(frozen=True)
class QdaProject:
    """Everything groundcoder reads from a ``.qdpx`` (or ``.qdc``: codes only)."""

    path: Path | None
    name: str = ""
    origin: str = ""
    description: str = ""
    users: tuple[QdaUser, ...] = ()
    codes: tuple[QdaCode, ...] = ()
    codebook: Codebook | None = None
    codebook_problem: str = ""  # why the code tree is not a groundcoder codebook (3 levels), if it is not
    sources: tuple[QdaSource, ...] = ()
    selections: tuple[QdaSelection, ...] = ()
    cases: tuple[QdaCase, ...] = ()
    graphs: tuple[QdaGraph, ...] = ()
    mismatches: tuple[SelectionMismatch, ...] = ()
    # What was not imported and why (the standard asks importers to say what they discard).
    warnings: tuple[str, ...] = ()
    data: Mapping[str, Any] = field(default_factory=dict)  # "[groundcoder] {...}" line of the project description

    def source(self, guid: str) -> QdaSource:
        for s in self.sources:
            if s.guid == guid:
                return s
        raise KeyError(guid)

    def code(self, guid: str) -> QdaCode:
        for c in self.codes:
            if c.guid == guid:
                return c
        raise KeyError(guid)

    @property
    def has_model_codings(self) -> bool:
        return any(c.is_model for s in self.selections for c in s.codings)

    def training_quotes(self) -> list[TrainingQuote]:
        """Human codings as training quotes: one per selection and coder, its concepts together.

        Codings by the groundcoder-model user are suggestions, not training data: they are left out
        (see ``groundcoder.qdpx.review`` for turning reviewed suggestions into training data).
        """
        sources = {s.guid: s for s in self.sources}
        grouped: dict[tuple[str, int, int, str], dict[str, Any]] = {}
        for sel in self.selections:
            source = sources[sel.source_guid]
            for coding in sel.codings:
                if coding.is_model or not coding.code_name:
                    continue
                coder = coding.user_name or "qdpx-import"
                key = (source.doc_id, sel.start, sel.end, coder)
                entry = grouped.setdefault(
                    key, {"sel": sel, "source": source, "concepts": [], "memos": []}
                )
                if coding.code_name not in entry["concepts"]:
                    entry["concepts"].append(coding.code_name)
                entry["memos"].extend(n for n in coding.notes if n not in entry["memos"])
        quotes = [
            TrainingQuote(
                doc=doc,
                start=start,
                end=end,
                text=entry["sel"].text,
                concepts=tuple(entry["concepts"]),
                coder=coder,
                firm=entry["source"].firm_code,
                memo="\n".join(entry["memos"]),
                selection_guid=entry["sel"].guid,
                name_matches=entry["sel"].name_matches,
            )
            for (doc, start, end, coder), entry in grouped.items()
        ]
        return sorted(quotes, key=lambda q: (q.doc, q.start, q.end, q.coder))

    def summary(self) -> dict[str, Any]:
        codings = [c for s in self.selections for c in s.codings]
        return {
            "file": str(self.path) if self.path else None,
            "name": self.name,
            "origin": self.origin,
            "users": [u.label for u in self.users],
            "codes": len(self.codes),
            "codebook": self.codebook.summary() if self.codebook else None,
            "codebook_problem": self.codebook_problem or None,
            "sources": len(self.sources),
            "characters": sum(len(s.text) for s in self.sources),
            "offset_bases": sorted({s.offset_basis for s in self.sources}),
            "cases": len(self.cases),
            "selections": len(self.selections),
            "codings": len(codings),
            "human_codings": sum(1 for c in codings if not c.is_model),
            "model_codings": sum(1 for c in codings if c.is_model),
            "training_quotes": len(self.training_quotes()),
            "graphs": len(self.graphs),
            "name_mismatches": [str(m) for m in self.mismatches],
            "warnings": list(self.warnings),
        }


def _short(text: str, limit: int = 40) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
