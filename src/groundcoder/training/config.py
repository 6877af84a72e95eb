"""Typed configs of the training and pretraining jobs (``configs/train.yaml``, ``configs/pretrain.yaml``).

A config fully describes a run: the data (where, which coders, negatives), the splits, the BERT model
and its ``TrainSettings``, the baseline, which model becomes the output, and the gate that decides
whether it becomes the project's current model. Every key is checked: an unknown key or a value of
the wrong type names the key and the file, with close matches for a misspelt key. The resolved
config (defaults filled in) is saved in every run folder as ``config.yaml``.

Relative paths in a config are relative to the project home (the checkout; ``GROUNDCODER_HOME``),
so ``models/compact-zh`` and ``corpora/demo`` work from any working directory; a path that exists
relative to the working directory wins.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ..errors import InputError
from ..typed_config import apply_overrides as _apply_overrides
from ..typed_config import build as _build
from ..typed_config import plain as _plain
from ..paths import project_home
from .data import NegativeSettings
from .splits import SplitSettings

SELECT_CHOICES = ("validation", "bert", "baseline")
SOURCE_CHOICES = ("demo", "store", "file")


@dataclass(frozen=True)
class RunSettings:
    name: str | None = None  # run id prefix; the run id is <name>-<timestamp>, or exactly run_id
    run_id: str | None = None  # a fixed run id (resuming a killed run uses the same id)
    output_dir: str = "models/runs"
    seed: int = 13
    progress: bool = True
    store: str | None = None  # project store to record the run in (model_runs); data.source store sets it


@dataclass(frozen=True)
class DataSettings:
    source: str = "demo"  # demo | store | file
    path: str | None = None  # demo: corpus folder (default corpora/demo); store: .sqlite; file: .csv/.xlsx/.jsonl
    documents: str | None = None  # file: folder of <doc_id>.txt (offset rows, negatives)
    codebook: str | None = None  # default: the shipped codebook
    coders: tuple[str, ...] = ()  # only these coders' quotes (default: all human coders; demo: coder1)
    samples: tuple[str, ...] = ("train",)  # demo: firm samples to train and evaluate on
    negatives: NegativeSettings = NegativeSettings()
    max_examples: int | None = None  # cap (seeded sample of firms' examples) for quick runs


@dataclass(frozen=True)
class ModelSettings:
    enabled: bool = True
    base_model: str = "models/compact-zh"  # a local folder or a Hugging Face id (downloaded beforehand)
    settings: dict[str, Any] = field(default_factory=dict)  # TrainSettings fields of the classifier core
    calibrate: bool = True


@dataclass(frozen=True)
class BaselineSettings:
    enabled: bool = True
    char_ngrams: tuple[int, int] = (1, 3)
    words: bool = True  # jieba words as well as character n-grams
    min_df: int = 1
    max_features: int | None = 200_000
    C: float = 4.0
    max_iter: int = 2000
    calibrate: bool = True


@dataclass(frozen=True)
class EvaluationSettings:
    folds: str = "one"  # one: only the output fold; all: every fold (cross-validated metrics)
    output_fold: int = 0  # the fold whose model becomes the run's output and whose test split the gate uses
    top_k: tuple[int, ...] = (1, 3, 5)
    ece_bins: int = 10
    report: bool = True  # Markdown + HTML report with plots


@dataclass(frozen=True)
class GateSettings:
    enabled: bool = True
    metric: str = "initial_category.macro_f1"  # on the test split; any key of a level's metrics
    tolerance: float = 0.0  # the new model may be this much worse and still become current
    force: bool = False  # make the new model current whatever the comparison says


@dataclass(frozen=True)
class TrainConfig:
    run: RunSettings = RunSettings()
    data: DataSettings = DataSettings()
    splits: SplitSettings = SplitSettings()
    model: ModelSettings = ModelSettings()
    baseline: BaselineSettings = BaselineSettings()
    evaluation: EvaluationSettings = EvaluationSettings()
    select: str = "validation"  # validation (the better on the validation firms) | bert | baseline
    select_metric: str = "initial_category.macro_f1"
    gate: GateSettings = GateSettings()
    path: str | None = field(default=None, compare=False)  # the file it was read from

    def __post_init__(self) -> None:
        problems = []
        if self.select not in SELECT_CHOICES:
            problems.append(f"select is {self.select!r}; choose one of {', '.join(SELECT_CHOICES)}")
        if self.data.source not in SOURCE_CHOICES:
            problems.append(f"data.source is {self.data.source!r}; choose one of {', '.join(SOURCE_CHOICES)}")
        if self.data.source in ("store", "file") and not self.data.path:
            problems.append(f"data.source {self.data.source} needs data.path")
        if not (self.model.enabled or self.baseline.enabled):
            problems.append("model.enabled and baseline.enabled are both false: nothing to train")
        if self.select == "bert" and not self.model.enabled:
            problems.append("select: bert but model.enabled is false")
        if self.select == "baseline" and not self.baseline.enabled:
            problems.append("select: baseline but baseline.enabled is false")
        if self.evaluation.folds not in ("one", "all"):
            problems.append(f"evaluation.folds is {self.evaluation.folds!r}; choose one or all")
        lo, hi = self.baseline.char_ngrams
        if not 1 <= lo <= hi:
            problems.append(f"baseline.char_ngrams {list(self.baseline.char_ngrams)} must be [min, max] with 1 <= min <= max")
        if self.data.negatives.ratio < 0:
            problems.append("data.negatives.ratio must be >= 0")
        if problems:
            raise InputError(self.path, "; ".join(problems), hint="fix the training config")

    def to_dict(self) -> dict[str, Any]:
        return _plain({f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name != "path"})

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.to_dict(), allow_unicode=True, sort_keys=False)


@dataclass(frozen=True)
class PretrainConfig:
    """MLM pretraining of the compact model (or continued pretraining of any BERT checkpoint)."""

    texts: tuple[str, ...] = ("corpora/demo/docs",)  # folders (*.txt, recursively) or files of unlabelled text
    base_model: str = "models/compact-zh"
    output_dir: str = "models/pretrained/compact-zh-mlm"
    eval_fraction: float = 0.1  # held-out share of the documents for the MLM loss
    min_chars: int = 8  # shorter paragraphs are dropped
    max_texts: int | None = None
    seed: int = 13
    settings: dict[str, Any] = field(default_factory=dict)  # TrainSettings fields for mlm_pretrain
    progress: bool = True
    path: str | None = field(default=None, compare=False)

    def to_dict(self) -> dict[str, Any]:
        return _plain({f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name != "path"})

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.to_dict(), allow_unicode=True, sort_keys=False)


# --------------------------------------------------------------------------------------------------


def load_train_config(path: str | Path, overrides: dict[str, Any] | None = None) -> TrainConfig:
    """Read and check a training config; ``overrides`` ({"run.seed": 3, ...}) win over the file."""
    return _load(TrainConfig, path, overrides)


def load_pretrain_config(path: str | Path, overrides: dict[str, Any] | None = None) -> PretrainConfig:
    return _load(PretrainConfig, path, overrides)


def train_config_from_dict(data: dict[str, Any], path: str | Path | None = None) -> TrainConfig:
    return _build(TrainConfig, data, "", path, extra={"path": str(path) if path else None})


def pretrain_config_from_dict(data: dict[str, Any], path: str | Path | None = None) -> PretrainConfig:
    return _build(PretrainConfig, data, "", path, extra={"path": str(path) if path else None})


def resolve_path(value: str | Path) -> Path:
    """A config path: as given if it exists from here (or is absolute), else under the project home."""
    path = Path(value).expanduser()
    if path.is_absolute() or path.exists():
        return path
    return project_home() / path


def _load(cls: type, path: str | Path, overrides: dict[str, Any] | None) -> Any:
    path = Path(path)
    if not path.exists():
        raise InputError(path, "config file not found", hint="see configs/train.yaml and configs/pretrain.yaml in the project")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise InputError(path, f"not valid YAML: {getattr(exc, 'problem', exc)}", line=mark.line + 1 if mark else None) from exc
    if not isinstance(data, dict):
        raise InputError(path, "a config is a mapping of sections (run:, data:, ...)")
    _apply_overrides(data, overrides or {})
    return _build(cls, data, "", path, extra={"path": str(path)})
