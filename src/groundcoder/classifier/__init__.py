"""The concept classifier: a Chinese BERT that proposes codebook concepts (and derived categories).

Public API (stable; see each module's docstring for its contract)::

    from groundcoder.classifier import (LabelSpace, BertConceptClassifier, TrainSettings,
        derive_category_scores, HierarchicalPrediction, fit_temperature, expected_calibration_error,
        tune_thresholds, build_compact_model, mlm_pretrain)

    labels = LabelSpace.from_codebook(Codebook.default())
    clf = BertConceptClassifier(labels, base_model="models/compact-zh", settings=TrainSettings())
    clf.fit(texts, label_sets, val_texts, val_label_sets, checkpoint_dir="runs/x/ckpt")
    clf.calibrate(val_texts, val_label_sets)
    clf.predict(["公司引入工业互联网平台..."])   # -> [HierarchicalPrediction]
    clf.save_pretrained("models/run-1"); BertConceptClassifier.from_pretrained("models/run-1", codebook)

Modules: ``labels`` (LabelSpace), ``hierarchy`` (category scores and consistent predictions),
``calibration`` (temperature, ECE, thresholds), ``vocab`` (character vocabulary + tokenizer),
``compact`` (the compact offline model and base-model loading), ``modeling`` (the classifier),
``pretrain`` (masked-LM pretraining).
"""

from __future__ import annotations

from .calibration import (
    CalibrationReport,
    ThresholdResult,
    binary_nll,
    expected_calibration_error,
    fit_temperature,
    logits_nll,
    tune_thresholds,
)
from .compact import (
    COMPACT_CONFIG,
    build_compact_model,
    compact_config,
    compact_dir,
    load_encoder,
    load_tokenizer,
    write_compact_folder,
)
from .hierarchy import (
    HierarchicalPrediction,
    as_multi_hot,
    build_predictions,
    derive_category_decisions,
    derive_category_scores,
    hierarchy_violations,
)
from .labels import CodebookMismatchError, LabelSpace
from .modeling import BertConceptClassifier, EpochRecord, StepInfo, TrainHistory, TrainSettings
from .pretrain import PretrainResult, PretrainSettings, mlm_pretrain
from .vocab import SPECIAL_TOKENS, build_char_vocab, make_tokenizer, unk_rate

__all__ = [
    "COMPACT_CONFIG",
    "SPECIAL_TOKENS",
    "BertConceptClassifier",
    "CalibrationReport",
    "CodebookMismatchError",
    "EpochRecord",
    "HierarchicalPrediction",
    "LabelSpace",
    "PretrainResult",
    "PretrainSettings",
    "StepInfo",
    "ThresholdResult",
    "TrainHistory",
    "TrainSettings",
    "as_multi_hot",
    "binary_nll",
    "build_char_vocab",
    "build_compact_model",
    "build_predictions",
    "compact_config",
    "compact_dir",
    "derive_category_decisions",
    "derive_category_scores",
    "expected_calibration_error",
    "fit_temperature",
    "hierarchy_violations",
    "load_encoder",
    "load_tokenizer",
    "logits_nll",
    "make_tokenizer",
    "mlm_pretrain",
    "tune_thresholds",
    "unk_rate",
    "write_compact_folder",
]
