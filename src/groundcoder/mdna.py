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

# Era (the section's canonical title) -> the report years that used it.  Older reports also have a
# 管理层讨论与分析 part inside 董事会报告, as a lower-level heading; the section-level heading wins.
ERAS = {
    "董事会报告": "reports up to 2014",
    "管理层讨论与分析": "2015 reports, and 2021 on",
    "经营情况讨论与分析": "2016-2020 reports",
}


@dataclass(frozen=True)
class MdnaSection:
    """``text[start:end]`` is the MD&A section, heading included.

    ``heading`` is the heading as printed ("第四节 经营情况讨论与分析"); ``era`` is the canonical title
    it carries, a key of ``ERAS``: "董事会报告", "管理层讨论与分析" or "经营情况讨论与分析".
    """

    start: int
    end: int
    heading: str
    era: str


_CN_DIGITS = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
_NUMERAL = "[一二三四五六七八九十百零〇两\\d]+"

# Title variants seen in reports (董事局报告, 经营情况的讨论与分析), letter-spaced or not.
_TITLE_VARIANTS = {
    "董事会报告": ["董事[会局]报告"],
    "管理层讨论与分析": ["管理层讨论[与和及]分析"],
    "经营情况讨论与分析": ["经营情况的?讨论[与和及]分析"],
}


def _spaced(pattern: str) -> str:
    """``pattern`` with optional white space between its characters (headings are often letter-spaced)."""
    parts = re.findall(r"\[[^\]]+\]\??|.\??", pattern)
    return r"\s*".join(parts)


_TITLE = "|".join(
    f"(?P<t{index}>{'|'.join(_spaced(variant) for variant in variants)})"
    for index, variants in enumerate(_TITLE_VARIANTS.values())
)
_TITLE_KEYS = list(_TITLE_VARIANTS)
# 第四节 / 第七章 / 八、 / nothing, then the title, then nothing but white space.
_HEADING = re.compile(
    rf"^\s*(?:(?P<section>第(?P<section_no>{_NUMERAL})(?P<unit>[节章]))|(?P<item_no>[一二三四五六七八九十]+)\s*[、.．])?"
    rf"\s*(?P<title>{_TITLE})\s*$"
)
# A section number alone on its line, its title on the next (PDF text objects apart).
_SECTION_NUMBER_ALONE = re.compile(rf"^\s*(?P<section>第(?P<section_no>{_NUMERAL})(?P<unit>[节章]))\s*$")


def _title_key(match: re.Match[str]) -> str:
    for index, key in enumerate(_TITLE_KEYS):
        if match.group(f"t{index}"):
            return key
    raise AssertionError("a title group always matches")


_SECTION_HEADING = re.compile(rf"^\s*第(?P<no>{_NUMERAL})(?P<unit>[节章])")
_ITEM_HEADING = re.compile(r"^\s*(?P<no>[一二三四五六七八九十]+)\s*[、.．]")
# Table-of-contents entries: dot leaders or a page number at the end.
_TOC_ENTRY = re.compile(r"(?:\.{3,}|…{2,}|·{3,}|—{3,}|-{4,}|_{4,}|\s\d{1,4}\s*$|第\s*\d{1,4}\s*页\s*$)")
# A heading is a short line without sentence punctuation.
_MAX_HEADING_CHARS = 40
_SENTENCE_PUNCTUATION = re.compile("[，。；！？：,;]")
# Lines around a heading that are looked at to tell a table of contents from a body.
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


def _in_toc(lines: list[tuple[int, str]], first: int, last: int) -> bool:
    """Whether the heading on ``lines[first:last + 1]`` stands in a cluster of headings (a table of contents).

    It does when a line next to it is another heading or TOC entry, and at least two of the lines
    around it (two before, three after) are.
    """
    before = [line for _, line in lines[max(0, first - 4 * _TOC_LOOKAHEAD) : first] if line.strip()][-2:]
    after = [line for _, line in lines[last + 1 : last + 1 + 4 * _TOC_LOOKAHEAD] if line.strip()][:_TOC_LOOKAHEAD]

    def listed(line: str) -> bool:
        return bool(_TOC_ENTRY.search(line) or _SECTION_HEADING.match(line))

    neighbours = before[-1:] + after[:1]
    return any(listed(line) for line in neighbours) and sum(listed(line) for line in before + after) >= 2


@dataclass(frozen=True)
class _Heading:
    first_line: int  # index of the heading's first line (the section number, when on its own line)
    last_line: int
    level: str  # "section" (第X节/章), "item" (八、) or "bare" (the title alone)
    unit: str | None  # 节 or 章
    number: int | None
    title: str  # key of ERAS

    @property
    def rank(self) -> int:
        """Section-level headings before numbered items before bare titles."""
        return {"section": 0, "item": 1, "bare": 2}[self.level]


def _heading_at(lines: list[tuple[int, str]], index: int) -> _Heading | None:
    line = lines[index][1]
    if not line or len(line) > 60:
        return None
    match = _HEADING.match(line)
    if match is None:
        return None
    title = _title_key(match)
    if match.group("section"):
        return _Heading(index, index, "section", match.group("unit"), chinese_numeral(match.group("section_no")), title)
    if match.group("item_no"):
        return _Heading(index, index, "item", None, chinese_numeral(match.group("item_no")), title)
    previous = index - 1
    while previous >= 0 and not lines[previous][1].strip():
        previous -= 1
    alone = _SECTION_NUMBER_ALONE.match(lines[previous][1]) if previous >= 0 else None
    if alone:
        return _Heading(previous, index, "section", alone.group("unit"), chinese_numeral(alone.group("section_no")), title)
    return _Heading(index, index, "bare", None, None, title)


def _section_end(lines: list[tuple[int, str]], heading: _Heading, text_length: int) -> int:
    """Offset where the section under ``heading`` ends: where the next same-level heading starts."""
    following = lines[heading.last_line + 1 :]
    if heading.level == "section":
        for offset, line in following:
            found = _SECTION_HEADING.match(line)
            if not found or found.group("unit") != heading.unit or not _is_heading_line(line):
                continue
            found_number = chinese_numeral(found.group("no"))
            # A running header repeating this section's own heading does not end it.
            if heading.number is None or found_number is None or found_number > heading.number:
                return offset
        return text_length
    if heading.level == "item" and heading.number is not None:
        later: int | None = None
        for offset, line in following:
            found = _ITEM_HEADING.match(line)
            if not found or not _is_heading_line(line):
                continue
            found_number = chinese_numeral(found.group("no"))
            # Lists inside the section restart at 一、; the next section is the next numeral.
            if found_number == heading.number + 1:
                return offset
            if later is None and found_number is not None and found_number > heading.number + 1:
                later = offset
        if later is not None:
            return later
    # Bare titles (and numbered items without a successor) give way to the next 第X节/章.
    for offset, line in following:
        if _SECTION_HEADING.match(line) and _is_heading_line(line):
            return offset
    return text_length


def extract_mdna(text: str) -> MdnaSection | None:
    """The MD&A section of an annual report's text, or None when no body heading is found."""
    lines = _lines(text)
    candidates: list[_Heading] = []
    for index in range(len(lines)):
        heading = _heading_at(lines, index)
        if heading is not None and not _in_toc(lines, heading.first_line, heading.last_line):
            candidates.append(heading)
    if not candidates:
        return None
    # The highest-level body heading; among equals the first in the text.
    heading = min(candidates, key=lambda candidate: (candidate.rank, candidate.first_line))
    first_offset, first_line = lines[heading.first_line]
    start = first_offset + len(first_line) - len(first_line.lstrip())
    end = max(start, min(_section_end(lines, heading, len(text)), len(text)))
    # The line break before the next heading (and trailing white space) is not part of the section.
    while end > start and text[end - 1].isspace():
        end -= 1
    heading_text = " ".join(line.strip() for _, line in lines[heading.first_line : heading.last_line + 1])
    return MdnaSection(start=start, end=end, heading=heading_text, era=heading.title)
