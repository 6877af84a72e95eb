from dataclasses import dataclass

from openpyxl import load_workbook

from groundcoder.tables import write_table, write_xlsx


@dataclass
class Row:
    firm: str
    score: float


def test_csv_opens_in_excel_and_xlsx_holds_the_same_rows(tmp_path):
    csv_path, xlsx_path = write_table([Row("澄江精工", 1.5), Row("北岚智控", float("nan"))], tmp_path / "t")
    assert csv_path.read_bytes().startswith(b"\xef\xbb\xbf")  # BOM: Excel reads UTF-8 Chinese correctly
    ws = load_workbook(xlsx_path).active
    rows = list(ws.iter_rows(values_only=True))
    assert rows == [("firm", "score"), ("澄江精工", 1.5), ("北岚智控", None)]
    assert ws.freeze_panes == "A2"


def test_workbook_sheets_long_cells_and_bad_sheet_names(tmp_path):
    path = write_xlsx({"阶段/1": [{"a": "x" * 40000, "b": [1, 2]}], "空": []}, tmp_path / "w.xlsx")
    wb = load_workbook(path)
    assert wb.sheetnames == ["阶段_1", "空"]
    a, b = next(wb["阶段_1"].iter_rows(min_row=2, values_only=True))
    assert len(a) == 32767 and a.endswith("…") and b == "1; 2"
