"""Case analysis: per firm a stage x factor matrix with its supporting quotes, and two firms side by
side like the study's firms X and Y (section 4.4, figure 4).

Stages come from the codebook (``stages``; a stage marked ``spans_all_stages``, e.g. 数字赋能, comes
last). A quote supports a stage when it is coded with a category whose main category acts in that
stage; the codebook, not the quote, assigns the stage, so a main category acting in two stages
(行业环境 in 机会识别 and in 微创新实现) has the same quotes in both.

``pick_contrasting_firms``, the rule: candidates are firms with at least the median number of coded
quotes (over firms with any) and quotes in every sequential stage; of all candidate pairs the one
whose main-category profiles (share of quotes per main category) differ most by Jensen-Shannon
distance is chosen, ties going to the pair with more quotes (the smaller of the two), then to firm
id order. With fewer than two candidates the stage condition is dropped, then the median one.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import combinations
from pathlib import Path

import pandas as pd

from ..errors import InputError
from .codings import SOURCE_KIND_ORDER, CodedSegment, CodingSet, source_kind_label
from .report import excerpt, join_ids


@dataclass(frozen=True)
class StageRow:
    stage: str
    order: int
    spans_all_stages: bool


def stages(codings: CodingSet) -> list[StageRow]:
    """Sequential stages in codebook order, then the stages spanning all stages."""
    cb = codings.codebook
    seq = [s for s in cb.stages if not s.spans_all_stages]
    span = [s for s in cb.stages if s.spans_all_stages]
    return [StageRow(s.name, i, s.spans_all_stages) for i, s in enumerate(seq + span, start=1)]


def _pick_examples(segs: Sequence[CodedSegment], codings: CodingSet, n: int, ideal: int = 40) -> list[CodedSegment]:
    """Quotes of different initial categories and documents first, then readable length, then id."""
    ordered = sorted(segs, key=lambda s: (abs(len(s.text) - ideal), s.quote_id))
    chosen: list[CodedSegment] = []
    seen_initial: set[str] = set()
    seen_docs: set[str] = set()
    for strict in (True, False):
        for s in ordered:
            if len(chosen) >= n:
                break
            if s in chosen:
                continue
            initials = set(codings.codes(s, "initial"))
            if strict and (initials <= seen_initial or s.doc_id in seen_docs):
                continue
            chosen.append(s)
            seen_initial |= initials
            seen_docs.add(s.doc_id)
    return chosen


def stage_factor_table(codings: CodingSet, firm_id: str, level: str = "main", examples: int = 2) -> pd.DataFrame:
    """Long table: per stage and category acting in it, the firm's quote count, ids and excerpts."""
    if level not in ("main", "initial"):
        raise ValueError("level is main or initial")
    cb = codings.codebook
    segs = [s for s in codings.segments if s.firm_id == firm_id and codings.codes(s, "main")]
    rows = []
    for st in stages(codings):
        stage = cb.stage(st.stage)
        for main in stage.main_categories:
            cats = [main] if level == "main" else list(cb.initial_categories_of(main))
            for cat in cats:
                hits = [s for s in segs if cat in codings.codes(s, level)]
                picked = _pick_examples(hits, codings, examples)
                rows.append(
                    {
                        "firm_id": firm_id, "阶段": st.stage, "阶段序号": st.order, "贯穿各阶段": st.spans_all_stages,
                        "主范畴": main, "初始范畴": cat if level == "initial" else "",
                        "引文数": len(hits), "材料数量/份": len({s.doc_id for s in hits}),
                        "初始范畴分布": "" if level == "initial" else _initial_breakdown(codings, hits, main),
                        "引文示例": "\n".join(f"「{excerpt(s.text, 40)}」({s.quote_id})" for s in picked),
                        "quote_ids": join_ids(s.quote_id for s in hits),
                    }
                )
    return pd.DataFrame(rows)


def _initial_breakdown(codings: CodingSet, segs: Sequence[CodedSegment], main: str) -> str:
    counts: dict[str, int] = defaultdict(int)
    for s in segs:
        for ic in codings.codes(s, "initial"):
            if codings.codebook.parent_of(ic) == main:
                counts[ic] += 1
    order = codings.codebook.initial_categories_of(main)
    return "、".join(f"{ic} {counts[ic]}" for ic in order if counts.get(ic))


def stage_factor_matrix(codings: CodingSet, firm_id: str, level: str = "main") -> pd.DataFrame:
    """Wide matrix: stages (rows) x categories (columns), quote counts; empty where a category does
    not act in a stage."""
    long = stage_factor_table(codings, firm_id, level, examples=0)
    cb = codings.codebook
    if level == "main":
        columns = [m.name for m in cb.main_categories]
        key = "主范畴"
    else:
        columns = [ic.name for ic in cb.initial_categories]
        key = "初始范畴"
    rows = []
    for st in stages(codings):
        sub = long[long["阶段"] == st.stage]
        values = dict(zip(sub[key], sub["引文数"]))
        rows.append({"阶段": st.stage, **{c: values.get(c, None) for c in columns}, "合计": int(sub["引文数"].sum())})
    frame = pd.DataFrame(rows)
    # Columns of categories acting in no stage carry nothing: leave them out.
    keep = [c for c in columns if frame[c].notna().any()]
    frame = frame[["阶段", *keep, "合计"]]
    for c in keep:
        frame[c] = frame[c].astype("Int64")
    return frame


def firm_profile(codings: CodingSet, firm_id: str) -> list[float]:
    """Share of the firm's coded quotes per main category (codebook order)."""
    counts = [0] * len(codings.codebook.main_categories)
    index = {m.name: i for i, m in enumerate(codings.codebook.main_categories)}
    for s in codings.segments:
        if s.firm_id == firm_id:
            for m in codings.codes(s, "main"):
                counts[index[m]] += 1
    total = sum(counts)
    return [c / total for c in counts] if total else counts


def jensen_shannon(p: Sequence[float], q: Sequence[float]) -> float:
    """Jensen-Shannon distance (base 2, 0..1) between two distributions."""
    m = [(a + b) / 2 for a, b in zip(p, q)]

    def kl(x: Sequence[float], y: Sequence[float]) -> float:
        return sum(a * math.log2(a / b) for a, b in zip(x, y) if a > 0)

    return math.sqrt(max(0.0, (kl(p, m) + kl(q, m)) / 2))


def pick_contrasting_firms(codings: CodingSet) -> tuple[str, str]:
    """Two well-documented firms whose factor profiles differ most (see the module docstring)."""
    quotes: dict[str, int] = defaultdict(int)
    stage_hits: dict[str, set[str]] = defaultdict(set)
    seq = [s for s in codings.codebook.stages if not s.spans_all_stages]
    for s in codings.segments:
        mains = codings.codes(s, "main")
        if not mains:
            continue
        quotes[s.firm_id] += 1
        for st in seq:
            if set(mains) & set(st.main_categories):
                stage_hits[s.firm_id].add(st.name)
    firms = sorted(quotes)
    if len(firms) < 2:
        raise InputError(None, f"the case analysis needs two firms with coded quotes; found {len(firms)}",
                         hint="code more firms, or name two with --firms")
    counts = sorted(quotes.values())
    median = counts[len(counts) // 2] if len(counts) % 2 else (counts[len(counts) // 2 - 1] + counts[len(counts) // 2]) / 2
    candidates = [f for f in firms if quotes[f] >= median and len(stage_hits[f]) == len(seq)]
    if len(candidates) < 2:
        candidates = [f for f in firms if quotes[f] >= median]
    if len(candidates) < 2:
        candidates = firms
    profiles = {f: firm_profile(codings, f) for f in candidates}
    best = max(
        combinations(candidates, 2),
        key=lambda ab: (round(jensen_shannon(profiles[ab[0]], profiles[ab[1]]), 9), min(quotes[ab[0]], quotes[ab[1]]),
                        [-ord(ch) for ch in ab[0] + ab[1]]),
    )
    return best[0], best[1]


def firm_profile_table(codings: CodingSet, firm_ids: Sequence[str]) -> pd.DataFrame:
    """The case firms' basic information (the study's table 5): one column per firm."""
    rows = []
    fields = ["企业", "企业全称", "成立日期", "主要业务", "资料来源（资料数量/份）", "所属省份", "行业", "引文数", "材料数量/份"]
    values: dict[str, list[str]] = {}
    for firm_id in firm_ids:
        firm = codings.firms.get(firm_id)
        docs = [d for d in codings.documents.values() if d.firm_id == firm_id]
        kinds = defaultdict(int)
        for d in docs:
            kinds[d.kind] += 1
        order = [k for k in SOURCE_KIND_ORDER if k in kinds] + sorted(set(kinds) - set(SOURCE_KIND_ORDER))
        segs = [s for s in codings.segments if s.firm_id == firm_id and codings.codes(s, "main")]
        values[firm_id] = [
            firm.display_name if firm else firm_id,
            firm.name if firm else "",
            firm.founded if firm else "",
            firm.products if firm else "",
            "、".join(f"{source_kind_label(k)}（{kinds[k]}）" for k in order),
            firm.province if firm else "",
            firm.industry if firm else "",
            str(len(segs)),
            str(len({s.doc_id for s in segs})),
        ]
    for i, name in enumerate(fields):
        rows.append({"项目": name, **{f: values[f][i] for f in firm_ids}})
    return pd.DataFrame(rows)


def compare_firms(codings: CodingSet, firm_a: str, firm_b: str, examples: int = 2) -> pd.DataFrame:
    """Side by side per stage and main category: counts, initial categories and example quotes."""
    a = stage_factor_table(codings, firm_a, "main", examples)
    b = stage_factor_table(codings, firm_b, "main", examples)
    name_a = _name(codings, firm_a)
    name_b = _name(codings, firm_b)
    if name_a == name_b:
        name_a, name_b = f"{name_a}({firm_a})", f"{name_b}({firm_b})"
    total_a = sum(1 for s in codings.segments if s.firm_id == firm_a and codings.codes(s, "main"))
    total_b = sum(1 for s in codings.segments if s.firm_id == firm_b and codings.codes(s, "main"))
    rows = []
    for ra, rb in zip(a.itertuples(index=False), b.itertuples(index=False)):
        ta, tb = int(getattr(ra, "引文数")), int(getattr(rb, "引文数"))
        sa, sb = (ta / total_a if total_a else 0.0), (tb / total_b if total_b else 0.0)
        rows.append(
            {
                "阶段": ra.阶段, "主范畴": ra.主范畴,
                f"{name_a}·引文数": ta, f"{name_a}·占比": round(sa, 3), f"{name_a}·初始范畴": ra.初始范畴分布,
                f"{name_a}·引文示例": ra.引文示例,
                f"{name_b}·引文数": tb, f"{name_b}·占比": round(sb, 3), f"{name_b}·初始范畴": rb.初始范畴分布,
                f"{name_b}·引文示例": rb.引文示例,
                "对比": _contrast(sa, sb, name_a, name_b),
                f"{name_a}·quote_ids": ra.quote_ids, f"{name_b}·quote_ids": rb.quote_ids,
            }
        )
    return pd.DataFrame(rows)


def _name(codings: CodingSet, firm_id: str) -> str:
    firm = codings.firms.get(firm_id)
    return firm.display_name if firm else firm_id


def _contrast(a: float, b: float, name_a: str, name_b: str) -> str:
    """Compares the shares of each firm's quotes (firms with more sources have more quotes)."""
    if a == 0 and b == 0:
        return "两家均无引文"
    if a == 0 or b == 0:
        return f"仅{name_a if a else name_b}有引文"
    ratio = max(a, b) / min(a, b)
    if ratio < 1.5:
        return "占比相近"
    return f"{name_a if a > b else name_b}占比更高（{ratio:.1f} 倍）"


# --------------------------------------------------------------------------------------------------
# Writing the case-analysis family


@dataclass
class CaseAnalysisSummary:
    out_dir: Path
    files: dict[str, Path]
    firms: tuple[str, str]
    firm_names: tuple[str, str]
    picked_automatically: bool
    pick_rule: str
    stage_quotes: dict[str, dict[str, int]]  # firm -> stage -> quotes supporting it
    figures: dict[str, Path]
    tables: dict[str, pd.DataFrame] = field(default_factory=dict, repr=False)

    def headline(self) -> str:
        a, b = self.firm_names
        how = "picked automatically" if self.picked_automatically else "as given"
        return f"case firms {a} ({self.firms[0]}) and {b} ({self.firms[1]}), {how}"


PICK_RULE = ("引文数不低于中位数且在每个顺序阶段都有引文的企业中，选主范畴引文占比分布差异（Jensen-Shannon 距离）最大的一对；"
             "相同时取引文更多的一对")


def all_firms_table(codings: CodingSet, level: str = "main") -> pd.DataFrame:
    """The stage x factor long table of every firm with coded quotes (without excerpts)."""
    firms = sorted({s.firm_id for s in codings.segments if codings.codes(s, "main")})
    frames = [stage_factor_table(codings, f, level, examples=0).drop(columns=["引文示例"]) for f in firms]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def build_case_analysis(
    codings: CodingSet,
    out_dir: str | Path,
    firms: Sequence[str] | None = None,
    examples: int = 2,
) -> CaseAnalysisSummary:
    """Write the case analysis of two firms (picked automatically when ``firms`` is None)."""
    from ..atomic import write_text
    from ..tables import write_xlsx
    from .report import markdown_table, write_summary, write_table_files
    from .selective import code_counts, draw_stage_model

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    known = {s.firm_id for s in codings.segments}
    if firms:
        if len(firms) != 2:
            raise InputError(None, f"the case analysis compares two firms; {len(firms)} were given")
        missing = [f for f in firms if f not in known]
        if missing:
            raise InputError(None, f"no codings for firm {', '.join(missing)}",
                             hint="firms with codings: " + ", ".join(sorted(known)[:20]))
        pair, auto = (firms[0], firms[1]), False
    else:
        pair, auto = pick_contrasting_firms(codings), True
    names = (_name(codings, pair[0]), _name(codings, pair[1]))
    files: dict[str, Path] = {}
    tables: dict[str, pd.DataFrame] = {}
    tables["case_profile"] = firm_profile_table(codings, list(pair))
    tables["case_comparison"] = compare_firms(codings, pair[0], pair[1], examples)
    stage_quotes: dict[str, dict[str, int]] = {}
    figures: dict[str, Path] = {}
    for firm_id, label in zip(pair, ("A", "B")):
        tables[f"case_{label}_{firm_id}_matrix"] = stage_factor_matrix(codings, firm_id, "main")
        tables[f"case_{label}_{firm_id}_matrix_initial"] = stage_factor_matrix(codings, firm_id, "initial")
        tables[f"case_{label}_{firm_id}_quotes"] = stage_factor_table(codings, firm_id, "initial", examples=3)
        stage_quotes[firm_id] = _stage_totals(codings, firm_id)
        sub = codings.for_firms([firm_id])
        counts = code_counts(sub)
        png, svg = draw_stage_model(codings.codebook, counts, out / f"case_{label}_{firm_id}_stages",
                                    title=f"{_name(codings, firm_id)}：微创新各阶段的影响因素",
                                    subtitle=f"{firm_id} · 引文 {len([s for s in sub.segments if sub.codes(s, 'main')])} 条")
        figures[f"case_{label}_stages"] = png
        files[png.name], files[svg.name] = png, svg
    tables["case_all_firms"] = all_firms_table(codings)
    png, svg = draw_comparison_heatmap(codings, pair, out / "case_comparison_heatmap")
    figures["case_comparison_heatmap"] = png
    files[png.name], files[svg.name] = png, svg
    titles = {
        "case_profile": "案例企业基本信息",
        "case_comparison": f"案例对比：{names[0]} 与 {names[1]}",
        "case_all_firms": "全部企业的阶段 × 因素引文数",
    }
    for name, frame in tables.items():
        drop = [c for c in frame.columns if c.endswith("quote_ids")]
        written = write_table_files(frame, out / name, titles.get(name, name), md_drop=drop,
                                    md_group=["阶段"] if name != "case_profile" else ())
        files[written.csv.name], files[written.xlsx.name], files[written.md.name] = written.csv, written.xlsx, written.md
    workbook = {}
    for name, frame in tables.items():
        sheet = titles.get(name, name).replace("案例对比：", "对比 ")[:31]
        workbook[sheet if sheet not in workbook else name[:31]] = frame
    files["case_analysis.xlsx"] = write_xlsx(workbook, out / "case_analysis.xlsx")
    summary = CaseAnalysisSummary(out, files, pair, names, auto, PICK_RULE, stage_quotes, figures, tables)
    md = [f"# 案例分析：{names[0]} 与 {names[1]}\n", summary.headline() + ("；选取规则：" + PICK_RULE if auto else "") + "\n",
          "## 案例企业基本信息\n", markdown_table(tables["case_profile"]),
          "## 各阶段影响因素对比\n", markdown_table(tables["case_comparison"].drop(columns=[c for c in tables["case_comparison"].columns if c.endswith("quote_ids")])),
          *(f"![{k}]({p.name})\n" for k, p in figures.items())]
    files["case_analysis.md"] = write_text(out / "case_analysis.md", "\n".join(md))
    files["case_analysis_summary.json"] = out / "case_analysis_summary.json"
    write_summary(summary, out / "case_analysis_summary.json")
    return summary


def _stage_totals(codings: CodingSet, firm_id: str) -> dict[str, int]:
    out = {}
    for st in stages(codings):
        mains = set(codings.codebook.stage(st.stage).main_categories)
        out[st.stage] = sum(1 for s in codings.segments if s.firm_id == firm_id and set(codings.codes(s, "main")) & mains)
    return out


def draw_comparison_heatmap(codings: CodingSet, pair: Sequence[str], stem: Path) -> tuple[Path, Path]:
    """Stage / main category rows x the two firms: share of each firm's quotes (colour) and count."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt
    import numpy as np

    from ..fonts import use_cjk_font
    from .report import save_figure

    use_cjk_font()
    labels, counts = [], []
    tables = [stage_factor_table(codings, f, "main", examples=0) for f in pair]
    totals = [sum(1 for s in codings.segments if s.firm_id == f and codings.codes(s, "main")) for f in pair]
    for i in range(len(tables[0])):
        row = tables[0].iloc[i]
        labels.append(f"{row['阶段']} · {row['主范畴']}")
        counts.append([int(t.iloc[i]["引文数"]) for t in tables])
    values = np.array([[c / t if t else 0.0 for c, t in zip(row, totals)] for row in counts])
    fig, ax = plt.subplots(figsize=(7.5, 0.55 * len(labels) + 1.8))
    image = ax.imshow(values, cmap="YlOrRd", aspect="auto", vmin=0, vmax=max(0.01, float(values.max())))
    ax.set_xticks(range(len(pair)))
    ax.set_xticklabels([f"{_name(codings, f)}\n（引文 {t}）" for f, t in zip(pair, totals)], fontsize=10.5)
    ax.set_yticks(range(len(labels)))
    ax.set_yticklabels(labels, fontsize=10)
    for i, row in enumerate(counts):
        for j, c in enumerate(row):
            ax.text(j, i, f"{c}（{values[i, j]:.0%}）", ha="center", va="center", fontsize=10,
                    color="black" if values[i, j] < 0.6 * values.max() else "white")
    ax.set_title("两家案例企业各阶段影响因素的引文占比", fontsize=12.5)
    fig.colorbar(image, ax=ax, fraction=0.04, pad=0.03, label="占该企业引文的比例")
    paths = save_figure(fig, stem)
    plt.close(fig)
    return paths


def case_analysis_html(summary: CaseAnalysisSummary, embed_images: bool = True, base: Path | None = None) -> str:
    """An HTML fragment: the profile, the comparison heatmap and per-firm stage figures, the comparison table."""
    from .report import Section, render_sections

    comparison = summary.tables.get("case_comparison", pd.DataFrame())
    if len(comparison):
        comparison = comparison.drop(columns=[c for c in comparison.columns if c.endswith("quote_ids")])
    a, b = summary.firm_names
    intro = summary.headline() + ("。选取规则：" + summary.pick_rule if summary.picked_automatically else "")
    sections = [
        Section("案例企业", intro, tables=[("案例企业基本信息", summary.tables.get("case_profile", pd.DataFrame()))],
                figures=[("两家案例企业各阶段影响因素的引文占比", summary.figures["case_comparison_heatmap"])]
                if "case_comparison_heatmap" in summary.figures else []),
        Section("各阶段影响因素对比", tables=[(f"{a} 与 {b}", comparison)],
                figures=[(f"{name}：各阶段的影响因素", summary.figures[k])
                         for k, name in (("case_A_stages", a), ("case_B_stages", b)) if k in summary.figures]),
    ]
    return render_sections("案例分析", sections, embed_images=embed_images, base=base)
