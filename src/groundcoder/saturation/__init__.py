"""Saturation: did held-out firms bring codes the codebook lacks, and how sure are we.

Modules:

* ``estimators``: unseen-code estimators from ecology (Chao1, Chao2 classic and bias-corrected with
  confidence intervals, first-order jackknife, sample coverage, additional sampling);
* ``accumulation``: code accumulation over firms, the random-order curve, Guest, Namey & Chen (2020);
* ``metrics``: all of them at the concept, initial-category and main-category level (``level_metrics``);
* ``verdict``: the decision rule (``DECISION_RULE``) and the verdict in the study's own form;
* ``novelty``: segments the classifier cannot place (confidence, energy, Mahalanobis distance,
  relevance), calibrated by leave-concepts-out (``calibrate_novelty``);
* ``clustering``: flagged segments -> candidate new concepts with quotes, keywords, nearest concepts;
* ``model_side``: a model codes the held-out firms' documents (``code_with_model``);
* ``run``: ``groundcoder saturation`` (``run_saturation``); ``report``: its outputs.

Typical use::

    from groundcoder.saturation import SaturationRequest, run_saturation
    result = run_saturation(SaturationRequest(out=Path("saturation"), demo=True, samples=("holdout",)))
    result.overall.saturated, result.overall.headline
"""

from __future__ import annotations

from typing import Any

_EXPORTS = {
    "SaturationRequest": ".run",
    "SaturationResult": ".run",
    "run_saturation": ".run",
    "request_from_options": ".run",
    "FirmCodes": ".metrics",
    "LevelMapper": ".metrics",
    "SaturationSettings": ".metrics",
    "level_metrics": ".metrics",
    "Verdict": ".verdict",
    "make_verdict": ".verdict",
    "DECISION_RULE": ".verdict",
    "NoveltyDetector": ".novelty",
    "NoveltyCalibration": ".novelty",
    "CalibrationSettings": ".novelty",
    "calibrate_novelty": ".novelty",
    "ClusterSettings": ".clustering",
    "cluster_flagged": ".clustering",
    "code_with_model": ".model_side",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:  # lazy: importing the package does not import scikit-learn or pandas
    if name in _EXPORTS:
        import importlib

        return getattr(importlib.import_module(_EXPORTS[name], __name__), name)
    raise AttributeError(name)
