"""Reading untrusted REFI-QDA files safely: XML without entities, archives without escapes or bombs.

A ``.qdpx`` comes from another program, often another person: it is treated as hostile until read.

* XML is parsed with defusedxml and ``forbid_dtd=True``: no DOCTYPE at all, so no entity expansion
  (billion laughs) and no external entities or DTDs (XXE). REFI-QDA files use XML Schema and never
  need a DTD.
* Archive member names are checked before anything is read: absolute paths (``/x``, ``\\x``,
  ``C:x``), ``..`` components, NUL bytes, symbolic links, duplicate names and encrypted members
  refuse the whole archive, with the offending name in the message.
* The declared uncompressed size of all members together is checked against a limit before any
  member is decompressed (zip bomb), and every read is bounded by the member's declared size, so a
  member that lies about its size is refused too.
* ``safe_extract`` writes members only below its target folder (resolved and checked again per
  member), atomically per file.
"""

from __future__ import annotations

import stat
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from xml.etree.ElementTree import Element, ParseError

import defusedxml
import defusedxml.ElementTree as DET

from ..atomic import write_bytes
from ..errors import InputError

# The standard allows internal files up to 2^31-1 bytes each; a project of a few thousand annual
# reports as plain text stays far below 2 GiB in all.
DEFAULT_MAX_TOTAL_BYTES = 2 * 1024**3
DEFAULT_MAX_MEMBERS = 100_000
_CHUNK = 1024 * 1024


class UnsafeFileError(InputError):
    """A file refused for safety (hostile XML or archive); nothing was read from it or written."""


def parse_xml(data: bytes, path: str | Path | None, what: str = "the XML") -> Element:
    """Parse untrusted XML: no DTD, no entities, no external references; errors name the file."""
    try:
        return DET.fromstring(data, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except defusedxml.DTDForbidden:
        raise UnsafeFileError(
            path,
            f"{what} declares a DOCTYPE (DTD), which groundcoder refuses for safety: DTDs carry entity "
            "expansion (billion laughs) and external entities (XXE); REFI-QDA files never need one",
            hint="export the file again from your QDA software; do not edit in a DOCTYPE",
        ) from None
    except defusedxml.EntitiesForbidden as exc:
        raise UnsafeFileError(path, f"{what} declares XML entities ({exc}), which groundcoder refuses for safety") from None
    except defusedxml.ExternalReferenceForbidden as exc:
        raise UnsafeFileError(path, f"{what} refers to an external resource ({exc}), which groundcoder refuses") from None
    except defusedxml.DefusedXmlException as exc:
        raise UnsafeFileError(path, f"{what} uses an XML feature groundcoder refuses for safety ({exc})") from None
    except ParseError as exc:
        line = exc.position[0] if getattr(exc, "position", None) else None
        raise InputError(path, f"{what} is not well-formed XML: {exc}", line=line, hint="export the file again") from None


def check_member_name(name: str, archive: str | Path | None = None) -> str:
    """The member's path as a clean relative POSIX path, or ``UnsafeFileError`` if it could escape."""

    def refuse(why: str) -> UnsafeFileError:
        return UnsafeFileError(
            archive,
            f"archive member {name!r} {why}; the archive was refused and nothing was extracted",
            hint="only open .qdpx files exported by QDA software; this one may be crafted to write outside its folder",
        )

    if "\x00" in name:
        raise refuse("contains a NUL byte")
    posix = name.replace("\\", "/")
    if posix.startswith("/") or (len(posix) >= 2 and posix[1] == ":") or posix.startswith("//"):
        raise refuse("is an absolute path")
    parts = [p for p in posix.split("/") if p not in ("", ".")]
    if any(p == ".." for p in parts):
        raise refuse("climbs out of the archive with '..'")
    if any(":" in p for p in parts):
        raise refuse("has a ':' in a path component (a drive or stream name on Windows)")
    if not parts:
        raise refuse("has an empty name")
    return "/".join(parts) + ("/" if posix.endswith("/") else "")


@dataclass(frozen=True)
class Member:
    name: str  # clean relative POSIX path
    info: zipfile.ZipInfo

    @property
    def is_dir(self) -> bool:
        return self.name.endswith("/")


class SafeArchive:
    """A zip archive whose member names and declared sizes were checked before anything is read.

    Members are looked up by exact name first, then case-insensitively (vendors write ``Sources/``
    or ``sources/``, ``.TXT`` or ``.txt``).
    """

    def __init__(
        self,
        path: str | Path,
        *,
        max_total_bytes: int = DEFAULT_MAX_TOTAL_BYTES,
        max_members: int = DEFAULT_MAX_MEMBERS,
    ) -> None:
        self.path = Path(path)
        self.max_total_bytes = max_total_bytes
        try:
            self._zip = zipfile.ZipFile(self.path)
        except FileNotFoundError:
            raise InputError(self.path, "file not found", hint="check the path") from None
        except zipfile.BadZipFile as exc:
            raise InputError(
                self.path, f"is not a .qdpx (zip) archive: {exc}", hint="a .qdpx is a zip file; export the project again"
            ) from None
        except OSError as exc:
            raise InputError(self.path, f"cannot read the archive: {exc.strerror or exc}") from None
        try:
            self.members = self._check(max_members)
        except BaseException:
            self._zip.close()
            raise
        self._by_name = {m.name: m for m in self.members}
        self._by_folded: dict[str, Member] = {}
        for m in self.members:
            self._by_folded.setdefault(m.name.casefold(), m)

    def _check(self, max_members: int) -> list[Member]:
        infos = self._zip.infolist()
        if len(infos) > max_members:
            raise UnsafeFileError(self.path, f"the archive has {len(infos)} members, more than the limit of {max_members}")
        members: list[Member] = []
        seen: set[str] = set()
        total = 0
        for info in infos:
            name = check_member_name(info.filename, self.path)
            mode = info.external_attr >> 16
            if info.create_system == 3 and stat.S_ISLNK(mode):
                raise UnsafeFileError(
                    self.path, f"archive member {info.filename!r} is a symbolic link; the archive was refused"
                )
            if info.flag_bits & 0x1:
                raise InputError(
                    self.path, f"archive member {info.filename!r} is encrypted", hint="export the project without a password"
                )
            if name in seen:
                raise UnsafeFileError(self.path, f"archive member {info.filename!r} appears twice; the archive was refused")
            seen.add(name)
            total += info.file_size
            if total > self.max_total_bytes:
                raise UnsafeFileError(
                    self.path,
                    f"the archive declares more than {_size(self.max_total_bytes)} of uncompressed data "
                    f"(at least {_size(total)}; compressed it is {_size(self.path.stat().st_size)}); "
                    "refused as a possible zip bomb",
                    hint="if this really is your project, raise the limit (--max-size)",
                )
            members.append(Member(name, info))
        return members

    def close(self) -> None:
        self._zip.close()

    def __enter__(self) -> SafeArchive:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def files(self) -> list[Member]:
        return [m for m in self.members if not m.is_dir]

    def find(self, name: str) -> Member | None:
        """Member by exact name, else by name ignoring case; None if absent."""
        clean = name.replace("\\", "/").lstrip("/")
        return self._by_name.get(clean) or self._by_folded.get(clean.casefold())

    def read(self, member: Member) -> bytes:
        """The member's bytes, never more than it declared (a member that lies is refused)."""
        limit = member.info.file_size
        chunks: list[bytes] = []
        got = 0
        try:
            with self._zip.open(member.info) as fh:
                while True:
                    chunk = fh.read(min(_CHUNK, limit - got + 1))
                    if not chunk:
                        break
                    got += len(chunk)
                    if got > limit:
                        raise UnsafeFileError(
                            self.path,
                            f"archive member {member.name!r} holds more data than the {_size(limit)} it declares; refused",
                        )
                    chunks.append(chunk)
        except zipfile.BadZipFile as exc:
            raise InputError(self.path, f"archive member {member.name!r} is damaged: {exc}", hint="export the project again") from None
        except (RuntimeError, NotImplementedError) as exc:  # encrypted or unsupported compression
            raise InputError(self.path, f"cannot read archive member {member.name!r}: {exc}") from None
        return b"".join(chunks)


def safe_extract(
    archive: str | Path,
    target: str | Path,
    *,
    max_total_bytes: int = DEFAULT_MAX_TOTAL_BYTES,
    max_members: int = DEFAULT_MAX_MEMBERS,
) -> list[Path]:
    """Extract a whole archive below ``target``; every name is checked first, so a hostile archive
    is refused before a single file is written. Returns the files written."""
    target = Path(target).resolve()
    written: list[Path] = []
    with SafeArchive(archive, max_total_bytes=max_total_bytes, max_members=max_members) as zf:
        plan = []
        for member in zf.files():
            destination = (target / PurePosixPath(member.name)).resolve()
            if not destination.is_relative_to(target):  # e.g. through a symlinked folder already in target
                raise UnsafeFileError(archive, f"archive member {member.name!r} would be written outside {target}; refused")
            plan.append((member, destination))
        for member, destination in plan:
            write_bytes(destination, zf.read(member))
            written.append(destination)
    return written


def _size(n: int) -> str:
    for unit in ("bytes", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1024  # type: ignore[assignment]
    return str(n)
