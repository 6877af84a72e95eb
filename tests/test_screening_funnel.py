"""The funnel end to end on a small generated panel (coded firms are planted as micro-innovative,
self-citing and digital), its tables and summary, the config's errors, and `groundcoder screen`."""

from __future__ import annotations

import csv
import json
import shutil

import pytest
from openpyxl import load_workbook

from groundcoder.errors import InputError
from groundcoder.paths import configs_dir, demo_corpus_dir
from groundcoder.screening import load_config, run_screening
from groundcoder.screening.funnel import STAGES

CODED = 12
FIRMS = 60


@pytest.fixture(scope="module")
def panel(tmp_path_factory):
    """A 60-firm panel from the demo generator, 12 of them written as the study's kind of firm."""
    from groundcoder.demo_corpus import panel as generator

    out = tmp_path_factory.mktemp("panel")
    shutil.copy(demo_corpus_dir() / "panel" / "sentence_pool.yaml", out / "sentence_pool.yaml")
    coded = out / "coded_firms.csv"
    with open(coded, "w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["firm_id", "name", "short_name", "industry", "province", "founded", "board", "sample", "products"])
        for i in range(1, CODED + 1):
            writer.writerow([f"D{i:04d}", f"测试{i:02d}号精工股份有限公司", f"测试{i:02d}号", "manufacturing", "浙江", "2005-01-01",
                             "创业板", "train", "精密齿轮、密封组件"])
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(generator, "N_PANEL_FIRMS", FIRMS)
        generator.generate_panel(out, coded)
    return out


def _config(tmp_path, panel, **changes):
    text = f"""
inputs:
  reports: {panel / 'reports'}
  pattern: "{{code}}_{{year}}"
  firms: {panel / 'firms.csv'}
  patents: {panel / 'patents_incopat.xlsx'}
  aliases: {panel / 'subsidiaries.csv'}
counting:
  mode: {changes.get('mode', 'jieba')}
  scope: mdna
  negation_window: 5
  workers: 1
micro_innovation:
  keywords: {{measure: per_10k_tokens, rule: above_mean}}
  self_citation: {{min_share: 0.3, min_continuity: 3}}
digital: {{measure: per_report, rule: at_least, value: 1.0}}
sample: {{n: 10}}
output:
  folder: out
  figures: {str(changes.get('figures', False)).lower()}
"""
    path = tmp_path / "screening.yaml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def run(panel, tmp_path_factory):
    folder = tmp_path_factory.mktemp("run")
    return run_screening(load_config(_config(folder, panel, figures=True))), folder / "out"


def test_the_funnel_narrows_and_explains_every_exit(run):
    result, _ = run
    counts = [s.firms for s in result.stages]
    assert [s.stage for s in result.stages] == list(STAGES)
    assert counts[0] == FIRMS and counts == sorted(counts, reverse=True) and 0 < counts[-1] <= 10
    assert counts[-1] == min(10, counts[2])
    assert [int((result.firms["stage_reached"] >= i).sum()) for i in range(4)] == counts
    left = result.firms[result.firms["stage_reached"] < 3]
    assert (left["reason"].str.len() > 0).all()
    assert set(result.sample["firm_code"]) == set(result.firms.loc[result.firms["stage_reached"] == 3, "firm_code"])
    assert list(result.sample["sample_rank"]) == list(range(1, counts[-1] + 1))


def test_the_coded_firms_are_what_the_funnel_finds(run):
    result, _ = run
    coded_share_in_sample = (result.sample["coded"] == "1").mean()
    assert coded_share_in_sample >= 2 * CODED / FIRMS


def test_reasons_name_the_rule_a_firm_failed(run):
    result, _ = run
    reasons = " | ".join(result.firms["reason"])
    assert "not above the mean" in reasons and "self-citation" in reasons
    firms = result.firms.set_index("firm_code")
    for code, row in firms.iterrows():
        if row["stage_reached"] == 0 and row["self_citation_share"] < 0.3:
            assert "of its patents cite its own" in row["reason"]


def test_tables_workbook_and_summary_are_written(run):
    result, out = run
    sheets = load_workbook(out / "screening.xlsx", read_only=True).sheetnames
    assert sheets == ["funnel", "0 all firms", "1 micro-innovation", "2 digital", "3 sample", "sample"]
    for name in ("funnel", "stage_1_micro_innovation", "firms", "reports", "firm_years", "keyword_hits"):
        assert (out / f"{name}.csv").read_bytes().startswith(b"\xef\xbb\xbf")  # BOM: Excel shows Chinese
    for name in ("firms", "reports", "firm_years", "keyword_hits", "sample", "keyword_totals"):
        assert (out / f"{name}.xlsx").exists()
    summary = json.loads((out / "screening.json").read_text(encoding="utf-8"))
    assert [s["firms"] for s in summary["stages"]] == [s.firms for s in result.stages]
    assert summary["counting"]["reports"] == FIRMS * 4 and summary["counting"]["reports_with_problems"] == 0
    assert summary["patents"]["firms_matched"] >= FIRMS - 5
    assert len(summary["sample"]) == result.stages[-1].firms
    for name in ("figure1_digital_wordcloud.png", "figure2_digital_per_report.png", "figure2_digital_per_report.svg", "funnel.svg"):
        assert (out / name).stat().st_size > 1000


def test_a_second_run_takes_every_report_from_the_cache(run, panel):
    result, out = run
    again = run_screening(load_config(_config(out.parent, panel)))
    assert again.summary["counting"]["from_cache"] == FIRMS * 4 and again.summary["counting"]["counted"] == 0
    assert [s.firms for s in again.stages] == [s.firms for s in result.stages]


def test_fast_mode_finds_much_the_same_firms(run, panel, tmp_path):
    result, _ = run
    fast = run_screening(load_config(_config(tmp_path, panel, mode="fast")), write=False)
    jieba_sample, fast_sample = set(result.sample["firm_code"]), set(fast.sample["firm_code"])
    assert len(jieba_sample & fast_sample) >= 0.7 * len(jieba_sample)


def test_cli_screen_prints_the_stage_counts(run, panel, tmp_path, capsys):
    from groundcoder.cli import main

    result, out = run
    main(["screen", "--config", str(_config(out.parent, panel)), "--out", str(tmp_path / "cli")])
    printed = capsys.readouterr().out
    assert "micro-innovation" in printed and "sample" in printed
    assert str(result.stages[1].firms) in printed
    assert (tmp_path / "cli" / "screening.json").exists()


def test_config_errors_name_the_line(tmp_path, panel):
    path = _config(tmp_path, panel)
    path.write_text(path.read_text(encoding="utf-8").replace("  negation_window: 5", "  negation_windw: 5"), encoding="utf-8")
    with pytest.raises(InputError) as err:
        load_config(path)
    assert err.value.line == 11 and "negation_windw" in err.value.message
    path.write_text(_config(tmp_path, panel).read_text(encoding="utf-8").replace("rule: at_least", "rule: above_average"), encoding="utf-8")
    with pytest.raises(InputError, match="above_average"):
        load_config(path)


def test_a_missing_reports_folder_is_a_clear_error(tmp_path, panel):
    path = _config(tmp_path, panel)
    path.write_text(path.read_text(encoding="utf-8").replace(str(panel / "reports"), str(tmp_path / "nowhere")), encoding="utf-8")
    with pytest.raises(InputError, match="reports folder not found"):
        run_screening(load_config(path), write=False)


def test_a_folder_with_no_matching_report_says_why(tmp_path, panel):
    folder = tmp_path / "reports"
    folder.mkdir()
    (folder / "annual_report_2021.txt").write_text("公司坚持微创新。", encoding="utf-8")
    path = _config(tmp_path, panel)
    path.write_text(path.read_text(encoding="utf-8").replace(str(panel / "reports"), str(folder)), encoding="utf-8")
    with pytest.raises(InputError, match="no report could be matched") as err:
        run_screening(load_config(path), write=False)
    assert "annual_report_2021.txt" in str(err.value)


def test_the_shipped_config_reads_and_points_at_the_demo_panel():
    config = load_config(configs_dir() / "screening.yaml")
    assert config.inputs.reports == (demo_corpus_dir() / "panel" / "reports").resolve()
    assert config.inputs.patents.name == "patents_incopat.xlsx" and config.output.name == "screening"
    assert config.sample.n == 40 and config.counting.mode == "jieba"
    assert set(config.dictionaries) == {"micro_innovation", "digital"}


@pytest.mark.skipif(not (demo_corpus_dir() / "panel" / "reports").is_dir(), reason="the demo panel is not generated in this checkout")
def test_the_shipped_config_on_the_demo_panel_finds_mostly_coded_firms(tmp_path):
    result = run_screening(load_config(configs_dir() / "screening.yaml", output=tmp_path), write=False)
    assert result.stages[-1].firms == 40
    assert (result.sample["coded"] == "1").mean() >= 0.75
