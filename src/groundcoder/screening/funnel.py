"""The study's screening funnel: all firms -> micro-innovation -> digital -> a sample of N.

* micro-innovation: keyword frequency by the configured rule (above the mean of all firms, as the
  study) AND a persistent pattern of citing the firm's own patents (share of its patents citing its
  own earlier ones, and consecutive years with self-citation), from the incoPat export;
* digital: digital-transformation disclosures per report (the study's figure 2) by the configured
  rule, among the micro-innovation firms;
* sample: the N firms with the highest digital measure (or N drawn at random with a seed).

``run_screening(config)`` does the whole run and writes, into the output folder: a table per stage
(every firm that entered it, whether it stayed and why it left), the firm, firm-year and report
tables, keyword totals, all of them as CSV (UTF-8 with BOM) and in one workbook per table family
(screening.xlsx holds a sheet per stage), the figures, and screening.json, the run's summary.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from ..atomic import write_json
from ..errors import InputError
from ..tables import write_csv, write_table, write_xlsx
from .config import ScreeningConfig
from .corpus import CACHE_NAME, CountCache, CountingStats, ReportResult, count_reports, find_reports
from .dictionaries import Dictionary, load_dictionaries, union_keywords
from .indices import apply_rule, firm_table, firm_year_table, keyword_hits, keyword_totals, report_table

if TYPE_CHECKING:
    from rich.console import Console

SUMMARY_NAME = "screening.json"
STAGES = ("all firms", "micro-innovation", "digital", "sample")
_STAGE_SHEETS = ("0 all firms", "1 micro-innovation", "2 digital", "3 sample")


@dataclass
class StageCount:
    stage: str
    firms: int
    rule: str
    left: int


@dataclass
class ScreeningResult:
    """What a run found: the stage counts, the tables, where it wrote them, and the run's summary."""

    stages: list[StageCount]
    firms: pd.DataFrame  # every firm with its measures, the stage it reached and why it left
    sample: pd.DataFrame
    reports: pd.DataFrame
    firm_years: pd.DataFrame
    keyword_hits: pd.DataFrame  # long: report, keyword, hits, negated (rows with a hit only)
    outputs: dict[str, str] = field(default_factory=dict)
    summary: dict[str, Any] = field(default_factory=dict)


def run_screening(config: ScreeningConfig, console: Console | None = None, write: bool = True) -> ScreeningResult:
    """Run the funnel described by ``config``; ``console`` shows progress (None: quiet)."""
    started = time.perf_counter()
    dictionaries = {role: load_dictionaries(spec.use, spec.extend, base=config.base) for role, spec in config.dictionaries.items()}
    reports, unmatched = find_reports(config.inputs.reports, config.inputs.firms, config.inputs.pattern, config.inputs.manifest)
    if not reports:
        examples = "; ".join(f"{u.name}: {u.reason}" for u in unmatched[:3])
        raise InputError(
            config.inputs.reports,
            f"no report could be matched to a firm of {Path(config.inputs.firms).name}" + (f" ({examples})" if examples else " (the folder is empty)"),
            hint="check inputs.pattern (e.g. \"{code}_{year}\") or give a manifest",
        )
    from ..firms import read_firm_table

    table = read_firm_table(config.inputs.firms)
    firm_codes = [f.code for f in table.firms]
    names = {f.code: f.name for f in table.firms}
    attributes = pd.DataFrame([{"firm_code": f.code, **dict(f.attributes)} for f in table.firms])

    # The patent export first: a bad export is reported before minutes of counting, not after.
    with _status(console, "reading the patent export and measuring self-citation"):
        patents_info, patent_columns = _patent_measures(config, firm_codes, names)

    keywords = union_keywords(dictionaries.values())
    stats = CountingStats()
    out = Path(config.output)
    cache = CountCache(out / CACHE_NAME) if config.cache else None
    try:
        results: list[ReportResult] = list(
            count_reports(reports, keywords, config.counting, cache=cache, workers=config.workers, console=console, stats=stats)
        )
    finally:
        if cache is not None:
            cache.close()

    reports_frame = report_table(results, dictionaries, names, keyword_columns=False)
    hits = keyword_hits(results, dictionaries)
    firm_years = firm_year_table(reports_frame, dictionaries)
    firms = firm_table(reports_frame, dictionaries, firm_codes, names)
    if len(attributes.columns) > 1:
        firms = firms.merge(attributes, on="firm_code", how="left")

    if patent_columns is not None:
        firms = firms.merge(patent_columns, on="firm_code", how="left")
    stages, firms = _screen(config, firms)
    sample = firms[firms["stage_reached"] == len(STAGES) - 1].sort_values("sample_rank").reset_index(drop=True)

    result = ScreeningResult(stages, firms, sample, reports_frame, firm_years, hits)
    result.summary = _summary(config, result, stats, unmatched, dictionaries, patents_info, table.warnings)
    if write:
        with _status(console, f"writing tables{' and figures' if config.figures else ''} to {out}"):
            _write_outputs(config, result, dictionaries, patents_info)
    result.summary["seconds"] = round(time.perf_counter() - started, 2)
    if write:
        write_json(out / SUMMARY_NAME, result.summary)
        result.outputs["summary"] = str(out / SUMMARY_NAME)
    return result


def _status(console: Console | None, message: str):
    """A spinner with ``message`` while a step runs (nothing without a console)."""
    import contextlib

    return console.status(message) if console is not None else contextlib.nullcontext()


# --------------------------------------------------------------------------------------------------
# Patents


@dataclass
class PatentInfo:
    used: bool
    path: str | None = None
    patents: int = 0
    applicants: int = 0
    matched_firms: int = 0
    cell_problems: list[Any] = field(default_factory=list)
    by_firm: pd.DataFrame | None = None


def _patent_measures(config: ScreeningConfig, firm_codes: list[str], names: Mapping[str, str]) -> tuple[PatentInfo, pd.DataFrame | None]:
    """Self-citation measures per firm code, matched to the firm table by name (NFKC, white space, case)."""
    rule = config.self_citation
    if not rule.enabled:
        return PatentInfo(False), None
    if config.inputs.patents is None:
        raise InputError(
            config.path,
            "the micro-innovation stage's self-citation rule needs the patent export (inputs.patents)",
            hint="give the incoPat export, or set micro_innovation.self_citation.enabled: false",
        )
    from .patents import applicant_key, read_alias_table, read_incopat, self_citation_by_firm

    records, problems = read_incopat(config.inputs.patents, errors="report")
    aliases = read_alias_table(config.inputs.aliases) if config.inputs.aliases is not None else None
    by_firm = self_citation_by_firm(records, aliases=aliases)
    for column in (rule.share, rule.continuity):
        if column not in by_firm.columns:
            raise InputError(
                config.path,
                f"micro_innovation.self_citation names the column {column!r}, which the patent measures do not have",
                hint="one of: " + ", ".join(c for c in by_firm.columns if c != "firm"),
            )
    keyed = by_firm.assign(_key=by_firm["firm"].map(applicant_key)).drop_duplicates("_key").set_index("_key")
    keys = pd.Series([applicant_key(names.get(code, "") or "") for code in firm_codes])
    columns = pd.DataFrame({
        "firm_code": firm_codes,
        "patent_applicant": keys.map(keyed["firm"]).values,
        "patents": keys.map(keyed["n_patents"]).fillna(0).astype(int).values,
        "self_citation_share": keys.map(keyed[rule.share]).values,
        "self_citation_continuity": keys.map(keyed[rule.continuity]).values,
    })
    info = PatentInfo(
        True,
        str(config.inputs.patents),
        patents=len({r.publication_number for r in records}),
        applicants=len(by_firm),
        matched_firms=int(columns["patent_applicant"].notna().sum()),
        cell_problems=problems,
        by_firm=by_firm,
    )
    return info, columns


# --------------------------------------------------------------------------------------------------
# The stages


def _screen(config: ScreeningConfig, firms: pd.DataFrame) -> tuple[list[StageCount], pd.DataFrame]:
    firms = firms.copy()
    n = len(firms)
    reasons: list[list[str]] = [[] for _ in range(n)]
    has_reports = firms["reports"] > 0
    for i in range(n):
        if not has_reports.iloc[i]:
            with_problems = int(firms["reports_with_problems"].iloc[i])
            reasons[i].append(
                f"no countable report ({with_problems} with problems, see reports)" if with_problems else "no report found for this firm"
            )

    # Stage 1: micro-innovation keywords AND persistent self-citation.
    mi = config.micro_innovation
    mi_column = f"micro_innovation_{mi.measure}"
    mi_values = firms[mi_column]
    mi_outcome = apply_rule(mi_values, mi.rule, reference=mi_values[has_reports], label=f"micro-innovation keywords {_measure_label(mi.measure)}")
    firms["mi_keywords_pass"] = mi_outcome.passed & has_reports
    for i in range(n):
        if has_reports.iloc[i] and not mi_outcome.passed.iloc[i]:
            reasons[i].append(f"micro-innovation keywords {_fmt(mi_values.iloc[i])} {_measure_label(mi.measure)}, {_failed(mi.rule, mi_outcome.threshold)}")
    sc = config.self_citation
    if sc.enabled:
        share, continuity = firms["self_citation_share"], firms["self_citation_continuity"]
        sc_pass = share.notna() & (share.astype(float) >= sc.min_share) & (continuity.fillna(0).astype(float) >= sc.min_continuity)
        for i in range(n):
            if sc_pass.iloc[i]:
                continue
            if pd.isna(share.iloc[i]):
                reasons[i].append("no patents under its name in the patent export")
                continue
            if float(share.iloc[i]) < sc.min_share:
                reasons[i].append(f"self-citation: {float(share.iloc[i]):.0%} of its patents cite its own (< {sc.min_share:.0%})")
            if float(continuity.iloc[i]) < sc.min_continuity:
                reasons[i].append(f"self-citation in {int(continuity.iloc[i])} consecutive years (< {sc.min_continuity})")
        firms["self_citation_pass"] = sc_pass
    else:
        firms["self_citation_pass"] = True
    stage1 = has_reports & firms["mi_keywords_pass"] & firms["self_citation_pass"]
    stage1_rule = mi_outcome.description + (
        f"; and at least {sc.min_share:.0%} of its patents cite its own earlier ones, in at least {sc.min_continuity} consecutive years"
        if sc.enabled
        else ""
    )

    # Stage 2: digital transformation among the micro-innovation firms.
    dg = config.digital
    dg_column = f"digital_{dg.measure}"
    dg_values = firms[dg_column]
    reference = dg_values[stage1] if dg.among == "micro_innovation" else dg_values[has_reports]
    dg_outcome = apply_rule(dg_values, dg.rule, reference=reference, label=f"digital disclosures {_measure_label(dg.measure)}")
    stage2 = stage1 & dg_outcome.passed
    for i in range(n):
        if stage1.iloc[i] and not stage2.iloc[i]:
            reasons[i].append(f"digital disclosures {_fmt(dg_values.iloc[i])} {_measure_label(dg.measure)}, {_failed(dg.rule, dg_outcome.threshold)}")

    # Stage 3: the sample.
    sample_n = config.sample.n
    candidates = firms[stage2]
    if config.sample.method == "top":
        ordered = candidates.assign(_v=candidates[dg_column].astype(float)).sort_values(["_v", "firm_code"], ascending=[False, True], kind="stable")
        chosen = list(ordered.index[:sample_n])
        sample_rule = f"the {sample_n} firms with the highest digital disclosures {_measure_label(dg.measure)}"
    else:
        pool = sorted(candidates.index, key=lambda i: str(firms.at[i, "firm_code"]))
        chosen = random.Random(config.sample.seed).sample(pool, min(sample_n, len(pool)))
        ordered = candidates.loc[chosen]
        sample_rule = f"{sample_n} firms drawn at random (seed {config.sample.seed})"
    ranks = {index: rank for rank, index in enumerate(ordered.index, start=1)}
    firms["digital_rank"] = [ranks.get(i) for i in firms.index]
    firms["digital_rank"] = firms["digital_rank"].astype("Int64")
    stage3 = pd.Series(False, index=firms.index)
    stage3.loc[chosen] = True
    firms["sample_rank"] = pd.Series({index: rank for rank, index in enumerate(chosen, start=1)}).reindex(firms.index).astype("Int64")
    for i, index in enumerate(firms.index):
        if stage2.loc[index] and not stage3.loc[index]:
            reasons[i].append(f"ranked {ranks[index]} of {len(candidates)} by digital disclosures; the sample keeps {sample_n}" if config.sample.method == "top" else "not drawn for the sample")

    firms["stage_reached"] = 0 + stage1.astype(int) + stage2.astype(int) + stage3.astype(int)
    firms["left_at"] = [("" if s == 3 else STAGES[s + 1]) for s in firms["stage_reached"]]
    firms["reason"] = ["; ".join(r) if s < 3 else "" for r, s in zip(reasons, firms["stage_reached"])]
    counts = [n, int(stage1.sum()), int(stage2.sum()), int(stage3.sum())]
    rules = ["every firm of the firm table", stage1_rule, dg_outcome.description + (" (among the micro-innovation firms)" if dg.among == "micro_innovation" and dg.rule.kind in ("above_mean", "above_median") else ""), sample_rule]
    stages = [StageCount(stage, count, rule, (counts[i - 1] - count) if i else 0) for i, (stage, count, rule) in enumerate(zip(STAGES, counts, rules))]
    firms.attrs["thresholds"] = {"micro_innovation": mi_outcome.threshold, "digital": dg_outcome.threshold}
    return stages, firms


def _measure_label(measure: str) -> str:
    return {
        "per_10k_tokens": "per 10k tokens",
        "per_10k_characters": "per 10k characters",
        "per_report": "per report",
        "ln_per_report": "ln(1 + per report)",
        "hits": "in all reports",
    }[measure]


def _failed(rule: Any, threshold: float | None) -> str:
    """Why a value fails ``rule``, e.g. 'not above the mean (1.2)'."""
    return {
        "above_mean": f"not above the mean ({_fmt(threshold)})",
        "above_median": f"not above the median ({_fmt(threshold)})",
        "top_k": f"not among the top {rule.k} (>= {_fmt(threshold)})",
        "at_least": f"below {_fmt(threshold)}",
        "all": "no value",
    }[rule.kind]


def _fmt(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    return f"{float(value):.3g}"


# --------------------------------------------------------------------------------------------------
# Output


_MEASURE_COLUMNS = (
    "firm_code", "firm_name", "reports", "reports_with_problems", "years",
    "micro_innovation_hits", "micro_innovation_per_10k_tokens", "micro_innovation_per_report",
    "patents", "self_citation_share", "self_citation_continuity",
    "digital_hits", "digital_per_report", "digital_ln_per_report", "digital_per_10k_tokens",
)  # fmt: skip


def stage_tables(result: ScreeningResult) -> dict[str, pd.DataFrame]:
    """A table per stage: the firms that entered it, whether they stayed, and why they left."""
    firms = result.firms
    columns = [c for c in _MEASURE_COLUMNS if c in firms.columns]
    extra = [c for c in firms.columns if ":" in c and c.startswith("digital:") and c.endswith(":per_report")]
    tables = {}
    for number, sheet in enumerate(_STAGE_SHEETS):
        entered = firms[firms["stage_reached"] >= number - 1] if number else firms
        frame = entered[columns + (extra if number >= 2 else [])].copy()
        if number >= 2:
            frame.insert(2, "digital_rank", entered["digital_rank"])
        if number:
            kept = entered["stage_reached"] >= number
            frame["kept"] = kept.map({True: "yes", False: "no"})
            frame["reason"] = [r if not k else "" for r, k in zip(entered["reason"], kept)]
            frame = frame.sort_values(["kept", "firm_code"], ascending=[False, True], kind="stable")
        tables[sheet] = frame.reset_index(drop=True)
    return tables


def _write_outputs(config: ScreeningConfig, result: ScreeningResult, dictionaries: Mapping[str, Dictionary], patents: PatentInfo) -> None:
    out = Path(config.output)
    out.mkdir(parents=True, exist_ok=True)
    outputs = result.outputs
    funnel = pd.DataFrame([s.__dict__ for s in result.stages])
    stages = stage_tables(result)
    sheets: dict[str, pd.DataFrame] = {"funnel": funnel, **stages, "sample": result.sample}
    outputs["workbook"] = str(write_xlsx(sheets, out / "screening.xlsx"))
    write_csv(funnel, out / "funnel.csv")
    for sheet, frame in stages.items():
        name = "stage_" + sheet.replace(" ", "_").replace("-", "_")
        write_csv(frame, out / f"{name}.csv")
    tables = (("firms", result.firms), ("sample", result.sample), ("firm_years", result.firm_years), ("reports", result.reports),
              ("keyword_hits", result.keyword_hits))
    for name, frame in tables:
        csv_path, xlsx_path = write_table(frame, out / name)
        outputs[name] = str(csv_path)
    totals = {role: keyword_totals(result.keyword_hits, d) for role, d in dictionaries.items()}
    if totals:
        write_xlsx(totals, out / "keyword_totals.xlsx")
        for role, frame in totals.items():
            write_csv(frame, out / f"keyword_totals_{role}.csv")
    if patents.used and patents.by_firm is not None:
        write_table(patents.by_firm, out / "patent_self_citation")
        if patents.cell_problems:
            write_table(patents.cell_problems, out / "patent_cell_problems")
    if config.figures:
        from .figures import draw_figures

        outputs.update(draw_figures(result, dictionaries, out))
    result.summary["outputs"] = dict(outputs)


def _summary(
    config: ScreeningConfig,
    result: ScreeningResult,
    stats: CountingStats,
    unmatched: list[Any],
    dictionaries: Mapping[str, Dictionary],
    patents: PatentInfo,
    warnings: list[str],
) -> dict[str, Any]:
    problems = result.reports[result.reports["problem"] != ""] if not result.reports.empty else result.reports
    no_mdna = int((result.reports["scope"] == "whole (no MD&A found)").sum()) if not result.reports.empty else 0
    return {
        "config": str(config.path) if config.path else None,
        "output": str(config.output),
        "stages": [s.__dict__ for s in result.stages],
        "thresholds": result.firms.attrs.get("thresholds", {}),
        "sample_n": config.sample.n,
        "sample": [{"rank": int(r.sample_rank), "firm_code": r.firm_code, "firm_name": r.firm_name} for r in result.sample.itertuples()],
        "counting": {
            "mode": config.counting.mode,
            "scope": config.counting.scope,
            "negation_window": config.counting.negation_window,
            "token_backend": config.counting.resolved_backend() if config.counting.tokens else None,
            "reports": stats.reports,
            "counted": stats.counted,
            "from_cache": stats.cached,
            "reports_with_problems": stats.problems,
            "reports_without_mdna": no_mdna if config.counting.scope == "mdna" else None,
            "workers": stats.workers,
            "seconds": round(stats.seconds, 2),
            "mb_per_second": round(stats.mb_per_second, 2) if stats.mb_per_second else None,
        },
        "dictionaries": {
            role: {"name": d.name, "keywords": len(d), "dimensions": {k: len(v) for k, v in d.dimensions.items()}, "sha256": d.digest(),
                   "files": [str(p) for p in d.sources]}
            for role, d in dictionaries.items()
        },
        "patents": {
            "used": patents.used,
            "file": patents.path,
            "patents": patents.patents,
            "applicants": patents.applicants,
            "firms_matched": patents.matched_firms,
            "cells_unreadable": len(patents.cell_problems),
        },
        "problems": {
            "reports": [{"file": f, "problem": p} for f, p in zip(problems.get("file", []), problems.get("problem", []))],
            "files_not_matched": [{"file": u.name, "reason": u.reason} for u in unmatched],
            "firm_table_warnings": list(warnings),
        },
    }


def print_summary(result: ScreeningResult, console: Console) -> None:
    """The stage counts with their rules, the counting run, problems, and where the outputs are."""
    from rich.table import Table

    table = Table("stage", "firms", "left", "rule", title="Screening funnel", title_justify="left")
    for stage in result.stages:
        table.add_row(stage.stage, str(stage.firms), str(stage.left) if stage.left else "", stage.rule)
    console.print(table)
    counting = result.summary.get("counting", {})
    seconds = counting.get("seconds") or 0
    speed = f", {counting['counted'] / seconds:.0f} reports/s" if counting.get("counted") and seconds else ""
    console.print(
        f"reports: {counting.get('reports', 0)} ({counting.get('counted', 0)} counted with {counting.get('workers', 0)} "
        f"worker(s) in {counting.get('seconds', 0)} s{speed}, {counting.get('from_cache', 0)} from the cache), "
        f"mode {counting.get('mode')}, scope {counting.get('scope')}"
    )
    problems = result.summary.get("problems", {})
    bad = problems.get("reports", [])
    if bad:
        console.print(f"[yellow]{len(bad)} report(s) not counted[/yellow] (see the problem column of reports.csv):")
        for item in bad[:10]:
            console.print(f"  {item['file']}: {item['problem']}")
        if len(bad) > 10:
            console.print(f"  ... and {len(bad) - 10} more")
    unmatched = problems.get("files_not_matched", [])
    if unmatched:
        console.print(f"[yellow]{len(unmatched)} file(s) not matched to a firm[/yellow], e.g. {unmatched[0]['file']}: {unmatched[0]['reason']}")
    sample = result.stages[-1]
    wanted = result.summary.get("sample_n")
    if wanted and sample.firms < wanted:
        console.print(f"[yellow]the sample has {sample.firms} firms, fewer than n = {wanted}: fewer firms passed the earlier stages[/yellow]")
    if "summary" in result.outputs:
        console.print(f"tables, figures and {SUMMARY_NAME} in {Path(result.outputs['summary']).parent}")
