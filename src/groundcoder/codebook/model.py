"""The typed codebook: concepts -> initial categories -> main categories -> roles, plus stages.

A codebook is four flat tables that name their parent, like the study's tables 3 and 4:

* ``Concept`` (初始概念) belongs to one ``InitialCategory`` (初始范畴);
* ``InitialCategory`` belongs to one ``MainCategory`` (主范畴) and may carry the material count
  (材料数量/份: number of source documents in which it was coded);
* ``MainCategory`` belongs to at most one ``Role`` (selective coding, e.g. 外部导向因素);
* ``Stage`` groups main categories by the stage of the process in which they act; stages may
  overlap, and a stage may be marked as spanning all stages (e.g. 数字赋能(贯穿各阶段)).

Constructing a ``Codebook`` validates it and collects every problem into one ``CodebookError``.
Names are unique across concepts, initial categories, main categories and roles, so one name means
one thing everywhere (``parent_of``, ``concepts_of``); stages live in their own namespace.
"""

from __future__ import annotations

import difflib
import hashlib
import json
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import NamedTuple

from ..errors import InputError

CONCEPT = "concept"
INITIAL_CATEGORY = "initial category"
MAIN_CATEGORY = "main category"
ROLE = "role"
STAGE = "stage"


@dataclass(frozen=True)
class CodebookProblem:
    """One thing wrong with a codebook, at a line of its file where known."""

    message: str
    line: int | None = None


class CodebookError(InputError):
    """Every problem found in a codebook, raised together so the researcher can fix them in one go."""

    def __init__(self, path: str | Path | None, problems: list[CodebookProblem] | tuple[CodebookProblem, ...]) -> None:
        self.problems = tuple(sorted(problems, key=lambda p: (p.line is None, p.line or 0)))
        count = len(self.problems)
        summary = f"{count} problem{'s' if count != 1 else ''} in the codebook"
        super().__init__(
            path,
            summary,
            line=self.problems[0].line if count == 1 else None,
            hint=("fix them all" if count > 1 else "fix it")
            + f", then check again with `groundcoder codebook validate {path if path is not None else 'FILE'}`",
        )

    def problem_lines(self) -> list[str]:
        """Each problem as ``file:line: what is wrong``."""
        where = str(self.path) if self.path is not None else "<codebook>"
        return [
            f"{where}:{p.line}: {p.message}" if p.line is not None else f"{where}: {p.message}"
            for p in self.problems
        ]

    def __str__(self) -> str:
        where = str(self.path) if self.path is not None else "<codebook>"
        head = f"{where}: {self.message} ({self.hint}):" if self.hint else f"{where}: {self.message}:"
        return "\n".join([head, *("  " + line for line in self.problem_lines())])


class UnknownNameError(KeyError):
    """A name that is not in the codebook; the message suggests close matches."""

    def __init__(self, name: str, kind: str, suggestions: list[str]) -> None:
        self.name = name
        self.kind = kind
        self.suggestions = suggestions
        super().__init__(name)

    def __str__(self) -> str:
        text = f"unknown {self.kind} {self.name!r}"
        if self.suggestions:
            text += "; did you mean " + " or ".join(repr(s) for s in self.suggestions) + "?"
        return text


@dataclass(frozen=True)
class Concept:
    """初始概念: the label a quote is coded with."""

    name: str
    initial_category: str
    description: str = ""
    # Where it was declared in the codebook file, for error messages; not part of the content.
    line: int | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class InitialCategory:
    """初始范畴 with its connotation (范畴内涵) and material count (材料数量/份), if the study reports one."""

    name: str
    main_category: str
    description: str = ""
    material_count: int | None = None
    line: int | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class MainCategory:
    """主范畴 with its connotation."""

    name: str
    description: str = ""
    line: int | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class Role:
    """A role of main categories in the theory (selective coding), e.g. 外部导向因素."""

    name: str
    main_categories: tuple[str, ...]
    description: str = ""
    line: int | None = field(default=None, compare=False, repr=False)
    # One line per entry of main_categories (for precise errors); empty when unknown.
    member_lines: tuple[int | None, ...] = field(default=(), compare=False, repr=False)


@dataclass(frozen=True)
class Stage:
    """A stage of the process and the main categories acting in it; may span all stages."""

    name: str
    main_categories: tuple[str, ...]
    description: str = ""
    spans_all_stages: bool = False
    line: int | None = field(default=None, compare=False, repr=False)
    member_lines: tuple[int | None, ...] = field(default=(), compare=False, repr=False)


class ConceptPath(NamedTuple):
    """Where a concept sits: its initial category, main category and role (None without roles)."""

    initial: str
    main: str
    role: str | None


@dataclass(frozen=True)
class Codebook:
    """A validated codebook. Build it with ``Codebook.load``, ``Codebook.default`` or the constructor."""

    concepts: tuple[Concept, ...]
    initial_categories: tuple[InitialCategory, ...]
    main_categories: tuple[MainCategory, ...]
    roles: tuple[Role, ...] = ()
    stages: tuple[Stage, ...] = ()
    title: str = ""
    # The study (or other source) the codebook comes from, as a citation.
    source: str = ""
    path: Path | None = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        for name in ("concepts", "initial_categories", "main_categories", "roles", "stages"):
            object.__setattr__(self, name, tuple(getattr(self, name)))
        problems = find_problems(self)
        if problems:
            raise CodebookError(self.path, problems)
        # Canonical order: main categories as declared, their initial categories and concepts
        # grouped under them in declaration order, so equal codebooks compare and hash equal.
        main_rank = {m.name: i for i, m in enumerate(self.main_categories)}
        initials = sorted(
            enumerate(self.initial_categories), key=lambda item: (main_rank[item[1].main_category], item[0])
        )
        object.__setattr__(self, "initial_categories", tuple(ic for _, ic in initials))
        initial_rank = {ic.name: i for i, ic in enumerate(self.initial_categories)}
        concepts = sorted(enumerate(self.concepts), key=lambda item: (initial_rank[item[1].initial_category], item[0]))
        object.__setattr__(self, "concepts", tuple(c for _, c in concepts))

    # ----- loading and writing -------------------------------------------------------------------

    @classmethod
    def load(cls, path: str | Path) -> Codebook:
        """Read a codebook from YAML (``.yaml``/``.yml``) or REFI-QDA (``.qdc``)."""
        path = Path(path)
        suffix = path.suffix.lower()
        if suffix in {".yaml", ".yml"}:
            from .yaml_format import read_yaml

            return read_yaml(path)
        if suffix == ".qdc":
            from .qdc import read_qdc

            return read_qdc(path)
        raise InputError(
            path,
            f"cannot read a codebook from a {suffix or 'suffix-less'} file",
            hint="use a .yaml codebook (see corpora/codebooks/micro_innovation.yaml) or a REFI-QDA .qdc",
        )

    @classmethod
    def default(cls) -> Codebook:
        """The shipped codebook of the seed study (corpora/codebooks/micro_innovation.yaml)."""
        from ..paths import default_codebook_path

        return cls.load(default_codebook_path())

    @classmethod
    def from_yaml_text(cls, text: str, path: str | Path | None = None) -> Codebook:
        from .yaml_format import parse_yaml_text

        return parse_yaml_text(text, path)

    def to_yaml(self) -> str:
        from .yaml_format import codebook_to_yaml

        return codebook_to_yaml(self)

    def to_qdc(self) -> bytes:
        """The codebook as REFI-QDA codebook XML (see ``groundcoder.codebook.qdc`` for the mapping)."""
        from .qdc import codebook_to_qdc

        return codebook_to_qdc(self)

    # ----- identity --------------------------------------------------------------------------------

    def canonical(self) -> dict:
        """The coding scheme the hash covers: every name and the tree, in order.

        Descriptions, material counts, roles, stages and metadata are left out on purpose: fixing a
        connotation or regrouping main categories into roles does not change what a classifier
        predicts, while renaming, adding, moving or reordering a concept or category does.
        """
        return {
            "main_categories": [
                {
                    "name": main.name,
                    "initial_categories": [
                        {"name": initial, "concepts": list(self.concepts_of(initial))}
                        for initial in self.initial_categories_of(main.name)
                    ],
                }
                for main in self.main_categories
            ]
        }

    @cached_property
    def hash(self) -> str:
        """sha256 (hex) of the canonical coding scheme; a model trained on another codebook has another."""
        text = json.dumps(self.canonical(), ensure_ascii=False, separators=(",", ":"), sort_keys=True)
        return hashlib.sha256(text.encode("utf-8")).hexdigest()

    # ----- lookups ---------------------------------------------------------------------------------

    @cached_property
    def _index(self) -> _Index:
        return _Index.build(self)

    @property
    def concept_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.concepts)

    def kind_of(self, name: str) -> str:
        """``concept``, ``initial category``, ``main category`` or ``role``."""
        try:
            return self._index.kind[name]
        except KeyError:
            raise UnknownNameError(name, "name", self.suggest(name, kinds=None)) from None

    def concept(self, name: str) -> Concept:
        try:
            return self._index.concept[name]
        except KeyError:
            raise UnknownNameError(name, CONCEPT, self.suggest(name)) from None

    def initial_category(self, name: str) -> InitialCategory:
        try:
            return self._index.initial[name]
        except KeyError:
            raise UnknownNameError(name, INITIAL_CATEGORY, self.suggest(name, kinds=(INITIAL_CATEGORY,))) from None

    def main_category(self, name: str) -> MainCategory:
        try:
            return self._index.main[name]
        except KeyError:
            raise UnknownNameError(name, MAIN_CATEGORY, self.suggest(name, kinds=(MAIN_CATEGORY,))) from None

    def role(self, name: str) -> Role:
        try:
            return self._index.role[name]
        except KeyError:
            raise UnknownNameError(name, ROLE, self.suggest(name, kinds=(ROLE,))) from None

    def stage(self, name: str) -> Stage:
        for stage in self.stages:
            if stage.name == name:
                return stage
        names = [s.name for s in self.stages]
        raise UnknownNameError(name, STAGE, difflib.get_close_matches(name, names, n=3, cutoff=0.5))

    def concept_path(self, concept: str) -> ConceptPath:
        """(initial category, main category, role) of a concept; role is None in a codebook without roles."""
        initial = self.concept(concept).initial_category
        main = self._index.initial[initial].main_category
        return ConceptPath(initial, main, self._index.role_of_main.get(main))

    def parent_of(self, name: str) -> str | None:
        """The next level up: concept -> initial category -> main category -> role -> None."""
        kind = self.kind_of(name)
        if kind == CONCEPT:
            return self._index.concept[name].initial_category
        if kind == INITIAL_CATEGORY:
            return self._index.initial[name].main_category
        if kind == MAIN_CATEGORY:
            return self._index.role_of_main.get(name)
        return None

    def children_of(self, name: str) -> tuple[str, ...]:
        """The next level down: role -> main categories -> initial categories -> concepts -> ()."""
        self.kind_of(name)
        return self._index.children.get(name, ())

    def initial_categories_of(self, main_category: str) -> tuple[str, ...]:
        if self.kind_of(main_category) != MAIN_CATEGORY:
            raise ValueError(f"{main_category!r} is a {self.kind_of(main_category)}, not a main category")
        return self._index.children.get(main_category, ())

    def concepts_of(self, category: str) -> tuple[str, ...]:
        """Concepts under an initial category, a main category or a role, in codebook order."""
        kind = self.kind_of(category)
        if kind == CONCEPT:
            raise ValueError(f"{category!r} is a concept, not a category")
        return self._index.concepts_under[category]

    def stages_of(self, main_category: str) -> tuple[Stage, ...]:
        """The stages a main category acts in (including stages that span all stages)."""
        self.main_category(main_category)
        return tuple(s for s in self.stages if main_category in s.main_categories)

    def suggest(self, name: str, limit: int = 3, kinds: tuple[str, ...] | None = (CONCEPT,)) -> list[str]:
        """Close matches for an unknown name (concepts by default; ``kinds=None`` for every name)."""
        candidates = [n for n, k in self._index.kind.items() if kinds is None or k in kinds]
        # Chinese names are short, so a lower cutoff than difflib's 0.6 still gives sensible matches.
        matches = difflib.get_close_matches(name, candidates, n=limit, cutoff=0.5)
        if len(matches) < limit:
            # A name typed too short or too long (数字化 for 数字化转型) is contained in the real one.
            for candidate in candidates:
                if len(matches) >= limit:
                    break
                if name and candidate not in matches and (name in candidate or candidate in name):
                    matches.append(candidate)
        return matches

    def summary(self) -> str:
        return (
            f"{len(self.concepts)} concepts in {len(self.initial_categories)} initial categories in "
            f"{len(self.main_categories)} main categories; {len(self.roles)} roles, {len(self.stages)} stages; "
            f"hash {self.hash[:12]}"
        )


@dataclass
class _Index:
    kind: dict[str, str]
    concept: dict[str, Concept]
    initial: dict[str, InitialCategory]
    main: dict[str, MainCategory]
    role: dict[str, Role]
    role_of_main: dict[str, str]
    children: dict[str, tuple[str, ...]]
    concepts_under: dict[str, tuple[str, ...]]

    @classmethod
    def build(cls, codebook: Codebook) -> _Index:
        kind: dict[str, str] = {}
        for items, label in (
            (codebook.concepts, CONCEPT),
            (codebook.initial_categories, INITIAL_CATEGORY),
            (codebook.main_categories, MAIN_CATEGORY),
            (codebook.roles, ROLE),
        ):
            for item in items:
                kind[item.name] = label
        children: dict[str, list[str]] = defaultdict(list)
        concepts_under: dict[str, list[str]] = defaultdict(list)
        role_of_main = {main: role.name for role in codebook.roles for main in role.main_categories}
        initial_main = {ic.name: ic.main_category for ic in codebook.initial_categories}
        for ic in codebook.initial_categories:
            children[ic.main_category].append(ic.name)
        for role in codebook.roles:
            children[role.name].extend(role.main_categories)
        for concept in codebook.concepts:
            children[concept.initial_category].append(concept.name)
            main = initial_main[concept.initial_category]
            for category in (concept.initial_category, main, role_of_main.get(main)):
                if category is not None:
                    concepts_under[category].append(concept.name)
        return cls(
            kind=kind,
            concept={c.name: c for c in codebook.concepts},
            initial={ic.name: ic for ic in codebook.initial_categories},
            main={m.name: m for m in codebook.main_categories},
            role={r.name: r for r in codebook.roles},
            role_of_main=role_of_main,
            children={k: tuple(v) for k, v in children.items()},
            concepts_under={
                name: tuple(concepts_under.get(name, ()))
                for name, k in kind.items()
                if k != CONCEPT
            },
        )


def _at(line: int | None) -> str:
    return f" (line {line})" if line is not None else ""


def _first_at(line: int | None) -> str:
    return f" (first at line {line})" if line is not None else ""


def find_problems(codebook: Codebook) -> list[CodebookProblem]:
    """Every structural problem of a codebook (names, parents, empty categories, roles, stages)."""
    problems: list[CodebookProblem] = []

    def problem(message: str, line: int | None) -> None:
        problems.append(CodebookProblem(message, line))

    # Names: empty, repeated within a level, or shared between levels.
    first_seen: dict[str, tuple[str, object]] = {}
    for items, kind in (
        (codebook.main_categories, MAIN_CATEGORY),
        (codebook.initial_categories, INITIAL_CATEGORY),
        (codebook.concepts, CONCEPT),
        (codebook.roles, ROLE),
    ):
        for item in items:
            if not item.name.strip():
                problem(f"a {kind} has an empty name", item.line)
                continue
            if item.name not in first_seen:
                first_seen[item.name] = (kind, item)
                continue
            other_kind, other = first_seen[item.name]
            if kind == CONCEPT and other_kind == CONCEPT:
                if item.initial_category != other.initial_category:  # type: ignore[attr-defined]
                    problem(
                        f"concept {item.name} has two parents: initial categories {other.initial_category}"  # type: ignore[attr-defined]
                        f"{_at(other.line)} and {item.initial_category}; a concept belongs to exactly one "
                        "initial category (rename one of them or keep one)",
                        item.line,
                    )
                else:
                    problem(
                        f"concept {item.name} is listed twice under {item.initial_category}{_first_at(other.line)}",
                        item.line,
                    )
            elif kind == other_kind:
                problem(f"{kind} {item.name} is named twice{_first_at(other.line)}; names must be unique", item.line)
            else:
                problem(
                    f"{kind} {item.name} has the same name as the {other_kind}{_at(other.line)}; "
                    "every concept, category and role needs its own name",
                    item.line,
                )

    main_names = {m.name for m in codebook.main_categories}
    initial_names = {ic.name for ic in codebook.initial_categories}
    role_names = [r.name for r in codebook.roles]

    # Parents.
    for concept in codebook.concepts:
        if not concept.initial_category.strip():
            problem(
                f"concept {concept.name} has no parent: list it under an initial category "
                "(main category -> initial category -> concepts)",
                concept.line,
            )
        elif concept.initial_category not in initial_names:
            problem(f"concept {concept.name} names an unknown initial category {concept.initial_category}", concept.line)
    for initial in codebook.initial_categories:
        if not initial.main_category.strip():
            problem(f"initial category {initial.name} has no main category", initial.line)
        elif initial.main_category not in main_names:
            problem(
                f"initial category {initial.name} names an unknown main category {initial.main_category}", initial.line
            )

    # Empty categories.
    used_initials = Counter(c.initial_category for c in codebook.concepts)
    for initial in codebook.initial_categories:
        if used_initials[initial.name] == 0:
            problem(f"initial category {initial.name} has no concepts: add at least one or remove it", initial.line)
        if initial.material_count is not None and (
            isinstance(initial.material_count, bool)
            or not isinstance(initial.material_count, int)
            or initial.material_count < 0
        ):
            problem(
                f"initial category {initial.name}: material_count must be a whole number >= 0, "
                f"got {initial.material_count!r}",
                initial.line,
            )
    used_mains = Counter(ic.main_category for ic in codebook.initial_categories)
    for main in codebook.main_categories:
        if used_mains[main.name] == 0:
            problem(f"main category {main.name} has no initial categories: add at least one or remove it", main.line)

    # Roles and stages name main categories.
    def check_members(group: Role | Stage, kind: str) -> None:
        if not group.main_categories:
            problem(f"{kind} {group.name} lists no main categories", group.line)
        seen: set[str] = set()
        for index, member in enumerate(group.main_categories):
            line = group.member_lines[index] if index < len(group.member_lines) else group.line
            if member in seen:
                problem(f"{kind} {group.name} lists main category {member} twice", line)
            seen.add(member)
            if member not in main_names:
                hint = difflib.get_close_matches(member, sorted(main_names), n=1, cutoff=0.4)
                known = f"did you mean {hint[0]}?" if hint else "known: " + "、".join(m.name for m in codebook.main_categories)
                problem(f"{kind} {group.name} names an unknown main category {member} ({known})", line)

    for role in codebook.roles:
        check_members(role, ROLE)
    stage_seen: dict[str, Stage] = {}
    for stage in codebook.stages:
        if not stage.name.strip():
            problem("a stage has an empty name", stage.line)
        elif stage.name in stage_seen:
            problem(f"stage {stage.name} is named twice{_first_at(stage_seen[stage.name].line)}", stage.line)
        else:
            stage_seen[stage.name] = stage
        check_members(stage, STAGE)

    if codebook.roles:
        roles_of: dict[str, list[str]] = defaultdict(list)
        for role in codebook.roles:
            for member in dict.fromkeys(role.main_categories):
                roles_of[member].append(role.name)
        for main in codebook.main_categories:
            if not roles_of[main.name]:
                problem(
                    f"main category {main.name} is in no role: add it to one of " + "、".join(role_names),
                    main.line,
                )
            elif len(roles_of[main.name]) > 1:
                problem(
                    f"main category {main.name} is in {len(roles_of[main.name])} roles "
                    f"({'、'.join(roles_of[main.name])}); a main category plays one role",
                    main.line,
                )
    return problems
