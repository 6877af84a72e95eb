"""``groundcoder saturation --store``: human codes of a project store, reference firms by default."""

from __future__ import annotations

import json

import pytest

from groundcoder.cli import main
from groundcoder.store import Coding, DocumentRecord, Firm, ProjectStore

CODES = {  # firm -> concepts coded in its report (every concept of the shipped codebook except 新概念X)
    "R1": ["专利数量", "研发投入", "客户需求"], "R2": ["专利数量", "研发投入", "客户需求"], "R3": ["专利数量", "研发投入", "客户需求"],
    "H1": ["专利数量", "研发投入"], "H2": ["研发投入", "客户需求", "新概念X"],
}


@pytest.fixture()
def store(tmp_path):
    from groundcoder.codebook import Codebook

    names = list(Codebook.default().concept_names)
    mapping = {"专利数量": names[0], "研发投入": names[1], "客户需求": names[2], "新概念X": "新概念X"}
    path = tmp_path / "project.sqlite"
    with ProjectStore.open(path) as project:
        project.add_firms(Firm(code) for code in CODES)
        for firm, concepts in CODES.items():
            sentences = [f"{firm}的第{i}句话讲了一件事。" for i in range(len(concepts) + 2)]
            text = "".join(sentences)
            codings, start = [], 0
            for i, sentence in enumerate(sentences):
                if i < len(concepts):
                    codings.append(Coding(f"{firm}-AR", start, start + len(sentence), mapping[concepts[i]], "alice"))
                start += len(sentence)
            project.add_document(DocumentRecord(f"{firm}-AR", firm, text, year=2021), codings=codings)
    return path


def test_store_human_codes(store, tmp_path, capsys):
    out = tmp_path / "out"
    main(["saturation", "--store", str(store), "--firms", "H1,H2", "--coder", "alice", "--out", str(out), "--orders", "10"])
    printed = capsys.readouterr().out
    assert "NOT SATURATED" in printed and "新概念X" in printed
    data = json.loads((out / "saturation.json").read_text(encoding="utf-8"))
    assert data["firms"] == ["H1", "H2"] and data["reference_firms"] == ["R1", "R2", "R3"]
    concept = data["sources"]["human"]["levels"]["concept"]
    assert concept["new_codes"] == ["新概念X"] and concept["pooled"]["m"] == 5
    assert [s["codes_seen"] for s in concept["per_firm"]] == [2, 3]


def test_store_needs_the_held_out_firms(store, tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["saturation", "--store", str(store), "--out", str(tmp_path)])
    assert exc.value.code == 2 and "--firms" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:
        main(["saturation", "--store", str(store), "--firms", "H1", "--reference", "H1,R1", "--out", str(tmp_path)])
    assert exc.value.code == 2 and "both held out and reference" in capsys.readouterr().err
