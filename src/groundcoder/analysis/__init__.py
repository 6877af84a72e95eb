"""From codings to results: the factor model, the case analysis and inter-coder reliability.

Data flows one way: codings (``CodingSet``) -> analyses. Each output family has one function that
writes its files into a folder and returns a summary (paths + headline numbers), and one function
that renders that summary as an HTML fragment for a report:

=====================  ==========================  ======================
family                 write                       HTML fragment
=====================  ==========================  ======================
factor model           ``build_factor_model``      ``factor_model_html``
case analysis          ``build_case_analysis``     ``case_analysis_html``
reliability            ``build_reliability``       ``reliability_html``
=====================  ==========================  ======================
"""

from __future__ import annotations

from .axial import LinkRule, association, axial_evidence, cooccurrence, propose_links
from .case import (
    CaseAnalysisSummary,
    build_case_analysis,
    case_analysis_html,
    compare_firms,
    pick_contrasting_firms,
    stage_factor_matrix,
    stage_factor_table,
)
from .codings import CodedSegment, CodingSet, FirmInfo, SourceDocument
from .factor_model import FactorModelSummary, build_factor_model, factor_model_html
from .open_coding import initial_category_table, main_category_table, open_coding_examples, sample_table
from .reliability import ReliabilityResult, ReliabilitySummary, build_reliability, reliability, reliability_html
from .selective import draw_mechanism_model, draw_stage_model, model_graph, write_graphml

__all__ = [
    "CaseAnalysisSummary",
    "CodedSegment",
    "CodingSet",
    "FactorModelSummary",
    "FirmInfo",
    "LinkRule",
    "ReliabilityResult",
    "ReliabilitySummary",
    "SourceDocument",
    "association",
    "axial_evidence",
    "build_case_analysis",
    "build_factor_model",
    "build_reliability",
    "case_analysis_html",
    "compare_firms",
    "cooccurrence",
    "draw_mechanism_model",
    "draw_stage_model",
    "factor_model_html",
    "initial_category_table",
    "main_category_table",
    "model_graph",
    "open_coding_examples",
    "pick_contrasting_firms",
    "propose_links",
    "reliability",
    "reliability_html",
    "sample_table",
    "stage_factor_matrix",
    "stage_factor_table",
    "write_graphml",
]
