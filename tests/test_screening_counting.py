"""Keyword counting: jieba mode equals the plain jieba loop (counts and tokens), fast mode is
leftmost-longest on normalised text, negation, denominators, and jieba's global tokenizer untouched."""

from __future__ import annotations

import random
from collections import Counter

import pytest
import yaml

from groundcoder.errors import InputError
from groundcoder.paths import demo_corpus_dir
from groundcoder.screening.counting import CountOptions, KeywordCounter, private_tokenizer, reference_counts
from groundcoder.screening.dictionaries import load_dictionary, union_keywords
from groundcoder.screening.matching import LeftmostLongest, brute_force_leftmost_longest
from groundcoder.screening.normalise import FastNormaliser, normalise_text

KEYWORDS = union_keywords([load_dictionary("micro_innovation"), load_dictionary("digital_transformation_wufei2021")])

# Written for these tests: the places where jieba and substring matching part ways, ASCII runs that
# jieba's HMM splits its own way (dates, decimals, addresses, C++, AT&T), mixed scripts and spacing.
TRICKY = [
    "公司凭借强大数据处理能力赢得客户。项目组搭建了安全大数据库。公司提供移动互联网络优化服务，并布局移动互联网与移动互联。",
    "2021.6.30召开股东大会，网址www.example.com.cn，增长12.5%，1-12月，2012.10-2016.11任职，C++与AT&T、c#。",
    "公司B2B-平台与O2O业务、NFC支付、Fintech和FinTech、EB级存储方案；ＮＦＣ支付与nfc支付。",
    "公司坚持微创新，快速迭代，持续改进产品；迭代创新是我们的方法。物联网，云计算，大数据，人工智能。",
    "第四节 经营情况讨论与分析\n公司运用大数\n据和云 计算技术。\r\n区块链\t数字货币。㈱①②③ＡＢＣ１２３",
    "",
    "。，、；：",
    "English only text with no Chinese at all 123.45",
]


def _pool_texts(n: int, seed: int = 3) -> list[str]:
    pool = yaml.safe_load((demo_corpus_dir() / "panel" / "sentence_pool.yaml").read_text(encoding="utf-8"))
    rng = random.Random(seed)
    fill = {"short": "澄江精工", "product": "精密齿轮", "rev": "12.34", "pct": "5.6", "n": "3", "year": "2021"}
    texts = []
    for _ in range(n):
        sentences = []
        for kind in rng.choices(list(pool), k=30):
            template = rng.choice(pool[kind])
            sentences.append(template.format(**fill, mi=rng.choice(KEYWORDS[:10]), dt=rng.choice(KEYWORDS[10:])))
        texts.append("".join(sentences))
    return texts


@pytest.fixture(scope="module")
def reference_tokenizer():
    return private_tokenizer(KEYWORDS)  # a fresh tokenizer, not the one the counters share


@pytest.fixture(scope="module")
def jieba_counter():
    return KeywordCounter(KEYWORDS, CountOptions(mode="jieba"))


@pytest.mark.parametrize("backend", ["rjieba", "jieba"])
def test_jieba_mode_equals_the_plain_loop(backend, reference_tokenizer):
    counter = KeywordCounter(KEYWORDS, CountOptions(mode="jieba", token_backend=backend))
    long_text = "\n".join(_pool_texts(30, seed=8)) + TRICKY[1]  # > 15,000 characters: the prefiltered paths
    assert len(long_text) > 20_000
    for text in TRICKY + _pool_texts(12) + [long_text]:
        counts = counter.count(text)
        expected_counts, expected_tokens = reference_counts(text, KEYWORDS, tokenizer=reference_tokenizer)
        assert counts.counts == expected_counts, text
        assert counts.tokens == expected_tokens, text


def test_jieba_mode_counts_the_study_semantics(jieba_counter):
    counts = jieba_counter.count(TRICKY[0]).counts
    # jieba cuts 强大/数据处理, 安全/大/数据库 and 移动/互联网络: 大数据 and 移动互联 occur as substrings
    # (3 times for 移动互联) but are tokens only where jieba says so
    assert TRICKY[0].count("移动互联") == 3 and "大数据" not in counts
    assert counts["移动互联网"] == 1 and counts["移动互联"] == 1


def test_jieba_mode_without_hmm_equals_the_plain_loop(reference_tokenizer):
    counter = KeywordCounter(KEYWORDS, CountOptions(hmm=False))
    for text in TRICKY[:3]:
        tokens = reference_tokenizer.lcut(text, HMM=False)
        expected = Counter(t for t in tokens if t in set(KEYWORDS))
        assert counter.count(text).counts == dict(expected)


def test_the_global_jieba_tokenizer_is_untouched():
    import jieba

    sentence = "公司坚持微创新并部署EB级存储和NFC支付"
    before = jieba.lcut(sentence)
    counter = KeywordCounter(KEYWORDS, CountOptions(mode="jieba"))
    assert counter.count(sentence).counts == {"微创新": 1, "EB级存储": 1, "NFC支付": 1}
    assert jieba.lcut(sentence) == before
    assert "微创新" not in before and "EB级存储" not in jieba.dt.FREQ


def test_fast_mode_is_leftmost_longest_on_normalised_text():
    counter = KeywordCounter(KEYWORDS, CountOptions(mode="fast", tokens=False))
    counts = counter.count("移动互联网与移动互联；大数\n据；ＮＦＣ 支付和nfc支付；FINTECH；强大数据处理").counts
    assert counts["移动互联网"] == 1 and counts["移动互联"] == 1  # not 2: nested in 移动互联网 once
    assert counts["大数据"] == 2  # across the line break, and inside 强大数据处理 (substring semantics)
    assert counts["NFC支付"] == 2 and counts["Fintech"] == 1


@pytest.mark.parametrize("engine", ["regex", "ahocorasick"])
def test_matching_engines_agree_with_brute_force(engine):
    rng = random.Random(11)
    alphabet = "移动互联网大数据云计算ab"
    for _ in range(200):
        words = {"".join(rng.choice(alphabet) for _ in range(rng.randint(1, 4))) for _ in range(rng.randint(1, 8))}
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 60)))
        matcher = LeftmostLongest(words, engine=engine)
        assert list(matcher.finditer(text)) == brute_force_leftmost_longest(words, text), (words, text)


def test_the_prefilter_for_long_texts_finds_every_match():
    rng = random.Random(12)
    alphabet = "移动互联网大数据云计算工业ab"
    words = ["移动互联", "移动互联网", "大数据", "数据", "云", "工业互联网", "ab", "b"]  # nested, 1-char, shared prefixes
    text = "".join(rng.choice(alphabet) for _ in range(40_000))  # long enough for the numpy prefilter
    expected = brute_force_leftmost_longest(words, text)
    matcher = LeftmostLongest(words)
    assert list(matcher.finditer(text)) == expected
    points = FastNormaliser(None).normalise_points(text)[1]
    assert list(matcher.finditer(text, points)) == expected
    assert list(LeftmostLongest(words, engine="ahocorasick").finditer(text)) == expected


def test_fast_normaliser_is_nfkc_without_white_space_and_ascii_lower_case():
    pool = list("大数据云计算，。（）ＡＢＣａｂｃ０１２ABC xyz①②㎡⼤⼈\u3000\u00a0\n\t\u0301\u0308e\u1100\u1161\u11a8가ﬁ¨…İ")
    pool += ["\U0002f800", "\U0001d400", "\uf967", "Ｆｉｎｔｅｃｈ"]
    rng = random.Random(5)
    exact = FastNormaliser(None)
    partial = FastNormaliser(set("大数据云计算nfcb2ti"))
    words = ["大数据", "云计算", "nfc", "b2b", "fi"]
    for _ in range(500):
        text = "".join(rng.choice(pool) for _ in range(rng.randint(0, 40)))
        assert exact.normalise(text)[0] == normalise_text(text), text
        # with an alphabet, characters that cannot matter are left as they are: the same matches
        matcher = LeftmostLongest(words)
        assert [m[2] for m in matcher.finditer(partial.normalise(text)[0])] == [m[2] for m in matcher.finditer(normalise_text(text))]


@pytest.mark.parametrize("mode", ["jieba", "fast"])
def test_negation_window(mode):
    text = "本年度公司没有开展人工智能相关研发。公司无云计算业务收入。公司不断推进大数据应用。未来三年，公司将加大对物联网的投入。"
    plain = KeywordCounter(KEYWORDS, CountOptions(mode=mode)).count(text)
    assert plain.counts == {"人工智能": 1, "云计算": 1, "大数据": 1, "物联网": 1} and plain.negated == {}
    negating = KeywordCounter(KEYWORDS, CountOptions(mode=mode, negation_window=5)).count(text)
    assert negating.counts == {"大数据": 1, "物联网": 1}  # 不断 and 未来 negate nothing
    assert negating.negated == {"人工智能": 1, "云计算": 1}
    assert KeywordCounter(KEYWORDS, CountOptions(mode=mode, negation_window=2)).count(text).negated == {"云计算": 1}


def test_denominators(jieba_counter, reference_tokenizer):
    text = "公司坚持微创新。\n Fintech 业务 增长12.5%。"
    counts = jieba_counter.count(text)
    assert counts.characters == len("公司坚持微创新。Fintech业务增长12.5%。")
    assert counts.han_characters == 11
    assert counts.tokens == reference_counts(text, KEYWORDS, tokenizer=reference_tokenizer)[1]
    fast = KeywordCounter(KEYWORDS, CountOptions(mode="fast", tokens=False)).count(text)
    assert fast.tokens is None and fast.characters == counts.characters and fast.counts == counts.counts


def test_text_statistics_are_the_same_for_short_and_long_texts():
    from groundcoder.screening.normalise import text_stats

    piece = "公司坚持微创新。\u3000 Fintech\t业务㐀增长12.5%\n"
    short = text_stats(piece)
    assert short == (len(piece) - 4, 12)  # 4 white-space characters; 㐀 (U+3400) is a CJK ideograph too
    assert text_stats(piece * 2000) == (short[0] * 2000, short[1] * 2000)  # the numpy path


def test_a_keyword_jieba_can_never_produce_is_refused_in_jieba_mode():
    with pytest.raises(InputError, match="jieba always splits"):
        KeywordCounter(["工业4.0（智能制造）"], CountOptions(mode="jieba"))
    counter = KeywordCounter(["工业4.0（智能制造）"], CountOptions(mode="fast", tokens=False))
    assert counter.count("推进工业4.0(智能制造)").counts == {"工业4.0（智能制造）": 1}


def test_options_are_checked_and_keyed():
    with pytest.raises(InputError):
        CountOptions(mode="substring")
    with pytest.raises(InputError):
        CountOptions(negation_window=-1)
    assert CountOptions().cache_key(KEYWORDS) == CountOptions().cache_key(KEYWORDS)
    assert CountOptions().cache_key(KEYWORDS) != CountOptions(scope="mdna").cache_key(KEYWORDS)
    assert CountOptions().cache_key(KEYWORDS) != CountOptions().cache_key(KEYWORDS[:-1])
