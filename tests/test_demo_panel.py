"""The demo screening panel: regenerates identically, holds the coded firms, has a real signal to find."""

from __future__ import annotations

import csv
import shutil
from collections import defaultdict

import pytest
import yaml
from openpyxl import load_workbook

from groundcoder.demo_corpus.panel import INCOPAT_COLUMNS, PANEL_YEARS, generate_panel
from groundcoder.paths import demo_corpus_dir, dictionaries_dir

PANEL = demo_corpus_dir() / "panel"


def _rows(path):
    wb = load_workbook(path, read_only=True)
    return [tuple(r) for r in wb.active.iter_rows(values_only=True)]


@pytest.fixture(scope="module")
def regenerated(tmp_path_factory):
    out = tmp_path_factory.mktemp("panel")
    shutil.copy(PANEL / "sentence_pool.yaml", out / "sentence_pool.yaml")
    generate_panel(out, demo_corpus_dir() / "firms.csv")
    return out


def test_shipped_panel_is_what_the_generator_writes(regenerated):
    for name in ("firms.csv", "subsidiaries.csv"):
        assert (regenerated / name).read_bytes() == (PANEL / name).read_bytes()
    shipped = sorted(p.name for p in (PANEL / "reports").iterdir())
    assert shipped == sorted(p.name for p in (regenerated / "reports").iterdir())
    for name in shipped:
        assert (regenerated / "reports" / name).read_bytes() == (PANEL / "reports" / name).read_bytes(), name
    assert _rows(regenerated / "patents_incopat.xlsx") == _rows(PANEL / "patents_incopat.xlsx")


def test_panel_holds_every_coded_firm_for_every_year():
    with open(PANEL / "firms.csv", encoding="utf-8") as fh:
        firms = list(csv.DictReader(fh))
    with open(demo_corpus_dir() / "firms.csv", encoding="utf-8") as fh:
        coded = {r["firm_id"] for r in csv.DictReader(fh)}
    assert len(firms) == 200
    assert coded <= {f["firm_id"] for f in firms}
    assert {f["firm_id"] for f in firms if f["coded"] == "1"} == coded
    for firm in firms:
        for year in PANEL_YEARS:
            assert (PANEL / "reports" / f"{firm['firm_id']}_{year}.txt").exists()


def test_neutral_sentences_carry_no_keyword():
    pool = yaml.safe_load((PANEL / "sentence_pool.yaml").read_text(encoding="utf-8"))
    words = []
    for name in ("micro_innovation.yaml", "digital_transformation_wufei2021.yaml"):
        data = yaml.safe_load((dictionaries_dir() / name).read_text(encoding="utf-8"))
        words += [w for ws in data["dimensions"].values() for w in ws]
    for sentence in pool["neutral"]:
        assert not [w for w in words if w.lower() in sentence.lower()], sentence


def test_patent_export_has_incopat_columns_and_coded_firms_cite_themselves_more():
    rows = _rows(PANEL / "patents_incopat.xlsx")
    assert list(rows[0]) == INCOPAT_COLUMNS
    header = {name: i for i, name in enumerate(rows[0])}
    with open(PANEL / "firms.csv", encoding="utf-8") as fh:
        coded_names = {r["name"] for r in csv.DictReader(fh) if r["coded"] == "1"}
    share = defaultdict(list)
    for row in rows[1:]:
        own = row[header["标准化申请人"]].replace("\n", "; ").split("; ")[0]
        cited = row[header["引证申请人"]] or ""
        share[own in coded_names].append(own in cited.replace("\n", "; ").split("; "))
    coded_rate = sum(share[True]) / len(share[True])
    other_rate = sum(share[False]) / len(share[False])
    assert coded_rate > 2 * other_rate
    # the same patent is cited in several spellings (with and without kind codes), as real exports do
    cited = [c for row in rows[1:] for c in (row[header["引证专利"]] or "").replace("\n", "; ").split("; ") if c]
    assert any(c[-1].isdigit() for c in cited) and any(c.endswith("A") for c in cited)
