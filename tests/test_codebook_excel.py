"""Excel export of the codebook, laid out like the study's tables 3 and 4."""

from __future__ import annotations

import openpyxl
import pytest

from groundcoder.codebook import Codebook, export_codebook
from groundcoder.errors import InputError


def test_excel_export_has_table_3_and_table_4_layouts(tmp_path):
    path = export_codebook(Codebook.default(), tmp_path / "codebook.xlsx")
    workbook = openpyxl.load_workbook(path)
    assert workbook.sheetnames == ["初始范畴", "主范畴", "角色", "阶段", "概念"]

    table3 = list(workbook["初始范畴"].iter_rows(values_only=True))
    assert table3[0] == ("初始范畴", "材料数量/份", "初始概念")
    assert len(table3) == 1 + 18
    assert table3[1] == ("数字化投资", 25, "数字化战略、数字化营销、数据驱动决策、技术基础设施升级、数字化转型")
    assert table3[-1][:2] == ("供应商关系依赖", 18)
    assert sum(row[1] for row in table3[1:]) == 430
    assert sum(len(row[2].split("、")) for row in table3[1:]) == 85

    table4 = list(workbook["主范畴"].iter_rows(values_only=True))
    assert table4[0] == ("主范畴", "主范畴内涵", "初始范畴", "范畴内涵")
    assert len(table4) == 1 + 18
    assert table4[2][0] == "数字基础设施" and table4[2][2:] == ("数字技术应用", "企业对行业前沿数字技术的应用，包括大数据、云计算等")
    assert all(row[1] for row in table4[1:])  # every main category has a connotation

    roles = list(workbook["角色"].iter_rows(values_only=True))
    assert roles[1][:2] == ("外部导向因素", "行业环境、合作伙伴")
    stages = list(workbook["阶段"].iter_rows(values_only=True))
    assert stages[-1][:3] == ("数字赋能", "数字基础设施、数字经济", "是")
    assert stages[1][2] in (None, "")

    concepts = list(workbook["概念"].iter_rows(values_only=True))
    assert len(concepts) == 1 + 85
    assert concepts[1][:4] == ("数字化战略", "数字化投资", "数字基础设施", "强化因素")


def test_excel_export_leaves_unknown_material_counts_blank(tmp_path):
    codebook = Codebook.from_yaml_text(
        "main_categories:\n  M:\n    initial_categories:\n      I:\n        material_count: 4\n"
        "        concepts: [a]\n      J: [b]\n"
    )
    path = export_codebook(codebook, tmp_path / "small.xlsx")
    rows = list(openpyxl.load_workbook(path)["初始范畴"].iter_rows(values_only=True))
    assert rows[1:] == [("I", 4, "a"), ("J", None, "b")]
    assert list(openpyxl.load_workbook(path)["角色"].iter_rows(values_only=True)) == [("角色", "主范畴", "说明")]


def test_export_to_an_unknown_format_is_refused(tmp_path):
    with pytest.raises(InputError, match=r"\.csv"):
        export_codebook(Codebook.default(), tmp_path / "codebook.csv")
    assert not (tmp_path / "codebook.csv").exists()
