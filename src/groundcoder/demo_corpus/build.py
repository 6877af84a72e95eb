"""Build the shipped demo corpus from its authoring files.

corpora/demo/authoring/Dxxxx.txt  ->  corpora/demo/{firms.csv, documents.csv, docs/*.txt, coded.jsonl, coder2.jsonl}

Deterministic: the same authoring files give byte-identical outputs.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from dataclasses import dataclass
from pathlib import Path

from ..atomic import write_text
from ..errors import InputError
from .authoring import AuthoredFirm, parse_authoring_file
from .checks import check_firms, codebook_concepts

FIRM_COLUMNS = ["firm_id", "name", "short_name", "industry", "province", "founded", "board", "sample", "products"]
DOCUMENT_COLUMNS = ["doc_id", "firm_id", "kind", "year", "title", "path", "n_chars", "sha256"]
CODER1 = "coder1"
CODER2 = "coder2"


@dataclass
class BuildSummary:
    firms: int
    documents: int
    quotes: int
    coder2_quotes: int
    characters: int

    def __str__(self) -> str:
        return (f"built demo corpus: {self.firms} firms, {self.documents} documents, {self.characters} characters, "
                f"{self.quotes} coded quotes, {self.coder2_quotes} second-coder judgements")


def _csv_text(columns: list[str], rows: list[dict]) -> str:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: row.get(k, "") for k in columns})
    return buf.getvalue()


def build_corpus(authoring_dir: Path, out_dir: Path, strict: bool = True) -> BuildSummary:
    paths = sorted(Path(authoring_dir).glob("D*.txt"))
    if not paths:
        raise InputError(authoring_dir, "no authoring files (D*.txt) found")
    firms: list[AuthoredFirm] = [parse_authoring_file(p) for p in paths]
    if strict:
        report = check_firms(firms, codebook_concepts())
        if not report.ok:
            raise InputError(authoring_dir, "the authoring files fail their checks:\n  " + "\n  ".join(report.problems),
                             hint="run python -m groundcoder.demo_corpus check")
    docs_dir = Path(out_dir) / "docs"
    docs_dir.mkdir(parents=True, exist_ok=True)
    expected = set()
    firm_rows, doc_rows, coded, second = [], [], [], []
    n_chars = 0
    for firm in firms:
        meta = dict(firm.meta)
        meta["founded"] = str(meta["founded"])
        firm_rows.append(meta)
        for doc in firm.documents:
            name = f"{doc.doc_id}.txt"
            expected.add(name)
            data = doc.text + "\n"
            write_text(docs_dir / name, data)
            n_chars += len(doc.text)
            doc_rows.append({"doc_id": doc.doc_id, "firm_id": firm.firm_id, "kind": doc.kind, "year": doc.year,
                             "title": doc.title, "path": f"docs/{name}", "n_chars": len(doc.text),
                             "sha256": hashlib.sha256(data.encode("utf-8")).hexdigest()})
            for index, q in enumerate(doc.quotes, start=1):
                quote_id = f"{doc.doc_id}-q{index:03d}"
                base = {"quote_id": quote_id, "doc_id": doc.doc_id, "firm_id": firm.firm_id,
                        "start": q.start, "end": q.end, "text": q.text}
                if q.concepts:
                    coded.append({**base, "concepts": q.concepts, "new_concepts": q.new_concepts,
                                  "coder": CODER1, "memo": q.memo})
                if q.coder2 is not None:
                    second.append({**base, "concepts": q.coder2, "coder": CODER2,
                                   "coder1_coded": bool(q.concepts)})
    for stale in docs_dir.glob("*.txt"):
        if stale.name not in expected:
            stale.unlink()
    out_dir = Path(out_dir)
    write_text(out_dir / "firms.csv", _csv_text(FIRM_COLUMNS, firm_rows))
    write_text(out_dir / "documents.csv", _csv_text(DOCUMENT_COLUMNS, doc_rows))
    write_text(out_dir / "coded.jsonl", "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in coded))
    write_text(out_dir / "coder2.jsonl", "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in second))
    return BuildSummary(len(firms), len(doc_rows), len(coded), len(second), n_chars)
