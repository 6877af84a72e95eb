"""Shared output helpers of the analyses: tables as CSV + XLSX + Markdown, figures as PNG + SVG,
HTML fragments, and the JSON summary every command writes beside its outputs. All writes are atomic.
"""

from __future__ import annotations

import base64
import html
import math
import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from ..atomic import atomic_path, write_json, write_text
from ..tables import to_frame, write_table


def _md_cell(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, float):
        text = f"{value:.3f}"
    elif isinstance(value, (list, tuple, set, frozenset)):
        text = "; ".join(map(str, value))
    else:
        text = str(value)
    return text.replace("|", "\\|").replace("\r", "").replace("\n", "<br>")


def markdown_table(rows: Any, max_rows: int | None = None) -> str:
    """A GitHub pipe table (no extra dependency); floats with 3 decimals; newlines as <br>."""
    frame = to_frame(rows)
    columns = [str(c) for c in frame.columns]
    lines = ["| " + " | ".join(_md_cell(c) for c in columns) + " |", "|" + "|".join("---" for _ in columns) + "|"]
    shown = frame if max_rows is None else frame.head(max_rows)
    for row in shown.itertuples(index=False, name=None):
        lines.append("| " + " | ".join(_md_cell(v) for v in row) + " |")
    if max_rows is not None and len(frame) > max_rows:
        lines.append(f"\n({len(frame) - max_rows} more rows in the CSV/XLSX)")
    return "\n".join(lines) + "\n"


def html_table(rows: Any, max_rows: int | None = 200, caption: str = "") -> str:
    frame = to_frame(rows)
    extra = ""
    if max_rows is not None and len(frame) > max_rows:
        extra = f'<p class="gc-note">{len(frame) - max_rows} more rows in the CSV/XLSX.</p>'
        frame = frame.head(max_rows)
    shown = frame.map(lambda v: round(v, 3) if isinstance(v, float) else v)
    body = shown.to_html(index=False, escape=True, na_rep="", border=0, classes="gc-table")
    cap = f"<h4>{html.escape(caption)}</h4>\n" if caption else ""
    return cap + body + extra


def html_image(png: Path, alt: str, embed: bool = True, base: Path | None = None) -> str:
    """An <img> of a PNG: embedded as base64 (self-contained report) or linked relative to ``base``."""
    if embed:
        data = base64.b64encode(Path(png).read_bytes()).decode("ascii")
        src = f"data:image/png;base64,{data}"
    else:
        src = Path(png).as_posix() if base is None else Path(_relpath(Path(png), base)).as_posix()
    return f'<figure><img src="{src}" alt="{html.escape(alt)}" style="max-width:100%"><figcaption>{html.escape(alt)}</figcaption></figure>'


def _relpath(path: Path, base: Path) -> str:
    import os

    return os.path.relpath(path.resolve(), base.resolve())


@dataclass
class TableFiles:
    """One table written three ways."""

    csv: Path
    xlsx: Path
    md: Path


def write_table_files(rows: Any, stem: Path, title: str = "", note: str = "", sheet: str | None = None,
                      md_drop: Sequence[str] = (), md_group: Sequence[str] = ()) -> TableFiles:
    """``stem.csv`` (UTF-8 with BOM), ``stem.xlsx`` and ``stem.md`` (a titled pipe table).

    The Markdown leaves out the ``md_drop`` columns (long id lists stay in the CSV/XLSX) and shows
    the ``md_group`` columns only where the first of them changes (like a printed table 4).
    """
    frame = to_frame(rows)
    csv_path, xlsx_path = write_table(frame, stem, sheet=sheet)
    shown = frame.drop(columns=[c for c in md_drop if c in frame.columns])
    if md_drop and len(shown.columns) < len(frame.columns):
        note = (note + " " if note else "") + "引文编号（quote_ids）见同名 CSV/XLSX。"
    shown = blank_repeats(shown, md_group)
    text = (f"# {title}\n\n" if title else "") + (f"{note}\n\n" if note else "") + markdown_table(shown)
    md_path = write_text(Path(stem).with_suffix(".md"), text)
    return TableFiles(csv_path, xlsx_path, md_path)


def blank_repeats(frame: pd.DataFrame, columns: Sequence[str]) -> pd.DataFrame:
    """Empty the ``columns`` cells of rows whose first column repeats the row above (for display)."""
    columns = [c for c in columns if c in frame.columns]
    if not columns or not len(frame):
        return frame
    out = frame.copy().astype({c: object for c in columns})
    key = out[columns[0]].tolist()
    for i in range(len(out) - 1, 0, -1):
        if key[i] == key[i - 1]:
            for c in columns:
                out.iat[i, out.columns.get_loc(c)] = ""
    return out


def figure_texts(fig: Any) -> list[str]:
    """Every text a figure draws (titles, labels, tick labels, annotations, legends)."""
    from matplotlib.text import Text

    return [t.get_text() for t in fig.findobj(Text) if t.get_text() and t.get_visible()]


def save_figure(fig: Any, stem: Path, dpi: int = 150, tight: bool = True) -> tuple[Path, Path]:
    """Save a matplotlib figure as ``stem.png`` and ``stem.svg`` atomically.

    A character the shipped CJK font cannot draw is an error, before anything is written
    (matplotlib would otherwise draw a box and only warn). ``tight=False`` for diagrams laid out by
    hand on the whole figure (saves a second rendering pass).
    """
    from ..fonts import missing_glyphs

    missing = missing_glyphs("".join(figure_texts(fig)))
    if missing:
        raise ValueError(f"figure {Path(stem).name}: the CJK font cannot draw {''.join(sorted(missing))!r}")
    stem = Path(stem)
    paths = []
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message=".*[Gg]lyph.*missing.*")
        for suffix, fmt in ((".png", "png"), (".svg", "svg")):
            target = stem.with_suffix(suffix)
            with atomic_path(target, suffix=suffix) as tmp:
                fig.savefig(tmp, format=fmt, dpi=dpi, bbox_inches="tight" if tight else None, facecolor="white")
            paths.append(target)
    return paths[0], paths[1]


def jsonable(obj: Any) -> Any:
    """Paths as strings, NaN as None, dataclasses and mappings recursively (for JSON summaries)."""
    if isinstance(obj, Path):
        return str(obj)
    if isinstance(obj, float):
        return None if math.isnan(obj) or math.isinf(obj) else obj
    if hasattr(obj, "item") and not isinstance(obj, (str, bytes)):
        try:
            return jsonable(obj.item())
        except (AttributeError, ValueError):
            pass
    if isinstance(obj, pd.DataFrame):
        return None
    if hasattr(obj, "__dataclass_fields__"):
        return {
            k: jsonable(getattr(obj, k))
            for k, f in obj.__dataclass_fields__.items()
            if f.repr and not k.startswith("_")
        }
    if isinstance(obj, Mapping):
        return {str(k): jsonable(v) for k, v in obj.items() if not isinstance(v, pd.DataFrame)}
    if isinstance(obj, (list, tuple, set, frozenset)):
        return [jsonable(v) for v in obj]
    return obj


def write_summary(summary: Any, path: Path) -> Path:
    return write_json(path, jsonable(summary))


def join_ids(ids: Iterable[str]) -> str:
    """Quote ids as one cell: sorted, distinct, ``;``-separated."""
    return ";".join(sorted(dict.fromkeys(ids)))


def excerpt(text: str, limit: int = 40) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


@dataclass
class Section:
    """A titled group of tables and figures for an HTML fragment."""

    title: str
    intro: str = ""
    tables: list[tuple[str, Any]] = field(default_factory=list)
    figures: list[tuple[str, Path]] = field(default_factory=list)


def render_sections(title: str, sections: Sequence[Section], embed_images: bool = True, base: Path | None = None,
                    max_rows: int | None = 200, level: int = 2) -> str:
    """An HTML fragment (no <html>/<body>): a heading per section, its figures, then its tables."""
    h, hs = f"h{level}", f"h{level + 1}"
    parts = [f'<section class="gc-family"><{h}>{html.escape(title)}</{h}>']
    for section in sections:
        parts.append(f"<{hs}>{html.escape(section.title)}</{hs}>")
        if section.intro:
            parts.append(f"<p>{html.escape(section.intro)}</p>")
        for alt, png in section.figures:
            parts.append(html_image(png, alt, embed=embed_images, base=base))
        for caption, rows in section.tables:
            parts.append(html_table(rows, max_rows=max_rows, caption=caption))
    parts.append("</section>")
    return "\n".join(parts) + "\n"


def read_csv_frame(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, encoding="utf-8-sig", keep_default_na=False)
