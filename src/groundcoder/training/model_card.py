"""``MODEL_CARD.md`` of a training run: what the model is, what it was trained and tested on, how
well it did at each level, what it is for and where it fails."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..atomic import write_text


def _f(value: Any, digits: int = 3) -> str:
    return "–" if value is None else (f"{value:.{digits}f}" if isinstance(value, float) else str(value))


def _is_compact(base_model: str) -> bool:
    from ..classifier.compact import has_weights

    path = Path(base_model)
    return path.is_dir() and not has_weights(path)


def write_model_card(run_dir: str | Path, config: Any, metrics: dict[str, Any], codebook: Any) -> Path:
    run_dir = Path(run_dir)
    selected = metrics["selected"]
    models = metrics["models"]
    data = metrics["data"]
    splits = metrics["splits"]
    fold = splits["folds"][splits["output_fold"]]
    base = models.get("bert", {}).get("base_model", config.model.base_model)
    from_scratch = "bert" in models and _is_compact(base)
    lines = [f"# Model card: {metrics['run_id']}", ""]

    lines += ["## Model", ""]
    if selected == "bert":
        lines.append(f"A BERT-family encoder (`{base}`) with one sigmoid output per concept (multi-label), "
                     "mean pooling, class-balanced loss weights, temperature-calibrated probabilities and "
                     "per-concept decision thresholds tuned on validation firms.")
        if from_scratch:
            lines.append("")
            lines.append("**The encoder was trained from scratch**: the compact model shipped in `models/compact-zh` "
                         "(4 layers, hidden 256, a character vocabulary) starts from random weights, because no "
                         "pretrained weights can be downloaded offline. It has learnt Chinese only from this "
                         "project's coded quotes, so it picks up surface cues (characters and phrases that co-occur "
                         "with a concept) rather than meaning, and it is usually no better than the TF-IDF baseline "
                         "on a corpus this small. Pretrain it on your own reports (`groundcoder pretrain`) or start "
                         "from a pretrained Chinese BERT (see below) for real use.")
    else:
        lines.append("TF-IDF features (character n-grams "
                     f"{config.baseline.char_ngrams[0]}-{config.baseline.char_ngrams[1]}"
                     + (" plus jieba words" if config.baseline.words else "")
                     + ") with one class-balanced logistic regression per concept, temperature-calibrated "
                     "probabilities and per-concept thresholds tuned on validation firms. "
                     + ("No BERT model was trained in this run." if "bert" not in models else
                        "It was chosen over the BERT model of the same run"
                        + (" by its validation score." if config.select == "validation" else " (select: baseline).")))
    lines += [
        "",
        "Initial and main categories are derived from the concepts: a category is predicted exactly when one of "
        "its concepts is, and scores the maximum of its concepts, so no prediction breaks the codebook's tree. "
        "Predicting no concept is an explicit \"no code\".",
        "",
        f"- Codebook: {metrics.get('codebook_title') or ''} — hash `{metrics['codebook_hash']}` "
        f"({len(codebook.concepts)} concepts, {len(codebook.initial_categories)} initial categories, "
        f"{len(codebook.main_categories)} main categories). Loading the model with another codebook is refused.",
        ("- Files (`model/`): encoder and head weights as safetensors, the tokenizer, `classifier.json` (settings, "
         "training history), " if selected == "bert" else
         "- Files (`model/`): `baseline.json` (vocabularies and idf weights), `model.safetensors` (coefficients), ")
        + "`labels.json` (label map and codebook hash), `calibration.json` (temperature, thresholds, ECE/NLL before "
        "and after). No pickle anywhere.",
        "",
        "Load it with `groundcoder.training.registry.load_model(\"" + str(run_dir / "model") + "\", codebook)`.",
        "",
    ]

    lines += ["## Training data", ""]
    lines += [
        f"- Source: {data['source']}",
        f"- {data['positives']} coded examples ({data['multi_label']} with several concepts; {data['merged_duplicates']} "
        f"duplicate quotes merged), {data['negatives']} \"no code\" sentences (uncoded sentences of coded documents), "
        f"{data['firms']} firms, {data['documents']} documents.",
        f"- {len(data['concept_counts'])} of {len(codebook.concepts)} concepts have at least one example; "
        f"the rarest have {min(data['concept_counts'].values()) if data['concept_counts'] else 0}.",
        "",
    ]
    lines += ["## Evaluation", ""]
    lines += [
        f"Split by firm ({splits['strategy']}): {len(fold['train_firms'])} training firms, {len(fold['val_firms'])} "
        f"validation firms, {len(fold['test_firms'])} test firms; no firm is in two parts. The numbers are on the "
        "test firms, which the model never saw.",
        "",
        "| model | level | micro F1 | macro F1 | top-1 acc. | mean κ |",
        "|---|---|---|---|---|---|",
    ]
    for kind, entry in models.items():
        for level in ("concept", "initial_category", "main_category"):
            t = entry["test"][level]
            lines.append(f"| {kind}{' (this model)' if kind == selected else ''} | {level.replace('_', ' ')} | "
                         f"{_f(t['micro_f1'])} | {_f(t['macro_f1'])} | {_f(t['top_k_accuracy'].get('1'))} | {_f(t['mean_kappa'])} |")
    lines.append("")
    for kind, entry in models.items():
        nc = entry["test"]["no_code"]
        cal = entry["test"]["calibration"]
        lines.append(f"- {kind}: \"no code\" precision {_f(nc['precision'])}, recall {_f(nc['recall'])} "
                     f"({nc['support']} uncoded test sentences); ECE {_f(cal['ece_before'], 4)} before, "
                     f"{_f(cal['ece_after'], 4)} after calibration.")
        if "cross_validation" in entry:
            cv = entry["cross_validation"]
            lines.append(f"- {kind}, {cv['folds']}-fold cross-validation by firm: initial-category macro F1 "
                         f"{_f(cv['mean'].get('initial_category.macro_f1'))} ± {_f(cv['std'].get('initial_category.macro_f1'))}.")
    lines += ["", "Macro F1 averages over the labels present among the test examples. See report.html for per-label "
              "numbers, reliability diagrams and the main-category confusion matrix.", ""]

    lines += ["## Intended use", ""]
    lines += [
        "- Proposing concept and category codes for sentences of new Chinese firm documents (annual reports, "
        "websites, news) **for a researcher to review**, with the same codebook, e.g. exported to NVivo, ATLAS.ti, "
        "MAXQDA or QualCoder; ranking uncoded passages for coding; a saturation check on held-out firms.",
        "- Not for coding without review, not for other codebooks, languages or kinds of text, and not as evidence "
        "on its own in a publication: report inter-coder reliability of the human codes and the model's agreement (κ) "
        "with them.",
        "",
    ]
    lines += ["## Limits", ""]
    lines += [
        "- Small data: a few dozen quotes per concept at best, many concepts with only a handful; rare concepts are "
        "predicted poorly or never, and the macro averages move a lot from one split to another (compare the "
        "cross-validation spread where reported).",
        "- Thresholds and the temperature were fitted on a few validation firms; they may not transfer.",
        "- \"No code\" examples are uncoded sentences of documents a coder worked through; a sentence left uncoded "
        "is not always one that fits no concept, so some \"false positives\" may be missed codes.",
        "- Firms, industries and years unlike the training firms (new themes, new concepts) are out of scope: the "
        "model can only name concepts of its codebook.",
    ]
    if from_scratch:
        lines.append("- The compact BERT of this run had no pretraining: treat its numbers as a lower bound of what a "
                     "BERT can do here, not as evidence that BERT does not help.")
    lines += [
        "",
        "## Using a pretrained Chinese BERT",
        "",
        "Any BERT-family checkpoint with safetensors weights works unchanged. Download one on a machine with "
        "internet access, e.g. `huggingface-cli download hfl/chinese-roberta-wwm-ext --local-dir "
        "models/chinese-roberta-wwm-ext` (or `bert-base-chinese`, `hfl/rbt3`), copy the folder here and set "
        "`model.base_model: models/chinese-roberta-wwm-ext` in configs/train.yaml, with fine-tuning settings "
        "(`lr: 3.0e-5`, `epochs: 4`; delete both keys from `model.settings` to get these defaults).",
        "",
    ]
    return write_text(run_dir / "MODEL_CARD.md", "\n".join(lines))
