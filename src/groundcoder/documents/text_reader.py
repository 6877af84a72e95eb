"""Decode the bytes of a plain-text file: UTF-8 first, then the GB family, never a silent guess.

Order of trials, each strict:

1. a byte-order mark (UTF-8, UTF-16, UTF-32) decides;
2. NUL bytes without a byte-order mark mean a binary file (or UTF-16 without its mark): refused;
3. UTF-8, the cheap and usual case;
4. GB18030, the superset of GB2312 and GBK (real reports hold characters outside GBK), accepted
   when the result reads like Chinese: most of its non-ASCII characters are in GB2312's common set;
5. Big5 (traditional Chinese), when it reads as more common characters than GB18030 does.
   charset-normalizer names the likeliest other encoding in the error when nothing fits.

Whatever decodes must also look like text (few control characters, no replacement characters),
otherwise the file is refused with what was tried.  CRLF and lone CR become LF.
"""

from __future__ import annotations

import codecs
import re
from pathlib import Path

from ..errors import InputError

_BYTE_ORDER_MARKS = (
    # UTF-32 first: its little-endian mark starts with UTF-16's.
    (codecs.BOM_UTF32_LE, "utf-32", "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32", "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig", "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16", "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16", "utf-16"),
)

_SAVE_AS_UTF8 = "open it in a text editor and save it as UTF-8"

# Characters that do not occur in real text: C0/C1 controls other than tab, line breaks and form
# feed, the replacement character, lone surrogates and private-use characters.
_NOT_TEXT = re.compile("[\x00-\x08\x0e-\x1f\x7f-\x9f\ufffd\ud800-\udfff\ue000-\uf8ff]")
_MAX_NOT_TEXT_SHARE = 0.01

# Share of the non-ASCII characters of a GB18030 decoding that must be in GB2312 (the 6763 common
# hanzi and the usual punctuation) for the text to be Chinese rather than mojibake.  Real reports
# are above 0.99; UTF-8 or Big5 bytes read as GBK, or binary junk, are far below.
_MIN_GB2312_SHARE = 0.8

# Below this share of common characters in both GB18030 and Big5 decodings, the bytes are not Chinese
# text; a text with fewer non-ASCII characters than _TOO_FEW_TO_JUDGE is taken as GB18030 if it decodes.
_MIN_COMMON_SHARE = 0.5
_TOO_FEW_TO_JUDGE = 8

_BIG5_FAMILY = {"big5", "big5hkscs", "cp950"}
_GB_FAMILY = {"gb2312", "gbk", "gb18030", "hz", "cp936"}


def normalise_newlines(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _line_of(data: bytes, byte_offset: int) -> int:
    return data.count(b"\n", 0, byte_offset) + 1


def _not_text_share(text: str) -> float:
    if not text:
        return 0.0
    return len(_NOT_TEXT.findall(text)) / len(text)


def _strict(data: bytes, codec: str) -> str | None:
    try:
        return data.decode(codec)
    except UnicodeDecodeError:
        return None


def _first_bad_line(data: bytes, codec: str) -> int | None:
    try:
        data.decode(codec)
    except UnicodeDecodeError as exc:
        return _line_of(data, exc.start)
    return None


def _non_ascii(text: str) -> int:
    return len(text) - len(text.encode("ascii", errors="ignore"))


def _gb2312_share(text: str) -> float:
    """Share of the non-ASCII characters that GB2312 holds (its 6763 common hanzi and punctuation)."""
    non_ascii = _non_ascii(text)
    if non_ascii == 0:
        return 1.0
    # Each character GB2312 lacks becomes one '?': count them against the '?' already there.
    missing = text.encode("gb2312", errors="replace").count(b"?") - text.count("?")
    return 1.0 - missing / non_ascii


_BIG5_SAMPLE = 200_000


def _big5_common_share(text: str) -> float:
    """Share of the non-ASCII characters in Big5's punctuation and level-1 (common) hanzi rows."""
    common = total = 0
    for char in text[:_BIG5_SAMPLE]:
        if ord(char) < 0x80:
            continue
        total += 1
        encoded = char.encode("big5", errors="ignore")
        common += len(encoded) == 2 and 0xA1 <= encoded[0] <= 0xC6
    return common / total if total else 1.0


def looks_like_mojibake(text: str) -> bool:
    """True when ``text`` holds too many characters real text never holds (controls, U+FFFD, ...)."""
    return _not_text_share(text) > _MAX_NOT_TEXT_SHARE


def _refuse_if_not_text(text: str, path: str | Path, encoding: str) -> None:
    share = _not_text_share(text)
    if share > _MAX_NOT_TEXT_SHARE:
        raise InputError(
            path,
            f"decoded as {encoding} it is {share:.0%} control or replacement characters: not a text file",
            hint=f"if it is text, {_SAVE_AS_UTF8}; if it is a PDF or Word file, give it its right suffix",
        )


def decode_text(data: bytes, path: str | Path) -> tuple[str, str]:
    """Decode ``data`` (the bytes of ``path``) to text with LF line breaks; returns (text, encoding).

    Raises ``InputError`` naming ``path`` when the file is empty or no decoding is plausible.
    """
    if not data:
        raise InputError(path, "empty file (0 bytes)", hint="export the document again; nothing to read here")

    for mark, codec, name in _BYTE_ORDER_MARKS:
        if data.startswith(mark):
            try:
                text = data.decode(codec)
            except UnicodeDecodeError as exc:
                # utf-8-sig counts bytes after its mark; the other codecs count from the start.
                position = exc.start + (len(mark) if codec == "utf-8-sig" else 0)
                unit = name.upper().replace("-SIG", "")
                raise InputError(
                    path,
                    f"starts with a {unit} byte-order mark but is not valid {unit} (byte {position})",
                    line=_line_of(data, position) if codec == "utf-8-sig" else None,
                    hint=_SAVE_AS_UTF8,
                ) from None
            _refuse_if_not_text(text, path, name)
            return normalise_newlines(text.lstrip("\ufeff")), name

    if b"\x00" in data:
        zeros = data.count(b"\x00") / len(data)
        looks_utf16 = 0.3 < zeros < 0.7
        raise InputError(
            path,
            "contains NUL bytes: "
            + ("probably UTF-16 without a byte-order mark" if looks_utf16 else "a binary file, not text"),
            hint=_SAVE_AS_UTF8,
        )

    tried: list[str] = []
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        tried.append(f"not UTF-8 (bad byte at line {_line_of(data, exc.start)})")
    else:
        _refuse_if_not_text(text, path, "utf-8")
        return normalise_newlines(text), "utf-8"

    gb_text, gb_share = _strict(data, "gb18030"), 0.0
    if gb_text is None:
        tried.append(f"not GB18030/GBK (bad byte at line {_first_bad_line(data, 'gb18030')})")
    else:
        gb_share = _gb2312_share(gb_text)
        if gb_share >= _MIN_GB2312_SHARE and not looks_like_mojibake(gb_text):
            return normalise_newlines(gb_text), "gb18030"
    # Big5 is GBK's only real rival (the same byte ranges): the decoding with more common
    # characters wins, and a tie goes to GB, since the firms studied are mainland firms.
    big5_text = _strict(data, "big5")
    big5_share = _big5_common_share(big5_text) if big5_text is not None else 0.0
    if gb_text is not None and not looks_like_mojibake(gb_text) and gb_share >= big5_share:
        if gb_share >= _MIN_COMMON_SHARE or _non_ascii(gb_text) < _TOO_FEW_TO_JUDGE:
            return normalise_newlines(gb_text), "gb18030"
    if big5_text is not None and not looks_like_mojibake(big5_text) and big5_share >= _MIN_COMMON_SHARE:
        if big5_share > gb_share:
            return normalise_newlines(big5_text), "big5"
    if gb_text is not None:
        tried.append(f"decoded as GB18030 it does not read as Chinese (only {gb_share:.0%} common characters)")

    from charset_normalizer import from_bytes

    best = from_bytes(data).best()
    if best is not None and best.encoding.startswith("utf_16"):
        tried.append("it looks like UTF-16 without a byte-order mark")
    elif best is not None and best.encoding not in _GB_FAMILY and best.encoding not in _BIG5_FAMILY:
        tried.append(f"the best other guess, {best.encoding}, is not a Chinese encoding")
    raise InputError(
        path,
        "cannot tell how this text is encoded: " + "; ".join(tried),
        hint=f"{_SAVE_AS_UTF8}; if it is not text at all, it does not belong here",
    )
