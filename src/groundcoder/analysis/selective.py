"""Selective coding: the model graph (roles -> main categories -> initial categories, stages) and its
diagrams in the spirit of the study's figure 3 (mechanism model) and figure 4 (factors by stage).

The graph (``model_graph``) is a ``networkx.DiGraph`` whose node ids are the code names (so a
REFI-QDA exporter can match them to codes) with a ``label`` attribute; stage nodes and the core
category get a prefix only if their name clashes with a code name. Attributes:

* nodes: ``label``, ``kind`` (core / role / main / initial / stage), ``quotes`` (coded quotes under
  it), ``documents`` (distinct sources), ``firms``, ``description``;
* edges: ``relation`` (drives: role -> core; includes: role -> main and main -> initial; acts_in:
  stage -> main; next: stage -> following stage; empowers: a stage spanning all stages -> each other
  stage; cooccurs: an axial link between main categories), ``weight`` (the evidence: quotes under the
  target for includes/acts_in/drives, firms with quotes in both stages for next, windows together
  for cooccurs) and ``npmi`` (cooccurs only).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import networkx as nx
import pandas as pd

from ..atomic import atomic_path
from ..codebook import Codebook
from .codings import CodingSet
from .open_coding import segments_by_code

DEFAULT_CORE = "微创新"

# Pale fills, one per role / stage, and a darker edge of the same hue.
_FILLS = ["#dce9f7", "#e3f1dc", "#fde8d7", "#efe2f3", "#fbf3cf", "#dff3f1"]
_EDGES = ["#2f6fad", "#3d8a3a", "#c0622d", "#8051a0", "#a88a12", "#2a8a80"]


@dataclass(frozen=True)
class CodeCounts:
    """Quotes and distinct documents / firms coded under a code."""

    quotes: int = 0
    documents: int = 0
    firms: int = 0


def code_counts(codings: CodingSet) -> dict[str, CodeCounts]:
    """Counts for every initial category, main category and role of the codebook."""
    out: dict[str, CodeCounts] = {}
    for level in ("initial", "main", "role"):
        for code, segs in segments_by_code(codings, level).items():
            out[code] = CodeCounts(len(segs), len({s.doc_id for s in segs}), len({s.firm_id for s in segs}))
    return out


def stage_order(codebook: Codebook) -> tuple[list[str], list[str]]:
    """(sequential stages in codebook order, stages spanning all stages)."""
    return ([s.name for s in codebook.stages if not s.spans_all_stages],
            [s.name for s in codebook.stages if s.spans_all_stages])


def _node_id(name: str, taken: set[str], prefix: str) -> str:
    return name if name not in taken else f"{prefix}:{name}"


def model_graph(codings: CodingSet, links: pd.DataFrame | None = None, core: str = DEFAULT_CORE) -> nx.DiGraph:
    """The selective-coding model as a graph, weighted by the quotes behind each code."""
    cb = codings.codebook
    counts = code_counts(codings)
    names = {c.name for c in cb.concepts} | {ic.name for ic in cb.initial_categories}
    names |= {m.name for m in cb.main_categories} | {r.name for r in cb.roles}
    g = nx.DiGraph(name="微创新动力机制模型", core=core)

    def add(node: str, label: str, kind: str, code: str | None, description: str = "") -> None:
        c = counts.get(code or "", CodeCounts())
        g.add_node(node, label=label, kind=kind, quotes=c.quotes, documents=c.documents, firms=c.firms,
                   description=description or "")

    core_id = _node_id(core, names, "核心")
    all_segments = [s for s in codings.segments if codings.codes(s, "main")]
    g.add_node(core_id, label=core, kind="core", quotes=len(all_segments),
               documents=len({s.doc_id for s in all_segments}), firms=len({s.firm_id for s in all_segments}),
               description="核心范畴")
    for role in cb.roles:
        add(role.name, role.name, "role", role.name, role.description)
        g.add_edge(role.name, core_id, relation="drives", weight=float(counts.get(role.name, CodeCounts()).quotes))
    for main in cb.main_categories:
        add(main.name, main.name, "main", main.name, main.description)
        role = cb.parent_of(main.name)
        if role:
            g.add_edge(role, main.name, relation="includes", weight=float(counts.get(main.name, CodeCounts()).quotes))
        for initial in cb.initial_categories_of(main.name):
            add(initial, initial, "initial", initial, cb.initial_category(initial).description)
            g.add_edge(main.name, initial, relation="includes", weight=float(counts.get(initial, CodeCounts()).quotes))
    sequential, spanning = stage_order(cb)
    stage_ids = {s.name: _node_id(s.name, names | {core_id}, "阶段") for s in cb.stages}
    firms_in_stage: dict[str, set[str]] = defaultdict(set)
    for s in all_segments:
        for main in codings.codes(s, "main"):
            for stage in cb.stages_of(main):
                firms_in_stage[stage.name].add(s.firm_id)
    for stage in cb.stages:
        node = stage_ids[stage.name]
        segs = [s for s in all_segments if set(codings.codes(s, "main")) & set(stage.main_categories)]
        g.add_node(node, label=stage.name, kind="stage", quotes=len(segs), documents=len({s.doc_id for s in segs}),
                   firms=len({s.firm_id for s in segs}), description=stage.description or "")
        for main in stage.main_categories:
            g.add_edge(node, main, relation="acts_in", weight=float(counts.get(main, CodeCounts()).quotes))
    for a, b in zip(sequential, sequential[1:]):
        g.add_edge(stage_ids[a], stage_ids[b], relation="next", weight=float(len(firms_in_stage[a] & firms_in_stage[b])))
    for span in spanning:
        for other in sequential:
            g.add_edge(stage_ids[span], stage_ids[other], relation="empowers",
                       weight=float(g.nodes[stage_ids[span]]["quotes"]))
    if links is not None:
        for r in links.itertuples(index=False):
            g.add_edge(r.category_a, r.category_b, relation="cooccurs", weight=float(r.n_ab), npmi=float(r.npmi),
                       line_style="dashed", direction="Associative")
    for _, _, data in g.edges(data=True):
        name = RELATION_LABELS[data["relation"]]
        data["label"] = (f"{name} n={data['weight']:g}, NPMI {data['npmi']:.2f}" if data["relation"] == "cooccurs"
                         else f"{name} {data['weight']:g}")
    _place(g, cb, core_id, stage_ids)
    return g


RELATION_LABELS = {"drives": "驱动", "includes": "包含", "acts_in": "作用于", "next": "下一阶段", "empowers": "赋能",
                   "cooccurs": "共现"}
_KIND_COLORS = {"core": "#FFF4D6", "role": "#DCE9F7", "main": "#E3F1DC", "initial": "#FFFFFF", "stage": "#EFE2F3"}


def _place(g: nx.DiGraph, cb: Codebook, core_id: str, stage_ids: Mapping[str, str]) -> None:
    """``x``/``y`` (and ``color``) for QDA tools that draw the graph: initial categories, main
    categories, roles and the core from left to right, the stages in a column on the right."""
    y_of: dict[str, float] = {}
    row = 0
    for main in cb.main_categories:
        ys = []
        for initial in cb.initial_categories_of(main.name):
            y_of[initial] = 40 + 70 * row
            ys.append(y_of[initial])
            row += 1
        y_of[main.name] = sum(ys) / len(ys)
        row += 0.5
    for role in cb.roles:
        y_of[role.name] = sum(y_of[m] for m in role.main_categories) / len(role.main_categories)
    y_of[core_id] = 40 + 70 * (row - 1) / 2
    x_of = {"initial": 40, "main": 320, "role": 600, "core": 880, "stage": 1180}
    for i, stage in enumerate(cb.stages):
        y_of[stage_ids[stage.name]] = 40 + 120 * i
    for node, data in g.nodes(data=True):
        data["x"] = float(x_of[data["kind"]])
        data["y"] = float(y_of.get(node, 40))
        data["color"] = _KIND_COLORS[data["kind"]]


def write_graphml(graph: nx.DiGraph, path: Path) -> Path:
    """GraphML (atomic); attribute values NaN or None are left out, as GraphML wants typed values."""
    clean = graph.copy()
    for _, data in list(clean.nodes(data=True)) + [(None, d) for *_, d in clean.edges(data=True)]:
        for key in [k for k, v in data.items() if v is None or (isinstance(v, float) and math.isnan(v))]:
            del data[key]
    for key in [k for k, v in clean.graph.items() if not isinstance(v, (str, int, float, bool))]:
        del clean.graph[key]
    with atomic_path(path, suffix=".graphml") as tmp:
        nx.write_graphml(clean, tmp, encoding="utf-8")
    return Path(path)


# --------------------------------------------------------------------------------------------------
# Diagrams. Coordinates are inches (the axes fill the figure), so text sizes are easy to budget.

_LINE = 0.30  # inches per text line at 10 pt
_HEAD = 0.42


def _setup(width: float, height: float):
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    from ..fonts import use_cjk_font

    use_cjk_font()
    fig = plt.figure(figsize=(width, height))
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_xlim(0, width)
    ax.set_ylim(0, height)
    ax.axis("off")
    return fig, ax


def _box(ax, x: float, y: float, w: float, h: float, fill: str, edge: str, lw: float = 1.2, style: str = "round,pad=0.02,rounding_size=0.12", ls: str = "-"):
    from matplotlib.patches import FancyBboxPatch

    ax.add_patch(FancyBboxPatch((x, y), w, h, boxstyle=style, facecolor=fill, edgecolor=edge, linewidth=lw, linestyle=ls))


def _arrow(ax, start: tuple[float, float], end: tuple[float, float], color: str, lw: float, ls: str = "-",
           label: str = "", rad: float = 0.0, label_offset: tuple[float, float] = (0.0, 0.0)) -> None:
    from matplotlib.patches import FancyArrowPatch

    ax.add_patch(
        FancyArrowPatch(start, end, arrowstyle="-|>", mutation_scale=14 + 2 * lw, color=color, linewidth=lw,
                        linestyle=ls, connectionstyle=f"arc3,rad={rad}", shrinkA=2, shrinkB=2)
    )
    if label:
        mx, my = (start[0] + end[0]) / 2 + label_offset[0], (start[1] + end[1]) / 2 + label_offset[1]
        ax.text(mx, my, label, ha="center", va="center", fontsize=9, color=color,
                bbox={"boxstyle": "round,pad=0.2", "facecolor": "white", "edgecolor": "none", "alpha": 0.9})


def _count_text(c: CodeCounts) -> str:
    return f"{c.quotes} / {c.documents}"


def _main_block_height(codebook: Codebook, main: str) -> float:
    return _HEAD + _LINE * len(codebook.initial_categories_of(main)) + 0.15


def _draw_main_block(ax, codebook: Codebook, counts: Mapping[str, CodeCounts], main: str, x: float, top: float,
                     w: float, edge: str, highlight: bool = True) -> float:
    """A main category box with its initial categories and counts; returns its height."""
    h = _main_block_height(codebook, main)
    c = counts.get(main, CodeCounts())
    faded = highlight and c.quotes == 0
    _box(ax, x, top - h, w, h, "white", edge if not faded else "#bbbbbb", lw=1.0)
    ax.text(x + 0.12, top - 0.22, main, ha="left", va="center", fontsize=11,
            color="#222222" if not faded else "#999999")
    ax.text(x + w - 0.12, top - 0.22, _count_text(c), ha="right", va="center", fontsize=9.5, color=edge)
    for i, initial in enumerate(codebook.initial_categories_of(main)):
        ci = counts.get(initial, CodeCounts())
        yy = top - _HEAD - _LINE * (i + 0.5)
        color = "#333333" if ci.quotes else "#aaaaaa"
        ax.text(x + 0.3, yy, initial, ha="left", va="center", fontsize=9.5, color=color)
        ax.text(x + w - 0.12, yy, _count_text(ci), ha="right", va="center", fontsize=9, color=color)
    return h


def _legend(ax, x: float, y: float, text: str) -> None:
    ax.text(x, y, text, ha="left", va="center", fontsize=8.5, color="#555555")


def draw_mechanism_model(codebook: Codebook, counts: Mapping[str, CodeCounts], stem: Path, core: str = DEFAULT_CORE,
                         title: str = "微创新动力机制模型", links: pd.DataFrame | None = None) -> tuple[Path, Path]:
    """Figure 3: role boxes holding their main categories feeding the core; a role whose main
    categories all act across stages (digital empowerment) is drawn underneath, reinforcing both."""
    from .report import save_figure

    import matplotlib.pyplot as plt

    spanning_mains = {m for s in codebook.stages if s.spans_all_stages for m in s.main_categories}
    spanning_stage = next((s.name for s in codebook.stages if s.spans_all_stages), "")
    roles = list(codebook.roles)
    if not roles:  # a codebook without roles: one pseudo role with every main category
        from ..codebook import Role

        roles = [Role("主范畴", tuple(m.name for m in codebook.main_categories))]
    bottom_roles = [r for r in roles if spanning_mains and set(r.main_categories) <= spanning_mains]
    side_roles = [r for r in roles if r not in bottom_roles] or roles
    bottom_roles = [r for r in bottom_roles if r not in side_roles]

    col_w = 10.2
    per_row = max(len(r.main_categories) for r in roles)
    per_row = min(per_row, 3)

    def role_height(role) -> float:
        rows = [role.main_categories[i:i + per_row] for i in range(0, len(role.main_categories), per_row)]
        return 0.55 + sum(max(_main_block_height(codebook, m) for m in row) + 0.15 for row in rows) + 0.1

    gap = 0.45
    side_h = sum(role_height(r) for r in side_roles) + gap * (len(side_roles) - 1)
    bottom_h = sum(role_height(r) for r in bottom_roles) + (0.9 * len(bottom_roles))
    width = 15.0
    height = 0.8 + side_h + bottom_h + 0.7
    fig, ax = _setup(width, height)
    ax.text(width / 2, height - 0.4, title, ha="center", va="center", fontsize=15)
    role_max = max([counts.get(r.name, CodeCounts()).quotes for r in roles] + [1])

    def draw_role(role, index: int, x: float, top: float) -> tuple[float, float, float, float]:
        h = role_height(role)
        fill, edge = _FILLS[index % len(_FILLS)], _EDGES[index % len(_EDGES)]
        _box(ax, x, top - h, col_w, h, fill, edge, lw=1.6)
        c = counts.get(role.name, CodeCounts())
        ax.text(x + 0.18, top - 0.28, role.name, ha="left", va="center", fontsize=13, color=edge)
        ax.text(x + col_w - 0.18, top - 0.28, f"引文 {c.quotes} · 材料 {c.documents} 份", ha="right", va="center",
                fontsize=9.5, color=edge)
        yy = top - 0.55
        inner_w = (col_w - 0.3 - 0.2 * (per_row - 1)) / per_row
        for i in range(0, len(role.main_categories), per_row):
            row = role.main_categories[i:i + per_row]
            hs = [_draw_main_block(ax, codebook, counts, m, x + 0.15 + k * (inner_w + 0.2), yy, inner_w, edge)
                  for k, m in enumerate(row)]
            yy -= max(hs) + 0.15
        return x, top - h, col_w, h

    boxes = {}
    top = height - 0.8
    for i, role in enumerate(side_roles):
        boxes[role.name] = draw_role(role, roles.index(role), 0.3, top)
        top -= role_height(role) + gap
    core_x, core_w = 11.6, 3.0
    core_top, core_bottom = height - 0.8, height - 0.8 - side_h
    core_h = max(min(2.2, side_h), 0.75 * side_h)
    core_y = (core_top + core_bottom) / 2 - core_h / 2
    _box(ax, core_x, core_y, core_w, core_h, "#fff4d6", "#b8860b", lw=2.2, style="round,pad=0.02,rounding_size=0.3")
    ax.text(core_x + core_w / 2, core_y + core_h / 2 + 0.2, core, ha="center", va="center", fontsize=20,
            color="#8a5a00")
    ax.text(core_x + core_w / 2, core_y + core_h / 2 - 0.35, "核心范畴", ha="center", va="center", fontsize=10, color="#8a5a00")
    for role in side_roles:
        x, y, w, h = boxes[role.name]
        c = counts.get(role.name, CodeCounts())
        edge = _EDGES[roles.index(role) % len(_EDGES)]
        lw = 1.0 + 5.0 * c.quotes / role_max
        target_y = min(max(y + h / 2, core_y + 0.35), core_y + core_h - 0.35)
        _arrow(ax, (x + w, y + h / 2), (core_x, target_y), edge, lw, label=f"引文 {c.quotes}",
               label_offset=(0.0, 0.32))
    top = core_bottom - 0.9
    for role in bottom_roles:
        x, y, w, h = draw_role(role, roles.index(role), 0.3, top)
        edge = _EDGES[roles.index(role) % len(_EDGES)]
        c = counts.get(role.name, CodeCounts())
        lw = 1.0 + 5.0 * c.quotes / role_max
        label = f"{spanning_stage}（强化）" if spanning_stage else "强化"
        _arrow(ax, (x + w / 2, y + h), (x + w / 2, core_bottom), edge, lw, ls="--", label=label)
        _arrow(ax, (x + w, y + h * 0.75), (core_x + core_w / 2, core_y), edge, lw, ls="--",
               label=f"引文 {c.quotes}", rad=0.15, label_offset=(0.3, -0.1))
        top = y - 0.9
    link_text = ""
    if links is not None and len(links):
        link_text = "共现联系（主轴编码证据）：" + "；".join(
            f"{r.category_a}—{r.category_b}（NPMI {r.npmi:.2f}，n={r.n_ab}）" for r in links.head(6).itertuples(index=False)
        )
        ax.text(0.3, 0.5, link_text, ha="left", va="center", fontsize=9, color="#444444", wrap=True)
    _legend(ax, 0.3, 0.2, "数字 = 引文数 / 材料数（份）；箭头粗细 = 引文数；灰色 = 尚无编码")
    paths = save_figure(fig, stem, tight=False)
    plt.close(fig)
    return paths


def draw_stage_model(codebook: Codebook, counts: Mapping[str, CodeCounts], stem: Path,
                     title: str = "微创新不同阶段中影响因素的作用", subtitle: str = "") -> tuple[Path, Path]:
    """Figure 4: the sequential stages as columns joined by arrows, their main categories below, and
    the stage spanning all stages as a band underneath with arrows up into every stage."""
    from .report import save_figure

    import matplotlib.pyplot as plt

    sequential = [s for s in codebook.stages if not s.spans_all_stages]
    spanning = [s for s in codebook.stages if s.spans_all_stages]
    if not sequential:
        sequential, spanning = list(codebook.stages), []
    width = max(15.0, 4.6 * len(sequential) + 0.6)
    col_gap = 0.7
    col_w = (width - 0.6 - col_gap * (len(sequential) - 1)) / max(1, len(sequential))
    col_h = max([sum(_main_block_height(codebook, m) + 0.15 for m in s.main_categories) for s in sequential] + [1.0])
    span_h = 0.0
    if spanning:
        mains = [m for s in spanning for m in s.main_categories]
        span_h = 0.6 + max(_main_block_height(codebook, m) for m in mains) + 0.2
    height = 0.9 + (0.35 if subtitle else 0) + 0.8 + col_h + (1.0 + span_h if spanning else 0) + 0.5
    fig, ax = _setup(width, height)
    y_top = height - 0.45
    ax.text(width / 2, y_top, title, ha="center", va="center", fontsize=15)
    if subtitle:
        y_top -= 0.4
        ax.text(width / 2, y_top, subtitle, ha="center", va="center", fontsize=11, color="#444444")
    head_top = y_top - 0.45
    head_h = 0.6
    max_stage = max([sum(counts.get(m, CodeCounts()).quotes for m in s.main_categories) for s in sequential] + [1])
    centers = []
    for i, stage in enumerate(sequential):
        x = 0.3 + i * (col_w + col_gap)
        edge = _EDGES[i % len(_EDGES)]
        _box(ax, x, head_top - head_h, col_w, head_h, edge, edge, lw=1.2)
        ax.text(x + col_w / 2, head_top - head_h / 2, f"阶段{i + 1}：{stage.name}", ha="center", va="center",
                fontsize=12, color="white")
        yy = head_top - head_h - 0.2
        _box(ax, x, head_top - head_h - 0.1 - col_h - 0.1, col_w, col_h + 0.1, _FILLS[i % len(_FILLS)], edge, lw=0.8,
             ls="-")
        for m in stage.main_categories:
            h = _draw_main_block(ax, codebook, counts, m, x + 0.15, yy, col_w - 0.3, edge)
            yy -= h + 0.15
        centers.append((x, col_w))
        if i:
            px, pw = centers[i - 1]
            q = sum(counts.get(m, CodeCounts()).quotes for m in stage.main_categories)
            _arrow(ax, (px + pw, head_top - head_h / 2), (x, head_top - head_h / 2), "#555555",
                   1.0 + 3.0 * q / max_stage)
    if spanning:
        band_top = head_top - head_h - 0.2 - col_h - 0.9
        x0, x1 = 0.3, width - 0.3
        for j, stage in enumerate(spanning):
            edge = _EDGES[(len(sequential) + j) % len(_EDGES)]
            _box(ax, x0, band_top - span_h, x1 - x0, span_h, _FILLS[(len(sequential) + j) % len(_FILLS)], edge, lw=1.6)
            ax.text(x0 + 0.2, band_top - 0.3, f"{stage.name}（贯穿各阶段）", ha="left", va="center", fontsize=12,
                    color=edge)
            n = len(stage.main_categories)
            inner = (x1 - x0 - 0.3 - 0.3 * (n - 1)) / max(1, n)
            inner = min(inner, col_w - 0.3)
            for k, m in enumerate(stage.main_categories):
                _draw_main_block(ax, codebook, counts, m, x0 + 0.15 + k * (inner + 0.3), band_top - 0.55, inner, edge)
            q = sum(counts.get(m, CodeCounts()).quotes for m in stage.main_categories)
            for x, w in centers:
                _arrow(ax, (x + w / 2, band_top), (x + w / 2, band_top + 0.85), edge, 1.0 + 3.0 * q / max(max_stage, q),
                       ls="--")
            ax.text(x1 - 0.2, band_top - 0.3, f"赋能 · 引文 {q}", ha="right", va="center", fontsize=9.5, color=edge)
            band_top -= span_h + 0.2
    _legend(ax, 0.3, 0.25, "数字 = 引文数 / 材料数（份）；同一主范畴作用于多个阶段时，其引文在各阶段都计入；灰色 = 尚无编码")
    paths = save_figure(fig, stem, tight=False)
    plt.close(fig)
    return paths


def draw_axial_network(codebook: Codebook, counts: Mapping[str, CodeCounts], table: pd.DataFrame, links: pd.DataFrame,
                       window: str, stem: Path, title: str = "主范畴共现网络（主轴编码证据）") -> tuple[Path, Path]:
    """Main categories on a circle (size = quotes), every co-occurring pair in ``window`` as a line
    (width = windows together), proposed links in red with their NPMI."""
    from .report import save_figure

    import matplotlib.pyplot as plt

    from .axial import WINDOW_LABELS

    # Main categories of one role side by side on the circle, roles in codebook order.
    by_role = [m for role in codebook.roles for m in role.main_categories]
    mains = by_role + [m.name for m in codebook.main_categories if m.name not in by_role]
    width, height = 10.0, 8.6
    fig, ax = _setup(width, height)
    ax.text(width / 2, height - 0.4, title, ha="center", va="center", fontsize=14)
    ax.text(width / 2, height - 0.8, f"窗口：{WINDOW_LABELS.get(window, window)}；线宽 = 共现次数；红色 = 提议的联系（标注 NPMI）",
            ha="center", va="center", fontsize=9.5, color="#555555")
    cx, cy, r = width / 2, (height - 1.0) / 2 + 0.1, min(width, height - 1.0) / 2 - 1.2
    pos = {m: (cx + r * math.cos(math.pi / 2 - 2 * math.pi * i / len(mains)),
               cy + r * math.sin(math.pi / 2 - 2 * math.pi * i / len(mains))) for i, m in enumerate(mains)}
    sub = table[(table["window"] == window) & (table["level"] == "main")]
    max_ab = max([int(v) for v in sub["n_ab"]] + [1])
    linked = {(a, b) for a, b in zip(links["category_a"], links["category_b"])} if len(links) else set()
    for row in sub.itertuples(index=False):
        if row.n_ab <= 0:
            continue
        (x0, y0), (x1, y1) = pos[row.category_a], pos[row.category_b]
        is_link = (row.category_a, row.category_b) in linked
        color = "#c0392b" if is_link else "#9aa5b1"
        ax.plot([x0, x1], [y0, y1], color=color, linewidth=0.5 + 5.0 * row.n_ab / max_ab, alpha=0.9 if is_link else 0.55,
                zorder=1)
        if is_link:
            ax.text((x0 + x1) / 2, (y0 + y1) / 2, f"{row.npmi:.2f}", ha="center", va="center", fontsize=9.5, color=color,
                    bbox={"boxstyle": "round,pad=0.15", "facecolor": "white", "edgecolor": "none"}, zorder=3)
    max_q = max([counts.get(m, CodeCounts()).quotes for m in mains] + [1])
    role_index = {m: i for i, role in enumerate(codebook.roles) for m in role.main_categories}
    for m in mains:
        x, y = pos[m]
        q = counts.get(m, CodeCounts()).quotes
        radius = 0.45 + 0.45 * math.sqrt(q / max_q)
        i = role_index.get(m, 0)
        ax.add_patch(plt.Circle((x, y), radius, facecolor=_FILLS[i % len(_FILLS)], edgecolor=_EDGES[i % len(_EDGES)],
                                linewidth=1.5, zorder=2))
        ax.text(x, y + 0.1, m, ha="center", va="center", fontsize=11, zorder=4)
        ax.text(x, y - 0.22, f"引文 {q}", ha="center", va="center", fontsize=8.5, color="#444444", zorder=4)
    handles = [plt.Line2D([], [], marker="o", linestyle="", markersize=10, markerfacecolor=_FILLS[i % len(_FILLS)],
                          markeredgecolor=_EDGES[i % len(_EDGES)], label=role.name) for i, role in enumerate(codebook.roles)]
    if handles:
        ax.legend(handles=handles, loc="lower left", frameon=False, fontsize=9.5)
    paths = save_figure(fig, stem, tight=False)
    plt.close(fig)
    return paths


def figure_labels(codebook: Codebook, core: str = DEFAULT_CORE) -> str:
    """Every name a diagram may draw (for a glyph check)."""
    names = [core, *(r.name for r in codebook.roles), *(m.name for m in codebook.main_categories),
             *(ic.name for ic in codebook.initial_categories), *(s.name for s in codebook.stages)]
    return "".join(names)


def counts_frame(codebook: Codebook, counts: Mapping[str, CodeCounts]) -> pd.DataFrame:
    rows = []
    for main in codebook.main_categories:
        for initial in codebook.initial_categories_of(main.name):
            c = counts.get(initial, CodeCounts())
            rows.append({"主范畴": main.name, "初始范畴": initial, "引文数": c.quotes, "材料数量/份": c.documents, "企业数": c.firms})
    return pd.DataFrame(rows)


def graph_tables(graph: nx.DiGraph) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Nodes and edges of the model graph as tables (for the workbook and the report)."""
    nodes = pd.DataFrame([{"id": n, **d} for n, d in graph.nodes(data=True)])
    edges = pd.DataFrame([{"source": a, "target": b, **d} for a, b, d in graph.edges(data=True)])
    return nodes, edges


def stage_memberships(codebook: Codebook) -> dict[str, Sequence[str]]:
    return {s.name: s.main_categories for s in codebook.stages}
