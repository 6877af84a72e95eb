"""The factor-model family: open-, axial- and selective-coding results written into one folder.

``build_factor_model(codings, out_dir)`` writes

* ``table1_sample``, ``table2_open_coding``, ``table3_initial_categories``,
  ``table4_main_categories`` (and ``codes_outside_codebook`` when there are any) -- CSV + XLSX + MD;
* ``axial_cooccurrence`` (every pair, window, level) and ``axial_links`` (the proposed links);
* ``evidence`` -- every count of the tables and links with the quote ids behind it;
* ``model.graphml`` -- the selective-coding graph (``selective.model_graph``);
* ``fig3_mechanism_model``, ``fig4_stage_model``, ``axial_network`` -- PNG + SVG;
* ``factor_model.xlsx`` (every table, one sheet each), ``factor_model.md`` and
  ``factor_model_summary.json`` (paths and headline numbers),

and returns a ``FactorModelSummary``; ``factor_model_html(summary)`` renders it as an HTML fragment.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import networkx as nx
import pandas as pd

from ..atomic import write_text
from ..tables import write_xlsx
from .axial import WINDOW_LABELS, LinkRule, axial_evidence
from .codings import CodingSet
from .open_coding import (
    Evidence,
    evidence_frame,
    initial_category_table,
    main_category_table,
    open_coding_examples,
    sample_table,
    unknown_concept_table,
)
from .report import Section, markdown_table, render_sections, write_summary, write_table_files
from .selective import (
    DEFAULT_CORE,
    code_counts,
    draw_axial_network,
    draw_mechanism_model,
    draw_stage_model,
    graph_tables,
    model_graph,
    write_graphml,
)

TABLE_TITLES = {
    "table1_sample": "表1 样本企业基本信息",
    "table2_open_coding": "表2 开放式编码示例",
    "table3_initial_categories": "表3 样本数据开放式编码结果",
    "table4_main_categories": "表4 主轴式编码形成主范畴",
    "codes_outside_codebook": "码本之外的编码",
    "axial_links": "主范畴之间的联系（共现证据）",
    "axial_cooccurrence": "范畴共现与关联度量",
    "evidence": "证据表：每个计数背后的引文",
}


@dataclass
class FactorModelSummary:
    out_dir: Path
    files: dict[str, Path]
    coders: list[str]
    n_quotes: int  # coded segments with at least one codebook code
    n_documents: int  # distinct sources with such quotes
    n_firms: int
    concepts_used: int
    concepts_total: int
    initial_used: int
    initial_total: int
    main_used: int
    main_total: int
    codes_outside_codebook: dict[str, int]
    link_rule: str
    links: list[dict]
    windows: dict[str, int]
    figures: dict[str, Path]
    tables: dict[str, pd.DataFrame] = field(default_factory=dict, repr=False)
    graph: nx.DiGraph | None = field(default=None, repr=False)

    def headline(self) -> str:
        return (f"{self.n_quotes} quotes from {self.n_documents} sources of {self.n_firms} firms: "
                f"{self.concepts_used}/{self.concepts_total} concepts, {self.initial_used}/{self.initial_total} initial "
                f"and {self.main_used}/{self.main_total} main categories coded; {len(self.links)} proposed links")


def build_factor_model(
    codings: CodingSet,
    out_dir: str | Path,
    rule: LinkRule = LinkRule(),
    core: str = DEFAULT_CORE,
    examples_per_category: int = 2,
    qdpx: bool = True,
) -> FactorModelSummary:
    """Write every factor-model output into ``out_dir`` and return the summary."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    cb = codings.codebook
    files: dict[str, Path] = {}

    sample, ev_sample = sample_table(codings)
    examples = open_coding_examples(codings, examples_per_category)
    table3, ev3 = initial_category_table(codings)
    table4, ev4 = main_category_table(codings)
    unknown = unknown_concept_table(codings)
    axial = axial_evidence(codings, rule)
    links = axial.links
    evidence: list[Evidence] = ev_sample + ev3 + ev4
    for r in links.itertuples(index=False):
        evidence.append(Evidence("axial_links", f"{r.category_a}—{r.category_b}", f"共现（{r.window}）", int(r.n_ab), r.quote_ids))
    tables: dict[str, pd.DataFrame] = {
        "table1_sample": sample,
        "table2_open_coding": examples,
        "table3_initial_categories": table3,
        "table4_main_categories": table4,
        "axial_links": links,
        "axial_cooccurrence": axial.cooccurrence,
        "evidence": evidence_frame(evidence),
    }
    if len(unknown):
        tables["codes_outside_codebook"] = unknown
    notes = {
        "table3_initial_categories": "材料数量/份 = 至少有一条引文编码到该范畴概念的不同资料（文档）数；码本材料数量/份为码本（原研究）给出的数值。",
        "axial_links": "规则：" + rule.describe() + "。",
        "axial_cooccurrence": "窗口：segment = 同一引文，paragraph = 同一段落，document = 同一资料，firm = 同一企业；N = 含编码的窗口数。",
        "evidence": "每一行给出一个表格计数及其背后的引文编号（quote_ids）与资料编号（doc_ids）。",
    }
    groups = {"table4_main_categories": ["主范畴", "作用", "主范畴材料数量/份", "主范畴引文数", "主范畴内涵"],
              "table2_open_coding": ["初始范畴编号", "初始范畴"], "table3_initial_categories": ["主范畴"]}
    for name, frame in tables.items():
        written = write_table_files(frame, out / name, TABLE_TITLES.get(name, name), notes.get(name, ""),
                                    md_drop=() if name == "evidence" else ("quote_ids", "window_ids"),
                                    md_group=groups.get(name, ()))
        files[f"{name}.csv"], files[f"{name}.xlsx"], files[f"{name}.md"] = written.csv, written.xlsx, written.md

    graph = model_graph(codings, links, core)
    files["model.graphml"] = write_graphml(graph, out / "model.graphml")
    nodes, edges = graph_tables(graph)
    counts = code_counts(codings)
    figures: dict[str, Path] = {}
    png, svg = draw_mechanism_model(cb, counts, out / "fig3_mechanism_model", core=core, links=links)
    figures["fig3_mechanism_model"] = png
    files["fig3_mechanism_model.png"], files["fig3_mechanism_model.svg"] = png, svg
    if cb.stages:
        png, svg = draw_stage_model(cb, counts, out / "fig4_stage_model")
        figures["fig4_stage_model"] = png
        files["fig4_stage_model.png"], files["fig4_stage_model.svg"] = png, svg
    link_window = links["window"].iloc[0] if len(links) else (rule.window if codings.has_texts or rule.window != "paragraph" else "document")
    png, svg = draw_axial_network(cb, counts, axial.cooccurrence, links, link_window, out / "axial_network")
    figures["axial_network"] = png
    files["axial_network.png"], files["axial_network.svg"] = png, svg

    if qdpx:
        qdpx_path = _try_qdpx(codings, graph, out / "factor_model.qdpx")
        if qdpx_path is not None:
            files["factor_model.qdpx"] = qdpx_path

    workbook = {TABLE_TITLES.get(k, k)[:31]: v for k, v in tables.items()}
    workbook["模型图节点"] = nodes
    workbook["模型图边"] = edges
    files["factor_model.xlsx"] = write_xlsx(workbook, out / "factor_model.xlsx")

    coded = [s for s in codings.segments if codings.codes(s, "concept")]
    used = {lv: {c for s in coded for c in codings.codes(s, lv)} for lv in ("concept", "initial", "main")}
    summary = FactorModelSummary(
        out_dir=out,
        files=files,
        coders=codings.coders,
        n_quotes=len(coded),
        n_documents=len({s.doc_id for s in coded}),
        n_firms=len({s.firm_id for s in coded}),
        concepts_used=len(used["concept"]),
        concepts_total=len(cb.concepts),
        initial_used=len(used["initial"]),
        initial_total=len(cb.initial_categories),
        main_used=len(used["main"]),
        main_total=len(cb.main_categories),
        codes_outside_codebook={k: len(v) for k, v in codings.unknown_concepts().items()},
        link_rule=rule.describe(),
        links=[
            {"a": r.category_a, "b": r.category_b, "window": r.window, "n_ab": int(r.n_ab), "npmi": round(float(r.npmi), 4),
             "lift": round(float(r.lift), 4), "fisher_p": float(r.fisher_p)}
            for r in links.itertuples(index=False)
        ],
        windows=axial.windows,
        figures=figures,
        tables=tables,
        graph=graph,
    )
    files["factor_model.md"] = write_text(out / "factor_model.md", factor_model_markdown(summary))
    files["factor_model_summary.json"] = out / "factor_model_summary.json"
    write_summary(summary, out / "factor_model_summary.json")
    return summary


def _try_qdpx(codings: CodingSet, graph: nx.DiGraph, path: Path) -> Path | None:
    """The project with the model graph as a REFI-QDA Graph in a .qdpx (needs the project's qdpx
    exporter and the document texts); None when either is missing."""
    try:
        from ..qdpx import export_qdpx
    except ImportError:
        return None
    if not codings.has_texts:
        return None
    summary = export_qdpx(path, to_export_data(codings), graphs=[(str(graph.graph.get("name", "model")), graph)])
    return Path(summary.path)


def to_export_data(codings: CodingSet) -> Any:
    """A ``CodingSet`` as the qdpx exporter's ``ExportData`` (store record types, texts included)."""
    from datetime import date

    from ..qdpx import ExportData
    from ..store import Coding, DocumentRecord, Firm

    def founded(value: str) -> date | None:
        try:
            return date.fromisoformat(value[:10])
        except (TypeError, ValueError):
            return None

    documents = [
        DocumentRecord(d.doc_id, d.firm_id, codings.text(d.doc_id), kind=d.kind, year=d.year, title=d.title)
        for d in sorted(codings.documents.values(), key=lambda d: d.doc_id)
    ]
    firms = [
        Firm(f.firm_id, f.name, f.industry, founded(f.founded),
             {k: v for k, v in (("short_name", f.short_name), ("products", f.products), ("province", f.province)) if v})
        for f in sorted(codings.firms.values(), key=lambda f: f.firm_id)
    ]
    rows = [
        Coding(s.doc_id, s.start, s.end, concept, s.coder, s.coder_kind,
               model_run_id=s.coder if s.coder_kind == "model" else None, confidence=s.confidence, text=s.text)
        for s in codings.segments
        for concept in s.concepts
    ]
    return ExportData(codings.codebook, documents, firms, rows, name=codings.name or "groundcoder factor model")


def factor_model_markdown(summary: FactorModelSummary) -> str:
    parts = ["# 因素模型（开放式、主轴式与选择式编码）\n", summary.headline() + "\n"]
    for name in ("table1_sample", "table2_open_coding", "table3_initial_categories", "table4_main_categories",
                 "codes_outside_codebook", "axial_links"):
        if name in summary.tables:
            parts.append(f"## {TABLE_TITLES[name]}\n")
            frame = summary.tables[name]
            if name == "axial_links":
                frame = frame.drop(columns=["quote_ids"])
                parts.append(f"规则：{summary.link_rule}。\n")
            parts.append(markdown_table(frame))
    for key, path in summary.figures.items():
        parts.append(f"![{key}]({path.name})\n")
    parts.append("各计数背后的引文编号见 evidence.csv；全部范畴对的共现度量见 axial_cooccurrence.csv。\n")
    return "\n".join(parts)


def factor_model_html(summary: FactorModelSummary, embed_images: bool = True, base: Path | None = None) -> str:
    """An HTML fragment of the factor model: the figures, then tables 1-4 and the proposed links."""
    from .report import read_csv_frame

    def table(name: str) -> Any:
        if name in summary.tables:
            return summary.tables[name]
        path = summary.files.get(f"{name}.csv")
        return read_csv_frame(path) if path else pd.DataFrame()

    links = table("axial_links")
    if "quote_ids" in getattr(links, "columns", []):
        links = links.drop(columns=["quote_ids"])
    window_rows = pd.DataFrame([{"窗口": WINDOW_LABELS.get(k, k), "含编码的窗口数": v} for k, v in summary.windows.items()])
    sections = [
        Section("选择式编码：动力机制模型与阶段模型", summary.headline(),
                figures=[(t, summary.figures[k]) for k, t in (("fig3_mechanism_model", "图3 微创新动力机制模型"),
                                                              ("fig4_stage_model", "图4 微创新不同阶段中影响因素的作用"))
                         if k in summary.figures]),
        Section("开放式编码", tables=[(TABLE_TITLES["table1_sample"], table("table1_sample")),
                                    (TABLE_TITLES["table2_open_coding"], table("table2_open_coding")),
                                    (TABLE_TITLES["table3_initial_categories"], table("table3_initial_categories"))]
                + ([(TABLE_TITLES["codes_outside_codebook"], table("codes_outside_codebook"))]
                   if "codes_outside_codebook.csv" in summary.files else [])),
        Section("主轴式编码", "规则：" + summary.link_rule,
                tables=[(TABLE_TITLES["table4_main_categories"], table("table4_main_categories")),
                        (TABLE_TITLES["axial_links"], links), ("共现窗口", window_rows)],
                figures=[("主范畴共现网络", summary.figures["axial_network"])] if "axial_network" in summary.figures else []),
    ]
    return render_sections("因素模型", sections, embed_images=embed_images, base=base)
