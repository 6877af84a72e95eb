"""Open and axial coding tables, counted from codings (the study's tables 1-5, built by hand there).

* ``open_coding_examples``: quote -> concept -> initial category, a few quotes per initial category
  (table 2). Concepts are numbered aa1.. and initial categories A1.. in codebook order.
* ``initial_category_table``: initial category, material count, concepts (table 3). The material
  count (材料数量/份) is the number of distinct sources (documents) with at least one quote coded with
  a concept of the category, as in the study.
* ``main_category_table``: main category, initial categories, connotation (table 4), with counts.
* ``sample_table``: firm, products, sources by kind, founding date (tables 1 and 5).

Every table comes with evidence rows (``Evidence``): the quote ids (and document ids) behind each
count, so any number can be expanded to the quotes it counts.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass

import pandas as pd

from .codings import SOURCE_KIND_ORDER, CodedSegment, CodingSet, source_kind_label
from .report import excerpt, join_ids


@dataclass(frozen=True)
class Evidence:
    """The quotes behind one number of one table."""

    table: str
    row: str
    measure: str
    value: int
    quote_ids: str  # ';'-separated
    doc_ids: str = ""


def evidence_frame(evidence: list[Evidence]) -> pd.DataFrame:
    return pd.DataFrame(
        [e.__dict__ for e in evidence], columns=["table", "row", "measure", "value", "quote_ids", "doc_ids"]
    )


def concept_numbers(codings: CodingSet) -> tuple[dict[str, str], dict[str, str]]:
    """aa1.. for concepts and A1.. for initial categories, in codebook order (the study's table 2)."""
    cb = codings.codebook
    concepts = {c.name: f"aa{i}" for i, c in enumerate(cb.concepts, start=1)}
    initials = {ic.name: f"A{i}" for i, ic in enumerate(cb.initial_categories, start=1)}
    return concepts, initials


def segments_by_code(codings: CodingSet, level: str) -> dict[str, list[CodedSegment]]:
    """Coded segments under each codebook code of ``level`` (a segment counts once per code)."""
    out: dict[str, list[CodedSegment]] = defaultdict(list)
    for s in codings.segments:
        for code in codings.codes(s, level):
            out[code].append(s)
    return out


def _source_label(codings: CodingSet, s: CodedSegment) -> str:
    firm = codings.firms.get(s.firm_id)
    doc = codings.documents.get(s.doc_id)
    name = firm.display_name if firm else s.firm_id
    title = doc.title if doc and doc.title else s.doc_id
    return f"{name}《{title}》（{source_kind_label(s.source_kind)}）"


def open_coding_examples(codings: CodingSet, per_category: int = 2, ideal_length: int = 45) -> pd.DataFrame:
    """A few example quotes per initial category, like the study's table 2.

    Picks, per initial category in codebook order, up to ``per_category`` quotes: quotes with a
    single concept first, then different concepts and different firms before repeats, then quotes
    closest to ``ideal_length`` characters (readable in a table), then quote id (deterministic).
    """
    concept_no, initial_no = concept_numbers(codings)
    by_initial = segments_by_code(codings, "initial")
    rows = []
    for ic in codings.codebook.initial_categories:
        candidates = sorted(
            by_initial.get(ic.name, []),
            key=lambda s: (len(codings.codes(s, "concept")) > 1, abs(len(s.text) - ideal_length), s.quote_id),
        )
        chosen: list[CodedSegment] = []
        used_concepts: set[str] = set()
        used_firms: set[str] = set()
        for strict in (True, False):
            for s in candidates:
                if len(chosen) >= per_category:
                    break
                if s in chosen:
                    continue
                mine = [c for c in codings.codes(s, "concept") if codings.ref(c).initial == ic.name]
                if strict and (set(mine) & used_concepts or s.firm_id in used_firms):
                    continue
                chosen.append(s)
                used_concepts.update(mine)
                used_firms.add(s.firm_id)
        for s in chosen:
            mine = [c for c in codings.codes(s, "concept") if codings.ref(c).initial == ic.name]
            others = [c for c in codings.codes(s, "concept") if c not in mine]
            rows.append(
                {
                    "初始范畴编号": initial_no[ic.name],
                    "初始范畴": ic.name,
                    "初始概念": "、".join(f"{concept_no[c]}：{c}" for c in mine),
                    "原始材料": s.text,
                    "来源": _source_label(codings, s),
                    "同一引文的其他概念": "、".join(others),
                    "quote_id": s.quote_id,
                }
            )
    return pd.DataFrame(rows, columns=["初始范畴编号", "初始范畴", "初始概念", "原始材料", "来源", "同一引文的其他概念", "quote_id"])


def initial_category_table(codings: CodingSet) -> tuple[pd.DataFrame, list[Evidence]]:
    """Table 3: per initial category its material count (distinct documents), quotes, firms, concepts."""
    by_initial = segments_by_code(codings, "initial")
    by_concept = segments_by_code(codings, "concept")
    rows, evidence = [], []
    for ic in codings.codebook.initial_categories:
        segs = by_initial.get(ic.name, [])
        docs = sorted({s.doc_id for s in segs})
        concepts = codings.codebook.concepts_of(ic.name)
        counted = [(c, len(by_concept.get(c, []))) for c in concepts]
        rows.append(
            {
                "主范畴": ic.main_category,
                "初始范畴": ic.name,
                "材料数量/份": len(docs),
                "引文数": len(segs),
                "企业数": len({s.firm_id for s in segs}),
                "初始概念": "、".join(concepts),
                "各概念引文数": "、".join(f"{c}({n})" for c, n in counted),
                "未编码的概念": "、".join(c for c, n in counted if n == 0),
                "码本材料数量/份": ic.material_count,
            }
        )
        ids = join_ids(s.quote_id for s in segs)
        evidence.append(Evidence("table3", ic.name, "材料数量/份", len(docs), ids, ";".join(docs)))
        evidence.append(Evidence("table3", ic.name, "引文数", len(segs), ids, ";".join(docs)))
        for c, n in counted:
            csegs = by_concept.get(c, [])
            evidence.append(
                Evidence("table3", ic.name, f"概念:{c}", n, join_ids(s.quote_id for s in csegs),
                         ";".join(sorted({s.doc_id for s in csegs})))
            )
    return pd.DataFrame(rows), evidence


def main_category_table(codings: CodingSet) -> tuple[pd.DataFrame, list[Evidence]]:
    """Table 4: main category, its initial categories and their connotation, with counts."""
    by_initial = segments_by_code(codings, "initial")
    by_main = segments_by_code(codings, "main")
    cb = codings.codebook
    rows, evidence = [], []
    for main in cb.main_categories:
        msegs = by_main.get(main.name, [])
        mdocs = sorted({s.doc_id for s in msegs})
        evidence.append(Evidence("table4", main.name, "材料数量/份", len(mdocs), join_ids(s.quote_id for s in msegs), ";".join(mdocs)))
        evidence.append(Evidence("table4", main.name, "引文数", len(msegs), join_ids(s.quote_id for s in msegs), ";".join(mdocs)))
        role = cb.parent_of(main.name) or ""
        for initial in cb.initial_categories_of(main.name):
            segs = by_initial.get(initial, [])
            rows.append(
                {
                    "作用": role,
                    "主范畴": main.name,
                    "初始范畴": initial,
                    "范畴内涵": cb.initial_category(initial).description,
                    "材料数量/份": len({s.doc_id for s in segs}),
                    "引文数": len(segs),
                    "主范畴材料数量/份": len(mdocs),
                    "主范畴引文数": len(msegs),
                    "主范畴内涵": main.description,
                }
            )
    return pd.DataFrame(rows), evidence


def sample_table(codings: CodingSet, firm_ids: list[str] | None = None) -> tuple[pd.DataFrame, list[Evidence]]:
    """Tables 1 and 5: per firm its products, sources by kind (报道、网站资料、期刊、年报), founding date.

    Sources are the firm's documents in the set (coded or not); ``已编码资料/份`` counts those with
    at least one coded quote. Firms default to those with at least one coded quote, in id order.
    """
    coded = codings.coded()
    if firm_ids is None:
        firm_ids = sorted({s.firm_id for s in coded})
    docs_of: dict[str, list[str]] = defaultdict(list)
    for d in codings.documents.values():
        docs_of[d.firm_id].append(d.doc_id)
    kinds_present = {d.kind for d in codings.documents.values()}
    kind_order = [k for k in SOURCE_KIND_ORDER if k in kinds_present] + sorted(kinds_present - set(SOURCE_KIND_ORDER))
    quotes_of: dict[str, list[CodedSegment]] = defaultdict(list)
    for s in coded:
        quotes_of[s.firm_id].append(s)
    rows, evidence = [], []
    for number, firm_id in enumerate(firm_ids, start=1):
        firm = codings.firms.get(firm_id)
        docs = sorted(docs_of.get(firm_id, []))
        by_kind = Counter(codings.documents[d].kind for d in docs)
        quotes = quotes_of.get(firm_id, [])
        coded_docs = sorted({s.doc_id for s in quotes})
        row = {
            "序号": number,
            "firm_id": firm_id,
            "企业名称": firm.display_name if firm else firm_id,
            "企业全称": firm.name if firm else "",
            "主营产品类型": firm.products if firm else "",
            "数据资料来源（资料数量/份）": "、".join(
                f"{source_kind_label(k)}（{by_kind[k]}）" for k in kind_order if by_kind.get(k)
            ),
        }
        for k in kind_order:
            row[source_kind_label(k)] = by_kind.get(k, 0)
        row.update(
            {
                "资料总数/份": len(docs),
                "已编码资料/份": len(coded_docs),
                "引文数": len(quotes),
                "成立日期": firm.founded if firm else "",
                "所属省份": firm.province if firm else "",
                "样本": firm.sample if firm else "",
            }
        )
        rows.append(row)
        ids = join_ids(s.quote_id for s in quotes)
        evidence.append(Evidence("sample", firm_id, "资料总数/份", len(docs), "", ";".join(docs)))
        evidence.append(Evidence("sample", firm_id, "引文数", len(quotes), ids, ";".join(coded_docs)))
    return pd.DataFrame(rows), evidence


def unknown_concept_table(codings: CodingSet) -> pd.DataFrame:
    """Codes outside the codebook (new themes, typos): what a codebook revision has to consider."""
    rows = []
    for concept, segs in sorted(codings.unknown_concepts().items(), key=lambda kv: (-len(kv[1]), kv[0])):
        suggestions = codings.codebook.suggest(concept)
        rows.append(
            {
                "概念": concept,
                "引文数": len(segs),
                "材料数量/份": len({s.doc_id for s in segs}),
                "企业": "、".join(sorted({s.firm_id for s in segs})),
                "近似的码本概念": "、".join(suggestions),
                "示例": excerpt(segs[0].text, 60),
                "quote_ids": join_ids(s.quote_id for s in segs),
            }
        )
    return pd.DataFrame(rows, columns=["概念", "引文数", "材料数量/份", "企业", "近似的码本概念", "示例", "quote_ids"])
