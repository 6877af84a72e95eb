"""What ``groundcoder qdpx export|import`` do (the CLI only parses options and calls these)."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from ..atomic import write_json, write_text
from ..errors import InputError
from ..store import ProjectStore
from .safety import DEFAULT_MAX_TOTAL_BYTES

Echo = Callable[[str], Any]


def run_export(
    store: Path,
    out: Path,
    *,
    include_model: bool = False,
    model_run: str | None = None,
    min_confidence: float | None = None,
    codebook: Path | None = None,
    echo: Echo = print,
) -> dict[str, Any]:
    from ..codebook import Codebook
    from .export import export_qdpx

    with ProjectStore.open(store, create=False) as project:
        summary = export_qdpx(
            out,
            project,
            include_model=include_model,
            model_run_id=model_run,
            min_confidence=min_confidence,
            codebook=Codebook.load(codebook) if codebook else None,
        )
    echo(
        f"wrote {summary.path}: {summary.sources} sources, {summary.cases} cases, {summary.codes} codes, "
        f"{summary.selections} selections, {summary.human_codings} human codings, {summary.model_codings} suggestions"
        + (f" (model runs {', '.join(summary.model_runs)})" if summary.model_runs else "")
    )
    if include_model and not summary.model_codings:
        echo("  note: no model suggestions were found to include (run `groundcoder code` first, or check --model-run)")
    if summary.outside_codebook:
        echo(f"  {len(summary.outside_codebook)} concepts are not in the codebook; they are under their own branch: "
             + "、".join(summary.outside_codebook[:10]))  # fmt: skip
    for line in summary.skipped[:10]:
        echo(f"  skipped {line}")
    return summary.to_json()


def run_import(
    file: Path,
    *,
    store: Path | None = None,
    out: Path | None = None,
    summary: Path | None = None,
    review: bool | None = None,
    against: Path | None = None,
    reviewer: str | None = None,
    model_runs: Sequence[str] | None = None,
    untouched: str = "kept",
    add_documents: bool = True,
    save_codebook: bool = False,
    max_bytes: int = DEFAULT_MAX_TOTAL_BYTES,
    echo: Echo = print,
) -> dict[str, Any]:
    """Read FILE, print what it holds, write the quotes (``out``), update the store, write the JSON summary."""
    from .import_ import import_into_store
    from .reader import import_file
    from .review import apply_review, review_qdpx

    if untouched not in ("kept", "skip"):
        raise InputError(None, f"--untouched must be 'kept' or 'skip', not {untouched!r}")
    is_codebook = file.suffix.lower() == ".qdc"
    project = import_file(file, max_total_bytes=max_bytes)
    info = project.summary()
    echo(f"read {file}: {project.origin or 'origin not given'}")
    echo(f"  codebook: {info['codebook'] or info['codebook_problem']}")
    if not is_codebook:
        echo(
            f"  {info['sources']} sources ({info['characters']} characters), {info['cases']} cases, "
            f"{info['selections']} selections, {info['human_codings']} human codings, {info['model_codings']} suggestions "
            f"-> {info['training_quotes']} training quotes"
        )
    for mismatch in project.mismatches[:10]:
        echo(f"  name mismatch: {mismatch}")
    if len(project.mismatches) > 10:
        echo(f"  ... {len(project.mismatches) - 10} more name mismatches (see the summary)")
    for warning in project.warnings:
        echo(f"  warning: {warning}")
    report: dict[str, Any] = {"import": info}

    if out is not None:
        if is_codebook:
            echo(f"  a codebook has no quotes; {out} was not written")
        else:
            quotes = project.training_quotes()
            write_text(out, "".join(json.dumps(q.to_json(), ensure_ascii=False) + "\n" for q in quotes))
            echo(f"wrote {out}: {len(quotes)} training quotes")
            report["quotes_file"] = str(out)

    if store is not None:
        if is_codebook:
            assert project.codebook is not None
            with ProjectStore.open(store) as project_store:
                version = project_store.add_codebook_version(project.codebook.to_yaml(), note=f"imported from {file}")
            echo(f"stored the codebook in {store} (codebook version {version.id})")
            report["store"] = {"codebook_version": version.id}
        elif project.has_model_codings if review is None else review:
            original = import_file(against, max_total_bytes=max_bytes) if against else None
            with ProjectStore.open(store, create=False) as project_store:
                outcome = review_qdpx(project, project_store, original=original, model_run_ids=model_runs or None)
                # the one person whose decisions the file records is the reviewer, unless told otherwise
                deciders = {i.coder for i in outcome.kept + outcome.relabelled + outcome.new_human if i.coder}
                who = reviewer or (deciders.pop() if len(deciders) == 1 else "reviewer")
                applied = apply_review(outcome, project_store, reviewer=who, source=file, keep_untouched=untouched == "kept")
            counts = outcome.counts()
            echo(
                f"review (decisions the file does not attribute go to {who!r}): {counts['kept']} kept, "
                f"{counts['relabelled']} relabelled, {counts['rejected']} rejected, {counts['new_human']} new human codings"
            )
            echo(
                f"stored in {store}: {applied.positives_added} training codings and {applied.negatives_added} negatives"
                + (f" ({applied.already_stored} were already there)" if applied.already_stored else "")
            )
            for warning in outcome.warnings:
                echo(f"  warning: {warning}")
            report["review"] = {**outcome.to_json(), "reviewer": who, "stored": dict(applied.__dict__)}
        else:
            if review is False and project.has_model_codings:
                echo("  note: suggestions (groundcoder-model codings) are not stored without --review")
            with ProjectStore.open(store) as project_store:
                stored = import_into_store(project, project_store, add_documents=add_documents, save_codebook=save_codebook)
            echo(
                f"stored in {store}: {len(stored.documents_matched)} documents matched, {len(stored.documents_added)} added, "
                f"{stored.codings_added} codings added ({stored.codings_already_stored} already there)"
            )
            for line in stored.sources_not_stored + stored.quotes_not_placed:
                echo(f"  not stored: {line}")
            if stored.concepts_outside_codebook:
                echo(f"  concepts not in the store's codebook: {'、'.join(stored.concepts_outside_codebook[:10])}")
            report["store"] = stored.to_json()
    elif review or against:
        raise InputError(file, "a review needs the project store the suggestions came from", hint="add --store project.sqlite")

    target = summary or (out.parent if out else file.parent) / f"{file.stem}.import.json"
    write_json(target, report)
    echo(f"wrote {target}")
    return report
