"""Estimators against the worked values of the project's saturation notes (Chao 1987; Chao & Jost 2012)."""

import math

import numpy as np

import pytest

from groundcoder.saturation.estimators import (
    Abundance, Incidence, additional_units_for_fraction, chao1, chao1_interval, chao1_variance, chao2,
    jackknife1, sample_coverage,
)

AB = Abundance(n=50, s_obs=10, f1=3, f2=2)
INC = Incidence(m=10, s_obs=10, q1=3, q2=2, u=40)


def test_chao1_forms():
    assert chao1(AB) == pytest.approx(12.25)
    assert chao1(AB, small_sample=True) == pytest.approx(12.205)
    assert chao1(AB, bias_corrected=True) == pytest.approx(11.0)


def test_chao1_variance_and_interval():
    assert chao1_variance(AB) == pytest.approx(11.53125)
    ci = chao1_interval(AB)
    assert ci.low == pytest.approx(10.266, abs=1e-3)
    assert ci.high == pytest.approx(29.041, abs=5e-3)  # the worked value rounds intermediate terms


def test_additional_sampling():
    assert additional_units_for_fraction(AB, 0.95) == pytest.approx(48.79, abs=1e-2)


def test_incidence_estimators():
    assert chao2(INC) == pytest.approx(12.025)
    assert chao2(INC, bias_corrected=True) == pytest.approx(10.9)
    assert jackknife1(INC) == pytest.approx(12.7)
    assert sample_coverage(INC) == pytest.approx(0.93468, abs=1e-5)


def test_q2_zero_uses_the_singleton_form():
    inc = Incidence(m=5, s_obs=8, q1=3, q2=0, u=20)
    assert chao2(inc) == pytest.approx(8 + (4 / 5) * 3 * 2 / 2)
    assert math.isfinite(sample_coverage(inc))


def test_no_new_codes_means_no_unseen_codes():
    # every code seen in every firm: no singletons, nothing unseen, full coverage
    inc = Incidence.from_units([{"a", "b", "c"}] * 5)
    assert (inc.q1, inc.q2, inc.u) == (0, 0, 15)
    assert chao2(inc) == 3 and chao2(inc, bias_corrected=True) == 3
    assert jackknife1(inc) == 3
    assert sample_coverage(inc) == 1.0


def test_summaries_count_units_and_quotes():
    inc = Incidence.from_units([{"a", "b"}, {"a", "a", "c"}, {"a"}])
    assert (inc.m, inc.s_obs, inc.q1, inc.q2, inc.u) == (3, 3, 2, 0, 5)
    ab = Abundance.from_counts({"a": 5, "b": 1, "c": 2, "d": 0})
    assert (ab.n, ab.s_obs, ab.f1, ab.f2) == (8, 3, 1, 1)


from groundcoder.saturation.accumulation import (  # noqa: E402
    accumulate, accumulation_curve, default_guest_parameters, guest_saturation,
)


def test_guest_worked_example_one_new_code_in_37():
    base = [set(f"c{i}" for i in range(0, 20)), set(f"c{i}" for i in range(15, 37))]  # 37 base codes
    units = base + [{"c1", "c2"}, {"new"}]
    result = guest_saturation(units, base_size=2, run_length=2, threshold=0.05)
    assert result.base_codes == 37
    assert result.ratios == pytest.approx((1 / 37,))   # 2.7%
    assert result.saturation_at == 4
    assert result.label.startswith("2+2 at <=5%")


def test_guest_not_reached_when_every_unit_brings_much_new():
    units = [{"a"}, {"b"}, {"c"}, {"d"}, {"e"}]
    result = guest_saturation(units, base_size=2, run_length=1, threshold=0.0)
    assert result.saturation_at is None and "not reached" in result.label
    with pytest.raises(ValueError):
        guest_saturation(units, base_size=5, run_length=1)


def test_accumulation_and_curve():
    steps = accumulate([("F1", {"a", "b"}), ("F2", {"b", "c"}), ("F3", {"a"})])
    assert [s.new_codes for s in steps] == [("a", "b"), ("c",), ()]
    assert [s.cumulative for s in steps] == [2, 3, 3]
    known = accumulate([("F1", {"a", "x"})], known={"a", "b"})
    assert known[0].new_codes == ("x",) and known[0].cumulative == 1
    curve = accumulation_curve({"F1": {"a", "b"}, "F2": {"b", "c"}, "F3": {"a"}}, orders=50)
    assert curve.mean[-1] == 3 and curve.low[0] >= 1 and (np.diff(curve.mean) >= 0).all()
    assert default_guest_parameters(5) == (3, 2) and default_guest_parameters(12) == (4, 2)


# --- confidence intervals of Chao2 and the edge cases of Chao1 (Chao 1987; Chao et al. 2009) -----------

from groundcoder.saturation.estimators import chao2_interval, chao2_variance  # noqa: E402


def test_chao2_variance_and_interval_worked_by_hand():
    # A = 0.9, Q1/Q2 = 1.5: var = 2 (0.45 * 2.25 + 0.81 * 3.375 + 0.2025 * 5.0625) = 9.5428125
    assert chao2_variance(INC) == pytest.approx(9.5428125)
    ci = chao2_interval(INC)
    f0 = 2.025
    c = math.exp(1.96 * math.sqrt(math.log(1 + 9.5428125 / f0 ** 2)))
    assert ci.estimate == pytest.approx(12.025)
    assert (ci.low, ci.high) == pytest.approx((10 + f0 / c, 10 + f0 * c))
    assert ci.low == pytest.approx(10.236, abs=1e-3) and ci.high == pytest.approx(27.37, abs=1e-2)


def test_chao2_bias_corrected_interval_and_q2_zero():
    bc = chao2_interval(INC, bias_corrected=True)
    assert bc.estimate == pytest.approx(10.9)
    # A Q1(Q1-1)/(2(Q2+1)) + A^2 Q1 (2Q1-1)^2/(4(Q2+1)^2) + A^2 Q1^2 Q2 (Q1-1)^2/(4(Q2+1)^4)
    var = 0.9 * 6 / 6 + 0.81 * 3 * 25 / 36 + 0.81 * 9 * 2 * 4 / (4 * 81)
    assert chao2_variance(INC, bias_corrected=True) == pytest.approx(var)
    assert 10 < bc.low < 10.9 < bc.high
    q2zero = Incidence(m=5, s_obs=8, q1=3, q2=0, u=20)
    est = chao2(q2zero)
    a = 4 / 5
    var0 = a * 3 * 2 / 2 + a ** 2 * 3 * 25 / 4 - a ** 2 * 81 / (4 * est)
    assert chao2_variance(q2zero) == pytest.approx(var0)
    ci = chao2_interval(q2zero)
    assert ci.low >= 8 and ci.high > est


def test_nothing_unseen_interval_starts_at_s_obs():
    # every code in every firm: no singletons, f0 = 0; the interval's lower bound is S_obs
    inc = Incidence.from_units([{"a", "b", "c"}] * 5)
    ci = chao2_interval(inc)
    assert ci.estimate == 3 and ci.low == 3 and 3 <= ci.high < 3.5
    assert chao2_interval(inc, bias_corrected=True).low == 3
    # no frequency profile: the point S_obs
    bare = Incidence(m=5, s_obs=3, q1=0, q2=0, u=15)
    assert (chao2_interval(bare).low, chao2_interval(bare).high) == (3, 3)


def test_chao1_interval_without_doubletons_uses_the_bias_corrected_variance():
    ab = Abundance.from_counts({"a": 1, "b": 1, "c": 1, "d": 5})
    assert (ab.f1, ab.f2) == (3, 0)
    ci = chao1_interval(ab)
    assert ci.estimate == pytest.approx(4 + 3 * 2 / 2)
    assert 4 <= ci.low < ci.estimate < ci.high
    assert Incidence.from_units([{"a", "b"}, {"a"}]).frequencies == ((1, 1), (2, 1))
