"""``read_document``: read a PDF, text, Markdown, Word or HTML file into a ``Document``."""

from __future__ import annotations

import hashlib
from pathlib import Path

from ..cleaning import clean_pages
from ..errors import InputError
from .docx_reader import read_docx_text
from .html_reader import decode_html, html_to_text
from .model import Document
from .pdf_reader import extract_pdf_pages
from .text_reader import decode_text

# Suffix -> source format.
SUFFIXES = {".pdf": "pdf", ".txt": "text", ".md": "text", ".docx": "docx", ".html": "html", ".htm": "html"}

_SUFFIX_HINTS = {
    ".doc": "old binary Word file: open it in Word or LibreOffice and save it as .docx",
    ".wps": "WPS file: save it as .docx from WPS Office",
    ".rtf": "save it as .docx or .txt",
    ".xls": "spreadsheets are not documents to code; export the text as .txt",
    ".xlsx": "spreadsheets are not documents to code; export the text as .txt",
}


def read_document(path: str | Path) -> Document:
    """Read one document; the reader is chosen by the file's suffix.

    Raises ``InputError`` (naming the file, what is wrong and what to do) for a missing, empty,
    corrupt, encrypted or unsupported file, and for a file without text.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    source_format = SUFFIXES.get(suffix)
    if source_format is None:
        readable = ", ".join(sorted(SUFFIXES))
        raise InputError(
            path,
            f"cannot read files of type '{suffix or '(no suffix)'}'",
            hint=_SUFFIX_HINTS.get(suffix, f"groundcoder reads {readable}; convert the file to one of these"),
        )
    if not path.is_file():
        raise InputError(path, "no such file" if not path.exists() else "not a file", hint="check the path")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(path, f"cannot read the file ({exc.strerror or exc})", hint="check its permissions") from None
    if not data:
        raise InputError(path, "empty file (0 bytes)", hint="export or download the document again")
    sha256 = hashlib.sha256(data).hexdigest()

    encoding: str | None = None
    pages = []
    notes: list[str] = []
    if source_format == "pdf":
        page_texts = extract_pdf_pages(data, path)
        cleaned = clean_pages(page_texts)
        text, pages = cleaned.text, cleaned.pages
        if not text.strip():
            raise InputError(
                path,
                f"no extractable text in its {len(page_texts)} page(s): probably scanned images",
                hint="run OCR on it first (e.g. `ocrmypdf --language chi_sim in.pdf out.pdf`), then read the OCR'd copy",
            )
        blank = [span.page_no for span in pages if span.start == span.end]
        if blank:
            notes.append(f"{len(blank)} of {len(pages)} pages have no text (scanned or blank): {_page_list(blank)}")
        if cleaned.running_lines:
            notes.append("dropped running headers/footers: " + " | ".join(cleaned.running_lines[:5]))
    elif source_format == "docx":
        text = read_docx_text(data, path)
    elif source_format == "html":
        markup, encoding = decode_html(data, path)
        text = html_to_text(markup)
    else:
        text, encoding = decode_text(data, path)

    if not text.strip():
        raise InputError(path, "the file holds no text", hint="check that it is the document you meant")
    return Document(
        path=path,
        text=text,
        source_format=source_format,
        encoding=encoding,
        pages=pages,
        sha256=sha256,
        notes=notes,
    )


def _page_list(page_numbers: list[int], limit: int = 12) -> str:
    shown = ", ".join(str(n) for n in page_numbers[:limit])
    return shown + (f" and {len(page_numbers) - limit} more" if len(page_numbers) > limit else "")
