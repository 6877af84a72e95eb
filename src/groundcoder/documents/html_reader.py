"""Text of an HTML page (stdlib ``html.parser``): scripts and styles dropped, blocks as lines.

Block elements (p, div, li, tr, h1-h6, br, ...) become line breaks and table cells are apart by
tabs.  Runs of white space collapse to one space, and a source line break between two Chinese
characters disappears (Chinese has no spaces between words; browsers do the same).  ``<pre>``
keeps its line breaks.
"""

from __future__ import annotations

import codecs
import re
from html.parser import HTMLParser
from pathlib import Path

from ..errors import InputError
from .text_reader import decode_text, looks_like_mojibake, normalise_newlines

_SKIPPED = {"script", "style", "noscript", "template", "svg", "math", "iframe", "object", "canvas"}
_VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "param", "source", "track", "wbr"}
_BLOCKS = {
    "address", "article", "aside", "blockquote", "body", "caption", "dd", "details", "dialog", "div", "dl", "dt",
    "fieldset", "figcaption", "figure", "footer", "form", "h1", "h2", "h3", "h4", "h5", "h6", "header", "hr",
    "html", "li", "main", "nav", "ol", "p", "pre", "section", "summary", "table", "tbody", "tfoot", "thead",
    "title", "tr", "ul", "br", "head",
}
_CELLS = {"td", "th"}

_WIDE = "\u2e80-\u303e\u3040-\ua4cf\uac00-\ud7a3\uf900-\ufaff\ufe30-\ufe4f\uff00-\uff60\uffe0-\uffe6\U00020000-\U0003fffd"
_WRAP_BETWEEN_CJK = re.compile(rf"(?<=[{_WIDE}])[^\S\n]*\n\s*(?=[{_WIDE}])")
_WHITE_RUN = re.compile(r"\s+")
_SPACES = re.compile(r"[^\S\t\n]+")
_META_CHARSET = re.compile(rb"""<meta[^>]*?charset\s*=\s*["']?\s*([A-Za-z0-9_.:\-]+)""", re.IGNORECASE)
# Pages labelled GB2312 or GBK routinely hold characters outside them; GB18030 reads them all.
_GB_LABELS = {"gb2312", "gbk", "x-gbk", "gb_2312-80", "cp936", "euc-cn", "csgb2312"}

# Markers of line breaks and cell breaks while parsing; turned into '\n' and '\t' at the end.
_LINE, _CELL = "\x00L", "\x00C"


class _TextExtractor(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.chunks: list[str] = []
        self.skipping: list[str] = []
        self.pre_depth = 0

    def handle_starttag(self, tag: str, attrs) -> None:
        if tag in _SKIPPED and tag not in _VOID:
            self.skipping.append(tag)
        elif tag in _BLOCKS:
            self.chunks.append(_LINE)
        elif tag in _CELLS:
            self.chunks.append(_CELL)
        if tag == "pre":
            self.pre_depth += 1

    def handle_startendtag(self, tag: str, attrs) -> None:
        if tag in _BLOCKS or tag == "br":
            self.chunks.append(_LINE)

    def handle_endtag(self, tag: str) -> None:
        if self.skipping and tag == self.skipping[-1]:
            self.skipping.pop()
            return
        if tag in _BLOCKS:
            self.chunks.append(_LINE)
        if tag == "pre" and self.pre_depth:
            self.pre_depth -= 1

    def handle_data(self, data: str) -> None:
        if self.skipping:
            return
        data = data.replace("\x00", "")  # NUL is the marker's first character; it is no text anyway
        if self.pre_depth:
            self.chunks.append(normalise_newlines(data).replace("\n", _LINE))
            return
        data = _WRAP_BETWEEN_CJK.sub("", data)
        self.chunks.append(_WHITE_RUN.sub(" ", data))


def html_to_text(markup: str) -> str:
    """The visible text of ``markup``: one line per block, cells apart by tabs, no empty lines."""
    parser = _TextExtractor()
    parser.feed(markup)
    parser.close()
    flat = "".join(parser.chunks).replace(_CELL, "\t").replace(_LINE, "\n")
    lines = (_SPACES.sub(" ", line).strip(" ") for line in flat.split("\n"))
    # Cells leave tabs at the start of a row; white space only is no line.
    return "\n".join(line.lstrip("\t") for line in lines if line.strip())


def decode_html(data: bytes, path: str | Path) -> tuple[str, str]:
    """Decode an HTML file: its byte-order mark, else its declared charset, else as a text file."""
    if not data:
        raise InputError(path, "empty file (0 bytes)", hint="save the page again; nothing to read here")
    declared = _META_CHARSET.search(data[:4096])
    has_bom = data.startswith((codecs.BOM_UTF8, codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE))
    if declared and not has_bom:
        label = declared.group(1).decode("ascii").lower()
        encoding = "gb18030" if label in _GB_LABELS else label
        try:
            codec = codecs.lookup(encoding).name
            text = data.decode(codec)
        except (LookupError, UnicodeDecodeError):
            pass  # a wrong or unknown label is common on the web: detect instead, and record what was used
        else:
            if not looks_like_mojibake(text):
                return normalise_newlines(text), codec
    return decode_text(data, path)
