"""REFI-QDA .qdc export and import of codebooks."""

from __future__ import annotations

from pathlib import Path

import pytest

from groundcoder.codebook import Codebook, CodebookError, export_codebook
from groundcoder.codebook.qdc import (
    CODEBOOK_NAMESPACE,
    guid_for,
    join_description,
    parse_qdc_bytes,
    split_description,
)

SCHEMA = Path(__file__).resolve().parents[1] / ".." / "shared" / "refi-qda" / "Codebook.xsd"
NS = {"q": CODEBOOK_NAMESPACE}


def qdc(codes: str, sets: str = "") -> bytes:
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<CodeBook xmlns="{CODEBOOK_NAMESPACE}" origin="OtherTool 3.2">\n'
        f"<Codes>\n{codes}</Codes>\n{sets}</CodeBook>\n"
    ).encode("utf-8")


# A codebook as another QDA tool writes it: braces in GUIDs, every code codable, a set of its own.
OTHER_TOOL = qdc(
    """<Code guid="{11111111-1111-4111-8111-111111111111}" name="Markets" isCodable="true" color="#ff0000">
  <Description>about markets</Description>
  <Code guid="{22222222-2222-4222-8222-222222222222}" name="Rivals" isCodable="true">
    <Code guid="33333333-3333-4333-8333-333333333333" name="price cuts" isCodable="true">
      <Description>cutting prices to win orders</Description>
    </Code>
    <Code guid="44444444-4444-4444-8444-444444444444" name="new entrants" isCodable="true"/>
  </Code>
</Code>
<Code guid="55555555-5555-4555-8555-555555555555" name="People" isCodable="false">
  <Code guid="66666666-6666-4666-8666-666666666666" name="Skills" isCodable="false">
    <Code guid="77777777-7777-4777-8777-777777777777" name="training" isCodable="true"/>
  </Code>
</Code>
""",
    """<Sets><Set guid="88888888-8888-4888-8888-888888888888" name="favourites">
  <Description>my favourite codes</Description>
  <MemberCode guid="33333333-3333-4333-8333-333333333333"/>
</Set></Sets>
""",
)


def test_export_is_valid_against_the_refi_qda_schema(tmp_path):
    if not SCHEMA.is_file():
        pytest.skip("shared/refi-qda/Codebook.xsd is not beside the checkout")
    import xmlschema

    schema = xmlschema.XMLSchema(str(SCHEMA))
    path = export_codebook(Codebook.default(), tmp_path / "micro_innovation.qdc")
    schema.validate(str(path))
    small = Codebook.from_yaml_text("main_categories:\n  M:\n    initial_categories:\n      I: [c]\n")
    schema.validate(small.to_qdc().decode("utf-8"))  # no sets at all
    schema.validate(OTHER_TOOL.decode("utf-8"))  # the fixture is a fair sample of other tools


def test_default_codebook_round_trips_exactly_through_qdc(tmp_path):
    codebook = Codebook.default()
    path = export_codebook(codebook, tmp_path / "codebook.qdc")
    again = Codebook.load(path)
    assert again == codebook
    assert again.hash == codebook.hash
    assert again.title == codebook.title and again.source == codebook.source
    assert [ic.material_count for ic in again.initial_categories] == [
        ic.material_count for ic in codebook.initial_categories
    ]
    assert again.stage("数字赋能").spans_all_stages
    # Export, import, export: byte-identical.
    assert again.to_qdc() == path.read_bytes()


def test_export_is_deterministic_and_shaped_as_documented():
    import xml.etree.ElementTree as ET

    codebook = Codebook.default()
    data = codebook.to_qdc()
    assert data == Codebook.default().to_qdc()
    root = ET.fromstring(data)
    assert root.tag == f"{{{CODEBOOK_NAMESPACE}}}CodeBook"
    mains = root.findall("q:Codes/q:Code", NS)
    assert [m.get("name") for m in mains] == [m.name for m in codebook.main_categories]
    assert all(m.get("isCodable") == "false" for m in mains)
    initials = root.findall("q:Codes/q:Code/q:Code", NS)
    assert len(initials) == 18 and all(i.get("isCodable") == "false" for i in initials)
    concepts = root.findall("q:Codes/q:Code/q:Code/q:Code", NS)
    assert len(concepts) == 85 and all(c.get("isCodable") == "true" for c in concepts)
    investment = next(i for i in initials if i.get("name") == "数字化投资")
    assert investment.find("q:Description", NS).text == '企业对硬件和软件的投资\n[groundcoder] {"material_count": 25}'
    # GUIDs are uuid5 of kind and name: pinned, because users' projects refer to them.
    assert guid_for("concept", "数字化战略") == "302c8552-e337-56c8-a549-ccf2c6be9f53"
    assert concepts[0].get("guid") == guid_for("concept", "数字化战略")
    sets = {s.get("name"): s for s in root.findall("q:Sets/q:Set", NS)}
    assert set(sets) == {"groundcoder codebook", "外部导向因素", "内部驱动因素", "强化因素"} | {
        s.name for s in codebook.stages
    }
    members = [m.get("guid") for m in sets["外部导向因素"].findall("q:MemberCode", NS)]
    assert members == [guid_for("main category", "行业环境"), guid_for("main category", "合作伙伴")]


def test_description_data_line_round_trips_and_plain_text_stays_text():
    for text in ("", "one line", "two\nlines", "ends with newline\n"):
        for data in (None, {"material_count": 3}):
            joined = join_description(text, data)
            assert split_description(joined) == (text, data or {})
    assert split_description("note\n[groundcoder] not json") == ("note\n[groundcoder] not json", {})
    assert split_description("[groundcoder] [1, 2]") == ("[groundcoder] [1, 2]", {})


def test_small_codebook_with_descriptions_round_trips():
    codebook = Codebook.from_yaml_text(
        """
title: 'title: with "quotes" & <angles>'
main_categories:
  M:
    description: "two\\nlines"
    initial_categories:
      I:
        material_count: 0
        concepts:
          - c1: a concept's description
          - c2
      J: [c3]
roles:
  r:
    description: role prose
    main_categories: [M]
stages:
  s: [M]
"""
    )
    again = parse_qdc_bytes(codebook.to_qdc())
    assert again == codebook
    assert again.concept("c1").description == "a concept's description"
    assert again.initial_category("I").material_count == 0
    assert again.initial_category("J").material_count is None


def test_import_from_another_tool(tmp_path):
    path = tmp_path / "other.qdc"
    path.write_bytes(OTHER_TOOL)
    codebook = Codebook.load(path)
    assert [m.name for m in codebook.main_categories] == ["Markets", "People"]
    assert codebook.main_category("Markets").description == "about markets"
    assert codebook.concept_names == ("price cuts", "new entrants", "training")
    assert codebook.concept("price cuts").description == "cutting prices to win orders"
    assert codebook.concept_path("training") == ("Skills", "People", None)
    assert codebook.roles == () and codebook.stages == ()  # its own set is not a role or stage
    # And it exports to a YAML codebook that reads back equal.
    yaml_path = export_codebook(codebook, tmp_path / "other.yaml")
    assert Codebook.load(yaml_path) == codebook


def test_import_reads_a_project_file_codebook():
    project = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<Project xmlns="urn:QDA-XML:project:1.0" name="p"><CodeBook><Codes>'
        '<Code guid="11111111-1111-4111-8111-111111111111" name="M" isCodable="false">'
        '<Code guid="22222222-2222-4222-8222-222222222222" name="I" isCodable="false">'
        '<Code guid="33333333-3333-4333-8333-333333333333" name="c" isCodable="true"/>'
        "</Code></Code></Codes></CodeBook>"
        '<Sets><Set guid="44444444-4444-4444-8444-444444444444" name="r">'
        '<Description>[groundcoder] {"kind": "role"}</Description>'
        '<MemberCode targetGUID="11111111-1111-4111-8111-111111111111"/></Set></Sets></Project>'
    ).encode()
    codebook = parse_qdc_bytes(project)
    assert codebook.concept_path("c") == ("I", "M", "r")


def test_shallow_tree_is_refused_with_the_three_level_expectation():
    two_levels = qdc(
        '<Code guid="11111111-1111-4111-8111-111111111111" name="Topics" isCodable="false">\n'
        '  <Code guid="22222222-2222-4222-8222-222222222222" name="Economy" isCodable="true"/>\n'
        "</Code>\n"
    )
    with pytest.raises(CodebookError) as caught:
        parse_qdc_bytes(two_levels, "two.qdc")
    assert len(caught.value.problems) == 1
    message = str(caught.value)
    assert "only 2 levels deep" in message
    assert "main category > initial category > concept" in message


def test_partly_shallow_tree_names_each_short_branch():
    data = qdc(
        '<Code guid="11111111-1111-4111-8111-111111111111" name="A" isCodable="false">\n'
        '  <Code guid="22222222-2222-4222-8222-222222222222" name="a1" isCodable="false">\n'
        '    <Code guid="33333333-3333-4333-8333-333333333333" name="x" isCodable="true"/>\n'
        "  </Code>\n"
        '  <Code guid="44444444-4444-4444-8444-444444444444" name="a2" isCodable="true"/>\n'
        "</Code>\n"
        '<Code guid="55555555-5555-4555-8555-555555555555" name="B" isCodable="true"/>\n'
    )
    with pytest.raises(CodebookError) as caught:
        parse_qdc_bytes(data, "partial.qdc")
    lines = caught.value.problem_lines()
    assert any(line.startswith("partial.qdc:8: code A > a2 has no sub-codes") for line in lines)
    assert any(line.startswith("partial.qdc:10: top-level code B has no sub-codes") for line in lines)


def test_deeper_tree_is_refused_naming_the_fourth_level():
    data = qdc(
        '<Code guid="11111111-1111-4111-8111-111111111111" name="A" isCodable="false">\n'
        '  <Code guid="22222222-2222-4222-8222-222222222222" name="a1" isCodable="false">\n'
        '    <Code guid="33333333-3333-4333-8333-333333333333" name="x" isCodable="true">\n'
        '      <Code guid="44444444-4444-4444-8444-444444444444" name="x-detail" isCodable="true"/>\n'
        "    </Code>\n"
        "  </Code>\n"
        "</Code>\n"
    )
    with pytest.raises(CodebookError) as caught:
        parse_qdc_bytes(data, "deep.qdc")
    (line,) = caught.value.problem_lines()
    assert line.startswith("deep.qdc:6: code A > a1 > x has sub-codes (x-detail), a 4th level")
    assert "exactly 3 levels" in line


def test_duplicate_names_in_a_qdc_are_reported_with_lines():
    data = qdc(
        '<Code guid="11111111-1111-4111-8111-111111111111" name="A" isCodable="false">\n'
        '  <Code guid="22222222-2222-4222-8222-222222222222" name="a1" isCodable="false">\n'
        '    <Code guid="33333333-3333-4333-8333-333333333333" name="Other" isCodable="true"/>\n'
        "  </Code>\n"
        '  <Code guid="44444444-4444-4444-8444-444444444444" name="a2" isCodable="false">\n'
        '    <Code guid="55555555-5555-4555-8555-555555555555" name="Other" isCodable="true"/>\n'
        "  </Code>\n"
        "</Code>\n"
    )
    with pytest.raises(CodebookError) as caught:
        parse_qdc_bytes(data, "dup.qdc")
    (line,) = caught.value.problem_lines()
    assert line.startswith("dup.qdc:9: concept Other has two parents: initial categories a1 (line 6) and a2")


def test_role_set_pointing_at_a_non_main_code_is_reported():
    data = qdc(
        '<Code guid="11111111-1111-4111-8111-111111111111" name="A" isCodable="false">\n'
        '  <Code guid="22222222-2222-4222-8222-222222222222" name="a1" isCodable="false">\n'
        '    <Code guid="33333333-3333-4333-8333-333333333333" name="x" isCodable="true"/>\n'
        "  </Code>\n"
        "</Code>\n",
        '<Sets><Set guid="44444444-4444-4444-8444-444444444444" name="r">\n'
        '<Description>[groundcoder] {"kind": "role"}</Description>\n'
        '<MemberCode guid="33333333-3333-4333-8333-333333333333"/>\n'
        "</Set></Sets>\n",
    )
    with pytest.raises(CodebookError) as caught:
        parse_qdc_bytes(data, "role.qdc")
    text = str(caught.value)
    assert "role.qdc:12: role r has a member (33333333-3333-4333-8333-333333333333) that is not a top-level code" in text
    assert "role r lists no main categories" in text
    assert "main category A is in no role" in text


def test_malformed_xml_names_the_line():
    with pytest.raises(CodebookError) as caught:
        parse_qdc_bytes(b'<?xml version="1.0"?>\n<CodeBook>\n<Codes>\n</CodeBook>\n', "broken.qdc")
    (line,) = caught.value.problem_lines()
    assert line.startswith("broken.qdc:4: malformed XML")


def test_entity_expansion_is_refused():
    bomb = (
        b'<?xml version="1.0"?>\n<!DOCTYPE CodeBook [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;">]>\n'
        b'<CodeBook xmlns="urn:QDA-XML:codebook:1.0"><Codes><Code guid="11111111-1111-4111-8111-111111111111" '
        b'name="&b;" isCodable="true"/></Codes></CodeBook>'
    )
    with pytest.raises(CodebookError, match="refuses for safety"):
        parse_qdc_bytes(bomb, "bomb.qdc")


def test_not_a_codebook():
    with pytest.raises(CodebookError, match="root element is html, expected CodeBook"):
        parse_qdc_bytes(b"<html><body/></html>", "page.qdc")
    with pytest.raises(CodebookError, match="has no codes"):
        parse_qdc_bytes(qdc(""), "empty.qdc")
