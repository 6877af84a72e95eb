"""``groundcoder ingest``: load a folder of documents into the project store, matched to firms.

Each file is matched to a firm, read (``groundcoder.documents``), split into paragraphs and sentences
(``groundcoder.segmentation``) and stored with its segments in one transaction, so an interrupted run
keeps every document it finished and no half of the one it was on.

Matching a file to its firm:

* default: the file name starts with a firm code from the firm table (``000001_2021.pdf``,
  ``000001平安银行2021年年报.pdf``); the year is the 4-digit year after the code, else the first year in
  the rest of the name, else a parent folder named as a year (``2021/000001.pdf``);
* ``--pattern``: ``{code}`` and ``{year}`` placeholders and ``*`` for anything, matched at the start
  of the file name (``{year}_{code}``, ``*_{code}_{year}``); a pattern with ``/`` is matched against
  the path inside the folder (``{year}/{code}``);
* ``--manifest``: a table with columns file, code, and optionally year, kind, title, sha256.

Files already in the store (same SHA-256 of the bytes) are skipped; a file whose firm is unknown or
that cannot be read is reported with the reason and skipped. The run's summary is written to
``ingest_summary.json`` beside the store.
"""

from __future__ import annotations

import hashlib
import itertools
import re
import sqlite3
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING

from .atomic import write_json
from .documents import SUFFIXES, read_document
from .errors import InputError
from .firms import CODE_ALIASES, FirmTable, cell, match_columns, normalize_code, read_firm_table, read_sheet
from .segmentation import split_paragraphs, split_sentences
from .store import DocumentRecord, Firm, PageSpan, ProjectStore

if TYPE_CHECKING:
    from rich.console import Console

SUMMARY_NAME = "ingest_summary.json"
DEFAULT_KIND = "annual_report"

# Words researchers use for document kinds, mapped to the kinds groundcoder knows. A kind matching
# none of these is kept as written (lower case, spaces as underscores), e.g. "interview".
KIND_ALIASES: dict[str, tuple[str, ...]] = {
    "annual_report": ("annual_report", "annual report", "annual", "年报", "年度报告"),
    "website": ("website", "web", "官网", "网站"),
    "news": ("news", "新闻", "报道"),
    "journal": ("journal", "期刊", "论文"),
}

MANIFEST_COLUMNS: dict[str, tuple[str, ...]] = {
    "file": ("file", "path", "filename", "file_name", "文件", "文件名", "文件路径"),
    "code": CODE_ALIASES,
    "year": ("year", "fiscal_year", "report_year", "年份", "年度", "报告年度"),
    "kind": ("kind", "type", "source", "source_kind", "doc_type", "类型", "文档类型", "来源"),
    "title": ("title", "标题"),
    "sha256": ("sha256", "hash"),
}

_YEAR = r"(?:19|20)\d{2}"
_CODE_CHARS = re.compile(r"[0-9A-Za-z]")


# --------------------------------------------------------------------------------------------------
# Results


@dataclass(frozen=True)
class IngestedFile:
    file: str
    doc_id: str
    firm_code: str
    year: int | None
    kind: str
    characters: int
    pages: int
    paragraphs: int
    sentences: int
    encoding: str
    notes: list[str] = field(default_factory=list)  # the reader's remarks, e.g. pages without text


@dataclass(frozen=True)
class DuplicateFile:
    file: str
    same_as: str  # the stored document with the same bytes


@dataclass(frozen=True)
class FailedFile:
    file: str
    reason: str


@dataclass
class IngestSummary:
    folder: str
    store: str
    firms_file: str
    firms_encoding: str
    firms_in_table: int
    started_at: str
    finished_at: str | None = None
    interrupted: bool = False
    ingested: list[IngestedFile] = field(default_factory=list)
    duplicates: list[DuplicateFile] = field(default_factory=list)
    failed: list[FailedFile] = field(default_factory=list)
    unsupported: list[str] = field(default_factory=list)  # files of a type groundcoder does not read
    not_in_manifest: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        return {
            "ingested": len(self.ingested),
            "skipped_duplicate": len(self.duplicates),
            "failed": len(self.failed),
            "unsupported": len(self.unsupported),
            "not_in_manifest": len(self.not_in_manifest),
        }

    def to_json(self) -> dict:
        return {"counts": self.counts(), **asdict(self)}


# --------------------------------------------------------------------------------------------------
# What each file is


@dataclass(frozen=True)
class SourceFile:
    path: Path
    name: str  # path inside the ingested folder, with / separators; the document id is this minus suffix
    firm_code: str | None
    year: int | None = None
    kind: str = DEFAULT_KIND
    title: str = ""
    expected_sha256: str | None = None
    problem: str | None = None  # why it cannot be ingested (unknown firm, no such file)


class FirmCodes:
    """Firm codes of the firm table, also found without an exchange suffix (000001.SZ as 000001)."""

    def __init__(self, firms: Iterable[Firm]) -> None:
        self.codes: dict[str, str] = {}
        short: dict[str, list[str]] = {}
        for firm in firms:
            self.codes[firm.code] = firm.code
            if m := re.fullmatch(r"(\d+)\.[A-Za-z]+", firm.code):
                short.setdefault(m[1], []).append(firm.code)
        for bare, full in short.items():
            if len(full) == 1:
                self.codes.setdefault(bare, full[0])
        # Longest first, so 0000012 is not read as 000001 followed by 2.
        self._by_length = sorted(self.codes, key=len, reverse=True)

    def get(self, code: str) -> str | None:
        return self.codes.get(normalize_code(code))

    def prefix_of(self, stem: str) -> tuple[str, str] | None:
        """The firm code a file name starts with, and the rest of the name."""
        for key in self._by_length:
            if stem.startswith(key):
                rest = stem[len(key) :]
                if not rest or not _CODE_CHARS.match(rest[0]):
                    return self.codes[key], rest
        return None


@dataclass(frozen=True)
class NamePattern:
    """A ``--pattern`` such as ``{code}_{year}``, as a regex matched at the start of the file name."""

    text: str
    regex: re.Pattern[str]

    @property
    def on_path(self) -> bool:  # with "/", the pattern covers folders too: {year}/{code}
        return "/" in self.text


def compile_pattern(pattern: str) -> NamePattern:
    """``{code}_{year}`` -> a regex matched at the start of the file name (or of its path, with /)."""
    pieces = re.split(r"(\{[^{}]*\}|\*)", pattern)
    regex = ""
    for piece in pieces:
        if piece == "{code}":
            regex += r"(?P<code>[0-9A-Za-z]+(?:\.[A-Za-z]+)?)"
        elif piece == "{year}":
            regex += rf"(?P<year>{_YEAR})(?!\d)"
        elif piece == "*":
            regex += ".*?"
        elif piece.startswith("{"):
            raise InputError(None, f"--pattern {pattern!r}: unknown placeholder {piece}", hint="use {code}, {year} and *")
        else:
            regex += re.escape(piece)
    if pattern.count("{code}") != 1 or pattern.count("{year}") > 1:
        raise InputError(None, f"--pattern {pattern!r} must contain {{code}} once (and {{year}} at most once)", hint='e.g. "{code}_{year}"')
    return NamePattern(pattern, re.compile(regex))


def _year_from_name(rest: str, folders: Iterable[str]) -> int | None:
    if m := re.match(rf"[\s_\-.]*({_YEAR})(?!\d)", rest):
        return int(m[1])
    if m := re.search(rf"(?<!\d)({_YEAR})(?!\d)", rest):
        return int(m[1])
    for folder in reversed(list(folders)):
        if re.fullmatch(_YEAR, folder):
            return int(folder)
    return None


def match_by_name(path: Path, name: str, firms: FirmCodes, firms_file: Path, pattern: NamePattern | None, kind: str) -> SourceFile:
    """Match a file to its firm (and year) by its name: the default rule, or ``--pattern``."""
    stem = unicodedata.normalize("NFKC", Path(name).stem)
    folders = [unicodedata.normalize("NFKC", p) for p in Path(name).parent.parts]
    base = SourceFile(path, name, None, kind=kind, title=Path(name).stem)
    if pattern is not None:
        subject = "/".join([*folders, stem]) if pattern.on_path else stem
        m = pattern.regex.match(subject)
        if m is None:
            return replace(base, problem=f"the file name does not match --pattern {pattern.text!r}")
        code = firms.get(m["code"])
        if code is None:
            return replace(base, problem=f"no firm with code {m['code']!r} in {firms_file.name}")
        year = int(m["year"]) if "year" in m.groupdict() and m["year"] else _year_from_name(subject[m.end() :], folders)
        return replace(base, firm_code=code, year=year)
    found = firms.prefix_of(stem)
    if found is None:
        token = re.match(r"[0-9A-Za-z.]*", stem)[0]  # type: ignore[index]
        problem = (
            f"no firm with code {token!r} in {firms_file.name}"
            if token
            else "the file name does not start with a firm code (name files like 000001_2021.pdf, or use --manifest)"
        )
        return replace(base, problem=problem)
    code, rest = found
    return replace(base, firm_code=code, year=_year_from_name(rest, folders))


def normalize_kind(text: str, default: str = DEFAULT_KIND) -> str:
    """'年度报告' -> annual_report, 'annual report (年度报告), as published' -> annual_report."""
    key = unicodedata.normalize("NFKC", text).strip().casefold()
    if not key:
        return default
    for kind, aliases in KIND_ALIASES.items():
        if key in aliases or key.replace(" ", "_") == kind:
            return kind
    for kind, aliases in KIND_ALIASES.items():
        # Chinese words inside a longer phrase count (公司官网); English ones as whole words only.
        if any((a in key) if not a.isascii() else re.search(rf"\b{re.escape(a)}\b", key) for a in aliases):
            return kind
    return re.sub(r"\s+", "_", key)


def read_manifest(path: Path, folder: Path, firms: FirmCodes, firms_file: Path, default_kind: str) -> list[SourceFile]:
    """Rows of a manifest (file, code, year, kind, title, sha256) as files to ingest.

    A malformed row (no file, no code, a bad year, a file listed twice) is an InputError; a missing
    file or unknown firm becomes that file's failure, reported like any other.
    """
    sheet = read_sheet(path)
    columns = match_columns(sheet, MANIFEST_COLUMNS, required=("file", "code"))
    sources: list[SourceFile] = []
    first_row: dict[Path, int] = {}
    for row in sheet.rows:
        file_text = cell(row, columns["file"])
        code_text = normalize_code(cell(row, columns["code"]))
        if not file_text or not code_text:
            missing = "file" if not file_text else "firm code"
            raise InputError(path, f"this row has no {missing}", row=row.row, hint="fill it in or delete the row")
        file_path = _manifest_file(file_text, folder, path.parent)
        key = file_path.resolve()
        if key in first_row:
            raise InputError(path, f"{file_text!r} is listed again (first at row {first_row[key]})", row=row.row)
        first_row[key] = row.row
        year_text = unicodedata.normalize("NFKC", cell(row, columns.get("year"))).removesuffix("年").removesuffix(".0")
        if year_text and not re.fullmatch(_YEAR, year_text):
            raise InputError(path, f"year {year_text!r} is not a 4-digit year", row=row.row, hint="write it like 2021")
        name = file_path.relative_to(folder).as_posix() if file_path.is_relative_to(folder) else file_path.as_posix()
        code = firms.get(code_text)
        problem = None
        if not file_path.is_file():
            problem = f"listed in {path.name} (row {row.row}) but not found"
        elif code is None:
            problem = f"firm code {code_text!r} (row {row.row} of {path.name}) is not in {firms_file.name}"
        sources.append(
            SourceFile(
                path=file_path,
                name=name,
                firm_code=code,
                year=int(year_text) if year_text else None,
                kind=normalize_kind(cell(row, columns.get("kind")), default_kind),
                title=cell(row, columns.get("title")) or file_path.stem,
                expected_sha256=cell(row, columns.get("sha256")).lower() or None,
                problem=problem,
            )
        )
    return sources


def _manifest_file(text: str, folder: Path, manifest_folder: Path) -> Path:
    given = Path(text)
    if given.is_absolute():
        return given
    in_folder = folder / given
    if in_folder.exists() or not (manifest_folder / given).exists():
        return in_folder
    return manifest_folder / given


def find_files(folder: Path, exclude: Iterable[Path]) -> tuple[list[tuple[Path, str]], list[str]]:
    """Readable files under ``folder`` as (path, name inside folder), and the names of unsupported ones."""
    excluded = {p.resolve() for p in exclude}
    readable: list[tuple[Path, str]] = []
    unsupported: list[str] = []
    for path in sorted(folder.rglob("*")):
        name = path.relative_to(folder).as_posix()
        if not path.is_file() or path.resolve() in excluded:
            continue
        if any(part.startswith(".") for part in Path(name).parts) or path.name.startswith("~$"):
            continue  # hidden files and Office lock files
        if path.suffix.lower() in SUFFIXES:
            readable.append((path, name))
        else:
            unsupported.append(name)
    return readable, unsupported


# --------------------------------------------------------------------------------------------------
# The run


def ingest_folder(
    folder: str | Path,
    firms_path: str | Path,
    store_path: str | Path = "project.sqlite",
    manifest_path: str | Path | None = None,
    pattern: str | None = None,
    default_kind: str = DEFAULT_KIND,
    console: Console | None = None,
) -> IngestSummary:
    """Ingest every readable file under ``folder``; returns (and writes beside the store) the summary.

    ``console``: where to show a progress bar; None shows none.
    """
    folder = Path(folder)
    store_path = Path(store_path)
    if not folder.is_dir():
        raise InputError(folder, "is not a folder" if folder.exists() else "folder not found", hint="give the folder that holds the documents")
    if manifest_path is not None and pattern is not None:
        raise InputError(None, "give --manifest or --pattern, not both")
    compiled = compile_pattern(pattern) if pattern is not None else None
    table: FirmTable = read_firm_table(firms_path)
    firm_codes = FirmCodes(table.firms)
    kind = normalize_kind(default_kind)

    exclude = [Path(firms_path), store_path, store_path.parent / SUMMARY_NAME]
    exclude += [store_path.with_name(store_path.name + s) for s in ("-wal", "-shm", "-journal")]
    if manifest_path is not None:
        exclude.append(Path(manifest_path))
    files, unsupported = find_files(folder, exclude)
    not_in_manifest: list[str] = []
    if manifest_path is not None:
        sources = read_manifest(Path(manifest_path), folder, firm_codes, table.path, kind)
        listed = {s.path.resolve() for s in sources}
        not_in_manifest = [name for path, name in files if path.resolve() not in listed]
    else:
        sources = [match_by_name(path, name, firm_codes, table.path, compiled, kind) for path, name in files]

    summary = IngestSummary(
        folder=str(folder),
        store=str(store_path),
        firms_file=str(table.path),
        firms_encoding=table.encoding,
        firms_in_table=len(table.firms),
        started_at=_now(),
        unsupported=unsupported,
        not_in_manifest=not_in_manifest,
        warnings=list(table.warnings),
    )
    with ProjectStore.open(store_path) as store:
        store.add_firms(table.firms)
        try:
            with _ProgressBar(console, len(sources)) as advance:
                for source in sources:
                    advance(source.name)
                    _ingest_one(store, source, summary)
        except BaseException:
            summary.interrupted = True  # Ctrl-C or a store failure: what is done stays, the summary says so
            raise
        finally:
            summary.finished_at = _now()
            write_json(store_path.parent / SUMMARY_NAME, summary.to_json())
    return summary


def _ingest_one(store: ProjectStore, source: SourceFile, summary: IngestSummary) -> None:
    def fail(reason: str) -> None:
        summary.failed.append(FailedFile(source.name, reason))

    if source.problem is not None or source.firm_code is None:
        return fail(source.problem or "no firm")
    try:
        data = source.path.read_bytes()
    except OSError as exc:
        return fail(f"cannot be read: {exc.strerror or exc}")
    sha = hashlib.sha256(data).hexdigest()
    if source.expected_sha256 and sha != source.expected_sha256:
        return fail("its SHA-256 differs from the manifest's (the file changed since the manifest was made?)")
    same_as = store.document_id_for_hash(sha)
    if same_as is not None:
        summary.duplicates.append(DuplicateFile(source.name, same_as))
        return None
    try:
        document = read_document(source.path)
        text = document.text
        if not text.strip():
            return fail("no text could be extracted (a scanned PDF needs OCR first)")
        record = DocumentRecord(
            doc_id=str(Path(source.name).with_suffix("").as_posix()),
            firm_code=source.firm_code,
            text=text,
            kind=source.kind,
            year=source.year,
            title=source.title,
            source_path=str(source.path.resolve()),
            source_format=document.source_format,
            encoding=document.encoding or "",
            sha256=sha,
            pages=tuple(PageSpan(p.page_no, p.start, p.end) for p in document.pages),
        )
        paragraphs = list(split_paragraphs(text))
        sentences = list(split_sentences(text))
        store.add_document(record, segments=itertools.chain(paragraphs, sentences))
    except InputError as exc:
        return fail(exc.message + (f" ({exc.hint})" if exc.hint else ""))
    except sqlite3.Error:
        raise  # the store itself failed (disk full, locked): stop rather than fail every file
    except Exception as exc:  # a reader bug on one odd file must not cost the other files
        return fail(f"unexpected error while reading ({type(exc).__name__}: {exc}); please report it")
    summary.ingested.append(
        IngestedFile(
            file=source.name,
            doc_id=record.doc_id,
            firm_code=source.firm_code,
            year=source.year,
            kind=source.kind,
            characters=len(text),
            pages=len(record.pages),
            paragraphs=len(paragraphs),
            sentences=len(sentences),
            encoding=record.encoding,
            notes=list(document.notes),
        )
    )
    return None


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


class _ProgressBar:
    """A rich progress bar on ``console`` (or nothing); yields ``advance(file_name)``."""

    def __init__(self, console: Console | None, total: int) -> None:
        self.console, self.total, self.bar, self.task = console, total, None, None
        self.started = False

    def __enter__(self) -> Callable[[str], None]:
        if self.console is not None:
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

            self.bar = Progress(
                TextColumn("ingesting"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                TimeRemainingColumn(),
                TextColumn("{task.fields[file]}", style="dim"),
                console=self.console,
            )
            self.bar.start()
            self.task = self.bar.add_task("ingest", total=self.total, file="")
        return self._advance

    def _advance(self, name: str) -> None:
        if self.bar is not None:
            if self.started:
                self.bar.advance(self.task)
            self.bar.update(self.task, file=name)
        self.started = True

    def __exit__(self, exc_type: object, *rest: object) -> None:
        if self.bar is not None:
            if exc_type is None and self.started:
                self.bar.update(self.task, completed=self.total, file="")
            self.bar.stop()


# --------------------------------------------------------------------------------------------------
# Report


def _files(n: int) -> str:
    return f"{n} file" if n == 1 else f"{n} files"


def print_summary(summary: IngestSummary, console: Console, summary_path: Path | None = None) -> None:
    """Counts, then every failure with its reason, then where the JSON summary is."""
    from rich.table import Table

    counts = summary.counts()
    console.print(
        f"[bold]ingested {counts['ingested']}[/bold], skipped as duplicate {counts['skipped_duplicate']}, "
        f"[{'red' if counts['failed'] else 'default'}]failed {counts['failed']}[/]"
        + (f", {_files(counts['unsupported'])} of types groundcoder does not read" if counts["unsupported"] else "")
        + (f", {_files(counts['not_in_manifest'])} not in the manifest" if counts["not_in_manifest"] else "")
    )
    for warning in summary.warnings:
        console.print(f"[yellow]warning:[/yellow] {warning}")
    if summary.failed:
        table = Table("file", "reason", title="Not ingested", title_justify="left")
        for failure in summary.failed:
            table.add_row(failure.file, failure.reason)
        console.print(table)
    if summary.interrupted:
        console.print("[yellow]interrupted:[/yellow] the documents listed as ingested are stored; run again to continue.")
    console.print(f"summary: {summary_path or Path(summary.store).parent / SUMMARY_NAME}; store: {summary.store}")
