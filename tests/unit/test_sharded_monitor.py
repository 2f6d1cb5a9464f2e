"""ShardedMonitor (streams/drivers/shards.py) over an in-memory store that applies the real fence
rules (processors/shards.py): what it claims, ticks, releases, and how a shard's failure stays
that shard's. The database side of the same rules: tests/integration/test_shard_fence.py."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from importlib import resources
from pathlib import Path
from typing import Any, cast

from prometheus_client import CollectorRegistry

from outcome_pulse.processors.shards import Claim, ShardFence, claim_decision, may_write
from outcome_pulse.processors.vocabulary import INDICATOR_HELP
from outcome_pulse.sinks.errors import ShardFenced
from outcome_pulse.sinks.health_metrics import HealthMetrics
from outcome_pulse.sinks.indicator_metrics import IndicatorGauges
from outcome_pulse.sinks.monitor_store import InboxBatch, MonitorStore
from outcome_pulse.sinks.risk_metrics import ItemRiskGauges
from outcome_pulse.streams.contract_files import load_contract
from outcome_pulse.streams.drivers.shards import ShardedMonitor

EXAMPLES = resources.files("outcome_pulse.contracts")
CONTRACTS = [
    load_contract(Path(str(EXAMPLES / name)))
    for name in ("bpic2013_incidents.yaml", "helpdesk_tickets.yaml", "scms_orders.yaml")
]
SHARD_0 = ["bpic2013-incidents", "scms-orders"]  # crc32 mod 2, pinned in test_shards.py
SHARD_1 = ["helpdesk-tickets"]


class _Tick:
    """What ContractMonitor reads and writes in a tick, with an empty database; the forecasting
    rows it replaces are noted in ``written`` (table, contract)."""

    taken_over = False

    def __init__(self, written: list[tuple[str, str]]) -> None:
        self.written = written

    async def partition_progress(self) -> list[Any]:
        return []

    async def record_watermark(self, *args: Any) -> None:
        return None

    async def inbox(self, limit: int = 50_000, *, with_events: bool = True) -> InboxBatch:
        return InboxBatch([], [])

    async def all_events(self, sources: Sequence[str]) -> list[Any]:
        return []

    async def item_events(self, items: Sequence[tuple[str, str]]) -> list[Any]:
        return []

    async def register_contracts(self, rows: Sequence[Any]) -> None:
        return None

    async def replace(self, contract: str, points: Any, outcomes: Any) -> None:
        return None

    async def replace_open_clocks(self, contract: str, clocks: Sequence[Any]) -> None:
        return None

    async def write(self, *args: Any) -> None:
        return None

    async def replace_alerts(self, contract: str, alerts: Sequence[Any]) -> None:
        return None

    async def write_alerts(self, contract: str, alerts: Any) -> None:
        return None

    async def replace_forecasts(self, contract: str, forecasts: Sequence[Any]) -> None:
        self.written.append(("pulse_period_forecasts", contract))

    async def replace_drift_signals(self, contract: str, signals: Sequence[Any]) -> None:
        self.written.append(("pulse_drift_signals", contract))

    async def done(self, keys: Sequence[Any]) -> None:
        return None

    async def checkpoints(self, contracts: Sequence[str]) -> dict[str, Any]:
        return {}

    async def write_checkpoints(self, states: Sequence[Any]) -> int:
        return 1


class _Store:
    """Fence rows in a dict, under the rules of processors/shards.py."""

    def __init__(self, shards: int, owner: str = "me") -> None:
        self.owner = owner
        self.fences = {n: ShardFence(n, None, 0) for n in range(shards)}
        self.ticks: list[tuple[int, int]] = []
        self.failing: set[int] = set()
        self.written: list[tuple[str, str]] = []

    async def claim_shard(self, shard: int, known: int | None, count: int) -> Claim:
        assert count == len(self.fences)
        decision = claim_decision(self.fences[shard], self.owner, known)
        self.fences[shard] = ShardFence(shard, self.owner, decision.generation)
        return decision

    @asynccontextmanager
    async def shard_tick(self, shard: int, generation: int) -> AsyncIterator[_Tick]:
        if not may_write(self.fences[shard], self.owner, generation):
            raise ShardFenced(f"evaluation shard {shard} was claimed by someone else")
        if shard in self.failing:
            raise RuntimeError(f"shard {shard} is broken")
        yield _Tick(self.written)
        self.ticks.append((shard, generation))

    def taken_by_another(self, shard: int) -> None:
        self.fences[shard] = ShardFence(shard, "other", self.fences[shard].generation + 1)

    async def close(self) -> None:
        return None


class _Gauges(IndicatorGauges):
    def __init__(self) -> None:
        super().__init__(CollectorRegistry(), help=INDICATOR_HELP)
        self.forgotten: list[str] = []

    def forget(self, client: str) -> None:
        self.forgotten.append(client)
        super().forget(client)


class _Risks(ItemRiskGauges):
    def __init__(self) -> None:
        super().__init__(CollectorRegistry(), top=5)
        self.forgotten: list[str] = []

    def forget(self, contract: str) -> None:
        self.forgotten.append(contract)
        super().forget(contract)


def _monitor(
    store: _Store, gauges: _Gauges | None = None, risks: _Risks | None = None
) -> ShardedMonitor:
    return ShardedMonitor(
        CONTRACTS, cast(MonitorStore, store), shards=2, gauges=gauges, risks=risks
    )


def test_one_worker_holding_every_shard_evaluates_every_contract() -> None:
    store = _Store(2)
    monitor = _monitor(store)
    reports = asyncio.run(monitor.round({0, 1}))
    assert sorted(reports) == [0, 1] and all(r.rebuilt for r in reports.values())
    assert store.ticks == [(0, 1), (1, 1)]
    assert [c.contract for c in monitor.held[0].monitor.contracts] == SHARD_0
    assert [c.contract for c in monitor.held[1].monitor.contracts] == SHARD_1
    again = asyncio.run(monitor.round({0, 1}))  # a rebalance that moves nothing costs nothing
    assert not any(r.rebuilt for r in again.values())
    assert store.fences[0].generation == 1


def test_a_shard_no_longer_assigned_is_released_with_its_gauges() -> None:
    store, gauges = _Store(2), _Gauges()
    monitor = _monitor(store, gauges)
    asyncio.run(monitor.round({0, 1}))
    asyncio.run(monitor.round({1}))
    assert sorted(monitor.held) == [1]
    assert sorted(gauges.forgotten) == SHARD_0
    assert store.ticks[-1] == (1, 1)


def test_a_fenced_tick_releases_the_shard_and_the_next_round_claims_it_again() -> None:
    store = _Store(2)
    monitor = _monitor(store)
    asyncio.run(monitor.round({0, 1}))
    store.taken_by_another(1)  # generation 2, owner "other"
    reports = asyncio.run(monitor.round({0, 1}))
    assert sorted(reports) == [0] and sorted(monitor.held) == [0]
    reports = asyncio.run(monitor.round({0, 1}))  # still assigned here: claimed again, rebuilt
    assert reports[1].rebuilt and monitor.held[1].generation == 3
    assert store.ticks[-1] == (1, 3)


def test_a_failing_shard_does_not_stop_the_others_and_rebuilds_afterwards() -> None:
    store = _Store(2)
    monitor = _monitor(store)
    asyncio.run(monitor.round({0, 1}))
    store.failing.add(0)
    reports = asyncio.run(monitor.round({0, 1}))
    assert sorted(reports) == [1]
    store.failing.clear()
    reports = asyncio.run(monitor.round({0, 1}))
    assert reports[0].rebuilt and not reports[1].rebuilt
    assert sorted(monitor.held) == [0, 1]


def test_shards_the_worker_does_not_have_are_ignored() -> None:
    store = _Store(2)
    monitor = _monitor(store)
    assert sorted(asyncio.run(monitor.round({1, 5}))) == [1]
    assert sorted(monitor.held) == [1]


def test_alerts_are_offered_per_held_contract_and_forgotten_with_a_released_shard() -> None:
    store = _Store(2)
    offered: list[str] = []
    released: list[str] = []
    registry = CollectorRegistry()
    health = HealthMetrics(registry)
    monitor = ShardedMonitor(
        CONTRACTS,
        cast(MonitorStore, store),
        shards=2,
        health=health,
        on_alerts=lambda contract, episodes, now: offered.append(contract),
        on_release=released.append,
    )
    asyncio.run(monitor.round({0, 1}))
    assert sorted(offered) == sorted(SHARD_0 + SHARD_1) and released == []
    offered.clear()
    asyncio.run(monitor.round({1}))  # shard 0 moved to another worker
    assert sorted(released) == SHARD_0 and offered == SHARD_1
    store.failing.add(1)
    asyncio.run(monitor.round({1}))

    def rounds(result: str) -> float | None:
        return registry.get_sample_value("pulse_monitor_rounds_total", {"result": result})

    assert (rounds("ok"), rounds("failed")) == (3, 1)


def test_each_shard_writes_its_contracts_forecasting_rows_and_shares_the_top_risk_gauge() -> None:
    store, risks = _Store(2), _Risks()
    monitor = _monitor(store, risks=risks)
    asyncio.run(monitor.round({0, 1}))
    # The rebuild of each claimed shard replaces its contracts' forecasting rows (both tables).
    assert store.written == [
        (table, contract)
        for contract in SHARD_0 + SHARD_1
        for table in ("pulse_period_forecasts", "pulse_drift_signals")
    ]
    assert all(held.monitor.risks is risks for held in monitor.held.values())
    store.written.clear()
    asyncio.run(monitor.round({0, 1}))  # nothing new: no rows rewritten
    assert store.written == []
    asyncio.run(monitor.round({1}))
    assert sorted(risks.forgotten) == SHARD_0
