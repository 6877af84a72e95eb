"""The ``groundcoder code`` job: inputs -> model -> streamed suggestions -> tables, store, summary.

``run_code(config)`` (``groundcoder code``, ``python inference/code.py --config configs/code.yaml``):

1. resolves the input (a table of segments, document files, or stored documents; see ``sources``)
   and the model (``models.resolve_model``: a run folder, a model folder, or ``current``);
2. loads the coder (PyTorch, or with ``inference.runtime: onnx`` the int8 ONNX model once it agrees
   with PyTorch on the reference set; see ``onnx_runtime``);
3. segments each document as it is reached and codes the segments in bounded chunks (``autocode``);
4. writes ``suggestions.csv`` / ``.xlsx``, ``firm_summary.csv`` / ``.xlsx`` and ``code_summary.json``
   into the output folder (each file atomically), and -- with a store -- adds the suggestions as
   codings of the coder ``groundcoder-model`` (coder kind ``model``, the run id, the confidence),
   one transaction per document, after registering the run in the store's ``model_runs`` if it is
   not there yet. Running again adds nothing twice (the store keeps a coding once).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from .. import __version__
from ..atomic import write_json
from ..errors import GroundcoderError, InputError
from .autocode import ScoringSettings, SegmentResult, code_segments
from .config import CodeConfig, load_code_config, resolve_input_path
from .models import BertCoder, ModelRef, load_coder, resolve_model
from .outputs import SUGGESTION_COLUMNS, FirmSummary, model_codings, suggestion_rows
from .segmenting import SegmentItem
from .sources import InputPlan, document_items, is_table, plan_files, plan_store, read_segment_table

SUMMARY_NAME = "code_summary.json"
_EXCEL_MAX_ROWS = 1_048_575  # data rows below the header


@dataclass
class CodeResult:
    out_dir: Path
    run_id: str
    runtime: str
    segments: int
    coded_segments: int
    suggestions: int
    seconds: float
    files: dict[str, str]
    summary: dict[str, Any]
    rows: list[tuple[Any, ...]] = field(default_factory=list, repr=False)

    @property
    def segments_per_second(self) -> float:
        return self.segments / self.seconds if self.seconds > 0 else 0.0


class Progress:
    """Bars for documents and segments on stderr (a no-op when disabled)."""

    def __init__(self, enabled: bool, console: Any = None, label: str = "segments") -> None:
        self._progress = None
        self._seg_total = 0
        if not enabled:
            return
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn, TimeRemainingColumn
        from rich.progress import Progress as RichProgress

        self._progress = RichProgress(
            TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), TimeRemainingColumn(),
            console=console or Console(stderr=True), transient=False,
        )
        self._progress.start()
        self._docs = None
        self._segs = self._progress.add_task(label, total=0)

    def documents(self, total: int) -> None:
        if self._progress is not None:
            self._docs = self._progress.add_task("documents", total=total)

    def found(self, n: int) -> None:
        if self._progress is not None:
            self._seg_total += n
            self._progress.update(self._segs, total=self._seg_total)

    def document_done(self) -> None:
        if self._progress is not None and self._docs is not None:
            self._progress.advance(self._docs)

    def scored(self, n: int) -> None:
        if self._progress is not None:
            self._progress.advance(self._segs, n)

    def close(self) -> None:
        if self._progress is not None:
            self._progress.stop()


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def open_store(config: CodeConfig, *, required: bool = False) -> Any:
    from ..store import ProjectStore

    if not config.input.store:
        if required:
            raise InputError(None, "this needs a project store", hint="give --store project.sqlite")
        return None
    return ProjectStore.open(resolve_input_path(config.input.store), create=False)


def make_coder(
    config: CodeConfig, ref: ModelRef, log: Callable[[str], None] = lambda _: None, console: Any = None
) -> tuple[Any, dict[str, Any]]:
    """The coder of ``config`` (PyTorch, or ONNX after its agreement check) and what was decided."""
    inf = config.inference
    coder = load_coder(ref, batch_size=inf.batch_size, max_batch_tokens=inf.max_batch_tokens, threads=inf.threads, threshold=inf.threshold)
    info: dict[str, Any] = {"requested": inf.runtime, "runtime": getattr(coder, "runtime", "torch"), "fallback": None}
    if inf.runtime == "onnx":
        from .onnx_runtime import onnx_coder, require_onnx

        require_onnx()
        if not isinstance(coder, BertCoder):
            raise InputError(
                ref.model_dir, f"--runtime onnx runs BERT models; run {ref.run_id} chose the TF-IDF baseline",
                hint="use --runtime torch for this model",
            )
        o = config.onnx
        log(f"ONNX: using the cached export of {ref.run_id}, or exporting it once (int8: {o.quantize == 'int8'}), "
            f"then checking its labels against PyTorch on the reference set ({o.reference})")
        progress = Progress(config.output.progress, console, label="ONNX agreement check")
        try:
            coder, onnx_info = onnx_coder(
                coder, quantize=o.quantize, min_agreement=o.min_agreement, reference=o.reference, allow_fallback=o.allow_fallback,
                cache_root=resolve_input_path(o.cache_dir) if o.cache_dir else None, log=log, progress=progress,
                strip_end_marks=config.segmentation.strip_end_marks,
            )
        finally:
            progress.close()
        info.update(onnx_info)
    return coder, info


def check_runtime(config: CodeConfig) -> None:
    """Fail before any work when --runtime onnx is asked for without the optional packages."""
    if config.inference.runtime == "onnx":
        from .onnx_runtime import require_onnx

        require_onnx()


def scoring_settings(config: CodeConfig) -> ScoringSettings:
    w = config.segmentation.window
    return ScoringSettings(window_unit=w.unit, window_size=w.size, window_overlap=w.overlap, chunk_windows=config.inference.chunk_windows,
                           strip_end_marks=config.segmentation.strip_end_marks)


def plan_inputs(config: CodeConfig, store: Any) -> tuple[str, InputPlan | None, list[SegmentItem] | None]:
    inp = config.input
    if inp.table:
        return "table", None, read_segment_table(resolve_input_path(inp.table))
    if inp.documents:
        paths = [resolve_input_path(p) for p in inp.documents]
        if len(paths) == 1 and is_table(paths[0]):
            return "table", None, read_segment_table(paths[0])
        return "files", plan_files(paths, store, inp.firms), None
    if store is not None:
        return "store", plan_store(store, inp.firms, inp.doc_ids, inp.kinds), None
    raise InputError(config.path, "nothing to code", hint="give --input (documents or a table of id, text) or --store with --firms")


def _document_stream(plan: InputPlan, config: CodeConfig, store: Any, progress: Progress) -> Iterator[SegmentItem]:
    seg = config.segmentation
    progress.documents(len(plan.documents))
    for source in plan.documents:
        try:
            items = list(document_items(source, seg.unit, seg.min_chars, store))
        except InputError as exc:
            if source.path is None:
                raise
            plan.skipped.append(f"{source.path}: {exc.message}" + (f" ({exc.hint})" if exc.hint else ""))
            progress.document_done()
            continue
        progress.found(len(items))
        yield from items
        progress.document_done()


def register_run(store: Any, ref: ModelRef) -> bool:
    """Record the model run in the store (needed for its codings); True if it was added now."""
    if store.model_run(ref.run_id) is not None:
        return False
    store.add_model_run(
        ref.run_id,
        path=str(ref.model_dir),
        base_model=ref.base_model or ref.kind,
        config={"registered_by": "groundcoder code", "kind": ref.kind, "fingerprint": ref.fingerprint},
        metrics=ref.metrics,
    )
    return True


def run_code(config: CodeConfig, *, console: Any = None, log: Callable[[str], None] | None = None) -> CodeResult:
    """Run the auto-coding job of ``config`` (see the module doc)."""
    from .. import tables

    log = log or (lambda _: None)
    started = time.perf_counter()
    check_runtime(config)
    out_dir = Path(config.output.folder)
    store = open_store(config)
    try:
        kind, plan, table_items = plan_inputs(config, store)
        t0 = time.perf_counter()
        ref = resolve_model(config.model, runs_dir=config.runs_dir, store=store)
        coder, runtime_info = make_coder(config, ref, log, console)
        load_seconds = time.perf_counter() - t0
        labels = coder.labels
        writes = store is not None and config.output.write_store and kind != "table" and (
            kind == "store" or any(d.stored for d in plan.documents)  # type: ignore[union-attr]
        )
        store_info: dict[str, Any] = {"path": str(store.path) if store is not None else None, "written": bool(writes)}
        if store is not None:
            latest = store.latest_codebook()
            if latest is not None:
                from ..codebook import Codebook

                store_info["codebook_matches_model"] = Codebook.from_yaml_text(latest.yaml_text).hash == labels.codebook_hash
        if writes:
            store_info["run_registered_now"] = register_run(store, ref)
        progress = Progress(config.output.progress, console)
        rows: list[tuple[Any, ...]] = []
        firms = FirmSummary(labels.main_categories)
        added = offered = windows = long_segments = 0
        coding_started = time.perf_counter()
        try:
            if table_items is not None:
                progress.found(len(table_items))
                items: Any = iter(table_items)
            else:
                items = _document_stream(plan, config, store, progress)  # type: ignore[arg-type]
            pending_doc, pending = None, []
            for result in code_segments(items, coder, top_k=config.inference.top_k, settings=scoring_settings(config), on_scored=progress.scored):
                rows.extend(suggestion_rows(result, ref.run_id))
                firms.add(result)
                windows += result.windows
                long_segments += result.windows > 1
                if writes:
                    if result.item.doc_id != pending_doc and pending:
                        offered += len(pending)
                        added += store.add_codings(pending)
                        pending = []
                    pending_doc = result.item.doc_id
                    pending.extend(model_codings(result, config.output.coder_id, ref.run_id))
            if writes and pending:
                offered += len(pending)
                added += store.add_codings(pending)
        finally:
            progress.close()
        coding_seconds = time.perf_counter() - coding_started
        totals = firms.totals()
        if totals["segments"] == 0:
            skipped = "; ".join(plan.skipped[:5]) if plan is not None else ""
            raise InputError(None, "no segments were coded" + (f" ({skipped})" if skipped else ""), hint="check the input documents")

        files: dict[str, str] = {}
        csv_path = tables.write_csv(_frame(rows), out_dir / "suggestions.csv")
        files["suggestions_csv"] = str(csv_path)
        if config.output.xlsx:
            if len(rows) <= _EXCEL_MAX_ROWS:
                files["suggestions_xlsx"] = str(tables.write_xlsx({"suggestions": _frame(rows)}, out_dir / "suggestions.xlsx"))
            else:
                files["suggestions_xlsx"] = None  # type: ignore[assignment]
        firm_rows = firms.rows()
        files["firm_summary_csv"] = str(tables.write_csv(firm_rows, out_dir / "firm_summary.csv"))
        if config.output.xlsx:
            files["firm_summary_xlsx"] = str(tables.write_xlsx({"firm_summary": firm_rows}, out_dir / "firm_summary.xlsx"))
        if writes:
            store_info.update({"coder_id": config.output.coder_id, "codings_added": added, "codings_already_stored": offered - added})
        seconds = time.perf_counter() - started
        summary = {
            "command": "groundcoder code",
            "groundcoder_version": __version__,
            "finished_at": _now(),
            "model": {**ref.to_json(), **coder.describe()},
            "runtime": runtime_info,
            "input": {
                "kind": kind,
                "documents": len(plan.documents) if plan is not None else None,
                "table_rows": len(table_items) if table_items is not None else None,
                "skipped": plan.skipped if plan is not None else [],
                "not_in_store": plan.unstored if plan is not None else [],
                "not_in_store_hint": "their suggestions are in the tables only; `groundcoder ingest` them to keep suggestions in the store"
                if plan is not None and plan.unstored else None,
            },
            "segmentation": {
                "unit": config.segmentation.unit if kind != "table" else "row",
                "window": {"unit": config.segmentation.window.unit, "size": config.segmentation.window.size, "overlap": config.segmentation.window.overlap},
                "windows": windows,
                "segments_with_several_windows": long_segments,
                "merge_rule": "a concept's probability for a segment is the max over its windows",
                "strip_end_marks": config.segmentation.strip_end_marks,
            },
            "totals": totals,
            "top_k": config.inference.top_k,
            "thresholds": "one for all: %s" % config.inference.threshold if config.inference.threshold is not None else "the model's calibrated per-concept thresholds",
            "store": store_info,
            "timing": {
                "seconds": round(seconds, 3),
                "model_load_seconds": round(load_seconds, 3),
                "coding_seconds": round(coding_seconds, 3),
                "segments_per_second": round(totals["segments"] / coding_seconds, 2) if coding_seconds > 0 else None,
            },
            "outputs": files,
            "config": config.to_dict(),
        }
        files["summary"] = str(write_json(out_dir / SUMMARY_NAME, summary))
        return CodeResult(out_dir, ref.run_id, str(runtime_info.get("runtime")), totals["segments"], totals["coded_segments"],
                          totals["suggestions"], seconds, files, summary, rows)
    finally:
        if store is not None:
            store.close()


def _frame(rows: Sequence[tuple[Any, ...]]) -> Any:
    import pandas as pd

    return pd.DataFrame.from_records(list(rows), columns=list(SUGGESTION_COLUMNS))


def results_frame(results: Sequence[SegmentResult], model_id: str) -> Any:
    """A DataFrame of ``results`` in the ``suggestions.csv`` layout (for API users)."""
    rows: list[tuple[Any, ...]] = []
    for r in results:
        rows.extend(suggestion_rows(r, model_id))
    return _frame(rows)


def main(argv: Sequence[str] | None = None) -> int:
    """``python inference/code.py [--config configs/code.yaml] [key=value ...]``."""
    import argparse
    import sys

    import yaml

    parser = argparse.ArgumentParser(prog="inference/code.py", description="Auto-code documents with a trained groundcoder model.")
    parser.add_argument("--config", default=None, help="auto-coding config (default: configs/code.yaml)")
    parser.add_argument("overrides", nargs="*", help="dotted overrides, e.g. inference.runtime=onnx input.store=project.sqlite")
    args = parser.parse_args(argv)
    overrides = {}
    for item in args.overrides:
        if "=" not in item:
            parser.error(f"override {item!r} is not key=value")
        key, value = item.split("=", 1)
        overrides[key] = yaml.safe_load(value)
    try:
        config = load_code_config(args.config, overrides)
        result = run_code(config)
    except GroundcoderError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"coded {result.segments} segments ({result.coded_segments} with suggestions) with {result.run_id} [{result.runtime}]; "
          f"summary: {result.files['summary']}")
    return 0
