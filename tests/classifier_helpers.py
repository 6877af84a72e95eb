"""Shared fixtures of the classifier tests: a small codebook, a separable corpus, a tiny BERT folder."""

from __future__ import annotations

import os
import random
import shutil
from pathlib import Path

# Never ask the Hugging Face hub (a lookup hangs ~46 s offline); set before transformers is imported.
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


def _single_thread() -> None:
    # Tiny models gain nothing from a second thread, and torch's two-thread OpenMP path slows down
    # 10-20x when the two cores are shared with other processes (measured on the dev machine).
    import torch

    torch.set_num_threads(1)


_single_thread()

from groundcoder.codebook import Codebook, Concept, InitialCategory, MainCategory, Role

# concept -> distinctive words; every text of a concept uses two or three of them.
CONCEPT_WORDS = {
    "人工智能": ["神经网络", "机器视觉", "算法模型", "深度学习", "智能识别", "语音交互"],
    "云计算服务": ["云平台", "服务器集群", "弹性算力", "上云部署", "数据中心", "云端存储"],
    "知识共享与学习": ["师带徒", "内部培训", "经验分享会", "读书会", "轮岗交流", "技术讲座"],
    "缓解冲击": ["疫情冲击", "原材料涨价", "备货三个月", "订单下滑", "资金周转", "稳住交付"],
}
FILLER = ["公司", "报告期内", "我们", "今年", "持续", "推进", "相关", "工作", "方面", "进一步", "员工", "客户",
          "产品", "市场", "年度", "情况", "主要", "业务", "发展", "管理"]


def small_codebook() -> Codebook:
    """4 concepts -> 3 initial categories -> 2 main categories -> 2 roles."""
    return Codebook(
        concepts=(
            Concept("人工智能", "数字技术应用"),
            Concept("云计算服务", "数字技术应用"),
            Concept("知识共享与学习", "知识多样性"),
            Concept("缓解冲击", "风险承担能力"),
        ),
        initial_categories=(
            InitialCategory("数字技术应用", "数字基础设施"),
            InitialCategory("知识多样性", "组织能力"),
            InitialCategory("风险承担能力", "组织能力"),
        ),
        main_categories=(MainCategory("数字基础设施"), MainCategory("组织能力")),
        roles=(Role("强化因素", ("数字基础设施",)), Role("内部驱动因素", ("组织能力",))),
    )


def separable_corpus(n: int = 240, seed: int = 0, negative_share: float = 0.25,
                     multi_share: float = 0.1) -> tuple[list[str], list[set[str]]]:
    """Texts whose concepts can be read off distinctive words; some multi-label, some no-code."""
    rng = random.Random(seed)
    concepts = list(CONCEPT_WORDS)
    texts, labels = [], []
    for i in range(n):
        r = rng.random()
        if r < negative_share:
            chosen: list[str] = []
        elif r < negative_share + multi_share:
            chosen = rng.sample(concepts, 2)
        else:
            chosen = [concepts[i % len(concepts)]]
        words = [rng.choice(FILLER) for _ in range(rng.randint(3, 6))]
        for c in chosen:
            words += rng.sample(CONCEPT_WORDS[c], rng.randint(2, 3))
        rng.shuffle(words)
        texts.append("".join(words) + "。")
        labels.append(set(chosen))
    return texts, labels


TINY_CONFIG = dict(num_hidden_layers=2, hidden_size=64, num_attention_heads=2, intermediate_size=128,
                   max_position_embeddings=128)


def tiny_model_folder(path: Path) -> Path:
    """A config-only folder: the shipped compact tokenizer with a 2-layer, 64-hidden BERT config."""
    from groundcoder.classifier.compact import compact_config, compact_dir
    from groundcoder.classifier.vocab import read_vocab

    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    for name in ("vocab.txt", "tokenizer.json", "tokenizer_config.json"):
        shutil.copy(compact_dir() / name, path / name)
    compact_config(len(read_vocab(path / "vocab.txt")), **TINY_CONFIG).save_pretrained(path)
    return path


def tiny_settings(**overrides):
    """Fast, single-threaded settings for the tiny model (a learning rate for training from scratch)."""
    from groundcoder.classifier import TrainSettings

    values = dict(epochs=4, lr=2e-3, batch_size=16, max_length=48, seed=0, checkpoint_every=0, num_threads=1,
                  eval_batch_size=32)
    values.update(overrides)
    return TrainSettings(**values)
