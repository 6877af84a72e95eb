"""``groundcoder saturation``: held-out firms' codes -> metrics, verdicts and the report.

``run_saturation(request)`` reads the codings (``--demo`` or ``--store``), picks the held-out and
the reference firms, takes the human codes of the held-out firms and/or codes them with a model
(``code_with_model``: predicted concepts plus candidate new concepts), computes the metrics at every
level for each source, decides (``verdict.DECISION_RULE``) and writes everything into ``out``.

Sources: ``human`` (the coders' codes), ``model`` (the model's), ``both`` (the human codes plus the
model's candidate new concepts that no human code explains: a candidate whose sentences lie mostly in
quotes the coder coded with codebook concepts was placed by the coder; one whose sentences lie mostly
in quotes coded with a concept the codebook lacks is that concept, already counted).

The model's novelty calibration (leave-concepts-out, ``novelty.calibrate_novelty``) is stored with the
model run (``<run>/novelty_calibration.json``) and reused while the model, the reference data and the
settings are the same; ``--recalibrate`` forces a new one.
"""

from __future__ import annotations

import hashlib
import json
import random
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from ..errors import InputError
from .clustering import ClusterSettings
from .metrics import LEVELS, FirmCodes, LevelMapper, LevelMetrics, SaturationSettings, level_metrics
from .model_side import HumanSpan, ModelCoding, code_with_model, document_segments
from .novelty import CALIBRATION_FILE, CalibrationSettings, NoveltyCalibration, NoveltyDetector, calibrate_novelty, examples_fingerprint
from .verdict import Verdict, make_verdict

CODE_SOURCES = ("auto", "human", "model", "both")
DEMO_HELD_OUT = ("holdout", "holdout_new")


@dataclass(frozen=True)
class SaturationRequest:
    """Everything ``groundcoder saturation`` was asked to do."""

    out: Path
    demo: bool = False
    store: Path | None = None
    firms: tuple[str, ...] = ()                 # held-out firms in order; demo default: the held-out samples
    samples: tuple[str, ...] = DEMO_HELD_OUT     # demo: samples whose firms are held out (without --firms)
    coder: str | None = None                    # human coder (demo default coder1; store: every human coder)
    model: str | None = None                    # run folder, model folder, "current" or "baseline"
    codes: str = "auto"                         # human | model | both | auto
    reference: tuple[str, ...] | None = None    # reference firms; None: default; (): none
    codebook: Path | None = None
    placements: tuple[tuple[str, str], ...] = ()
    settings: SaturationSettings = SaturationSettings()
    calibration: CalibrationSettings = CalibrationSettings(rounds=5)
    clusters: ClusterSettings = ClusterSettings()
    recalibrate: bool = False
    runs_dir: Path | None = None                # where "current" is looked up (default models/runs)
    baseline_settings: Any = None               # --model baseline: BaselineSettings (default: the project's defaults)


@dataclass
class SourceResult:
    source: str
    firm_codes: list[FirmCodes]
    levels: dict[str, LevelMetrics]
    verdict: Verdict


@dataclass
class NewConceptQuote:
    concept: str
    quote_id: str
    firm_id: str
    doc_id: str
    start: int
    end: int
    text: str
    coder: str


@dataclass
class SaturationResult:
    out_dir: Path
    source_name: str
    codebook: Any
    firms: tuple[str, ...]
    firm_names: dict[str, str]
    reference_firms: tuple[str, ...]
    sources: dict[str, SourceResult]
    overall: Verdict
    human_new: dict[str, list[NewConceptQuote]]
    model: ModelCoding | None
    resolution: dict[str, str] = field(default_factory=dict)   # candidate -> how the human codes explain it
    notes: list[str] = field(default_factory=list)
    files: dict[str, str] = field(default_factory=dict)
    request: SaturationRequest | None = None


# --------------------------------------------------------------------------------------------------
# Reading the codings


def _open_codings(request: SaturationRequest, stack: Any) -> Any:
    from ..analysis.codings import CodingSet
    from ..codebook import Codebook

    if request.demo == (request.store is not None):
        raise InputError(None, "give either --demo or --store PATH", hint="--demo uses the shipped demo corpus")
    book = Codebook.load(request.codebook) if request.codebook is not None else None
    if request.demo:
        from ..demo_corpus.load import load_demo_corpus

        corpus = load_demo_corpus()
        coder = request.coder or "coder1"
        return CodingSet.from_demo_corpus(corpus, coders=(coder,), codebook=book), corpus
    from ..store import ProjectStore

    if not Path(request.store).exists():
        raise InputError(request.store, "no project store here", hint="create one with `groundcoder ingest`")
    project = stack.enter_context(ProjectStore.open(request.store, create=False))
    coders = [request.coder] if request.coder else None
    return CodingSet.from_store(project, coders=coders, coder_kind="human", codebook=book), None


def _held_out_firms(request: SaturationRequest, codings: Any, corpus: Any) -> tuple[str, ...]:
    known = set(codings.firms) | {d.firm_id for d in codings.documents.values()}
    if request.firms:
        firms = tuple(dict.fromkeys(f.strip() for f in request.firms if f.strip()))
    elif request.demo:
        unknown = [s for s in request.samples if s not in ("train", *DEMO_HELD_OUT)]
        if unknown:
            raise InputError(None, f"unknown demo sample(s) {unknown}", hint="samples: holdout, holdout_new (train is the reference)")
        firms = tuple(f.firm_id for f in corpus.firms if f.sample in request.samples)
    else:
        raise InputError(request.store, "which firms are held out? give --firms CODE,CODE,...",
                         hint="the firms whose codes test saturation, in the order they were studied")
    if not firms:
        raise InputError(None, "no held-out firms")
    missing = [f for f in firms if f not in known]
    if missing:
        import difflib

        close = {m: difflib.get_close_matches(m, sorted(known), n=2, cutoff=0.6) for m in missing}
        hint = "; ".join(f"{m}: did you mean {', '.join(c)}?" for m, c in close.items() if c) or "see `groundcoder export firms`"
        raise InputError(request.store, f"unknown firm(s) {', '.join(missing)}", hint=hint)
    return firms


def _reference_firms(request: SaturationRequest, codings: Any, corpus: Any, held: Sequence[str]) -> tuple[str, ...]:
    held_set = set(held)
    if request.reference is not None:
        ref = tuple(f for f in request.reference if f)
        overlap = sorted(set(ref) & held_set)
        if overlap:
            raise InputError(None, f"firms both held out and reference: {', '.join(overlap)}")
        unknown = sorted(set(ref) - set(codings.firms))
        if unknown:
            raise InputError(None, f"unknown reference firm(s) {', '.join(unknown)}")
        return ref
    if corpus is not None:  # the demo: the codebook was built from the train firms
        return tuple(f for f in corpus.train_firms if f not in held_set)
    coded = {s.firm_id for s in codings.segments if s.concepts}
    return tuple(sorted(coded - held_set))


def _firm_codes(codings: Any, firms: Sequence[str]) -> list[FirmCodes]:
    counts: dict[str, Counter[str]] = {f: Counter() for f in firms}
    for s in codings.segments:
        if s.firm_id in counts:
            counts[s.firm_id].update(set(s.concepts))
    return [FirmCodes(f, counts[f]) for f in firms]


def _human_new(codings: Any, firms: Sequence[str]) -> dict[str, list[NewConceptQuote]]:
    names = set(codings.codebook.concept_names)
    wanted = set(firms)
    out: dict[str, list[NewConceptQuote]] = {}
    for s in codings.segments:
        if s.firm_id not in wanted:
            continue
        for c in s.concepts:
            if c not in names:
                out.setdefault(c, []).append(NewConceptQuote(c, s.quote_id, s.firm_id, s.doc_id, s.start, s.end, s.text, s.coder))
    return out


# --------------------------------------------------------------------------------------------------
# The model


def reference_examples(codings: Any, firms: Sequence[str], seed: int = 0) -> list[Any]:
    """Training examples (quotes merged, "no code" sentences added) of the reference firms' human codes."""
    from ..training.data import QuoteRow, QuoteSet, SourceDocument, build_examples

    names = set(codings.codebook.concept_names)
    wanted = set(firms)
    rows, docs = [], {}
    for i, s in enumerate(codings.segments, start=1):
        if s.firm_id not in wanted or not s.concepts:
            continue
        known = tuple(c for c in s.concepts if c in names)
        new = tuple(c for c in s.concepts if c not in names)
        rows.append(QuoteRow(i, s.text, known, s.coder, s.firm_id, s.doc_id, s.start, s.end, f"coding {s.quote_id}", new))
        if s.doc_id not in docs and codings.has_texts:
            docs[s.doc_id] = SourceDocument(s.doc_id, s.firm_id, codings.text(s.doc_id))
    if not rows:
        raise InputError(None, "the reference firms have no human codes to calibrate the model's novelty on",
                         hint="give --reference with coded firms, or use human codes only (--codes human)")
    examples, _ = build_examples(QuoteSet(rows, docs, source="reference firms"), seed=seed)
    return examples


def model_fingerprint(model_dir: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(p for p in Path(model_dir).rglob("*") if p.is_file() and p.name != CALIBRATION_FILE):
        digest.update(str(path.relative_to(model_dir)).encode("utf-8"))
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


@dataclass
class LoadedModel:
    model: Any
    name: str
    model_dir: Path
    calibration_path: Path
    unseen_firms: tuple[str, ...]     # firms of the reference the model was not trained on
    kind: str


def _load_model(request: SaturationRequest, codebook: Any, examples: list[Any], log: Callable[[str], None]) -> LoadedModel:
    from ..training.registry import RUN_FILE, RunRegistry, load_model

    spec = request.model or ""
    if spec == "baseline":
        return _train_baseline(request, codebook, examples, log)
    if spec == "current":
        from ..paths import models_dir

        registry = RunRegistry(request.runs_dir or models_dir() / "runs")
        run_id = registry.current_id()
        if run_id is None:
            raise InputError(registry.runs_dir, "no current model yet", hint="train one with `groundcoder train`, or give --model baseline")
        run_dir, model_dir = registry.runs_dir / run_id, registry.model_dir(run_id)
    else:
        path = Path(spec)
        if (path / RUN_FILE).exists() and (path / "model").is_dir():
            run_dir, model_dir = path, path / "model"
        elif (path.parent / RUN_FILE).exists():
            run_dir, model_dir = path.parent, path
        else:
            run_dir, model_dir = None, path
    model = load_model(model_dir, codebook=codebook)
    unseen: tuple[str, ...] = ()
    if run_dir is not None:
        try:
            record = json.loads((run_dir / RUN_FILE).read_text(encoding="utf-8"))
            unseen = tuple(record.get("test_firms") or ())
        except (OSError, json.JSONDecodeError):
            unseen = ()
    target = run_dir if run_dir is not None else model_dir
    kind = "bert" if hasattr(model, "embed") else "baseline"
    return LoadedModel(model, run_dir.name if run_dir is not None else str(model_dir), model_dir, target / CALIBRATION_FILE, unseen, kind)


def _train_baseline(request: SaturationRequest, codebook: Any, examples: list[Any], log: Callable[[str], None]) -> LoadedModel:
    """The TF-IDF baseline trained now on the reference firms (some firms kept back for calibration)."""
    from ..classifier.labels import LabelSpace
    from ..training.baseline import TfidfBaseline
    from ..training.config import BaselineSettings

    firms = sorted({e.firm_id for e in examples})
    if len(firms) < 3:
        raise InputError(None, f"{len(firms)} reference firms are too few to train and calibrate a baseline")
    order = firms[:]
    random.Random(request.calibration.seed).shuffle(order)
    n_val = max(1, int(round(0.15 * len(order))))
    val = set(order[:n_val])
    train = [e for e in examples if e.firm_id not in val]
    held = [e for e in examples if e.firm_id in val]
    from dataclasses import asdict

    settings = request.baseline_settings or BaselineSettings()
    stamp = {"fingerprint": examples_fingerprint(train), "validation_firms": sorted(val), "settings": json.loads(json.dumps(asdict(settings))),
             "seed": request.calibration.seed}
    model_dir = Path(request.out) / "model"
    model = None
    if (model_dir / "baseline.json").exists() and not request.recalibrate:
        try:
            if json.loads((model_dir / "training_data.json").read_text(encoding="utf-8")) == stamp:
                model = TfidfBaseline.from_pretrained(model_dir, codebook=codebook)
                log(f"reusing the baseline in {model_dir}")
        except (InputError, OSError, json.JSONDecodeError, KeyError):
            model = None
    if model is None:
        log(f"training the TF-IDF baseline on {len(train)} examples of {len(firms) - n_val} reference firms "
            f"(temperature and thresholds on {n_val} more)")
        model = TfidfBaseline(LabelSpace.from_codebook(codebook), settings, seed=request.calibration.seed)
        model.fit([e.text for e in train], [set(e.concepts) for e in train])
        model.calibrate([e.text for e in held], [set(e.concepts) for e in held])
        model.save_pretrained(model_dir)
        from ..atomic import write_json

        write_json(model_dir / "training_data.json", stamp)
    return LoadedModel(model, "baseline (trained now on the reference firms)", model_dir, model_dir / CALIBRATION_FILE,
                       tuple(sorted(val)), "baseline")


def _model_factory(loaded: LoadedModel) -> Callable[[], Any]:
    model = loaded.model
    if loaded.kind == "baseline":
        from ..training.baseline import TfidfBaseline

        return lambda: TfidfBaseline(model.labels, model.settings, seed=model.seed)
    from ..classifier.modeling import BertConceptClassifier

    base = getattr(model, "base_model_name", None) or model.base_model
    try:
        from ..training.job import resolve_base_model

        base = resolve_base_model(base)
    except (ImportError, AttributeError):
        pass
    return lambda: BertConceptClassifier(model.labels, base_model=base, settings=model.settings)


def _calibration(request: SaturationRequest, loaded: LoadedModel, examples: list[Any], log: Callable[[str], None]) -> NoveltyCalibration:
    from dataclasses import asdict

    model_id = model_fingerprint(loaded.model_dir)
    fingerprint = examples_fingerprint(examples)
    path = loaded.calibration_path
    if path.exists() and not request.recalibrate:
        try:
            stored = NoveltyCalibration.load(path)
            same_settings = {k: v for k, v in stored.settings.items()} == asdict(request.calibration)
            if stored.model_id == model_id and stored.data_fingerprint == fingerprint and same_settings:
                log(f"novelty calibration: reusing {path}")
                return stored
            log(f"novelty calibration in {path} is for another model, reference data or settings: calibrating again")
        except InputError as exc:
            log(f"novelty calibration in {path} is unreadable ({exc}): calibrating again")
    log(f"novelty calibration: leave-concepts-out, {request.calibration.rounds} rounds of {loaded.kind} models")
    calibration = calibrate_novelty(examples, loaded.model.labels, _model_factory(loaded), request.calibration,
                                    model_kind=loaded.kind, model_id=model_id, log=log)
    calibration = replace(calibration, data_fingerprint=fingerprint)
    calibration.save(path)
    log(f"novelty calibration: {calibration.summary()}; saved {path}")
    return calibration


def _model_side(request: SaturationRequest, codings: Any, held: Sequence[str], reference: Sequence[str],
                log: Callable[[str], None], notes: list[str]) -> ModelCoding:
    codebook = codings.codebook
    examples = reference_examples(codings, reference, seed=request.calibration.seed)
    loaded = _load_model(request, codebook, examples, log)
    calibration = _calibration(request, loaded, examples, log)
    unseen = set(loaded.unseen_firms) & set(reference)
    fit_examples = [e for e in examples if e.firm_id not in unseen] or examples
    detector = NoveltyDetector.fit(loaded.model, [e.text for e in fit_examples], [set(e.concepts) for e in fit_examples],
                                   dims=request.calibration.dims, seed=request.calibration.seed)
    threshold, source = calibration.threshold, "leave-concepts-out threshold"
    known = [e for e in examples if e.firm_id in unseen]
    if known:
        threshold = calibration.threshold_on(detector.score([e.text for e in known]).features())
        source = (f"the calibrated operating point (FPR {calibration.fpr:.3f}) on {len(known)} quotes and uncoded sentences "
                  f"of {len(unseen)} reference firms the model was not trained on")
    else:
        notes.append("the model's training firms are not known: the novelty threshold is the leave-concepts-out one, "
                     "from models trained on fewer firms (it may flag too little)")
    docs = []
    for doc in sorted(codings.documents.values(), key=lambda d: (held.index(d.firm_id) if d.firm_id in held else -1, d.doc_id)):
        if doc.firm_id in held:
            docs.append((doc.doc_id, doc.firm_id, codings.text(doc.doc_id)))
    if not docs:
        raise InputError(request.store, "the held-out firms have no documents for the model to code")
    segments = document_segments(docs)
    names = set(codebook.concept_names)
    spans = [HumanSpan(s.doc_id, s.start, s.end, tuple(c for c in s.concepts if c in names), tuple(c for c in s.concepts if c not in names))
             for s in codings.segments if s.firm_id in set(held) and s.concepts]
    reference_quotes = [(s.text, tuple(c for c in s.concepts if c in names)) for s in codings.segments
                        if s.firm_id in set(reference) and s.concepts]
    log(f"model: coding {len(segments)} sentences of {len(docs)} documents of the held-out firms")
    coding = code_with_model(loaded.model, detector, calibration, segments, held, reference_quotes, codebook,
                             request.clusters, model_name=loaded.name, human_spans=spans, threshold=threshold,
                             threshold_source=source)
    coding.notes.append(f"novelty threshold {threshold:.3f}: {source}")
    return coding


def _resolve_candidates(coding: ModelCoding, codings: Any, held: Sequence[str]) -> dict[str, str]:
    """How the human codes explain each candidate: "" (they do not), "known: ..." (at least half of its
    sentences lie in quotes coded only with codebook concepts) or "new: X" (at least half lie in
    quotes coded with X, a concept the codebook lacks)."""
    names = set(codings.codebook.concept_names)
    held_set = set(held)
    by_doc: dict[str, list[Any]] = {}
    for s in codings.segments:
        if s.firm_id in held_set and s.concepts:
            by_doc.setdefault(s.doc_id, []).append(s)
    out = {}
    for c in coding.candidates:
        known, new = Counter(), Counter()
        n_known = n_new = 0
        for seg in c.segments:
            concepts = {x for h in by_doc.get(seg.doc_id, ()) if seg.start < h.end and h.start < seg.end for x in h.concepts}
            fresh = concepts - names
            if fresh:
                n_new += 1
                new.update(fresh)
            elif concepts:
                n_known += 1
                known.update(concepts)
        if 2 * n_new >= c.size:
            out[c.candidate_id] = "new: " + new.most_common(1)[0][0]
        elif 2 * n_known >= c.size:
            out[c.candidate_id] = "known: " + ", ".join(k for k, _ in known.most_common(3))
        else:
            out[c.candidate_id] = ""
    return out


# --------------------------------------------------------------------------------------------------
# The run


def compute_source(source: str, firm_codes: list[FirmCodes], reference: list[FirmCodes], mapper: LevelMapper,
                   settings: SaturationSettings) -> SourceResult:
    levels = {lv: level_metrics(lv, firm_codes, mapper, reference, settings) for lv in LEVELS}
    return SourceResult(source, firm_codes, levels, make_verdict(source, levels, settings.max_unseen))


def run_saturation(request: SaturationRequest, log: Callable[[str], None] | None = None) -> SaturationResult:
    import contextlib

    log = log or (lambda message: None)
    if request.codes not in CODE_SOURCES:
        raise InputError(None, f"unknown --codes {request.codes!r}", hint="human, model, both or auto")
    codes = request.codes
    if codes == "auto":
        codes = "both" if request.model else "human"
    if codes in ("model", "both") and not request.model:
        raise InputError(None, f"--codes {codes} needs a model", hint="--model models/runs/<id>, --model current or --model baseline")
    with contextlib.ExitStack() as stack:
        codings, corpus = _open_codings(request, stack)
        codebook = codings.codebook
        held = _held_out_firms(request, codings, corpus)
        reference = _reference_firms(request, codings, corpus, held)
        mapper = LevelMapper(codebook, dict(request.placements))
        notes: list[str] = []
        if not reference:
            notes.append("no reference firms: unseen-code estimates use the held-out firms alone (conservative)")
        ref_codes = _firm_codes(codings, reference)
        human_codes = _firm_codes(codings, held)
        if codes in ("human", "both") and not any(fc.counts for fc in human_codes):
            raise InputError(request.store, "the held-out firms have no human codes",
                             hint="code them first, or test the model's codes alone with --codes model --model ...")
        empty = [fc.firm_id for fc in human_codes if not fc.counts]
        if codes in ("human", "both") and empty:
            notes.append(f"held-out firms without human codes (count as firms that brought nothing): {', '.join(empty)}")
        sources: dict[str, SourceResult] = {}
        human_new = _human_new(codings, held) if codes in ("human", "both") else {}
        if codes in ("human", "both"):
            log("metrics: human codes")
            sources["human"] = compute_source("human", human_codes, ref_codes, mapper, request.settings)
        coding = None
        resolution: dict[str, str] = {}
        if codes in ("model", "both"):
            coding = _model_side(request, codings, held, reference, log, notes)
            log("metrics: model codes")
            sources["model"] = compute_source("model", coding.firm_codes, ref_codes, mapper, request.settings)
        if codes == "both" and coding is not None:
            resolution = _resolve_candidates(coding, codings, held)
            unexplained = {cid for cid, how in resolution.items() if not how}
            combined = []
            for fc in human_codes:
                model_fc = next(m for m in coding.firm_codes if m.firm_id == fc.firm_id)
                counts = Counter(fc.counts)
                counts.update({k: v for k, v in model_fc.counts.items() if k in unexplained})
                combined.append(FirmCodes(fc.firm_id, counts))
            sources["both"] = compute_source("both", combined, ref_codes, mapper, request.settings)
        overall = sources["both" if "both" in sources else ("human" if "human" in sources else "model")].verdict
        firm_names = {f: (codings.firms[f].display_name if f in codings.firms else f) for f in held}
        result = SaturationResult(Path(request.out), "demo corpus" if request.demo else str(request.store), codebook, held,
                                  firm_names, tuple(reference), sources, overall, human_new, coding, resolution, notes,
                                  request=request)
        from .report import write_outputs

        result.files = write_outputs(result)
    return result


def summary_lines(result: SaturationResult) -> list[str]:
    lines = []
    for name, src in result.sources.items():
        lines.append(f"{name}: {src.verdict.headline}")
    lines.append(f"verdict: {'SATURATED' if result.overall.saturated else 'NOT SATURATED'} ({result.overall.source} codes)")
    lines.append(f"  {result.overall.headline_zh}")
    for concept, quotes in result.human_new.items():
        lines.append(f"  new concept (human): {concept}, {len(quotes)} quotes in {len({q.firm_id for q in quotes})} firms")
    if result.model is not None:
        m = result.model
        lines.append(f"  model: {m.calibration.summary()}")
        lines.append(f"  model: {len(m.flagged)} of {len(m.segments)} sentences flagged at novelty >= {m.threshold:.3f} "
                     f"({m.threshold_source})")
        for c in m.candidates:
            how = result.resolution.get(c.candidate_id, "")
            lines.append(f"  candidate {c.candidate_id} [{c.label}]: {c.size} sentences in {len(c.firms)} firms"
                         + (f"; explained by human codes ({how})" if how else ""))
    for note in result.notes:
        lines.append(f"  note: {note}")
    lines.append(f"wrote {result.out_dir} (report.md, report.html, saturation.json, tables/)")
    return lines


def _split(value: str | None) -> tuple[str, ...]:
    if value is None:
        return ()
    return tuple(p.strip() for p in value.replace("，", ",").split(",") if p.strip())


def request_from_options(
    out: Path,
    *,
    demo: bool = False,
    store: Path | None = None,
    firms: str | None = None,
    sample: str = "holdout,holdout_new",
    model: str | None = None,
    coder: str | None = None,
    codes: str = "auto",
    reference: str | None = None,
    place: Sequence[str] | None = None,
    codebook: Path | None = None,
    guest_base: int | None = None,
    guest_run: int | None = None,
    guest_threshold: float = 0.05,
    max_unseen: float = 1.0,
    orders: int = 200,
    seed: int = 0,
    rounds: int = 5,
    threshold_rule: str = "fpr",
    target_fpr: float = 0.1,
    target_tpr: float = 0.9,
    min_segments: int = 3,
    min_firms: int | None = None,
    recalibrate: bool = False,
) -> SaturationRequest:
    """A request from the CLI's options (comma-separated lists, CONCEPT=CATEGORY placements)."""
    placements = []
    for item in place or ():
        concept, sep, target = item.partition("=")
        if not sep or not concept.strip() or not target.strip():
            raise InputError(None, f"--place {item!r} is not CONCEPT=CATEGORY",
                             hint="e.g. --place 忘却学习=吸收能力, or --place 忘却学习=组织忘却/组织能力 for a new initial category")
        placements.append((concept.strip(), target.strip()))
    ref: tuple[str, ...] | None = None
    if reference is not None:
        ref = () if reference.strip().lower() == "none" else _split(reference)
    return SaturationRequest(
        out=Path(out), demo=demo, store=store, firms=_split(firms), samples=_split(sample) or DEMO_HELD_OUT, coder=coder,
        model=model, codes=codes, reference=ref, codebook=codebook, placements=tuple(placements),
        settings=SaturationSettings(orders=orders, seed=seed, guest_base=guest_base, guest_run=guest_run,
                                    guest_threshold=guest_threshold, max_unseen=max_unseen),
        calibration=CalibrationSettings(rounds=rounds, threshold_rule=threshold_rule, target_fpr=target_fpr,
                                        target_tpr=target_tpr, seed=seed),
        clusters=ClusterSettings(min_segments=min_segments, min_firms=min_firms),
        recalibrate=recalibrate,
    )
