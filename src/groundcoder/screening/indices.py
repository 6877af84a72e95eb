"""From per-report counts to the study's indices, and the rules that screen firms on them.

Per report (firm-year): hits per dictionary and per dimension, the frequency per 10,000 tokens and
per 10,000 characters, and the digital-transformation index ln(1 + hits) (Wu Fei et al. 2021), also
per dimension.

Per firm, over its years: hits pooled over its reports and divided by its tokens (per 10k tokens:
long reports weigh more, as they should), and the study's figure-2 measure, total disclosures / number
of reports (``*_per_report``), with its ln(1 + x) variant, also per dimension.

Reports with a problem (unreadable, empty, not Chinese) are left out of every index: a firm with no
countable report has no index (NaN), never 0.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..errors import InputError
from .corpus import ReportResult
from .dictionaries import Dictionary

MEASURES = ("per_10k_tokens", "per_10k_characters", "per_report", "ln_per_report", "hits")
RULES = ("above_mean", "above_median", "top_k", "at_least", "all")


def _column(role: str, measure: str) -> str:
    return f"{role}_{measure}"


def report_table(
    results: Sequence[ReportResult], dictionaries: Mapping[str, Dictionary], names: Mapping[str, str], keyword_columns: bool = True
) -> pd.DataFrame:
    """One row per report: identity, denominators, per-dictionary and per-dimension hits, and (with
    ``keyword_columns``) one column per keyword."""
    keywords = list(dict.fromkeys(w for d in dictionaries.values() for w in d.words))
    rows = []
    for result in results:
        c = result.counts
        row: dict[str, object] = {
            "firm_code": result.report.firm_code,
            "firm_name": names.get(result.report.firm_code, ""),
            "year": result.report.year,
            "file": result.report.name,
            "sha256": result.sha256,
            "scope": c.scope,
            "mdna_heading": c.mdna_heading or "",
            "characters": c.characters,
            "han_characters": c.han_characters,
            "tokens": c.tokens,
            "problem": c.problem or "",
            "from_cache": result.cached,
        }
        for role, dictionary in dictionaries.items():
            hits = sum(c.counts.get(w, 0) for w in dictionary.words) if not c.problem else None
            row[_column(role, "hits")] = hits
            row[_column(role, "negated")] = sum(c.negated.get(w, 0) for w in dictionary.words) if not c.problem else None
            row[_column(role, "per_10k_tokens")] = _per_10k(hits, c.tokens)
            row[_column(role, "per_10k_characters")] = _per_10k(hits, c.characters)
            row[_column(role, "ln1p")] = math.log1p(hits) if hits is not None else None
            for dimension, words in dictionary.dimensions.items():
                row[f"{role}:{dimension}"] = sum(c.counts.get(w, 0) for w in words) if not c.problem else None
        if keyword_columns:
            for word in keywords:
                row[word] = c.counts.get(word, 0) if not c.problem else None
        rows.append(row)
    frame = pd.DataFrame(rows)
    if frame.empty:
        return frame
    return frame.astype({"year": "Int64", "tokens": "Int64"})


def _per_10k(hits: int | None, denominator: int | None) -> float | None:
    if hits is None or not denominator:
        return None
    return hits / denominator * 10_000


def firm_year_table(reports: pd.DataFrame, dictionaries: Mapping[str, Dictionary]) -> pd.DataFrame:
    """One row per firm and year: the report's hits (summed if a year has several files), frequencies,
    ln(1 + hits) overall and per dimension."""
    valid = reports[reports["problem"] == ""] if not reports.empty else reports
    if valid.empty:
        return pd.DataFrame(columns=["firm_code", "firm_name", "year", "reports"])
    valid = valid.assign(year=valid["year"].fillna(-1))
    sums = _sum_columns(dictionaries)
    grouped = valid.groupby(["firm_code", "year"], sort=True)
    table = grouped[sums].sum()
    table.insert(0, "firm_name", grouped["firm_name"].first())
    table.insert(1, "reports", grouped.size())
    table = table.reset_index()
    for role, dictionary in dictionaries.items():
        hits = table[_column(role, "hits")]
        table[_column(role, "per_10k_tokens")] = _ratio(hits, table["tokens"])
        table[_column(role, "per_10k_characters")] = _ratio(hits, table["characters"])
        table[_column(role, "ln1p")] = np.log1p(hits.astype(float))
        for dimension in dictionary.dimensions:
            table[f"{role}:{dimension}:ln1p"] = np.log1p(table[f"{role}:{dimension}"].astype(float))
    table["year"] = table["year"].replace(-1, pd.NA).astype("Int64")
    return table


def firm_table(reports: pd.DataFrame, dictionaries: Mapping[str, Dictionary], firm_codes: Sequence[str], names: Mapping[str, str]) -> pd.DataFrame:
    """One row per firm of the firm table (in its order), with its indices over its countable reports."""
    base = pd.DataFrame({"firm_code": list(firm_codes)})
    base["firm_name"] = [names.get(code, "") for code in firm_codes]
    if reports.empty:
        base["reports"] = 0
        base["reports_with_problems"] = 0
        return base
    problems = reports[reports["problem"] != ""].groupby("firm_code").size()
    valid = reports[reports["problem"] == ""]
    sums = _sum_columns(dictionaries)
    grouped = valid.groupby("firm_code")
    table = grouped[sums].sum()
    table.insert(0, "reports", grouped.size())
    years = grouped["year"].agg(lambda y: ",".join(str(v) for v in sorted(y.dropna().unique())))
    table.insert(1, "years", years)
    for role, dictionary in dictionaries.items():
        hits = table[_column(role, "hits")]
        table[_column(role, "per_10k_tokens")] = _ratio(hits, table["tokens"])
        table[_column(role, "per_10k_characters")] = _ratio(hits, table["characters"])
        table[_column(role, "per_report")] = hits / table["reports"]
        table[_column(role, "ln_per_report")] = np.log1p(table[_column(role, "per_report")])
        for dimension in dictionary.dimensions:
            per_report = table[f"{role}:{dimension}"] / table["reports"]
            table[f"{role}:{dimension}:per_report"] = per_report
            table[f"{role}:{dimension}:ln_per_report"] = np.log1p(per_report)
    table = base.merge(table.reset_index(), on="firm_code", how="left")
    table["reports"] = table["reports"].fillna(0).astype(int)
    table.insert(3, "reports_with_problems", table["firm_code"].map(problems).fillna(0).astype(int))
    return table


def _sum_columns(dictionaries: Mapping[str, Dictionary]) -> list[str]:
    columns = ["characters", "tokens"]
    for role, dictionary in dictionaries.items():
        columns += [_column(role, "hits"), _column(role, "negated")]
        columns += [f"{role}:{dimension}" for dimension in dictionary.dimensions]
    return columns


def _ratio(hits: pd.Series, denominator: pd.Series) -> pd.Series:
    denominator = denominator.astype(float).replace(0.0, np.nan)
    return hits.astype(float) / denominator * 10_000


# --------------------------------------------------------------------------------------------------
# Rules


@dataclass(frozen=True)
class Rule:
    """How a measure screens firms: above the mean (the study), above the median, the top k, at least
    a value, or everyone with a value."""

    kind: str = "above_mean"
    k: int | None = None
    value: float | None = None

    def __post_init__(self) -> None:
        if self.kind not in RULES:
            raise InputError(None, f"rule {self.kind!r} is not one of {', '.join(RULES)}")
        if self.kind == "top_k" and (not isinstance(self.k, int) or self.k < 1):
            raise InputError(None, f"rule top_k needs k, a whole number >= 1 (got {self.k!r})")
        if self.kind == "at_least" and not isinstance(self.value, (int, float)):
            raise InputError(None, f"rule at_least needs value, a number (got {self.value!r})")


@dataclass(frozen=True)
class RuleOutcome:
    passed: pd.Series  # bool, indexed like the values
    threshold: float | None
    description: str  # e.g. "above the mean (1.23) of 187 firms"


def apply_rule(values: pd.Series, rule: Rule, reference: pd.Series | None = None, label: str = "value") -> RuleOutcome:
    """Which of ``values`` pass ``rule``; the mean or median is taken over ``reference`` (default:
    ``values``). Missing values never pass. Ties at the k-th value of top-k all pass."""
    reference = values if reference is None else reference
    ref = reference.dropna().astype(float)
    present = values.notna()
    numeric = values.astype(float)
    if rule.kind == "all":
        return RuleOutcome(present, None, f"every firm with a {label}")
    if rule.kind in ("above_mean", "above_median"):
        if ref.empty:
            return RuleOutcome(pd.Series(False, index=values.index), None, f"{rule.kind.replace('_', ' ')}: no firm has a {label}")
        threshold = float(ref.mean() if rule.kind == "above_mean" else ref.median())
        word = "mean" if rule.kind == "above_mean" else "median"
        return RuleOutcome(present & (numeric > threshold), threshold, f"{label} above the {word} ({threshold:.4g}) of {len(ref)} firms")
    if rule.kind == "at_least":
        threshold = float(rule.value)  # type: ignore[arg-type]
        return RuleOutcome(present & (numeric >= threshold), threshold, f"{label} at least {threshold:.4g}")
    ranked = numeric[present].sort_values(ascending=False)
    if ranked.empty:
        return RuleOutcome(pd.Series(False, index=values.index), None, f"top {rule.k}: no firm has a {label}")
    threshold = float(ranked.iloc[min(rule.k, len(ranked)) - 1])  # type: ignore[arg-type]
    return RuleOutcome(present & (numeric >= threshold), threshold, f"the {rule.k} firms with the highest {label} (>= {threshold:.4g})")


def keyword_hits(results: Sequence[ReportResult], dictionaries: Mapping[str, Dictionary]) -> pd.DataFrame:
    """Long format, one row per report and keyword with a hit (negated hits too): a pivot-table source."""
    where = [(role, k.dimension) for role, d in dictionaries.items() for k in d.keywords]
    keywords = [k.word for d in dictionaries.values() for k in d.keywords]
    rows = []
    for result in results:
        c = result.counts
        if c.problem:
            continue
        for word, (role, dimension) in zip(keywords, where):
            hits, negated = c.counts.get(word, 0), c.negated.get(word, 0)
            if hits or negated:
                rows.append({"firm_code": result.report.firm_code, "year": result.report.year, "file": result.report.name,
                             "dictionary": role, "dimension": dimension, "keyword": word, "hits": hits, "negated": negated})
    columns = ["firm_code", "year", "file", "dictionary", "dimension", "keyword", "hits", "negated"]
    return pd.DataFrame(rows, columns=columns).astype({"year": "Int64"})


def keyword_totals(hits: pd.DataFrame, dictionary: Dictionary, firm_codes: Sequence[str] | None = None) -> pd.DataFrame:
    """Hits per keyword of ``dictionary`` (with its dimension) from the long ``keyword_hits`` table,
    over the reports of ``firm_codes`` (default: all); every keyword gets a row, found or not."""
    if firm_codes is not None and not hits.empty:
        hits = hits[hits["firm_code"].isin(list(firm_codes))]
    by_word = hits.groupby("keyword") if not hits.empty else None
    totals = by_word["hits"].sum() if by_word is not None else pd.Series(dtype=int)
    reports = hits[hits["hits"] > 0].groupby("keyword")["file"].nunique() if by_word is not None else pd.Series(dtype=int)
    negated = by_word["negated"].sum() if by_word is not None else pd.Series(dtype=int)
    rows = [
        {"keyword": k.word, "dimension": k.dimension, "hits": int(totals.get(k.word, 0)),
         "reports_with_hits": int(reports.get(k.word, 0)), "negated": int(negated.get(k.word, 0))}
        for k in dictionary.keywords
    ]
    return pd.DataFrame(rows).sort_values(["hits", "keyword"], ascending=[False, True], kind="stable").reset_index(drop=True)
