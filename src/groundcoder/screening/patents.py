"""Patent self-citation from incoPat exports: is a firm building on its own earlier patents, year after year?

The study kept a firm as micro-innovative only if, besides talking about micro-innovation, it showed a
persistent internal patent-citation pattern. This module reads incoPat exports (.xlsx or .csv), builds the
directed citation graph and measures self-citation per patent, per firm-year and per firm.

Reading (``read_incopat``)
    Headers are matched after NFKC and whitespace removal (公开（公告）号 = 公开(公告)号 = 公开 (公告) 号), on
    the first sheet whose first 30 rows hold a header row (title rows above it are skipped). Multi-value
    cells are split on ; ； , ， 、 | and line breaks (a half-width comma before a company-form suffix, as in
    "Samsung Electronics Co., Ltd.", does not split). Publication numbers are canonicalised by
    ``canonical_publication_number``. Cells that cannot be read (a date that is not a date, a publication
    number that is not one, an empty applicant cell) are collected as ``CellProblem`` with the row number
    Excel shows; they raise one ``InputError`` listing them, or with ``errors="report"`` come back beside the
    records. A row whose own publication number is unreadable or empty yields no record (its problem says
    so); a bad cited number drops only that number; a bad or empty date leaves the record without a year
    (the firm-year tables then give it a row with an empty year, so it still counts in the firm's totals).

Applicants
    A patent's applicants are its 标准化申请人 (or 申请人 where that cell is empty). Names are compared by key
    (NFKC, whitespace removed, case-folded), after mapping subsidiaries to their parent with the optional
    alias table (``read_alias_table``: CSV ``firm,alias``). Tables show a firm under the alias table's
    spelling, else the first spelling seen in the export. Several rows with the same canonical number (an
    A publication and its B grant exported separately) are one patent: applicants and citations are
    merged, the year is the earliest.

The citation graph (``build_citation_graph``)
    Edges run from the citing patent to the cited patent, from 引证专利 (this patent cites those) and from
    被引证专利 (those cite this patent), deduplicated; a patent citing its own canonical number (a grant
    citing its application publication) is not an edge. Cited or citing patents outside the export are
    nodes too.

Whose applicants are known
    incoPat's 引证申请人 cell lists the applicants of all cited patents of the row together, not per cited
    patent (被引证申请人 likewise for citing patents). So a cited patent's applicants are known (a) when it
    is in the export (by canonical number), or (b) when some row cites that one patent only and its
    引证申请人 cell is not empty (the cell then belongs to that patent; 被引证专利 likewise). Otherwise the
    patent's applicants are unknown, and the joined cell is used for the bounds only, as below. Applicants
    known by (b) resolve that patent's citations in every row.

Self-citation (in the spirit of Hall, Jaffe & Trajtenberg 2001, NBER patent citations data file)
    A citation is a self-citation when the applicants on one side (the "side") appear among the other
    patent's applicants. In the per-patent table the side is the citing patent's applicant set (the citing
    and cited applicant sets overlap). In the firm-year and per-firm tables the side is the firm alone ("does
    the cited patent have this firm among its applicants"), so a firm co-applying with a university does not
    make every citation of the university's patents the firm's self-citation. A cited patent with known
    applicants is a self-citation or not. For the cited patents of one row whose applicants are unknown,
    the row's joined 引证申请人 cell U decides what it can, assuming (as incoPat's export does) that U holds
    every applicant of every cited patent of the row and nothing else:

    * U empty (blank cell): every such citation is undetermined.
    * U names none of the side's applicants: none of them is a self-citation (determined).
    * U names only the side's applicants: all of them are self-citations (determined).
    * otherwise: undetermined.

    With T citations, K determined self-citations and N undetermined ones,
    ``backward_self_share_lower = K / T`` (undetermined counted as not self, HJT's lower bound),
    ``backward_self_share_upper = (K + N) / T`` (counted as self, HJT's upper bound) and
    ``backward_self_share = K / (T - N)``, the share among determined citations (empty when N = T); it lies
    between the bounds. Firm-level and firm-year shares pool citations (sums of K, N, T), they do not average
    patent shares. Forward self-citation is the same computation on the patents citing this one
    (被引证专利, with 被引证申请人 as U), counted in the cited patent's year. Should an export leave out the
    applicants of some cited patent from U, the second rule would miss a self-citation: the bounds are bounds
    under the assumption above.

Citing the firm's own earlier patents, continuity
    A patent cites its firm's own (earlier: a cited patent is earlier by construction) patents when it has
    at least one determined self-citation, or when its joined cell names the firm while no cited patent with
    known applicants has the firm (then some cited patent with unknown applicants must be the firm's, though
    which one is unknown, so the shares above still count them undetermined);
    ``citing_own_share`` counts these, ``citing_own_share_upper`` also counts patents with undetermined
    citations. A firm-year has self-citation when at least one of the firm's patents applied for in that
    year cites its own; continuity is the longest run of consecutive such years (a year without patents
    breaks a run) and the run ending in the export's last year (``continuity_current``; 0 if the firm did
    not self-cite that year). Years are application years (申请日; 公开（公告）日 if the export has no 申请日).
"""

from __future__ import annotations

import contextlib
import csv
import gc
import io
import math
import re
import unicodedata
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, overload

from ..atomic import atomic_path
from ..errors import InputError
from ..firms import parse_date

if TYPE_CHECKING:
    import networkx as nx
    import pandas as pd

__all__ = [
    "CellProblem",
    "PatentRecord",
    "applicant_key",
    "build_citation_graph",
    "canonical_publication_number",
    "read_alias_table",
    "read_incopat",
    "self_citation_by_firm",
    "self_citation_by_firm_year",
    "self_citation_by_patent",
    "split_cell",
    "write_graphml",
]

HEADER_SCAN_ROWS = 30  # title rows incoPat or a researcher put above the header
_PROBLEMS_SHOWN = 20  # in the InputError message; errors="report" returns all of them

# Field -> header spellings (compared after _header_key). The first spelling found wins.
_COLUMNS: dict[str, tuple[str, ...]] = {
    "publication_number": ("公开（公告）号", "公开公告号", "公开号", "公告号", "publication number", "publication no."),
    "application_date": ("申请日", "申请日期", "application date"),
    "publication_date": ("公开（公告）日", "公开公告日", "公开日", "公告日", "公开日期", "publication date"),
    "standardised_applicants": ("标准化申请人", "申请人（标准化）", "standardized applicant"),
    "applicants": ("申请人", "原始申请人", "applicant", "applicants"),
    "cited": ("引证专利", "cited patents"),
    "cited_applicants": ("引证申请人", "cited applicants"),
    "citing": ("被引证专利", "citing patents"),
    "citing_applicants": ("被引证申请人", "citing applicants"),
    "application_number": ("申请号", "application number"),
    "title": ("标题", "名称", "发明名称", "title"),
    "patent_type": ("专利类型", "patent type"),
}
# Required: field -> alternatives (any one will do); the first names the column in errors.
_REQUIRED: tuple[tuple[str, ...], ...] = (
    ("publication_number",),
    ("standardised_applicants", "applicants"),
    ("application_date", "publication_date"),
    ("cited",),
    ("cited_applicants",),
    ("citing",),
    ("citing_applicants",),
)


# --------------------------------------------------------------------------------------------------
# Cells


# A half-width comma before a company-form suffix belongs to the name ("Co., Ltd."), so it does not split.
_COMPANY_FORMS = r"(?:co|corp|corporation|ltd|limited|inc|incorporated|llc|llp|lp|plc|gmbh|ag|kg|sa|s\.a|nv|n\.v|bv|b\.v|spa|s\.p\.a|srl|kk|k\.k|oy|ab|as)"
_SPLIT = re.compile(rf"[;；，、|\r\n]+|,(?!\s*{_COMPANY_FORMS}\b)", re.IGNORECASE)


def split_cell(value: object) -> list[str]:
    """Split a multi-value cell on ; ； , ， 、 | and line breaks; pieces are stripped, empty ones dropped.

    A half-width comma before a company form ("Co., Ltd.", "Apple, Inc.") does not split.
    """
    if value is None:
        return []
    return [piece.strip() for piece in _SPLIT.split(_text(value)) if piece.strip()]


_NOT_ALNUM = re.compile(r"[\W_]+")  # spaces and punctuation; CJK characters are word characters and stay
_PUBLICATION = re.compile(r"([A-Z]{2})([A-Z]{0,2}\d{5,})(?:[A-Z]\d?)?")


def canonical_publication_number(text: str) -> str:
    """``CN110123456A``, ``CN110123456B``, ``cn 110123456`` -> ``CN110123456``.

    NFKC, upper-case, spaces and punctuation removed, then a two-letter office code, the number (digits,
    optionally after up to two series letters as in USD812345 or USRE45123) and an optional kind code (one
    letter and an optional digit: A, B, C, U, Y, S, A1, B2 ...), which is dropped. Anything else raises
    ``ValueError``.
    """
    cleaned = _NOT_ALNUM.sub("", unicodedata.normalize("NFKC", str(text)).upper())
    match = _PUBLICATION.fullmatch(cleaned)
    if match is None:
        raise ValueError(f"{str(text).strip()!r} is not a publication number")
    return match[1] + match[2]


_WHITESPACE = re.compile(r"\s+")


def applicant_key(name: str) -> str:
    """What applicant names are compared by: NFKC, whitespace removed, case-folded (（苏州） = (苏州))."""
    return _WHITESPACE.sub("", unicodedata.normalize("NFKC", name)).casefold()


def _header_key(header: object) -> str:
    return _WHITESPACE.sub("", unicodedata.normalize("NFKC", _text(header)).replace("\ufeff", "")).casefold()


def _text(value: object) -> str:
    """A cell as text; whole floats lose their '.0' (a number typed into a cell)."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime):
        return value.isoformat(sep=" ")
    return str(value)


# --------------------------------------------------------------------------------------------------
# Records


@dataclass(frozen=True, slots=True)
class PatentRecord:
    """One row of an incoPat export, with its cells split and its numbers canonicalised."""

    row: int  # as Excel shows it
    publication_number: str  # canonical (no kind code)
    publication_number_raw: str  # as exported
    year: int | None  # application year (publication year where the export has no 申请日)
    application_date: date | None
    publication_date: date | None
    applicants: tuple[str, ...]  # 标准化申请人, else 申请人, as spelled in the export
    cited: tuple[str, ...]  # 引证专利, canonical
    cited_applicants: tuple[str, ...]  # 引证申请人: the applicants of all cited patents together
    citing: tuple[str, ...]  # 被引证专利, canonical
    citing_applicants: tuple[str, ...]  # 被引证申请人: the applicants of all citing patents together
    application_number: str = ""
    title: str = ""
    patent_type: str = ""


@dataclass(frozen=True, slots=True)
class CellProblem:
    """A cell that could not be read; ``row`` is the row number Excel shows."""

    row: int
    column: str  # the header as written in the export
    value: str
    message: str

    def __str__(self) -> str:
        return f"row {self.row}, column {self.column!r}: {self.message}"


@overload
def read_incopat(path: str | Path, errors: Literal["raise"] = "raise") -> list[PatentRecord]: ...
@overload
def read_incopat(path: str | Path, errors: Literal["report"]) -> tuple[list[PatentRecord], list[CellProblem]]: ...


def read_incopat(
    path: str | Path, errors: Literal["raise", "report"] = "raise"
) -> list[PatentRecord] | tuple[list[PatentRecord], list[CellProblem]]:
    """Read an incoPat export (.xlsx, or .csv in UTF-8, UTF-8 with BOM or GB18030).

    Unreadable cells raise one ``InputError`` listing them (row numbers as Excel shows them); with
    ``errors="report"`` the result is ``(records, problems)`` instead.
    """
    if errors not in ("raise", "report"):
        raise ValueError(f"errors must be 'raise' or 'report', not {errors!r}")
    path = Path(path)
    if not path.is_file():
        raise InputError(path, "file not found" if not path.exists() else "is not a file")
    suffix = path.suffix.lower()
    if suffix in {".xlsx", ".xlsm"}:
        header_row, header, rows = _xlsx_table(path)
    elif suffix in {".csv", ".tsv", ".txt"}:
        header_row, header, rows = _csv_table(path)
    elif suffix == ".xls":
        raise InputError(path, "old Excel .xls files are not read", hint="open it in Excel and save it as .xlsx")
    else:
        raise InputError(path, f"cannot read an incoPat export from a {suffix or 'suffix-less'} file",
                         hint="export from incoPat as .xlsx or .csv")
    columns = _match_columns(path, header_row, header)
    records, problems = _parse_rows(rows, columns, header)
    if problems and errors == "raise":
        shown = "\n  ".join(str(p) for p in problems[:_PROBLEMS_SHOWN])
        more = f"\n  ... and {len(problems) - _PROBLEMS_SHOWN} more" if len(problems) > _PROBLEMS_SHOWN else ""
        raise InputError(
            path,
            f"{len(problems)} cell(s) could not be read:\n  {shown}{more}",
            row=problems[0].row,
            hint="correct these cells in the export, or pass errors='report' to get them listed beside the records",
        )
    return (records, problems) if errors == "report" else records


Row = tuple[int, Sequence[Any]]


def _find_header(rows: Iterator[Row]) -> tuple[tuple[int, list[Any]] | None, list[list[Any]]]:
    """The first row (within HEADER_SCAN_ROWS) holding a publication-number header, and the rows before it."""
    wanted = {_header_key(h) for h in _COLUMNS["publication_number"]}
    seen: list[list[Any]] = []
    for row_no, values in rows:
        values = list(values)
        if any(_header_key(v) in wanted for v in values):
            return (row_no, values), seen
        seen.append(values)
        if len(seen) >= HEADER_SCAN_ROWS:
            break
    return None, seen


def _no_header(path: Path, candidates: list[list[list[Any]]]) -> InputError:
    # Show the fullest row seen: most likely the header the researcher thinks is there.
    rows = [r for rows in candidates for r in rows]
    fullest = max(rows, key=lambda r: sum(1 for v in r if _text(v).strip()), default=[])
    found = ", ".join(repr(_shorten(_text(v).strip())) for v in fullest if _text(v).strip()) or "none"
    return InputError(
        path,
        f"no header row with a 公开（公告）号 column in the first {HEADER_SCAN_ROWS} rows (columns found: {found})",
        hint="export from incoPat with the fields 公开（公告）号, 申请日, 标准化申请人, 引证专利, 引证申请人, "
             "被引证专利 and 被引证申请人",
    )


def _calamine() -> Any:
    """python-calamine's workbook class when installed (it reads .xlsx about 8x faster), else None."""
    try:
        from python_calamine import CalamineWorkbook
    except ImportError:
        return None
    return CalamineWorkbook


def _shorten(text: str, limit: int = 30) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _xlsx_table(path: Path) -> tuple[int, list[Any], Iterator[Row]]:
    """The first sheet (in workbook order, whatever its name) with a header row, and its rows."""
    calamine = _calamine()
    seen: list[list[list[Any]]] = []
    try:
        if calamine is not None:
            workbook = calamine.from_path(str(path))
            sheets: Iterable[Iterable[Sequence[Any]]] = (
                # skip_empty_area=False keeps leading empty rows, so row numbers are Excel's
                workbook.get_sheet_by_index(i).to_python(skip_empty_area=False)
                for i in range(len(workbook.sheet_names)))
        else:
            import openpyxl

            workbook = openpyxl.load_workbook(path, read_only=True, data_only=True)
            sheets = (_openpyxl_rows(sheet) for sheet in workbook.worksheets)
        for sheet_rows in sheets:
            rows = enumerate(sheet_rows, start=1)
            found, before = _find_header(rows)
            if found is not None:
                return found[0], found[1], rows
            seen.append(before)
    except InputError:
        raise
    except Exception as exc:  # the readers raise zipfile, KeyError, XML and their own errors for damaged files
        raise InputError(path, f"cannot be read as an Excel workbook ({type(exc).__name__}: {exc})",
                         hint="re-save it from Excel as .xlsx") from exc
    raise _no_header(path, seen)


def _openpyxl_rows(sheet: Any) -> Iterator[tuple[Any, ...]]:
    # Some exporters write a wrong <dimension>; forget it so that every row is read.
    sheet.reset_dimensions()
    return sheet.iter_rows(values_only=True)


def _csv_table(path: Path) -> tuple[int, list[Any], Iterator[Row]]:
    from ..documents import decode_text

    text, _encoding = decode_text(path.read_bytes(), path)
    # The delimiter is the one under which a header row appears: counting characters would pick ";",
    # which separates the values inside incoPat's multi-value cells.
    seen: list[list[list[Any]]] = []
    for delimiter in (",", "\t", ";"):
        # Excel shows one row per CSV record (a quoted cell may span lines): records are numbered, not lines.
        reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
        rows = _csv_records(path, reader)
        found, before = _find_header(rows)
        if found is not None:
            return found[0], found[1], rows
        seen.append(before)
    raise _no_header(path, seen[:1])


def _csv_records(path: Path, reader: Any) -> Iterator[Row]:
    try:
        yield from enumerate(reader, start=1)
    except csv.Error as exc:
        raise InputError(path, f"is not a well-formed CSV ({exc})", line=reader.line_num,
                         hint="check the quotes around cells") from exc


@dataclass(frozen=True)
class _Columns:
    path: Path
    index: dict[str, int]  # field -> column index
    date_field: str  # application_date, or publication_date where the export has no 申请日


def _match_columns(path: Path, header_row: int, header: list[Any]) -> _Columns:
    keys = [_header_key(h) for h in header]
    index: dict[str, int] = {}
    for name, spellings in _COLUMNS.items():
        for spelling in spellings:
            key = _header_key(spelling)
            if key in keys:
                index[name] = keys.index(key)
                break
    for alternatives in _REQUIRED:
        if not any(a in index for a in alternatives):
            found = ", ".join(repr(_text(h).strip()) for h in header if _text(h).strip())
            missing = _COLUMNS[alternatives[0]][0]
            others = [_COLUMNS[a][0] for a in alternatives[1:]]
            return_hint = f" (or {', '.join(others)})" if others else ""
            raise InputError(
                path,
                f"missing required column {missing!r}{return_hint}; columns found: {found}",
                row=header_row,
                hint=f"export again from incoPat with the field {missing} selected",
            )
    date_field = "application_date" if "application_date" in index else "publication_date"
    return _Columns(path, index, date_field)


@contextlib.contextmanager
def _gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while building many small objects that live on.

    Building 100k records or patents triggers a collection every few hundred allocations, each walking
    every object built so far: a third of the time. Nothing built here forms reference cycles.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


_ISO_DATE = re.compile(r"(\d{4})-(\d{2})-(\d{2})")


def _parse_rows(rows: Iterator[Row], columns: _Columns, header: list[Any]) -> tuple[list[PatentRecord], list[CellProblem]]:
    index = columns.index
    names = {name: _text(header[i]).strip() for name, i in index.items()}
    records: list[PatentRecord] = []
    problems: list[CellProblem] = []
    canonical_cache: dict[str, str] = {}  # cited numbers repeat: each patent is cited several times
    date_cache: dict[str, date] = {}

    def numbers(row_no: int, value: Any, name: str) -> tuple[str, ...]:
        out: list[str] = []
        for piece in split_cell(value):
            number = canonical_cache.get(piece)
            if number is None:
                try:
                    number = canonical_cache[piece] = canonical_publication_number(piece)
                except ValueError as exc:
                    problems.append(CellProblem(row_no, names[name], piece, str(exc)))
                    continue
            out.append(number)
        return tuple(dict.fromkeys(out))

    def a_date(row_no: int, value: Any, name: str, required: bool) -> date | None:
        if isinstance(value, datetime):
            return value.date()
        if isinstance(value, date):
            return value
        text = _text(value).strip()
        cached = date_cache.get(text)
        if cached is not None:
            return cached
        if not text:
            if required:
                problems.append(CellProblem(row_no, names[name], "", "empty: the patent gets no year"))
            return None
        try:
            m = _ISO_DATE.fullmatch(text)
            parsed = date(int(m[1]), int(m[2]), int(m[3])) if m else parse_date(text)
        except (ValueError, OverflowError):
            problems.append(CellProblem(row_no, names[name], text, f"{text!r} is not a date"))
            return None
        if parsed is not None:
            date_cache[text] = parsed
        return parsed

    width = max(index.values()) + 1
    fields = ("publication_number", "application_date", "publication_date", "standardised_applicants", "applicants",
              "cited", "cited_applicants", "citing", "citing_applicants", "application_number", "title", "patent_type")
    positions = [index.get(f, -1) for f in fields]  # an absent column reads the None appended to each row
    by_application_date = columns.date_field == "application_date"
    with _gc_paused():
        for row_no, values in rows:
            values = list(values)
            if len(values) < width:
                values.extend([None] * (width - len(values)))
            values.append(None)
            (number_cell, application_cell, publication_cell, standardised_cell, applicants_cell, cited_cell,
             cited_applicants_cell, citing_cell, citing_applicants_cell, application_number_cell, title_cell,
             type_cell) = (values[i] for i in positions)
            raw_number = _text(number_cell).strip()
            if not raw_number:
                if any(_text(v).strip() for v in values):
                    problems.append(CellProblem(row_no, names["publication_number"], "",
                                                "empty: the row is not read without its publication number"))
                continue  # else a blank row
            try:
                number = canonical_publication_number(raw_number)
            except ValueError as exc:
                problems.append(CellProblem(row_no, names["publication_number"], raw_number,
                                            f"{exc}: the row is not read"))
                continue
            application_date = (a_date(row_no, application_cell, "application_date", by_application_date)
                                if "application_date" in index else None)
            publication_date = (a_date(row_no, publication_cell, "publication_date", not by_application_date)
                                if "publication_date" in index else None)
            dated = application_date if by_application_date else publication_date
            applicants = split_cell(standardised_cell) or split_cell(applicants_cell)
            if not applicants:
                column = names.get("standardised_applicants") or names["applicants"]
                problems.append(CellProblem(row_no, column, "", "empty: the patent belongs to no firm"))
            records.append(PatentRecord(
                row=row_no,
                publication_number=number,
                publication_number_raw=raw_number,
                year=dated.year if dated is not None else None,
                application_date=application_date,
                publication_date=publication_date,
                applicants=tuple(dict.fromkeys(applicants)),
                cited=numbers(row_no, cited_cell, "cited"),
                cited_applicants=tuple(dict.fromkeys(split_cell(cited_applicants_cell))),
                citing=numbers(row_no, citing_cell, "citing"),
                citing_applicants=tuple(dict.fromkeys(split_cell(citing_applicants_cell))),
                application_number=_text(application_number_cell).strip(),
                title=_text(title_cell).strip(),
                patent_type=_text(type_cell).strip(),
            ))
    return records, problems


# --------------------------------------------------------------------------------------------------
# Alias table


def read_alias_table(path: str | Path) -> dict[str, str]:
    """Read a CSV (or XLSX) with columns ``firm`` and ``alias``: returns alias -> firm.

    An alias mapped to two different firms is an ``InputError`` naming both rows.
    """
    from ..firms import cell, match_columns, read_sheet

    sheet = read_sheet(path)
    columns = match_columns(sheet, {"firm": ("firm", "parent", "母公司", "公司", "企业"),
                                    "alias": ("alias", "subsidiary", "子公司", "别名")}, required=("firm", "alias"))
    aliases: dict[str, str] = {}
    first_row: dict[str, tuple[int, str]] = {}
    for row in sheet.rows:
        firm, alias = cell(row, columns["firm"]), cell(row, columns["alias"])
        if not firm or not alias:
            raise InputError(sheet.path, "a row needs both a firm and an alias", row=row.row,
                             hint="fill in the empty cell or delete the row")
        key = applicant_key(alias)
        if key in first_row and applicant_key(first_row[key][1]) != applicant_key(firm):
            earlier_row, earlier_firm = first_row[key]
            raise InputError(sheet.path, f"alias {alias!r} maps to {earlier_firm!r} (row {earlier_row}) and to {firm!r}",
                             row=row.row, hint="an alias belongs to one firm: delete one of the rows")
        first_row.setdefault(key, (row.row, firm))
        aliases[alias] = firm
    return aliases


# --------------------------------------------------------------------------------------------------
# The citation data: patents merged by canonical number, edges, known applicants


class _Names:
    """Applicant names -> keys (through the alias table), and each key's display spelling."""

    def __init__(self, aliases: Mapping[str, str] | None) -> None:
        self.alias: dict[str, str] = {}
        self._display: dict[str, str] = {}  # from the alias table, then from applicant cells
        self._cell_display: dict[str, str] = {}  # from 引证申请人 / 被引证申请人, for names seen only there
        self._cache: dict[str, str] = {}
        for alias, firm in (aliases or {}).items():
            firm_key = applicant_key(firm)
            self.alias[applicant_key(alias)] = firm_key
            self._display.setdefault(firm_key, firm.strip())  # the alias table's spelling wins

    def keys(self, names: Iterable[str], applicants: bool) -> frozenset[str]:
        """Keys of ``names``; ``applicants`` says whether they come from a patent's own applicant cell."""
        display = self._display if applicants else self._cell_display
        out = []
        for name in names:
            key = self._cache.get(name)
            if key is None:
                key = applicant_key(name)
                key = self.alias.get(key, key)
                self._cache[name] = key
            if key not in display:
                display[key] = name.strip()
            out.append(key)
        return frozenset(out)

    def display(self, key: str) -> str:
        return self._display.get(key) or self._cell_display[key]


@dataclass(slots=True)
class _Patent:
    number: str
    rows: list[int]
    year: int | None
    applicants: frozenset[str]  # keys
    cited_cell: frozenset[str]  # keys of the joined 引证申请人 cell(s)
    citing_cell: frozenset[str]  # keys of the joined 被引证申请人 cell(s)
    listed_cited: set[str]
    listed_citing: set[str]


@dataclass
class _CitationData:
    names: _Names
    patents: dict[str, _Patent]  # in the export, by canonical number
    known: dict[str, frozenset[str]]  # applicant keys of every node whose applicants are known
    attributed: set[str]  # nodes outside the export whose applicants come from a one-patent cell
    cites: dict[str, list[str]]  # node -> cited nodes (deduplicated)
    cited_by: dict[str, list[str]]  # node -> citing nodes
    last_year: int | None


def _citation_data(records: Iterable[PatentRecord], aliases: Mapping[str, str] | None) -> _CitationData:
    names = _Names(aliases)
    patents: dict[str, _Patent] = {}
    with _gc_paused():
        for record in records:
            number = record.publication_number
            patent = patents.get(number)
            applicants = names.keys(record.applicants, applicants=True)
            cited_cell = names.keys(record.cited_applicants, applicants=False)
            citing_cell = names.keys(record.citing_applicants, applicants=False)
            if patent is None:
                patent = patents[number] = _Patent(number, [record.row], record.year, applicants, cited_cell,
                                                   citing_cell, set(record.cited), set(record.citing))
            else:  # the same patent exported twice (A and B publications): merge
                patent.rows.append(record.row)
                if record.year is not None and (patent.year is None or record.year < patent.year):
                    patent.year = record.year
                patent.applicants |= applicants
                patent.cited_cell |= cited_cell
                patent.citing_cell |= citing_cell
                patent.listed_cited.update(record.cited)
                patent.listed_citing.update(record.citing)

        known: dict[str, frozenset[str]] = {number: patent.applicants for number, patent in patents.items()}
        # A cell belongs to its one patent when the row lists exactly one: attributable applicants.
        attributed: dict[str, set[str]] = defaultdict(set)
        cites: dict[str, dict[str, None]] = defaultdict(dict)  # dicts keep insertion order, deduplicate
        cited_by: dict[str, dict[str, None]] = defaultdict(dict)
        for number, patent in patents.items():
            # a grant citing its own application publication is the same patent: not a citation
            patent.listed_cited.discard(number)
            patent.listed_citing.discard(number)
            for listed, cell in ((patent.listed_cited, patent.cited_cell), (patent.listed_citing, patent.citing_cell)):
                if len(listed) == 1 and cell:
                    (other,) = listed
                    if other not in known:
                        attributed[other] |= cell
            for cited in patent.listed_cited:
                cites[number][cited] = None
                cited_by[cited][number] = None
            for citing in patent.listed_citing:
                cites[citing][number] = None
                cited_by[number][citing] = None
        for number, cell in attributed.items():
            known[number] = frozenset(cell)
        years = [p.year for p in patents.values() if p.year is not None]
        return _CitationData(
            names=names,
            patents=patents,
            known=known,
            attributed=set(attributed),
            cites={n: list(c) for n, c in cites.items()},
            cited_by={n: list(c) for n, c in cited_by.items()},
            last_year=max(years) if years else None,
        )


# One patent's citations of one kind (backward or forward), seen from one set of applicants (the side):
# (citations, determined self-citations, undetermined, certainly cites own, possibly cites own).
_Tally = tuple[int, int, int, bool, bool]


def _tally(known: Mapping[str, frozenset[str]], side: frozenset[str], neighbours: list[str],
           cell: frozenset[str]) -> _Tally:
    self_cites = unknown = undetermined = 0
    for number in neighbours:
        applicants = known.get(number)
        if applicants is None:
            unknown += 1
        elif not applicants.isdisjoint(side):
            self_cites += 1
    some_unknown_is_own = False
    if unknown:
        named = cell & side
        if not cell:
            undetermined = unknown
        elif not named:
            pass  # the joined cell names none of the side's applicants: none of the unknown ones is self
        elif cell <= side:
            self_cites += unknown  # the joined cell names only the side's applicants: all are self
        else:
            undetermined = unknown
            # the cell names one of the side's applicants that no cited patent with known applicants has:
            # a cited patent with unknown applicants must have it
            covered: set[str] = set()
            for number in neighbours:
                applicants = known.get(number)
                if applicants is not None:
                    covered |= applicants & side
            some_unknown_is_own = not named <= covered
    cites_own = self_cites > 0 or some_unknown_is_own
    return len(neighbours), self_cites, undetermined, cites_own, cites_own or undetermined > 0


def _shares(prefix: str, total: int, self_cites: int, undetermined: int) -> dict[str, Any]:
    determined = total - undetermined
    return {
        f"{prefix}_citations": total,
        f"{prefix}_self_citations": self_cites,
        f"{prefix}_undetermined": undetermined,
        f"{prefix}_self_share": self_cites / determined if determined else math.nan,
        f"{prefix}_self_share_lower": self_cites / total if total else math.nan,
        f"{prefix}_self_share_upper": (self_cites + undetermined) / total if total else math.nan,
    }


# --------------------------------------------------------------------------------------------------
# Public measures


def build_citation_graph(records: Iterable[PatentRecord], aliases: Mapping[str, str] | None = None) -> nx.DiGraph:
    """Directed citation graph: citing patent -> cited patent, by canonical publication number.

    Node attributes: ``applicants`` (frozenset of display names; empty when unknown), ``applicants_known``,
    ``year`` (None outside the export or undated), ``in_export``. Edge attribute ``self_citation``:
    "yes", "no" or "unknown" (applicant sets overlap; see the module docstring for the unknown ones).
    """
    import networkx as nx

    data = _citation_data(records, aliases)
    display = data.names.display
    graph = nx.DiGraph()
    with _gc_paused():
        graph.add_nodes_from(
            (number, {"applicants": frozenset(display(k) for k in patent.applicants), "applicants_known": True,
                      "year": patent.year, "in_export": True})
            for number, patent in data.patents.items())
        outside = {n for n in data.cited_by if n not in data.patents} | {n for n in data.cites if n not in data.patents}
        graph.add_nodes_from(
            (number, {"applicants": frozenset(display(k) for k in data.known.get(number, ())),
                      "applicants_known": number in data.known, "year": None, "in_export": False})
            for number in sorted(outside))
        # Each edge's status from its exported end, with that end's joined cell; an edge between two
        # exported patents gets the same status from either end.
        edges = []
        for number, patent in data.patents.items():
            for other in data.cites.get(number, ()):
                edges.append((number, other, _edge_status(data.known, patent.applicants, other, patent.cited_cell)))
            for other in data.cited_by.get(number, ()):
                if other not in data.patents:
                    edges.append((other, number, _edge_status(data.known, patent.applicants, other, patent.citing_cell)))
        graph.add_edges_from((u, v, {"self_citation": status}) for u, v, status in edges)
    return graph


def _edge_status(known: Mapping[str, frozenset[str]], side: frozenset[str], other: str, cell: frozenset[str]) -> str:
    _, self_cites, undetermined, _, _ = _tally(known, side, [other], cell)
    return "unknown" if undetermined else ("yes" if self_cites else "no")


def write_graphml(graph: nx.DiGraph, path: str | Path) -> Path:
    """Write the citation graph as GraphML, atomically; sets become "; "-joined text, None is left out."""
    import networkx as nx

    def scalar(attributes: Mapping[str, Any]) -> dict[str, Any]:
        out = {}
        for key, value in attributes.items():
            if value is None:
                continue
            if isinstance(value, (set, frozenset, list, tuple)):
                value = "; ".join(sorted(str(v) for v in value))
            out[key] = value
        return out

    plain = nx.DiGraph()
    plain.add_nodes_from((n, scalar(a)) for n, a in graph.nodes(data=True))
    plain.add_edges_from((u, v, scalar(a)) for u, v, a in graph.edges(data=True))
    with atomic_path(path, suffix=".graphml") as tmp:
        nx.write_graphml(plain, tmp, encoding="utf-8")
    return Path(path)


_COUNT_PREFIXES = ("backward", "forward")
_SHARE_COLUMNS = [f"{p}_{s}" for p in _COUNT_PREFIXES
                  for s in ("citations", "self_citations", "undetermined", "self_share", "self_share_lower",
                            "self_share_upper")]
_PATENT_COLUMNS = ["publication_number", "rows", "year", "applicants", *_SHARE_COLUMNS, "cites_own",
                   "possibly_cites_own"]
_OWN_COLUMNS = ["patents_citing_own", "patents_possibly_citing_own", "citing_own_share", "citing_own_share_upper"]
_FIRM_YEAR_COLUMNS = ["firm", "year", "n_patents", *_SHARE_COLUMNS, *_OWN_COLUMNS, "has_self_citation"]
_FIRM_COLUMNS = ["firm", "n_patents", "n_years", "first_year", "last_year", *_SHARE_COLUMNS, *_OWN_COLUMNS,
                 "self_citation_years", "continuity_longest", "continuity_current", "continuity_through"]


def self_citation_by_patent(records: Iterable[PatentRecord], aliases: Mapping[str, str] | None = None) -> pd.DataFrame:
    """One row per patent of the export (merged by canonical number): backward and forward self-citation,
    where a self-citation is an overlap of the citing and cited applicant sets."""
    import pandas as pd

    data = _citation_data(records, aliases)
    display = data.names.display
    rows = []
    with _gc_paused():
        for number in sorted(data.patents):
            patent = data.patents[number]
            backward = _tally(data.known, patent.applicants, data.cites.get(number, []), patent.cited_cell)
            forward = _tally(data.known, patent.applicants, data.cited_by.get(number, []), patent.citing_cell)
            rows.append({
                "publication_number": number,
                "rows": "; ".join(str(r) for r in patent.rows),
                "year": patent.year,
                "applicants": "; ".join(sorted(display(k) for k in patent.applicants)),
                **_shares("backward", *backward[:3]),
                **_shares("forward", *forward[:3]),
                "cites_own": backward[3],
                "possibly_cites_own": backward[4],
            })
    frame = pd.DataFrame(rows, columns=_PATENT_COLUMNS)
    frame["year"] = frame["year"].astype("Int64")
    return frame


# Per firm-year counters, in this order: patents, then backward citations, self-citations, undetermined,
# then the same forward, then patents certainly and possibly citing their firm's own patents.
_N_COUNTS = 9


def _counts_row(counts: Sequence[int]) -> dict[str, Any]:
    n_patents, citing_own, possibly_citing_own = counts[0], counts[7], counts[8]
    return {
        "n_patents": n_patents,
        **_shares("backward", *counts[1:4]),
        **_shares("forward", *counts[4:7]),
        "patents_citing_own": citing_own,
        "patents_possibly_citing_own": possibly_citing_own,
        "citing_own_share": citing_own / n_patents if n_patents else math.nan,
        "citing_own_share_upper": possibly_citing_own / n_patents if n_patents else math.nan,
    }


def _firm_years(data: _CitationData) -> dict[tuple[str, int | None], list[int]]:
    cells: dict[tuple[str, int | None], list[int]] = {}
    known = data.known
    no_neighbours: list[str] = []
    for number, patent in data.patents.items():
        cited = data.cites.get(number, no_neighbours)
        citing = data.cited_by.get(number, no_neighbours)
        for firm in patent.applicants:
            side = frozenset((firm,))
            b_total, b_self, b_undetermined, cites_own, possibly = _tally(known, side, cited, patent.cited_cell)
            f_total, f_self, f_undetermined, _, _ = _tally(known, side, citing, patent.citing_cell)
            key = (firm, patent.year)
            cell = cells.get(key)
            if cell is None:
                cell = cells[key] = [0] * _N_COUNTS
            cell[0] += 1
            cell[1] += b_total
            cell[2] += b_self
            cell[3] += b_undetermined
            cell[4] += f_total
            cell[5] += f_self
            cell[6] += f_undetermined
            cell[7] += cites_own
            cell[8] += possibly
    return cells


def _year_order(year: int | None) -> tuple[bool, int]:
    return (year is None, year or 0)


def self_citation_by_firm_year(records: Iterable[PatentRecord], aliases: Mapping[str, str] | None = None) -> pd.DataFrame:
    """One row per firm (every standardised applicant, subsidiaries mapped to their parent) and application
    year; undated patents form a row with an empty year. A citation is the firm's self-citation when the
    cited (or, forward, the citing) patent has the firm among its applicants."""
    import pandas as pd

    data = _citation_data(records, aliases)
    display = data.names.display
    cells = _firm_years(data)
    ordered = sorted(cells.items(), key=lambda item: (display(item[0][0]), _year_order(item[0][1])))
    rows = [{"firm": display(firm), "year": year, **_counts_row(counts), "has_self_citation": counts[7] > 0}
            for (firm, year), counts in ordered]
    frame = pd.DataFrame(rows, columns=_FIRM_YEAR_COLUMNS)
    frame["year"] = frame["year"].astype("Int64")
    return frame


def _runs(years: set[int], through: int | None) -> tuple[int, int]:
    """(longest run of consecutive years, the run ending in ``through``)."""
    longest = 0
    for year in years:
        if year - 1 not in years:
            length = 1
            while year + length in years:
                length += 1
            longest = max(longest, length)
    current = 0
    if through is not None:
        while through - current in years:
            current += 1
    return longest, current


def self_citation_by_firm(
    records: Iterable[PatentRecord], aliases: Mapping[str, str] | None = None, *, last_year: int | None = None
) -> pd.DataFrame:
    """One row per firm (column ``firm``, the standardised name): the firm-year measures pooled over years,
    plus continuity of self-citation. ``last_year`` (default: the export's last application year) is the
    year the ``continuity_current`` run must reach."""
    import pandas as pd

    data = _citation_data(records, aliases)
    through = last_year if last_year is not None else data.last_year
    by_firm: dict[str, dict[int | None, list[int]]] = defaultdict(dict)
    for (firm, year), counts in _firm_years(data).items():
        by_firm[firm][year] = counts
    display = data.names.display
    rows = []
    for firm in sorted(by_firm, key=display):
        years = by_firm[firm]
        pooled = [sum(column) for column in zip(*years.values())]
        dated = [y for y in years if y is not None]
        self_years = {y for y, counts in years.items() if y is not None and counts[7] > 0}
        longest, current = _runs(self_years, through)
        rows.append({
            "firm": display(firm),
            **_counts_row(pooled),
            "n_years": len(dated),
            "first_year": min(dated) if dated else None,
            "last_year": max(dated) if dated else None,
            "self_citation_years": len(self_years),
            "continuity_longest": longest,
            "continuity_current": current,
            "continuity_through": through,
        })
    frame = pd.DataFrame(rows, columns=_FIRM_COLUMNS)
    for column in ("first_year", "last_year", "continuity_through"):
        frame[column] = frame[column].astype("Int64")
    return frame
