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
    records. A row whose own publication number is unreadable yields no record (its problem says so); a bad
    cited number drops only that number; a bad date leaves the record without a year.

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
    patent's applicants are unknown, and the joined cell is used for the bounds only, as below.

Self-citation (in the spirit of Hall, Jaffe & Trajtenberg 2001, NBER patent citations data file)
    A citation is a self-citation when the citing and cited applicant sets overlap. The per-firm and
    firm-year tables ask the firm's own question, "does the cited patent have this firm among its
    applicants", so a firm and a university co-applying does not make every citation of the university's
    patents the firm's self-citation. For the citations from one patent to cited patents with unknown
    applicants, the row's joined 引证申请人 cell U decides what it can, assuming (as incoPat's export
    does) that U holds every applicant of every cited patent of the row and nothing else:

    * U empty (blank cell): every such citation is undetermined.
    * U names none of the firm's applicants: none of them is a self-citation (determined).
    * U names only the firm's applicants: all of them are self-citations (determined).
    * otherwise: undetermined.

    With T citations, K determined self-citations and N undetermined ones,
    ``backward_self_share_lower = K / T`` (undetermined counted as not self, HJT's lower bound),
    ``backward_self_share_upper = (K + N) / T`` (counted as self, HJT's upper bound) and
    ``backward_self_share = K / (T - N)``, the share among determined citations (empty when N = T); it lies
    between the bounds. Firm-level and firm-year shares pool citations (sums of K, N, T), they do not average
    patent shares. Forward self-citation is the same computation on the patents citing this one
    (被引证专利, 被引证申请人), assigned to the cited patent's year.

Citing the firm's own earlier patents, continuity
    A patent cites its firm's own (earlier: a cited patent is earlier by construction) patents when it has
    at least one determined self-citation, or when its joined cell names the firm while no cited patent with
    known applicants has the firm (then some cited patent with unknown applicants must be the firm's);
    ``citing_own_share`` counts these, ``citing_own_share_upper`` also counts patents with undetermined
    citations. A firm-year has self-citation when at least one of the firm's patents applied for in that
    year cites its own; continuity is the longest run of consecutive such years (a year without patents
    breaks a run) and the run ending in the export's last year (``continuity_current``; 0 if the firm did
    not self-cite that year). Years are application years (申请日; 公开（公告）日 if the export has no 申请日).
"""

from __future__ import annotations

import csv
import io
import math
import re
import unicodedata
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
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
    """Split a multi-value cell on ; ； , ， 、 | and line breaks; pieces are stripped, empty ones dropped."""
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
    found = ", ".join(repr(_text(v).strip()) for v in fullest if _text(v).strip()) or "none"
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
    first_lines = text[:4096]
    delimiter = max(",\t;", key=first_lines.count)
    # Excel shows one row per CSV record (a quoted cell may span lines), so records are numbered, not lines.
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)

    def records() -> Iterator[Row]:
        try:
            yield from enumerate(reader, start=1)
        except csv.Error as exc:
            raise InputError(path, f"is not a well-formed CSV ({exc})", row=reader.line_num,
                             hint="check the quotes around cells") from exc

    rows = records()
    found, before = _find_header(rows)
    if found is None:
        raise _no_header(path, [before])
    return found[0], found[1], rows


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


def _parse_rows(rows: Iterator[Row], columns: _Columns, header: list[Any]) -> tuple[list[PatentRecord], list[CellProblem]]:
    index = columns.index
    names = {name: _text(header[i]).strip() for name, i in index.items()}
    records: list[PatentRecord] = []
    problems: list[CellProblem] = []

    def get(values: Sequence[Any], name: str) -> Any:
        i = index.get(name)
        return values[i] if i is not None and i < len(values) else None

    def numbers(row_no: int, values: Sequence[Any], name: str) -> tuple[str, ...]:
        out: list[str] = []
        for piece in split_cell(get(values, name)):
            try:
                out.append(canonical_publication_number(piece))
            except ValueError as exc:
                problems.append(CellProblem(row_no, names[name], piece, str(exc)))
        return tuple(dict.fromkeys(out))

    def a_date(row_no: int, values: Sequence[Any], name: str, required: bool) -> date | None:
        if name not in index:
            return None
        value = get(values, name)
        if isinstance(value, datetime):
            return value.date()
        if isinstance(value, date):
            return value
        text = _text(value).strip()
        if not text:
            if required:
                problems.append(CellProblem(row_no, names[name], "", "empty: the patent gets no year"))
            return None
        try:
            return parse_date(text)
        except (ValueError, OverflowError):
            problems.append(CellProblem(row_no, names[name], text, f"{text!r} is not a date"))
            return None

    for row_no, values in rows:
        if not any(_text(v).strip() for v in values):
            continue
        raw_number = _text(get(values, "publication_number")).strip()
        if not raw_number:
            problems.append(CellProblem(row_no, names["publication_number"], "",
                                        "empty: the row is not read without its publication number"))
            continue
        try:
            number = canonical_publication_number(raw_number)
        except ValueError as exc:
            problems.append(CellProblem(row_no, names["publication_number"], raw_number,
                                        f"{exc}: the row is not read"))
            continue
        application_date = a_date(row_no, values, "application_date", columns.date_field == "application_date")
        publication_date = a_date(row_no, values, "publication_date", columns.date_field == "publication_date")
        dated = application_date if columns.date_field == "application_date" else publication_date
        applicants = split_cell(get(values, "standardised_applicants")) or split_cell(get(values, "applicants"))
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
            cited=numbers(row_no, values, "cited"),
            cited_applicants=tuple(dict.fromkeys(split_cell(get(values, "cited_applicants")))),
            citing=numbers(row_no, values, "citing"),
            citing_applicants=tuple(dict.fromkeys(split_cell(get(values, "citing_applicants")))),
            application_number=_text(get(values, "application_number")).strip(),
            title=_text(get(values, "title")).strip(),
            patent_type=_text(get(values, "patent_type")).strip(),
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
        self.display: dict[str, str] = {}
        self._cache: dict[str, str] = {}
        for alias, firm in (aliases or {}).items():
            firm_key = applicant_key(firm)
            self.alias[applicant_key(alias)] = firm_key
            self.display.setdefault(firm_key, firm.strip())  # the alias table's spelling wins

    def keys(self, names: Iterable[str]) -> frozenset[str]:
        out = []
        for name in names:
            key = self._cache.get(name)
            if key is None:
                key = applicant_key(name)
                key = self.alias.get(key, key)
                self.display.setdefault(key, name.strip())
                self._cache[name] = key
            out.append(key)
        return frozenset(out)


@dataclass
class _Patent:
    number: str
    rows: list[int]
    year: int | None
    applicants: frozenset[str]  # keys
    cited_cell: frozenset[str]  # keys of the joined 引证申请人 cell(s)
    citing_cell: frozenset[str]  # keys of the joined 被引证申请人 cell(s)
    listed_cited: set[str] = field(default_factory=set)
    listed_citing: set[str] = field(default_factory=set)


@dataclass
class _CitationData:
    names: _Names
    patents: dict[str, _Patent]  # in the export, by canonical number
    attributed: dict[str, frozenset[str]]  # outside the export, applicants from a one-patent cell
    cites: dict[str, list[str]]  # node -> cited nodes (deduplicated)
    cited_by: dict[str, list[str]]  # node -> citing nodes
    last_year: int | None

    def applicants_of(self, number: str) -> frozenset[str] | None:
        patent = self.patents.get(number)
        if patent is not None:
            return patent.applicants
        return self.attributed.get(number)


def _citation_data(records: Iterable[PatentRecord], aliases: Mapping[str, str] | None) -> _CitationData:
    names = _Names(aliases)
    patents: dict[str, _Patent] = {}
    for record in records:
        patent = patents.get(record.publication_number)
        applicants = names.keys(record.applicants)
        cited_cell = names.keys(record.cited_applicants)
        citing_cell = names.keys(record.citing_applicants)
        if patent is None:
            patent = patents[record.publication_number] = _Patent(
                record.publication_number, [record.row], record.year, applicants, cited_cell, citing_cell)
        else:  # the same patent exported twice (A and B publications): merge
            patent.rows.append(record.row)
            if record.year is not None and (patent.year is None or record.year < patent.year):
                patent.year = record.year
            patent.applicants |= applicants
            patent.cited_cell |= cited_cell
            patent.citing_cell |= citing_cell
        patent.listed_cited.update(n for n in record.cited if n != record.publication_number)
        patent.listed_citing.update(n for n in record.citing if n != record.publication_number)

    # A cell belongs to its one patent when the row lists exactly one: attributable applicants.
    attributed: dict[str, set[str]] = defaultdict(set)
    cites: dict[str, dict[str, None]] = defaultdict(dict)  # dicts keep insertion order, deduplicate
    cited_by: dict[str, dict[str, None]] = defaultdict(dict)
    for number, patent in patents.items():
        for listed, cell in ((patent.listed_cited, patent.cited_cell), (patent.listed_citing, patent.citing_cell)):
            if len(listed) == 1 and cell:
                (other,) = listed
                if other not in patents:
                    attributed[other] |= cell
        for cited in patent.listed_cited:
            cites[number][cited] = None
            cited_by[cited][number] = None
        for citing in patent.listed_citing:
            cites[citing][number] = None
            cited_by[number][citing] = None
    years = [p.year for p in patents.values() if p.year is not None]
    return _CitationData(
        names=names,
        patents=patents,
        attributed={n: frozenset(a) for n, a in attributed.items()},
        cites={n: list(c) for n, c in cites.items()},
        cited_by={n: list(c) for n, c in cited_by.items()},
        last_year=max(years) if years else None,
    )


@dataclass
class _Tally:
    """Citations of one kind (backward or forward) from one patent, seen from one set of applicants."""

    total: int = 0
    self_cites: int = 0  # determined self-citations
    undetermined: int = 0
    cites_own: bool = False  # at least one self-citation is certain
    possibly_cites_own: bool = False

    def add(self, other: _Tally) -> None:
        self.total += other.total
        self.self_cites += other.self_cites
        self.undetermined += other.undetermined


def _tally(data: _CitationData, side: frozenset[str], neighbours: list[str], cell: frozenset[str]) -> _Tally:
    tally = _Tally(total=len(neighbours))
    unknown = 0
    covered: set[str] = set()  # the side's applicants found on neighbours with known applicants
    for number in neighbours:
        applicants = data.applicants_of(number)
        if applicants is None:
            unknown += 1
        elif not applicants.isdisjoint(side):
            tally.self_cites += 1
            covered |= applicants & side
    some_unknown_is_own = False
    if unknown:
        named = cell & side
        if not cell:
            tally.undetermined = unknown
        elif not named:
            pass  # the joined cell names none of the side's applicants: none of the unknown ones is self
        elif cell <= side:
            tally.self_cites += unknown  # the joined cell names only the side's applicants: all are self
        else:
            tally.undetermined = unknown
            some_unknown_is_own = not named <= covered
    tally.cites_own = tally.self_cites > 0 or some_unknown_is_own
    tally.possibly_cites_own = tally.cites_own or tally.undetermined > 0
    return tally


def _shares(prefix: str, tally: _Tally) -> dict[str, Any]:
    determined = tally.total - tally.undetermined
    return {
        f"{prefix}_citations": tally.total,
        f"{prefix}_self_citations": tally.self_cites,
        f"{prefix}_undetermined": tally.undetermined,
        f"{prefix}_self_share": tally.self_cites / determined if determined else math.nan,
        f"{prefix}_self_share_lower": tally.self_cites / tally.total if tally.total else math.nan,
        f"{prefix}_self_share_upper": (tally.self_cites + tally.undetermined) / tally.total if tally.total else math.nan,
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
    for number, patent in data.patents.items():
        graph.add_node(number, applicants=frozenset(display[k] for k in patent.applicants), applicants_known=True,
                       year=patent.year, in_export=True)
    for source, targets in data.cites.items():
        for target in targets:
            for number in (source, target):
                if number not in graph:
                    known = data.attributed.get(number)
                    graph.add_node(number, applicants=frozenset(display[k] for k in known or ()),
                                   applicants_known=known is not None, year=None, in_export=False)
            graph.add_edge(source, target)
    # Each edge's status from the exported end's point of view, with that end's joined cell.
    for number, patent in data.patents.items():
        for neighbours, cell, edge in ((data.cites.get(number, []), patent.cited_cell, lambda n: (number, n)),
                                       (data.cited_by.get(number, []), patent.citing_cell, lambda n: (n, number))):
            for other in neighbours:
                one = _tally(data, patent.applicants, [other], cell)
                status = "unknown" if one.undetermined else ("yes" if one.self_cites else "no")
                graph.edges[edge(other)]["self_citation"] = status
    return graph


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


def self_citation_by_patent(records: Iterable[PatentRecord], aliases: Mapping[str, str] | None = None) -> pd.DataFrame:
    """One row per patent of the export (merged by canonical number): backward and forward self-citation,
    where a self-citation is an overlap of the citing and cited applicant sets."""
    import pandas as pd

    data = _citation_data(records, aliases)
    rows = []
    for number in sorted(data.patents):
        patent = data.patents[number]
        backward = _tally(data, patent.applicants, data.cites.get(number, []), patent.cited_cell)
        forward = _tally(data, patent.applicants, data.cited_by.get(number, []), patent.citing_cell)
        rows.append({
            "publication_number": number,
            "rows": "; ".join(str(r) for r in patent.rows),
            "year": patent.year,
            "applicants": "; ".join(sorted(data.names.display[k] for k in patent.applicants)),
            **_shares("backward", backward),
            **_shares("forward", forward),
            "cites_own": backward.cites_own,
            "possibly_cites_own": backward.possibly_cites_own,
        })
    frame = pd.DataFrame(rows, columns=_PATENT_COLUMNS)
    frame["year"] = frame["year"].astype("Int64")
    return frame


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


@dataclass
class _FirmYear:
    n_patents: int = 0
    backward: _Tally = field(default_factory=_Tally)
    forward: _Tally = field(default_factory=_Tally)
    citing_own: int = 0
    possibly_citing_own: int = 0

    def row(self) -> dict[str, Any]:
        return {
            "n_patents": self.n_patents,
            **_shares("backward", self.backward),
            **_shares("forward", self.forward),
            "patents_citing_own": self.citing_own,
            "patents_possibly_citing_own": self.possibly_citing_own,
            "citing_own_share": self.citing_own / self.n_patents if self.n_patents else math.nan,
            "citing_own_share_upper": self.possibly_citing_own / self.n_patents if self.n_patents else math.nan,
        }


def _firm_years(data: _CitationData) -> dict[tuple[str, int | None], _FirmYear]:
    cells: dict[tuple[str, int | None], _FirmYear] = defaultdict(_FirmYear)
    for number, patent in data.patents.items():
        cited = data.cites.get(number, [])
        citing = data.cited_by.get(number, [])
        for firm in patent.applicants:
            side = frozenset((firm,))
            backward = _tally(data, side, cited, patent.cited_cell)
            forward = _tally(data, side, citing, patent.citing_cell)
            cell = cells[(firm, patent.year)]
            cell.n_patents += 1
            cell.backward.add(backward)
            cell.forward.add(forward)
            cell.citing_own += backward.cites_own
            cell.possibly_citing_own += backward.possibly_cites_own
    return cells


def self_citation_by_firm_year(records: Iterable[PatentRecord], aliases: Mapping[str, str] | None = None) -> pd.DataFrame:
    """One row per firm (every standardised applicant, subsidiaries mapped to their parent) and application
    year; undated patents form a row with an empty year. A citation is the firm's self-citation when the
    cited (or, forward, the citing) patent has the firm among its applicants."""
    data = _citation_data(records, aliases)
    return _firm_year_frame(data, _firm_years(data))


def _firm_year_frame(data: _CitationData, cells: Mapping[tuple[str, int | None], _FirmYear]) -> pd.DataFrame:
    import pandas as pd

    display = data.names.display
    ordered = sorted(cells.items(), key=lambda item: (display[item[0][0]], item[0][1] is None, item[0][1] or 0))
    rows = [{"firm": display[firm], "year": year, **cell.row(), "has_self_citation": cell.citing_own > 0}
            for (firm, year), cell in ordered]
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
    cells = _firm_years(data)
    through = last_year if last_year is not None else data.last_year
    by_firm: dict[str, dict[int | None, _FirmYear]] = defaultdict(dict)
    for (firm, year), cell in cells.items():
        by_firm[firm][year] = cell
    display = data.names.display
    rows = []
    for firm in sorted(by_firm, key=lambda k: display[k]):
        years = by_firm[firm]
        pooled = _FirmYear()
        for cell in years.values():
            pooled.n_patents += cell.n_patents
            pooled.backward.add(cell.backward)
            pooled.forward.add(cell.forward)
            pooled.citing_own += cell.citing_own
            pooled.possibly_citing_own += cell.possibly_citing_own
        dated = [y for y in years if y is not None]
        self_years = {y for y, cell in years.items() if y is not None and cell.citing_own > 0}
        longest, current = _runs(self_years, through)
        rows.append({
            "firm": display[firm],
            **pooled.row(),
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
