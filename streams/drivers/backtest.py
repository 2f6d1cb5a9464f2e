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
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, fields
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo

from outcome_pulse.processors.alerting.episodes import AlertEpisode
from outcome_pulse.processors.alerting.evaluate import evaluate_alerts
from outcome_pulse.processors.alerting.model_inputs import model_alert_inputs
from outcome_pulse.processors.contract import Contract
from outcome_pulse.processors.coverage import CoverageWarning, coverage_warnings
from outcome_pulse.processors.engine.engine import TRIM_MARGIN
from outcome_pulse.processors.engine.results import PointKey
from outcome_pulse.processors.errors import ConfigError, TrimmedStateNeeded
from outcome_pulse.processors.evaluation import ContractEvaluation, Evaluation
from outcome_pulse.processors.forecast.drift import drift_signals, final_series
from outcome_pulse.processors.forecast.open_clocks import BreachPrediction, grid_predictions
from outcome_pulse.processors.forecast.period_forecast import PeriodForecast
from outcome_pulse.processors.forecast.period_outlook import period_forecasts
from outcome_pulse.processors.lifecycle import ItemEvent
from outcome_pulse.processors.measurements import (
    Delta,
    IndicatorPoint,
    LateEvent,
    OpenClock,
    PeriodOutcome,
)
from outcome_pulse.processors.periods import sample_grid
from outcome_pulse.streams.drivers.backtest_spool import EventSpool, PointSpool
from outcome_pulse.streams.file_import.mapped_file import MappedFile, map_file
from outcome_pulse.streams.file_import.mapping import RecordMapping
from outcome_pulse.streams.file_import.rejections import DEFAULT_MAX_SHARE, check_rejections
from outcome_pulse.streams.wire.events import EventEnvelope

OutputFormat = Literal["csv", "parquet"]
_BATCH = 5000
_COMPACT_EVERY = 50_000
FORECAST_EVERY = timedelta(days=1)
"""How often the backtest's period forecasts over history are made (``--forecasts``)."""


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
    alerts: tuple[AlertEpisode, ...] = ()
    spooled: PointSpool | None = None
    """The points, when the backtest spooled them (``evaluation.points`` is then empty)."""
    engine: ContractEvaluation | None = None
    """The evaluation the result came from (its item histories feed the forecasts)."""

    def outcomes(self) -> list[PeriodOutcome]:
        return sorted(self.evaluation.outcomes.values(), key=lambda o: (o.kpi, o.period_start))

    def points(self) -> list[IndicatorPoint]:
        return list(self.iter_points())

    def iter_points(self) -> Iterator[IndicatorPoint]:
        """The points by key, read from the spool when there is one."""
        if self.spooled is not None:
            return self.spooled.points()
        return iter(sorted(self.evaluation.points.values(), key=lambda p: p.key))

    def point_count(self) -> int:
        return len(self.spooled) if self.spooled is not None else len(self.evaluation.points)


def item_events(envelopes: Iterable[EventEnvelope]) -> list[tuple[ItemEvent, int]]:
    return [(envelope.to_item_event(), envelope.sequence or 0) for envelope in envelopes]


def backtest_events(
    contract: Contract,
    events: Sequence[tuple[ItemEvent, int]] | EventSpool,
    *,
    batch: int = _BATCH,
    on_progress: Callable[[int], None] | None = None,
    compact_every: int | None = _COMPACT_EVERY,
    alerts: bool = False,
    points: PointSpool | None = None,
    model_history: bool = False,
    trim_margin: timedelta | None = TRIM_MARGIN,
    rebuilds: list[int] | None = None,
) -> BacktestResult:
    """Feed ``events`` in their order, ``batch`` at a time, as the streaming monitor's rounds:
    arrival order decides which events are late beyond the allowed lateness, and each late event
    names the final rows its round corrected, as the monitor records them; then evaluate (with
    ``alerts``: the alert rules too, over the whole history, as the streaming monitor evaluates
    them: the item rule reads the engine's risk crossings, which compaction keeps).

    Every ``compact_every`` events (None: never) the evaluation drops the event sets of the items
    done with (``ContractEngine.compact``), as the monitor does after each round, so memory
    follows open work rather than the whole input; an event for such an item gets the item's
    events seen before it back first (from ``events``), so the result is the same.

    ``events`` may be an ``EventSpool`` (the input on disk, read a batch at a time), and
    ``points`` a ``PointSpool``: every advance's changed points go there instead of being
    held, and the result's points are read back from it (``BacktestResult.iter_points``).
    With a point spool, each compaction also trims the evaluation (``ContractEngine.trim``,
    ``trim_margin`` behind the watermark; None: never), so its memory is bounded by open work,
    not history: a batch that needs what was trimmed (a late event behind the horizon) makes
    it rebuild a full evaluation from the events seen so far and redo the batch (the input
    positions where that happened are appended to ``rebuilds``).

    The alert rules read the drift signals of the final series (as the monitor does); with
    ``model_history`` (needs ``compact_every=None``) also the breach model's predictions at every
    sample instant and the period forecasts once a day over the whole history, which only a
    backtest over every item's history can compute (``alerting.model_inputs``)."""
    if model_history and compact_every is not None:
        raise ValueError("backtest_events: model_history reads every item's history: no compaction")
    evaluation = ContractEvaluation(contract)
    duplicates = unmonitored = 0
    late: list[LateEvent] = []
    seen = events if isinstance(events, EventSpool) else _SeenByItem(events)
    keep: Callable[[Delta[PointKey, IndicatorPoint]], None] = (
        _held if points is None else points.apply
    )
    # Trim only when the points go to a spool: a trimmed engine no longer holds them all.
    trims = points is not None and compact_every is not None and trim_margin is not None
    synced = 0  # the rows kept are the engine's as of its advance over events[:synced]
    next_compaction = compact_every
    for start in range(0, len(events), batch):
        chunk = events[start : start + batch]
        for attempt in (1, 2):
            try:
                missing = evaluation.missing_histories(chunk)
                if missing:
                    evaluation.restore(seen.before(missing, start))
                if evaluation.late_in(chunk):
                    # A round with late events: its rows before and after name what they
                    # corrected.
                    keep(evaluation.catch_up())
                    synced = start
                    step = evaluation.step(chunk)
                    keep(step.points)
                    synced = start + len(chunk)
                    observed = step.observed
                    late.extend(step.late)
                else:
                    observed = evaluation.observe(chunk)
                break
            except TrimmedStateNeeded:
                if attempt == 2:
                    raise
                # Needs what was trimmed: a full engine from every event seen, then again.
                evaluation = _rebuilt(contract, events, synced, start, batch)
                if rebuilds is not None:
                    rebuilds.append(start)
        duplicates += observed.duplicates
        unmonitored += observed.unmonitored
        if next_compaction is not None and compact_every and start + batch >= next_compaction:
            keep(evaluation.catch_up())
            synced = min(start + batch, len(events))
            evaluation.compact()
            if trims:
                assert trim_margin is not None
                evaluation.trim(margin=trim_margin)
            next_compaction += compact_every
        if on_progress is not None:
            on_progress(min(start + batch, len(events)))
    if points is None:
        result = evaluation.evaluate()
    else:
        points.apply(evaluation.catch_up())
        result = Evaluation({}, evaluation.outcomes, evaluation.open_clocks)
    new = len(events) - duplicates - unmonitored
    episodes: tuple[AlertEpisode, ...] = ()
    if alerts:
        episodes = tuple(_alerts(evaluation, result, points, model_history))
    return BacktestResult(
        contract,
        result,
        new,
        duplicates,
        unmonitored,
        tuple(late),
        None,
        alerts=episodes,
        spooled=points,
        engine=evaluation,
    )


def _rebuilt(
    contract: Contract,
    events: Sequence[tuple[ItemEvent, int]] | EventSpool,
    synced: int,
    start: int,
    batch: int,
) -> ContractEvaluation:
    """A full evaluation of ``events[:start]`` whose rows are those kept: advanced over
    ``events[:synced]`` (the rows the kept points are of), the rest only observed."""
    evaluation = ContractEvaluation(contract)
    for first in range(0, synced, batch):
        evaluation.observe(events[first : min(first + batch, synced)])
    evaluation.catch_up()
    for first in range(synced, start, batch):
        evaluation.observe(events[first : min(first + batch, start)])
    return evaluation


def _alerts(
    evaluation: ContractEvaluation,
    result: Evaluation,
    points: PointSpool | None,
    model_history: bool,
) -> list[AlertEpisode]:
    """The alert episodes over the whole history, from the engine and the model's outputs."""
    contract = evaluation.contract
    held = list(result.points.values() if points is None else points.points())
    zone = ZoneInfo(contract.client.time_zone)
    drift = drift_signals(contract.contract, zone, final_series(held))
    forecasts: list[PeriodForecast] | None = None
    predictions: list[BreachPrediction] | None = None
    if model_history:
        forecasts = forecasts_over_history(evaluation, FORECAST_EVERY)
        predictions = grid_predictions(contract, evaluation.service_items())
    inputs = model_alert_inputs(
        evaluation, held, drift=drift, forecasts=forecasts, predictions=predictions
    )
    return [] if inputs is None else evaluate_alerts(contract, inputs)


def forecasts_over_history(engine: ContractEvaluation, every: timedelta) -> list[PeriodForecast]:
    """Period forecasts at every ``every`` (from the first local midnight) and at the last
    event, from every item's history (``EngineStateError`` after a compaction)."""
    if engine.min_time is None or engine.max_time is None:
        return []
    contract = engine.contract
    zone = ZoneInfo(contract.client.time_zone)
    instants = sample_grid(engine.min_time, engine.max_time, every, zone)
    instants = [at for at in instants if at > engine.min_time] + [engine.max_time]
    return period_forecasts(contract, engine.service_items(), instants)


def _held(delta: Delta[PointKey, IndicatorPoint]) -> None:
    """The in-memory backtest: the engine holds the points (``evaluate`` returns them)."""


class _SeenByItem:
    """Where each item's events are in the input, found when first asked (a compacted item's
    events are read back from the input, as the monitor reads them from ``pulse_events``)."""

    def __init__(self, events: Sequence[tuple[ItemEvent, int]]) -> None:
        self._events = events
        self._positions: dict[tuple[str, str], list[int]] | None = None

    def before(self, items: Sequence[tuple[str, str]], stop: int) -> list[tuple[ItemEvent, int]]:
        """The events of these ``(source, item_id)`` items at input positions before ``stop``."""
        if self._positions is None:
            self._positions = {}
            for position, (event, _) in enumerate(self._events):
                self._positions.setdefault((event.source, event.item_id), []).append(position)
        out: list[tuple[ItemEvent, int]] = []
        for item in items:
            out.extend(self._events[p] for p in self._positions.get(item, ()) if p < stop)
        return out


def backtest_file(
    path: Path,
    mapping: RecordMapping,
    contract: Contract,
    *,
    limit: int | None = None,
    on_read: Callable[[int], None] | None = None,
    on_progress: Callable[[int], None] | None = None,
    max_dead_letter_share: float = DEFAULT_MAX_SHARE,
    alerts: bool = False,
    spool: Path | None = None,
    keep_histories: bool = False,
    model_history: bool = False,
) -> BacktestResult:
    """Map ``path`` and evaluate ``contract`` over it; ``SuspiciousInput`` when more than
    ``max_dead_letter_share`` of the records are dead letters (nothing is evaluated then).

    ``spool``: a directory (see ``backtest_spool.spool_directory``) where the events and the
    indicator points go instead of memory; it must outlive the result (its points are read
    from there). ``keep_histories``: never compact, so the result's ``engine.service_items()``
    holds every item's history (the breach predictions and period forecasts over history read
    them). ``model_history``: the alert rules also read the model's predictions and period
    forecasts over history (implies ``keep_histories``; see ``backtest_events``)."""
    mapped = map_file(path, mapping, limit=limit, progress=on_read)
    check_rejections(mapped, max_dead_letter_share)
    sources = {svc.source for svc in contract.services.values()}
    if mapping.source not in sources:
        raise ConfigError(
            f"the mapping produces events of source {mapping.source!r}, but contract "
            f"{contract.contract!r} measures sources {', '.join(sorted(sources))}; choose the "
            "contract written for this export"
        )
    events: list[tuple[ItemEvent, int]] | EventSpool
    if spool is None:
        events = item_events(mapped.events)
        points = None
    else:
        events = EventSpool(spool / "events.sqlite")
        events.extend((e.to_item_event(), e.sequence or 0) for e in mapped.events)
        points = PointSpool(spool / "points.sqlite")
    result = backtest_events(
        contract,
        events,
        on_progress=on_progress,
        alerts=alerts,
        points=points,
        compact_every=None if keep_histories or model_history else _COMPACT_EVERY,
        model_history=model_history,
    )
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
        result.alerts,
        spooled=result.spooled,
        engine=result.engine,
    )


# -- files out ---------------------------------------------------------------------------------


def _row(record: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in asdict(record).items():
        if isinstance(value, datetime):
            out[key] = value.isoformat()
        elif isinstance(value, tuple):
            out[key] = json.dumps(list(value))
        elif isinstance(value, dict):
            out[key] = json.dumps(value, ensure_ascii=False, sort_keys=True)
        else:
            out[key] = value
    return out


def write_outputs(result: BacktestResult, directory: Path, fmt: OutputFormat = "csv") -> list[Path]:
    """``outcomes``, ``indicators``, ``open_clocks`` and (if any) ``late_events`` and
    ``dead_letters`` files in ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    written = [
        _write(directory / f"outcomes.{fmt}", PeriodOutcome, result.outcomes(), fmt),
        _write(directory / f"indicators.{fmt}", IndicatorPoint, result.iter_points(), fmt),
    ]
    clocks = sorted(result.evaluation.open_clocks.values(), key=lambda c: c.key)
    written.append(_write(directory / f"open_clocks.{fmt}", OpenClock, clocks, fmt))
    if result.late:
        written.append(_write(directory / f"late_events.{fmt}", LateEvent, list(result.late), fmt))
    if result.alerts:
        written.append(_write(directory / f"alerts.{fmt}", AlertEpisode, list(result.alerts), fmt))
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


def _write(path: Path, kind: type, rows: Iterable[Any], fmt: OutputFormat) -> Path:
    columns = [f.name for f in fields(kind)]
    if fmt == "parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq

        plain = [
            {k: json.dumps(v, sort_keys=True) if isinstance(v, dict) else v for k, v in row.items()}
            for row in map(asdict, rows)
        ]
        table = pa.Table.from_pylist(plain, schema=_schema(kind))
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
        "fired_at": when,
        "resolved_at": when,
        "elapsed_seconds": pa.float64(),
        "target_seconds": pa.float64(),
        "share_used": pa.float64(),
        "breach_probability": pa.float64(),
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
