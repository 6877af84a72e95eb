"""`groundcoder reliability` and `groundcoder factor-model` on a project store and on the demo corpus."""

from __future__ import annotations

import json
from datetime import date

import pytest

from groundcoder.cli import main
from groundcoder.store import Coding, DocumentRecord, Firm, ProjectStore

TEXTS = {
    "F1-AR": "公司持续推进数字化战略。公司与整车厂建立技术合作。研发团队跨领域整合知识。公司获得政府资助。",
    "F2-AR": "公司引入人工智能质检。公司满足用户个性化需求。公司获得税收优惠。团队吸收外部知识。",
}


def _coding(doc, text, concept, coder, kind="human", run=None, confidence=None):
    start = TEXTS[doc].index(text)
    return Coding(doc, start, start + len(text), concept, coder, kind, run, confidence, text=text)


@pytest.fixture()
def store_path(tmp_path):
    path = tmp_path / "project.sqlite"
    with ProjectStore.open(path) as store:
        store.add_firms([Firm("F1", "甲科技股份有限公司", "software", date(2005, 7, 26), {"short_name": "甲科技"}),
                         Firm("F2", "乙装备股份有限公司", "equipment", date(2001, 3, 8), {"short_name": "乙装备"})])
        store.add_model_run("run-1", path="models/run-1", base_model="bert-tiny")
        for doc in TEXTS:
            store.add_document(DocumentRecord(doc, doc[:2], TEXTS[doc], kind="annual_report", year=2022, title=doc))
        store.add_codings([
            _coding("F1-AR", "公司持续推进数字化战略", "数字化战略", "alice"),
            _coding("F1-AR", "公司与整车厂建立技术合作", "技术合作", "alice"),
            _coding("F1-AR", "研发团队跨领域整合知识", "跨领域专业知识", "alice"),
            _coding("F1-AR", "公司获得政府资助", "政府资助", "alice"),
            _coding("F2-AR", "公司引入人工智能质检", "人工智能", "alice"),
            _coding("F2-AR", "公司满足用户个性化需求", "用户需求", "alice"),
            _coding("F2-AR", "公司获得税收优惠", "税收优惠", "alice"),
            _coding("F2-AR", "团队吸收外部知识", "知识识别", "alice"),
            _coding("F1-AR", "公司持续推进数字化战略", "数字化战略", "bob"),
            _coding("F1-AR", "公司与整车厂建立技术合作", "项目合作", "bob"),
            _coding("F2-AR", "公司引入人工智能质检", "人工智能", "bob"),
            _coding("F2-AR", "公司获得税收优惠", "税收优惠", "bob"),
            _coding("F1-AR", "公司持续推进数字化战略", "数字化战略", "groundcoder-model", "model", "run-1", 0.9),
            _coding("F2-AR", "公司满足用户个性化需求", "用户需求", "groundcoder-model", "model", "run-1", 0.7),
        ])
    return path


def test_reliability_store_human_vs_human_and_vs_model(store_path, tmp_path, capsys):
    out = tmp_path / "rel"
    main(["reliability", "--store", str(store_path), "--coders", "alice", "bob", "run-1", "--out", str(out)])
    printed = capsys.readouterr().out
    assert "alice vs bob" in printed and "alice vs run-1" in printed
    data = json.loads((out / "reliability_run.json").read_text(encoding="utf-8"))
    assert data["reliability"]["coders"] == ["alice", "bob", "run-1"]
    summary = (out / "reliability_summary.csv").read_text(encoding="utf-8-sig")
    assert "human vs model" in summary and "alice vs bob vs run-1" in summary
    # alice vs bob, concept level, all 8 sentences: they agree on 3 (技术合作 vs 项目合作 and the four
    # sentences bob left uncoded differ)
    row = [r for r in summary.splitlines() if r.startswith("alice vs bob,") and ",concept,all," in r][0]
    assert ",8,8 / 4,0.375," in row


def test_reliability_unknown_coder_is_a_clear_error(store_path, tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["reliability", "--store", str(store_path), "--coders", "alice", "carol", "--out", str(tmp_path / "x")])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "carol" in err and "alice" in err and "run-1" in err


def test_reliability_needs_two_coders(store_path, tmp_path, capsys):
    with pytest.raises(SystemExit):
        main(["reliability", "--store", str(store_path), "--coders", "alice", "--out", str(tmp_path / "x")])
    assert "at least two coders" in capsys.readouterr().err


def test_reliability_demo(tmp_path, capsys):
    out = tmp_path / "rel"
    main(["reliability", "--demo", "--out", str(out)])
    data = json.loads((out / "reliability_run.json").read_text(encoding="utf-8"))
    assert data["reliability"]["reviewed_by"] == "coder2"
    kappa = data["reliability"]["headline"]["concept"]["kappa_set"]
    assert 0.4 < kappa < 0.95
    assert (out / "reliability_per_code.png").exists() and (out / "reliability.xlsx").exists()


def test_factor_model_store(store_path, tmp_path, capsys):
    out = tmp_path / "fm"
    main(["factor-model", "--store", str(store_path), "--out", str(out)])
    printed = capsys.readouterr().out
    assert "12 quotes from 2 sources of 2 firms" in printed  # human codings only: alice 8 + bob 4
    data = json.loads((out / "factor_model_run.json").read_text(encoding="utf-8"))
    assert data["coders"] == ["alice", "bob"]
    assert data["case_analysis"]["firms"] == ["F1", "F2"] or data["case_analysis"]["firms"] == ["F2", "F1"]
    assert (out / "factor_model" / "table3_initial_categories.xlsx").exists()
    assert (out / "case_analysis" / "case_comparison.md").exists()


def test_factor_model_needs_a_source(tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["factor-model", "--out", str(tmp_path / "x")])
    assert exc.value.code == 2 and "--store" in capsys.readouterr().err
