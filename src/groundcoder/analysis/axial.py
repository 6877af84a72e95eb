"""Axial-coding evidence: which categories occur together, and how much more than by chance.

Windows (the unit within which two categories "co-occur"):

* ``segment``   -- one coded quote (two categories co-occur when one quote carries both);
* ``paragraph`` -- the paragraph (line) of the document holding the quote (needs the texts);
* ``document``  -- one source; ``firm`` -- all sources of one firm.

For a window kind and a level (initial or main categories), ``N`` is the number of windows holding at
least one codebook-coded quote, ``n_a`` the windows holding category a, ``n_ab`` those holding both.
Measures: expected = n_a n_b / N; lift = n_ab / expected; Jaccard = n_ab / (n_a + n_b - n_ab);
PMI = log2(lift); NPMI = PMI / -log2(n_ab / N) (-1 when never together; undefined, empty, when the
pair is in every window); and Fisher's exact test (one-sided: more co-occurrence than chance) as p.
The quotes behind each pair (those coded with a or b inside the windows holding both) are listed.

Proposed links between main categories (``propose_links``), the rule (``LinkRule``): in the chosen
window a pair is proposed when it co-occurs in at least ``min_support`` windows, its NPMI is at least
``min_npmi`` (so lift > 1) and Fisher's p is at most ``max_p``. The default window is the document:
paragraphs of reports and news are topical (one theme each), so on the demo corpus every pair of main
categories co-occurs *less* than chance within paragraphs, while documents mix themes and show which
factors a source discusses together. In firm windows a well-coded firm has every main category, so
the firm window is reported but carries no signal for links.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import combinations

import pandas as pd

from .codings import CodedSegment, CodingSet
from .report import join_ids

WINDOWS = ("segment", "paragraph", "document", "firm")
WINDOW_LABELS = {"segment": "引文", "paragraph": "段落", "document": "资料", "firm": "企业"}
COOCCURRENCE_COLUMNS = [
    "window", "level", "category_a", "category_b", "n_windows", "n_a", "n_b", "n_ab", "expected", "lift",
    "jaccard", "pmi", "npmi", "fisher_p", "quote_ids", "window_ids",
]


@dataclass(frozen=True)
class LinkRule:
    """The documented rule of ``propose_links``."""

    window: str = "document"
    min_support: int = 5
    min_npmi: float = 0.1
    max_p: float = 0.05

    def describe(self) -> str:
        return (f"主范畴之间的联系：在同一{WINDOW_LABELS.get(self.window, self.window)}中共现至少 {self.min_support} 次，"
                f"NPMI ≥ {self.min_npmi:g}（即 lift > 1），且 Fisher 精确检验（单侧）p ≤ {self.max_p:g}")


@dataclass
class AxialResult:
    cooccurrence: pd.DataFrame
    links: pd.DataFrame
    rule: LinkRule
    windows: dict[str, int] = field(default_factory=dict)  # window kind -> N (windows with codes)


def _paragraph_windows(codings: CodingSet, segments: Sequence[CodedSegment]) -> dict[int, list[str]]:
    """Segment index -> ids of the paragraphs it overlaps."""
    from ..segmentation import split_paragraphs

    out: dict[int, list[str]] = {}
    by_doc: dict[str, list[int]] = defaultdict(list)
    for i, s in enumerate(segments):
        by_doc[s.doc_id].append(i)
    for doc_id, indices in by_doc.items():
        paragraphs = split_paragraphs(codings.text(doc_id))
        for i in indices:
            s = segments[i]
            hits = [f"{doc_id}#p{k + 1}" for k, p in enumerate(paragraphs) if p.start < s.end and s.start < p.end]
            out[i] = hits or [f"{doc_id}#{s.start}"]
    return out


def window_units(codings: CodingSet, window: str, level: str) -> dict[str, dict[str, list[CodedSegment]]]:
    """window id -> category -> the quotes of that window coded with it (codebook codes only)."""
    if window not in WINDOWS:
        raise ValueError(f"unknown window {window!r}; windows: {', '.join(WINDOWS)}")
    segments = [s for s in codings.segments if codings.codes(s, level)]
    if window == "paragraph":
        paragraphs = _paragraph_windows(codings, segments)
    units: dict[str, dict[str, list[CodedSegment]]] = defaultdict(lambda: defaultdict(list))
    for i, s in enumerate(segments):
        if window == "segment":
            ids = [f"{s.coder}|{s.quote_id}"] if len(codings.coders) > 1 else [s.quote_id]
        elif window == "paragraph":
            ids = paragraphs[i]
        elif window == "document":
            ids = [s.doc_id]
        else:
            ids = [s.firm_id]
        for unit in ids:
            for code in codings.codes(s, level):
                units[unit][code].append(s)
    return {u: dict(c) for u, c in units.items()}


def association(n: int, n_a: int, n_b: int, n_ab: int) -> dict[str, float]:
    """Lift, Jaccard, PMI (bits), NPMI and Fisher's one-sided p for one pair among ``n`` windows."""
    expected = n_a * n_b / n if n else math.nan
    lift = n_ab / expected if expected else math.nan
    union = n_a + n_b - n_ab
    jaccard = n_ab / union if union else math.nan
    if n_ab == 0:
        pmi, npmi = -math.inf, -1.0
    else:
        pmi = math.log2(lift)
        p_ab = n_ab / n
        # In every window: PMI is 0 and -log p(ab) is 0, so NPMI is undefined (nothing to learn).
        npmi = math.nan if p_ab >= 1 else pmi / -math.log2(p_ab)
    return {"expected": expected, "lift": lift, "jaccard": jaccard, "pmi": pmi, "npmi": npmi,
            "fisher_p": fisher_greater(n, n_a, n_b, n_ab)}


def fisher_greater(n: int, n_a: int, n_b: int, n_ab: int) -> float:
    """Fisher's exact test, one-sided (more together than chance): P(X >= n_ab), X hypergeometric.

    The same value as ``scipy.stats.fisher_exact(..., alternative="greater")``, without importing
    scipy.stats (seconds on a cold start) for a sum of a few hundred terms.
    """
    if n <= 0:
        return math.nan
    low, high = max(0, n_a + n_b - n), min(n_a, n_b)
    if n_ab <= low:
        return 1.0

    def log_comb(a: int, b: int) -> float:
        return math.lgamma(a + 1) - math.lgamma(b + 1) - math.lgamma(a - b + 1)

    denominator = log_comb(n, n_b)
    terms = [log_comb(n_a, k) + log_comb(n - n_a, n_b - k) - denominator for k in range(n_ab, high + 1)]
    if not terms:
        return 0.0
    top = max(terms)
    return min(1.0, math.exp(top) * sum(math.exp(t - top) for t in terms))


def cooccurrence(codings: CodingSet, windows: Sequence[str] = WINDOWS, levels: Sequence[str] = ("main", "initial"),
                 include_zero: bool = True) -> pd.DataFrame:
    """Every pair of categories (codebook order) per window kind and level, with counts and measures."""
    rows = []
    order = {
        "main": [m.name for m in codings.codebook.main_categories],
        "initial": [ic.name for ic in codings.codebook.initial_categories],
    }
    for window in windows:
        if window == "paragraph" and not codings.has_texts:
            continue
        for level in levels:
            units = window_units(codings, window, level)
            n = len(units)
            holders: dict[str, set[str]] = defaultdict(set)
            for unit, cats in units.items():
                for cat in cats:
                    holders[cat].add(unit)
            for a, b in combinations(order[level], 2):
                both = holders[a] & holders[b]
                if not both and not include_zero:
                    continue
                quotes = [s.quote_id for u in both for cat in (a, b) for s in units[u][cat]]
                rows.append(
                    {
                        "window": window, "level": level, "category_a": a, "category_b": b, "n_windows": n,
                        "n_a": len(holders[a]), "n_b": len(holders[b]), "n_ab": len(both),
                        **association(n, len(holders[a]), len(holders[b]), len(both)),
                        "quote_ids": join_ids(quotes), "window_ids": join_ids(both),
                    }
                )
    return pd.DataFrame(rows, columns=COOCCURRENCE_COLUMNS)


def propose_links(codings: CodingSet, table: pd.DataFrame, rule: LinkRule = LinkRule()) -> pd.DataFrame:
    """Links between main categories by ``rule``, strongest (NPMI) first; with role and stage context."""
    window = rule.window if (rule.window != "paragraph" or codings.has_texts) else "document"
    sub = table[(table["window"] == window) & (table["level"] == "main")]
    chosen = sub[(sub["n_ab"] >= rule.min_support) & (sub["npmi"] >= rule.min_npmi) & (sub["fisher_p"] <= rule.max_p)]
    cb = codings.codebook
    rows = []
    for r in chosen.sort_values(["npmi", "n_ab"], ascending=[False, False]).itertuples(index=False):
        role_a, role_b = cb.parent_of(r.category_a), cb.parent_of(r.category_b)
        stages = [s.name for s in cb.stages if r.category_a in s.main_categories and r.category_b in s.main_categories]
        rows.append(
            {
                "category_a": r.category_a, "category_b": r.category_b, "window": window, "n_ab": r.n_ab,
                "n_windows": r.n_windows, "lift": r.lift, "jaccard": r.jaccard, "npmi": r.npmi, "fisher_p": r.fisher_p,
                "role_a": role_a or "", "role_b": role_b or "",
                "same_role": bool(role_a and role_a == role_b), "shared_stages": "、".join(stages),
                "quote_ids": r.quote_ids,
            }
        )
    return pd.DataFrame(rows, columns=["category_a", "category_b", "window", "n_ab", "n_windows", "lift", "jaccard", "npmi",
                                       "fisher_p", "role_a", "role_b", "same_role", "shared_stages", "quote_ids"])


def axial_evidence(codings: CodingSet, rule: LinkRule = LinkRule(), windows: Sequence[str] = WINDOWS) -> AxialResult:
    table = cooccurrence(codings, windows)
    links = propose_links(codings, table, rule)
    counts = {w: int(table[table["window"] == w]["n_windows"].iloc[0]) for w in table["window"].unique()} if len(table) else {}
    return AxialResult(table, links, rule, counts)


def cooccurrence_matrix(table: pd.DataFrame, window: str, level: str, measure: str = "n_ab") -> pd.DataFrame:
    """A symmetric category x category matrix of one measure (for a heatmap or a quick look)."""
    sub = table[(table["window"] == window) & (table["level"] == level)]
    names = list(dict.fromkeys(list(sub["category_a"]) + list(sub["category_b"])))
    matrix = pd.DataFrame(float("nan"), index=names, columns=names)
    for r in sub.itertuples(index=False):
        value = getattr(r, measure)
        matrix.loc[r.category_a, r.category_b] = value
        matrix.loc[r.category_b, r.category_a] = value
    return matrix
