"""Inter-coder reliability at segment level: percent agreement, Cohen's kappa, Krippendorff's alpha.

Segment level, precisely
------------------------
The unit of comparison is the **sentence** (``groundcoder.segmentation.split_sentences`` of each
document: sentences end at 。！？； and line breaks). Coders mark spans of any length, rarely the
same characters, so spans cannot be compared directly; a sentence is the smallest unit every coder's
span can be placed in without cutting meaning (on the demo corpus 99% of quotes lie inside one
sentence, and 99.7% of sentences hold at most one quote). A coder's label of a sentence, at a level
(concept, initial category or main category), is the **set** of codebook codes of that coder's
codings that overlap the sentence by at least one character; the empty set means "not coded".
Codes outside the codebook are left out (they are reported by the factor model instead).

Which sentences are compared (the **scope**):

* without a reviewer: the sentences of every document each coder covered (a coder covers a
  document when it has at least one coding there, or as given by ``coverage``). A sentence of a
  document one coder did not cover is missing for that coder (Krippendorff's alpha takes missing
  values; a pairwise kappa uses the sentences both coders covered);
* with ``reviewed_by=C``: only the sentences overlapping a span coder C reviewed (C's segments,
  including those C left uncoded), and every coder's codings only where they overlap such a span.
  This is how a second coder who re-codes a sample of the first coder's quotes is compared
  (the demo corpus's coder2).

Variants: ``all`` compares every sentence in scope (text nobody coded counts as agreement on
"nothing": right for a model that read every sentence); ``coded`` (coded-only) keeps only the
sentences at least one of the compared coders coded at that level, ignoring text neither touched.

Measures, per pair of coders, level and variant (maintained implementations where they exist):

* ``agreement``: share of sentences with identical label sets;
* ``kappa_set``: Cohen's kappa (``sklearn.metrics.cohen_kappa_score``) with each sentence's label set
  as one nominal category (exact multi-label agreement, chance-corrected);
* per code: Cohen's kappa on the binary "has code c" decisions; ``kappa_macro`` is their mean
  (codes either coder used; a code with no variation in both coders has no kappa);
* ``kappa_pooled``: Cohen's kappa on all binary sentence x code decisions pooled into one 2x2
  table (codes either coder used in scope);
* ``alpha``: Krippendorff's alpha (``krippendorff.alpha``, nominal) on the label sets, for the pair
  and, with three or more coders, for all coders together (missing values allowed).
"""

from __future__ import annotations

import bisect
import math
import warnings
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import combinations
from pathlib import Path

import numpy as np
import pandas as pd

from .codings import LEVELS, CodedSegment, CodingSet
from .report import excerpt, join_ids

VARIANTS = ("all", "coded")
NONE_LABEL = "（未编码）"


@dataclass(frozen=True)
class Unit:
    """A sentence of a document: the unit of comparison."""

    doc_id: str
    firm_id: str
    start: int
    end: int
    text: str

    @property
    def unit_id(self) -> str:
        return f"{self.doc_id}:{self.start}-{self.end}"


@dataclass
class UnitLabels:
    """Every unit in scope and, per coder, its label set per level (None = not covered) and quotes."""

    units: list[Unit]
    coders: list[str]
    labels: dict[str, dict[str, list[frozenset[str] | None]]]  # coder -> level -> per unit
    quotes: dict[str, list[tuple[str, ...]]]  # coder -> per unit quote ids
    reviewed_by: str | None = None


def _overlapping(units: Sequence[Unit], starts: Sequence[int], seg_start: int, seg_end: int) -> range:
    """Indices of the (sorted, disjoint) units that overlap [seg_start, seg_end)."""
    first = max(0, bisect.bisect_right(starts, seg_start) - 1)
    last = first
    while last < len(units) and units[last].start < seg_end:
        last += 1
    if first < last and units[first].end <= seg_start:  # the span starts in the gap after it
        first += 1
    return range(first, last)


def unit_labels(
    codings: CodingSet,
    coders: Sequence[str],
    reviewed_by: str | None = None,
    coverage: Mapping[str, Iterable[str]] | None = None,
    levels: Sequence[str] = LEVELS,
    min_confidence: float | None = None,
) -> UnitLabels:
    """Sentence units and each coder's labels (see the module docstring for the scope rules)."""
    from ..segmentation import split_sentences

    if len(set(coders)) < 2:
        raise ValueError("reliability needs at least two different coders")
    by_coder: dict[str, list[CodedSegment]] = defaultdict(list)
    for s in codings.segments:
        if s.coder in coders:
            if min_confidence is not None and s.confidence is not None and s.confidence < min_confidence:
                continue
            by_coder[s.coder].append(s)
    reviewed: dict[str, list[tuple[int, int]]] = defaultdict(list)
    if reviewed_by is not None:
        for s in codings.segments:
            if s.coder == reviewed_by:
                reviewed[s.doc_id].append((s.start, s.end))
        doc_ids = sorted(reviewed)
    else:
        doc_ids = sorted({s.doc_id for c in coders for s in by_coder[c]} | {d for c in coders for d in (coverage or {}).get(c, ())})
    covered = {
        c: (set(doc_ids) if reviewed_by is not None else
            set((coverage or {}).get(c, ())) | {s.doc_id for s in by_coder[c]})
        for c in coders
    }

    def in_review(doc_id: str, start: int, end: int) -> bool:
        return any(a < end and start < b for a, b in reviewed.get(doc_id, ()))

    units: list[Unit] = []
    labels: dict[str, dict[str, list[frozenset[str] | None]]] = {c: {lv: [] for lv in levels} for c in coders}
    quotes: dict[str, list[tuple[str, ...]]] = {c: [] for c in coders}
    segs_by_doc = {c: defaultdict(list) for c in coders}
    for c in coders:
        for s in by_coder[c]:
            segs_by_doc[c][s.doc_id].append(s)
    for doc_id in doc_ids:
        doc = codings.documents.get(doc_id)
        firm_id = doc.firm_id if doc else ""
        sentences = [Unit(doc_id, firm_id, u.start, u.end, u.text) for u in split_sentences(codings.text(doc_id))]
        if reviewed_by is not None:
            keep = [i for i, u in enumerate(sentences) if in_review(doc_id, u.start, u.end)]
        else:
            keep = list(range(len(sentences)))
        starts = [u.start for u in sentences]
        per_coder: dict[str, dict[int, list[CodedSegment]]] = {}
        for c in coders:
            hits: dict[int, list[CodedSegment]] = defaultdict(list)
            for s in segs_by_doc[c].get(doc_id, []):
                if reviewed_by is not None and not in_review(doc_id, s.start, s.end):
                    continue
                for i in _overlapping(sentences, starts, s.start, s.end):
                    hits[i].append(s)
            per_coder[c] = hits
        for i in keep:
            units.append(sentences[i])
            for c in coders:
                segs = per_coder[c].get(i, [])
                quotes[c].append(tuple(s.quote_id for s in segs if s.concepts))
                for lv in levels:
                    if doc_id not in covered[c]:
                        labels[c][lv].append(None)
                    else:
                        labels[c][lv].append(frozenset(code for s in segs for code in codings.codes(s, lv)))
    return UnitLabels(units, list(coders), labels, quotes, reviewed_by)


def _label_name(label: frozenset[str] | None) -> str | None:
    if label is None:
        return None
    return "、".join(sorted(label)) if label else NONE_LABEL


def _kappa(a: Sequence, b: Sequence) -> float:
    from sklearn.metrics import cohen_kappa_score

    if len(a) == 0:
        return math.nan
    if len(set(a) | set(b)) < 2:  # one category for both coders: kappa is undefined (0/0)
        return math.nan
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return float(cohen_kappa_score(a, b))


def krippendorff_nominal(values: Sequence[Sequence[str | None]]) -> float:
    """Krippendorff's alpha (nominal) of coders x units category names; None = missing."""
    import krippendorff

    names = sorted({v for row in values for v in row if v is not None})
    if len(names) < 2:
        return math.nan
    index = {n: float(i) for i, n in enumerate(names)}
    data = np.array([[index[v] if v is not None else np.nan for v in row] for row in values], dtype=float)
    # Units coded by fewer than two coders carry no information about agreement.
    pairable = (~np.isnan(data)).sum(axis=0) >= 2
    if pairable.sum() == 0:
        return math.nan
    try:
        return float(krippendorff.alpha(reliability_data=data[:, pairable], level_of_measurement="nominal"))
    except (ValueError, ZeroDivisionError):
        return math.nan


@dataclass
class PairResult:
    coders: tuple[str, ...]
    level: str
    variant: str
    n_units: int
    agreement: float
    kappa_set: float
    kappa_pooled: float
    kappa_macro: float
    alpha: float
    per_code: list[dict] = field(default_factory=list, repr=False)


def compare(data: UnitLabels, coders: Sequence[str], level: str, variant: str = "all") -> PairResult:
    """Agreement of ``coders`` (two: kappa and alpha; more: alpha only) at one level and variant."""
    if variant not in VARIANTS:
        raise ValueError(f"unknown variant {variant!r}; variants: {', '.join(VARIANTS)}")
    columns = [data.labels[c][level] for c in coders]
    keep = []
    for i in range(len(data.units)):
        row = [col[i] for col in columns]
        present = [r for r in row if r is not None]
        if len(present) < 2 or (len(coders) == 2 and len(present) < 2):
            continue
        if variant == "coded" and not any(present):
            continue
        keep.append(i)
    n = len(keep)
    names = [[_label_name(col[i]) for i in keep] for col in columns]
    alpha = krippendorff_nominal(names)
    if len(coders) != 2:
        full = [i for i in keep if all(col[i] is not None for col in columns)]
        agree = np.mean([len({columns[k][i] for k in range(len(coders))}) == 1 for i in full]) if full else math.nan
        return PairResult(tuple(coders), level, variant, n, float(agree), math.nan, math.nan, math.nan, alpha)
    a_sets = [columns[0][i] for i in keep]
    b_sets = [columns[1][i] for i in keep]
    agreement = float(np.mean([x == y for x, y in zip(a_sets, b_sets)])) if n else math.nan
    kappa_set = _kappa(names[0], names[1])
    codes = sorted(set().union(*a_sets, *b_sets)) if n else []
    per_code, pooled_a, pooled_b = [], [], []
    for code in codes:
        va = [int(code in x) for x in a_sets]
        vb = [int(code in y) for y in b_sets]
        pooled_a += va
        pooled_b += vb
        both = sum(1 for x, y in zip(va, vb) if x and y)
        per_code.append(
            {
                "code": code, "n_a": sum(va), "n_b": sum(vb), "n_both": both,
                "agreement": float(np.mean([x == y for x, y in zip(va, vb)])),
                "kappa": _kappa(va, vb),
            }
        )
    defined = [r["kappa"] for r in per_code if not math.isnan(r["kappa"])]
    kappa_macro = float(np.mean(defined)) if defined else math.nan
    kappa_pooled = _kappa(pooled_a, pooled_b)
    return PairResult(tuple(coders), level, variant, n, agreement, kappa_set, kappa_pooled, kappa_macro, alpha, per_code)


@dataclass
class ReliabilityResult:
    """Every comparison, as rows, plus the unit table behind them."""

    summary: pd.DataFrame
    per_code: pd.DataFrame
    units: pd.DataFrame
    data: UnitLabels = field(repr=False)


def reliability(
    codings: CodingSet,
    coders: Sequence[str],
    reviewed_by: str | None = None,
    levels: Sequence[str] = LEVELS,
    variants: Sequence[str] = VARIANTS,
    coverage: Mapping[str, Iterable[str]] | None = None,
    min_confidence: float | None = None,
) -> ReliabilityResult:
    """All pairs of ``coders`` (and all together, with three or more) at each level and variant."""
    data = unit_labels(codings, coders, reviewed_by, coverage, levels, min_confidence)
    groups: list[tuple[str, ...]] = list(combinations(coders, 2))
    if len(coders) > 2:
        groups.append(tuple(coders))
    rows, code_rows = [], []
    for group in groups:
        for level in levels:
            for variant in variants:
                r = compare(data, group, level, variant)
                coded = {c: sum(1 for i, u in enumerate(data.units) if data.labels[c][level][i]) for c in group}
                rows.append(
                    {
                        "coders": " vs ".join(group), "coder_kinds": _kinds(codings, group), "level": level,
                        "variant": variant, "n_units": r.n_units,
                        **({f"units_coded:{c}": coded[c] for c in group} if len(group) == 2 else {}),
                        "agreement": r.agreement, "kappa_set": r.kappa_set, "kappa_pooled": r.kappa_pooled,
                        "kappa_macro": r.kappa_macro, "alpha": r.alpha,
                    }
                )
                for pc in r.per_code:
                    code_rows.append({"coders": " vs ".join(group), "level": level, "variant": variant, **pc})
    summary = pd.DataFrame(rows)
    # Columns units_coded:<coder> differ per pair: one "units coded (a / b)" column keeps the table square.
    if len(summary):
        coded_cols = [c for c in summary.columns if c.startswith("units_coded:")]
        summary["units_coded"] = [
            " / ".join(str(int(row[c])) for c in coded_cols if not pd.isna(row[c])) for _, row in summary.iterrows()
        ]
        summary = summary.drop(columns=coded_cols)
        order = ["coders", "coder_kinds", "level", "variant", "n_units", "units_coded", "agreement", "kappa_set",
                 "kappa_pooled", "kappa_macro", "alpha"]
        summary = summary[order]
    per_code = pd.DataFrame(code_rows, columns=["coders", "level", "variant", "code", "n_a", "n_b", "n_both", "agreement", "kappa"])
    return ReliabilityResult(summary, per_code, unit_table(data, levels), data)


def _kinds(codings: CodingSet, coders: Sequence[str]) -> str:
    kinds = []
    for c in coders:
        found = {s.coder_kind for s in codings.segments if s.coder == c}
        kinds.append("/".join(sorted(found)) or "?")
    return " vs ".join(kinds)


def unit_table(data: UnitLabels, levels: Sequence[str] = LEVELS) -> pd.DataFrame:
    """One row per unit: its text, each coder's labels and quote ids, and agreement per level (evidence)."""
    rows = []
    for i, u in enumerate(data.units):
        row: dict = {"unit_id": u.unit_id, "doc_id": u.doc_id, "firm_id": u.firm_id, "start": u.start, "end": u.end,
                     "text": excerpt(u.text, 80)}
        for c in data.coders:
            for lv in levels:
                row[f"{c}:{lv}"] = _label_name(data.labels[c][lv][i])
            row[f"{c}:quote_ids"] = join_ids(data.quotes[c][i])
        for lv in levels:
            values = {data.labels[c][lv][i] for c in data.coders if data.labels[c][lv][i] is not None}
            row[f"agree:{lv}"] = len(values) <= 1
        rows.append(row)
    return pd.DataFrame(rows)


def headline(result: ReliabilityResult, level: str = "concept", variant: str = "coded") -> dict:
    """The first pair's numbers at one level and variant (for the terminal and the report)."""
    sub = result.summary[(result.summary["level"] == level) & (result.summary["variant"] == variant)]
    if not len(sub):
        return {}
    row = sub.iloc[0]
    return {k: (None if isinstance(row[k], float) and math.isnan(row[k]) else row[k])
            for k in ("coders", "level", "variant", "n_units", "agreement", "kappa_set", "kappa_pooled", "kappa_macro", "alpha")}


# --------------------------------------------------------------------------------------------------
# Writing the reliability family

LEVEL_NAMES = {"concept": "初始概念", "initial": "初始范畴", "main": "主范畴"}
VARIANT_NAMES = {"all": "全部句子", "coded": "仅编码句子"}


@dataclass
class ReliabilitySummary:
    out_dir: Path
    files: dict[str, Path]
    coders: list[str]
    reviewed_by: str | None
    unit: str
    n_units: int
    headline: dict[str, dict]  # level -> numbers of the first pair, coded-only variant
    figures: dict[str, Path]
    tables: dict[str, pd.DataFrame] = field(default_factory=dict, repr=False)

    def headline_text(self) -> str:
        parts = []
        for level, h in self.headline.items():
            if h:
                parts.append(f"{level}: kappa {_fmt(h.get('kappa_set'))}, alpha {_fmt(h.get('alpha'))}, "
                             f"agreement {_fmt(h.get('agreement'))} (n={h.get('n_units')})")
        return f"{' vs '.join(self.coders)}: " + "; ".join(parts)


def _fmt(value: object) -> str:
    return "n/a" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{float(value):.3f}"


UNIT_NOTE = ("单元 = 句子（按 。！？； 与换行切分）；编码者在某层级上的标签 = 与该句至少重叠一个字符的编码的码本代码集合。"
             "all = 范围内全部句子；coded = 仅至少一位编码者编码过的句子。")


def build_reliability(
    codings: CodingSet,
    coders: Sequence[str],
    out_dir: str | Path,
    reviewed_by: str | None = None,
    levels: Sequence[str] = LEVELS,
    variants: Sequence[str] = VARIANTS,
    coverage: Mapping[str, Iterable[str]] | None = None,
    min_confidence: float | None = None,
) -> ReliabilitySummary:
    """Write the reliability tables, the per-code figure, a workbook, Markdown and the JSON summary."""
    from ..atomic import write_text
    from ..tables import write_xlsx
    from .report import markdown_table, write_summary, write_table_files

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    result = reliability(codings, coders, reviewed_by, levels, variants, coverage, min_confidence)
    disagreements = result.units[~result.units[f"agree:{levels[0]}"]] if len(result.units) else result.units
    tables = {
        "reliability_summary": result.summary,
        "reliability_per_code": result.per_code,
        "reliability_units": result.units,
        "reliability_disagreements": disagreements,
    }
    titles = {
        "reliability_summary": "编码者间信度",
        "reliability_per_code": "各代码的 Cohen's kappa",
        "reliability_units": "比较单元（句子）与各编码者的标签",
        "reliability_disagreements": "不一致的单元",
    }
    note = UNIT_NOTE + (f" 范围：仅 {reviewed_by} 审阅过的片段。" if reviewed_by else "")
    files: dict[str, Path] = {}
    for name, frame in tables.items():
        written = write_table_files(frame, out / name, titles[name], note)
        files[written.csv.name], files[written.xlsx.name], files[written.md.name] = written.csv, written.xlsx, written.md
    figures: dict[str, Path] = {}
    level = "initial" if "initial" in levels else levels[0]
    variant = "coded" if "coded" in variants else variants[0]
    pair = " vs ".join(coders[:2])
    sub = result.per_code[(result.per_code["coders"] == pair) & (result.per_code["level"] == level)
                          & (result.per_code["variant"] == variant)]
    if len(sub):
        png, svg = draw_per_code_kappa(sub, out / "reliability_per_code", f"{pair}：各{LEVEL_NAMES.get(level, level)}的 Cohen's kappa（{VARIANT_NAMES.get(variant, variant)}）")
        figures["reliability_per_code"] = png
        files[png.name], files[svg.name] = png, svg
    files["reliability.xlsx"] = write_xlsx({titles[k]: v for k, v in tables.items()}, out / "reliability.xlsx")
    heads = {lv: headline(result, lv, variant) for lv in levels}
    summary = ReliabilitySummary(out, files, list(coders), reviewed_by, "sentence", len(result.data.units), heads, figures,
                                 tables)
    md = ["# 编码者间信度\n", summary.headline_text() + "\n", note + "\n", markdown_table(result.summary),
          *(f"![{k}]({p.name})\n" for k, p in figures.items())]
    files["reliability.md"] = write_text(out / "reliability.md", "\n".join(md))
    files["reliability_summary.json"] = out / "reliability_summary.json"
    write_summary(summary, out / "reliability_summary.json")
    return summary


def draw_per_code_kappa(per_code: pd.DataFrame, stem: Path, title: str) -> tuple[Path, Path]:
    """Horizontal bars: kappa per code, with how many units each coder gave it."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    from ..fonts import use_cjk_font
    from .report import save_figure

    use_cjk_font()
    frame = per_code.sort_values("kappa", na_position="first")
    fig, ax = plt.subplots(figsize=(8.5, 0.34 * len(frame) + 1.6))
    kappas = [0.0 if pd.isna(k) else float(k) for k in frame["kappa"]]
    colors = ["#3d8a3a" if round(k, 2) >= 0.8 else "#d9a21b" if round(k, 2) >= 0.6 else "#c0392b" for k in kappas]
    ax.barh(range(len(frame)), kappas, color=colors)
    ax.set_yticks(range(len(frame)))
    ax.set_yticklabels([f"{c}（{a}/{b}）" for c, a, b in zip(frame["code"], frame["n_a"], frame["n_b"])], fontsize=9.5)
    for i, (k, raw) in enumerate(zip(kappas, frame["kappa"])):
        ax.text(max(k, 0) + 0.01, i, "n/a" if pd.isna(raw) else f"{k:.2f}", va="center", fontsize=8.5)
    for x, ls in ((0.6, ":"), (0.8, "--")):
        ax.axvline(x, color="#777777", linestyle=ls, linewidth=0.8)
    ax.set_xlim(min(0.0, min(kappas) - 0.05), 1.08)
    ax.set_xlabel("Cohen's kappa（括号内：两位编码者各自编码的单元数）")
    ax.set_title(title, fontsize=11.5)
    paths = save_figure(fig, stem)
    plt.close(fig)
    return paths


def reliability_html(summary: ReliabilitySummary, embed_images: bool = True, base: Path | None = None) -> str:
    """An HTML fragment: the summary table, the per-code figure and the per-code table."""
    from .report import Section, render_sections

    intro = summary.headline_text() + "。" + UNIT_NOTE + (f" 范围：仅 {summary.reviewed_by} 审阅过的片段。" if summary.reviewed_by else "")
    sections = [
        Section("信度汇总", intro, tables=[("编码者间信度", summary.tables.get("reliability_summary", pd.DataFrame()))],
                figures=[("各代码的 Cohen's kappa", summary.figures["reliability_per_code"])]
                if "reliability_per_code" in summary.figures else []),
        Section("各代码", tables=[("各代码的 Cohen's kappa", summary.tables.get("reliability_per_code", pd.DataFrame()))]),
        Section("不一致的单元", tables=[("不一致的单元", summary.tables.get("reliability_disagreements", pd.DataFrame()))]),
    ]
    return render_sections("编码者间信度", sections, embed_images=embed_images, base=base)
