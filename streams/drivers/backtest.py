"""``pulse backtest``: the contract evaluation over a file, with no Kafka and no database.

The embedded driver of ``outcome_pulse.processors.evaluation``: map the export (bad records are
counted and kept as dead letters, never dropped silently), feed the events to a
``ContractEvaluation`` in the order they would be replayed, and hand back the period outcomes and
indicator series. The streaming pipeline runs the same evaluation over the same events, so its
tables equal these rows. Output goes to the terminal (a table per KPI), and to CSV or Parquet files.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, fields
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from outcome_pulse.processors.contract import Contract
from outcome_pulse.processors.coverage import CoverageWarning, coverage_warnings
from outcome_pulse.processors.errors import ConfigError
from outcome_pulse.processors.evaluation import ContractEvaluation, Evaluation
from outcome_pulse.processors.lifecycle import ItemEvent
from outcome_pulse.processors.measurements import (
    IndicatorPoint,
    LateEvent,
    OpenClock,
    PeriodOutcome,
)
from outcome_pulse.streams.file_import.mapped_file import MappedFile, map_file
from outcome_pulse.streams.file_import.mapping import RecordMapping
from outcome_pulse.streams.file_import.rejections import DEFAULT_MAX_SHARE, check_rejections
from outcome_pulse.streams.wire.events import EventEnvelope

OutputFormat = Literal["csv", "parquet"]
_BATCH = 5000


@dataclass(frozen=True)
class BacktestResult:
    contract: Contract
    evaluation: Evaluation
    events: int
    duplicates: int
    unmonitored: int
    late: tuple[LateEvent, ...]
    mapped: MappedFile | None = None
    coverage: tuple[CoverageWarning, ...] = ()

    def outcomes(self) -> list[PeriodOutcome]:
        return sorted(self.evaluation.outcomes.values(), key=lambda o: (o.kpi, o.period_start))

    def points(self) -> list[IndicatorPoint]:
        return sorted(self.evaluation.points.values(), key=lambda p: p.key)


def item_events(envelopes: Iterable[EventEnvelope]) -> list[tuple[ItemEvent, int]]:
    return [(envelope.to_item_event(), envelope.sequence or 0) for envelope in envelopes]


def backtest_events(
    contract: Contract,
    events: Sequence[tuple[ItemEvent, int]],
    *,
    batch: int = _BATCH,
    on_progress: Callable[[int], None] | None = None,
) -> BacktestResult:
    """Feed ``events`` in their order, ``batch`` at a time, as the streaming monitor's rounds:
    arrival order decides which events are late beyond the allowed lateness, and each late event
    names the final rows its round corrected, as the monitor records them."""
    evaluation = ContractEvaluation(contract)
    duplicates = unmonitored = 0
    late: list[LateEvent] = []
    for start in range(0, len(events), batch):
        chunk = events[start : start + batch]
        if evaluation.late_in(chunk):
            # A round with late events: its rows before and after name what they corrected.
            evaluation.catch_up()
            step = evaluation.step(chunk)
            observed = step.observed
            late.extend(step.late)
        else:
            observed = evaluation.observe(chunk)
        duplicates += observed.duplicates
        unmonitored += observed.unmonitored
        if on_progress is not None:
            on_progress(min(start + batch, len(events)))
    result = evaluation.evaluate()
    new = len(events) - duplicates - unmonitored
    return BacktestResult(contract, result, new, duplicates, unmonitored, tuple(late))


def backtest_file(
    path: Path,
    mapping: RecordMapping,
    contract: Contract,
    *,
    limit: int | None = None,
    on_read: Callable[[int], None] | None = None,
    on_progress: Callable[[int], None] | None = None,
    max_dead_letter_share: float = DEFAULT_MAX_SHARE,
) -> BacktestResult:
    """Map ``path`` and evaluate ``contract`` over it; ``SuspiciousInput`` when more than
    ``max_dead_letter_share`` of the records are dead letters (nothing is evaluated then)."""
    mapped = map_file(path, mapping, limit=limit, progress=on_read)
    check_rejections(mapped, max_dead_letter_share)
    sources = {svc.source for svc in contract.services.values()}
    if mapping.source not in sources:
        raise ConfigError(
            f"the mapping produces events of source {mapping.source!r}, but contract "
            f"{contract.contract!r} measures sources {', '.join(sorted(sources))}; choose the "
            "contract written for this export"
        )
    events = item_events(mapped.events)
    result = backtest_events(contract, events, on_progress=on_progress)
    coverage = coverage_warnings(contract, (e for e, _ in events), result.outcomes())
    return BacktestResult(
        contract,
        result.evaluation,
        result.events,
        result.duplicates,
        result.unmonitored,
        result.late,
        mapped,
        tuple(coverage),
    )


# -- files out ---------------------------------------------------------------------------------


def _row(record: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in asdict(record).items():
        if isinstance(value, datetime):
            out[key] = value.isoformat()
        elif isinstance(value, tuple):
            out[key] = json.dumps(list(value))
        else:
            out[key] = value
    return out


def write_outputs(result: BacktestResult, directory: Path, fmt: OutputFormat = "csv") -> list[Path]:
    """``outcomes``, ``indicators``, ``open_clocks`` and (if any) ``late_events`` and
    ``dead_letters`` files in ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    written = [
        _write(directory / f"outcomes.{fmt}", PeriodOutcome, result.outcomes(), fmt),
        _write(directory / f"indicators.{fmt}", IndicatorPoint, result.points(), fmt),
    ]
    clocks = sorted(result.evaluation.open_clocks.values(), key=lambda c: c.key)
    written.append(_write(directory / f"open_clocks.{fmt}", OpenClock, clocks, fmt))
    if result.late:
        written.append(_write(directory / f"late_events.{fmt}", LateEvent, list(result.late), fmt))
    if result.mapped is not None and result.mapped.dead_letters:
        target = directory / "dead_letters.jsonl"
        with target.open("w", encoding="utf-8") as out:
            for rejected in result.mapped.dead_letters:
                record = {
                    "reason": rejected.reason,
                    "detail": rejected.detail,
                    "origin": rejected.origin,
                    "raw": rejected.raw.decode("utf-8", "replace"),
                }
                out.write(json.dumps(record) + "\n")
        written.append(target)
    return written


def _write(path: Path, kind: type, rows: Sequence[Any], fmt: OutputFormat) -> Path:
    columns = [f.name for f in fields(kind)]
    if fmt == "parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq

        table = pa.Table.from_pylist([asdict(row) for row in rows], schema=_schema(kind))
        pq.write_table(table, path)
        return path
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.DictWriter(out, fieldnames=columns)
        writer.writeheader()
        for row in rows:
            writer.writerow(_row(row))
    return path


def _schema(kind: type) -> Any:
    import pyarrow as pa

    money = pa.decimal128(18, 2)
    when = pa.timestamp("us", tz="UTC")
    types: dict[str, Any] = {
        "at": when,
        "period_start": when,
        "period_end": when,
        "event_time": when,
        "watermark": when,
        "started_at": when,
        "breach_at": when,
        "as_of": when,
        "elapsed_seconds": pa.float64(),
        "target_seconds": pa.float64(),
        "share_used": pa.float64(),
        "at_risk": pa.bool_(),
        "breached": pa.bool_(),
        "value": pa.float64(),
        "measure": pa.float64(),
        "target_level": pa.float64(),
        "minimum_level": pa.float64(),
        "measured": pa.int64(),
        "good": pa.int64(),
        "baseline": pa.int64(),
        "final": pa.bool_(),
        "credit_due": money,
        "credit": money,
        "earned_back": money,
        "gain_share": money,
        "changed": pa.list_(pa.string()),
    }
    return pa.schema([(f.name, types.get(f.name, pa.string())) for f in fields(kind)])
