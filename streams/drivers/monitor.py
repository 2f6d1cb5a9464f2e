"""The streaming driver of the contract evaluation: stored events in, measurements out.

The ingest agent stores every accepted event in ``pulse_events`` and, in the same statement, adds
the new ones to ``pulse_monitor_inbox``. The monitor runs on one worker at a time (the faust
leader; a lease row in the database makes sure of it even while leadership moves) and, every
``monitor_interval`` seconds, in one transaction:

1. takes the inbox (up to a limit), applies its events to each contract's ``ContractEvaluation``,
2. writes the indicator points and period outcomes that changed, and the late events,
3. deletes the inbox rows it applied.

After each round the evaluations drop the event sets of the items they are done with
(``ContractEngine.compact``): memory follows open work. An inbox event for such an item (a late
one, or a ticket closed weeks after it was resolved) makes the round read that item's stored
events back first (``MonitorTick.item_events``), so it is applied exactly.

On its first tick, after another worker held the lease, or after any failure, it rebuilds every
evaluation from all stored events of the contracts' sources and rewrites the contracts' rows.
With no contract it still runs, only clearing the inbox. The
evaluation depends only on the set of events, so a rebuild, a re-read inbox row or a duplicate
changes nothing: the rows always equal what the backtest computes from the same events.

The evaluation is CPU work of seconds on large histories; it runs in a thread so the worker's event
loop keeps consuming and heartbeating.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass

from outcome_pulse.processors.contract import Contract
from outcome_pulse.processors.evaluation import ContractEvaluation
from outcome_pulse.processors.lifecycle import ItemEvent
from outcome_pulse.sinks.contract_registry import contract_rows
from outcome_pulse.sinks.indicator_metrics import IndicatorGauges
from outcome_pulse.sinks.monitor_store import MonitorStore, MonitorTick

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class TickReport:
    rebuilt: bool
    events: int
    points_written: int
    outcomes_written: int
    late_events: int


class ContractMonitor:
    def __init__(
        self,
        contracts: Sequence[Contract],
        store: MonitorStore,
        *,
        gauges: IndicatorGauges | None = None,
        inbox_limit: int = 50_000,
    ) -> None:
        self.contracts = list(contracts)
        if isinstance(store, str):  # the signature before the composition root took a DSN
            raise TypeError(
                "ContractMonitor takes a MonitorStore (bootstrap.real_adapters builds one), "
                "not a DSN"
            )
        self.store = store
        self.gauges = gauges
        self.inbox_limit = inbox_limit
        self._evaluations: dict[str, ContractEvaluation] | None = None

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
            async with self.store.tick() as tick:
                if tick.taken_over or self._evaluations is None:
                    return await self._rebuild(tick)
                return await self._advance(tick, self._evaluations)
        except BaseException:
            self._evaluations = None
            raise
        finally:
            if self.gauges is not None:
                self.gauges.round_seconds.observe(time.monotonic() - started)

    async def _rebuild(self, tick: MonitorTick) -> TickReport:
        evaluations = {c.contract: ContractEvaluation(c) for c in self.contracts}
        # The inbox first: each statement sees what was committed before it began, so every
        # inbox row read here has its event among the stored events read next.
        inbox = await tick.inbox(self.inbox_limit)
        stored = await tick.all_events(self.sources) if self.contracts else []
        await tick.register_contracts(contract_rows(self.contracts))
        points = outcomes = 0
        for evaluation in evaluations.values():
            result = await asyncio.to_thread(evaluation.rebuild, stored)
            await asyncio.to_thread(evaluation.compact)
            await tick.replace(
                evaluation.contract.contract, result.points.values(), result.outcomes.values()
            )
            await tick.replace_open_clocks(
                evaluation.contract.contract, list(result.open_clocks.values())
            )
            points += len(result.points)
            outcomes += len(result.outcomes)
        await tick.done(inbox.keys)
        self._evaluations = evaluations
        await asyncio.to_thread(self._export, evaluations)
        if not evaluations:
            return TickReport(True, 0, 0, 0, 0)
        log.warning(
            "contract monitor rebuilt %d contract(s) from %d stored events: %d points, %d outcomes",
            len(evaluations),
            len(stored),
            points,
            outcomes,
        )
        return TickReport(True, len(stored), points, outcomes, 0)

    async def _advance(
        self, tick: MonitorTick, evaluations: dict[str, ContractEvaluation]
    ) -> TickReport:
        inbox = await tick.inbox(self.inbox_limit)
        if not inbox.keys:
            return TickReport(False, 0, 0, 0, 0)
        points = outcomes = late = 0
        for evaluation in evaluations.values():
            await self._restore(tick, evaluation, inbox.events)
            step = await asyncio.to_thread(evaluation.step, inbox.events)
            await asyncio.to_thread(evaluation.compact)
            if step.points or step.outcomes or step.late:
                await tick.write(
                    evaluation.contract.contract, step.points, step.outcomes, step.late
                )
            if step.open_clocks is not None:
                await tick.replace_open_clocks(evaluation.contract.contract, step.open_clocks)
            points += len(step.points.upserts) + len(step.points.deletes)
            outcomes += len(step.outcomes.upserts) + len(step.outcomes.deletes)
            late += len(step.late)
            if step.late:
                earliest = min(step.late, key=lambda e: e.event_time)
                log.warning(
                    "%d event(s) arrived later than the allowed lateness (contract %s; earliest "
                    "%s at %s, watermark %s): applied as corrections of %d final row(s), "
                    "recorded in pulse_late_events",
                    len(step.late),
                    evaluation.contract.contract,
                    earliest.event_id,
                    earliest.event_time.isoformat(),
                    earliest.watermark.isoformat(),
                    len(earliest.changed),
                )
        await tick.done(inbox.keys)
        if self.gauges is not None:
            self.gauges.count_late(late)
        await asyncio.to_thread(self._export, evaluations)
        return TickReport(False, len(inbox.events), points, outcomes, late)

    @staticmethod
    async def _restore(
        tick: MonitorTick, evaluation: ContractEvaluation, events: Sequence[tuple[ItemEvent, int]]
    ) -> None:
        """Give the evaluation back the stored events of compacted items these events are for
        (not these events themselves: the step must see them as new)."""
        missing = evaluation.missing_histories(events)
        if not missing:
            return
        arriving = {(event.time, event.event_id) for event, _ in events}
        stored = await tick.item_events(missing)
        evaluation.restore(e for e in stored if (e[0].time, e[0].event_id) not in arriving)

    def _export(self, evaluations: dict[str, ContractEvaluation]) -> None:
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


__all__ = ["ContractMonitor", "TickReport"]
