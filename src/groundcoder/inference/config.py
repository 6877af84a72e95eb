"""The auto-coding and queue config (``configs/code.yaml``), every key checked.

One file drives both ``groundcoder code`` and ``groundcoder queue``: the model, the input, how texts
are segmented and windowed, batching, the ONNX path, the outputs and (section ``queue:``) the
active-learning queue. Command-line options override single keys (``{"inference.top_k": 5}``).

An unknown key or a value of the wrong type is an ``InputError`` naming the key and the file, with
close matches for a misspelt key. Relative input paths are taken from the working directory when
they exist there, else from the project home (the checkout), so ``models/runs`` and ``corpora/demo``
work from anywhere; output folders are always relative to the working directory.
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
from ..paths import configs_dir, project_home

UNITS = ("sentence", "paragraph")
WINDOW_UNITS = ("tokens", "chars")
RUNTIMES = ("torch", "onnx")
QUANTIZE = ("int8", "none")
STRATEGIES = ("margin", "entropy")
DIVERSITY = ("jaccard", "embedding", "none")
MODEL_CODER_ID = "groundcoder-model"


@dataclass(frozen=True)
class InputSettings:
    documents: tuple[str, ...] = ()  # document files or folders (pdf, txt, md, docx, html), subfolders included
    table: str | None = None  # pre-segmented texts: .csv / .xlsx / .jsonl with columns id and text
    store: str | None = None  # project store: documents to code (and where codings are written)
    firms: tuple[str, ...] = ()  # only these firm codes (store documents, or files named by firm code)
    doc_ids: tuple[str, ...] = ()  # only these stored documents
    kinds: tuple[str, ...] = ()  # only these document kinds of the store (annual_report, ...)


@dataclass(frozen=True)
class WindowSettings:
    unit: str = "tokens"  # tokens (of the model's tokenizer) | chars
    size: int | None = None  # default: what the model reads at once (its max_length minus [CLS]/[SEP])
    overlap: int = 16  # units shared by neighbouring windows


@dataclass(frozen=True)
class SegmentationSettings:
    unit: str = "sentence"  # sentence | paragraph (ignored for tables: their rows are the segments)
    min_chars: int = 2  # shorter segments (a lone "一、") are not coded
    strip_end_marks: bool = True  # the model reads segments without their closing 。！？； (quotes rarely have them)
    window: WindowSettings = WindowSettings()


@dataclass(frozen=True)
class InferenceSettings:
    runtime: str = "torch"  # torch | onnx
    top_k: int = 3  # at most this many suggestions per segment (those passing their thresholds)
    threshold: float | None = None  # one threshold for every concept instead of the model's calibrated ones
    batch_size: int = 64  # segments per forward pass at most
    max_batch_tokens: int = 4096  # batch rows x padded length at most (4096: as fast as larger, half the memory)
    chunk_windows: int = 2048  # windows scored together (bucketing happens within a chunk; bounds memory)
    threads: int | None = None  # CPU threads for torch / ONNX Runtime (default: torch's setting)


@dataclass(frozen=True)
class OnnxSettings:
    quantize: str = "int8"  # int8 (dynamic quantisation) | none (float32 graph)
    min_agreement: float = 0.99  # share of reference segments whose labels must equal PyTorch's
    reference: str = "demo"  # demo (held-out segments of the demo corpus) | a table with id and text
    allow_fallback: bool = False  # below min_agreement: use PyTorch instead of stopping
    cache_dir: str | None = None  # default: <model folder>/onnx/<model hash>/


@dataclass(frozen=True)
class OutputSettings:
    folder: str = "code-output"
    write_store: bool = True  # with a store: the suggestions go in as codings of coder_id
    coder_id: str = MODEL_CODER_ID
    xlsx: bool = True
    progress: bool = True


@dataclass(frozen=True)
class QueueSettings:
    n: int = 50
    unit: str = "sentence"
    strategy: str = "margin"  # margin (closest to a decision threshold) | entropy (summed binary entropy)
    diversity: str = "jaccard"  # jaccard (cap on char n-gram overlap) | embedding (greedy max-min) | none
    jaccard_cap: float = 0.5  # a candidate this similar to one already queued is skipped
    ngram: int = 5  # character n-grams of the Jaccard similarity
    embedding_weight: float = 0.5  # embedding: weight of distance vs uncertainty
    pool_factor: int = 10  # embedding: choose among the n * pool_factor most uncertain
    min_chars: int = 8  # shorter segments are not queued
    folder: str = "queue-output"
    qdpx: bool = True
    code_name: str = "待编码 to-review"


@dataclass(frozen=True)
class CodeConfig:
    model: str = "current"  # models/runs/<run_id>, a model folder, a run id, or current
    runs_dir: str = "models/runs"
    input: InputSettings = InputSettings()
    segmentation: SegmentationSettings = SegmentationSettings()
    inference: InferenceSettings = InferenceSettings()
    onnx: OnnxSettings = OnnxSettings()
    output: OutputSettings = OutputSettings()
    queue: QueueSettings = QueueSettings()
    path: str | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        problems: list[str] = []

        def choice(key: str, value: str, options: tuple[str, ...]) -> None:
            if value not in options:
                problems.append(f"{key} is {value!r}; choose one of {', '.join(options)}")

        def at_least(key: str, value: float | None, low: float) -> None:
            if value is not None and value < low:
                problems.append(f"{key} must be >= {low}, got {value}")

        choice("segmentation.unit", self.segmentation.unit, UNITS)
        choice("segmentation.window.unit", self.segmentation.window.unit, WINDOW_UNITS)
        choice("inference.runtime", self.inference.runtime, RUNTIMES)
        choice("onnx.quantize", self.onnx.quantize, QUANTIZE)
        choice("queue.unit", self.queue.unit, UNITS)
        choice("queue.strategy", self.queue.strategy, STRATEGIES)
        choice("queue.diversity", self.queue.diversity, DIVERSITY)
        at_least("segmentation.min_chars", self.segmentation.min_chars, 1)
        at_least("segmentation.window.size", self.segmentation.window.size, 8)
        at_least("segmentation.window.overlap", self.segmentation.window.overlap, 0)
        size = self.segmentation.window.size
        if size is not None and self.segmentation.window.overlap >= size:
            problems.append(f"segmentation.window.overlap ({self.segmentation.window.overlap}) must be smaller than window.size ({size})")
        at_least("inference.top_k", self.inference.top_k, 1)
        at_least("inference.batch_size", self.inference.batch_size, 1)
        at_least("inference.max_batch_tokens", self.inference.max_batch_tokens, 16)
        at_least("inference.chunk_windows", self.inference.chunk_windows, 1)
        at_least("inference.threads", self.inference.threads, 1)
        if self.inference.threshold is not None and not 0.0 <= self.inference.threshold <= 1.0:
            problems.append(f"inference.threshold must be between 0 and 1, got {self.inference.threshold}")
        if not 0.0 <= self.onnx.min_agreement <= 1.0:
            problems.append(f"onnx.min_agreement must be between 0 and 1, got {self.onnx.min_agreement}")
        at_least("queue.n", self.queue.n, 1)
        at_least("queue.ngram", self.queue.ngram, 1)
        at_least("queue.pool_factor", self.queue.pool_factor, 1)
        at_least("queue.min_chars", self.queue.min_chars, 1)
        if not 0.0 <= self.queue.jaccard_cap <= 1.0:
            problems.append(f"queue.jaccard_cap must be between 0 and 1, got {self.queue.jaccard_cap}")
        if not 0.0 <= self.queue.embedding_weight <= 1.0:
            problems.append(f"queue.embedding_weight must be between 0 and 1, got {self.queue.embedding_weight}")
        if not self.output.coder_id.strip():
            problems.append("output.coder_id must not be empty")
        if problems:
            raise InputError(self.path, "; ".join(problems), hint="fix the config or the command-line options")

    def to_dict(self) -> dict[str, Any]:
        return _plain({f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name != "path"})

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.to_dict(), allow_unicode=True, sort_keys=False)

    def replace(self, **overrides: Any) -> CodeConfig:
        """A copy with dotted keys replaced (``{"inference.top_k": 5}``), checked like a file."""
        data = self.to_dict()
        _apply_overrides(data, overrides)
        return config_from_dict(data, self.path)


DEFAULT_CONFIG_NAME = "code.yaml"


def default_config_path() -> Path:
    """configs/code.yaml of the working directory if there is one, else the project's."""
    local = Path("configs") / DEFAULT_CONFIG_NAME
    return local if local.exists() else configs_dir() / DEFAULT_CONFIG_NAME


def load_code_config(path: str | Path | None = None, overrides: dict[str, Any] | None = None) -> CodeConfig:
    """Read and check a config (``None``: the default file, or the defaults where there is none).

    ``overrides`` are dotted keys (``{"input.store": "project.sqlite"}``); a value of ``None`` is
    ignored, so unset command-line options leave the file's value alone.
    """
    explicit = path is not None
    path = Path(path) if path is not None else default_config_path()
    data: dict[str, Any] = {}
    if path.exists():
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            raise InputError(path, f"not valid YAML: {getattr(exc, 'problem', exc)}", line=mark.line + 1 if mark else None) from exc
        if not isinstance(data, dict):
            raise InputError(path, "a config is a mapping of sections (model:, input:, ...)")
    elif explicit:
        raise InputError(path, "config file not found", hint="see configs/code.yaml in the project")
    _apply_overrides(data, {k: v for k, v in (overrides or {}).items() if v is not None})
    return config_from_dict(data, path if path.exists() else None)


def config_from_dict(data: dict[str, Any], path: str | Path | None = None) -> CodeConfig:
    return _build(CodeConfig, data, "", path, extra={"path": str(path) if path else None})


def resolve_input_path(value: str | Path) -> Path:
    """An input path: as given if it exists from here (or is absolute), else under the project home."""
    path = Path(value).expanduser()
    if path.is_absolute() or path.exists():
        return path
    home = project_home() / path
    return home if home.exists() else path


# --------------------------------------------------------------------------------------------------
