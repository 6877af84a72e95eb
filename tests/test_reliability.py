"""Inter-coder reliability on sentence units: hand-computed kappa and alpha, scopes and variants."""

from __future__ import annotations

import math

import krippendorff
import numpy as np
import pytest
from _analysis_data import segment

from groundcoder.analysis import CodingSet, reliability
from groundcoder.analysis.reliability import compare, krippendorff_nominal, unit_labels

X, Y = "数字化战略", "技术合作"  # 数字化投资/数字基础设施 and 客户网络结构嵌入/合作伙伴
TEXTS = {
    "R-1": "甲句子一。乙句子二。丙句子三。丁句子四。戊句子五。",
    "R-2": "一号句。二号句。三号句。四号句。",
}


def seg(qid, doc, text, concepts, coder, **kw):
    return segment(qid, doc, text, concepts, coder=coder, texts=TEXTS, **kw)


def two_coders() -> CodingSet:
    """A: s1 X, s2 X, s3 Y. B: s1 X, s3 Y, s4 Y. Nobody codes s5."""
    segs = [seg("a1", "R-1", "甲句子一", (X,), "A"), seg("a2", "R-1", "乙句子二", (X,), "A"),
            seg("a3", "R-1", "丙句子三", (Y,), "A"),
            seg("b1", "R-1", "甲句子一", (X,), "B"), seg("b3", "R-1", "丙句子三", (Y,), "B"),
            seg("b4", "R-1", "丁句子四", (Y,), "B")]
    return CodingSet.from_segments(segs, texts=TEXTS)


def row(result, level="concept", variant="coded", coders="A vs B"):
    s = result.summary
    sub = s[(s.level == level) & (s.variant == variant) & (s.coders == coders)]
    assert len(sub) == 1
    return sub.iloc[0]


def test_units_are_sentences_and_labels_come_from_overlapping_codings():
    data = unit_labels(two_coders(), ["A", "B"])
    assert [u.text for u in data.units] == ["甲句子一。", "乙句子二。", "丙句子三。", "丁句子四。", "戊句子五。"]
    assert data.labels["A"]["concept"] == [frozenset({X}), frozenset({X}), frozenset({Y}), frozenset(), frozenset()]
    assert data.labels["B"]["main"] == [frozenset({"数字基础设施"}), frozenset(), frozenset({"合作伙伴"}),
                                        frozenset({"合作伙伴"}), frozenset()]
    assert data.quotes["B"][3] == ("b4",)


def test_agreement_and_cohen_kappa_by_hand():
    result = reliability(two_coders(), ["A", "B"])
    everything, coded = row(result, variant="all"), row(result, variant="coded")
    assert (everything.n_units, coded.n_units) == (5, 4)  # s5 nobody touched: only in "all"
    assert everything.agreement == pytest.approx(3 / 5) and coded.agreement == pytest.approx(2 / 4)
    per = result.per_code
    kx_all = per[(per.variant == "all") & (per.level == "concept") & (per.code == X)].iloc[0]
    # X over 5 sentences: A 1,1,0,0,0; B 1,0,0,0,0 -> po .8, pe .4*.2+.6*.8=.56, kappa .24/.44
    assert kx_all.kappa == pytest.approx(0.24 / 0.44)
    assert (kx_all.n_a, kx_all.n_b, kx_all.n_both) == (2, 1, 1)
    kx, ky = (per[(per.variant == "coded") & (per.level == "concept") & (per.code == c)].iloc[0].kappa for c in (X, Y))
    assert kx == pytest.approx(0.5) and ky == pytest.approx(0.5)  # po .75, pe .5 each
    assert coded.kappa_macro == pytest.approx(0.5)
    # pooled 2x2 over both codes: po 6/8, pe (3/8)^2 + (5/8)^2
    pe = (3 / 8) ** 2 + (5 / 8) ** 2
    assert coded.kappa_pooled == pytest.approx((0.75 - pe) / (1 - pe))
    # label sets as categories: A X,X,Y,- ; B X,-,Y,Y -> po .5, pe .3125
    assert coded.kappa_set == pytest.approx((0.5 - 0.3125) / (1 - 0.3125))


def test_krippendorff_alpha_by_hand_and_against_the_library():
    result = reliability(two_coders(), ["A", "B"])
    # coincidences: XX 2, YY 2, X-/-X 1+1, Y-/-Y 1+1; n_X 3, n_Y 3, n_- 2, n 8: 1 - 7*4/42
    assert row(result).alpha == pytest.approx(1 - 7 * 4 / 42)
    assert krippendorff_nominal([["a", "a", "b", "b"], ["a", "b", "b", "b"]]) == pytest.approx(1 - 7 * 2 / 30)
    with_missing = [["a", "b", None, "a"], ["a", "b", "b", None], [None, "b", "b", "a"]]
    coded = np.array([[0, 1, np.nan, 0], [0, 1, 1, np.nan], [np.nan, 1, 1, 0]])
    assert krippendorff_nominal(with_missing) == pytest.approx(krippendorff.alpha(coded, level_of_measurement="nominal"))
    assert math.isnan(krippendorff_nominal([["a", "a"], ["a", "a"]]))  # one value only: undefined


def test_levels_aggregate_codes():
    segs = [seg("a1", "R-1", "甲句子一", ("数字化战略",), "A"), seg("b1", "R-1", "甲句子一", ("数字化营销",), "B")]
    result = reliability(CodingSet.from_segments(segs, texts=TEXTS), ["A", "B"])
    assert row(result, "concept").agreement == 0.0
    assert row(result, "initial").agreement == 1.0 and row(result, "main").agreement == 1.0  # both 数字化投资


def test_a_quote_across_two_sentences_labels_both():
    segs = [seg("a1", "R-1", "甲句子一。乙句子二", (X,), "A"), seg("b1", "R-1", "乙句子二", (X,), "B")]
    data = unit_labels(CodingSet.from_segments(segs, texts=TEXTS), ["A", "B"])
    assert data.labels["A"]["concept"][:3] == [frozenset({X}), frozenset({X}), frozenset()]
    assert data.labels["B"]["concept"][:2] == [frozenset(), frozenset({X})]


def test_reviewed_scope_compares_only_what_the_second_coder_reviewed():
    """coder1: s1 X, s2 X, s3 Y. coder2 reviewed s1 (same), s3 (left uncoded), coded s4 alone."""
    segs = [seg("q1", "R-2", "一号句", (X,), "coder1"), seg("q2", "R-2", "二号句", (X,), "coder1"),
            seg("q3", "R-2", "三号句", (Y,), "coder1"),
            seg("q1", "R-2", "一号句", (X,), "coder2"), seg("q3", "R-2", "三号句", (), "coder2"),
            seg("q4", "R-2", "四号句", (Y,), "coder2")]
    codings = CodingSet.from_segments(segs, texts=TEXTS)
    result = reliability(codings, ["coder1", "coder2"], reviewed_by="coder2")
    r = row(result, coders="coder1 vs coder2")
    assert r.n_units == 3  # s2 was never reviewed: coder1's X there is not a disagreement
    assert r.agreement == pytest.approx(1 / 3)
    assert list(result.units["unit_id"]) == ["R-2:0-4", "R-2:8-12", "R-2:12-16"]
    whole = reliability(codings, ["coder1", "coder2"])
    assert row(whole, coders="coder1 vs coder2", variant="all").n_units == 4


def test_human_vs_model_with_a_confidence_floor():
    segs = [seg("a1", "R-1", "甲句子一", (X,), "alice"), seg("a3", "R-1", "丙句子三", (Y,), "alice"),
            seg("m1", "R-1", "甲句子一", (X,), "run-1", coder_kind="model", confidence=0.9),
            seg("m2", "R-1", "乙句子二", (Y,), "run-1", coder_kind="model", confidence=0.3),
            seg("m3", "R-1", "丙句子三", (Y,), "run-1", coder_kind="model", confidence=0.8)]
    codings = CodingSet.from_segments(segs, texts=TEXTS)
    loose = reliability(codings, ["alice", "run-1"])
    strict = reliability(codings, ["alice", "run-1"], min_confidence=0.5)
    assert row(loose, coders="alice vs run-1", variant="all").agreement == pytest.approx(4 / 5)
    assert row(strict, coders="alice vs run-1", variant="all").agreement == 1.0
    assert row(strict, coders="alice vs run-1").coder_kinds == "human vs model"


def test_three_coders_alpha_and_missing_documents():
    segs = [seg("a1", "R-1", "甲句子一", (X,), "A"), seg("b1", "R-1", "甲句子一", (X,), "B"),
            seg("c1", "R-1", "甲句子一", (Y,), "C"), seg("a5", "R-2", "一号句", (X,), "A"),
            seg("b5", "R-2", "一号句", (X,), "B")]
    result = reliability(CodingSet.from_segments(segs, texts=TEXTS), ["A", "B", "C"])
    assert set(result.summary.coders) == {"A vs B", "A vs C", "B vs C", "A vs B vs C"}
    # C never coded R-2: its sentences are missing for C, so A vs C compares R-1 only
    assert row(result, variant="all", coders="A vs C").n_units == 5
    assert row(result, variant="all", coders="A vs B").n_units == 9
    together = row(result, variant="all", coders="A vs B vs C")
    assert math.isnan(together.kappa_set) and not math.isnan(together.alpha)
    data = unit_labels(CodingSet.from_segments(segs, texts=TEXTS), ["A", "B", "C"])
    assert compare(data, ["A", "B", "C"], "concept", "coded").n_units == 2


def test_demo_corpus_coder1_vs_coder2_is_realistic():
    from groundcoder.demo_corpus.load import load_demo_corpus

    codings = CodingSet.from_demo_corpus(load_demo_corpus(), coders=("coder1", "coder2"))
    result = reliability(codings, ["coder1", "coder2"], reviewed_by="coder2", variants=("coded",))
    kappas = [row(result, lv, coders="coder1 vs coder2").kappa_set for lv in ("concept", "initial", "main")]
    assert 0.4 < kappas[0] < 0.95
    assert kappas[0] <= kappas[1] <= kappas[2] < 1.0  # coarser levels agree at least as well
    alpha = row(result, "main", coders="coder1 vs coder2").alpha
    assert 0.5 < alpha < 1.0
    assert row(result, coders="coder1 vs coder2").n_units >= 200


def test_build_reliability_writes_tables_figure_and_summary(tmp_path):
    import json
    import warnings

    from groundcoder.analysis import build_reliability, reliability_html

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        summary = build_reliability(two_coders(), ["A", "B"], tmp_path / "rel")
    out = tmp_path / "rel"
    for name in ("reliability_summary", "reliability_per_code", "reliability_units", "reliability_disagreements"):
        assert (out / f"{name}.csv").exists() and (out / f"{name}.xlsx").exists() and (out / f"{name}.md").exists()
    assert (out / "reliability_per_code.png").read_bytes()[:4] == b"\x89PNG"
    data = json.loads((out / "reliability_summary.json").read_text(encoding="utf-8"))
    assert data["headline"]["concept"]["kappa_set"] == pytest.approx((0.5 - 0.3125) / 0.6875)
    assert data["n_units"] == 5 and data["unit"] == "sentence"
    units = (out / "reliability_disagreements.csv").read_text(encoding="utf-8-sig")
    assert "R-1:5-10" in units and "R-1:0-5" not in units  # s2 disagrees, s1 agrees
    html = reliability_html(summary)
    assert "data:image/png;base64," in html and "kappa_pooled" in html
