"""A CJK font for every figure: matplotlib and wordcloud draw boxes for Chinese without one.

groundcoder ships WenQuanYi Micro Hei (Apache-2.0; resources/fonts/wqy-microhei.COPYRIGHT), so
figures render the same on a fresh machine with no fonts installed. matplotlib reads only face 0 of
a .ttc, which in this file is the proportional "WenQuanYi Micro Hei".
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from .paths import RESOURCES_DIR

CJK_FONT_PATH = RESOURCES_DIR / "fonts" / "wqy-microhei.ttc"


def cjk_font_path() -> Path:
    return CJK_FONT_PATH


@lru_cache(maxsize=1)
def cjk_font_name() -> str:
    """Register the shipped font with matplotlib once and return its family name."""
    from matplotlib import font_manager

    font_manager.fontManager.addfont(str(CJK_FONT_PATH))
    return font_manager.FontProperties(fname=str(CJK_FONT_PATH)).get_name()


def use_cjk_font() -> str:
    """Make the shipped CJK font matplotlib's default sans-serif font; returns the family name."""
    import matplotlib

    name = cjk_font_name()
    matplotlib.rcParams["font.family"] = "sans-serif"
    matplotlib.rcParams["font.sans-serif"] = [name, *matplotlib.rcParams["font.sans-serif"]]
    # The font has no U+2212 MINUS SIGN; ASCII hyphen-minus keeps negative tick labels visible.
    matplotlib.rcParams["axes.unicode_minus"] = False
    return name


@lru_cache(maxsize=1)
def _cmap() -> frozenset[int]:
    from fontTools.ttLib import TTCollection

    collection = TTCollection(str(CJK_FONT_PATH))
    return frozenset(collection.fonts[0].getBestCmap())


def missing_glyphs(text: str) -> set[str]:
    """Characters of ``text`` (other than whitespace) that the shipped font cannot draw."""
    cmap = _cmap()
    return {ch for ch in text if not ch.isspace() and ord(ch) not in cmap}
