"""Extract the text of a PDF, page by page, with pypdfium2 (PDFium; Apache/BSD licensed).

PDFium is not thread-safe: read PDFs in parallel with processes, not threads.
"""

from __future__ import annotations

from pathlib import Path

import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_raw

from ..errors import InputError

_EXPORT_AGAIN = "export the PDF again from its source, or download it again"


def extract_pdf_pages(data: bytes, path: str | Path) -> list[str]:
    """The raw text of each page of the PDF in ``data`` (the bytes of ``path``), in page order.

    Raises ``InputError`` for an empty, corrupt or password-protected file.
    """
    if not data:
        raise InputError(path, "empty file (0 bytes)", hint=_EXPORT_AGAIN)
    if b"%PDF-" not in data[:1024]:
        raise InputError(path, "not a PDF: the file does not start with a PDF header", hint=_EXPORT_AGAIN)
    try:
        document = pdfium.PdfDocument(data)
    except pdfium.PdfiumError as exc:
        raise _open_error(path, exc) from None
    try:
        pages: list[str] = []
        for index in range(len(document)):
            try:
                page = document[index]
                textpage = page.get_textpage()
                pages.append(textpage.get_text_range())
            except pdfium.PdfiumError as exc:
                raise InputError(path, f"corrupt PDF: page {index + 1} cannot be read ({exc})", hint=_EXPORT_AGAIN) from None
            textpage.close()
            page.close()
        return pages
    finally:
        document.close()


def _open_error(path: str | Path, exc: pdfium.PdfiumError) -> InputError:
    code = getattr(exc, "err_code", None)
    if code == pdfium_raw.FPDF_ERR_PASSWORD:
        return InputError(
            path,
            "encrypted PDF: it needs a password to open",
            hint="remove the password or export an unencrypted copy (e.g. print to PDF), then read that",
        )
    if code == pdfium_raw.FPDF_ERR_SECURITY:
        return InputError(
            path,
            "PDF protected by a security handler PDFium does not support",
            hint="export an unprotected copy (e.g. print to PDF), then read that",
        )
    return InputError(path, f"corrupt PDF: PDFium cannot open it ({exc})", hint=_EXPORT_AGAIN)
