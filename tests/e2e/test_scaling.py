"""Two workers in one consumer group share a 4-partition topic, and the result is the same.

Both workers have the app id (consumer group) of the pipeline; faust's assignor gives each two of
the four event partitions (and the matching changelog partitions, with the other two as standby
replicas). Each worker serves its own metrics: both must have processed events, and the tables
must equal a one-worker run's (``helpdesk_clean``) row for row.
"""

from __future__ import annotations

import asyncio
import urllib.request

import pytest
from aiokafka.admin import AIOKafkaAdminClient
from prometheus_client.parser import text_string_to_metric_families

from outcome_pulse.streams.settings import PulseSettings
from tests.e2e.helpdesk import (
    HELPDESK_EVENTS,
    Fingerprints,
    alive,
    assert_exact,
    finish,
    replay,
)
from tests.support.sandbox import Pipeline, free_port, isolated_pipeline

pytestmark = pytest.mark.e2e

WORKERS = ("a", "b")


async def _group_members(settings: PulseSettings) -> tuple[str, int]:
    """(state, members) of the pipeline's consumer group."""
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.bootstrap)
    await admin.start()
    try:
        (response,) = await admin.describe_consumer_groups([settings.app_id])
    finally:
        await admin.close()
    # DescribeGroups v0+: (error_code, group_id, state, protocol_type, protocol, members, ...)
    group = response.groups[0]
    return str(group[2]), len(group[5])


def events_processed(metrics_port: int) -> float:
    """``pulse_events_total`` summed over event types, from one worker's metrics endpoint."""
    url = f"http://127.0.0.1:{metrics_port}/metrics"
    with urllib.request.urlopen(url, timeout=5) as response:
        text = response.read().decode()
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        if family.name == "pulse_events"
        for sample in family.samples
        if sample.name == "pulse_events_total"
    )


def start_workers(pipe: Pipeline) -> dict[str, int]:
    """Start the workers, each with its own metrics port, and wait until the group is stable."""
    ports = {name: free_port() for name in WORKERS}
    for name, port in ports.items():
        # Each worker process its own RocksDB directory (RocksDB locks it; unused in memory).
        items = pipe.settings.state_dir / "faust" / pipe.settings.app_id / f"items-{name}"
        pipe.start_worker(name, metrics_port=port, item_store_dir=items)
    pipe.wait_for(
        lambda: asyncio.run(_group_members(pipe.settings)) == ("Stable", len(WORKERS)),
        timeout=120,
        what=f"a stable group of {len(WORKERS)} workers",
    )
    return ports


# rocksdb: the table partitions that move in the rebalance are RocksDB databases, rebuilt by
# their new owner from the changelog into its own directory.
@pytest.mark.parametrize("item_store", ["memory", "rocksdb"])
def test_two_workers_share_the_partitions_and_match_one_worker(
    settings: PulseSettings, helpdesk_clean: Fingerprints, item_store: str
) -> None:
    with isolated_pipeline(
        settings.model_copy(update={"item_store": item_store}), partitions=4
    ) as pipe:
        ports = start_workers(pipe)
        replay(pipe.settings)
        finish(pipe)
        processed = {name: events_processed(port) for name, port in ports.items()}
        print(f"events processed per worker: {processed}")
        for name in WORKERS:
            assert alive(pipe.workers[name].pid), pipe.worker_log(name)
            assert processed[name] > 0, f"worker {name} processed nothing: {processed}"
        # Each event once, unless a rebalance made a worker re-process some (idempotent).
        assert sum(processed.values()) >= HELPDESK_EVENTS
        assert asyncio.run(_group_members(pipe.settings)) == ("Stable", len(WORKERS))
        assert_exact(pipe.settings.dsn, helpdesk_clean)
