"""The demo screening panel: ~200 fictional listed firms x 4 years of annual-report text, and their
patents in incoPat's export layout.

Generated deterministically from the hand-written sentence pool in corpora/demo/panel/sentence_pool.yaml
(``python -m groundcoder.demo_corpus panel`` rewrites corpora/demo/panel/). Each firm has latent
propensities (micro-innovation talk, digital-transformation talk, patent self-citation) so the screening
funnel has something real to find; the 40 hand-coded firms are among the panel, written as the study's
kind of firm: micro-innovative, self-citing, digital.
"""

from __future__ import annotations

import csv
import io
import random
from dataclasses import dataclass
from pathlib import Path

import yaml

from ..atomic import atomic_path, write_text
from ..paths import dictionaries_dir

PANEL_YEARS = (2019, 2020, 2021, 2022)
PATENT_YEARS = tuple(range(2013, 2023))
N_PANEL_FIRMS = 200
SEED = 20240611

INCOPAT_COLUMNS = ["序号", "标题", "公开（公告）号", "公开（公告）日", "申请号", "申请日", "申请人", "标准化申请人",
                   "引证专利", "引证申请人", "被引证专利", "被引证申请人", "IPC主分类", "专利类型"]
PANEL_FIRM_COLUMNS = ["firm_id", "name", "short_name", "industry", "province", "board", "coded", "subsidiary"]

_PLACES = ["澄江", "临溪", "北岚", "云岫", "青珩", "南浔", "玉衡", "川汇", "泓岳", "岚山", "东澜", "曦川", "茗溪", "瀚宇",
           "栖霞", "宁远", "常澜", "汀州", "峪泉", "溯源", "衡川", "沐阳", "盛渚", "湛卢", "拓岭", "渝澄", "楚衡", "皖江",
           "闽越", "晋远", "冀北", "湘澧", "赣源", "黔灵", "滇池", "陇川", "苏澜", "浙岳", "鲁峰", "豫衡"]
_BRANDS = ["精工", "智控", "微电", "新材", "联创", "华测", "锐拓", "恒芯", "鼎力", "科瑞", "奥维", "博远", "迅捷", "中科",
           "力拓", "启明", "天工", "信达", "卓越", "永安"]
_SUFFIX = {
    "manufacturing": ["精密制造", "新材料", "传动科技", "模具科技"],
    "software": ["软件", "信息技术", "数据科技", "网络科技"],
    "equipment": ["智能装备", "机械", "自动化设备", "仪器"],
    "electronics": ["电子", "半导体", "光电", "微系统"],
}
_PRODUCTS = {
    "manufacturing": ["精密齿轮", "特种合金件", "注塑模具", "密封组件", "精锻毛坯"],
    "software": ["工业软件", "数据管理平台", "行业应用系统", "安全中间件"],
    "equipment": ["自动化产线", "检测设备", "专用机床", "包装机械"],
    "electronics": ["功率器件", "传感器模组", "显示驱动芯片", "光通信器件"],
}
_IPC = {"manufacturing": ["B21K", "F16H", "B29C", "C22C"], "software": ["G06F", "G06Q", "H04L"],
        "equipment": ["B23Q", "G01N", "B65B", "B25J"], "electronics": ["H01L", "G01D", "H03K", "H04B"]}
_PROVINCES = ["浙江", "江苏", "广东", "山东", "四川", "湖北", "湖南", "安徽", "福建", "河南", "北京", "上海", "陕西", "辽宁"]
_BOARDS = ["主板", "创业板", "科创板", "北交所"]
_UNIVERSITIES = ["澄江理工大学", "北岚工业大学", "临溪科技学院"]


@dataclass
class PanelFirm:
    firm_id: str
    name: str
    short_name: str
    industry: str
    province: str
    board: str
    coded: bool
    subsidiary: str
    mi_rate: float      # expected micro-innovation sentences per report
    dt_rate: float      # expected digital sentences per report
    self_cite: float    # probability that a backward citation points to the firm's own earlier patent
    patents_per_year: float
    products: tuple[str, ...] = ()


@dataclass
class PanelSummary:
    firms: int
    reports: int
    patents: int
    characters: int

    def __str__(self) -> str:
        return f"panel: {self.firms} firms, {self.reports} reports ({self.characters} characters), {self.patents} patents"


def _keywords(name: str) -> list[str]:
    data = yaml.safe_load((dictionaries_dir() / name).read_text(encoding="utf-8"))
    return [w for words in data["dimensions"].values() for w in words]


def _poisson(rng: random.Random, lam: float) -> int:
    # Knuth's method; lam stays small here.
    import math

    limit, k, p = math.exp(-lam), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1


def _make_firms(rng: random.Random, coded_rows: list[dict]) -> list[PanelFirm]:
    firms: list[PanelFirm] = []
    used_names = {r["name"] for r in coded_rows}
    for row in coded_rows:
        short = row["short_name"]
        firms.append(PanelFirm(row["firm_id"], row["name"], short, row["industry"], row["province"], row["board"],
                               True, f"{short}（苏州）科技有限公司" if rng.random() < 0.4 else "",
                               mi_rate=rng.uniform(1.6, 3.2), dt_rate=rng.uniform(2.5, 5.0),
                               self_cite=rng.uniform(0.45, 0.8), patents_per_year=rng.uniform(2.0, 4.0),
                               products=tuple(p for p in row["products"].split("、") if p)))
    index = max((int(r["firm_id"][1:]) for r in coded_rows), default=0) + 1
    industries = list(_SUFFIX)
    while len(firms) < N_PANEL_FIRMS:
        industry = rng.choice(industries)
        short = rng.choice(_PLACES) + rng.choice(_BRANDS)
        name = f"{short}{rng.choice(_SUFFIX[industry])}股份有限公司"
        if name in used_names or any(f.short_name == short for f in firms):
            continue
        used_names.add(name)
        # A minority of the panel talks about micro-innovation, and fewer still cite themselves.
        talker = rng.random() < 0.3
        firms.append(PanelFirm(f"D{index:04d}", name, short, industry, rng.choice(_PROVINCES), rng.choice(_BOARDS),
                               False, f"{short}（{rng.choice(_PROVINCES)}）有限公司" if rng.random() < 0.2 else "",
                               mi_rate=rng.uniform(0.8, 2.5) if talker else rng.uniform(0.0, 0.5),
                               dt_rate=rng.uniform(0.2, 4.0),
                               self_cite=rng.uniform(0.3, 0.7) if rng.random() < 0.35 else rng.uniform(0.0, 0.08),
                               patents_per_year=rng.uniform(0.5, 3.0)))
        index += 1
    return firms


def _fill(template: str, rng: random.Random, firm: PanelFirm, year: int, mi: list[str], dt: list[str]) -> str:
    return template.format(short=firm.short_name, product=rng.choice(firm.products or _PRODUCTS[firm.industry]),
                           rev=f"{rng.uniform(0.8, 30):.2f}", pct=f"{rng.uniform(1, 40):.1f}", n=rng.randint(2, 12),
                           year=year + rng.randint(0, 2), mi=rng.choice(mi), dt=rng.choice(dt))


def _mdna_heading(year: int) -> str:
    # The MD&A's title changed with the CSRC's disclosure rules: 董事会报告 to 2014, 管理层讨论与分析 in
    # 2015 and from 2021, 经营情况讨论与分析 in 2016-2020.
    if year <= 2014:
        return "第四节 董事会报告"
    if 2016 <= year <= 2020:
        return "第四节 经营情况讨论与分析"
    return "第三节 管理层讨论与分析"


def _report(rng: random.Random, pool: dict, firm: PanelFirm, year: int, mi: list[str], dt: list[str]) -> str:
    def sentences(kind: str, count: int) -> list[str]:
        return [_fill(rng.choice(pool[kind]), rng, firm, year, mi, dt) for _ in range(count)]

    body = sentences("neutral", rng.randint(14, 20))
    body += sentences("micro_innovation", _poisson(rng, firm.mi_rate))
    body += sentences("digital", _poisson(rng, firm.dt_rate))
    if rng.random() < 0.15:
        body += sentences("negated", 1)
    if rng.random() < 0.1:
        body += sentences("pitfalls", 1)
    rng.shuffle(body)
    paragraphs = ["".join(body[i:i + 4]) for i in range(0, len(body), 4)]
    toc = [f"第一节 重要提示、目录和释义 ........ 2", f"第二节 公司简介和主要财务指标 ........ 6",
           f"{_mdna_heading(year)} ........ 10", "第五节 重要事项 ........ 30", "第六节 公司治理 ........ 45"]
    intro = sentences("neutral", 3)
    governance = sentences("neutral", 3)
    if rng.random() < 0.3:
        # Executive biographies mention other organisations' businesses: counted only in a whole-report count.
        governance.append(f"独立董事简历：曾任某{rng.choice(dt)}研究机构研究员。")
    parts = [f"{firm.name}{year}年年度报告（节选）", "目录", *toc,
             "第一节 重要提示、目录和释义", "公司董事会、监事会及董事、监事、高级管理人员保证年度报告内容的真实、准确、完整。",
             "第二节 公司简介和主要财务指标", "".join(intro),
             _mdna_heading(year), *paragraphs,
             "第五节 重要事项", "".join(sentences("neutral", 2)),
             "第六节 公司治理", "".join(governance)]
    return "\n".join(parts) + "\n"


def _pub_number(rng: random.Random, kind: str, used: set[str]) -> str:
    while True:
        lead = "1" if kind == "发明" else "2"
        number = f"CN{lead}{rng.randint(10_000_000, 19_999_999):08d}"
        if number not in used:
            used.add(number)
            return number


def _patents(rng: random.Random, firms: list[PanelFirm]) -> list[dict]:
    used: set[str] = set()
    patents: list[dict] = []   # in application order
    by_firm: dict[str, list[dict]] = {f.firm_id: [] for f in firms}
    for year in PATENT_YEARS:
        for firm in firms:
            for _ in range(_poisson(rng, firm.patents_per_year)):
                kind = "发明" if rng.random() < 0.55 else "实用新型"
                base = _pub_number(rng, kind, used)
                applicants = [firm.subsidiary if firm.subsidiary and rng.random() < 0.25 else firm.name]
                if rng.random() < 0.08:
                    applicants.append(rng.choice(_UNIVERSITIES))
                patent = {"firm": firm, "year": year, "kind": kind, "base": base,
                          "pub": base + ("A" if kind == "发明" else "U"),
                          "app": f"CN{year}{'1' if kind == '发明' else '2'}{rng.randint(1_000_000, 9_999_999)}."
                                 f"{rng.randint(0, 9)}",
                          "applicants": applicants, "cites": [], "cited_by": []}
                earlier_own = [p for p in by_firm[firm.firm_id] if p["year"] < year]
                earlier_all = [p for p in patents if p["year"] < year]
                for _ in range(_poisson(rng, 2.2)):
                    if earlier_own and rng.random() < firm.self_cite:
                        target = rng.choice(earlier_own)
                    elif earlier_all:
                        target = rng.choice(earlier_all)
                    else:
                        continue
                    if target is not patent and target not in patent["cites"]:
                        patent["cites"].append(target)
                        target["cited_by"].append(patent)
                patents.append(patent)
                by_firm[firm.firm_id].append(patent)
    return patents


def _cited_number(rng: random.Random, target: dict) -> str:
    # Exports cite the same patent in several spellings: with its kind code, without one, or by its grant.
    roll = rng.random()
    if roll < 0.6:
        return target["pub"]
    if roll < 0.8:
        return target["base"]
    return target["base"] + ("B" if target["kind"] == "发明" else "U")


def _join(rng: random.Random, values: list[str]) -> str:
    return ("\n" if rng.random() < 0.05 else "; ").join(values)


def _write_incopat(path: Path, rng: random.Random, patents: list[dict], industries: dict[str, str]) -> None:
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.title = "incoPat"
    ws.append(INCOPAT_COLUMNS)
    for i, p in enumerate(patents, start=1):
        firm = p["firm"]
        title = f"一种{rng.choice(_PRODUCTS[firm.industry])}的{rng.choice(['改进结构', '检测方法', '控制装置', '加工工艺', '组件'])}"
        standard = [firm.name if a == firm.subsidiary else a for a in p["applicants"]]
        ws.append([i, title, p["pub"], f"{p['year'] + 1}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}", p["app"],
                   f"{p['year']}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}", _join(rng, p["applicants"]),
                   _join(rng, standard),
                   _join(rng, [_cited_number(rng, t) for t in p["cites"]]),
                   _join(rng, sorted({a for t in p["cites"] for a in t["applicants"]})),
                   _join(rng, [c["pub"] for c in p["cited_by"]]),
                   _join(rng, sorted({a for c in p["cited_by"] for a in c["applicants"]})),
                   f"{rng.choice(_IPC[industries[firm.firm_id]])}{rng.randint(1, 99)}/{rng.randint(0, 99):02d}",
                   p["kind"]])
    # Fixed document properties keep the file byte-identical across runs.
    import datetime as _dt

    wb.properties.created = wb.properties.modified = _dt.datetime(2024, 1, 1)
    wb.properties.creator = "groundcoder demo panel"
    with atomic_path(path, suffix=".xlsx") as tmp:
        wb.save(tmp)


def generate_panel(out_dir: Path, coded_firms_csv: Path, seed: int = SEED) -> PanelSummary:
    rng = random.Random(seed)
    out_dir = Path(out_dir)
    pool = yaml.safe_load((out_dir / "sentence_pool.yaml").read_text(encoding="utf-8"))
    with open(coded_firms_csv, encoding="utf-8", newline="") as fh:
        coded_rows = list(csv.DictReader(fh))
    mi, dt = _keywords("micro_innovation.yaml"), _keywords("digital_transformation_wufei2021.yaml")
    firms = _make_firms(rng, coded_rows)
    reports_dir = out_dir / "reports"
    reports_dir.mkdir(parents=True, exist_ok=True)
    characters = 0
    n_reports = 0
    for firm in firms:
        for year in PANEL_YEARS:
            text = _report(rng, pool, firm, year, mi, dt)
            characters += len(text)
            n_reports += 1
            write_text(reports_dir / f"{firm.firm_id}_{year}.txt", text)
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(PANEL_FIRM_COLUMNS)
    for f in firms:
        writer.writerow([f.firm_id, f.name, f.short_name, f.industry, f.province, f.board, int(f.coded), f.subsidiary])
    write_text(out_dir / "firms.csv", buf.getvalue())
    aliases = io.StringIO()
    writer = csv.writer(aliases, lineterminator="\n")
    writer.writerow(["firm", "alias"])
    for f in firms:
        if f.subsidiary:
            writer.writerow([f.name, f.subsidiary])
    write_text(out_dir / "subsidiaries.csv", aliases.getvalue())
    patents = _patents(rng, firms)
    _write_incopat(out_dir / "patents_incopat.xlsx", rng, patents, {f.firm_id: f.industry for f in firms})
    return PanelSummary(len(firms), n_reports, len(patents), characters)
