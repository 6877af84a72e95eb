"""Unseen-code estimators from ecology, with firms (or documents) as sampling units.

Formulas from Chao (1987), Chao & Jost (2012), Chao et al. (2009) and Colwell et al. (2012).
Incidence data: Q_k = number of codes found in exactly k of the m units; U = total incidences.
Abundance data: f_k = number of codes with exactly k quotes; n = number of quotes.
They assume every code is equally detectable, so read them as lower bounds.
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

    @classmethod
    def from_units(cls, units: Iterable[Iterable[str]]) -> "Incidence":
        """Build from one set of codes per unit (duplicates within a unit count once)."""
        sets = [set(u) for u in units]
        counts = Counter(code for s in sets for code in s)
        freq = Counter(counts.values())
        return cls(len(sets), len(counts), freq.get(1, 0), freq.get(2, 0), sum(counts.values()))


@dataclass(frozen=True)
class Abundance:
    """Abundance summary: how many quotes each code has."""

    n: int
    s_obs: int
    f1: int
    f2: int

    @classmethod
    def from_counts(cls, counts: Mapping[str, int] | Iterable[int]) -> "Abundance":
        values = list(counts.values()) if isinstance(counts, Mapping) else list(counts)
        values = [v for v in values if v > 0]
        freq = Counter(values)
        return cls(sum(values), len(values), freq.get(1, 0), freq.get(2, 0))


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


def chao1_interval(ab: Abundance, z: float = 1.96) -> Interval:
    """Log-normal confidence interval around Chao1 (Chao 1987), bounded below by S_obs."""
    estimate = chao1(ab)
    f0 = estimate - ab.s_obs
    if f0 <= 0:
        return Interval(estimate, float(ab.s_obs), float(ab.s_obs))
    var = chao1_variance(ab)
    c = math.exp(z * math.sqrt(math.log(1 + var / f0 ** 2)))
    return Interval(estimate, ab.s_obs + f0 / c, ab.s_obs + f0 * c)


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
