"""What ``groundcoder factor-model`` and ``groundcoder reliability`` do, so the CLI stays thin.

Both read codings from a project store (``--store``) or the shipped demo corpus (``--demo``), write
their outputs into ``--out`` and a JSON summary beside them (``factor_model_run.json`` /
``reliability_run.json``), and return lines for the terminal.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from ..errors import InputError
from .axial import LinkRule
from .codings import CodingSet
from .report import write_summary

DEMO_SAMPLES = ("train", "holdout", "holdout_new", "all")


@contextlib.contextmanager
def open_codings(
    store: Path | None,
    demo: bool,
    coders: Sequence[str] | None = None,
    coder_kind: str | None = None,
    model_run_id: str | None = None,
    codebook: Path | None = None,
    sample: str = "all",
    default_demo_coders: Sequence[str] = ("coder1",),
) -> Iterator[CodingSet]:
    """The codings to analyse; a store stays open while the block runs (texts are read lazily)."""
    from ..codebook import Codebook

    if (store is None) == (not demo):
        raise InputError(None, "give either --store PATH or --demo", hint="--demo uses the shipped demo corpus")
    book = Codebook.load(codebook) if codebook is not None else None
    if demo:
        from ..demo_corpus.load import load_demo_corpus

        if sample not in DEMO_SAMPLES:
            raise InputError(None, f"unknown demo sample {sample!r}", hint="samples: " + ", ".join(DEMO_SAMPLES))
        corpus = load_demo_corpus()
        firm_ids = None if sample == "all" else corpus.firm_ids(sample)
        yield CodingSet.from_demo_corpus(corpus, coders=tuple(coders or default_demo_coders), codebook=book,
                                         firm_ids=firm_ids)
        return
    from ..store import ProjectStore

    assert store is not None
    with ProjectStore.open(store, create=False) as project:
        kind = coder_kind
        if not coders and kind is None:
            # Default: the people's codings when there are any (a model's suggestions are not findings).
            kind = "human" if project.codings(coder_kind="human") else None
        codings = CodingSet.from_store(project, coders=coders, coder_kind=kind, model_run_id=model_run_id, codebook=book)
        if not codings.segments:
            raise InputError(store, "no codings to analyse in this project",
                             hint="code documents (or import codings) first, or check --coder / --coder-kind")
        yield codings


@dataclass
class FactorModelRun:
    out_dir: Path
    source: str
    coders: list[str]
    factor_model: object
    case_analysis: object | None
    case_error: str | None = None


def run_factor_model(
    out: Path,
    store: Path | None = None,
    demo: bool = False,
    coders: Sequence[str] | None = None,
    coder_kind: str | None = None,
    model_run_id: str | None = None,
    codebook: Path | None = None,
    sample: str = "train",
    firms: Sequence[str] | None = None,
    rule: LinkRule = LinkRule(),
    core: str = "微创新",
) -> tuple[FactorModelRun, list[str]]:
    """Factor model into ``out/factor_model`` and case analysis into ``out/case_analysis``."""
    from .case import build_case_analysis
    from .factor_model import build_factor_model

    with open_codings(store, demo, coders, coder_kind, model_run_id, codebook, sample) as codings:
        fm = build_factor_model(codings, out / "factor_model", rule=rule, core=core)
        case, case_error = None, None
        try:
            case = build_case_analysis(codings, out / "case_analysis", firms=firms)
        except InputError as exc:
            if firms:
                raise
            case_error = str(exc)  # e.g. only one firm coded: the factor model still stands
    run = FactorModelRun(out, "demo corpus" if demo else str(store), codings.coders, fm, case, case_error)
    write_summary(run, out / "factor_model_run.json")
    lines = [f"factor model: {fm.headline()}", f"  wrote {fm.out_dir}"]
    if len(run.coders) > 1:
        lines.append(f"  note: codings of {', '.join(run.coders)} together; a span two coders coded counts once per "
                     "coder (give --coder to use one)")
    for link in fm.links:
        lines.append(f"  link {link['a']} — {link['b']}: NPMI {link['npmi']:.3f}, together in {link['n_ab']} {link['window']}s")
    if case is not None:
        lines += [f"case analysis: {case.headline()}", f"  wrote {case.out_dir}"]
    else:
        lines.append(f"case analysis skipped: {case_error}")
    lines.append(f"summary: {out / 'factor_model_run.json'}")
    return run, lines


def run_reliability(
    out: Path,
    coders: Sequence[str],
    store: Path | None = None,
    demo: bool = False,
    reviewed_by: str | None = None,
    whole_documents: bool = False,
    model_run_id: str | None = None,
    codebook: Path | None = None,
    min_confidence: float | None = None,
) -> tuple[object, list[str]]:
    """Reliability of ``coders`` (demo default: coder1 vs coder2 on the spans coder2 reviewed)."""
    from .reliability import build_reliability

    if demo and not coders:
        coders = ["coder1", "coder2"]
        if reviewed_by is None and not whole_documents:
            reviewed_by = "coder2"
    if len(set(coders)) < 2:
        raise InputError(None, "reliability compares at least two coders", hint="--coders A B (coder ids or model run ids)")
    if reviewed_by is not None and reviewed_by not in coders:
        raise InputError(None, f"--reviewed-by {reviewed_by} is not one of the compared coders ({', '.join(coders)})")
    with open_codings(store, demo, coders, None, model_run_id, codebook, "all", default_demo_coders=coders) as codings:
        summary = build_reliability(codings, list(coders), out, reviewed_by=reviewed_by, min_confidence=min_confidence)
    write_summary({"source": "demo corpus" if demo else str(store), "reliability": summary}, out / "reliability_run.json")
    lines = [f"reliability ({'spans reviewed by ' + reviewed_by if reviewed_by else 'whole documents'}; unit: sentence)"]
    for _, row in summary.tables["reliability_summary"].iterrows():
        lines.append(
            f"  {row['coders']:<20} {row['level']:<8} {row['variant']:<6} n={row['n_units']:<5} "
            f"agreement {_f(row['agreement'])}  kappa {_f(row['kappa_set'])}  pooled {_f(row['kappa_pooled'])}  "
            f"alpha {_f(row['alpha'])}"
        )
    lines += [f"  wrote {summary.out_dir}", f"summary: {out / 'reliability_run.json'}"]
    return summary, lines


def _f(value: object) -> str:
    try:
        v = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return "  n/a"
    return "  n/a" if v != v else f"{v:5.3f}"
