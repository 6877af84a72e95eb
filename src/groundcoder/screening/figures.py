"""The screening figures, drawn with the shipped CJK font so Chinese renders on any machine.

* ``wordcloud_digital``: digital-transformation keywords sized by frequency (the study's figure 1,
  over the micro-innovation firms);
* ``digital_bar_chart``: digital keywords per report, by firm (figure 2, over the sample);
* ``funnel_chart``: the firms left at each stage.

Charts are written as PNG and SVG (text as paths, so the SVG needs no font either), the word cloud
as PNG. Each function returns a ``DrawnFigure`` with the paths and every label it drew (tests check
the font has all their glyphs). matplotlib is used through its object API (no pyplot), so drawing
changes no global backend.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from ..atomic import atomic_path
from ..fonts import cjk_font_path, use_cjk_font

if TYPE_CHECKING:
    from .dictionaries import Dictionary
    from .funnel import ScreeningResult

STAGE_LABELS = ("全部企业", "微创新企业", "数字化程度高", "样本企业")
_COMPANY_SUFFIX = re.compile(r"(股份有限公司|有限责任公司|有限公司|集团)$")


@dataclass
class DrawnFigure:
    paths: list[Path]
    labels: list[str] = field(default_factory=list)


def _save(figure, path: Path, formats: Sequence[str]) -> list[Path]:
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(figure)
    written = []
    for fmt in formats:
        target = path.with_suffix("." + fmt)
        with atomic_path(target, suffix="." + fmt) as tmp:
            figure.savefig(tmp, format=fmt, dpi=150, bbox_inches="tight")
        written.append(target)
    return written


def _new_figure(width: float, height: float):
    from matplotlib.figure import Figure

    use_cjk_font()
    return Figure(figsize=(width, height))


def short_name(name: str) -> str:
    """绍兴钲屹精锻股份有限公司 -> 绍兴钲屹精锻: what fits on a chart's axis."""
    return _COMPANY_SUFFIX.sub("", name.strip()) or name


def wordcloud_digital(frequencies: Mapping[str, int], path: Path, title: str = "数字化转型关键词词云") -> DrawnFigure:
    """Keywords sized by frequency; a figure saying so when no keyword was found."""
    words = {w: int(n) for w, n in frequencies.items() if n and n > 0}
    path = Path(path).with_suffix(".png")
    if not words:
        figure = _new_figure(8, 4.5)
        ax = figure.add_subplot()
        ax.axis("off")
        message = "未发现数字化转型关键词"
        ax.text(0.5, 0.5, message, ha="center", va="center", fontsize=20)
        ax.set_title(title)
        return DrawnFigure(_save(figure, path, ("png",)), [message, title])
    from wordcloud import WordCloud

    cloud = WordCloud(
        font_path=str(cjk_font_path()),
        width=1200,
        height=675,
        max_font_size=150,  # fixed: wordcloud otherwise lays everything out twice to find it
        font_step=2,
        background_color="white",
        prefer_horizontal=1.0,  # Chinese reads badly rotated
        colormap="viridis",
        random_state=7,  # the same layout every run
        collocations=False,
    ).generate_from_frequencies(words)
    with atomic_path(path, suffix=".png") as tmp:
        cloud.to_image().save(tmp, format="PNG")
    return DrawnFigure([path], list(words))


def digital_bar_chart(firms: Sequence[tuple[str, float]], path: Path, title: str = "样本企业数字化转型关键词（每份年报）") -> DrawnFigure:
    """Horizontal bars: digital keywords per report for each (firm label, value), largest on top."""
    ordered = sorted(firms, key=lambda item: (-item[1], item[0]))
    height = max(3.0, 0.32 * len(ordered) + 1.2)
    figure = _new_figure(8, height)
    ax = figure.add_subplot()
    labels = [label for label, _ in ordered]
    values = [value for _, value in ordered]
    ax.barh(range(len(ordered)), values, color="#3b75af")
    ax.set_yticks(range(len(ordered)), labels=labels, fontsize=9)
    ax.invert_yaxis()
    xlabel = "数字化转型关键词披露次数 / 年报份数"
    ax.set_xlabel(xlabel)
    ax.set_title(title)
    for index, value in enumerate(values):
        ax.text(value, index, f" {value:.1f}", va="center", fontsize=8)
    ax.spines[["top", "right"]].set_visible(False)
    if not ordered:
        ax.text(0.5, 0.5, "样本为空", transform=ax.transAxes, ha="center", va="center")
        labels = [*labels, "样本为空"]
    return DrawnFigure(_save(figure, path, ("png", "svg")), [*labels, xlabel, title])


def funnel_chart(counts: Sequence[int], path: Path, labels: Sequence[str] = STAGE_LABELS, title: str = "企业筛选漏斗") -> DrawnFigure:
    """Centred bars, one per stage, as wide as the stage's firm count, labelled with it."""
    figure = _new_figure(8, 1.1 * len(counts) + 1.0)
    ax = figure.add_subplot()
    widest = max(max(counts), 1)
    texts = []
    for index, (label, count) in enumerate(zip(labels, counts)):
        width = max(count / widest, 0.02)
        ax.barh(index, width, left=(1 - width) / 2, color="#3b75af" if index < len(counts) - 1 else "#d9822b", height=0.8)
        text = f"{label}  {count}"
        texts.append(text)
        if width > 0.3:
            ax.text(0.5, index, text, ha="center", va="center", color="white", fontsize=12)
        else:  # a narrow bar: the label beside it, where it is readable
            ax.text((1 + width) / 2 + 0.015, index, text, ha="left", va="center", color="black", fontsize=12)
    ax.set_ylim(len(counts) - 0.5, -0.5)
    ax.set_xlim(0, 1)
    ax.axis("off")
    ax.set_title(title)
    return DrawnFigure(_save(figure, path, ("png", "svg")), [*texts, title])


def draw_figures(result: ScreeningResult, dictionaries: Mapping[str, Dictionary], out: Path) -> dict[str, str]:
    """The three figures of a screening run; returns name -> path of each file written."""
    from .indices import keyword_totals

    out = Path(out)
    written: dict[str, str] = {}
    firms = result.firms
    # Figure 1 is over the micro-innovation firms (the study's 331); all firms if none passed.
    stage1 = firms.loc[firms["stage_reached"] >= 1, "firm_code"].tolist() or firms["firm_code"].tolist()
    if "digital" in dictionaries:
        totals = keyword_totals(result.keyword_hits, dictionaries["digital"], stage1)
        frequencies = dict(zip(totals["keyword"], totals["hits"]))
    else:
        frequencies = {}
    cloud = wordcloud_digital(frequencies, out / "figure1_digital_wordcloud.png")
    written["figure1_wordcloud"] = str(cloud.paths[0])

    sample = result.sample
    label_column = "short_name" if "short_name" in sample.columns else "firm_name"
    bars = [
        (str(row[label_column]) if label_column == "short_name" and str(row[label_column]).strip() else short_name(str(row["firm_name"])),
         float(row["digital_per_report"]))
        for _, row in sample.iterrows()
        if "digital_per_report" in sample.columns
    ]
    chart = digital_bar_chart(bars, out / "figure2_digital_per_report.png")
    written["figure2_bar_chart"] = str(chart.paths[0])
    funnel = funnel_chart([s.firms for s in result.stages], out / "funnel.png")
    written["funnel_chart"] = str(funnel.paths[0])
    return written
