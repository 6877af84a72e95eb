"""Saturation on the demo corpus with the human codes: the 5 held-out firms are saturated, the 2 firms
with a deliberately new theme (忘却学习) are not; the outputs, the CLI and the figure's Chinese."""

from __future__ import annotations

import json
import warnings

import pytest

from groundcoder.cli import main
from groundcoder.saturation.run import SaturationRequest, run_saturation
from groundcoder.saturation.metrics import SaturationSettings


@pytest.fixture(scope="module")
def holdout(tmp_path_factory):
    out = tmp_path_factory.mktemp("sat-holdout")
    return run_saturation(SaturationRequest(out=out, demo=True, samples=("holdout",), settings=SaturationSettings(orders=100)))


@pytest.fixture(scope="module")
def holdout_new(tmp_path_factory):
    out = tmp_path_factory.mktemp("sat-holdout-new")
    return run_saturation(SaturationRequest(out=out, demo=True, samples=("holdout_new",), settings=SaturationSettings(orders=100)))


def test_the_five_held_out_firms_are_saturated(holdout):
    v = holdout.overall
    assert v.saturated and v.source == "human"
    assert holdout.firms == ("D0034", "D0035", "D0036", "D0037", "D0038")
    # the study's own numbers: 28 concepts, 9 initial categories, 5 main categories, none new
    assert [v.levels[lv].codes for lv in ("concept", "initial", "main")] == [28, 9, 5]
    assert all(not d.new for d in v.levels.values())
    assert v.headline.startswith("5 firms -> 28 concepts, 9 initial categories, 5 main categories; 0 new; estimated unseen concepts 0.0")
    concept = holdout.sources["human"].levels["concept"]
    assert concept.pooled is not None and concept.pooled.m == 38  # 33 train firms + 5 held out
    assert concept.unseen_estimate.unseen < 1 and concept.unseen_estimate.unseen_high < 1
    assert concept.steps[-1].cumulative_codes == 28 and concept.steps[-1].cumulative_new == 0
    assert holdout.human_new == {}


def test_the_two_firms_with_a_new_theme_are_not_saturated(holdout_new):
    v = holdout_new.overall
    assert not v.saturated
    assert v.levels["concept"].new == ("忘却学习",)
    assert "忘却学习" in v.headline and "not saturated" in v.headline and "未达到理论饱和" in v.headline_zh
    quotes = holdout_new.human_new["忘却学习"]
    assert len(quotes) == 18 and {q.firm_id for q in quotes} == {"D0039", "D0040"}
    assert all(q.text for q in quotes)
    # unplaced, it is a candidate new category too
    assert not v.levels["initial"].saturated and v.levels["initial"].unplaced


def test_outputs_are_written(holdout_new):
    out = holdout_new.out_dir
    data = json.loads((out / "saturation.json").read_text(encoding="utf-8"))
    assert data["verdict"]["saturated"] is False
    assert data["new_concepts_human"]["忘却学习"][0]["text"]
    assert set(data["sources"]["human"]["levels"]) == {"concept", "initial", "main"}
    level = data["sources"]["human"]["levels"]["concept"]
    assert level["new_codes"] == ["忘却学习"] and len(level["per_firm"]) == 2 and level["pooled"]["m"] == 35
    for name in ("per_firm", "estimates", "accumulation", "new_codes", "new_concept_quotes"):
        assert (out / "tables" / f"{name}.csv").exists()
    from openpyxl import load_workbook

    sheets = load_workbook(out / "saturation.xlsx", read_only=True).sheetnames
    assert {"per_firm", "estimates", "new_concept_quotes", "candidates"} <= set(sheets)
    assert "忘却学习" in (out / "tables" / "new_concept_quotes.csv").read_text(encoding="utf-8-sig")
    assert (out / "saturation.xlsx").exists() and (out / "figures" / "accumulation_human.png").stat().st_size > 1000
    report = (out / "report.md").read_text(encoding="utf-8")
    assert "NOT SATURATED" in report and "忘却学习: 18 quotes in 2 firms" in report
    assert quotes_in(report, holdout_new.human_new["忘却学习"])
    html = (out / "report.html").read_text(encoding="utf-8")
    assert html.startswith("<!DOCTYPE html>") and "data:image/png;base64," in html and "忘却学习" in html


def quotes_in(report: str, quotes) -> bool:
    return all(q.text in report for q in quotes)


def test_accumulation_figure_draws_every_chinese_character(holdout):
    from groundcoder.saturation.report import accumulation_figure

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fig = accumulation_figure("human", holdout.sources["human"].levels)
        fig.canvas.draw()
    assert not [w for w in caught if "missing from font" in str(w.message) or "Glyph" in str(w.message)]
    texts = [t.get_text() for t in fig.findobj(match=lambda o: hasattr(o, "get_text")) if t.get_text()]
    assert any("概念" in t for t in texts) and any("累计编码数" in t for t in texts)


def test_cli_demo(tmp_path, capsys):
    main(["saturation", "--demo", "--sample", "holdout_new", "--out", str(tmp_path), "--orders", "20"])
    printed = capsys.readouterr().out
    assert "NOT SATURATED" in printed and "忘却学习" in printed
    assert (tmp_path / "saturation.json").exists()


def test_cli_refuses_bad_input(tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["saturation", "--demo", "--sample", "holdout,nope", "--out", str(tmp_path)])
    assert exc.value.code == 2 and "unknown demo sample" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:
        main(["saturation", "--demo", "--firms", "D0039,D9999", "--out", str(tmp_path)])
    assert exc.value.code == 2 and "D9999" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:
        main(["saturation", "--demo", "--codes", "model", "--out", str(tmp_path)])
    assert exc.value.code == 2 and "needs a model" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:
        main(["saturation", "--out", str(tmp_path)])
    assert exc.value.code == 2 and "--demo or --store" in capsys.readouterr().err
