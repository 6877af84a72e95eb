"""The readable training report: ``report.md`` and a self-contained ``report.html`` with plots.

Plots (PNG in ``figures/``, embedded in the HTML; Chinese labels drawn with the shipped font):
micro/macro F1 per level for both models, F1 per initial category for both models, reliability
diagrams before and after calibration, and the confusion of main categories of the chosen model.
Everything is read from ``metrics.json``'s dictionary, so a report can be rebuilt from a run folder
with ``write_report(run_dir, json.load(open(run_dir / "metrics.json")))``.
"""

from __future__ import annotations

import base64
import html
from pathlib import Path
from typing import Any

from ..atomic import atomic_path, write_text

LEVEL_NAMES = {"concept": "concept 初始概念", "initial_category": "initial category 初始范畴", "main_category": "main category 主范畴"}
MODEL_COLOURS = {"bert": "#1f77b4", "baseline": "#ff7f0e"}


def _f(value: Any, digits: int = 3) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


# --------------------------------------------------------------------------------------------------
# Figures


def _save(fig: Any, path: Path) -> Path:
    import matplotlib.pyplot as plt

    with atomic_path(path, suffix=".png") as tmp:
        fig.savefig(tmp, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    return path


def _figures(run_dir: Path, metrics: dict[str, Any]) -> dict[str, Path]:
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt
    import numpy as np

    from ..fonts import use_cjk_font

    use_cjk_font()
    out_dir = run_dir / "figures"
    models = metrics["models"]
    kinds = list(models)
    figures: dict[str, Path] = {}

    # F1 per level, both models.
    fig, ax = plt.subplots(figsize=(8, 4))
    levels = list(LEVEL_NAMES)
    width = 0.8 / (2 * len(kinds))
    x = np.arange(len(levels))
    i = 0
    for kind in kinds:
        for avg, hatch in (("micro_f1", ""), ("macro_f1", "//")):
            values = [models[kind]["test"][lvl][avg] or 0.0 for lvl in levels]
            ax.bar(x + (i - (2 * len(kinds) - 1) / 2) * width, values, width, label=f"{kind} {avg.split('_')[0]} F1",
                   color=MODEL_COLOURS.get(kind), hatch=hatch, edgecolor="white" if not hatch else "black", alpha=0.9)
            i += 1
    ax.set_xticks(x, [LEVEL_NAMES[lvl] for lvl in levels])
    ax.set_ylim(0, 1)
    ax.set_ylabel("F1 (test firms)")
    ax.set_title("各层级 F1：BERT 与基线")
    ax.legend(fontsize=8, ncol=2)
    figures["f1_levels"] = _save(fig, out_dir / "f1_levels.png")

    # F1 per initial category.
    names = [r["label"] for r in models[kinds[0]]["test"]["initial_category"]["per_label"]]
    fig, ax = plt.subplots(figsize=(8, max(4, 0.32 * len(names) + 1)))
    y = np.arange(len(names))
    height = 0.8 / len(kinds)
    for j, kind in enumerate(kinds):
        rows = {r["label"]: r for r in models[kind]["test"]["initial_category"]["per_label"]}
        values = [rows[n]["f1"] if rows[n]["support"] else 0.0 for n in names]
        ax.barh(y + (j - (len(kinds) - 1) / 2) * height, values, height, label=kind, color=MODEL_COLOURS.get(kind))
    supports = {r["label"]: r["support"] for r in models[kinds[0]]["test"]["initial_category"]["per_label"]}
    ax.set_yticks(y, [f"{n} (n={supports[n]})" for n in names])
    ax.invert_yaxis()
    ax.set_xlim(0, 1)
    ax.set_xlabel("F1 (test firms)")
    ax.set_title("初始范畴 F1")
    ax.legend()
    figures["f1_initial"] = _save(fig, out_dir / "f1_initial_categories.png")

    # Reliability diagrams.
    fig, axes = plt.subplots(1, len(kinds), figsize=(4.5 * len(kinds), 4.2), squeeze=False)
    for ax, kind in zip(axes[0], kinds):
        cal = models[kind]["test"]["calibration"]
        ax.plot([0, 1], [0, 1], color="grey", lw=1, ls="--")
        for key, style, label in (("bins_before", "o--", "before"), ("bins_after", "s-", "after")):
            bins = [b for b in cal.get(key) or [] if b["count"]]
            if bins:
                ax.plot([b["mean_probability"] for b in bins], [b["observed_rate"] for b in bins], style,
                        label=f"{label} (ECE {_f(cal['ece_' + label], 4)})")
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1)
        ax.set_xlabel("predicted probability 预测概率")
        ax.set_ylabel("observed rate 实际比例")
        ax.set_title(f"{kind}: 校准 reliability")
        ax.legend(fontsize=8, loc="upper left")
    figures["reliability"] = _save(fig, out_dir / "reliability.png")

    # Confusion of main categories (chosen model).
    selected = metrics["selected"]
    confusion = models[selected]["test"]["main_confusion"]
    matrix = np.asarray(confusion["matrix"], dtype=float)
    labels = ["无编码 (no code)" if n == "(no code)" else n for n in confusion["labels"]]
    fig, ax = plt.subplots(figsize=(1.0 * len(labels) + 2, 0.8 * len(labels) + 1.5))
    row_sums = matrix.sum(axis=1, keepdims=True)
    share = np.divide(matrix, row_sums, out=np.zeros_like(matrix), where=row_sums > 0)
    ax.imshow(share, cmap="Blues", vmin=0, vmax=1)
    for r in range(len(labels)):
        for c in range(len(labels)):
            if matrix[r, c]:
                ax.text(c, r, int(matrix[r, c]), ha="center", va="center", fontsize=8,
                        color="white" if share[r, c] > 0.6 else "black")
    ax.set_xticks(range(len(labels)), labels, rotation=45, ha="right")
    ax.set_yticks(range(len(labels)), labels)
    ax.set_xlabel("model (best predicted main category)")
    ax.set_ylabel("human coders 人工编码")
    ax.set_title(f"主范畴混淆矩阵 ({selected})")
    figures["confusion"] = _save(fig, out_dir / "confusion_main.png")
    return figures


# --------------------------------------------------------------------------------------------------
# Document


def _blocks(metrics: dict[str, Any], figures: dict[str, Path]) -> list[tuple]:
    models = metrics["models"]
    kinds = list(models)
    data = metrics["data"]
    splits = metrics["splits"]
    out_fold = splits["output_fold"]
    fold = splits["folds"][out_fold]
    blocks: list[tuple] = [("h1", f"Training report 训练报告: {metrics['run_id']}")]
    blocks.append(("p", f"Codebook {metrics.get('codebook_title') or ''} (hash {metrics['codebook_hash'][:12]}); "
                        f"data: {data['source']}."))
    blocks.append(("h2", "Data 数据"))
    blocks.append(("table", ["", "value"], [
        ["coded examples (after merging duplicate quotes)", data["positives"]],
        ["multi-label examples", data["multi_label"]],
        ["duplicate quotes merged", data["merged_duplicates"]],
        ["'no code' sentences (negatives)", data["negatives"]],
        ["firms", data["firms"]],
        ["documents", data["documents"]],
        ["concepts with at least one example", len(data["concept_counts"])],
    ]))
    for note in data.get("notes") or []:
        blocks.append(("p", f"Note: {note}"))
    blocks.append(("h2", "Splits 划分 (by firm)"))
    blocks.append(("p", f"Strategy {splits['strategy']} ({len(splits['folds'])} split(s)); the run's model and the test "
                        f"numbers below come from split {out_fold}: {len(fold['train_firms'])} training firms, "
                        f"{len(fold['val_firms'])} validation firms (calibration, thresholds, model choice), "
                        f"{len(fold['test_firms'])} test firms ({', '.join(fold['test_firms'])}). No firm is in two parts."))

    blocks.append(("h2", "Headline metrics on the test firms 测试集主要指标"))
    header = ["model", "concept micro F1", "concept macro F1", "initial micro F1", "initial macro F1", "main micro F1",
              "main macro F1", "initial top-1", "initial mean κ", "no-code P", "no-code R", "ECE before", "ECE after"]
    rows = []
    for kind in kinds:
        t = models[kind]["test"]
        rows.append([
            kind + (" (selected)" if kind == metrics["selected"] else ""),
            _f(t["concept"]["micro_f1"]), _f(t["concept"]["macro_f1"]),
            _f(t["initial_category"]["micro_f1"]), _f(t["initial_category"]["macro_f1"]),
            _f(t["main_category"]["micro_f1"]), _f(t["main_category"]["macro_f1"]),
            _f(t["initial_category"]["top_k_accuracy"].get("1")), _f(t["initial_category"]["mean_kappa"]),
            _f(t["no_code"]["precision"]), _f(t["no_code"]["recall"]),
            _f(t["calibration"]["ece_before"], 4), _f(t["calibration"]["ece_after"], 4),
        ])
    blocks.append(("table", header, rows))
    blocks.append(("p", "Macro averages are over the labels present among the test examples (support > 0). Top-k "
                        "accuracy: share of coded examples whose k best-scoring labels include a human label. ECE and "
                        "NLL treat every (example, concept) probability as one forecast."))
    for kind in kinds:
        if "cross_validation" in models[kind]:
            cv = models[kind]["cross_validation"]
            blocks.append(("h3", f"Cross-validation ({cv['folds']} folds by firm): {kind}"))
            blocks.append(("table", ["metric", "mean", "std", "per fold"], [
                [key, _f(cv["mean"].get(key)), _f(cv["std"].get(key)), ", ".join(_f(v) for v in cv["per_fold"][key])]
                for key in cv["mean"]
            ]))

    blocks.append(("h2", "Model choice and gate 模型选择与门槛"))
    sel = metrics["selection"]
    blocks.append(("p", f"Selected: {metrics['selected']} (by {sel['by']}; {sel['metric']} on validation: "
                        + ", ".join(f"{k} {_f(v)}" for k, v in sel["validation"].items()) + ")."))
    gate = metrics.get("gate") or {}
    if gate:
        blocks.append(("p", ("Accepted as the project's current model: " if gate["accepted"] else "Not made current: ")
                       + gate["reason"]))

    blocks.append(("h2", "Calibration 校准 (validation firms)"))
    cal_rows = []
    for kind in kinds:
        c = models[kind]["folds"][0]["calibration"] if models[kind]["folds"] else {}
        for r in models[kind]["folds"]:
            if r["fold"] == out_fold:
                c = r["calibration"]
        cal_rows.append([kind, _f(c.get("temperature")), _f(c.get("nll_before"), 4), _f(c.get("nll_after"), 4),
                         _f(c.get("ece_before"), 4), _f(c.get("ece_after"), 4), len(c.get("tuned_labels") or [])])
    blocks.append(("table", ["model", "temperature", "NLL before", "NLL after", "ECE before", "ECE after",
                             "concepts with a tuned threshold"], cal_rows))

    for level in ("initial_category", "main_category"):
        blocks.append(("h2", f"Per {LEVEL_NAMES[level]} (test firms)"))
        header = ["label", "support"]
        for kind in kinds:
            header += [f"{kind} P", f"{kind} R", f"{kind} F1", f"{kind} κ"]
        per = {kind: {r["label"]: r for r in models[kind]["test"][level]["per_label"]} for kind in kinds}
        rows = []
        for name, first in per[kinds[0]].items():
            row = [name, first["support"]]
            for kind in kinds:
                r = per[kind][name]
                row += [_f(r["precision"]), _f(r["recall"]), _f(r["f1"]), _f(r["kappa"])]
            rows.append(row)
        blocks.append(("table", header, rows))
    blocks.append(("p", "Per-concept numbers: per_label.csv / per_label.xlsx. κ: Cohen's kappa of the label's presence, "
                        "model against the human codes (– where undefined)."))
    blocks.append(("h2", "Figures 图"))
    captions = {
        "f1_levels": "Micro and macro F1 per level, both models",
        "f1_initial": "F1 per initial category, both models",
        "reliability": "Reliability diagrams before and after temperature scaling",
        "confusion": "Main categories: human (rows) vs the selected model's best predicted main category",
    }
    for key, path in figures.items():
        blocks.append(("img", path, captions.get(key, key)))
    return blocks


def _markdown(blocks: list[tuple], run_dir: Path) -> str:
    lines: list[str] = []
    for block in blocks:
        kind = block[0]
        if kind in ("h1", "h2", "h3"):
            lines += ["#" * int(kind[1]) + " " + block[1], ""]
        elif kind == "p":
            lines += [block[1], ""]
        elif kind == "table":
            header, rows = block[1], block[2]
            lines.append("| " + " | ".join(map(str, header)) + " |")
            lines.append("|" + "---|" * len(header))
            for row in rows:
                lines.append("| " + " | ".join(str(c).replace("|", "\\|") for c in row) + " |")
            lines.append("")
        elif kind == "img":
            lines += [f"![{block[2]}]({Path(block[1]).relative_to(run_dir).as_posix()})", "", f"*{block[2]}*", ""]
    return "\n".join(lines)


def _html(blocks: list[tuple]) -> str:
    parts = [
        "<!DOCTYPE html><html lang='zh'><head><meta charset='utf-8'><title>groundcoder training report</title>",
        "<style>body{font-family:sans-serif;max-width:1100px;margin:2em auto;padding:0 1em}"
        "table{border-collapse:collapse;margin:1em 0;font-size:13px}td,th{border:1px solid #ccc;padding:3px 6px;"
        "text-align:right}td:first-child,th:first-child{text-align:left}img{max-width:100%}</style></head><body>",
    ]
    for block in blocks:
        kind = block[0]
        if kind in ("h1", "h2", "h3"):
            parts.append(f"<{kind}>{html.escape(block[1])}</{kind}>")
        elif kind == "p":
            parts.append(f"<p>{html.escape(block[1])}</p>")
        elif kind == "table":
            parts.append("<table><tr>" + "".join(f"<th>{html.escape(str(h))}</th>" for h in block[1]) + "</tr>")
            for row in block[2]:
                parts.append("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in row) + "</tr>")
            parts.append("</table>")
        elif kind == "img":
            data = base64.b64encode(Path(block[1]).read_bytes()).decode("ascii")
            parts.append(f"<figure><img src='data:image/png;base64,{data}' alt='{html.escape(block[2])}'>"
                         f"<figcaption>{html.escape(block[2])}</figcaption></figure>")
    parts.append("</body></html>")
    return "\n".join(parts)


def write_report(run_dir: str | Path, metrics: dict[str, Any], labels: Any = None) -> dict[str, str]:
    """Write report.md, report.html and figures/*.png into ``run_dir``; returns their paths."""
    run_dir = Path(run_dir)
    figures = _figures(run_dir, metrics)
    blocks = _blocks(metrics, figures)
    md = write_text(run_dir / "report.md", _markdown(blocks, run_dir))
    page = write_text(run_dir / "report.html", _html(blocks))
    return {"report_md": str(md), "report_html": str(page), **{f"figure_{k}": str(v) for k, v in figures.items()}}
