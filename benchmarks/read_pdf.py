"""Benchmark: pages per second extracting text from real annual reports, pypdfium2 vs pdfplumber.

    python benchmarks/read_pdf.py                  # every page of every report (pdfplumber: minutes)
    python benchmarks/read_pdf.py --max-pages 30   # the first 30 pages of each report

The reports are the developers' shared real reports, ``<repo>/../shared/real-reports/*.pdf`` (not
part of the project; ``--reports`` points elsewhere).  Both libraries extract the same pages in the
same run; the script prints pages/s of each, the ratio (target: pypdfium2 >= 20x pdfplumber), and
pages/s of groundcoder's whole reading (``read_document``: extraction plus cleaning).  It also
prints the characters (white space aside) each library found, a check that speed is not bought
with lost text.  pdfplumber is a benchmark-only dependency.
"""

from __future__ import annotations

import argparse
import importlib.util
import re
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DEFAULT_REPORTS = REPO / ".." / "shared" / "real-reports"
_WHITE = re.compile(r"\s+")


def _visible_chars(text: str) -> int:
    return len(_WHITE.sub("", text))


def warm_up(paths: list[Path]) -> None:
    """Load the files into the OS cache and both libraries' one-time setup, outside the timings."""
    import pdfplumber
    import pypdfium2 as pdfium

    for path in paths:
        path.read_bytes()
    document = pdfium.PdfDocument(str(paths[0]))
    document[0].get_textpage().get_text_range()
    document.close()
    with pdfplumber.open(paths[0]) as plumber:
        plumber.pages[0].extract_text()


def run_pypdfium2(paths: list[Path], max_pages: int | None) -> tuple[int, int, float]:
    import pypdfium2 as pdfium

    pages = chars = 0
    started = time.perf_counter()
    for path in paths:
        document = pdfium.PdfDocument(str(path))
        try:
            for index in range(min(len(document), max_pages or len(document))):
                page = document[index]
                textpage = page.get_textpage()
                chars += _visible_chars(textpage.get_text_range())
                textpage.close()
                page.close()
                pages += 1
        finally:
            document.close()
    return pages, chars, time.perf_counter() - started


def run_pdfplumber(paths: list[Path], max_pages: int | None) -> tuple[int, int, float]:
    import pdfplumber

    pages = chars = 0
    started = time.perf_counter()
    for path in paths:
        with pdfplumber.open(path) as document:
            for page in document.pages[: max_pages or len(document.pages)]:
                chars += _visible_chars(page.extract_text() or "")
                page.close()  # frees the page's cached layout objects
                pages += 1
    return pages, chars, time.perf_counter() - started


def run_read_document(paths: list[Path]) -> tuple[int, float]:
    from groundcoder.documents import read_document

    pages = 0
    started = time.perf_counter()
    for path in paths:
        pages += read_document(path).page_count
    return pages, time.perf_counter() - started


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reports", type=Path, default=DEFAULT_REPORTS, help="folder of PDF reports")
    parser.add_argument("--max-pages", type=int, default=None, help="read at most this many pages of each report")
    args = parser.parse_args(argv)

    folder = args.reports.resolve()
    paths = sorted(folder.glob("*.pdf")) if folder.is_dir() else []
    if not paths:
        print(
            f"no PDF reports in {folder}: this benchmark needs the shared real reports "
            "(../shared/real-reports beside the repository) or --reports FOLDER",
            file=sys.stderr,
        )
        return 2
    if importlib.util.find_spec("pdfplumber") is None:
        print("pdfplumber is not installed: pip install pdfplumber (benchmark-only)", file=sys.stderr)
        return 2

    print(f"{len(paths)} reports in {folder}" + (f", first {args.max_pages} pages each" if args.max_pages else ""))
    warm_up(paths)
    fast_pages, fast_chars, fast_seconds = run_pypdfium2(paths, args.max_pages)
    fast_rate = fast_pages / fast_seconds
    print(f"pypdfium2   {fast_pages:6d} pages  {fast_seconds:8.2f} s  {fast_rate:8.1f} pages/s  {fast_chars:9d} chars")
    slow_pages, slow_chars, slow_seconds = run_pdfplumber(paths, args.max_pages)
    slow_rate = slow_pages / slow_seconds
    print(f"pdfplumber  {slow_pages:6d} pages  {slow_seconds:8.2f} s  {slow_rate:8.1f} pages/s  {slow_chars:9d} chars")
    ratio = fast_rate / slow_rate
    verdict = "meets" if ratio >= 20 else "MISSES"
    print(f"ratio       pypdfium2 is {ratio:.1f}x pdfplumber ({verdict} the 20x target)")
    print(f"chars       pypdfium2 found {fast_chars / max(slow_chars, 1):.1%} of pdfplumber's characters")
    if not args.max_pages:
        pages, seconds = run_read_document(paths)
        print(f"read_document (extract + clean)  {pages} pages  {seconds:.2f} s  {pages / seconds:.1f} pages/s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
