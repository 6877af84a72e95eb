"""Temperature scaling, expected calibration error and per-label decision thresholds.

Contract:

* ``fit_temperature(logits, targets)`` -> ``T > 0``: the single scalar that minimises the mean
  binary negative log-likelihood of ``sigmoid(logits / T)`` against the multi-hot ``targets``
  (both ``[n, n_labels]``). Optimised with L-BFGS over ``log T`` (so T stays positive), in float64,
  clamped to ``[1e-2, 1e2]``. Deterministic.
* ``binary_nll(probs, targets)``: mean over all ``n * n_labels`` cells of the binary cross-entropy.
* ``expected_calibration_error(probs, targets, n_bins=15)``: every concept probability of every
  sample is one binary forecast "this text carries this concept" (so ``n * n_labels`` forecasts,
  the usual multi-label / class-wise reading). Forecasts fall into ``n_bins`` equal-width bins on
  [0, 1] (bin b holds ``b/n_bins < p <= (b+1)/n_bins``; p = 0 goes to the first bin);
  ``ECE = sum_b |B_b| / N * |mean(p in B_b) - mean(y in B_b)|``. Note that with many rare labels
  most forecasts are near 0 and correct, which keeps the number small: compare before/after on
  the same data, not across data sets.
* ``tune_thresholds(probs, targets)`` -> ``ThresholdResult``: for each label with at least
  ``min_positives`` validation positives, the threshold on a fixed grid (0.01 .. 0.99) that
  maximises that label's F1 (ties: the middle of the best run of grid points, for robustness).
  Labels without enough validation positives -- or whose best F1 is 0 -- fall back to the global
  threshold, the grid point that maximises micro-F1 over all labels pooled.
* ``CalibrationReport``: temperature, thresholds, ECE / NLL before and after, JSON round trip
  (``calibration.json`` in a saved model).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from ..errors import InputError

DEFAULT_GRID = np.round(np.arange(0.01, 0.995, 0.01), 2)
_EPS = 1e-12


def _pair(a: Any, b: Any, what_a: str = "probs", what_b: str = "targets") -> tuple[np.ndarray, np.ndarray]:
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.ndim == 1:
        a = a[:, None]
    if b.ndim == 1:
        b = b[:, None]
    if a.shape != b.shape:
        raise InputError(None, f"{what_a} and {what_b} must have the same shape [n_samples, n_labels], "
                               f"got {a.shape} and {b.shape}")
    if not np.all(np.isfinite(a)):
        raise InputError(None, f"{what_a} contains NaN or infinite values")
    if np.any((b != 0) & (b != 1)):
        raise InputError(None, f"{what_b} must be 0/1 (multi-hot), got other values")
    return a, b


def sigmoid(x: Any) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    return np.where(x >= 0, 1.0 / (1.0 + np.exp(-np.abs(x))), np.exp(-np.abs(x)) / (1.0 + np.exp(-np.abs(x))))


def binary_nll(probs: Any, targets: Any) -> float:
    """Mean binary cross-entropy over every cell (probabilities clipped to [1e-12, 1 - 1e-12])."""
    p, y = _pair(probs, targets)
    if p.size == 0:
        return float("nan")
    if np.any((p < 0) | (p > 1)):
        raise InputError(None, "probs must lie in [0, 1]; pass logits to logits_nll instead")
    p = np.clip(p, _EPS, 1 - _EPS)
    return float(-np.mean(y * np.log(p) + (1 - y) * np.log1p(-p)))


def logits_nll(logits: Any, targets: Any, temperature: float = 1.0) -> float:
    """Mean binary cross-entropy of ``sigmoid(logits / temperature)``, computed stably from logits."""
    z, y = _pair(logits, targets, "logits")
    if z.size == 0:
        return float("nan")
    z = z / temperature
    # log(1 + exp(-|z|)) + max(z, 0) - y * z  ==  BCE with logits
    return float(np.mean(np.logaddexp(0.0, z) - y * z))


def fit_temperature(logits: Any, targets: Any, *, max_iter: int = 200) -> float:
    """The scalar T > 0 minimising validation NLL of ``sigmoid(logits / T)`` (L-BFGS on log T)."""
    import torch

    z, y = _pair(logits, targets, "logits")
    if z.size == 0:
        raise InputError(None, "cannot fit a temperature on an empty validation set")
    zt = torch.as_tensor(z, dtype=torch.float64)
    yt = torch.as_tensor(y, dtype=torch.float64)
    log_t = torch.zeros((), dtype=torch.float64, requires_grad=True)
    opt = torch.optim.LBFGS([log_t], lr=0.5, max_iter=max_iter, tolerance_grad=1e-10, tolerance_change=1e-12,
                            line_search_fn="strong_wolfe")
    loss_fn = torch.nn.BCEWithLogitsLoss()

    def closure() -> torch.Tensor:
        opt.zero_grad()
        loss = loss_fn(zt / torch.exp(log_t.clamp(-math.log(100.0), math.log(100.0))), yt)
        loss.backward()
        return loss

    opt.step(closure)
    t = float(torch.exp(log_t.detach().clamp(-math.log(100.0), math.log(100.0))))
    # L-BFGS can only improve on T = 1 in exact arithmetic; guard against a degenerate step anyway.
    if not math.isfinite(t) or logits_nll(z, y, t) > logits_nll(z, y, 1.0):
        return 1.0
    return t


def expected_calibration_error(probs: Any, targets: Any, n_bins: int = 15) -> float:
    """ECE over all (sample, label) probabilities with ``n_bins`` equal-width bins (see module doc)."""
    p, y = _pair(probs, targets)
    if n_bins < 1:
        raise InputError(None, f"n_bins must be >= 1, got {n_bins}")
    if np.any((p < 0) | (p > 1)):
        raise InputError(None, "probs must lie in [0, 1]")
    p = p.ravel()
    y = y.ravel()
    if p.size == 0:
        return float("nan")
    # Right-closed bins (b/n, (b+1)/n]; p == 0 joins the first bin.
    bins = np.clip(np.ceil(p * n_bins).astype(np.int64) - 1, 0, n_bins - 1)
    ece = 0.0
    for b in range(n_bins):
        mask = bins == b
        if mask.any():
            ece += mask.sum() / p.size * abs(p[mask].mean() - y[mask].mean())
    return float(ece)


def _f1_at(p: np.ndarray, y: np.ndarray, grid: np.ndarray) -> np.ndarray:
    """F1 of ``p >= t`` against ``y`` for every t in ``grid`` (p, y 1-D)."""
    pred = p[None, :] >= grid[:, None]
    tp = (pred & (y[None, :] > 0)).sum(axis=1)
    fp = (pred & (y[None, :] == 0)).sum(axis=1)
    fn = (~pred & (y[None, :] > 0)).sum(axis=1)
    denom = 2 * tp + fp + fn
    return np.where(denom > 0, 2 * tp / np.maximum(denom, 1), 0.0)


def _best_grid_point(f1: np.ndarray, grid: np.ndarray) -> tuple[float, float]:
    best = f1.max()
    idx = np.flatnonzero(np.isclose(f1, best, rtol=0, atol=1e-12))
    # The middle of the first contiguous run of best points.
    run = [idx[0]]
    for i in idx[1:]:
        if i == run[-1] + 1:
            run.append(i)
        else:
            break
    return float(grid[run[len(run) // 2]]), float(best)


@dataclass(frozen=True)
class ThresholdResult:
    thresholds: np.ndarray          # [n_labels]
    global_threshold: float
    tuned: np.ndarray               # [n_labels] bool: True where the label's own threshold was tuned
    f1: np.ndarray                  # [n_labels] validation F1 at the chosen threshold


def tune_thresholds(probs: Any, targets: Any, *, min_positives: int = 1,
                    grid: Sequence[float] | np.ndarray | None = None) -> ThresholdResult:
    """Per-label F1-maximising thresholds with a global micro-F1 fallback (see module doc)."""
    p, y = _pair(probs, targets)
    grid = DEFAULT_GRID if grid is None else np.asarray(sorted(grid), dtype=np.float64)
    if grid.size == 0:
        raise InputError(None, "the threshold grid is empty")
    global_t, _ = _best_grid_point(_f1_at(p.ravel(), y.ravel(), grid), grid)
    n_labels = p.shape[1]
    thresholds = np.full(n_labels, global_t)
    tuned = np.zeros(n_labels, dtype=bool)
    f1 = np.zeros(n_labels)
    for j in range(n_labels):
        if y[:, j].sum() >= max(1, min_positives):
            t, best = _best_grid_point(_f1_at(p[:, j], y[:, j], grid), grid)
            if best > 0:
                thresholds[j] = t
                tuned[j] = True
        f1[j] = _f1_at(p[:, j], y[:, j], np.asarray([thresholds[j]]))[0]
    return ThresholdResult(thresholds, global_t, tuned, f1)


@dataclass
class CalibrationReport:
    """What ``BertConceptClassifier.calibrate`` fitted and measured (saved as calibration.json)."""

    temperature: float = 1.0
    thresholds: dict[str, float] = field(default_factory=dict)
    global_threshold: float = 0.5
    tuned_labels: list[str] = field(default_factory=list)
    ece_before: float | None = None
    ece_after: float | None = None
    nll_before: float | None = None
    nll_after: float | None = None
    n_validation: int = 0
    n_bins: int = 15
    calibrated: bool = False

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["format"] = "groundcoder.calibration/1"
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CalibrationReport:
        known = {k: data[k] for k in cls.__dataclass_fields__ if k in data}
        report = cls(**known)
        if not (isinstance(report.temperature, (int, float)) and report.temperature > 0):
            raise InputError(None, f"calibration temperature must be a number > 0, got {report.temperature!r}")
        return report
