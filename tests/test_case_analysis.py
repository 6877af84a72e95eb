"""Case analysis: per-firm stage x factor matrices, picking two contrasting firms, the comparison."""

from __future__ import annotations

import json
import math
import warnings

import pandas as pd
import pytest
from _analysis_data import segment, small_set

from groundcoder.analysis import CodingSet, build_case_analysis, compare_firms, pick_contrasting_firms
from groundcoder.analysis.case import jensen_shannon, stage_factor_matrix, stage_factor_table, stages
from groundcoder.errors import InputError


@pytest.fixture()
def codings():
    return small_set()


def test_stages_come_from_the_codebook_with_the_spanning_one_last(codings):
    rows = stages(codings)
    assert [r.stage for r in rows] == ["微创新机会识别与框定", "不断试错与快速迭代", "微创新实现", "数字赋能"]
    assert [r.spans_all_stages for r in rows] == [False, False, False, True]


def test_stage_by_main_category_matrix_of_a_firm(codings):
    m = stage_factor_matrix(codings, "F1").set_index("阶段")
    # F1: q3 合作伙伴, q4 知识生态, q1 q2 q5 数字基础设施
    assert m.loc["微创新机会识别与框定", "合作伙伴"] == 1
    assert m.loc["微创新机会识别与框定", "行业环境"] == 0
    assert m.loc["微创新机会识别与框定", "合计"] == 1
    assert m.loc["不断试错与快速迭代", "知识生态"] == 1 and m.loc["不断试错与快速迭代", "组织能力"] == 0
    assert m.loc["数字赋能", "数字基础设施"] == 3 and m.loc["数字赋能", "数字经济"] == 0
    assert pd.isna(m.loc["微创新实现", "合作伙伴"])  # 合作伙伴 does not act in that stage: empty, not 0
    assert pd.isna(m.loc["数字赋能", "知识生态"])


def test_a_main_category_in_two_stages_counts_in_both(codings):
    m = stage_factor_matrix(codings, "F2").set_index("阶段")
    assert m.loc["微创新机会识别与框定", "行业环境"] == 1 and m.loc["微创新实现", "行业环境"] == 1  # q6


def test_initial_level_long_table_has_quote_ids_and_excerpts(codings):
    table = stage_factor_table(codings, "F1", level="initial", examples=2)
    row = table[(table["阶段"] == "数字赋能") & (table["初始范畴"] == "数字化投资")].iloc[0]
    assert row["引文数"] == 2 and row["材料数量/份"] == 1 and row["quote_ids"] == "q1;q2"
    assert "(q1)" in row["引文示例"] and "(q2)" in row["引文示例"]
    main = stage_factor_table(codings, "F1", level="main")
    infra = main[(main["阶段"] == "数字赋能") & (main["主范畴"] == "数字基础设施")].iloc[0]
    assert infra["初始范畴分布"] == "数字化投资 2、数字技术应用 1"


def test_jensen_shannon_distance():
    assert jensen_shannon([0.5, 0.5], [0.5, 0.5]) == 0.0
    assert jensen_shannon([1.0, 0.0], [0.0, 1.0]) == pytest.approx(1.0)
    assert 0 < jensen_shannon([0.7, 0.3], [0.4, 0.6]) < 1


def _firm_set(f3_has_industry: bool = True) -> CodingSet:
    """F1 and F2 have the same profile (F2 twice the quotes), F3 leans on knowledge and capabilities,
    F4 and F5 have one quote each (below the median)."""
    f1 = ["技术合作", "技术合作", "用户需求", "政府资助", "知识迭代进化", "数字化战略"]
    plan = {
        "F1": f1,
        "F2": f1 + f1,
        "F3": ["技术合作", "知识迭代进化", "知识迭代进化", "知识应用", "知识应用", "知识识别", "数字化战略"]
        + (["政府资助"] if f3_has_industry else ["数字化营销"]),
        "F4": ["产业政策"],
        "F5": ["移动电话用户"],
    }
    texts, segs = {}, []
    for firm, concepts in plan.items():
        doc = f"{firm}-AR"
        sentences = [f"句子{i}讲{c}。" for i, c in enumerate(concepts)]
        texts[doc] = "".join(sentences)
        for i, (c, s) in enumerate(zip(concepts, sentences)):
            segs.append(segment(f"{firm}-q{i}", doc, s[:-1], (c,), texts=texts))
    return CodingSet.from_segments(segs, texts=texts)


def test_pick_contrasting_firms_takes_the_most_different_well_documented_pair():
    # F4, F5 are below the median (6 quotes); (F1, F3) and (F2, F3) differ equally: F2 has more quotes.
    assert pick_contrasting_firms(_firm_set()) == ("F2", "F3")


def test_pick_drops_the_stage_condition_before_the_median_one():
    # Without F2, and F3 with no quote in 微创新实现 (行业环境), only F1 covers every stage: the pair is
    # then taken among the firms at or above the median (F1, F3), never with the one-quote F4 or F5.
    codings = _firm_set(f3_has_industry=False)
    assert pick_contrasting_firms(codings.for_firms(["F1", "F3", "F4", "F5"])) == ("F1", "F3")


def test_pick_needs_two_firms():
    codings = _firm_set().for_firms(["F1"])
    with pytest.raises(InputError, match="two firms"):
        pick_contrasting_firms(codings)


def test_compare_firms_side_by_side():
    codings = _firm_set()
    table = compare_firms(codings, "F1", "F3")
    row = table[(table["阶段"] == "不断试错与快速迭代") & (table["主范畴"] == "知识生态")].iloc[0]
    assert row["F1·引文数"] == 1 and row["F3·引文数"] == 2
    assert row["F1·占比"] == pytest.approx(1 / 6, abs=1e-3) and row["F3·占比"] == pytest.approx(2 / 8, abs=1e-3)
    assert row["对比"].startswith("F3占比更高")
    assert row["F3·quote_ids"] == "F3-q1;F3-q2"
    org = table[(table["阶段"] == "不断试错与快速迭代") & (table["主范畴"] == "组织能力")].iloc[0]
    assert org["对比"] == "仅F3有引文"


def test_build_case_analysis_writes_the_comparison(tmp_path):
    codings = small_set()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        summary = build_case_analysis(codings, tmp_path / "case", firms=["F1", "F2"])
    assert summary.firms == ("F1", "F2") and not summary.picked_automatically
    assert summary.firm_names == ("甲科技", "乙装备")
    assert summary.stage_quotes["F1"]["数字赋能"] == 3 and summary.stage_quotes["F2"]["微创新实现"] == 1
    out = tmp_path / "case"
    for name in ("case_profile", "case_comparison", "case_all_firms", "case_A_F1_matrix", "case_B_F2_quotes"):
        for suffix in (".csv", ".xlsx", ".md"):
            assert (out / f"{name}{suffix}").exists(), name + suffix
    for fig in ("case_comparison_heatmap", "case_A_F1_stages", "case_B_F2_stages"):
        assert (out / f"{fig}.png").read_bytes()[:4] == b"\x89PNG" and (out / f"{fig}.svg").exists()
    md = (out / "case_analysis.md").read_text(encoding="utf-8")
    assert "甲科技" in md and "乙装备" in md and "| 成立日期 | 2005-07-26 | 2001-03-08 |" in md
    data = json.loads((out / "case_analysis_summary.json").read_text(encoding="utf-8"))
    assert data["firms"] == ["F1", "F2"] and data["stage_quotes"]["F1"]["微创新机会识别与框定"] == 1
    from groundcoder.analysis import case_analysis_html

    html = case_analysis_html(summary)
    assert html.count("data:image/png;base64,") == 3 and "甲科技 与 乙装备" in html and "quote_ids" not in html
    with pytest.raises(InputError, match="two firms"):
        build_case_analysis(codings, tmp_path / "x", firms=["F1"])
    with pytest.raises(InputError, match="no codings for firm F9"):
        build_case_analysis(codings, tmp_path / "x", firms=["F1", "F9"])


def test_case_analysis_on_the_demo_corpus_picks_two_firms(tmp_path):
    from groundcoder.demo_corpus.load import load_demo_corpus

    corpus = load_demo_corpus()
    codings = CodingSet.from_demo_corpus(corpus, firm_ids=corpus.train_firms)
    a, b = pick_contrasting_firms(codings)
    assert a != b and {a, b} <= set(corpus.train_firms)
    for firm in (a, b):
        m = stage_factor_matrix(codings, firm).set_index("阶段")
        assert all(m.loc[s, "合计"] > 0 for s in ("微创新机会识别与框定", "不断试错与快速迭代", "微创新实现"))
    assert not math.isclose(jensen_shannon(*(
        __import__("groundcoder.analysis.case", fromlist=["firm_profile"]).firm_profile(codings, f) for f in (a, b))), 0.0)
