"""User-facing errors.

Every error a researcher can cause with their input (a file, a row, a label) is an ``InputError``
that names the file and, where it applies, the line or row, says what is wrong, and what to do.
The CLI prints these without a traceback; anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

from pathlib import Path


class GroundcoderError(Exception):
    """Base class of the errors groundcoder raises on purpose."""


class InputError(GroundcoderError):
    """Bad input: names the file (and line or row), what is wrong and, where known, what to do."""

    def __init__(
        self,
        path: str | Path | None,
        message: str,
        *,
        line: int | None = None,
        row: int | None = None,
        column: str | None = None,
        hint: str | None = None,
    ) -> None:
        self.path = None if path is None else Path(path)
        self.message = message
        self.line = line
        self.row = row
        self.column = column
        self.hint = hint
        super().__init__(self.__str__())

    def __str__(self) -> str:
        where = str(self.path) if self.path is not None else "<input>"
        if self.line is not None:
            where += f", line {self.line}"
        if self.row is not None:
            where += f", row {self.row}"
        if self.column is not None:
            where += f", column {self.column!r}"
        text = f"{where}: {self.message}"
        if self.hint:
            text += f" ({self.hint})"
        return text


class NotBuiltError(GroundcoderError):
    """A workflow step that this version of groundcoder does not implement yet."""
