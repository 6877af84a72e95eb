"""The model side of the saturation test on the demo corpus, with a small TF-IDF baseline trained in the
test on the reference (train) firms: leave-concepts-out calibration, flagged sentences, candidate
clusters. The deliberately new theme of firms D0039/D0040 (忘却学习) must be among the candidates."""

from __future__ import annotations

import json

import numpy as np
import pytest

from groundcoder.errors import InputError
from groundcoder.saturation.metrics import SaturationSettings
from groundcoder.saturation.novelty import (
    CalibrationScores,
    CalibrationSettings,
    ModelView,
    NoveltyCalibration,
    calibrate_novelty,
    choose_threshold,
    fit_calibration,
)
from groundcoder.saturation.run import SaturationRequest, model_fingerprint, run_saturation
from groundcoder.training.config import BaselineSettings

# small and quick: character 1-3-grams only, 8,000 features (the project default adds jieba words and 200,000)
FAST = BaselineSettings(char_ngrams=(1, 3), words=False, max_features=8000, C=4.0, max_iter=100)


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    out = tmp_path_factory.mktemp("sat-model")
    request = SaturationRequest(out=out, demo=True, samples=("holdout_new",), model="baseline", codes="both",
                                baseline_settings=FAST, calibration=CalibrationSettings(rounds=2),
                                settings=SaturationSettings(orders=20))
    return run_saturation(request)


def test_leave_concepts_out_calibration_is_reported_and_stored(run):
    cal = run.model.calibration
    assert len(cal.rounds) == 2 and all(r.n_dropped_quotes > 0 and r.n_uncoded > 0 for r in cal.rounds)
    assert not set(cal.rounds[0].dropped) & set(cal.rounds[1].dropped)  # each round leaves out other concepts
    assert cal.auroc > 0.7, cal.summary()
    assert cal.component_auroc["low_confidence"]["vs_kept"] > 0.6  # confidence tells dropped from kept concepts
    assert cal.component_auroc["relevance"]["vs_all"] > 0.6  # relevance tells codeable from filler
    assert cal.threshold_rule == "fpr<=0.10" and cal.fpr <= 0.1 and cal.tpr > 0.2
    stored = run.out_dir / "model" / "novelty_calibration.json"
    again = NoveltyCalibration.load(stored)
    assert again.model_id == model_fingerprint(run.out_dir / "model") and again.auroc == pytest.approx(cal.auroc)
    assert json.loads(json.dumps(again.to_dict())) == json.loads(stored.read_text(encoding="utf-8"))


def test_the_new_theme_is_a_candidate_concept(run):
    model = run.model
    check = model.human_check
    assert check.n_new == 18 and check.auroc_vs_all > 0.8  # novelty ranks the 忘却学习 sentences high
    matches = [c for c in model.candidates if check.candidate_match[c.candidate_id]["concept"] == "忘却学习"
               and check.candidate_match[c.candidate_id]["share"] >= 0.5]
    assert matches, [(c.label, check.candidate_match[c.candidate_id]) for c in model.candidates]
    theme = matches[0]
    assert set(theme.firms) == {"D0039", "D0040"} and theme.size >= 3
    assert theme.keywords and theme.nearest_concepts and theme.representatives
    assert all(not w.isdigit() and len(w) >= 2 for w, _ in theme.keywords)
    # the model found what the coder coded as new: in "both" it is the same concept, not a second one
    assert run.resolution[theme.candidate_id] == "new: 忘却学习"
    both = run.sources["both"].verdict
    assert not both.saturated and "忘却学习" in both.levels["concept"].new
    assert theme.candidate_id not in both.levels["concept"].new
    unexplained = {cid for cid, how in run.resolution.items() if not how}
    assert set(both.levels["concept"].new) == {"忘却学习"} | unexplained
    model_verdict = run.sources["model"].verdict
    assert not model_verdict.saturated and theme.candidate_id in model_verdict.levels["concept"].new


def test_candidates_are_written_with_their_quotes(run):
    out = run.out_dir
    data = json.loads((out / "saturation.json").read_text(encoding="utf-8"))
    candidates = data["model"]["candidates"]
    assert any(c["human_match"]["concept"] == "忘却学习" for c in candidates)
    assert data["model"]["calibration"]["auroc"] > 0.7
    table = (out / "tables" / "candidate_quotes.csv").read_text(encoding="utf-8-sig")
    assert "不再" in table or "停用" in table
    report = (out / "report.md").read_text(encoding="utf-8")
    assert "候选新概念1" in report and "leave-concepts-out AUROC" in report
    assert (out / "figures" / "accumulation_model.png").exists()


# --- the pieces, without training ------------------------------------------------------------------------


def test_threshold_rules():
    y = np.array([0, 0, 0, 0, 1, 1, 1, 0, 1, 1])
    s = np.array([0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95])
    t, tpr, fpr = choose_threshold(y, s, "youden")
    assert t == pytest.approx(0.5) and tpr == 1.0 and fpr == pytest.approx(0.2)
    t, tpr, fpr = choose_threshold(y, s, "fpr", target_fpr=0.0)
    assert fpr == 0 and t == pytest.approx(0.9)
    t, tpr, _ = choose_threshold(y, s, "tpr", target_tpr=0.6)
    assert tpr >= 0.6 and t == pytest.approx(0.7)


def _scores(seed: int = 0) -> CalibrationScores:
    rng = np.random.default_rng(seed)
    kinds = np.array(["dropped"] * 40 + ["kept"] * 80 + ["uncoded"] * 80)
    x = rng.normal(size=(200, 4))
    x[kinds == "dropped", :3] += 1.5   # unplaced
    x[kinds == "uncoded", :3] += 1.5   # filler is unplaced too ...
    x[kinds == "uncoded", 3] -= 3.0    # ... but not codeable
    rounds = np.tile([0, 1], 100)
    return CalibrationScores(x, kinds, rounds, [(0, ("a",), 5, 1, ("F1",)), (1, ("b",), 5, 1, ("F2",))])


def test_the_combiner_needs_both_unplaced_and_codeable():
    cal = fit_calibration(_scores(), CalibrationSettings(rounds=2, threshold_rule="youden"))
    assert cal.auroc > 0.9 and cal.auroc_kept > 0.8
    # filler is as unplaced as a new concept but not codeable: the relevance score separates it
    assert cal.component_auroc["low_confidence"]["vs_all"] < 0.8 < cal.auroc
    assert cal.weights[0] > 0 and cal.relevance_slope > 0
    new, filler = np.array([[1.5, 1.5, 1.5, 0.0]]), np.array([[1.5, 1.5, 1.5, -3.0]])
    assert cal.combined(new)[0] > cal.combined(filler)[0]
    # the operating point carries over to another model through its scores on known material
    known = np.random.default_rng(1).normal(size=(500, 4))
    t = cal.threshold_on(known)
    assert np.mean(cal.combined(known) >= t) <= cal.fpr + 1e-9
    round_trip = NoveltyCalibration.from_dict(json.loads(json.dumps(cal.to_dict())))
    assert round_trip == cal
    with pytest.raises(InputError, match="not a novelty calibration"):
        NoveltyCalibration.from_dict({"format": "other"})


def test_bad_models_and_too_little_data_are_refused():
    with pytest.raises(InputError, match="cannot score novelty"):
        ModelView(object())
    with pytest.raises(InputError):
        CalibrationSettings(rounds=1)

    class Example:
        def __init__(self, text, concepts, firm):
            self.text, self.concepts, self.firm_id = text, frozenset(concepts), firm

    few = [Example(f"文本{i}", {"专利研发"}, f"F{i}") for i in range(6)]
    with pytest.raises(InputError, match="too few to leave some out"):
        calibrate_novelty(few, None, lambda: None)


def test_clusters_keywords_and_the_support_rule():
    import jieba

    from groundcoder.saturation.clustering import ClusterSettings, FlaggedSegment, WordTokenizer, cluster_flagged

    tokenizer = WordTokenizer()
    assert tokenizer._tokenizer is not jieba.dt  # a private tokenizer, never the global one
    words = tokenizer("公司在2021年停用了旧工艺，并且不再使用30%的旧图纸")
    assert "停用" in words and "工艺" in words
    assert not {"公司", "并且", "2021", "30%", "的", "，"} & set(words)

    def seg(i, firm, text):
        return FlaggedSegment(f"d{i}:0-{len(text)}", firm, f"d{i}", 0, len(text), text, 0.8, 0.8, 0.9, 0.05, 12.0, (("专利研发", 12.0),))

    texts = [
        ("F1", "公司停用旧工艺并封存旧图纸"), ("F2", "企业停用旧工艺，旧图纸全部封存"), ("F2", "车间封存旧图纸并停用旧工艺"),
        ("F1", "工会组织职工篮球比赛和篮球联赛"), ("F1", "职工篮球联赛和篮球比赛圆满结束"), ("F1", "工会举办篮球比赛与篮球联赛"),
    ]
    flagged = [seg(i, firm, text) for i, (firm, text) in enumerate(texts)]
    reference = [("公司申请发明专利", ("专利研发",)), ("专利授权数量增加", ("专利研发",)), ("发明专利获得授权", ("专利研发",)),
                 ("专利研发投入加大", ("专利研发",))]
    settings = ClusterSettings(distance_threshold=0.8)
    result = cluster_flagged(flagged, np.zeros((len(flagged), 4)), [t for _, t in texts], reference, settings=settings,
                             n_firms=2, tokenizer=tokenizer)
    again = cluster_flagged(flagged, np.zeros((len(flagged), 4)), [t for _, t in texts], reference, settings=settings,
                            n_firms=2, tokenizer=tokenizer)
    assert [c.segments for c in result.candidates] == [c.segments for c in again.candidates]  # deterministic
    assert result.min_firms == 2 and len(result.candidates) == 1
    theme = result.candidates[0]
    assert theme.candidate_id == "候选新概念1" and theme.size == 3 and theme.firms == ("F1", "F2")
    assert {"停用", "工艺", "封存", "图纸"} & {w for w, _ in theme.keywords}
    # the basketball cluster is one firm's: shown, not a candidate
    assert any(c.size == 3 and c.firms == ("F1",) and not c.is_candidate for c in result.other_clusters)
    with pytest.raises(InputError):
        ClusterSettings(min_segments=0)
