"""Inputs of ``groundcoder code``: document files, documents in the store, or a table of segments.

* Document files (``--input DIR`` or files): every file ``read_document`` reads (PDF, text, Markdown,
  Word, HTML), subfolders included. With a project store, a file whose bytes are already stored
  (same SHA-256, as ``groundcoder ingest`` recorded it) is coded as that stored document, so its
  suggestions can go into the store; other files are coded into the tables only (the summary says
  which, and that ``groundcoder ingest`` stores them). A file's firm is the stored one, else the code
  its name starts with (``000004_2020.pdf``, ``D0001-AR2020.txt``); its year the first 19xx/20xx in
  the name. A file that cannot be read is reported and skipped.
* Store documents (``--store`` with ``--firms`` / ``doc_ids`` / ``kinds``): the store's segments of
  the unit where ingest saved them (with their segment ids), else the text split afresh.
* A table of pre-segmented texts (``.csv``, ``.xlsx`` or ``.jsonl``): columns ``id`` and ``text``
  (also read: 编号 / segment_id, 文本 / quote / content), optional ``firm``, ``document``, ``year``.
  Every bad row is reported with its row (CSV/XLSX: the row number Excel shows; JSONL: the line).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import InputError
from .segmenting import SegmentItem, document_segments

TABLE_SUFFIXES = (".csv", ".tsv", ".xlsx", ".xlsm", ".jsonl", ".ndjson")
_CODE = re.compile(r"^([A-Za-z]{0,4}\d{3,}|[A-Za-z]+\d+)")
_YEAR = re.compile(r"(?<!\d)((?:19|20)\d{2})(?!\d)")
TABLE_COLUMNS: dict[str, tuple[str, ...]] = {
    "id": ("id", "segment_id", "编号", "序号", "key"),
    "text": ("text", "quote", "content", "segment", "文本", "内容", "句子", "段落"),
    "firm": ("firm", "firm_code", "firm_id", "code", "证券代码", "公司代码", "股票代码"),
    "document": ("document", "doc_id", "doc", "文档", "文件"),
    "year": ("year", "年份", "年度"),
}
_MAX_REPORTED = 12


@dataclass
class DocumentSource:
    """One document to segment and code; its text is read only when it is coded."""

    doc_id: str
    firm: str
    year: int | None
    kind: str = ""
    title: str = ""
    path: Path | None = None  # a file (read with read_document)
    stored: bool = False  # in the project store: text, segments and codings from / into the store
    char_count: int | None = None

    def label(self) -> str:
        return self.doc_id if self.path is None else str(self.path)


@dataclass
class InputPlan:
    documents: list[DocumentSource] = field(default_factory=list)
    table: Path | None = None
    skipped: list[str] = field(default_factory=list)  # files not coded, with why
    unstored: list[str] = field(default_factory=list)  # files coded into the tables only (not in the store)


def is_table(path: Path) -> bool:
    return path.is_file() and path.suffix.lower() in TABLE_SUFFIXES


def firm_and_year(name: str) -> tuple[str, int | None]:
    """(firm code the name starts with, first 4-digit year in it) of a file name."""
    stem = Path(name).stem
    match = _CODE.match(stem)
    firm = match.group(1) if match else ""
    rest = stem[len(firm) :] if firm else stem
    year_match = _YEAR.search(rest)
    return firm, int(year_match.group(1)) if year_match else None


def plan_files(paths: Iterable[str | Path], store: Any = None, firms: Iterable[str] = ()) -> InputPlan:
    """The documents of files and folders (see the module doc); stored ones are matched by hash."""
    import hashlib

    from ..documents import SUFFIXES

    wanted = {f.strip() for f in firms if f.strip()}
    plan = InputPlan()
    files: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found = [p for p in sorted(path.rglob("*")) if p.is_file() and not any(part.startswith(".") for part in p.relative_to(path).parts)]
            readable = [p for p in found if p.suffix.lower() in SUFFIXES and not p.name.startswith("~$")]
            plan.skipped.extend(f"{p}: not a document groundcoder reads ({p.suffix or 'no suffix'})" for p in found if p not in readable)
            files.extend(readable)
        elif path.is_file():
            files.append(path)
        else:
            raise InputError(path, "no such file or folder", hint="give --input a folder of documents, document files, or a table")
    if not files:
        raise InputError(None, "no documents to code in " + ", ".join(str(p) for p in paths), hint="PDF, .txt, .md, .docx and .html files are read")
    used_ids: set[str] = set()
    for path in files:
        firm, year = firm_and_year(path.name)
        doc_id, stored, kind, title = path.stem, False, "", path.name
        if store is not None:
            digest = hashlib.sha256(path.read_bytes()).hexdigest()
            stored_id = store.document_id_for_hash(digest)
            if stored_id is not None:
                record = store.document(stored_id, with_text=False)
                doc_id, firm, year, kind, title, stored = stored_id, record.firm_code, record.year, record.kind, record.title, True
        if wanted and firm not in wanted:
            continue
        if doc_id in used_ids:  # two files with the same stem in different folders
            doc_id = str(path)
        used_ids.add(doc_id)
        source = DocumentSource(doc_id, firm, year, kind, title, path=path, stored=stored)
        if store is not None and not stored:
            plan.unstored.append(str(path))
        plan.documents.append(source)
    if not plan.documents:
        raise InputError(None, f"none of the documents belongs to the firms {', '.join(sorted(wanted))}", hint="check --firms")
    return plan


def plan_store(store: Any, firms: Iterable[str] = (), doc_ids: Iterable[str] = (), kinds: Iterable[str] = ()) -> InputPlan:
    """The stored documents of the firms / ids / kinds (all documents when none are given)."""
    firms = [f.strip() for f in firms if f.strip()]
    doc_ids = [d.strip() for d in doc_ids if d.strip()]
    kinds = {k.strip() for k in kinds if k.strip()}
    known_firms = {f.code for f in store.firms()}
    unknown = [f for f in firms if f not in known_firms]
    if unknown:
        raise InputError(store.path, f"firm(s) {', '.join(unknown)} are not in this project", hint="see `groundcoder export firms`")
    records = []
    if doc_ids:
        for doc_id in doc_ids:
            record = store.document(doc_id, with_text=False)
            if record is None:
                raise InputError(store.path, f"no document {doc_id!r} in this project", hint="see `groundcoder export documents`")
            records.append(record)
    else:
        for firm in firms or [None]:
            records.extend(store.documents(firm_id=firm))
    records = [r for r in records if not kinds or r.kind in kinds]
    if not records:
        raise InputError(store.path, "no stored documents match", hint="check --firms, the document ids and kinds, or run `groundcoder ingest`")
    plan = InputPlan()
    for r in records:
        plan.documents.append(DocumentSource(r.doc_id, r.firm_code, r.year, r.kind, r.title, None, True, r.char_count))
    return plan


def document_items(source: DocumentSource, unit: str, min_chars: int, store: Any = None) -> Iterator[SegmentItem]:
    """The segments of one document (read now); stored documents use the store's text and segments."""
    if source.stored and store is not None:
        text = store.document_text(source.doc_id)
        stored_segments = store.segments(source.doc_id, kind=unit)
        if stored_segments:
            spans = [(s.start, s.end) for s in stored_segments]
            ids = [s.id for s in stored_segments]
            yield from document_segments(text, unit, doc_id=source.doc_id, firm=source.firm, year=source.year,
                                         min_chars=min_chars, spans=spans, segment_ids=ids, stored=True)
            return
        yield from document_segments(text, unit, doc_id=source.doc_id, firm=source.firm, year=source.year, min_chars=min_chars, stored=True)
        return
    from ..documents import read_document

    assert source.path is not None
    doc = read_document(source.path)
    yield from document_segments(doc.text, unit, doc_id=source.doc_id, firm=source.firm, year=source.year, min_chars=min_chars)


# --------------------------------------------------------------------------------------------------
# Tables of pre-segmented texts


def read_segment_table(path: str | Path) -> list[SegmentItem]:
    """Rows of a CSV / XLSX / JSONL table with ``id`` and ``text`` as segments (see the module doc)."""
    path = Path(path)
    if not path.is_file():
        raise InputError(path, "no such file" if not path.exists() else "not a file", hint="give a .csv, .xlsx or .jsonl table")
    suffix = path.suffix.lower()
    if suffix in (".jsonl", ".ndjson"):
        rows, where = _jsonl_rows(path), "line"
    else:
        rows, where = _sheet_rows(path), "row"
    items: list[SegmentItem] = []
    problems: list[tuple[int, str]] = []
    seen: dict[str, int] = {}
    for number, row in rows:
        key = str(row.get("id") if row.get("id") is not None else "").strip()
        text = row.get("text")
        text = "" if text is None else str(text)
        if not key:
            problems.append((number, "no id"))
            continue
        if key in seen:
            problems.append((number, f"id {key!r} repeats {where} {seen[key]}"))
            continue
        seen[key] = number
        if not text.strip():
            problems.append((number, f"id {key!r} has no text"))
            continue
        year_raw = row.get("year")
        year: int | None = None
        if year_raw not in (None, ""):
            try:
                year = int(float(str(year_raw).strip()))
            except ValueError:
                problems.append((number, f"id {key!r}: year {year_raw!r} is not a year"))
                continue
        items.append(
            SegmentItem(
                key=key,
                text=text,
                unit="row",
                doc_id=str(row.get("document") or "").strip(),
                firm=str(row.get("firm") or "").strip(),
                year=year,
                start=0,
                end=len(text),
            )
        )
    if problems:
        listed = "; ".join(f"{where} {n}: {msg}" for n, msg in problems[:_MAX_REPORTED])
        more = f" (and {len(problems) - _MAX_REPORTED} more)" if len(problems) > _MAX_REPORTED else ""
        first = problems[0][0]
        raise InputError(
            path,
            f"{len(problems)} bad {where}(s): {listed}{more}",
            line=first if where == "line" else None,
            row=first if where == "row" else None,
            hint="every row needs its own id and a non-empty text; fix or remove these rows",
        )
    if not items:
        raise InputError(path, "the table has no rows to code", hint="columns id and text, one segment per row")
    return items


def _sheet_rows(path: Path) -> list[tuple[int, dict[str, Any]]]:
    from ..firms import cell, match_columns, read_sheet

    sheet = read_sheet(path)
    columns = match_columns(sheet, TABLE_COLUMNS, required=("id", "text"))
    return [(row.row, {k: cell(row, columns.get(k)) for k in TABLE_COLUMNS}) for row in sheet.rows]


def _jsonl_rows(path: Path) -> list[tuple[int, dict[str, Any]]]:
    from ..documents import decode_text

    text, _ = decode_text(path.read_bytes(), path)
    rows = []
    aliases = {alias: key for key, names in TABLE_COLUMNS.items() for alias in names}
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raise InputError(path, f"not valid JSON ({exc.msg})", line=number, hint="one JSON object per line") from None
        if not isinstance(obj, dict):
            raise InputError(path, "each line must be a JSON object with id and text", line=number)
        row: dict[str, Any] = {}
        for name, value in obj.items():
            key = aliases.get(str(name).strip().lower())
            if key and key not in row:
                row[key] = value
        rows.append((number, row))
    return rows
