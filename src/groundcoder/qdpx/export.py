"""Export a project as REFI-QDA ``.qdpx``: ``project.qde`` (urn:QDA-XML:project:1.0) + ``sources/``.

What goes where (validated against the standard's Project.xsd in the tests):

* ``CodeBook``: the codebook as nested ``Code`` elements, exactly as ``groundcoder.codebook.qdc``
  writes it (main category > initial category > concept; categories ``isCodable="false"``,
  concepts ``"true"``; GUIDs from ``guid_for``, so a code has the same GUID in the .qdc and the
  .qdpx). Roles and stages are project ``Sets``. Concepts that codings use but the codebook lacks
  go under one extra branch whose description carries ``[groundcoder] {"kind": "outside_codebook"}``.
* ``Sources``: one ``TextSource`` per document, its text in ``sources/<GUID>.txt`` (UTF-8 without
  BOM, LF line breaks; ``plainTextPath="internal://<GUID>.txt"``), named by its document id, with
  VariableValues ``code`` (firm), ``year`` and ``kind``.
* Selections: one ``PlainTextSelection`` per coded span, ``startPosition``/``endPosition`` in
  Unicode code points, end exclusive, ``name`` = the selected text; each coding a ``Coding`` with
  ``CodeRef`` and ``creatingUser``.
* ``Users``: one per human coder, and ``groundcoder-model`` for model suggestions, whose codings
  refer (``NoteRef``) to a ``Note`` giving the confidence and model run, also as a
  ``[groundcoder] {...}`` line. Memos of human codings travel as Notes too.
* ``Cases``: one per firm, with VariableValues ``code``, ``name``, ``industry``, ``founded`` and
  the firm table's other columns, and a ``SourceRef`` to each of its documents.
* ``Graphs``: networkx graphs passed in (``graphs=[(name, graph)]``) as ``Graph`` with ``Vertex``
  and ``Edge``; vertices whose name is a code or category represent it (``representedGUID``).

GUIDs are uuid5 of what they name, and zip entries carry a fixed date, so the same project exports
to the same bytes.
"""

from __future__ import annotations

import math
import re
import xml.etree.ElementTree as ET
import zipfile
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from .. import __version__
from ..atomic import atomic_path
from ..codebook import Codebook
from ..codebook.qdc import CODEBOOK_NAMESPACE, PROJECT_NAMESPACE, codebook_to_qdc, guid_for, join_description
from ..errors import InputError
from ..store import Coding, DocumentRecord, Firm, ProjectStore
from ._text import OffsetMap, normalise, xml_safe
from .model import MODEL_USER_NAME

NS = f"{{{PROJECT_NAMESPACE}}}"
OUTSIDE_MAIN = "groundcoder: 码本外概念 (not in codebook)"
OUTSIDE_INITIAL = "groundcoder: 码本外概念 (not in codebook) · concepts"
MAX_INTERNAL_FILE = 2**31 - 1  # REFI-QDA 1.5, section 8.5
_ZIP_DATE = (1980, 1, 1, 0, 0, 0)
_NAME_LIMIT = 1000  # characters of the selected text in a selection's name
_RGB = re.compile(r"^#([A-Fa-f0-9]{6}|[A-Fa-f0-9]{3})$")
_SHAPES = {"Person", "Oval", "Rectangle", "RoundedRectangle", "Star", "LeftTriangle", "RightTriangle", "UpTriangle", "DownTriangle", "Note"}
_DIRECTIONS = {"Associative", "OneWay", "Bidirectional"}
_LINE_STYLES = {"dotted", "dashed", "solid"}


@dataclass(frozen=True)
class ExportData:
    """What a .qdpx holds, in memory: the store's own record types (documents with their text)."""

    codebook: Codebook
    documents: Sequence[DocumentRecord]
    firms: Sequence[Firm] = ()
    codings: Sequence[Coding] = ()
    name: str = "groundcoder project"


@dataclass(frozen=True)
class ExportSummary:
    path: Path
    sources: int
    cases: int
    codes: int
    selections: int
    human_codings: int
    model_codings: int
    users: tuple[str, ...]
    graphs: int
    model_runs: tuple[str, ...] = ()
    outside_codebook: tuple[str, ...] = ()
    skipped: tuple[str, ...] = field(default=())

    def to_json(self) -> dict[str, Any]:
        out = dict(self.__dict__)
        out["path"] = str(self.path)
        return out


def export_data_from_store(
    store: ProjectStore,
    *,
    include_model: bool = False,
    model_run_id: str | None = None,
    min_confidence: float | None = None,
    codebook: Codebook | None = None,
    name: str | None = None,
) -> ExportData:
    """The store's firms, documents (with text) and codings, ready for ``export_qdpx``.

    Human codings are always included. With ``include_model``, model codings of ``model_run_id``
    (default: the current model, or every run when none is current) at or above ``min_confidence``.
    The codebook is ``codebook``, else the latest one recorded in the store, else the shipped one.
    """
    if codebook is None:
        latest = store.latest_codebook()
        codebook = Codebook.from_yaml_text(latest.yaml_text, store.path) if latest else Codebook.default()
    codings = store.codings(coder_kind="human")
    if include_model:
        run = model_run_id
        if run is None and store.current_model() is not None:
            run = store.current_model().run_id  # type: ignore[union-attr]
        if run is not None and store.model_run(run) is None:
            known = ", ".join(r.run_id for r in store.model_runs()) or "none"
            raise InputError(store.path, f"no model run {run!r} in this project (runs: {known})")
        model = store.codings(coder_kind="model", model_run_id=run)
        if min_confidence is not None:
            model = [c for c in model if c.confidence is not None and c.confidence >= min_confidence]
        codings = codings + model
    documents = [store.document(d.doc_id) for d in store.documents()]
    return ExportData(
        codebook=codebook,
        documents=[d for d in documents if d is not None],
        firms=store.firms(),
        codings=codings,
        name=name or store.path.stem,
    )


def export_qdpx(
    out: str | Path,
    data: ExportData | ProjectStore,
    *,
    include_model: bool | None = None,
    model_run_id: str | None = None,
    min_confidence: float | None = None,
    codebook: Codebook | None = None,
    graphs: Iterable[tuple[str, Any]] = (),
    name: str | None = None,
) -> ExportSummary:
    """Write ``out`` (a .qdpx) from a project store or from ``ExportData``; atomic.

    Model suggestions: from a store, only with ``include_model=True`` (see
    ``export_data_from_store``); from ``ExportData``, the model codings it holds unless
    ``include_model=False``. Either way ``model_run_id`` and ``min_confidence`` narrow them.
    ``graphs``: ``(name, networkx graph)`` pairs written as REFI-QDA Graphs.
    """
    out = Path(out)
    if isinstance(data, ProjectStore):
        data = export_data_from_store(
            data, include_model=bool(include_model), model_run_id=model_run_id, min_confidence=min_confidence, codebook=codebook, name=name
        )
    else:
        codings = [c for c in data.codings if include_model is not False or c.coder_kind != "model"]
        codings = [
            c
            for c in codings
            if c.coder_kind != "model"
            or ((model_run_id is None or c.model_run_id == model_run_id) and (min_confidence is None or (c.confidence or 0) >= min_confidence))
        ]
        data = ExportData(codebook or data.codebook, data.documents, data.firms, codings, name or data.name)
    qde, files, summary = build_project(data, graphs=graphs)
    for member, content in files.items():
        if len(content) > MAX_INTERNAL_FILE:
            raise InputError(out, f"source {member} is {len(content)} bytes, over the REFI-QDA limit of 2 GiB for one file")
    with atomic_path(out, suffix=".qdpx") as tmp:
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as zf:
            _write_member(zf, "project.qde", qde)
            for member in sorted(files):
                _write_member(zf, member, files[member])
    return ExportSummary(path=out, **summary)


def _write_member(zf: zipfile.ZipFile, name: str, content: bytes) -> None:
    info = zipfile.ZipInfo(name, date_time=_ZIP_DATE)
    info.compress_type = zipfile.ZIP_DEFLATED
    info.external_attr = 0o644 << 16
    zf.writestr(info, content)


# --------------------------------------------------------------------------------------------------


class _Variables:
    """Project-level Variable definitions, one per (name, type); a clash of types gets a suffix."""

    def __init__(self) -> None:
        self.types: dict[str, str] = {}

    def name_for(self, name: str, type_: str) -> str:
        candidate = name
        if self.types.get(candidate, type_) != type_:
            candidate = f"{name} ({type_.lower()})"
        self.types.setdefault(candidate, type_)
        return candidate

    def value(self, parent: ET.Element, name: str, value: Any) -> None:
        if value is None or value == "":
            return
        if isinstance(value, bool):
            type_, element, text = "Boolean", "BooleanValue", "true" if value else "false"
        elif isinstance(value, int):
            type_, element, text = "Integer", "IntegerValue", str(value)
        elif isinstance(value, float):
            if not math.isfinite(value):
                return
            type_, element, text = "Float", "FloatValue", repr(value)
        elif isinstance(value, date):
            type_, element, text = "Date", "DateValue", value.isoformat()
        else:
            type_, element, text = "Text", "TextValue", xml_safe(str(value))
        var_name = self.name_for(name, type_)
        vv = ET.SubElement(parent, f"{NS}VariableValue")
        ET.SubElement(vv, f"{NS}VariableRef", {"targetGUID": guid_for("variable", var_name)})
        ET.SubElement(vv, f"{NS}{element}").text = text

    def element(self) -> ET.Element | None:
        if not self.types:
            return None
        root = ET.Element(f"{NS}Variables")
        for name, type_ in self.types.items():
            ET.SubElement(root, f"{NS}Variable", {"guid": guid_for("variable", name), "name": name, "typeOfVariable": type_})
        return root


def _codebook_elements(codebook: Codebook) -> tuple[ET.Element, ET.Element | None]:
    """(Codes, Sets) in the project namespace, from the .qdc writer (same GUIDs, same descriptions)."""
    root = ET.fromstring(codebook_to_qdc(codebook))  # our own output: trusted
    old = f"{{{CODEBOOK_NAMESPACE}}}"
    for element in root.iter():
        element.tag = element.tag.replace(old, NS)
        if element.tag == f"{NS}MemberCode":  # codebook: guid=..., project: targetGUID=...
            element.attrib = {"targetGUID": element.attrib["guid"]}
    for element in root.iter():
        element.tail = None
        if len(element):
            element.text = None
    return root.find(f"{NS}Codes"), root.find(f"{NS}Sets")  # type: ignore[return-value]


def build_project(data: ExportData, graphs: Iterable[tuple[str, Any]] = ()) -> tuple[bytes, dict[str, bytes], dict[str, Any]]:
    """(project.qde bytes, {archive member: bytes}, summary counts) for ``data``."""
    codebook = data.codebook
    variables = _Variables()
    skipped: list[str] = []

    # ---- texts and spans --------------------------------------------------------------------
    docs: dict[str, DocumentRecord] = {}
    texts: dict[str, str] = {}
    maps: dict[str, OffsetMap | None] = {}
    for doc in data.documents:
        if doc.text is None:
            raise ValueError(f"document {doc.doc_id!r} was given without its text")
        if doc.doc_id in docs:
            raise InputError(None, f"document {doc.doc_id!r} is given twice")
        docs[doc.doc_id] = doc
        text = normalise(doc.text)
        texts[doc.doc_id] = text
        maps[doc.doc_id] = OffsetMap(doc.text) if text != doc.text else None

    spans: dict[str, dict[tuple[int, int], list[Coding]]] = defaultdict(lambda: defaultdict(list))
    for c in data.codings:
        if c.doc_id not in docs:
            skipped.append(f"coding {c.concept!r} at {c.doc_id}:{c.start}-{c.end}: document not exported")
            continue
        start, end = c.start, c.end
        offset_map = maps[c.doc_id]
        if offset_map is not None:
            start, end = offset_map.map(start), offset_map.map(end)  # type: ignore[assignment]
        if start is None or end is None or not 0 <= start < end <= len(texts[c.doc_id]):
            skipped.append(f"coding {c.concept!r} at {c.doc_id}:{c.start}-{c.end}: outside the document text")
            continue
        spans[c.doc_id][(start, end)].append(c)

    # ---- code tree ----------------------------------------------------------------------------
    codes_el, sets_el = _codebook_elements(codebook)
    known = {c.name: "concept" for c in codebook.concepts}
    for ic in codebook.initial_categories:
        known[ic.name] = "initial category"
    for m in codebook.main_categories:
        known[m.name] = "main category"
    outside = sorted({c.concept for by_span in spans.values() for cs in by_span.values() for c in cs if c.concept not in known})
    if outside:
        main_el = ET.SubElement(
            codes_el, f"{NS}Code", {"guid": guid_for("main category", OUTSIDE_MAIN), "name": OUTSIDE_MAIN, "isCodable": "false"}
        )
        ET.SubElement(main_el, f"{NS}Description").text = join_description(
            "Concepts that codings use but the project's codebook does not have.", {"kind": "outside_codebook"}
        )
        initial_el = ET.SubElement(
            main_el, f"{NS}Code", {"guid": guid_for("initial category", OUTSIDE_INITIAL), "name": OUTSIDE_INITIAL, "isCodable": "false"}
        )
        for name in outside:
            ET.SubElement(initial_el, f"{NS}Code", {"guid": guid_for("concept", name), "name": xml_safe(name), "isCodable": "true"})
            known[name] = "concept"

    def code_guid(name: str) -> str:
        return guid_for(known[name], name)

    # ---- users and notes ----------------------------------------------------------------------
    users: dict[str, str] = {}  # name -> guid
    notes: list[ET.Element] = []
    model_runs: set[str] = set()
    latest_suggestion = ""

    def user_guid(c: Coding) -> str:
        label = MODEL_USER_NAME if c.coder_kind == "model" else c.coder
        users.setdefault(label, guid_for("user", label))
        return users[label]

    def add_note(coding_guid: str, title: str, text: str, data_line: dict[str, Any] | None) -> str:
        guid = guid_for("note", coding_guid)
        note = ET.Element(f"{NS}Note", {"guid": guid, "name": xml_safe(title)})
        ET.SubElement(note, f"{NS}PlainTextContent").text = xml_safe(join_description(text, data_line))
        notes.append(note)
        return guid

    # ---- sources ------------------------------------------------------------------------------
    sources_el = ET.Element(f"{NS}Sources")
    files: dict[str, bytes] = {}
    n_selections = n_human = n_model = 0
    for doc_id, doc in docs.items():
        guid = guid_for("source", doc_id)
        text = texts[doc_id]
        member = f"sources/{guid}.txt"
        try:
            files[member] = text.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise InputError(doc.source_path or None, f"document {doc_id!r} has text that is not valid Unicode ({exc.reason})") from None
        source = ET.SubElement(
            sources_el, f"{NS}TextSource", {"guid": guid, "name": xml_safe(doc_id), "plainTextPath": f"internal://{guid}.txt"}
        )
        meta = {"doc_id": doc_id, "firm_code": doc.firm_code, "kind": doc.kind, "year": doc.year, "title": doc.title}
        ET.SubElement(source, f"{NS}Description").text = xml_safe(join_description(doc.title, meta))
        for (start, end), codings in sorted(spans[doc_id].items()):
            quote = text[start:end]
            sel_guid = guid_for("selection", f"{doc_id}\x1f{start}\x1f{end}")
            label = quote if len(quote) <= _NAME_LIMIT else quote[: _NAME_LIMIT - 1] + "…"
            codings = sorted(codings, key=lambda c: (c.coder_kind != "human", c.concept, c.coder, c.model_run_id or ""))
            selection = ET.SubElement(
                source,
                f"{NS}PlainTextSelection",
                {
                    "guid": sel_guid,
                    "name": xml_safe(label),
                    "startPosition": str(start),
                    "endPosition": str(end),
                    "creatingUser": user_guid(codings[0]),
                },
            )
            seen: set[str] = set()
            for c in codings:
                coding_guid = guid_for("coding", f"{sel_guid}\x1f{c.concept}\x1f{c.coder}\x1f{c.model_run_id or ''}")
                if coding_guid in seen:
                    continue
                seen.add(coding_guid)
                coding = ET.SubElement(selection, f"{NS}Coding", {"guid": coding_guid, "creatingUser": user_guid(c)})
                ET.SubElement(coding, f"{NS}CodeRef", {"targetGUID": code_guid(c.concept)})
                if c.coder_kind == "model":
                    n_model += 1
                    model_runs.add(c.model_run_id or "")
                    latest_suggestion = max(latest_suggestion, c.created_at or "")
                    confidence = f"{c.confidence:.4f}" if c.confidence is not None else "unknown"
                    text_line = f"{MODEL_USER_NAME} suggestion: {c.concept} (confidence {confidence}, model {c.model_run_id})"
                    if c.memo:
                        text_line += f"\n{c.memo}"
                    line = {
                        "kind": "suggestion",
                        "concept": c.concept,
                        "confidence": c.confidence,
                        "model_run_id": c.model_run_id,
                        "coder": c.coder,
                    }
                    note = add_note(coding_guid, f"{MODEL_USER_NAME}: {c.concept}", text_line, line)
                    ET.SubElement(coding, f"{NS}NoteRef", {"targetGUID": note})
                else:
                    n_human += 1
                    if c.memo:
                        note = add_note(coding_guid, f"memo: {c.concept}", c.memo, None)
                        ET.SubElement(coding, f"{NS}NoteRef", {"targetGUID": note})
            n_selections += 1
        variables.value(source, "code", doc.firm_code)
        variables.value(source, "year", doc.year)
        variables.value(source, "kind", doc.kind)

    # ---- cases ------------------------------------------------------------------------------
    firms = {f.code: f for f in data.firms}
    for doc in docs.values():
        firms.setdefault(doc.firm_code, Firm(doc.firm_code))
    docs_of: dict[str, list[str]] = defaultdict(list)
    for doc_id, doc in docs.items():
        docs_of[doc.firm_code].append(doc_id)
    cases_el = ET.Element(f"{NS}Cases")
    for code in sorted(firms):
        firm = firms[code]
        case = ET.SubElement(
            cases_el, f"{NS}Case", {"guid": guid_for("case", code), "name": xml_safe(f"{code} {firm.name}".strip())}
        )
        variables.value(case, "code", code)
        variables.value(case, "name", firm.name)
        variables.value(case, "industry", firm.industry)
        variables.value(case, "founded", firm.founded)
        for key, value in sorted(firm.attributes.items()):
            base = key if key not in {"code", "name", "industry", "founded", "year", "kind"} else f"firm.{key}"
            variables.value(case, base, value if isinstance(value, (bool, int, float)) else str(value))
        for doc_id in docs_of.get(code, ()):
            ET.SubElement(case, f"{NS}SourceRef", {"targetGUID": guid_for("source", doc_id)})

    # ---- graphs -------------------------------------------------------------------------------
    graph_elements = [_graph_element(name, graph, known, codebook) for name, graph in graphs]

    # ---- assemble in the schema's order -------------------------------------------------------
    project_data: dict[str, Any] = {"exported_by": f"groundcoder {__version__}"}
    if n_model:
        project_data["suggestions"] = {"model_run_ids": sorted(model_runs), "count": n_model, "latest_created_at": latest_suggestion}
    root = ET.Element(f"{NS}Project", {"name": xml_safe(data.name), "origin": f"groundcoder {__version__}"})
    if users:
        users_el = ET.SubElement(root, f"{NS}Users")
        for label, guid in sorted(users.items()):
            ET.SubElement(users_el, f"{NS}User", {"guid": guid, "name": xml_safe(label)})
    codebook_el = ET.SubElement(root, f"{NS}CodeBook")
    codebook_el.append(codes_el)
    variables_el = variables.element()
    if variables_el is not None:
        root.append(variables_el)
    if len(cases_el):
        root.append(cases_el)
    if len(sources_el):
        root.append(sources_el)
    if notes:
        notes_el = ET.SubElement(root, f"{NS}Notes")
        notes_el.extend(notes)
    if sets_el is not None:
        root.append(sets_el)
    if graph_elements:
        graphs_el = ET.SubElement(root, f"{NS}Graphs")
        graphs_el.extend(graph_elements)
    ET.SubElement(root, f"{NS}Description").text = join_description(
        f"Exported by groundcoder {__version__}: {len(docs)} documents, codebook {codebook.hash[:12]}.", project_data
    )
    ET.indent(root, space=" ")
    ET.register_namespace("", PROJECT_NAMESPACE)  # as codebook.qdc does for its namespace
    qde = b'<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="utf-8") + b"\n"
    summary = {
        "sources": len(docs),
        "cases": len(cases_el),
        "codes": sum(1 for _ in codes_el.iter(f"{NS}Code")),
        "selections": n_selections,
        "human_codings": n_human,
        "model_codings": n_model,
        "users": tuple(sorted(users)),
        "graphs": len(graph_elements),
        "model_runs": tuple(sorted(model_runs)),
        "outside_codebook": tuple(outside),
        "skipped": tuple(skipped),
    }
    return qde, files, summary


# --------------------------------------------------------------------------------------------------
# Graphs


def _graph_element(name: str, graph: Any, known: dict[str, str], codebook: Codebook) -> ET.Element:
    """A networkx graph as a REFI-QDA Graph (Vertex*, Edge*).

    Node attributes used when present: ``label``/``name`` (shown name; default the node itself),
    ``pos`` (x, y) or ``x``/``y`` (else a layered layout for a DAG, a circle otherwise), ``shape``,
    ``color`` (#RRGGBB), ``guid``/``represented_guid``. A node whose name is a code, role or stage
    of the codebook represents it. Edges: ``label``/``name`` (else the ``weight``), ``color``,
    ``direction`` (default OneWay for directed graphs, Associative otherwise), ``line_style``.
    """
    roles = {r.name for r in codebook.roles}
    stages = {s.name for s in codebook.stages}
    graph_guid = guid_for("graph", name)
    element = ET.Element(f"{NS}Graph", {"guid": graph_guid, "name": xml_safe(name)})
    positions = _layout(graph)
    vertex_guid: dict[Any, str] = {}
    for node, attrs in graph.nodes(data=True):
        label = str(attrs.get("label") or attrs.get("name") or node)
        guid = guid_for("vertex", f"{graph_guid}\x1f{node!r}")
        vertex_guid[node] = guid
        x, y = positions[node]
        vertex = {
            "guid": guid,
            "name": xml_safe(label),
            "firstX": str(int(x)),
            "firstY": str(int(y)),
            "secondX": str(int(x) + 180),
            "secondY": str(int(y) + 60),
        }
        represented = attrs.get("represented_guid") or attrs.get("guid")
        if not represented:
            for candidate in (str(node), label):
                if candidate in known:
                    represented = guid_for(known[candidate], candidate)
                elif candidate in roles:
                    represented = guid_for("role", candidate)
                elif candidate in stages:
                    represented = guid_for("stage", candidate)
                if represented:
                    break
        if represented:
            vertex["representedGUID"] = str(represented)
        shape = attrs.get("shape")
        vertex["shape"] = shape if shape in _SHAPES else "RoundedRectangle"
        if isinstance(attrs.get("color"), str) and _RGB.match(attrs["color"]):
            vertex["color"] = attrs["color"]
        ET.SubElement(element, f"{NS}Vertex", vertex)
    directed = graph.is_directed()
    edges = graph.edges(keys=True, data=True) if graph.is_multigraph() else ((u, v, 0, d) for u, v, d in graph.edges(data=True))
    for u, v, key, attrs in edges:
        edge = {
            "guid": guid_for("edge", f"{graph_guid}\x1f{u!r}\x1f{v!r}\x1f{key!r}"),
            "sourceVertex": vertex_guid[u],
            "targetVertex": vertex_guid[v],
        }
        label = attrs.get("label") or attrs.get("name")
        if label is None and attrs.get("weight") is not None:
            label = f"{attrs['weight']:g}" if isinstance(attrs["weight"], (int, float)) else str(attrs["weight"])
        if label not in (None, ""):
            edge["name"] = xml_safe(str(label))
        if isinstance(attrs.get("color"), str) and _RGB.match(attrs["color"]):
            edge["color"] = attrs["color"]
        direction = attrs.get("direction")
        edge["direction"] = direction if direction in _DIRECTIONS else ("OneWay" if directed else "Associative")
        style = attrs.get("line_style") or attrs.get("lineStyle")
        if style in _LINE_STYLES:
            edge["lineStyle"] = style
        ET.SubElement(element, f"{NS}Edge", edge)
    return element


def _layout(graph: Any) -> dict[Any, tuple[float, float]]:
    import networkx as nx

    positions: dict[Any, tuple[float, float]] = {}
    for node, attrs in graph.nodes(data=True):
        pos = attrs.get("pos")
        if pos is not None and len(pos) >= 2:
            positions[node] = (float(pos[0]), float(pos[1]))
        elif attrs.get("x") is not None and attrs.get("y") is not None:
            positions[node] = (float(attrs["x"]), float(attrs["y"]))
    missing = [n for n in graph.nodes if n not in positions]
    if not missing:
        return positions
    sub = graph.subgraph(missing)
    if sub.is_directed() and nx.is_directed_acyclic_graph(sub):
        for layer, nodes in enumerate(nx.topological_generations(sub)):
            for row, node in enumerate(sorted(nodes, key=repr)):
                positions[node] = (40 + 260 * layer, 40 + 100 * row)
    else:
        ordered = sorted(missing, key=repr)
        radius = max(200, 40 * len(ordered))
        for i, node in enumerate(ordered):
            angle = 2 * math.pi * i / max(1, len(ordered))
            positions[node] = (radius + 40 + radius * math.cos(angle), radius + 40 + radius * math.sin(angle))
    return positions
