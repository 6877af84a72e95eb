"""Masked-LM pretraining: whole-character masking, held-out loss falls, the classifier starts from it."""

from __future__ import annotations

import random

import classifier_helpers  # noqa: F401  (sets HF_HUB_OFFLINE before transformers loads)
import numpy as np
import pytest
from classifier_helpers import small_codebook, tiny_model_folder, tiny_settings

from groundcoder.classifier import BertConceptClassifier, LabelSpace, PretrainSettings, load_tokenizer, mlm_pretrain
from groundcoder.classifier.pretrain import continuation_mask, mask_whole_words, split_pieces

SENTENCES = [
    "公司坚持自主研发，持续加大研发投入。", "报告期内公司实现营业收入稳步增长。", "公司推进数字化转型，建设智能工厂。",
    "我们与高校合作开展技术攻关。", "公司通过内部培训提升员工技能。", "面对原材料涨价，公司提前备货。",
]


def corpus(n: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    return ["".join(rng.sample(SENTENCES, 3)) for _ in range(n)]


@pytest.fixture(scope="module")
def tiny_base(tmp_path_factory):
    return tiny_model_folder(tmp_path_factory.mktemp("tiny-bert"))


def test_whole_words_are_masked_together(tiny_base):
    tokenizer = load_tokenizer(tiny_base)
    ids = tokenizer("2023年ESG报告显示营业收入增长")["input_ids"]
    tokens = tokenizer.convert_ids_to_tokens(ids)
    is_cont = continuation_mask(tokenizer)
    special = set(tokenizer.all_special_ids)
    rng = np.random.default_rng(0)
    masked_counts = []
    for _ in range(300):
        inputs, labels = mask_whole_words(ids, special=special, is_continuation=is_cont, mask_id=tokenizer.mask_token_id,
                                          vocab_size=len(tokenizer), mask_prob=0.15, rng=rng)
        chosen = [i for i, lab in enumerate(labels) if lab != -100]
        assert chosen, "at least one word is masked"
        assert labels[0] == labels[-1] == -100                     # [CLS] and [SEP] never
        assert all(labels[i] == ids[i] for i in chosen)
        # "2023" = 2 ##0 ##2 ##3 and "esg" = e ##s ##g are masked as whole words
        for start, end in ((1, 5), (6, 9)):
            flags = {labels[i] != -100 for i in range(start, end)}
            assert len(flags) == 1, tokens[start:end]
        masked_counts.append(len(chosen))
    assert tokens[1:5] == ["2", "##0", "##2", "##3"]
    # 12 words (2023, 年, esg, 报, 告, ...): 15 % of 12 rounds to 2 words, 2-8 tokens
    assert 2 <= min(masked_counts) and max(masked_counts) <= 8


def test_pieces_respect_the_length_limit():
    pieces = split_pieces(["一二三四五。六七八九十。" * 20, "短句。", ""], 30)
    assert all(0 < len(p) <= 30 for p in pieces)
    assert "".join(pieces[:-1]) == "一二三四五。六七八九十。" * 20 and pieces[-1] == "短句。"


def test_held_out_loss_falls_and_the_classifier_starts_from_the_result(tiny_base, tmp_path):
    import torch
    from safetensors.torch import load_file

    out = tmp_path / "pretrained"
    settings = PretrainSettings(epochs=4, lr=2e-3, batch_size=16, max_length=64, num_threads=1)
    result = mlm_pretrain(corpus(96, 0), base_model=tiny_base, out_dir=out, settings=settings,
                          eval_texts=corpus(24, 1), progress=False)
    assert result.eval_loss_before > np.log(15000) - 1.0           # random weights: about uniform over the vocabulary
    assert result.eval_loss_after < result.eval_loss_before - 2.0
    assert result.train_losses[-1] < result.train_losses[0]
    assert (out / "model.safetensors").exists() and (out / "pretrain.json").exists()
    assert not any(p.suffix in {".bin", ".pt"} for p in out.iterdir())

    labels = LabelSpace.from_codebook(small_codebook())
    clf = BertConceptClassifier(labels, base_model=out, settings=tiny_settings(epochs=1))
    saved = load_file(str(out / "model.safetensors"))
    key = next(k for k in saved if k.endswith("word_embeddings.weight"))
    assert torch.equal(clf._net.encoder.embeddings.word_embeddings.weight.detach(), saved[key])

    # continued pretraining of the result (a checkpoint with weights) works the same way
    again = mlm_pretrain(corpus(16, 2), base_model=out, out_dir=tmp_path / "again",
                         settings=PretrainSettings(epochs=1, batch_size=16, max_length=64, num_threads=1),
                         eval_texts=corpus(8, 3), progress=False)
    assert again.eval_loss_before < result.eval_loss_before - 2.0
