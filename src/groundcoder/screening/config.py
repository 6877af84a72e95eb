"""The screening config (configs/screening.yaml): everything one `groundcoder screen` run needs.

Relative paths are taken from the config file's folder. Unknown keys and wrong values are errors
that name the config file and line, so a typo never silently falls back to a default.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ..errors import InputError
from .counting import NEGATION_CHARS, NEGATION_EXCEPTIONS, CountOptions
from .indices import MEASURES, Rule

ROLES = ("micro_innovation", "digital")
AMONG = ("all", "micro_innovation")
SAMPLE_METHODS = ("top", "random")


@dataclass(frozen=True)
class Inputs:
    reports: Path
    firms: Path
    pattern: str | None = None
    manifest: Path | None = None
    patents: Path | None = None
    aliases: Path | None = None


@dataclass(frozen=True)
class DictionarySpec:
    use: str  # a shipped dictionary's name or a file (replaces the default)
    extend: tuple[str, ...] = ()  # files whose keywords are added


@dataclass(frozen=True)
class SelfCitationRule:
    """The patent half of the micro-innovation stage: a persistent internal citation pattern."""

    enabled: bool = True
    share: str = "citing_own_share"  # column of self_citation_by_firm
    min_share: float = 0.3
    continuity: str = "continuity_longest"  # column of self_citation_by_firm
    min_continuity: int = 3


@dataclass(frozen=True)
class StageRule:
    measure: str
    rule: Rule
    among: str = "all"  # whose mean/median sets the threshold: all firms, or the previous stage's


@dataclass(frozen=True)
class Sample:
    n: int = 40
    method: str = "top"  # top: the n highest digital measures; random: n drawn with the seed
    seed: int = 20240611


@dataclass(frozen=True)
class ScreeningConfig:
    path: Path | None
    inputs: Inputs
    dictionaries: dict[str, DictionarySpec]
    counting: CountOptions
    workers: int | str = "auto"
    cache: bool = True
    micro_innovation: StageRule = field(default_factory=lambda: StageRule("per_10k_tokens", Rule("above_mean")))
    self_citation: SelfCitationRule = field(default_factory=SelfCitationRule)
    digital: StageRule = field(default_factory=lambda: StageRule("per_report", Rule("above_mean"), "micro_innovation"))
    sample: Sample = field(default_factory=Sample)
    output: Path = Path("screening-output")
    figures: bool = True

    @property
    def base(self) -> Path:
        return self.path.parent if self.path is not None else Path.cwd()


_SCHEMA: dict[str, Any] = {
    "inputs": {"reports": str, "firms": str, "pattern": str, "manifest": str, "patents": str, "aliases": str},
    "dictionaries": dict,
    "counting": {
        "mode": str, "scope": str, "negation_window": int, "negation_chars": str, "negation_exceptions": list,
        "tokens": bool, "hmm": bool, "token_backend": str, "matcher": str, "workers": (int, str), "cache": bool,
    },
    "micro_innovation": {
        "keywords": {"measure": str, "rule": str, "k": int, "value": (int, float)},
        "self_citation": {"enabled": bool, "share": str, "min_share": (int, float), "continuity": str, "min_continuity": int},
    },
    "digital": {"measure": str, "rule": str, "k": int, "value": (int, float), "among": str},
    "sample": {"n": int, "method": str, "seed": int},
    "output": {"folder": str, "figures": bool},
}


class _Lines:
    """Line numbers of the config's keys, for errors."""

    def __init__(self, node: yaml.Node | None) -> None:
        self.lines: dict[tuple[str, ...], int] = {}
        if node is not None:
            self._walk(node, ())

    def _walk(self, node: yaml.Node, path: tuple[str, ...]) -> None:
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                sub = (*path, str(key.value))
                self.lines[sub] = key.start_mark.line + 1
                self._walk(value, sub)

    def __call__(self, *path: str) -> int | None:
        while path:
            if path in self.lines:
                return self.lines[path]
            path = path[:-1]
        return None


def load_config(path: str | Path, output: str | Path | None = None) -> ScreeningConfig:
    """Read and check a screening config; ``output`` overrides its output folder."""
    path = Path(path)
    if not path.is_file():
        raise InputError(path, "config file not found", hint="give the screening config, e.g. configs/screening.yaml")
    text = path.read_text(encoding="utf-8-sig")
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise InputError(path, f"is not valid YAML: {getattr(exc, 'problem', None) or exc}", line=mark.line + 1 if mark else None) from None
    lines = _Lines(node)
    if not isinstance(data, dict):
        raise InputError(path, "should be a mapping of sections (inputs, dictionaries, counting, ...)", line=1)
    _check(path, lines, data, _SCHEMA, ())
    return _build(path, lines, data, output)


def _check(path: Path, lines: _Lines, data: dict, schema: dict, where: tuple[str, ...]) -> None:
    for key, value in data.items():
        key = str(key)
        here = (*where, key)
        if key not in schema:
            known = ", ".join(schema)
            raise InputError(path, f"unknown key {'.'.join(here)!r}", line=lines(*here), hint=f"the keys here are: {known}")
        expected = schema[key]
        if value is None:
            continue
        if isinstance(expected, dict):
            if not isinstance(value, dict):
                raise InputError(path, f"{'.'.join(here)} should be a mapping", line=lines(*here))
            _check(path, lines, value, expected, here)
        elif expected is dict:
            if not isinstance(value, dict):
                raise InputError(path, f"{'.'.join(here)} should be a mapping", line=lines(*here))
        else:
            types = expected if isinstance(expected, tuple) else (expected,)
            if isinstance(value, bool) and bool not in types:
                ok = False
            else:
                ok = isinstance(value, types)
            if not ok:
                names = " or ".join({int: "a whole number", float: "a number", str: "text", bool: "true or false", list: "a list"}[t] for t in types)
                raise InputError(path, f"{'.'.join(here)} should be {names} (got {value!r})", line=lines(*here))


def _build(path: Path, lines: _Lines, data: dict, output: str | Path | None) -> ScreeningConfig:
    base = path.parent

    def resolve(value: str | None) -> Path | None:
        if value in (None, ""):
            return None
        p = Path(str(value)).expanduser()
        return (p if p.is_absolute() else (base / p)).resolve()

    def fail(message: str, *where: str, hint: str | None = None) -> InputError:
        return InputError(path, message, line=lines(*where), hint=hint)

    inputs = data.get("inputs") or {}
    for key in ("reports", "firms"):
        if not inputs.get(key):
            raise fail(f"inputs.{key} is missing", "inputs", hint=f"give the {'reports folder' if key == 'reports' else 'firm table'}")
    if inputs.get("pattern") and inputs.get("manifest"):
        raise fail("give inputs.pattern or inputs.manifest, not both", "inputs", "manifest")
    parsed_inputs = Inputs(
        reports=resolve(inputs["reports"]),  # type: ignore[arg-type]
        firms=resolve(inputs["firms"]),  # type: ignore[arg-type]
        pattern=inputs.get("pattern") or None,
        manifest=resolve(inputs.get("manifest")),
        patents=resolve(inputs.get("patents")),
        aliases=resolve(inputs.get("aliases")),
    )

    dictionaries: dict[str, DictionarySpec] = {}
    given = data.get("dictionaries") or {}
    for role in given:
        if role not in ROLES:
            raise fail(f"unknown dictionary role {role!r}", "dictionaries", role, hint=f"the roles are {', '.join(ROLES)}")
    defaults = {"micro_innovation": "micro_innovation", "digital": "digital_transformation_wufei2021"}
    for role in ROLES:
        spec = given.get(role) or {}
        if isinstance(spec, str):
            spec = {"use": spec}
        if not isinstance(spec, dict) or set(spec) - {"use", "extend"}:
            raise fail(f"dictionaries.{role} should have 'use' (a shipped name or a file) and optionally 'extend' (a list of files)", "dictionaries", role)
        extend = spec.get("extend") or []
        if isinstance(extend, str):
            extend = [extend]
        dictionaries[role] = DictionarySpec(str(spec.get("use") or defaults[role]), tuple(str(e) for e in extend))

    counting = data.get("counting") or {}
    try:
        options = CountOptions(
            mode=counting.get("mode", "jieba"),
            scope=counting.get("scope", "whole"),
            negation_window=counting.get("negation_window", 0),
            negation_chars=counting.get("negation_chars", NEGATION_CHARS),
            negation_exceptions=tuple(counting.get("negation_exceptions", NEGATION_EXCEPTIONS)),
            tokens=counting.get("tokens", True),
            hmm=counting.get("hmm", True),
            token_backend=counting.get("token_backend", "auto"),
            matcher=counting.get("matcher", "regex"),
        )
    except InputError as exc:
        raise fail(exc.message, "counting") from None

    mi = (data.get("micro_innovation") or {}).get("keywords") or {}
    mi_rule = _stage_rule(path, lines, mi, ("micro_innovation", "keywords"), "per_10k_tokens", "all")
    sc = (data.get("micro_innovation") or {}).get("self_citation") or {}
    self_citation = SelfCitationRule(
        enabled=sc.get("enabled", True),
        share=sc.get("share", "citing_own_share"),
        min_share=float(sc.get("min_share", 0.3)),
        continuity=sc.get("continuity", "continuity_longest"),
        min_continuity=int(sc.get("min_continuity", 3)),
    )
    digital = _stage_rule(path, lines, data.get("digital") or {}, ("digital",), "per_report", "micro_innovation")
    sample = data.get("sample") or {}
    parsed_sample = Sample(n=sample.get("n", 40), method=sample.get("method", "top"), seed=sample.get("seed", 20240611))
    if parsed_sample.n < 1:
        raise fail("sample.n should be at least 1", "sample", "n")
    if parsed_sample.method not in SAMPLE_METHODS:
        raise fail(f"sample.method {parsed_sample.method!r} is not one of {', '.join(SAMPLE_METHODS)}", "sample", "method")
    if not options.tokens and "tokens" in (mi_rule.measure + digital.measure):
        raise fail("a per_10k_tokens measure needs counting.tokens: true", "counting", "tokens")

    out_section = data.get("output") or {}
    out = Path(output) if output is not None else resolve(out_section.get("folder")) or (base / "screening-output").resolve()
    workers = counting.get("workers", "auto")
    if isinstance(workers, str) and workers != "auto":
        raise fail(f"counting.workers should be a whole number or 'auto' (got {workers!r})", "counting", "workers")
    return ScreeningConfig(
        path=path,
        inputs=parsed_inputs,
        dictionaries=dictionaries,
        counting=options,
        workers=workers,
        cache=counting.get("cache", True),
        micro_innovation=mi_rule,
        self_citation=self_citation,
        digital=digital,
        sample=parsed_sample,
        output=out,
        figures=out_section.get("figures", True),
    )


def _stage_rule(path: Path, lines: _Lines, section: dict, where: tuple[str, ...], measure: str, among: str) -> StageRule:
    measure = section.get("measure", measure)
    if measure not in MEASURES:
        raise InputError(path, f"{'.'.join(where)}.measure {measure!r} is not one of {', '.join(MEASURES)}", line=lines(*where, "measure"))
    try:
        rule = Rule(section.get("rule", "above_mean"), k=section.get("k"), value=section.get("value"))
    except InputError as exc:
        raise InputError(path, f"{'.'.join(where)}: {exc.message}", line=lines(*where, "rule")) from None
    among = section.get("among", among)
    if among not in AMONG:
        raise InputError(path, f"{'.'.join(where)}.among {among!r} is not one of {', '.join(AMONG)}", line=lines(*where, "among"))
    return StageRule(measure, rule, among)
