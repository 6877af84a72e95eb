"""What ``groundcoder saturation`` writes into ``--out`` (every file atomically):

* ``saturation.json``: the verdicts, the decision rule, every metric at every level for each source
  of codes, the new concepts with their quotes, the model's calibration and candidate concepts;
* ``tables/*.csv`` and the same tables as sheets of ``saturation.xlsx``: per firm in order,
  estimates, Guest ratios, accumulation curves, new codes, new-concept quotes, candidate concepts,
  their quotes, every flagged sentence, the calibration rounds;
* ``figures/accumulation_<source>.png`` / ``.svg``: the accumulation curves with Chinese labels;
* ``report.md`` and a self-contained ``report.html``: the verdict, its evidence and every candidate
  new concept with its quotes.
"""

from __future__ import annotations

import html
from dataclasses import asdict
from pathlib import Path
from typing import Any

from ..analysis.report import html_image, html_table, jsonable, markdown_table, save_figure
from ..atomic import write_json, write_text
from ..tables import write_csv, write_xlsx
from .metrics import LEVEL_LABELS, LEVEL_NAMES, UNPLACED_PREFIX, LevelMetrics
from .novelty import finite

FORMAT = "groundcoder.saturation/1"
SOURCE_LABELS = {"human": "人工编码", "model": "模型编码", "both": "人工编码+模型候选"}


def _level_dict(m: LevelMetrics) -> dict[str, Any]:
    guest = None
    if m.guest is not None:
        g = m.guest
        guest = {"base_size": g.base_size, "run_length": g.run_length, "threshold": g.threshold, "base_codes": g.base_codes,
                 "ratios": [finite(r) for r in g.ratios], "saturation_at": g.saturation_at, "label": g.label}
    return {
        "level": m.level,
        "codebook_size": m.codebook_size,
        "codes": list(m.codes),
        "known_codes": list(m.known_codes),
        "new_codes": list(m.new_codes),
        "unplaced": list(m.unplaced),
        "new_information_ratio": finite(m.new_information_ratio),
        "quotes": m.quotes,
        "firms_of_code": {k: list(v) for k, v in m.firm_of_code.items()},
        "per_firm": [asdict(s) for s in m.steps],
        "accumulation": {"firms": m.curve.units.tolist(), "mean": m.curve.mean.tolist(), "low": m.curve.low.tolist(),
                         "high": m.curve.high.tolist(), "orders": m.curve.orders, "band": list(m.settings.band)},
        "guest": guest,
        "guest_note": m.guest_note,
        "held_out": m.own.to_dict(),
        "pooled": m.pooled.to_dict() if m.pooled is not None else None,
        "reference_firms": m.reference_firms,
    }


def _candidate_dict(c: Any, resolution: dict[str, str], match: dict[str, Any]) -> dict[str, Any]:
    return {
        "candidate_id": c.candidate_id,
        "label": c.label,
        "size": c.size,
        "firms": list(c.firms),
        "keywords": [[w, s] for w, s in c.keywords],
        "nearest_concepts": [{"concept": n, "initial_category": i, "distance": d} for n, i, d in c.nearest_concepts],
        "spread": c.spread,
        "mean_novelty": c.mean_novelty,
        "explained_by_human_codes": resolution.get(c.candidate_id, ""),
        "human_match": match.get(c.candidate_id),
        "representatives": [s.segment_id for s in c.representatives],
        "segments": [asdict(s) for s in c.segments],
    }


def result_dict(result: Any) -> dict[str, Any]:
    codebook = result.codebook
    data: dict[str, Any] = {
        "format": FORMAT,
        "source": result.source_name,
        "codebook": {"title": getattr(codebook, "title", ""), "summary": codebook.summary(), "hash": codebook.hash},
        "firms": list(result.firms),
        "firm_names": result.firm_names,
        "reference_firms": list(result.reference_firms),
        "verdict": result.overall.to_dict(),
        "decision_rule": result.overall.rule,
        "sources": {name: {"verdict": src.verdict.to_dict(), "levels": {lv: _level_dict(m) for lv, m in src.levels.items()},
                           "firm_codes": {fc.firm_id: dict(fc.counts) for fc in src.firm_codes}}
                    for name, src in result.sources.items()},
        "new_concepts_human": {c: [asdict(q) for q in quotes] for c, quotes in result.human_new.items()},
        "notes": list(result.notes),
    }
    if result.request is not None:
        r = result.request
        data["settings"] = {"saturation": asdict(r.settings), "calibration": asdict(r.calibration), "clusters": asdict(r.clusters),
                            "codes": r.codes, "model": r.model, "coder": r.coder, "placements": dict(r.placements)}
    m = result.model
    if m is not None:
        match = m.human_check.candidate_match if m.human_check is not None else {}
        data["model"] = {
            "name": m.model_name,
            "kind": m.model_kind,
            "calibration": m.calibration.to_dict(),
            "threshold": m.threshold,
            "threshold_source": m.threshold_source,
            "notes": list(m.notes),
            "segments_scored": len(m.segments),
            "flagged": len(m.flagged),
            "clustering": m.clustering.to_dict(),
            "candidates": [_candidate_dict(c, result.resolution, match) for c in m.candidates],
            "other_clusters": [_candidate_dict(c, result.resolution, match) for c in m.clustering.other_clusters],
            "check_against_human_codes": m.human_check.to_dict() if m.human_check is not None else None,
        }
    return jsonable(data)


# --------------------------------------------------------------------------------------------------
# Tables


def _tables(result: Any) -> dict[str, list[dict[str, Any]]]:
    names = result.firm_names
    t: dict[str, list[dict[str, Any]]] = {k: [] for k in (
        "per_firm", "estimates", "guest", "accumulation", "new_codes", "new_concept_quotes", "candidates",
        "candidate_quotes", "flagged", "calibration_rounds")}
    for source, src in result.sources.items():
        for lv, m in src.levels.items():
            for i, s in enumerate(m.steps, start=1):
                t["per_firm"].append({"source": source, "level": lv, "order": i, "firm_id": s.firm_id, "firm": names.get(s.firm_id, ""),
                                      "codes_seen": s.codes_seen, "new_codes": len(s.new_codes), "new_code_names": "; ".join(s.new_codes),
                                      "cumulative_codes": s.cumulative_codes, "cumulative_new": s.cumulative_new})
            for est in (m.own, m.pooled):
                if est is not None:
                    t["estimates"].append({"source": source, "level": lv, **est.to_dict()})
            if m.guest is not None:
                g = m.guest
                for j, ratio in enumerate(g.ratios):
                    k = g.base_size + g.run_length + j
                    t["guest"].append({"source": source, "level": lv, "b": g.base_size, "r": g.run_length, "t": g.threshold,
                                       "base_codes": g.base_codes, "after_firms": k, "ratio": finite(ratio),
                                       "reached": g.saturation_at is not None and k >= g.saturation_at, "label": g.label})
            observed = [s.cumulative_codes for s in m.steps]
            for k, (mean, low, high) in enumerate(zip(m.curve.mean, m.curve.low, m.curve.high), start=1):
                t["accumulation"].append({"source": source, "level": lv, "firms": k, "mean": float(mean), "low": float(low),
                                          "high": float(high), "observed_order": observed[k - 1]})
            for code in m.new_codes:
                t["new_codes"].append({"source": source, "level": lv, "code": code.removeprefix(UNPLACED_PREFIX),
                                       "unplaced": code.startswith(UNPLACED_PREFIX), "firms": "; ".join(m.firm_of_code.get(code, ())),
                                       "quotes": m.quotes.get(code, 0)})
    for concept, quotes in result.human_new.items():
        for q in quotes:
            t["new_concept_quotes"].append(asdict(q))
    m = result.model
    if m is not None:
        match = m.human_check.candidate_match if m.human_check is not None else {}
        cluster_of = {}
        for c in list(m.candidates) + list(m.clustering.other_clusters):
            for seg in c.segments:
                cluster_of[seg.segment_id] = c.candidate_id
        for c in m.candidates:
            hm = match.get(c.candidate_id) or {}
            t["candidates"].append({
                "candidate_id": c.candidate_id, "label": c.label, "sentences": c.size, "firms": "; ".join(c.firms),
                "keywords": "; ".join(w for w, _ in c.keywords),
                "nearest_concepts": "; ".join(f"{n} ({i}, {d:.2f})" for n, i, d in c.nearest_concepts),
                "mean_novelty": c.mean_novelty, "spread": c.spread,
                "explained_by_human_codes": result.resolution.get(c.candidate_id, ""),
                "human_new_concept": hm.get("concept"), "human_new_share": hm.get("share"),
            })
            reps = {s.segment_id for s in c.representatives}
            for seg in c.segments:
                t["candidate_quotes"].append({"candidate_id": c.candidate_id, "representative": seg.segment_id in reps,
                                              **_segment_row(seg)})
        for seg in m.flagged:
            t["flagged"].append({"cluster": cluster_of.get(seg.segment_id, ""), **_segment_row(seg)})
        for r in m.calibration.rounds:
            t["calibration_rounds"].append({"round": r.round + 1, "dropped_concepts": "; ".join(r.dropped), "fit_firms": r.fit_firms,
                                            "val_firms": r.val_firms, "eval_firms": "; ".join(r.eval_firms),
                                            "dropped_quotes": r.n_dropped_quotes, "kept_quotes": r.n_kept_quotes,
                                            "uncoded_sentences": r.n_uncoded, "auroc": finite(r.auroc)})
    return t


def _segment_row(seg: Any) -> dict[str, Any]:
    return {"segment_id": seg.segment_id, "firm_id": seg.firm_id, "doc_id": seg.doc_id, "start": seg.start, "end": seg.end,
            "novelty": seg.novelty, "unplaced": seg.unplaced, "codeable": seg.codeable, "max_probability": seg.max_probability,
            "mahalanobis": seg.mahalanobis, "nearest_concepts": "; ".join(n for n, _ in seg.nearest), "text": seg.text}


# --------------------------------------------------------------------------------------------------
# Figures


def accumulation_figure(source: str, levels: dict[str, LevelMetrics]) -> Any:
    """Cumulative distinct codes vs. firms, per level: random-order mean and band, the observed order,
    the codebook's size and the cumulative new codes."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    from ..fonts import use_cjk_font

    use_cjk_font()
    fig, axes = plt.subplots(1, len(levels), figsize=(4.2 * len(levels), 3.6), squeeze=False)
    first = next(iter(levels.values()))
    low_pct, high_pct = first.settings.band
    for ax, (lv, m) in zip(axes[0], levels.items()):
        x = m.curve.units
        ax.fill_between(x, m.curve.low, m.curve.high, color="#9ecae1", alpha=0.5,
                        label=f"随机顺序 {high_pct - low_pct:g}% 区间")
        ax.plot(x, m.curve.mean, color="#3182bd", label=f"随机顺序均值（{m.curve.orders}种）")
        ax.plot(x, [s.cumulative_codes for s in m.steps], color="#e6550d", marker="o", ms=3, label="实际顺序")
        ax.plot(x, [s.cumulative_new for s in m.steps], color="#d62728", linestyle="--", marker="x", ms=4, label="码本外新增编码")
        ax.axhline(m.codebook_size, color="#636363", linestyle=":", linewidth=1, label=f"码本{LEVEL_LABELS[lv]}数")
        ax.set_title(f"{LEVEL_LABELS[lv]}")
        ax.set_xlabel("企业数")
        ax.set_ylabel("累计编码数")
        ax.set_xticks(list(x))
        ax.set_ylim(bottom=0)
        ax.grid(alpha=0.3)
    axes[0][0].legend(fontsize=7, loc="lower right")
    fig.suptitle(f"饱和度检验：{SOURCE_LABELS.get(source, source)}的编码累积曲线")
    fig.tight_layout()
    return fig


# --------------------------------------------------------------------------------------------------
# Report


def _f(x: Any, digits: int = 1) -> str:
    if x is None:
        return "–"
    if isinstance(x, float):
        return f"{x:.{digits}f}"
    return str(x)


def _blocks(result: Any, figures: dict[str, Path], tables: dict[str, list[dict[str, Any]]]) -> list[tuple[str, Any]]:
    """The report as (kind, content) blocks: h1/h2/h3, p, ul, table (rows), quote, figure (path, alt)."""
    v = result.overall
    b: list[tuple[str, Any]] = [("h1", "饱和度检验 Saturation test")]
    b.append(("p", f"Source: {result.source_name}. Held-out firms, in order: "
                   + ", ".join(f"{f} {result.firm_names.get(f, '')}".strip() for f in result.firms)
                   + f". Reference firms (the codebook's sample): {len(result.reference_firms)}. Codebook: {result.codebook.summary()}."))
    b.append(("h2", "Verdict 结论"))
    b.append(("p", f"**{'SATURATED' if v.saturated else 'NOT SATURATED'}** ({v.source} codes): {v.headline}"))
    b.append(("p", v.headline_zh))
    b.append(("p", "Decision rule: " + v.rule))
    rows = []
    for name, src in result.sources.items():
        for lv, d in src.verdict.levels.items():
            rows.append({"source": name, "level": LEVEL_NAMES[lv], "saturated": "yes" if d.saturated else "no", "codes": d.codes,
                         "new": len(d.new), "unseen (95% CI)": f"{_f(d.unseen)} ({_f(d.unseen_low)}–{_f(d.unseen_high)})",
                         "why": "; ".join(d.reasons)})
    b.append(("table", rows))
    for name, src in result.sources.items():
        b.append(("h2", f"Evidence: {name} codes（{SOURCE_LABELS.get(name, name)}）"))
        b.append(("ul", list(src.verdict.evidence)))
        if name in figures:
            b.append(("figure", (figures[name], f"{SOURCE_LABELS.get(name, name)}：编码累积曲线")))
        b.append(("h3", "Per firm, in order"))
        b.append(("table", [{k: r[k] for k in ("level", "order", "firm_id", "firm", "codes_seen", "new_codes", "new_code_names",
                                                "cumulative_codes", "cumulative_new")}
                            for r in tables["per_firm"] if r["source"] == name]))
    if result.human_new:
        b.append(("h2", "New concepts in the human codes 人工编码中的码本外概念"))
        for concept, quotes in result.human_new.items():
            firms = sorted({q.firm_id for q in quotes})
            b.append(("h3", f"{concept}: {len(quotes)} quotes in {len(firms)} firms ({', '.join(firms)})"))
            b.append(("quotes", [f"{q.firm_id} {q.doc_id} [{q.start}:{q.end}] {q.text}" for q in quotes]))
    m = result.model
    if m is not None:
        cal = m.calibration
        b.append(("h2", "Model: candidate new concepts 模型候选新概念"))
        b.append(("p", f"Model {m.model_name} ({m.model_kind}); {len(m.segments)} sentences coded, {len(m.flagged)} flagged as "
                       f"codeable but unplaceable, {len(m.candidates)} candidate concepts "
                       f"(clusters of at least {m.clustering.min_segments} sentences from at least {m.clustering.min_firms} firms; "
                       f"cosine distance threshold {m.clustering.distance_threshold:.3f}, {m.clustering.threshold_source})."))
        b.append(("p", f"Novelty calibration (leave-concepts-out over {len(cal.rounds)} rounds): {cal.summary()}. "
                       + " ".join(m.notes)))
        b.append(("table", [{"score": name, "AUROC vs kept quotes + uncoded": _f(finite(v_["vs_all"]), 3),
                             "AUROC vs kept quotes": _f(finite(v_["vs_kept"]), 3)} for name, v_ in cal.component_auroc.items()]
                  + [{"score": "combined (out of round)", "AUROC vs kept quotes + uncoded": _f(finite(cal.auroc), 3),
                      "AUROC vs kept quotes": _f(finite(cal.auroc_kept), 3)}]))
        if m.human_check is not None and m.human_check.n_new:
            h = m.human_check
            b.append(("p", f"Check against the human codes of the same firms (not used for tuning): {h.n_new} sentences lie in "
                           f"quotes coded with a concept the codebook lacks; novelty AUROC {_f(finite(h.auroc_vs_all), 3)} against "
                           f"all other sentences, {_f(finite(h.auroc_vs_known), 3)} against sentences in known-concept quotes; "
                           f"flagged: {h.flagged}."))
        match = m.human_check.candidate_match if m.human_check is not None else {}
        for c in m.candidates:
            how = result.resolution.get(c.candidate_id, "")
            hm = match.get(c.candidate_id) or {}
            b.append(("h3", f"{c.candidate_id}「{c.label}」: {c.size} sentences, firms {', '.join(c.firms)}"))
            facts = [f"keywords: {', '.join(w for w, _ in c.keywords) or '–'}",
                     "nearest existing concepts: " + ("; ".join(f"{n} ({i}), distance {d:.2f}" for n, i, d in c.nearest_concepts) or "–"),
                     f"mean novelty {c.mean_novelty:.3f}, spread {c.spread:.3f}"]
            if how:
                facts.append(f"explained by the human codes: {how}")
            if hm.get("concept"):
                facts.append(f"{hm['n']} of its sentences lie in human quotes of {hm['concept']} ({hm['share']:.0%})")
            b.append(("ul", facts))
            b.append(("quotes", [f"{s.firm_id} {s.doc_id} [{s.start}:{s.end}] (novelty {s.novelty:.2f}) {s.text}" for s in c.representatives]))
    b.append(("h2", "Reading and limits"))
    b.append(("ul", [
        "The estimators (Chao2, jackknife, coverage, Chao1) assume every code is equally detectable: read them as lower bounds.",
        "Code saturation comes before meaning saturation (Hennink, Kaiser & Marconi 2017): concepts and categories are reported separately.",
        "Model candidates are suggestions for review: a cluster of sentences the model cannot place may be a new concept, "
        "a known concept in unusual words, or material nobody would code.",
        "With few held-out firms Guest's ratio and the held-out firms' own richness estimates are coarse; the pooled estimate "
        "(reference + held-out firms) carries the decision.",
    ]))
    if result.notes:
        b.append(("h3", "Notes"))
        b.append(("ul", list(result.notes)))
    return b


def _markdown(blocks: list[tuple[str, Any]], base: Path) -> str:
    import os

    out = []
    for kind, content in blocks:
        if kind in ("h1", "h2", "h3"):
            out.append("#" * int(kind[1]) + " " + content + "\n")
        elif kind == "p":
            out.append(content + "\n")
        elif kind == "ul":
            out.append("\n".join(f"- {item}" for item in content) + "\n")
        elif kind == "quotes":
            out.append("\n".join(f"> {q}\n>" for q in content).rstrip(">\n") + "\n")
        elif kind == "table":
            out.append(markdown_table(content) if content else "(none)\n")
        elif kind == "figure":
            path, alt = content
            out.append(f"![{alt}]({Path(os.path.relpath(path, base)).as_posix()})\n")
    return "\n".join(out)


def _inline(text: str) -> str:
    escaped = html.escape(text)
    parts = escaped.split("**")
    return "".join(f"<strong>{p}</strong>" if i % 2 else p for i, p in enumerate(parts))


def _html(blocks: list[tuple[str, Any]]) -> str:
    body = []
    for kind, content in blocks:
        if kind in ("h1", "h2", "h3"):
            body.append(f"<{kind}>{html.escape(content)}</{kind}>")
        elif kind == "p":
            body.append(f"<p>{_inline(content)}</p>")
        elif kind == "ul":
            body.append("<ul>" + "".join(f"<li>{html.escape(i)}</li>" for i in content) + "</ul>")
        elif kind == "quotes":
            body.append("".join(f"<blockquote>{html.escape(q)}</blockquote>" for q in content))
        elif kind == "table":
            body.append(html_table(content, max_rows=None) if content else "<p>(none)</p>")
        elif kind == "figure":
            path, alt = content
            body.append(html_image(path, alt, embed=True))
    style = ("body{font-family:sans-serif;max-width:1100px;margin:2em auto;line-height:1.5}"
             "table{border-collapse:collapse;font-size:90%}td,th{border:1px solid #ccc;padding:2px 6px;vertical-align:top}"
             "blockquote{border-left:3px solid #9ecae1;margin:0.4em 0;padding-left:0.8em;color:#333}")
    return ("<!DOCTYPE html>\n<html lang=\"zh\"><head><meta charset=\"utf-8\"><title>饱和度检验 Saturation test</title>"
            f"<style>{style}</style></head><body>\n" + "\n".join(body) + "\n</body></html>\n")


def write_outputs(result: Any) -> dict[str, str]:
    out = Path(result.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    files: dict[str, str] = {}
    tables = _tables(result)
    for name, rows in tables.items():
        files[f"table:{name}"] = str(write_csv(rows if rows else [{"(empty)": ""}], out / "tables" / f"{name}.csv"))
    write_xlsx({name: (rows if rows else [{"(empty)": ""}]) for name, rows in tables.items()}, out / "saturation.xlsx")
    files["workbook"] = str(out / "saturation.xlsx")
    figures: dict[str, Path] = {}
    import matplotlib.pyplot as plt

    for name, src in result.sources.items():
        fig = accumulation_figure(name, src.levels)
        png, svg = save_figure(fig, out / "figures" / f"accumulation_{name}")
        plt.close(fig)
        figures[name] = png
        files[f"figure:{name}"] = str(png)
    blocks = _blocks(result, figures, tables)
    files["report_md"] = str(write_text(out / "report.md", _markdown(blocks, out)))
    files["report_html"] = str(write_text(out / "report.html", _html(blocks)))
    data = result_dict(result)
    data["files"] = {k: str(Path(v).relative_to(out)) if Path(v).is_relative_to(out) else v for k, v in files.items()}
    files["json"] = str(write_json(out / "saturation.json", data))
    return files
