"""Benchmark: reading incoPat exports and computing per-firm patent self-citation.

    python benchmarks/patents.py                 # the demo export and a synthetic 100,000-row export
    python benchmarks/patents.py --rows 300000   # a bigger synthetic export
    python benchmarks/patents.py --no-openpyxl   # skip the (slow) openpyxl reading of the big .xlsx

Times, in one run: ``read_incopat`` (with python-calamine where installed, and with openpyxl, its
fallback), ``self_citation_by_firm`` (with the alias table), ``self_citation_by_firm_year`` and
``build_citation_graph``, on the shipped demo export (corpora/demo/panel) and on a synthetic export in
incoPat's layout (written once to a temporary folder as .xlsx and .csv: firms with subsidiaries, kind-code
variants, cited patents outside the export, "; " and newline separated cells). Nothing here is quadratic in
the number of patents, so the times should grow about linearly with ``--rows``.
"""

from __future__ import annotations

import argparse
import csv
import importlib
import random
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from groundcoder.screening import patents  # noqa: E402
from groundcoder.screening.patents import (  # noqa: E402
    build_citation_graph,
    read_alias_table,
    read_incopat,
    self_citation_by_firm,
    self_citation_by_firm_year,
)

HEADER = ["序号", "标题", "公开（公告）号", "公开（公告）日", "申请号", "申请日", "申请人", "标准化申请人",
          "引证专利", "引证申请人", "被引证专利", "被引证申请人", "IPC主分类", "专利类型"]


def synthetic_export(folder: Path, rows: int, seed: int = 7) -> tuple[Path, Path, Path]:
    """An incoPat-like export of ``rows`` patents (.xlsx and .csv) and its alias table."""
    rng = random.Random(seed)
    n_firms = max(10, rows // 50)
    firms = [f"合成{i:05d}科技股份有限公司" for i in range(n_firms)]
    subsidiary = {f: f.replace("股份有限公司", "（苏州）有限公司") for f in firms if rng.random() < 0.3}
    self_rate = {f: rng.uniform(0.3, 0.7) if rng.random() < 0.3 else rng.uniform(0.0, 0.1) for f in firms}
    by_firm: dict[str, list[int]] = {f: [] for f in firms}
    numbers, years, owners, applicants = [], [], [], []
    cites: list[list[int]] = []
    cited_by: list[list[int]] = [[] for _ in range(rows)]
    for i in range(rows):
        year = 2011 + i * 12 // rows
        firm = rng.choice(firms)
        number = f"CN{100_000_000 + i}"
        own = by_firm[firm]
        targets: list[int] = []
        for _ in range(rng.randint(0, 5)):
            if own and rng.random() < self_rate[firm]:
                targets.append(rng.choice(own[-200:]))
            elif i:
                targets.append(rng.randrange(i))
        targets = list(dict.fromkeys(targets))
        for t in targets:
            cited_by[t].append(i)
        numbers.append(number)
        years.append(year)
        owners.append(firm)
        applicants.append(subsidiary[firm] if firm in subsidiary and rng.random() < 0.25 else firm)
        cites.append(targets)
        own.append(i)

    def joined(values: list[str]) -> str:
        return ("\n" if rng.random() < 0.05 else "; ").join(values)

    table = []
    for i in range(rows):
        kind = rng.choice("AB")
        cited = [numbers[t] + rng.choice(["A", "B", ""]) for t in cites[i]]
        cited_applicants = {applicants[t] for t in cites[i]}
        if rng.random() < 0.2:  # a cited patent outside the export (an older or a foreign one)
            cited.append(f"CN{900_000_000 + rng.randrange(10**7)}A")
            cited_applicants.add(rng.choice(firms))
        table.append([i + 1, "一种合成装置", numbers[i] + kind, f"{years[i] + 1}-05-01", f"CN{years[i]}1{i:07d}.X",
                      f"{years[i]}-03-01", applicants[i], owners[i], joined(cited), joined(sorted(cited_applicants)),
                      joined([numbers[c] + "A" for c in cited_by[i]]),
                      joined(sorted({applicants[c] for c in cited_by[i]})), "G06F16/00", "发明"])
    csv_path = folder / f"synthetic_{rows}.csv"
    with open(csv_path, "w", encoding="utf-8-sig", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(HEADER)
        writer.writerows(table)
    from openpyxl import Workbook

    wb = Workbook(write_only=True)
    ws = wb.create_sheet("incoPat")
    ws.append(["incoPat 专利检索结果"])
    ws.append(HEADER)
    for values in table:
        ws.append(values)
    xlsx_path = folder / f"synthetic_{rows}.xlsx"
    wb.save(xlsx_path)
    alias_path = folder / "subsidiaries.csv"
    with open(alias_path, "w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["firm", "alias"])
        writer.writerows(subsidiary.items())
    return xlsx_path, csv_path, alias_path


def timed(label: str, function, *args, **kwargs):
    """Wall-clock and CPU seconds: on a shared, loaded machine the CPU time is the steadier number."""
    started, cpu = time.perf_counter(), time.process_time()
    result = function(*args, **kwargs)
    print(f"  {label:<42} {time.perf_counter() - started:7.2f} s wall {time.process_time() - cpu:7.2f} s CPU")
    return result


def bench(name: str, paths: list[Path], alias_path: Path | None, openpyxl_too: bool) -> None:
    print(f"{name}")
    records = None
    for path in paths:
        records = timed(f"read_incopat {path.suffix} ({'calamine' if patents._calamine() and path.suffix == '.xlsx' else 'python'})",
                        read_incopat, path)
        if path.suffix == ".xlsx" and openpyxl_too and patents._calamine() is not None:
            calamine = patents._calamine
            patents._calamine = lambda: None
            try:
                timed("read_incopat .xlsx (openpyxl)", read_incopat, path)
            finally:
                patents._calamine = calamine
    assert records is not None
    aliases = read_alias_table(alias_path) if alias_path else None
    firms = timed("self_citation_by_firm", self_citation_by_firm, records, aliases)
    timed("self_citation_by_firm_year", self_citation_by_firm_year, records, aliases)
    graph = timed("build_citation_graph", build_citation_graph, records, aliases)
    print(f"  {len(records)} patents, {len(firms)} firms, {graph.number_of_nodes()} nodes, "
          f"{graph.number_of_edges()} edges")
    if len(records) >= 20_000:
        # linear, not quadratic: the first n rows of the export (their citations point to earlier rows)
        for n in (len(records) // 8, len(records) // 4, len(records) // 2, len(records)):
            timed(f"self_citation_by_firm, first {n} rows", self_citation_by_firm, records[:n], aliases)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=100_000, help="rows of the synthetic export")
    parser.add_argument("--no-openpyxl", action="store_true", help="do not time the openpyxl fallback on .xlsx")
    args = parser.parse_args(argv)
    for module in ("pandas", "networkx"):  # imported outside the timings
        importlib.import_module(module)

    print(f"python-calamine installed: {patents._calamine() is not None}")
    demo = REPO / "corpora" / "demo" / "panel"
    if (demo / "patents_incopat.xlsx").exists():
        bench("demo export", [demo / "patents_incopat.xlsx"], demo / "subsidiaries.csv", not args.no_openpyxl)
    with tempfile.TemporaryDirectory() as folder:
        started = time.perf_counter()
        xlsx_path, csv_path, alias_path = synthetic_export(Path(folder), args.rows)
        print(f"(synthetic export written in {time.perf_counter() - started:.1f} s)")
        bench(f"synthetic export, {args.rows} rows", [csv_path, xlsx_path], alias_path, not args.no_openpyxl)
    return 0


if __name__ == "__main__":
    sys.exit(main())
