"""Source texts: decoding, normalisation (no BOM, LF) and mapping positions onto the normalised text.

REFI-QDA 1.5, section 10.2: a text selection is given by code points *in the file*, the first being
0. A file that starts with a byte-order mark or has CRLF line breaks therefore counts the BOM and the
CRs, and groundcoder, which keeps texts without BOM and with LF, shifts the positions. Vendors do not
all follow this: some count positions in the text after they dropped the BOM or the CRs, and .NET or
Java programs may count UTF-16 code units, in which a character outside the Basic Multilingual Plane
(𠀀, emoji) counts twice. ``OffsetBasis`` names each way of counting, and ``OffsetMap`` turns a position
counted that way into a code point of the normalised text.
"""

from __future__ import annotations

import itertools
import re
import unicodedata
from array import array
from dataclasses import dataclass

_BOMS = (
    (b"\xef\xbb\xbf", "utf-8", "utf-8-sig"),
    (b"\xff\xfe\x00\x00", "utf-32-le", "utf-32-le"),
    (b"\x00\x00\xfe\xff", "utf-32-be", "utf-32-be"),
    (b"\xff\xfe", "utf-16-le", "utf-16-le"),
    (b"\xfe\xff", "utf-16-be", "utf-16-be"),
)

# Characters XML 1.0 cannot carry (in attributes or element text).
_XML_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")


class DecodeError(ValueError):
    pass


def decode_source(data: bytes) -> tuple[str, str]:
    """Bytes of a source file -> (raw text, encoding). The raw text keeps a BOM as U+FEFF and its CRs."""
    for mark, codec, name in _BOMS:
        if data.startswith(mark):
            try:
                return "\ufeff" + data[len(mark) :].decode(codec), name
            except UnicodeDecodeError as exc:
                raise DecodeError(f"starts with a {codec.upper()} byte-order mark but is not valid {codec.upper()}: {exc.reason}") from None
    if b"\x00" in data:
        # UTF-16 without a BOM: in CJK text not every other byte is NUL, so look at where NULs are.
        even = data[0::2].count(0)
        odd = data[1::2].count(0)
        if len(data) % 2 == 0 and (even or odd):
            codec = "utf-16-be" if even > odd else "utf-16-le"
            try:
                text = data.decode(codec)
            except UnicodeDecodeError:
                pass
            else:
                if "\x00" not in text:
                    return text, codec
        raise DecodeError("contains NUL bytes: not a text file in UTF-8 or UTF-16")
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError as exc:
        utf8_error = exc
    try:
        return data.decode("gb18030"), "gb18030"
    except UnicodeDecodeError:
        raise DecodeError(f"is neither UTF-8 (bad byte at {utf8_error.start}) nor GB18030") from None


def normalise(raw: str) -> str:
    """No leading BOM, LF line breaks (CRLF and lone CR become LF)."""
    if raw.startswith("\ufeff"):
        raw = raw[1:]
    if "\r" in raw:
        raw = raw.replace("\r\n", "\n").replace("\r", "\n")
    return raw


def xml_safe(text: str) -> str:
    """``text`` with the characters XML 1.0 cannot carry replaced by spaces."""
    return _XML_ILLEGAL.sub(" ", text)


@dataclass(frozen=True)
class OffsetBasis:
    """How a file counted positions: with or without the BOM and the CRs of CRLF, in code points or UTF-16 units."""

    count_bom: bool = True
    count_cr: bool = True
    utf16: bool = False

    def describe(self) -> str:
        if self == OffsetBasis():
            return "code points in the file (REFI-QDA 10.2)"
        parts = ["UTF-16 code units" if self.utf16 else "code points"]
        if not self.count_bom:
            parts.append("BOM not counted")
        if not self.count_cr:
            parts.append("CRLF counted as one")
        return ", ".join(parts)


STANDARD_BASIS = OffsetBasis()


def candidate_bases(raw: str) -> list[OffsetBasis]:
    """The ways of counting that give different positions for this text; the standard's first."""
    has_bom = raw.startswith("\ufeff")
    has_crlf = "\r\n" in raw
    has_astral = any(ord(ch) > 0xFFFF for ch in raw) if not raw.isascii() else False
    options = [
        (True, False) if has_bom else (True,),
        (True, False) if has_crlf else (True,),
        (False, True) if has_astral else (False,),
    ]
    return [OffsetBasis(b, c, u) for b, c, u in itertools.product(*options)]


class OffsetMap:
    """Positions counted in ``raw`` by ``basis`` -> code points of ``normalise(raw)``.

    ``map(pos)`` is None for a position outside the text or inside a character (the second
    UTF-16 unit of a surrogate pair).
    """

    def __init__(self, raw: str, basis: OffsetBasis = STANDARD_BASIS) -> None:
        self.basis = basis
        self.length = len(normalise(raw))
        needs_table = raw.startswith("\ufeff") or "\r" in raw or (basis.utf16 and not raw.isascii() and any(ord(c) > 0xFFFF for c in raw))
        self._table: array | None = None
        if not needs_table:
            return
        table = array("l")
        n = 0
        last = len(raw) - 1
        for i, ch in enumerate(raw):
            if i == 0 and ch == "\ufeff":
                if basis.count_bom:
                    table.append(n)
                continue
            if ch == "\r" and i < last and raw[i + 1] == "\n":
                if basis.count_cr:
                    table.append(n)  # a position on the CR is the line break's position
                continue
            table.append(n)
            if basis.utf16 and ord(ch) > 0xFFFF:
                table.append(-1)
            n += 1
        table.append(n)
        self._table = table

    def map(self, pos: int) -> int | None:
        if self._table is None:
            return pos if 0 <= pos <= self.length else None
        if not 0 <= pos < len(self._table):
            return None
        value = self._table[pos]
        return None if value < 0 else value

    def unmap(self, pos: int) -> int:
        """Normalised code point -> position in this basis (the first that maps to it)."""
        if self._table is None:
            return pos
        import bisect

        # The table is non-decreasing apart from -1 markers; search a copy without them only when needed.
        index = bisect.bisect_left(_Positive(self._table), pos)
        return index


class _Positive:
    """Read-only view of a table where -1 markers read as the value before them (non-decreasing)."""

    def __init__(self, table: array) -> None:
        self._t = table

    def __len__(self) -> int:
        return len(self._t)

    def __getitem__(self, i: int) -> int:
        value = self._t[i]
        return self._t[i - 1] if value < 0 else value


def squash(text: str) -> str:
    """For comparing a selection's name with its text: NFC, no whitespace, no XML-illegal characters."""
    text = unicodedata.normalize("NFC", xml_safe(text))
    return "".join(text.split())


_ELLIPSES = ("…", "...", "⋯")


def name_matches(name: str, text: str) -> bool | None:
    """Is ``name`` the selected ``text`` (whitespace aside, possibly cut short with an ellipsis)?

    None when there is no name to compare.
    """
    n = squash(name)
    if not n:
        return None
    t = squash(text)
    if n == t:
        return True
    for ellipsis in _ELLIPSES:
        if n.endswith(ellipsis):
            stem = n[: -len(ellipsis)]
            if stem and t.startswith(stem):
                return True
    # Cut short without an ellipsis (some tools keep the first N characters).
    return len(n) >= 10 and t.startswith(n)
