import matplotlib

matplotlib.use("Agg")

from groundcoder.fonts import cjk_font_path, missing_glyphs, use_cjk_font  # noqa: E402


def test_shipped_font_covers_the_default_codebook_and_dictionaries():
    from groundcoder.codebook import Codebook

    cb = Codebook.default()
    names = [c.name for c in cb.concepts] + [c.name for c in cb.initial_categories]
    names += [m.name for m in cb.main_categories] + ["微创新机会识别与框定", "数字赋能", "外部导向因素"]
    assert missing_glyphs("".join(names)) == set()
    assert missing_glyphs("移动互联网 NFC支付 EB级存储 Fintech 2023年") == set()


def test_missing_glyphs_reports_what_the_font_lacks():
    assert missing_glyphs("\U0001F600") == {"\U0001F600"}  # no emoji in a CJK text font


def test_matplotlib_draws_chinese_with_the_shipped_font(tmp_path):
    import warnings

    import matplotlib.pyplot as plt
    from matplotlib import font_manager

    name = use_cjk_font()
    fig, ax = plt.subplots()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # "Glyph ... missing from font" is a warning in matplotlib
        ax.set_title("数字基础设施与知识生态")
        fig.savefig(tmp_path / "t.png")
    plt.close(fig)
    found = font_manager.findfont(font_manager.FontProperties(family=name))
    assert found == str(cjk_font_path())
