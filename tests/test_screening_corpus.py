"""Counting many reports: matching files to firms, problems reported (not silent zeros), MD&A scope,
the content cache (a re-run counts only new reports), streaming, and the process pool."""

from __future__ import annotations

import pytest

from groundcoder.screening.corpus import CountCache, CountingStats, count_report_text, count_reports, find_reports
from groundcoder.screening.counting import CountOptions, KeywordCounter
from groundcoder.screening.dictionaries import load_dictionary, union_keywords

KEYWORDS = union_keywords([load_dictionary("micro_innovation"), load_dictionary("digital_transformation_wufei2021")])

MDNA_REPORT = """某某科技股份有限公司2021年年度报告
目录
第三节 管理层讨论与分析 ........ 10
第四节 公司治理 ........ 30
第一节 重要提示
公司董事会保证年度报告内容的真实、准确、完整。
第三节 管理层讨论与分析
报告期内，公司坚持微创新，推进工业互联网平台建设，并以快速迭代的方式改进产品。
公司运用大数据和云计算技术搭建数据中心。
第四节 公司治理
独立董事简历：曾任某人工智能研究机构研究员，长期从事区块链研究。
"""


def _report(index: int) -> str:
    return f"公司第{index}年坚持微创新，持续改进产品，并部署了物联网和大数据平台。报告期内营业收入保持增长。\n" * (1 + index % 3)


@pytest.fixture
def corpus(tmp_path):
    folder = tmp_path / "reports"
    folder.mkdir()
    (tmp_path / "firms.csv").write_text("code,name\nF001,甲公司\nF002,乙公司\nF003,丙公司\n", encoding="utf-8")
    for code in ("F001", "F002"):
        for year in (2020, 2021):
            (folder / f"{code}_{year}.txt").write_text(_report(year + int(code[-1])), encoding="utf-8")
    (folder / "F003_2021.txt").write_text(MDNA_REPORT, encoding="utf-8")
    return tmp_path


def test_reports_are_matched_to_firms_and_the_rest_is_reported(corpus):
    (corpus / "reports" / "X999_2021.txt").write_text(_report(1), encoding="utf-8")
    (corpus / "reports" / "F001_2019.xls").write_bytes(b"not a report")
    reports, unmatched = find_reports(corpus / "reports", corpus / "firms.csv", pattern="{code}_{year}")
    assert sorted((r.firm_code, r.year) for r in reports) == [
        ("F001", 2020), ("F001", 2021), ("F002", 2020), ("F002", 2021), ("F003", 2021)
    ]  # fmt: skip
    reasons = {u.name: u.reason for u in unmatched}
    assert "X999" in reasons["X999_2021.txt"] and "does not read" in reasons["F001_2019.xls"]


def test_empty_and_non_chinese_reports_are_problems_not_zeros(corpus):
    folder = corpus / "reports"
    (folder / "F001_2019.txt").write_bytes(b"")
    (folder / "F002_2019.txt").write_text("Annual report 2019. Revenue grew by 12% thanks to cloud computing.\n" * 20, encoding="utf-8")
    (folder / "F003_2019.txt").write_text(" \n\t\n", encoding="utf-8")
    reports, _ = find_reports(folder, corpus / "firms.csv", pattern="{code}_{year}")
    results = {(r.report.firm_code, r.report.year): r for r in count_reports(reports, KEYWORDS, CountOptions(), workers=1)}
    assert "empty" in results[("F001", 2019)].counts.problem
    assert results[("F002", 2019)].counts.problem.startswith("not Chinese")
    assert results[("F003", 2019)].counts.problem  # white space only: no text
    assert results[("F001", 2020)].counts.problem is None and results[("F001", 2020)].counts.counts["微创新"] >= 1


def test_mdna_scope_counts_only_the_mdna_section():
    counter = KeywordCounter(KEYWORDS, CountOptions(scope="mdna"))
    mdna = count_report_text(MDNA_REPORT, counter)
    assert mdna.scope == "mdna" and "管理层讨论与分析" in mdna.mdna_heading
    assert mdna.counts == {"微创新": 1, "工业互联网": 1, "快速迭代": 1, "大数据": 1, "云计算": 1}
    whole = count_report_text(MDNA_REPORT, KeywordCounter(KEYWORDS, CountOptions(scope="whole")))
    assert whole.counts["人工智能"] == 1 and whole.counts["区块链"] == 1  # the biography counts only here
    no_mdna = count_report_text("公司坚持微创新。" * 5, counter)
    assert no_mdna.scope == "whole (no MD&A found)" and no_mdna.counts == {"微创新": 5}


def test_a_rerun_counts_only_new_reports(corpus):
    folder = corpus / "reports"
    cache_path = corpus / "out" / "cache.sqlite"
    reports, _ = find_reports(folder, corpus / "firms.csv", pattern="{code}_{year}")
    first_stats = CountingStats()
    with CountCache(cache_path) as cache:
        first = list(count_reports(reports, KEYWORDS, CountOptions(), cache=cache, workers=1, stats=first_stats))
    assert first_stats.counted == 5 and first_stats.cached == 0

    (folder / "F002_2022.txt").write_text(_report(7), encoding="utf-8")
    reports, _ = find_reports(folder, corpus / "firms.csv", pattern="{code}_{year}")
    second_stats = CountingStats()
    with CountCache(cache_path) as cache:
        second = list(count_reports(reports, KEYWORDS, CountOptions(), cache=cache, workers=1, stats=second_stats))
    assert second_stats.counted == 1 and second_stats.cached == 5
    assert [r.cached for r in second].count(False) == 1
    by_name = {r.report.name: r.counts for r in second}
    assert all(by_name[r.report.name] == r.counts for r in first)  # cached counts are the counts

    # other options are another key: everything is counted again
    third_stats = CountingStats()
    with CountCache(cache_path) as cache:
        list(count_reports(reports, KEYWORDS, CountOptions(negation_window=3), cache=cache, workers=1, stats=third_stats))
    assert third_stats.counted == 6


def test_results_stream_while_later_reports_wait(corpus):
    reports, _ = find_reports(corpus / "reports", corpus / "firms.csv", pattern="{code}_{year}")
    stats = CountingStats()
    stream = count_reports(reports, KEYWORDS, CountOptions(), workers=1, stats=stats)
    first = next(stream)
    assert first.report == reports[0] and stats.counted == 1  # the others are not counted yet
    assert len(list(stream)) == len(reports) - 1 and stats.counted == len(reports)


def test_a_process_pool_gives_the_same_counts(corpus):
    reports, _ = find_reports(corpus / "reports", corpus / "firms.csv", pattern="{code}_{year}")
    alone = [r.counts for r in count_reports(reports, KEYWORDS, CountOptions(), workers=1)]
    stats = CountingStats()
    pooled = [r.counts for r in count_reports(reports, KEYWORDS, CountOptions(), workers=2, stats=stats)]
    assert stats.workers == 2 and pooled == alone
