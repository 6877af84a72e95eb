"""Keyword dictionaries for screening: load, validate, replace or extend.

Two file formats:

* YAML (the shipped ones, corpora/dictionaries/*.yaml)::

      name: digital_transformation_wufei2021
      description: 企业数字化转型词典（吴非等，2021）
      dimensions:
        人工智能技术: [人工智能, 商业智能, ...]
        大数据技术:
          - 大数据
          - 数据挖掘

* TXT: one keyword per line, ``#`` starts a comment (whole line or after the word), and an optional
  ``[维度]`` line starts a dimension (words before any such line go to a dimension named after the
  file). The dictionary's name is the file name without suffix.

Every problem a researcher can make in these files is an ``InputError`` naming the file and line:
blank entries, a keyword listed twice, two keywords that become the same after normalisation (NFKC,
white space removed, ASCII lower case: ``FinTech`` and ``Fintech``), white space inside a keyword.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from ..errors import InputError
from ..paths import dictionaries_dir
from .normalise import normalise_text

DICTIONARY_SUFFIXES = (".yaml", ".yml", ".txt")

_WHITESPACE = re.compile(r"\s+")
_TRAILING_COMMENT = re.compile(r"\s#.*$")


normalise_keyword = normalise_text


@dataclass(frozen=True)
class Keyword:
    """One keyword as written in its dictionary file, with where it came from."""

    word: str
    dimension: str
    dictionary: str
    path: Path | None = field(default=None, compare=False)
    line: int | None = field(default=None, compare=False)

    @property
    def normalised(self) -> str:
        return normalise_keyword(self.word)

    def where(self) -> str:
        place = str(self.path) if self.path else self.dictionary
        return f"{place}, line {self.line}" if self.line else place


@dataclass(frozen=True)
class Dictionary:
    """A named keyword list grouped into dimensions (e.g. Wu Fei et al.'s five technology groups)."""

    name: str
    description: str
    keywords: tuple[Keyword, ...]
    sources: tuple[Path, ...] = ()

    @property
    def words(self) -> tuple[str, ...]:
        return tuple(k.word for k in self.keywords)

    @property
    def dimensions(self) -> dict[str, tuple[str, ...]]:
        grouped: dict[str, list[str]] = {}
        for k in self.keywords:
            grouped.setdefault(k.dimension, []).append(k.word)
        return {d: tuple(ws) for d, ws in grouped.items()}

    def dimension_of(self, word: str) -> str | None:
        for k in self.keywords:
            if k.word == word:
                return k.dimension
        return None

    def __len__(self) -> int:
        return len(self.keywords)

    def __iter__(self) -> Iterator[Keyword]:
        return iter(self.keywords)

    def digest(self) -> str:
        """Hash of the content (name, dimensions, words in order): part of the count cache's key."""
        payload = json.dumps([self.name, [[k.dimension, k.word] for k in self.keywords]], ensure_ascii=False)
        return hashlib.sha256(payload.encode("utf-8")).hexdigest()

    def extended(self, other: Dictionary) -> Dictionary:
        """This dictionary plus ``other``'s keywords; a keyword already here is an error naming both places."""
        _check_unique([*self.keywords, *other.keywords], other.sources[0] if other.sources else None)
        return Dictionary(self.name, self.description, self.keywords + other.keywords, self.sources + other.sources)

    def summary(self) -> str:
        sizes = "-".join(str(len(ws)) for ws in self.dimensions.values())
        return f"{self.name}: {len(self)} keywords in {len(self.dimensions)} dimensions ({sizes})"


# --------------------------------------------------------------------------------------------------
# Loading


def shipped_dictionaries() -> dict[str, Path]:
    """Name -> file of the dictionaries shipped in corpora/dictionaries/."""
    folder = dictionaries_dir()
    if not folder.is_dir():
        return {}
    return {p.stem: p for p in sorted(folder.iterdir()) if p.suffix.lower() in DICTIONARY_SUFFIXES}


def load_dictionary(spec: str | Path, base: Path | None = None) -> Dictionary:
    """Load a dictionary by file path (YAML or TXT) or by the name of a shipped one.

    ``base`` is the folder relative paths are taken from (the config file's folder).
    """
    text_spec = str(spec)
    candidates = [Path(text_spec)]
    if base is not None and not Path(text_spec).is_absolute():
        candidates.insert(0, base / text_spec)
    for path in candidates:
        if path.is_file():
            return _load_file(path)
    shipped = shipped_dictionaries()
    if text_spec in shipped:
        return _load_file(shipped[text_spec])
    names = ", ".join(shipped) or "none"
    raise InputError(
        candidates[0],
        "no such dictionary file, and no shipped dictionary of that name",
        hint=f"give a .yaml or .txt file, or one of the shipped dictionaries: {names}",
    )


def load_dictionaries(use: str | Path, extend: Iterable[str | Path] = (), base: Path | None = None) -> Dictionary:
    """``use`` (replaces the default) extended with the keywords of each file in ``extend``."""
    dictionary = load_dictionary(use, base)
    for spec in extend:
        dictionary = dictionary.extended(load_dictionary(spec, base))
    return dictionary


def _load_file(path: Path) -> Dictionary:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(path, f"is not UTF-8 text ({exc.reason} at byte {exc.start})", hint="save it as UTF-8") from None
    if path.suffix.lower() == ".txt":
        dictionary = _parse_txt(path, text)
    else:
        dictionary = _parse_yaml(path, text)
    if not dictionary.keywords:
        raise InputError(path, "has no keywords", hint="list at least one keyword")
    _check_unique(dictionary.keywords, path)
    return dictionary


def _parse_txt(path: Path, text: str) -> Dictionary:
    lines = text.split("\n")
    # A file's final newline (or a few trailing empty lines an editor adds) is not a blank entry.
    while lines and not lines[-1].strip():
        lines.pop()
    dimension = path.stem
    keywords: list[Keyword] = []
    for number, raw in enumerate(lines, start=1):
        line = raw.rstrip("\r")
        if line.lstrip().startswith("#"):
            continue  # a comment line
        # "#" after white space starts a comment; inside a word it is kept (C#).
        content = _TRAILING_COMMENT.sub("", line).strip()
        if not line.strip():
            raise InputError(
                path, "blank line: every line holds one keyword", line=number, hint="delete the blank line, or start it with # to keep it as a comment"
            )
        if not content:
            continue  # a word-less line that is only a trailing comment, e.g. "   # note"
        if m := re.fullmatch(r"\[(.+)\]", content):
            dimension = m[1].strip()
            continue
        keywords.append(_keyword(path, path.stem, dimension, content, number))
    return Dictionary(path.stem, "", tuple(keywords), (path,))


def _parse_yaml(path: Path, text: str) -> Dictionary:
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise InputError(
            path,
            f"is not valid YAML: {getattr(exc, 'problem', None) or exc}",
            line=mark.line + 1 if mark else None,
            hint="check the indentation and the brackets around word lists",
        ) from None
    if not isinstance(root, yaml.MappingNode):
        raise InputError(path, "should be a mapping with name, description and dimensions", line=1)
    top = {key.value: value for key, value in root.value}
    name = _scalar(top.get("name")) or path.stem
    description = _scalar(top.get("description")) or ""
    dims = top.get("dimensions")
    if dims is None:
        words = top.get("words")
        if isinstance(words, yaml.SequenceNode):  # a flat list without dimensions
            dims_items = [(None, words)]
        else:
            raise InputError(
                path, "has no 'dimensions' (or 'words') key", line=1, hint="write dimensions: {维度: [词, 词, ...]}"
            )
    elif not isinstance(dims, yaml.MappingNode):
        raise InputError(path, "'dimensions' should map each dimension to a list of words", line=dims.start_mark.line + 1)
    else:
        dims_items = list(dims.value)
    keywords: list[Keyword] = []
    for key_node, words_node in dims_items:
        dimension = name if key_node is None else str(key_node.value).strip()
        line_of_key = 1 if key_node is None else key_node.start_mark.line + 1
        if not dimension:
            raise InputError(path, "a dimension has an empty name", line=line_of_key)
        if not isinstance(words_node, yaml.SequenceNode):
            raise InputError(
                path,
                f"dimension {dimension!r} should be a list of words",
                line=line_of_key,
                hint=f"write {dimension}: [词, 词, ...]",
            )
        if not words_node.value:
            raise InputError(path, f"dimension {dimension!r} has no words", line=line_of_key, hint="add words or delete it")
        for item in words_node.value:
            line = item.start_mark.line + 1
            if not isinstance(item, yaml.ScalarNode):
                raise InputError(path, f"an entry of dimension {dimension!r} is not a single word", line=line)
            word = item.value.strip() if item.tag != "tag:yaml.org,2002:null" else ""
            if not word:
                raise InputError(
                    path, f"blank entry in dimension {dimension!r}", line=line, hint="delete the empty item (a stray comma or '-')"
                )
            keywords.append(_keyword(path, name, dimension, word, line))
    return Dictionary(name, description, tuple(keywords), (path,))


def _scalar(node: yaml.Node | None) -> str | None:
    return str(node.value).strip() if isinstance(node, yaml.ScalarNode) else None


def _keyword(path: Path, dictionary: str, dimension: str, word: str, line: int) -> Keyword:
    if _WHITESPACE.search(word):
        raise InputError(
            path,
            f"keyword {word!r} contains white space; jieba never produces such a token",
            line=line,
            hint="write it without spaces",
        )
    return Keyword(word, dimension, dictionary, path, line)


def _check_unique(keywords: Sequence[Keyword], path: Path | None) -> None:
    seen: dict[str, Keyword] = {}
    for k in keywords:
        key = k.normalised
        first = seen.get(key)
        if first is None:
            seen[key] = k
            continue
        where = k.path or path
        if first.word == k.word:
            message = f"keyword {k.word!r} is listed twice (first at {first.where()}, dimension {first.dimension!r})"
            hint = "delete the repeat"
        else:
            message = (
                f"keywords {first.word!r} ({first.where()}) and {k.word!r} are the same after normalisation "
                f"(NFKC, white space removed, ASCII lower case: {key!r})"
            )
            hint = "keep one spelling"
        raise InputError(where, message, line=k.line, hint=hint)


def union_keywords(dictionaries: Iterable[Dictionary]) -> tuple[str, ...]:
    """The distinct keywords of several dictionaries, in order: what one counting pass looks for."""
    seen: dict[str, None] = {}
    for d in dictionaries:
        for k in d.keywords:
            seen.setdefault(k.word, None)
    return tuple(seen)
