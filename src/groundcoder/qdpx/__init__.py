"""REFI-QDA interoperability: ``.qdpx`` projects and ``.qdc`` codebooks with NVivo, ATLAS.ti, MAXQDA, QualCoder.

* ``export_qdpx(out, store_or_data, include_model=..., graphs=[(name, nx_graph)])`` writes a project.
* ``import_file(path)`` reads a ``.qdpx``/``.qde``/``.qdc`` into a ``QdaProject``;
  ``QdaProject.training_quotes()`` gives the human codings as ``TrainingQuote``.
* ``import_into_store(project, store)`` adds its documents and human codings to the project store.
* ``review_qdpx(reviewed, store)`` -> ``ReviewOutcome(kept, rejected, relabelled, new_human)``;
  ``apply_review(outcome, store)`` records it for retraining.

Positions are Unicode code points, end exclusive (``text[start:end]``), as REFI-QDA 1.5 (10.2) says.
Untrusted files are read safely (see ``groundcoder.qdpx.safety``).
"""

from __future__ import annotations

from .export import ExportData, ExportSummary, build_project, export_data_from_store, export_qdpx
from .import_ import StoreImportSummary, import_into_store, match_sources
from .model import (
    MODEL_USER_NAME,
    NEGATIVE_PREFIX,
    QdaCase,
    QdaCode,
    QdaCoding,
    QdaGraph,
    QdaProject,
    QdaSelection,
    QdaSource,
    QdaUser,
    SelectionMismatch,
    TrainingQuote,
)
from .reader import import_file, read_qdc_project, read_qde, read_qdpx
from .review import (
    ApplySummary,
    NegativeRecord,
    ReviewItem,
    ReviewOutcome,
    Suggestion,
    apply_review,
    negative_records,
    positive_human_codings,
    review_outcome,
    review_qdpx,
)
from .safety import DEFAULT_MAX_TOTAL_BYTES, SafeArchive, UnsafeFileError, safe_extract

__all__ = [
    "DEFAULT_MAX_TOTAL_BYTES",
    "MODEL_USER_NAME",
    "NEGATIVE_PREFIX",
    "ApplySummary",
    "ExportData",
    "ExportSummary",
    "NegativeRecord",
    "QdaCase",
    "QdaCode",
    "QdaCoding",
    "QdaGraph",
    "QdaProject",
    "QdaSelection",
    "QdaSource",
    "QdaUser",
    "ReviewItem",
    "ReviewOutcome",
    "SafeArchive",
    "SelectionMismatch",
    "StoreImportSummary",
    "Suggestion",
    "TrainingQuote",
    "UnsafeFileError",
    "apply_review",
    "build_project",
    "export_data_from_store",
    "export_qdpx",
    "import_file",
    "import_into_store",
    "match_sources",
    "negative_records",
    "positive_human_codings",
    "read_qdc_project",
    "read_qde",
    "read_qdpx",
    "review_outcome",
    "review_qdpx",
    "safe_extract",
]
