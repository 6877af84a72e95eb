"""Split Chinese text into sentences and paragraphs with code-point offsets.

Sentences end at 。！？；, their ASCII forms ``!?;``, an ellipsis of two or more ``…`` and at line
breaks.  Marks that follow one another (``？！``, ``。。``) stay together, and so do closing quotes
and brackets right after the mark (``“……。”``, ``（……。）``).  A mark inside a quotation or
brackets ends nothing: the quoted passage stays whole (``他说：“我们要创新。我们要发展。”``).
Quotes and brackets are paired within their line; one left open is taken as a stray character, so
it can never swallow the rest of the text.

Paragraphs are the lines.  Every segment is stripped of surrounding white space, segments of
white space only are dropped, and ``text[s.start:s.end] == s.text`` always holds.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Segment:
    """``text[start:end]`` of the source text, code-point offsets; ``kind`` is 'sentence' or 'paragraph'."""

    start: int
    end: int
    text: str
    kind: str


_LINE_BREAK = re.compile(r"\r\n|[\n\r\u2028\u2029\x0b\x0c\x1c-\x1e\x85]")
_END_MARKS = "。！？；!?;"
_ELLIPSIS = "…"
_PAIRS = {
    "“": "”", "‘": "’", "「": "」", "『": "』", "（": "）", "(": ")", "【": "】", "《": "》",
    "〈": "〉", "〔": "〕", "［": "］", "[": "]", "｛": "｝", "{": "}", "﹁": "﹂", "﹃": "﹄",
}
_CLOSING = {closer: opener for opener, closer in _PAIRS.items()}
# The straight double quote opens and closes: within a line they pair in order.
_STRAIGHT = {'"', "＂"}
_TRAILING_CLOSERS = set(_CLOSING) | _STRAIGHT | {"'"}


def _line_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) of each line of ``text``, without its line break."""
    spans: list[tuple[int, int]] = []
    start = 0
    for match in _LINE_BREAK.finditer(text):
        spans.append((start, match.start()))
        start = match.end()
    spans.append((start, len(text)))
    return spans


_BRACKET = re.compile("[" + re.escape("".join(_PAIRS) + "".join(_CLOSING) + "".join(_STRAIGHT)) + "]")
# A sentence end: a mark, or an ellipsis of two or more, with the marks right after it (。。 ？！ ……。).
_MARK_RUN = re.compile(f"(?:[{re.escape(_END_MARKS)}]|{_ELLIPSIS}{{2,}})[{re.escape(_END_MARKS)}{_ELLIPSIS}]*")


def _pairs_in_line(text: str, start: int, end: int) -> dict[int, int]:
    """Matched brackets and quotes in ``text[start:end]``: opener offset -> closer offset."""
    matched: dict[int, int] = {}
    stack: list[tuple[str, int]] = []
    straight_open: dict[str, int] = {}
    for found in _BRACKET.finditer(text, start, end):
        char, index = found.group(), found.start()
        if char in _PAIRS:
            stack.append((char, index))
        elif char in _CLOSING:
            opener = _CLOSING[char]
            # Close the nearest matching opener; openers left inside it were strays.
            for depth in range(len(stack) - 1, -1, -1):
                if stack[depth][0] == opener:
                    matched[stack[depth][1]] = index
                    del stack[depth:]
                    break
        elif char in straight_open:
            matched[straight_open.pop(char)] = index
        else:
            straight_open[char] = index
    return matched


def _sentence_ends(text: str, start: int, end: int) -> list[int]:
    """Offsets just after each sentence end in the line ``text[start:end]``."""
    runs = list(_MARK_RUN.finditer(text, start, end))
    if not runs:
        return []
    matched = _pairs_in_line(text, start, end)
    opens = sorted(matched)
    closes = sorted(matched.values())
    closing = set(closes)
    ends: list[int] = []
    opened = closed = 0  # openers and closers before the current position
    for run in runs:
        stop = run.end()
        while opened < len(opens) and opens[opened] < run.start():
            opened += 1
        while closed < len(closes) and closes[closed] < run.start():
            closed += 1
        depth = opened - closed
        # Closers right after the marks belong to this sentence: “……。” and （……。）.
        while depth > 0 and stop < end and stop in closing:
            depth -= 1
            stop += 1
        if depth == 0:
            while stop < end and text[stop] in _TRAILING_CLOSERS and stop not in matched:
                stop += 1
            if not ends or stop > ends[-1]:
                ends.append(stop)
    return ends


def _stripped(text: str, start: int, end: int, kind: str) -> Segment | None:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    if start == end:
        return None
    return Segment(start, end, text[start:end], kind)


def split_sentences(text: str) -> list[Segment]:
    """The sentences of ``text``, in order, with code-point offsets."""
    segments: list[Segment] = []
    for line_start, line_end in _line_spans(text):
        start = line_start
        for stop in [*_sentence_ends(text, line_start, line_end), line_end]:
            segment = _stripped(text, start, stop, "sentence")
            if segment is not None:
                segments.append(segment)
            start = stop
    return segments


def split_paragraphs(text: str) -> list[Segment]:
    """The paragraphs of ``text`` (its non-blank lines), in order, with code-point offsets."""
    segments: list[Segment] = []
    for line_start, line_end in _line_spans(text):
        segment = _stripped(text, line_start, line_end, "paragraph")
        if segment is not None:
            segments.append(segment)
    return segments
