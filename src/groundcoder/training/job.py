"""The training job: data -> firm-grouped splits -> BERT and baseline -> evaluation -> artifacts -> gate.

``run_training(config)`` (``groundcoder train --config configs/train.yaml``, ``python
training/train.py --config ...``) does, for the output fold (or every fold with
``evaluation.folds: all``):

1. trains the TF-IDF baseline and the BERT classifier on the training firms, calibrates both on the
   validation firms (temperature, per-concept thresholds) and scores both on validation and test firms;
2. chooses the run's model (``select``: the better on validation by ``select_metric``, or fixed);
3. writes ``<runs>/<run_id>/``: ``model/`` (the chosen model's saved folder: safetensors, tokenizer,
   labels.json with the codebook hash, calibration.json), ``config.yaml`` (the resolved config),
   ``metrics.json``, ``per_label.csv/.xlsx``, ``report.md`` and ``report.html`` (plots),
   ``MODEL_CARD.md``, ``summary.json`` and, last, ``run.json``;
4. gates it: it becomes the project's current model only if it is not worse than the current one on
   this run's test split (``groundcoder.training.registry``).

Reproducible: the same config and data give the same metrics (seeded splits, negatives, models).
Resumable: work in progress lives in ``<run_id>/work/`` (finished fold models and the BERT's
checkpoints, see ``BertConceptClassifier.fit(checkpoint_dir=...)``); running the same config again
finds the unfinished run with the same config and data and continues it, ending with the same
result as an uninterrupted run.
"""

from __future__ import annotations

import hashlib
import json
import random
import shutil
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from ..atomic import atomic_path, write_json, write_text
from ..errors import GroundcoderError, InputError
from .config import TrainConfig, resolve_path
from .data import DataSummary, TrainingExample, build_examples, data_fingerprint, label_sets, texts
from .evaluation import Evaluation, ModelOutputs, evaluate, outputs_of
from .registry import MODEL_SUBDIR, GateDecision, RunRecord, RunRegistry, decide, now
from .splits import FirmSplit, make_splits

KINDS = ("bert", "baseline")
METRICS_FORMAT = "groundcoder.train-metrics/1"
STATE_FILE = "job_state.json"
WORK_DIR = "work"


@dataclass
class FoldModelResult:
    kind: str
    fold: int
    n_train: int
    n_val: int
    n_test: int
    train_seconds: float
    examples_per_second: float
    calibration: dict[str, Any]
    history: dict[str, Any] | None
    validation: Evaluation
    test: Evaluation
    test_outputs: ModelOutputs
    val_outputs: ModelOutputs
    model_dir: Path

    def to_dict(self) -> dict[str, Any]:
        return {
            "fold": self.fold,
            "n_train": self.n_train,
            "n_val": self.n_val,
            "n_test": self.n_test,
            "train_seconds": self.train_seconds,
            "examples_per_second": self.examples_per_second,
            "calibration": self.calibration,
            "history": self.history,
            "validation": self.validation.to_dict(),
            "test": self.test.to_dict(),
        }


@dataclass
class TrainRunResult:
    run_id: str
    run_dir: Path
    selected: str
    selection: dict[str, Any]
    gate: GateDecision
    metrics: dict[str, Any]
    data: DataSummary
    splits: list[FirmSplit]
    results: dict[str, list[FoldModelResult]]
    files: dict[str, str] = field(default_factory=dict)
    resumed: bool = False
    seconds: float = 0.0

    @property
    def model_dir(self) -> Path:
        return self.run_dir / MODEL_SUBDIR

    def evaluation(self, kind: str | None = None, part: str = "test") -> Evaluation:
        """The output fold's evaluation of a model (the chosen one by default)."""
        kind = kind or self.selected
        output_fold = self.metrics["splits"]["output_fold"]
        for r in self.results[kind]:
            if r.fold == output_fold:
                return r.test if part == "test" else r.validation
        raise KeyError(kind)


class _Log:
    """Status lines and spinners on the console (nothing without one)."""

    def __init__(self, console: Any, enabled: bool) -> None:
        self.console = console
        self.enabled = enabled

    def __call__(self, message: str) -> None:
        if self.console is not None:
            self.console.print(message)

    def stage(self, message: str) -> Any:
        """A spinner while a step of a few seconds runs (scoring, the gate, the report)."""
        import contextlib

        if self.console is None or not self.enabled:
            return contextlib.nullcontext()
        return self.console.status(message)


# --------------------------------------------------------------------------------------------------
# Data


def load_training_data(config: TrainConfig, codebook: Any) -> tuple[list[TrainingExample], DataSummary]:
    """The config's training examples (quotes + negatives) and what was read."""
    from .data import load_demo_quotes, load_quotes, load_store_quotes

    data = config.data
    coders = list(data.coders) or None
    if data.source == "demo":
        root = resolve_path(data.path) if data.path else None
        quotes = load_demo_quotes(codebook, root, samples=list(data.samples) or None, coders=coders)
    elif data.source == "store":
        quotes = load_store_quotes(resolve_path(data.path), codebook, coders=coders)  # type: ignore[arg-type]
    else:
        documents = resolve_path(data.documents) if data.documents else None
        quotes = load_quotes(resolve_path(data.path), codebook, documents=documents, coders=coders)  # type: ignore[arg-type]
    if not quotes.rows:
        raise InputError(quotes.source, "no coded quotes to train on", hint="check data.coders and data.samples")
    examples, summary = build_examples(quotes, data.negatives, seed=config.run.seed)
    if data.max_examples is not None and len(examples) > data.max_examples:
        rng = random.Random(config.run.seed)
        keep = sorted(rng.sample(range(len(examples)), data.max_examples))
        examples = [examples[i] for i in keep]
        summary.notes.append(f"capped at data.max_examples = {data.max_examples} examples (seeded sample)")
        summary.examples = len(examples)
        summary.positives = sum(1 for e in examples if e.concepts)
        summary.negatives = len(examples) - summary.positives
        summary.multi_label = sum(1 for e in examples if len(e.concepts) > 1)
        summary.firms = len({e.firm_id for e in examples})
        summary.documents = len({e.doc_id for e in examples if e.doc_id})
        counts = Counter(c for e in examples for c in e.concepts)
        summary.concept_counts = dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))
    return examples, summary


def load_codebook(config: TrainConfig) -> Any:
    from ..codebook import Codebook

    if config.data.codebook:
        return Codebook.load(resolve_path(config.data.codebook))
    if config.data.source == "store":
        from ..store import ProjectStore

        with ProjectStore.open(resolve_path(config.data.path), create=False) as store:  # type: ignore[arg-type]
            latest = store.latest_codebook()
        if latest is not None:
            return Codebook.from_yaml_text(latest.yaml_text)
    return Codebook.default()


# --------------------------------------------------------------------------------------------------
# Run folders


def _config_hash(config: TrainConfig) -> str:
    data = config.to_dict()
    data["run"] = {k: v for k, v in data["run"].items() if k not in ("run_id", "name", "progress")}
    return hashlib.sha256(json.dumps(data, sort_keys=True, ensure_ascii=False).encode("utf-8")).hexdigest()


def _open_run(runs_dir: Path, config: TrainConfig, fingerprint: str, codebook_hash: str, log: _Log) -> tuple[str, Path, bool]:
    """(run_id, run_dir, resumed): an unfinished run with the same config and data is continued."""
    config_hash = _config_hash(config)
    state = {"config_hash": config_hash, "data_fingerprint": fingerprint, "codebook_hash": codebook_hash}
    if config.run.run_id:
        run_id = config.run.run_id
        run_dir = runs_dir / run_id
        if (run_dir / "run.json").exists():
            raise InputError(run_dir, f"run {run_id!r} already finished", hint="give a new run.run_id, or leave it empty")
        if (run_dir / STATE_FILE).exists():
            previous = json.loads((run_dir / STATE_FILE).read_text(encoding="utf-8"))
            if {k: previous.get(k) for k in state} != state:
                raise InputError(
                    run_dir,
                    f"run {run_id!r} was started with another config, data or codebook; resuming it would mix two runs",
                    hint="give a new run.run_id, or delete the unfinished run folder",
                )
            log(f"resuming run {run_id}")
            return run_id, run_dir, True
    else:
        if runs_dir.is_dir():
            for state_path in sorted(runs_dir.glob(f"*/{STATE_FILE}"), reverse=True):
                if (state_path.parent / "run.json").exists():
                    continue
                try:
                    previous = json.loads(state_path.read_text(encoding="utf-8"))
                except json.JSONDecodeError:
                    continue
                if {k: previous.get(k) for k in state} == state:
                    log(f"resuming the unfinished run {state_path.parent.name} (same config and data)")
                    return state_path.parent.name, state_path.parent, True
        stamp = datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S")
        run_id = f"{config.run.name or 'run'}-{stamp}"
        suffix = 1
        while (runs_dir / run_id).exists():
            suffix += 1
            run_id = f"{config.run.name or 'run'}-{stamp}-{suffix}"
        run_dir = runs_dir / run_id
    run_dir.mkdir(parents=True, exist_ok=True)
    write_text(run_dir / "config.yaml", config.to_yaml())
    write_json(run_dir / STATE_FILE, {**state, "run_id": run_id, "started_at": now()})
    return run_id, run_dir, False


# --------------------------------------------------------------------------------------------------
# One model on one fold


def _bert_settings(config: TrainConfig) -> Any:
    from ..classifier.modeling import TrainSettings

    settings = dict(config.model.settings)
    settings.setdefault("seed", config.run.seed)
    try:
        return TrainSettings.for_base_model(resolve_base_model(config.model.base_model), **settings)
    except TypeError as exc:
        raise InputError(config.path, f"model.settings: {exc}", hint="see TrainSettings in groundcoder.classifier") from exc


def _warn_about_settings(config: TrainConfig, log: _Log) -> None:
    from ..classifier.compact import has_weights

    base = resolve_base_model(config.model.base_model)
    pretrained = not Path(base).is_dir() or has_weights(base)
    lr = _bert_settings(config).lr
    if pretrained and lr >= 1e-4:
        log(f"[yellow]warning:[/yellow] model.settings lr {lr:g} suits training the compact model from scratch; "
            "fine-tuning a pretrained checkpoint usually wants lr 2e-5..5e-5 and 3-4 epochs "
            "(delete lr and epochs from model.settings to get those defaults)")


def resolve_base_model(base: str) -> str:
    """A local folder (relative to here or the project home) or, failing that, a Hugging Face id."""
    path = resolve_path(base)
    return str(path) if path.exists() else base


def _save_outputs(path: Path, outputs: ModelOutputs) -> None:
    from safetensors.numpy import save_file

    tensors = {"probs": outputs.probs.astype(np.float64), "decisions": outputs.decisions.astype(np.uint8)}
    if outputs.probs_uncalibrated is not None:
        tensors["probs_uncalibrated"] = outputs.probs_uncalibrated.astype(np.float64)
    with atomic_path(path, suffix=".safetensors") as tmp:
        save_file({k: np.ascontiguousarray(v) for k, v in tensors.items()}, str(tmp))


def _load_outputs(path: Path) -> ModelOutputs:
    from safetensors.numpy import load_file

    t = load_file(str(path))
    return ModelOutputs(t["probs"], t["decisions"].astype(bool), t.get("probs_uncalibrated"))


def _fold_model(
    kind: str,
    fold: int,
    split: FirmSplit,
    examples: Sequence[TrainingExample],
    config: TrainConfig,
    labels: Any,
    work: Path,
    log: _Log,
    on_step: Callable[[Any], None] | None,
) -> FoldModelResult:
    folder = work / f"fold-{fold}" / kind
    done = folder / "result.json"
    train, val, test = split.part(examples, "train"), split.part(examples, "val"), split.part(examples, "test")
    ev = config.evaluation
    if done.exists():
        info = json.loads(done.read_text(encoding="utf-8"))
        log(f"fold {fold} {kind}: finished earlier, reusing it")
        val_outputs = _load_outputs(folder / "val_outputs.safetensors")
        test_outputs = _load_outputs(folder / "test_outputs.safetensors")
    else:
        log(f"fold {fold}: training {kind} on {len(train)} examples of {len(split.train_firms)} firms "
            f"(validation {len(val)} / {len(split.val_firms)} firms, test {len(test)} / {len(split.test_firms)} firms)")
        started = time.perf_counter()
        history = None
        if kind == "baseline":
            from .baseline import TfidfBaseline

            model: Any = TfidfBaseline(labels, config.baseline, seed=config.run.seed)
            model.fit(texts(train), label_sets(train), progress=config.run.progress)
            train_seconds = time.perf_counter() - started
            if config.baseline.calibrate and val:
                model.calibrate(texts(val), label_sets(val))
            examples_per_second = len(train) / train_seconds if train_seconds > 0 else 0.0
        else:
            from ..classifier.modeling import BertConceptClassifier

            model = BertConceptClassifier(labels, base_model=resolve_base_model(config.model.base_model), settings=_bert_settings(config))
            fit_history = model.fit(
                texts(train),
                label_sets(train),
                val_texts=texts(val) if val else None,
                val_label_sets=label_sets(val) if val else None,
                checkpoint_dir=folder / "checkpoints",
                progress=config.run.progress,
                on_step=on_step,
            )
            history = fit_history.to_dict()
            train_seconds = float(fit_history.seconds)
            examples_per_second = float(fit_history.examples_per_s)
            if config.model.calibrate and val:
                model.calibrate(texts(val), label_sets(val))
        model.save_pretrained(folder / "model")
        with log.stage(f"fold {fold}: {kind} scoring {len(val)} validation and {len(test)} test examples"):
            val_outputs = outputs_of(model, texts(val))
            test_outputs = outputs_of(model, texts(test))
        _save_outputs(folder / "val_outputs.safetensors", val_outputs)
        _save_outputs(folder / "test_outputs.safetensors", test_outputs)
        info = {
            "train_seconds": round(train_seconds, 3),
            "examples_per_second": round(examples_per_second, 2),
            "calibration": model.calibration.to_dict(),
            "history": history,
        }
        write_json(done, info)
        if (folder / "checkpoints").exists():
            shutil.rmtree(folder / "checkpoints", ignore_errors=True)
    return FoldModelResult(
        kind=kind,
        fold=fold,
        n_train=len(train),
        n_val=len(val),
        n_test=len(test),
        train_seconds=info["train_seconds"],
        examples_per_second=info["examples_per_second"],
        calibration=info["calibration"],
        history=info.get("history"),
        validation=evaluate(labels, label_sets(val), val_outputs, ev.top_k, ev.ece_bins),
        test=evaluate(labels, label_sets(test), test_outputs, ev.top_k, ev.ece_bins),
        test_outputs=test_outputs,
        val_outputs=val_outputs,
        model_dir=folder / "model",
    )


# --------------------------------------------------------------------------------------------------
# The job


def run_training(
    config: TrainConfig,
    *,
    console: Any = None,
    on_step: Callable[[Any], None] | None = None,
) -> TrainRunResult:
    """Run the training job described by ``config`` (see the module docstring)."""
    from ..classifier.labels import LabelSpace

    started = time.perf_counter()
    log = _Log(console, config.run.progress)
    codebook = load_codebook(config)
    labels = LabelSpace.from_codebook(codebook)
    with log.stage("reading the training data"):
        examples, summary = load_training_data(config, codebook)
    log(f"data: {summary.positives} coded examples ({summary.multi_label} multi-label, {summary.merged_duplicates} duplicate "
        f"quotes merged), {summary.negatives} 'no code' sentences, {summary.firms} firms")
    splits = make_splits(examples, config.splits, config.run.seed)
    output_fold = config.evaluation.output_fold
    if not 0 <= output_fold < len(splits):
        raise InputError(config.path, f"evaluation.output_fold is {output_fold}, but there are {len(splits)} split(s)",
                         hint=f"use 0..{len(splits) - 1}")
    folds = list(range(len(splits))) if config.evaluation.folds == "all" else [output_fold]
    kinds = [k for k in KINDS if (config.model.enabled if k == "bert" else config.baseline.enabled)]
    if "bert" in kinds:
        _warn_about_settings(config, log)

    runs_dir = resolve_path(config.run.output_dir)
    fingerprint = data_fingerprint(examples)
    run_id, run_dir, resumed = _open_run(runs_dir, config, fingerprint, codebook.hash, log)
    work = run_dir / WORK_DIR

    results: dict[str, list[FoldModelResult]] = {k: [] for k in kinds}
    for fold in folds:
        for kind in kinds:
            results[kind].append(_fold_model(kind, fold, splits[fold], examples, config, labels, work, log, on_step))

    # ---- choose the run's model
    by_fold = {k: {r.fold: r for r in results[k]} for k in kinds}
    selection: dict[str, Any] = {"by": config.select, "metric": config.select_metric, "validation": {}}
    for k in kinds:
        selection["validation"][k] = by_fold[k][output_fold].validation.metric(config.select_metric)
    if config.select == "validation" and len(kinds) == 2:
        bert_v, base_v = selection["validation"]["bert"], selection["validation"]["baseline"]
        selected = "bert" if (bert_v is not None and (base_v is None or bert_v > base_v)) else "baseline"
        selection["rule"] = "the better on the validation firms; the baseline on a tie"
    elif config.select in KINDS:
        selected = config.select
    else:
        selected = kinds[0]
    log(f"selected: {selected} ({config.select_metric} on validation: "
        + ", ".join(f"{k} {_fmt(v)}" for k, v in selection["validation"].items()) + ")")

    # ---- metrics
    split = splits[output_fold]
    test_examples = split.part(examples, "test")
    metrics = _metrics(config, run_id, codebook, summary, splits, folds, results, labels, examples, selected, selection, fingerprint)

    # ---- gate
    chosen = by_fold[selected][output_fold]
    new_value = chosen.test.metric(config.gate.metric)
    registry = RunRegistry(runs_dir, _store_path(config))
    with log.stage("gate: scoring the current model on this run's test firms"):
        decision = decide(
            registry,
            metric=config.gate.metric,
            tolerance=config.gate.tolerance,
            new_value=new_value,
            test_texts=texts(test_examples),
            test_label_sets=label_sets(test_examples),
            test_firms=split.test_firms,
            codebook=codebook,
            labels=labels,
            enabled=config.gate.enabled,
            force=config.gate.force,
            top_k=config.evaluation.top_k,
            ece_bins=config.evaluation.ece_bins,
        )
    metrics["gate"] = decision.to_dict()
    from rich.markup import escape

    log(("[green]gate: accepted[/green] " if decision.accepted else "[yellow]gate: refused[/yellow] ") + escape(decision.reason))

    # ---- artifacts
    model_dir = run_dir / MODEL_SUBDIR
    if model_dir.exists():
        shutil.rmtree(model_dir)
    shutil.copytree(chosen.model_dir, model_dir)
    with log.stage("writing metrics, report and model card"):
        files = _write_artifacts(run_dir, config, metrics, results, labels, selected, codebook, summary, splits)
    elapsed = time.perf_counter() - started
    run_result = TrainRunResult(run_id, run_dir, selected, selection, decision, metrics, summary, splits, results, files, resumed, elapsed)
    record = RunRecord(
        run_id=run_id,
        path=str(model_dir),
        kind=selected,
        base_model=resolve_base_model(config.model.base_model) if selected == "bert" else "tfidf-logreg",
        created_at=now(),
        codebook_hash=codebook.hash,
        split_signature=split.signature(),
        train_firms=sorted(split.train_firms + split.val_firms),
        test_firms=list(split.test_firms),
        metrics=chosen.test.summary(),
        gate=decision.to_dict(),
        made_current=decision.accepted,
    )
    summary_json = _summary_json(run_result, record)
    write_json(run_dir / "summary.json", summary_json)
    files["summary"] = str(run_dir / "summary.json")
    registry.record(record, config.to_dict())
    files["history"] = str(runs_dir / "history.csv")
    shutil.rmtree(work, ignore_errors=True)
    log(f"run {run_id}: {run_dir} ({elapsed:.0f} s)")
    return run_result


def _store_path(config: TrainConfig) -> Path | None:
    if config.run.store:
        return resolve_path(config.run.store)
    if config.data.source == "store" and config.data.path:
        return resolve_path(config.data.path)
    return None


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.4f}"


def _cross_validation(results: list[FoldModelResult]) -> dict[str, Any]:
    keys = [
        "concept.micro_f1", "concept.macro_f1", "initial_category.micro_f1", "initial_category.macro_f1",
        "main_category.micro_f1", "main_category.macro_f1", "no_code.f1", "calibration.ece_after",
    ]
    out: dict[str, Any] = {"folds": len(results), "mean": {}, "std": {}, "per_fold": {}}
    for key in keys:
        values = [r.test.metric(key) for r in results]
        values = [v for v in values if v is not None]
        out["per_fold"][key] = values
        if values:
            out["mean"][key] = float(np.mean(values))
            out["std"][key] = float(np.std(values))
    return out


def _metrics(
    config: TrainConfig,
    run_id: str,
    codebook: Any,
    summary: DataSummary,
    splits: list[FirmSplit],
    folds: list[int],
    results: dict[str, list[FoldModelResult]],
    labels: Any,
    examples: Sequence[TrainingExample],
    selected: str,
    selection: dict[str, Any],
    fingerprint: str,
) -> dict[str, Any]:
    ev = config.evaluation
    models: dict[str, Any] = {}
    for kind, fold_results in results.items():
        entry: dict[str, Any] = {
            "base_model": resolve_base_model(config.model.base_model) if kind == "bert" else "tfidf-logreg",
            "folds": [r.to_dict() for r in fold_results],
        }
        out = next(r for r in fold_results if r.fold == ev.output_fold)
        entry["test"] = out.test.to_dict()
        entry["validation"] = out.validation.to_dict()
        if len(fold_results) > 1:
            pooled_truth = [s for r in fold_results for s in label_sets(splits[r.fold].part(examples, "test"))]
            pooled = evaluate(labels, pooled_truth, ModelOutputs.concatenate([r.test_outputs for r in fold_results]), ev.top_k, ev.ece_bins)
            entry["pooled_test"] = pooled.to_dict()
            entry["cross_validation"] = _cross_validation(fold_results)
        models[kind] = entry
    return {
        "format": METRICS_FORMAT,
        "run_id": run_id,
        "created_at": now(),
        "codebook_hash": codebook.hash,
        "codebook_title": getattr(codebook, "title", ""),
        "data_fingerprint": fingerprint,
        "data": summary.to_dict(),
        "splits": {
            "strategy": config.splits.strategy,
            "output_fold": ev.output_fold,
            "evaluated_folds": folds,
            "folds": [s.to_dict() for s in splits],
        },
        "selected": selected,
        "selection": selection,
        "models": models,
        "notes": {
            "macro": "macro averages are over the labels present in the evaluated examples (support > 0)",
            "top_k": "share of examples with a human code whose k best-scoring labels include one of them",
            "ece": "every (example, concept) probability is one forecast; equal-width bins",
        },
    }


def _write_artifacts(
    run_dir: Path,
    config: TrainConfig,
    metrics: dict[str, Any],
    results: dict[str, list[FoldModelResult]],
    labels: Any,
    selected: str,
    codebook: Any,
    summary: DataSummary,
    splits: list[FirmSplit],
) -> dict[str, str]:
    from ..tables import write_xlsx, write_csv
    from .model_card import write_model_card
    from .report import write_report

    files: dict[str, str] = {}
    write_json(run_dir / "metrics.json", metrics)
    files["metrics"] = str(run_dir / "metrics.json")
    # Per-label table: every model, level and label of the output fold's test split.
    rows = []
    for kind, entry in metrics["models"].items():
        for level in ("concept", "initial_category", "main_category"):
            for item in entry["test"][level]["per_label"]:
                rows.append({"model": kind, "level": level, **item})
    write_csv(rows, run_dir / "per_label.csv")
    by_level = {level: [r for r in rows if r["level"] == level] for level in ("concept", "initial_category", "main_category")}
    write_xlsx(by_level, run_dir / "per_label.xlsx")
    files["per_label"] = str(run_dir / "per_label.csv")
    if config.evaluation.report:
        files.update(write_report(run_dir, metrics, labels))
    files["model_card"] = str(write_model_card(run_dir, config, metrics, codebook))
    files["config"] = str(run_dir / "config.yaml")
    files["model"] = str(run_dir / MODEL_SUBDIR)
    return files


def _summary_json(result: TrainRunResult, record: RunRecord) -> dict[str, Any]:
    headline = {}
    for kind, entry in result.metrics["models"].items():
        test = entry["test"]
        headline[kind] = {
            level: {"micro_f1": test[level]["micro_f1"], "macro_f1": test[level]["macro_f1"]}
            for level in ("concept", "initial_category", "main_category")
        }
        headline[kind]["no_code_f1"] = test["no_code"]["f1"]
        headline[kind]["ece_after"] = test["calibration"]["ece_after"]
        if "cross_validation" in entry:
            headline[kind]["cross_validation_mean"] = entry["cross_validation"]["mean"]
    return {
        "command": "train",
        "run_id": result.run_id,
        "run_dir": str(result.run_dir),
        "model_dir": str(result.model_dir),
        "selected": result.selected,
        "made_current": record.made_current,
        "gate": result.gate.to_dict(),
        "resumed": result.resumed,
        "seconds": round(result.seconds, 1),
        "test_metrics": headline,
        "data": {k: v for k, v in result.data.to_dict().items() if k != "concept_counts"},
        "files": result.files,
    }


def print_run_summary(result: TrainRunResult, console: Any) -> None:
    """The run's headline numbers as a table, and where everything was written."""
    from rich.table import Table

    table = Table(title=f"run {result.run_id}: test firms of split {result.metrics['splits']['output_fold']}")
    table.add_column("model")
    for level in ("concept", "initial", "main"):
        table.add_column(f"{level} micro F1", justify="right")
        table.add_column(f"{level} macro F1", justify="right")
    table.add_column("no-code F1", justify="right")
    table.add_column("ECE after", justify="right")
    for kind, entry in result.metrics["models"].items():
        t = entry["test"]
        cells = []
        for level in ("concept", "initial_category", "main_category"):
            cells += [_fmt(t[level]["micro_f1"]), _fmt(t[level]["macro_f1"])]
        name = kind + (" *" if kind == result.selected else "")
        table.add_row(name, *cells, _fmt(t["no_code"]["f1"]), _fmt(t["calibration"]["ece_after"]))
    console.print(table)
    console.print(f"* selected ({result.selection['by']}); "
                  + ("made the project's current model" if result.gate.accepted else "NOT made current")
                  + f": {result.gate.reason}", markup=False)
    console.print(f"model: {result.model_dir}", markup=False)
    console.print(f"report: {result.files.get('report_html', '-')}; card: {result.files.get('model_card')}; "
                  f"summary: {result.files.get('summary')}", markup=False)


# --------------------------------------------------------------------------------------------------
# Pretraining


@dataclass
class PretrainRunResult:
    out_dir: Path
    n_texts: int
    n_eval_texts: int
    result: dict[str, Any]
    summary_path: Path


def collect_texts(sources: Sequence[str], min_chars: int = 8) -> list[tuple[str, str]]:
    """(document name, paragraph) of every ``*.txt`` under the given folders or files, in path order."""
    from ..segmentation import split_paragraphs

    out: list[tuple[str, str]] = []
    for source in sources:
        path = resolve_path(source)
        if not path.exists():
            raise InputError(path, "no such folder or file of unlabelled texts", hint="fix texts: in the pretraining config")
        files = [path] if path.is_file() else sorted(path.rglob("*.txt"))
        for file in files:
            try:
                text = file.read_text(encoding="utf-8")
            except UnicodeDecodeError as exc:
                raise InputError(file, f"is not UTF-8 text ({exc.reason})", hint="convert it to UTF-8 or ingest it first") from exc
            for p in split_paragraphs(text):
                if len(p.text) >= min_chars:
                    out.append((str(file), p.text))
    return out


def run_pretraining(config: Any, *, console: Any = None) -> PretrainRunResult:
    """``groundcoder pretrain``: MLM pretraining on folders of unlabelled reports (document-level held-out split)."""
    from ..classifier.pretrain import PretrainSettings, mlm_pretrain

    log = _Log(console, config.progress)
    pieces = collect_texts(list(config.texts), config.min_chars)
    if not pieces:
        raise InputError(None, "no text found for pretraining", hint="texts: names folders of *.txt files")
    documents = sorted({name for name, _ in pieces})
    rng = random.Random(config.seed)
    shuffled = documents[:]
    rng.shuffle(shuffled)
    n_eval = max(1, round(config.eval_fraction * len(documents))) if config.eval_fraction > 0 and len(documents) > 1 else 0
    eval_docs = set(shuffled[:n_eval])
    train_texts = [t for name, t in pieces if name not in eval_docs]
    eval_texts = [t for name, t in pieces if name in eval_docs]
    if config.max_texts is not None:
        train_texts = train_texts[: config.max_texts]
    settings_data = dict(config.settings)
    settings_data.setdefault("seed", config.seed)
    try:
        settings = PretrainSettings(**settings_data)
    except TypeError as exc:
        raise InputError(config.path, f"settings: {exc}", hint="see PretrainSettings in groundcoder.classifier.pretrain") from exc
    out_dir = resolve_path(config.output_dir)
    log(f"pretraining {resolve_base_model(config.base_model)} on {len(train_texts)} paragraphs of "
        f"{len(documents) - len(eval_docs)} documents ({len(eval_texts)} held-out paragraphs of {len(eval_docs)} documents)")
    result = mlm_pretrain(
        train_texts,
        base_model=resolve_base_model(config.base_model),
        out_dir=out_dir,
        settings=settings,
        eval_texts=eval_texts or None,
        progress=config.progress,
    )
    data = result.to_dict()
    summary = {
        "command": "pretrain",
        "out_dir": str(out_dir),
        "base_model": resolve_base_model(config.base_model),
        "n_train_texts": len(train_texts),
        "n_eval_texts": len(eval_texts),
        "n_documents": len(documents),
        "eval_documents": sorted(eval_docs),
        "result": data,
        "config": config.to_dict(),
    }
    summary_path = write_json(out_dir / "pretrain_summary.json", summary)
    if data.get("eval_loss_before") is not None:
        log(f"held-out MLM loss {data['eval_loss_before']:.3f} -> {data['eval_loss_after']:.3f}")
    log(f"pretrained model: {out_dir} (use it as model.base_model in configs/train.yaml)")
    return PretrainRunResult(out_dir, len(train_texts), len(eval_texts), data, summary_path)


def main(argv: Sequence[str] | None = None, command: str = "train") -> int:
    """``python training/train.py --config configs/train.yaml`` (and ``pretrain``)."""
    import argparse

    from rich.console import Console

    from ..paths import configs_dir
    from .config import load_pretrain_config, load_train_config

    parser = argparse.ArgumentParser(prog=f"training/{command}.py", description=f"groundcoder {command} job")
    parser.add_argument("--config", default=str(configs_dir() / f"{command}.yaml"), help="YAML config")
    args = parser.parse_args(argv)
    console = Console(stderr=True)
    try:
        if command == "train":
            result = run_training(load_train_config(args.config), console=console)
            print(json.dumps({"run_id": result.run_id, "run_dir": str(result.run_dir), "selected": result.selected,
                              "made_current": result.gate.accepted}, ensure_ascii=False))
        else:
            pre = run_pretraining(load_pretrain_config(args.config), console=console)
            print(json.dumps({"out_dir": str(pre.out_dir), **{k: pre.result.get(k) for k in ("eval_loss_before", "eval_loss_after")}}))
    except GroundcoderError as exc:
        console.print(f"error: {exc}", style="red", markup=False, highlight=False, soft_wrap=True)
        return 2
    return 0

