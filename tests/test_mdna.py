"""Finding the MD&A section across disclosure eras, on synthetic reports with a TOC and a body."""

from __future__ import annotations

from pathlib import Path

import pytest

from groundcoder.mdna import ERAS, MdnaSection, chinese_numeral, extract_mdna

SECTIONS_2016 = ["重要提示、目录和释义", "公司简介和主要财务指标", "公司业务概要", "经营情况讨论与分析", "重要事项", "财务报告"]
SECTIONS_2021 = ["重要提示、目录和释义", "公司简介和主要财务指标", "管理层讨论与分析", "公司治理", "重要事项", "财务报告"]
SECTIONS_2009 = ["重要提示及目录", "公司基本情况简介", "股本变动及股东情况", "公司治理结构", "股东大会情况简介",
                 "董事会报告", "监事会报告", "重要事项", "财务报告"]
NUMERALS = "一二三四五六七八九十"


def report(sections: list[str], unit: str = "节", leader: str = "." * 30) -> str:
    """A small annual report: cover, a table of contents, then each section with a body."""
    lines = ["示例科技股份有限公司", "2020 年年度报告", "目录"]
    for number, title in enumerate(sections):
        lines.append(f"第{NUMERALS[number]}{unit} {title}{leader}{number * 5 + 2}")
    for number, title in enumerate(sections):
        lines.append(f"第{NUMERALS[number]}{unit} {title}")
        lines.append("一、概述")
        lines.append(f"这是{title}的正文。公司坚持专精特新发展道路，持续推进微创新。")
        if number == 0:
            lines.append(f"具体详见第四{unit}{sections[min(3, len(sections) - 1)]}。")
    return "\n".join(lines)


def section_text(text: str, section: MdnaSection) -> str:
    return text[section.start : section.end]


@pytest.mark.parametrize(
    "sections, title, era",
    [
        (SECTIONS_2016, "经营情况讨论与分析", "经营情况讨论与分析"),
        (SECTIONS_2021, "管理层讨论与分析", "管理层讨论与分析"),
        (SECTIONS_2009, "董事会报告", "董事会报告"),
    ],
)
def test_body_heading_is_found_not_the_toc_entry(sections, title, era):
    text = report(sections)
    section = extract_mdna(text)
    assert section is not None
    number = NUMERALS[sections.index(title)]
    assert section.heading == f"第{number}节 {title}"
    assert section.era == era and era in ERAS
    body = section_text(text, section)
    # Starts at the body heading (after the TOC), ends before the next section's heading.
    assert body.startswith(f"第{number}节 {title}\n一、概述\n这是{title}的正文。")
    assert section.start > text.index("目录")
    next_title = sections[sections.index(title) + 1]
    assert body.endswith("持续推进微创新。")
    assert text[section.end :].lstrip("\n").startswith(f"第{NUMERALS[sections.index(title) + 1]}节 {next_title}")


def test_toc_without_dot_leaders_or_page_numbers_is_still_skipped():
    text = report(SECTIONS_2016, leader="")
    # TOC lines now end in page numbers only: strip them too, leaving bare headings in a cluster.
    text = "\n".join(line.rstrip("0123456789") if "目录" not in line else line for line in text.split("\n"))
    section = extract_mdna(text)
    assert section is not None
    assert section_text(text, section).startswith("第四节 经营情况讨论与分析\n一、概述")


def test_bare_toc_with_the_mdna_entry_last_is_skipped():
    text = "\n".join(
        ["目录", "第一节 重要提示", "第二节 公司简介", "第三节 管理层讨论与分析", "释义", "释义项 指 释义内容",
         "第一节 重要提示", "正文。", "第三节 管理层讨论与分析", "一、报告期内公司所处行业情况", "正文。", "第四节 公司治理"]
    )
    section = extract_mdna(text)
    assert section is not None
    assert text[section.start : section.end] == "第三节 管理层讨论与分析\n一、报告期内公司所处行业情况\n正文。"


def test_chapter_heading_ends_at_the_next_chapter():
    text = report(SECTIONS_2009, unit="章", leader="———————————第 ")
    section = extract_mdna(text)
    assert section is not None and section.heading == "第六章 董事会报告"
    assert text[section.end :].lstrip("\n").startswith("第七章 监事会报告")


def test_numbered_item_heading_of_older_reports():
    titles = ["致股东", "公司基本情况简介", "股东大会情况简介", "董事会报告", "监事会报告", "重要事项"]
    lines = ["目录"] + [f"{title}………………{n * 4 + 2}" for n, title in enumerate(titles)]
    for number, title in enumerate(titles):
        lines += [f"{NUMERALS[number]}、{title}", f"{title}的正文。"]
        if title == "董事会报告":
            # Numbered lists inside the section restart at 一、: they do not end it.
            lines += ["1. 管理层讨论与分析", "一、审计前的准备工作", "审计的正文。", "二、审计过程", "过程的正文。"]
    text = "\n".join(lines)
    section = extract_mdna(text)
    assert section is not None and section.heading == "四、董事会报告"
    body = section_text(text, section)
    assert body.startswith("四、董事会报告\n董事会报告的正文。") and body.endswith("过程的正文。")
    assert text[section.end :].lstrip("\n").startswith("五、监事会报告")


def test_section_level_heading_wins_over_a_lower_level_mdna_heading():
    text = "\n".join(
        ["第一节 重要提示", "正文。", "第七节 董事会报告", "一、管理层讨论与分析", "管理层讨论与分析", "讨论的正文。", "第八节 监事会报告", "监事会正文。"]
    )
    section = extract_mdna(text)
    assert section is not None and section.heading == "第七节 董事会报告"
    assert section.era == "董事会报告"


def test_letter_spaced_and_variant_titles():
    for heading, era in [
        ("第四节 经 营 情 况 讨 论 与 分 析", "经营情况讨论与分析"),
        ("第四节 经营情况的讨论与分析", "经营情况讨论与分析"),
        ("第六节 董事局报告", "董事会报告"),
        ("第三节 管理层讨论和分析", "管理层讨论与分析"),
    ]:
        text = f"封面\n{heading}\n正文。\n第九节 重要事项\n"
        section = extract_mdna(text)
        assert section is not None and section.heading == heading and section.era == era


def test_section_number_and_title_on_separate_lines():
    text = "目录\n第一节 重要提示\n正文。\n第四节\n经营情况讨论与分析\n一、概述\n正文。\n第五节\n重要事项\n"
    section = extract_mdna(text)
    assert section is not None
    assert section.heading == "第四节 经营情况讨论与分析"
    assert text[section.start : section.end] == "第四节\n经营情况讨论与分析\n一、概述\n正文。"


def test_running_header_repeating_the_heading_does_not_end_the_section():
    text = "\n".join(
        ["第三节 管理层讨论与分析", "第一页正文。", "第三节 管理层讨论与分析", "第二页正文。", "第四节 公司治理", "治理正文。"]
    )
    section = extract_mdna(text)
    assert section is not None
    assert section_text(text, section).endswith("第二页正文。")


def test_a_mention_in_running_text_is_not_a_heading():
    text = "重要提示\n请查阅第四节经营情况讨论与分析中的有关内容。\n公司在本报告“第三节管理层讨论与分析”中描述了风险。"
    assert extract_mdna(text) is None


def test_a_reference_line_starting_with_a_section_number_does_not_end_the_section():
    text = "\n".join(
        ["第四节 经营情况讨论与分析", "一、概述", "第五节“重要事项”所述的诉讼事项，对公司经营影响有限，详见下文。", "正文继续。",
         "第五节 重要事项", "事项正文。"]
    )
    section = extract_mdna(text)
    assert section is not None
    assert section_text(text, section).endswith("正文继续。")


def test_section_running_to_the_end_of_the_text():
    text = "封面\n第三节 管理层讨论与分析\n最后的正文。\n"
    section = extract_mdna(text)
    assert section is not None
    assert section_text(text, section) == "第三节 管理层讨论与分析\n最后的正文。"


def test_no_mdna_heading_gives_none():
    assert extract_mdna("第一节 重要提示\n正文。\n第二节 公司简介\n正文。") is None
    assert extract_mdna("") is None


def test_offsets_are_code_points():
    text = "𠀀😀封面\n第四节 经营情况讨论与分析\n𠀁研发正文😀。\n第五节 重要事项\n"
    section = extract_mdna(text)
    assert section is not None
    assert section.start == text.index("第四节")
    assert section_text(text, section) == "第四节 经营情况讨论与分析\n𠀁研发正文😀。"


def test_chinese_numerals():
    assert [chinese_numeral(n) for n in ["八", "十", "十二", "二十", "二十一", "一百零三", "12", "X"]] == [
        8, 10, 12, 20, 21, 103, 12, None
    ]


# --- the shared real reports (skipped where ../shared is absent) --------------------------------

REAL_REPORTS = Path(__file__).resolve().parents[1] / ".." / "shared" / "real-reports"
# Checked by eye against each report's table of contents and body (see the reading report).
EXPECTED_HEADINGS = {
    "000001_2001.pdf": ("第八节 董事会报告", "第九节"),
    "000001_2016.pdf": ("第四节 经营情况讨论与分析", "第五节"),
    "000002_2011.pdf": ("八、董事会报告", "九、"),
    "000004_2009.pdf": ("第八节 董事会报告", "第九节"),
    "000004_2016.pdf": ("第四节 经营情况讨论与分析", "第五节"),
    "000004_2020.pdf": ("第四节 经营情况讨论与分析", "第五节"),
    "000004_2021.pdf": ("第三节 管理层讨论与分析", "第四节"),
    "000006_2006.pdf": ("第七章 董事会报告", "第八章"),
    "000006_2020.pdf": ("第四节 经营情况讨论与分析", "第五节"),
    "000007_2022.pdf": ("第三节 管理层讨论与分析", "第四节"),
}


@pytest.mark.skipif(not REAL_REPORTS.is_dir(), reason="needs ../shared/real-reports (developers' shared folder)")
@pytest.mark.parametrize("name", sorted(EXPECTED_HEADINGS))
def test_real_reports(name):
    from groundcoder.documents import read_document

    path = REAL_REPORTS / name
    if not path.is_file():
        pytest.skip(f"{name} is not in {REAL_REPORTS}")
    doc = read_document(path)
    section = extract_mdna(doc.text)
    heading, next_heading = EXPECTED_HEADINGS[name]
    assert section is not None and section.heading == heading
    assert doc.text[section.end :].lstrip("\n").startswith(next_heading)
    assert section.end - section.start > 5000
