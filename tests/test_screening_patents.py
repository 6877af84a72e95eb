"""Patent self-citation from incoPat exports: reading, canonical numbers, the graph, the shares by hand."""

from __future__ import annotations

import csv
import math
from datetime import date
from pathlib import Path

import networkx as nx
import pytest
from openpyxl import Workbook

from groundcoder.errors import InputError
from groundcoder.paths import demo_corpus_dir
from groundcoder.screening import patents
from groundcoder.screening.patents import (
    PatentRecord,
    applicant_key,
    build_citation_graph,
    canonical_publication_number,
    read_alias_table,
    read_incopat,
    self_citation_by_firm,
    self_citation_by_firm_year,
    self_citation_by_patent,
    split_cell,
    write_graphml,
)

HEADER = ["序号", "标题", "公开（公告）号", "公开（公告）日", "申请号", "申请日", "申请人", "标准化申请人",
          "引证专利", "引证申请人", "被引证专利", "被引证申请人", "专利类型"]
A, B, UNI = "甲精工股份有限公司", "乙智控股份有限公司", "丙理工大学"
A_SUB = "甲精工（苏州）科技有限公司"  # A's subsidiary, in the alias table


def _row(pub, year, applicants, cited="", cited_applicants="", citing="", citing_applicants="", **extra):
    values = {"公开（公告）号": pub, "申请日": f"{year}-03-01" if isinstance(year, int) else year,
              "公开（公告）日": f"{year + 1}-06-01" if isinstance(year, int) else "", "申请人": applicants,
              "标准化申请人": applicants, "引证专利": cited, "引证申请人": cited_applicants, "被引证专利": citing,
              "被引证申请人": citing_applicants, "标题": "一种装置", "专利类型": "发明"}
    values.update(extra)
    return values


def write_export(path: Path, rows: list[dict], rename: dict[str, str] | None = None, drop: tuple[str, ...] = (),
                 title_rows: int = 0, sheet: str = "incoPat", encoding: str = "utf-8-sig", delimiter: str = ",") -> Path:
    """An incoPat-like export: HEADER's columns, some written as ``rename`` says, those in ``drop`` left out."""
    columns = [name for name in HEADER if name not in drop]
    header = [(rename or {}).get(name, name) for name in columns]
    table = [[(i if row else "") if name == "序号" else row.get(name, "") for name in columns]
             for i, row in enumerate(rows, start=1)]
    if path.suffix == ".csv":
        with open(path, "w", encoding=encoding, newline="") as fh:
            writer = csv.writer(fh, delimiter=delimiter)
            for _ in range(title_rows):
                writer.writerow(["incoPat 专利检索结果"])
            writer.writerow(header)
            writer.writerows(table)
        return path
    wb = Workbook()
    ws = wb.active
    ws.title = sheet
    for i in range(title_rows):
        ws.append(["incoPat 专利检索结果，导出时间 2024-01-01"] if i == 0 else [])
    ws.append(header)
    for values in table:
        ws.append(values)
    wb.save(path)
    return path


# --------------------------------------------------------------------------------------------------
# Cells and numbers


@pytest.mark.parametrize("spelling", ["CN110123456A", "CN110123456B", "cn 110123456", "CN110123456", " CN 1101-23456 U ",
                                      "ＣＮ１１０１２３４５６Ａ", "CN110123456.A", "cn110123456b"])
def test_kind_codes_and_spellings_are_one_patent(spelling):
    assert canonical_publication_number(spelling) == "CN110123456"


@pytest.mark.parametrize("number, expected", [("US2019012345A1", "US2019012345"), ("US10123456B2", "US10123456"),
                                              ("EP1234567B1", "EP1234567"), ("WO2019123456A1", "WO2019123456"),
                                              ("CN2123456789Y", "CN2123456789"), ("CN301234567S", "CN301234567"),
                                              ("USD812345S1", "USD812345"), ("CN101234567C", "CN101234567")])
def test_foreign_numbers_and_kind_codes(number, expected):
    assert canonical_publication_number(number) == expected


@pytest.mark.parametrize("text", ["", "见附件", "110123456A", "CN12A", "CN110123456AB", "CN 专利 110123456", "N/A"])
def test_non_numbers_are_refused(text):
    with pytest.raises(ValueError, match="not a publication number"):
        canonical_publication_number(text)


def test_cells_split_on_every_separator_and_drop_empty_pieces():
    assert split_cell("a; b；c,d，e、f|g\nh\r\ni;; ;\n") == list("abcdefghi")
    assert split_cell("  甲公司 ;\u3000乙公司  ") == ["甲公司", "乙公司"]
    assert split_cell(None) == [] and split_cell("") == [] and split_cell(" ; ") == []
    # English company names keep their ", Ltd." / ", Inc.": splitting there would make "Ltd." an applicant
    assert split_cell("Samsung Electronics Co., Ltd.; Apple Inc., Google LLC") == [
        "Samsung Electronics Co., Ltd.", "Apple Inc.", "Google LLC"]


def test_applicant_keys_ignore_width_space_and_case():
    assert applicant_key("甲精工（苏州）科技有限公司") == applicant_key(" 甲精工 (苏州)科技有限公司")
    assert applicant_key("APPLE INC.") == applicant_key("Apple Inc.")
    assert applicant_key("甲公司") != applicant_key("乙公司")


# --------------------------------------------------------------------------------------------------
# Reading


def test_header_variants_title_rows_and_any_sheet_name(tmp_path):
    rename = {"公开（公告）号": "公开(公告)号", "申请日": " 申请日 ", "标准化申请人": "标准化 申请人",
              "引证专利": "引证专利\n", "公开（公告）日": "公开 （公告） 日"}
    rows = [_row("CN100000001A", 2018, A), _row("CN100000002B", 2019, A, cited="CN100000001B", cited_applicants=A)]
    path = write_export(tmp_path / "export.xlsx", rows, rename=rename, title_rows=2, sheet="检索结果 (2)")
    records = read_incopat(path)
    assert [r.publication_number for r in records] == ["CN100000001", "CN100000002"]
    assert [r.row for r in records] == [4, 5]  # title row, blank row, header row 3
    assert records[1].cited == ("CN100000001",)
    assert records[1].year == 2019 and records[1].application_date == date(2019, 3, 1)
    assert records[1].publication_date == date(2020, 6, 1)
    assert records[1].applicants == (A,)


def test_the_first_sheet_with_a_header_is_read(tmp_path):
    path = write_export(tmp_path / "export.xlsx", [_row("CN100000001A", 2018, A)])
    from openpyxl import load_workbook

    wb = load_workbook(path)
    notes = wb.create_sheet("说明", 0)
    notes.append(["本文件由 incoPat 导出"])
    wb.save(path)
    assert [r.publication_number for r in read_incopat(path)] == ["CN100000001"]


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gb18030"])
def test_csv_exports_in_each_encoding(tmp_path, encoding):
    rows = [_row("CN100000001A", 2018, A, citing="CN100000002A\nCN100000003U", citing_applicants=f"{B}\n{UNI}")]
    path = write_export(tmp_path / "export.csv", rows, title_rows=1, encoding=encoding)
    (record,) = read_incopat(path)
    assert record.row == 3
    assert record.applicants == (A,)
    assert record.citing == ("CN100000002", "CN100000003")
    assert record.citing_applicants == (B, UNI)


@pytest.mark.parametrize("delimiter", [",", ";", "\t"])
def test_csv_delimiter_is_the_one_giving_a_header_even_when_cells_are_full_of_semicolons(tmp_path, delimiter):
    many = "; ".join(f"CN1000000{i:02d}A" for i in range(40))
    rows = [_row("CN100000001A", 2018, A, cited=many, cited_applicants=f"{A}; {B}; {UNI}") for _ in range(3)]
    path = write_export(tmp_path / "export.csv", rows, title_rows=1, delimiter=delimiter)
    records = read_incopat(path)
    assert len(records) == 3 and len(records[0].cited) == 40 and records[0].cited_applicants == (A, B, UNI)


def test_openpyxl_reads_what_calamine_reads(tmp_path, monkeypatch):
    rows = [_row("CN100000001A", 2018, A), _row("CN100000002B", "2019/4/5", f"{A}; {UNI}", cited="CN100000001")]
    path = write_export(tmp_path / "export.xlsx", rows, title_rows=1)
    first = read_incopat(path)
    monkeypatch.setattr(patents, "_calamine", lambda: None)
    assert read_incopat(path) == first
    assert first[1].year == 2019 and first[1].applicants == (A, UNI)


def test_optional_columns_may_be_absent_and_the_year_falls_back_to_the_publication_date(tmp_path):
    rows = [_row("CN100000001A", 2018, A, cited="CN100000009A"), _row("CN100000002A", 2019, "", 申请人=B)]
    rows[1]["标准化申请人"] = ""  # an empty standardised cell falls back to 申请人
    path = write_export(tmp_path / "export.xlsx", rows, drop=("申请日", "标题", "申请号"))
    first, second = read_incopat(path)
    assert (first.year, first.application_date, first.publication_date) == (2019, None, date(2019, 6, 1))
    assert first.title == "" and first.application_number == "" and first.patent_type == "发明"
    assert second.applicants == (B,) and second.year == 2020
    # only 标准化申请人, no 申请人: still enough
    path = write_export(tmp_path / "export2.xlsx", rows[:1], drop=("申请人",))
    assert read_incopat(path)[0].applicants == (A,)


def test_a_missing_required_column_is_named_with_the_columns_found(tmp_path):
    path = write_export(tmp_path / "export.xlsx", [_row("CN100000001A", 2018, A)], drop=("引证申请人",), title_rows=1)
    with pytest.raises(InputError) as caught:
        read_incopat(path)
    message = str(caught.value)
    assert "missing required column '引证申请人'" in message
    assert "'被引证申请人'" in message and "'引证专利'" in message  # the columns found
    assert caught.value.row == 2 and caught.value.path == path


def test_no_header_row_at_all_is_an_input_error(tmp_path):
    wb = Workbook()
    wb.active.append(["标题", "申请人"])
    wb.active.append(["一种装置", A])
    wb.save(tmp_path / "export.xlsx")
    with pytest.raises(InputError, match="no header row with a 公开（公告）号 column.*'标题', '申请人'"):
        read_incopat(tmp_path / "export.xlsx")


def _malformed(tmp_path: Path, suffix: str) -> Path:
    rows = [
        _row("CN100000001A", 2018, A),                                     # row 3: fine
        _row("CN100000002A", "2019-13-45", A),                             # row 4: month 13
        _row("见附件", 2019, A),                                            # row 5: not a publication number
        _row("CN100000004A", 2020, A, cited="CN100000001A; CN12; 非专利文献"),  # row 6: two bad cited numbers
        _row("CN100000005A", "不详", ""),                                   # row 7: bad date, no applicant
        {},                                                                # row 8: blank (not a problem)
        _row("", 2021, B),                                                 # row 9: no publication number
        _row("CN100000007A", 2021, B, citing="CN100000004"),               # row 10: fine
    ]
    return write_export(tmp_path / f"export{suffix}", rows, title_rows=1)


@pytest.mark.parametrize("suffix", [".xlsx", ".csv"])
def test_malformed_cells_raise_one_error_listing_their_rows(tmp_path, suffix):
    path = _malformed(tmp_path, suffix)
    with pytest.raises(InputError) as caught:
        read_incopat(path)
    message = str(caught.value)
    assert "7 cell(s) could not be read" in message
    for expected in ["row 4, column '申请日': '2019-13-45' is not a date", "row 5, column '公开（公告）号'",
                     "row 6, column '引证专利': 'CN12' is not a publication number", "row 6, column '引证专利': '非专利文献'",
                     "row 7, column '申请日': '不详' is not a date", "row 7, column '标准化申请人'",
                     "row 9, column '公开（公告）号': empty"]:
        assert expected in message
    assert caught.value.row == 4
    assert "errors='report'" in message


@pytest.mark.parametrize("suffix", [".xlsx", ".csv"])
def test_malformed_cells_are_reported_beside_the_records(tmp_path, suffix):
    records, problems = read_incopat(_malformed(tmp_path, suffix), errors="report")
    assert [(p.row, p.column) for p in problems] == [
        (4, "申请日"), (5, "公开（公告）号"), (6, "引证专利"), (6, "引证专利"), (7, "申请日"), (7, "标准化申请人"),
        (9, "公开（公告）号")]
    assert problems[1].value == "见附件"
    # the rows with a readable publication number are kept; what could not be read is empty, not guessed
    assert [r.row for r in records] == [3, 4, 6, 7, 10]
    by_row = {r.row: r for r in records}
    assert by_row[4].year is None and by_row[7].year is None and by_row[7].applicants == ()
    assert by_row[6].cited == ("CN100000001",)
    # an undated patent stays in its firm's totals, in a firm-year row without a year
    firm_years = self_citation_by_firm_year(records)
    assert firm_years.loc[firm_years.firm == A, "n_patents"].sum() == 3
    assert firm_years.loc[firm_years.firm == A, "year"].isna().sum() == 1


def test_csv_row_numbers_count_records_not_lines(tmp_path):
    rows = [_row("CN100000001A", 2018, A, cited="CN100000009A\nCN100000008A"), _row("CN100000002A", "bad", A)]
    path = write_export(tmp_path / "export.csv", rows)
    _, problems = read_incopat(path, errors="report")
    assert [(p.row, p.value) for p in problems] == [(3, "bad")]


def test_errors_argument_is_checked(tmp_path):
    path = write_export(tmp_path / "export.xlsx", [_row("CN100000001A", 2018, A)])
    with pytest.raises(ValueError, match="errors must be"):
        read_incopat(path, errors="ignore")  # type: ignore[call-overload]


# --------------------------------------------------------------------------------------------------
# Alias table


def test_alias_table_maps_subsidiaries_and_refuses_an_alias_of_two_firms(tmp_path):
    path = tmp_path / "subsidiaries.csv"
    path.write_text(f"firm,alias\n{A},{A_SUB}\n{B},乙智控（深圳）有限公司\n", encoding="utf-8")
    assert read_alias_table(path) == {A_SUB: A, "乙智控（深圳）有限公司": B}
    path.write_text(f"firm,alias\n{A},{A_SUB}\n{B},{A_SUB}\n", encoding="utf-8")
    with pytest.raises(InputError, match="maps to .* \\(row 2\\) and to") as caught:
        read_alias_table(path)
    assert caught.value.row == 3
    path.write_text(f"firm,alias\n{A},\n", encoding="utf-8")
    with pytest.raises(InputError, match="both a firm and an alias"):
        read_alias_table(path)


# --------------------------------------------------------------------------------------------------
# A small export with answers worked out by hand
#
# Firms A (subsidiary A_SUB), B, the university UNI. X1..X8 are patents outside the export.
#   P1 A    2018  cites -                         cited by P2, P4, X8 (被引证申请人: A; B; 己公司)
#   P2 A    2019  cites P1 (as ...001B), X1      引证申请人: A_SUB; 丁公司  (X1 unknown; names A via alias)
#   P3 A    2020  cites X2                        引证申请人: A  (one cited patent: X2 is A's)
#   P3 again as ...003B, citing itself (a grant citing its publication: no edge)
#   P4 B    2020  cites P1, P3
#   P5 A+UNI 2021 cites X3, X4                    引证申请人: UNI; 戊公司
#   P6 A_SUB 2022 cites X5, X6                    引证申请人 blank
#   P7 B    2021  cites P4, X7                    引证申请人: B  (names only B: X7 is B's too)
#   P8 B    2022  cites P7 (no kind code)         引证申请人: B


def _hand_rows() -> list[dict]:
    return [
        _row("CN100000001A", 2018, A, citing="CN100000002A; CN100000004U; CN500000001A",
             citing_applicants=f"{A}; {B}; 己公司"),
        _row("CN100000002B", 2019, A, cited="CN100000001B; CN300000001A", cited_applicants=f"{A_SUB}; 丁公司"),
        _row("CN100000003A", 2020, A, cited="CN300000002A", cited_applicants=A),
        _row("CN100000003B", 2020, A, cited="CN300000002A; CN100000003A", cited_applicants=A),
        _row("CN100000004U", 2020, B, cited="CN100000001A; CN100000003B", cited_applicants=A),
        _row("CN100000005A", 2021, f"{A}; {UNI}", cited="CN300000003A; CN300000004A", cited_applicants=f"{UNI}; 戊公司"),
        _row("CN100000006A", 2022, "甲精工(苏州)科技有限公司", cited="CN300000005A; CN300000006A"),
        _row("CN100000007A", 2021, B, cited="CN100000004U; CN300000007A", cited_applicants=B),
        _row("CN100000008A", 2022, B, cited="CN100000007"),
    ]


@pytest.fixture()
def hand(tmp_path):
    path = write_export(tmp_path / "export.xlsx", _hand_rows(), title_rows=1)
    aliases = tmp_path / "subsidiaries.csv"
    aliases.write_text(f"firm,alias\n{A},{A_SUB}\n", encoding="utf-8")
    return read_incopat(path), read_alias_table(aliases)


def _one(frame, **where):
    mask = True
    for column, value in where.items():
        mask = mask & (frame[column] == value)
    rows = frame[mask]
    assert len(rows) == 1, where
    return rows.iloc[0]


def test_per_firm_shares_worked_out_by_hand(hand):
    records, aliases = hand
    firms = self_citation_by_firm(records, aliases)
    assert list(firms.firm) == sorted(firms.firm) and set(firms.firm) == {A, B, UNI}

    a = _one(firms, firm=A)
    assert (a.n_patents, a.n_years, a.first_year, a.last_year) == (5, 5, 2018, 2022)
    # backward: P2 2 cited (P1 self, X1 undetermined), P3 1 (X2 self), P5 2 (cell names no A: not self),
    # P6 2 (blank cell: undetermined) -> T=7, K=2, N=3
    assert (a.backward_citations, a.backward_self_citations, a.backward_undetermined) == (7, 2, 3)
    assert a.backward_self_share == pytest.approx(2 / 4)
    assert a.backward_self_share_lower == pytest.approx(2 / 7)
    assert a.backward_self_share_upper == pytest.approx(5 / 7)
    # forward: P1 is cited by P2 (A: self), P4 (B), X8 (cell A; B; 己公司: undetermined); P3 by P4 -> T=4, K=1, N=1
    assert (a.forward_citations, a.forward_self_citations, a.forward_undetermined) == (4, 1, 1)
    assert a.forward_self_share == pytest.approx(1 / 3)
    assert (a.forward_self_share_lower, a.forward_self_share_upper) == (pytest.approx(1 / 4), pytest.approx(2 / 4))
    # P2 and P3 cite A's own patents; P6 possibly does
    assert (a.patents_citing_own, a.patents_possibly_citing_own) == (2, 3)
    assert (a.citing_own_share, a.citing_own_share_upper) == (pytest.approx(2 / 5), pytest.approx(3 / 5))
    # self-citation in 2019 and 2020, none in 2022 (the export's last year)
    assert (a.self_citation_years, a.continuity_longest, a.continuity_current, a.continuity_through) == (2, 2, 0, 2022)

    b = _one(firms, firm=B)
    # P4 cites A's P1, P3; P7 cites P4 (B) and X7 (cell names only B); P8 cites P7 -> T=5, K=3, N=0
    assert (b.n_patents, b.backward_citations, b.backward_self_citations, b.backward_undetermined) == (3, 5, 3, 0)
    assert b.backward_self_share == b.backward_self_share_lower == b.backward_self_share_upper == pytest.approx(3 / 5)
    assert (b.forward_citations, b.forward_self_citations, b.forward_self_share) == (2, 2, 1.0)
    assert b.citing_own_share == pytest.approx(2 / 3)
    assert (b.continuity_longest, b.continuity_current) == (2, 2)

    uni = _one(firms, firm=UNI)
    # P5's cell names UNI and 戊公司: both cited patents undetermined, but one of them must be UNI's
    assert (uni.backward_citations, uni.backward_self_citations, uni.backward_undetermined) == (2, 0, 2)
    assert math.isnan(uni.backward_self_share)
    assert (uni.backward_self_share_lower, uni.backward_self_share_upper) == (0.0, 1.0)
    assert (uni.patents_citing_own, uni.citing_own_share) == (1, 1.0)
    assert (uni.continuity_longest, uni.continuity_current) == (1, 0)


def test_continuity_can_be_asked_to_reach_another_year(hand):
    records, aliases = hand
    firms = self_citation_by_firm(records, aliases, last_year=2020).set_index("firm")
    assert firms.loc[A, "continuity_current"] == 2 and firms.loc[A, "continuity_through"] == 2020
    assert firms.loc[B, "continuity_current"] == 0


def test_per_firm_year_rows(hand):
    records, aliases = hand
    firm_years = self_citation_by_firm_year(records, aliases)
    assert list(firm_years[firm_years.firm == A].year) == [2018, 2019, 2020, 2021, 2022]
    a2019 = _one(firm_years, firm=A, year=2019)
    assert (a2019.n_patents, a2019.backward_citations, a2019.backward_self_citations, a2019.backward_undetermined) == (1, 2, 1, 1)
    assert a2019.has_self_citation
    a2022 = _one(firm_years, firm=A, year=2022)
    assert not a2022.has_self_citation and a2022.patents_possibly_citing_own == 1
    b2020 = _one(firm_years, firm=B, year=2020)
    assert (b2020.forward_citations, b2020.forward_self_citations) == (1, 1)  # P4 cited by P7
    # per firm = the firm-year rows pooled
    firms = self_citation_by_firm(records, aliases)
    for column in ("n_patents", "backward_citations", "backward_self_citations", "forward_citations", "patents_citing_own"):
        assert firm_years.groupby("firm")[column].sum().to_dict() == firms.set_index("firm")[column].to_dict()


def test_without_the_alias_table_the_subsidiary_is_its_own_firm(hand):
    records, _ = hand
    firms = self_citation_by_firm(records)
    assert set(firms.firm) == {A, B, UNI, "甲精工(苏州)科技有限公司"}
    a = _one(firms, firm=A)
    # P6 is the subsidiary's now; P2's cell names A_SUB, not A, so X1 is determined not self
    assert (a.n_patents, a.backward_citations, a.backward_self_citations, a.backward_undetermined) == (4, 5, 2, 0)
    assert a.backward_self_share_upper == pytest.approx(2 / 5)


def test_per_patent_self_citation_is_an_overlap_of_applicant_sets(hand):
    records, aliases = hand
    table = self_citation_by_patent(records, aliases)
    assert len(table) == 8  # P3's two publications are one patent
    p3 = _one(table, publication_number="CN100000003")
    assert p3.rows == "5; 6" and (p3.backward_citations, p3.backward_self_citations) == (1, 1)
    # P5 (A + UNI): the cell names UNI, overlapping the citing applicants; 戊公司 leaves it undetermined
    p5 = _one(table, publication_number="CN100000005")
    assert (p5.backward_citations, p5.backward_self_citations, p5.backward_undetermined) == (2, 0, 2)
    assert p5.cites_own and p5.possibly_cites_own
    assert p5.applicants == f"{A}; {UNI}" or p5.applicants == f"{UNI}; {A}"
    p1 = _one(table, publication_number="CN100000001")
    assert (p1.backward_citations, p1.forward_citations, p1.forward_self_citations, p1.forward_undetermined) == (0, 3, 1, 1)
    assert math.isnan(p1.backward_self_share) and not p1.cites_own


def test_citation_graph_holds_outside_patents_and_attributable_applicants(hand, tmp_path):
    records, aliases = hand
    graph = build_citation_graph(records, aliases)
    assert isinstance(graph, nx.DiGraph)
    assert graph.number_of_nodes() == 16 and graph.number_of_edges() == 13
    assert graph.has_edge("CN100000002", "CN100000001") and graph.has_edge("CN500000001", "CN100000001")
    assert graph.has_edge("CN100000004", "CN100000003")
    assert not graph.has_edge("CN100000003", "CN100000003")
    assert graph.nodes["CN100000005"]["applicants"] == frozenset({A, UNI})
    assert graph.nodes["CN100000006"]["applicants"] == frozenset({A})  # through the alias table
    assert graph.nodes["CN100000001"]["year"] == 2018 and graph.nodes["CN100000001"]["in_export"]
    assert graph.nodes["CN300000002"]["applicants"] == frozenset({A}) and graph.nodes["CN300000002"]["applicants_known"]
    assert not graph.nodes["CN300000001"]["applicants_known"] and graph.nodes["CN300000001"]["year"] is None
    statuses = {(u, v): a["self_citation"] for u, v, a in graph.edges(data=True)}
    assert statuses[("CN100000002", "CN100000001")] == "yes"
    assert statuses[("CN100000002", "CN300000001")] == "unknown"
    assert statuses[("CN100000004", "CN100000001")] == "no"
    assert statuses[("CN100000007", "CN300000007")] == "yes"
    assert statuses[("CN500000001", "CN100000001")] == "unknown"

    out = write_graphml(graph, tmp_path / "graphs" / "citations.graphml")
    back = nx.read_graphml(out)
    assert back.number_of_edges() == 13
    assert set(back.nodes["CN100000005"]["applicants"].split("; ")) == {A, UNI}
    assert back.nodes["CN100000001"]["year"] == 2018 and "year" not in back.nodes["CN300000001"]
    assert back.edges["CN100000002", "CN100000001"]["self_citation"] == "yes"
    assert list((tmp_path / "graphs").iterdir()) == [out]  # no temporary file left behind


def test_records_are_plain_data_and_measures_accept_them_directly():
    record = PatentRecord(row=2, publication_number="CN1", publication_number_raw="CN1A", year=2020,
                          application_date=None, publication_date=None, applicants=(A,), cited=(), cited_applicants=(),
                          citing=(), citing_applicants=())
    firms = self_citation_by_firm([record])
    assert list(firms.firm) == [A] and firms.n_patents.tolist() == [1]
    assert math.isnan(firms.backward_self_share.iloc[0]) and firms.continuity_longest.tolist() == [0]
    assert self_citation_by_firm([]).empty and list(self_citation_by_firm([]).columns)[0] == "firm"


# --------------------------------------------------------------------------------------------------
# The shipped demo export


DEMO = demo_corpus_dir() / "panel"


@pytest.mark.skipif(not (DEMO / "patents_incopat.xlsx").exists(), reason="the demo panel is not generated yet")
def test_coded_firms_cite_themselves_markedly_more_in_the_demo_export():
    records = read_incopat(DEMO / "patents_incopat.xlsx")
    aliases = read_alias_table(DEMO / "subsidiaries.csv")
    firms = self_citation_by_firm(records, aliases)
    with open(DEMO / "firms.csv", encoding="utf-8") as fh:
        panel = list(csv.DictReader(fh))
    coded = {f["name"] for f in panel if f["coded"] == "1"}
    assert coded and coded <= set(firms.firm)
    # every subsidiary is folded into its parent
    assert not set(aliases) & set(firms.firm)
    is_coded = firms.firm.isin(coded)
    is_other = ~is_coded & firms.firm.isin({f["name"] for f in panel})  # not the co-applying universities
    # ratios seen on the generator with other seeds: shares 2.7-3.4x, citing own 2.1-2.9x, continuity 2.9-4.1x
    for column, factor in (("backward_self_share", 2), ("backward_self_share_lower", 2), ("citing_own_share", 1.5),
                           ("continuity_longest", 2)):
        assert firms.loc[is_coded, column].mean() > factor * firms.loc[is_other, column].mean(), column
    # kind-code variants resolve to exported patents: every cited number in the demo is in the export
    assert (firms.backward_undetermined == 0).all()
