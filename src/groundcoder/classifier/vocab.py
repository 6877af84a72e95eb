"""The character vocabulary and tokenizer of the compact offline Chinese BERT (models/compact-zh).

Contract:

* ``build_char_vocab()`` -> ``list[str]``, deterministic: the five special tokens
  ``[PAD] [UNK] [CLS] [SEP] [MASK]`` (ids 0-4), then every character of GB2312 (Chinese characters,
  CJK punctuation, full-width forms, Greek, kana, symbols), every character of jieba's dictionary
  (``jieba/dict.txt``, ~12,000 characters), printable ASCII, full-width forms U+FF01-FF5E, CJK
  punctuation U+3000-303F, general punctuation, circled/parenthesised numbers, Roman numerals and
  common technical symbols -- each passed through the tokenizer's own normaliser (lower-casing), so
  no entry is unreachable -- and finally ``##`` continuation pieces for ASCII letters and digits,
  full-width letters and digits and Greek letters, so "2023" -> 2 ##0 ##2 ##3 and "ESG" -> e ##s
  ##g instead of [UNK].
* ``make_tokenizer(vocab)`` -> a ``transformers.BertTokenizer`` (the fast, Rust one in
  transformers 5): lower-cases, splits every CJK character into its own token (BERT's basic
  tokenisation), WordPiece for the rest. ``model_max_length`` 512.
* ``write_vocab(vocab, path)`` writes ``vocab.txt`` (one token a line, id = line number).
* ``unk_rate(tokenizer, texts)``: share of [UNK] among the tokens of ``texts``.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from pathlib import Path

from ..atomic import write_text

SPECIAL_TOKENS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")
MODEL_MAX_LENGTH = 512

# Characters that Chinese firm documents use around the Chinese text itself.
_EXTRA_RANGES = (
    (0x21, 0x7E),        # printable ASCII
    (0xA7, 0xA7), (0xB0, 0xB3), (0xB5, 0xB5), (0xB7, 0xB7), (0xB9, 0xB9),   # § ° ± ² ³ µ · ¹
    (0xBC, 0xBE), (0xD7, 0xD7), (0xF7, 0xF7),   # ¼ ½ ¾ × ÷
    (0x2070, 0x209F),    # superscripts and subscripts (m² CO₂)
    (0x2010, 0x2027),    # dashes, quotes, ellipsis, middle dot
    (0x2030, 0x205E),    # per mille, primes, reference marks
    (0x2103, 0x2103), (0x2109, 0x2109), (0x2116, 0x2116), (0x2122, 0x2122),   # ℃ ℉ № ™
    (0x2160, 0x217F),    # Roman numerals
    (0x2190, 0x2199),    # arrows
    (0x2200, 0x22FF),    # mathematical operators (≤ ≥ ≈ ≠ ∑ ...)
    (0x2460, 0x24FF),    # circled / parenthesised numbers and letters
    (0x2500, 0x257F),    # box drawing
    (0x25A0, 0x25FF),    # geometric shapes (■ □ ● ○ ▲ ◆ ...)
    (0x2605, 0x2606),    # ★ ☆
    (0x3000, 0x303F),    # CJK symbols and punctuation
    (0x3200, 0x32FF),    # enclosed CJK letters and months (㈠ ㊣ ...)
    (0x3300, 0x33FF),    # CJK compatibility (㎡ ㎏ ...)
    (0xFE30, 0xFE4F),    # CJK compatibility forms (vertical punctuation)
    (0xFF01, 0xFF5E),    # full-width ASCII forms
    (0xFF5F, 0xFF65),    # full-width brackets, half-width CJK punctuation
    (0xFFE0, 0xFFE6),    # full-width ￥ ￡ ...
)



def _is_cjk(ch: str) -> bool:
    """Characters BERT's basic tokenisation always splits off on their own (its _is_chinese_char)."""
    cp = ord(ch)
    return (0x4E00 <= cp <= 0x9FFF or 0x3400 <= cp <= 0x4DBF or 0x20000 <= cp <= 0x2A6DF
            or 0x2A700 <= cp <= 0x2B73F or 0x2B740 <= cp <= 0x2B81F or 0x2B820 <= cp <= 0x2CEAF
            or 0xF900 <= cp <= 0xFAFF or 0x2F800 <= cp <= 0x2FA1F)


def _is_split_punctuation(ch: str) -> bool:
    """Characters BERT's pre-tokeniser splits off as their own word (ASCII punctuation, Unicode P*)."""
    import unicodedata

    cp = ord(ch)
    if 33 <= cp <= 47 or 58 <= cp <= 64 or 91 <= cp <= 96 or 123 <= cp <= 126:
        return True
    return unicodedata.category(ch).startswith("P")


def needs_continuation(ch: str) -> bool:
    """A character that can sit inside a multi-character word (letters, digits, symbols): gets a ## piece."""
    return not _is_cjk(ch) and not _is_split_punctuation(ch)


def jieba_dict_path() -> Path:
    """jieba's main dictionary (dict.txt), which ships inside the jieba package."""
    import jieba

    return Path(os.path.dirname(jieba.__file__)) / "dict.txt"


def jieba_chars(path: str | Path | None = None) -> set[str]:
    path = Path(path) if path is not None else jieba_dict_path()
    chars: set[str] = set()
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            word = line.split(" ", 1)[0].strip()
            chars.update(word)
    return chars


def gb2312_chars() -> set[str]:
    """Every character GB2312 encodes (symbols rows 1-9, hanzi rows 16-87)."""
    chars: set[str] = set()
    for hi in range(0xA1, 0xF8):
        for lo in range(0xA1, 0xFF):
            try:
                ch = bytes([hi, lo]).decode("gb2312")
            except UnicodeDecodeError:
                continue
            chars.add(ch)
    return chars


def _normaliser():
    from tokenizers.normalizers import BertNormalizer

    return BertNormalizer(clean_text=True, handle_chinese_chars=True, strip_accents=None, lowercase=True)


def build_char_vocab(jieba_dict: str | Path | None = None) -> list[str]:
    """The compact model's vocabulary (see the module doc); deterministic for a given jieba dict."""
    candidates = jieba_chars(jieba_dict) | gb2312_chars()
    for lo, hi in _EXTRA_RANGES:
        candidates.update(chr(c) for c in range(lo, hi + 1))
    norm = _normaliser()
    tokens: set[str] = set()
    for ch in candidates:
        # What the tokenizer will actually look up: lower-cased, accents stripped, whitespace gone.
        for piece in norm.normalize_str(ch).split():
            if len(piece) == 1 and not piece.isspace() and piece.isprintable():
                tokens.add(piece)
    singles = sorted(tokens)
    # Anything that is neither split off as CJK nor as punctuation can continue a word: "2023",
    # "esg", "５ｇ", "≤85℃", "①②", "m²" all need their ## pieces.
    continuation = [f"##{c}" for c in singles if needs_continuation(c)]
    vocab = list(SPECIAL_TOKENS) + singles + continuation
    assert len(vocab) == len(set(vocab))
    return vocab


def write_vocab(vocab: Sequence[str], path: str | Path) -> Path:
    return write_text(path, "".join(f"{t}\n" for t in vocab))


def read_vocab(path: str | Path) -> list[str]:
    return Path(path).read_text(encoding="utf-8").rstrip("\n").split("\n")


def make_tokenizer(vocab: Sequence[str]):
    """A fast ``BertTokenizer`` over ``vocab``: char-level Chinese, WordPiece elsewhere, lower-cased."""
    from transformers import BertTokenizer

    return BertTokenizer(
        vocab={t: i for i, t in enumerate(vocab)},
        do_lower_case=True,
        tokenize_chinese_chars=True,
        strip_accents=None,
        model_max_length=MODEL_MAX_LENGTH,
    )


def unk_rate(tokenizer, texts: Iterable[str]) -> float:
    """Share of [UNK] tokens (special tokens excluded) in the tokenisation of ``texts``."""
    unk = tokenizer.unk_token_id
    total = bad = 0
    for ids in tokenizer(list(texts), add_special_tokens=False, verbose=False)["input_ids"]:
        total += len(ids)
        bad += sum(1 for i in ids if i == unk)
    return bad / total if total else 0.0
