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
def screen(config: Path = typer.Option(Path("configs/screening.yaml"), help="Screening config (YAML).")) -> None:
    """Rule-based screening: keyword frequencies, digital-transformation index, patent self-citation, funnel."""
    _not_built("screen", 4)


@app.command()
def train(config: Path = typer.Option(Path("configs/train.yaml"), help="Training config (YAML).")) -> None:
    """Train the concept classifier (compact BERT or any BERT checkpoint) and the TF-IDF baseline."""
    _not_built("train", 5)


@app.command()
def pretrain(config: Path = typer.Option(Path("configs/pretrain.yaml"), help="Pretraining config (YAML).")) -> None:
    """Masked-language-model pretraining on your own unlabelled reports."""
    _not_built("pretrain", 5)


@app.command()
def code(config: Path = typer.Option(Path("configs/code.yaml"), help="Auto-coding config (YAML).")) -> None:
    """Auto-code new documents with a trained model."""
    _not_built("code", 6)


@app.command()
def queue() -> None:
    """Rank uncoded segments for the researcher to code next (active learning)."""
    _not_built("queue", 6)


@qdpx_app.command("export")
def qdpx_export() -> None:
    """Export the project (codebook, sources, codings) as a REFI-QDA .qdpx."""
    _not_built("qdpx export", 6)


@qdpx_app.command("import")
def qdpx_import() -> None:
    """Import a .qdpx or .qdc from NVivo, ATLAS.ti, MAXQDA or QualCoder."""
    _not_built("qdpx import", 6)


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
def saturation() -> None:
    """Saturation test on held-out firms: new codes, accumulation curves, Guest 2020, Chao2."""
    _not_built("saturation", 7)


@app.command("factor-model")
def factor_model() -> None:
    """Open/axial/selective coding tables, factor-model graph and case analysis."""
    _not_built("factor-model", 8)


@app.command()
def reliability() -> None:
    """Inter-coder reliability: agreement, Cohen's kappa, Krippendorff's alpha."""
    _not_built("reliability", 8)


@app.command()
def demo(out: Path = typer.Option(Path("demo-output"), help="Folder for the demo's outputs.")) -> None:
    """Run the main job on the shipped demo corpus, offline."""
    _not_built("demo", 8)


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
