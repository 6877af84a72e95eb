"""Counting keywords in many reports: matched to firms, in parallel, streamed, cached.

* Reports are found like ``groundcoder ingest`` finds documents: a folder and the default file-name
  rule (the name starts with the firm code), a ``pattern`` such as ``{code}_{year}``, or a manifest.
* Each report is read (``groundcoder.documents.read_document``: PDF, text, Word, HTML), optionally cut
  to its MD&A (``groundcoder.mdna.extract_mdna``) and counted in a worker process; results come back in
  input order while later reports are still being counted, so memory holds a few reports' text at a
  time however large the corpus, and the results are written to the cache as they arrive.
* The cache is an SQLite file keyed by the report's SHA-256 and the counter's key (keywords, options,
  versions): a re-run after adding reports counts only the new ones, and a run interrupted half-way
  keeps what it finished. File hashes are remembered by path, size and modification time, so an
  unchanged corpus is not even re-read.
* A report that cannot be read, is empty or is not Chinese is a result with a ``problem`` (shown in
  the tables and the summary), never a silent zero.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import sqlite3
import time
from collections import deque
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import InputError
from .counting import MIN_HAN_SHARE, CountOptions, KeywordCounter
from .normalise import text_stats

if TYPE_CHECKING:
    from rich.console import Console

CACHE_NAME = ".screening-cache.sqlite"
_BATCH = 4  # reports per task sent to a worker
_WINDOW_PER_WORKER = 4  # batches in flight per worker: bounds memory, keeps workers busy


@dataclass(frozen=True)
class ReportFile:
    """One report to count: the file, its name inside the reports folder, its firm and year."""

    path: Path
    name: str
    firm_code: str
    year: int | None


@dataclass(frozen=True)
class UnmatchedFile:
    """A file under the reports folder that could not be matched to a firm (and why)."""

    name: str
    reason: str


@dataclass
class ReportCounts:
    """What a report's content gives: the same for every copy of the same bytes (so it is cached)."""

    scope: str = "whole"  # whole | mdna | whole (no MD&A found)
    mdna_heading: str | None = None
    characters: int = 0  # in the counted scope, white space excluded
    han_characters: int = 0
    tokens: int | None = None
    counts: dict[str, int] = field(default_factory=dict)
    negated: dict[str, int] = field(default_factory=dict)
    problem: str | None = None  # why the report was not counted: unreadable, empty, not Chinese
    text_bytes: int = 0  # UTF-8 size of the whole report's text (for MB/s)

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> ReportCounts:
        return cls(**json.loads(text))


@dataclass
class ReportResult:
    report: ReportFile
    sha256: str
    counts: ReportCounts
    cached: bool


@dataclass
class CountingStats:
    reports: int = 0
    counted: int = 0  # counted in this run
    cached: int = 0  # taken from the cache
    problems: int = 0
    text_bytes_counted: int = 0
    seconds: float = 0.0
    workers: int = 1

    @property
    def mb_per_second(self) -> float | None:
        if not self.counted or self.seconds <= 0:
            return None
        return self.text_bytes_counted / 1e6 / self.seconds


# --------------------------------------------------------------------------------------------------
# Finding the reports


def find_reports(
    folder: str | Path,
    firms_path: str | Path,
    pattern: str | None = None,
    manifest: str | Path | None = None,
) -> tuple[list[ReportFile], list[UnmatchedFile]]:
    """The reports under ``folder`` matched to firms of the firm table, and the files that were not."""
    from ..firms import read_firm_table
    from ..ingest import FirmCodes, compile_pattern, find_files, match_by_name, read_manifest

    folder = Path(folder)
    if not folder.is_dir():
        raise InputError(
            folder,
            "is not a folder" if folder.exists() else "reports folder not found",
            hint="give the folder that holds the annual reports (inputs.reports in the config)",
        )
    if manifest is not None and pattern is not None:
        raise InputError(None, "give a file-name pattern or a manifest, not both")
    table = read_firm_table(firms_path)
    codes = FirmCodes(table.firms)
    exclude = [Path(firms_path)] + ([Path(manifest)] if manifest is not None else [])
    files, unsupported = find_files(folder, exclude)
    if manifest is not None:
        sources = read_manifest(Path(manifest), folder, codes, table.path, "annual_report")
        listed = {s.path.resolve() for s in sources}
        unmatched = [UnmatchedFile(name, "not in the manifest") for path, name in files if path.resolve() not in listed]
    else:
        compiled = compile_pattern(pattern) if pattern is not None else None
        sources = [match_by_name(path, name, codes, table.path, compiled, "annual_report") for path, name in files]
        unmatched = []
    unmatched += [UnmatchedFile(name, "groundcoder does not read files of this type") for name in unsupported]
    reports: list[ReportFile] = []
    for source in sources:
        if source.problem is not None or source.firm_code is None:
            unmatched.append(UnmatchedFile(source.name, source.problem or "no firm"))
        else:
            reports.append(ReportFile(source.path, source.name, source.firm_code, source.year))
    return reports, unmatched


# --------------------------------------------------------------------------------------------------
# The cache


class CountCache:
    """SQLite cache of report counts, keyed by (content SHA-256, counter key)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._db = sqlite3.connect(self.path)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute(
                "CREATE TABLE IF NOT EXISTS counts (sha256 TEXT, counter_key TEXT, result TEXT, PRIMARY KEY (sha256, counter_key))"
            )
            self._db.execute("CREATE TABLE IF NOT EXISTS file_hashes (path TEXT PRIMARY KEY, size INTEGER, mtime_ns INTEGER, sha256 TEXT)")
            self._db.commit()
        except sqlite3.DatabaseError as exc:
            raise InputError(self.path, f"is not a usable cache ({exc})", hint="delete the file; the next run rebuilds it") from None
        self._pending = 0

    def get(self, sha256: str, counter_key: str) -> ReportCounts | None:
        row = self._db.execute("SELECT result FROM counts WHERE sha256=? AND counter_key=?", (sha256, counter_key)).fetchone()
        return ReportCounts.from_json(row[0]) if row else None

    def put(self, sha256: str, counter_key: str, counts: ReportCounts) -> None:
        self._db.execute("INSERT OR REPLACE INTO counts VALUES (?, ?, ?)", (sha256, counter_key, counts.to_json()))
        self._pending += 1
        if self._pending >= 50:
            self.commit()

    def file_hash(self, path: Path) -> str:
        """SHA-256 of the file's bytes, remembered by (path, size, modification time)."""
        stat = path.stat()
        key = str(path.resolve())
        row = self._db.execute("SELECT size, mtime_ns, sha256 FROM file_hashes WHERE path=?", (key,)).fetchone()
        if row and row[0] == stat.st_size and row[1] == stat.st_mtime_ns:
            return row[2]
        digest = file_sha256(path)
        self._db.execute("INSERT OR REPLACE INTO file_hashes VALUES (?, ?, ?, ?)", (key, stat.st_size, stat.st_mtime_ns, digest))
        self._pending += 1
        return digest

    def commit(self) -> None:
        self._db.commit()
        self._pending = 0

    def close(self) -> None:
        self.commit()
        self._db.close()

    def __enter__(self) -> CountCache:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


# --------------------------------------------------------------------------------------------------
# Counting one report (in a worker)


def count_report_text(text: str, counter: KeywordCounter) -> ReportCounts:
    """Counts for one report's text: problems first (empty, not Chinese), then the scope, then counting."""
    result = ReportCounts(text_bytes=len(text.encode("utf-8", "surrogatepass")))
    characters, han = text_stats(text)
    if characters == 0:
        result.problem = "empty: the report has no text"
        return result
    if han < MIN_HAN_SHARE * characters:
        result.problem = (
            f"not Chinese: {han} of its {characters} characters are Chinese ({han / characters:.0%}); "
            "a wrong file, or a PDF whose text layer is garbled"
        )
        result.characters, result.han_characters = characters, han
        return result
    if counter.options.scope == "mdna":
        from ..mdna import extract_mdna

        section = extract_mdna(text)
        if section is None:
            result.scope = "whole (no MD&A found)"
        else:
            text = text[section.start : section.end]
            result.scope, result.mdna_heading = "mdna", section.heading
    counts = counter.count(text)
    result.characters, result.han_characters = counts.characters, counts.han_characters
    result.tokens, result.counts, result.negated = counts.tokens, counts.counts, counts.negated
    return result


def count_report_file(path: Path, counter: KeywordCounter) -> ReportCounts:
    from ..documents import read_document

    try:
        document = read_document(path)
    except InputError as exc:
        return ReportCounts(problem="unreadable: " + exc.message + (f" ({exc.hint})" if exc.hint else ""))
    except Exception as exc:  # a reader bug on one odd file must not cost the other reports
        return ReportCounts(problem=f"unreadable: unexpected error while reading ({type(exc).__name__}: {exc}); please report it")
    return count_report_text(document.text, counter)


_worker_counter: KeywordCounter | None = None


def _init_worker(keywords: Sequence[str], options: CountOptions) -> None:
    global _worker_counter
    _worker_counter = KeywordCounter(keywords, options)


def _count_batch(paths: list[Path]) -> list[ReportCounts]:
    assert _worker_counter is not None
    return [count_report_file(path, _worker_counter) for path in paths]


# --------------------------------------------------------------------------------------------------
# Many reports


def resolve_workers(workers: int | str | None, jobs: int) -> int:
    """``auto``: one per CPU core, but no more than the work needs (a pool costs a second to start)."""
    if workers in (None, "auto"):
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
        return max(1, min(cores, jobs // 20))
    try:
        value = int(workers)
    except (TypeError, ValueError):
        raise InputError(None, f"workers {workers!r} should be a whole number or 'auto'") from None
    if value < 1:
        raise InputError(None, f"workers {value} should be at least 1")
    return value


def count_reports(
    reports: Sequence[ReportFile],
    keywords: Sequence[str],
    options: CountOptions,
    *,
    cache: CountCache | None = None,
    workers: int | str | None = "auto",
    console: Console | None = None,
    stats: CountingStats | None = None,
) -> Iterator[ReportResult]:
    """Count ``keywords`` in every report; yields results in the order of ``reports`` as they come.

    ``console``: where to show a progress bar (None: none). ``stats`` is filled in as the run goes.
    """
    stats = stats if stats is not None else CountingStats()
    counter_key = options.cache_key(keywords)
    started = time.perf_counter()
    hashes: list[str] = []
    todo: list[int] = []
    cached: dict[int, ReportCounts] = {}
    looking = console.status(f"looking up {len(reports)} reports in the cache") if console is not None else contextlib.nullcontext()
    with looking:
        _hash_and_look_up(reports, cache, counter_key, hashes, todo, cached)
    if cache is not None:
        cache.commit()
    stats.reports = len(reports)
    stats.cached = len(reports) - len(todo)
    stats.workers = resolve_workers(workers, len(todo)) if todo else 0

    def finish(index: int, counts: ReportCounts, from_cache: bool) -> ReportResult:
        if not from_cache:
            stats.counted += 1
            stats.text_bytes_counted += counts.text_bytes
            if cache is not None and hashes[index]:
                cache.put(hashes[index], counter_key, counts)
        if counts.problem:
            stats.problems += 1
        return ReportResult(reports[index], hashes[index], counts, from_cache)

    fresh = _FreshCounts([reports[i].path for i in todo], keywords, options, stats.workers)
    with _Progress(console, len(todo), stats.cached) as progress:
        try:
            pending_fresh = iter(zip(todo, fresh))
            next_fresh = next(pending_fresh, None)
            for index in range(len(reports)):
                if index in cached:
                    yield finish(index, cached[index], True)
                    continue
                assert next_fresh is not None and next_fresh[0] == index
                result = finish(index, next_fresh[1], False)
                progress.advance(reports[index].name)
                stats.seconds = time.perf_counter() - started
                yield result
                next_fresh = next(pending_fresh, None)
        finally:
            fresh.close()
            if cache is not None:
                cache.commit()
            stats.seconds = time.perf_counter() - started


def _hash_and_look_up(
    reports: Sequence[ReportFile], cache: CountCache | None, counter_key: str, hashes: list[str], todo: list[int], cached: dict[int, ReportCounts]
) -> None:
    """Each report's SHA-256 into ``hashes``; its cached counts into ``cached``, else its index into ``todo``."""
    for index, report in enumerate(reports):
        try:
            digest = cache.file_hash(report.path) if cache is not None else file_sha256(report.path)
        except OSError as exc:
            hashes.append("")
            cached[index] = ReportCounts(problem=f"unreadable: {exc.strerror or exc}")
            continue
        hashes.append(digest)
        hit = cache.get(digest, counter_key) if cache is not None else None
        if hit is not None:
            cached[index] = hit
        else:
            todo.append(index)


class _FreshCounts:
    """Counts of ``paths`` in order: in this process for one worker, else in a process pool with a
    bounded number of batches in flight. The pool starts when this is made (before any progress
    bar thread exists, so forking is safe)."""

    def __init__(self, paths: list[Path], keywords: Sequence[str], options: CountOptions, workers: int) -> None:
        self.paths, self.keywords, self.options = paths, tuple(keywords), options
        self.executor: ProcessPoolExecutor | None = None
        self.in_flight: deque[Future[list[ReportCounts]]] = deque()
        self.batches = iter([paths[i : i + _BATCH] for i in range(0, len(paths), _BATCH)])
        if not paths:
            return
        if workers <= 1:
            self.counter = KeywordCounter(self.keywords, options)
            return
        import multiprocessing

        if "fork" in multiprocessing.get_all_start_methods():
            # Linux: build the counter here, once; forked workers inherit the loaded jieba
            # dictionaries instead of each spending seconds loading them.
            _warm_counter(self.keywords, options)
            context = multiprocessing.get_context("fork")
        else:
            context = multiprocessing.get_context("spawn")
        self.executor = ProcessPoolExecutor(workers, mp_context=context, initializer=_init_worker, initargs=(self.keywords, options))
        for batch in self.batches:
            self.in_flight.append(self.executor.submit(_count_batch, batch))
            if len(self.in_flight) >= workers * _WINDOW_PER_WORKER:
                break

    def __iter__(self) -> Iterator[ReportCounts]:
        if self.executor is None:
            for path in self.paths:
                yield count_report_file(path, self.counter)
            return
        while self.in_flight:
            results = self.in_flight.popleft().result()
            batch = next(self.batches, None)
            if batch is not None:
                self.in_flight.append(self.executor.submit(_count_batch, batch))
            yield from results

    def close(self) -> None:
        if self.executor is not None:
            self.executor.shutdown(wait=True, cancel_futures=True)
            self.executor = None


def _warm_counter(keywords: tuple[str, ...], options: CountOptions) -> None:
    """Load everything a counter loads lazily (jieba, jieba-rs, tables) into this process's caches."""
    counter = KeywordCounter(keywords, options)
    counter.count("公司推进2021.5%的C++数字化B2B-平台。")
    count_report_text("第三节 管理层讨论与分析\n公司。", counter)


class _Progress:
    """A rich progress bar on ``console`` (or nothing)."""

    def __init__(self, console: Console | None, total: int, cached: int) -> None:
        self.console, self.total, self.cached = console, total, cached
        self.bar: Any = None
        self.task: Any = None

    def __enter__(self) -> _Progress:
        if self.console is not None and self.total:
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

            label = "counting keywords" + (f" ({self.cached} reports from the cache)" if self.cached else "")
            self.bar = Progress(
                TextColumn(label),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                TimeRemainingColumn(),
                TextColumn("{task.fields[file]}", style="dim"),
                console=self.console,
                transient=False,
            )
            self.bar.start()
            self.task = self.bar.add_task("count", total=self.total, file="")
        return self

    def advance(self, name: str) -> None:
        if self.bar is not None:
            self.bar.update(self.task, advance=1, file=name)

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.stop()
