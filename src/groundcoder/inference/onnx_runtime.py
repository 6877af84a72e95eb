"""The optional ONNX Runtime path (``--runtime onnx``): export once, quantise to int8, check, then use.

Optional extra: ``onnx`` and ``onnxruntime`` are not groundcoder dependencies. This module imports
without them; asking for the ONNX runtime without them raises ``OnnxUnavailableError`` saying
what to install (``ONNX_REQUIREMENTS``).

* Export: the encoder + pooling + head of a ``BertConceptClassifier`` (``torch.onnx.export``, opset
  17, dynamic batch and sequence axes; inputs ``input_ids`` and ``attention_mask`` int64, output raw
  ``logits``; the temperature and thresholds stay outside the graph), checked against PyTorch on
  a padded probe batch right after export.
* Quantisation: ``onnxruntime.quantization.quantize_dynamic`` (int8 weights, dynamic activations; the
  settings are ``QUANTIZATION``: per-channel, 7-bit range, MatMuls only).
* Cache: ``<model folder>/onnx/<model hash[:16]>/model.onnx`` and ``model.int8.onnx``, with
  ``export.json``; the hash covers the weights and config (``models.model_fingerprint``), so a
  retrained model never reuses a stale graph. Files are written atomically; a read-only model
  folder can use ``cache_dir`` instead.
* Agreement check (``check_agreement``): before the ONNX model codes anything, its labels (the set
  of concepts passing their thresholds) are compared with PyTorch's on a reference set -- by default
  the sentences of the demo corpus's held-out firms (``holdout`` and ``holdout_new``). At least
  ``min_agreement`` (99 %) of the segments must agree exactly; below that the ONNX model is refused
  (``OnnxAgreementError``) unless the user allows falling back to PyTorch. The result is cached in
  ``agreement-<key>.json`` keyed by the reference texts, thresholds and temperature.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import time
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..atomic import atomic_path, write_json
from ..errors import GroundcoderError
from .models import BertCoder, ModelRef, model_fingerprint

ONNX_REQUIREMENTS = ("onnx>=1.16", "onnxruntime>=1.18")
INSTALL_HINT = "pip install " + " ".join(f'"{r}"' for r in ONNX_REQUIREMENTS)
OPSET = 17
EXPORT_FORMAT = "groundcoder.onnx-export/1"


class OnnxUnavailableError(GroundcoderError):
    """onnx / onnxruntime are not installed (or cannot be imported)."""


class OnnxAgreementError(GroundcoderError):
    """The ONNX model's labels differ from PyTorch's on too many reference segments."""

    def __init__(self, message: str, report: AgreementReport) -> None:
        super().__init__(message)
        self.report = report


def onnx_available() -> bool:
    try:
        require_onnx()
    except OnnxUnavailableError:
        return False
    return True


def require_onnx() -> Any:
    """The ``onnxruntime`` module, or a clear error saying how to install the ONNX extra."""
    missing = []
    for name in ("onnx", "onnxruntime"):
        try:
            __import__(name)
        except Exception as exc:  # ImportError, or a broken install raising anything else
            missing.append(f"{name} ({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''})")
    if missing:
        raise OnnxUnavailableError(
            "--runtime onnx needs the optional ONNX packages, which are not installed: " + "; ".join(missing)
            + f". Install them with: {INSTALL_HINT} -- or use --runtime torch (the default), which needs nothing more."
        )
    import onnxruntime

    return onnxruntime


# --------------------------------------------------------------------------------------------------
# Export and quantisation


@dataclass
class OnnxArtifact:
    path: Path  # the graph that is used (int8 or float32)
    fp32_path: Path
    cache_dir: Path
    fingerprint: str
    quantize: str
    reused: bool  # found in the cache
    export_seconds: float = 0.0
    quantize_seconds: float = 0.0
    max_export_diff: float | None = None

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        for key in ("path", "fp32_path", "cache_dir"):
            out[key] = str(out[key])
        out["size_bytes"] = self.path.stat().st_size if self.path.exists() else None
        return out


def cache_dir_for(ref: ModelRef | Path, fingerprint: str | None = None, cache_root: str | Path | None = None) -> Path:
    model_dir = ref.model_dir if isinstance(ref, ModelRef) else Path(ref)
    fingerprint = fingerprint or (ref.fingerprint if isinstance(ref, ModelRef) and ref.fingerprint else model_fingerprint(model_dir))
    root = Path(cache_root) if cache_root else model_dir / "onnx"
    return root / fingerprint[:16]


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """Silence the exporters' deprecation / tracer warnings and ORT's quantisation advice."""
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        root.setLevel(level)


def _probe_inputs(pad_id: int) -> tuple[np.ndarray, np.ndarray]:
    """A padded batch: the exported graph must honour the attention mask (a trace with an all-ones
    mask could drop it), so row 1 is shorter than row 0."""
    ids = np.asarray([[2, 2249, 2703, 43, 4619, 2244, 4407, 1618, 1705, 3], [2, 4619, 2244, 4407, 3, 0, 0, 0, 0, 0]], dtype=np.int64)
    ids[1, 5:] = pad_id
    mask = (np.arange(ids.shape[1])[None, :] < np.asarray([[10], [5]])).astype(np.int64)
    return ids, mask


def export_onnx(clf: Any, path: str | Path) -> float:
    """Write the classifier's logits graph to ``path`` (float32); returns the max |ONNX - PyTorch| on the probe."""
    import torch

    ort = require_onnx()
    net = clf._net
    net.eval()
    vocab = int(net.encoder.config.vocab_size)
    pad = clf.tokenizer.pad_token_id or 0
    ids, mask = _probe_inputs(int(pad))
    ids = np.minimum(ids, vocab - 1)
    path = Path(path)
    with atomic_path(path, suffix=".onnx") as tmp:
        with _quiet(), torch.no_grad():
            args = (torch.from_numpy(ids), torch.from_numpy(mask))
            legacy = dict(
                input_names=["input_ids", "attention_mask"], output_names=["logits"],
                dynamic_axes={"input_ids": {0: "batch", 1: "sequence"}, "attention_mask": {0: "batch", 1: "sequence"}, "logits": {0: "batch"}},
                opset_version=OPSET, do_constant_folding=True,
            )
            try:
                try:  # the TorchScript exporter: no extra packages, dynamic axes
                    torch.onnx.export(net, args, str(tmp), dynamo=False, **legacy)
                except TypeError:  # torch < 2.5 has no dynamo argument and only that exporter
                    torch.onnx.export(net, args, str(tmp), **legacy)
            except (TypeError, RuntimeError, AttributeError) as exc:  # no TorchScript exporter in this torch
                try:
                    batch, seq = torch.export.Dim("batch"), torch.export.Dim("sequence")
                    torch.onnx.export(
                        net, args, str(tmp), input_names=["input_ids", "attention_mask"], output_names=["logits"],
                        dynamic_shapes={"input_ids": {0: batch, 1: seq}, "attention_mask": {0: batch, 1: seq}},
                        opset_version=OPSET, dynamo=True, external_data=False,
                    )
                except Exception as exc2:
                    raise GroundcoderError(
                        f"could not export the model to ONNX with torch {torch.__version__} ({type(exc).__name__}: {exc}; "
                        f"then {type(exc2).__name__}: {exc2}). Use --runtime torch."
                    ) from exc2
            with torch.inference_mode():
                want = net(*args).float().numpy()
        session = _session(ort, tmp, threads=1)
        got = session.run(["logits"], {"input_ids": ids, "attention_mask": mask})[0]
        diff = float(np.max(np.abs(got - want)))
        if not np.isfinite(diff) or diff > 1e-3:
            raise GroundcoderError(
                f"the exported ONNX graph disagrees with PyTorch on a probe batch (max |logit difference| {diff:.3g} > 1e-3); "
                "it was not kept. Use --runtime torch, and please report this with the model's base model."
            )
    return diff


# Dynamic int8 quantisation settings. Measured on the tiny and compact models against the demo corpus's
# held-out sentences: per-channel scales with 7-bit weights (reduce_range, which avoids the u8 x s8
# overflow of CPUs without VNNI) on the MatMuls only -- the embedding tables stay float32 -- gives the
# closest labels to PyTorch (tiny model: 99.5 % of segments vs 98.0 % with the defaults).
QUANTIZATION = {"weight_type": "QInt8", "per_channel": True, "reduce_range": True, "op_types_to_quantize": ["MatMul"]}


def quantize_int8(src: str | Path, dst: str | Path) -> None:
    """Dynamic int8 quantisation of ``src`` into ``dst`` (atomic), with ``QUANTIZATION``."""
    require_onnx()
    from onnxruntime.quantization import QuantType, quantize_dynamic

    dst = Path(dst)
    with atomic_path(dst, suffix=".onnx") as tmp, _quiet():
        quantize_dynamic(
            str(src), str(tmp), weight_type=QuantType.QInt8, per_channel=QUANTIZATION["per_channel"],
            reduce_range=QUANTIZATION["reduce_range"], op_types_to_quantize=list(QUANTIZATION["op_types_to_quantize"]),
        )


def prepare_onnx(clf: Any, ref: ModelRef, *, quantize: str = "int8", cache_root: str | Path | None = None) -> OnnxArtifact:
    """Export (and quantise) once per model hash; later calls reuse the cached files."""
    require_onnx()
    fingerprint = ref.fingerprint or model_fingerprint(ref.model_dir)
    folder = cache_dir_for(ref, fingerprint, cache_root)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise GroundcoderError(
            f"cannot create the ONNX cache folder {folder} ({exc.strerror or exc}); give onnx.cache_dir a writable folder"
        ) from exc
    fp32, int8 = folder / "model.onnx", folder / "model.int8.onnx"
    wanted = int8 if quantize == "int8" else fp32
    meta_path = folder / "export.json"
    meta: dict[str, Any] = {}
    if meta_path.exists():
        try:
            meta = json.loads(meta_path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError):
            meta = {}
    same_export = fp32.exists() and meta.get("format") == EXPORT_FORMAT and meta.get("fingerprint") == fingerprint
    same_int8 = int8.exists() and meta.get("quantization") == QUANTIZATION
    if same_export and (quantize != "int8" or same_int8):
        return OnnxArtifact(wanted, fp32, folder, fingerprint, quantize, True, max_export_diff=meta.get("max_export_diff"))
    export_seconds = 0.0
    if same_export:
        diff = meta.get("max_export_diff")
    else:
        t0 = time.perf_counter()
        diff = export_onnx(clf, fp32)
        export_seconds = time.perf_counter() - t0
        int8.unlink(missing_ok=True)
    quantize_seconds = 0.0
    if quantize == "int8":
        t0 = time.perf_counter()
        quantize_int8(fp32, int8)
        quantize_seconds = time.perf_counter() - t0
    import onnxruntime
    import torch

    write_json(meta_path, {
        "format": EXPORT_FORMAT,
        "fingerprint": fingerprint,
        "model_dir": str(ref.model_dir),
        "run_id": ref.run_id,
        "opset": OPSET,
        "torch": torch.__version__,
        "onnxruntime": onnxruntime.__version__,
        "max_export_diff": diff,
        "quantization": QUANTIZATION if int8.exists() else meta.get("quantization"),
        "inputs": ["input_ids", "attention_mask"],
        "output": "logits (temperature not applied)",
    })
    return OnnxArtifact(wanted, fp32, folder, fingerprint, quantize, False, round(export_seconds, 3), round(quantize_seconds, 3), diff)


def _session(ort: Any, path: str | Path, threads: int | None) -> Any:
    options = ort.SessionOptions()
    options.intra_op_num_threads = int(threads or 1)
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.log_severity_level = 3
    return ort.InferenceSession(str(path), sess_options=options, providers=["CPUExecutionProvider"])


class OnnxBackend:
    """ONNX Runtime forward pass with the same inputs and outputs as ``TorchBackend``."""

    def __init__(self, path: str | Path, threads: int | None = None, name: str = "onnx") -> None:
        import torch

        ort = require_onnx()
        self.path = Path(path)
        self.name = name
        self.session = _session(ort, path, threads or torch.get_num_threads())

    def logits(self, input_ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        return self.session.run(["logits"], {"input_ids": input_ids, "attention_mask": mask})[0]


# --------------------------------------------------------------------------------------------------
# Agreement with PyTorch


@dataclass
class AgreementReport:
    segments: int
    agreeing: int
    agreement: float  # share of segments whose label sets are identical
    top1_agreement: float  # share whose highest-scoring concept is the same
    max_abs_prob_diff: float
    mean_abs_prob_diff: float
    min_agreement: float
    passed: bool
    reference: str
    examples: list[dict[str, Any]] = field(default_factory=list)  # a few disagreements
    cached: bool = False

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def label_sets(probs: np.ndarray, thresholds: np.ndarray) -> np.ndarray:
    return probs >= thresholds[None, :]


def compare(torch_probs: np.ndarray, other_probs: np.ndarray, thresholds: np.ndarray, texts: Sequence[str], labels: Any,
            *, min_agreement: float, reference: str) -> AgreementReport:
    a, b = label_sets(torch_probs, thresholds), label_sets(other_probs, thresholds)
    same = np.all(a == b, axis=1)
    n = len(texts)
    examples = []
    for i in np.flatnonzero(~same)[:5]:
        examples.append({
            "text": texts[i][:80],
            "torch": [labels.concepts[j] for j in np.flatnonzero(a[i])],
            "onnx": [labels.concepts[j] for j in np.flatnonzero(b[i])],
        })
    diff = np.abs(torch_probs.astype(np.float64) - other_probs.astype(np.float64)) if n else np.zeros(1)
    agreement = float(same.mean()) if n else 1.0
    return AgreementReport(
        segments=n,
        agreeing=int(same.sum()),
        agreement=round(agreement, 6),
        top1_agreement=round(float(np.mean(torch_probs.argmax(1) == other_probs.argmax(1))), 6) if n else 1.0,
        max_abs_prob_diff=float(diff.max()),
        mean_abs_prob_diff=float(diff.mean()),
        min_agreement=min_agreement,
        passed=agreement >= min_agreement,
        reference=reference,
        examples=examples,
    )


def demo_reference_texts(min_chars: int = 2) -> list[str]:
    """Sentences of the demo corpus's held-out firms (``holdout`` and ``holdout_new``), in corpus order."""
    from ..demo_corpus.load import load_demo_corpus
    from ..segmentation import split_sentences

    corpus = load_demo_corpus()
    firms = set(corpus.holdout_firms) | set(corpus.holdout_new_firms)
    texts = []
    for doc in corpus.documents:
        if doc.firm_id in firms:
            texts.extend(s.text for s in split_sentences(corpus.text(doc.doc_id)) if len(s.text.strip()) >= min_chars)
    return texts


def reference_texts(spec: str | Sequence[str]) -> tuple[list[str], str]:
    """(texts, description) of the reference set: ``demo``, a table path, or texts given directly."""
    if not isinstance(spec, str):
        texts = list(spec)
        return texts, f"{len(texts)} given texts"
    if spec == "demo":
        return demo_reference_texts(), "demo corpus held-out sentences (holdout + holdout_new firms)"
    from .config import resolve_input_path
    from .sources import read_segment_table

    path = resolve_input_path(spec)
    return [item.text for item in read_segment_table(path)], str(path)


def _agreement_key(texts: Sequence[str], coder: BertCoder, artifact: OnnxArtifact) -> str:
    digest = hashlib.sha256()
    for t in texts:
        digest.update(t.encode("utf-8") + b"\x1f")
    digest.update(np.asarray(coder.thresholds, dtype=np.float64).tobytes())
    digest.update(repr(round(coder.temperature, 12)).encode())
    digest.update(artifact.path.name.encode())
    return digest.hexdigest()[:16]


def _in_slices(coder: BertCoder, ids: list[list[int]], progress: Any, step: int = 256) -> np.ndarray:
    parts = []
    for start in range(0, len(ids), step):
        parts.append(coder.proba_ids(ids[start : start + step]))
        if progress is not None:
            progress.scored(len(parts[-1]))
    return np.concatenate(parts) if parts else np.zeros((0, coder.labels.n_concepts), dtype=np.float32)


def check_agreement(torch_coder: BertCoder, onnx_coder: BertCoder, artifact: OnnxArtifact, reference: str | Sequence[str] = "demo",
                    *, min_agreement: float = 0.99, use_cache: bool = True, progress: Any = None,
                    strip_end_marks: bool = True) -> AgreementReport:
    """Labels of ``onnx_coder`` vs ``torch_coder`` on the reference set (cached per key).

    The reference texts are read as coded segments are (``autocode.model_text``).
    ``progress``: an object with ``found(n)`` and ``scored(n)`` (e.g. ``job.Progress``) for a bar.
    """
    from .autocode import model_text

    texts, description = reference_texts(reference)
    texts = [model_text(t, strip_end_marks) for t in texts]
    if not texts:
        raise GroundcoderError(f"the ONNX agreement reference set ({description}) has no texts; give onnx.reference a table with id and text")
    key = _agreement_key(texts, torch_coder, artifact)
    cache = artifact.cache_dir / f"agreement-{key}.json"
    if use_cache and cache.exists():
        try:
            data = json.loads(cache.read_text(encoding="utf-8"))
            report = AgreementReport(**{**data, "cached": True})
            report.min_agreement = min_agreement
            report.passed = report.agreement >= min_agreement
            return report
        except (OSError, json.JSONDecodeError, TypeError):
            pass
    ids = torch_coder.tokenize(texts)
    if progress is not None:
        progress.found(2 * len(ids))
    report = compare(_in_slices(torch_coder, ids, progress), _in_slices(onnx_coder, ids, progress), np.asarray(torch_coder.thresholds),
                     texts, torch_coder.labels, min_agreement=min_agreement, reference=description)
    with contextlib.suppress(OSError):
        write_json(cache, report.to_json())
    return report


def onnx_coder(
    torch_coder: BertCoder,
    *,
    quantize: str = "int8",
    min_agreement: float = 0.99,
    reference: str | Sequence[str] = "demo",
    allow_fallback: bool = False,
    cache_root: str | Path | None = None,
    log: Any = None,
    progress: Any = None,
    strip_end_marks: bool = True,
) -> tuple[BertCoder, dict[str, Any]]:
    """An ONNX Runtime coder for ``torch_coder``'s model, checked against it first.

    Returns (coder, info). Below ``min_agreement``: ``OnnxAgreementError``, or with
    ``allow_fallback`` the PyTorch coder itself and ``info["fallback"]`` saying why.
    """
    if torch_coder.ref is None:
        raise GroundcoderError("the ONNX runtime needs a saved model (a run or model folder)")
    artifact = prepare_onnx(torch_coder.clf, torch_coder.ref, quantize=quantize, cache_root=cache_root)
    name = "onnx-int8" if quantize == "int8" else "onnx-fp32"
    coder = BertCoder(
        torch_coder.clf, torch_coder.ref,
        backend=OnnxBackend(artifact.path, torch_coder.threads, name=name),
        batch_size=torch_coder.batch_size, max_batch_tokens=torch_coder.max_batch_tokens, threads=torch_coder.threads,
    )
    coder.thresholds = torch_coder.thresholds
    report = check_agreement(torch_coder, coder, artifact, reference, min_agreement=min_agreement, progress=progress,
                             strip_end_marks=strip_end_marks)
    info: dict[str, Any] = {"runtime": name, "artifact": artifact.to_json(), "agreement": report.to_json(), "fallback": None}
    if report.passed:
        return coder, info
    message = (
        f"the {name} model agrees with PyTorch on the labels of only {report.agreement:.2%} of {report.segments} reference "
        f"segments ({report.reference}); at least {min_agreement:.0%} is required, so it was not used. "
        "Use --runtime torch, try onnx.quantize: none (float32), or allow falling back to PyTorch "
        "(--allow-fallback, onnx.allow_fallback: true)."
    )
    if not allow_fallback:
        raise OnnxAgreementError(message, report)
    info["fallback"] = message + " Falling back to PyTorch as allowed."
    info["runtime"] = "torch"
    if log:
        log(info["fallback"])
    return torch_coder, info


def clear_cache(ref: ModelRef, cache_root: str | Path | None = None) -> None:
    """Remove the cached ONNX files of a model (e.g. after a torch upgrade)."""
    import shutil

    folder = cache_dir_for(ref, cache_root=cache_root)
    if folder.exists():
        shutil.rmtree(folder)


__all__ = [
    "INSTALL_HINT",
    "ONNX_REQUIREMENTS",
    "AgreementReport",
    "OnnxAgreementError",
    "OnnxArtifact",
    "OnnxBackend",
    "OnnxUnavailableError",
    "check_agreement",
    "compare",
    "demo_reference_texts",
    "export_onnx",
    "onnx_available",
    "onnx_coder",
    "prepare_onnx",
    "quantize_int8",
    "require_onnx",
]
