"""The BERT concept classifier: a transformers encoder plus one sigmoid per concept.

Contract (stable; the training job, evaluation, model card and saturation checker build on it)::

    clf = BertConceptClassifier(labels, base_model="models/compact-zh", settings=TrainSettings())
    history = clf.fit(texts, label_sets, val_texts=None, val_label_sets=None,
                      checkpoint_dir=None, progress=True, on_step=None)   # -> TrainHistory
    clf.predict_logits(texts)  -> float32 [n, n_concepts]   raw logits (temperature not applied)
    clf.predict_proba(texts)   -> float32 [n, n_concepts]   sigmoid(logits / T): calibrated once
                                                            ``calibrate`` ran, T = 1 before
    clf.calibrate(val_texts, val_label_sets) -> CalibrationReport  (temperature + thresholds)
    clf.predict(texts)         -> list[HierarchicalPrediction]     concepts passing their
                                  thresholds (0.5 before calibrate) and the derived categories
    clf.predict_decisions(texts) -> bool [n, n_concepts]
    clf.embed(texts)           -> float32 [n, hidden]   the pooled encoder output the head reads
    clf.save_pretrained(dir);  BertConceptClassifier.from_pretrained(dir, codebook=None)

* ``texts``: a list of ``str``; ``label_sets``: a list of sets of concept names, one per text; an
  empty set is a "no code" example (a negative for every concept). Bad input -> ``InputError``.
* Model: ``AutoModel`` encoder of ``base_model`` (hub id or local folder, any BERT-family
  checkpoint; a folder with a config but no weights, like models/compact-zh, starts from seeded
  random weights), masked **mean pooling** over tokens (works for any encoder and for models trained
  from scratch, where [CLS] has not learned to summarise), dropout, one linear layer -> one logit
  per concept. Loss: ``BCEWithLogitsLoss`` with per-concept ``pos_weight`` (class-balanced:
  ``n_neg / n_pos`` ("balanced"), its square root ("sqrt", default: full balancing multiplies a
  rare concept's odds by up to n_neg / n_pos, which no single temperature can undo), or none),
  clipped to ``[1, max_pos_weight]``. The head bias starts at the loss-optimal constant
  ``log(w p / (1 - p))`` for each concept's base rate p. AdamW (no decay on biases and LayerNorm),
  linear warm-up then linear decay, gradient clipping.
* Batches: dynamic padding (to the longest text of a batch). Training batches are length-grouped
  (shuffle, sort within chunks of 16 batches, shuffle the batches); inference sorts all texts by
  length, batches them and restores the input order.
* Reproducible: the same seed, data and settings give identical weights and outputs on the same
  machine and thread count (seeded init, data order from ``numpy.random.default_rng([seed, epoch])``,
  dropout from a seeded torch generator, ``torch.use_deterministic_algorithms`` during fit). The
  caller's global torch RNG is left untouched. ``fit`` always starts from ``base_model``'s weights
  and a fresh head (like scikit-learn's ``fit``).
* Resumable: with ``checkpoint_dir``, a checkpoint ``checkpoint_dir/last/`` (model, AdamW state
  flattened to safetensors + JSON, scheduler JSON, RNG state, epoch/step/loss sums) is written
  atomically every ``settings.checkpoint_every`` optimizer steps and at the end of each epoch; a
  later ``fit`` with the same data and settings resumes from it and ends with the same weights as
  an uninterrupted run. Other data or settings -> ``GroundcoderError`` (use another folder).
  ``on_step(StepInfo)`` is called after every optimizer step (raise from it to stop a run).
* Saved folder (``save_pretrained``): model.safetensors + config.json (the encoder, loadable by
  ``AutoModel.from_pretrained`` and usable as ``base_model``), head.safetensors, tokenizer files,
  labels.json (``LabelSpace``), calibration.json (``CalibrationReport``), classifier.json
  (settings, base model, pooling, training history). Files are each replaced atomically; other
  files in the folder are left alone. Only safetensors and JSON, never pickle.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import GroundcoderError, InputError
from .calibration import (
    CalibrationReport,
    expected_calibration_error,
    fit_temperature,
    logits_nll,
    sigmoid,
    tune_thresholds,
)
from .compact import compact_dir, has_weights, load_encoder, load_tokenizer, quiet_transformers
from .hierarchy import HierarchicalPrediction, build_predictions
from .labels import LabelSpace

CLASSIFIER_FORMAT = "groundcoder.bert-classifier/1"
CHECKPOINT_FORMAT = "groundcoder.checkpoint/1"
POS_WEIGHT_MODES = ("sqrt", "balanced", "none")
POOLING_MODES = ("mean", "cls")


# ----- settings and records ---------------------------------------------------------------------


@dataclass(frozen=True)
class TrainSettings:
    """Hyper-parameters of ``BertConceptClassifier.fit``.

    The defaults suit the compact model trained from scratch on 2 CPU cores: a 4-layer, 256-hidden
    BERT from random weights needs a learning rate of a few 1e-4 (it barely moves at 5e-5); 5 epochs
    at 5e-4 over ~1,000 quotes + ~2,000 negative sentences take about 400 CPU-seconds (measured:
    ~38 training examples per CPU-second at max_length 64), i.e. roughly 4 minutes on 2 cores.
    Quotes average 54 characters (p90 68), so max_length 64 truncates few. Validation loss was still
    falling after 5 epochs on the demo corpus: more epochs help when time allows. For a pretrained
    checkpoint such as bert-base-chinese use ``TrainSettings.for_pretrained()`` (lr 3e-5, 4 epochs,
    max_length 128) or ``TrainSettings.for_base_model(base)``, which picks by whether the base has
    weights.
    """

    epochs: int = 5
    lr: float = 5e-4
    batch_size: int = 32
    max_length: int = 64
    seed: int = 0
    weight_decay: float = 0.01
    warmup_ratio: float = 0.06
    grad_clip: float = 1.0
    head_dropout: float = 0.1
    pos_weight: str = "sqrt"
    max_pos_weight: float = 50.0
    pooling: str = "mean"
    eval_batch_size: int = 64
    checkpoint_every: int = 200
    length_grouped: bool = True
    deterministic: bool = True
    num_threads: int | None = None

    def __post_init__(self) -> None:
        problems = []

        def need(ok: bool, text: str) -> None:
            if not ok:
                problems.append(text)

        def is_int(v: Any) -> bool:
            return isinstance(v, int) and not isinstance(v, bool)

        def is_num(v: Any) -> bool:
            return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)

        need(is_int(self.epochs) and self.epochs >= 1, f"epochs must be a whole number >= 1, got {self.epochs!r}")
        need(is_num(self.lr) and self.lr > 0, f"lr must be a number > 0, got {self.lr!r}")
        need(is_int(self.batch_size) and self.batch_size >= 1, f"batch_size must be a whole number >= 1, got {self.batch_size!r}")
        need(is_int(self.max_length) and 8 <= self.max_length <= 4096,
             f"max_length must be a whole number in 8..4096 tokens, got {self.max_length!r}")
        need(is_int(self.seed), f"seed must be a whole number, got {self.seed!r}")
        need(is_num(self.weight_decay) and self.weight_decay >= 0, f"weight_decay must be >= 0, got {self.weight_decay!r}")
        need(is_num(self.warmup_ratio) and 0 <= self.warmup_ratio < 1, f"warmup_ratio must be in [0, 1), got {self.warmup_ratio!r}")
        need(is_num(self.grad_clip) and self.grad_clip >= 0, f"grad_clip must be >= 0 (0 = off), got {self.grad_clip!r}")
        need(is_num(self.head_dropout) and 0 <= self.head_dropout < 1, f"head_dropout must be in [0, 1), got {self.head_dropout!r}")
        need(self.pos_weight in POS_WEIGHT_MODES, f"pos_weight must be one of {', '.join(POS_WEIGHT_MODES)}, got {self.pos_weight!r}")
        need(is_num(self.max_pos_weight) and self.max_pos_weight >= 1, f"max_pos_weight must be >= 1, got {self.max_pos_weight!r}")
        need(self.pooling in POOLING_MODES, f"pooling must be one of {', '.join(POOLING_MODES)}, got {self.pooling!r}")
        need(is_int(self.eval_batch_size) and self.eval_batch_size >= 1, f"eval_batch_size must be >= 1, got {self.eval_batch_size!r}")
        need(is_int(self.checkpoint_every) and self.checkpoint_every >= 0,
             f"checkpoint_every must be a whole number >= 0 (0 = only at epoch ends), got {self.checkpoint_every!r}")
        need(isinstance(self.length_grouped, bool), f"length_grouped must be true or false, got {self.length_grouped!r}")
        need(isinstance(self.deterministic, bool), f"deterministic must be true or false, got {self.deterministic!r}")
        need(self.num_threads is None or (is_int(self.num_threads) and self.num_threads >= 1),
             f"num_threads must be empty or a whole number >= 1, got {self.num_threads!r}")
        if problems:
            raise InputError(None, "bad training settings: " + "; ".join(problems))

    @classmethod
    def for_pretrained(cls, **overrides: Any) -> TrainSettings:
        """Fine-tuning defaults for a pretrained checkpoint (bert-base-chinese, hfl/rbt3, ...)."""
        return cls(**{"epochs": 4, "lr": 3e-5, "warmup_ratio": 0.1, "max_length": 128, **overrides})

    @classmethod
    def for_base_model(cls, base_model: str | Path, **overrides: Any) -> TrainSettings:
        """Compact from-scratch defaults for a config-only folder, fine-tuning defaults otherwise."""
        path = Path(base_model)
        if path.is_dir() and not has_weights(path):
            return cls(**overrides)
        return cls.for_pretrained(**overrides)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TrainSettings:
        if not isinstance(data, Mapping):
            raise InputError(None, f"training settings must be a mapping, got {type(data).__name__}")
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise InputError(None, f"unknown training settings {', '.join(unknown)}",
                             hint="known: " + ", ".join(sorted(known)))
        return cls(**dict(data))

    def replace(self, **changes: Any) -> TrainSettings:
        return TrainSettings.from_dict({**self.to_dict(), **changes})


@dataclass(frozen=True)
class StepInfo:
    """Passed to ``fit(on_step=...)`` after every optimizer step."""

    epoch: int               # 0-based
    step_in_epoch: int       # 1-based: steps done in this epoch
    global_step: int         # 1-based: steps done in the run
    total_steps: int
    loss: float


@dataclass
class EpochRecord:
    epoch: int               # 1-based
    train_loss: float        # mean pos-weighted BCE over the epoch's batches
    val_loss: float | None   # mean (unweighted) BCE on the validation texts, T = 1
    seconds: float
    examples_per_s: float
    lr: float                # learning rate at the end of the epoch


@dataclass
class TrainHistory:
    epochs: list[EpochRecord] = field(default_factory=list)
    n_train: int = 0
    n_val: int = 0
    steps: int = 0
    seconds: float = 0.0
    examples_per_s: float = 0.0
    resumed_from_step: int | None = None
    pos_weight: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TrainHistory:
        data = dict(data)
        data["epochs"] = [EpochRecord(**e) for e in data.get("epochs", [])]
        return cls(**{k: v for k, v in data.items() if k in cls.__dataclass_fields__})


# ----- helpers -----------------------------------------------------------------------------------


def _check_texts(texts: Any, what: str = "texts") -> list[str]:
    if isinstance(texts, (str, bytes)):
        raise InputError(None, f"{what} must be a list of strings, got a single {type(texts).__name__}",
                         hint=f"wrap it in a list: [{str(texts)[:20]!r}...]")
    if not isinstance(texts, Iterable):
        raise InputError(None, f"{what} must be a list of strings, got {type(texts).__name__}")
    out = list(texts)
    for i, t in enumerate(out):
        if not isinstance(t, str):
            raise InputError(None, f"{what}[{i}] must be a string, got {type(t).__name__} {t!r}"[:200])
    return out


def _pos_weight(y: np.ndarray, mode: str, max_weight: float) -> np.ndarray:
    n = y.shape[0]
    pos = y.sum(axis=0)
    ratio = np.where(pos > 0, (n - pos) / np.maximum(pos, 1), 1.0)
    if mode == "balanced":
        w = ratio
    elif mode == "sqrt":
        w = np.sqrt(ratio)
    else:
        w = np.ones_like(ratio)
    return np.clip(w, 1.0, max_weight).astype(np.float32)


@contextlib.contextmanager
def _training_context(settings: TrainSettings) -> Iterator[None]:
    import torch

    threads = torch.get_num_threads()
    det = torch.are_deterministic_algorithms_enabled()
    det_warn = torch.is_deterministic_algorithms_warn_only_enabled()
    try:
        if settings.num_threads:
            torch.set_num_threads(settings.num_threads)
        if settings.deterministic:
            torch.use_deterministic_algorithms(True, warn_only=True)
        with torch.random.fork_rng(devices=[]):
            yield
    finally:
        torch.set_num_threads(threads)
        torch.use_deterministic_algorithms(det, warn_only=det_warn)


def make_adamw(groups: list[dict[str, Any]], lr: float):
    """AdamW, fused where this torch supports it (5x faster on CPU for an embedding-heavy model)."""
    import torch

    try:
        return torch.optim.AdamW(groups, lr=lr, fused=True)
    except (RuntimeError, TypeError, ValueError):
        return torch.optim.AdamW(groups, lr=lr)


@contextlib.contextmanager
def _threads(n: int | None) -> Iterator[None]:
    import torch

    if not n:
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _sha256_json(obj: Any) -> str:
    return hashlib.sha256(json.dumps(obj, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def _move_into(tmp: Path, target: Path) -> None:
    """Move every file of ``tmp`` into ``target``, each with an atomic rename."""
    target.mkdir(parents=True, exist_ok=True)
    for name in sorted(os.listdir(tmp)):
        src = tmp / name
        if src.is_file():
            with open(src, "rb+") as fh:
                os.fsync(fh.fileno())
            os.replace(src, target / name)


def _progress(enabled: bool, total: int, description: str):
    """A rich progress bar (or a no-op) with ``advance(n)`` and ``close()``."""

    class _Null:
        def advance(self, n: int = 1, **_: Any) -> None:
            pass

        def update(self, **_: Any) -> None:
            pass

        def close(self) -> None:
            pass

    if not enabled:
        return _Null()
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

    progress = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[info]}"),
                        TimeElapsedColumn(), TimeRemainingColumn(), transient=False)
    progress.start()
    task = progress.add_task(description, total=total, info="")

    class _Bar:
        def advance(self, n: int = 1, **info: Any) -> None:
            progress.update(task, advance=n, info=" ".join(f"{k}={v}" for k, v in info.items()))

        def update(self, **kwargs: Any) -> None:
            progress.update(task, **kwargs)

        def close(self) -> None:
            progress.stop()

    return _Bar()


# ----- the network -------------------------------------------------------------------------------


def _make_net(encoder: Any, n_labels: int, dropout: float, pooling: str):
    import torch
    from torch import nn

    class ConceptNet(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.encoder = encoder
            self.dropout = nn.Dropout(dropout)
            self.head = nn.Linear(int(encoder.config.hidden_size), n_labels)
            self.pooling = pooling

        def pooled(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
            hidden = self.encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
            if self.pooling == "cls":
                return hidden[:, 0]
            mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
            return (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1.0)

        def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
            return self.head(self.dropout(self.pooled(input_ids, attention_mask)))

    return ConceptNet()


# ----- the classifier ----------------------------------------------------------------------------


class BertConceptClassifier:
    """Multi-label concept classifier over a ``LabelSpace``; see the module doc for the contract."""

    def __init__(self, labels: LabelSpace, base_model: str | Path | None = None,
                 settings: TrainSettings | None = None) -> None:
        if not isinstance(labels, LabelSpace):
            raise InputError(None, f"labels must be a LabelSpace, got {type(labels).__name__}",
                             hint="LabelSpace.from_codebook(codebook)")
        if settings is not None and not isinstance(settings, TrainSettings):
            raise InputError(None, f"settings must be a TrainSettings, got {type(settings).__name__}",
                             hint="TrainSettings.from_dict(mapping) builds one from a config")
        self.labels = labels
        self.base_model = str(base_model) if base_model is not None else str(compact_dir())
        self.base_model_name = self.base_model
        self.settings = settings or TrainSettings()
        self.tokenizer = load_tokenizer(self.base_model)
        self.calibration = CalibrationReport(thresholds={c: 0.5 for c in labels.concepts})
        self.history: TrainHistory | None = None
        self._net = self._build_net()
        self._fresh = True

    # ----- construction ------------------------------------------------------------------------

    def _build_net(self):
        import torch

        encoder = load_encoder(self.base_model, seed=self.settings.seed)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.settings.seed)
            net = _make_net(encoder, self.labels.n_concepts, self.settings.head_dropout, self.settings.pooling)
        net.eval()
        return net

    @property
    def hidden_size(self) -> int:
        return int(self._net.encoder.config.hidden_size)

    @property
    def pad_id(self) -> int:
        pad = self.tokenizer.pad_token_id
        return int(pad) if pad is not None else 0

    # ----- tokenisation and batching ---------------------------------------------------------------

    def _tokenize(self, texts: list[str]) -> list[list[int]]:
        if not texts:
            return []
        return self.tokenizer(texts, truncation=True, max_length=self.settings.max_length,
                              add_special_tokens=True, verbose=False)["input_ids"]

    def _collate(self, ids: Sequence[Sequence[int]], idx: Sequence[int]):
        import torch

        width = max(len(ids[i]) for i in idx)
        input_ids = torch.full((len(idx), width), self.pad_id, dtype=torch.long)
        mask = torch.zeros((len(idx), width), dtype=torch.long)
        for row, i in enumerate(idx):
            seq = ids[i]
            input_ids[row, : len(seq)] = torch.as_tensor(seq, dtype=torch.long)
            mask[row, : len(seq)] = 1
        return input_ids, mask

    def _epoch_batches(self, lengths: np.ndarray, epoch: int) -> list[np.ndarray]:
        s = self.settings
        rng = np.random.default_rng([s.seed, epoch])
        perm = rng.permutation(len(lengths))
        bs = s.batch_size
        if not s.length_grouped:
            return [perm[i: i + bs] for i in range(0, len(perm), bs)]
        batches = []
        chunk = bs * 16
        for c in range(0, len(perm), chunk):
            part = perm[c: c + chunk]
            part = part[np.argsort(lengths[part], kind="stable")]
            batches.extend(part[i: i + bs] for i in range(0, len(part), bs))
        order = rng.permutation(len(batches))
        return [batches[i] for i in order]

    def _run_sorted(self, texts: list[str], fn: Callable[[Any, Any], Any], width: int) -> np.ndarray:
        """Apply ``fn(input_ids, mask) -> [b, width]`` over length-sorted batches, in input order."""
        import torch

        if not texts:
            return np.zeros((0, width), dtype=np.float32)
        ids = self._tokenize(texts)
        order = np.argsort(np.asarray([len(x) for x in ids]), kind="stable")
        out = np.zeros((len(texts), width), dtype=np.float32)
        was_training = self._net.training
        self._net.eval()
        try:
            with torch.inference_mode(), _threads(self.settings.num_threads):
                bs = self.settings.eval_batch_size
                for start in range(0, len(order), bs):
                    idx = order[start: start + bs]
                    input_ids, mask = self._collate(ids, idx)
                    out[idx] = fn(input_ids, mask).float().numpy()
        finally:
            self._net.train(was_training)
        return out

    # ----- inference -----------------------------------------------------------------------------

    def predict_logits(self, texts: Iterable[str]) -> np.ndarray:
        """Raw concept logits ``[n, n_concepts]`` (no temperature)."""
        texts = _check_texts(texts)
        return self._run_sorted(texts, self._net, self.labels.n_concepts)

    def predict_proba(self, texts: Iterable[str], *, calibrated: bool = True) -> np.ndarray:
        """Concept probabilities ``[n, n_concepts]``: ``sigmoid(logits / T)`` (T = 1 before ``calibrate``)."""
        logits = self.predict_logits(texts)
        t = self.calibration.temperature if calibrated else 1.0
        return sigmoid(logits / t).astype(np.float32)

    def thresholds_array(self) -> np.ndarray:
        """Decision threshold of each concept, in label order."""
        return np.asarray([self.calibration.thresholds.get(c, self.calibration.global_threshold)
                           for c in self.labels.concepts], dtype=np.float64)

    def predict_decisions(self, texts: Iterable[str]) -> np.ndarray:
        """Boolean ``[n, n_concepts]``: concept probability >= its threshold."""
        return self.predict_proba(texts) >= self.thresholds_array()[None, :]

    def predict(self, texts: Iterable[str]) -> list[HierarchicalPrediction]:
        """Concepts passing their thresholds plus their initial/main categories and roles; empty = no code."""
        return build_predictions(self.predict_proba(texts), self.thresholds_array(), self.labels)

    def embed(self, texts: Iterable[str]) -> np.ndarray:
        """Pooled encoder embedding ``[n, hidden]`` (what the head reads, before dropout)."""
        texts = _check_texts(texts)
        return self._run_sorted(texts, self._net.pooled, self.hidden_size)

    # ----- calibration ---------------------------------------------------------------------------

    def calibrate(self, val_texts: Iterable[str], val_label_sets: Sequence[Iterable[str]], *, n_bins: int = 15,
                  min_positives: int = 1) -> CalibrationReport:
        """Fit the temperature and per-concept thresholds on validation data; report ECE/NLL before/after."""
        val_texts = _check_texts(val_texts, "val_texts")
        y = self.labels.encode(val_label_sets, what="val_label_sets")
        if len(val_texts) != len(y):
            raise InputError(None, f"val_texts has {len(val_texts)} items but val_label_sets has {len(y)}")
        if not val_texts:
            raise InputError(None, "calibration needs at least one validation text")
        logits = self.predict_logits(val_texts).astype(np.float64)
        probs_before = sigmoid(logits)
        temperature = fit_temperature(logits, y)
        probs_after = sigmoid(logits / temperature)
        tuned = tune_thresholds(probs_after, y, min_positives=min_positives)
        self.calibration = CalibrationReport(
            temperature=float(temperature),
            thresholds={c: float(t) for c, t in zip(self.labels.concepts, tuned.thresholds)},
            global_threshold=float(tuned.global_threshold),
            tuned_labels=[c for c, ok in zip(self.labels.concepts, tuned.tuned) if ok],
            ece_before=expected_calibration_error(probs_before, y, n_bins),
            ece_after=expected_calibration_error(probs_after, y, n_bins),
            nll_before=logits_nll(logits, y),
            nll_after=logits_nll(logits, y, temperature),
            n_validation=len(val_texts),
            n_bins=n_bins,
            calibrated=True,
        )
        return self.calibration

    # ----- training ------------------------------------------------------------------------------

    def _fingerprint(self, texts: list[str], y: np.ndarray, val_texts: list[str] | None, val_y: np.ndarray | None) -> str:
        settings = {k: v for k, v in self.settings.to_dict().items() if k not in {"eval_batch_size", "checkpoint_every", "num_threads"}}
        return _sha256_json({
            "texts": texts,
            "labels": [np.flatnonzero(r).tolist() for r in y],
            "val_texts": val_texts,
            "val_labels": None if val_y is None else [np.flatnonzero(r).tolist() for r in val_y],
            "settings": settings,
            "base_model": self.base_model,
            "codebook": self.labels.codebook_hash,
        })

    def fit(self, texts: Iterable[str], label_sets: Sequence[Iterable[str]], val_texts: Iterable[str] | None = None,
            val_label_sets: Sequence[Iterable[str]] | None = None, checkpoint_dir: str | Path | None = None,
            progress: bool = True, on_step: Callable[[StepInfo], None] | None = None) -> TrainHistory:
        """Train on ``texts`` / ``label_sets`` (see the module doc); returns the per-epoch history."""
        import torch

        texts = _check_texts(texts)
        y = self.labels.encode(label_sets)
        if len(texts) != len(y):
            raise InputError(None, f"texts has {len(texts)} items but label_sets has {len(y)}; give one label set per text")
        if not texts:
            raise InputError(None, "no training texts")
        if (val_texts is None) != (val_label_sets is None):
            raise InputError(None, "give both val_texts and val_label_sets, or neither")
        val_list: list[str] | None = None
        val_y: np.ndarray | None = None
        if val_texts is not None:
            val_list = _check_texts(val_texts, "val_texts")
            val_y = self.labels.encode(val_label_sets, what="val_label_sets")  # type: ignore[arg-type]
            if len(val_list) != len(val_y):
                raise InputError(None, f"val_texts has {len(val_list)} items but val_label_sets has {len(val_y)}")
        s = self.settings
        fingerprint = self._fingerprint(texts, y, val_list, val_y)
        ckpt = _Checkpointer(Path(checkpoint_dir)) if checkpoint_dir is not None else None

        with _training_context(s):
            if not self._fresh:
                self._net = self._build_net()
            self._fresh = False
            net = self._net
            pos_weight = _pos_weight(y, s.pos_weight, s.max_pos_weight)
            with torch.no_grad():
                p = np.clip(y.mean(axis=0), 0.5 / len(y), 1 - 0.5 / len(y))
                net.head.bias.copy_(torch.as_tensor(np.log(pos_weight * p / (1 - p)), dtype=torch.float32))
            ids = self._tokenize(texts)
            lengths = np.asarray([len(x) for x in ids])
            plan = [self._epoch_batches(lengths, e) for e in range(s.epochs)]
            total_steps = sum(len(b) for b in plan)
            warmup = int(round(s.warmup_ratio * total_steps))

            decay, no_decay = [], []
            for name, param in net.named_parameters():
                if not param.requires_grad:
                    continue
                (no_decay if param.ndim < 2 or "LayerNorm" in name or "layer_norm" in name else decay).append(param)
            optimizer = make_adamw([{"params": decay, "weight_decay": s.weight_decay},
                                    {"params": no_decay, "weight_decay": 0.0}], lr=s.lr)

            def schedule(step: int) -> float:
                if warmup and step < warmup:
                    return (step + 1) / warmup
                return max(0.0, (total_steps - step) / max(1, total_steps - warmup))

            scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, schedule)
            state = _TrainerState(fingerprint=fingerprint)
            torch.manual_seed(s.seed + 1)       # dropout stream (inside fork_rng: caller's RNG untouched)
            resumed_from = None
            if ckpt is not None and ckpt.exists():
                state = ckpt.load(fingerprint, net, optimizer, scheduler)
                resumed_from = state.global_step

            yt = torch.as_tensor(y)
            loss_fn = torch.nn.BCEWithLogitsLoss(pos_weight=torch.as_tensor(pos_weight))
            bar = _progress(progress, total_steps, "training")
            bar.advance(state.global_step)
            run_start = time.perf_counter()
            examples_done = 0
            try:
                net.train()
                for epoch in range(state.epoch, s.epochs):
                    batches = plan[epoch]
                    t0 = time.perf_counter()
                    for b in range(state.batch, len(batches)):
                        idx = batches[b]
                        input_ids, mask = self._collate(ids, idx)
                        loss = loss_fn(net(input_ids, mask), yt[idx])
                        optimizer.zero_grad(set_to_none=True)
                        loss.backward()
                        if s.grad_clip > 0:
                            torch.nn.utils.clip_grad_norm_(net.parameters(), s.grad_clip)
                        optimizer.step()
                        scheduler.step()
                        value = float(loss.detach())
                        state.global_step += 1
                        state.batch = b + 1
                        state.loss_sum += value
                        state.loss_count += 1
                        state.examples_in_epoch += len(idx)
                        examples_done += len(idx)
                        bar.advance(1, epoch=f"{epoch + 1}/{s.epochs}", loss=f"{value:.4f}")
                        if (ckpt is not None and s.checkpoint_every and state.global_step % s.checkpoint_every == 0
                                and state.batch < len(batches)):
                            state.seconds_in_epoch += time.perf_counter() - t0
                            t0 = time.perf_counter()
                            ckpt.save(state, net, optimizer, scheduler)
                        if on_step is not None:
                            on_step(StepInfo(epoch, state.batch, state.global_step, total_steps, value))
                    val_loss = None
                    if val_list is not None and val_list:
                        val_loss = logits_nll(self.predict_logits(val_list), val_y)
                        net.train()
                    seconds = state.seconds_in_epoch + time.perf_counter() - t0
                    state.history.append(asdict(EpochRecord(
                        epoch=epoch + 1,
                        train_loss=state.loss_sum / max(1, state.loss_count),
                        val_loss=val_loss,
                        seconds=round(seconds, 3),
                        examples_per_s=round(state.examples_in_epoch / seconds, 2) if seconds > 0 else 0.0,
                        lr=float(scheduler.get_last_lr()[0]),
                    )))
                    state.epoch, state.batch = epoch + 1, 0
                    state.loss_sum, state.loss_count, state.examples_in_epoch, state.seconds_in_epoch = 0.0, 0, 0, 0.0
                    if ckpt is not None:
                        ckpt.save(state, net, optimizer, scheduler)
            finally:
                bar.close()
                net.eval()
        elapsed = time.perf_counter() - run_start
        self.history = TrainHistory(
            epochs=[EpochRecord(**e) for e in state.history],
            n_train=len(texts),
            n_val=len(val_list or []),
            steps=state.global_step,
            seconds=round(sum(e["seconds"] for e in state.history), 3),
            examples_per_s=round(examples_done / elapsed, 2) if examples_done and elapsed > 0 else 0.0,
            resumed_from_step=resumed_from,
            pos_weight={c: float(w) for c, w in zip(self.labels.concepts, pos_weight)},
        )
        self.calibration = CalibrationReport(thresholds={c: 0.5 for c in self.labels.concepts})
        return self.history

    # ----- saving and loading --------------------------------------------------------------------

    def save_pretrained(self, directory: str | Path) -> Path:
        """Write the model folder (see the module doc); returns it."""
        from safetensors.torch import save_file

        target = Path(directory)
        target.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=target, prefix=".save-") as tmp_name:
            tmp = Path(tmp_name)
            with quiet_transformers():
                self._net.encoder.save_pretrained(tmp)
                self.tokenizer.save_pretrained(tmp)
            vocab = getattr(self.tokenizer, "vocab", None) or {}
            if type(self.tokenizer).__name__.startswith("BertTokenizer") and vocab:
                (tmp / "vocab.txt").write_text("".join(f"{t}\n" for t, _ in sorted(vocab.items(), key=lambda kv: kv[1])),
                                               encoding="utf-8")
            save_file({k: v.detach().contiguous() for k, v in self._net.head.state_dict().items()},
                      str(tmp / "head.safetensors"), metadata={"format": CLASSIFIER_FORMAT})
            (tmp / "labels.json").write_text(json.dumps(self.labels.to_dict(), ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
            (tmp / "calibration.json").write_text(json.dumps(self.calibration.to_dict(), ensure_ascii=False, indent=2) + "\n",
                                                  encoding="utf-8")
            from .. import __version__

            info = {
                "format": CLASSIFIER_FORMAT,
                "groundcoder_version": __version__,
                "base_model": self.base_model_name,
                "pooling": self.settings.pooling,
                "hidden_size": self.hidden_size,
                "n_concepts": self.labels.n_concepts,
                "codebook_hash": self.labels.codebook_hash,
                "settings": self.settings.to_dict(),
                "history": self.history.to_dict() if self.history is not None else None,
            }
            (tmp / "classifier.json").write_text(json.dumps(info, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
            _move_into(tmp, target)
        return target

    @classmethod
    def from_pretrained(cls, directory: str | Path, codebook: Any = None) -> BertConceptClassifier:
        """Load a folder written by ``save_pretrained``; with ``codebook``, refuse a different one."""
        from safetensors.torch import load_file

        path = Path(directory)
        if not path.is_dir():
            raise InputError(path, "model folder not found", hint="give a folder written by save_pretrained (models/<run>/)")
        needed = ["classifier.json", "labels.json", "calibration.json", "head.safetensors", "config.json", "model.safetensors"]
        missing = [n for n in needed if not (path / n).exists()]
        if missing:
            raise InputError(path, f"not a groundcoder classifier folder: missing {', '.join(missing)}",
                             hint="expected the output of BertConceptClassifier.save_pretrained")
        labels = LabelSpace.load(path / "labels.json")
        if codebook is not None:
            labels.check_codebook(codebook, what=f"the classifier in {path}")
        try:
            info = json.loads((path / "classifier.json").read_text(encoding="utf-8"))
            calibration = CalibrationReport.from_dict(json.loads((path / "calibration.json").read_text(encoding="utf-8")))
        except json.JSONDecodeError as exc:
            raise InputError(path, f"corrupt JSON in the model folder: {exc}") from exc
        if info.get("format") != CLASSIFIER_FORMAT:
            raise InputError(path / "classifier.json", f"expected format {CLASSIFIER_FORMAT!r}, got {info.get('format')!r}")
        settings = TrainSettings.from_dict(info["settings"])
        obj = cls(labels, base_model=path, settings=settings)
        head = load_file(str(path / "head.safetensors"))
        try:
            obj._net.head.load_state_dict(head, strict=True)
        except RuntimeError as exc:
            raise InputError(path / "head.safetensors", f"head does not fit the label map: {exc}") from exc
        obj.base_model_name = info.get("base_model", str(path))
        obj.calibration = calibration
        obj.history = TrainHistory.from_dict(info["history"]) if info.get("history") else None
        obj._fresh = False
        return obj


# ----- checkpoints -------------------------------------------------------------------------------


@dataclass
class _TrainerState:
    fingerprint: str
    epoch: int = 0                 # epochs completed
    batch: int = 0                 # batches completed in the current epoch
    global_step: int = 0
    loss_sum: float = 0.0
    loss_count: int = 0
    examples_in_epoch: int = 0
    seconds_in_epoch: float = 0.0
    history: list[dict] = field(default_factory=list)


def _flatten_optimizer(optimizer: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    import torch

    sd = optimizer.state_dict()
    tensors: dict[str, Any] = {}
    scalars: dict[str, dict[str, Any]] = {}
    for pid, st in sd["state"].items():
        for key, value in st.items():
            if torch.is_tensor(value):
                tensors[f"state.{pid}.{key}"] = value.detach().contiguous().clone()
            else:
                scalars.setdefault(str(pid), {})[key] = value
    return tensors, {"param_groups": sd["param_groups"], "scalars": scalars}


def _unflatten_optimizer(tensors: Mapping[str, Any], meta: Mapping[str, Any]) -> dict[str, Any]:
    state: dict[int, dict[str, Any]] = {}
    for name, value in tensors.items():
        _, pid, key = name.split(".", 2)
        state.setdefault(int(pid), {})[key] = value
    for pid, values in meta.get("scalars", {}).items():
        state.setdefault(int(pid), {}).update(values)
    groups = []
    for group in meta["param_groups"]:
        group = dict(group)
        if isinstance(group.get("betas"), list):
            group["betas"] = tuple(group["betas"])
        groups.append(group)
    return {"state": state, "param_groups": groups}


class _Checkpointer:
    """``root/last/``: replaced as a whole (write ``.last.tmp``, rename ``last`` away, rename in)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.last = root / "last"
        self.old = root / "last.old"

    def exists(self) -> bool:
        if not self.last.exists() and self.old.exists():
            os.replace(self.old, self.last)      # a crash between the two renames
        return (self.last / "trainer_state.json").exists()

    def save(self, state: _TrainerState, net: Any, optimizer: Any, scheduler: Any) -> None:
        import torch
        from safetensors.torch import save_file, save_model

        self.root.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(dir=self.root, prefix=".last.tmp-"))
        try:
            save_model(net, str(tmp / "model.safetensors"))
            tensors, meta = _flatten_optimizer(optimizer)
            save_file(tensors, str(tmp / "optimizer.safetensors"))
            (tmp / "optimizer.json").write_text(json.dumps(meta), encoding="utf-8")
            sched = {k: v for k, v in scheduler.state_dict().items() if k != "lr_lambdas"}
            (tmp / "scheduler.json").write_text(json.dumps(sched), encoding="utf-8")
            save_file({"torch_cpu": torch.get_rng_state()}, str(tmp / "rng.safetensors"))
            (tmp / "trainer_state.json").write_text(
                json.dumps({"format": CHECKPOINT_FORMAT, **asdict(state)}, ensure_ascii=False, indent=1), encoding="utf-8")
            for f in tmp.iterdir():
                with open(f, "rb+") as fh:
                    os.fsync(fh.fileno())
            if self.last.exists():
                if self.old.exists():
                    shutil.rmtree(self.old)
                os.replace(self.last, self.old)
            os.replace(tmp, self.last)
            if self.old.exists():
                shutil.rmtree(self.old)
        finally:
            if tmp.exists():
                shutil.rmtree(tmp, ignore_errors=True)

    def load(self, fingerprint: str, net: Any, optimizer: Any, scheduler: Any) -> _TrainerState:
        import torch
        from safetensors.torch import load_file, load_model

        raw = json.loads((self.last / "trainer_state.json").read_text(encoding="utf-8"))
        if raw.get("format") != CHECKPOINT_FORMAT:
            raise GroundcoderError(f"{self.last}: not a groundcoder training checkpoint (format {raw.get('format')!r})")
        raw.pop("format")
        state = _TrainerState(**raw)
        if state.fingerprint != fingerprint:
            raise GroundcoderError(
                f"{self.last} is a checkpoint of another run (different data, settings, base model or codebook); "
                f"resuming from it would not reproduce this run. Use another checkpoint_dir, or delete {self.root} "
                "to start over."
            )
        load_model(net, str(self.last / "model.safetensors"), strict=True)
        meta = json.loads((self.last / "optimizer.json").read_text(encoding="utf-8"))
        optimizer.load_state_dict(_unflatten_optimizer(load_file(str(self.last / "optimizer.safetensors")), meta))
        sched = json.loads((self.last / "scheduler.json").read_text(encoding="utf-8"))
        sched["lr_lambdas"] = [None] * len(optimizer.param_groups)
        scheduler.load_state_dict(sched)
        torch.set_rng_state(load_file(str(self.last / "rng.safetensors"))["torch_cpu"])
        return state
