"""Validation of authored demo-corpus files: what the corpus test enforces, usable while writing."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import InputError
from .authoring import DOCUMENT_KINDS, AuthoredFirm, parse_authoring_file
from .quality import dominant_phrases, similar_pairs

DOC_MIN_CHARS = 1500
DOC_MAX_CHARS = 6000
QUOTE_MIN_CHARS = 8
QUOTE_MAX_CHARS = 200
SAMPLES = ("train", "holdout", "holdout_new")
INDUSTRIES = ("manufacturing", "software", "equipment", "electronics")


@dataclass
class CheckReport:
    problems: list[str] = field(default_factory=list)
    concept_counts: Counter = field(default_factory=Counter)
    n_quotes: int = 0
    n_documents: int = 0
    n_chars: int = 0

    @property
    def ok(self) -> bool:
        return not self.problems


def codebook_concepts() -> set[str]:
    from ..codebook import Codebook

    return set(Codebook.default().concept_names)


def check_firms(firms: Iterable[AuthoredFirm], concepts: set[str], all_quote_texts: list[tuple[str, str]] | None = None) -> CheckReport:
    """Check firms; ``all_quote_texts`` ((where, text) of every quote in the corpus) widens the similarity check."""
    report = CheckReport()
    firms = list(firms)
    own: list[tuple[str, str]] = []
    by_concept: dict[str, list[str]] = defaultdict(list)
    for firm in firms:
        meta = firm.meta
        if meta["sample"] not in SAMPLES:
            report.problems.append(f"{firm.path}: sample {meta['sample']!r} is not one of {SAMPLES}")
        if meta["industry"] not in INDUSTRIES:
            report.problems.append(f"{firm.path}: industry {meta['industry']!r} is not one of {INDUSTRIES}")
        kinds = Counter(d.kind for d in firm.documents)
        if kinds["annual_report"] < 2:
            report.problems.append(f"{firm.path}: needs at least 2 annual_report documents, has {kinds['annual_report']}")
        for doc in firm.documents:
            report.n_documents += 1
            report.n_chars += len(doc.text)
            if not DOC_MIN_CHARS <= len(doc.text) <= DOC_MAX_CHARS:
                report.problems.append(
                    f"{firm.path}:{doc.line}: {doc.doc_id} has {len(doc.text)} characters; "
                    f"documents must have {DOC_MIN_CHARS}-{DOC_MAX_CHARS}")
            for q in doc.quotes:
                where = f"{firm.path}:{q.line}"
                if doc.text[q.start:q.end] != q.text:
                    report.problems.append(f"{where}: offsets do not match the quote text")
                if not QUOTE_MIN_CHARS <= len(q.text) <= QUOTE_MAX_CHARS:
                    report.problems.append(f"{where}: quote has {len(q.text)} characters "
                                           f"(expected {QUOTE_MIN_CHARS}-{QUOTE_MAX_CHARS}): {q.text[:30]}")
                for name in list(q.concepts) + list(q.coder2 or []):
                    if name not in concepts and name not in q.new_concepts:
                        report.problems.append(f"{where}: unknown concept {name!r}")
                if q.new_concepts and meta["sample"] != "holdout_new":
                    report.problems.append(f"{where}: NEW: concepts belong only in holdout_new firms")
                if q.concepts:
                    report.n_quotes += 1
                    own.append((where, q.text))
                    for name in q.concepts:
                        report.concept_counts[name] += 1
                        by_concept[name].append(q.text)
    others = [item for item in (all_quote_texts or []) if item not in own]
    pool = own + others
    for pair in similar_pairs([t for _, t in pool]):
        if pair.first < len(own) or pair.second < len(own):
            a, b = pool[pair.first], pool[pair.second]
            report.problems.append(f"{a[0]}: quote too similar (5-gram Jaccard {pair.similarity:.2f}) to {b[0]}: "
                                   f"{a[1][:25]} / {b[1][:25]}")
    for dom in dominant_phrases(by_concept):
        report.problems.append(f"concept {dom.concept}: phrase {dom.phrase!r} occurs in {dom.share:.0%} of its "
                               f"{dom.n_quotes} quotes; vary the wording")
    return report


def check_paths(paths: Iterable[str | Path], authoring_dir: Path | None = None) -> CheckReport:
    paths = [Path(p).resolve() for p in paths]
    firms = []
    report = CheckReport()
    for path in paths:
        try:
            firms.append(parse_authoring_file(path))
        except InputError as exc:
            report.problems.append(str(exc))
    everyone: list[tuple[str, str]] = []
    if authoring_dir is not None:
        for other in sorted(authoring_dir.resolve().glob("D*.txt")):
            try:
                firm = parse_authoring_file(other)
            except InputError:
                continue
            for doc in firm.documents:
                everyone.extend((f"{other}:{q.line}", q.text) for q in doc.quotes if q.concepts)
    sub = check_firms(firms, codebook_concepts(), everyone)
    sub.problems[:0] = report.problems
    return sub
