"""Saturation metrics at the concept, initial-category and main-category level.

Input: the codes each held-out firm brought (``FirmCodes``: concept -> number of quotes; a name the
codebook lacks is a new concept, a model's candidate cluster is one too), in the order the firms were
studied, optionally the codes of the *reference* firms (the sample the codebook was built from), and
the codebook. ``LevelMapper`` lifts a concept to its initial and main category; a new concept lifts
to the category the researcher placed it in (``placements``), or, unplaced, stays a new code at every
level (``未归类:<concept>``): a concept that fits no existing category is a candidate new category
until someone places it.

Per level (``level_metrics``):

* per firm in order: codes seen, new codes (not in the codebook, not brought by an earlier held-out
  firm), cumulative codes and cumulative new codes;
* the accumulation curve of distinct codes over ``orders`` random firm orders with a percentile band;
* Guest, Namey & Chen (2020) over the held-out firms in order (b, r from the number of firms unless
  given; threshold t);
* unseen-code estimates with firms as sampling units (incidence: Chao2 classic and bias-corrected with
  intervals, first-order jackknife, sample coverage) and with quotes as individuals (abundance: Chao1
  with its interval), for the held-out firms alone ("own") and for reference + held-out firms
  ("pooled"): the pooled f0 is the number of codes expected to exist that neither the codebook's
  firms nor the held-out firms showed.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..errors import InputError
from .accumulation import AccumulationCurve, GuestResult, accumulation_curve, default_guest_parameters, guest_saturation
from .estimators import (
    Abundance,
    Incidence,
    chao1,
    chao1_interval,
    chao2,
    chao2_interval,
    jackknife1,
    sample_coverage,
)

LEVELS = ("concept", "initial", "main")
LEVEL_LABELS = {"concept": "概念", "initial": "初始范畴", "main": "主范畴"}
LEVEL_NAMES = {"concept": "concepts", "initial": "initial categories", "main": "main categories"}
LEVEL_NAME = {"concept": "concept", "initial": "initial category", "main": "main category"}


def level_name(level: str, n: int | float) -> str:
    """'1 concept', '2 concepts': the level's name for ``n`` codes."""
    return LEVEL_NAME[level] if n == 1 else LEVEL_NAMES[level]
UNPLACED_PREFIX = "未归类:"


@dataclass(frozen=True)
class FirmCodes:
    """The concepts one firm was coded with, and how many quotes carry each (abundance)."""

    firm_id: str
    counts: Mapping[str, int]

    def __post_init__(self) -> None:
        clean = {str(k): int(v) for k, v in dict(self.counts).items() if int(v) > 0}
        object.__setattr__(self, "counts", clean)

    @classmethod
    def from_codes(cls, firm_id: str, codes: Sequence[str]) -> FirmCodes:
        return cls(firm_id, Counter(codes))

    @property
    def codes(self) -> frozenset[str]:
        return frozenset(self.counts)


@dataclass(frozen=True)
class SaturationSettings:
    orders: int = 200                       # random firm orders for the accumulation curve
    band: tuple[float, float] = (2.5, 97.5)
    seed: int = 0
    guest_base: int | None = None           # default: from the number of held-out firms
    guest_run: int | None = None
    guest_threshold: float = 0.05
    max_unseen: float = 1.0                 # decision rule: fewer unseen codes than this
    z: float = 1.96

    def __post_init__(self) -> None:
        problems = []
        if self.orders < 1:
            problems.append(f"orders is {self.orders}; at least 1")
        if not 0 <= self.band[0] < self.band[1] <= 100:
            problems.append(f"band {self.band} is not two percentiles low < high")
        if not 0 <= self.guest_threshold < 1:
            problems.append(f"guest threshold {self.guest_threshold} is not in [0, 1)")
        if self.max_unseen <= 0:
            problems.append(f"max_unseen {self.max_unseen} must be > 0")
        for name in ("guest_base", "guest_run"):
            value = getattr(self, name)
            if value is not None and value < 1:
                problems.append(f"{name} is {value}; at least 1")
        if problems:
            raise InputError(None, "bad saturation settings: " + "; ".join(problems))


class LevelMapper:
    """Concept -> code at a level, and whether the codebook knows that code."""

    def __init__(self, codebook: Any, placements: Mapping[str, str] | None = None) -> None:
        self.codebook = codebook
        self.concepts = set(codebook.concept_names)
        self.initials = {ic.name: ic.main_category for ic in codebook.initial_categories}
        self.mains = {m.name for m in codebook.main_categories}
        self.placements = self._check(dict(placements or {}))

    def _check(self, placements: dict[str, str]) -> dict[str, tuple[str, str | None]]:
        """new concept -> (initial category, main category or None if unknown)."""
        out = {}
        for concept, target in placements.items():
            if concept in self.concepts:
                raise InputError(None, f"{concept!r} is already a concept of the codebook; only new concepts are placed")
            initial, _, main = target.partition("/")
            initial, main = initial.strip(), main.strip()
            if not initial:
                raise InputError(None, f"placement of {concept!r} names no initial category",
                                 hint="CONCEPT=INITIAL_CATEGORY or CONCEPT=NEW_INITIAL_CATEGORY/MAIN_CATEGORY")
            if initial in self.initials:
                if main and main != self.initials[initial]:
                    raise InputError(None, f"{initial!r} belongs to {self.initials[initial]!r}, not {main!r}")
                out[concept] = (initial, self.initials[initial])
            else:
                out[concept] = (initial, main or None)
        return out

    def known(self, level: str) -> frozenset[str]:
        if level == "concept":
            return frozenset(self.concepts)
        if level == "initial":
            return frozenset(self.initials)
        if level == "main":
            return frozenset(self.mains)
        raise ValueError(f"unknown level {level!r}")

    def code(self, concept: str, level: str) -> str:
        if level == "concept":
            return concept
        if concept in self.concepts:
            path = self.codebook.concept_path(concept)
            return path.initial if level == "initial" else path.main
        initial, main = self.placements.get(concept, (None, None))
        if level == "initial":
            return initial if initial is not None else UNPLACED_PREFIX + concept
        if main is not None:
            return main
        return UNPLACED_PREFIX + (initial if initial is not None else concept)

    def lift(self, firm: FirmCodes, level: str) -> FirmCodes:
        counts: Counter[str] = Counter()
        for concept, n in firm.counts.items():
            counts[self.code(concept, level)] += n
        return FirmCodes(firm.firm_id, counts)


@dataclass(frozen=True)
class FirmStep:
    firm_id: str
    codes_seen: int
    new_codes: tuple[str, ...]        # first brought by this firm and not in the codebook
    cumulative_codes: int             # distinct codes over the held-out firms so far
    cumulative_new: int


@dataclass(frozen=True)
class RichnessEstimates:
    """Unseen-code estimates of one sample (firms as units; quotes as individuals for Chao1)."""

    sample: str
    m: int
    s_obs: int
    q1: int
    q2: int
    u: int
    chao2: float
    chao2_low: float
    chao2_high: float
    chao2_bc: float
    chao2_bc_low: float
    chao2_bc_high: float
    jackknife1: float
    coverage: float
    n_quotes: int
    f1: int
    f2: int
    chao1: float | None
    chao1_low: float | None
    chao1_high: float | None

    @property
    def unseen(self) -> float:
        """Estimated codes not seen in any unit: bias-corrected Chao2 - S_obs."""
        return self.chao2_bc - self.s_obs

    @property
    def unseen_low(self) -> float:
        return self.chao2_bc_low - self.s_obs

    @property
    def unseen_high(self) -> float:
        return self.chao2_bc_high - self.s_obs

    def to_dict(self) -> dict[str, Any]:
        from dataclasses import asdict

        data = asdict(self)
        data.update(unseen=self.unseen, unseen_low=self.unseen_low, unseen_high=self.unseen_high)
        return data


def richness(sample: str, units: Sequence[FirmCodes], z: float = 1.96) -> RichnessEstimates:
    inc = Incidence.from_units([u.codes for u in units])
    abundance: Counter[str] = Counter()
    for u in units:
        abundance.update(u.counts)
    ab = Abundance.from_counts(abundance)
    c2 = chao2_interval(inc, z=z)
    c2bc = chao2_interval(inc, z=z, bias_corrected=True)
    c1 = chao1_interval(ab, z=z, bias_corrected=ab.f2 == 0) if ab.n > 0 else None
    return RichnessEstimates(
        sample=sample, m=inc.m, s_obs=inc.s_obs, q1=inc.q1, q2=inc.q2, u=inc.u,
        chao2=chao2(inc), chao2_low=c2.low, chao2_high=c2.high,
        chao2_bc=chao2(inc, bias_corrected=True), chao2_bc_low=c2bc.low, chao2_bc_high=c2bc.high,
        jackknife1=jackknife1(inc), coverage=sample_coverage(inc),
        n_quotes=ab.n, f1=ab.f1, f2=ab.f2,
        chao1=chao1(ab, bias_corrected=ab.f2 == 0) if ab.n > 0 else None,
        chao1_low=c1.low if c1 else None, chao1_high=c1.high if c1 else None,
    )


@dataclass
class LevelMetrics:
    level: str
    codebook_size: int
    firms: tuple[str, ...]
    codes: tuple[str, ...]                 # distinct codes the held-out firms brought, first appearance first
    new_codes: tuple[str, ...]             # of those, not in the codebook
    unplaced: tuple[str, ...]              # of the new codes, new concepts not placed in a category
    quotes: dict[str, int]                 # code -> quotes
    firm_of_code: dict[str, tuple[str, ...]]
    steps: list[FirmStep]
    curve: AccumulationCurve
    guest: GuestResult | None
    guest_note: str
    own: RichnessEstimates
    pooled: RichnessEstimates | None
    reference_firms: int
    settings: SaturationSettings = field(default_factory=SaturationSettings)

    @property
    def known_codes(self) -> tuple[str, ...]:
        new = set(self.new_codes)
        return tuple(c for c in self.codes if c not in new)

    @property
    def new_information_ratio(self) -> float:
        """New codes / codes of the codebook at this level (Guest's ratio with the codebook as the base)."""
        return len(self.new_codes) / self.codebook_size if self.codebook_size else float("inf")

    @property
    def unseen_estimate(self) -> RichnessEstimates:
        """The estimate the decision uses: pooled where reference firms exist, else the held-out firms'."""
        return self.pooled if self.pooled is not None else self.own


def level_metrics(
    level: str,
    firms: Sequence[FirmCodes],
    mapper: LevelMapper,
    reference: Sequence[FirmCodes] = (),
    settings: SaturationSettings | None = None,
) -> LevelMetrics:
    settings = settings or SaturationSettings()
    if not firms:
        raise InputError(None, "no held-out firms to test saturation on")
    names = [f.firm_id for f in firms]
    if len(set(names)) != len(names):
        raise InputError(None, f"a held-out firm is listed twice: {sorted(n for n in set(names) if names.count(n) > 1)}")
    overlap = set(names) & {r.firm_id for r in reference}
    if overlap:
        raise InputError(None, f"firms both held out and in the reference sample: {sorted(overlap)}",
                         hint="the reference firms are the ones the codebook was built from; held-out firms must be others")
    known = mapper.known(level)
    lifted = [mapper.lift(f, level) for f in firms]
    lifted_ref = [mapper.lift(f, level) for f in reference]

    seen: set[str] = set()
    order: list[str] = []
    quotes: Counter[str] = Counter()
    firm_of: dict[str, list[str]] = {}
    steps = []
    new_total = 0
    for unit in lifted:
        new_here = []
        for code in sorted(unit.codes, key=lambda c: (c in known, c)):
            firm_of.setdefault(code, []).append(unit.firm_id)
            if code not in seen:
                seen.add(code)
                order.append(code)
                if code not in known:
                    new_here.append(code)
        quotes.update(unit.counts)
        new_total += len(new_here)
        steps.append(FirmStep(unit.firm_id, len(unit.codes), tuple(new_here), len(seen), new_total))
    new_codes = tuple(c for c in order if c not in known)
    unplaced = tuple(c for c in new_codes if c.startswith(UNPLACED_PREFIX))
    curve = accumulation_curve({u.firm_id: set(u.codes) for u in lifted}, orders=settings.orders, band=settings.band,
                               seed=settings.seed)
    guest, note = _guest(lifted, settings)
    own = richness("held-out firms", lifted, settings.z)
    pooled = richness("reference + held-out firms", lifted_ref + lifted, settings.z) if lifted_ref else None
    return LevelMetrics(level, len(known), tuple(names), tuple(order), new_codes, unplaced, dict(quotes),
                        {k: tuple(v) for k, v in firm_of.items()}, steps, curve, guest, note, own, pooled,
                        len(lifted_ref), settings)


def _guest(units: Sequence[FirmCodes], settings: SaturationSettings) -> tuple[GuestResult | None, str]:
    m = len(units)
    if m < 2:
        return None, "Guest's measure needs at least two held-out firms"
    b_default, r_default = default_guest_parameters(m)
    b = settings.guest_base or b_default
    r = settings.guest_run or r_default
    if b + r > m:
        return None, f"base {b} + run {r} exceeds the {m} held-out firms"
    result = guest_saturation([set(u.codes) for u in units], b, r, settings.guest_threshold)
    note = "" if (settings.guest_base or settings.guest_run) else f"b={b}, r={r} chosen for {m} firms"
    return result, note
