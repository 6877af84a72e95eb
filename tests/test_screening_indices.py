"""Indices per report, firm-year and firm, and the screening rules."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from groundcoder.errors import InputError
from groundcoder.screening.corpus import ReportCounts, ReportFile, ReportResult
from groundcoder.screening.dictionaries import load_dictionary
from groundcoder.screening.indices import Rule, apply_rule, firm_table, firm_year_table, keyword_hits, keyword_totals, report_table

DICTIONARIES = {"micro_innovation": load_dictionary("micro_innovation"), "digital": load_dictionary("digital_transformation_wufei2021")}


def _result(code: str, year: int, counts: dict[str, int], tokens: int = 1000, problem: str | None = None) -> ReportResult:
    report = ReportFile(Path(f"{code}_{year}.txt"), f"{code}_{year}.txt", code, year)
    return ReportResult(report, f"{code}{year}", ReportCounts(characters=2 * tokens, tokens=tokens, counts=counts, problem=problem), False)


@pytest.fixture
def results():
    return [
        _result("A", 2020, {"微创新": 2, "大数据": 3, "区块链": 1}, tokens=1000),
        _result("A", 2021, {"微创新": 1, "云计算": 5}, tokens=3000),
        _result("B", 2020, {"大数据": 1}, tokens=500),
        _result("B", 2021, {}, problem="not Chinese: ..."),
        _result("C", 2021, {}, problem="empty: the report has no text"),
    ]


def test_report_table_has_hits_frequencies_and_ln_index(results):
    table = report_table(results, DICTIONARIES, {"A": "甲", "B": "乙"})
    first = table.iloc[0]
    assert first["micro_innovation_hits"] == 2 and first["digital_hits"] == 4
    assert first["digital_per_10k_tokens"] == pytest.approx(40.0)
    assert first["digital_ln1p"] == pytest.approx(math.log(5))
    assert first["digital:大数据技术"] == 3 and first["digital:区块链技术"] == 1 and first["大数据"] == 3
    problem = table.iloc[3]
    assert problem["problem"] and pd.isna(problem["digital_hits"]) and pd.isna(problem["大数据"])  # not a zero


def test_firm_indices_pool_over_countable_reports(results):
    reports = report_table(results, DICTIONARIES, {})
    firms = firm_table(reports, DICTIONARIES, ["A", "B", "C", "D"], {"A": "甲"}).set_index("firm_code")
    a = firms.loc["A"]
    assert a["reports"] == 2 and a["digital_hits"] == 9
    assert a["digital_per_report"] == pytest.approx(4.5)  # the study's figure 2: disclosures / reports
    assert a["digital_ln_per_report"] == pytest.approx(math.log1p(4.5))
    assert a["micro_innovation_per_10k_tokens"] == pytest.approx(3 / 4000 * 10_000)  # pooled, not averaged
    assert a["digital:云计算技术:per_report"] == pytest.approx(2.5)
    b = firms.loc["B"]
    assert b["reports"] == 1 and b["reports_with_problems"] == 1 and b["digital_per_report"] == 1.0
    for code in ("C", "D"):  # only a problem report, or none: no index at all
        assert firms.loc[code, "reports"] == 0 and np.isnan(firms.loc[code, "digital_per_report"])


def test_firm_years_have_the_digital_index_per_dimension(results):
    years = firm_year_table(report_table(results, DICTIONARIES, {}), DICTIONARIES)
    row = years[(years["firm_code"] == "A") & (years["year"] == 2021)].iloc[0]
    assert row["digital_hits"] == 5 and row["digital_ln1p"] == pytest.approx(math.log(6))
    assert row["digital:云计算技术:ln1p"] == pytest.approx(math.log(6)) and row["digital:大数据技术:ln1p"] == 0
    assert len(years) == 3  # the problem reports make no firm-year


def test_keyword_totals_cover_every_keyword(results):
    totals = keyword_totals(keyword_hits(results, DICTIONARIES), DICTIONARIES["digital"]).set_index("keyword")
    assert len(totals) == 76 and totals.loc["大数据", "hits"] == 4 and totals.loc["大数据", "reports_with_hits"] == 2
    assert totals.loc["NFC支付", "hits"] == 0
    only_b = keyword_totals(keyword_hits(results, DICTIONARIES), DICTIONARIES["digital"], ["B"]).set_index("keyword")
    assert only_b.loc["大数据", "hits"] == 1


def test_rules():
    values = pd.Series([1.0, 2.0, 3.0, 10.0, np.nan], index=list("abcde"))
    mean = apply_rule(values, Rule("above_mean"))
    assert mean.threshold == pytest.approx(4.0) and list(mean.passed) == [False, False, False, True, False]
    median = apply_rule(values, Rule("above_median"))
    assert median.threshold == pytest.approx(2.5) and list(median.passed) == [False, False, True, True, False]
    top = apply_rule(pd.Series([5.0, 3.0, 3.0, 1.0]), Rule("top_k", k=2))
    assert list(top.passed) == [True, True, True, False]  # ties at the k-th value all pass
    assert list(apply_rule(values, Rule("at_least", value=3)).passed) == [False, False, True, True, False]
    assert list(apply_rule(values, Rule("all")).passed) == [True, True, True, True, False]
    # the reference population sets the threshold (the study: the mean over all firms)
    assert apply_rule(values, Rule("above_mean"), reference=pd.Series([0.0, 2.0])).threshold == pytest.approx(1.0)


def test_bad_rules_are_input_errors():
    with pytest.raises(InputError):
        Rule("above_average")
    with pytest.raises(InputError):
        Rule("top_k")
    with pytest.raises(InputError):
        Rule("at_least")
