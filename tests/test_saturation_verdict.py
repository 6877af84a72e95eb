"""The saturation verdict on hand-made firms: no-new-code and Q2 = 0 edge cases, placements, bad input."""

from __future__ import annotations

import pytest

from groundcoder.codebook import Codebook
from groundcoder.errors import InputError
from groundcoder.saturation.metrics import LEVELS, FirmCodes, LevelMapper, SaturationSettings, level_metrics
from groundcoder.saturation.verdict import DECISION_RULE, make_verdict

CODEBOOK = Codebook.from_yaml_text("""\
title: 测试码本
main_categories:
  技术基础:
    initial_categories:
      研发投入: [专利研发, 数字平台]
      人才团队: [工程师团队]
  外部环境:
    initial_categories:
      市场竞争: [价格竞争, 客户合作]
      政策支持: [政府补贴]
""")
ALL = ["专利研发", "数字平台", "工程师团队", "价格竞争", "客户合作", "政府补贴"]
SETTINGS = SaturationSettings(orders=50)


def firms(*code_lists: list[str], prefix: str = "H") -> list[FirmCodes]:
    return [FirmCodes.from_codes(f"{prefix}{i}", codes) for i, codes in enumerate(code_lists, start=1)]


def verdict(held, reference=(), placements=None, max_unseen=1.0):
    mapper = LevelMapper(CODEBOOK, placements)
    levels = {lv: level_metrics(lv, held, mapper, reference, SETTINGS) for lv in LEVELS}
    return levels, make_verdict("human", levels, max_unseen)


REFERENCE = firms(*([ALL] * 6), prefix="R")


def test_no_new_code_and_q2_zero_is_saturated():
    # every held-out firm shows the same known codes: Q1 = Q2 = 0, nothing unseen
    held = firms(["专利研发", "数字平台", "价格竞争"], ["专利研发", "数字平台", "价格竞争"], ["专利研发", "数字平台", "价格竞争"])
    levels, v = verdict(held, REFERENCE)
    assert v.saturated
    c = levels["concept"]
    assert c.own.q1 == 0 and c.own.q2 == 0
    assert c.new_codes == () and c.unseen_estimate.unseen == 0
    assert [s.cumulative_codes for s in c.steps] == [3, 3, 3] and [s.cumulative_new for s in c.steps] == [0, 0, 0]
    assert v.headline.startswith("3 firms -> 3 concepts, 2 initial categories, 2 main categories; 0 new; estimated unseen concepts 0.0")
    assert v.headline.endswith(": saturated") and "达到理论饱和" in v.headline_zh
    assert all(d.saturated for d in v.levels.values())
    assert v.rule == DECISION_RULE.format(max_unseen=1.0)


def test_one_new_code_is_not_saturated_at_every_level_until_placed():
    held = firms(["专利研发", "忘却学习"], ["专利研发", "数字平台"], ["专利研发", "忘却学习"])
    levels, v = verdict(held, REFERENCE)
    assert not v.saturated
    assert levels["concept"].new_codes == ("忘却学习",)
    assert levels["concept"].steps[0].new_codes == ("忘却学习",) and levels["concept"].steps[2].new_codes == ()
    # unplaced: a candidate new category at every level above
    assert levels["initial"].unplaced == ("未归类:忘却学习",) and levels["main"].new_codes == ("未归类:忘却学习",)
    assert "1 new (忘却学习)" in v.headline and "not saturated" in v.headline
    assert not v.levels["initial"].saturated and not v.levels["main"].saturated

    # placed in an existing initial category: only the concept level is new
    _, placed = verdict(held, REFERENCE, placements={"忘却学习": "研发投入"})
    assert not placed.saturated
    assert not placed.levels["concept"].saturated
    assert placed.levels["initial"].saturated and placed.levels["main"].saturated

    # placed in a new initial category under an existing main category: new initial category, known main
    _, new_initial = verdict(held, REFERENCE, placements={"忘却学习": "组织忘却/技术基础"})
    assert new_initial.levels["initial"].new == ("组织忘却",) and new_initial.levels["main"].saturated


def test_singletons_without_doubletons_leave_codes_unseen():
    # Q2 = 0 with three singletons: Chao2 uses Q1 (Q1 - 1) / 2, and the firms are not saturated
    held = firms(["专利研发"], ["数字平台"], ["工程师团队"], ["价格竞争"])
    levels, v = verdict(held)  # no reference firms: the held-out firms alone
    c = levels["concept"]
    assert (c.own.q1, c.own.q2) == (4, 0)
    assert c.pooled is None
    assert c.own.chao2 == pytest.approx(4 + (3 / 4) * 4 * 3 / 2)
    assert c.own.unseen == pytest.approx(4.5)
    assert not v.saturated and v.levels["concept"].reasons[0].startswith("4.5 concepts estimated unseen")
    assert c.new_codes == ()  # nothing new, yet not saturated: the rule's second part


def test_reference_firms_carry_the_estimate():
    held = firms(["专利研发"], ["数字平台"], ["工程师团队"], ["价格竞争"])
    levels, v = verdict(held, REFERENCE)
    assert levels["concept"].pooled.m == 10 and levels["concept"].pooled.q1 == 0
    assert v.saturated  # the codebook's firms saw every concept many times
    assert levels["concept"].guest is not None and levels["concept"].guest.base_size == 2


def test_bad_input_is_refused():
    with pytest.raises(InputError, match="already a concept"):
        LevelMapper(CODEBOOK, {"专利研发": "研发投入"})
    with pytest.raises(InputError, match="belongs to"):
        LevelMapper(CODEBOOK, {"忘却学习": "研发投入/外部环境"})
    mapper = LevelMapper(CODEBOOK)
    with pytest.raises(InputError, match="both held out and in the reference"):
        level_metrics("concept", firms(["专利研发"], prefix="R"), mapper, REFERENCE)
    with pytest.raises(InputError, match="listed twice"):
        level_metrics("concept", [FirmCodes.from_codes("A", ["专利研发"])] * 2, mapper)
    with pytest.raises(InputError):
        SaturationSettings(max_unseen=0)
    with pytest.raises(InputError, match="no held-out firms"):
        level_metrics("concept", [], mapper)
