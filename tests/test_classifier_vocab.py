"""The shipped compact model folder: character vocabulary, tokenizer and config, offline."""

from __future__ import annotations

import json

import classifier_helpers  # noqa: F401  (sets HF_HUB_OFFLINE before transformers loads)
import pytest

from groundcoder.classifier import COMPACT_CONFIG, SPECIAL_TOKENS, build_compact_model, compact_dir, unk_rate
from groundcoder.classifier.vocab import build_char_vocab, read_vocab
from groundcoder.codebook import Codebook


@pytest.fixture(scope="module")
def tokenizer():
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(compact_dir()))


def test_shipped_folder_is_small_and_has_no_weights():
    folder = compact_dir()
    names = {p.name for p in folder.iterdir()}
    assert {"config.json", "vocab.txt", "tokenizer.json", "tokenizer_config.json", "README.md"} <= names
    assert not any(n.endswith((".safetensors", ".bin", ".pt", ".pth", ".h5", ".msgpack")) for n in names)
    assert sum(p.stat().st_size for p in folder.iterdir()) < 1_000_000


def test_shipped_vocab_is_what_the_builder_makes():
    assert read_vocab(compact_dir() / "vocab.txt") == build_char_vocab()


def test_config_is_the_documented_compact_bert(tokenizer):
    config = json.loads((compact_dir() / "config.json").read_text(encoding="utf-8"))
    assert config["model_type"] == "bert"
    for key in ("hidden_size", "num_hidden_layers", "num_attention_heads", "intermediate_size", "max_position_embeddings"):
        assert config[key] == COMPACT_CONFIG[key]
    assert config["vocab_size"] == len(tokenizer)


def test_tokenizer_is_fast_bert_with_specials_first(tokenizer):
    assert type(tokenizer).__name__ == "BertTokenizer" and tokenizer.is_fast
    assert [tokenizer.convert_tokens_to_ids(t) for t in SPECIAL_TOKENS] == [0, 1, 2, 3, 4]
    assert (tokenizer.pad_token_id, tokenizer.unk_token_id, tokenizer.cls_token_id) == (0, 1, 2)
    assert (tokenizer.sep_token_id, tokenizer.mask_token_id) == (3, 4)


@pytest.mark.parametrize("text, pieces", [
    ("2023", ["2", "##0", "##2", "##3"]),
    ("ESG", ["e", "##s", "##g"]),
    ("５Ｇ", ["５", "##ｇ"]),
    ("≤85℃", ["≤", "##8", "##5", "##℃"]),
    ("专精特新", ["专", "精", "特", "新"]),
])
def test_letters_digits_and_symbols_are_not_unknown(tokenizer, text, pieces):
    assert tokenizer.tokenize(text) == pieces


def test_firm_text_and_codebook_have_no_unknown_characters(tokenizer):
    text = ("2023年，公司实现营业收入57,318.66万元，同比增长5.92%；研发投入占比≥8%，"
            "获评国家级专精特新“小巨人”企业，通过IATF16949认证，推进ESG与5G+工业互联网建设（详见第Ⅲ节①）。")
    assert unk_rate(tokenizer, [text]) == 0.0
    codebook = Codebook.default()
    names = [c.name for c in codebook.concepts] + [ic.name for ic in codebook.initial_categories]
    assert unk_rate(tokenizer, names) == 0.0
    assert unk_rate(tokenizer, ["\U0001F600"]) == 1.0  # an emoji is genuinely unknown


def test_random_init_is_seeded():
    a = build_compact_model(seed=3).state_dict()
    b = build_compact_model(seed=3).state_dict()
    c = build_compact_model(seed=4).state_dict()
    key = "embeddings.word_embeddings.weight"
    assert (a[key] == b[key]).all()
    assert not (a[key] == c[key]).all()
    n_params = sum(v.numel() for v in a.values())
    assert 5_000_000 < n_params < 10_000_000
