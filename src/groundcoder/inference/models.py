"""Which model codes, and the coders that run it.

``resolve_model(spec)`` turns what the user typed into a ``ModelRef``:

* ``current``: the project's current model (``models/runs/current.json``, written by the training
  job's registry; else the store's current model run);
* a run folder ``models/runs/<run_id>/`` (its ``model/`` subfolder holds the model, ``run.json``
  names the run); a bare run id is looked up in the runs folder;
* a model folder itself (BERT ``save_pretrained`` output or the TF-IDF baseline); its run id is the
  run's where the folder is a run's ``model/``, else ``<folder name>-<hash8>``.

``load_coder(spec_or_ref)`` loads the model with the training package's ``load_model`` (which
dispatches on what the folder holds: BERT or TF-IDF baseline) and wraps it:

* ``BertCoder``: the BERT classifier with our own batching (``batching``) over token ids, so long
  segments can be windowed in token space without tokenising twice; the forward pass is a
  ``TorchBackend`` (PyTorch) or an ``OnnxBackend`` (``onnx_runtime``). Probabilities are
  ``sigmoid(logits / T)`` with the model's calibrated temperature, exactly ``predict_proba``'s.
* ``BaselineCoder``: the TF-IDF baseline's ``predict_proba`` (windows in characters).

Both expose ``labels``, ``thresholds`` (the model's calibrated per-concept thresholds, or one
override), ``proba_texts`` and, for BERT, ``proba_ids`` / ``encode`` / ``embed_texts``.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InputError
from .batching import run_bucketed, run_one_by_one
from .config import resolve_input_path

RUN_FILE = "run.json"
MODEL_SUBDIR = "model"
CURRENT_FILE = "current.json"
# Files whose bytes define what a model computes (hashed for the run id of a bare folder and the ONNX cache).
_HASHED_FILES = ("config.json", "model.safetensors", "head.safetensors", "classifier.json", "baseline.json")


@dataclass(frozen=True)
class ModelRef:
    run_id: str
    model_dir: Path
    kind: str  # bert | baseline
    run_dir: Path | None = None
    base_model: str = ""
    fingerprint: str = ""
    metrics: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "kind": self.kind,
            "model_dir": str(self.model_dir),
            "run_dir": str(self.run_dir) if self.run_dir else None,
            "base_model": self.base_model,
            "fingerprint": self.fingerprint,
        }


def model_fingerprint(model_dir: str | Path) -> str:
    """sha256 over the files that define the model's computation (weights, config, head)."""
    digest = hashlib.sha256()
    model_dir = Path(model_dir)
    for name in _HASHED_FILES:
        path = model_dir / name
        if path.exists():
            digest.update(name.encode() + b"\0")
            with open(path, "rb") as fh:
                for block in iter(lambda: fh.read(1 << 20), b""):
                    digest.update(block)
    return digest.hexdigest()


def _is_model_dir(path: Path) -> bool:
    return (path / "classifier.json").exists() or (path / "baseline.json").exists()


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise InputError(path, f"not a readable JSON file ({exc})") from exc
    return data if isinstance(data, dict) else {}


def _runs_listing(runs_dir: Path) -> str:
    if not runs_dir.is_dir():
        return "no runs folder yet"
    names = sorted(p.name for p in runs_dir.iterdir() if p.is_dir() and ((p / MODEL_SUBDIR).is_dir() or (p / RUN_FILE).exists()))
    return ("runs: " + ", ".join(names[-8:])) if names else "no runs yet"


def resolve_model(spec: str | Path, *, runs_dir: str | Path | None = None, store: Any = None) -> ModelRef:
    """The model ``spec`` names (see the module doc); ``store`` (a ProjectStore) is asked for ``current`` last."""
    from ..paths import models_dir

    runs = resolve_input_path(runs_dir) if runs_dir is not None else models_dir() / "runs"
    text = str(spec).strip()
    if not text:
        raise InputError(None, "no model given", hint="--model models/runs/<run_id>, a model folder, or current")
    if text == "current":
        current = runs / CURRENT_FILE
        if current.exists():
            run_id = _read_json(current).get("run_id")
            if run_id and (runs / str(run_id)).is_dir():
                return _from_run_dir(runs / str(run_id))
            raise InputError(current, f"names run {run_id!r}, whose folder is missing", hint="train again or give --model models/runs/<run_id>")
        if store is not None and store.current_model() is not None:
            run = store.current_model()
            path = Path(run.path)
            if path.is_dir():
                ref = _from_path(path)
                return ModelRef(run.run_id, ref.model_dir, ref.kind, ref.run_dir, ref.base_model, ref.fingerprint, dict(run.metrics))
            raise InputError(store.path, f"the current model run {run.run_id!r} points to {path}, which is missing")
        raise InputError(current, "no current model yet", hint=f"train one with `groundcoder train`, or give --model a run folder ({_runs_listing(runs)})")
    path = resolve_input_path(text)
    if not path.exists() and "/" not in text and (runs / text).is_dir():
        path = runs / text
    if not path.exists():
        raise InputError(path, "no model here", hint=f"give models/runs/<run_id>, a model folder, or current ({_runs_listing(runs)})")
    return _from_path(path)


def _from_path(path: Path) -> ModelRef:
    if _is_model_dir(path):
        if path.name == MODEL_SUBDIR and (path.parent / RUN_FILE).exists():
            return _from_run_dir(path.parent)
        kind = "baseline" if (path / "baseline.json").exists() else "bert"
        fingerprint = model_fingerprint(path)
        return ModelRef(f"{path.resolve().name}-{fingerprint[:8]}", path, kind, None, _base_model(path, kind), fingerprint)
    if (path / MODEL_SUBDIR).is_dir() or (path / RUN_FILE).exists():
        return _from_run_dir(path)
    raise InputError(path, "not a model or run folder", hint="expected models/runs/<run_id>/ (with model/ inside) or a saved model folder")


def _from_run_dir(run_dir: Path) -> ModelRef:
    model_dir = run_dir / MODEL_SUBDIR
    if not model_dir.is_dir() or not _is_model_dir(model_dir):
        hint = "the run did not finish (no model/ folder)" if (run_dir / "job_state.json").exists() else "train again"
        raise InputError(run_dir, "this run folder holds no saved model", hint=hint)
    record = _read_json(run_dir / RUN_FILE) if (run_dir / RUN_FILE).exists() else {}
    kind = "baseline" if (model_dir / "baseline.json").exists() else "bert"
    return ModelRef(
        run_id=str(record.get("run_id") or run_dir.name),
        model_dir=model_dir,
        kind=kind,
        run_dir=run_dir,
        base_model=str(record.get("base_model") or _base_model(model_dir, kind)),
        fingerprint=model_fingerprint(model_dir),
        metrics=dict(record.get("metrics") or {}),
    )


def _base_model(model_dir: Path, kind: str) -> str:
    if kind == "baseline":
        return "tfidf-logreg"
    info = model_dir / "classifier.json"
    if info.exists():
        return str(_read_json(info).get("base_model") or model_dir)
    return str(model_dir)


def load_model_object(ref: ModelRef) -> Any:
    """The saved classifier of ``ref`` (training's ``load_model``: BERT or baseline by the folder)."""
    from ..training.registry import load_model

    return load_model(ref.model_dir)


# --------------------------------------------------------------------------------------------------
# Backends: one forward pass, input_ids/mask -> logits


@contextlib.contextmanager
def torch_threads(n: int | None) -> Iterator[None]:
    import torch

    before = torch.get_num_threads()
    if not n or n == before:  # setting it (even to the same number) costs a thread-pool round trip
        yield
        return
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


class TorchBackend:
    name = "torch"

    def __init__(self, clf: Any, threads: int | None = None) -> None:
        self._net = clf._net
        self._net.eval()
        self.threads = threads

    def logits(self, input_ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        import torch

        with torch.inference_mode(), torch_threads(self.threads):
            return self._net(torch.from_numpy(input_ids), torch.from_numpy(mask)).float().numpy()

    def pooled(self, input_ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        import torch

        with torch.inference_mode(), torch_threads(self.threads):
            return self._net.pooled(torch.from_numpy(input_ids), torch.from_numpy(mask)).float().numpy()


# --------------------------------------------------------------------------------------------------
# Coders


class BertCoder:
    """A BERT concept classifier with bucketed batches over token ids (see the module doc)."""

    kind = "bert"
    window_unit = "tokens"

    def __init__(
        self,
        clf: Any,
        ref: ModelRef | None = None,
        *,
        backend: Any = None,
        batch_size: int = 64,
        max_batch_tokens: int = 4096,
        threads: int | None = None,
        threshold: float | None = None,
    ) -> None:
        self.clf = clf
        self.ref = ref
        self.labels = clf.labels
        self.tokenizer = clf.tokenizer
        self.max_length = int(clf.settings.max_length)
        self.temperature = float(clf.calibration.temperature)
        self.thresholds = (
            np.full(self.labels.n_concepts, float(threshold)) if threshold is not None else np.asarray(clf.thresholds_array(), dtype=np.float64)
        )
        self.batch_size = batch_size
        self.max_batch_tokens = max_batch_tokens
        self.threads = threads
        self.backend = backend or TorchBackend(clf, threads)
        self._torch = TorchBackend(clf, threads)
        pad = self.tokenizer.pad_token_id
        self.pad_id = int(pad) if pad is not None else 0
        self._specials = self._special_ids()

    @property
    def runtime(self) -> str:
        return getattr(self.backend, "name", "torch")

    @property
    def window_size(self) -> int:
        """Units the model reads at once: max_length minus the special tokens it adds."""
        return max(8, self.max_length - len(self._specials[0]) - len(self._specials[1])) if self._specials else max(8, self.max_length - 2)

    def _special_ids(self) -> tuple[list[int], list[int]] | None:
        """([CLS]-like prefix, [SEP]-like suffix) if the tokenizer wraps texts that way, else None."""
        probe = "测试abc"
        plain = self.tokenizer(probe, add_special_tokens=False)["input_ids"]
        full = self.tokenizer(probe, add_special_tokens=True)["input_ids"]
        for k in range(len(full) - len(plain) + 1):
            if full[k : k + len(plain)] == plain:
                return list(full[:k]), list(full[k + len(plain) :])
        return None

    # ----- tokens --------------------------------------------------------------------------------

    def encode(self, texts: Sequence[str]) -> tuple[list[list[int]], list[list[tuple[int, int]]]]:
        """Token ids without special tokens, and each token's character span, untruncated."""
        if not texts:
            return [], []
        enc = self.tokenizer(list(texts), add_special_tokens=False, return_offsets_mapping=True, verbose=False)
        return enc["input_ids"], [[(int(a), int(b)) for a, b in offs] for offs in enc["offset_mapping"]]

    @property
    def can_slice_tokens(self) -> bool:
        """Windows can be cut from token ids (the tokenizer wraps with fixed special tokens and gives offsets)."""
        return self._specials is not None

    def wrap(self, ids: Sequence[int]) -> list[int]:
        assert self._specials is not None
        head, tail = self._specials
        return head + list(ids)[: self.window_size] + tail

    def tokenize(self, texts: Sequence[str]) -> list[list[int]]:
        """Model inputs with special tokens, truncated to max_length (as ``predict_proba`` does)."""
        if not texts:
            return []
        return self.tokenizer(list(texts), truncation=True, max_length=self.max_length, add_special_tokens=True, verbose=False)["input_ids"]

    # ----- scores --------------------------------------------------------------------------------

    def logits_ids(self, ids: Sequence[Sequence[int]]) -> np.ndarray:
        return run_bucketed(
            ids,
            self.backend.logits,
            width=self.labels.n_concepts,
            pad_id=self.pad_id,
            batch_size=self.batch_size,
            max_batch_tokens=self.max_batch_tokens,
        )

    def to_proba(self, logits: np.ndarray) -> np.ndarray:
        from ..classifier.calibration import sigmoid

        return sigmoid(logits / self.temperature).astype(np.float32)

    def proba_ids(self, ids: Sequence[Sequence[int]]) -> np.ndarray:
        return self.to_proba(self.logits_ids(ids))

    def proba_texts(self, texts: Sequence[str]) -> np.ndarray:
        return self.proba_ids(self.tokenize(texts))

    def proba_one_by_one(self, texts: Sequence[str]) -> np.ndarray:
        """The naive loop: tokenise and run each text alone (the benchmark's baseline)."""
        out = []
        for text in texts:
            ids = self.tokenize([text])
            out.append(run_one_by_one(ids, self.backend.logits, width=self.labels.n_concepts))
        return self.to_proba(np.concatenate(out) if out else np.zeros((0, self.labels.n_concepts), dtype=np.float32))

    def embed_texts(self, texts: Sequence[str]) -> np.ndarray:
        """Pooled encoder embeddings (PyTorch), bucketed like the scores."""
        return run_bucketed(
            self.tokenize(texts),
            self._torch.pooled,
            width=int(self.clf.hidden_size),
            pad_id=self.pad_id,
            batch_size=self.batch_size,
            max_batch_tokens=self.max_batch_tokens,
        )

    def describe(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "runtime": self.runtime,
            "max_length": self.max_length,
            "temperature": self.temperature,
            "batch_size": self.batch_size,
            "max_batch_tokens": self.max_batch_tokens,
        }


class BaselineCoder:
    """The TF-IDF baseline (same ``predict_proba`` shape); windows are in characters."""

    kind = "baseline"
    runtime = "sklearn"
    window_unit = "chars"
    can_slice_tokens = False
    window_size = 400  # characters: TF-IDF reads any length, windows only keep paragraphs comparable

    def __init__(self, model: Any, ref: ModelRef | None = None, *, threshold: float | None = None, batch_size: int = 512) -> None:
        self.model = model
        self.ref = ref
        self.labels = model.labels
        self.thresholds = (
            np.full(self.labels.n_concepts, float(threshold)) if threshold is not None else np.asarray(model.thresholds_array(), dtype=np.float64)
        )
        self.batch_size = batch_size

    def proba_texts(self, texts: Sequence[str]) -> np.ndarray:
        texts = list(texts)
        if not texts:
            return np.zeros((0, self.labels.n_concepts), dtype=np.float32)
        parts = [np.asarray(self.model.predict_proba(texts[i : i + self.batch_size]), dtype=np.float32) for i in range(0, len(texts), self.batch_size)]
        return np.concatenate(parts)

    def proba_one_by_one(self, texts: Sequence[str]) -> np.ndarray:
        rows = [self.proba_texts([t]) for t in texts]
        return np.concatenate(rows) if rows else np.zeros((0, self.labels.n_concepts), dtype=np.float32)

    def embed_texts(self, texts: Sequence[str]) -> None:
        return None

    def describe(self) -> dict[str, Any]:
        return {"kind": self.kind, "runtime": self.runtime}


def load_coder(
    model: str | Path | ModelRef,
    *,
    runs_dir: str | Path | None = None,
    store: Any = None,
    batch_size: int = 64,
    max_batch_tokens: int = 4096,
    threads: int | None = None,
    threshold: float | None = None,
) -> BertCoder | BaselineCoder:
    """A PyTorch (or TF-IDF) coder for a run folder, model folder, run id or ``current``."""
    ref = model if isinstance(model, ModelRef) else resolve_model(model, runs_dir=runs_dir, store=store)
    obj = load_model_object(ref)
    if ref.kind == "baseline":
        return BaselineCoder(obj, ref, threshold=threshold)
    return BertCoder(obj, ref, batch_size=batch_size, max_batch_tokens=max_batch_tokens, threads=threads, threshold=threshold)
