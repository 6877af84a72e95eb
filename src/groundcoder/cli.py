"""The ``groundcoder`` command line: one subcommand per step of the workflow.

corpus -> ingest -> screen -> train -> code -> saturation -> factor-model / reliability.
Commands stay thin: they parse options and call the library.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Optional

import typer

from .errors import GroundcoderError, NotBuiltError

app = typer.Typer(
    name="groundcoder",
    help="Grounded-theory coding of Chinese firm documents: screening, BERT coding, saturation, factor models.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
qdpx_app = typer.Typer(help="REFI-QDA (.qdpx/.qdc) import and export.", no_args_is_help=True)
codebook_app = typer.Typer(help="Validate and export codebooks.", no_args_is_help=True)
app.add_typer(qdpx_app, name="qdpx")
app.add_typer(codebook_app, name="codebook")


def _not_built(step: str, issue: int) -> None:
    raise NotBuiltError(
        f"`groundcoder {step}` is not built yet in this version (tracked in issue #{issue}); nothing was done."
    )


@app.command()
def ingest(
    folder: Path = typer.Argument(..., help="Folder of documents (PDF, Word, HTML, text); subfolders included."),
    firms: Path = typer.Option(..., "--firms", help="Firm table (.csv or .xlsx): code, name, industry, founded, ..."),
    store: Path = typer.Option(Path("project.sqlite"), "--store", help="Project store; created if missing."),
    manifest: Optional[Path] = typer.Option(None, "--manifest", help="Table of file, code, year, kind: matches files to firms."),
    pattern: Optional[str] = typer.Option(
        None, "--pattern", help='File-name pattern, e.g. "{code}_{year}"; default: the name starts with the firm code.'
    ),
    kind: str = typer.Option("annual_report", "--kind", help="Document kind where the manifest does not give one."),
) -> None:
    """Load a folder of documents into the project store; files already stored are skipped."""
    from rich.console import Console

    from .ingest import ingest_folder, print_summary

    summary = ingest_folder(folder, firms, store, manifest, pattern, kind, console=Console(stderr=True))
    print_summary(summary, Console())


@app.command("export")
def export_table(
    table: str = typer.Argument(..., help="firms, documents, segments, codings, codebook_versions, model_runs or model_run_history."),
    store: Path = typer.Option(Path("project.sqlite"), "--store", help="Project store."),
    out: Optional[Path] = typer.Option(None, "--out", help="Output path without suffix; default: TABLE beside the store."),
) -> None:
    """Write one table of the project store as CSV (UTF-8 with BOM) and XLSX."""
    from .store import ProjectStore

    with ProjectStore.open(store, create=False) as project:
        csv_path, xlsx_path = project.export_table(table, out or store.parent / table)
    typer.echo(f"wrote {csv_path}" + (f" and {xlsx_path}" if xlsx_path else " (too many rows for Excel: CSV only)"))


@app.command()
def screen(
    config: Path = typer.Option(Path("configs/screening.yaml"), help="Screening config (YAML)."),
    out: Optional[Path] = typer.Option(None, "--out", help="Output folder; default: output.folder of the config."),
) -> None:
    """Rule-based screening: keyword frequencies, digital-transformation index, patent self-citation, funnel."""
    from rich.console import Console

    from .paths import configs_dir
    from .screening import load_config, run_screening
    from .screening.funnel import print_summary

    if config == Path("configs/screening.yaml") and not config.exists():
        config = configs_dir() / "screening.yaml"  # the shipped config, wherever the command runs
    result = run_screening(load_config(config, output=out), console=Console(stderr=True))
    print_summary(result, Console())


@app.command()
def train(config: Path = typer.Option(Path("configs/train.yaml"), help="Training config (YAML).")) -> None:
    """Train the concept classifier (compact BERT or any BERT checkpoint) and the TF-IDF baseline."""
    from rich.console import Console

    from .training.config import load_train_config
    from .training.job import print_run_summary, run_training

    result = run_training(load_train_config(config), console=Console(stderr=True))
    print_run_summary(result, Console())


@app.command()
def pretrain(config: Path = typer.Option(Path("configs/pretrain.yaml"), help="Pretraining config (YAML).")) -> None:
    """Masked-language-model pretraining on your own unlabelled reports."""
    from rich.console import Console

    from .training.config import load_pretrain_config
    from .training.job import run_pretraining

    result = run_pretraining(load_pretrain_config(config), console=Console(stderr=True))
    typer.echo(f"pretrained model: {result.out_dir}; summary: {result.summary_path}")


@app.command()
def code(
    model: Optional[str] = typer.Option(None, "--model", help="models/runs/<run_id>, a model folder, or current (default: the config's)."),
    input_: Optional[list[Path]] = typer.Option(
        None, "--input", help="Documents (a folder or files: PDF, txt, md, docx, html) or one table (.csv/.xlsx/.jsonl with id, text)."
    ),
    store: Optional[Path] = typer.Option(None, "--store", help="Project store: code its documents (see --firms) and keep the suggestions."),
    firms: Optional[list[str]] = typer.Option(None, "--firms", help="Firm codes, comma-separated or repeated."),
    docs: Optional[list[str]] = typer.Option(None, "--doc", help="Stored document ids, comma-separated or repeated."),
    out: Optional[Path] = typer.Option(None, "--out", help="Output folder (default: the config's, code-output)."),
    runtime: Optional[str] = typer.Option(None, "--runtime", help="torch (default) or onnx (int8 ONNX Runtime; pip install onnx onnxruntime)."),
    unit: Optional[str] = typer.Option(None, "--unit", help="sentence or paragraph."),
    top_k: Optional[int] = typer.Option(None, "--top-k", help="At most this many suggestions per segment (default 3)."),
    allow_fallback: Optional[bool] = typer.Option(
        None, "--allow-fallback/--no-fallback", help="ONNX: use PyTorch if the ONNX labels disagree on the reference set."
    ),
    store_write: Optional[bool] = typer.Option(None, "--store-write/--no-store-write", help="Add the suggestions to the store as model codings."),
    config: Optional[Path] = typer.Option(None, "--config", help="Auto-coding config (YAML); default configs/code.yaml."),
) -> None:
    """Auto-code documents with a trained model: suggestions.csv/.xlsx, a per-firm summary, codings in the store."""
    from .inference.commands import code_command

    code_command(
        typer.echo, config=config, model=model, inputs=input_, store=store, firms=firms, docs=docs, out=out, runtime=runtime,
        unit=unit, top_k=top_k, allow_fallback=allow_fallback, write_store=store_write,
    )


@app.command()
def queue(
    model: Optional[str] = typer.Option(None, "--model", help="models/runs/<run_id>, a model folder, or current (default: the config's)."),
    store: Path = typer.Option(Path("project.sqlite"), "--store", help="Project store whose uncoded segments are ranked."),
    n: Optional[int] = typer.Option(None, "--n", help="How many segments to queue (default 50)."),
    out: Optional[Path] = typer.Option(None, "--out", help="Output folder (default: queue-output)."),
    firms: Optional[list[str]] = typer.Option(None, "--firms", help="Only these firms' documents, comma-separated or repeated."),
    unit: Optional[str] = typer.Option(None, "--unit", help="sentence or paragraph."),
    strategy: Optional[str] = typer.Option(None, "--strategy", help="Uncertainty: margin (default) or entropy."),
    diversity: Optional[str] = typer.Option(None, "--diversity", help="jaccard (default), embedding or none."),
    runtime: Optional[str] = typer.Option(None, "--runtime", help="torch (default) or onnx."),
    qdpx: Optional[bool] = typer.Option(None, "--qdpx/--no-qdpx", help="Also write queue.qdpx for NVivo, ATLAS.ti, MAXQDA, QualCoder."),
    config: Optional[Path] = typer.Option(None, "--config", help="Config (YAML, section queue:); default configs/code.yaml."),
) -> None:
    """Rank uncoded segments for the researcher to code next (uncertainty + diversity), as xlsx and .qdpx."""
    from .inference.commands import queue_command

    queue_command(
        typer.echo, config=config, model=model, store=store, n=n, out=out, firms=firms, unit=unit, strategy=strategy,
        diversity=diversity, runtime=runtime, qdpx=qdpx,
    )


@qdpx_app.command("export")
def qdpx_export(
    store: Path = typer.Option(Path("project.sqlite"), "--store", help="Project store."),
    out: Path = typer.Option(Path("project.qdpx"), "--out", help="The .qdpx to write."),
    include_model: bool = typer.Option(False, "--include-model", help="Add model suggestions (user groundcoder-model) for review."),
    model_run: Optional[str] = typer.Option(None, "--model-run", help="Suggestions of this model run (default: the current model)."),
    min_confidence: Optional[float] = typer.Option(None, "--min-confidence", help="Only suggestions at least this confident."),
    codebook: Optional[Path] = typer.Option(None, "--codebook", help="Codebook (.yaml/.qdc); default: the store's latest."),
) -> None:
    """Export the project (codebook, sources, codings) as a REFI-QDA .qdpx."""
    from .qdpx.commands import run_export

    run_export(store, out, include_model=include_model, model_run=model_run, min_confidence=min_confidence, codebook=codebook, echo=typer.echo)


@qdpx_app.command("import")
def qdpx_import(
    file: Path = typer.Argument(..., help="REFI-QDA project (.qdpx) or codebook (.qdc)."),
    store: Optional[Path] = typer.Option(None, "--store", help="Project store to add the documents, codings or review decisions to."),
    out: Optional[Path] = typer.Option(None, "--out", help="Training quotes (human codings) as JSONL."),
    summary: Optional[Path] = typer.Option(None, "--summary", help="JSON summary; default FILE.import.json beside --out or FILE."),
    review: Optional[bool] = typer.Option(
        None, "--review/--no-review", help="Read as a review of exported suggestions (default: when the file has groundcoder-model codings)."
    ),
    against: Optional[Path] = typer.Option(None, "--against", help="Review: the .qdpx groundcoder exported (default: the store's suggestions)."),
    reviewer: Optional[str] = typer.Option(None, "--reviewer", help="Review: coder id for decisions the file does not attribute."),
    model_run: Optional[list[str]] = typer.Option(None, "--model-run", help="Review: compare suggestions of this model run (repeatable)."),
    untouched: str = typer.Option("kept", "--untouched", help="Review: suggestions nobody changed count as 'kept' or 'skip'."),
    add_documents: bool = typer.Option(True, "--add-documents/--no-add-documents", help="Add sources that are not in the store yet."),
    save_codebook: bool = typer.Option(False, "--save-codebook", help="Record the file's codebook as the store's latest."),
    max_size: int = typer.Option(2048, "--max-size", help="Refuse archives over this many MiB uncompressed."),
) -> None:
    """Import a .qdpx or .qdc from NVivo, ATLAS.ti, MAXQDA or QualCoder."""
    from .qdpx.commands import run_import

    run_import(
        file, store=store, out=out, summary=summary, review=review, against=against, reviewer=reviewer, model_runs=model_run, untouched=untouched,
        add_documents=add_documents, save_codebook=save_codebook, max_bytes=max_size * 1024 * 1024, echo=typer.echo,
    )  # fmt: skip


@codebook_app.command("validate")
def codebook_validate(
    path: Path = typer.Argument(..., help="Codebook to check: .yaml or REFI-QDA .qdc."),
) -> None:
    """Check a codebook and list every problem with its line."""
    from .codebook import Codebook

    codebook = Codebook.load(path)
    typer.echo(f"ok: {path}: {codebook.summary()}")


@codebook_app.command("export")
def codebook_export(
    path: Path = typer.Argument(..., help="Codebook to export: .yaml or .qdc."),
    to: Path = typer.Option(..., "--to", help="Output file: .qdc (REFI-QDA), .xlsx (tables 3 and 4) or .yaml."),
) -> None:
    """Export a codebook as REFI-QDA .qdc, Excel or YAML (by the suffix of --to)."""
    from .codebook import Codebook, export_codebook

    written = export_codebook(Codebook.load(path), to)
    typer.echo(f"wrote {written}")


@codebook_app.command("import")
def codebook_import(
    path: Path = typer.Argument(..., help="REFI-QDA .qdc codebook (from groundcoder, NVivo, ATLAS.ti, MAXQDA, QualCoder)."),
    to: Path = typer.Option(..., "--to", help="Output YAML codebook."),
) -> None:
    """Turn a REFI-QDA .qdc codebook into a groundcoder YAML codebook."""
    from .codebook import Codebook, export_codebook

    codebook = Codebook.load(path)
    if to.suffix.lower() not in {".yaml", ".yml"}:
        from .errors import InputError

        raise InputError(to, "the imported codebook is written as YAML", hint="name the output *.yaml")
    written = export_codebook(codebook, to)
    typer.echo(f"wrote {written}: {codebook.summary()}")


@app.command()
def saturation(
    demo: bool = typer.Option(False, "--demo", help="The shipped demo corpus: its held-out firms against its train firms."),
    store: Optional[Path] = typer.Option(None, "--store", help="Project store with the codings and documents."),
    firms: Optional[str] = typer.Option(None, "--firms", help="Held-out firms in the order they were studied, comma-separated (demo default: --sample's firms)."),
    sample: str = typer.Option("holdout,holdout_new", "--sample", help="Demo: the held-out samples to test (holdout, holdout_new)."),
    model: Optional[str] = typer.Option(None, "--model", help="Model codes too: models/runs/<id>, a model folder, current, or baseline (train the TF-IDF baseline now)."),
    coder: Optional[str] = typer.Option(None, "--coder", help="Human coder (demo default coder1; store: every human coder)."),
    codes: str = typer.Option("auto", "--codes", help="human, model, both, or auto (both with --model, else human)."),
    reference: Optional[str] = typer.Option(None, "--reference", help="Firms the codebook was built from, comma-separated, or none (default: demo train firms; store: every other coded firm)."),
    place: Optional[list[str]] = typer.Option(None, "--place", help="Place a new concept: CONCEPT=INITIAL_CATEGORY or CONCEPT=NEW_INITIAL/MAIN (repeatable)."),
    codebook: Optional[Path] = typer.Option(None, "--codebook", help="Codebook (.yaml/.qdc); default: the store's latest, else the shipped one."),
    out: Path = typer.Option(Path("saturation"), "--out", help="Output folder (saturation.json, tables, figures, report.md/.html)."),
    guest_base: Optional[int] = typer.Option(None, "--guest-base", help="Guest et al.: base size b (default from the number of firms)."),
    guest_run: Optional[int] = typer.Option(None, "--guest-run", help="Guest et al.: run length r (default from the number of firms)."),
    guest_threshold: float = typer.Option(0.05, "--guest-threshold", help="Guest et al.: new-information threshold t."),
    max_unseen: float = typer.Option(1.0, "--max-unseen", help="Decision rule: saturated only with fewer estimated unseen codes than this."),
    orders: int = typer.Option(200, "--orders", help="Random firm orders for the accumulation curve."),
    rounds: int = typer.Option(5, "--calibration-rounds", help="Model: leave-concepts-out rounds of the novelty calibration."),
    threshold_rule: str = typer.Option("fpr", "--threshold-rule", help="Model: novelty operating point by fpr, youden or tpr."),
    target_fpr: float = typer.Option(0.1, "--target-fpr", help="Model: rule fpr's false-positive rate on known material."),
    min_segments: int = typer.Option(3, "--min-sentences", help="Model: sentences a candidate concept needs."),
    min_firms: Optional[int] = typer.Option(None, "--min-firms", help="Model: firms a candidate concept needs (default 2, 1 with one firm)."),
    recalibrate: bool = typer.Option(False, "--recalibrate", help="Model: calibrate novelty again even if the run has a calibration."),
    seed: int = typer.Option(0, "--seed", help="Seed of the random orders and the calibration."),
) -> None:
    """Saturation test on held-out firms: new codes, accumulation curves, Guest 2020, Chao2, a verdict."""
    from rich.console import Console

    from .saturation.run import request_from_options, run_saturation, summary_lines

    request = request_from_options(
        out, demo=demo, store=store, firms=firms, sample=sample, model=model, coder=coder, codes=codes, reference=reference,
        place=place, codebook=codebook, guest_base=guest_base, guest_run=guest_run, guest_threshold=guest_threshold,
        max_unseen=max_unseen, orders=orders, seed=seed, rounds=rounds, threshold_rule=threshold_rule, target_fpr=target_fpr,
        min_segments=min_segments, min_firms=min_firms, recalibrate=recalibrate,
    )  # fmt: skip
    console = Console(stderr=True)
    result = run_saturation(request, log=lambda message: console.print(message, markup=False, highlight=False))
    for line in summary_lines(result):
        typer.echo(line)


@app.command("factor-model")
def factor_model(
    store: Optional[Path] = typer.Option(None, "--store", help="Project store whose codings to analyse."),
    demo: bool = typer.Option(False, "--demo", help="Analyse the shipped demo corpus (coder1's codings)."),
    out: Path = typer.Option(Path("factor-model"), "--out", help="Output folder (factor_model/, case_analysis/, JSON summary)."),
    coder: Optional[list[str]] = typer.Option(None, "--coder", help="Only this coder's codings (coder id or model run id; repeat for several)."),
    coder_kind: Optional[str] = typer.Option(None, "--coder-kind", help="human or model (store); default: human codings if there are any."),
    model_run: Optional[str] = typer.Option(None, "--model-run", help="Only this model run's suggestions (human codings stay)."),
    codebook: Optional[Path] = typer.Option(None, "--codebook", help="Codebook (.yaml/.qdc); default: the store's latest, else the shipped one."),
    sample: str = typer.Option("train", "--sample", help="Demo firms: train, holdout, holdout_new or all."),
    firm: Optional[list[str]] = typer.Option(None, "--firm", help="Case firm (give two); default: two contrasting firms picked automatically."),
    window: str = typer.Option("document", "--window", help="Window for proposed links: segment, paragraph, document or firm."),
    min_support: int = typer.Option(5, "--min-support", help="Proposed link: at least this many windows together."),
    min_npmi: float = typer.Option(0.1, "--min-npmi", help="Proposed link: NPMI at least this."),
    max_p: float = typer.Option(0.05, "--max-p", help="Proposed link: Fisher's exact p (one-sided) at most this."),
    core: str = typer.Option("微创新", "--core", help="Name of the core category in the model graph and figure 3."),
) -> None:
    """Open/axial/selective coding tables, factor-model graph and case analysis."""
    from .analysis.axial import WINDOWS, LinkRule
    from .analysis.commands import run_factor_model
    from .errors import InputError

    if window not in WINDOWS:
        raise InputError(None, f"unknown window {window!r}", hint="windows: " + ", ".join(WINDOWS))
    _, lines = run_factor_model(
        out, store=store, demo=demo, coders=coder, coder_kind=coder_kind, model_run_id=model_run, codebook=codebook,
        sample=sample, firms=firm, rule=LinkRule(window, min_support, min_npmi, max_p), core=core,
    )
    for line in lines:
        typer.echo(line)


@app.command()
def reliability(
    names: Optional[list[str]] = typer.Argument(None, metavar="[CODERS]...", help="The coders to compare (after --coders)."),
    coders_flag: bool = typer.Option(False, "--coders", help="The coders follow: --coders A B [C ...] (coder ids or model run ids)."),
    store: Optional[Path] = typer.Option(None, "--store", help="Project store with the codings."),
    demo: bool = typer.Option(False, "--demo", help="The demo corpus: coder1 vs coder2 on the spans coder2 reviewed."),
    out: Path = typer.Option(Path("reliability"), "--out", help="Output folder."),
    reviewed_by: Optional[str] = typer.Option(None, "--reviewed-by", help="Compare only the spans this coder reviewed (a second coder's sample)."),
    whole_documents: bool = typer.Option(False, "--whole-documents", help="Demo: compare every sentence, not only coder2's sample."),
    model_run: Optional[str] = typer.Option(None, "--model-run", help="Only this model run's suggestions."),
    min_confidence: Optional[float] = typer.Option(None, "--min-confidence", help="Ignore model suggestions below this confidence."),
    codebook: Optional[Path] = typer.Option(None, "--codebook", help="Codebook (.yaml/.qdc); default: the store's latest, else the shipped one."),
) -> None:
    """Inter-coder reliability: agreement, Cohen's kappa, Krippendorff's alpha."""
    from .analysis.commands import run_reliability

    coders = [c for name in (names or []) for c in name.split(",") if c]
    _, lines = run_reliability(
        out, coders, store=store, demo=demo, reviewed_by=reviewed_by, whole_documents=whole_documents,
        model_run_id=model_run, codebook=codebook, min_confidence=min_confidence,
    )
    for line in lines:
        typer.echo(line)


@app.command()
def demo(
    out: Path = typer.Option(Path("demo-output"), help="Folder for the demo's outputs."),
    reduced: bool = typer.Option(False, help="A small, fast slice of the demo (what the test suite runs)."),
    config: Optional[Path] = typer.Option(None, help="Demo config (default configs/demo.yaml)."),
) -> None:
    """Run the main job on the shipped demo corpus, offline: screening -> training -> auto-coding ->
    saturation -> factor model -> case analysis -> reliability, into one HTML report."""
    from rich.console import Console

    from .demo import run_demo

    console = Console()
    summary = run_demo(out, reduced=reduced, config=config, console=console)
    console.rule("[bold]groundcoder demo: summary")
    for step in summary.steps:
        console.print(f"{step.name} ({step.seconds:.0f} s): {step.headline}")
    console.print(f"\nreport: {summary.report}\nworkbook: {summary.workbook}\nQDA project: {summary.qdpx}\n"
                  f"summary: {summary.out_dir / 'demo_summary.json'}\ntotal: {summary.seconds:.0f} s")


def main(argv: Optional[list[str]] = None) -> None:
    """Entry point: user errors are printed as one clear message (exit 2), bugs keep their traceback."""
    try:
        app(args=argv, standalone_mode=False)
    except GroundcoderError as exc:
        typer.secho(f"error: {exc}", fg=typer.colors.RED, err=True)
        sys.exit(2)
    except KeyboardInterrupt:
        typer.secho("interrupted: outputs written so far are complete; nothing half-written was kept.", err=True)
        sys.exit(130)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except typer.Abort:
        sys.exit(1)
    except Exception as exc:  # click usage errors
        import click

        if isinstance(exc, click.ClickException):
            exc.show()
            sys.exit(exc.exit_code)
        raise


if __name__ == "__main__":
    main()
