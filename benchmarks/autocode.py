"""Speed, label agreement and peak memory of ``groundcoder code`` on the demo corpus.

    python benchmarks/autocode.py                       # compact model (4 layers, 256 hidden), 1 epoch
    python benchmarks/autocode.py --epochs 0            # untrained (random weights)
    python benchmarks/autocode.py --model models/runs/<run_id> --threads 2 --out /tmp/autocode.json

What is measured, all with the same model in the same process (memory in child processes):

* segments/s of the batched coder (length bucketing + windows + merge + suggestions, i.e.
  ``code_segments``) with PyTorch and with the int8 ONNX model, against the naive loop that runs the
  same PyTorch model on one segment at a time; the target is >= 2.5x the naive loop. Segments are
  the sentences of the demo corpus's held-out firms (``holdout`` + ``holdout_new``): what the demo
  auto-codes. Wall-clock and CPU seconds are both reported: on a shared machine the CPU numbers are
  the stable ones (with one thread, CPU seconds are what an idle machine's wall clock shows).
* label agreement (identical sets of concepts passing their thresholds) of batched PyTorch and of
  ONNX int8 against the naive loop.
* peak memory while coding a long synthetic report -- the demo documents concatenated to about
  300 pages (~300k characters) -- and 30- and 100-page ones, each in a fresh process: tracemalloc's
  peak of Python allocations during coding and the growth of the resident set (``ru_maxrss`` minus
  the RSS after loading the model). Bounded means the 300-page report needs about what the 100-page
  one does (the 30-page one fits in one chunk of 2048 windows, so it needs less); a run that scores
  the whole report in one chunk is shown for contrast.

The model: ``--model`` (a run or model folder), else the compact model on the default codebook
(85 concepts) trained for ``--epochs`` on the demo corpus's train firms (quotes plus uncoded
sentences as "no code"), calibrated on a fifth of those firms.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

CHARS_PER_PAGE = 1000


def load_average() -> str:
    try:
        return " ".join(f"{x:.1f}" for x in os.getloadavg())
    except OSError:
        return "?"


def _rss_kb() -> int:
    with open("/proc/self/status", encoding="ascii") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


# ----- the model -----------------------------------------------------------------------------------


def train_compact(out: Path, epochs: int, threads: int, seed: int = 0) -> Path:
    """The compact model trained briefly on the demo corpus, saved as ``out/model`` with ``out/run.json``."""
    from groundcoder.classifier import BertConceptClassifier, LabelSpace, TrainSettings
    from groundcoder.codebook import Codebook
    from groundcoder.demo_corpus.load import load_demo_corpus
    from groundcoder.inference.autocode import model_text
    from groundcoder.segmentation import split_sentences

    corpus = load_demo_corpus()
    codebook = Codebook.default()
    labels = LabelSpace.from_codebook(codebook)
    known = set(codebook.concept_names)
    firms = sorted(corpus.train_firms)
    rng = random.Random(seed)
    val_firms = set(rng.sample(firms, max(1, len(firms) // 5)))

    def examples(wanted: set[str]) -> tuple[list[str], list[set[str]]]:
        texts, sets = [], []
        spans: dict[str, list[tuple[int, int]]] = {}
        for q in corpus.quotes:
            if q.firm_id in wanted and {c for c in q.concepts if c in known}:
                texts.append(q.text)
                sets.append({c for c in q.concepts if c in known})
                spans.setdefault(q.doc_id, []).append((q.start, q.end))
        negatives = []
        for doc in corpus.documents:
            if doc.firm_id in wanted:
                for s in split_sentences(corpus.text(doc.doc_id)):
                    if len(s.text) >= 8 and not any(s.start < e and b < s.end for b, e in spans.get(doc.doc_id, [])):
                        # As the coder reads segments: without the closing 。 that quotes never have.
                        negatives.append(model_text(s.text))
        rng.shuffle(negatives)
        texts += negatives[: len(texts)]
        sets += [set()] * min(len(negatives), len(sets))
        return texts, sets

    train = examples(set(firms) - val_firms)
    val = examples(val_firms)
    settings = TrainSettings(epochs=max(1, epochs), num_threads=threads, seed=seed)
    clf = BertConceptClassifier(labels, settings=settings)
    t0 = time.perf_counter()
    if epochs > 0:
        clf.fit(train[0], train[1], progress=sys.stderr.isatty())
        clf.calibrate(val[0], val[1])
    seconds = time.perf_counter() - t0
    clf.save_pretrained(out / "model")
    (out / "run.json").write_text(json.dumps({
        "run_id": f"bench-compact-{epochs}ep", "kind": "bert", "base_model": clf.base_model,
        "metrics": {"train_examples": len(train[0]), "epochs": epochs, "train_seconds": round(seconds, 1)},
    }), encoding="utf-8")
    print(json.dumps({"trained": str(out), "epochs": epochs, "train_examples": len(train[0]), "seconds": round(seconds, 1)}), flush=True)
    return out


# ----- speed and agreement -------------------------------------------------------------------------


def reference_items():
    from groundcoder.demo_corpus.load import load_demo_corpus
    from groundcoder.inference import document_segments

    corpus = load_demo_corpus()
    firms = set(corpus.holdout_firms) | set(corpus.holdout_new_firms)
    items = []
    for doc in corpus.documents:
        if doc.firm_id in firms:
            items.extend(document_segments(corpus.text(doc.doc_id), "sentence", doc_id=doc.doc_id, firm=doc.firm_id, year=doc.year))
    return items


def timed(fn, repeats: int = 1):
    """(result, best wall seconds, CPU seconds of that run)."""
    best = None
    for _ in range(repeats):
        t0, c0 = time.perf_counter(), time.process_time()
        result = fn()
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        if best is None or wall < best[1]:
            best = (result, wall, cpu)
    return best


def label_agreement(a, b, thresholds) -> float:
    import numpy as np

    return float(np.mean(np.all((a >= thresholds) == (b >= thresholds), axis=1)))


def speed(run_dir: Path, threads: int, repeats: int) -> dict:
    import numpy as np
    import torch

    from groundcoder.inference import code_segments, load_coder
    from groundcoder.inference.autocode import ScoringSettings

    torch.set_num_threads(threads)
    coder = load_coder(run_dir, threads=threads)
    from groundcoder.inference.autocode import model_text

    items = reference_items()
    texts = [model_text(i.text) for i in items]  # what the model reads of each segment (as code_segments does)
    n = len(items)
    settings = ScoringSettings()

    def batched(c):
        results = list(code_segments(items, c, top_k=3, settings=settings))
        return np.asarray([[r.best_confidence] for r in results]), results

    coder.proba_texts(texts[:64])  # warm-up
    naive_probs, naive_wall, naive_cpu = timed(lambda: coder.proba_one_by_one(texts))
    # The loop a user would write with the classifier's own API: predict_proba([segment]) per segment.
    api_probs, api_wall, api_cpu = timed(lambda: np.concatenate([coder.clf.predict_proba([t]) for t in texts]))
    (_, torch_results), torch_wall, torch_cpu = timed(lambda: batched(coder), repeats)
    torch_probs = coder.proba_texts(texts)
    report = {
        "segments": n,
        "mean_chars": round(float(np.mean([len(t) for t in texts])), 1),
        "threads": threads,
        "load_average_before": load_average(),
        "naive_loop": {"wall_s": round(naive_wall, 2), "cpu_s": round(naive_cpu, 2),
                       "segments_per_wall_s": round(n / naive_wall, 1), "segments_per_cpu_s": round(n / naive_cpu, 1)},
        "naive_api_loop": {"wall_s": round(api_wall, 2), "cpu_s": round(api_cpu, 2),
                           "segments_per_wall_s": round(n / api_wall, 1), "segments_per_cpu_s": round(n / api_cpu, 1),
                           "label_agreement_with_naive": round(label_agreement(api_probs, naive_probs, coder.thresholds), 5)},
        "batched_torch": {"wall_s": round(torch_wall, 2), "cpu_s": round(torch_cpu, 2),
                          "segments_per_wall_s": round(n / torch_wall, 1), "segments_per_cpu_s": round(n / torch_cpu, 1),
                          "speedup_wall": round(naive_wall / torch_wall, 2), "speedup_cpu": round(naive_cpu / torch_cpu, 2),
                          "label_agreement_with_naive": round(label_agreement(torch_probs, naive_probs, coder.thresholds), 5),
                          "max_abs_prob_diff_vs_naive": float(np.abs(torch_probs - naive_probs).max())},
    }
    try:
        from groundcoder.inference.onnx_runtime import onnx_coder

        onnx, info = onnx_coder(coder, quantize="int8", min_agreement=0.0, reference=texts)
        onnx.proba_texts(texts[:64])
        (_, onnx_results), onnx_wall, onnx_cpu = timed(lambda: batched(onnx), repeats)
        onnx_probs = onnx.proba_texts(texts)
        report["batched_onnx_int8"] = {
            "wall_s": round(onnx_wall, 2), "cpu_s": round(onnx_cpu, 2),
            "segments_per_wall_s": round(n / onnx_wall, 1), "segments_per_cpu_s": round(n / onnx_cpu, 1),
            "speedup_wall": round(naive_wall / onnx_wall, 2), "speedup_cpu": round(naive_cpu / onnx_cpu, 2),
            "label_agreement_with_naive": round(label_agreement(onnx_probs, naive_probs, coder.thresholds), 5),
            "label_agreement_with_batched_torch": round(label_agreement(onnx_probs, torch_probs, coder.thresholds), 5),
            "top1_agreement_with_torch": info["agreement"]["top1_agreement"],
            "max_abs_prob_diff_vs_torch": info["agreement"]["max_abs_prob_diff"],
            "export_seconds": info["artifact"]["export_seconds"], "quantize_seconds": info["artifact"]["quantize_seconds"],
            "int8_bytes": info["artifact"]["size_bytes"],
            "fp32_bytes": Path(info["artifact"]["fp32_path"]).stat().st_size,
            "passes_99_percent_check": info["agreement"]["agreement"] >= 0.99,
        }
    except ImportError as exc:  # pragma: no cover - the optional extra is missing
        report["batched_onnx_int8"] = {"skipped": str(exc)}
    except Exception as exc:  # noqa: BLE001 - report, don't hide the other numbers
        report["batched_onnx_int8"] = {"skipped": f"{type(exc).__name__}: {exc}"}
    coded = sum(1 for r in torch_results if not r.no_code)
    report["batched_torch"]["coded_share"] = round(coded / n, 4)
    report["load_average_after"] = load_average()
    return report


# ----- memory ----------------------------------------------------------------------------------------


def long_report(chars: int) -> str:
    """Demo documents concatenated (paragraph by paragraph) to ``chars`` characters."""
    from groundcoder.demo_corpus.load import load_demo_corpus

    corpus = load_demo_corpus()
    parts, total = [], 0
    while total < chars:
        for doc in corpus.documents:
            text = corpus.text(doc.doc_id)
            parts.append(text)
            total += len(text) + 1
            if total >= chars:
                break
    return "\n".join(parts)[:chars]


def memory_child(run_dir: str, pages: int, unit: str, chunk_windows: int, threads: int, runtime: str, trace: bool) -> dict:
    import tracemalloc

    import torch

    from groundcoder.inference import code_segments, document_segments, load_coder
    from groundcoder.inference.autocode import ScoringSettings
    from groundcoder.inference.outputs import FirmSummary, suggestion_rows

    torch.set_num_threads(threads)
    coder = load_coder(run_dir, threads=threads)
    if runtime == "onnx":
        from groundcoder.inference.onnx_runtime import onnx_coder

        coder, _ = onnx_coder(coder, min_agreement=0.0, reference=["公司推进数字化转型。"])
    text = long_report(pages * CHARS_PER_PAGE)
    coder.proba_texts(["预热。"] * 8)
    rss_before = _rss_kb()
    if trace:
        tracemalloc.start()
    t0 = time.perf_counter()
    segments = rows = windows = 0
    summary = FirmSummary(coder.labels.main_categories)
    items = document_segments(text, unit, doc_id="LONG", firm="F", year=2023)
    for result in code_segments(items, coder, top_k=3, settings=ScoringSettings(chunk_windows=chunk_windows)):
        segments += 1
        windows += result.windows
        rows += len(suggestion_rows(result, "bench"))  # rows are built (and dropped) as a writer would stream them
        summary.add(result)
    seconds = time.perf_counter() - t0
    if trace:
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        return {"tracemalloc_peak_mb": round(peak / 2**20, 2)}
    maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {"pages": pages, "chars": len(text), "unit": unit, "chunk_windows": chunk_windows, "runtime": runtime,
            "segments": segments, "windows": windows, "rows": rows, "seconds": round(seconds, 2),
            "segments_per_s": round(segments / seconds, 1), "rss_after_load_mb": round(rss_before / 1024, 1),
            "rss_growth_mb": round((maxrss - rss_before) / 1024, 1), "rss_after_coding_mb": round((_rss_kb() - rss_before) / 1024, 1)}


def memory(run_dir: Path, threads: int) -> list[dict]:
    cases = [(30, "sentence", 2048, "torch"), (100, "sentence", 2048, "torch"), (300, "sentence", 2048, "torch"),
             (300, "paragraph", 2048, "torch"), (300, "sentence", 10**9, "torch"), (300, "sentence", 2048, "onnx")]
    out = []
    for pages, unit, chunk, runtime in cases:
        row: dict = {}
        # Two fresh processes per case: resident memory without tracemalloc (which slows and inflates
        # the process), then tracemalloc's peak of Python allocations.
        for trace in ("0", "1"):
            cmd = [sys.executable, __file__, "--memory-child", str(run_dir), str(pages), unit, str(chunk), str(threads), runtime, trace]
            proc = subprocess.run(cmd, capture_output=True, text=True)
            if proc.returncode != 0:
                row.update({"pages": pages, "unit": unit, "runtime": runtime, "error": proc.stderr[-500:]})
                break
            row.update(json.loads(proc.stdout.strip().splitlines()[-1]))
        print(json.dumps(row), flush=True)
        out.append(row)
    return out


def main(argv: list[str]) -> int:
    if argv and argv[0] == "--memory-child":
        run_dir, pages, unit, chunk, threads, runtime, trace = argv[1:8]
        print(json.dumps(memory_child(run_dir, int(pages), unit, int(chunk), int(threads), runtime, trace == "1")))
        return 0
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, default=None, help="a run or model folder (default: train the compact model)")
    parser.add_argument("--epochs", type=int, default=1, help="training epochs of the compact model (0: untrained)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=2, help="timed runs of each batched coder (best is kept)")
    parser.add_argument("--no-memory", action="store_true")
    parser.add_argument("--memory-only", action="store_true", help="only the peak-memory runs")
    parser.add_argument("--keep", type=Path, default=None, help="keep the trained model in this folder")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)

    import torch

    torch.set_num_threads(args.threads)
    work = Path(tempfile.mkdtemp(prefix="gc-autocode-"))
    run_dir = args.model or train_compact(args.keep or work / "run", args.epochs, args.threads)
    report = {"model": str(run_dir), "cpu_count": os.cpu_count(), "torch": torch.__version__}
    if not args.memory_only:
        report["speed"] = speed(run_dir, args.threads, args.repeats)
        print(json.dumps(report["speed"], ensure_ascii=False, indent=1), flush=True)
    if not args.no_memory:
        report["memory"] = memory(run_dir, args.threads)
    if args.out:
        args.out.write_text(json.dumps(report, ensure_ascii=False, indent=1), encoding="utf-8")
    if args.memory_only:
        return 0
    s = report["speed"]
    print(f"\nbatched PyTorch: {s['batched_torch']['segments_per_cpu_s']} segments/CPU-s, "
          f"{s['batched_torch']['speedup_cpu']}x the naive loop (wall {s['batched_torch']['speedup_wall']}x); "
          f"labels agree with the naive loop on {s['batched_torch']['label_agreement_with_naive']:.2%}")
    o = s.get("batched_onnx_int8", {})
    if "speedup_cpu" in o:
        print(f"batched ONNX int8: {o['segments_per_cpu_s']} segments/CPU-s, {o['speedup_cpu']}x the naive loop "
              f"(wall {o['speedup_wall']}x); labels agree with PyTorch on {o['label_agreement_with_batched_torch']:.2%}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
