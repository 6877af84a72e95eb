"""Benchmark: keyword counting speed and agreement, against a plain jieba loop in the same run.

    python benchmarks/screening.py                        # ../shared/real-reports and the demo panel
    python benchmarks/screening.py --reports DIR --panel DIR --panel-limit 400
    python benchmarks/screening.py --out /tmp/screening_bench.json

For each corpus (real annual reports read with ``groundcoder.documents.read_document``, and the demo
panel's reports), on the whole text of every report, one process:

* ``plain``: the baseline, a private ``jieba.Tokenizer`` with the dictionary words added, ``lcut`` of
  the whole text, then counting the tokens equal to a keyword;
* ``jieba`` mode (``KeywordCounter``): counts and word-token totals, compared with the baseline's
  (must be identical), and its speed as a ratio of the baseline's (target >= 10x); also without the
  token denominator (``tokens: false``), where only blocks holding a keyword are segmented;
* ``fast`` mode without tokens (target >= 50 MB/s on one core), with both matching engines;
* agreement between ``fast`` and ``jieba`` on the hits: per report and keyword, the sum of the smaller
  count over the sum of the larger, and the keywords where they differ most.

MB are MB of UTF-8 text. Speeds are CPU seconds of this process (``time.process_time``), the best of
``--repeat`` runs, so another process's load on a shared machine changes them less; wall-clock speeds
are printed too. Counter construction (loading jieba's dictionary) is timed apart: it happens once per
worker process.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from groundcoder.screening.counting import CountOptions, KeywordCounter, private_tokenizer  # noqa: E402
from groundcoder.screening.dictionaries import load_dictionary, union_keywords  # noqa: E402

TARGET_JIEBA_RATIO = 10.0
TARGET_FAST_MB_S = 50.0


def load_texts(folder: Path, limit: int | None) -> list[tuple[str, str]]:
    from groundcoder.documents import read_document

    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in {".pdf", ".txt", ".docx", ".html", ".htm"})
    if limit:
        files = files[:limit]
    texts = []
    for path in files:
        texts.append((path.name, read_document(path).text))
    return texts


def timed(function, texts, repeat: int = 1):
    """(results, CPU seconds, wall seconds) of ``function`` over every text: the best of ``repeat`` runs."""
    best_cpu = best_wall = float("inf")
    for _ in range(repeat):
        wall, cpu = time.perf_counter(), time.process_time()
        results = [function(text) for _, text in texts]
        best_cpu, best_wall = min(best_cpu, time.process_time() - cpu), min(best_wall, time.perf_counter() - wall)
    return results, best_cpu, best_wall


def agreement(a: list[dict[str, int]], b: list[dict[str, int]]) -> tuple[float, Counter, Counter]:
    """Sum of min over sum of max of the per-report, per-keyword counts; and the totals per keyword."""
    low = high = 0
    total_a, total_b = Counter(), Counter()
    for x, y in zip(a, b):
        for word in set(x) | set(y):
            low += min(x.get(word, 0), y.get(word, 0))
            high += max(x.get(word, 0), y.get(word, 0))
        total_a.update(x)
        total_b.update(y)
    return (low / high if high else 1.0), total_a, total_b


def bench_corpus(name: str, texts: list[tuple[str, str]], keywords: tuple[str, ...], repeat: int = 3, plain_repeat: int = 1) -> dict:
    mb = sum(len(t.encode("utf-8")) for _, t in texts) / 1e6
    print(f"\n== {name}: {len(texts)} reports, {mb:.2f} MB of text ==")

    started = time.process_time()
    reference = private_tokenizer(keywords)
    keyword_set = set(keywords)
    build_plain = time.process_time() - started

    def plain(text):
        tokens = reference.lcut(text)
        counts = Counter(t for t in tokens if t in keyword_set)
        words = sum(1 for t in tokens if _is_word(t))
        return dict(counts), words

    started = time.process_time()
    jieba_counter = KeywordCounter(keywords, CountOptions(mode="jieba"))
    jieba_counter.count("预热：公司推进2021.5%的C++数字化B2B-平台。")  # loads jieba, jieba-rs and tables
    build_jieba = time.process_time() - started
    counts_only = KeywordCounter(keywords, CountOptions(mode="jieba", tokens=False))
    fast_counter = KeywordCounter(keywords, CountOptions(mode="fast", tokens=False))
    fast_ac = KeywordCounter(keywords, CountOptions(mode="fast", tokens=False, matcher="ahocorasick"))
    for counter in (fast_counter, fast_ac):
        counter.count("预热")

    plain_results, plain_cpu, plain_wall = timed(plain, texts, plain_repeat)
    jieba_results, jieba_cpu, jieba_wall = timed(jieba_counter.count, texts, repeat)
    only_results, only_cpu, only_wall = timed(counts_only.count, texts, repeat)
    fast_results, fast_cpu, fast_wall = timed(fast_counter.count, texts, repeat)
    ac_results, ac_cpu, ac_wall = timed(fast_ac.count, texts, repeat)

    identical_counts = all(j.counts == p[0] for j, p in zip(jieba_results, plain_results))
    identical_counts = identical_counts and all(j.counts == p[0] for j, p in zip(only_results, plain_results))
    identical_tokens = all(j.tokens == p[1] for j, p in zip(jieba_results, plain_results))
    engines_agree = all(f.counts == a.counts for f, a in zip(fast_results, ac_results))
    share, fast_total, jieba_total = agreement([f.counts for f in fast_results], [j.counts for j in jieba_results])

    def speed(cpu, wall):
        return {"mb_per_s_cpu": round(mb / cpu, 2) if cpu else None, "mb_per_s_wall": round(mb / wall, 2) if wall else None}

    row = {
        "reports": len(texts),
        "mb": round(mb, 3),
        "plain": speed(plain_cpu, plain_wall),
        "jieba": {**speed(jieba_cpu, jieba_wall), "ratio_cpu": round(plain_cpu / jieba_cpu, 1), "ratio_wall": round(plain_wall / jieba_wall, 1),
                  "identical_counts": identical_counts, "identical_tokens": identical_tokens, "build_s": round(build_jieba, 2)},
        "jieba_counts_only": {**speed(only_cpu, only_wall), "ratio_cpu": round(plain_cpu / only_cpu, 1)},
        "fast": {**speed(fast_cpu, fast_wall), "engines_agree": engines_agree},
        "fast_ahocorasick": speed(ac_cpu, ac_wall),
        "hits": {"plain": sum(sum(p[0].values()) for p in plain_results), "jieba": sum(jieba_total.values()), "fast": sum(fast_total.values())},
        "fast_vs_jieba_agreement": round(share, 4),
        "keywords_differing": {w: [fast_total[w], jieba_total[w]] for w in sorted(set(fast_total) | set(jieba_total), key=lambda w: -abs(fast_total[w] - jieba_total[w])) if fast_total[w] != jieba_total[w]},
        "tokens": sum(p[1] for p in plain_results),
        "build_plain_s": round(build_plain, 2),
    }
    print(f"plain jieba.lcut + count : {row['plain']['mb_per_s_cpu']:8.2f} MB/s (wall {row['plain']['mb_per_s_wall']})")
    print(f"jieba mode               : {row['jieba']['mb_per_s_cpu']:8.2f} MB/s (wall {row['jieba']['mb_per_s_wall']}) = "
          f"{row['jieba']['ratio_cpu']}x the plain loop (wall {row['jieba']['ratio_wall']}x; target >= {TARGET_JIEBA_RATIO:g}x)")
    print(f"    counts identical to the plain loop: {identical_counts}; token totals identical: {identical_tokens} ({row['tokens']} tokens)")
    print(f"jieba mode, tokens: false: {row['jieba_counts_only']['mb_per_s_cpu']:8.2f} MB/s = {row['jieba_counts_only']['ratio_cpu']}x "
          "(keyword counts only, no token denominator)")
    print(f"fast mode (regex)        : {row['fast']['mb_per_s_cpu']:8.2f} MB/s (wall {row['fast']['mb_per_s_wall']}; target >= {TARGET_FAST_MB_S:g})")
    print(f"fast mode (pyahocorasick): {row['fast_ahocorasick']['mb_per_s_cpu']:8.2f} MB/s; same hits as regex: {engines_agree}")
    print(f"hits: plain {row['hits']['plain']}, jieba {row['hits']['jieba']}, fast {row['hits']['fast']}; "
          f"fast vs jieba agreement {share:.1%}")
    differing = list(row["keywords_differing"].items())[:8]
    if differing:
        print("    most different (fast, jieba): " + ", ".join(f"{w} {f}/{j}" for w, (f, j) in differing))
    print(f"counter construction: jieba mode {build_jieba:.2f} s CPU (once per worker process)")
    return row


def _is_word(token: str) -> bool:
    import re

    return re.fullmatch("[\u4e00-\u9fd5a-zA-Z0-9+#&._%\\-]+", token) is not None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--reports", type=Path, default=REPO.parent / "shared" / "real-reports", help="folder of real annual reports")
    parser.add_argument("--panel", type=Path, default=REPO / "corpora" / "demo" / "panel" / "reports", help="the demo panel's reports")
    parser.add_argument("--panel-limit", type=int, default=400, help="panel reports to use (the plain loop is slow)")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each mode; the fastest counts")
    parser.add_argument("--plain-repeat", type=int, default=2, help="runs of the (slow) plain loop")
    parser.add_argument("--out", type=Path, help="also write the results as JSON")
    args = parser.parse_args(argv)

    keywords = union_keywords([load_dictionary("micro_innovation"), load_dictionary("digital_transformation_wufei2021")])
    load = os.getloadavg() if hasattr(os, "getloadavg") else None
    print(f"{len(keywords)} keywords (micro_innovation + digital_transformation_wufei2021); load average {load}")
    results = {}
    for name, folder, limit in (("real reports", args.reports, None), ("demo panel", args.panel, args.panel_limit)):
        if not folder.is_dir():
            print(f"\n== {name}: {folder} not found, skipped ==")
            continue
        results[name] = bench_corpus(name, load_texts(folder, limit), keywords, args.repeat, args.plain_repeat)
    ok = all(r["jieba"]["identical_counts"] and r["jieba"]["identical_tokens"] for r in results.values())
    print("\nall jieba-mode counts and tokens identical to the plain loop:", ok)
    if args.out:
        args.out.write_text(json.dumps({"load_average": load, "corpora": results}, ensure_ascii=False, indent=2), encoding="utf-8")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
