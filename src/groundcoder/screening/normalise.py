"""Text normalisation for `fast` mode: NFKC, white space removed, ASCII lower-cased.

``normalise_text`` is the definition. ``FastNormaliser`` gives the same matches at ~10x the speed:
``unicodedata.normalize`` runs at ~10 MB/s on Chinese reports, because every full-width comma is
a compatibility character. But a character whose NFKC form is one character, outside every keyword
(and the negation words), with no combining behaviour, can be left as it is: it can neither be part
of a match nor a negation, and keeps every position where it is. Only the rare characters that
matter (full-width letters and digits, Kangxi radicals, compatibility ideographs, circled digits,
combining marks, non-ASCII white space) are normalised, each run together with the character before
it, which is exactly what NFKC does at its stable boundaries. The per-character work is numpy
table look-ups over the text's code points.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

import numpy as np

_ASCII_UPPER = re.compile("[A-Z]+")

# Flags per code point.
_WHITESPACE = 1
_HAN = 2  # CJK ideographs U+3400-U+4DBF, U+4E00-U+9FFF: the "is this Chinese" share
_UPPER = 4  # ASCII A-Z
_VARIANT = 8  # NFKC changes it, or it can combine with its neighbour: may need NFKC
_PLANES = 0x110000


def normalise_text(text: str) -> str:
    """NFKC, white space removed, ASCII lower-cased: the form `fast` mode matches in.

    PDF extraction breaks lines inside words, so white space is removed before matching; NFKC maps
    full-width letters and digits (ＮＦＣ) to ASCII; only ASCII is lower-cased because the Chinese
    keywords have no case and other scripts' case rules could change the text's length.
    """
    text = unicodedata.normalize("NFKC", text)
    text = "".join(text.split())
    return _ASCII_UPPER.sub(lambda m: m.group().lower(), text)


@lru_cache(maxsize=1)
def _base_table() -> tuple[np.ndarray, dict[int, str], frozenset[int]]:
    """Flags for every code point; the NFKC form of each character NFKC changes; the characters
    that can compose with the one before them."""
    flags = np.zeros(_PLANES, dtype=np.uint8)
    for ch in " \t\n\x0b\x0c\r\x1c\x1d\x1e\x1f\x85\xa0\u1680\u2028\u2029\u202f\u205f\u3000":
        flags[ord(ch)] |= _WHITESPACE
    flags[0x2000:0x200B] |= _WHITESPACE
    flags[0x3400:0x4DC0] |= _HAN
    flags[0x4E00:0xA000] |= _HAN
    flags[ord("A") : ord("Z") + 1] |= _UPPER
    mapped: dict[int, str] = {}
    # The second characters of canonical pairs, combining marks, and Hangul jamo (which compose
    # algorithmically): NFKC may merge them into the character before.
    composing: set[int] = set(range(0x1100, 0x1200)) | set(range(0xA960, 0xA980)) | set(range(0xD7B0, 0xD800))
    for code in range(0x30000):  # no decompositions above the CJK compatibility supplement
        if 0xD800 <= code < 0xE000:
            continue
        ch = chr(code)
        if unicodedata.combining(ch):
            composing.add(code)
        decomposition = unicodedata.decomposition(ch)
        if not decomposition:
            continue
        if not decomposition.startswith("<"):
            parts = decomposition.split()
            if len(parts) == 2:
                composing.add(int(parts[1], 16))
        form = unicodedata.normalize("NFKC", ch)
        if form != ch:
            mapped[code] = form
    for code in (*composing, *mapped):
        flags[code] |= _VARIANT
    # Non-ASCII white space goes through the slow path too (NFKC maps most of it to a space).
    for code in np.flatnonzero(flags & _WHITESPACE):
        if code > 0x7F:
            flags[code] |= _VARIANT
    return flags, mapped, frozenset(composing)


@lru_cache(maxsize=8)
def _table_for(alphabet: frozenset[str] | None) -> np.ndarray:
    """The flags with ``_VARIANT`` cleared for the characters that cannot matter for ``alphabet``:
    NFKC maps them to one character outside the alphabet that is no white space and takes part in
    no composition, so leaving them unnormalised changes no match and no position."""
    base, mapped, composing = _base_table()
    if alphabet is None:
        return base
    flags = base.copy()
    for code, form in mapped.items():
        if len(form) != 1 or code in composing or ord(form) in composing:
            continue
        if form.isspace() or base[code] & _WHITESPACE:
            continue
        if (form.lower() if form.isascii() else form) in alphabet or form in alphabet:
            continue
        flags[code] &= np.uint8(~_VARIANT & 0xFF)
    return flags


class FastNormaliser:
    """Normalise texts for matching words made of ``alphabet`` (None: exactly ``normalise_text``)."""

    def __init__(self, alphabet: set[str] | frozenset[str] | None = None) -> None:
        self.alphabet = None if alphabet is None else frozenset(alphabet)
        self._flags = _table_for(self.alphabet)
        self._flags16 = self._flags[:0x10000].copy()  # texts without astral characters: 64 KB tables
        lower = np.arange(_PLANES, dtype=np.uint32)
        lower[ord("A") : ord("Z") + 1] += 32
        self._lower = lower
        self._lower16 = lower[:0x10000].astype(np.uint16)

    def normalise(self, text: str) -> tuple[str, int, int]:
        """(normalised text, characters other than white space, CJK ideographs) of ``text``."""
        normalised, _points, characters, han = self.normalise_points(text)
        return normalised, characters, han

    def normalise_points(self, text: str) -> tuple[str, np.ndarray, int, int]:
        """Like ``normalise``, plus the normalised text's code points (for the matcher's prefilter)."""
        units = np.frombuffer(text.encode("utf-16-le", "surrogatepass"), dtype="<u2")
        if len(units) == len(text):  # no character beyond U+FFFF: UTF-16 units are code points
            result = self._normalise(text, units, self._flags16, self._lower16, "utf-16-le")
            if result is not None:
                return result
        points = np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype="<u4")
        result = self._normalise(text, points, self._flags, self._lower, "utf-32-le")
        assert result is not None
        return result

    def _normalise(self, text: str, points: np.ndarray, table: np.ndarray, lower: np.ndarray, codec: str):
        flags = table.take(points, mode="clip")  # take: several times faster than table[points]
        characters = len(text) - int(np.count_nonzero(flags & _WHITESPACE))
        han = int(np.count_nonzero(flags & _HAN))
        variants = np.flatnonzero(flags & _VARIANT)
        if len(variants):
            spliced = self._normalise_variants(text, points, flags, variants, table, codec)
            if spliced is None:
                return None  # NFKC made an astral character: redo in UTF-32
            points, flags = spliced
        points = lower.take(points[(flags & _WHITESPACE) == 0], mode="clip")
        return points.tobytes().decode(codec, "surrogatepass"), points, characters, han

    @staticmethod
    def _normalise_variants(text, points, flags, positions, table, codec):
        """NFKC each run of variant characters together with the character before it; splice the
        results into the code points (the rest of the text is left as it is)."""
        breaks = np.flatnonzero(np.diff(positions) != 1)
        starts = np.concatenate(([positions[0]], positions[breaks + 1])).tolist()
        ends = (np.concatenate((positions[breaks], [positions[-1]])) + 1).tolist()
        point_parts: list[np.ndarray] = []
        flag_parts: list[np.ndarray] = []
        last = 0
        width = 2 if codec == "utf-16-le" else 4
        for start, end in zip(starts, ends):
            begin = max(start - 1, last)
            point_parts.append(points[last:begin])
            flag_parts.append(flags[last:begin])
            form = unicodedata.normalize("NFKC", text[begin:end])
            encoded = np.frombuffer(form.encode(codec, "surrogatepass"), dtype=points.dtype)
            if width == 2 and len(encoded) != len(form):
                return None
            point_parts.append(encoded)
            flag_parts.append(table.take(encoded, mode="clip"))
            last = end
        point_parts.append(points[last:])
        flag_parts.append(flags[last:])
        return np.concatenate(point_parts), np.concatenate(flag_parts)


_HAN_CHAR = re.compile("[\u3400-\u4dbf\u4e00-\u9fff]")  # the _HAN flag's ranges
_SMALL_TEXT = 20_000  # characters: below this, numpy's fixed costs outweigh its speed


def text_stats(text: str) -> tuple[int, int]:
    """(characters other than white space, CJK ideographs) of ``text``."""
    if len(text) < _SMALL_TEXT:
        # str.split() splits on exactly the _WHITESPACE characters
        return sum(map(len, text.split())), len(_HAN_CHAR.findall(text))
    flags = _base_table()[0].take(np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype="<u4"), mode="clip")
    counts = np.bincount(flags, minlength=16)
    index = np.arange(16)
    return len(text) - int(counts[(index & _WHITESPACE) != 0].sum()), int(counts[(index & _HAN) != 0].sum())
