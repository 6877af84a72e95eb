"""The document every reader returns: its text, where it came from, and a map back to its pages."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ..cleaning import PageSpan, page_of

SOURCE_FORMATS = ("pdf", "text", "docx", "html")


@dataclass(frozen=True)
class Document:
    """One document, read.

    ``text`` is the document's text (for PDFs cleaned of running headers, page numbers and printer
    line breaks; see ``groundcoder.cleaning``), with ``\\n`` line breaks.  Offsets into it are code
    points (Python ``str`` indices).  ``pages`` holds, for a PDF, one ``PageSpan`` per page, tiling
    ``text``; it is empty for other formats.  ``encoding`` is the encoding used to decode a text or
    HTML file (None for PDF and docx).  ``sha256`` is the hash of the file's bytes.
    """

    path: Path
    text: str
    source_format: str
    encoding: str | None
    pages: list[PageSpan]
    sha256: str
    # Things the researcher should know about this file that did not stop the reading
    # (pages without text, running headers dropped).
    notes: list[str] = field(default_factory=list)

    def page_of(self, offset: int) -> int | None:
        """The 1-based page that ``text[offset]`` came from; None for non-paged formats or outside the text."""
        return page_of(self.pages, offset)

    @property
    def page_count(self) -> int:
        return len(self.pages)
