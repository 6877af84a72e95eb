"""The codebook model, the YAML format and the shipped default codebook."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from groundcoder.codebook import (
    Codebook,
    CodebookError,
    Concept,
    ConceptPath,
    InitialCategory,
    MainCategory,
    Role,
    Stage,
    UnknownNameError,
)
from groundcoder.errors import InputError
from groundcoder.paths import default_codebook_path

# The seed study's codebook, written out independently of corpora/codebooks/micro_innovation.yaml:
# main category -> [(initial category, material count, connotation, concepts)].
SEED = {
    "数字基础设施": [
        ("数字化投资", 25, "企业对硬件和软件的投资", "数字化战略 数字化营销 数据驱动决策 技术基础设施升级 数字化转型"),
        ("数字技术应用", 29, "企业对行业前沿数字技术的应用，包括大数据、云计算等", "人工智能 大数据分析 云计算服务 应用行业前沿技术 信息化软件"),
        ("业务模式数字化", 24, "企业将业务过程中产生的各种痕迹或原始信息记录转变为数据", "数字化管控系统 产业数字化 平台化业务模式 智能运营 智能化产品与解决方案 客户数据分析"),
    ],
    "知识生态": [
        ("知识多样性", 30, "企业知识禀赋中的知识种类丰富程度", "项目团队合作 跨领域专业知识 团队成员经验 行业内外知识整合 知识共享与学习"),
        ("知识异变度", 19, "企业知识元素的动态变化", "知识重组与创新 技术交叉融合 知识转化与应用 知识迭代进化"),
        ("知识网络密度", 16, "企业知识元素组合、互补关系", "内部知识互联程度 知识互补性与协同创新"),
    ],
    "组织能力": [
        ("吸收能力", 22, "企业识别、获取与应用外部衍生知识", "知识识别 组织互动并获取知识 知识应用 发现机会"),
        ("风险承担能力", 21, "企业将资源投入到不确定收益活动的意愿与程度", "资源充沛 定期评价 长期投资 应对变化 缓解冲击"),
        ("双元平衡能力", 25, "探索未知领域并利用现有知识来实现组织增长", "探索未知领域 探索与利用新的机会 效率提升 增量改进"),
    ],
    "数字经济": [
        ("数字产业", 24, "社会数字产业发展情况", "产业政策 智慧产业 产业结构 产业升级转型 产业互联"),
        ("数字创新", 15, "社会数字专利发展情况", "工业互联网专利 电子商务专利 专利政策 引进-再创新 并购"),
        ("数字用户", 17, "社会数字用户的数量", "移动电话用户 互联网用户"),
    ],
    "行业环境": [
        ("市场竞争", 35, "企业面临的市场竞争水平", "成本竞争 价格竞争 市场份额 产品特性 管理支持 市场策略 销售渠道 市场竞争风险 市场竞争力"),
        ("政府补贴", 29, "企业所获得的政府资助", "政府资助 政府扶持 税收优惠 成果奖励"),
        ("知识产权保护", 24, "企业所在地区的知识产权保护力度", "专利发明 产品标准 实用新型专利 荣誉资格 软件版权"),
    ],
    "合作伙伴": [
        ("客户网络关系嵌入", 26, "企业对主要客户的依赖，满足客户需求", "用户需求 个性化服务 企业对客户依赖 客户关系强度"),
        ("客户网络结构嵌入", 31, "企业在客户中的影响力和信息控制能力", "与上市集团客户合作 技术合作 项目合作 持续合作 上下游协同合作 战略合作"),
        ("供应商关系依赖", 18, "企业对供应商研发投入和技术实力的依赖", "深化供应商合作 供应商合作伙伴 供应商研发能力 供应商技术实力 稳定的供应链服务"),
    ],
}
SEED_ROLES = {
    "外部导向因素": ("行业环境", "合作伙伴"),
    "内部驱动因素": ("知识生态", "组织能力"),
    "强化因素": ("数字基础设施", "数字经济"),
}
SEED_STAGES = [
    ("微创新机会识别与框定", ("合作伙伴", "行业环境"), False),
    ("不断试错与快速迭代", ("知识生态", "组织能力"), False),
    ("微创新实现", ("行业环境",), False),
    ("数字赋能", ("数字基础设施", "数字经济"), True),
]


def write(tmp_path: Path, text: str, name: str = "codebook.yaml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return path


def problems_of(tmp_path: Path, text: str) -> list[str]:
    with pytest.raises(CodebookError) as caught:
        Codebook.load(write(tmp_path, text))
    return caught.value.problem_lines()


SMALL = """
    title: small test codebook
    main_categories:
      Environment:
        description: outside the firm
        initial_categories:
          Competition:
            description: rivals
            material_count: 3
            concepts:
              - price war
              - market share: the firm's share of its market
          Policy: [subsidy, tax break]
      Knowledge:
        initial_categories:
          Learning:
            concepts: [training]
    roles:
      external: [Environment]
      internal:
        description: inside the firm
        main_categories: [Knowledge]
    stages:
      start: [Environment]
      always:
        spans_all_stages: true
        main_categories: [Knowledge, Environment]
"""


# ----- the shipped default codebook ------------------------------------------------------------------


def test_default_codebook_has_the_seed_studys_counts():
    codebook = Codebook.default()
    assert codebook.path == default_codebook_path()
    assert (len(codebook.concepts), len(codebook.initial_categories), len(codebook.main_categories)) == (85, 18, 6)
    assert len(codebook.roles) == 3
    assert len(codebook.stages) == 4


def test_default_codebook_matches_every_name_connotation_and_material_count():
    codebook = Codebook.default()
    assert [m.name for m in codebook.main_categories] == list(SEED)
    expected_initials = [(main, row[0]) for main, rows in SEED.items() for row in rows]
    assert [(ic.main_category, ic.name) for ic in codebook.initial_categories] == [
        (main, initial) for main, initial in expected_initials
    ]
    for main, rows in SEED.items():
        assert codebook.initial_categories_of(main) == tuple(row[0] for row in rows)
        for initial, materials, connotation, concepts in rows:
            category = codebook.initial_category(initial)
            assert category.material_count == materials, initial
            assert category.description == connotation, initial
            assert codebook.concepts_of(initial) == tuple(concepts.split()), initial
    expected_concepts = [c for rows in SEED.values() for row in rows for c in row[3].split()]
    assert list(codebook.concept_names) == expected_concepts
    assert sum(row[1] for rows in SEED.values() for row in rows) == sum(
        ic.material_count for ic in codebook.initial_categories
    )


def test_default_codebook_roles_stages_and_main_connotations():
    codebook = Codebook.default()
    assert {r.name: r.main_categories for r in codebook.roles} == SEED_ROLES
    assert [(s.name, s.main_categories, s.spans_all_stages) for s in codebook.stages] == SEED_STAGES
    # Main-category connotations are groundcoder's own summaries: present, and not copies of one row.
    for main in codebook.main_categories:
        assert main.description.strip(), main.name
        assert main.description not in {row[2] for row in SEED[main.name]}
    assert codebook.source and "micro-innovation" in codebook.source
    # The study's naming drift is settled on 合作伙伴 and 供应商关系依赖.
    for drift in ("客户与供应商", "供应关系依赖"):
        with pytest.raises(UnknownNameError):
            codebook.kind_of(drift)


# ----- lookups ---------------------------------------------------------------------------------------


def test_concept_path_parent_children_and_concepts_of():
    codebook = Codebook.default()
    assert codebook.concept_path("知识迭代进化") == ConceptPath("知识异变度", "知识生态", "内部驱动因素")
    assert codebook.concept_path("企业对客户依赖") == ("客户网络关系嵌入", "合作伙伴", "外部导向因素")
    assert codebook.parent_of("应用行业前沿技术") == "数字技术应用"
    assert codebook.parent_of("数字技术应用") == "数字基础设施"
    assert codebook.parent_of("数字基础设施") == "强化因素"
    assert codebook.parent_of("强化因素") is None
    assert codebook.children_of("内部驱动因素") == ("知识生态", "组织能力")
    assert codebook.children_of("数字用户") == ("移动电话用户", "互联网用户")
    assert codebook.concepts_of("数字用户") == ("移动电话用户", "互联网用户")
    assert len(codebook.concepts_of("行业环境")) == 9 + 4 + 5
    assert len(codebook.concepts_of("外部导向因素")) == 18 + 4 + 6 + 5
    assert [s.name for s in codebook.stages_of("行业环境")] == ["微创新机会识别与框定", "微创新实现"]
    assert codebook.kind_of("市场竞争") == "initial category"
    with pytest.raises(ValueError, match="is a concept"):
        codebook.concepts_of("并购")


def test_unknown_names_come_with_close_matches():
    codebook = Codebook.default()
    assert codebook.suggest("数字化转")[0] == "数字化转型"  # best match first
    assert "供应商关系依赖" in codebook.suggest("供应关系依赖", kinds=None)
    assert codebook.suggest("完全无关的词") == []
    with pytest.raises(UnknownNameError) as caught:
        codebook.concept_path("大数据分折")
    assert "大数据分析" in str(caught.value)
    assert caught.value.suggestions[0] == "大数据分析"
    with pytest.raises(KeyError):
        codebook.parent_of("不存在")


def test_hash_is_stable_and_covers_the_coding_scheme_only(tmp_path):
    codebook = Codebook.default()
    assert len(codebook.hash) == 64
    assert Codebook.load(default_codebook_path()).hash == codebook.hash
    text = default_codebook_path().read_text(encoding="utf-8")
    # Prose and counts do not change what a classifier predicts: same hash.
    reworded = text.replace("企业对硬件和软件的投资", "企业对软硬件的投资").replace("material_count: 25", "material_count: 26")
    assert Codebook.from_yaml_text(reworded).hash == codebook.hash
    assert Codebook.from_yaml_text(reworded) != codebook
    # A renamed or moved concept does.
    renamed = text.replace("- 并购", "- 兼并收购")
    assert Codebook.from_yaml_text(renamed).hash != codebook.hash
    moved = text.replace("          - 并购\n", "").replace("          - 互联网用户\n", "          - 互联网用户\n          - 并购\n")
    moved_codebook = Codebook.from_yaml_text(moved)
    assert moved_codebook.concept_path("并购").initial == "数字用户"
    assert moved_codebook.hash != codebook.hash


def test_yaml_round_trip_is_exact(tmp_path):
    codebook = Codebook.default()
    again = Codebook.from_yaml_text(codebook.to_yaml())
    assert again == codebook
    assert again.hash == codebook.hash
    small = Codebook.load(write(tmp_path, SMALL))
    assert Codebook.from_yaml_text(small.to_yaml()) == small


def test_any_codebook_works_without_hard_coded_names(tmp_path):
    codebook = Codebook.load(write(tmp_path, SMALL))
    assert codebook.title == "small test codebook"
    assert codebook.concept_names == ("price war", "market share", "subsidy", "tax break", "training")
    assert codebook.concept("market share").description == "the firm's share of its market"
    assert codebook.initial_category("Competition").material_count == 3
    assert codebook.initial_category("Policy").material_count is None
    assert codebook.concept_path("training") == ("Learning", "Knowledge", "internal")
    assert codebook.role("internal").description == "inside the firm"
    assert codebook.stage("always").spans_all_stages and not codebook.stage("start").spans_all_stages
    assert codebook.concept("subsidy").line == 12  # lines are kept for callers' messages


def test_codebook_without_roles_or_stages_is_valid(tmp_path):
    codebook = Codebook.load(write(tmp_path, "main_categories:\n  M:\n    initial_categories:\n      I: [c1, c2]\n"))
    assert codebook.roles == () and codebook.stages == ()
    assert codebook.concept_path("c2") == ("I", "M", None)
    assert codebook.parent_of("M") is None


def test_constructor_orders_the_tree_canonically_and_validates():
    interleaved = Codebook(
        concepts=(Concept("b1", "B"), Concept("a1", "A"), Concept("b2", "B")),
        initial_categories=(InitialCategory("B", "Y"), InitialCategory("A", "X")),
        main_categories=(MainCategory("X"), MainCategory("Y")),
        roles=(Role("r", ("X", "Y")),),
        stages=(Stage("s", ("Y",)),),
    )
    assert interleaved.concept_names == ("a1", "b1", "b2")
    assert [ic.name for ic in interleaved.initial_categories] == ["A", "B"]
    assert Codebook.from_yaml_text(interleaved.to_yaml()) == interleaved
    with pytest.raises(CodebookError) as caught:
        Codebook(
            concepts=(Concept("a1", "A"), Concept("orphan", "")),
            initial_categories=(InitialCategory("A", "X"), InitialCategory("Z", "nowhere")),
            main_categories=(MainCategory("X"),),
        )
    text = str(caught.value)
    assert "concept orphan has no parent" in text
    assert "unknown main category nowhere" in text


# ----- validation: one test per kind of problem ---------------------------------------------------------


def test_malformed_yaml_reports_the_parsers_line(tmp_path):
    lines = problems_of(tmp_path, "main_categories:\n  A:\n    initial_categories: [x\n  B: 1\n")
    assert len(lines) == 1
    assert lines[0].startswith(f"{tmp_path / 'codebook.yaml'}:4: malformed YAML")


def test_file_that_is_not_utf8_names_the_line(tmp_path):
    path = tmp_path / "gbk.yaml"
    path.write_bytes("main_categories:\n  数字经济:\n".encode("gbk"))
    with pytest.raises(CodebookError) as caught:
        Codebook.load(path)
    assert caught.value.problems[0].line == 2
    assert "not UTF-8" in str(caught.value)
    assert isinstance(caught.value, InputError) and caught.value.path == path


def test_concept_named_twice_in_one_initial_category(tmp_path):
    lines = problems_of(
        tmp_path,
        """
        main_categories:
          M:
            initial_categories:
              I:
                - c1
                - c2
                - c1
        """,
    )
    assert lines == [f"{tmp_path / 'codebook.yaml'}:7: concept c1 is listed twice under I (first at line 5)"]


def test_concept_with_the_same_name_as_a_category(tmp_path):
    lines = problems_of(tmp_path, "main_categories:\n  M:\n    initial_categories:\n      I: [c1, M]\n")
    assert len(lines) == 1
    assert ":4: concept M has the same name as the main category (line 2)" in lines[0]


def test_main_category_named_twice(tmp_path):
    lines = problems_of(
        tmp_path,
        "main_categories:\n  M:\n    initial_categories:\n      I: [c1]\n  M:\n    initial_categories:\n      J: [c2]\n",
    )
    assert len(lines) == 1
    assert ":5: main category M is named twice (first at line 2)" in lines[0]


def test_concept_with_two_parents(tmp_path):
    lines = problems_of(
        tmp_path, "main_categories:\n  M:\n    initial_categories:\n      I: [shared]\n      J:\n        - shared\n"
    )
    assert len(lines) == 1
    assert ":6: concept shared has two parents: initial categories I (line 4) and J" in lines[0]


def test_concept_with_no_parent(tmp_path):
    lines = problems_of(
        tmp_path,
        "main_categories:\n  M:\n    concepts: [loose]\n    initial_categories:\n      I: [c1]\n",
    )
    assert len(lines) == 1
    assert ":3: concept loose has no parent" in lines[0]


def test_initial_category_without_concepts(tmp_path):
    lines = problems_of(tmp_path, "main_categories:\n  M:\n    initial_categories:\n      I: [c1]\n      J:\n")
    assert len(lines) == 1
    assert ":5: initial category J has no concepts" in lines[0]


def test_main_category_without_initial_categories(tmp_path):
    lines = problems_of(
        tmp_path, "main_categories:\n  M:\n    initial_categories:\n      I: [c1]\n  N:\n    description: empty\n"
    )
    assert len(lines) == 1
    assert ":5: main category N has no initial categories" in lines[0]


def test_role_naming_an_unknown_main_category(tmp_path):
    lines = problems_of(
        tmp_path,
        "main_categories:\n  行业环境:\n    initial_categories:\n      I: [c1]\n"
        "roles:\n  外部导向因素:\n    - 行业环竟\n    - 行业环境\n",
    )
    assert len(lines) == 1
    assert ":7: role 外部导向因素 names an unknown main category 行业环竟 (did you mean 行业环境?)" in lines[0]


def test_stage_naming_an_unknown_main_category(tmp_path):
    lines = problems_of(
        tmp_path,
        "main_categories:\n  M:\n    initial_categories:\n      I: [c1]\nstages:\n  s1: [M]\n  s2: [Q]\n",
    )
    assert len(lines) == 1
    assert ":7: stage s2 names an unknown main category Q" in lines[0]


def test_main_category_in_no_role(tmp_path):
    lines = problems_of(
        tmp_path,
        "main_categories:\n  M:\n    initial_categories:\n      I: [c1]\n  N:\n    initial_categories:\n"
        "      J: [c2]\nroles:\n  r: [M]\n",
    )
    assert len(lines) == 1
    assert ":5: main category N is in no role: add it to one of r" in lines[0]


def test_main_category_in_two_roles(tmp_path):
    lines = problems_of(
        tmp_path, "main_categories:\n  M:\n    initial_categories:\n      I: [c1]\nroles:\n  r1: [M]\n  r2: [M]\n"
    )
    assert len(lines) == 1
    assert ":2: main category M is in 2 roles (r1、r2)" in lines[0]


def test_wrong_types_are_reported_with_what_was_expected(tmp_path):
    lines = problems_of(
        tmp_path,
        """
        title: [not, text]
        main_categories:
          M:
            initial_categories:
              I:
                material_count: 25份
                description: {a: b}
                concepts: {c1: x}
              J:
                concepts:
                  - [nested, list]
                  - ok
        stages:
          s:
            spans_all_stages: maybe
            main_categories: [M]
        """,
    )
    joined = "\n".join(lines)
    assert ":1: title must be text, got a list" in joined
    assert ":6: material_count of I must be a whole number of documents (e.g. 25), got '25份'" in joined
    assert ":7: description of I must be text, got a mapping" in joined
    assert ":8: concepts of initial category I must be a list" in joined
    assert ":11: a concept of initial category J must be a name, got a list" in joined
    assert ":15: spans_all_stages of s must be true or false, got 'maybe'" in joined


def test_negative_material_count_is_refused(tmp_path):
    lines = problems_of(
        tmp_path, "main_categories:\n  M:\n    initial_categories:\n      I:\n        material_count: -3\n        concepts: [c]\n"
    )
    assert len(lines) == 1 and ":5: material_count of I must be a whole number" in lines[0]


def test_unknown_key_suggests_the_right_one(tmp_path):
    lines = problems_of(
        tmp_path, "main_categories:\n  M:\n    descripton: typo\n    initial_categories:\n      I: [c1]\n"
    )
    assert lines == [
        f"{tmp_path / 'codebook.yaml'}:3: unknown key 'descripton' in main category M (did you mean description?)"
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", "the codebook is empty"),
        ("- a\n- b\n", "a codebook is a mapping"),
        ("title: x\n", "the codebook has no main_categories"),
    ],
)
def test_empty_or_shapeless_files(tmp_path, text, expected):
    path = tmp_path / "codebook.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(CodebookError, match=expected):
        Codebook.load(path)


def test_all_problems_are_collected_in_one_error(tmp_path):
    with pytest.raises(CodebookError) as caught:
        Codebook.load(
            write(
                tmp_path,
                """
                main_categories:
                  M:
                    descripton: typo
                    initial_categories:
                      I: [c1, c1]
                      J: []
                  N:
                roles:
                  r: [M, Q]
                """,
            )
        )
    error = caught.value
    # typo key; c1 twice; J empty; N empty and in no role; unknown Q.
    assert [p.line for p in error.problems] == [3, 5, 6, 7, 7, 9]
    text = str(error)
    assert text.startswith(f"{tmp_path / 'codebook.yaml'}: 6 problems in the codebook")
    assert all(f"{tmp_path / 'codebook.yaml'}:{line}: " in text for line in (3, 5, 6, 7, 9))


def test_missing_file_and_unsupported_suffix(tmp_path):
    with pytest.raises(InputError, match="file not found"):
        Codebook.load(tmp_path / "absent.yaml")
    with pytest.raises(InputError, match=r"\.docx"):
        Codebook.load(tmp_path / "codebook.docx")
