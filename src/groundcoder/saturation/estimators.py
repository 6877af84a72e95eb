"""Unseen-code estimators from ecology, with firms (or documents) as sampling units.

Formulas from Chao (1987), Chao & Jost (2012), Chao et al. (2009) and Colwell et al. (2012).
Incidence data: Q_k = number of codes found in exactly k of the m units; U = total incidences.
Abundance data: f_k = number of codes with exactly k quotes; n = number of quotes.
They assume every code is equally detectable, so read them as lower bounds.

Confidence intervals (``chao1_interval``, ``chao2_interval``) follow Chao (1987) as SpadeR and
EstimateS compute them: a log-normal interval around the unseen part f0 = S - S_obs when f0 > 0,
with the variance of the form used (classic, the Q2 = 0 / f2 = 0 form, or bias-corrected); when
nothing is estimated unseen (f0 = 0, e.g. no singletons) the interval of Chao et al. (2009), built
from the whole frequency profile, whose lower bound is S_obs. Both need the frequency counts
(``frequencies``), which ``from_units`` / ``from_counts`` fill in.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class Incidence:
    """Incidence summary of codes over m sampling units."""

    m: int                  # sampling units (firms)
    s_obs: int              # distinct codes seen
    q1: int                 # codes seen in exactly one unit
    q2: int                 # codes seen in exactly two units
    u: int                  # total incidences (sum over codes of the units they occur in)
    # (k, Q_k) for every k with Q_k > 0, ascending; needed only by the f0 = 0 interval
    frequencies: tuple[tuple[int, int], ...] = ()

    @classmethod
    def from_units(cls, units: Iterable[Iterable[str]]) -> "Incidence":
        """Build from one set of codes per unit (duplicates within a unit count once)."""
        sets = [set(u) for u in units]
        counts = Counter(code for s in sets for code in s)
        freq = Counter(counts.values())
        return cls(len(sets), len(counts), freq.get(1, 0), freq.get(2, 0), sum(counts.values()),
                   tuple(sorted(freq.items())))


@dataclass(frozen=True)
class Abundance:
    """Abundance summary: how many quotes each code has."""

    n: int
    s_obs: int
    f1: int
    f2: int
    frequencies: tuple[tuple[int, int], ...] = ()   # (k, f_k) for every k with f_k > 0, ascending

    @classmethod
    def from_counts(cls, counts: Mapping[str, int] | Iterable[int]) -> "Abundance":
        values = list(counts.values()) if isinstance(counts, Mapping) else list(counts)
        values = [v for v in values if v > 0]
        freq = Counter(values)
        return cls(sum(values), len(values), freq.get(1, 0), freq.get(2, 0), tuple(sorted(freq.items())))


def chao2(inc: Incidence, bias_corrected: bool = False) -> float:
    """Chao2 richness estimate. Classic form falls back to the Q2 = 0 form when no code is a doubleton."""
    if inc.m == 0:
        return 0.0
    k = (inc.m - 1) / inc.m
    if bias_corrected:
        return inc.s_obs + k * inc.q1 * (inc.q1 - 1) / (2 * (inc.q2 + 1))
    if inc.q2 > 0:
        return inc.s_obs + k * inc.q1 ** 2 / (2 * inc.q2)
    return inc.s_obs + k * inc.q1 * (inc.q1 - 1) / 2


def jackknife1(inc: Incidence) -> float:
    """First-order jackknife (incidence)."""
    if inc.m == 0:
        return 0.0
    return inc.s_obs + inc.q1 * (inc.m - 1) / inc.m


def sample_coverage(inc: Incidence) -> float:
    """Chao & Jost (2012) incidence coverage; 1 - C estimates the chance the next unit brings a new code."""
    if inc.u == 0:
        return 0.0
    if inc.q1 == 0:
        return 1.0
    m = inc.m
    denom = (m - 1) * inc.q1 + 2 * inc.q2
    correction = ((m - 1) * inc.q1 / denom) if denom > 0 else 1.0
    return 1 - (inc.q1 / inc.u) * correction


def chao1(ab: Abundance, bias_corrected: bool = False, small_sample: bool = False) -> float:
    """Chao1 richness estimate (abundance). ``small_sample`` applies EstimateS's (n - 1)/n factor."""
    factor = (ab.n - 1) / ab.n if small_sample and ab.n > 0 else 1.0
    if bias_corrected or ab.f2 == 0:
        return ab.s_obs + factor * ab.f1 * (ab.f1 - 1) / (2 * (ab.f2 + 1))
    return ab.s_obs + factor * ab.f1 ** 2 / (2 * ab.f2)


def chao1_variance(ab: Abundance) -> float:
    """Chao (1987) variance of the classic Chao1 estimate (needs f2 > 0)."""
    if ab.f2 == 0:
        raise ValueError("the Chao1 variance formula needs at least one doubleton (f2 > 0)")
    r = ab.f1 / ab.f2
    return ab.f2 * (0.5 * r ** 2 + r ** 3 + 0.25 * r ** 4)


@dataclass(frozen=True)
class Interval:
    estimate: float
    low: float
    high: float
    variance: float | None = None


def _log_normal(s_obs: int, estimate: float, var: float, z: float) -> Interval:
    """Chao (1987): S_obs + f0 / C .. S_obs + f0 C, C = exp(z sqrt(ln(1 + var / f0^2)))."""
    f0 = estimate - s_obs
    c = math.exp(z * math.sqrt(math.log(1 + max(var, 0.0) / f0 ** 2)))
    return Interval(estimate, s_obs + f0 / c, s_obs + f0 * c, var)


def _no_unseen(s_obs: int, frequencies: tuple[tuple[int, int], ...], size: int, z: float) -> Interval:
    """Interval when nothing is estimated unseen (Chao et al. 2009; SpadeR): lower bound S_obs.

    var = sum_k F_k (e^-k - e^-2k) - (sum_k k e^-k F_k)^2 / size; P = sum_k F_k e^-k / S_obs;
    [max(S_obs, S_obs/(1-P) - z sqrt(var)/(1-P)), S_obs/(1-P) + z sqrt(var)/(1-P)].
    ``size`` is n (individuals) for abundance and U (incidences) for incidence data, the total the
    frequency profile sums to (sum_k k F_k). Without frequency counts the interval is the point S_obs.
    """
    if s_obs == 0 or not frequencies or size <= 0:
        return Interval(float(s_obs), float(s_obs), float(s_obs), 0.0 if s_obs == 0 else None)
    var = sum(f * (math.exp(-k) - math.exp(-2 * k)) for k, f in frequencies)
    var -= sum(k * math.exp(-k) * f for k, f in frequencies) ** 2 / size
    var = max(var, 0.0)
    p = sum(f * math.exp(-k) for k, f in frequencies) / s_obs
    centre = s_obs / (1 - p)
    half = z * math.sqrt(var) / (1 - p)
    return Interval(float(s_obs), max(float(s_obs), centre - half), centre + half, var)


def chao1_interval(ab: Abundance, z: float = 1.96, bias_corrected: bool = False) -> Interval:
    """Log-normal confidence interval around Chao1 (Chao 1987), bounded below by S_obs.

    Classic form with f2 > 0 uses ``chao1_variance``; with f2 = 0 (and for ``bias_corrected``) the
    variance of the bias-corrected form; with nothing unseen, the f0 = 0 interval.
    """
    estimate = chao1(ab, bias_corrected=bias_corrected)
    if estimate - ab.s_obs <= 0:
        return _no_unseen(ab.s_obs, ab.frequencies, ab.n, z)
    if not bias_corrected and ab.f2 > 0:
        return _log_normal(ab.s_obs, estimate, chao1_variance(ab), z)
    f1, f2 = ab.f1, ab.f2
    if f2 == 0 and not bias_corrected:
        var = f1 * (f1 - 1) / 2 + f1 * (2 * f1 - 1) ** 2 / 4 - f1 ** 4 / (4 * estimate)
    else:
        var = (f1 * (f1 - 1) / (2 * (f2 + 1)) + f1 * (2 * f1 - 1) ** 2 / (4 * (f2 + 1) ** 2)
               + f1 ** 2 * f2 * (f1 - 1) ** 2 / (4 * (f2 + 1) ** 4))
    return _log_normal(ab.s_obs, estimate, var, z)


def chao2_variance(inc: Incidence, bias_corrected: bool = False) -> float:
    """Variance of Chao2 (Chao 1987, incidence form; A = (m - 1)/m).

    Classic, Q2 > 0: Q2 [A/2 (Q1/Q2)^2 + A^2 (Q1/Q2)^3 + A^2/4 (Q1/Q2)^4];
    classic, Q2 = 0: A Q1(Q1-1)/2 + A^2 Q1 (2Q1-1)^2/4 - A^2 Q1^4 / (4 S);
    bias-corrected: A Q1(Q1-1)/(2(Q2+1)) + A^2 Q1 (2Q1-1)^2/(4(Q2+1)^2) + A^2 Q1^2 Q2 (Q1-1)^2/(4(Q2+1)^4).
    """
    if inc.m == 0:
        return 0.0
    a = (inc.m - 1) / inc.m
    q1, q2 = inc.q1, inc.q2
    if bias_corrected:
        return (a * q1 * (q1 - 1) / (2 * (q2 + 1)) + a ** 2 * q1 * (2 * q1 - 1) ** 2 / (4 * (q2 + 1) ** 2)
                + a ** 2 * q1 ** 2 * q2 * (q1 - 1) ** 2 / (4 * (q2 + 1) ** 4))
    if q2 > 0:
        r = q1 / q2
        return q2 * (a / 2 * r ** 2 + a ** 2 * r ** 3 + a ** 2 / 4 * r ** 4)
    estimate = chao2(inc)
    if estimate == 0:
        return 0.0
    return a * q1 * (q1 - 1) / 2 + a ** 2 * q1 * (2 * q1 - 1) ** 2 / 4 - a ** 2 * q1 ** 4 / (4 * estimate)


def chao2_interval(inc: Incidence, z: float = 1.96, bias_corrected: bool = False) -> Interval:
    """Confidence interval of Chao2 (classic or bias-corrected), bounded below by S_obs."""
    estimate = chao2(inc, bias_corrected=bias_corrected)
    if estimate - inc.s_obs <= 0:
        return _no_unseen(inc.s_obs, inc.frequencies, inc.u, z)
    return _log_normal(inc.s_obs, estimate, chao2_variance(inc, bias_corrected), z)


def additional_units_for_fraction(ab: Abundance, g: float) -> float:
    """Extra sampling needed to see a fraction ``g`` of the estimated richness (Chao et al. 2009).

    m_g = (n f1 / (2 f2)) ln(f0 / ((1 - g) S_est)); 0 when that fraction is already observed.
    """
    if not 0 < g < 1:
        raise ValueError(f"g must lie in (0, 1), got {g}")
    if ab.f2 == 0 or ab.f1 == 0:
        return 0.0
    s_est = chao1(ab)
    f0 = s_est - ab.s_obs
    target = (1 - g) * s_est
    if f0 <= target:
        return 0.0
    return (ab.n * ab.f1 / (2 * ab.f2)) * math.log(f0 / target)
