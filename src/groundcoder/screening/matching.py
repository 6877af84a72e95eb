"""Leftmost-longest matching of many keywords: at the leftmost position where a keyword starts,
take the longest keyword starting there, then go on after it (移动互联网 once, not 移动互联 too).

Two engines with identical results (tested against each other and a brute-force scan):

* ``regex`` (default): the keywords as one trie-shaped regular expression, e.g.
  ``移动互联(?:网)?``, tried only where a keyword's first two characters stand (numpy table
  look-ups over the code points find those few places). At each start the trie has one branch per
  next character and tries the longer continuation before stopping, which is exactly the longest
  match there. Several times faster than pyahocorasick on a dictionary of 80 words, whose root
  node is searched child by child for every character of the text.
* ``ahocorasick``: every occurrence from pyahocorasick's ``iter``, then the longest at each start,
  left to right. (Its own ``iter_long`` is not used: in pyahocorasick 2.3 it still drops matches
  after a failed longer one, e.g. pyahocorasick issues #133 and #185; the tests found such cases.)
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator

import numpy as np

ENGINES = ("regex", "ahocorasick")
_PLANES = 0x110000
# Below this many characters the regex's own scan beats the prefilter's fixed numpy costs.
_PREFILTER_FROM = 15_000


def trie_pattern(words: Iterable[str]) -> str:
    """A regex matching, at any position, the longest of ``words`` that starts there."""
    trie: dict = {}
    for word in words:
        if not word:
            continue
        node = trie
        for ch in word:
            node = node.setdefault(ch, {})
        node[""] = {}

    def build(node: dict) -> str:
        ends_here = "" in node
        branches = [re.escape(ch) + build(child) for ch, child in sorted(node.items()) if ch]
        if not branches:
            return ""
        body = branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"
        if ends_here:
            # Greedy "?": the longer continuation is tried first, stopping here is the fallback.
            return f"(?:{body})?"
        return body

    return build(trie)


class LeftmostLongest:
    """Leftmost-longest, non-overlapping occurrences of ``words`` in a text."""

    def __init__(self, words: Iterable[str], engine: str = "regex") -> None:
        if engine not in ENGINES:
            raise ValueError(f"matching engine {engine!r} is not one of {', '.join(ENGINES)}")
        self.words = tuple(dict.fromkeys(w for w in words if w))
        self.engine = engine
        self._regex = re.compile(trie_pattern(self.words)) if self.words else None
        self._automaton = None
        if engine == "ahocorasick" and self.words:
            import ahocorasick

            automaton = ahocorasick.Automaton()
            for word in self.words:
                automaton.add_word(word, word)
            automaton.make_automaton()
            self._automaton = automaton
        # Prefilter: a keyword can only start where its first character is, followed by its second.
        self._first = np.zeros(_PLANES, dtype=bool)
        for word in self.words:
            self._first[ord(word[0])] = True
        self._first16 = self._first[:0x10000].copy()
        self._single = np.zeros(_PLANES, dtype=bool)  # one-character keywords need no second character
        for word in self.words:
            if len(word) == 1:
                self._single[ord(word)] = True
        self._has_single = bool(self._single.any())
        self._pairs = np.unique(np.array([_code(w[:2]) for w in self.words if len(w) > 1], dtype=np.uint64))
        # ...and, for keywords of three characters or more, its third (数据 is common, 数据挖 is not).
        self._complete_pairs = np.unique(np.array([_code(w) for w in self.words if len(w) == 2], dtype=np.uint64))
        self._triples = np.unique(np.array([_code(w[:3]) for w in self.words if len(w) > 2], dtype=np.uint64))

    def __bool__(self) -> bool:
        return bool(self.words)

    def starts(self, text: str, points: np.ndarray | None = None) -> np.ndarray:
        """Positions where a keyword may start: every true start is among them, few others are."""
        if points is None:
            points = np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype="<u4")
        if len(points) == 0:
            return np.zeros(0, dtype=np.int64)
        first = self._first16 if points.dtype.itemsize == 2 else self._first
        at = np.flatnonzero(first.take(points[:-1], mode="clip"))
        pairs = (points[at].astype(np.uint64) << np.uint64(21)) | points[at + 1].astype(np.uint64)
        keep = _member(pairs, self._pairs)
        at, pairs = at[keep], pairs[keep]
        if len(at):
            complete = _member(pairs, self._complete_pairs)
            third = np.minimum(at + 2, len(points) - 1)
            triples = (pairs << np.uint64(21)) | points[third].astype(np.uint64)
            # (at + 2 past the end: the clipped index repeats a character, which can only keep a
            # position that the exact match then rejects)
            at = at[complete | _member(triples, self._triples)]
        if self._has_single:
            at = np.union1d(at, np.flatnonzero(self._single.take(points, mode="clip")))
        return at

    def finditer(self, text: str, points: np.ndarray | None = None) -> Iterator[tuple[int, int, str]]:
        """(start, end, word) of each match, in text order. ``points``: the text's code points, if known."""
        if not self.words:
            return
        if self._automaton is not None:
            yield from self._leftmost_longest(self._automaton.iter(text))
            return
        if len(text) < _PREFILTER_FROM:
            for match in self._regex.finditer(text):  # type: ignore[union-attr]
                yield match.start(), match.end(), match.group()
            return
        match_at = self._regex.match  # type: ignore[union-attr]
        end = 0
        for start in self.starts(text, points).tolist():
            if start < end:
                continue  # inside the previous match
            match = match_at(text, start)
            if match is not None:
                end = match.end()
                yield start, end, match.group()

    @staticmethod
    def _leftmost_longest(occurrences: Iterable[tuple[int, str]]) -> Iterator[tuple[int, int, str]]:
        """From every occurrence (Aho-Corasick's ``iter``): the longest at each start, left to right,
        skipping those that overlap a chosen one."""
        longest: dict[int, str] = {}
        for last, word in occurrences:
            start = last - len(word) + 1
            if len(word) > len(longest.get(start, "")):
                longest[start] = word
        end = 0
        for start in sorted(longest):
            if start >= end:
                word = longest[start]
                end = start + len(word)
                yield start, end, word

    def search(self, text: str) -> bool:
        """Whether any of the words occurs in ``text`` (every occurrence lies in or starts a match)."""
        return bool(self.words) and self._regex.search(text) is not None  # type: ignore[union-attr]


def _member(values: np.ndarray, sorted_set: np.ndarray) -> np.ndarray:
    """``np.isin`` for a small sorted set, without isin's per-call sorting (reports are many)."""
    if not len(sorted_set):
        return np.zeros(len(values), dtype=bool)
    where = np.searchsorted(sorted_set, values)
    return sorted_set.take(where, mode="clip") == values


def _code(chars: str) -> int:
    """Up to three characters as one integer, 21 bits each (for the prefilter's look-ups)."""
    code = 0
    for ch in chars:
        code = (code << 21) | ord(ch)
    return code


def brute_force_leftmost_longest(words: Iterable[str], text: str) -> list[tuple[int, int, str]]:
    """The definition, slowly: for tests."""
    words = sorted({w for w in words if w}, key=len, reverse=True)
    out = []
    i = 0
    while i < len(text):
        for word in words:
            if text.startswith(word, i):
                out.append((i, i + len(word), word))
                i += len(word)
                break
        else:
            i += 1
    return out
