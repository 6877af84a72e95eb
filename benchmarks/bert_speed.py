"""Speed (and a quick quality check) of the compact BERT concept classifier on the demo corpus.

    python benchmarks/bert_speed.py                   # speed: examples/s, 1 and 2 threads, 1 epoch each
    python benchmarks/bert_speed.py --train 10        # + a full firm-grouped run of 10 epochs
    python benchmarks/bert_speed.py --train 10 --out /tmp/bert_speed.json

The demo corpus is read from corpora/demo (built there by ``python -m groundcoder.demo_corpus
build``); where it has not been built yet, it is built from corpora/demo/authoring into a
temporary folder. Training data here: every coded quote (concepts outside the codebook dropped)
plus two uncoded sentences of the same documents per quote as "no code" negatives -- a stand-in
for the training job's own negatives. Splits are by firm: the corpus's ``train`` firms (80 % train,
20 % validation for calibration), its ``holdout`` and ``holdout_new`` firms as test.

Timings depend on the machine's load: the script prints the load average next to them, and
CPU seconds of a single thread are the stable numbers on a shared 2-core machine.

Measured (development machine, 2 cores shared with other jobs, load 5-9, so CPU seconds):

* speed, TrainSettings() but max_length 96, 1 thread: 34 training examples per CPU-second
  (98 CPU-s for one epoch of 3,345 examples), 134 inference examples per CPU-second;
* ``--train 5 --train-threads 1 --lr 5e-4 --max-length 64``: 440 CPU-s for 5 epochs with a
  validation pass each (~38 examples per CPU-second); held-out firms: macro-F1 concept 0.40,
  initial 0.48, main 0.54, "no code" F1 0.94; temperature 0.41, ECE 0.025 -> 0.005.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")


def load_corpus():
    from groundcoder.demo_corpus.load import load_demo_corpus
    from groundcoder.paths import demo_corpus_dir

    root = demo_corpus_dir()
    if (root / "coded.jsonl").exists():
        return load_demo_corpus(root)
    from groundcoder.demo_corpus.build import build_corpus

    tmp = Path(tempfile.mkdtemp(prefix="gc-demo-"))
    build_corpus(root / "authoring", tmp)
    return load_demo_corpus(tmp)


_SENT = re.compile(r"[^。！？\n]+[。！？]?")


def examples(corpus, codebook, firms: set[str], negatives_per_quote: float, seed: int):
    """(texts, label_sets, firm_ids) of the firms: quotes plus uncoded sentences as negatives."""
    known = set(codebook.concept_names)
    texts, labels, firm_of = [], [], []
    spans: dict[str, list[tuple[int, int]]] = {}
    for q in corpus.quotes:
        if q.firm_id not in firms:
            continue
        spans.setdefault(q.doc_id, []).append((q.start, q.end))
        concepts = {c for c in q.concepts if c in known}
        if concepts:
            texts.append(q.text)
            labels.append(concepts)
            firm_of.append(q.firm_id)
    pool = []
    for doc in corpus.documents:
        if doc.firm_id not in firms:
            continue
        text = corpus.text(doc.doc_id)
        for m in _SENT.finditer(text):
            s, e = m.span()
            sentence = m.group().strip()
            if not 8 <= len(sentence) <= 120:
                continue
            if any(s < qe and qs < e for qs, qe in spans.get(doc.doc_id, [])):
                continue
            pool.append((sentence, doc.firm_id))
    rng = random.Random(seed)
    rng.shuffle(pool)
    n_neg = min(len(pool), int(round(negatives_per_quote * len(texts))))
    for sentence, firm in pool[:n_neg]:
        texts.append(sentence)
        labels.append(set())
        firm_of.append(firm)
    order = list(range(len(texts)))
    rng.shuffle(order)
    return [texts[i] for i in order], [labels[i] for i in order], [firm_of[i] for i in order]


def load_average() -> str:
    try:
        return " ".join(f"{x:.1f}" for x in os.getloadavg())
    except OSError:
        return "?"


def speed(labels, texts, label_sets, settings, threads: int) -> dict:
    import torch

    from groundcoder.classifier import BertConceptClassifier

    torch.set_num_threads(threads)
    s = settings.replace(epochs=1, num_threads=threads)
    clf = BertConceptClassifier(labels, settings=s)
    t0, c0 = time.perf_counter(), time.process_time()
    history = clf.fit(texts, label_sets, progress=False)
    train_s, train_cpu = time.perf_counter() - t0, time.process_time() - c0
    t0, c0 = time.perf_counter(), time.process_time()
    n_infer = min(1000, len(texts))
    clf.predict_logits(texts[:n_infer])
    infer_s, infer_cpu = time.perf_counter() - t0, time.process_time() - c0
    # On a shared machine wall time depends on the other processes; CPU time does not (much).
    # With one thread, CPU seconds are what an idle machine's wall clock would show.
    return {"threads": threads, "examples": len(texts), "steps": history.steps,
            "epoch_wall_s": round(train_s, 1), "epoch_cpu_s": round(train_cpu, 1),
            "train_examples_per_wall_s": round(len(texts) / train_s, 1),
            "train_examples_per_cpu_s": round(len(texts) / train_cpu, 1),
            "inference_examples_per_wall_s": round(n_infer / infer_s, 1),
            "inference_examples_per_cpu_s": round(n_infer / infer_cpu, 1),
            "load_average": load_average()}


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--train", type=int, default=0, help="also run a full training of this many epochs")
    parser.add_argument("--threads", type=int, nargs="*", default=[1, 2], help="thread counts to time (empty: none)")
    parser.add_argument("--train-threads", type=int, default=None, help="threads of the full run (default: the faster)")
    parser.add_argument("--negatives", type=float, default=2.0, help="uncoded sentences per quote")
    parser.add_argument("--lr", type=float, default=None)
    parser.add_argument("--max-length", type=int, default=None)
    parser.add_argument("--pos-weight", default=None)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)

    from groundcoder.classifier import (
        BertConceptClassifier,
        LabelSpace,
        TrainSettings,
        derive_category_decisions,
    )
    from groundcoder.codebook import Codebook

    corpus = load_corpus()
    codebook = Codebook.default()
    labels = LabelSpace.from_codebook(codebook)
    train_firms = sorted(corpus.train_firms)
    rng = random.Random(0)
    val_firms = set(rng.sample(train_firms, max(1, len(train_firms) // 5)))
    fit_firms = set(train_firms) - val_firms
    test_firms = set(corpus.holdout_firms) | set(corpus.holdout_new_firms)
    tr = examples(corpus, codebook, fit_firms, args.negatives, 1)
    va = examples(corpus, codebook, val_firms, args.negatives, 2)
    te = examples(corpus, codebook, test_firms, args.negatives, 3)
    overrides = {k: v for k, v in {"lr": args.lr, "max_length": args.max_length, "pos_weight": args.pos_weight}.items()
                 if v is not None}
    settings = TrainSettings(**overrides)
    report: dict = {
        "settings": settings.to_dict(),
        "data": {"train": len(tr[0]), "train_quotes": sum(1 for x in tr[1] if x), "val": len(va[0]),
                 "test": len(te[0]), "firms": [len(fit_firms), len(val_firms), len(test_firms)]},
        "cpu_count": os.cpu_count(),
    }
    print(json.dumps(report["data"]), flush=True)
    report["speed"] = [speed(labels, tr[0], tr[1], settings, t) for t in args.threads or []]
    for row in report["speed"]:
        print(json.dumps(row), flush=True)

    if args.train:
        from sklearn.metrics import f1_score

        threads = args.train_threads or min(
            args.threads, key=lambda t: next(r["epoch_wall_s"] for r in report["speed"] if r["threads"] == t))
        s = settings.replace(epochs=args.train, num_threads=threads)
        clf = BertConceptClassifier(labels, settings=s)
        t0, c0 = time.perf_counter(), time.process_time()
        history = clf.fit(tr[0], tr[1], va[0], va[1], progress=sys.stderr.isatty())
        train_s, train_cpu = time.perf_counter() - t0, time.process_time() - c0
        cal = clf.calibrate(va[0], va[1])
        y = labels.encode(te[1])
        pred = clf.predict_decisions(te[0])
        yi, ym = derive_category_decisions(y > 0, labels)
        pi, pm = derive_category_decisions(pred, labels)

        def macro(a, b):
            present = a.sum(axis=0) > 0
            return round(float(f1_score(a[:, present], b[:, present], average="macro", zero_division=0)), 4)

        def micro(a, b):
            return round(float(f1_score(a, b, average="micro", zero_division=0)), 4)

        no_code_true = y.sum(axis=1) == 0
        no_code_pred = pred.sum(axis=1) == 0
        report["training"] = {
            "threads": threads,
            "epochs": args.train,
            "wall_s": round(train_s, 1),
            "cpu_s": round(train_cpu, 1),
            "examples_per_wall_s": round(len(tr[0]) * args.train / train_s, 1),
            "epoch_history": [e.__dict__ for e in history.epochs],
            "temperature": round(cal.temperature, 3),
            "ece_before": round(cal.ece_before, 4), "ece_after": round(cal.ece_after, 4),
            "nll_before": round(cal.nll_before, 4), "nll_after": round(cal.nll_after, 4),
            "test_macro_f1": {"concept": macro(y > 0, pred), "initial": macro(yi, pi), "main": macro(ym, pm)},
            "test_micro_f1": {"concept": micro(y > 0, pred), "initial": micro(yi, pi), "main": micro(ym, pm)},
            "no_code_f1": round(float(f1_score(no_code_true, no_code_pred, zero_division=0)), 4),
            "load_average": load_average(),
        }
        print(json.dumps(report["training"], ensure_ascii=False, indent=1), flush=True)
    if args.out:
        from groundcoder.atomic import write_json

        write_json(args.out, report)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
