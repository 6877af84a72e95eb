"""The screening figures: Chinese labels the shipped font can draw, no missing-glyph warnings, files
written (PNG, and SVG for the charts)."""

from __future__ import annotations

import warnings

import numpy as np
from PIL import Image

from groundcoder.fonts import missing_glyphs
from groundcoder.screening.dictionaries import load_dictionary
from groundcoder.screening.figures import STAGE_LABELS, digital_bar_chart, funnel_chart, short_name, wordcloud_digital


def _no_warnings(draw):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # matplotlib warns "Glyph ... missing from font(s)"
        return draw()


def test_word_cloud_of_every_digital_keyword(tmp_path):
    words = load_dictionary("digital_transformation_wufei2021").words
    frequencies = {w: 1 + (i * 7) % 40 for i, w in enumerate(words)}
    figure = _no_warnings(lambda: wordcloud_digital(frequencies, tmp_path / "cloud.png"))
    assert missing_glyphs("".join(figure.labels)) == set()
    assert set(figure.labels) == set(words)
    image = Image.open(figure.paths[0])
    assert image.size == (1200, 675)
    # words were drawn: far from a blank white canvas
    assert int((np.asarray(image.convert("L")) < 200).sum()) > 20_000


def test_word_cloud_without_keywords_says_so(tmp_path):
    figure = _no_warnings(lambda: wordcloud_digital({"大数据": 0}, tmp_path / "empty.png"))
    assert "未发现数字化转型关键词" in figure.labels and figure.paths[0].exists()


def test_bar_chart_and_funnel_chart_draw_chinese(tmp_path):
    firms = [(short_name("绍兴钲屹精锻股份有限公司"), 5.25), ("栖梧工业软件", 3.75), ("EB级存储·NFC支付", 1.0)]
    bars = _no_warnings(lambda: digital_bar_chart(firms, tmp_path / "bars.png"))
    funnel = _no_warnings(lambda: funnel_chart([200, 47, 43, 40], tmp_path / "funnel.png"))
    for figure in (bars, funnel):
        assert missing_glyphs("".join(figure.labels)) == set()
        assert [p.suffix for p in figure.paths] == [".png", ".svg"]
        assert all(p.stat().st_size > 1000 for p in figure.paths)
    assert "绍兴钲屹精锻" in bars.labels
    assert [label.split()[0] for label in funnel.labels[:4]] == list(STAGE_LABELS)
    assert "<svg" in (tmp_path / "funnel.svg").read_text(encoding="utf-8")[:500]
