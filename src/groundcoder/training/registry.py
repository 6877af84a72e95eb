"""The project's trained models: every run kept, one of them current, and the gate between them.

Layout under the runs folder (``models/runs`` by default)::

    <run_id>/run.json      what the run was: model kind, base model, codebook hash, split, headline metrics,
                           the gate's decision (written last: a run without it did not finish)
    <run_id>/model/        the chosen model (BERT save_pretrained output or the TF-IDF baseline)
    current.json           the current model's run id, and every earlier choice (made_current_at)
    history.csv / .xlsx    one row per finished run, rebuilt from the run.json files

When a project store is named, the run is also recorded in its ``model_runs`` table and made
current there by the same decision.

The gate: a new model becomes current only if it is not worse than the current one on the **same
evaluation split**: the current model is loaded and scored on the new run's test examples, and the
new model must reach ``current - tolerance`` on the gate metric. A current model that cannot be
compared (deleted folder, another codebook) does not block a new one; the reason is recorded.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from ..atomic import write_json
from ..errors import GroundcoderError, InputError

RUN_FILE = "run.json"
CURRENT_FILE = "current.json"
MODEL_SUBDIR = "model"


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


@dataclass
class GateDecision:
    accepted: bool
    reason: str
    metric: str
    tolerance: float
    new_value: float | None = None
    current_value: float | None = None
    current_run_id: str | None = None
    current_trained_on_test_firms: int | None = None  # >0: the current model's score is optimistic

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class RunRecord:
    run_id: str
    path: str
    kind: str  # bert | baseline
    base_model: str
    created_at: str
    codebook_hash: str
    split_signature: str
    train_firms: list[str]
    test_firms: list[str]
    metrics: dict[str, Any]  # headline test metrics of the chosen model
    gate: dict[str, Any] = field(default_factory=dict)
    made_current: bool = False

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunRecord:
        known = {k: data[k] for k in cls.__dataclass_fields__ if k in data}
        return cls(**known)


class RunRegistry:
    """Runs under ``runs_dir``; ``store`` (a project store path) mirrors them in ``model_runs``."""

    def __init__(self, runs_dir: str | Path, store: str | Path | None = None) -> None:
        self.runs_dir = Path(runs_dir)
        self.store = Path(store) if store else None

    # ----- reading ----------------------------------------------------------------------------------

    def runs(self) -> list[RunRecord]:
        """Every finished run, oldest first."""
        records = []
        if not self.runs_dir.is_dir():
            return records
        for path in sorted(self.runs_dir.glob(f"*/{RUN_FILE}")):
            try:
                records.append(RunRecord.from_dict(json.loads(path.read_text(encoding="utf-8"))))
            except (json.JSONDecodeError, TypeError) as exc:
                raise InputError(path, f"not a readable run record ({exc})", hint="remove the run folder or fix the file") from exc
        return sorted(records, key=lambda r: (r.created_at, r.run_id))

    def run(self, run_id: str) -> RunRecord | None:
        path = self.runs_dir / run_id / RUN_FILE
        if not path.exists():
            return None
        return RunRecord.from_dict(json.loads(path.read_text(encoding="utf-8")))

    def current_id(self) -> str | None:
        path = self.runs_dir / CURRENT_FILE
        if not path.exists():
            return None
        try:
            return json.loads(path.read_text(encoding="utf-8")).get("run_id")
        except json.JSONDecodeError as exc:
            raise InputError(path, f"not valid JSON ({exc.msg})", hint="delete it to start without a current model") from exc

    def current(self) -> RunRecord | None:
        run_id = self.current_id()
        return self.run(run_id) if run_id else None

    def current_history(self) -> list[dict[str, str]]:
        path = self.runs_dir / CURRENT_FILE
        if not path.exists():
            return []
        return list(json.loads(path.read_text(encoding="utf-8")).get("history", []))

    def model_dir(self, run_id: str) -> Path:
        return self.runs_dir / run_id / MODEL_SUBDIR

    # ----- writing ----------------------------------------------------------------------------------

    def record(self, record: RunRecord, config: dict[str, Any] | None = None) -> None:
        """Write the run's record, make it current if the gate accepted it, and rebuild the history table."""
        write_json(self.runs_dir / record.run_id / RUN_FILE, record.to_dict())
        if record.made_current:
            history = self.current_history()
            history.append({"run_id": record.run_id, "made_current_at": now()})
            write_json(self.runs_dir / CURRENT_FILE, {
                "run_id": record.run_id,
                "path": str(self.model_dir(record.run_id)),
                "kind": record.kind,
                "codebook_hash": record.codebook_hash,
                "history": history,
            })
        if self.store is not None:
            self._record_in_store(record, config or {})
        self.write_history_table()

    def _record_in_store(self, record: RunRecord, config: dict[str, Any]) -> None:
        from ..store import ProjectStore

        with ProjectStore.open(self.store) as store:
            if store.model_run(record.run_id) is None:
                store.add_model_run(
                    record.run_id,
                    path=str(self.model_dir(record.run_id)),
                    base_model=record.base_model if record.kind == "bert" else "tfidf-logreg",
                    config=config,
                    metrics=record.metrics,
                    make_current=record.made_current,
                )
            else:
                store.update_model_metrics(record.run_id, record.metrics)
                if record.made_current:
                    store.set_current_model(record.run_id)

    def history_rows(self) -> list[dict[str, Any]]:
        current = self.current_id()
        rows = []
        for r in self.runs():
            row = {
                "run_id": r.run_id,
                "created_at": r.created_at,
                "model": r.kind,
                "base_model": r.base_model,
                "codebook": r.codebook_hash[:12],
                "split": r.split_signature,
                "test_firms": len(r.test_firms),
                "gate": ("accepted" if r.gate.get("accepted") else "refused") if r.gate else "",
                "gate_reason": r.gate.get("reason", ""),
                "is_current": r.run_id == current,
            }
            for key, value in _flatten(r.metrics).items():
                row[key] = value
            rows.append(row)
        return rows

    def write_history_table(self) -> tuple[Path, Path] | None:
        from ..tables import write_table

        rows = self.history_rows()
        if not rows:
            return None
        return write_table(rows, self.runs_dir / "history", sheet="history")


def _flatten(metrics: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in metrics.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(_flatten(value, name + "."))
        elif isinstance(value, (int, float, str)) or value is None:
            out[name] = value
    return out


# --------------------------------------------------------------------------------------------------
# Loading any saved model


def is_baseline_dir(model_dir: str | Path) -> bool:
    from .baseline import BASELINE_FILE

    return (Path(model_dir) / BASELINE_FILE).exists()


def load_model(model_dir: str | Path, codebook: Any = None) -> Any:
    """A saved classifier, BERT or baseline by what the folder holds; refuses another codebook."""
    model_dir = Path(model_dir)
    if not model_dir.is_dir():
        raise InputError(model_dir, "no saved model here", hint="train one with `groundcoder train`")
    if is_baseline_dir(model_dir):
        from .baseline import TfidfBaseline

        return TfidfBaseline.from_pretrained(model_dir, codebook=codebook)
    from ..classifier import BertConceptClassifier

    return BertConceptClassifier.from_pretrained(model_dir, codebook=codebook)


def load_current_model(runs_dir: str | Path | None = None, codebook: Any = None) -> Any:
    """The project's current model (``models/runs/current.json``)."""
    from ..paths import models_dir

    registry = RunRegistry(runs_dir or models_dir() / "runs")
    run_id = registry.current_id()
    if run_id is None:
        raise InputError(registry.runs_dir / CURRENT_FILE, "no current model yet", hint="train one with `groundcoder train`")
    return load_model(registry.model_dir(run_id), codebook=codebook)


def decide(
    registry: RunRegistry,
    *,
    metric: str,
    tolerance: float,
    new_value: float | None,
    test_texts: Sequence[str],
    test_label_sets: Sequence[set[str]],
    test_firms: Sequence[str],
    codebook: Any,
    labels: Any,
    enabled: bool = True,
    force: bool = False,
    top_k: Sequence[int] = (1, 3, 5),
    ece_bins: int = 10,
) -> GateDecision:
    """Whether the new model (scoring ``new_value`` on ``metric``) may replace the current one."""
    from .evaluation import evaluate, outputs_of

    decision = GateDecision(False, "", metric, tolerance, new_value=new_value)
    current = registry.current()
    if not enabled:
        decision.accepted, decision.reason = True, "gate disabled"
        return decision
    if current is None:
        decision.accepted, decision.reason = True, "first model of the project"
        return decision
    decision.current_run_id = current.run_id
    if force:
        decision.accepted, decision.reason = True, "forced (gate.force)"
        return decision
    try:
        model = load_model(registry.model_dir(current.run_id), codebook=codebook)
    except GroundcoderError as exc:
        decision.accepted = True
        decision.reason = f"current model {current.run_id} cannot be compared ({str(exc)[:200]})"
        return decision
    evaluation = evaluate(labels, test_label_sets, outputs_of(model, test_texts), top_k=top_k, ece_bins=ece_bins)
    decision.current_value = evaluation.metric(metric)
    decision.current_trained_on_test_firms = len(set(current.train_firms) & set(test_firms))
    if new_value is None or decision.current_value is None:
        decision.accepted = True
        decision.reason = f"metric {metric} is undefined on this split; not compared"
        return decision
    decision.accepted = new_value >= decision.current_value - tolerance
    comparison = f"{metric} {new_value:.4f} vs current {current.run_id} {decision.current_value:.4f} (tolerance {tolerance})"
    decision.reason = ("not worse than the current model: " if decision.accepted else "worse than the current model: ") + comparison
    if decision.current_trained_on_test_firms:
        decision.reason += (
            f"; note: the current model was trained on {decision.current_trained_on_test_firms} of the test firms, "
            "so its score here is optimistic"
        )
    return decision
