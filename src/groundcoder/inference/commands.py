"""The ``groundcoder code`` and ``groundcoder queue`` commands: options -> config -> job -> a short report."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from .config import CodeConfig, load_code_config


def _split(values: Iterable[str] | None) -> list[str] | None:
    """Repeated options and comma-separated lists alike: --firms A,B --firms C -> [A, B, C]."""
    if not values:
        return None
    out: list[str] = []
    for value in values:
        out.extend(v.strip() for v in str(value).replace("，", ",").split(",") if v.strip())
    return out or None


def code_config(
    *,
    config: Path | None = None,
    model: str | None = None,
    inputs: list[Path] | None = None,
    store: Path | None = None,
    firms: list[str] | None = None,
    docs: list[str] | None = None,
    out: Path | None = None,
    runtime: str | None = None,
    unit: str | None = None,
    top_k: int | None = None,
    allow_fallback: bool | None = None,
    write_store: bool | None = None,
    progress: bool | None = None,
) -> CodeConfig:
    overrides: dict[str, Any] = {
        "model": model,
        "input.store": str(store) if store is not None else None,
        "input.firms": _split(firms),
        "input.doc_ids": _split(docs),
        "output.folder": str(out) if out is not None else None,
        "inference.runtime": runtime,
        "segmentation.unit": unit,
        "inference.top_k": top_k,
        "onnx.allow_fallback": allow_fallback,
        "output.write_store": write_store,
        "output.progress": progress,
    }
    if inputs:
        from .sources import is_table

        paths = [str(p) for p in inputs]
        if len(inputs) == 1 and is_table(Path(inputs[0])):
            overrides["input.table"] = paths[0]
            overrides["input.documents"] = []
        else:
            overrides["input.documents"] = paths
            overrides["input.table"] = None
    cfg = load_code_config(config, {k: v for k, v in overrides.items() if v is not None and k not in {"input.table"}})
    if inputs:
        # An explicit --input replaces whatever input the config file named.
        cfg = cfg.replace(**{"input.table": overrides["input.table"], "input.documents": overrides["input.documents"]})
    return cfg


def code_command(echo: Any = print, console: Any = None, **options: Any) -> Any:
    from rich.console import Console

    from .job import run_code

    cfg = code_config(**options)
    err = Console(stderr=True)
    result = run_code(cfg, console=console or err, log=lambda m: err.print(f"[yellow]{m}[/yellow]"))
    s = result.summary
    totals = s["totals"]
    echo(
        f"coded {totals['segments']} segments of {totals['documents'] or '-'} documents ({totals['firms']} firms) "
        f"with {result.run_id} [{result.runtime}]: {totals['coded_segments']} with suggestions "
        f"({totals['coded_share']:.0%}), {totals['suggestions']} suggestions; "
        f"{s['timing']['segments_per_second'] or 0:.0f} segments/s"
    )
    store = s["store"]
    if store.get("written"):
        echo(f"store {store['path']}: {store['codings_added']} codings added by {store['coder_id']} "
             f"({store['codings_already_stored']} already there)")
    if s["input"]["not_in_store"]:
        echo(f"{len(s['input']['not_in_store'])} file(s) are not in the store: suggestions in the tables only "
             "(`groundcoder ingest` them to keep suggestions in the store)")
    if s["input"]["skipped"]:
        echo(f"skipped {len(s['input']['skipped'])} file(s): " + "; ".join(s["input"]["skipped"][:3]))
    echo(f"wrote {result.files['suggestions_csv']}, firm_summary and {result.files['summary']}")
    return result


def queue_command(
    echo: Any = print,
    console: Any = None,
    *,
    config: Path | None = None,
    model: str | None = None,
    store: Path | None = None,
    n: int | None = None,
    out: Path | None = None,
    firms: list[str] | None = None,
    unit: str | None = None,
    strategy: str | None = None,
    diversity: str | None = None,
    runtime: str | None = None,
    qdpx: bool | None = None,
    progress: bool | None = None,
) -> Any:
    from rich.console import Console

    from .queue import run_queue

    overrides: dict[str, Any] = {
        "model": model,
        "input.store": str(store) if store is not None else None,
        "input.firms": _split(firms),
        "queue.n": n,
        "queue.folder": str(out) if out is not None else None,
        "queue.unit": unit,
        "queue.strategy": strategy,
        "queue.diversity": diversity,
        "queue.qdpx": qdpx,
        "inference.runtime": runtime,
        "output.progress": progress,
    }
    cfg = load_code_config(config, overrides)
    err = Console(stderr=True)
    result = run_queue(cfg, console=console or err, log=lambda m: err.print(f"[yellow]{m}[/yellow]"))
    s = result.summary
    echo(
        f"queued {s['queued']} of {s['candidates'].get('distinct', 0)} distinct uncoded segments "
        f"({s['strategy']} uncertainty, {s['diversity']} diversity) with {s['model']['run_id']}"
    )
    written = ", ".join(str(v) for k, v in result.files.items() if v and k != "summary")
    echo(f"wrote {written} and {result.files['summary']}")
    return result
