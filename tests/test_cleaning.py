"""Cleaning extracted annual-report pages: headers, footers, page numbers, broken lines, page map."""

from __future__ import annotations

import time

from groundcoder.cleaning import CleanedText, PageSpan, clean_pages, page_of, starts_block

HEADER = "示例精密科技股份有限公司 2020 年年度报告全文"


def pages_with(bodies: list[list[str]], header: str | None = HEADER, footer: str | None = "{n} / {total}") -> list[str]:
    """Page texts as PDF extraction gives them: header, body lines, footer, CRLF line breaks."""
    texts = []
    for number, body in enumerate(bodies, start=1):
        lines = ([header] if header else []) + body
        if footer:
            lines.append(footer.format(n=number, total=len(bodies)))
        texts.append("\r\n".join(lines))
    return texts


def test_running_header_and_page_numbers_are_dropped():
    bodies = [[f"第{n}页的正文内容。"] for n in range(1, 6)]
    cleaned = clean_pages(pages_with(bodies))
    assert isinstance(cleaned, CleanedText)
    assert cleaned.text == "\n".join(body[0] for body in bodies)
    assert cleaned.running_lines == [HEADER]
    assert cleaned.page_number_lines == 5


def test_page_number_forms():
    for footer in ["{n} / {total}", "- {n} -", "— {n} —", "第{n}页", "第 {n} 页 共 {total} 页", "{n}", "Page {n} of {total}"]:
        bodies = [[f"正文第{n}段。"] for n in range(1, 5)]
        cleaned = clean_pages(pages_with(bodies, header=None, footer=footer))
        assert cleaned.text == "\n".join(body[0] for body in bodies), footer


def test_header_carrying_the_page_number_is_dropped():
    pages = [f"{HEADER} 第 {n} 页\r\n正文第{n}段。\r\n第{n}页所述内容。" for n in range(1, 7)]
    cleaned = clean_pages(pages)
    assert cleaned.text == "\n".join(f"正文第{n}段。\n第{n}页所述内容。" for n in range(1, 7))


def test_page_numbers_at_the_top_of_the_page_are_dropped_too():
    pages = [f"{n + 10}\r\n{HEADER}\r\n第{n}页正文。" for n in range(6)]
    assert clean_pages(pages).text == "\n".join(f"第{n}页正文。" for n in range(6))


def test_a_number_at_the_foot_of_a_table_is_not_taken_for_a_page_number():
    # Page numbers 3..8 agree on their offset from the page index; the lone "2020" does not.
    pages = [f"{HEADER}\r\n表格第{n}页：\r\n营业收入 1,234.56 7,890.12 12.5%\r\n{n + 3}" for n in range(6)]
    pages[2] = f"{HEADER}\r\n年份如下：\r\n2020\r\n5"
    cleaned = clean_pages(pages)
    assert "\n2020" in cleaned.text
    assert cleaned.page_number_lines == 6


def test_odd_and_even_headers_are_both_dropped():
    odd, even = "示例精密科技股份有限公司", "2020 年年度报告"
    pages = [f"{odd if n % 2 else even}\r\n正文{n}。\r\n- {n} -" for n in range(1, 9)]
    assert clean_pages(pages).text == "\n".join(f"正文{n}。" for n in range(1, 9))


def test_a_line_repeated_in_the_body_but_not_at_page_edges_is_kept():
    pages = [f"{HEADER}\r\n开头{n}。\r\n□适用 √不适用\r\n结尾{n}。\r\n更多内容{n}。\r\n{n}" for n in range(1, 7)]
    cleaned = clean_pages(pages)
    assert cleaned.text.count("□适用 √不适用") == 6


def test_broken_lines_are_joined_without_space_between_chinese_characters():
    pages = ["公司主营业务为\n精密零部件制造。"]
    assert clean_pages(pages).text == "公司主营业务为精密零部件制造。"


def test_latin_words_broken_at_the_margin_are_joined_with_a_space():
    assert clean_pages(["ShenZhen Development\nBank Co., Ltd."]).text == "ShenZhen Development Bank Co., Ltd."


def test_lines_ending_a_sentence_are_not_joined():
    for mark in "。！？；：…":
        pages = [f"第一句{mark}\n第二句。"]
        assert clean_pages(pages).text == f"第一句{mark}\n第二句。", mark
    # A closing quote after the mark still ends the line's sentence.
    assert clean_pages(["他说：“好。”\n第二句。"]).text == "他说：“好。”\n第二句。"


def test_headings_and_list_items_are_not_joined():
    pages = [
        "第四节 经营情况讨论与分析\n一、概述\n报告期内公司\n（一）主营业务\n1、研发投入\n2.生产\n① 销售\n• 要点\n□ 适用"
    ]
    assert clean_pages(pages).text.split("\n") == [
        "第四节 经营情况讨论与分析",
        "一、概述",
        "报告期内公司",
        "（一）主营业务",
        "1、研发投入",
        "2.生产",
        "① 销售",
        "• 要点",
        "□ 适用",
    ]


def test_starts_block_does_not_take_numbers_for_list_items():
    assert starts_block("1、研发投入") and starts_block("（十二）其他") and starts_block("第十一节 财务报告")
    assert not starts_block("2016 年公司实现营业收入")
    assert not starts_block("12.5%的增长")
    assert not starts_block("研发投入")


def test_with_enough_lines_short_lines_keep_their_breaks():
    # A paragraph's last line and a heading without a marker are short: the break is the author's.
    full = "公司坚持专精特新发展道路持续开展工艺改进和产品迭代全年完成技术"  # a full printed line
    lines = [full, full, "改造项目", "本行从事的主要业务", full, full, full, full, full, "稳定。"]
    cleaned = clean_pages(["\n".join(lines)]).text
    assert cleaned.split("\n") == [full * 2 + "改造项目", "本行从事的主要业务", full * 5 + "稳定。"]


def test_table_rows_are_not_joined():
    full = "公司坚持专精特新发展道路持续开展工艺改进和产品迭代全年完成技术"
    rows = ["营业收入 287,670,026.58 100% 120,454,422.48 100% 138.82%", "营业成本 1,234.00 - 5,678.00 - 12.00%"]
    cleaned = clean_pages(["\n".join([full] * 8 + ["改造。"] + rows)]).text
    assert cleaned.split("\n")[-2:] == rows


def test_paragraph_broken_across_pages_is_joined_and_mapped_to_both_pages():
    bodies = [["第一页的句子。", "这个句子从第一页"], ["延续到第二页。", "第二页的句子。"], ["第三页。"]]
    cleaned = clean_pages(pages_with(bodies))
    assert cleaned.text == "第一页的句子。\n这个句子从第一页延续到第二页。\n第二页的句子。\n第三页。"
    start = cleaned.text.index("这个句子")
    middle = cleaned.text.index("延续")
    assert cleaned.page_of(start) == 1
    assert cleaned.page_of(middle) == 2
    assert cleaned.page_of(cleaned.text.index("第三页")) == 3


def test_page_spans_tile_the_text_and_blank_pages_are_empty():
    pages = ["第一页。", "", "   \r\n  ", "第四页。", ""]
    cleaned = clean_pages(pages)
    assert cleaned.text == "第一页。\n第四页。"
    assert [span.page_no for span in cleaned.pages] == [1, 2, 3, 4, 5]
    assert cleaned.pages[0] == PageSpan(1, 0, 5)  # the break after a page's text is its own
    assert cleaned.pages[1] == PageSpan(2, 5, 5) and cleaned.pages[2] == PageSpan(3, 5, 5)
    assert cleaned.pages[3] == PageSpan(4, 5, 9) and cleaned.pages[4] == PageSpan(5, 9, 9)
    assert [cleaned.page_of(i) for i in range(len(cleaned.text))] == [1] * 5 + [4] * 4
    assert page_of([], 0) is None and cleaned.page_of(9) is None


def test_first_pages_without_text_are_empty_spans_at_zero():
    cleaned = clean_pages(["", "正文。"])
    assert cleaned.pages == [PageSpan(1, 0, 0), PageSpan(2, 0, 3)]
    assert cleaned.page_of(0) == 2


def test_no_pages_and_only_blank_pages():
    assert clean_pages([]) == CleanedText(text="", pages=[])
    assert clean_pages(["", " "]).text == ""


def test_extraction_debris_is_normalised():
    # pdfium: U+FFFE for a hyphen at a line break, control characters for unmapped glyphs, tabs.
    pages = ["2023 年 3 月 24 日\ufffe2023 年 9 月 23 日。\n第三节\t\t 公司业务概要\x01\n2000\x1f12\x1f20。"]
    assert clean_pages(pages).text == "2023 年 3 月 24 日-2023 年 9 月 23 日。\n第三节 公司业务概要\n2000 12 20。"


def test_offsets_are_code_points_with_extension_b_and_emoji():
    bodies = [["𠀀字开头的句子😀。", "第二句𠀁。"], ["第二页𠀂。"], ["第三页。"]]
    cleaned = clean_pages(pages_with(bodies))
    assert cleaned.text == "𠀀字开头的句子😀。\n第二句𠀁。\n第二页𠀂。\n第三页。"
    offset = cleaned.text.index("第二页")
    assert cleaned.page_of(offset) == 2
    assert cleaned.text[cleaned.pages[1].start : cleaned.pages[1].end].startswith("第二页𠀂。")


def test_cleaning_is_linear_on_a_report_sized_input():
    full = "公司坚持专精特新发展道路持续开展工艺改进和产品迭代全年完成技术"
    page = "\r\n".join([HEADER] + [full] * 40 + ["结束。", "12"])
    pages = [page.replace("12", str(n)) if False else page[: -2] + str(n) for n in range(1, 301)]
    started = time.perf_counter()
    cleaned = clean_pages(pages)
    elapsed = time.perf_counter() - started
    assert HEADER not in cleaned.text
    assert elapsed < 5.0  # about 0.3 s here; a quadratic pass would take minutes
