"""Sentence and paragraph segmentation of Chinese text with code-point offsets."""

from __future__ import annotations

import time

import pytest

from groundcoder.segmentation import Segment, split_paragraphs, split_sentences


def texts(segments: list[Segment]) -> list[str]:
    return [segment.text for segment in segments]


def assert_offsets(text: str, segments: list[Segment]) -> None:
    for segment in segments:
        assert text[segment.start : segment.end] == segment.text
    starts = [segment.start for segment in segments]
    assert starts == sorted(starts)


@pytest.mark.parametrize("mark", list("。！？；;?!"))
def test_each_end_mark_ends_a_sentence(mark):
    text = f"第一句{mark}第二句{mark}"
    segments = split_sentences(text)
    assert texts(segments) == [f"第一句{mark}", f"第二句{mark}"]
    assert all(segment.kind == "sentence" for segment in segments)


def test_ellipsis_and_line_breaks_end_sentences():
    text = "市场前景广阔……公司将继续努力\n没有标点的标题\r\n下一行。"
    assert texts(split_sentences(text)) == ["市场前景广阔……", "公司将继续努力", "没有标点的标题", "下一行。"]


def test_a_single_ellipsis_character_does_not_end_a_sentence():
    assert texts(split_sentences("产品包括A…B等。")) == ["产品包括A…B等。"]


def test_runs_of_marks_stay_together():
    assert texts(split_sentences("真的吗？！是的。。好……。")) == ["真的吗？！", "是的。。", "好……。"]


def test_closing_quote_and_bracket_after_the_mark_stay_with_the_sentence():
    text = "董事长表示：“我们坚持创新。”公司（详见附注。）随后发布公告。"
    assert texts(split_sentences(text)) == ["董事长表示：“我们坚持创新。”", "公司（详见附注。）", "随后发布公告。"]


def test_end_marks_inside_quotes_or_brackets_do_not_split():
    text = "他说：“我们要创新。我们要发展！”然后离开。括号（第一句。第二句；第三句）之后。"
    assert texts(split_sentences(text)) == [
        "他说：“我们要创新。我们要发展！”",
        "然后离开。",
        "括号（第一句。第二句；第三句）之后。",
    ]


def test_nested_quotes_and_book_titles():
    text = "根据《关于“专精特新”企业的通知！（试行）》规定，公司申报成功。下一句。"
    assert texts(split_sentences(text)) == ["根据《关于“专精特新”企业的通知！（试行）》规定，公司申报成功。", "下一句。"]


def test_straight_quotes_pair_in_order():
    text = '他说"好的。就这样。"然后离开。'
    assert texts(split_sentences(text)) == ['他说"好的。就这样。"', "然后离开。"]


def test_an_unclosed_bracket_does_not_swallow_the_text():
    text = "未闭合（括号的句子。后面的句子。\n下一行（也是。"
    assert texts(split_sentences(text)) == ["未闭合（括号的句子。", "后面的句子。", "下一行（也是。"]


def test_a_stray_closer_is_kept_in_its_sentence():
    assert texts(split_sentences("1）研发投入增加。2）产品升级。")) == ["1）研发投入增加。", "2）产品升级。"]


def test_quotes_do_not_reach_across_lines():
    text = "“第一行没有闭合。\n第二行。”第三句。"
    assert texts(split_sentences(text)) == ["“第一行没有闭合。", "第二行。”", "第三句。"]


def test_whitespace_is_stripped_and_whitespace_only_segments_dropped():
    text = "  第一句。   \n\n\t \u3000第二句。 \n   "
    segments = split_sentences(text)
    assert texts(segments) == ["第一句。", "第二句。"]
    assert_offsets(text, segments)
    assert split_sentences("") == [] and split_sentences(" \n\u3000\n") == []


def test_offsets_are_code_points_with_extension_b_and_emoji():
    text = "𠀀𠀁公司😀成立。👍🏽研发“𠀂创新。”完成！\n𪚥第二段😀。"
    segments = split_sentences(text)
    assert texts(segments) == ["𠀀𠀁公司😀成立。", "👍🏽研发“𠀂创新。”", "完成！", "𪚥第二段😀。"]
    assert_offsets(text, segments)
    assert segments[1].start == 8  # 𠀀 𠀁 公 司 😀 成 立 。 are 8 code points: one each
    assert len(text.encode("utf-16-le")) // 2 > len(text)  # UTF-16 offsets would differ


def test_paragraphs_split_on_line_breaks_and_blank_lines():
    text = "第一段第一句。第一段第二句。\n第二段。\r\n\r\n  第三段（有空行）。  \n\n\n"
    segments = split_paragraphs(text)
    assert texts(segments) == ["第一段第一句。第一段第二句。", "第二段。", "第三段（有空行）。"]
    assert all(segment.kind == "paragraph" for segment in segments)
    assert_offsets(text, segments)


def test_paragraph_offsets_with_emoji():
    text = "😀第一段𠀀。\n\n𠀁第二段😀。"
    segments = split_paragraphs(text)
    assert [(s.start, s.end) for s in segments] == [(0, 6), (8, 14)]
    assert_offsets(text, segments)


def test_sentence_segments_cover_all_non_space_text():
    text = "报告期内，公司实现营业收入12.5亿元；同比增长8%。“创新是第一动力。”他说。没有句号的结尾"
    segments = split_sentences(text)
    assert "".join(texts(segments)) == text.replace(" ", "")
    assert texts(segments)[-1] == "没有句号的结尾"


def test_segmentation_is_fast_on_a_report_sized_text():
    text = ("公司坚持专精特新发展道路，持续推进微创新（详见附注。）；“研发投入增长。”\n" * 20000)
    started = time.perf_counter()
    segments = split_sentences(text)
    elapsed = time.perf_counter() - started
    assert len(segments) == 3 * 20000
    assert elapsed < 5.0  # about 0.5 s here
