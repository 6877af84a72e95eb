"""The codebook: concepts -> initial categories -> main categories -> roles, plus stages.

Read a codebook with ``Codebook.load(path)`` (YAML or REFI-QDA .qdc) or ``Codebook.default()``;
write it with ``export_codebook(codebook, path)`` (.yaml, .qdc or .xlsx, by suffix).
"""

from __future__ import annotations

from pathlib import Path

from ..errors import InputError
from .model import (
    CONCEPT,
    INITIAL_CATEGORY,
    MAIN_CATEGORY,
    ROLE,
    STAGE,
    Codebook,
    CodebookError,
    CodebookProblem,
    Concept,
    ConceptPath,
    InitialCategory,
    MainCategory,
    Role,
    Stage,
    UnknownNameError,
)

EXPORT_SUFFIXES = (".yaml", ".yml", ".qdc", ".xlsx")


def load_codebook(path: str | Path) -> Codebook:
    """Same as ``Codebook.load``: YAML or .qdc by suffix."""
    return Codebook.load(path)


def export_codebook(codebook: Codebook, path: str | Path) -> Path:
    """Write the codebook as YAML, REFI-QDA .qdc or Excel, chosen by the suffix of ``path``."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix in {".yaml", ".yml"}:
        from .yaml_format import write_yaml

        return write_yaml(codebook, path)
    if suffix == ".qdc":
        from .qdc import write_qdc

        return write_qdc(codebook, path)
    if suffix == ".xlsx":
        from .excel import write_codebook_xlsx

        return write_codebook_xlsx(codebook, path)
    raise InputError(
        path,
        f"cannot export a codebook to a {suffix or 'suffix-less'} file",
        hint="name the output " + ", ".join(f"*{s}" for s in EXPORT_SUFFIXES),
    )


__all__ = [
    "CONCEPT",
    "INITIAL_CATEGORY",
    "MAIN_CATEGORY",
    "ROLE",
    "STAGE",
    "Codebook",
    "CodebookError",
    "CodebookProblem",
    "Concept",
    "ConceptPath",
    "InitialCategory",
    "MainCategory",
    "Role",
    "Stage",
    "UnknownNameError",
    "export_codebook",
    "load_codebook",
]
