"""Auto-coding new firm documents with a trained model, the ONNX Runtime path, and the review queue.

Public API::

    from groundcoder.inference import (
        load_code_config, CodeConfig, run_code, CodeResult,            # the `groundcoder code` job
        resolve_model, load_coder, ModelRef, BertCoder, BaselineCoder,  # which model, and its coder
        SegmentItem, document_segments, window_spans, merge_max,       # segments and windows
        code_segments, score_segments, SegmentResult, Suggestion,      # streamed, bucketed scoring
        plan_batches, run_queue, QueueResult, select_diverse,          # batching; the active-learning queue
    )

    coder = load_coder("models/runs/<run_id>")            # or "current", or a model folder
    for r in code_segments(document_segments(text, "sentence", doc_id="D1"), coder, top_k=3):
        r.item.text, r.suggestions, r.no_code

    result = run_code(load_code_config("configs/code.yaml", {"input.store": "project.sqlite"}))

Modules: ``config`` (configs/code.yaml), ``sources`` (documents, store, tables), ``segmenting``
(segments, windows, the max merge rule), ``batching`` (length bucketing), ``models`` (model
resolution, PyTorch / baseline coders), ``autocode`` (streamed scoring, suggestions), ``outputs``
(rows, per-firm summary, store codings), ``onnx_runtime`` (optional: export, int8, agreement
check), ``queue`` (uncertainty + diversity), ``job`` / ``commands`` (the CLI jobs).

The ONNX path is an optional extra (``onnx``, ``onnxruntime``): nothing here imports them until
``--runtime onnx`` is asked for.
"""

from __future__ import annotations

from .autocode import ScoringSettings, SegmentResult, Suggestion, code_segments, score_segments, suggestions_for
from .batching import pad_batch, plan_batches, run_bucketed, run_one_by_one
from .config import CodeConfig, QueueSettings, config_from_dict, load_code_config
from .job import CodeResult, results_frame, run_code
from .models import BaselineCoder, BertCoder, ModelRef, load_coder, model_fingerprint, resolve_model
from .outputs import SUGGESTION_COLUMNS, FirmSummary
from .queue import QueueResult, entropy_uncertainty, margin_uncertainty, run_queue, select_diverse
from .segmenting import SegmentItem, document_segments, merge_max, window_spans
from .sources import read_segment_table

__all__ = [
    "SUGGESTION_COLUMNS",
    "BaselineCoder",
    "BertCoder",
    "CodeConfig",
    "CodeResult",
    "FirmSummary",
    "ModelRef",
    "QueueResult",
    "QueueSettings",
    "ScoringSettings",
    "SegmentItem",
    "SegmentResult",
    "Suggestion",
    "code_segments",
    "config_from_dict",
    "document_segments",
    "entropy_uncertainty",
    "load_code_config",
    "load_coder",
    "margin_uncertainty",
    "merge_max",
    "model_fingerprint",
    "pad_batch",
    "plan_batches",
    "read_segment_table",
    "resolve_model",
    "results_frame",
    "run_bucketed",
    "run_code",
    "run_one_by_one",
    "run_queue",
    "score_segments",
    "select_diverse",
    "suggestions_for",
    "window_spans",
]
