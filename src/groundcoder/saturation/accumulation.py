"""Code accumulation over firms, and Guest, Namey & Chen's (2020) new-information measure."""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class UnitStep:
    unit: str
    codes_seen: int        # distinct codes in this unit
    new_codes: tuple[str, ...]
    cumulative: int


def accumulate(units: Sequence[tuple[str, set[str]]], known: set[str] | None = None) -> list[UnitStep]:
    """Walk units in order; ``known`` codes (e.g. the codebook) never count as new."""
    seen = set(known or ())
    base = len(seen)
    steps = []
    for name, codes in units:
        new = sorted(set(codes) - seen)
        seen |= set(codes)
        steps.append(UnitStep(name, len(set(codes)), tuple(new), len(seen) - base if known else len(seen)))
    return steps


@dataclass(frozen=True)
class AccumulationCurve:
    units: np.ndarray      # 1..m
    mean: np.ndarray
    low: np.ndarray        # percentile band over random orders
    high: np.ndarray
    orders: int


def accumulation_curve(unit_codes: Mapping[str, set[str]], orders: int = 200, band: tuple[float, float] = (2.5, 97.5),
                       seed: int = 0) -> AccumulationCurve:
    """Cumulative distinct codes after k units, over ``orders`` random unit orders."""
    names = sorted(unit_codes)
    rng = random.Random(seed)
    curves = np.zeros((orders, len(names)))
    for i in range(orders):
        order = names[:]
        rng.shuffle(order)
        seen: set[str] = set()
        for k, name in enumerate(order):
            seen |= unit_codes[name]
            curves[i, k] = len(seen)
    return AccumulationCurve(np.arange(1, len(names) + 1), curves.mean(axis=0),
                             np.percentile(curves, band[0], axis=0), np.percentile(curves, band[1], axis=0), orders)


@dataclass(frozen=True)
class GuestResult:
    base_size: int
    run_length: int
    threshold: float
    base_codes: int
    ratios: tuple[float, ...]          # new-information ratio after each unit k >= b + r (index k - b - r)
    saturation_at: int | None          # units (b + r + j) at which the ratio first falls to <= t; None if never

    @property
    def label(self) -> str:
        """Guest et al.'s reporting form, e.g. "4+2 at <=5%"."""
        pct = f"{self.threshold * 100:g}%"
        if self.saturation_at is None:
            return f"not reached ({self.base_size}+{self.run_length} at <={pct})"
        return f"{self.base_size}+{self.run_length} at <={pct} (after {self.saturation_at} units)"


def guest_saturation(units: Sequence[set[str]], base_size: int, run_length: int, threshold: float = 0.05) -> GuestResult:
    """Guest, Namey & Chen (2020).

    The base is the first ``base_size`` units; after each later unit k (from b + r on), the
    new-information ratio is (codes first found in units k-r+1..k) / (distinct codes in the base).
    Saturation is reached at the first k whose ratio is <= ``threshold``.
    """
    if base_size < 1 or run_length < 1:
        raise ValueError("base size and run length must be at least 1")
    if len(units) < base_size + run_length:
        raise ValueError(f"{len(units)} units are fewer than base size + run length ({base_size}+{run_length})")
    first_seen: dict[str, int] = {}
    for k, codes in enumerate(units, start=1):
        for code in codes:
            first_seen.setdefault(code, k)
    base_codes = sum(1 for k in first_seen.values() if k <= base_size)
    ratios = []
    saturation_at = None
    for k in range(base_size + run_length, len(units) + 1):
        new = sum(1 for first in first_seen.values() if k - run_length < first <= k)
        ratio = new / base_codes if base_codes else float("inf")
        ratios.append(ratio)
        if saturation_at is None and ratio <= threshold:
            saturation_at = k
    return GuestResult(base_size, run_length, threshold, base_codes, tuple(ratios), saturation_at)


def default_guest_parameters(m: int) -> tuple[int, int]:
    """Base size and run length that make sense for m units: Guest et al. used b=4, r=2 for ~12-18
    interviews; with few firms, shrink both but keep at least one unit in the run."""
    if m >= 8:
        return 4, 2
    if m >= 4:
        return m - 2, 2 if m - 2 >= 2 else 1
    if m >= 2:
        return m - 1, 1
    raise ValueError("Guest's measure needs at least two units")
