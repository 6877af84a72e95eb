"""Parse the demo corpus's authoring files (corpora/demo/authoring/Dxxxx.txt).

Quotes are written in place with ``[[概念|引文]]`` markup (see corpora/demo/authoring/FORMAT.md), so
the plain document text and every quote's code-point offsets come out of one pass and cannot drift.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from ..errors import InputError

DOCUMENT_KINDS = ("annual_report", "website", "news", "journal")
NEW_PREFIX = "NEW:"
_HEADER = re.compile(r"^=== (?P<doc_id>\S+) \| (?P<kind>\w+) \| (?P<year>\d{4}) \| (?P<title>.+)$")
_MARKUP = re.compile(r"\[\[(?P<body>.*?)\]\]", re.S)


@dataclass
class AuthoredQuote:
    start: int
    end: int
    text: str
    concepts: list[str]          # coder1's concepts; empty when only coder2 coded the passage
    new_concepts: list[str]      # the subset of ``concepts`` marked NEW: (not in the codebook)
    memo: str | None
    coder2: list[str] | None     # None: coder2 did not review; []: coder2 left it uncoded
    line: int                    # line in the authoring file, for error messages


@dataclass
class AuthoredDocument:
    doc_id: str
    kind: str
    year: int
    title: str
    text: str
    quotes: list[AuthoredQuote] = field(default_factory=list)
    line: int = 0


@dataclass
class AuthoredFirm:
    path: Path
    meta: dict
    documents: list[AuthoredDocument]

    @property
    def firm_id(self) -> str:
        return str(self.meta["firm_id"])


def _split_concepts(value: str) -> list[str]:
    return [c.strip() for c in re.split(r"[;；]", value) if c.strip()]


def _parse_markup(body: str, path: Path, line: int) -> tuple[str, list[str], list[str], str | None, list[str] | None]:
    parts = body.split("|")
    if len(parts) < 2:
        raise InputError(path, f"quote markup [[{body[:30]}...]] needs '概念|引文'", line=line)
    label, text, *attrs = parts
    concepts: list[str] = []
    new: list[str] = []
    if label.strip() != "-":
        for name in _split_concepts(label):
            if name.startswith(NEW_PREFIX):
                name = name[len(NEW_PREFIX):].strip()
                new.append(name)
            concepts.append(name)
        if not concepts:
            raise InputError(path, f"quote has no concept: [[{body[:40]}]]", line=line)
    memo = None
    coder2: list[str] | None = None
    for attr in attrs:
        key, sep, value = attr.partition("=")
        key = key.strip()
        if not sep:
            raise InputError(path, f"attribute {attr!r} must look like memo=... or c2=...", line=line)
        if key == "memo":
            memo = value.strip()
        elif key == "c2":
            value = value.strip()
            if value == "=":
                coder2 = list(concepts)
            elif value == "-":
                coder2 = []
            else:
                coder2 = _split_concepts(value)
        else:
            raise InputError(path, f"unknown attribute {key!r} (expected memo or c2)", line=line)
    if not concepts and coder2 is None:
        raise InputError(path, "a passage marked '-' (uncoded by coder1) needs c2=概念", line=line)
    if not text.strip():
        raise InputError(path, "empty quote text", line=line)
    return text, concepts, new, memo, coder2


def _parse_document_body(raw: str, path: Path, first_line: int) -> tuple[str, list[AuthoredQuote]]:
    out: list[str] = []
    quotes: list[AuthoredQuote] = []
    pos = 0
    length = 0
    for match in _MARKUP.finditer(raw):
        before = raw[pos:match.start()]
        if "[[" in before or "]]" in before:
            bad_line = first_line + raw.count("\n", 0, pos + before.find("[[" if "[[" in before else "]]"))
            raise InputError(path, "unbalanced [[ or ]] in text", line=bad_line)
        out.append(before)
        length += len(before)
        line = first_line + raw.count("\n", 0, match.start())
        text, concepts, new, memo, coder2 = _parse_markup(match.group("body"), path, line)
        if "[[" in text:
            raise InputError(path, "nested [[ inside a quote", line=line)
        quotes.append(AuthoredQuote(length, length + len(text), text, concepts, new, memo, coder2, line))
        out.append(text)
        length += len(text)
        pos = match.end()
    tail = raw[pos:]
    if "[[" in tail or "]]" in tail:
        bad_line = first_line + raw.count("\n", 0, pos + max(tail.find("[["), tail.find("]]")))
        raise InputError(path, "unbalanced [[ or ]] in text", line=bad_line)
    out.append(tail)
    return "".join(out), quotes


def parse_authoring_file(path: str | Path) -> AuthoredFirm:
    path = Path(path)
    raw = path.read_text(encoding="utf-8").replace("\r\n", "\n")
    if not raw.startswith("---\n"):
        raise InputError(path, "must start with a '---' YAML front matter block", line=1)
    end = raw.find("\n---\n", 4)
    if end < 0:
        raise InputError(path, "front matter is not closed by a '---' line", line=1)
    try:
        meta = yaml.safe_load(raw[4:end]) or {}
    except yaml.YAMLError as exc:
        raise InputError(path, f"front matter is not valid YAML: {exc}") from exc
    for key in ("firm_id", "name", "industry", "province", "founded", "board", "sample", "products"):
        if key not in meta:
            raise InputError(path, f"front matter lacks {key!r}", line=2)
    if meta["firm_id"] != path.stem:
        raise InputError(path, f"firm_id {meta['firm_id']!r} does not match the file name {path.stem!r}", line=2)
    body_start = end + len("\n---\n")
    lines = raw[body_start:].split("\n")
    first_body_line = raw.count("\n", 0, body_start) + 1
    documents: list[AuthoredDocument] = []
    current: dict | None = None
    buffer: list[str] = []

    def flush() -> None:
        if current is None:
            if "".join(buffer).strip():
                raise InputError(path, "text before the first '=== doc_id | kind | year | title' header",
                                 line=first_body_line)
            return
        # Drop blank lines around the document, keep inner layout verbatim.
        body_lines = list(buffer)
        skip = 0
        while body_lines and not body_lines[0].strip():
            body_lines.pop(0)
            skip += 1
        while body_lines and not body_lines[-1].strip():
            body_lines.pop()
        text, quotes = _parse_document_body("\n".join(body_lines), path, current["line"] + 1 + skip)
        documents.append(AuthoredDocument(current["doc_id"], current["kind"], current["year"], current["title"],
                                          text, quotes, current["line"]))

    for offset, line in enumerate(lines):
        lineno = first_body_line + offset
        if line.startswith("==="):
            flush()
            match = _HEADER.match(line.strip())
            if not match:
                raise InputError(path, "document header must be '=== <doc_id> | <kind> | <year> | <title>'",
                                 line=lineno)
            if match["kind"] not in DOCUMENT_KINDS:
                raise InputError(path, f"unknown document kind {match['kind']!r}; use one of {DOCUMENT_KINDS}",
                                 line=lineno)
            if not match["doc_id"].startswith(f"{meta['firm_id']}-"):
                raise InputError(path, f"doc id {match['doc_id']!r} must start with '{meta['firm_id']}-'", line=lineno)
            current = {"doc_id": match["doc_id"], "kind": match["kind"], "year": int(match["year"]),
                       "title": match["title"].strip(), "line": lineno}
            buffer = []
        else:
            buffer.append(line)
    flush()
    if not documents:
        raise InputError(path, "no documents found (expected '=== doc_id | kind | year | title' headers)")
    ids = [d.doc_id for d in documents]
    dup = {i for i in ids if ids.count(i) > 1}
    if dup:
        raise InputError(path, f"duplicate document ids: {sorted(dup)}")
    return AuthoredFirm(path, meta, documents)
