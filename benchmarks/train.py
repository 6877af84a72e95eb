"""Benchmark: training speed and firm-grouped accuracy of the compact BERT and the TF-IDF baseline on the demo corpus.

    python benchmarks/train.py                      # baseline on all 5 folds + the default job (BERT + baseline, fold 0)
    python benchmarks/train.py --bert-folds all     # BERT on all 5 folds as well (5x the BERT time)
    python benchmarks/train.py --threads 2 --json out.json

It runs the real job (``groundcoder.training.run_training``) with configs/train.yaml, writing runs to a
temporary folder (the project's models/runs and its current model are not touched), and prints:

* wall time of the whole default job (data, both models, calibration, evaluation, report, gate),
* per model: training examples/s (BERT: the classifier's own count over all epochs), training wall time,
  inference examples/s on the test firms,
* macro-F1 at initial-category level on held-out firms (train firms of the demo only; k-fold by firm):
  per fold, mean and standard deviation, and pooled over the folds' test firms.

The load average is printed before and after: on a shared machine the timings are only comparable within
one run. Not a test: nothing is asserted.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _load() -> str:
    try:
        return "/".join(f"{x:.1f}" for x in os.getloadavg())
    except OSError:
        return "n/a"


def _infer_speed(run_dir: Path, texts: list[str]) -> float:
    from groundcoder.training import load_model

    model = load_model(run_dir / "model")
    started = time.perf_counter()
    model.predict_proba(texts)
    return len(texts) / (time.perf_counter() - started)


def _fold_table(metrics: dict, kind: str) -> list[dict]:
    rows = []
    for fold in metrics["models"][kind]["folds"]:
        rows.append({
            "fold": fold["fold"],
            "n_train": fold["n_train"],
            "n_test": fold["n_test"],
            "train_seconds": fold["train_seconds"],
            "train_examples_per_s": fold["examples_per_second"],
            "initial_macro_f1": fold["test"]["initial_category"]["macro_f1"],
            "initial_micro_f1": fold["test"]["initial_category"]["micro_f1"],
            "concept_macro_f1": fold["test"]["concept"]["macro_f1"],
            "main_macro_f1": fold["test"]["main_category"]["macro_f1"],
            "no_code_f1": fold["test"]["no_code"]["f1"],
        })
    return rows


def _print_rows(title: str, rows: list[dict]) -> None:
    print(f"\n{title}")
    if not rows:
        return
    keys = list(rows[0])
    print("  " + "  ".join(f"{k:>20}" for k in keys))
    for r in rows:
        print("  " + "  ".join(f"{(f'{v:.4f}' if isinstance(v, float) else str(v)):>20}" for v in r.values()))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", default=str(REPO / "configs" / "train.yaml"))
    parser.add_argument("--bert-folds", choices=["one", "all"], default="one")
    parser.add_argument("--threads", type=int, default=2, help="torch threads (the target is 2 cores)")
    parser.add_argument("--epochs", type=int, default=None, help="override model.settings.epochs")
    parser.add_argument("--json", default=None, help="write the results here")
    parser.add_argument("--keep", action="store_true", help="keep the run folders (printed)")
    args = parser.parse_args(argv)

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import torch

    torch.set_num_threads(args.threads)
    from groundcoder.training import load_train_config, run_training
    from groundcoder.training.job import load_codebook, load_training_data

    results: dict = {"threads": args.threads, "load_before": _load()}
    print(f"load average before: {results['load_before']}; torch threads: {args.threads}")
    out = Path(tempfile.mkdtemp(prefix="gc-bench-train-"))
    quiet = {"run.progress": False, "run.output_dir": str(out), "gate.enabled": False, "evaluation.report": False}

    # 1. Baseline, every fold: cross-validated macro-F1 by firm.
    cfg = load_train_config(args.config, {**quiet, "model.enabled": False, "evaluation.folds": "all", "select": "baseline",
                                          "run.name": "bench-baseline"})
    codebook = load_codebook(cfg)
    examples, summary = load_training_data(cfg, codebook)
    print(f"data: {summary.positives} coded examples + {summary.negatives} negatives, {summary.firms} firms "
          f"({summary.source})")
    started = time.perf_counter()
    base_run = run_training(cfg)
    results["baseline_cv_wall_s"] = time.perf_counter() - started
    base_folds = _fold_table(base_run.metrics, "baseline")
    results["baseline_folds"] = base_folds
    results["baseline_cv"] = base_run.metrics["models"]["baseline"]["cross_validation"]
    results["baseline_pooled_initial_macro_f1"] = base_run.metrics["models"]["baseline"]["pooled_test"]["initial_category"]["macro_f1"]

    # 2. The default job: BERT + baseline on the output fold (or every fold).
    # select: bert keeps the BERT model for the inference timing; the validation choice is reported from metrics.
    overrides = {**quiet, "run.name": "bench-default", "evaluation.folds": args.bert_folds, "select": "bert"}
    if args.epochs is not None:
        overrides["model.settings.epochs"] = args.epochs
    cfg = load_train_config(args.config, overrides)
    started = time.perf_counter()
    job = run_training(cfg)
    results["default_job_wall_s"] = time.perf_counter() - started
    results["bert_settings"] = dict(cfg.model.settings)
    bert_folds = _fold_table(job.metrics, "bert")
    results["bert_folds"] = bert_folds
    if "cross_validation" in job.metrics["models"]["bert"]:
        results["bert_cv"] = job.metrics["models"]["bert"]["cross_validation"]
        results["bert_pooled_initial_macro_f1"] = job.metrics["models"]["bert"]["pooled_test"]["initial_category"]["macro_f1"]
    validation = {k: job.metrics["models"][k]["validation"]["initial_category"]["macro_f1"] for k in ("bert", "baseline")}
    results["validation_initial_macro_f1"] = validation
    results["validation_choice"] = "bert" if validation["bert"] > validation["baseline"] else "baseline"

    split = job.splits[job.metrics["splits"]["output_fold"]]
    test_texts = [e.text for e in split.part(examples, "test")]
    results["inference_examples_per_s"] = {
        "bert": _infer_speed(job.run_dir, test_texts),
        "baseline": _infer_speed(base_run.run_dir, test_texts),
    }
    results["load_after"] = _load()

    _print_rows("baseline (TF-IDF + logistic regression), every fold", base_folds)
    cv = results["baseline_cv"]
    print(f"  initial-category macro-F1 over {cv['folds']} folds: mean {cv['mean']['initial_category.macro_f1']:.4f} "
          f"± {cv['std']['initial_category.macro_f1']:.4f}; pooled {results['baseline_pooled_initial_macro_f1']:.4f}; "
          f"wall {results['baseline_cv_wall_s']:.0f} s for all folds")
    _print_rows(f"compact BERT ({cfg.model.base_model}, {dict(cfg.model.settings)})", bert_folds)
    if "bert_cv" in results:
        cv = results["bert_cv"]
        print(f"  initial-category macro-F1 over {cv['folds']} folds: mean {cv['mean']['initial_category.macro_f1']:.4f} "
              f"± {cv['std']['initial_category.macro_f1']:.4f}; pooled {results['bert_pooled_initial_macro_f1']:.4f}")
    base_fold0 = next(r for r in base_folds if r["fold"] == job.metrics["splits"]["output_fold"])
    print(f"\ndefault job (configs/train.yaml: BERT + baseline, folds={args.bert_folds}): wall {results['default_job_wall_s']:.0f} s; "
          f"select: validation would choose {results['validation_choice']} (validation initial macro-F1 "
          + ", ".join(f"{k} {v:.4f}" for k, v in validation.items()) + ")")
    print(f"  fold {base_fold0['fold']} initial-category macro-F1: BERT {bert_folds[0]['initial_macro_f1']:.4f}, "
          f"baseline {base_fold0['initial_macro_f1']:.4f}")
    print("  inference examples/s: " + ", ".join(f"{k} {v:.1f}" for k, v in results["inference_examples_per_s"].items()))
    print(f"load average after: {results['load_after']}")
    if args.json:
        Path(args.json).write_text(json.dumps(results, ensure_ascii=False, indent=2, default=str) + "\n", encoding="utf-8")
    if args.keep:
        print(f"runs kept in {out}")
    else:
        import shutil

        shutil.rmtree(out, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
