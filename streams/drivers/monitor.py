"""The streaming driver of the contract evaluation: stored events in, measurements out.

The ingest agent stores every accepted event in ``pulse_events`` and, in the same statement, adds
the new ones to ``pulse_monitor_inbox``. A ``ContractMonitor`` evaluates a set of contracts; in
the worker, there is one per evaluation shard the worker holds (``streams/drivers/shards.py``:
Kafka's group assigns the shards, a fence row per shard refuses a stale owner), each with the
shard's contracts and inbox. Used alone, it runs under the one-row lease of ``store.tick()``.
Every ``monitor_interval`` seconds, in one transaction:

1. reads each Kafka partition's progress (``pulse_partition_progress``, written by the sink with
   the events), then takes the inbox (up to a limit), and applies its events to each contract's
   ``ContractEvaluation`` with the input's event-time frontier: the minimum over the partitions
   that are not idle (``processors.partition_progress``), so a partition running ahead does not
   make a slow one's events late. Progress is read first, so every event it counts is in this
   inbox or an earlier one; a full inbox batch caps the frontier at its latest event time;
2. writes the indicator points and period outcomes that changed, the late events, and the
   frontier and watermark (``pulse_contract_watermarks``). A round without new events still
   runs when the frontier moved (a partition went idle): the rows it made final are written;
3. evaluates the contract's alert rules (``processors.alerting``) over the new evaluation and
   the drift signals of its leading indicators (``alerting.model_inputs``, the backtest's
   inputs; the forecasting rows below are computed first), writes the alert episodes that
   changed (``pulse_alerts``), then hands them to the alert delivery (Alertmanager) when one is
   configured,
4. deletes the inbox rows it applied.

With each round it also replaces the contract's forecasting rows (schema v4): the running
periods' forecasts at the latest event time (``pulse_period_forecasts``) and the drift signals
of the leading indicators (``pulse_drift_signals``), the same rows ``pulse backtest --forecasts
--drift`` gives at the end of the same events (``streams.drivers.forecast_rows``); the open
clocks carry their breach probabilities, and the riskiest are exported as gauges
(``sinks.risk_metrics``).

After each round the evaluations drop the event sets of the items they are done with
(``ContractEngine.compact``): memory follows open work. An inbox event for such an item (a late
one, or a ticket closed weeks after it was resolved) makes the round read that item's stored
events back first (``MonitorTick.item_events``), so it is applied exactly.

On its first tick (a shard just claimed), after another worker held the lease, or after any
failure, it starts over: each contract's evaluation is loaded from its engine checkpoint
(``pulse_engine_checkpoints``, ``engine_checkpoint``; the shard's latest generation) and brought
up to date with the events the shard applied since (``pulse_monitor_applied``: the inbox rows a
round clears move there in the same statement), or, without a usable checkpoint (none, another
contract version or engine code: logged and counted), rebuilt from all stored events of the
contract's sources and its rows rewritten. A round writes new checkpoints of every contract of
the shard when it rebuilt one, and otherwise every ``checkpoint_every``, emptying the shard's
``pulse_monitor_applied`` rows in the same transaction, under the shard's claim; so a start costs
loading the checkpoints and the events of at most that long, not the whole history.

A checkpoint holds the engine trimmed first (``ContractEngine.trim`` with ``TRIM_KEEP``: what
lies wholly behind a horizon a week behind the watermark is dropped, the series the alert rules
and the drift tracker read are kept whole), and the live engine stays trimmed. A step that needs
what was trimmed (an event behind the horizon; ``TrimmedStateNeeded`` before anything changed)
rebuilds that contract whole from every stored event the shard applied (``pulse_events`` but the
rows still in its inbox) at the frontier it held before the step, and redoes the step on it: the
rows, late events (with the final rows they corrected), clocks and alerts are those of a monitor
that never trimmed, and nothing else is rewritten. At a start, a checkpoint whose events applied
since reach behind its horizon is rebuilt the same way (counted as a rebuild, ignored as
"trimmed"), then takes the inbox as a resumed one does. With no contract it still runs, only
clearing the inbox. The evaluation depends only on the set of
events, so a rebuild, a resumed checkpoint, a re-read inbox row or a duplicate changes nothing:
the rows always equal what the backtest computes from the same events.

The evaluation is CPU work of seconds on large histories; it runs in a thread so the worker's event
loop keeps consuming and heartbeating.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial

from outcome_pulse.processors.alerting.engine_inputs import SERIES_READ
from outcome_pulse.processors.alerting.episodes import AlertEpisode
from outcome_pulse.processors.alerting.evaluate import evaluate_alerts
from outcome_pulse.processors.alerting.model_inputs import model_alert_inputs
from outcome_pulse.processors.contract import Contract
from outcome_pulse.processors.errors import TrimmedStateNeeded
from outcome_pulse.processors.evaluation import ContractEvaluation
from outcome_pulse.processors.forecast.drift import WATCHED, DriftSignal
from outcome_pulse.processors.lifecycle import ItemEvent
from outcome_pulse.processors.measurements import LateEvent, diff
from outcome_pulse.processors.partition_progress import Hold, event_time_frontier
from outcome_pulse.sinks.contract_registry import contract_rows
from outcome_pulse.sinks.indicator_metrics import IndicatorGauges
from outcome_pulse.sinks.monitor_store import InboxBatch, MonitorStore, MonitorTick
from outcome_pulse.sinks.risk_metrics import ItemRiskGauges
from outcome_pulse.streams.drivers.engine_checkpoint import fingerprint, freeze, thaw
from outcome_pulse.streams.drivers.forecast_rows import ForecastRows

log = logging.getLogger(__name__)

TRIM_KEEP = SERIES_READ | frozenset(WATCHED)
"""The indicators whose series the monitor reads over the whole history every round (the
alert rules' counts, the drift tracker's watched series): its trims keep them whole."""

_EVERY_ROW = 2**31 - 1
"""An inbox read's limit that reads every row."""

# Per (topic, partition) of the events topic, the records the worker group has not committed
# (``HOLD``: the broker could not be asked).
Backlog = Callable[[], Awaitable[Mapping[tuple[str, int], int] | Hold]]


@dataclass(frozen=True, slots=True)
class TickReport:
    rebuilt: bool
    events: int
    points_written: int
    outcomes_written: int
    late_events: int
    alerts_written: int = 0
    resumed: int = 0
    """Contracts loaded from their checkpoints (a start; the others were rebuilt)."""
    ignored_checkpoints: tuple[str, ...] = ()
    """Why each checkpoint found but not loaded was ignored ("fingerprint", "unreadable"), or
    loaded but not usable ("trimmed": an event applied since lies behind its trim's horizon,
    so the contract was rebuilt whole from the events the shard applied)."""


class ContractMonitor:
    def __init__(
        self,
        contracts: Sequence[Contract],
        store: MonitorStore,
        *,
        gauges: IndicatorGauges | None = None,
        risks: ItemRiskGauges | None = None,
        inbox_limit: int = 50_000,
        idle_partition: timedelta = timedelta(seconds=30),
        ticks: Callable[[], AbstractAsyncContextManager[MonitorTick]] | None = None,
        on_alerts: Callable[[str, Sequence[AlertEpisode], datetime | None], None] | None = None,
        backlog: Backlog | None = None,
        checkpoint_every: timedelta | None = timedelta(minutes=5),
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """``backlog``: asks the broker, each round, how many records of each events partition
        the worker group has not committed (``streams/kafka/group_backlog.py``); a partition
        with a backlog is never idle (None: not asked, the sink's ``caught_up`` alone decides).
        ``checkpoint_every``: how often a round writes the engine checkpoints (None: never
        written nor loaded, every start rebuilds); ``clock`` times it.
        ``ticks``: where the rounds' transactions come from; by default ``store.tick()``
        (under the lease). The sharded monitor passes one evaluation shard's ticks
        (``store.shard_tick``), which fence instead (``streams/drivers/shards.py``).
        ``on_alerts``: called with each contract's id, its current alert episodes and the
        event time they were evaluated up to, after they were committed (the alert delivery
        queues them)."""
        self.contracts = list(contracts)
        if isinstance(store, str):  # the signature before the composition root took a DSN
            raise TypeError(
                "ContractMonitor takes a MonitorStore (bootstrap.real_adapters builds one), "
                "not a DSN"
            )
        self.store = store
        self.gauges = gauges
        self.risks = risks
        self.inbox_limit = inbox_limit
        self.idle_partition = idle_partition
        self.checkpoint_every = checkpoint_every
        self._clock = clock
        self._checkpointed_at: float | None = None
        self._recorded: dict[str, tuple[datetime, datetime, datetime | None]] = {}
        self._ticks = ticks or store.tick
        self._forecast_rows: dict[str, ForecastRows] = {}
        self._evaluations: dict[str, ContractEvaluation] | None = None
        self.alerts: dict[str, dict[tuple[str, str, datetime], AlertEpisode]] = {}
        """Per contract, the alert episodes last written (what ``pulse_alerts`` holds)."""
        self.on_alerts = on_alerts
        self.backlog = backlog

    @property
    def sources(self) -> list[str]:
        return sorted({svc.source for c in self.contracts for svc in c.services.values()})

    async def tick(self) -> TickReport:
        """One round (see the module doc); on failure the next tick rebuilds everything.

        A round costs what its events touch (the engine is incremental), so the monitor needs no
        rest between rounds to leave the ingest agent its share of the CPU: taking events in
        larger, rarer batches would cost the same in total.
        """
        started = time.monotonic()
        try:
            async with self._ticks() as tick:
                if tick.taken_over or self._evaluations is None:
                    report = await self._rebuild(tick)
                else:
                    report = await self._advance(tick, self._evaluations)
            self._deliver()  # only what was committed
            return report
        except BaseException:
            self._evaluations = None
            raise
        finally:
            if self.gauges is not None:
                self.gauges.round_seconds.observe(time.monotonic() - started)

    async def _rebuild(self, tick: MonitorTick) -> TickReport:
        """Start over (see the module doc): checkpoints where usable, a rebuild otherwise."""
        # The progress, then the inbox: each statement sees what was committed before it began,
        # so every event the progress counts is in the inbox or stored, and every inbox row read
        # here has its event among the stored events read next.
        frontier, inbox = await self._progress_and_inbox(tick)
        await tick.register_contracts(contract_rows(self.contracts))
        self._recorded = {}
        self.alerts = {}
        loading = time.monotonic()
        resumed, ignored = await self._resume(tick)
        # Those whose checkpoint could not take the events applied since were rebuilt whole.
        loaded_from_checkpoints = len(resumed) - ignored.count("trimmed")
        loaded = time.monotonic() - loading
        stale = [c for c in self.contracts if c.contract not in resumed]
        sources = sorted({svc.source for c in stale for svc in c.services.values()})
        stored = await tick.all_events(sources) if stale else []
        evaluations: dict[str, ContractEvaluation] = {}
        points = outcomes = 0
        for contract in self.contracts:
            self._forecast_rows[contract.contract] = ForecastRows(contract)
            evaluation = resumed.get(contract.contract)
            if evaluation is None:
                evaluation = ContractEvaluation(contract)
                rebuild = partial(evaluation.rebuild, stored, frontier=_given(evaluation, frontier))
                result = await asyncio.to_thread(rebuild)
                await asyncio.to_thread(evaluation.compact)
                await tick.replace(
                    contract.contract, result.points.values(), result.outcomes.values()
                )
                await tick.replace_open_clocks(contract.contract, list(result.open_clocks.values()))
                await self._record_watermark(tick, evaluation)
                points += len(result.points)
                outcomes += len(result.outcomes)
            evaluations[contract.contract] = evaluation
        # The resumed ones have yet to see the inbox (the rebuilt ones read it among the stored);
        # a step that needs what a checkpoint's trim dropped replaces its evaluation.
        changed = await self._apply(tick, resumed, inbox.events, frontier, alerts=False)
        evaluations.update(resumed)
        # Every contract's forecasting rows replaced, resumed or rebuilt: a checkpoint holds the
        # engine (period forecasts come from it); the drift tracker refills from its final series.
        # Then its alerts, as a rebuild's: what its events (and the drift signals) give now.
        for contract in self.contracts:
            rows = self._forecast_rows[contract.contract]
            evaluation = evaluations[contract.contract]
            await rows.write(tick, evaluation, corrected=True)
            alerts = await asyncio.to_thread(_alerts_of, evaluation, rows.signals)
            await tick.replace_alerts(contract.contract, alerts)
            self.alerts[contract.contract] = {a.key: a for a in alerts}
        await tick.done(inbox.keys)
        if self.checkpoint_every is not None and (stale or not self.contracts):
            # A rebuild is the dearest start: the next one loads this instead. Without
            # contracts, the (empty) checkpoint keeps the applied events from piling up.
            await self._checkpoint(tick, evaluations)
        elif self._checkpointed_at is None:
            self._checkpointed_at = self._clock()
        self._evaluations = evaluations
        await asyncio.to_thread(self._export, evaluations)
        if not evaluations:
            return TickReport(True, 0, 0, 0, 0)
        log.warning(
            "contract monitor started %d contract(s): %d from checkpoints (loaded with the "
            "events applied since in %.1f s), %d rebuilt from %d stored events (%d points, %d "
            "outcomes)%s; %.1f s in all",
            len(evaluations),
            loaded_from_checkpoints,
            loaded,
            len(stale),
            len(stored),
            points,
            outcomes,
            f"; {len(ignored)} checkpoint(s) ignored ({', '.join(ignored)})" if ignored else "",
            time.monotonic() - loading,
        )
        return TickReport(
            True,
            len(stored) if stale else len(inbox.events),  # the stored ones hold the inbox's
            points + changed.points,
            outcomes + changed.outcomes,
            changed.late,
            changed.alerts,
            loaded_from_checkpoints,
            tuple(ignored),
        )

    async def _resume(self, tick: MonitorTick) -> tuple[dict[str, ContractEvaluation], list[str]]:
        """The evaluations loaded from their checkpoints, brought up to date with the events
        the shard applied since (their rows are in the database already: nothing is written),
        and why each checkpoint found but not loaded was ignored."""
        if not self.contracts or self.checkpoint_every is None:
            return {}, []
        saved = await tick.checkpoints([c.contract for c in self.contracts])
        resumed: dict[str, ContractEvaluation] = {}
        ignored: list[str] = []
        for contract in self.contracts:
            thawed = await asyncio.to_thread(thaw, contract, saved.get(contract.contract))
            if thawed.evaluation is not None:
                resumed[contract.contract] = thawed.evaluation
            elif thawed.ignored is not None:
                ignored.append(thawed.ignored)
        if not resumed:
            return {}, ignored
        sources = sorted(
            {svc.source for e in resumed.values() for svc in e.contract.services.values()}
        )
        since = await tick.applied_events(sources)
        # The frontier the partitions last gave each contract's engine (None: none, it went by
        # its latest event): the resumed evaluation then holds exactly the rows the previous
        # owner wrote, finality included, and judges the inbox's events late or not as it would.
        frontiers = await tick.recorded_frontiers(list(resumed))
        for name, evaluation in list(resumed.items()):
            await self._restore(tick, evaluation, since)
            left = frontiers.get(name)
            held = _frontier_of(evaluation)
            try:
                await asyncio.to_thread(partial(evaluation.step, since, frontier=left))
            except TrimmedStateNeeded as exc:  # an event applied since is behind its horizon
                # The previous owner's evaluation whole (its rows are in the database already),
                # from the events it had applied; the inbox is then applied to it as to a
                # resumed one, so its late events are recorded as that owner would have.
                evaluation = await self._whole(tick, evaluation.contract, held, left, exc)
                resumed[name] = evaluation
                ignored.append("trimmed")
            await asyncio.to_thread(evaluation.compact)
        return resumed, ignored

    async def _checkpoint(
        self, tick: MonitorTick, evaluations: dict[str, ContractEvaluation]
    ) -> None:
        """Checkpoints of every evaluation as of this round (empties the shard's applied
        events)."""
        states = []
        for name, evaluation in evaluations.items():
            # Trimmed first: the next owner then loads what is open, not the whole history.
            await asyncio.to_thread(partial(evaluation.trim, keep=TRIM_KEEP))
            state = await asyncio.to_thread(freeze, evaluation)
            states.append((name, fingerprint(evaluation.contract), state))
        await tick.write_checkpoints(states)
        self._checkpointed_at = self._clock()

    def _checkpoint_due(self) -> bool:
        if self.checkpoint_every is None:
            return False
        if not self.contracts:  # nothing to save: keep the applied events from piling up
            return True
        at = self._checkpointed_at
        return at is None or self._clock() - at >= self.checkpoint_every.total_seconds()

    async def _advance(
        self, tick: MonitorTick, evaluations: dict[str, ContractEvaluation]
    ) -> TickReport:
        frontier, inbox = await self._progress_and_inbox(tick)
        if not inbox.keys and not self._frontier_moves(evaluations, frontier):
            return TickReport(False, 0, 0, 0, 0)
        changed = await self._apply(tick, evaluations, inbox.events, frontier)
        await tick.done(inbox.keys)
        if self._checkpoint_due():
            await self._checkpoint(tick, evaluations)
        await asyncio.to_thread(self._export, evaluations)
        return TickReport(
            False, len(inbox.events), changed.points, changed.outcomes, changed.late, changed.alerts
        )

    async def _apply(
        self,
        tick: MonitorTick,
        evaluations: dict[str, ContractEvaluation],
        events: Sequence[tuple[ItemEvent, int]],
        frontier: datetime | Hold | None,
        *,
        alerts: bool = True,
    ) -> _Written:
        """Step the evaluations with ``events`` and write what changed (without ``alerts``:
        not the alerts, the caller evaluates them)."""
        points = outcomes = late = alerts_written = 0
        for name in list(evaluations):
            evaluation = evaluations[name]
            await self._restore(tick, evaluation, events)
            held = _frontier_of(evaluation)
            try:
                step = await asyncio.to_thread(
                    partial(evaluation.step, events, frontier=_given(evaluation, frontier))
                )
            except TrimmedStateNeeded as exc:  # the step needs what a trim dropped
                evaluation = await self._whole(tick, evaluation.contract, held, None, exc)
                evaluations[name] = evaluation
                step = await asyncio.to_thread(
                    partial(evaluation.step, events, frontier=_given(evaluation, frontier))
                )
            await asyncio.to_thread(evaluation.compact)
            contract = evaluation.contract.contract
            rows = self._forecast_rows[contract]
            signals = rows.signals
            if step.observed.new or step.points or step.outcomes:
                # Before the alerts: the drift rule reads the drift signals.
                await rows.write(tick, evaluation, corrected=bool(step.late))
            if alerts and (step.observed.new or rows.signals != signals):
                alerts_now = await asyncio.to_thread(_alerts_of, evaluation, rows.signals)
                now = {a.key: a for a in alerts_now}
                changed = diff(self.alerts.get(contract, {}), now)
                if changed:
                    await tick.write_alerts(contract, changed)
                    alerts_written += len(changed.upserts) + len(changed.deletes)
                self.alerts[contract] = now
            if step.points or step.outcomes or step.late:
                await tick.write(contract, step.points, step.outcomes, step.late)
            if step.open_clocks is not None:
                await tick.replace_open_clocks(contract, step.open_clocks)
            await self._record_watermark(tick, evaluation)
            points += len(step.points.upserts) + len(step.points.deletes)
            outcomes += len(step.outcomes.upserts) + len(step.outcomes.deletes)
            late += len(step.late)
            if step.late:
                _log_late(evaluation, step.late)
        if self.gauges is not None:
            self.gauges.count_late(late)
        return _Written(points, outcomes, late, alerts_written)

    async def _whole(
        self,
        tick: MonitorTick,
        contract: Contract,
        held: tuple[bool, datetime | None],
        frontier: datetime | None,
        why: TrimmedStateNeeded,
    ) -> ContractEvaluation:
        """The evaluation a trimmed one (``ContractEngine.trim``) stood for, whole: rebuilt from
        every stored event the shard applied (not those still in its inbox: the step that
        needed what was trimmed applies them next, as new events, late or not as they were),
        at the frontier the trimmed one held before that step (``held``, ``_frontier_of``),
        then ``frontier``. Its rows are those the database holds (they depend only on the
        events and the watermark), so nothing is rewritten."""
        log.warning(
            "contract %s: %s; rebuilding it whole from the events the shard applied",
            contract.contract,
            why,
        )
        sources = sorted({svc.source for svc in contract.services.values()})
        stored = await tick.all_events(sources)
        # Read after the stored events: an event stored since is in the inbox, so left out.
        pending = await tick.inbox(_EVERY_ROW, with_events=False)
        waiting = set(pending.keys)
        applied = [e for e in stored if (e[0].time, e[0].source, e[0].event_id) not in waiting]
        evaluation = ContractEvaluation(contract)
        given, driver = held
        if given:
            evaluation.advance_frontier(driver)
        await asyncio.to_thread(partial(evaluation.rebuild, applied, frontier=frontier))
        return evaluation

    def _deliver(self) -> None:
        if self.on_alerts is None or self._evaluations is None:
            return
        # Every round offers every contract (cheap: the delivery keeps per-episode state), so a
        # worker that became the monitor again re-announces what fires.
        for contract_id, evaluation in self._evaluations.items():
            episodes = list(self.alerts.get(contract_id, {}).values())
            self.on_alerts(contract_id, episodes, evaluation.max_time)

    async def _progress_and_inbox(
        self, tick: MonitorTick
    ) -> tuple[datetime | Hold | None, InboxBatch]:
        """The input's event-time frontier (None: no partition progress recorded, so each
        evaluation goes by the latest event it saw; ``HOLD``: it stays where it was) and the
        inbox. The backlog (of the broker), the progress and the inbox are read in that order:
        a partition with no backlog then has every record it held stored, and counted by the
        progress read next."""
        backlog = None if self.backlog is None else await self.backlog()
        progress = await tick.partition_progress()
        inbox = await tick.inbox(self.inbox_limit, with_events=bool(self.contracts))
        frontier = event_time_frontier(progress, self.idle_partition, backlog)
        if isinstance(frontier, datetime) and len(inbox.keys) >= self.inbox_limit:
            # Inbox rows left for the next round are no earlier than this batch's latest.
            frontier = min(frontier, max(at for at, _, _ in inbox.keys))
        return frontier, inbox

    @staticmethod
    def _frontier_moves(
        evaluations: dict[str, ContractEvaluation], frontier: datetime | Hold | None
    ) -> bool:
        return isinstance(frontier, datetime) and any(
            e.moves_watermark(frontier) for e in evaluations.values()
        )

    async def _record_watermark(self, tick: MonitorTick, evaluation: ContractEvaluation) -> None:
        frontier, watermark = evaluation.frontier, evaluation.watermark
        given = evaluation.driver_frontier  # what a resumed checkpoint is brought to
        contract = evaluation.contract.contract
        held = (frontier, watermark, given)
        if frontier is None or watermark is None or self._recorded.get(contract) == held:
            return
        await tick.record_watermark(contract, frontier, watermark, given)
        self._recorded[contract] = (frontier, watermark, given)

    @staticmethod
    async def _restore(
        tick: MonitorTick, evaluation: ContractEvaluation, events: Sequence[tuple[ItemEvent, int]]
    ) -> None:
        """Give the evaluation back the stored events of compacted items these events are for
        (not these events themselves: the step must see them as new)."""
        missing = evaluation.missing_histories(events)
        if not missing:
            return
        # An event is (source, id): another source's event of the same id and time is another.
        arriving = {(event.time, event.source, event.event_id) for event, _ in events}
        stored = await tick.item_events(missing)
        evaluation.restore(
            e for e in stored if (e[0].time, e[0].source, e[0].event_id) not in arriving
        )

    def _export(self, evaluations: dict[str, ContractEvaluation]) -> None:
        if self.risks is not None:
            for evaluation in evaluations.values():
                contract = evaluation.contract
                clocks = evaluation.current_open_clocks()
                self.risks.update(contract.client_id, contract.contract, clocks)
        if self.gauges is None:
            return
        for evaluation in evaluations.values():
            # The client label is the contract id: short, stable, and a valid label value.
            self.gauges.update(
                evaluation.contract.contract,
                evaluation.latest_points(),
                evaluation.latest_outcomes(),
            )

    async def close(self) -> None:
        await self.store.close()


@dataclass(frozen=True, slots=True)
class _Written:
    """What a round's step wrote: indicator points, period outcomes, late events, alerts."""

    points: int
    outcomes: int
    late: int
    alerts: int


def _log_late(evaluation: ContractEvaluation, late: Sequence[LateEvent]) -> None:
    earliest = min(late, key=lambda e: e.event_time)
    log.warning(
        "%d event(s) arrived later than the allowed lateness (contract %s; earliest "
        "%s at %s, watermark %s): applied as corrections of %d final row(s), "
        "recorded in pulse_late_events",
        len(late),
        evaluation.contract.contract,
        earliest.event_id,
        earliest.event_time.isoformat(),
        earliest.watermark.isoformat(),
        len(earliest.changed),
    )


def _alerts_of(evaluation: ContractEvaluation, drift: Sequence[DriftSignal]) -> list[AlertEpisode]:
    """The alert episodes over the evaluation and the drift signals (the backtest's inputs,
    ``alerting.model_inputs``; the forecast and item rules read the engine: the monitor keeps
    no prediction or forecast history)."""
    inputs = model_alert_inputs(evaluation, None, drift=drift)
    return [] if inputs is None else evaluate_alerts(evaluation.contract, inputs)


def _frontier_of(evaluation: ContractEvaluation) -> tuple[bool, datetime | None]:
    """Whether the driver gives the evaluation its frontier, and the latest it gave: read
    before a step (a step that raises ``TrimmedStateNeeded`` halfway may have moved it)."""
    return evaluation.frontier_given, evaluation.driver_frontier


def _given(evaluation: ContractEvaluation, frontier: datetime | Hold | None) -> datetime | None:
    """The frontier to pass the evaluation's step or rebuild; on ``HOLD`` it is told the driver
    knows the frontier (so it does not fall back to the latest event) and keeps the one it had."""
    if isinstance(frontier, Hold):
        evaluation.advance_frontier(None)
        return None
    return frontier


__all__ = ["Backlog", "ContractMonitor", "TickReport"]
