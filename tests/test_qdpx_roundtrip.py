"""REFI-QDA export -> import round trips: codebook, sources, offsets, cases, suggestions, graphs."""

from __future__ import annotations

import functools
import xml.etree.ElementTree as ET
import zipfile
from pathlib import Path

import networkx as nx
import pytest

from groundcoder.codebook import Codebook
from groundcoder.codebook.qdc import PROJECT_NAMESPACE, codebook_to_qdc, guid_for
from groundcoder.qdpx import ExportData, export_qdpx, import_file
from groundcoder.qdpx.model import MODEL_USER_NAME
from groundcoder.store import Coding, DocumentRecord, Firm, ProjectStore

SCHEMAS = Path(__file__).resolve().parents[1].parent / "shared" / "refi-qda"
NS = {"q": PROJECT_NAMESPACE}

# CJK Extension B (𠀀 U+20000) and an emoji (😀 U+1F600) are one code point each but two UTF-16 units.
TEXT_A = "𠀀年公司😀加大研发投入，推动数字化转型。\n公司与高校共建实验室，开展产学研合作。\n𠀀结尾"
TEXT_B = "第二份报告：公司聚焦细分市场，持续打磨核心工艺。\n客户反馈推动产品快速迭代。"


@functools.cache
def _schema():  # compiled once per session
    import xmlschema

    return xmlschema.XMLSchema(str(SCHEMAS / "Project.xsd"))


def validate(qde: bytes) -> None:
    """Validate against the standard's Project.xsd; only this check is skipped without the schemas."""
    if not (SCHEMAS / "Project.xsd").is_file():
        return
    _schema().validate(qde)


def span(text: str, quote: str) -> tuple[int, int]:
    start = text.index(quote)
    return start, start + len(quote)


@pytest.fixture(scope="module")
def codebook() -> Codebook:
    return Codebook.default()


@pytest.fixture
def data(codebook: Codebook) -> ExportData:
    c1, c2, c3 = (c.name for c in codebook.concepts[:3])
    docs = [
        DocumentRecord("F1-AR2021", "F1", TEXT_A, year=2021, title="2021年年度报告"),
        DocumentRecord("F2-AR2022", "F2", TEXT_B, year=2022, kind="website"),
    ]
    s1 = span(TEXT_A, "𠀀年公司😀加大研发投入")
    s2 = span(TEXT_A, "公司与高校共建实验室，开展产学研合作。")
    s3 = span(TEXT_A, "𠀀结尾")
    s4 = span(TEXT_B, "客户反馈推动产品快速迭代")
    codings = [
        Coding("F1-AR2021", *s1, c1, "coder1", memo="研发投入"),
        Coding("F1-AR2021", *s1, c2, "coder2"),
        Coding("F1-AR2021", *s2, c3, "coder1"),
        Coding("F1-AR2021", *s3, "新出现的概念", "coder1"),  # not in the codebook
        Coding("F2-AR2022", *s4, c2, "coder2"),
        Coding("F1-AR2021", *s2, c1, "model-run-7", coder_kind="model", model_run_id="run-7", confidence=0.8312),
    ]
    firms = [Firm("F1", "甲公司", "manufacturing", attributes={"province": "浙江"}), Firm("F2", "乙公司", "software")]
    return ExportData(codebook, docs, firms, codings, name="测试项目")


def test_round_trip_keeps_codebook_sources_and_every_offset(tmp_path, data, codebook):
    out = tmp_path / "p.qdpx"
    summary = export_qdpx(out, data)
    assert (summary.sources, summary.human_codings, summary.model_codings) == (2, 5, 1)
    assert summary.outside_codebook == ("新出现的概念",)
    qde = zipfile.ZipFile(out).read("project.qde")
    validate(qde)

    project = import_file(out)
    assert project.codebook == codebook  # the extra "not in codebook" branch is not part of it
    assert {s.name: s.text for s in project.sources} == {d.doc_id: d.text for d in data.documents}
    got = {
        (project.source(sel.source_guid).name, sel.start, sel.end, c.code_name, c.user_name)
        for sel in project.selections
        for c in sel.codings
    }
    want = {
        (c.doc_id, c.start, c.end, c.concept, MODEL_USER_NAME if c.coder_kind == "model" else c.coder) for c in data.codings
    }
    assert got == want
    for sel in project.selections:
        assert sel.text == project.source(sel.source_guid).text[sel.start : sel.end]
        assert sel.name_matches is True
    assert not project.mismatches and not project.warnings

    quotes = {(q.doc, q.start, q.end, q.coder): q for q in project.training_quotes()}
    s1 = span(TEXT_A, "𠀀年公司😀加大研发投入")
    both = [q for q in quotes.values() if (q.start, q.end) == s1]
    assert {q.coder for q in both} == {"coder1", "coder2"}
    q1 = quotes[("F1-AR2021", *s1, "coder1")]
    assert q1.text == "𠀀年公司😀加大研发投入" and q1.memo == "研发投入" and q1.firm == "F1"
    # the model's suggestion is not a training quote
    assert all(q.coder != MODEL_USER_NAME for q in quotes.values())


def test_sources_are_utf8_without_bom_with_lf_and_positions_are_code_points(tmp_path, codebook):
    crlf = "\ufeff第一行𠀀\r\n第二行😀目标句子。\r\n"
    doc = DocumentRecord("D", "F", crlf)
    start = crlf.index("目标")
    coding = Coding("D", start, start + len("目标句子"), codebook.concepts[0].name, "c")
    out = tmp_path / "crlf.qdpx"
    export_qdpx(out, ExportData(codebook, [doc], codings=[coding]))
    with zipfile.ZipFile(out) as zf:
        names = zf.namelist()
        text_member = next(n for n in names if n.startswith("sources/"))
        raw = zf.read(text_member)
        root = ET.fromstring(zf.read("project.qde"))
    assert names[0] == "project.qde" and text_member.endswith(".txt")
    assert not raw.startswith(b"\xef\xbb\xbf") and b"\r" not in raw
    text = raw.decode("utf-8")
    source = root.find("q:Sources/q:TextSource", NS)
    assert source.get("plainTextPath") == f"internal://{text_member.removeprefix('sources/')}"
    sel = source.find("q:PlainTextSelection", NS)
    s, e = int(sel.get("startPosition")), int(sel.get("endPosition"))
    assert text[s:e] == "目标句子"  # shifted past the dropped BOM and CR, counted in code points
    assert s == len("第一行𠀀\n第二行😀")


def test_codes_have_the_same_guids_as_in_the_qdc(tmp_path, data, codebook):
    out = tmp_path / "p.qdpx"
    export_qdpx(out, data)
    qdc = ET.fromstring(codebook_to_qdc(codebook))
    qdc_guids = {e.get("name"): e.get("guid") for e in qdc.iter() if e.tag.endswith("}Code")}
    root = ET.fromstring(zipfile.ZipFile(out).read("project.qde"))
    qde_guids = {e.get("name"): e.get("guid") for e in root.iter(f"{{{PROJECT_NAMESPACE}}}Code")}
    assert qdc_guids.items() <= qde_guids.items()
    assert qde_guids["新出现的概念"] == guid_for("concept", "新出现的概念")
    # concepts are codable, categories are not
    codable = {e.get("name"): e.get("isCodable") for e in root.iter(f"{{{PROJECT_NAMESPACE}}}Code")}
    assert codable[codebook.concepts[0].name] == "true"
    assert codable[codebook.main_categories[0].name] == "false"
    assert codable[codebook.initial_categories[0].name] == "false"


def test_export_is_deterministic(tmp_path, data):
    export_qdpx(tmp_path / "a.qdpx", data)
    export_qdpx(tmp_path / "b.qdpx", data)
    assert (tmp_path / "a.qdpx").read_bytes() == (tmp_path / "b.qdpx").read_bytes()


def test_cases_carry_firm_variables_and_sources_their_year(tmp_path, data):
    out = tmp_path / "p.qdpx"
    export_qdpx(out, data)
    project = import_file(out)
    cases = {c.name: c for c in project.cases}
    assert cases["F1 甲公司"].variables == {"code": "F1", "name": "甲公司", "industry": "manufacturing", "province": "浙江"}
    assert cases["F1 甲公司"].source_guids == (guid_for("source", "F1-AR2021"),)
    a = next(s for s in project.sources if s.name == "F1-AR2021")
    assert a.variables["year"] == 2021 and a.variables["industry"] == "manufacturing" and a.firm_code == "F1"
    b = next(s for s in project.sources if s.name == "F2-AR2022")
    assert b.variables["kind"] == "website" and b.cases == ("F2 乙公司",)


def test_suggestions_are_codings_by_the_model_user_with_confidence_and_model(tmp_path, data):
    out = tmp_path / "p.qdpx"
    export_qdpx(out, data)
    project = import_file(out)
    model = [c for sel in project.selections for c in sel.codings if c.is_model]
    assert len(model) == 1
    assert model[0].user_name == MODEL_USER_NAME
    assert model[0].data["confidence"] == pytest.approx(0.8312) and model[0].data["model_run_id"] == "run-7"
    assert "0.8312" in model[0].notes[0] and "run-7" in model[0].notes[0]
    assert project.data["suggestions"]["model_run_ids"] == ["run-7"]

    without = tmp_path / "human.qdpx"
    export_qdpx(without, data, include_model=False)
    assert not import_file(without).has_model_codings


def test_graph_from_networkx_validates_and_reads_back(tmp_path, data, codebook):
    mains = [m.name for m in codebook.main_categories]
    graph = nx.DiGraph()
    graph.add_edge(mains[0], mains[1], weight=0.42)
    graph.add_edge(mains[1], "微创新绩效", label="促进", color="#FF0000", line_style="dashed")
    graph.add_node("孤立节点", pos=(10, 20), shape="Oval")
    undirected = nx.Graph([("a", "b")])
    out = tmp_path / "g.qdpx"
    summary = export_qdpx(out, data, graphs=[("因素模型", graph), ("plain", undirected)])
    assert summary.graphs == 2
    qde = zipfile.ZipFile(out).read("project.qde")
    validate(qde)
    project = import_file(out)
    model = next(g for g in project.graphs if g.name == "因素模型")
    vertices = {v.name: v for v in model.vertices}
    assert vertices[mains[0]].represented_guid == guid_for("main category", mains[0])
    assert vertices["孤立节点"].represented_guid == "" and (vertices["孤立节点"].x, vertices["孤立节点"].y) == (10, 20)
    assert vertices["孤立节点"].shape == "Oval"
    back = model.to_networkx()
    assert set(back.edges) == set(graph.edges)
    assert back.edges[mains[0], mains[1]]["label"] == "0.42"
    assert back.edges[mains[1], "微创新绩效"]["label"] == "促进"
    edge = next(e for e in model.edges if e.name == "促进")
    assert (edge.direction, edge.color, edge.line_style) == ("OneWay", "#FF0000", "dashed")
    plain = next(g for g in project.graphs if g.name == "plain")
    assert {e.direction for e in plain.edges} == {"Associative"}


def test_export_from_the_store_includes_suggestions_only_when_asked(tmp_path, codebook):
    concept = codebook.concepts[0].name
    store = ProjectStore.open(tmp_path / "project.sqlite")
    store.add_firms([Firm("300001", "某精密", "manufacturing", attributes={"board": "创业板"})])
    start, end = span(TEXT_A, "公司与高校共建实验室")
    store.add_document(
        DocumentRecord("300001-2021", "300001", TEXT_A, year=2021),
        codings=[Coding("300001-2021", start, end, concept, "coder1")],
    )
    store.add_model_run("run-1", path="models/run-1", base_model="bert", make_current=True)
    store.add_codings([Coding("300001-2021", 0, 5, concept, "model", coder_kind="model", model_run_id="run-1", confidence=0.4)])
    store.add_codebook_version(codebook.to_yaml())

    export_qdpx(tmp_path / "human.qdpx", store, include_model=False)
    human = import_file(tmp_path / "human.qdpx")
    assert [(q.start, q.end, q.concepts) for q in human.training_quotes()] == [(start, end, (concept,))]
    assert not human.has_model_codings
    assert human.cases[0].variables["board"] == "创业板"

    export_qdpx(tmp_path / "all.qdpx", store, include_model=True)
    assert import_file(tmp_path / "all.qdpx").has_model_codings
    export_qdpx(tmp_path / "confident.qdpx", store, include_model=True, min_confidence=0.5)
    assert not import_file(tmp_path / "confident.qdpx").has_model_codings
    store.close()


def test_demo_corpus_round_trip(tmp_path, codebook):
    from groundcoder.demo_corpus.build import build_corpus
    from groundcoder.demo_corpus.load import load_demo_corpus
    from groundcoder.paths import demo_corpus_dir

    try:
        corpus = load_demo_corpus()
    except Exception:  # not built in this checkout: build it from the shipped authoring files
        build_corpus(demo_corpus_dir() / "authoring", tmp_path / "demo", strict=False)
        corpus = load_demo_corpus(tmp_path / "demo")
    docs = [DocumentRecord(d.doc_id, d.firm_id, corpus.text(d.doc_id), kind=d.kind, year=d.year, title=d.title) for d in corpus.documents]
    firms = [Firm(f.firm_id, f.name, f.industry) for f in corpus.firms]
    codings = [Coding(q.doc_id, q.start, q.end, c, q.coder, text=q.text) for q in corpus.quotes for c in q.concepts]
    assert docs and codings
    out = tmp_path / "demo.qdpx"
    export_qdpx(out, ExportData(codebook, docs, firms, codings))
    validate(zipfile.ZipFile(out).read("project.qde"))
    project = import_file(out)
    assert project.codebook == codebook
    assert len(project.sources) == len(docs) and len(project.cases) == len(firms)
    got = {(q.doc, q.start, q.end, q.text, frozenset(q.concepts), q.firm) for q in project.training_quotes()}
    want: dict = {}
    for q in corpus.quotes:
        want.setdefault((q.doc_id, q.start, q.end, q.text, q.firm_id), set()).update(q.concepts)
    assert got == {(d, s, e, t, frozenset(cs), f) for (d, s, e, t, f), cs in want.items()}
    assert not project.mismatches


def test_a_stored_text_with_bom_and_crlf_goes_out_normalised_and_comes_back_at_its_own_offsets(tmp_path, codebook):
    import dataclasses

    from groundcoder.qdpx import import_into_store
    from groundcoder.qdpx.model import QdaCoding, QdaSelection

    concept = codebook.concepts[0].name
    raw = "\ufeff第一行𠀀\r\n第二行😀目标句子。\r\n第三行结尾"
    start = raw.index("目标句子")
    with ProjectStore.open(tmp_path / "s.sqlite") as store:
        store.add_firms([Firm("F")])
        store.add_document(DocumentRecord("D", "F", raw), codings=[Coding("D", start, start + 4, concept, "coder1")])
        export_qdpx(tmp_path / "p.qdpx", store)
        project = import_file(tmp_path / "p.qdpx")
        (quote,) = project.training_quotes()
        assert quote.text == "目标句子" and quote.start == start - 2  # BOM and one CR dropped
        # a coding another coder added in the QDA tool, on the normalised text
        text = project.sources[0].text
        s = text.index("第三行")
        extra = QdaSelection("00000000-0000-4000-8000-00000000abcd", project.sources[0].guid, s, s + 3, "第三行",
                             codings=(QdaCoding("00000000-0000-4000-8000-00000000abce", "x", concept, user_name="coder2"),))
        project = dataclasses.replace(project, selections=project.selections + (extra,))
        summary = import_into_store(project, store)
        assert summary.documents_matched == {"D": "D"}
        assert (summary.codings_added, summary.codings_already_stored) == (1, 1)
        (added,) = store.codings(coder="coder2")
        assert (added.start, added.end, added.text) == (raw.index("第三行"), raw.index("第三行") + 3, "第三行")
