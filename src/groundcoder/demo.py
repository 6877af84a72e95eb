"""`groundcoder demo`: the main job on the shipped demo corpus, offline, end to end.

screening funnel -> project store -> training (compact BERT + TF-IDF baseline) -> auto-coding of the
held-out firms -> saturation -> factor model -> case analysis -> reliability -> one HTML report, one
XLSX workbook, a .qdpx for a QDA tool, and a closing summary. Every step is a library call; this module
only wires them together and keeps every output under one folder.

``reduced=True`` is the same pipeline on a small slice (a tiny BERT, a few training firms) for tests.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .atomic import write_json, write_text
from .errors import InputError
from .paths import configs_dir, demo_corpus_dir

DEMO_CODER = "coder1"
SECOND_CODER = "coder2"


@dataclass
class DemoStep:
    name: str
    seconds: float
    headline: str
    files: dict[str, str] = field(default_factory=dict)


@dataclass
class DemoSummary:
    out_dir: Path
    steps: list[DemoStep]
    report: Path
    workbook: Path
    qdpx: Path
    seconds: float
    headlines: dict[str, Any] = field(default_factory=dict)


def _load_demo_config(path: Path | None) -> dict[str, Any]:
    path = path or configs_dir() / "demo.yaml"
    if not path.is_file():
        raise InputError(path, "demo config not found", hint="the checkout ships configs/demo.yaml")
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    if not isinstance(data, dict):
        raise InputError(path, "the demo config is a mapping of sections")
    return data


class _Steps:
    """Runs named steps with a status line and keeps their timings and headlines."""

    def __init__(self, console: Any) -> None:
        self.console = console
        self.steps: list[DemoStep] = []

    def run(self, name: str, fn: Callable[[], tuple[str, dict[str, str]]]) -> None:
        started = time.perf_counter()
        if self.console is not None:
            self.console.rule(f"[bold]{name}")
        headline, files = fn()
        seconds = time.perf_counter() - started
        self.steps.append(DemoStep(name, seconds, headline, files))
        if self.console is not None:
            self.console.print(f"[green]✓[/green] {name}: {headline} ({seconds:.0f} s)")


def run_demo(out_dir: str | Path = "demo-output", *, reduced: bool = False, config: Path | None = None,
             console: Any = None) -> DemoSummary:
    """Run the whole demo into ``out_dir``; ``console`` (rich) shows progress, None keeps quiet."""
    from .analysis import CodingSet, build_case_analysis, build_factor_model, build_reliability
    from .codebook import Codebook
    from .demo_corpus.load import load_demo_corpus
    from .demo_corpus.to_store import load_demo_into_store
    from .store import ProjectStore

    started = time.perf_counter()
    settings = _load_demo_config(config)
    profile = settings["reduced" if reduced else "full"]
    out = Path(out_dir).resolve()
    out.mkdir(parents=True, exist_ok=True)
    corpus = load_demo_corpus()
    codebook = Codebook.default()
    store_path = out / "project.sqlite"
    steps = _Steps(console)
    state: dict[str, Any] = {}

    def screening() -> tuple[str, dict[str, str]]:
        from .screening.config import load_config
        from .screening.funnel import run_screening

        result = run_screening(load_config(configs_dir() / "screening.yaml", output=out / "screening"),
                               console=console)
        state["screening"] = result
        counts = " -> ".join(str(stage.firms) for stage in result.stages)
        return f"{counts} firms ({' -> '.join(stage.stage for stage in result.stages)})", \
            {"folder": str(out / "screening")}

    def store() -> tuple[str, dict[str, str]]:
        summary = load_demo_into_store(store_path, corpus, codebook)
        return (f"{summary.firms} firms, {summary.documents} documents, {summary.codings} human codings",
                {"store": str(store_path)})

    def train() -> tuple[str, dict[str, str]]:
        from .training.config import load_train_config
        from .training.job import run_training

        overrides = {"run.output_dir": str(out / "models" / "runs"), "run.store": str(store_path),
                     "run.progress": console is not None, **profile.get("train", {})}
        if profile.get("tiny_model"):
            from .classifier.compact import write_compact_folder

            tiny = write_compact_folder(out / "models" / "tiny-bert", **profile["tiny_model"])
            overrides["model.base_model"] = str(tiny)
        result = run_training(load_train_config(configs_dir() / "train.yaml", overrides), console=console)
        state["train"] = result
        bert = _metric(result, "bert")
        base = _metric(result, "baseline")
        return (f"selected {result.selected}; initial-category macro-F1 on held-out firms: BERT {bert}, "
                f"baseline {base}", {"run": str(result.run_dir)})

    def autocode() -> tuple[str, dict[str, str]]:
        from .inference.config import load_code_config
        from .inference.job import run_code

        firms = corpus.holdout_firms + corpus.holdout_new_firms
        cfg = load_code_config(configs_dir() / "code.yaml", {
            "model": str(state["train"].run_dir), "runs_dir": str(out / "models" / "runs"),
            "input.store": str(store_path), "input.firms": firms, "input.documents": [],
            "output.folder": str(out / "coding"), "output.progress": console is not None,
            **profile.get("code", {})})
        result = run_code(cfg, console=console)
        state["code"] = result
        return (f"{result.segments} segments of {len(firms)} held-out firms, {result.coded_segments} coded, "
                f"{result.suggestions} suggestions ({result.segments_per_second:.0f} segments/s)",
                {k: str(v) for k, v in result.files.items()})

    def saturation() -> tuple[str, dict[str, str]]:
        from .saturation.run import request_from_options, run_saturation

        # As in the study: the 5 held-out firms on their own (expected: saturated), then the 2 firms
        # whose documents carry a theme the codebook lacks (expected: not saturated).
        results, files, headlines = {}, {}, []
        for sample in ("holdout", "holdout_new"):
            request = request_from_options(out / "saturation" / sample, demo=True, sample=sample,
                                           model=str(state["train"].model_dir), **profile.get("saturation", {}))
            result = run_saturation(request, log=(lambda m: console.print(m, markup=False, highlight=False))
                                    if console is not None else None)
            results[sample] = result
            files[sample] = str(result.out_dir)
            verdict = "saturated" if result.overall.saturated else "NOT saturated"
            headlines.append(f"{sample}: {verdict} ({result.overall.headline})")
        state["saturation"] = results
        return "; ".join(headlines), files

    def analyses() -> tuple[str, dict[str, str]]:
        human = CodingSet.from_demo_corpus(corpus, coders=(DEMO_CODER,), codebook=codebook,
                                           firm_ids=corpus.train_firms)
        fm = build_factor_model(human, out / "factor_model")
        case = build_case_analysis(human, out / "case_analysis")
        state["factor_model"], state["case"] = fm, case
        links = "; ".join(f"{l['a']}—{l['b']}" for l in fm.links[:3]) if fm.links and "a" in fm.links[0] else \
            f"{len(fm.links)} proposed links"
        return (f"{fm.n_quotes} quotes in {fm.n_documents} sources -> {fm.concepts_used} concepts, "
                f"{fm.initial_used} initial and {fm.main_used} main categories; {links}; {case.headline()}",
                {"factor_model": str(out / "factor_model"), "case_analysis": str(out / "case_analysis")})

    def reliability() -> tuple[str, dict[str, str]]:
        # human vs human: coder1 and coder2 on the spans coder2 reviewed (training firms' documents)
        both = CodingSet.from_demo_corpus(corpus, coders=(DEMO_CODER, SECOND_CODER), codebook=codebook)
        humans = build_reliability(both, [DEMO_CODER, SECOND_CODER], out / "reliability" / "human_vs_human",
                                   reviewed_by=SECOND_CODER)
        # human vs model: coder1 and the trained model on the held-out firms it auto-coded
        run_id = state["train"].run_id
        with ProjectStore.open(store_path) as st:  # the coding set reads document texts from the store
            mixed = CodingSet.from_store(st, coders=[DEMO_CODER, run_id], codebook=codebook)
            held_out = mixed.for_firms(corpus.holdout_firms + corpus.holdout_new_firms)
            versus_model = build_reliability(held_out, [DEMO_CODER, run_id], out / "reliability" / "human_vs_model")
        state["reliability"] = {"human_vs_human": humans, "human_vs_model": versus_model}
        return (f"human vs human: {humans.headline_text()}; human vs model: {versus_model.headline_text()}",
                {"folder": str(out / "reliability")})

    steps.run("1. screening funnel", screening)
    steps.run("2. project store", store)
    steps.run("3. training", train)
    steps.run("4. auto-coding held-out firms", autocode)
    steps.run("5. saturation", saturation)
    steps.run("6. factor model and case analysis", analyses)
    steps.run("7. inter-coder reliability", reliability)

    qdpx_path = out / "groundcoder-demo.qdpx"
    from .qdpx import export_qdpx

    with ProjectStore.open(store_path) as st:
        export_qdpx(qdpx_path, st, include_model=True, model_run_id=state["train"].run_id)
    workbook = _write_workbook(out, state)
    report = _write_report(out, steps.steps, state)
    summary = DemoSummary(out, steps.steps, report, workbook, qdpx_path, time.perf_counter() - started)
    write_json(out / "demo_summary.json", {
        "out_dir": str(out), "seconds": round(summary.seconds, 1), "reduced": reduced,
        "report": str(report), "workbook": str(workbook), "qdpx": str(qdpx_path),
        "steps": [{"name": s.name, "seconds": round(s.seconds, 1), "headline": s.headline, "files": s.files}
                  for s in steps.steps]})
    return summary


def _metric(result: Any, kind: str) -> str:
    try:
        value = result.evaluation(kind, "test").metric("initial_category.macro_f1")
    except KeyError:
        return "n/a"
    return "n/a" if value is None else f"{value:.3f}"


def _write_workbook(out: Path, state: dict[str, Any]) -> Path:
    """The headline tables of every step in one workbook a researcher opens in Excel."""
    import pandas as pd

    from .tables import write_xlsx

    sheets: dict[str, Any] = {}
    screening = state.get("screening")
    if screening is not None:
        sheets["筛选漏斗"] = pd.DataFrame([vars(s) for s in screening.stages])
        sheets["样本企业"] = screening.sample
    train = state.get("train")
    if train is not None:
        rows = []
        for kind in train.results:
            for part in ("validation", "test"):
                ev = train.evaluation(kind, part)
                for level in ("concept", "initial_category", "main_category"):
                    rows.append({"model": kind, "split": part, "level": level,
                                 "micro_f1": ev.metric(f"{level}.micro_f1"), "macro_f1": ev.metric(f"{level}.macro_f1"),
                                 "selected": kind == train.selected})
        sheets["模型评估"] = pd.DataFrame(rows)
    code = state.get("code")
    if code is not None and "firm_summary.csv" in {Path(v).name for v in code.files.values()}:
        sheets["自动编码汇总"] = pd.read_csv(next(Path(v) for v in code.files.values()
                                            if Path(v).name == "firm_summary.csv"), encoding="utf-8-sig")
    for sample, result in (state.get("saturation") or {}).items():
        verdict = result.overall
        sheets[f"饱和度_{sample}"[:31]] = pd.DataFrame(
            [{k: "、".join(map(str, v)) if isinstance(v, (list, tuple)) else v for k, v in vars(decision).items()}
             for decision in verdict.levels.values()])
    for key, title in (("factor_model", "因子模型"), ("case", "案例分析")):
        summary = state.get(key)
        for name, frame in (getattr(summary, "tables", {}) or {}).items():
            if len(sheets) < 40:
                sheets[f"{title}_{name}"[:31]] = frame
    rel = state.get("reliability") or {}
    for pair, summary in rel.items():
        frame = summary.tables.get("reliability_summary")
        if frame is not None:
            sheets[f"信度_{pair}"[:31]] = frame
    path = out / "groundcoder-demo.xlsx"
    write_xlsx(sheets, path)
    return path


def _write_report(out: Path, steps: list[DemoStep], state: dict[str, Any]) -> Path:
    """One self-contained HTML page: the run's steps, then every family's tables and figures."""
    import html

    from .analysis import case_analysis_html, factor_model_html, reliability_html
    from .analysis.report import Section, render_sections

    parts = [f"<h1>groundcoder demo</h1><p>Fictional demo corpus; {len(steps)} steps in "
             f"{sum(s.seconds for s in steps):.0f} s. Outputs: {html.escape(str(out))}</p>", "<ol>"]
    parts += [f"<li><b>{html.escape(s.name)}</b>: {html.escape(s.headline)} ({s.seconds:.0f} s)</li>" for s in steps]
    parts.append("</ol>")
    screening = state.get("screening")
    if screening is not None:
        import pandas as pd

        figures = [(Path(p).stem, Path(p)) for k, p in screening.outputs.items() if str(p).endswith(".png")]
        parts.append(render_sections("筛选 Screening", [Section(
            "漏斗", "", tables=[("各阶段企业数", pd.DataFrame([vars(s) for s in screening.stages])),
                               ("样本企业", screening.sample)], figures=figures)], base=out))
    train = state.get("train")
    if train is not None:
        report_html = Path(train.run_dir) / "report.html"
        parts.append(f"<h2>训练 Training</h2><p>{html.escape(steps[2].headline if len(steps) > 2 else '')}. "
                     f"Full report: <a href='{html.escape(str(report_html.relative_to(out)) if report_html.is_relative_to(out) else str(report_html))}'>"
                     f"report.html</a>, model card: MODEL_CARD.md.</p>")
    for sample, result in (state.get("saturation") or {}).items():
        page = Path(result.out_dir) / "report.html"
        verdict = result.overall
        parts.append(f"<h2>饱和度检验 Saturation: {html.escape(sample)}</h2><p><b>"
                     f"{'saturated' if verdict.saturated else 'NOT saturated'}</b>: {html.escape(verdict.headline_zh)}</p>"
                     f"<ul>{''.join(f'<li>{html.escape(e)}</li>' for e in verdict.evidence)}</ul>"
                     f"<p>Full report: <a href='{html.escape(str(page.relative_to(out)))}'>{html.escape(str(page.relative_to(out)))}</a></p>")
        for png in sorted(Path(result.out_dir).rglob("*.png"))[:2]:
            from .analysis.report import html_image

            parts.append(html_image(png, png.stem, base=out))
    if state.get("factor_model") is not None:
        parts.append(factor_model_html(state["factor_model"], base=out))
    if state.get("case") is not None:
        parts.append(case_analysis_html(state["case"], base=out))
    for summary in (state.get("reliability") or {}).values():
        parts.append(reliability_html(summary, base=out))
    page = ("<!doctype html><html lang='zh'><head><meta charset='utf-8'><title>groundcoder demo</title>"
            "<style>body{font-family:sans-serif;max-width:1100px;margin:2em auto;padding:0 1em}"
            "table{border-collapse:collapse;font-size:13px}td,th{border:1px solid #ccc;padding:2px 6px}"
            "img{max-width:100%}</style></head><body>" + "\n".join(parts) + "</body></html>")
    path = out / "report.html"
    write_text(path, page)
    return path
