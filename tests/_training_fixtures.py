"""A tiny, separable fixture for the training tests: a 6-concept codebook and firms whose documents
code each concept with its own key phrase, plus uncoded filler sentences ("no code")."""

from __future__ import annotations

import csv
import json
import random
from pathlib import Path

from groundcoder.codebook import Codebook

CODEBOOK_YAML = """\
title: 测试码本
main_categories:
  技术基础:
    initial_categories:
      研发投入: [专利研发, 数字平台]
      人才团队: [工程师团队]
  外部环境:
    initial_categories:
      市场竞争: [价格竞争, 客户合作]
      政策支持: [政府补贴]
"""

# Each concept's own vocabulary: separable by characters and by words.
KEY_PHRASES = {
    "专利研发": ["申请发明专利", "专利授权数量", "研发新工艺并申请专利"],
    "数字平台": ["工业互联网平台", "云端数字平台", "上线数字化管理平台"],
    "工程师团队": ["资深工程师团队", "工程师骨干", "引进高级工程师"],
    "价格竞争": ["同行压价竞争", "价格战加剧", "低价竞争对手"],
    "客户合作": ["与大客户联合开发", "客户合作项目", "为重点客户定制"],
    "政府补贴": ["获得政府补助资金", "地方政府补贴", "政府专项补助"],
}
FILLER = [
    "报告期内公司营业收入同比增长百分之五",
    "公司总部位于某市高新区",
    "本年度利润分配方案已经股东大会审议",
    "公司资产负债率保持在合理水平",
    "会计政策未发生重大变化",
    "公司董事会共召开六次会议",
    "期末货币资金余额较上年末有所减少",
    "公司员工总数较上年略有增加",
]


def codebook() -> Codebook:
    return Codebook.from_yaml_text(CODEBOOK_YAML)


def make_corpus(root: Path, n_firms: int = 8, quotes_per_concept: int = 2, seed: int = 0) -> dict:
    """Write ``root/docs/<doc>.txt``, ``root/documents.csv`` and ``root/quotes.jsonl`` (doc_id+offsets rows).

    Returns {"quotes": path, "documents": folder, "firms": [...]}.
    """
    rng = random.Random(seed)
    docs = root / "docs"
    docs.mkdir(parents=True, exist_ok=True)
    rows = []
    documents = []
    concepts = list(KEY_PHRASES)
    for f in range(n_firms):
        firm = f"F{f:02d}"
        doc_id = f"{firm}-AR"
        text = ""
        for k in range(quotes_per_concept):
            for concept in concepts:
                filler = rng.choice(FILLER)
                text += filler + "。"
                phrase = rng.choice(KEY_PHRASES[concept])
                quote = f"公司{firm}{phrase}，第{k + 1}项工作进展顺利"
                concept_value = concept
                if concept == "专利研发" and k == 0 and f % 2 == 0:  # some multi-label quotes
                    quote = f"公司{firm}{phrase}并建设{rng.choice(KEY_PHRASES['数字平台'])}"
                    concept_value = "专利研发;数字平台"
                start = len(text)
                text += quote
                rows.append({"doc_id": doc_id, "start": start, "end": len(text), "concept": concept_value,
                             "coder": "coder1", "firm_id": firm})
                text += "。\n"
        for filler in rng.sample(FILLER, 4):
            text += filler + "，各项工作有序开展。\n"
        (docs / f"{doc_id}.txt").write_text(text, encoding="utf-8")
        documents.append({"doc_id": doc_id, "firm_id": firm})
    with open(root / "documents.csv", "w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=["doc_id", "firm_id"])
        writer.writeheader()
        writer.writerows(documents)
    quotes = root / "quotes.jsonl"
    quotes.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return {"quotes": quotes, "documents": docs, "firms": [d["firm_id"] for d in documents]}


def write_codebook(path: Path) -> Path:
    path.write_text(CODEBOOK_YAML, encoding="utf-8")
    return path


def tiny_bert(path: Path) -> Path:
    """A 1-layer, 32-hidden BERT config folder with the real character vocabulary (no weights)."""
    from groundcoder.classifier.compact import write_compact_folder

    if not (path / "config.json").exists():
        write_compact_folder(path, num_hidden_layers=1, hidden_size=32, num_attention_heads=2, intermediate_size=64,
                             max_position_embeddings=64)
    return path


def train_config(root: Path, corpus: dict, codebook_path: Path, base_model: Path | None, **sections) -> dict:
    """A tiny training config (dict) over the fixture; ``sections`` override whole keys."""
    config = {
        "run": {"output_dir": str(root / "runs"), "seed": 7, "progress": False},
        "data": {
            "source": "file",
            "path": str(corpus["quotes"]),
            "documents": str(corpus["documents"]),
            "codebook": str(codebook_path),
            "negatives": {"ratio": 0.5, "min_chars": 8},
        },
        "splits": {"strategy": "kfold", "n_folds": 4, "val_fraction": 0.25},
        "model": {
            "enabled": base_model is not None,
            "base_model": str(base_model) if base_model else "models/compact-zh",
            "settings": {"epochs": 12, "lr": 0.003, "batch_size": 16, "max_length": 32, "checkpoint_every": 3,
                         "warmup_ratio": 0.0, "num_threads": 1},
        },
        "baseline": {"min_df": 1},
        "evaluation": {"report": False},
        "select": "validation",
    }
    for key, value in sections.items():
        if isinstance(value, dict) and isinstance(config.get(key), dict):
            config[key] = {**config[key], **value}
        else:
            config[key] = value
    return config
