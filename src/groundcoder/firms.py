"""Reading the researcher's firm table (firms.csv / firms.xlsx) and other small spreadsheets.

The firm table has one row per firm: ``code`` (required), ``name``, ``industry``, ``founded`` and
any other columns, which are kept as the firm's attributes. Headers are matched tolerantly (NFKC,
case, spaces; English and Chinese aliases such as firm_id, 证券代码, 公司代码, 成立日期).

Errors name the file and the row as Excel shows it (the header is row 1). CSV files are decoded
like any text file (``groundcoder.documents.decode_text``): by byte-order mark, else
UTF-8, else GB18030, which is what Excel on Chinese Windows writes; the encoding used is recorded.
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path

from .errors import InputError
from .store import Firm

CSV_SUFFIXES = {".csv", ".tsv", ".txt"}
XLSX_SUFFIXES = {".xlsx", ".xlsm"}

CODE_ALIASES = (
    "code", "firm_id", "firm_code", "firmid", "company_code", "company_id", "stock_code", "stkcd", "ticker",
    "symbol", "证券代码", "公司代码", "股票代码", "企业代码", "代码",
)  # fmt: skip
NAME_ALIASES = ("name", "firm_name", "company_name", "company", "firm", "公司名称", "企业名称", "公司全称", "名称")
# Used as the name when the table has no full-name column (CSMAR/Wind exports often give only 证券简称).
SHORT_NAME_ALIASES = ("short_name", "证券简称", "股票简称", "公司简称", "简称")
INDUSTRY_ALIASES = ("industry", "industry_name", "sector", "行业", "所属行业", "行业名称", "行业分类")
FOUNDED_ALIASES = (
    "founded", "founding_date", "founded_date", "founded_on", "founding", "founding_year", "established",
    "establishment_date", "date_founded", "成立日期", "成立时间", "成立年份", "创立日期", "创立时间", "设立日期",
)  # fmt: skip

FIRM_COLUMNS: dict[str, tuple[str, ...]] = {
    "code": CODE_ALIASES,
    "name": NAME_ALIASES,
    "industry": INDUSTRY_ALIASES,
    "founded": FOUNDED_ALIASES,
}


def normalize_header(header: str) -> str:
    """NFKC, trimmed, case-folded, runs of spaces/hyphens as one underscore: '  Firm-ID ' -> 'firm_id'."""
    text = unicodedata.normalize("NFKC", header).replace("\ufeff", "").strip().casefold()
    return re.sub(r"[\s\-]+", "_", text)


# --------------------------------------------------------------------------------------------------
# Spreadsheets as rows of strings


@dataclass(frozen=True)
class SheetRow:
    row: int  # as Excel shows it; the header is row 1 unless blank rows precede it
    values: list[str]


@dataclass(frozen=True)
class Sheet:
    path: Path
    encoding: str  # utf-8, utf-8-sig, utf-16, gb18030, or xlsx
    header: list[str]
    header_row: int
    rows: list[SheetRow]  # non-blank rows below the header


def read_sheet(path: str | Path) -> Sheet:
    """Read a CSV or the first sheet of an XLSX as strings, keeping Excel's row numbers."""
    path = Path(path)
    if not path.is_file():
        raise InputError(path, "file not found" if not path.exists() else "is not a file")
    suffix = path.suffix.lower()
    if suffix in XLSX_SUFFIXES:
        records, encoding = _xlsx_records(path), "xlsx"
    elif suffix in CSV_SUFFIXES:
        records, encoding = _csv_records(path)
    elif suffix == ".xls":
        raise InputError(path, "old Excel .xls files are not read", hint="open it in Excel and save as .xlsx or CSV UTF-8")
    else:
        raise InputError(path, f"cannot read a table from a {suffix or 'suffix-less'} file", hint="use .csv or .xlsx")
    header: list[str] | None = None
    header_row = 0
    rows: list[SheetRow] = []
    for row_no, values in records:
        if not any(v.strip() for v in values):
            continue
        if header is None:
            header, header_row = [v.strip() for v in values], row_no
        else:
            rows.append(SheetRow(row_no, values))
    if header is None:
        raise InputError(path, "is empty: no header row found", hint="the first row names the columns")
    return Sheet(path, encoding, header, header_row, rows)


def _csv_records(path: Path) -> tuple[list[tuple[int, list[str]]], str]:
    from .documents import decode_text

    text, encoding = decode_text(path.read_bytes(), path)
    first_line = text.split("\n", 1)[0]
    delimiter = max(",\t;", key=first_line.count) if any(d in first_line for d in ",\t;") else ","
    try:
        # Excel shows one row per CSV record (a quoted cell may span lines), so number records, not lines.
        records = [(n, row) for n, row in enumerate(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter), start=1)]
    except csv.Error as exc:
        raise InputError(path, f"is not a well-formed CSV ({exc})", hint="check the quotes around cells") from exc
    return records, encoding


def _xlsx_records(path: Path) -> list[tuple[int, list[str]]]:
    import openpyxl

    try:
        workbook = openpyxl.load_workbook(path, data_only=True)
    except Exception as exc:  # openpyxl raises zipfile, KeyError and XML errors for damaged files
        raise InputError(path, f"cannot be opened as an Excel workbook ({type(exc).__name__}: {exc})", hint="re-save it from Excel as .xlsx") from exc
    sheet = workbook.worksheets[0]
    records = []
    for cells in sheet.iter_rows():
        if cells:
            records.append((cells[0].row, [_cell_text(c.value, c.number_format) for c in cells]))
    return records


def _cell_text(value: object, number_format: str | None) -> str:
    """A cell as Excel shows it: 6-digit codes formatted '000000' keep their zeros, dates become ISO."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == datetime.min.time() else value.isoformat(sep=" ")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, (int, float)):
        if isinstance(value, float) and not value.is_integer():
            return repr(value)
        text = str(int(value))
        if number_format and re.fullmatch(r"0+", number_format):
            text = text.zfill(len(number_format))
        return text
    return str(value)


# --------------------------------------------------------------------------------------------------
# Column matching


def match_columns(sheet: Sheet, wanted: Mapping[str, Iterable[str]], required: Iterable[str] = ()) -> dict[str, int]:
    """Map each wanted field to the index of its column, by aliases; errors name the columns found."""
    aliases = {normalize_header(a): name for name, names in wanted.items() for a in names}
    found: dict[str, int] = {}
    for index, header in enumerate(sheet.header):
        name = aliases.get(normalize_header(header))
        if name is None:
            continue
        if name in found:
            other = sheet.header[found[name]]
            raise InputError(
                sheet.path,
                f"columns {other!r} and {header!r} both give the {name}",
                row=sheet.header_row,
                hint="rename or delete one of them",
            )
        found[name] = index
    for name in required:
        if name not in found:
            shown = ", ".join(repr(h) for h in sheet.header if h) or "none"
            raise InputError(
                sheet.path,
                f"no {name} column (columns found: {shown})",
                row=sheet.header_row,
                hint=f"name the column one of: {', '.join(wanted[name])}",
            )
    return found


def cell(row: SheetRow, index: int | None) -> str:
    if index is None or index >= len(row.values):
        return ""
    return row.values[index].strip()


def normalize_code(text: str) -> str:
    """Firm codes are compared after NFKC (full-width digits) and trimming."""
    return unicodedata.normalize("NFKC", text).strip()


# --------------------------------------------------------------------------------------------------
# Dates


_YMD = re.compile(r"(\d{4})\s*[-/.年]\s*(\d{1,2})\s*(?:[-/.月]\s*(\d{1,2})\s*日?|月)?")
_COMPACT = re.compile(r"(\d{4})(\d{2})(\d{2})")
_YEAR = re.compile(r"(\d{4})\s*年?")
_EXCEL_SERIAL = re.compile(r"\d{5}")
_EXCEL_EPOCH = date(1899, 12, 30)


def parse_date(text: str) -> date | None:
    """Parse a founding date as researchers write it; year-only and year-month give the first day.

    Accepts 2006-04-12, 2006/4/12, 2006.4.12, 2006年4月12日, 2006年4月, 2006-04, 20060412, 2006, 2006年,
    a trailing time of day, and Excel day serials (38819). Empty gives None; anything else ValueError.
    """
    text = unicodedata.normalize("NFKC", text).strip()
    if not text:
        return None
    text = re.sub(r"[ T]\d{1,2}:\d{2}(:\d{2}(\.\d+)?)?$", "", text)
    if m := _YMD.fullmatch(text):
        return date(int(m[1]), int(m[2]), int(m[3] or 1))
    if m := _COMPACT.fullmatch(text):
        return date(int(m[1]), int(m[2]), int(m[3]))
    if m := _YEAR.fullmatch(text):
        return date(int(m[1]), 1, 1)
    if _EXCEL_SERIAL.fullmatch(text):
        return _EXCEL_EPOCH + timedelta(days=int(text))
    raise ValueError(f"{text!r} is not a date")


# --------------------------------------------------------------------------------------------------
# Firm table


@dataclass(frozen=True)
class FirmTable:
    path: Path
    encoding: str
    firms: list[Firm]
    warnings: list[str] = field(default_factory=list)

    def by_code(self) -> dict[str, Firm]:
        return {f.code: f for f in self.firms}


def read_firm_table(path: str | Path) -> FirmTable:
    """Read firms.csv / firms.xlsx; a row without code, a repeated code or a bad date is an InputError."""
    sheet = read_sheet(path)
    columns = match_columns(sheet, {**FIRM_COLUMNS, "short_name": SHORT_NAME_ALIASES}, required=("code",))
    known = {index for name, index in columns.items() if name in FIRM_COLUMNS}  # the short name stays an attribute
    extra = [(i, h) for i, h in enumerate(sheet.header) if i not in known and h]
    firms: list[Firm] = []
    first_row: dict[str, int] = {}
    for row in sheet.rows:
        code = normalize_code(cell(row, columns["code"]))
        if not code:
            raise InputError(
                sheet.path,
                f"this row has no firm code (column {sheet.header[columns['code']]!r} is empty)",
                row=row.row,
                hint="fill in the code or delete the row",
            )
        if code in first_row:
            raise InputError(
                sheet.path,
                f"firm code {code!r} appears again (first at row {first_row[code]})",
                row=row.row,
                hint="each firm gets one row; merge or delete the repeat",
            )
        first_row[code] = row.row
        founded_text = cell(row, columns.get("founded"))
        try:
            founded = parse_date(founded_text)
        except ValueError:
            raise InputError(
                sheet.path,
                f"founding date {founded_text!r} of firm {code} is not a date",
                row=row.row,
                column=sheet.header[columns["founded"]],
                hint="write it as 2006-04-12, 2006年4月12日 or just the year 2006",
            ) from None
        attributes = {header: value for i, header in extra if (value := cell(row, i))}
        firms.append(
            Firm(
                code=code,
                name=cell(row, columns.get("name")) or cell(row, columns.get("short_name")),
                industry=cell(row, columns.get("industry")),
                founded=founded,
                attributes=attributes,
            )
        )
    return FirmTable(sheet.path, sheet.encoding, firms, _code_warnings(sheet.path, firms))


def _code_warnings(path: Path, firms: list[Firm]) -> list[str]:
    digit_codes = [f.code for f in firms if f.code.isdigit()]
    if any(len(c) == 6 for c in digit_codes):
        short = [c for c in digit_codes if len(c) < 6]
        if short:
            return [
                f"{path}: codes such as {', '.join(short[:3])} look like 6-digit stock codes that lost their leading "
                "zeros (Excel drops them); format the code column as text and re-save, or file names will not match"
            ]
    return []
