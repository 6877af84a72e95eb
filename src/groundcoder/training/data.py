"""Training data: hand-coded quotes from the project store, a table (CSV/XLSX/JSONL) or the demo corpus.

Everything comes in as ``QuoteRow`` (one coded quote, validated against the codebook at the boundary)
and goes out as ``TrainingExample`` (one text with its set of concepts):

* ``load_quotes(path, codebook, documents=...)`` reads a file, dispatching by suffix: ``.csv``,
  ``.xlsx``, ``.jsonl`` (also the demo corpus's ``coded.jsonl``), ``.qdpx`` (a REFI-QDA project from
  NVivo, ATLAS.ti, MAXQDA or QualCoder, read by ``groundcoder.qdpx``) or a demo-corpus folder.
* ``load_store_quotes(store, codebook)`` reads the human codings of a project store.
* ``build_examples(rows, documents, negatives)`` merges duplicate quotes (same text) into one
  multi-label example and adds "no code" negatives: sentences of coded documents that overlap no coded
  quote.

One row per quote: ``text`` (or ``doc_id`` + ``start`` + ``end`` with a documents folder), ``concept``
(one, or several joined by ``;``), ``coder`` and optionally ``firm_id``. Every bad row is collected and
reported together in one ``TrainingDataError`` with its row number (the row as Excel shows it: the
header is row 1) or its line (JSONL), and an unknown concept gets close matches from the codebook.
"""

from __future__ import annotations

import csv
import json
import random
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..codebook import Codebook
from ..errors import InputError
from ..segmentation import split_sentences

QUOTE_SUFFIXES = (".csv", ".xlsx", ".jsonl", ".qdpx")
CONCEPT_SEPARATORS = re.compile(r"[;；]")
# Problems listed in an error message; the rest are counted.
_MAX_LISTED = 50


@dataclass(frozen=True)
class TrainingExample:
    """One text and the concepts coded on it; an empty ``concepts`` is a "no code" example."""

    text: str
    concepts: frozenset[str]
    firm_id: str
    doc_id: str | None = None
    source: str = ""  # where it came from: "coded.jsonl:12", "store:coding 7", "negative"

    @property
    def is_negative(self) -> bool:
        return not self.concepts


@dataclass(frozen=True)
class QuoteRow:
    """One validated coded quote as read from a file or the store."""

    row: int  # row (tables), line (JSONL) or coding id (store)
    text: str
    concepts: tuple[str, ...]
    coder: str
    firm_id: str
    doc_id: str | None = None
    start: int | None = None
    end: int | None = None
    source: str = ""
    # Concepts the codebook does not have that the row marks as new (demo corpus ``new_concepts``):
    # the passage is coded (never a negative) but teaches nothing about the codebook's concepts.
    new_concepts: tuple[str, ...] = ()


@dataclass(frozen=True)
class RowProblem:
    row: int | None
    message: str
    line: int | None = None

    def where(self) -> str:
        if self.line is not None:
            return f"line {self.line}"
        if self.row is not None:
            return f"row {self.row}"
        return "file"


class TrainingDataError(InputError):
    """Every bad row of a training-data file, reported together with its row (or line) number."""

    def __init__(self, path: str | Path | None, problems: Sequence[RowProblem], hint: str | None = None) -> None:
        self.problems = tuple(problems)
        first = self.problems[0] if len(self.problems) == 1 else None
        n = len(self.problems)
        super().__init__(
            path,
            f"{n} bad row{'s' if n != 1 else ''} in the training data",
            row=first.row if first and first.line is None else None,
            line=first.line if first else None,
            hint=hint or "fix them all and run again; nothing was trained",
        )

    def problem_lines(self) -> list[str]:
        lines = [f"{p.where()}: {p.message}" for p in self.problems[:_MAX_LISTED]]
        if len(self.problems) > _MAX_LISTED:
            lines.append(f"... and {len(self.problems) - _MAX_LISTED} more")
        return lines

    def __str__(self) -> str:
        where = str(self.path) if self.path is not None else "<input>"
        head = f"{where}: {self.message} ({self.hint}):" if self.hint else f"{where}: {self.message}:"
        return "\n".join([head, *("  " + line for line in self.problem_lines())])


@dataclass(frozen=True)
class SourceDocument:
    """A coded document: its firm and text (the text is where negatives come from)."""

    doc_id: str
    firm_id: str
    text: str


@dataclass
class QuoteSet:
    """What a loader read: the valid quotes, the documents they are in (where known) and notes."""

    rows: list[QuoteRow]
    documents: dict[str, SourceDocument] = field(default_factory=dict)
    source: str = ""
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class NegativeSettings:
    """Uncoded sentences of coded documents as "no code" examples."""

    enabled: bool = True
    ratio: float = 1.0  # negatives per positive example
    cap: int | None = 5000  # at most this many
    min_chars: int = 8  # shorter sentences are dropped


@dataclass
class DataSummary:
    source: str
    rows: int
    examples: int
    positives: int
    negatives: int
    multi_label: int
    merged_duplicates: int
    merged_across_firms: int
    new_concept_only: int
    firms: int
    documents: int
    concept_counts: dict[str, int]
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        from dataclasses import asdict

        return asdict(self)


# --------------------------------------------------------------------------------------------------
# Concepts


def parse_concepts(value: Any) -> list[str]:
    """``"A; B"``, ``"A；B"`` or a list -> ["A", "B"] (blanks dropped)."""
    if value is None:
        return []
    if isinstance(value, (list, tuple)):
        items = [str(v) for v in value]
    else:
        items = CONCEPT_SEPARATORS.split(str(value))
    return [item.strip() for item in items if item and item.strip()]


def _unknown_concept_message(codebook: Codebook, name: str) -> str:
    from ..codebook import CONCEPT, UnknownNameError

    try:
        kind = codebook.kind_of(name)
    except UnknownNameError:
        kind = None
    if kind is not None and kind != CONCEPT:
        members = codebook.concepts_of(name)
        shown = "、".join(members[:8]) + ("…" if len(members) > 8 else "")
        return f"{name!r} is an {kind}, not a concept; code the quote with one of its concepts: {shown}"
    message = f"unknown concept {name!r}"
    suggestions = codebook.suggest(name)
    if suggestions:
        message += "; did you mean " + " or ".join(repr(s) for s in suggestions) + "?"
    else:
        message += " (not in the codebook; check its spelling or add it to the codebook)"
    return message


# --------------------------------------------------------------------------------------------------
# Files


def load_quotes(
    path: str | Path,
    codebook: Codebook,
    documents: str | Path | None = None,
    coders: Sequence[str] | None = None,
) -> QuoteSet:
    """Read hand-coded quotes from a file, by its suffix, validated against ``codebook``.

    ``documents`` is a folder of ``<doc_id>.txt`` files (UTF-8), needed for rows that give
    ``doc_id`` + ``start`` + ``end`` instead of ``text``, and for negatives; a ``documents.csv`` in it
    (doc_id, firm_id) gives rows without ``firm_id`` their firm. ``coders`` keeps only those coders'
    rows (default: all). A folder holding ``coded.jsonl`` is read as a demo-corpus-style corpus.
    """
    path = Path(path)
    if path.is_dir():
        if (path / "coded.jsonl").exists():
            return load_demo_quotes(codebook, path, coders=coders)
        raise InputError(path, "is a folder without coded.jsonl", hint="give a .csv, .xlsx or .jsonl of coded quotes")
    if not path.exists():
        raise InputError(path, "no such file", hint="check the path of the training data")
    suffix = path.suffix.lower()
    if suffix == ".qdpx":
        return load_qdpx_quotes(path, codebook, coders=coders)
    if suffix == ".csv":
        records = _read_csv_records(path)
    elif suffix == ".xlsx":
        records = _read_xlsx_records(path)
    elif suffix == ".jsonl":
        records = _read_jsonl_records(path)
    else:
        raise InputError(
            path,
            f"cannot read training data from a {suffix or 'suffix-less'} file",
            hint="use " + ", ".join(QUOTE_SUFFIXES) + " (one row per coded quote, or a REFI-QDA project), or a demo-corpus folder",
        )
    doc_folder = Path(documents) if documents is not None else None
    return _validate_records(path, records, codebook, doc_folder, coders, by_line=suffix == ".jsonl")


@dataclass
class _Record:
    number: int  # row or line
    values: dict[str, Any]


def _read_csv_records(path: Path) -> list[_Record]:
    try:
        with open(path, encoding="utf-8-sig", newline="") as fh:
            reader = csv.DictReader(fh)
            records = [
                _Record(reader.line_num, {(k or "").strip().lower(): v for k, v in row.items()})
                for row in reader
            ]
            header = [(h or "").strip().lower() for h in (reader.fieldnames or [])]
    except UnicodeDecodeError as exc:
        raise InputError(path, f"is not UTF-8 text ({exc.reason})", hint="save the table as CSV UTF-8 (Excel: 'CSV UTF-8')") from exc
    except csv.Error as exc:
        raise InputError(path, f"is not a readable CSV file ({exc})") from exc
    _check_header(path, header)
    return records


def _read_xlsx_records(path: Path) -> list[_Record]:
    import openpyxl

    try:
        workbook = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises several kinds for a bad file
        raise InputError(path, f"is not a readable Excel workbook ({exc})", hint="save it as .xlsx") from exc
    try:
        sheet = workbook.worksheets[0]
        rows = sheet.iter_rows(values_only=True)
        try:
            header_row = next(rows)
        except StopIteration:
            raise InputError(path, "the first sheet is empty") from None
        header = [str(h).strip().lower() if h is not None else "" for h in header_row]
        _check_header(path, header)
        records = []
        for number, values in enumerate(rows, start=2):
            record = {h: v for h, v in zip(header, values) if h}
            records.append(_Record(number, record))
    finally:
        workbook.close()
    return records


def _read_jsonl_records(path: Path) -> list[_Record]:
    records = []
    problems = []
    with open(path, encoding="utf-8") as fh:
        for number, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                value = json.loads(line)
            except json.JSONDecodeError as exc:
                problems.append(RowProblem(None, f"not valid JSON ({exc.msg})", line=number))
                continue
            if not isinstance(value, dict):
                problems.append(RowProblem(None, "not a JSON object", line=number))
                continue
            records.append(_Record(number, {str(k).strip().lower(): v for k, v in value.items()}))
    if problems:
        raise TrainingDataError(path, problems)
    return records


def _check_header(path: Path, header: list[str]) -> None:
    columns = set(header)
    missing = []
    if not ({"concept", "concepts"} & columns):
        missing.append("concept")
    if "text" not in columns and not {"doc_id", "start", "end"} <= columns:
        missing.append("text (or doc_id, start and end)")
    if missing:
        raise InputError(
            path,
            f"the header lacks {' and '.join(missing)} (columns found: {', '.join(h for h in header if h) or 'none'})",
            row=1,
            hint="one row per quote with columns text, concept, coder and optionally firm_id",
        )


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip()) or (isinstance(value, float) and value != value)


def _as_int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and re.fullmatch(r"\s*\d+\s*", value):
        return int(value)
    return None


class _DocumentFolder:
    """``<doc_id>.txt`` files of a folder, read once; ``documents.csv`` maps doc_id -> firm_id.

    ``texts`` are documents known already (a REFI-QDA project's sources), used before the folder.
    """

    def __init__(self, folder: Path | None, texts: Mapping[str, str] | None = None) -> None:
        self.folder = folder
        self.firm_of: dict[str, str] = {}
        self.texts: dict[str, str | None] = dict(texts or {})
        self.known = bool(texts)
        if folder is None:
            return
        if not folder.is_dir():
            raise InputError(folder, "the documents folder does not exist", hint="give the folder of <doc_id>.txt files")
        table = folder / "documents.csv"
        if not table.exists() and (folder.parent / "documents.csv").exists():
            table = folder.parent / "documents.csv"
        if table.exists():
            with open(table, encoding="utf-8-sig", newline="") as fh:
                for row in csv.DictReader(fh):
                    if row.get("doc_id") and row.get("firm_id"):
                        self.firm_of[row["doc_id"].strip()] = row["firm_id"].strip()

    def text(self, doc_id: str) -> str | None:
        if doc_id in self.texts:
            return self.texts[doc_id]
        if self.folder is None:
            return None
        if doc_id not in self.texts:
            path = self.folder / f"{doc_id}.txt"
            self.texts[doc_id] = path.read_text(encoding="utf-8").removesuffix("\n") if path.is_file() else None
        return self.texts[doc_id]


def _validate_records(
    path: Path,
    records: Iterable[_Record],
    codebook: Codebook,
    doc_folder: Path | None,
    coders: Sequence[str] | None,
    by_line: bool,
    texts: Mapping[str, str] | None = None,
) -> QuoteSet:
    folder = _DocumentFolder(doc_folder, texts)
    names = set(codebook.concept_names)
    wanted_coders = set(coders) if coders else None
    rows: list[QuoteRow] = []
    problems: list[RowProblem] = []
    skipped_coders: Counter[str] = Counter()

    for record in records:
        values = record.values
        if all(_blank(v) for v in values.values()):
            continue

        def problem(message: str) -> None:
            where = values.get("_where")
            message = f"{where}: {message}" if where else message
            problems.append(RowProblem(None if by_line else record.number, message, line=record.number if by_line else None))

        coder = "" if _blank(values.get("coder")) else str(values.get("coder")).strip()
        if wanted_coders is not None and coder not in wanted_coders:
            skipped_coders[coder or "(none)"] += 1
            continue
        raw = values.get("concepts") if not _blank(values.get("concepts")) else values.get("concept")
        concepts = parse_concepts(raw)
        new_concepts = tuple(parse_concepts(values.get("new_concepts")))
        row_ok = True
        if not concepts and not new_concepts:
            problem("no concept given (column concept; join several with ';')")
            row_ok = False
        known = []
        for name in concepts:
            if name in names:
                known.append(name)
            elif name not in new_concepts:
                problem(_unknown_concept_message(codebook, name))
                row_ok = False

        text = None if _blank(values.get("text")) else str(values.get("text"))
        doc_id = None if _blank(values.get("doc_id")) else str(values.get("doc_id")).strip()
        has_start, has_end = not _blank(values.get("start")), not _blank(values.get("end"))
        start = end = None
        if has_start or has_end:
            start, end = _as_int(values.get("start")), _as_int(values.get("end"))
            if start is None or end is None:
                problem(
                    f"bad offsets start={values.get('start')!r}, end={values.get('end')!r}: both must be whole numbers "
                    "(code points into the document text)"
                )
                row_ok = False
            elif not start < end:
                problem(f"bad offsets {start}:{end}: start must be smaller than end")
                row_ok = False
        if text is None and not (doc_id and has_start and has_end):
            problem("missing text: give the quote in column text, or doc_id with start and end")
            row_ok = False
        elif row_ok and doc_id and start is not None and end is not None:
            document = folder.text(doc_id)
            if document is None and folder.known and folder.folder is None:
                problem(f"document {doc_id!r} is not among the project's sources")
                row_ok = False
            elif document is None and folder.folder is not None:
                problem(f"document {doc_id!r} is not in the documents folder {folder.folder} (no {doc_id}.txt)")
                row_ok = False
            elif document is None:
                if text is None:
                    problem(f"offsets {start}:{end} of document {doc_id!r} need the documents folder (data.documents)")
                    row_ok = False
                else:
                    start = end = None  # the text stands alone; the offsets cannot be checked
            elif end > len(document):
                problem(f"bad offsets {start}:{end}: document {doc_id!r} has only {len(document)} characters")
                row_ok = False
            elif text is not None and document[start:end] != text:
                problem(
                    f"bad offsets {start}:{end}: document {doc_id!r} has {document[start:end][:30]!r} there, "
                    f"not the quote {text[:30]!r} (offsets are code points into the text)"
                )
                row_ok = False
            elif text is None:
                text = document[start:end]
        if row_ok and text is not None and not text.strip():
            problem("missing text: the quote is blank")
            row_ok = False
        if not row_ok:
            continue
        firm = None if _blank(values.get("firm_id")) else str(values.get("firm_id")).strip()
        if firm is None and doc_id:
            firm = folder.firm_of.get(doc_id) or doc_id
        assert text is not None
        rows.append(
            QuoteRow(
                row=record.number,
                text=text.strip(),
                concepts=tuple(dict.fromkeys(known)),
                coder=coder or "unknown",
                firm_id=firm or "",
                doc_id=doc_id,
                start=start if doc_id else None,
                end=end if doc_id else None,
                source=f"{path.name}:{record.number}",
                new_concepts=new_concepts,
            )
        )
    if problems:
        raise TrainingDataError(path, problems)
    notes = []
    if skipped_coders:
        notes.append(
            "left out rows of coders not selected: " + ", ".join(f"{c} ({n})" for c, n in sorted(skipped_coders.items()))
        )
    if rows and all(not r.firm_id for r in rows):
        notes.append("no firm_id column: every quote counts as one firm; firm-grouped splits need firm_id or doc_id")
    for i, r in enumerate(rows):
        if not r.firm_id:
            rows[i] = QuoteRow(**{**r.__dict__, "firm_id": "(no firm)"})
    documents: dict[str, SourceDocument] = {}
    for r in rows:
        if r.doc_id and r.doc_id not in documents:
            text = folder.text(r.doc_id)
            if text is not None:
                documents[r.doc_id] = SourceDocument(r.doc_id, r.firm_id, text)
    return QuoteSet(rows, documents, source=str(path), notes=notes)


# --------------------------------------------------------------------------------------------------
# REFI-QDA, demo corpus and project store


def load_qdpx_quotes(path: str | Path, codebook: Codebook, coders: Sequence[str] | None = None) -> QuoteSet:
    """Human codings of a REFI-QDA project (NVivo, ATLAS.ti, MAXQDA, QualCoder) via ``groundcoder.qdpx``.

    Codings by the groundcoder-model user are suggestions and are left out. A source's firm comes
    from its case variables (firm_code, 证券代码, ...); without one the document counts as its own
    firm. Problems are numbered by quote (in document order) and name the document and position.
    """
    from ..qdpx import import_file

    path = Path(path)
    project = import_file(path)
    records = []
    for number, q in enumerate(project.training_quotes(), start=1):
        records.append(_Record(number, {
            "text": q.text, "concepts": list(q.concepts), "coder": q.coder, "firm_id": q.firm or None,
            "doc_id": q.doc, "start": q.start, "end": q.end,
            "_where": f"quote {number} ({q.doc} {q.start}:{q.end}, coder {q.coder})",
        }))
    texts = {source.doc_id: source.text for source in project.sources}
    quotes = _validate_records(path, records, codebook, None, coders, by_line=False, texts=texts)
    for i, r in enumerate(quotes.rows):
        quotes.rows[i] = QuoteRow(**{**r.__dict__, "source": f"{path.name}:quote {r.row}"})
    return quotes



def load_demo_quotes(
    codebook: Codebook,
    root: str | Path | None = None,
    samples: Sequence[str] | None = ("train",),
    coders: Sequence[str] | None = None,
) -> QuoteSet:
    """The demo corpus's reference coding (coder1) of the firms in ``samples`` (train firms by default)."""
    from ..demo_corpus.load import load_demo_corpus

    corpus = load_demo_corpus(root)
    firms = {f.firm_id for f in corpus.firms if samples is None or f.sample in samples}
    if samples is not None and not firms:
        raise InputError(corpus.root / "firms.csv", f"no firms in samples {list(samples)}", hint="samples: train, holdout, holdout_new")
    names = set(codebook.concept_names)
    path = corpus.root / "coded.jsonl"
    problems: list[RowProblem] = []
    rows: list[QuoteRow] = []
    wanted = set(coders) if coders else None
    for number, q in enumerate(corpus.quotes, start=1):
        if q.firm_id not in firms or (wanted is not None and q.coder not in wanted):
            continue
        known = []
        for name in q.concepts:
            if name in names:
                known.append(name)
            elif name not in q.new_concepts:
                problems.append(RowProblem(None, f"quote {q.quote_id}: " + _unknown_concept_message(codebook, name), line=number))
        rows.append(
            QuoteRow(number, q.text, tuple(known), q.coder, q.firm_id, q.doc_id, q.start, q.end, f"coded.jsonl:{number}", tuple(q.new_concepts))
        )
    if problems:
        raise TrainingDataError(path, problems)
    documents = {
        d.doc_id: SourceDocument(d.doc_id, d.firm_id, corpus.text(d.doc_id))
        for d in corpus.documents
        if d.firm_id in firms and any(r.doc_id == d.doc_id for r in rows)
    }
    return QuoteSet(rows, documents, source=f"demo corpus {corpus.root} ({', '.join(samples or ['all'])} firms)")


def load_store_quotes(store: Any, codebook: Codebook, coders: Sequence[str] | None = None) -> QuoteSet:
    """Human codings of a project store (``groundcoder.store.ProjectStore`` or its path)."""
    from ..store import ProjectStore

    own = not isinstance(store, ProjectStore)
    project = ProjectStore.open(store, create=False) if own else store
    try:
        names = set(codebook.concept_names)
        codings = project.codings(coder_kind="human")
        wanted = set(coders) if coders else None
        problems: list[RowProblem] = []
        firm_of: dict[str, str] = {}
        rows: list[QuoteRow] = []
        for c in codings:
            if wanted is not None and c.coder not in wanted:
                continue
            if c.concept not in names:
                problems.append(
                    RowProblem(c.id, f"coding {c.id} in {c.doc_id!r} by {c.coder}: " + _unknown_concept_message(codebook, c.concept))
                )
                continue
            if c.doc_id not in firm_of:
                record = project.document(c.doc_id, with_text=False)
                firm_of[c.doc_id] = record.firm_code if record else c.doc_id
            rows.append(
                QuoteRow(c.id or 0, c.text or "", (c.concept,), c.coder, firm_of[c.doc_id], c.doc_id, c.start, c.end, f"store:coding {c.id}")
            )
        if problems:
            raise TrainingDataError(project.path, problems, hint="fix the codings or the codebook; nothing was trained")
        documents = {}
        for doc_id in dict.fromkeys(r.doc_id for r in rows if r.doc_id):
            documents[doc_id] = SourceDocument(doc_id, firm_of[doc_id], project.document_text(doc_id))
        return QuoteSet(rows, documents, source=f"project store {project.path}")
    finally:
        if own:
            project.close()


# --------------------------------------------------------------------------------------------------
# Examples


def _normalise(text: str) -> str:
    return re.sub(r"\s+", "", text)


def build_examples(
    quotes: QuoteSet,
    negatives: NegativeSettings | None = None,
    seed: int = 0,
) -> tuple[list[TrainingExample], DataSummary]:
    """Merge duplicate quotes into multi-label examples and add "no code" negatives.

    Quotes with the same text (white space aside) become one example with the union of their
    concepts; it keeps the firm of its first row, so one text is never on both sides of a split.
    Negatives are sentences of the coded documents that overlap no coded quote (of any coder,
    including quotes coded only with concepts new to the codebook), at least ``min_chars`` long,
    sampled (seeded) to ``ratio`` per positive and at most ``cap``.
    """
    negatives = negatives or NegativeSettings()
    merged: dict[str, dict[str, Any]] = {}
    merged_duplicates = merged_across_firms = new_only = 0
    for r in quotes.rows:
        if not r.concepts:
            new_only += 1  # coded only with concepts outside the codebook: neither positive nor negative
            continue
        key = _normalise(r.text)
        if key in merged:
            entry = merged[key]
            merged_duplicates += 1
            if r.firm_id != entry["firm_id"]:
                merged_across_firms += 1
            entry["concepts"].update(r.concepts)
            continue
        merged[key] = {"text": r.text, "concepts": set(r.concepts), "firm_id": r.firm_id, "doc_id": r.doc_id, "source": r.source}
    examples = [
        TrainingExample(e["text"], frozenset(e["concepts"]), e["firm_id"], e["doc_id"], e["source"]) for e in merged.values()
    ]
    n_pos = len(examples)

    notes = list(quotes.notes)
    if negatives.enabled:
        candidates = negative_candidates(quotes, negatives.min_chars, exclude=set(merged))
        budget = int(round(negatives.ratio * n_pos))
        if negatives.cap is not None:
            budget = min(budget, negatives.cap)
        if not quotes.documents:
            notes.append("no document texts: no 'no code' negatives (give data.documents or use the store)")
        rng = random.Random(seed)
        if budget >= len(candidates):
            chosen = candidates
        else:  # a seeded sample, kept in document order
            chosen = [candidates[i] for i in sorted(rng.sample(range(len(candidates)), budget))]
        examples.extend(chosen)
    counts = Counter(c for e in examples for c in e.concepts)
    summary = DataSummary(
        source=quotes.source,
        rows=len(quotes.rows),
        examples=len(examples),
        positives=n_pos,
        negatives=len(examples) - n_pos,
        multi_label=sum(1 for e in examples if len(e.concepts) > 1),
        merged_duplicates=merged_duplicates,
        merged_across_firms=merged_across_firms,
        new_concept_only=new_only,
        firms=len({e.firm_id for e in examples}),
        documents=len({e.doc_id for e in examples if e.doc_id}),
        concept_counts=dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))),
        notes=notes,
    )
    return examples, summary


def negative_candidates(quotes: QuoteSet, min_chars: int = 8, exclude: set[str] | None = None) -> list[TrainingExample]:
    """Every sentence of the coded documents that overlaps no coded span, in document order."""
    spans: dict[str, list[tuple[int, int]]] = {}
    for r in quotes.rows:
        if r.doc_id and r.start is not None and r.end is not None:
            spans.setdefault(r.doc_id, []).append((r.start, r.end))
    coded_texts = {_normalise(r.text) for r in quotes.rows} | (exclude or set())
    seen: set[str] = set()
    out: list[TrainingExample] = []
    for doc_id in sorted(quotes.documents):
        document = quotes.documents[doc_id]
        coded = spans.get(doc_id, [])
        if not coded:
            continue  # only documents somebody coded: elsewhere "uncoded" may just mean "not read yet"
        for segment in split_sentences(document.text):
            if len(_normalise(segment.text)) < min_chars:
                continue
            if any(segment.start < end and start < segment.end for start, end in coded):
                continue
            key = _normalise(segment.text)
            if key in coded_texts or key in seen:
                continue
            seen.add(key)
            out.append(TrainingExample(segment.text, frozenset(), document.firm_id, doc_id, "negative"))
    return out


def label_sets(examples: Sequence[TrainingExample]) -> list[set[str]]:
    return [set(e.concepts) for e in examples]


def texts(examples: Sequence[TrainingExample]) -> list[str]:
    return [e.text for e in examples]


def data_fingerprint(examples: Sequence[TrainingExample]) -> str:
    """sha256 of the examples (text, concepts, firm) in order: same data -> same fingerprint."""
    import hashlib

    digest = hashlib.sha256()
    for e in examples:
        digest.update(json.dumps([e.text, sorted(e.concepts), e.firm_id], ensure_ascii=False).encode("utf-8"))
        digest.update(b"\n")
    return digest.hexdigest()


def documents_from_mapping(mapping: Mapping[str, tuple[str, str]]) -> dict[str, SourceDocument]:
    """{doc_id: (firm_id, text)} -> SourceDocument records (for callers building a QuoteSet by hand)."""
    return {doc_id: SourceDocument(doc_id, firm, text) for doc_id, (firm, text) in mapping.items()}
