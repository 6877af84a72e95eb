"""Counting dictionary keywords in one text, in two modes.

``jieba`` mode is the study's semantics: segment with jieba after adding the dictionary words, and a
token equal to a keyword is one hit. Counts are identical to this plain loop::

    tokenizer = jieba.Tokenizer()
    for word in keywords:
        tokenizer.add_word(word)
    hits = Counter(t for t in tokenizer.lcut(text) if t in keywords)

but far faster: jieba cuts text into blocks (maximal runs of its ``re_han`` characters) and segments
each block on its own, and a token equal to a keyword is a substring of its block, so only blocks
where a keyword occurs as a substring need segmenting (found by multi-keyword matching, see
``matching``). jieba's global tokenizer is never touched: counters use a private ``jieba.Tokenizer``.

The token denominator needs every block segmented. jieba-rs (``rjieba``), given the same words with
the same frequencies and the same total, segments blocks identically except where a block holds
ASCII punctuation (``+#&._%-``: dates, decimals, web addresses), which jieba's HMM fallback splits
its own way; those blocks are counted by jieba itself, or by an exact re-implementation of that
fallback for pure-ASCII blocks. Tests compare the total with plain jieba's.

``fast`` mode matches on normalised text (NFKC, white space removed, ASCII lower case) leftmost-
longest (``matching``: a prefiltered trie regex, or pyahocorasick's ``iter_long``, same hits), so
移动互联 inside 移动互联网 is not counted twice.

Negation (``negation_window`` > 0): a hit with 没/无/不/未/非 among the N characters before it (white
space skipped) is counted apart as negated, unless that character starts a word that negates
nothing (不断, 未来, 非公开 ...).

Tokens are the words jieba produces from its blocks: punctuation and white space are not tokens.
Characters are the text's code points other than white space.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from typing import Any

from ..errors import InputError
from .dictionaries import Keyword
from .matching import ENGINES, LeftmostLongest
from .normalise import FastNormaliser, normalise_text, text_stats

MODES = ("jieba", "fast")
SCOPES = ("whole", "mdna")
TOKEN_BACKENDS = ("auto", "rjieba", "jieba")
NEGATION_CHARS = "没无不未非"
# Words that start with a negation character but negate nothing after them (不断推进人工智能, 未来三年,
# 非公开发行). A negation character that starts one of these, inside the window, is ignored.
NEGATION_EXCEPTIONS = ("不断", "不仅", "不少", "不同", "不久", "无论", "无线", "无人", "非常", "非公开", "未来", "未分配")
# Bump when the counting rules change, so cached counts of an older rule are not reused.
COUNTING_VERSION = 1

# Texts whose share of Chinese characters is below this are reported as not Chinese, not counted as 0.
MIN_HAN_SHARE = 0.2

# jieba-rs and jieba's HMM fallback split runs holding these characters differently.
_ASCII_PUNCT = re.compile(r"[+#&._%\-]")
# jieba's finalseg cut of a buffer without Chinese: re_skip's matches and the pieces between them.
# Blocks remembered per counter: boilerplate and the demo panel's templates repeat blocks a lot.
_SEGMENT_CACHE_SIZE = 50_000
_FINALSEG_HAN = re.compile("([\u4e00-\u9fd5]+)")  # jieba.finalseg's re_han
_FINALSEG_PIECE = re.compile(r"[a-zA-Z0-9]+(?:\.\d+)?%?|[^a-zA-Z0-9\n]+")


@dataclass(frozen=True)
class CountOptions:
    """How to count. The defaults are the study's plain jieba semantics on the whole report."""

    mode: str = "jieba"
    scope: str = "whole"
    negation_window: int = 0  # 0: no negation rule
    negation_chars: str = NEGATION_CHARS
    negation_exceptions: tuple[str, ...] = NEGATION_EXCEPTIONS
    tokens: bool = True  # count jieba tokens for the per-10k-token denominator
    hmm: bool = True  # jieba.lcut's default
    token_backend: str = "auto"  # auto: rjieba if installed, else jieba itself (slow, identical)
    matcher: str = "regex"  # fast mode's leftmost-longest engine: regex or ahocorasick (same hits)

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise InputError(None, f"counting mode {self.mode!r} is not one of {', '.join(MODES)}")
        if self.scope not in SCOPES:
            raise InputError(None, f"counting scope {self.scope!r} is not one of {', '.join(SCOPES)}")
        if self.token_backend not in TOKEN_BACKENDS:
            raise InputError(None, f"token backend {self.token_backend!r} is not one of {', '.join(TOKEN_BACKENDS)}")
        if self.matcher not in ENGINES:
            raise InputError(None, f"matcher {self.matcher!r} is not one of {', '.join(ENGINES)}")
        if not isinstance(self.negation_window, int) or self.negation_window < 0:
            raise InputError(None, f"negation window {self.negation_window!r} should be a whole number >= 0")
        object.__setattr__(self, "negation_exceptions", tuple(self.negation_exceptions))

    def resolved_backend(self) -> str:
        if self.token_backend != "auto":
            return self.token_backend
        import importlib.util

        return "rjieba" if importlib.util.find_spec("rjieba") is not None else "jieba"

    def cache_key(self, keywords: Sequence[str]) -> str:
        """Hash of everything that decides a document's counts: keywords, options, versions."""
        import jieba

        payload = {
            "version": COUNTING_VERSION,
            "jieba": jieba.__version__,
            "keywords": list(keywords),
            "options": {**asdict(self), "token_backend": self.resolved_backend() if self.tokens else None},
        }
        return hashlib.sha256(json.dumps(payload, ensure_ascii=False, sort_keys=True).encode()).hexdigest()


@dataclass
class TextCounts:
    """Counts in one text: hits per keyword (negated hits excluded and counted apart) and denominators."""

    counts: dict[str, int] = field(default_factory=dict)
    negated: dict[str, int] = field(default_factory=dict)
    tokens: int | None = None
    characters: int = 0
    han_characters: int = 0

    @property
    def hits(self) -> int:
        return sum(self.counts.values())


# --------------------------------------------------------------------------------------------------
# jieba's block structure


@lru_cache(maxsize=1)
def _jieba_block_regex() -> re.Pattern[str]:
    import jieba

    # jieba.re_han_default, without its capturing group: the runs that jieba segments one by one.
    return re.compile(jieba.re_han_default.pattern.strip("()"))


@lru_cache(maxsize=1)
def _jieba_block_chars() -> frozenset[str]:
    block = _jieba_block_regex()
    return frozenset(ch for ch in map(chr, range(0x10000)) if block.fullmatch(ch))


def jieba_block_chars() -> frozenset[str]:
    """Characters jieba's blocks are made of (CJK U+4E00-U+9FD5, ASCII letters and digits, +#&._%-)."""
    return _jieba_block_chars()


def check_jieba_keywords(keywords: Iterable[Keyword | str]) -> None:
    """A keyword with a character outside jieba's blocks can never be one jieba token: say so."""
    chars = _jieba_block_chars()
    for k in keywords:
        word = k.word if isinstance(k, Keyword) else k
        bad = sorted({ch for ch in word if ch not in chars})
        if bad:
            path = k.path if isinstance(k, Keyword) else None
            line = k.line if isinstance(k, Keyword) else None
            raise InputError(
                path,
                f"keyword {word!r} contains {''.join(bad)!r}, where jieba always splits; jieba mode could never count it",
                line=line,
                hint="drop those characters from the keyword, or count with mode: fast",
            )


def private_tokenizer(keywords: Sequence[str]):
    """A fresh ``jieba.Tokenizer`` with the default dictionary and ``keywords`` added in order."""
    return _build_tokenizer(tuple(keywords))[0]


@lru_cache(maxsize=2)
def _tokenizer_and_offset(keywords: tuple[str, ...]) -> tuple[Any, int]:
    """Shared by the counters of one process with the same keywords (loading jieba's dictionary takes
    a second or more); nothing changes a tokenizer after it is built."""
    return _build_tokenizer(keywords)


@lru_cache(maxsize=2)
def _rust_tokenizer(keywords: tuple[str, ...]) -> Any:
    """jieba-rs with the same keywords, frequencies and total as the private jieba tokenizer."""
    import rjieba

    tokenizer, preexisting = _tokenizer_and_offset(keywords)
    rust = rjieba.Jieba()
    for word in keywords:
        rust.add_word(word, tokenizer.FREQ[word], None)
    # jieba adds a re-added word's new frequency to its total; jieba-rs also subtracts the old one.
    # The route probabilities divide by the total, so make the totals equal.
    if preexisting:
        rust.add_word("\u2063groundcoder-total-offset", preexisting, None)  # never inside a jieba block
    return rust


def _build_tokenizer(keywords: tuple[str, ...]) -> tuple[Any, int]:
    """A private tokenizer, and the summed default-dictionary frequency of the keywords it re-added."""
    from ..jieba_private import new_tokenizer

    tokenizer = new_tokenizer()  # its own: the keywords are added to it
    preexisting = sum(tokenizer.FREQ.get(word, 0) for word in dict.fromkeys(keywords))
    for word in keywords:
        tokenizer.add_word(word)
    return tokenizer, preexisting


# --------------------------------------------------------------------------------------------------
# The counter


class KeywordCounter:
    """Counts ``keywords`` in texts according to ``options``; build once, use for many texts."""

    def __init__(self, keywords: Sequence[str | Keyword], options: CountOptions | None = None) -> None:
        self.options = options or CountOptions()
        words = [k.word if isinstance(k, Keyword) else k for k in keywords]
        self.keywords: tuple[str, ...] = tuple(dict.fromkeys(words))
        self._keyword_set = frozenset(self.keywords)
        if self.options.mode == "jieba" or self.options.tokens:
            check_jieba_keywords(keywords)
        self._tokenizer = None
        self._rjieba = None
        # Keywords as written: finds the blocks jieba must segment (any occurrence lies in a match).
        self._exact = LeftmostLongest(self.keywords)
        # Normalised keywords (fast mode); two spellings with one normal form share the hits.
        self._by_form: dict[str, tuple[str, ...]] = {}
        for word in self.keywords:
            form = normalise_text(word)
            self._by_form[form] = (*self._by_form.get(form, ()), word)
        self._normalised = LeftmostLongest(self._by_form, engine=self.options.matcher)
        self._ascii_dict_words: LeftmostLongest | None = None
        self._segment_cache: dict[str, tuple[str, ...]] = {}
        self._hmm_cache: dict[str, int] = {}
        self._normaliser: FastNormaliser | None = None
        self.token_backend = self.options.resolved_backend() if self.options.tokens else None

    # -- lazy parts, so a fast-mode counter without tokens never loads jieba --------------------------

    def _jieba(self):
        if self._tokenizer is None:
            self._tokenizer = _tokenizer_and_offset(tuple(self.keywords))[0]
        return self._tokenizer

    def _rjieba_tokenizer(self):
        if self._rjieba is None:
            self._rjieba = _rust_tokenizer(tuple(self.keywords))
        return self._rjieba

    def _ascii_words(self) -> LeftmostLongest:
        """Pure-ASCII dictionary words (AT&T, C++): a block holding one needs jieba's own DAG."""
        if self._ascii_dict_words is None:
            freq = self._jieba().FREQ
            self._ascii_dict_words = LeftmostLongest(w for w in [w for w in freq if w.isascii()] if len(w) > 1 and freq[w])
        return self._ascii_dict_words

    # -- counting ----------------------------------------------------------------------------------

    def count(self, text: str) -> TextCounts:
        """Counts in ``text`` (already cut to the scope: whole report or MD&A)."""
        result = TextCounts()
        if self.options.mode == "fast":
            result.counts, result.negated, result.characters, result.han_characters = self._count_fast(text)
            if self.options.tokens:
                _, _, result.tokens = self._count_jieba(text, want_tokens=True)
        else:
            result.characters, result.han_characters = text_stats(text)
            result.counts, result.negated, result.tokens = self._count_jieba(text, want_tokens=self.options.tokens)
        return result

    def _count_fast(self, text: str) -> tuple[dict[str, int], dict[str, int], int, int]:
        normalised, points, characters, han = self._fast_normaliser().normalise_points(text)
        counts: Counter[str] = Counter()
        negated: Counter[str] = Counter()
        window = self.options.negation_window
        by_form = self._by_form
        for start, _end, form in self._normalised.finditer(normalised, points):
            target = negated if window and self._negated(normalised[max(0, start - window) : start]) else counts
            for word in by_form[form]:
                target[word] += 1
        return dict(counts), dict(negated), characters, han

    def _fast_normaliser(self) -> FastNormaliser:
        if self._normaliser is None:
            # Characters that can matter: the keywords', and the negation rule's.
            alphabet = set("".join(normalise_text(w) for w in self.keywords))
            alphabet |= set(self.options.negation_chars) | set("".join(self.options.negation_exceptions))
            self._normaliser = FastNormaliser(alphabet)
        return self._normaliser

    def _count_jieba(self, text: str, want_tokens: bool) -> tuple[dict[str, int], dict[str, int], int | None]:
        chars = _jieba_block_chars()
        window = self.options.negation_window
        keyword_set = self._keyword_set
        counts: Counter[str] = Counter()
        negated: Counter[str] = Counter()

        # Blocks holding a keyword as a substring: only these can yield a keyword token.
        candidate_blocks: dict[int, int] = {}
        block_end = -1
        n = len(text)
        for start, end, _word in self._exact.finditer(text):
            if start < block_end:
                continue  # in the block found last
            left = start
            while left > 0 and text[left - 1] in chars:
                left -= 1
            right = end
            while right < n and text[right] in chars:
                right += 1
            candidate_blocks[left] = block_end = right

        python_tokens = 0
        candidate_texts: list[str] = []
        for left, right in sorted(candidate_blocks.items()):
            block = text[left:right]
            candidate_texts.append(block)
            offset = left
            tokens = self._segment(block)
            python_tokens += len(tokens)
            for token in tokens:
                if token in keyword_set:
                    if window and self._negated(_preceding(text, offset, window)):
                        negated[token] += 1
                    else:
                        counts[token] += 1
                offset += len(token)

        total_tokens = None
        if want_tokens:
            total_tokens = self._token_total(text, candidate_texts, python_tokens)
        return dict(counts), dict(negated), total_tokens

    def _token_total(self, text: str, candidate_blocks: list[str], candidate_tokens: int) -> int:
        """Word tokens of the whole text with the keywords added, as jieba.lcut would produce them."""
        block_regex = _jieba_block_regex()
        if self.token_backend == "jieba":
            return sum(len(self._segment(block)) for block in block_regex.findall(text))

        rust = self._rjieba_tokenizer()
        hmm = self.options.hmm
        blocks = block_regex.findall(text)
        joined = "\n".join(blocks)
        rust_tokens = rust.cut(joined, hmm)
        total = len(rust_tokens) - rust_tokens.count("\n")

        # Candidate blocks were segmented by jieba already: swap jieba-rs's count for jieba's.
        if candidate_blocks:
            rust_candidates = rust.cut("\n".join(candidate_blocks), hmm)
            total += candidate_tokens - (len(rust_candidates) - rust_candidates.count("\n"))

        # Blocks with ASCII punctuation: jieba-rs differs, so count them as jieba does.
        special = self._special_blocks(joined)
        if special:
            ascii_words = self._ascii_words()
            plain_ascii: list[str] = []
            by_jieba = 0
            replaced: list[str] = []
            mixed: list[str] = []
            for block in special:
                if self._exact.search(block):
                    continue  # a candidate block, already counted by jieba
                replaced.append(block)
                if ascii_words.search(block):
                    by_jieba += len(self._segment(block))  # AT&T, C++: rare, leave them to jieba
                elif block.isascii():
                    plain_ascii.append(block)
                else:
                    mixed.append(block)
            if replaced:
                rust_special = rust.cut("\n".join(replaced), hmm)
                total -= len(rust_special) - rust_special.count("\n")
                total += by_jieba + _finalseg_ascii_tokens(plain_ascii, hmm) + self._jieba_tokens_from_route(mixed)
        return total

    def _segment(self, block: str) -> tuple[str, ...]:
        """jieba's tokens of one block; blocks repeat (boilerplate, templates), so results are cached."""
        cached = self._segment_cache.get(block)
        if cached is None:
            cached = tuple(self._jieba().lcut(block, HMM=self.options.hmm))
            if len(self._segment_cache) >= _SEGMENT_CACHE_SIZE:
                self._segment_cache.clear()
            self._segment_cache[block] = cached
        return cached

    def _jieba_tokens_from_route(self, blocks: list[str]) -> int:
        """jieba's token count for blocks without keywords or ASCII dictionary words.

        The DAG and its best route are the same in jieba-rs (same words, frequencies and total); the
        two differ only in what happens to runs of single-character steps (the HMM buffer). So take
        the route from jieba-rs without HMM, where runs of single ASCII letters or digits come back
        merged (no ASCII word can be a route step here), and treat the buffers as jieba's
        ``__cut_DAG`` does: one character alone; a dictionary word spelled out; else
        ``jieba.finalseg.cut``.
        """
        if not blocks:
            return 0
        if not self.options.hmm:
            return sum(len(self._segment(block)) for block in blocks)
        freq = self._jieba().FREQ
        steps = self._rjieba_tokenizer().cut("\n".join(blocks), False)
        total = 0
        buf: list[str] = []

        def flush() -> int:
            word = "".join(buf)
            buf.clear()
            if len(word) <= 1:
                return len(word)
            if freq.get(word):
                return len(word)
            return self._finalseg_tokens(word)

        for step in steps:
            if step == "\n":
                total += flush()
            elif len(step) == 1 or (step.isascii() and step.isalnum()):
                buf.append(step)
            else:
                total += flush() + 1
        return total + flush()

    def _finalseg_tokens(self, buffer: str) -> int:
        """``len(list(jieba.finalseg.cut(buffer)))``, the HMM's cut of a buffer, computed as it does:
        Chinese runs by the HMM (remembered: they repeat), the rest by its ``re_skip`` pieces."""
        total = 0
        for piece in _FINALSEG_HAN.split(buffer):
            if not piece:
                continue
            if _FINALSEG_HAN.fullmatch(piece):
                if len(piece) == 1:
                    total += 1
                    continue
                cached = self._hmm_cache.get(piece)
                if cached is None:
                    from jieba import finalseg

                    if len(self._hmm_cache) >= _SEGMENT_CACHE_SIZE:
                        self._hmm_cache.clear()
                    cached = self._hmm_cache[piece] = sum(1 for _ in finalseg.cut(piece))
                total += cached
            else:
                total += len(_FINALSEG_PIECE.findall(piece))
        return total

    @staticmethod
    def _special_blocks(joined: str) -> list[str]:
        """The blocks of ``joined`` (blocks separated by newlines) holding ASCII punctuation."""
        blocks: list[str] = []
        last_end = -1
        for match in _ASCII_PUNCT.finditer(joined):
            position = match.start()
            if position < last_end:
                continue
            start = joined.rfind("\n", 0, position) + 1
            end = joined.find("\n", position)
            end = len(joined) if end < 0 else end
            blocks.append(joined[start:end])
            last_end = end
        return blocks

    def _negated(self, window_text: str) -> bool:
        """Whether a negation character, not starting an exception word, is in ``window_text``."""
        chars = self.options.negation_chars
        exceptions = self.options.negation_exceptions
        for i, ch in enumerate(window_text):
            if ch in chars and not any(window_text.startswith(word, i) for word in exceptions):
                return True
        return False


def _preceding(text: str, start: int, window: int) -> str:
    """The ``window`` characters before ``start``, white space skipped (PDF lines break inside sentences)."""
    out: list[str] = []
    i = start - 1
    while i >= 0 and len(out) < window:
        ch = text[i]
        if not ch.isspace():
            out.append(ch)
        i -= 1
    return "".join(reversed(out))


def _finalseg_ascii_tokens(blocks: list[str], hmm: bool) -> int:
    """Tokens jieba makes of pure-ASCII blocks that hold no dictionary word (so every DAG step is one
    character and the whole block is one HMM buffer).

    With HMM, a buffer of 2+ characters that is not a word goes to ``finalseg.cut``, which splits
    it by ``[a-zA-Z0-9]+(?:\\.\\d+)?%?`` into matches and the pieces between them; a 1-character
    buffer is one token. Without HMM, runs of ASCII letters and digits stay together and every
    other character is its own token.
    """
    if not blocks:
        return 0
    joined = "\n".join(blocks)
    if hmm:
        return len(_FINALSEG_PIECE.findall(joined))
    return len(re.findall(r"[a-zA-Z0-9]+|[^a-zA-Z0-9\n]", joined))


def reference_counts(text: str, keywords: Sequence[str], hmm: bool = True, tokenizer: Any = None) -> tuple[dict[str, int], int]:
    """The plain loop jieba mode must equal: ``lcut`` the whole text, count keyword tokens.

    Returns (counts per keyword, word tokens). For tests and benchmarks: it is slow.
    """
    tokenizer = tokenizer or private_tokenizer(keywords)
    keyword_set = set(keywords)
    block = _jieba_block_regex()
    tokens = tokenizer.lcut(text, HMM=hmm)
    counts = Counter(t for t in tokens if t in keyword_set)
    return dict(counts), sum(1 for t in tokens if block.fullmatch(t))


def counts_by_dimension(counts: Mapping[str, int], keywords: Iterable[Keyword]) -> dict[str, int]:
    out: dict[str, int] = {}
    for k in keywords:
        out[k.dimension] = out.get(k.dimension, 0) + counts.get(k.word, 0)
    return out
