"""The contract monitor of a worker that shares the contracts with others: one per shard held.

The contracts are spread over ``shards`` evaluation shards (``processors/shards.py``: by a stable
hash of the contract id). Kafka's consumer group assigns the shards to the workers (they are the
partitions of the evaluation topic, ``streams/kafka/evaluation_shards.py``); every round, the
worker's monitor loop passes ``round`` the shards its consumer holds now, and this driver:

* releases the shards it held and no longer holds (their state dropped, their gauges and
  top-risk gauges forgotten);
* claims each newly held shard in the database (``MonitorStore.claim_shard``: owner and
  generation + 1 in its fence row) and starts a ``ContractMonitor`` for the shard's contracts,
  whose first tick loads the shard's engine checkpoints (the generation the shard's previous
  owner wrote last, under its claim) and applies the events that owner applied since, then the
  shard's inbox; contracts without a usable checkpoint are rebuilt from the stored events and
  their rows rewritten, exactly as the single monitor does after taking the lease over;
* ticks every held shard: the ``ContractMonitor`` round of the module ``monitor``, in a
  transaction that first checks the shard's fence (``MonitorStore.shard_tick``). A tick refused
  by the fence (``ShardFenced``: another worker claimed the shard since) writes nothing, and the
  shard is released; if Kafka still assigns it here, the next round claims it again.

One worker alone holds every shard, and evaluates every contract as the single monitor did. A
shard without contracts is still ticked, which clears its inbox.

A shard's failure (the database away, a bug) is logged and affects that shard only: its monitor
rebuilds on its next tick, the other shards go on.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence, Set
from dataclasses import dataclass
from datetime import datetime, timedelta

from outcome_pulse.processors.alerting.episodes import AlertEpisode
from outcome_pulse.processors.contract import Contract
from outcome_pulse.processors.errors import MixedLayout
from outcome_pulse.processors.shards import contracts_by_shard
from outcome_pulse.sinks.errors import ShardFenced, SinkError
from outcome_pulse.sinks.health_metrics import HealthMetrics
from outcome_pulse.sinks.indicator_metrics import IndicatorGauges
from outcome_pulse.sinks.monitor_store import MonitorStore
from outcome_pulse.sinks.risk_metrics import ItemRiskGauges
from outcome_pulse.streams.drivers.monitor import Backlog, ContractMonitor, TickReport

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class HeldShard:
    """A shard this worker claimed: the generation its ticks run under, and its monitor."""

    shard: int
    generation: int
    monitor: ContractMonitor


class ShardedMonitor:
    def __init__(
        self,
        contracts: Sequence[Contract],
        store: MonitorStore,
        *,
        shards: int,
        gauges: IndicatorGauges | None = None,
        risks: ItemRiskGauges | None = None,
        inbox_limit: int = 50_000,
        idle_partition: timedelta = timedelta(seconds=30),
        health: HealthMetrics | None = None,
        on_alerts: Callable[[str, Sequence[AlertEpisode], datetime | None], None] | None = None,
        on_release: Callable[[str], None] | None = None,
        backlog: Backlog | None = None,
        checkpoint_every: timedelta | None = timedelta(minutes=5),
    ) -> None:
        """``idle_partition``: passed to each shard's ``ContractMonitor`` (the per-partition
        watermark's idle rule), and ``on_alerts`` (the alert delivery's ``offer``);
        ``on_release``: called with each contract of a shard released (the delivery forgets
        it); ``backlog``: passed to each shard's ``ContractMonitor`` (asks the broker which
        events partitions still have records on their way); ``health``: the monitor's rounds,
        ok or failed per shard, the time of the last round in which every held shard
        succeeded, and how each contract started (checkpoint or rebuild, checkpoints ignored);
        ``checkpoint_every``: passed to each shard's ``ContractMonitor`` (None: no
        checkpoints); ``gauges`` and ``risks`` (the top-risk gauge) are shared by the shards and
        forgotten per contract when a shard is released."""
        self.contracts = list(contracts)
        self.store = store
        self.shards = shards
        self.gauges = gauges
        self.risks = risks
        self.inbox_limit = inbox_limit
        self.idle_partition = idle_partition
        self.health = health
        self.on_alerts = on_alerts
        self.on_release = on_release
        self.backlog = backlog
        self.checkpoint_every = checkpoint_every
        self._by_shard = contracts_by_shard(self.contracts, shards)
        self._held: dict[int, HeldShard] = {}

    def contracts_of(self, shard: int) -> list[Contract]:
        return list(self._by_shard[shard])

    @property
    def held(self) -> dict[int, HeldShard]:
        """The shards claimed and not released, by number."""
        return dict(self._held)

    async def round(self, assigned: Set[int]) -> dict[int, TickReport]:
        """Release what is no longer assigned, claim what newly is, tick every held shard."""
        unknown = sorted(s for s in assigned if not 0 <= s < self.shards)
        if unknown:
            log.error(
                "evaluation shards %s assigned but the worker has %d shards; ignoring them "
                "(does the evaluation topic have PULSE_EVALUATION_PARTITIONS partitions?)",
                unknown,
                self.shards,
            )
        self.release(set(self._held) - set(assigned))
        reports: dict[int, TickReport] = {}
        failed = 0
        for shard in sorted(s for s in assigned if 0 <= s < self.shards):
            report = await self._round_of(shard)
            if report is not None:
                reports[shard] = report
            else:
                failed += 1
        if self.health is not None:
            self.health.monitor_rounds.labels("ok").inc(len(reports))
            self.health.monitor_rounds.labels("failed").inc(failed)
            if not failed:
                self.health.monitor_last_success.set_to_current_time()
        return reports

    def release(self, shards: Iterable[int]) -> None:
        """Stop evaluating these shards (revoked): drop their state and their gauges."""
        for shard in sorted(shards):
            held = self._held.pop(shard, None)
            if held is None:
                continue
            for contract in self._by_shard[shard]:
                if self.gauges is not None:
                    self.gauges.forget(contract.contract)
                if self.on_release is not None:
                    self.on_release(contract.contract)
                if self.risks is not None:
                    self.risks.forget(contract.contract)
            log.warning(
                "released evaluation shard %d (generation %d; contracts: %s)",
                shard,
                held.generation,
                _names(self._by_shard[shard]),
            )

    async def _round_of(self, shard: int) -> TickReport | None:
        try:
            held = self._held.get(shard) or await self._claim(shard)
            report = await held.monitor.tick()
            self._count_start(shard, report)
            return report
        except ShardFenced as exc:
            log.warning("%s; releasing it", exc)
            self.release([shard])
        except MixedLayout as exc:  # refused every round until the layout is one
            log.error("%s", exc)
        except SinkError as exc:  # the database is away: said once per round, no traceback
            log.warning("evaluation shard %d: %s; its next round rebuilds it", shard, exc)
        except Exception:
            # The next round rebuilds the shard from the stored events, so nothing is lost; the
            # other shards and the ingest agent are unaffected.
            log.exception("evaluation shard %d: round failed; rebuilding on the next one", shard)
        return None

    def _count_start(self, shard: int, report: TickReport) -> None:
        if not report.rebuilt or self.health is None:
            return
        contracts = len(self._by_shard[shard])
        self.health.contract_starts.labels("checkpoint").inc(report.resumed)
        self.health.contract_starts.labels("rebuild").inc(contracts - report.resumed)
        for reason in report.ignored_checkpoints:
            self.health.checkpoints_ignored.labels(reason).inc()

    async def _claim(self, shard: int) -> HeldShard:
        claim = await self.store.claim_shard(shard, None, self.shards)
        monitor = ContractMonitor(
            self._by_shard[shard],
            self.store,
            gauges=self.gauges,
            risks=self.risks,
            inbox_limit=self.inbox_limit,
            idle_partition=self.idle_partition,
            ticks=lambda: self.store.shard_tick(shard, claim.generation),
            on_alerts=self.on_alerts,
            backlog=self.backlog,
            checkpoint_every=self.checkpoint_every,
        )
        held = HeldShard(shard, claim.generation, monitor)
        self._held[shard] = held
        log.warning(
            "claimed evaluation shard %d (generation %d; contracts: %s)",
            shard,
            claim.generation,
            _names(self._by_shard[shard]),
        )
        return held

    async def close(self) -> None:
        self._held.clear()
        await self.store.close()


def _names(contracts: Sequence[Contract]) -> str:
    return ", ".join(c.contract for c in contracts) or "none"


__all__ = ["HeldShard", "ShardedMonitor"]
