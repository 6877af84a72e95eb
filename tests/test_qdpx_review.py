"""The review loop: export suggestions, review them in a QDA tool (simulated), read the decisions back."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
import zipfile
from pathlib import Path

import pytest

from groundcoder.cli import main
from groundcoder.codebook import Codebook
from groundcoder.codebook.qdc import PROJECT_NAMESPACE, guid_for
from groundcoder.qdpx import (
    apply_review,
    export_qdpx,
    import_file,
    negative_records,
    positive_human_codings,
    review_qdpx,
)
from groundcoder.store import Coding, DocumentRecord, Firm, ProjectStore

Q = f"{{{PROJECT_NAMESPACE}}}"
REVIEWER = "王老师"
REVIEWER_GUID = "11111111-2222-4333-8444-555555555555"

TEXT = (
    "公司持续加大研发投入，研发费用占营业收入比例超过百分之八。"  # a: kept untouched
    "公司与下游整车厂联合开发新一代减速器齿轮。"  # b: kept, recoded by a person with a longer span
    "报告期内公司完成了董事会换届选举工作。"  # c: rejected
    "客户提出的降噪需求被快速转化为产品改进。"  # d: relabelled
    "公司引入MES系统并实现生产数据实时采集。"  # e: two suggestions, one confirmed, one rejected
    "管理层认为行业集中度将进一步提升。"  # f: an earlier human coding
    "公司在海外设立了第一家技术服务中心😀。"  # g: coded by the reviewer, no suggestion
)


def span(quote: str) -> tuple[int, int]:
    start = TEXT.index(quote)
    return start, start + len(quote)


A_SPAN = span("公司持续加大研发投入")
B_SPAN = span("公司与下游整车厂联合开发")
B_LONGER = span("公司与下游整车厂联合开发新一代")
C_SPAN = span("报告期内公司完成了董事会换届选举工作")
D_SPAN = span("客户提出的降噪需求被快速转化为产品改进")
E_SPAN = span("公司引入MES系统并实现生产数据实时采集")
F_SPAN = span("管理层认为行业集中度将进一步提升")
G_SPAN = span("公司在海外设立了第一家技术服务中心😀")


@pytest.fixture(scope="module")
def concepts() -> list[str]:
    return [c.name for c in Codebook.default().concepts[:6]]


@pytest.fixture
def store(tmp_path: Path, concepts: list[str]):
    a, b, c, d, e, f = concepts
    path = tmp_path / "project.sqlite"
    with ProjectStore.open(path) as s:
        s.add_codebook_version(Codebook.default().to_yaml())
        s.add_firms([Firm("300001", "某齿轮", "manufacturing")])
        s.add_document(DocumentRecord("300001-2022", "300001", TEXT, year=2022))
        s.add_codings([Coding("300001-2022", *F_SPAN, e, "coder1")])
        s.add_model_run("run-1", path="models/run-1", base_model="bert-base-chinese", make_current=True)

        def model(sp: tuple[int, int], concept: str, confidence: float) -> Coding:
            return Coding("300001-2022", *sp, concept, "model", coder_kind="model", model_run_id="run-1", confidence=confidence)

        s.add_codings(
            [
                model(A_SPAN, a, 0.91),
                model(B_SPAN, b, 0.74),
                model(C_SPAN, c, 0.52),
                model(D_SPAN, a, 0.61),
                model(E_SPAN, a, 0.83),
                model(E_SPAN, b, 0.44),
            ]
        )
    return path


def review_in_a_qda_tool(exported: Path, out: Path, concepts: list[str], *, qualcoder: bool = False) -> Path:
    """What the researcher does in the tool, then exports again.

    ``qualcoder``: the tool also re-exports the text with CRLF (positions counted in the file),
    gives the source a new GUID and file name, and drops the project description.
    """
    a, b, c, d, e, f = concepts
    ET.register_namespace("", PROJECT_NAMESPACE)
    with zipfile.ZipFile(exported) as zf:
        root = ET.fromstring(zf.read("project.qde"))
        files = {n: zf.read(n) for n in zf.namelist() if n != "project.qde"}
    ET.SubElement(root.find(f"{Q}Users"), f"{Q}User", {"guid": REVIEWER_GUID, "name": REVIEWER})
    source = root.find(f"{Q}Sources/{Q}TextSource")

    def selection(sp: tuple[int, int]) -> ET.Element:
        for el in source.findall(f"{Q}PlainTextSelection"):
            if (int(el.get("startPosition")), int(el.get("endPosition"))) == sp:
                return el
        raise AssertionError(sp)

    def coding(sel: ET.Element, concept: str) -> ET.Element:
        for el in sel.findall(f"{Q}Coding"):
            if el.find(f"{Q}CodeRef").get("targetGUID") == guid_for("concept", concept):
                return el
        raise AssertionError(concept)

    # b: uncode the suggestion, code a longer span with the same concept yourself
    sel_b = selection(B_SPAN)
    source.remove(sel_b)
    longer = ET.SubElement(source, f"{Q}PlainTextSelection", {
        "guid": "aaaaaaaa-0000-4000-8000-000000000001", "name": TEXT[slice(*B_LONGER)],
        "startPosition": str(B_LONGER[0]), "endPosition": str(B_LONGER[1]), "creatingUser": REVIEWER_GUID})  # fmt: skip
    new = ET.SubElement(longer, f"{Q}Coding", {"guid": "aaaaaaaa-0000-4000-8000-000000000002", "creatingUser": REVIEWER_GUID})
    ET.SubElement(new, f"{Q}CodeRef", {"targetGUID": guid_for("concept", b)})
    # c: delete the suggestion (the tool drops the empty selection)
    source.remove(selection(C_SPAN))
    # d: recode a -> d
    relabel = coding(selection(D_SPAN), a)
    relabel.find(f"{Q}CodeRef").set("targetGUID", guid_for("concept", d))
    relabel.set("creatingUser", REVIEWER_GUID)
    for note in relabel.findall(f"{Q}NoteRef"):
        relabel.remove(note)
    # e: confirm a (the tool now credits the reviewer), delete b
    sel_e = selection(E_SPAN)
    sel_e.remove(coding(sel_e, b))
    coding(sel_e, a).set("creatingUser", REVIEWER_GUID)
    # g: a new coding of the reviewer's own
    own = ET.SubElement(source, f"{Q}PlainTextSelection", {
        "guid": "aaaaaaaa-0000-4000-8000-000000000003", "name": TEXT[slice(*G_SPAN)],
        "startPosition": str(G_SPAN[0]), "endPosition": str(G_SPAN[1]), "creatingUser": REVIEWER_GUID})  # fmt: skip
    new = ET.SubElement(own, f"{Q}Coding", {"guid": "aaaaaaaa-0000-4000-8000-000000000004", "creatingUser": REVIEWER_GUID})
    ET.SubElement(new, f"{Q}CodeRef", {"targetGUID": guid_for("concept", f)})
    # schema order: selections before VariableValues
    selections = source.findall(f"{Q}PlainTextSelection")
    for el in selections:
        source.remove(el)
    for i, el in enumerate(sorted(selections, key=lambda el: int(el.get("startPosition")))):
        source.insert(1 + i, el)

    if qualcoder:
        (member,) = [n for n in files if n.startswith("sources/")]
        text = files.pop(member).decode("utf-8")
        # a line break after every sentence, written as CRLF; positions counted in the file
        crlf = text.replace("。", "。\r\n")
        shift = lambda pos: pos + 2 * text[:pos].count("。")  # noqa: E731  ("。\r\n" adds two per sentence)
        for el in source.findall(f"{Q}PlainTextSelection"):
            el.set("startPosition", str(shift(int(el.get("startPosition")))))
            el.set("endPosition", str(shift(int(el.get("endPosition")))))
        new_guid = "bbbbbbbb-0000-4000-8000-000000000001"
        for case in root.iter(f"{Q}SourceRef"):
            case.set("targetGUID", new_guid)
        source.set("guid", new_guid)
        source.set("plainTextPath", f"internal://{new_guid}.txt")
        files[f"sources/{new_guid}.txt"] = crlf.encode("utf-8")
        root.remove(root.find(f"{Q}Description"))
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("project.qde", ET.tostring(root, encoding="utf-8", xml_declaration=True))
        for name, data in files.items():
            zf.writestr(name, data)
    return out


def check_outcome(outcome, concepts, doc="300001-2022") -> None:
    a, b, c, d, e, f = concepts
    kept = {(i.start, i.end, i.concept, i.coder, i.untouched) for i in outcome.kept}
    assert kept == {(*A_SPAN, a, "", True), (*B_LONGER, b, REVIEWER, False), (*E_SPAN, a, REVIEWER, False)}
    # b at e is rejected, not "relabelled to a": a was suggested there too
    assert {(i.start, i.end, i.concept) for i in outcome.rejected} == {(*C_SPAN, c), (*E_SPAN, b)}
    (relabelled,) = outcome.relabelled
    assert (relabelled.start, relabelled.end, relabelled.concept, relabelled.coder) == (*D_SPAN, d, REVIEWER)
    assert relabelled.suggestion.concept == a and relabelled.suggestion.confidence == pytest.approx(0.61)
    assert [(i.start, i.end, i.concept, i.coder, i.text) for i in outcome.new_human] == [(*G_SPAN, f, REVIEWER, TEXT[slice(*G_SPAN)])]
    assert all(i.doc_id == doc for i in outcome.kept + outcome.rejected + outcome.relabelled + outcome.new_human)
    assert outcome.unknown_model_codings == 0 and not outcome.not_reviewed


def test_review_outcome_against_the_store(tmp_path, store, concepts):
    with ProjectStore.open(store, create=False) as s:
        exported = export_qdpx(tmp_path / "for-review.qdpx", s, include_model=True).path
    reviewed = import_file(review_in_a_qda_tool(exported, tmp_path / "reviewed.qdpx", concepts))
    assert reviewed.has_model_codings
    with ProjectStore.open(store, create=False) as s:
        outcome = review_qdpx(reviewed, s)
    check_outcome(outcome, concepts)
    assert not outcome.warnings


def test_review_outcome_against_the_exported_file_without_a_store(tmp_path, store, concepts):
    with ProjectStore.open(store, create=False) as s:
        exported = export_qdpx(tmp_path / "for-review.qdpx", s, include_model=True).path
    reviewed = import_file(review_in_a_qda_tool(exported, tmp_path / "reviewed.qdpx", concepts))
    check_outcome(review_qdpx(reviewed, original=import_file(exported)), concepts)


def test_review_survives_a_tool_that_rewrites_text_guids_and_description(tmp_path, store, concepts):
    with ProjectStore.open(store, create=False) as s:
        exported = export_qdpx(tmp_path / "for-review.qdpx", s, include_model=True).path
    path = review_in_a_qda_tool(exported, tmp_path / "reviewed.qdpx", concepts, qualcoder=True)
    reviewed = import_file(path)
    assert "\r" not in reviewed.sources[0].text and reviewed.sources[0].text != TEXT  # extra line breaks
    with ProjectStore.open(store, create=False) as s:
        outcome = review_qdpx(reviewed, s)
    check_outcome(outcome, concepts)  # matched by name, spans placed back onto the stored text
    assert any("does not say which suggestions were exported" in w for w in outcome.warnings)


def test_apply_review_records_positives_and_negatives_once(tmp_path, store, concepts):
    a, b, c, d, e, f = concepts
    with ProjectStore.open(store, create=False) as s:
        exported = export_qdpx(tmp_path / "for-review.qdpx", s, include_model=True).path
        reviewed = import_file(review_in_a_qda_tool(exported, tmp_path / "reviewed.qdpx", concepts))
        outcome = review_qdpx(reviewed, s)
        applied = apply_review(outcome, s, reviewer=REVIEWER, source="reviewed.qdpx")
        assert (applied.positives_added, applied.negatives_added, applied.already_stored) == (5, 3, 0)

        positives = {(c_.start, c_.end, c_.concept, c_.coder) for c_ in positive_human_codings(s)}
        assert positives == {
            (*F_SPAN, e, "coder1"),
            (*A_SPAN, a, REVIEWER),
            (*B_LONGER, b, REVIEWER),
            (*E_SPAN, a, REVIEWER),
            (*D_SPAN, d, REVIEWER),
            (*G_SPAN, f, REVIEWER),
        }
        negatives = {(n.start, n.end, n.concept, n.review["review"]) for n in negative_records(s)}
        assert negatives == {(*C_SPAN, c, "rejected"), (*E_SPAN, b, "rejected"), (*D_SPAN, a, "relabelled")}
        rejected = next(n for n in negative_records(s) if n.concept == c)
        assert rejected.text == TEXT[slice(*C_SPAN)] and rejected.review["confidence"] == pytest.approx(0.52)
        assert rejected.review["model_run_id"] == "run-1"
        # the model's own codings are untouched
        assert len(s.codings(coder_kind="model")) == 6

        # importing the same file again adds nothing: the reviewer's codings are stored now, so none is new
        # (the relabelled suggestion now reads as rejected next to a known coding, its negative already stored)
        second = review_qdpx(reviewed, s)
        assert not second.new_human and not second.relabelled and len(second.kept) == 3 and len(second.rejected) == 3
        again = apply_review(second, s, reviewer=REVIEWER)
        assert (again.positives_added, again.negatives_added, again.already_stored) == (0, 0, 6)


def test_unreviewed_documents_are_left_alone(tmp_path, store, concepts):
    with ProjectStore.open(store, create=False) as s:
        s.add_document(DocumentRecord("300001-2023", "300001", "另一份报告：公司推进数字化转型。"))
        s.add_codings([Coding("300001-2023", 0, 5, concepts[0], "m", coder_kind="model", model_run_id="run-1", confidence=0.9)])
        exported = export_qdpx(tmp_path / "for-review.qdpx", s, include_model=True).path
        with zipfile.ZipFile(exported) as zf:  # the researcher removed the second document before export
            root = ET.fromstring(zf.read("project.qde"))
            files = {n: zf.read(n) for n in zf.namelist() if n != "project.qde"}
        sources = root.find(f"{Q}Sources")
        for el in list(sources):
            if el.get("name") == "300001-2023":
                sources.remove(el)
        ET.register_namespace("", PROJECT_NAMESPACE)
        with zipfile.ZipFile(tmp_path / "r.qdpx", "w") as zf:
            zf.writestr("project.qde", ET.tostring(root, encoding="utf-8"))
            for name, data in files.items():
                zf.writestr(name, data)
        outcome = review_qdpx(import_file(tmp_path / "r.qdpx"), s)
    assert [x.doc_id for x in outcome.not_reviewed] == ["300001-2023"]
    assert all(x.doc_id == "300001-2022" for x in outcome.rejected)
    assert len(outcome.kept) == 6 and not outcome.rejected  # nothing changed in the reviewed document


def test_cli_export_then_review_import(tmp_path, store, concepts, capsys):
    exported = tmp_path / "out" / "review.qdpx"
    main(["qdpx", "export", "--store", str(store), "--out", str(exported), "--include-model"])
    printed = capsys.readouterr().out
    assert "1 sources" in printed and "1 human codings" in printed and "6 suggestions" in printed and "run-1" in printed
    reviewed = review_in_a_qda_tool(exported, tmp_path / "reviewed.qdpx", concepts)
    summary = tmp_path / "summary.json"
    main(["qdpx", "import", str(reviewed), "--store", str(store), "--summary", str(summary)])
    printed = capsys.readouterr().out
    assert f"go to '{REVIEWER}'" in printed
    assert "3 kept, 1 relabelled, 2 rejected, 1 new human codings" in printed
    assert "5 training codings and 3 negatives" in printed
    report = json.loads(summary.read_text(encoding="utf-8"))
    assert report["review"]["counts"]["rejected"] == 2 and report["review"]["reviewer"] == REVIEWER
    # without --include-model nothing is suggested, and the human export is a plain import
    main(["qdpx", "export", "--store", str(store), "--out", str(tmp_path / "plain.qdpx")])
    assert "0 suggestions" in capsys.readouterr().out


def test_a_file_nobody_reviewed_is_flagged_and_can_be_skipped(tmp_path, store, capsys):
    exported = tmp_path / "review.qdpx"
    main(["qdpx", "export", "--store", str(store), "--out", str(exported), "--include-model"])
    capsys.readouterr()
    main(["qdpx", "import", str(exported), "--store", str(store), "--untouched", "skip"])
    printed = capsys.readouterr().out
    assert "6 kept, 0 relabelled, 0 rejected, 0 new human codings" in printed
    assert "nothing was changed in review" in printed
    assert "0 training codings and 0 negatives" in printed
    with ProjectStore.open(store, create=False) as s:
        assert [c.coder for c in s.codings(coder_kind="human")] == ["coder1"]
