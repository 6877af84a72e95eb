"""Keyword dictionaries: the shipped ones word for word, validation errors with file and line, user
dictionaries that replace or extend the shipped ones."""

from __future__ import annotations

import pytest

from groundcoder.errors import InputError
from groundcoder.screening.dictionaries import (
    load_dictionaries,
    load_dictionary,
    normalise_keyword,
    shipped_dictionaries,
    union_keywords,
)

# Wu Fei, Hu Huizhi, Lin Huiyan, Ren Xiaoyi (2021), 管理世界 37(7), figure 1: 76 words in 5 dimensions.
WU_FEI_2021 = {
    "人工智能技术": ["人工智能", "商业智能", "图像理解", "投资决策辅助系统", "智能数据分析", "智能机器人", "机器学习", "深度学习",
                 "语义搜索", "生物识别技术", "人脸识别", "语音识别", "身份验证", "自动驾驶", "自然语言处理"],
    "大数据技术": ["大数据", "数据挖掘", "文本挖掘", "数据可视化", "异构数据", "征信", "增强现实", "混合现实", "虚拟现实"],
    "云计算技术": ["云计算", "流计算", "图计算", "内存计算", "多方安全计算", "类脑计算", "绿色计算", "认知计算", "融合架构",
                "亿级并发", "EB级存储", "物联网", "信息物理系统"],
    "区块链技术": ["区块链", "数字货币", "分布式计算", "差分隐私技术", "智能金融合约"],
    "数字技术运用": ["移动互联网", "工业互联网", "移动互联", "互联网医疗", "电子商务", "移动支付", "第三方支付", "NFC支付",
                 "智能能源", "B2B", "B2C", "C2B", "C2C", "O2O", "网联", "智能穿戴", "智慧农业", "智能交通", "智能医疗",
                 "智能客服", "智能家居", "智能投顾", "智能文旅", "智能环保", "智能电网", "智能营销", "数字营销", "无人零售",
                 "互联网金融", "数字金融", "Fintech", "金融科技", "量化金融", "开放银行"],
}  # fmt: skip


def test_shipped_wu_fei_dictionary_is_exactly_the_published_one():
    d = load_dictionary("digital_transformation_wufei2021")
    assert len(d) == 76
    assert [len(ws) for ws in d.dimensions.values()] == [15, 9, 13, 5, 34]
    assert {dim: list(ws) for dim, ws in d.dimensions.items()} == WU_FEI_2021
    # the broken copies in circulation split these two
    assert "NFC支付" in d.words and "EB级存储" in d.words
    assert not {"NPC", "NFC", "EB级", "存储", "支付"} & set(d.words)
    assert d.dimension_of("NFC支付") == "数字技术运用"


def test_shipped_micro_innovation_dictionary_has_the_study_words():
    d = load_dictionary("micro_innovation")
    assert {"微创新", "迭代创新"} <= set(d.words)
    assert set(shipped_dictionaries()) >= {"micro_innovation", "digital_transformation_wufei2021"}


def _write(path, text):
    path.write_text(text, encoding="utf-8")
    return path


def test_duplicate_keyword_names_file_and_both_lines(tmp_path):
    path = _write(tmp_path / "d.yaml", "name: d\ndimensions:\n  a: [大数据, 云计算]\n  b:\n    - 区块链\n    - 大数据\n")
    with pytest.raises(InputError) as err:
        load_dictionary(path)
    assert err.value.path == path and err.value.line == 6
    assert "大数据" in str(err.value) and "line 3" in str(err.value)


def test_blank_yaml_entries_are_errors_with_their_line(tmp_path):
    for text, line in (("dimensions:\n  a:\n    - 大数据\n    -\n", 4), ('dimensions:\n  a: [大数据, ""]\n', 2)):
        path = _write(tmp_path / "blank.yaml", text)
        with pytest.raises(InputError) as err:
            load_dictionary(path)
        assert err.value.line == line and "blank" in err.value.message


def test_words_that_normalise_alike_are_an_error(tmp_path):
    path = _write(tmp_path / "d.yaml", "dimensions:\n  a: [Fintech]\n  b: [ＦｉｎＴｅｃｈ]\n")
    with pytest.raises(InputError) as err:
        load_dictionary(path)
    assert err.value.line == 3 and "same after normalisation" in err.value.message
    assert normalise_keyword("ＮＦＣ 支付") == normalise_keyword("nfc支付") == "nfc支付"


def test_white_space_inside_a_keyword_is_an_error(tmp_path):
    path = _write(tmp_path / "d.txt", "大数据\nNFC 支付\n")
    with pytest.raises(InputError) as err:
        load_dictionary(path)
    assert err.value.line == 2 and "white space" in err.value.message


def test_txt_dictionary_with_comments_and_dimensions(tmp_path):
    path = _write(tmp_path / "mine.txt", "# my study's words\n微创新\n[数字]\n云计算  # cloud\nC#\n\n")
    d = load_dictionary(path)
    assert d.name == "mine"
    assert d.dimensions == {"mine": ("微创新",), "数字": ("云计算", "C#")}  # "#" inside a word is kept


def test_blank_line_inside_a_txt_dictionary_is_an_error(tmp_path):
    path = _write(tmp_path / "d.txt", "微创新\n\n迭代创新\n")
    with pytest.raises(InputError) as err:
        load_dictionary(path)
    assert err.value.path == path and err.value.line == 2 and "blank line" in err.value.message


def test_duplicates_in_a_txt_dictionary_name_both_lines(tmp_path):
    path = _write(tmp_path / "d.txt", "微创新\n迭代创新\n微创新\n")
    with pytest.raises(InputError) as err:
        load_dictionary(path)
    assert err.value.line == 3 and "line 1" in str(err.value)


def test_a_users_own_list_replaces_the_shipped_one(tmp_path):
    words = [f"数字词{i:02d}" for i in range(51)]  # the seed study's list had 51 words
    path = _write(tmp_path / "study51.txt", "\n".join(words) + "\n")
    d = load_dictionaries(path)
    assert len(d) == 51 and d.words == tuple(words)


def test_extending_the_shipped_dictionary(tmp_path):
    extra = _write(tmp_path / "extra.txt", "[扩展]\n数字孪生\n工业大脑\n")
    d = load_dictionaries("digital_transformation_wufei2021", [extra])
    assert len(d) == 78 and d.dimension_of("数字孪生") == "扩展"
    assert d.digest() != load_dictionary("digital_transformation_wufei2021").digest()


def test_extending_with_a_word_already_there_names_the_extension_file(tmp_path):
    extra = _write(tmp_path / "extra.txt", "数字孪生\n大数据\n")
    with pytest.raises(InputError) as err:
        load_dictionaries("digital_transformation_wufei2021", [extra])
    assert err.value.path == extra and err.value.line == 2


def test_relative_paths_resolve_from_the_base_folder(tmp_path):
    _write(tmp_path / "words.txt", "微创新\n")
    assert load_dictionary("words.txt", base=tmp_path).words == ("微创新",)


def test_unknown_dictionary_lists_the_shipped_ones():
    with pytest.raises(InputError) as err:
        load_dictionary("no_such_dictionary")
    assert "micro_innovation" in err.value.hint


def test_union_keeps_order_and_drops_repeats_across_dictionaries(tmp_path):
    a = load_dictionary(_write(tmp_path / "a.txt", "大数据\n云计算\n"))
    b = load_dictionary(_write(tmp_path / "b.txt", "云计算\n微创新\n"))
    assert union_keywords([a, b]) == ("大数据", "云计算", "微创新")
