"""The label space of the concept classifier: concept order and the codebook hierarchy above it.

Contract (stable; the training job, evaluation and the model card build on it):

* ``LabelSpace.from_codebook(codebook)`` fixes the classifier's output order: column ``j`` of every
  ``[n_samples, n_concepts]`` array is ``labels.concepts[j]``, in the codebook's canonical order.
  ``initial_categories`` and ``main_categories`` fix the column order of the derived category
  arrays (``groundcoder.classifier.hierarchy``).
* ``concept_initial[j]`` is the initial category of concept ``j``; ``initial_main[k]`` the main
  category of initial category ``k``; ``main_role[m]`` the role of main category ``m`` (None in a
  codebook without roles). ``codebook_hash`` is ``Codebook.hash`` (sha256 of the coding scheme).
* ``encode(label_sets)`` turns ``list[set[str]]`` into a float32 multi-hot array ``[n, n_concepts]``;
  an empty set is "no code" (an all-zero row). Unknown names raise ``InputError`` naming the item,
  the name and close matches; a category name where a concept is expected is explained as such.
* ``decode(row_of_bools)`` gives the concept names of a row, in label order.
* ``to_dict`` / ``from_dict`` / ``save`` / ``load`` round-trip through JSON (``labels.json`` in a
  saved model); ``check_codebook(codebook)`` raises ``CodebookMismatchError`` (a
  ``GroundcoderError``) naming both hashes and the differing concepts when a codebook does not
  match.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from ..atomic import write_json
from ..errors import GroundcoderError, InputError

LABELS_FORMAT = "groundcoder.labels/1"


class CodebookMismatchError(GroundcoderError):
    """A model (or label space) trained on one codebook used with another."""


@dataclass(frozen=True)
class LabelSpace:
    """Concept columns of the classifier plus the hierarchy they derive categories by."""

    concepts: tuple[str, ...]
    concept_initial: tuple[str, ...]          # aligned with concepts
    initial_categories: tuple[str, ...]
    initial_main: tuple[str, ...]             # aligned with initial_categories
    main_categories: tuple[str, ...]
    main_role: tuple[str | None, ...]         # aligned with main_categories
    codebook_hash: str
    codebook_title: str = ""

    def __post_init__(self) -> None:
        for name in ("concepts", "concept_initial", "initial_categories", "initial_main", "main_categories", "main_role"):
            object.__setattr__(self, name, tuple(getattr(self, name)))
        problems = []
        if not self.concepts:
            problems.append("no concepts")
        if len(set(self.concepts)) != len(self.concepts):
            problems.append("concept names repeat")
        if len(self.concept_initial) != len(self.concepts):
            problems.append(f"{len(self.concept_initial)} initial categories for {len(self.concepts)} concepts")
        if len(self.initial_main) != len(self.initial_categories):
            problems.append(f"{len(self.initial_main)} main categories for {len(self.initial_categories)} initial categories")
        if len(self.main_role) != len(self.main_categories):
            problems.append(f"{len(self.main_role)} roles for {len(self.main_categories)} main categories")
        unknown_initial = sorted(set(self.concept_initial) - set(self.initial_categories))
        if unknown_initial:
            problems.append(f"concepts name unknown initial categories {unknown_initial}")
        unknown_main = sorted(set(self.initial_main) - set(self.main_categories))
        if unknown_main:
            problems.append(f"initial categories name unknown main categories {unknown_main}")
        if problems:
            raise InputError(None, "inconsistent label space: " + "; ".join(problems),
                             hint="build it with LabelSpace.from_codebook(codebook)")

    # ----- construction ----------------------------------------------------------------------------

    @classmethod
    def from_codebook(cls, codebook: Any) -> LabelSpace:
        """Concepts in the codebook's canonical order, with their initial/main categories and roles."""
        concepts = tuple(codebook.concept_names)
        paths = [codebook.concept_path(c) for c in concepts]
        initials = tuple(ic.name for ic in codebook.initial_categories)
        mains = tuple(m.name for m in codebook.main_categories)
        initial_main = tuple(codebook.parent_of(ic) for ic in initials)
        main_role = tuple(codebook.parent_of(m) for m in mains)
        return cls(
            concepts=concepts,
            concept_initial=tuple(p.initial for p in paths),
            initial_categories=initials,
            initial_main=initial_main,
            main_categories=mains,
            main_role=main_role,
            codebook_hash=codebook.hash,
            codebook_title=getattr(codebook, "title", "") or "",
        )

    # ----- sizes and lookups -----------------------------------------------------------------------

    @property
    def n_concepts(self) -> int:
        return len(self.concepts)

    def __len__(self) -> int:
        return len(self.concepts)

    @cached_property
    def concept_index(self) -> dict[str, int]:
        return {c: i for i, c in enumerate(self.concepts)}

    @cached_property
    def initial_index(self) -> dict[str, int]:
        return {c: i for i, c in enumerate(self.initial_categories)}

    @cached_property
    def main_index(self) -> dict[str, int]:
        return {c: i for i, c in enumerate(self.main_categories)}

    def index(self, concept: str) -> int:
        try:
            return self.concept_index[concept]
        except KeyError:
            raise InputError(None, self._unknown_message(concept), hint=self._unknown_hint(concept)) from None

    def initial_of(self, concept: str) -> str:
        return self.concept_initial[self.index(concept)]

    def main_of(self, concept: str) -> str:
        return self.initial_main[self.initial_index[self.initial_of(concept)]]

    def role_of(self, concept: str) -> str | None:
        return self.main_role[self.main_index[self.main_of(concept)]]

    @cached_property
    def concept_to_initial(self) -> np.ndarray:
        """0/1 matrix ``[n_concepts, n_initial]``: concept j belongs to initial category k."""
        m = np.zeros((len(self.concepts), len(self.initial_categories)), dtype=bool)
        for j, ic in enumerate(self.concept_initial):
            m[j, self.initial_index[ic]] = True
        m.setflags(write=False)
        return m

    @cached_property
    def concept_to_main(self) -> np.ndarray:
        """0/1 matrix ``[n_concepts, n_main]``: concept j belongs (through its initial) to main m."""
        m = np.zeros((len(self.concepts), len(self.main_categories)), dtype=bool)
        for j, ic in enumerate(self.concept_initial):
            m[j, self.main_index[self.initial_main[self.initial_index[ic]]]] = True
        m.setflags(write=False)
        return m

    @cached_property
    def concept_main(self) -> tuple[str, ...]:
        """Main category of each concept, aligned with ``concepts``."""
        return tuple(self.initial_main[self.initial_index[ic]] for ic in self.concept_initial)

    # ----- encoding --------------------------------------------------------------------------------

    def encode(self, label_sets: Sequence[Iterable[str]], *, what: str = "label_sets") -> np.ndarray:
        """Multi-hot float32 array ``[n, n_concepts]``; an empty set is an all-zero ("no code") row."""
        if isinstance(label_sets, (str, bytes)) or not isinstance(label_sets, Sequence):
            raise InputError(None, f"{what} must be a list of sets of concept names, got {type(label_sets).__name__}",
                             hint="e.g. [{'人工智能'}, set(), {'知识应用', '发现机会'}]")
        out = np.zeros((len(label_sets), len(self.concepts)), dtype=np.float32)
        for i, labels in enumerate(label_sets):
            if labels is None:
                continue
            if isinstance(labels, (str, bytes)) or not isinstance(labels, Iterable):
                raise InputError(
                    None,
                    f"{what}[{i}] must be a set of concept names, got {type(labels).__name__} {labels!r}"[:300],
                    hint="wrap a single concept in a set: {'人工智能'}; use set() for a quote with no code",
                )
            for name in labels:
                if not isinstance(name, str):
                    raise InputError(None, f"{what}[{i}] contains {name!r}, not a concept name (str)")
                j = self.concept_index.get(name)
                if j is None:
                    raise InputError(None, f"{what}[{i}]: {self._unknown_message(name)}", hint=self._unknown_hint(name))
                out[i, j] = 1.0
        return out

    def decode(self, row: Sequence[bool] | np.ndarray) -> list[str]:
        row = np.asarray(row)
        if row.shape != (len(self.concepts),):
            raise InputError(None, f"expected a row of {len(self.concepts)} concept decisions, got shape {row.shape}")
        return [c for c, on in zip(self.concepts, row) if on]

    def _unknown_message(self, name: str) -> str:
        if name in self.initial_index:
            return f"{name!r} is an initial category, not a concept"
        if name in self.main_index:
            return f"{name!r} is a main category, not a concept"
        return f"unknown concept {name!r}"

    def _unknown_hint(self, name: str) -> str:
        if name in self.initial_index:
            members = [c for c, ic in zip(self.concepts, self.concept_initial) if ic == name]
            return "code quotes with concepts; its concepts are " + "、".join(members)
        if name in self.main_index:
            return "code quotes with concepts; categories are derived from them"
        close = difflib.get_close_matches(name, self.concepts, n=3, cutoff=0.5)
        close += [c for c in self.concepts if name and c not in close and (name in c or c in name)][: 3 - len(close)]
        where = f"the codebook (hash {self.codebook_hash[:12]}) has {len(self.concepts)} concepts"
        return (f"did you mean {' or '.join(map(repr, close))}? " if close else "") + where

    # ----- identity --------------------------------------------------------------------------------

    def check_codebook(self, codebook: Any, *, what: str = "this model") -> None:
        """Raise ``CodebookMismatchError`` unless ``codebook`` has the hash this label space was built from."""
        if codebook.hash == self.codebook_hash:
            return
        theirs = set(codebook.concept_names)
        ours = set(self.concepts)
        diff = []
        added, removed = sorted(theirs - ours), sorted(ours - theirs)
        if added:
            diff.append(f"concepts only in the given codebook: {'、'.join(added[:10])}{' …' if len(added) > 10 else ''}")
        if removed:
            diff.append(f"concepts only in the model's codebook: {'、'.join(removed[:10])}{' …' if len(removed) > 10 else ''}")
        if not diff:
            diff.append("same concept names, but the tree or the order of concepts/categories differs")
        raise CodebookMismatchError(
            f"{what} was trained on codebook {self.codebook_hash[:12]} (sha256 {self.codebook_hash}), "
            f"but the codebook given has hash {codebook.hash[:12]} (sha256 {codebook.hash}); "
            + "; ".join(diff)
            + ". Its predictions would name the wrong concepts: retrain the classifier on this codebook "
            "(groundcoder train), or load the codebook the model was trained with."
        )

    # ----- JSON ------------------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": LABELS_FORMAT,
            "codebook_hash": self.codebook_hash,
            "codebook_title": self.codebook_title,
            "concepts": [
                {"index": j, "name": c, "initial_category": ic, "main_category": self.concept_main[j]}
                for j, (c, ic) in enumerate(zip(self.concepts, self.concept_initial))
            ],
            "initial_categories": [
                {"index": k, "name": ic, "main_category": m} for k, (ic, m) in enumerate(zip(self.initial_categories, self.initial_main))
            ],
            "main_categories": [
                {"index": k, "name": m, "role": r} for k, (m, r) in enumerate(zip(self.main_categories, self.main_role))
            ],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, path: str | Path | None = None) -> LabelSpace:
        try:
            if data.get("format") != LABELS_FORMAT:
                raise InputError(path, f"expected a label map of format {LABELS_FORMAT!r}, got {data.get('format')!r}")
            concepts = sorted(data["concepts"], key=lambda r: r["index"])
            initials = sorted(data["initial_categories"], key=lambda r: r["index"])
            mains = sorted(data["main_categories"], key=lambda r: r["index"])
            return cls(
                concepts=tuple(r["name"] for r in concepts),
                concept_initial=tuple(r["initial_category"] for r in concepts),
                initial_categories=tuple(r["name"] for r in initials),
                initial_main=tuple(r["main_category"] for r in initials),
                main_categories=tuple(r["name"] for r in mains),
                main_role=tuple(r.get("role") for r in mains),
                codebook_hash=str(data["codebook_hash"]),
                codebook_title=str(data.get("codebook_title", "")),
            )
        except (KeyError, TypeError, AttributeError) as exc:
            raise InputError(path, f"not a valid label map: missing or malformed {exc}",
                             hint="labels.json is written by BertConceptClassifier.save_pretrained") from exc

    def save(self, path: str | Path) -> Path:
        return write_json(path, self.to_dict())

    @classmethod
    def load(cls, path: str | Path) -> LabelSpace:
        path = Path(path)
        if not path.exists():
            raise InputError(path, "label map not found", hint="expected labels.json from save_pretrained")
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise InputError(path, f"not valid JSON: {exc.msg}", line=exc.lineno) from exc
        return cls.from_dict(data, path=path)
