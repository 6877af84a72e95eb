"""Text of a Word .docx: body paragraphs and tables in document order (python-docx).

Each paragraph is a line; each table row is a line with its cells apart by tabs (a merged cell
counts once).  Headers, footers, footnotes and text boxes are left out.

XML safety: python-docx parses with lxml and ``resolve_entities=False`` (no entity expansion, no
DTD loading, no network).  Word never writes entity declarations, so a package that holds one is
refused before python-docx sees it.
"""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

from ..errors import InputError

_RESAVE = "open it in Word or LibreOffice and save it again as .docx"
# A .docx that unpacks to more than this is a zip bomb or not a text document.
_MAX_UNPACKED_BYTES = 512 * 1024 * 1024
_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"


def _check_package(data: bytes, path: str | Path) -> None:
    if data.startswith(_OLE_MAGIC):
        raise InputError(
            path,
            "not a .docx package: an old binary .doc, or a password-protected Word file",
            hint="remove the password if there is one, and save it as .docx",
        )
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile:
        raise InputError(path, "corrupt .docx: not a zip package", hint=_RESAVE) from None
    with archive:
        infos = archive.infolist()
        unpacked = sum(info.file_size for info in infos)
        if unpacked > _MAX_UNPACKED_BYTES:
            raise InputError(
                path, f"the .docx unpacks to {unpacked / 2**20:.0f} MiB: too large to be a text document", hint=_RESAVE
            )
        for info in infos:
            if not info.filename.endswith((".xml", ".rels")):
                continue
            try:
                head = archive.read(info)
            except (zipfile.BadZipFile, OSError, ValueError) as exc:
                raise InputError(path, f"corrupt .docx: part {info.filename} cannot be unpacked ({exc})", hint=_RESAVE) from None
            if b"<!ENTITY" in head:
                raise InputError(
                    path,
                    f"part {info.filename} declares XML entities, which Word never writes; not read (it may be an XML attack)",
                    hint=_RESAVE,
                )


def read_docx_text(data: bytes, path: str | Path) -> str:
    """The text of the .docx in ``data`` (the bytes of ``path``)."""
    _check_package(data, path)
    import docx

    try:
        document = docx.Document(io.BytesIO(data))
    except Exception as exc:  # python-docx raises many kinds (KeyError, ValueError, XMLSyntaxError, ...)
        raise InputError(path, f"corrupt .docx: python-docx cannot open it ({type(exc).__name__}: {exc})", hint=_RESAVE) from None
    lines: list[str] = []
    _append_blocks(document.iter_inner_content(), lines)
    # A paragraph's own line breaks (w:br) split it further; empty paragraphs are dropped.
    # Tabs stay: they keep a row's cells in their columns.
    return "\n".join(line.strip(" \u3000\xa0") for line in "\n".join(lines).split("\n") if line.strip())


def _append_blocks(blocks, lines: list[str]) -> None:
    from docx.table import Table

    for block in blocks:
        if isinstance(block, Table):
            lines.extend(_table_rows(block))
        else:
            lines.append(block.text)


def _table_rows(table) -> list[str]:
    rows: list[str] = []
    for row in table.rows:
        cells: list[str] = []
        previous = None
        for cell in row.cells:
            # A merged cell appears once per grid column it spans.
            if previous is not None and cell._tc is previous:
                continue
            previous = cell._tc
            cells.append(_cell_text(cell))
        if any(cell.strip() for cell in cells):
            rows.append("\t".join(cells))
    return rows


def _cell_text(cell) -> str:
    parts: list[str] = []
    _append_blocks(cell.iter_inner_content(), parts)
    # A cell is one field of its row's line: its own paragraphs and rows are joined by spaces.
    return " ".join(part.replace("\t", " ").replace("\n", " ").strip() for part in parts if part.strip())
