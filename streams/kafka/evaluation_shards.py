"""The evaluation topic: Kafka's consumer group decides which worker evaluates which shard.

The topic (``PULSE_EVALUATION_TOPIC``, compacted) has one partition per evaluation shard
(``PULSE_EVALUATION_PARTITIONS``). Every worker subscribes to it with an agent, as faust does for
the topics of agents and tables, so the group's assignor spreads its partitions over the live
members, and hands a dead member's partitions to the others once its session expires
(``broker_session_timeout``). A worker evaluates the contracts of the shards it holds
(``streams/drivers/shards.py``); holding a partition is the only thing that matters, the topic
carries no records the evaluation needs.

Between Kafka's decision and the database there is always a moment when two workers believe they
hold a shard (a revoked worker finishing its round, a zombie that missed its session): the fence
rows of ``pulse_evaluation_shards`` make the stale one's writes fail (``sinks/shard_fence.py``).
"""

from __future__ import annotations

from collections.abc import Callable

import faust

from outcome_pulse.streams.settings import PulseSettings


def subscribe_evaluation_shards(
    app: faust.App, settings: PulseSettings
) -> Callable[[], frozenset[int]]:
    """Subscribe ``app`` to the evaluation topic; return what tells the shards it holds now."""
    topic = app.topic(
        settings.evaluation_topic,
        key_type=bytes,
        value_type=bytes,
        key_serializer="raw",
        value_serializer="raw",
        partitions=settings.evaluation_partitions,
    )

    @app.agent(topic, name="evaluation-shards", concurrency=1)
    async def evaluation_shards(stream: faust.StreamT) -> None:  # type: ignore[type-arg]
        # The subscription is what matters (it makes the group assign the partitions); a record
        # someone wrote here changes nothing.
        async for _ in stream:
            pass

    def assigned() -> frozenset[int]:
        return frozenset(
            tp.partition
            for tp in app.assignor.assigned_actives()
            if tp.topic == settings.evaluation_topic
        )

    return assigned


__all__ = ["subscribe_evaluation_shards"]
