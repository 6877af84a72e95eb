"""Find the management discussion and analysis (MD&A) section of a Chinese annual report.

Its title changed with the CSRC disclosure rules:

* 董事会报告 (board of directors' report, up to the 2014 reports; MD&A is its first part),
* 管理层讨论与分析 (2015, and again from the 2021 reports on),
* 经营情况讨论与分析 (2016-2020 reports).

``extract_mdna`` finds the section's BODY heading ("第四节 经营情况讨论与分析" on a line of its own),
not its table-of-contents entry (dot leaders, a page number, or a cluster of section headings near
the start), nor a mention in running text ("详见第四节经营情况讨论与分析").  The section ends where the
next heading of the same level starts: the next 第X节 after a 第X节, the next 第X章 after a 第X章,
the next numeral after "八、董事会报告".
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# Title -> era it names.  Older reports also have a 管理层讨论与分析 part inside 董事会报告, as a
# lower-level heading; the section-level heading wins.
ERAS = {
    "董事会报告": "董事会报告 (-2014)",
    "管理层讨论与分析": "管理层讨论与分析 (2015, 2021-)",
    "经营情况讨论与分析": "经营情况讨论与分析 (2016-2020)",
}


@dataclass(frozen=True)
class MdnaSection:
    """``text[start:end]`` is the MD&A section, heading line included; ``era`` is one of ``ERAS``' values."""

    start: int
    end: int
    heading: str
    era: str


_CN_DIGITS = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
_NUMERAL = "[一二三四五六七八九十百零〇两\\d]+"

_TITLE = "|".join(ERAS)
# 第四节 / 第七章 / 八、 / nothing, then the title, then nothing but white space.
_HEADING = re.compile(
    rf"^\s*(?:(?P<section>第(?P<section_no>{_NUMERAL})(?P<unit>[节章]))|(?P<item_no>[一二三四五六七八九十]+)\s*[、.．])?"
    rf"\s*(?P<title>{_TITLE})\s*$"
)
_SECTION_HEADING = re.compile(rf"^\s*第(?P<no>{_NUMERAL})(?P<unit>[节章])")
_ITEM_HEADING = re.compile(r"^\s*(?P<no>[一二三四五六七八九十]+)\s*[、.．]")
# Table-of-contents entries: dot leaders or a page number at the end.
_TOC_ENTRY = re.compile(r"(?:\.{3,}|…{2,}|·{3,}|—{3,}|-{4,}|_{4,}|\s\d{1,4}\s*$|第\s*\d{1,4}\s*页\s*$)")
# A heading is a short line without sentence punctuation.
_MAX_HEADING_CHARS = 40
_SENTENCE_PUNCTUATION = re.compile("[，。；！？：,;]")
# Lines after a heading that are looked at to tell a table of contents from a body.
_TOC_LOOKAHEAD = 3


def chinese_numeral(numeral: str) -> int | None:
    """Value of a numeral like '十二', '二十一', '八' or '12'; None when it is not one."""
    if numeral.isdigit():
        return int(numeral)
    total, current = 0, 0
    for char in numeral:
        if char in _CN_DIGITS:
            current = _CN_DIGITS[char]
        elif char == "十":
            total += (current or 1) * 10
            current = 0
        elif char == "百":
            total += (current or 1) * 100
            current = 0
        else:
            return None
    return total + current


def _lines(text: str) -> list[tuple[int, str]]:
    """(start offset, line) for every line of ``text``."""
    result: list[tuple[int, str]] = []
    start = 0
    for line in text.split("\n"):
        result.append((start, line))
        start += len(line) + 1
    return result


def _is_heading_line(line: str) -> bool:
    stripped = line.strip()
    return (
        0 < len(stripped) <= _MAX_HEADING_CHARS
        and not _SENTENCE_PUNCTUATION.search(stripped)
        and not _TOC_ENTRY.search(stripped)
    )


def _in_toc(lines: list[tuple[int, str]], index: int) -> bool:
    """Whether the heading at ``lines[index]`` is one of a cluster of headings (a table of contents)."""
    following = [line for _, line in lines[index + 1 :] if line.strip()][:_TOC_LOOKAHEAD]
    listed = sum(1 for line in following if _TOC_ENTRY.search(line) or _SECTION_HEADING.match(line))
    return listed >= 2


def _level_rank(match: re.Match[str]) -> int:
    """Section-level headings (第X节/章) before numbered items (八、) before bare titles."""
    if match.group("section"):
        return 0
    if match.group("item_no"):
        return 1
    return 2


def _section_end(lines: list[tuple[int, str]], index: int, match: re.Match[str], text_length: int) -> int:
    """Offset where the section whose heading is ``lines[index]`` ends (the next same-level heading)."""
    if match.group("section"):
        unit = match.group("unit")
        number = chinese_numeral(match.group("section_no"))
        for offset, line in lines[index + 1 :]:
            found = _SECTION_HEADING.match(line)
            if not found or found.group("unit") != unit or not _is_heading_line(line):
                continue
            found_number = chinese_numeral(found.group("no"))
            if number is None or found_number is None or found_number > number:
                return max(offset - 1, 0)
    elif match.group("item_no"):
        number = chinese_numeral(match.group("item_no"))
        later: int | None = None
        for offset, line in lines[index + 1 :]:
            found = _ITEM_HEADING.match(line)
            if not found or not _is_heading_line(line) or number is None:
                continue
            found_number = chinese_numeral(found.group("no"))
            if found_number == number + 1:
                return max(offset - 1, 0)
            if later is None and found_number is not None and found_number > number + 1:
                later = offset
        if later is not None:
            return max(later - 1, 0)
        # Numbered items may also give way to a 第X节 section.
        for offset, line in lines[index + 1 :]:
            if _SECTION_HEADING.match(line) and _is_heading_line(line):
                return max(offset - 1, 0)
    else:
        for offset, line in lines[index + 1 :]:
            if _SECTION_HEADING.match(line) and _is_heading_line(line):
                return max(offset - 1, 0)
    return text_length


def extract_mdna(text: str) -> MdnaSection | None:
    """The MD&A section of an annual report's text, or None when no body heading is found."""
    lines = _lines(text)
    candidates: list[tuple[int, int, re.Match[str]]] = []
    for index, (_, line) in enumerate(lines):
        if not line or len(line) > 60:
            continue
        match = _HEADING.match(line)
        if match and not _in_toc(lines, index):
            candidates.append((_level_rank(match), index, match))
    if not candidates:
        return None
    # The highest-level body heading; among equals the first in the text.
    rank, index, match = min(candidates, key=lambda item: (item[0], item[1]))
    start = lines[index][0]
    end = _section_end(lines, index, match, len(text))
    # The line break before the next heading is not part of the section.
    end = max(start, min(end, len(text)))
    while end > start and text[end - 1] in "\n":
        end -= 1
    heading = lines[index][1].strip()
    start += len(lines[index][1]) - len(lines[index][1].lstrip())
    return MdnaSection(start=start, end=end, heading=heading, era=ERAS[match.group("title")])
