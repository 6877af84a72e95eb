"""Reading the firm table: tolerant headers, encodings, Excel row numbers in errors."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import openpyxl
import pytest

from groundcoder.errors import InputError
from groundcoder.firms import normalize_header, parse_date, read_firm_table, read_sheet


def _write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.write_bytes(text.encode(encoding))
    return path


def test_utf8_csv_with_chinese_aliases_keeps_codes_and_extra_columns(tmp_path: Path) -> None:
    path = _write(
        tmp_path / "firms.csv",
        " 证券代码 ,公司名称,所属行业,成立日期,省份\n000001,平安银行,金融,1987-12-22,广东\n300750,宁德时代,制造业,2011年12月16日,\n",
    )
    table = read_firm_table(path)
    assert table.encoding == "utf-8"
    first, second = table.firms
    assert (first.code, first.name, first.industry, first.founded) == ("000001", "平安银行", "金融", date(1987, 12, 22))
    assert first.attributes == {"省份": "广东"}
    assert second.founded == date(2011, 12, 16) and second.attributes == {}
    assert table.warnings == []


def test_bom_and_english_aliases_and_nfkc_headers(tmp_path: Path) -> None:
    path = _write(tmp_path / "firms.csv", "Firm-ID,Name,Industry,Founding Date\nD0001,启衡精密,manufacturing,2006/4/12\n", "utf-8-sig")
    table = read_firm_table(path)
    assert table.encoding == "utf-8-sig"
    assert table.firms[0].code == "D0001" and table.firms[0].founded == date(2006, 4, 12)
    assert normalize_header("\ufeff  ＦＩＲＭ－ID ") == "firm_id"


def test_gbk_csv_from_chinese_excel_is_read_as_gb18030(tmp_path: Path) -> None:
    path = _write(tmp_path / "firms.csv", "公司代码,公司名称,成立时间\n600519,贵州茅台酒股份有限公司,1999\n", "gbk")
    table = read_firm_table(path)
    assert table.encoding == "gb18030"
    assert table.firms[0].name == "贵州茅台酒股份有限公司" and table.firms[0].founded == date(1999, 1, 1)


def test_row_missing_code_names_file_and_excel_row(tmp_path: Path) -> None:
    # A quoted cell spanning two lines is still one Excel row, and a blank line is a row too.
    path = _write(tmp_path / "firms.csv", 'code,name\nF1,"甲\n公司"\n\nF2,乙\n,丙公司\n')
    with pytest.raises(InputError, match="no firm code") as info:
        read_firm_table(path)
    assert info.value.path == path and info.value.row == 5
    assert "row 5" in str(info.value) and str(path) in str(info.value)


def test_duplicate_code_names_both_rows(tmp_path: Path) -> None:
    path = _write(tmp_path / "firms.csv", "code,name\nF1,甲\nF2,乙\nＦ1,甲again\n")  # full-width Ｆ1 is F1
    with pytest.raises(InputError, match=r"'F1' appears again \(first at row 2\)") as info:
        read_firm_table(path)
    assert info.value.row == 4


def test_unparseable_date_names_row_and_column(tmp_path: Path) -> None:
    path = _write(tmp_path / "firms.csv", "code,成立日期\nF1,2006-04-12\nF2,去年\n")
    with pytest.raises(InputError, match="'去年'.*not a date") as info:
        read_firm_table(path)
    assert (info.value.row, info.value.column) == (3, "成立日期")
    path = _write(tmp_path / "bad.csv", "code,founded\nF1,2006-13-40\n")
    with pytest.raises(InputError, match="not a date") as info:
        read_firm_table(path)
    assert info.value.row == 2


def test_missing_code_column_lists_columns_found(tmp_path: Path) -> None:
    path = _write(tmp_path / "firms.csv", "公司名称,行业\n甲,制造\n")
    with pytest.raises(InputError, match="no code column.*'公司名称', '行业'") as info:
        read_firm_table(path)
    assert info.value.row == 1 and "证券代码" in str(info.value)


def test_two_columns_meaning_the_same_field_are_refused(tmp_path: Path) -> None:
    path = _write(tmp_path / "firms.csv", "code,证券代码\nF1,F1\n")
    with pytest.raises(InputError, match="both give the code"):
        read_firm_table(path)


def test_xlsx_keeps_zero_padded_codes_dates_and_row_numbers(tmp_path: Path) -> None:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append(["股票代码", "公司名称", "成立日期", "员工人数"])
    sheet.append([1, "平安银行", datetime(1987, 12, 22), 40000])
    sheet["A2"].number_format = "000000"
    sheet.append(["300750", "宁德时代", "2011-12-16", None])
    sheet.append([None, None, None, None])
    sheet.append([None, "无代码公司", None, None])
    path = tmp_path / "firms.xlsx"
    workbook.save(path)
    with pytest.raises(InputError) as info:
        read_firm_table(path)
    assert info.value.row == 5
    sheet.delete_rows(5)
    workbook.save(path)
    table = read_firm_table(path)
    assert table.encoding == "xlsx"
    assert [f.code for f in table.firms] == ["000001", "300750"]
    assert table.firms[0].founded == date(1987, 12, 22) and table.firms[0].attributes == {"员工人数": "40000"}


def test_codes_that_lost_leading_zeros_are_warned_about(tmp_path: Path) -> None:
    path = _write(tmp_path / "firms.csv", "code\n1\n300750\n")
    table = read_firm_table(path)
    assert len(table.warnings) == 1 and "leading" in table.warnings[0]


def test_unreadable_inputs_are_clear(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="file not found"):
        read_firm_table(tmp_path / "missing.csv")
    with pytest.raises(InputError, match=r"\.xls files are not read"):
        read_firm_table(_write(tmp_path / "old.xls", "x"))
    with pytest.raises(InputError, match="empty"):
        read_firm_table(_write(tmp_path / "empty.csv", "\n\n"))
    with pytest.raises(InputError, match="cannot be opened as an Excel workbook"):
        read_firm_table(_write(tmp_path / "fake.xlsx", "not a zip"))


def test_semicolon_and_tab_separated_files(tmp_path: Path) -> None:
    assert read_sheet(_write(tmp_path / "a.csv", "code;name\nF1;甲\n")).rows[0].values == ["F1", "甲"]
    assert read_sheet(_write(tmp_path / "b.tsv", "code\tname\nF1\t乙\n", "utf-16")).rows[0].values == ["F1", "乙"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2006-04-12", date(2006, 4, 12)),
        ("2006/4/2", date(2006, 4, 2)),
        ("2006.04.12", date(2006, 4, 12)),
        ("2006年4月12日", date(2006, 4, 12)),
        ("２００６年４月", date(2006, 4, 1)),
        ("2006-04", date(2006, 4, 1)),
        ("20060412", date(2006, 4, 12)),
        ("2006", date(2006, 1, 1)),
        ("2006-04-12 00:00:00", date(2006, 4, 12)),
        ("38819", date(2006, 4, 12)),
        ("", None),
    ],
)
def test_parse_date_formats(text: str, expected: date | None) -> None:
    assert parse_date(text) == expected


@pytest.mark.parametrize("text", ["去年", "2006-02-30", "12/04/2006", "206"])
def test_parse_date_refuses(text: str) -> None:
    with pytest.raises(ValueError):
        parse_date(text)


def test_short_name_is_the_name_when_no_full_name_column(tmp_path: Path) -> None:
    only_short = read_firm_table(_write(tmp_path / "a.csv", "Stkcd,证券简称\n000002,万科Ａ\n"))
    assert only_short.firms[0].name == "万科Ａ"  # kept as written: full-width Ａ is part of the name
    assert only_short.firms[0].attributes == {"证券简称": "万科Ａ"}
    both = read_firm_table(_write(tmp_path / "b.csv", "code,name,short_name\nD0001,杭州启衡精密传动股份有限公司,启衡精密\n"))
    assert both.firms[0].name == "杭州启衡精密传动股份有限公司" and both.firms[0].attributes == {"short_name": "启衡精密"}
