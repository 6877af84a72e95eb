"""The input of every analysis: a ``CodingSet`` of ``CodedSegment`` s plus the codebook.

A ``CodedSegment`` is one coder's judgement on one span of one document: the concepts the coder gave
it (empty when the coder looked at the span and left it uncoded, as the demo corpus's second coder
sometimes does). Human codings, model suggestions and imported codings all arrive in this form, so
the factor model, the case analysis and the reliability measures never care where codings came from.

Build a set with

* ``CodingSet.from_demo_corpus()`` -- the shipped demo corpus (coder1, coder2 or both);
* ``CodingSet.from_store(store)`` -- the codings of a project store (one segment per coder and span,
  the concepts of that span's rows together);
* ``CodingSet.from_segments(segments, codebook, documents=..., firms=..., texts=...)`` -- anything
  else, e.g. the auto-coder's suggestions.

Every segment has a ``quote_id``: the demo corpus's quote id, or ``doc_id:start-end`` where none is
given; every count the analyses report can be expanded to these ids (see their evidence tables).
Document metadata (``SourceDocument``) and firm metadata (``FirmInfo``) travel with the set, because
the sample table counts a firm's sources by kind and the case analysis names the firms; document
texts are loaded on demand through ``text(doc_id)`` (paragraph windows and sentence units need them).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from ..codebook import Codebook
from ..errors import InputError

if TYPE_CHECKING:  # pragma: no cover
    from ..demo_corpus.load import DemoCorpus
    from ..store import ProjectStore

# The study's names for the kinds of source (table 1: 报道、网站资料、期刊; plus annual reports).
SOURCE_KIND_LABELS: dict[str, str] = {
    "news": "报道",
    "website": "网站资料",
    "journal": "期刊",
    "annual_report": "年报",
}
SOURCE_KIND_ORDER: tuple[str, ...] = ("news", "website", "journal", "annual_report")


def source_kind_label(kind: str) -> str:
    return SOURCE_KIND_LABELS.get(kind, kind)


@dataclass(frozen=True)
class CodedSegment:
    """One coder's concepts for the span ``[start, end)`` (code points) of a document.

    ``source_kind`` is the kind of the document (annual_report, website, news, journal, ...);
    ``coder`` names the coder (a person, or a model run such as ``model:run-7``); ``confidence`` is
    a model's probability (None for people). ``concepts`` empty = reviewed and left uncoded.
    """

    doc_id: str
    firm_id: str
    start: int
    end: int
    text: str
    concepts: tuple[str, ...]
    coder: str
    source_kind: str
    confidence: float | None = None
    coder_kind: str = ""  # human | model; empty: model when a confidence is given, else human
    quote_id: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "concepts", tuple(dict.fromkeys(self.concepts)))
        if not self.coder_kind:
            object.__setattr__(self, "coder_kind", "model" if self.confidence is not None else "human")
        if not self.quote_id:
            object.__setattr__(self, "quote_id", f"{self.doc_id}:{self.start}-{self.end}")
        if not (0 <= self.start < self.end):
            raise ValueError(f"segment {self.quote_id}: span {self.start}:{self.end} is empty or negative")

    @property
    def span(self) -> tuple[str, int, int]:
        return (self.doc_id, self.start, self.end)


@dataclass(frozen=True)
class SourceDocument:
    """A source (材料): one document of a firm."""

    doc_id: str
    firm_id: str
    kind: str
    year: int | None = None
    title: str = ""


@dataclass(frozen=True)
class FirmInfo:
    firm_id: str
    name: str = ""
    short_name: str = ""
    products: str = ""
    founded: str = ""  # ISO date or year, as given
    industry: str = ""
    province: str = ""
    sample: str = ""

    @property
    def display_name(self) -> str:
        return self.short_name or self.name or self.firm_id


@dataclass(frozen=True)
class CodeRef:
    """Where a code sits in the codebook; None above the level a code reaches (unknown concepts)."""

    concept: str
    initial: str | None
    main: str | None
    role: str | None


@dataclass
class CodingSet:
    """Coded segments with the codebook, document and firm metadata and a document-text loader."""

    segments: list[CodedSegment]
    codebook: Codebook
    documents: dict[str, SourceDocument] = field(default_factory=dict)
    firms: dict[str, FirmInfo] = field(default_factory=dict)
    text_loader: Callable[[str], str] | None = field(default=None, repr=False)
    name: str = ""
    _texts: dict[str, str] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        self.segments = sorted(self.segments, key=lambda s: (s.doc_id, s.start, s.end, s.coder))
        # Documents and firms named only by segments still get a record, so every table has a row.
        for s in self.segments:
            if s.doc_id not in self.documents:
                self.documents[s.doc_id] = SourceDocument(s.doc_id, s.firm_id, s.source_kind)
            if s.firm_id not in self.firms:
                self.firms[s.firm_id] = FirmInfo(s.firm_id)

    # ---- construction -------------------------------------------------------------------------

    @classmethod
    def from_segments(
        cls,
        segments: Iterable[CodedSegment],
        codebook: Codebook | None = None,
        documents: Iterable[SourceDocument] | Mapping[str, SourceDocument] = (),
        firms: Iterable[FirmInfo] | Mapping[str, FirmInfo] = (),
        texts: Mapping[str, str] | Callable[[str], str] | None = None,
        name: str = "",
    ) -> CodingSet:
        docs = dict(documents) if isinstance(documents, Mapping) else {d.doc_id: d for d in documents}
        firm_map = dict(firms) if isinstance(firms, Mapping) else {f.firm_id: f for f in firms}
        loader: Callable[[str], str] | None
        if texts is None or callable(texts):
            loader = texts  # type: ignore[assignment]
        else:
            text_map = dict(texts)
            loader = text_map.__getitem__
        return cls(list(segments), codebook or Codebook.default(), docs, firm_map, loader, name)

    @classmethod
    def from_demo_corpus(
        cls,
        corpus: DemoCorpus | None = None,
        coders: Sequence[str] = ("coder1",),
        codebook: Codebook | None = None,
        firm_ids: Iterable[str] | None = None,
    ) -> CodingSet:
        """The demo corpus's codings: ``coder1`` (the reference coding) and/or ``coder2``.

        coder2 segments with no concepts are spans the second coder reviewed and left uncoded.
        """
        from ..demo_corpus.load import load_demo_corpus

        corpus = corpus if corpus is not None else load_demo_corpus()
        wanted = set(firm_ids) if firm_ids is not None else None
        kinds = {d.doc_id: d.kind for d in corpus.documents}
        sources = {"coder1": corpus.quotes, "coder2": corpus.coder2}
        segments = []
        for coder in coders:
            if coder not in sources:
                raise InputError(None, f"the demo corpus has no coder {coder!r}", hint="coders: coder1, coder2")
            for q in sources[coder]:
                if wanted is not None and q.firm_id not in wanted:
                    continue
                segments.append(
                    CodedSegment(q.doc_id, q.firm_id, q.start, q.end, q.text, tuple(q.concepts), coder,
                                 kinds[q.doc_id], quote_id=q.quote_id)
                )
        documents = {
            d.doc_id: SourceDocument(d.doc_id, d.firm_id, d.kind, d.year, d.title)
            for d in corpus.documents
            if wanted is None or d.firm_id in wanted
        }
        firms = {
            f.firm_id: FirmInfo(f.firm_id, f.name, f.short_name, f.products, f.founded, f.industry, f.province, f.sample)
            for f in corpus.firms
            if wanted is None or f.firm_id in wanted
        }
        return cls(segments, codebook or Codebook.default(), documents, firms, corpus.text, name="demo corpus")

    @classmethod
    def from_store(
        cls,
        store: ProjectStore,
        coders: Sequence[str] | None = None,
        coder_kind: str | None = None,
        model_run_id: str | None = None,
        codebook: Codebook | None = None,
    ) -> CodingSet:
        """The store's codings: all, or those of ``coders`` / ``coder_kind`` / one model run.

        A name in ``coders`` may be a coder id or a model run id; codings selected by run id are
        named after the run (so ``coders=["alice", "run-7"]`` compares a person with a model run);
        without ``coders``, model codings are named after their run too.
        ``model_run_id`` keeps only that run's model codings (human codings stay). Rows of one coder
        on the same span become one segment with all their concepts; a model segment's confidence
        is the lowest of its rows. The codebook defaults to the store's latest, else the shipped one.
        """
        if codebook is None:
            latest = store.latest_codebook()
            codebook = Codebook.from_yaml_text(latest.yaml_text) if latest is not None else Codebook.default()
        rows = store.codings(coder_kind=coder_kind)
        if model_run_id is not None:
            if store.model_run(model_run_id) is None:
                known_runs = ", ".join(r.run_id for r in store.model_runs()) or "none"
                raise InputError(store.path, f"no model run {model_run_id!r} in this project (runs: {known_runs})")
            rows = [r for r in rows if r.coder_kind != "model" or r.model_run_id == model_run_id]
        named: list[tuple[str, Any]] = []
        if coders:
            wanted = list(dict.fromkeys(coders))
            found: set[str] = set()
            for r in rows:
                if r.coder in wanted:
                    named.append((r.coder, r))
                    found.add(r.coder)
                elif r.model_run_id is not None and r.model_run_id in wanted:
                    named.append((r.model_run_id, r))
                    found.add(r.model_run_id)
            missing = [c for c in wanted if c not in found]
            if missing:
                everyone = store.codings()
                known = sorted({r.coder for r in everyone} | {r.model_run_id for r in everyone if r.model_run_id})
                raise InputError(
                    store.path,
                    f"no codings by {', '.join(missing)} in this project"
                    + (f" (with coder kind {coder_kind})" if coder_kind else ""),
                    hint=f"coders and model runs with codings: {', '.join(known) or 'none yet'}",
                )
        else:  # model codings under their run id: two runs of one model stay apart
            named = [(r.model_run_id if r.coder_kind == "model" and r.model_run_id else r.coder, r) for r in rows]
        docs = {d.doc_id: d for d in store.documents()}
        grouped: dict[tuple[str, int, int, str], list[Any]] = defaultdict(list)
        for name, r in named:
            grouped[(r.doc_id, r.start, r.end, name)].append(r)
        segments = []
        for (doc_id, start, end, coder), group in grouped.items():
            doc = docs[doc_id]
            confidences = [g.confidence for g in group if g.confidence is not None]
            segments.append(
                CodedSegment(
                    doc_id, doc.firm_code, start, end, group[0].text or "", tuple(g.concept for g in group), coder,
                    doc.kind, min(confidences) if confidences else None, group[0].coder_kind,
                )
            )
        documents = {d.doc_id: SourceDocument(d.doc_id, d.firm_code, d.kind, d.year, d.title) for d in docs.values()}
        firms = {}
        for f in store.firms():
            attrs = {str(k): str(v) for k, v in dict(f.attributes).items()}
            firms[f.code] = FirmInfo(
                f.code,
                f.name,
                _first(attrs, "short_name", "简称", "证券简称"),
                _first(attrs, "products", "主营产品", "主营产品类型", "main_products"),
                f.founded.isoformat() if f.founded else "",
                f.industry,
                _first(attrs, "province", "省份", "所属省份"),
                _first(attrs, "sample"),
            )
        return cls(segments, codebook, documents, firms, store.document_text, name=str(store.path))

    # ---- views --------------------------------------------------------------------------------

    def text(self, doc_id: str) -> str:
        """The document's full text (loaded once); an error if the set has no text loader."""
        if doc_id not in self._texts:
            if self.text_loader is None:
                raise InputError(None, f"no text for document {doc_id!r}: this coding set was built without texts")
            self._texts[doc_id] = self.text_loader(doc_id)
        return self._texts[doc_id]

    @property
    def has_texts(self) -> bool:
        return self.text_loader is not None

    @property
    def coders(self) -> list[str]:
        return sorted({s.coder for s in self.segments})

    def _derive(self, segments: Iterable[CodedSegment]) -> CodingSet:
        return CodingSet(list(segments), self.codebook, dict(self.documents), dict(self.firms), self.text_loader,
                         self.name, self._texts)

    def for_coders(self, *coders: str) -> CodingSet:
        unknown = set(coders) - set(self.coders)
        if unknown:
            raise InputError(None, f"no codings by {', '.join(sorted(unknown))}", hint=f"coders: {', '.join(self.coders)}")
        return self._derive(s for s in self.segments if s.coder in coders)

    def for_firms(self, firm_ids: Iterable[str]) -> CodingSet:
        wanted = set(firm_ids)
        out = self._derive(s for s in self.segments if s.firm_id in wanted)
        out.documents = {k: d for k, d in out.documents.items() if d.firm_id in wanted}
        out.firms = {k: f for k, f in out.firms.items() if k in wanted}
        return out

    def coded(self) -> list[CodedSegment]:
        """Segments with at least one concept."""
        return [s for s in self.segments if s.concepts]

    def __add__(self, other: CodingSet) -> CodingSet:
        """Both sets' segments (e.g. human codings of some firms and model codings of others)."""
        texts_a, texts_b = self, other

        def load(doc_id: str) -> str:
            if doc_id in texts_a.documents and texts_a.has_texts:
                return texts_a.text(doc_id)
            return texts_b.text(doc_id)

        loader = load if (self.has_texts or other.has_texts) else None
        return CodingSet(self.segments + other.segments, self.codebook, {**other.documents, **self.documents},
                         {**other.firms, **self.firms}, loader, self.name or other.name)

    def __len__(self) -> int:
        return len(self.segments)

    # ---- codebook lookups ---------------------------------------------------------------------

    def ref(self, concept: str) -> CodeRef:
        """A concept's place in the codebook; a concept the codebook lacks has no categories."""
        try:
            path = self.codebook.concept_path(concept)
        except KeyError:
            return CodeRef(concept, None, None, None)
        return CodeRef(concept, path.initial, path.main, path.role)

    def codes(self, segment: CodedSegment, level: str) -> tuple[str, ...]:
        """The segment's codes at ``level`` (concept / initial / main / role), codebook codes only."""
        out: list[str] = []
        for concept in segment.concepts:
            ref = self.ref(concept)
            if ref.initial is None:
                continue
            value = {"concept": ref.concept, "initial": ref.initial, "main": ref.main, "role": ref.role}[level]
            if value is not None:
                out.append(value)
        return tuple(dict.fromkeys(out))

    def unknown_concepts(self) -> dict[str, list[CodedSegment]]:
        """Concepts the codebook lacks (e.g. a new theme found in held-out firms), with their segments."""
        out: dict[str, list[CodedSegment]] = defaultdict(list)
        for s in self.segments:
            for concept in s.concepts:
                if self.ref(concept).initial is None:
                    out[concept].append(s)
        return dict(out)

    def with_codebook(self, codebook: Codebook) -> CodingSet:
        out = self._derive(self.segments)
        out.codebook = codebook
        return out


LEVELS = ("concept", "initial", "main")
LEVEL_LABELS = {"concept": "初始概念", "initial": "初始范畴", "main": "主范畴", "role": "作用"}


def _first(attrs: Mapping[str, str], *keys: str) -> str:
    for key in keys:
        if attrs.get(key):
            return attrs[key]
    return ""


def replace_coder(segments: Iterable[CodedSegment], coder: str, coder_kind: str | None = None) -> list[CodedSegment]:
    """The same segments under another coder name (e.g. to compare two runs of one model)."""
    return [replace(s, coder=coder, coder_kind=coder_kind or s.coder_kind) for s in segments]
