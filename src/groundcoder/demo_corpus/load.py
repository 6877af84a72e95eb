"""Read the built demo corpus (corpora/demo) into typed records."""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import InputError
from ..paths import demo_corpus_dir


@dataclass(frozen=True)
class DemoFirm:
    firm_id: str
    name: str
    short_name: str
    industry: str
    province: str
    founded: str
    board: str
    sample: str          # train | holdout | holdout_new
    products: str


@dataclass(frozen=True)
class DemoDocument:
    doc_id: str
    firm_id: str
    kind: str            # annual_report | website | news | journal
    year: int
    title: str
    path: Path


@dataclass(frozen=True)
class CodedQuote:
    quote_id: str
    doc_id: str
    firm_id: str
    start: int           # code points into the document text; text == document[start:end]
    end: int
    text: str
    concepts: tuple[str, ...]
    new_concepts: tuple[str, ...] = ()
    coder: str = "coder1"
    memo: str | None = None


@dataclass
class DemoCorpus:
    root: Path
    firms: list[DemoFirm]
    documents: list[DemoDocument]
    quotes: list[CodedQuote]          # coder1, the reference coding
    coder2: list[CodedQuote]          # the second coder's judgements (empty concepts: left uncoded)
    _texts: dict[str, str] = field(default_factory=dict, repr=False)

    def text(self, doc_id: str) -> str:
        if doc_id not in self._texts:
            doc = self.document(doc_id)
            self._texts[doc_id] = doc.path.read_text(encoding="utf-8").removesuffix("\n")
        return self._texts[doc_id]

    def document(self, doc_id: str) -> DemoDocument:
        for doc in self.documents:
            if doc.doc_id == doc_id:
                return doc
        raise KeyError(doc_id)

    def firm_ids(self, sample: str) -> list[str]:
        return [f.firm_id for f in self.firms if f.sample == sample]

    @property
    def train_firms(self) -> list[str]:
        return self.firm_ids("train")

    @property
    def holdout_firms(self) -> list[str]:
        return self.firm_ids("holdout")

    @property
    def holdout_new_firms(self) -> list[str]:
        return self.firm_ids("holdout_new")

    def quotes_of(self, firm_ids: list[str] | set[str]) -> list[CodedQuote]:
        wanted = set(firm_ids)
        return [q for q in self.quotes if q.firm_id in wanted]


def _read_csv(path: Path) -> list[dict]:
    if not path.exists():
        raise InputError(path, "missing", hint="run python -m groundcoder.demo_corpus build")
    with open(path, encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def _read_quotes(path: Path) -> list[CodedQuote]:
    quotes = []
    with open(path, encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
                quotes.append(CodedQuote(row["quote_id"], row["doc_id"], row["firm_id"], int(row["start"]),
                                         int(row["end"]), row["text"], tuple(row["concepts"]),
                                         tuple(row.get("new_concepts") or ()), row.get("coder", "coder1"),
                                         row.get("memo")))
            except (ValueError, KeyError) as exc:
                raise InputError(path, f"not a valid quote record: {exc}", line=lineno) from exc
    return quotes


def load_demo_corpus(root: str | Path | None = None) -> DemoCorpus:
    root = Path(root) if root is not None else demo_corpus_dir()
    firms = [DemoFirm(**{k: r[k] for k in DemoFirm.__dataclass_fields__}) for r in _read_csv(root / "firms.csv")]
    documents = [DemoDocument(r["doc_id"], r["firm_id"], r["kind"], int(r["year"]), r["title"], root / r["path"])
                 for r in _read_csv(root / "documents.csv")]
    corpus = DemoCorpus(root, firms, documents, _read_quotes(root / "coded.jsonl"), _read_quotes(root / "coder2.jsonl"))
    return corpus
