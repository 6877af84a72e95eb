"""Reading Chinese firm documents: PDF (pypdfium2), plain text, Markdown, Word .docx and HTML.

    from groundcoder.documents import read_document
    doc = read_document("reports/000004_2020.pdf")
    doc.text, doc.pages, doc.page_of(offset), doc.encoding, doc.sha256

Offsets are code points (``str`` indices): ``doc.text[start:end]`` is a span.
"""

from ..cleaning import CleanedText, PageSpan, clean_pages
from .model import SOURCE_FORMATS, Document
from .reader import SUFFIXES, read_document
from .text_reader import decode_text

__all__ = [
    "SOURCE_FORMATS",
    "SUFFIXES",
    "CleanedText",
    "Document",
    "PageSpan",
    "clean_pages",
    "decode_text",
    "read_document",
]
