"""The YAML codebook format, written by hand by researchers.

Layout (every key but ``main_categories`` is optional)::

    title: 专精特新企业数字化微创新影响因素
    source: the study this codebook comes from (citation)
    main_categories:                 # 主范畴, in order
      数字基础设施:
        description: 内涵 of the main category
        initial_categories:          # 初始范畴
          数字化投资:
            description: 企业对硬件和软件的投资
            material_count: 25       # 材料数量/份: documents in which it was coded
            concepts:                # 初始概念: a name, or "name: description"
              - 数字化战略
              - 数字化营销: 企业以数字渠道开展营销
          数字技术应用: [人工智能, 大数据分析]    # shorthand: just the concepts
    roles:                           # selective coding: every main category in exactly one role
      外部导向因素: [行业环境, 合作伙伴]
      强化因素:
        description: ...
        main_categories: [数字基础设施, 数字经济]
    stages:                          # main categories acting in each stage; may overlap
      微创新实现: [行业环境]
      数字赋能:
        spans_all_stages: true
        main_categories: [数字基础设施, 数字经济]

The file is read with ``yaml.compose`` so every problem can name its line; all problems (malformed
YAML, wrong types, unknown keys, and the structural checks of ``model.find_problems``) are collected
and raised together as one ``CodebookError``.
"""

from __future__ import annotations

import difflib
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from ..atomic import write_text
from ..errors import InputError
from .model import (
    Codebook,
    CodebookError,
    CodebookProblem,
    Concept,
    InitialCategory,
    MainCategory,
    Role,
    Stage,
    find_problems,
)

_TOP_KEYS = ("title", "source", "main_categories", "roles", "stages")
_MAIN_KEYS = ("description", "initial_categories", "concepts")
_INITIAL_KEYS = ("description", "material_count", "concepts")
_ROLE_KEYS = ("description", "main_categories")
_STAGE_KEYS = ("description", "main_categories", "spans_all_stages")

_NULL_TAG = "tag:yaml.org,2002:null"
_INT_TAG = "tag:yaml.org,2002:int"
_BOOL_TAG = "tag:yaml.org,2002:bool"


def read_yaml(path: str | Path) -> Codebook:
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise InputError(path, "codebook file not found", hint="check the path") from None
    except OSError as exc:
        raise InputError(path, f"cannot read the codebook: {exc.strerror or exc}") from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise CodebookError(
            path, [CodebookProblem("the file is not UTF-8 text: save it as UTF-8 (Excel/WPS: 'UTF-8' encoding)", line)]
        ) from None
    return parse_yaml_text(text, path)


def parse_yaml_text(text: str, path: str | Path | None = None) -> Codebook:
    try:
        root = yaml.compose(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        what = " ".join(part for part in (exc.context, exc.problem) if part) or "malformed YAML"
        raise CodebookError(
            path, [CodebookProblem(f"malformed YAML: {what}", mark.line + 1 if mark is not None else None)]
        ) from None
    except yaml.YAMLError as exc:  # e.g. ReaderError: a control character in the text
        position = getattr(exc, "position", None)
        line = text[:position].count("\n") + 1 if isinstance(position, int) else None
        raise CodebookError(path, [CodebookProblem(f"malformed YAML: {exc}", line)]) from None
    reader = _Reader()
    fields = reader.read_root(root)
    problems = list(reader.problems)
    if not reader.fatal:
        # Check the fields before building the Codebook, so parse and structure problems come together.
        problems.extend(find_problems(SimpleNamespace(**fields)))  # type: ignore[arg-type]
    if problems:
        raise CodebookError(path, problems)
    return Codebook(**fields, path=Path(path) if path is not None else None)


def _line(node: Node) -> int:
    return node.start_mark.line + 1


def _describe(node: Node) -> str:
    if isinstance(node, MappingNode):
        return "a mapping (key: value)"
    if isinstance(node, SequenceNode):
        return "a list"
    if node.tag == _NULL_TAG:
        return "nothing"
    return repr(node.value)


class _Reader:
    def __init__(self) -> None:
        self.problems: list[CodebookProblem] = []
        # Set when the file is so far off the format that structural checks would only add noise.
        self.fatal = False

    def problem(self, message: str, node: Node | None) -> None:
        self.problems.append(CodebookProblem(message, _line(node) if node is not None else None))

    # ----- generic helpers -------------------------------------------------------------------------

    def mapping(self, node: MappingNode, allowed: tuple[str, ...], where: str) -> dict[str, Node]:
        """Keys (as text) -> value nodes; reports unknown and repeated keys."""
        result: dict[str, Node] = {}
        for key_node, value_node in node.value:
            key = self.name(key_node, f"a key of {where}")
            if key is None:
                continue
            if key not in allowed:
                close = difflib.get_close_matches(key, allowed, n=1, cutoff=0.6)
                hint = f"did you mean {close[0]}?" if close else "allowed: " + ", ".join(allowed)
                self.problem(f"unknown key {key!r} in {where} ({hint})", key_node)
                continue
            if key in result:
                self.problem(f"key {key!r} is given twice in {where}", key_node)
                continue
            result[key] = value_node
        return result

    def name(self, node: Node, what: str) -> str | None:
        """A name is any non-empty scalar, taken as written (so 2021 or 5G stay text)."""
        if not isinstance(node, ScalarNode):
            self.problem(f"{what} must be a name, got {_describe(node)}", node)
            return None
        if node.tag == _NULL_TAG or not str(node.value).strip():
            self.problem(f"{what} is empty", node)
            return None
        return str(node.value).strip()

    def text(self, node: Node, what: str) -> str:
        if isinstance(node, ScalarNode):
            return "" if node.tag == _NULL_TAG else str(node.value)
        self.problem(f"{what} must be text, got {_describe(node)}", node)
        return ""

    def names_list(self, node: Node, what: str) -> tuple[tuple[str, ...], tuple[int, ...]]:
        if isinstance(node, ScalarNode) and node.tag != _NULL_TAG:
            # A single name without brackets: accept it, it is unambiguous.
            name = self.name(node, what)
            return ((name,), (_line(node),)) if name else ((), ())
        if isinstance(node, ScalarNode):
            return (), ()
        if not isinstance(node, SequenceNode):
            self.problem(f"{what} must be a list of main categories, got {_describe(node)}", node)
            return (), ()
        names: list[str] = []
        lines: list[int] = []
        for item in node.value:
            name = self.name(item, f"an entry of {what}")
            if name is not None:
                names.append(name)
                lines.append(_line(item))
        return tuple(names), tuple(lines)

    # ----- the sections ----------------------------------------------------------------------------

    def read_root(self, root: Node | None) -> dict[str, Any]:
        fields: dict[str, Any] = {
            "concepts": [],
            "initial_categories": [],
            "main_categories": [],
            "roles": [],
            "stages": [],
            "title": "",
            "source": "",
        }
        if root is None:
            self.problem("the codebook is empty: it needs at least main_categories", None)
            self.fatal = True
            return fields
        if not isinstance(root, MappingNode):
            self.problem(
                f"a codebook is a mapping with main_categories, roles and stages; got {_describe(root)}", root
            )
            self.fatal = True
            return fields
        top = self.mapping(root, _TOP_KEYS, "the codebook")
        for key in ("title", "source"):
            if key in top:
                fields[key] = self.text(top[key], key)
        if "main_categories" not in top:
            self.problem("the codebook has no main_categories", root)
            self.fatal = True
        else:
            self.read_mains(top["main_categories"], fields)
        if "roles" in top:
            fields["roles"] = self.read_groups(top["roles"], "roles", _ROLE_KEYS)
        if "stages" in top:
            fields["stages"] = self.read_groups(top["stages"], "stages", _STAGE_KEYS)
        return fields

    def read_mains(self, node: Node, fields: dict[str, Any]) -> None:
        if not isinstance(node, MappingNode):
            self.problem(
                f"main_categories must map each main category to its initial categories, got {_describe(node)}", node
            )
            self.fatal = True
            return
        for key_node, value_node in node.value:
            main = self.name(key_node, "a main category name")
            if main is None:
                continue
            description = ""
            initials_node: Node | None = None
            if isinstance(value_node, MappingNode):
                body = self.mapping(value_node, _MAIN_KEYS, f"main category {main}")
                description = self.text(body["description"], f"description of {main}") if "description" in body else ""
                initials_node = body.get("initial_categories")
                if "concepts" in body:
                    # Concepts straight under a main category have no initial category: record them
                    # with an empty parent so the structural check reports each one.
                    for concept in self.read_concepts(body["concepts"], parent="", where=f"main category {main}"):
                        fields["concepts"].append(concept)
            elif not (isinstance(value_node, ScalarNode) and value_node.tag == _NULL_TAG):
                self.problem(
                    f"main category {main} must be a mapping with description and initial_categories, "
                    f"got {_describe(value_node)}",
                    value_node,
                )
            fields["main_categories"].append(MainCategory(main, description, line=_line(key_node)))
            if initials_node is not None:
                self.read_initials(initials_node, main, fields)

    def read_initials(self, node: Node, main: str, fields: dict[str, Any]) -> None:
        if isinstance(node, ScalarNode) and node.tag == _NULL_TAG:
            return
        if not isinstance(node, MappingNode):
            self.problem(
                f"initial_categories of {main} must map each initial category to its concepts, got {_describe(node)}",
                node,
            )
            return
        for key_node, value_node in node.value:
            initial = self.name(key_node, f"an initial category name under {main}")
            if initial is None:
                continue
            description = ""
            material_count: int | None = None
            concepts_node: Node | None = None
            if isinstance(value_node, MappingNode):
                body = self.mapping(value_node, _INITIAL_KEYS, f"initial category {initial}")
                if "description" in body:
                    description = self.text(body["description"], f"description of {initial}")
                if "material_count" in body:
                    material_count = self.material_count(body["material_count"], initial)
                concepts_node = body.get("concepts")
            elif isinstance(value_node, SequenceNode):
                concepts_node = value_node
            elif not (isinstance(value_node, ScalarNode) and value_node.tag == _NULL_TAG):
                self.problem(
                    f"initial category {initial} must be a list of concepts or a mapping with description, "
                    f"material_count and concepts, got {_describe(value_node)}",
                    value_node,
                )
            fields["initial_categories"].append(
                InitialCategory(initial, main, description, material_count, line=_line(key_node))
            )
            if concepts_node is not None:
                fields["concepts"].extend(self.read_concepts(concepts_node, initial, f"initial category {initial}"))

    def material_count(self, node: Node, initial: str) -> int | None:
        if isinstance(node, ScalarNode) and node.tag == _NULL_TAG:
            return None
        if isinstance(node, ScalarNode) and node.tag == _INT_TAG:
            value = yaml.safe_load(node.value)
            if value >= 0:
                return int(value)
        self.problem(
            f"material_count of {initial} must be a whole number of documents (e.g. 25), got {_describe(node)}", node
        )
        return None

    def read_concepts(self, node: Node, parent: str, where: str) -> list[Concept]:
        if isinstance(node, ScalarNode) and node.tag == _NULL_TAG:
            return []
        if not isinstance(node, SequenceNode):
            self.problem(f"concepts of {where} must be a list (one '- name' per line), got {_describe(node)}", node)
            return []
        concepts: list[Concept] = []
        for item in node.value:
            if isinstance(item, MappingNode):
                # "- name: description"
                if len(item.value) != 1:
                    self.problem(
                        f"a concept of {where} must be '- name' or '- name: description', got a mapping with "
                        f"{len(item.value)} keys (is a '- ' missing before a concept?)",
                        item,
                    )
                    continue
                key_node, value_node = item.value[0]
                name = self.name(key_node, f"a concept name of {where}")
                description = self.text(value_node, f"description of concept {name}")
                if name is not None:
                    concepts.append(Concept(name, parent, description, line=_line(key_node)))
                continue
            name = self.name(item, f"a concept of {where}")
            if name is not None:
                concepts.append(Concept(name, parent, line=_line(item)))
        return concepts

    def read_groups(self, node: Node, section: str, allowed: tuple[str, ...]) -> list[Role | Stage]:
        kind = "role" if section == "roles" else "stage"
        if isinstance(node, ScalarNode) and node.tag == _NULL_TAG:
            return []
        if not isinstance(node, MappingNode):
            self.problem(f"{section} must map each {kind} to its main categories, got {_describe(node)}", node)
            return []
        groups: list[Role | Stage] = []
        for key_node, value_node in node.value:
            name = self.name(key_node, f"a {kind} name")
            if name is None:
                continue
            description = ""
            spans_all_stages = False
            members: tuple[str, ...] = ()
            member_lines: tuple[int, ...] = ()
            if isinstance(value_node, MappingNode):
                body = self.mapping(value_node, allowed, f"{kind} {name}")
                if "description" in body:
                    description = self.text(body["description"], f"description of {name}")
                if "main_categories" in body:
                    members, member_lines = self.names_list(body["main_categories"], f"{kind} {name}")
                if "spans_all_stages" in body:
                    flag = body["spans_all_stages"]
                    if isinstance(flag, ScalarNode) and flag.tag == _BOOL_TAG:
                        spans_all_stages = bool(yaml.safe_load(flag.value))
                    else:
                        self.problem(f"spans_all_stages of {name} must be true or false, got {_describe(flag)}", flag)
            else:
                members, member_lines = self.names_list(value_node, f"{kind} {name}")
            if kind == "role":
                groups.append(Role(name, members, description, line=_line(key_node), member_lines=member_lines))
            else:
                groups.append(
                    Stage(
                        name,
                        members,
                        description,
                        spans_all_stages,
                        line=_line(key_node),
                        member_lines=member_lines,
                    )
                )
        return groups


# ----- writing -------------------------------------------------------------------------------------


def codebook_to_yaml(codebook: Codebook) -> str:
    """The codebook in the hand-written layout; ``parse_yaml_text`` reads it back equal."""
    document: dict[str, Any] = {}
    if codebook.title:
        document["title"] = codebook.title
    if codebook.source:
        document["source"] = codebook.source
    mains: dict[str, Any] = {}
    for main in codebook.main_categories:
        initials: dict[str, Any] = {}
        for initial_name in codebook.initial_categories_of(main.name):
            initial = codebook.initial_category(initial_name)
            body: dict[str, Any] = {}
            if initial.description:
                body["description"] = initial.description
            if initial.material_count is not None:
                body["material_count"] = initial.material_count
            body["concepts"] = [
                {c.name: c.description} if c.description else c.name
                for c in (codebook.concept(n) for n in codebook.concepts_of(initial_name))
            ]
            initials[initial_name] = body
        main_body: dict[str, Any] = {}
        if main.description:
            main_body["description"] = main.description
        main_body["initial_categories"] = initials
        mains[main.name] = main_body
    document["main_categories"] = mains
    if codebook.roles:
        document["roles"] = {
            role.name: (
                {"description": role.description, "main_categories": list(role.main_categories)}
                if role.description
                else list(role.main_categories)
            )
            for role in codebook.roles
        }
    if codebook.stages:
        stages: dict[str, Any] = {}
        for stage in codebook.stages:
            if stage.description or stage.spans_all_stages:
                body = {}
                if stage.description:
                    body["description"] = stage.description
                if stage.spans_all_stages:
                    body["spans_all_stages"] = True
                body["main_categories"] = list(stage.main_categories)
                stages[stage.name] = body
            else:
                stages[stage.name] = list(stage.main_categories)
        document["stages"] = stages
    header = "# groundcoder codebook: main category -> initial category -> concepts; roles; stages.\n"
    return header + yaml.safe_dump(
        document, allow_unicode=True, sort_keys=False, default_flow_style=False, width=1000, indent=2
    )


def write_yaml(codebook: Codebook, path: str | Path) -> Path:
    return write_text(path, codebook_to_yaml(codebook))
