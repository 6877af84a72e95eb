"""Rule-based screening of firms from their annual reports and patents (the study's funnel).

    from groundcoder.screening import load_config, run_screening
    result = run_screening(load_config("configs/screening.yaml"))

Pieces, usable on their own:

* ``dictionaries``: keyword dictionaries (YAML/TXT), validated, replaceable and extensible;
* ``counting``: ``KeywordCounter`` in ``jieba`` mode (the study's semantics, identical to plain jieba,
  many times faster) or ``fast`` mode (leftmost-longest on normalised text);
* ``corpus``: many reports in parallel, streamed, cached by content;
* ``indices``: per report, firm-year and firm indices, and the screening rules;
* ``patents``: patent self-citation from incoPat exports;
* ``funnel``: the stages and their tables; ``figures``: word cloud, bar chart, funnel chart.
"""

from __future__ import annotations

from .config import ScreeningConfig, load_config
from .counting import CountOptions, KeywordCounter, TextCounts
from .dictionaries import Dictionary, Keyword, load_dictionaries, load_dictionary, shipped_dictionaries
from .funnel import ScreeningResult, run_screening

__all__ = [
    "CountOptions",
    "Dictionary",
    "Keyword",
    "KeywordCounter",
    "ScreeningConfig",
    "ScreeningResult",
    "TextCounts",
    "load_config",
    "load_dictionaries",
    "load_dictionary",
    "run_screening",
    "shipped_dictionaries",
]
