"""Two workers share three contracts through Kafka's group membership; one is SIGKILLed mid-replay.

The contracts of the three real logs are spread over two evaluation shards (the partitions of
the evaluation topic): ``bpic2013-incidents`` and ``scms-orders`` on shard 0, ``helpdesk-tickets``
on shard 1 (pinned in tests/unit/test_shards.py). With two workers in the group, each is assigned
one shard, so both evaluate contracts. Halfway through the replay the owner of shard 0 is
SIGKILLed; once its session expires the group gives shard 0 to the survivor, which claims it
(generation + 1), starts its two contracts from the engine checkpoints the victim wrote (every
2 s here) and the events it applied since, and goes on. At the end
every contract's rows equal what ``pulse backtest`` computes from the same events, row for row,
once every contract's watermark has reached the backtest's (every Kafka partition idle: the
per-partition watermark).

The input is a slice of each log (its first items, all of their events), shuffled within the
allowed lateness with 5% of the events sent twice, the three logs interleaved.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from outcome_pulse.processors.shards import shard_of
from outcome_pulse.sinks.shard_fence import fences
from outcome_pulse.streams.drivers.replay import produce
from outcome_pulse.streams.settings import PulseSettings
from tests.e2e.helpdesk import alive, kill_hard
from tests.support.exactness import (
    assert_rows_equal_backtest,
    contract_watermark,
    interleaved_logs,
    stored_and_waiting,
)
from tests.support.sandbox import free_port, isolated_pipeline, shard_owners

pytestmark = pytest.mark.integration

SHARDS = 2
ITEMS_PER_LOG = 1500


@pytest.mark.timeout(1200)
def test_two_workers_share_three_contracts_and_one_killed_hands_its_shard_over(
    settings: PulseSettings,
) -> None:
    logs = interleaved_logs(ITEMS_PER_LOG, seed=2026)
    contracts, expected, sent = logs.contracts, logs.expected, logs.sent
    final_watermark, unique, paths = logs.final_watermark, logs.unique, logs.contract_paths
    spread = {c: shard_of(c, SHARDS) for c in contracts}
    assert set(spread.values()) == {0, 1}, spread

    with isolated_pipeline(settings, evaluation_partitions=SHARDS) as pipe:
        # Idle after 3 s without records, so the watermarks reach the backtest's once drained.
        overrides = {
            "contracts": paths,
            "monitor_interval": 1.0,
            "idle_partition_seconds": 3.0,
            "checkpoint_seconds": 2.0,
        }
        workers = {
            "a": pipe.start_worker("a", **overrides),
            "b": pipe.start_worker("b", metrics_port=free_port(), **overrides),
        }
        dsn = pipe.settings.dsn
        pipe.wait_for(
            lambda: set(shard_owners(pipe, workers).values()) == {"a", "b"},
            timeout=180,
            what="each worker holding one evaluation shard",
        )
        asyncio.run(produce(pipe.settings, sent, []))
        pipe.wait_for(
            lambda: stored_and_waiting(dsn)[0] >= unique // 2,
            what="half the events stored",
        )
        before = {f.shard: f for f in fences(dsn)}
        owners = shard_owners(pipe, workers)
        assert set(owners.values()) == {"a", "b"}, owners  # both evaluate contracts
        victim = owners[0]
        assert victim is not None
        survivor = "b" if victim == "a" else "a"
        stored = stored_and_waiting(dsn)[0]
        kill_hard(workers[victim])
        print(
            f"{datetime.now(UTC):%H:%M:%S} SIGKILL worker {victim} "
            f"(pid {workers[victim].pid}, shard 0: "
            f"{', '.join(c for c, s in spread.items() if s == 0)}) at {stored:,} of "
            f"{unique:,} events stored"
        )
        assert stored < unique, "the kill did not land mid-replay"
        pipe.wait_for(
            lambda: shard_owners(pipe, workers) == {0: survivor, 1: survivor},
            timeout=180,
            what=f"worker {survivor} holding both shards",
        )
        pipe.wait_for(
            lambda: stored_and_waiting(dsn) == (unique, 0),
            timeout=900,
            what=f"all {unique:,} events stored and applied by the contract monitor",
        )
        pipe.wait_for(
            lambda: all(contract_watermark(dsn, c) == final_watermark[c] for c in contracts),
            timeout=120,
            what="every contract's watermark at the backtest's (every partition idle)",
        )
        after = {f.shard: f for f in fences(dsn)}
        print(f"fences before the kill: {before}; after: {after}")
        assert after[0].generation > before[0].generation  # taken over, not shared
        assert alive(workers[survivor].pid), pipe.worker_log(survivor)
        log = workers[survivor].log.read_text(errors="replace")
        assert "claimed evaluation shard 0" in log, pipe.worker_log(survivor)
        taken = log[log.rindex("claimed evaluation shard 0") :]  # the takeover
        assert "started 2 contract(s): 2 from checkpoints (" in taken, pipe.worker_log(survivor)
        for contract in contracts:
            assert_rows_equal_backtest(dsn, contract, expected[contract])
