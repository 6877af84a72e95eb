"""Atomic file output: a crash mid-write never leaves a half-written file that looks complete.

Everything groundcoder writes for the user goes through ``atomic_write`` (or ``atomic_path`` for
libraries that insist on writing to a path themselves): the data goes to a temporary file in the
same folder, is flushed to disk, and only then renamed over the target, which is atomic on POSIX
and Windows.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any


@contextlib.contextmanager
def atomic_path(target: str | Path, suffix: str | None = None) -> Iterator[Path]:
    """Yield a temporary path beside ``target``; on success it replaces ``target`` atomically."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(
        prefix=f".{target.name}.", suffix=suffix if suffix is not None else ".part", dir=target.parent
    )
    os.close(fd)
    tmp = Path(tmp_name)
    # mkstemp creates 0600 files; the user expects their umask, like any other file they write.
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)
    try:
        yield tmp
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    finally:
        if tmp.exists():
            tmp.unlink()


@contextlib.contextmanager
def atomic_write(
    target: str | Path, mode: str = "w", encoding: str | None = "utf-8", newline: str | None = None
) -> Iterator[IO[Any]]:
    """Open a temporary file for writing; it replaces ``target`` only if the block succeeds."""
    if "b" in mode:
        encoding = None
    with atomic_path(target) as tmp:
        with open(tmp, mode, encoding=encoding, newline=newline) as fh:
            yield fh


def write_text(target: str | Path, text: str, encoding: str = "utf-8") -> Path:
    with atomic_write(target, "w", encoding=encoding, newline="") as fh:
        fh.write(text)
    return Path(target)


def write_bytes(target: str | Path, data: bytes) -> Path:
    with atomic_write(target, "wb") as fh:
        fh.write(data)
    return Path(target)


def write_json(target: str | Path, obj: Any) -> Path:
    import json

    return write_text(target, json.dumps(obj, ensure_ascii=False, indent=2, default=str) + "\n")
