"""Factor model: tables 1-4 counted from codings, co-occurrence measures, the model graph, the files."""

from __future__ import annotations

import json
import math
import warnings

import networkx as nx
import pandas as pd
import pytest
from _analysis_data import TEXTS, small_set

from groundcoder.analysis import LinkRule, build_factor_model, cooccurrence, model_graph, propose_links
from groundcoder.analysis.axial import association, fisher_greater
from groundcoder.analysis.open_coding import (
    initial_category_table,
    main_category_table,
    open_coding_examples,
    sample_table,
    unknown_concept_table,
)


@pytest.fixture()
def codings():
    return small_set()


def _row(frame: pd.DataFrame, column: str, value: str) -> pd.Series:
    rows = frame[frame[column] == value]
    assert len(rows) == 1, (column, value, len(rows))
    return rows.iloc[0]


def test_material_count_is_distinct_documents_and_quotes_count_once(codings):
    table, evidence = initial_category_table(codings)
    digital = _row(table, "初始范畴", "数字化投资")
    assert (digital["材料数量/份"], digital["引文数"], digital["企业数"]) == (1, 2, 1)  # q1, q2: one report
    relation = _row(table, "初始范畴", "客户网络关系嵌入")
    assert (relation["材料数量/份"], relation["引文数"]) == (1, 1)  # q7 has two of its concepts: one quote
    assert "个性化服务(1)" in relation["各概念引文数"] and "用户需求(1)" in relation["各概念引文数"]
    assert "企业对客户依赖" in relation["未编码的概念"]
    assert _row(table, "初始范畴", "数字化投资")["码本材料数量/份"] == 25  # the codebook's own number, kept beside
    assert _row(table, "初始范畴", "知识异变度")["材料数量/份"] == 0
    ev = [e for e in evidence if e.row == "数字化投资" and e.measure == "材料数量/份"][0]
    assert ev.value == 1 and ev.quote_ids == "q1;q2" and ev.doc_ids == "F1-AR"


def test_main_category_table_counts_and_connotations(codings):
    table, evidence = main_category_table(codings)
    infra = table[table["主范畴"] == "数字基础设施"]
    assert list(infra["初始范畴"]) == ["数字化投资", "数字技术应用", "业务模式数字化"]
    assert set(infra["主范畴材料数量/份"]) == {2} and set(infra["主范畴引文数"]) == {3}
    assert _row(table, "初始范畴", "数字化投资")["范畴内涵"] == "企业对硬件和软件的投资"
    assert set(infra["作用"]) == {"强化因素"}
    ev = [e for e in evidence if e.row == "合作伙伴" and e.measure == "引文数"][0]
    assert ev.value == 2 and ev.quote_ids == "q3;q7"


def test_sample_table_counts_sources_by_kind(codings):
    table, _ = sample_table(codings)
    f1, f2 = _row(table, "firm_id", "F1"), _row(table, "firm_id", "F2")
    assert f1["数据资料来源（资料数量/份）"] == "报道（1）、年报（1）"
    assert f2["数据资料来源（资料数量/份）"] == "网站资料（1）、期刊（1）"
    assert (f2["资料总数/份"], f2["已编码资料/份"], f2["引文数"]) == (2, 1, 2)
    assert (f1["报道"], f1["网站资料"], f1["期刊"], f1["年报"]) == (1, 0, 0, 1)
    assert f1["企业名称"] == "甲科技" and f1["成立日期"] == "2005-07-26" and f1["主营产品类型"] == "工业软件"


def test_open_coding_examples_quote_concept_category(codings):
    table = open_coding_examples(codings, per_category=1)
    assert list(table["初始范畴"]) == ["数字化投资", "数字技术应用", "知识多样性", "政府补贴", "客户网络关系嵌入", "客户网络结构嵌入"]
    for row in table.itertuples(index=False):
        concept = row.初始概念.split("：", 1)[1].split("、")[0]
        assert codings.codebook.parent_of(concept) == row.初始范畴
    first = _row(table, "初始范畴", "数字化投资")
    assert first["初始范畴编号"] == "A1" and first["初始概念"].startswith("aa")
    assert first["原始材料"] in TEXTS["F1-AR"] and "甲科技" in first["来源"] and "年报" in first["来源"]


def test_examples_prefer_other_firms_and_concepts():
    from _analysis_data import segment
    from groundcoder.analysis import CodingSet

    texts = {"A-AR": "公司推进数字化战略。公司推进数字化战略二期。", "B-AR": "公司开展数字化营销。"}
    segs = [segment("a1", "A-AR", "公司推进数字化战略", ("数字化战略",), texts=texts),
            segment("a2", "A-AR", "公司推进数字化战略二期", ("数字化战略",), texts=texts),
            segment("b1", "B-AR", "公司开展数字化营销", ("数字化营销",), texts=texts)]
    table = open_coding_examples(CodingSet.from_segments(segs, texts=texts), per_category=2)
    ids = list(table["quote_id"])
    assert len(ids) == 2 and "b1" in ids  # not both quotes of firm A with the same concept
    assert ids[0] == "a2"  # then the quote closest to a readable length (a2 is longer than a1)


def test_codes_outside_the_codebook_are_listed_not_counted():
    from _analysis_data import segment
    from groundcoder.analysis import CodingSet

    segs = [segment("q1", "F1-AR", "公司持续推进数字化战略", ("数字化战略", "忘却学习"))]
    codings = CodingSet.from_segments(segs, texts=TEXTS)
    table = unknown_concept_table(codings)
    assert list(table["概念"]) == ["忘却学习"] and table.iloc[0]["quote_ids"] == "q1"
    assert _row(initial_category_table(codings)[0], "初始范畴", "数字化投资")["引文数"] == 1


def test_association_measures_by_hand():
    m = association(n=10, n_a=4, n_b=5, n_ab=3)
    assert m["expected"] == pytest.approx(2.0)
    assert m["lift"] == pytest.approx(1.5)
    assert m["jaccard"] == pytest.approx(0.5)
    assert m["pmi"] == pytest.approx(math.log2(1.5))
    assert m["npmi"] == pytest.approx(math.log2(1.5) / -math.log2(0.3))
    never = association(n=10, n_a=4, n_b=5, n_ab=0)
    assert never["npmi"] == -1.0 and never["lift"] == 0.0
    assert math.isnan(association(n=3, n_a=3, n_b=3, n_ab=3)["npmi"])  # in every window: undefined


def test_fisher_one_sided_matches_scipy():
    from scipy.stats import fisher_exact

    for n, a, b, k in [(10, 4, 5, 3), (132, 98, 69, 60), (20, 3, 3, 0), (30, 10, 12, 8), (5, 5, 2, 2)]:
        expected = fisher_exact([[k, a - k], [b - k, n - a - b + k]], alternative="greater")[1]
        assert fisher_greater(n, a, b, k) == pytest.approx(expected, rel=1e-9)


def test_cooccurrence_counts_per_window(codings):
    table = cooccurrence(codings)

    def pair(window, level, a, b):
        rows = table[(table.window == window) & (table.level == level)
                     & (((table.category_a == a) & (table.category_b == b)) | ((table.category_a == b) & (table.category_b == a)))]
        assert len(rows) == 1
        return rows.iloc[0]

    # documents: F1-AR {基础设施, 合作伙伴, 知识生态}, F1-NEWS {基础设施}, F2-WEB {行业环境, 合作伙伴}
    r = pair("document", "main", "数字基础设施", "合作伙伴")
    assert (r.n_windows, r.n_a, r.n_b, r.n_ab) == (3, 2, 2, 1)
    assert r.lift == pytest.approx(0.75) and r.jaccard == pytest.approx(1 / 3)
    r = pair("document", "main", "知识生态", "合作伙伴")
    assert r.n_ab == 1 and r.lift == pytest.approx(1.5)
    assert r.npmi == pytest.approx(math.log2(1.5) / math.log2(3))
    assert r.quote_ids == "q3;q4" and r.window_ids == "F1-AR"
    # paragraphs: the report's second paragraph holds q3 and q4, its first q1 and q2
    r = pair("paragraph", "main", "知识生态", "合作伙伴")
    assert (r.n_windows, r.n_ab) == (4, 1)
    assert pair("paragraph", "main", "数字基础设施", "合作伙伴").n_ab == 0
    # one quote never carries two main categories here; q7's two concepts share one initial category
    assert table[(table.window == "segment")]["n_ab"].max() == 0
    r = pair("firm", "main", "行业环境", "合作伙伴")
    assert (r.n_windows, r.n_ab) == (2, 1)
    assert pair("document", "initial", "数字化投资", "数字技术应用").n_ab == 0


def test_proposed_links_follow_the_rule(codings):
    table = pd.DataFrame(
        [
            {"window": "document", "level": "main", "category_a": "知识生态", "category_b": "组织能力", "n_ab": 6,
             "n_windows": 40, "lift": 1.4, "jaccard": 0.4, "npmi": 0.25, "fisher_p": 0.01, "quote_ids": "a;b"},
            {"window": "document", "level": "main", "category_a": "行业环境", "category_b": "合作伙伴", "n_ab": 4,
             "n_windows": 40, "lift": 1.8, "jaccard": 0.3, "npmi": 0.40, "fisher_p": 0.01, "quote_ids": "c"},
            {"window": "document", "level": "main", "category_a": "数字经济", "category_b": "数字基础设施", "n_ab": 9,
             "n_windows": 40, "lift": 1.1, "jaccard": 0.5, "npmi": 0.05, "fisher_p": 0.2, "quote_ids": "d"},
            {"window": "paragraph", "level": "main", "category_a": "数字经济", "category_b": "合作伙伴", "n_ab": 9,
             "n_windows": 40, "lift": 2.0, "jaccard": 0.5, "npmi": 0.5, "fisher_p": 0.001, "quote_ids": "e"},
        ]
    )
    links = propose_links(codings, table, LinkRule("document", min_support=5, min_npmi=0.1, max_p=0.05))
    assert list(zip(links.category_a, links.category_b)) == [("知识生态", "组织能力")]  # support, npmi, p, window
    assert links.iloc[0]["shared_stages"] == "不断试错与快速迭代" and bool(links.iloc[0]["same_role"])
    looser = propose_links(codings, table, LinkRule("document", min_support=4, min_npmi=0.1))
    assert list(looser.category_a) == ["行业环境", "知识生态"]  # strongest NPMI first


def test_model_graph_structure_and_weights(codings):
    links = pd.DataFrame([{"category_a": "知识生态", "category_b": "合作伙伴", "n_ab": 1, "npmi": 0.37}])
    g = model_graph(codings, links)
    assert g.nodes["数字基础设施"]["label"] == "数字基础设施" and g.nodes["数字基础设施"]["kind"] == "main"
    assert g.nodes["数字基础设施"]["quotes"] == 3 and g.nodes["数字基础设施"]["documents"] == 2
    assert g.edges["强化因素", "数字基础设施"]["relation"] == "includes"
    assert g.edges["强化因素", "数字基础设施"]["weight"] == 3.0
    assert g.edges["数字基础设施", "数字化投资"]["weight"] == 2.0
    assert g.edges["外部导向因素", "微创新"]["relation"] == "drives"
    assert g.edges["外部导向因素", "微创新"]["weight"] == 3.0  # q3, q6, q7
    assert g.edges["微创新机会识别与框定", "不断试错与快速迭代"]["relation"] == "next"
    assert g.edges["微创新机会识别与框定", "不断试错与快速迭代"]["weight"] == 1.0  # only F1 has quotes in both
    assert g.edges["数字赋能", "微创新实现"]["relation"] == "empowers"
    assert g.edges["知识生态", "合作伙伴"]["relation"] == "cooccurs"
    assert {n for n, d in g.nodes(data=True) if d["kind"] == "initial"} == {ic.name for ic in codings.codebook.initial_categories}
    assert all("label" in d for _, d in g.nodes(data=True))


def test_build_factor_model_writes_every_output(codings, tmp_path):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a missing glyph is a matplotlib warning: it must not happen
        summary = build_factor_model(codings, tmp_path / "fm")
    assert (summary.n_quotes, summary.n_documents, summary.n_firms) == (7, 3, 2)
    assert (summary.concepts_used, summary.initial_used, summary.main_used) == (8, 6, 4)
    for name in ("table1_sample", "table2_open_coding", "table3_initial_categories", "table4_main_categories",
                 "axial_links", "axial_cooccurrence", "evidence"):
        for suffix in (".csv", ".xlsx", ".md"):
            assert (tmp_path / "fm" / f"{name}{suffix}").stat().st_size > 0, name + suffix
    assert (tmp_path / "fm" / "table3_initial_categories.csv").read_bytes().startswith(b"\xef\xbb\xbf")
    for fig in ("fig3_mechanism_model", "fig4_stage_model", "axial_network"):
        assert (tmp_path / "fm" / f"{fig}.png").read_bytes()[:4] == b"\x89PNG"
        assert b"<svg" in (tmp_path / "fm" / f"{fig}.svg").read_bytes()[:500]
    data = json.loads((tmp_path / "fm" / "factor_model_summary.json").read_text(encoding="utf-8"))
    assert data["n_quotes"] == 7 and data["files"]["model.graphml"].endswith("model.graphml")
    graph = nx.read_graphml(tmp_path / "fm" / "model.graphml")
    assert graph.nodes["数字化投资"]["label"] == "数字化投资" and graph.nodes["数字化投资"]["quotes"] == 2
    evidence = pd.read_csv(tmp_path / "fm" / "evidence.csv", encoding="utf-8-sig", keep_default_na=False)
    row = evidence[(evidence.table == "table3") & (evidence.row == "政府补贴") & (evidence.measure == "材料数量/份")].iloc[0]
    assert row.value == 1 and row.quote_ids == "q6"
    md = (tmp_path / "fm" / "table4_main_categories.md").read_text(encoding="utf-8")
    assert md.count("| 强化因素 |") == 2  # the role is shown once per main category, not per row

    from groundcoder.analysis import factor_model_html

    html = factor_model_html(summary)
    assert html.startswith('<section class="gc-family">') and html.rstrip().endswith("</section>")
    assert html.count('<img src="data:image/png;base64,') == 3
    assert "表3 样本数据开放式编码结果" in html and "<th>材料数量/份</th>" in html
    linked = factor_model_html(summary, embed_images=False, base=tmp_path)
    assert 'src="fm/fig3_mechanism_model.png"' in linked and "base64" not in linked


def test_every_figure_label_is_drawable():
    from groundcoder.analysis.selective import figure_labels
    from groundcoder.codebook import Codebook
    from groundcoder.fonts import missing_glyphs

    assert missing_glyphs(figure_labels(Codebook.default())) == set()


def test_a_label_the_font_cannot_draw_is_refused(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from groundcoder.analysis.report import save_figure

    fig, ax = plt.subplots()
    ax.set_title("微创新 \U0001F600")
    with pytest.raises(ValueError, match="cannot draw"):
        save_figure(fig, tmp_path / "bad")
    plt.close(fig)
    assert not list(tmp_path.iterdir())


def test_model_graph_goes_into_a_qdpx_as_a_refi_qda_graph(codings, tmp_path):
    qdpx = pytest.importorskip("groundcoder.qdpx")
    from groundcoder.analysis.factor_model import to_export_data

    graph = model_graph(codings)
    summary = qdpx.export_qdpx(tmp_path / "model.qdpx", to_export_data(codings), graphs=[("微创新动力机制模型", graph)])
    assert summary.graphs == 1 and summary.selections == 7
    project = qdpx.import_file(tmp_path / "model.qdpx")
    (read,) = project.graphs
    names = {v.name for v in read.vertices}
    assert {"外部导向因素", "数字基础设施", "数字化投资", "微创新", "数字赋能"} <= names
    represented = {v.name for v in read.vertices if v.represented_guid}
    assert "数字化投资" in represented  # the vertex stands for the code of the same name
    back = read.to_networkx()
    assert back.has_edge("数字基础设施", "数字化投资")
    assert back.edges["数字基础设施", "数字化投资"]["label"] == "包含 2"
