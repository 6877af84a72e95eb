"""Clean the text that PDF extraction gives for Chinese annual reports.

PDF text comes page by page, line by line, as the printer laid it out: every page repeats a running
header ("XX股份有限公司 2020 年年度报告全文") and a page number, and every paragraph is cut at the
right margin, often mid-word.  ``clean_pages`` turns the pages into one running text:

* page-number lines ("12", "- 12 -", "第12页", "12 / 230") at the top or bottom of a page are dropped;
  a bare number is only taken for a page number when many pages agree on its offset from the page
  index, so a lone number at the foot of a table stays;
* running headers/footers, lines that recur at the same place at the top or bottom of many pages
  (spaces and a page number they carry ignored), are dropped, from the page edge inwards;
* a line the printer broke mid-sentence is joined with the next (no space between Chinese
  characters): the line does not end a sentence (。！？；：…), runs (nearly) to the right margin, and
  the next line does not start a heading or list item;
* ``pages`` maps the cleaned text back to the pages: ``PageSpan(page_no, start, end)``, code-point
  offsets into ``text``, tiling it from 0 to ``len(text)``.

Everything is linear in the size of the text: pieces are collected in lists and joined once.
"""

from __future__ import annotations

import math
import re
from bisect import bisect_right
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field


@dataclass(frozen=True)
class PageSpan:
    """Code-point span ``text[start:end]`` of a document's text that came from page ``page_no`` (1-based)."""

    page_no: int
    start: int
    end: int


@dataclass(frozen=True)
class CleanedText:
    """Cleaned running text of a paged document and the page each part came from."""

    text: str
    pages: list[PageSpan]
    # One example of each running header/footer that was dropped, most frequent first (for reports).
    running_lines: list[str] = field(default_factory=list)
    page_number_lines: int = 0

    def page_of(self, offset: int) -> int | None:
        return page_of(self.pages, offset)


def page_of(pages: Sequence[PageSpan], offset: int) -> int | None:
    """The page that ``text[offset]`` came from; None outside the text (or when there are no pages)."""
    if not pages or offset < 0:
        return None
    # Spans tile the text; empty pages have zero width and share their start with the next page,
    # so the rightmost span starting at or before ``offset`` is the one that holds it.
    index = bisect_right(pages, offset, key=lambda span: span.start) - 1
    if index < 0:
        return None
    span = pages[index]
    return span.page_no if span.start <= offset < span.end else None


# --- character classes -------------------------------------------------------------------------

# Control characters PDF extraction leaves behind (pdfium: \x01 after headings, \x1f for a dash
# whose glyph has no Unicode value); they become spaces.  U+FFFE is pdfium's marker for a hyphen it found at a line break.
_CONTROL_TO_SPACE = {code: " " for code in [*range(0x00, 0x09), 0x0B, 0x0C, *range(0x0E, 0x20), 0x7F]}
_CHAR_FIXES = str.maketrans({**_CONTROL_TO_SPACE, 0xFFFE: "-", 0x200B: None, 0xFEFF: None, 0x00AD: None})
_SPACE_RUN = re.compile(r"[^\S\n]+")
# Wide characters take two columns on the page: CJK, fullwidth forms, Hangul, Extension B and up.
_WIDE_CHAR = re.compile("[\u1100-\u115f\u2e80-\u303e\u3040-\ua4cf\uac00-\ud7a3\uf900-\ufaff\ufe30-\ufe4f\uff00-\uff60\uffe0-\uffe6\U00020000-\U0003fffd]")

# A line ending one of these ends a sentence or clause: the break after it is a real one.
_SENTENCE_END = "。！？；：!?;:…"
_CLOSERS = "”’」』）)】》〕］]\"'"


def _is_wide(ch: str) -> bool:
    return bool(_WIDE_CHAR.match(ch))


def _width(line: str) -> int:
    return len(line) + len(_WIDE_CHAR.findall(line))


# --- page numbers ------------------------------------------------------------------------------

_DASHES = "-－—–~〜"
# Decorated forms are page numbers wherever they stand at a page edge.
_DECORATED_PAGE_NUMBER = re.compile(
    rf"""^(?:
        [{_DASHES}]\s*(?P<a>\d{{1,4}})\s*[{_DASHES}]                                   # - 12 -
      | 第\s*(?P<b>\d{{1,4}})\s*页(?:\s*[,，、/／]?\s*共\s*\d{{1,4}}\s*页)?               # 第12页(共230页)
      | 共\s*\d{{1,4}}\s*页\s*[,，、/／]?\s*第\s*(?P<c>\d{{1,4}})\s*页                     # 共230页 第12页
      | (?P<d>\d{{1,4}})\s*[/／]\s*\d{{1,4}}                                             # 12 / 230
      | (?:page|p\.)\s*(?P<e>\d{{1,4}})(?:\s*(?:of|/)\s*\d{{1,4}})?                       # Page 12 of 230
    )$""",
    re.VERBOSE | re.IGNORECASE,
)
# A bare number is a page number only where many pages agree on its offset from the page index.
_BARE_NUMBER = re.compile(r"^\d{1,4}$")

# Lines at each edge of a page that may hold a header, footer or page number.
_EDGE_LINES = 3


def _page_number_lines(pages: list[list[str]]) -> set[tuple[int, int]]:
    """(page index, line index) of the page-number lines."""
    found: set[tuple[int, int]] = set()
    bare: list[tuple[int, int, int]] = []
    for page_index, lines in enumerate(pages):
        for line_index in _edge_indices(len(lines)):
            line = lines[line_index]
            if _DECORATED_PAGE_NUMBER.match(line):
                found.add((page_index, line_index))
            elif _BARE_NUMBER.match(line):
                bare.append((page_index, line_index, int(line)))
    offsets = Counter(number - page_index for page_index, _, number in bare)
    support = max(2, min(5, math.ceil(0.1 * len(pages))))
    agreed = {offset for offset, count in offsets.items() if count >= support}
    found.update((p, i) for p, i, number in bare if number - p in agreed)
    return found


def _edge_indices(count: int) -> list[int]:
    top = list(range(min(_EDGE_LINES, count)))
    bottom = list(range(max(len(top), count - _EDGE_LINES), count))
    return top + bottom


# --- running headers and footers ---------------------------------------------------------------

_ANY_SPACE = re.compile(r"\s+")
# A header may carry the page number: "XX公司 2020 年年度报告 第 12 页", "XX年报 12 / 230".
_PAGE_NUMBER_IN_LINE = (
    r"(?:第\s*\d{1,4}\s*页(?:\s*[,，、/／]?\s*共\s*\d{1,4}\s*页)?|\d{1,4}\s*[/／]\s*\d{1,4}"
    rf"|[{_DASHES}]\s*\d{{1,4}}\s*[{_DASHES}])"
)
# Set apart by white space, so that body text like "第3页所述" is never taken for one.
_LEADING_PAGE_NUMBER = re.compile(rf"^{_PAGE_NUMBER_IN_LINE}\s+")
_TRAILING_PAGE_NUMBER = re.compile(rf"\s+{_PAGE_NUMBER_IN_LINE}$")


def _running_key(line: str) -> str:
    """What must repeat for a line to be running: the line without spaces and without a page number."""
    bare = _TRAILING_PAGE_NUMBER.sub("", _LEADING_PAGE_NUMBER.sub("", line))
    return _ANY_SPACE.sub("", bare) + ("#" if bare != line else "")


def _running_lines(pages: list[list[str]], skip: set[tuple[int, int]]) -> tuple[set[tuple[int, int]], list[str]]:
    """(page index, line index) of running headers/footers, and one example of each, most frequent first.

    A line is running when its key (spaces and any page number dropped) stands at the same place at
    a page edge (say, second from the top) on at least a quarter of the pages, or on nearly every
    page of a long run of pages (the header of one section, a footer under the financial
    statements).  Only lines at the very edge are dropped: a page's first lines down to the first
    line that is not running (page numbers aside), and its last lines likewise.
    """
    n_pages = len(pages)
    if n_pages < 2:
        return set(), []
    # key -> place at the edge ("top"/"bottom", rank from that edge) -> pages it stands there on
    where: dict[str, dict[tuple[str, int], set[int]]] = defaultdict(lambda: defaultdict(set))
    keys = [[_running_key(line) for line in lines] for lines in pages]
    example: dict[str, str] = {}
    for page_index, lines in enumerate(pages):
        kept = [i for i in range(len(lines)) if (page_index, i) not in skip]
        places = [("top", rank, i) for rank, i in enumerate(kept[:_EDGE_LINES])]
        places += [("bottom", rank, i) for rank, i in enumerate(reversed(kept[-_EDGE_LINES:]))]
        for side, rank, line_index in places:
            key = keys[page_index][line_index]
            if key:
                where[key][(side, rank)].add(page_index)
                example.setdefault(key, lines[line_index])
    everywhere = n_pages if n_pages <= 3 else max(3, math.ceil(0.25 * n_pages))
    running: dict[str, int] = {}
    for key, by_place in where.items():
        for page_set in by_place.values():
            count = len(page_set)
            spread = max(page_set) - min(page_set) + 1
            if count >= everywhere or (count >= _SECTION_RUN and count >= 0.7 * spread):
                running[key] = max(count, running.get(key, 0))

    marks: set[tuple[int, int]] = set()
    for page_index, lines in enumerate(pages):
        kept = [i for i in range(len(lines)) if (page_index, i) not in skip]
        for edge in (kept[:_EDGE_LINES], list(reversed(kept))[:_EDGE_LINES]):
            for line_index in edge:
                if keys[page_index][line_index] not in running:
                    break
                marks.add((page_index, line_index))
    ordered = sorted(running, key=lambda key: -running[key])
    return marks, [example[key] for key in ordered]


# Pages in a row that must share a line at the same edge place for it to be a section's running line.
_SECTION_RUN = 8


# --- joining lines broken by the printer -------------------------------------------------------

_CN_NUM = "一二三四五六七八九十百零〇两"
# Starts of headings and list items: 第四节, 一、, （一）, 1、, 1.2, ①, bullets, checkboxes.
_BLOCK_START = re.compile(
    rf"""^(?:
        第[{_CN_NUM}\d]+[节章部篇条款]
      | [{_CN_NUM}]+[、.．]
      | [（(][{_CN_NUM}\d]{{1,3}}[)）]
      | \d{{1,3}}(?:[.．]\d{{1,3}})*\s*[、）)]
      | \d{{1,3}}(?:[.．]\d{{1,3}})*[.．](?!\d)
      | [A-Za-z][、.．)）]\s*(?=\S)
      | [①-⑳⑴-⒇⒈-⒛❶-❿]
      | [•·●○■□◆◇▪►▶√※✓✔☑☐\-–—*]
      | [\ue000-\uf8ff]
      | 注\s*\d*\s*[:：]
      | 其中\s*[:：]
    )""",
    re.VERBOSE,
)


def starts_block(line: str) -> bool:
    """True when ``line`` starts a heading or a list item (第四节, 一、, （一）, 1、, ①, •, □)."""
    return bool(_BLOCK_START.match(line))


def _full_width(lines: list[str]) -> float | None:
    """The width of a full line (one that reaches the right margin), or None when too few lines say."""
    widths = sorted(_width(line) for line in lines)
    if len(widths) < 8:
        return None
    return widths[int(0.9 * (len(widths) - 1))]


# A line this close to a full line ran to the right margin: the printer broke it, not the author.
_FULL_LINE_RATIO = 0.75
# Without enough lines to know the margin, a heading is a short line that starts like one.
_SHORT_HEADING = 30


# A table row as PDF extraction gives it: several amounts ("2,713", "12.00%", "-") apart by spaces.
_AMOUNT = re.compile(r"[-+(（]?\d[\d,]*(?:\.\d+)?%?[)）]?|[-—–]")


def _is_table_row(line: str) -> bool:
    tokens = line.split(" ")
    if len(tokens) < 3 or not _AMOUNT.fullmatch(tokens[-1]):
        return False
    amounts = sum(1 for token in tokens if _AMOUNT.fullmatch(token) and not token.isdigit())
    return amounts >= 2


def _joins(line: str, next_line: str, full: float | None) -> bool:
    """Whether the break between ``line`` and ``next_line`` was made by the printer, mid-sentence."""
    tail = line.rstrip(_CLOSERS) or line
    if tail[-1] in _SENTENCE_END:
        return False
    if starts_block(next_line) or _is_table_row(line) or _is_table_row(next_line):
        return False
    if full is not None:
        return _width(line) >= _FULL_LINE_RATIO * full
    # Too little text to know the margin: join unless the line is a short heading.
    return not (starts_block(line) and len(line) <= _SHORT_HEADING and "，" not in line)


def _separator(left: str, right: str) -> str:
    # Chinese has no spaces between words; Latin words and numbers broken at the margin need one.
    return "" if _is_wide(left[-1]) or _is_wide(right[0]) else " "


# --- the whole pass ----------------------------------------------------------------------------


def _page_lines(page_text: str) -> list[str]:
    text = page_text.replace("\r\n", "\n").replace("\r", "\n").translate(_CHAR_FIXES)
    text = _SPACE_RUN.sub(" ", text)
    return [line.strip() for line in text.split("\n") if line.strip()]


def clean_pages(page_texts: Sequence[str]) -> CleanedText:
    """Clean the extracted text of each page (in order) into one text with a map back to pages."""
    pages = [_page_lines(text) for text in page_texts]
    numbers = _page_number_lines(pages)
    running, running_examples = _running_lines(pages, numbers)
    dropped = numbers | running
    kept = [[line for i, line in enumerate(lines) if (p, i) not in dropped] for p, lines in enumerate(pages)]

    all_lines = [line for lines in kept for line in lines]
    document_full = _full_width(all_lines)

    pieces: list[str] = []
    first_line_starts: list[int | None] = []
    position = 0
    previous: str | None = None
    previous_full: float | None = None
    for lines in kept:
        page_full = _full_width(lines) if len(lines) >= 12 else document_full
        first_line_start = None
        for line in lines:
            if previous is not None:
                separator = _separator(previous, line) if _joins(previous, line, previous_full) else "\n"
                pieces.append(separator)
                position += len(separator)
            if first_line_start is None:
                first_line_start = position
            pieces.append(line)
            position += len(line)
            previous, previous_full = line, page_full
        first_line_starts.append(first_line_start)
    text = "".join(pieces)

    # Each page runs to the start of the next page with text (the break between them is its own),
    # so the spans tile the text; a page left without text is an empty span where the next one starts.
    spans: list[PageSpan] = []
    next_start = len(text)
    for page_index in range(len(kept) - 1, -1, -1):
        start = first_line_starts[page_index]
        if start is None:
            spans.append(PageSpan(page_index + 1, next_start, next_start))
        else:
            spans.append(PageSpan(page_index + 1, start, next_start))
            next_start = start
    spans.reverse()
    return CleanedText(text=text, pages=spans, running_lines=running_examples, page_number_lines=len(numbers))
