"""REFI-QDA codebook exchange (``.qdc``, XML namespace ``urn:QDA-XML:codebook:1.0``).

How a groundcoder codebook maps onto the REFI-QDA codebook schema:

* ``Codes`` is a three-level tree: main categories (``isCodable="false"``) > initial categories
  (``isCodable="false"``) > concepts (``isCodable="true"``). Connotations go in ``Description``.
* Roles and stages are REFI-QDA ``Sets`` whose ``MemberCode`` elements point at main categories.
* What the schema has no place for travels in the last line of a ``Description``, a line that starts
  with ``[groundcoder] `` followed by a JSON object (other QDA software shows it as plain text):
  the material count of an initial category (``{"material_count": 25}``), the kind of a set
  (``{"kind": "role"}`` or ``{"kind": "stage", "spans_all_stages": true}``), and the codebook's
  title and source, on a member-less set named ``groundcoder codebook``
  (``{"kind": "codebook", "title": ..., "source": ...}``).
* GUIDs are uuid5 of the kind and name, so exporting the same codebook twice gives identical files.

Import reads both groundcoder's own files (exact round trip) and codebooks written by other tools
(NVivo, ATLAS.ti, MAXQDA, QualCoder): top-level codes become main categories, their children initial
categories and the leaves below those concepts (levels come from depth, not ``isCodable``, which
tools set differently); sets without the ``[groundcoder]`` line are ignored,
so such a codebook has no roles or stages. A tree that is shallower or deeper than three levels is
refused with a message saying where. A ``.qde`` project file (root ``Project``) is read too: its
``CodeBook`` and project-level ``Sets``. XML is parsed with defusedxml: no entity expansion, no DTD
fetching.
"""

from __future__ import annotations

import json
import uuid
import xml.etree.ElementTree as ET
import xml.sax
import xml.sax.handler
from dataclasses import dataclass, field
from io import BytesIO
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import defusedxml
import defusedxml.sax

from ..atomic import write_bytes
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

CODEBOOK_NAMESPACE = "urn:QDA-XML:codebook:1.0"
PROJECT_NAMESPACE = "urn:QDA-XML:project:1.0"
DATA_PREFIX = "[groundcoder] "
METADATA_SET_NAME = "groundcoder codebook"
# Fixed namespace for GUIDs: the same name always gets the same GUID, in every export.
_GUID_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "https://github.com/groundcoder/groundcoder/codebook")


def guid_for(kind: str, name: str) -> str:
    """Deterministic GUID of a code or set (kind: concept, initial category, main category, role, stage)."""
    return str(uuid.uuid5(_GUID_NAMESPACE, f"{kind}:{name}"))


def _normalise_guid(guid: str) -> str:
    return guid.strip().strip("{}").lower()


def join_description(text: str, data: dict[str, Any] | None) -> str:
    """Description text plus, when there is data, the ``[groundcoder] {json}`` line."""
    if not data:
        return text
    line = DATA_PREFIX + json.dumps(data, ensure_ascii=False, sort_keys=True)
    return f"{text}\n{line}" if text else line


def split_description(description: str) -> tuple[str, dict[str, Any]]:
    """Inverse of ``join_description``; a description without the data line is all text."""
    head, _, last = description.rpartition("\n")
    if last.startswith(DATA_PREFIX):
        try:
            data = json.loads(last[len(DATA_PREFIX) :])
        except json.JSONDecodeError:
            return description, {}
        if isinstance(data, dict):
            return head, data
    return description, {}


# ----- export --------------------------------------------------------------------------------------


def codebook_to_qdc(codebook: Codebook) -> bytes:
    ns = f"{{{CODEBOOK_NAMESPACE}}}"
    ET.register_namespace("", CODEBOOK_NAMESPACE)
    root = ET.Element(f"{ns}CodeBook", {"origin": "groundcoder"})
    codes = ET.SubElement(root, f"{ns}Codes")

    def code(parent: ET.Element, kind: str, name: str, codable: bool, description: str) -> ET.Element:
        element = ET.SubElement(
            parent,
            f"{ns}Code",
            {"guid": guid_for(kind, name), "name": name, "isCodable": "true" if codable else "false"},
        )
        if description:
            ET.SubElement(element, f"{ns}Description").text = description
        return element

    for main in codebook.main_categories:
        main_element = code(codes, "main category", main.name, False, main.description)
        for initial_name in codebook.initial_categories_of(main.name):
            initial = codebook.initial_category(initial_name)
            data = {"material_count": initial.material_count} if initial.material_count is not None else None
            initial_element = code(
                main_element, "initial category", initial.name, False, join_description(initial.description, data)
            )
            for concept_name in codebook.concepts_of(initial_name):
                code(initial_element, "concept", concept_name, True, codebook.concept(concept_name).description)

    sets: list[tuple[str, str, str, tuple[str, ...]]] = []
    if codebook.title or codebook.source:
        metadata = {"kind": "codebook", "title": codebook.title, "source": codebook.source}
        sets.append(("codebook", METADATA_SET_NAME, join_description("", metadata), ()))
    for role in codebook.roles:
        sets.append(("role", role.name, join_description(role.description, {"kind": "role"}), role.main_categories))
    for stage in codebook.stages:
        data = {"kind": "stage", "spans_all_stages": stage.spans_all_stages}
        sets.append(("stage", stage.name, join_description(stage.description, data), stage.main_categories))
    if sets:
        sets_element = ET.SubElement(root, f"{ns}Sets")
        for kind, name, description, members in sets:
            set_element = ET.SubElement(sets_element, f"{ns}Set", {"guid": guid_for(kind, name), "name": name})
            ET.SubElement(set_element, f"{ns}Description").text = description
            for member in members:
                ET.SubElement(set_element, f"{ns}MemberCode", {"guid": guid_for("main category", member)})

    ET.indent(root, space="  ")
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="utf-8") + b"\n"


def write_qdc(codebook: Codebook, path: str | Path) -> Path:
    return write_bytes(path, codebook_to_qdc(codebook))


# ----- import --------------------------------------------------------------------------------------


@dataclass
class _Element:
    namespace: str
    tag: str
    attributes: dict[str, str]
    line: int
    children: list[_Element] = field(default_factory=list)
    text_parts: list[str] = field(default_factory=list)

    @property
    def text(self) -> str:
        return "".join(self.text_parts)

    def find_all(self, tag: str) -> list[_Element]:
        return [child for child in self.children if child.tag == tag]

    def find(self, tag: str) -> _Element | None:
        found = self.find_all(tag)
        return found[0] if found else None


class _TreeBuilder(xml.sax.handler.ContentHandler):
    """A minimal element tree that remembers the line of each element (ElementTree does not)."""

    def __init__(self) -> None:
        super().__init__()
        self.root: _Element | None = None
        self.stack: list[_Element] = []
        self.locator: Any = None

    def setDocumentLocator(self, locator: Any) -> None:  # noqa: N802 (SAX API name)
        self.locator = locator

    def startElementNS(self, name: tuple[str | None, str], qname: str | None, attrs: Any) -> None:  # noqa: N802
        namespace, tag = name
        attributes = {local: value for (_, local), value in attrs.items()}
        element = _Element(namespace or "", tag, attributes, self.locator.getLineNumber() if self.locator else 0)
        if self.stack:
            self.stack[-1].children.append(element)
        else:
            self.root = element
        self.stack.append(element)

    def endElementNS(self, name: tuple[str | None, str], qname: str | None) -> None:  # noqa: N802
        self.stack.pop()

    def characters(self, content: str) -> None:
        if self.stack:
            self.stack[-1].text_parts.append(content)


def _parse_xml(data: bytes, path: Path | None) -> _Element:
    builder = _TreeBuilder()
    parser = defusedxml.sax.make_parser()
    parser.setFeature(xml.sax.handler.feature_namespaces, True)
    parser.setContentHandler(builder)
    try:
        parser.parse(BytesIO(data))
    except xml.sax.SAXParseException as exc:
        raise CodebookError(path, [CodebookProblem(f"malformed XML: {exc.getMessage()}", exc.getLineNumber())]) from None
    except defusedxml.DefusedXmlException as exc:
        raise CodebookError(
            path,
            [CodebookProblem(f"the file uses XML entities or external references, which groundcoder refuses for safety ({exc})")],
        ) from None
    if builder.root is None:
        raise CodebookError(path, [CodebookProblem("the file has no XML content")])
    return builder.root


def read_qdc(path: str | Path) -> Codebook:
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise InputError(path, "codebook file not found", hint="check the path") from None
    except OSError as exc:
        raise InputError(path, f"cannot read the codebook: {exc.strerror or exc}") from None
    return parse_qdc_bytes(data, path)


@dataclass
class _Code:
    name: str
    line: int
    description: str
    children: list[_Code]
    guid: str


def parse_qdc_bytes(data: bytes, path: str | Path | None = None) -> Codebook:
    path = Path(path) if path is not None else None
    root = _parse_xml(data, path)
    problems: list[CodebookProblem] = []

    if root.tag == "CodeBook":
        codebook_element: _Element | None = root
        sets_element = root.find("Sets")
    elif root.tag == "Project":
        codebook_element = root.find("CodeBook")
        sets_element = root.find("Sets")
        if codebook_element is None:
            raise CodebookError(path, [CodebookProblem("the REFI-QDA project has no CodeBook", root.line)])
    else:
        raise CodebookError(
            path,
            [
                CodebookProblem(
                    f"not a REFI-QDA codebook: the root element is {root.tag}, expected CodeBook "
                    f"(namespace {CODEBOOK_NAMESPACE})",
                    root.line,
                )
            ],
        )
    codes_element = codebook_element.find("Codes")
    if codes_element is None or not codes_element.find_all("Code"):
        raise CodebookError(path, [CodebookProblem("the codebook has no codes", codebook_element.line)])

    def read_code(element: _Element) -> _Code | None:
        name = element.attributes.get("name", "").strip()
        if not name:
            problems.append(CodebookProblem("a Code has no name attribute", element.line))
            return None
        description_element = element.find("Description")
        children = [c for c in (read_code(child) for child in element.find_all("Code")) if c is not None]
        return _Code(
            name,
            element.line,
            description_element.text if description_element is not None else "",
            children,
            _normalise_guid(element.attributes.get("guid", "")),
        )

    tops = [c for c in (read_code(e) for e in codes_element.find_all("Code")) if c is not None]

    def depth(code: _Code) -> int:
        return 1 + max((depth(child) for child in code.children), default=0)

    tree_depth = max((depth(code) for code in tops), default=0)
    fields: dict[str, Any] = {
        "concepts": [],
        "initial_categories": [],
        "main_categories": [],
        "roles": [],
        "stages": [],
        "title": "",
        "source": "",
    }
    expectation = (
        "groundcoder expects exactly 3 levels: main category > initial category > concept (a codable leaf); "
        "regroup the codes in your QDA software and export again"
    )
    if tree_depth < 3:
        problems.append(
            CodebookProblem(
                f"the code tree is only {tree_depth} level{'s' if tree_depth != 1 else ''} deep; {expectation}",
                codes_element.line,
            )
        )
        raise CodebookError(path, problems)

    main_by_guid: dict[str, str] = {}
    for main in tops:
        main_by_guid[main.guid] = main.name
        fields["main_categories"].append(MainCategory(main.name, main.description, line=main.line))
        if not main.children:
            problems.append(CodebookProblem(f"top-level code {main.name} has no sub-codes; {expectation}", main.line))
        for initial in main.children:
            text, data = split_description(initial.description)
            material_count = data.get("material_count")
            if material_count is not None and (
                isinstance(material_count, bool) or not isinstance(material_count, int) or material_count < 0
            ):
                problems.append(
                    CodebookProblem(
                        f"initial category {initial.name}: material_count must be a whole number, got {material_count!r}",
                        initial.line,
                    )
                )
                material_count = None
            fields["initial_categories"].append(
                InitialCategory(initial.name, main.name, text, material_count, line=initial.line)
            )
            if not initial.children:
                problems.append(
                    CodebookProblem(
                        f"code {main.name} > {initial.name} has no sub-codes, so it would be an initial category "
                        f"without concepts; {expectation}",
                        initial.line,
                    )
                )
            for concept in initial.children:
                fields["concepts"].append(Concept(concept.name, initial.name, concept.description, line=concept.line))
                if concept.children:
                    deeper = "、".join(child.name for child in concept.children)
                    problems.append(
                        CodebookProblem(
                            f"code {main.name} > {initial.name} > {concept.name} has sub-codes ({deeper}), "
                            f"a 4th level; {expectation} (merge the sub-codes into their parent)",
                            concept.line,
                        )
                    )

    if sets_element is not None:
        for set_element in sets_element.find_all("Set"):
            text, data = split_description(
                set_element.find("Description").text if set_element.find("Description") is not None else ""
            )
            kind = data.get("kind")
            if kind not in {"role", "stage", "codebook"}:
                continue  # a set made in another tool: not part of the codebook's theory
            name = set_element.attributes.get("name", "").strip()
            if kind == "codebook":
                fields["title"] = str(data.get("title", ""))
                fields["source"] = str(data.get("source", ""))
                continue
            members: list[str] = []
            member_lines: list[int] = []
            for member in set_element.find_all("MemberCode"):
                guid = _normalise_guid(member.attributes.get("guid") or member.attributes.get("targetGUID", ""))
                if guid not in main_by_guid:
                    problems.append(
                        CodebookProblem(
                            f"{kind} {name} has a member ({guid or 'no guid'}) that is not a top-level code "
                            "(main category)",
                            member.line,
                        )
                    )
                    continue
                members.append(main_by_guid[guid])
                member_lines.append(member.line)
            if kind == "role":
                fields["roles"].append(
                    Role(name, tuple(members), text, line=set_element.line, member_lines=tuple(member_lines))
                )
            else:
                fields["stages"].append(
                    Stage(
                        name,
                        tuple(members),
                        text,
                        bool(data.get("spans_all_stages", False)),
                        line=set_element.line,
                        member_lines=tuple(member_lines),
                    )
                )

    problems.extend(find_problems(SimpleNamespace(**fields)))  # type: ignore[arg-type]
    if problems:
        raise CodebookError(path, problems)
    return Codebook(**fields, path=path)
