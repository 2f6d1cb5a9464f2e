"""The contract evaluation as faust tasks: in the ingest worker, or in a process of its own.

A worker of role ``all`` (the default, ``PULSE_WORKER_ROLE``) ingests the events and evaluates
the contracts in one process: the monitor's rounds run in a thread beside the ingest loop, so
both share one interpreter lock, and each round's CPU is taken from ingestion. With role
``ingest`` a worker only stores the events (and queues them in the shards' inboxes, as always);
processes of role ``evaluate`` do the rest: they hold the evaluation shards, apply the inboxes,
write the contract rows, export the indicator gauges and post the alerts. They read only the
database and ask the broker for the ingest group's committed offsets (the watermark's idle rule),
so they need neither the events topic nor the item table, and run on other cores or machines.

The evaluators form a consumer group of their own, ``<app_id>-evaluation``, subscribed to the
evaluation topic alone: Kafka spreads its partitions (the shards) over the live evaluators and
moves a dead one's to the others, as it does for workers of role ``all``. The two layouts must not
be mixed in one deployment: a worker of role ``all`` and an evaluator would each be assigned the
shards by their own group; the shard fence (``sinks/shard_fence.py``) keeps either from writing
rows from stale state, but they would take the shards from each other round after round.
"""

from __future__ import annotations

import asyncio
import logging

import faust

from outcome_pulse.sinks.alertmanager import AlertDelivery
from outcome_pulse.streams.drivers.shards import ShardedMonitor
from outcome_pulse.streams.kafka.evaluation_shards import subscribe_evaluation_shards
from outcome_pulse.streams.settings import PulseSettings

log = logging.getLogger(__name__)


def evaluation_group(settings: PulseSettings) -> str:
    """The consumer group (faust app id) of the processes of role ``evaluate``."""
    return f"{settings.app_id}-evaluation"


def add_contract_tasks(
    app: faust.App,
    settings: PulseSettings,
    monitor: ShardedMonitor | None,
    delivery: AlertDelivery | None,
) -> None:
    """Subscribe ``app`` to the evaluation shards and run the monitor's rounds and the alert
    delivery as its tasks (nothing without a monitor)."""
    if monitor is not None:
        assigned_shards = subscribe_evaluation_shards(app, settings)

        @app.task  # type: ignore[untyped-decorator]
        async def _monitor_contracts() -> None:
            # A loop rather than faust's timer: a round can outlast the interval (faust then
            # warns on every round). Each round evaluates the shards the group assigns this
            # process now (streams/drivers/shards.py); failures are handled per shard there.
            while not app.should_stop:
                await asyncio.sleep(settings.monitor_interval)
                reports = await monitor.round(assigned_shards())
                for shard, report in reports.items():
                    if report.events:
                        log.info("contract monitor, shard %d: %s", shard, report)

    if delivery is not None:

        @app.task  # type: ignore[untyped-decorator]
        async def _deliver_alerts() -> None:
            # Each process posts the alerts of the contracts in the evaluation shards it holds
            # (a released shard's contracts are forgotten: their new holder announces them).
            try:
                await delivery.run(lambda: bool(app.should_stop))
            finally:
                await delivery.close()


def create_evaluator_app(
    settings: PulseSettings, *, monitor: ShardedMonitor, delivery: AlertDelivery | None
) -> faust.App:
    """A faust app of role ``evaluate``: group membership for the shards, and the tasks."""
    (settings.state_dir / "faust").mkdir(parents=True, exist_ok=True)
    app = faust.App(
        evaluation_group(settings),
        broker=f"kafka://{settings.bootstrap}",
        store="memory://",
        datadir=str(settings.state_dir / "faust" / "{conf.name}"),
        topic_replication_factor=1,
        consumer_auto_offset_reset="latest",  # its records carry nothing (evaluation_shards.py)
        web_enabled=False,
        # As the ingest worker's (app.py): a dead evaluator's shards move after 10 s.
        broker_session_timeout=10.0,
        broker_heartbeat_interval=3.0,
    )
    add_contract_tasks(app, settings, monitor, delivery)
    return app


__all__ = ["add_contract_tasks", "create_evaluator_app", "evaluation_group"]
