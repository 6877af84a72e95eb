"""`groundcoder demo --reduced`: the whole pipeline on a small slice of the demo corpus, end to end."""

import json
import zipfile

import pytest
from openpyxl import load_workbook

from groundcoder.demo import run_demo
from groundcoder.store import ProjectStore


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo")
    return run_demo(out, reduced=True)


def test_every_step_ran_and_left_its_outputs(demo):
    names = [s.name for s in demo.steps]
    assert len(names) == 7 and names[0].endswith("screening funnel") and names[-1].endswith("reliability")
    summary = json.loads((demo.out_dir / "demo_summary.json").read_text(encoding="utf-8"))
    assert [s["name"] for s in summary["steps"]] == names and summary["reduced"] is True
    html = demo.report.read_text(encoding="utf-8")
    for heading in ("筛选", "饱和度", "编码者间信度"):
        assert heading in html
    sheets = load_workbook(demo.workbook, read_only=True).sheetnames
    assert "筛选漏斗" in sheets and "模型评估" in sheets and any(s.startswith("信度") for s in sheets)


def test_the_funnel_narrows_and_the_saturation_verdicts_match_the_corpus_design(demo):
    screening = demo.steps[0].headline.split(" firms")[0]
    counts = [int(x) for x in screening.split(" -> ")]
    assert counts[0] == 200 and counts == sorted(counts, reverse=True) and counts[-1] == 40
    saturation = demo.steps[4].headline
    assert "holdout: saturated" in saturation and "holdout_new: NOT saturated" in saturation
    assert "忘却学习" in saturation


def test_model_suggestions_are_in_the_store_and_the_qdpx(demo):
    with ProjectStore.open(demo.out_dir / "project.sqlite") as store:
        model_codings = store.codings(coder_kind="model")
        assert model_codings
        held_out = {d.doc_id for d in store.documents() if d.firm_code in {"D0034", "D0035", "D0036", "D0037",
                                                                          "D0038", "D0039", "D0040"}}
        assert {c.doc_id for c in model_codings} <= held_out
    with zipfile.ZipFile(demo.qdpx) as archive:
        names = archive.namelist()
        assert "project.qde" in names and any(n.startswith("sources/") for n in names)
        assert b"groundcoder-model" in archive.read("project.qde")
