"""The project store: one SQLite file per research project, created on first use.

The researcher never sets it up: ``ProjectStore.open("project.sqlite")`` creates the file if it is
missing and brings an older one up to date. Only the standard library is used here, so opening a
store is fast and needs nothing installed.

Schema (version 2; ``PRAGMA user_version`` holds the version, ``PRAGMA application_id`` marks the
file as a groundcoder store):

``meta(key, value)``
    ``created_by`` (groundcoder version that created the file) and ``created_at``.
``firms(code PK, name, industry, founded, attributes)``
    ``founded`` is an ISO date or NULL; ``attributes`` a JSON object of the firm table's other columns.
``documents(doc_id PK, firm_code -> firms, kind, year, title, source_path, source_format, encoding,
sha256 UNIQUE, char_count, text, page_map, ingested_at)``
    ``kind`` is annual_report, website, news, journal or whatever the project uses; ``sha256`` is the
    hash of the source file's bytes (what ingest uses to skip files it already has); ``page_map`` is
    JSON ``[[page_no, start, end], ...]``.
``segments(id PK, doc_id -> documents, start_char, end_char, kind)``
    sentence or paragraph spans.
``codebook_versions(id PK, sha256 UNIQUE, yaml_text, note, created_at)``
``model_runs(run_id PK, path, base_model, config, metrics, created_at, is_current)``
    ``config`` and ``metrics`` are JSON; at most one run has ``is_current = 1`` (partial unique index).
``model_run_history(id PK, run_id -> model_runs, made_current_at)``
    every time a run was made current, so earlier choices stay on record.
``codings(id PK, doc_id -> documents, start_char, end_char, concept, coder_id, coder_kind, model_run_id
-> model_runs, confidence, memo, created_at, polarity)``
    ``coder_kind`` is human or model; a model coding names its run, a human coding does not. The same
    span, concept, coder, run and polarity is stored once (unique index), so re-imports do not
    double-count. ``polarity`` (version 2) is ``negative`` for a reviewer's "not this concept".

Every span is ``[start_char, end_char)`` in Unicode code points of the document text, so
``text[start:end]`` in Python is the span. Span texts are sliced in Python, one document text at a
time: SQLite's ``substr`` would rescan a long report from its start for every span.

Every write runs in one transaction: a document goes in with its segments and codings or not at all,
even on a crash or Ctrl-C. The file is in WAL mode with foreign keys on. Opening runs the pending
migrations (``MIGRATIONS``, in order, in one transaction); a store written by a newer groundcoder is
refused rather than guessed at.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import sqlite3
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any, Protocol

from . import __version__
from .cleaning import PageSpan  # the page map's unit, shared with the document readers
from .errors import InputError

# "GCDR": marks a SQLite file as a groundcoder store (readable with `PRAGMA application_id`).
APPLICATION_ID = 0x47434452

CODER_KINDS = ("human", "model")
POLARITIES = ("positive", "negative")
KNOWN_DOCUMENT_KINDS = ("annual_report", "website", "news", "journal")

# Excel shows at most this many rows (one is the header) and this many characters in a cell.
_EXCEL_MAX_ROWS = 1_048_576
_EXCEL_MAX_CELL = 32_767


@dataclass(frozen=True)
class Migration:
    version: int
    description: str
    statements: tuple[str, ...]


MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        1,
        "initial schema",
        (
            "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
            """CREATE TABLE firms (
                code TEXT PRIMARY KEY CHECK (code <> ''),
                name TEXT NOT NULL DEFAULT '',
                industry TEXT NOT NULL DEFAULT '',
                founded TEXT,
                attributes TEXT NOT NULL DEFAULT '{}'
            )""",
            """CREATE TABLE documents (
                doc_id TEXT PRIMARY KEY CHECK (doc_id <> ''),
                firm_code TEXT NOT NULL REFERENCES firms(code),
                kind TEXT NOT NULL,
                year INTEGER,
                title TEXT NOT NULL DEFAULT '',
                source_path TEXT NOT NULL DEFAULT '',
                source_format TEXT NOT NULL DEFAULT '',
                encoding TEXT NOT NULL DEFAULT '',
                sha256 TEXT NOT NULL UNIQUE,
                char_count INTEGER NOT NULL,
                text TEXT NOT NULL,
                page_map TEXT NOT NULL DEFAULT '[]',
                ingested_at TEXT NOT NULL
            )""",
            "CREATE INDEX documents_by_firm ON documents(firm_code, year)",
            """CREATE TABLE segments (
                id INTEGER PRIMARY KEY,
                doc_id TEXT NOT NULL REFERENCES documents(doc_id) ON DELETE CASCADE,
                start_char INTEGER NOT NULL,
                end_char INTEGER NOT NULL,
                kind TEXT NOT NULL,
                CHECK (0 <= start_char AND start_char < end_char)
            )""",
            "CREATE INDEX segments_by_doc ON segments(doc_id, kind, start_char)",
            """CREATE TABLE codebook_versions (
                id INTEGER PRIMARY KEY,
                sha256 TEXT NOT NULL UNIQUE,
                yaml_text TEXT NOT NULL,
                note TEXT NOT NULL DEFAULT '',
                created_at TEXT NOT NULL
            )""",
            """CREATE TABLE model_runs (
                run_id TEXT PRIMARY KEY CHECK (run_id <> ''),
                path TEXT NOT NULL,
                base_model TEXT NOT NULL,
                config TEXT NOT NULL DEFAULT '{}',
                metrics TEXT NOT NULL DEFAULT '{}',
                created_at TEXT NOT NULL,
                is_current INTEGER NOT NULL DEFAULT 0 CHECK (is_current IN (0, 1))
            )""",
            "CREATE UNIQUE INDEX model_runs_one_current ON model_runs(is_current) WHERE is_current = 1",
            """CREATE TABLE model_run_history (
                id INTEGER PRIMARY KEY,
                run_id TEXT NOT NULL REFERENCES model_runs(run_id) ON DELETE CASCADE,
                made_current_at TEXT NOT NULL
            )""",
            """CREATE TABLE codings (
                id INTEGER PRIMARY KEY,
                doc_id TEXT NOT NULL REFERENCES documents(doc_id) ON DELETE CASCADE,
                start_char INTEGER NOT NULL,
                end_char INTEGER NOT NULL,
                concept TEXT NOT NULL CHECK (concept <> ''),
                coder_id TEXT NOT NULL CHECK (coder_id <> ''),
                coder_kind TEXT NOT NULL CHECK (coder_kind IN ('human', 'model')),
                model_run_id TEXT REFERENCES model_runs(run_id),
                confidence REAL CHECK (confidence IS NULL OR (confidence >= 0 AND confidence <= 1)),
                memo TEXT NOT NULL DEFAULT '',
                created_at TEXT NOT NULL,
                CHECK (0 <= start_char AND start_char < end_char),
                CHECK ((coder_kind = 'model') = (model_run_id IS NOT NULL))
            )""",
            "CREATE INDEX codings_by_doc ON codings(doc_id, start_char)",
            "CREATE INDEX codings_by_coder ON codings(coder_id)",
            """CREATE UNIQUE INDEX codings_once ON codings(
                doc_id, start_char, end_char, concept, coder_id, coalesce(model_run_id, ''))""",
        ),
    ),
    Migration(
        2,
        "codings get a polarity: a reviewer's 'not this concept' is a negative coding",
        (
            "DROP INDEX codings_once",  # first: the rewrite below collides with the old uniqueness rule
            """ALTER TABLE codings ADD COLUMN polarity TEXT NOT NULL DEFAULT 'positive'
               CHECK (polarity IN ('positive', 'negative'))""",
            # Before version 2, rejected suggestions were stored as concept 'not:<concept>'.
            """UPDATE codings SET polarity = 'negative', concept = substr(concept, 5)
               WHERE concept LIKE 'not:%' AND length(concept) > 4""",
            """CREATE UNIQUE INDEX codings_once ON codings(
                doc_id, start_char, end_char, concept, coder_id, coalesce(model_run_id, ''), polarity)""",
        ),
    ),
)


def schema_version() -> int:
    """The schema version this groundcoder writes."""
    return MIGRATIONS[-1].version


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


# --------------------------------------------------------------------------------------------------
# Records


@dataclass(frozen=True)
class Firm:
    code: str
    name: str = ""
    industry: str = ""
    founded: date | None = None
    attributes: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class DocumentRecord:
    """One document. ``text`` is None in listings (``documents()``), which leave the text in the store."""

    doc_id: str
    firm_code: str
    text: str | None
    kind: str = "annual_report"
    year: int | None = None
    title: str = ""
    source_path: str = ""
    source_format: str = ""
    encoding: str = ""
    sha256: str = ""  # of the source file's bytes; defaults to the hash of the text
    pages: tuple[PageSpan, ...] = ()
    char_count: int | None = None
    ingested_at: str | None = None

    def __post_init__(self) -> None:
        if self.text is not None:
            object.__setattr__(self, "char_count", len(self.text))
            if not self.sha256:
                object.__setattr__(self, "sha256", sha256_text(self.text))
        object.__setattr__(self, "pages", tuple(self.pages))


@dataclass(frozen=True)
class SegmentRecord:
    doc_id: str
    start: int
    end: int
    kind: str  # sentence | paragraph
    text: str | None = None  # filled when read back
    id: int | None = None


@dataclass(frozen=True)
class Coding:
    doc_id: str
    start: int
    end: int
    concept: str
    coder: str
    coder_kind: str = "human"  # human | model
    model_run_id: str | None = None
    confidence: float | None = None
    memo: str = ""
    # "negative": a reviewer said the span is NOT this concept (a rejected suggestion); training
    # reads these as negatives for the concept, never as positives.
    polarity: str = "positive"
    # On add: if given, must equal the document's text[start:end] (catches offsets that drifted).
    # On read: always filled from the document.
    text: str | None = None
    created_at: str | None = None
    id: int | None = None


@dataclass(frozen=True)
class CodebookVersion:
    id: int
    sha256: str
    yaml_text: str
    note: str
    created_at: str


@dataclass(frozen=True)
class ModelRun:
    run_id: str
    path: str
    base_model: str
    config: Mapping[str, Any] = field(default_factory=dict)
    metrics: Mapping[str, Any] = field(default_factory=dict)
    created_at: str | None = None
    is_current: bool = False


class _Span(Protocol):
    start: int
    end: int
    kind: str


# --------------------------------------------------------------------------------------------------
# Export: table name -> SQL giving the rows a researcher wants to see (text bodies left out of
# documents); rows with spans are ordered by document, and their text is added in Python.

_EXPORTS: dict[str, str] = {
    "firms": "SELECT code, name, industry, founded, attributes FROM firms ORDER BY code",
    "documents": """SELECT doc_id, firm_code, kind, year, title, source_path, source_format, encoding,
                    sha256, char_count, json_array_length(page_map) AS pages, ingested_at
                    FROM documents ORDER BY firm_code, year, doc_id""",
    "segments": """SELECT s.id AS segment_id, s.doc_id, d.firm_code, s.kind, s.start_char, s.end_char
                   FROM segments s JOIN documents d USING (doc_id) ORDER BY s.doc_id, s.kind, s.start_char""",
    "codings": """SELECT c.id AS coding_id, c.doc_id, d.firm_code, d.year, c.start_char, c.end_char, c.concept,
                  c.coder_id, c.coder_kind, c.polarity, c.model_run_id, c.confidence, c.memo, c.created_at
                  FROM codings c JOIN documents d USING (doc_id) ORDER BY c.doc_id, c.start_char, c.id""",
    "codebook_versions": "SELECT id, sha256, note, created_at, yaml_text FROM codebook_versions ORDER BY id",
    "model_runs": """SELECT run_id, path, base_model, config, metrics, created_at, is_current
                     FROM model_runs ORDER BY created_at, run_id""",
    "model_run_history": "SELECT run_id, made_current_at FROM model_run_history ORDER BY id",
}

EXPORTABLE_TABLES: tuple[str, ...] = tuple(_EXPORTS)
# Tables whose export gets the span's text, and the column it goes in (after end_char).
_SPAN_TEXT_COLUMN = {"segments": "text", "codings": "quote"}


# --------------------------------------------------------------------------------------------------


class ProjectStore:
    """A research project's firms, documents, segments, codebooks, codings and model runs."""

    def __init__(self, path: Path, connection: sqlite3.Connection) -> None:
        self.path = path
        self._conn = connection

    # ---- opening and schema ------------------------------------------------------------------

    @classmethod
    def open(cls, path: str | Path, create: bool = True) -> ProjectStore:
        """Open the store at ``path``, creating it (and its folder) if missing, migrating if older.

        With ``create=False`` a missing store is an error (for commands that only read).
        """
        path = Path(path)
        if path.is_dir():
            raise InputError(path, "is a folder; the project store is one file", hint="name a file such as project.sqlite")
        if not create and not path.exists():
            raise InputError(path, "no project store here", hint="run `groundcoder ingest` first, or give --store")
        path.parent.mkdir(parents=True, exist_ok=True)
        # isolation_level=None: we issue BEGIN/COMMIT ourselves, so a transaction is exactly what we say.
        conn = sqlite3.connect(path, isolation_level=None, timeout=30.0)
        try:
            conn.row_factory = sqlite3.Row
            conn.execute("PRAGMA foreign_keys = ON")
            _check_and_migrate(path, conn)
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = NORMAL")  # WAL keeps commits atomic; NORMAL skips extra fsyncs
        except sqlite3.DatabaseError as exc:
            conn.close()
            raise InputError(
                path, f"is not a readable SQLite file ({exc})", hint="give --store a new file name or a groundcoder store"
            ) from exc
        except BaseException:
            conn.close()
            raise
        return cls(path, conn)

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> ProjectStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def version(self) -> int:
        return int(self._conn.execute("PRAGMA user_version").fetchone()[0])

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        """All writes inside commit together or not at all; nested uses join the outer transaction."""
        with _transaction(self._conn):
            yield

    # ---- firms -------------------------------------------------------------------------------

    def add_firms(self, firms: Iterable[Firm]) -> int:
        """Insert firms, or update them if their code is already stored; returns how many were given."""
        rows = [
            (
                f.code,
                f.name,
                f.industry,
                f.founded.isoformat() if f.founded else None,
                json.dumps(dict(f.attributes), ensure_ascii=False, sort_keys=True),
            )
            for f in firms
        ]
        with self.transaction():
            self._conn.executemany(
                """INSERT INTO firms (code, name, industry, founded, attributes) VALUES (?, ?, ?, ?, ?)
                   ON CONFLICT(code) DO UPDATE SET name = excluded.name, industry = excluded.industry,
                   founded = excluded.founded, attributes = excluded.attributes""",
                rows,
            )
        return len(rows)

    def firms(self) -> list[Firm]:
        return [_firm(r) for r in self._conn.execute("SELECT * FROM firms ORDER BY code")]

    def firm(self, code: str) -> Firm | None:
        row = self._conn.execute("SELECT * FROM firms WHERE code = ?", (code,)).fetchone()
        return _firm(row) if row else None

    # ---- documents ---------------------------------------------------------------------------

    def add_document(
        self,
        record: DocumentRecord,
        segments: Iterable[_Span] = (),
        codings: Iterable[Coding] = (),
    ) -> DocumentRecord:
        """Store a document with its segments and codings, all in one transaction.

        ``segments`` are any objects with ``start``, ``end`` and ``kind`` (e.g. what
        ``groundcoder.segmentation`` returns); codings must name this document.
        """
        if record.text is None:
            raise ValueError(f"document {record.doc_id!r}: add_document needs the text")
        text = record.text
        with self.transaction():
            self._check_new_document(record)
            self._conn.execute(
                """INSERT INTO documents (doc_id, firm_code, kind, year, title, source_path, source_format,
                   encoding, sha256, char_count, text, page_map, ingested_at)
                   VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
                (
                    record.doc_id,
                    record.firm_code,
                    record.kind,
                    record.year,
                    record.title,
                    record.source_path,
                    record.source_format,
                    record.encoding,
                    record.sha256,
                    len(text),
                    text,
                    json.dumps([[p.page_no, p.start, p.end] for p in record.pages]),
                    _now(),
                ),
            )
            self._conn.executemany(
                "INSERT INTO segments (doc_id, start_char, end_char, kind) VALUES (?, ?, ?, ?)",
                self._segment_rows(record, segments),
            )
            codings = list(codings)
            for c in codings:
                if c.doc_id != record.doc_id:
                    raise self._span_error(record, f"a coding for document {c.doc_id!r} was given with document {record.doc_id!r}")
            self._insert_codings(codings, {record.doc_id: text})
        stored = self.document(record.doc_id, with_text=False)
        assert stored is not None
        return stored

    def _check_new_document(self, record: DocumentRecord) -> None:
        where = record.source_path or self.path
        if self._conn.execute("SELECT 1 FROM firms WHERE code = ?", (record.firm_code,)).fetchone() is None:
            raise InputError(
                where,
                f"document {record.doc_id!r} names firm {record.firm_code!r}, which is not in the project's firm table",
                hint="add the firm to the firm table, or fix the firm code",
            )
        same_id = self._conn.execute("SELECT source_path FROM documents WHERE doc_id = ?", (record.doc_id,)).fetchone()
        if same_id is not None:
            raise InputError(
                where,
                f"document id {record.doc_id!r} is already used by {same_id['source_path'] or 'another document'}",
                hint="rename the file, or remove the stored document first",
            )
        same_hash = self._conn.execute("SELECT doc_id FROM documents WHERE sha256 = ?", (record.sha256,)).fetchone()
        if same_hash is not None:
            raise InputError(where, f"the same content is already stored as document {same_hash['doc_id']!r}")

    def _segment_rows(self, record: DocumentRecord, segments: Iterable[_Span]) -> Iterator[tuple[str, int, int, str]]:
        # A generator: segments are checked and inserted as they come, so a failure midway rolls back.
        length = record.char_count or 0
        for i, s in enumerate(segments, start=1):
            if not (0 <= s.start < s.end <= length):
                raise self._span_error(record, f"segment {i} ({s.kind}) spans {s.start}:{s.end}, outside the text of {length} characters")
            yield (record.doc_id, s.start, s.end, s.kind)

    def _span_error(self, record: DocumentRecord, message: str) -> InputError:
        return InputError(record.source_path or self.path, f"document {record.doc_id!r}: {message}")

    def has_document_hash(self, sha256: str) -> bool:
        return self._conn.execute("SELECT 1 FROM documents WHERE sha256 = ?", (sha256,)).fetchone() is not None

    def document_id_for_hash(self, sha256: str) -> str | None:
        row = self._conn.execute("SELECT doc_id FROM documents WHERE sha256 = ?", (sha256,)).fetchone()
        return row["doc_id"] if row else None

    def documents(self, firm_id: str | None = None, kind: str | None = None) -> list[DocumentRecord]:
        """Documents without their text (see ``document_text``), ordered by firm, year and id."""
        sql = f"SELECT {_DOC_COLUMNS} FROM documents WHERE 1=1"
        args: list[Any] = []
        if firm_id is not None:
            sql += " AND firm_code = ?"
            args.append(firm_id)
        if kind is not None:
            sql += " AND kind = ?"
            args.append(kind)
        sql += " ORDER BY firm_code, year, doc_id"
        return [_document(r, text=None) for r in self._conn.execute(sql, args)]

    def document(self, doc_id: str, with_text: bool = True) -> DocumentRecord | None:
        columns = _DOC_COLUMNS + (", text" if with_text else "")
        row = self._conn.execute(f"SELECT {columns} FROM documents WHERE doc_id = ?", (doc_id,)).fetchone()
        if row is None:
            return None
        return _document(row, text=row["text"] if with_text else None)

    def document_text(self, doc_id: str) -> str:
        row = self._conn.execute("SELECT text FROM documents WHERE doc_id = ?", (doc_id,)).fetchone()
        if row is None:
            raise self._unknown_document(doc_id)
        return row["text"]

    def remove_document(self, doc_id: str) -> None:
        """Delete a document with its segments and codings."""
        with self.transaction():
            if self._conn.execute("DELETE FROM documents WHERE doc_id = ?", (doc_id,)).rowcount == 0:
                raise self._unknown_document(doc_id)

    def _unknown_document(self, doc_id: str) -> InputError:
        return InputError(self.path, f"no document {doc_id!r} in this project", hint="see `groundcoder export documents`")

    def segments(self, doc_id: str, kind: str | None = None) -> list[SegmentRecord]:
        text = self.document_text(doc_id)
        sql = "SELECT id, start_char, end_char, kind FROM segments WHERE doc_id = ?"
        args: list[Any] = [doc_id]
        if kind is not None:
            sql += " AND kind = ?"
            args.append(kind)
        sql += " ORDER BY kind, start_char, id"
        return [
            SegmentRecord(doc_id, r["start_char"], r["end_char"], r["kind"], text=text[r["start_char"] : r["end_char"]], id=r["id"])
            for r in self._conn.execute(sql, args)
        ]

    def _span_texts(self, spans: Iterable[tuple[str, int, int]]) -> Iterator[str]:
        """``text[start:end]`` for (doc_id, start, end) ordered by document: each text is loaded once."""
        current, text = None, ""
        for doc_id, start, end in spans:
            if doc_id != current:
                current, text = doc_id, self.document_text(doc_id)
            yield text[start:end]

    # ---- codings -----------------------------------------------------------------------------

    def add_codings(self, codings: Iterable[Coding]) -> int:
        """Add codings to stored documents, all or none; returns how many were new (repeats are kept once)."""
        codings = list(codings)
        with self.transaction():
            texts: dict[str, str] = {}
            for doc_id in {c.doc_id for c in codings}:
                texts[doc_id] = self.document_text(doc_id)
            return self._insert_codings(codings, texts)

    def _insert_codings(self, codings: Sequence[Coding], texts: Mapping[str, str]) -> int:
        now = _now()
        added = 0
        for i, c in enumerate(codings, start=1):
            text = texts[c.doc_id]
            self._check_coding(i, c, text)
            cursor = self._conn.execute(
                """INSERT INTO codings (doc_id, start_char, end_char, concept, coder_id, coder_kind, model_run_id,
                   confidence, memo, created_at, polarity) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                   ON CONFLICT DO NOTHING""",
                (c.doc_id, c.start, c.end, c.concept, c.coder, c.coder_kind, c.model_run_id, c.confidence, c.memo,
                 c.created_at or now, c.polarity),
            )
            added += cursor.rowcount
        return added

    def _check_coding(self, number: int, c: Coding, text: str) -> None:
        def fail(message: str, hint: str | None = None) -> InputError:
            return InputError(self.path, f"coding {number} ({c.concept!r} in {c.doc_id!r}): {message}", hint=hint)

        if not (0 <= c.start < c.end <= len(text)):
            raise fail(f"span {c.start}:{c.end} lies outside the document text of {len(text)} characters")
        if c.text is not None and text[c.start : c.end] != c.text:
            raise fail(
                f"the quote {c.text[:30]!r} is not what the document has at {c.start}:{c.end} ({text[c.start:c.end][:30]!r})",
                hint="offsets are Unicode code points into the stored text",
            )
        if c.coder_kind not in CODER_KINDS:
            raise fail(f"coder kind {c.coder_kind!r} is not one of {', '.join(CODER_KINDS)}")
        if (c.coder_kind == "model") != (c.model_run_id is not None):
            raise fail("a model coding names its model run and a human coding names none")
        if c.model_run_id is not None and self.model_run(c.model_run_id) is None:
            raise fail(f"model run {c.model_run_id!r} is not in the store", hint="add it with add_model_run first")
        if c.confidence is not None and not (0.0 <= c.confidence <= 1.0):
            raise fail(f"confidence {c.confidence} is not between 0 and 1")
        if not c.concept or not c.coder:
            raise fail("concept and coder must not be empty")
        if c.polarity not in POLARITIES:
            raise fail(f"polarity {c.polarity!r} is not one of {', '.join(POLARITIES)}")

    def codings(
        self,
        coder: str | None = None,
        doc_id: str | None = None,
        coder_kind: str | None = None,
        model_run_id: str | None = None,
        polarity: str | None = "positive",
    ) -> list[Coding]:
        """Codings matching every filter given. Only positive codings unless ``polarity`` says otherwise
        (``"negative"`` for rejected suggestions, None for both), so no caller mistakes a rejection for a code."""
        sql = "SELECT * FROM codings WHERE 1=1"
        args: list[Any] = []
        filters = (("coder_id", coder), ("doc_id", doc_id), ("coder_kind", coder_kind), ("model_run_id", model_run_id),
                   ("polarity", polarity))
        for column, value in filters:
            if value is not None:
                sql += f" AND {column} = ?"
                args.append(value)
        sql += " ORDER BY doc_id, start_char, id"
        rows = self._conn.execute(sql, args).fetchall()
        quotes = self._span_texts((r["doc_id"], r["start_char"], r["end_char"]) for r in rows)
        return [
            Coding(
                doc_id=r["doc_id"],
                start=r["start_char"],
                end=r["end_char"],
                concept=r["concept"],
                coder=r["coder_id"],
                coder_kind=r["coder_kind"],
                model_run_id=r["model_run_id"],
                confidence=r["confidence"],
                memo=r["memo"],
                polarity=r["polarity"],
                text=quote,
                created_at=r["created_at"],
                id=r["id"],
            )
            for r, quote in zip(rows, quotes)
        ]

    # ---- codebook versions -------------------------------------------------------------------

    def add_codebook_version(self, yaml_text: str, note: str = "") -> CodebookVersion:
        """Record a codebook's YAML; the same text again returns the version already stored."""
        digest = sha256_text(yaml_text)
        with self.transaction():
            self._conn.execute(
                "INSERT INTO codebook_versions (sha256, yaml_text, note, created_at) VALUES (?, ?, ?, ?) ON CONFLICT(sha256) DO NOTHING",
                (digest, yaml_text, note, _now()),
            )
        row = self._conn.execute("SELECT * FROM codebook_versions WHERE sha256 = ?", (digest,)).fetchone()
        return _codebook(row)

    def codebook_versions(self) -> list[CodebookVersion]:
        return [_codebook(r) for r in self._conn.execute("SELECT * FROM codebook_versions ORDER BY id")]

    def latest_codebook(self) -> CodebookVersion | None:
        row = self._conn.execute("SELECT * FROM codebook_versions ORDER BY id DESC LIMIT 1").fetchone()
        return _codebook(row) if row else None

    # ---- model runs --------------------------------------------------------------------------

    def add_model_run(
        self,
        run_id: str,
        *,
        path: str | Path,
        base_model: str,
        config: Mapping[str, Any] | None = None,
        metrics: Mapping[str, Any] | None = None,
        make_current: bool = False,
    ) -> ModelRun:
        with self.transaction():
            if self.model_run(run_id) is not None:
                raise InputError(self.path, f"model run {run_id!r} is already recorded", hint="give the new run its own id")
            self._conn.execute(
                "INSERT INTO model_runs (run_id, path, base_model, config, metrics, created_at) VALUES (?, ?, ?, ?, ?, ?)",
                (run_id, str(path), base_model, _json(config), _json(metrics), _now()),
            )
            if make_current:
                self.set_current_model(run_id)
        run = self.model_run(run_id)
        assert run is not None
        return run

    def update_model_metrics(self, run_id: str, metrics: Mapping[str, Any]) -> ModelRun:
        with self.transaction():
            if self._conn.execute("UPDATE model_runs SET metrics = ? WHERE run_id = ?", (_json(metrics), run_id)).rowcount == 0:
                raise self._unknown_run(run_id)
        run = self.model_run(run_id)
        assert run is not None
        return run

    def set_current_model(self, run_id: str) -> None:
        """Make ``run_id`` the current model; earlier runs stay, and the change is logged."""
        with self.transaction():
            if self.model_run(run_id) is None:
                raise self._unknown_run(run_id)
            self._conn.execute("UPDATE model_runs SET is_current = 0 WHERE is_current = 1")
            self._conn.execute("UPDATE model_runs SET is_current = 1 WHERE run_id = ?", (run_id,))
            self._conn.execute("INSERT INTO model_run_history (run_id, made_current_at) VALUES (?, ?)", (run_id, _now()))

    def _unknown_run(self, run_id: str) -> InputError:
        known = ", ".join(r.run_id for r in self.model_runs()) or "none yet"
        return InputError(self.path, f"no model run {run_id!r} in this project (runs: {known})")

    def model_run(self, run_id: str) -> ModelRun | None:
        row = self._conn.execute("SELECT * FROM model_runs WHERE run_id = ?", (run_id,)).fetchone()
        return _model_run(row) if row else None

    def model_runs(self) -> list[ModelRun]:
        return [_model_run(r) for r in self._conn.execute("SELECT * FROM model_runs ORDER BY created_at, rowid")]

    def current_model(self) -> ModelRun | None:
        row = self._conn.execute("SELECT * FROM model_runs WHERE is_current = 1").fetchone()
        return _model_run(row) if row else None

    def current_model_history(self) -> list[tuple[str, str]]:
        """(run_id, made_current_at) in order."""
        return [(r["run_id"], r["made_current_at"]) for r in self._conn.execute("SELECT * FROM model_run_history ORDER BY id")]

    # ---- export ------------------------------------------------------------------------------

    def export_table(self, name: str, stem: str | Path) -> tuple[Path, Path | None]:
        """Write table ``name`` as ``stem.csv`` and ``stem.xlsx``; returns both paths.

        The XLSX is skipped (None) when the table has more rows than Excel can show; cells longer
        than Excel allows are cut in the XLSX only (the CSV keeps them whole).
        """
        if name not in _EXPORTS:
            raise InputError(self.path, f"there is no table {name!r} to export", hint=f"tables: {', '.join(EXPORTABLE_TABLES)}")
        import pandas as pd

        from . import tables

        frame = pd.read_sql_query(_EXPORTS[name], self._conn)
        if name in _SPAN_TEXT_COLUMN:
            spans = zip(frame["doc_id"], frame["start_char"].astype(int), frame["end_char"].astype(int))
            texts = list(self._span_texts(spans))
            frame.insert(frame.columns.get_loc("end_char") + 1, _SPAN_TEXT_COLUMN[name], pd.Series(texts, dtype=object))
        if name == "model_runs":
            frame["is_current"] = frame["is_current"].astype(bool)
        if name == "firms":
            frame = _attributes_as_columns(frame)
        stem = Path(stem)
        if stem.suffix in {".csv", ".xlsx"}:
            stem = stem.with_suffix("")
        csv_path = tables.write_csv(frame, stem.with_suffix(".csv"))
        if len(frame) + 1 > _EXCEL_MAX_ROWS:
            return csv_path, None
        xlsx_path = tables.write_xlsx({name: _fit_cells_for_excel(frame)}, stem.with_suffix(".xlsx"))
        return csv_path, xlsx_path

    def counts(self) -> dict[str, int]:
        """Rows per table, e.g. for a status line."""
        names = ("firms", "documents", "segments", "codings", "codebook_versions", "model_runs")
        return {n: int(self._conn.execute(f"SELECT count(*) FROM {n}").fetchone()[0]) for n in names}


# --------------------------------------------------------------------------------------------------
# helpers

_DOC_COLUMNS = (
    "doc_id, firm_code, kind, year, title, source_path, source_format, encoding, sha256, char_count, page_map, ingested_at"
)


@contextlib.contextmanager
def _transaction(conn: sqlite3.Connection) -> Iterator[None]:
    if conn.in_transaction:  # joined by an outer transaction, which commits or rolls back
        yield
        return
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield
        conn.execute("COMMIT")
    except BaseException:  # includes KeyboardInterrupt: nothing half-written survives
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise


def _check_and_migrate(path: Path, conn: sqlite3.Connection) -> None:
    version = int(conn.execute("PRAGMA user_version").fetchone()[0])
    app_id = int(conn.execute("PRAGMA application_id").fetchone()[0])
    latest = schema_version()
    if app_id not in (0, APPLICATION_ID):
        raise InputError(path, "is a SQLite file of another program, not a groundcoder project store", hint="give --store another file name")
    if version == 0 and conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]:
        raise InputError(path, "is a SQLite database but not a groundcoder project store", hint="give --store another file name")
    if version > latest:
        raise InputError(
            path,
            f"was written by a newer groundcoder (store schema version {version}; this groundcoder {__version__} knows up to {latest})",
            hint="upgrade groundcoder (pip install -U groundcoder) to open it; it was left unchanged",
        )
    if version == latest:
        return
    with _transaction(conn):
        for migration in MIGRATIONS:
            if migration.version <= version:
                continue
            try:
                for statement in migration.statements:
                    conn.execute(statement)
            except sqlite3.Error as exc:
                raise InputError(
                    path,
                    f"could not be upgraded to store schema version {migration.version} ({migration.description}): {exc}",
                    hint="it was left unchanged at version {}; please report this".format(version),
                ) from exc
            conn.execute(f"PRAGMA user_version = {int(migration.version)}")
        if version == 0:
            conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
            conn.executemany("INSERT INTO meta (key, value) VALUES (?, ?)", [("created_by", __version__), ("created_at", _now())])


def _json(obj: Mapping[str, Any] | None) -> str:
    return json.dumps(dict(obj or {}), ensure_ascii=False, sort_keys=True, default=str)


def _firm(r: sqlite3.Row) -> Firm:
    return Firm(
        code=r["code"],
        name=r["name"],
        industry=r["industry"],
        founded=date.fromisoformat(r["founded"]) if r["founded"] else None,
        attributes=json.loads(r["attributes"]),
    )


def _document(r: sqlite3.Row, text: str | None) -> DocumentRecord:
    return DocumentRecord(
        doc_id=r["doc_id"],
        firm_code=r["firm_code"],
        text=text,
        kind=r["kind"],
        year=r["year"],
        title=r["title"],
        source_path=r["source_path"],
        source_format=r["source_format"],
        encoding=r["encoding"],
        sha256=r["sha256"],
        pages=tuple(PageSpan(*p) for p in json.loads(r["page_map"])),
        char_count=r["char_count"],
        ingested_at=r["ingested_at"],
    )


def _codebook(r: sqlite3.Row) -> CodebookVersion:
    return CodebookVersion(id=r["id"], sha256=r["sha256"], yaml_text=r["yaml_text"], note=r["note"], created_at=r["created_at"])


def _model_run(r: sqlite3.Row) -> ModelRun:
    return ModelRun(
        run_id=r["run_id"],
        path=r["path"],
        base_model=r["base_model"],
        config=json.loads(r["config"]),
        metrics=json.loads(r["metrics"]),
        created_at=r["created_at"],
        is_current=bool(r["is_current"]),
    )


def _fit_cells_for_excel(frame: Any) -> Any:
    marker = " …[cut: Excel cell limit; full text in the CSV]"
    limit = _EXCEL_MAX_CELL - len(marker)
    out = frame.copy()
    for column in out.columns:
        values = out[column].tolist()
        if any(isinstance(v, str) and len(v) > _EXCEL_MAX_CELL for v in values):
            out[column] = [v[:limit] + marker if isinstance(v, str) and len(v) > _EXCEL_MAX_CELL else v for v in values]
    return out


def _attributes_as_columns(frame: Any) -> Any:
    """The firm table's extra columns back as columns (a name clashing with a base column gets a prefix)."""
    attributes = [json.loads(a) for a in frame.pop("attributes")]
    keys = list(dict.fromkeys(k for a in attributes for k in a))
    for key in keys:
        column = key if key not in frame.columns else f"attributes.{key}"
        frame[column] = [a.get(key, "") for a in attributes]
    return frame
