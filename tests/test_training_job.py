"""The training job end to end on a tiny fixture: artifacts, learning, calibration, hierarchy, reproducibility,
resuming a killed run, the gate with its history, codebook refusal, the CLI and the pretraining job."""

from __future__ import annotations

import json
import os

import pytest
import yaml

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

from groundcoder.classifier.hierarchy import hierarchy_violations  # noqa: E402
from groundcoder.classifier.labels import CodebookMismatchError  # noqa: E402
from groundcoder.codebook import Codebook  # noqa: E402
from groundcoder.errors import InputError  # noqa: E402
from groundcoder.training import (  # noqa: E402
    RunRegistry,
    load_model,
    load_train_config,
    run_pretraining,
    run_training,
    train_config_from_dict,
)
from groundcoder.training.config import pretrain_config_from_dict  # noqa: E402
from groundcoder.training.data import load_quotes  # noqa: E402

from _training_fixtures import CODEBOOK_YAML, codebook, make_corpus, tiny_bert, train_config, write_codebook  # noqa: E402

SAFE_SUFFIXES = {".json", ".safetensors", ".txt"}


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    root = tmp_path_factory.mktemp("job")
    corpus = make_corpus(root / "data", n_firms=8)
    return {
        "root": root,
        "corpus": corpus,
        "codebook_path": write_codebook(root / "codebook.yaml"),
        "bert": tiny_bert(root / "tiny-bert"),
    }


def config(env, runs: str, **sections):
    data = train_config(env["root"], env["corpus"], env["codebook_path"], env["bert"], **sections)
    data["run"] = {**data["run"], "output_dir": str(env["root"] / runs)}
    return data


def comparable(metrics: dict) -> dict:
    """Everything that must be equal between two runs of the same config and data (no timings, no ids)."""
    out = {"selected": metrics["selected"], "data": metrics["data"], "splits": metrics["splits"]}
    for kind, entry in metrics["models"].items():
        out[kind] = {
            "test": entry["test"],
            "validation": entry["validation"],
            "calibration": [f["calibration"] for f in entry["folds"]],
        }
    return out


@pytest.fixture(scope="module")
def run_a(env):
    return run_training(train_config_from_dict(config(env, "runs-a", evaluation={"report": True})))


def test_a_run_writes_every_artifact_safely(run_a):
    run = run_a.run_dir
    for name in ("metrics.json", "report.md", "report.html", "MODEL_CARD.md", "config.yaml", "summary.json", "run.json",
                 "per_label.csv", "per_label.xlsx", "figures/f1_levels.png", "figures/reliability.png",
                 "figures/confusion_main.png", "figures/f1_initial_categories.png"):
        assert (run / name).is_file(), name
    assert not (run / "work").exists()  # work in progress is cleaned up
    model_files = [p for p in (run / "model").rglob("*") if p.is_file()]
    assert model_files and all(p.suffix in SAFE_SUFFIXES for p in model_files)  # safetensors + JSON only
    assert json.loads((run / "model" / "labels.json").read_text(encoding="utf-8"))["codebook_hash"] == codebook().hash
    metrics = json.loads((run / "metrics.json").read_text(encoding="utf-8"))
    assert set(metrics["models"]) == {"bert", "baseline"}
    for kind in ("bert", "baseline"):
        for level in ("concept", "initial_category", "main_category"):
            assert {"micro_f1", "macro_f1", "per_label", "top_k_accuracy"} <= set(metrics["models"][kind]["test"][level])
        assert metrics["models"][kind]["test"]["no_code"]["support"] > 0
    summary = json.loads((run / "summary.json").read_text(encoding="utf-8"))
    assert summary["run_id"] == run_a.run_id and summary["made_current"] is True
    card = (run / "MODEL_CARD.md").read_text(encoding="utf-8")
    for section in ("## Training data", "## Evaluation", "## Intended use", "## Limits"):
        assert section in card
    html = (run / "report.html").read_text(encoding="utf-8")
    assert "data:image/png;base64," in html and "初始范畴" in html
    saved = yaml.safe_load((run / "config.yaml").read_text(encoding="utf-8"))
    assert saved["model"]["settings"]["epochs"] == 12  # the run's full config is kept


def test_both_models_learn_well_above_chance_and_calibration_lowers_validation_nll(run_a):
    for kind in ("bert", "baseline"):
        test = run_a.evaluation(kind)
        assert test.concept.micro_f1 >= 0.7, kind  # chance for 6 concepts is ~0.17
        assert test.initial_category.macro_f1 >= 0.7, kind
    drops = []
    for kind in ("bert", "baseline"):
        cal = run_a.metrics["models"][kind]["folds"][0]["calibration"]
        assert cal["nll_after"] <= cal["nll_before"] + 1e-12, kind
        drops.append(cal["nll_before"] - cal["nll_after"])
    assert max(drops) > 0


def test_every_prediction_of_the_run_respects_the_hierarchy_and_no_firm_leaks(run_a, env):
    split = run_a.splits[0]
    assert not set(split.test_firms) & set(split.train_firms + split.val_firms)
    model = load_model(run_a.model_dir, codebook=codebook())
    quotes = load_quotes(env["corpus"]["quotes"], codebook(), documents=env["corpus"]["documents"])
    texts = [r.text for r in quotes.rows] + ["报告期内公司营业收入同比增长百分之五。", "ESG 2023"]
    for prediction in model.predict(texts):
        assert hierarchy_violations(prediction, model.labels) == []


def test_same_seed_and_data_give_the_same_metrics(run_a, env):
    again = run_training(train_config_from_dict(config(env, "runs-b")))
    assert comparable(again.metrics) == comparable(run_a.metrics)


def test_a_killed_run_resumes_and_ends_like_an_uninterrupted_one(run_a, env):
    cfg = train_config_from_dict(config(env, "runs-c"))

    class Killed(Exception):
        pass

    def kill(step):
        if step.global_step == 5:
            raise Killed

    with pytest.raises(Killed):
        run_training(cfg, on_step=kill)
    (unfinished,) = (env["root"] / "runs-c").iterdir()
    assert not (unfinished / "run.json").exists() and any((unfinished / "work").rglob("trainer_state.json"))
    resumed = run_training(cfg)
    assert resumed.resumed and resumed.run_id == unfinished.name
    history = resumed.metrics["models"]["bert"]["folds"][0]["history"]
    assert 0 < history["resumed_from_step"] < 5  # from the last checkpoint before the kill, not from scratch
    assert comparable(resumed.metrics) == comparable(run_a.metrics)


def test_cli_train_with_bert_selected_and_a_different_codebook_is_refused(env, capsys):
    from groundcoder.cli import main

    path = env["root"] / "train-bert.yaml"
    path.write_text(yaml.safe_dump(config(env, "runs-cli", select="bert"), allow_unicode=True), encoding="utf-8")
    main(["train", "--config", str(path)])
    out = capsys.readouterr().out
    assert "made the project's current model" in out
    registry = RunRegistry(env["root"] / "runs-cli")
    (record,) = registry.runs()
    assert record.kind == "bert" and registry.current_id() == record.run_id
    model_dir = registry.model_dir(record.run_id)
    assert (model_dir / "model.safetensors").exists() and (model_dir / "tokenizer.json").exists()
    with pytest.raises(CodebookMismatchError):
        load_model(model_dir, codebook=Codebook.default())
    for prediction in load_model(model_dir, codebook=codebook()).predict(["公司申请发明专利", "同行压价竞争"]):
        assert hierarchy_violations(prediction, codebook_labels()) == []


def codebook_labels():
    from groundcoder.classifier.labels import LabelSpace

    return LabelSpace.from_codebook(codebook())


def test_the_gate_keeps_the_better_model_and_every_run(env):
    from groundcoder.store import ProjectStore

    store = env["root"] / "gate.sqlite"
    base = config(env, "runs-gate", model={"enabled": False})
    base["run"]["store"] = str(store)
    first = run_training(train_config_from_dict(base))
    assert first.gate.accepted and first.gate.reason == "first model of the project"
    second = run_training(train_config_from_dict(base))
    assert second.gate.accepted and second.gate.current_run_id == first.run_id  # equal is not worse
    assert second.gate.current_value == pytest.approx(second.gate.new_value)
    crippled = {**base, "baseline": {**base["baseline"], "C": 1e-6}, "data": {**base["data"], "negatives": {"ratio": 0.0}}}
    worse = run_training(train_config_from_dict(crippled))
    assert not worse.gate.accepted and "worse than the current model" in worse.gate.reason
    registry = RunRegistry(env["root"] / "runs-gate")
    assert registry.current_id() == second.run_id
    assert [r.run_id for r in registry.runs()] == [first.run_id, second.run_id, worse.run_id]  # history kept
    assert (worse.run_dir / "metrics.json").exists()
    history = (env["root"] / "runs-gate" / "history.csv").read_text(encoding="utf-8-sig").splitlines()
    assert len(history) == 4 and "refused" in history[3]
    with ProjectStore.open(store) as project:
        assert [r.run_id for r in project.model_runs()] == [first.run_id, second.run_id, worse.run_id]
        assert project.current_model().run_id == second.run_id
    forced = {**crippled, "gate": {"force": True}}
    assert run_training(train_config_from_dict(forced)).gate.accepted
    # A current model of another codebook cannot be compared and does not block a new one.
    other = env["root"] / "other.yaml"
    other.write_text(CODEBOOK_YAML.replace("政策支持: [政府补贴]", "政策支持: [政府补贴, 税收优惠]"), encoding="utf-8")
    changed = run_training(train_config_from_dict({**base, "data": {**base["data"], "codebook": str(other)}}))
    assert changed.gate.accepted and "cannot be compared" in changed.gate.reason


def test_config_errors_name_the_key(env, tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("run:\n  sead: 3\n", encoding="utf-8")
    with pytest.raises(InputError, match="unknown key run.sead .*did you mean run.seed"):
        load_train_config(path)
    path.write_text("select: best\n", encoding="utf-8")
    with pytest.raises(InputError, match="select is 'best'"):
        load_train_config(path)


def test_pretraining_job_lowers_held_out_mlm_loss(env):
    cfg = pretrain_config_from_dict({
        "texts": [str(env["corpus"]["documents"])],
        "base_model": str(env["bert"]),
        "output_dir": str(env["root"] / "pretrained"),
        "eval_fraction": 0.25,
        "progress": False,
        "settings": {"epochs": 4, "lr": 0.003, "batch_size": 8, "max_length": 32, "num_threads": 1},
    })
    result = run_pretraining(cfg)
    assert result.n_eval_texts > 0 and result.result["eval_loss_after"] < result.result["eval_loss_before"]
    summary = json.loads(result.summary_path.read_text(encoding="utf-8"))
    assert summary["command"] == "pretrain" and summary["eval_documents"]
    assert (result.out_dir / "model.safetensors").exists()


def test_shipped_configs_are_valid():
    from groundcoder.paths import configs_dir
    from groundcoder.training import load_pretrain_config
    from groundcoder.training.job import _bert_settings

    train = load_train_config(configs_dir() / "train.yaml")
    assert train.data.source == "demo" and train.model.base_model == "models/compact-zh"
    settings = _bert_settings(train)
    assert settings.seed == train.run.seed and settings.epochs == train.model.settings["epochs"]
    pretrain = load_pretrain_config(configs_dir() / "pretrain.yaml")
    assert pretrain.output_dir.startswith("models/runs/")  # under the ignored runs folder: never committed
