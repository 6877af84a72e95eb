"""Training jobs of groundcoder: data, firm-grouped splits, the TF-IDF baseline, evaluation, reports,
model cards, the run registry with its gate, and the ``train`` / ``pretrain`` jobs.

Public API::

    from groundcoder.training import (
        TrainingExample, load_quotes, load_demo_quotes, load_store_quotes, build_examples,   # data
        FirmSplit, SplitSettings, make_splits,                                             # splits
        TfidfBaseline,                                                                     # baseline
        evaluate, outputs_of, Evaluation, ModelOutputs,                                    # evaluation
        TrainConfig, load_train_config, PretrainConfig, load_pretrain_config,              # configs
        run_training, run_pretraining, TrainRunResult,                                     # jobs
        RunRegistry, load_model, load_current_model,                                       # registry
    )

    result = run_training(load_train_config("configs/train.yaml"))
    result.run_dir, result.selected, result.gate.accepted, result.evaluation("baseline").initial_category.macro_f1

The classifier itself (``BertConceptClassifier``, ``LabelSpace``, calibration, hierarchy) lives in
``groundcoder.classifier``; this package only drives it.
"""

from __future__ import annotations

from .baseline import TfidfBaseline
from .config import (
    BaselineSettings,
    DataSettings,
    EvaluationSettings,
    GateSettings,
    ModelSettings,
    PretrainConfig,
    RunSettings,
    TrainConfig,
    load_pretrain_config,
    load_train_config,
    pretrain_config_from_dict,
    train_config_from_dict,
)
from .data import (
    DataSummary,
    NegativeSettings,
    QuoteRow,
    QuoteSet,
    RowProblem,
    SourceDocument,
    TrainingDataError,
    TrainingExample,
    build_examples,
    load_demo_quotes,
    load_quotes,
    load_store_quotes,
    negative_candidates,
)
from .evaluation import Evaluation, LevelMetrics, ModelOutputs, evaluate, outputs_of
from .job import PretrainRunResult, TrainRunResult, load_training_data, run_pretraining, run_training
from .registry import GateDecision, RunRecord, RunRegistry, load_current_model, load_model
from .splits import FirmSplit, SplitSettings, make_splits

__all__ = [
    "BaselineSettings",
    "DataSettings",
    "DataSummary",
    "Evaluation",
    "EvaluationSettings",
    "FirmSplit",
    "GateDecision",
    "GateSettings",
    "LevelMetrics",
    "ModelOutputs",
    "ModelSettings",
    "NegativeSettings",
    "PretrainConfig",
    "PretrainRunResult",
    "QuoteRow",
    "QuoteSet",
    "RowProblem",
    "RunRecord",
    "RunRegistry",
    "RunSettings",
    "SourceDocument",
    "SplitSettings",
    "TfidfBaseline",
    "TrainConfig",
    "TrainRunResult",
    "TrainingDataError",
    "TrainingExample",
    "build_examples",
    "evaluate",
    "load_current_model",
    "load_demo_quotes",
    "load_model",
    "load_pretrain_config",
    "load_quotes",
    "load_store_quotes",
    "load_train_config",
    "load_training_data",
    "make_splits",
    "negative_candidates",
    "outputs_of",
    "pretrain_config_from_dict",
    "run_pretraining",
    "run_training",
    "train_config_from_dict",
]
