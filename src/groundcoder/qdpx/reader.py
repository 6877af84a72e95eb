"""Read REFI-QDA projects (``.qdpx``, or a bare ``.qde``) and codebooks (``.qdc``) from any tool.

Accepted, because vendors write it: ``sources/`` or ``Sources/`` and any case of the file names,
any ``*.qde`` name (``project.qde``, ``Project.QDE``, or one folder down), ``internal://`` and
relative paths, text inline (``PlainTextContent``), UTF-8 with or without BOM, UTF-16 (with or
without BOM), CRLF line breaks, case variables on ``Case`` or on the ``TextSource``, and text
selections inside a PDF's plain-text ``Representation``. Texts are normalised (no BOM, LF) and
positions shifted to match (see ``_text``). Where selections carry the selected text as their
``name``, the way the file counted positions is chosen to make them agree, and every selection
whose name still differs from its text is reported (``QdaProject.mismatches``).

What is not imported is said in ``QdaProject.warnings``: pictures, audio and video, region
selections of PDFs, codings of whole sources, external source files, codings of unknown codes.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Callable
from pathlib import Path, PurePosixPath
from typing import Any

from ..codebook.model import Codebook, CodebookError
from ..codebook.qdc import PROJECT_NAMESPACE, guid_for, parse_qdc_bytes, read_qdc, split_description
from ..errors import InputError
from ._text import DecodeError, OffsetBasis, OffsetMap, STANDARD_BASIS, candidate_bases, decode_source, name_matches, normalise
from .model import (
    MODEL_USER_NAME,
    QdaCase,
    QdaCode,
    QdaCoding,
    QdaEdge,
    QdaGraph,
    QdaProject,
    QdaSelection,
    QdaSource,
    QdaUser,
    QdaVertex,
    SelectionMismatch,
)
from .safety import DEFAULT_MAX_TOTAL_BYTES, SafeArchive, UnsafeFileError, check_member_name, parse_xml

MODEL_USER_GUID = guid_for("user", MODEL_USER_NAME)

SourceOpener = Callable[[str], "tuple[bytes, str] | None"]


def import_file(path: str | Path, *, max_total_bytes: int = DEFAULT_MAX_TOTAL_BYTES) -> QdaProject:
    """Read a ``.qdpx``, ``.qde`` or ``.qdc`` (by suffix) into a ``QdaProject``."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".qdpx":
        return read_qdpx(path, max_total_bytes=max_total_bytes)
    if suffix == ".qde":
        return read_qde(path)
    if suffix == ".qdc":
        return read_qdc_project(path)
    raise InputError(path, f"cannot import a {suffix or 'suffix-less'} file", hint="give a REFI-QDA project (.qdpx) or codebook (.qdc)")


def read_qdc_project(path: str | Path) -> QdaProject:
    """A REFI-QDA codebook as a project with codes and no sources (via ``groundcoder.codebook.qdc``)."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise InputError(path, "file not found", hint="check the path") from None
    # Refuse DTDs and entities before the codebook reader sees the file.
    root = parse_xml(data, path, "the codebook")
    codebook = read_qdc(path)
    ns = _namespace(root)
    codes_el = root.find(f"{{{ns}}}Codes") if ns else root.find("Codes")
    codes = _read_codes(codes_el, ns) if codes_el is not None else []
    return QdaProject(path=path, name=path.stem, origin=root.get("origin", ""), codes=tuple(codes), codebook=codebook)


def read_qdpx(path: str | Path, *, max_total_bytes: int = DEFAULT_MAX_TOTAL_BYTES) -> QdaProject:
    path = Path(path)
    with SafeArchive(path, max_total_bytes=max_total_bytes) as archive:
        qde_members = [m for m in archive.files() if m.name.lower().endswith(".qde")]
        if not qde_members:
            names = ", ".join(m.name for m in archive.files()[:5]) or "nothing"
            raise InputError(path, f"has no .qde project file (it holds {names})", hint="export the project again as REFI-QDA .qdpx")
        qde_members.sort(key=lambda m: (m.name.count("/"), m.name.lower() != "project.qde", m.name))
        qde = qde_members[0]
        warnings = []
        if len(qde_members) > 1:
            warnings.append(f"the archive has {len(qde_members)} .qde files; read {qde.name}")
        base = qde.name.rpartition("/")[0]
        data = archive.read(qde)

        def open_source(ref: str) -> tuple[bytes, str] | None:
            for candidate in _archive_candidates(ref, base, path):
                member = archive.find(candidate)
                if member is not None and not member.is_dir:
                    return archive.read(member), member.name
            return None

        return _read_project(data, path, open_source, member_name=qde.name, warnings=warnings)


def read_qde(path: str | Path) -> QdaProject:
    """A bare project file: only texts inline (PlainTextContent) can be read; others are reported."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise InputError(path, "file not found", hint="check the path") from None
    return _read_project(data, path, lambda ref: None, member_name=path.name, warnings=[])


def _archive_candidates(ref: str, base: str, archive_path: Path) -> list[str]:
    """Archive member names a source path may mean (internal://X, sources/X, X), checked for escapes."""
    ref = ref.strip()
    lowered = ref.lower()
    if lowered.startswith("internal://"):
        name = ref[len("internal://") :].lstrip("/")
        check_member_name(name, archive_path)
        prefix = f"{base}/" if base else ""
        return [f"{prefix}sources/{name}", f"{prefix}{name}", f"sources/{name}"]
    if "://" in lowered or lowered.startswith("/") or (len(ref) > 1 and ref[1] == ":"):
        return []  # relative://, absolute://, file://: outside the archive
    name = check_member_name(ref, archive_path)
    prefix = f"{base}/" if base else ""
    return [f"{prefix}{name}", name, f"{prefix}sources/{PurePosixPath(name).name}"]


# --------------------------------------------------------------------------------------------------


def _namespace(element: ET.Element) -> str:
    return element.tag[1:].partition("}")[0] if element.tag.startswith("{") else ""


def _local(element: ET.Element) -> str:
    return element.tag.rpartition("}")[2]


def _guid(value: str | None) -> str:
    return (value or "").strip().strip("{}").lower()


class _Tags:
    def __init__(self, ns: str) -> None:
        self.prefix = f"{{{ns}}}" if ns else ""

    def all(self, element: ET.Element, tag: str) -> list[ET.Element]:
        return element.findall(self.prefix + tag)

    def one(self, element: ET.Element, tag: str) -> ET.Element | None:
        return element.find(self.prefix + tag)

    def text(self, element: ET.Element, tag: str) -> str:
        found = element.find(self.prefix + tag)
        return (found.text or "") if found is not None else ""


def _read_codes(codes_el: ET.Element, ns: str) -> list[QdaCode]:
    t = _Tags(ns)
    codes: list[QdaCode] = []

    def walk(element: ET.Element, parent: str | None, path: tuple[str, ...], outside: bool) -> None:
        name = element.get("name", "").strip()
        guid = _guid(element.get("guid"))
        description = t.text(element, "Description")
        _, data = split_description(description)
        outside = outside or (not path and data.get("kind") == "outside_codebook")
        codable = element.get("isCodable", "true").strip().lower() in ("true", "1")
        code = QdaCode(guid, name, codable, parent, description, path + (name,), outside)
        codes.append(code)
        for child in t.all(element, "Code"):
            walk(child, guid, code.path, outside)

    for element in t.all(codes_el, "Code"):
        walk(element, None, (), False)
    return codes


def _value(element: ET.Element, t: _Tags) -> Any:
    for tag, convert in (
        ("TextValue", str),
        ("IntegerValue", int),
        ("FloatValue", float),
        ("BooleanValue", lambda s: s.strip().lower() in ("true", "1")),
        ("DateValue", str),
        ("DateTimeValue", str),
    ):
        found = t.one(element, tag)
        if found is not None:
            text = (found.text or "").strip() if tag != "TextValue" else (found.text or "")
            try:
                return convert(text)
            except ValueError:
                return text
    return None


def _read_project(
    data: bytes, path: Path, open_source: SourceOpener, *, member_name: str, warnings: list[str]
) -> QdaProject:
    root = parse_xml(data, path, f"the project file {member_name}")
    ns = _namespace(root)
    if _local(root) == "CodeBook":
        raise InputError(path, f"{member_name} is a REFI-QDA codebook, not a project", hint="import it as a .qdc file")
    if _local(root) != "Project":
        raise InputError(path, f"{member_name} is not a REFI-QDA project: its root element is {_local(root)}, expected Project")
    if ns != PROJECT_NAMESPACE:
        warnings.append(f"the project uses namespace {ns or '(none)'!r}, not {PROJECT_NAMESPACE}; read as REFI-QDA 1.0")
    t = _Tags(ns)
    description = t.text(root, "Description")
    _, project_data = split_description(description)

    # ---- users ------------------------------------------------------------------------------
    users: dict[str, QdaUser] = {}
    users_el = t.one(root, "Users")
    for u in t.all(users_el, "User") if users_el is not None else []:
        user = QdaUser(_guid(u.get("guid")), u.get("name", ""), u.get("id", ""))
        users[user.guid] = user
    model_users = {g for g, u in users.items() if u.name == MODEL_USER_NAME or g == MODEL_USER_GUID}

    # ---- codes and codebook -------------------------------------------------------------------
    codebook_el = t.one(root, "CodeBook")
    codes_el = t.one(codebook_el, "Codes") if codebook_el is not None else None
    codes = _read_codes(codes_el, ns) if codes_el is not None else []
    codes_by_guid = {c.guid: c for c in codes}
    codebook, codebook_problem = _codebook(root, codes_el, ns, path, data, codes)

    # ---- variables, notes, cases ------------------------------------------------------------
    variable_names: dict[str, str] = {}
    variables_el = t.one(root, "Variables")
    for v in t.all(variables_el, "Variable") if variables_el is not None else []:
        variable_names[_guid(v.get("guid"))] = v.get("name", "")
    unknown_variables: Counter[str] = Counter()

    def read_variables(element: ET.Element) -> dict[str, Any]:
        values: dict[str, Any] = {}
        for vv in t.all(element, "VariableValue"):
            ref = t.one(vv, "VariableRef")
            guid = _guid(ref.get("targetGUID") if ref is not None else "")
            name = variable_names.get(guid)
            if name is None:
                unknown_variables[guid] += 1
                continue
            values[name] = _value(vv, t)
        return values

    notes: dict[str, str] = {}
    notes_el = t.one(root, "Notes")
    for note in t.all(notes_el, "Note") if notes_el is not None else []:
        text = t.text(note, "PlainTextContent")
        if not text and note.get("plainTextPath"):
            loaded = open_source(note.get("plainTextPath", ""))
            if loaded is not None:
                try:
                    text = normalise(decode_source(loaded[0])[0])
                except DecodeError:
                    text = ""
        notes[_guid(note.get("guid"))] = text

    cases: list[QdaCase] = []
    cases_el = t.one(root, "Cases")
    for case in t.all(cases_el, "Case") if cases_el is not None else []:
        cases.append(
            QdaCase(
                guid=_guid(case.get("guid")),
                name=case.get("name", ""),
                variables=read_variables(case),
                source_guids=tuple(_guid(r.get("targetGUID")) for r in t.all(case, "SourceRef")),
                description=t.text(case, "Description"),
            )
        )
    cases_of: dict[str, list[QdaCase]] = {}
    for case in cases:
        for source_guid in case.source_guids:
            cases_of.setdefault(source_guid, []).append(case)

    # ---- sources and selections ---------------------------------------------------------------
    sources: list[QdaSource] = []
    selections: list[QdaSelection] = []
    mismatches: list[SelectionMismatch] = []
    skipped: Counter[str] = Counter()
    unknown_codes: Counter[str] = Counter()

    def coding_of(element: ET.Element, default_user: str = "") -> QdaCoding:
        ref = t.one(element, "CodeRef")
        code_guid = _guid(ref.get("targetGUID") if ref is not None else "")
        code = codes_by_guid.get(code_guid)
        if code is None:
            unknown_codes[code_guid] += 1
        user_guid = _guid(element.get("creatingUser")) or default_user  # else the selection's creator
        note_texts = tuple(notes[g] for g in (_guid(n.get("targetGUID")) for n in t.all(element, "NoteRef")) if g in notes)
        note_data: dict[str, Any] = {}
        texts = []
        for text in note_texts:
            body, line = split_description(text)
            note_data.update(line)
            texts.append(body)
        return QdaCoding(
            guid=_guid(element.get("guid")),
            code_guid=code_guid,
            code_name=code.name if code else "",
            user_guid=user_guid,
            user_name=users[user_guid].label if user_guid in users else "",
            notes=tuple(texts),
            data=note_data,
            # the user decides; the suggestion's note counts only where the tool dropped the user
            is_model=user_guid in model_users or (user_guid not in users and note_data.get("kind") == "suggestion"),
        )

    def read_text_source(element: ET.Element, name: str, guid: str, extra_variables: dict[str, Any]) -> None:
        content = t.one(element, "PlainTextContent")
        plain_path = element.get("plainTextPath", "")
        encoding = "utf-8"
        if content is not None and (content.text or "") and not plain_path:
            raw, member = content.text or "", "PlainTextContent"
        elif plain_path:
            try:
                loaded = open_source(plain_path)
            except UnsafeFileError as exc:
                raise UnsafeFileError(path, f"source {name!r}: {exc.message}") from None
            if loaded is None:
                external = not plain_path.lower().startswith("internal://") and (
                    "://" in plain_path or plain_path.startswith(("/", "\\")) or plain_path[1:2] == ":"
                )
                where = "outside the archive" if external else "missing from the archive"
                skipped[f"sources whose text file is {where} (e.g. {name!r}: {plain_path})"] += 1
                return
            try:
                raw, encoding = decode_source(loaded[0])
            except DecodeError as exc:
                skipped[f"sources whose text cannot be decoded (e.g. {name!r}: {exc})"] += 1
                return
            member = loaded[1]
        elif content is not None:
            raw, member = "", "PlainTextContent"
        else:
            if element.get("richTextPath"):
                skipped[f"sources with only rich text, no plain text (e.g. {name!r})"] += 1
            else:
                skipped[f"sources without text (e.g. {name!r})"] += 1
            return
        text = normalise(raw)
        source_description = t.text(element, "Description")
        _, source_data = split_description(source_description)
        variables: dict[str, Any] = {}
        for case in cases_of.get(guid, ()):
            variables.update(case.variables)
        variables.update(extra_variables)
        variables.update(read_variables(element))

        if t.all(element, "Coding"):
            skipped["codings of whole sources (groundcoder learns from text selections)"] += len(t.all(element, "Coding"))

        raw_selections = []
        for sel in t.all(element, "PlainTextSelection"):
            try:
                start, end = int(sel.get("startPosition", "")), int(sel.get("endPosition", ""))
            except ValueError:
                skipped[f"selections without whole-number positions (e.g. in {name!r})"] += 1
                continue
            raw_selections.append((sel, start, end))

        basis, offset_map = _choose_basis(raw, [(s, e, sel.get("name", "")) for sel, s, e in raw_selections])
        for sel, raw_start, raw_end in raw_selections:
            start, end = offset_map.map(raw_start), offset_map.map(raw_end)
            if start is None or end is None:
                skipped[f"selections outside their source's text (e.g. {name!r} {raw_start}-{raw_end}, text of {len(text)} characters)"] += 1
                continue
            if start >= end:
                skipped[f"empty or reversed selections (e.g. {name!r} {raw_start}-{raw_end})"] += 1
                continue
            quote = text[start:end]
            sel_name = sel.get("name", "")
            matches = name_matches(sel_name, quote) if sel_name else None
            sel_guid = _guid(sel.get("guid"))
            sel_user = _guid(sel.get("creatingUser"))
            if matches is False:
                mismatches.append(SelectionMismatch(name, sel_guid, start, end, sel_name, quote))
            sel_notes = [notes[g] for g in (_guid(n.get("targetGUID")) for n in t.all(sel, "NoteRef")) if g in notes]
            description = "\n".join([t.text(sel, "Description"), *sel_notes]).strip()
            selections.append(
                QdaSelection(
                    guid=sel_guid,
                    source_guid=guid,
                    start=start,
                    end=end,
                    text=quote,
                    name=sel_name,
                    description=description,
                    codings=tuple(coding_of(c, sel_user) for c in t.all(sel, "Coding")),
                    user_guid=sel_user,
                    raw_start=raw_start,
                    raw_end=raw_end,
                    name_matches=matches,
                )
            )
        sources.append(
            QdaSource(
                guid=guid,
                name=name,
                text=text,
                member=member,
                encoding=encoding,
                description=source_description,
                variables=variables,
                cases=tuple(c.name for c in cases_of.get(guid, ())),
                offset_basis=basis.describe(),
                data=source_data,
            )
        )

    sources_el = t.one(root, "Sources")
    for element in list(sources_el) if sources_el is not None else []:
        kind = _local(element)
        guid = _guid(element.get("guid"))
        name = element.get("name", "") or guid
        if kind == "TextSource":
            read_text_source(element, name, guid, {})
        elif kind == "PDFSource":
            representation = t.one(element, "Representation")
            if t.all(element, "PDFSelection"):
                skipped["region selections of PDFs (only text selections of a PDF's text representation are read)"] += len(
                    t.all(element, "PDFSelection")
                )
            if representation is None:
                skipped[f"PDF sources without a text representation (e.g. {name!r})"] += 1
                continue
            # Selections live in the representation; variables and cases belong to the PDF.
            pdf_variables = read_variables(element)
            for case in cases_of.get(guid, ()):
                cases_of.setdefault(_guid(representation.get("guid")), []).append(case)
            read_text_source(representation, name, _guid(representation.get("guid")) or guid, pdf_variables)
        else:
            skipped[f"{kind} sources (groundcoder reads text)"] += 1

    # ---- graphs -----------------------------------------------------------------------------
    graphs: list[QdaGraph] = []
    graphs_el = t.one(root, "Graphs")
    for g in t.all(graphs_el, "Graph") if graphs_el is not None else []:
        vertices = tuple(
            QdaVertex(
                guid=_guid(v.get("guid")),
                name=v.get("name", ""),
                x=int(v.get("firstX", "0") or 0),
                y=int(v.get("firstY", "0") or 0),
                represented_guid=_guid(v.get("representedGUID")),
                shape=v.get("shape", ""),
                color=v.get("color", ""),
            )
            for v in t.all(g, "Vertex")
        )
        edges = tuple(
            QdaEdge(
                guid=_guid(e.get("guid")),
                source=_guid(e.get("sourceVertex")),
                target=_guid(e.get("targetVertex")),
                name=e.get("name", ""),
                direction=e.get("direction", ""),
                represented_guid=_guid(e.get("representedGUID")),
                color=e.get("color", ""),
                line_style=e.get("lineStyle", ""),
            )
            for e in t.all(g, "Edge")
        )
        graphs.append(QdaGraph(_guid(g.get("guid")), g.get("name", ""), vertices, edges))

    for what, count in skipped.items():
        warnings.append(f"not imported: {count} {what}")
    if unknown_codes:
        warnings.append(
            f"{sum(unknown_codes.values())} codings refer to codes missing from the codebook "
            f"(GUIDs {', '.join(sorted(unknown_codes)[:3])}); they have no concept and are not training quotes"
        )
    if unknown_variables:
        warnings.append(f"{sum(unknown_variables.values())} variable values refer to undeclared variables; ignored")
    if mismatches:
        warnings.append(
            f"{len(mismatches)} selections are named differently from the text at their positions "
            "(see mismatches; a tool that names selections by a label rather than the quote causes this too)"
        )
    return QdaProject(
        path=path,
        name=root.get("name", ""),
        origin=root.get("origin", ""),
        description=description,
        users=tuple(users.values()),
        codes=tuple(codes),
        codebook=codebook,
        codebook_problem=codebook_problem,
        sources=tuple(sources),
        selections=tuple(selections),
        cases=tuple(cases),
        graphs=tuple(graphs),
        mismatches=tuple(mismatches),
        warnings=tuple(warnings),
        data=project_data,
    )


def _choose_basis(raw: str, spans: list[tuple[int, int, str]]) -> tuple[OffsetBasis, OffsetMap]:
    """The way of counting under which the most selection names equal their text; the standard's on a tie."""
    candidates = candidate_bases(raw)
    best = (STANDARD_BASIS, OffsetMap(raw, STANDARD_BASIS))
    if len(candidates) == 1 or not any(name for _, _, name in spans):
        return best
    text = normalise(raw)

    def score(offset_map: OffsetMap) -> int:
        hits = 0
        for start, end, name in spans:
            if not name:
                continue
            s, e = offset_map.map(start), offset_map.map(end)
            if s is not None and e is not None and s < e and name_matches(name, text[s:e]):
                hits += 1
        return hits

    best_score = score(best[1])
    for basis in candidates[1:]:
        offset_map = OffsetMap(raw, basis)
        value = score(offset_map)
        if value > best_score:
            best, best_score = (basis, offset_map), value
    return best


def _codebook(
    root: ET.Element, codes_el: ET.Element | None, ns: str, path: Path, data: bytes, codes: list[QdaCode]
) -> tuple[Codebook | None, str]:
    """The project's code tree as a groundcoder codebook (via codebook.qdc), or why it is not one."""
    if codes_el is None or not len(codes_el):
        return None, "the project has no codebook"
    t = _Tags(ns)
    outside = [c for c in t.all(codes_el, "Code") if _guid(c.get("guid")) in {x.guid for x in codes if x.outside_codebook and x.parent is None}]
    if outside:  # groundcoder's own "not in codebook" branch is not part of the codebook
        for element in outside:
            codes_el.remove(element)
        data = ET.tostring(root, encoding="utf-8")
    try:
        return parse_qdc_bytes(data, path), ""
    except CodebookError as exc:
        lines = exc.problem_lines()
        return None, f"{exc.message}: " + "; ".join(line.split(": ", 1)[-1] for line in lines[:5]) + (" …" if len(lines) > 5 else "")
