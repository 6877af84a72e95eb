"""The verdict: saturated or not, in the study's own words, with the evidence behind it.

Decision rule (``DECISION_RULE``), applied to each source of codes (human, model, both together):

A level (concepts, initial categories, main categories) is **saturated** when

1. the held-out firms bring **no new code** at that level: no code the codebook lacks (a human code
   not in the codebook; a model's candidate cluster; a new concept not yet placed in a category
   counts as a new category too, at every level above it), and
2. **fewer than ``max_unseen`` codes (default 1) are estimated to remain unseen**: the bias-corrected
   Chao2 estimate minus the codes observed, with firms as sampling units, over the reference firms
   (those the codebook was built from) together with the held-out firms; without reference firms,
   over the held-out firms alone (conservative: their unseen codes may well be in the codebook).

The held-out firms are judged **saturated** when all three levels are. Guest et al.'s ratio, the
accumulation curve, the jackknife, coverage and Chao1 are reported as evidence, not votes: with a
handful of firms they are too coarse to decide on their own (Guest's first run needs b + r firms).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from .metrics import LEVEL_LABELS, LEVEL_NAMES, LEVELS, UNPLACED_PREFIX, LevelMetrics, level_name

DECISION_RULE = (
    "A level (concepts, initial categories, main categories) is saturated when the held-out firms bring no code the "
    "codebook lacks at that level (a human code outside the codebook, a model's candidate cluster; a new concept not "
    "placed in a category counts as new at every level above it) and fewer than {max_unseen:g} code(s) are estimated to "
    "remain unseen (bias-corrected Chao2 minus observed codes, firms as sampling units, reference firms plus held-out "
    "firms; held-out firms alone where no reference firms are given). The firms are saturated when all three levels are."
)


@dataclass(frozen=True)
class LevelDecision:
    level: str
    saturated: bool
    codes: int                  # distinct codes the held-out firms brought (known and new)
    known: int
    new: tuple[str, ...]
    unplaced: tuple[str, ...]
    unseen: float
    unseen_low: float
    unseen_high: float
    unseen_sample: str
    unseen_firms: int
    reasons: tuple[str, ...]


@dataclass(frozen=True)
class Verdict:
    source: str                 # human | model | combined
    saturated: bool
    n_firms: int
    levels: Mapping[str, LevelDecision]
    headline: str
    headline_zh: str
    evidence: tuple[str, ...]
    rule: str

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["levels"] = {k: asdict(v) for k, v in self.levels.items()}
        return data


def _fmt(x: float) -> str:
    return f"{x:.1f}" if abs(x) < 1000 else f"{x:.0f}"


def _pct(x: float) -> str:
    return f"{x * 100:.1f}%"


def _display(code: str) -> str:
    return code[len(UNPLACED_PREFIX):] + " (unplaced)" if code.startswith(UNPLACED_PREFIX) else code


def decide_level(m: LevelMetrics, max_unseen: float = 1.0) -> LevelDecision:
    est = m.unseen_estimate
    reasons = []
    if m.new_codes:
        shown = ", ".join(_display(c) for c in m.new_codes[:5]) + (" ..." if len(m.new_codes) > 5 else "")
        reasons.append(f"{len(m.new_codes)} new {level_name(m.level, len(m.new_codes))}: {shown}")
    if est.unseen >= max_unseen:
        reasons.append(f"{_fmt(est.unseen)} {LEVEL_NAMES[m.level]} estimated unseen (>= {max_unseen:g}; "
                       f"Chao2 bias-corrected over {est.m} {est.sample})")
    saturated = not reasons
    if saturated:
        reasons.append(f"no new {LEVEL_NAMES[m.level]}; {_fmt(est.unseen)} estimated unseen (< {max_unseen:g})")
    return LevelDecision(m.level, saturated, len(m.codes), len(m.known_codes), m.new_codes, m.unplaced,
                         est.unseen, est.unseen_low, est.unseen_high, est.sample, est.m, tuple(reasons))


def level_evidence(m: LevelMetrics) -> str:
    name = LEVEL_NAMES[m.level]
    parts = [f"{name}: {len(m.codes)} seen ({len(m.known_codes)} of the codebook's {m.codebook_size}"
             + (f", {len(m.new_codes)} new" if m.new_codes else "") + ")"]
    parts.append(f"new-information ratio against the codebook {_pct(m.new_information_ratio)}")
    if m.guest is not None:
        last = m.guest.ratios[-1] if m.guest.ratios else float("nan")
        parts.append(f"Guest {m.guest.label}, last ratio {_pct(last)}")
    else:
        parts.append(f"Guest: {m.guest_note}")
    o = m.own
    parts.append(f"held-out firms' own richness: Chao2 {_fmt(o.chao2)} [{_fmt(o.chao2_low)}, {_fmt(o.chao2_high)}], "
                 f"bias-corrected {_fmt(o.chao2_bc)}, jackknife1 {_fmt(o.jackknife1)}, coverage {o.coverage:.3f} "
                 f"(Q1={o.q1}, Q2={o.q2}, m={o.m})")
    if o.chao1 is not None:
        parts.append(f"Chao1 over {o.n_quotes} quotes {_fmt(o.chao1)} [{_fmt(o.chao1_low)}, {_fmt(o.chao1_high)}]")
    if m.pooled is not None:
        p = m.pooled
        parts.append(f"with the {m.reference_firms} reference firms: {p.s_obs} codes, unseen {_fmt(p.unseen)} "
                     f"[{_fmt(p.unseen_low)}, {_fmt(p.unseen_high)}], coverage {p.coverage:.3f} (Q1={p.q1}, Q2={p.q2}, m={p.m})")
    return "; ".join(parts)


def make_verdict(source: str, levels: Mapping[str, LevelMetrics], max_unseen: float = 1.0) -> Verdict:
    decisions = {lv: decide_level(levels[lv], max_unseen) for lv in LEVELS if lv in levels}
    saturated = all(d.saturated for d in decisions.values())
    first = levels[LEVELS[0]]
    n = len(first.firms)
    counts = ", ".join(f"{decisions[lv].codes} {level_name(lv, decisions[lv].codes)}" for lv in decisions)
    new_c = decisions["concept"].new if "concept" in decisions else ()
    new_part = f"{len(new_c)} new" + (f" ({', '.join(_display(c) for c in new_c[:5])}{' ...' if len(new_c) > 5 else ''})" if new_c else "")
    cat_new = [f"{len(decisions[lv].new)} new {level_name(lv, len(decisions[lv].new))}" for lv in ("initial", "main") if lv in decisions and decisions[lv].new]
    if cat_new:
        new_part += "; " + ", ".join(cat_new)
        if any(decisions[lv].unplaced for lv in decisions):
            new_part += " (new concepts not yet placed in a category)"
    d = decisions["concept"]
    unseen = (f"estimated unseen concepts {_fmt(d.unseen)} (95% CI {_fmt(d.unseen_low)}-{_fmt(d.unseen_high)}; "
              f"Chao2 bias-corrected, {d.unseen_firms} firms)")
    word = "saturated" if saturated else "not saturated"
    headline = f"{n} firm{'s' if n != 1 else ''} -> {counts}; {new_part}; {unseen}: {word}"

    counts_zh = "、".join(f"{decisions[lv].codes}个{LEVEL_LABELS[lv]}" for lv in decisions)
    new_zh = f"新增{len(new_c)}个概念" + (f"（{'、'.join(_display(c).replace(' (unplaced)', '') for c in new_c[:5])}）" if new_c else "")
    cat_zh = [f"{len(decisions[lv].new)}个{LEVEL_LABELS[lv]}" for lv in ("initial", "main") if lv in decisions and decisions[lv].new]
    if cat_zh:
        new_zh += "，范畴层面新增或未归类" + "、".join(cat_zh)
    headline_zh = (f"{n}家企业 → {counts_zh}；{new_zh}；估计未发现概念{_fmt(d.unseen)}个"
                   f"（95% CI {_fmt(d.unseen_low)}–{_fmt(d.unseen_high)}）：{'达到理论饱和' if saturated else '未达到理论饱和'}")
    evidence = tuple(level_evidence(levels[lv]) for lv in decisions)
    return Verdict(source, saturated, n, decisions, headline, headline_zh, evidence,
                   DECISION_RULE.format(max_unseen=max_unseen))
