"""A small hand-built coding set whose counts are known (shared by the analysis tests).

Firm F1: an annual report with two paragraphs (four quotes) and a news item (one quote).
Firm F2: a website page (two quotes, one with two concepts of one initial category) and a journal
article nobody coded.

    q1 F1-AR   P1  数字化战略             -> 数字化投资 / 数字基础设施
    q2 F1-AR   P1  数字化营销             -> 数字化投资 / 数字基础设施
    q3 F1-AR   P2  技术合作               -> 客户网络结构嵌入 / 合作伙伴
    q4 F1-AR   P2  跨领域专业知识         -> 知识多样性 / 知识生态
    q5 F1-NEWS     人工智能               -> 数字技术应用 / 数字基础设施
    q6 F2-WEB      政府资助               -> 政府补贴 / 行业环境
    q7 F2-WEB      个性化服务 + 用户需求   -> 客户网络关系嵌入 / 合作伙伴
"""

from __future__ import annotations

from groundcoder.analysis.codings import CodedSegment, CodingSet, FirmInfo, SourceDocument
from groundcoder.codebook import Codebook

TEXTS = {
    "F1-AR": "公司持续推进数字化战略。公司上线了客户关系管理系统。\n公司与整车厂建立技术合作。研发团队跨领域整合知识。",
    "F1-NEWS": "公司引入人工智能质检。",
    "F2-WEB": "公司获得政府资助。公司满足用户个性化需求。",
    "F2-JOURNAL": "本文讨论行业发展。",
}
KINDS = {"F1-AR": "annual_report", "F1-NEWS": "news", "F2-WEB": "website", "F2-JOURNAL": "journal"}
QUOTES = [
    ("q1", "F1-AR", "公司持续推进数字化战略", ("数字化战略",)),
    ("q2", "F1-AR", "公司上线了客户关系管理系统", ("数字化营销",)),
    ("q3", "F1-AR", "公司与整车厂建立技术合作", ("技术合作",)),
    ("q4", "F1-AR", "研发团队跨领域整合知识", ("跨领域专业知识",)),
    ("q5", "F1-NEWS", "公司引入人工智能质检", ("人工智能",)),
    ("q6", "F2-WEB", "公司获得政府资助", ("政府资助",)),
    ("q7", "F2-WEB", "公司满足用户个性化需求", ("个性化服务", "用户需求")),
]


def segment(quote_id: str, doc_id: str, text: str, concepts: tuple[str, ...], coder: str = "alice",
            coder_kind: str = "human", confidence: float | None = None, texts: dict[str, str] = TEXTS) -> CodedSegment:
    start = texts[doc_id].index(text)
    return CodedSegment(doc_id, doc_id.split("-")[0], start, start + len(text), text, concepts, coder, KINDS.get(doc_id, "annual_report"),
                        confidence, coder_kind, quote_id)


def small_set() -> CodingSet:
    segments = [segment(*q) for q in QUOTES]
    documents = [SourceDocument(d, d.split("-")[0], KINDS[d], 2022, f"{d} 标题") for d in TEXTS]
    firms = [FirmInfo("F1", "甲科技股份有限公司", "甲科技", "工业软件", "2005-07-26", "software", "浙江"),
             FirmInfo("F2", "乙装备股份有限公司", "乙装备", "包装机械", "2001-03-08", "equipment", "黑龙江")]
    return CodingSet.from_segments(segments, Codebook.default(), documents, firms, TEXTS)
