"""The ingestion and the evaluation in processes of their own (``PULSE_WORKER_ROLE``).

One worker of role ``ingest`` stores the events of the three real logs' first items (shuffled
within the allowed lateness, 5% sent twice, interleaved) and evaluates nothing; two processes of
role ``evaluate`` form their own consumer group (``<app_id>-evaluation``), each is assigned one of
the two evaluation shards and evaluates its contracts from the database. One evaluator is
SIGKILLed before the events arrive; the group hands its shard to the other, which claims it and
evaluates all three contracts. At the end every contract's rows equal ``pulse backtest``'s, row for
row, and the ingest worker never held a shard.
"""

from __future__ import annotations

import asyncio

import pytest

from outcome_pulse.processors.shards import shard_of
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
ITEMS_PER_LOG = 400


@pytest.mark.timeout(900)
def test_an_ingest_worker_and_two_evaluators_one_killed_give_the_backtests_rows(
    settings: PulseSettings,
) -> None:
    logs = interleaved_logs(ITEMS_PER_LOG, seed=2027)
    contracts = logs.contracts
    assert {shard_of(c, SHARDS) for c in contracts} == {0, 1}

    with isolated_pipeline(settings, evaluation_partitions=SHARDS) as pipe:
        common = {
            "contracts": logs.contract_paths,
            "monitor_interval": 1.0,
            "idle_partition_seconds": 3.0,
        }
        workers = {
            "ingest": pipe.start_worker("ingest", worker_role="ingest", **common),
            "e1": pipe.start_worker(
                "e1", worker_role="evaluate", metrics_port=free_port(), **common
            ),
            "e2": pipe.start_worker(
                "e2", worker_role="evaluate", metrics_port=free_port(), **common
            ),
        }
        dsn = pipe.settings.dsn
        pipe.wait_for(
            lambda: set(shard_owners(pipe, workers).values()) == {"e1", "e2"},
            timeout=180,
            what="each evaluator holding one evaluation shard",
        )
        victim = shard_owners(pipe, workers)[0]
        assert victim is not None
        survivor = "e2" if victim == "e1" else "e1"
        kill_hard(workers[victim])
        pipe.wait_for(
            lambda: shard_owners(pipe, workers) == {0: survivor, 1: survivor},
            timeout=180,
            what=f"evaluator {survivor} holding both shards",
        )
        asyncio.run(produce(pipe.settings, logs.sent, []))
        pipe.wait_for(
            lambda: stored_and_waiting(dsn) == (logs.unique, 0),
            timeout=600,
            what=f"all {logs.unique:,} events stored and applied by the evaluator",
        )
        pipe.wait_for(
            lambda: all(contract_watermark(dsn, c) == logs.final_watermark[c] for c in contracts),
            timeout=120,
            what="every contract's watermark at the backtest's (every partition idle)",
        )
        assert alive(workers["ingest"].pid), pipe.worker_log("ingest")
        assert alive(workers[survivor].pid), pipe.worker_log(survivor)
        ingest_log = workers["ingest"].log.read_text(errors="replace")
        assert "role ingest" in ingest_log, pipe.worker_log("ingest")
        assert "claimed evaluation shard" not in ingest_log, pipe.worker_log("ingest")
        for contract in contracts:
            assert_rows_equal_backtest(dsn, contract, logs.expected[contract])
