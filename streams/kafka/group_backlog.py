"""How many records of each events partition the worker group has not committed yet, asked of
the broker: the per-partition watermark's test of "behind" (``processors.partition_progress``).

The worker commits a record's offset only after the record is stored (the batch handler returns
first), so a partition whose committed offset is its end offset has nothing on its way; one with
a backlog is never idle, whatever the consumer last knew of its high-water mark. Two requests a
round: the group's committed offsets (OffsetFetch through an admin client) and the partitions'
end offsets (ListOffsets through a consumer outside any group). A partition the group never
committed counts from its log start.
"""

from __future__ import annotations

import logging

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError

from outcome_pulse.processors.partition_progress import HOLD, Hold

log = logging.getLogger(__name__)


class GroupBacklog:
    def __init__(self, bootstrap: str, group_id: str, topic: str) -> None:
        self.bootstrap = bootstrap
        self.group_id = group_id
        self.topic = topic
        self._admin: AIOKafkaAdminClient | None = None
        self._consumer: AIOKafkaConsumer | None = None
        self._failing = False
        self._partitions: list[int] = []  # the topic's partitions, asked once

    async def __call__(self) -> dict[tuple[str, int], int] | Hold:
        """Per (topic, partition) of the events topic, the records not committed by the group;
        ``HOLD`` when the broker could not be asked (the frontier then stays where it was)."""
        try:
            backlog = await self._ask()
        except (KafkaError, OSError, TimeoutError) as exc:
            if not self._failing:
                log.warning(
                    "cannot ask Kafka at %s for the consumer group's lag (%s: %s); the "
                    "watermark holds until it answers",
                    self.bootstrap,
                    type(exc).__name__,
                    exc,
                )
            self._failing = True
            await self.close()
            return HOLD
        if self._failing:
            log.warning("Kafka answers again for the consumer group's lag")
            self._failing = False
        return backlog

    async def _ask(self) -> dict[tuple[str, int], int]:
        if self._admin is None:
            admin = AIOKafkaAdminClient(bootstrap_servers=self.bootstrap)
            await admin.start()
            self._admin = admin
        if self._consumer is None:
            consumer = AIOKafkaConsumer(bootstrap_servers=self.bootstrap, enable_auto_commit=False)
            await consumer.start()
            self._consumer = consumer
        if not self._partitions:
            (described,) = await self._admin.describe_topics([self.topic])
            if described["error_code"]:  # not created yet: nothing on its way
                return {}
            self._partitions = sorted(p["partition"] for p in described["partitions"])
        tps = [TopicPartition(self.topic, p) for p in self._partitions]
        committed = await self._admin.list_consumer_group_offsets(self.group_id, partitions=tps)
        ends = await self._consumer.end_offsets(tps)
        starts = await self._consumer.beginning_offsets(tps)
        backlog: dict[tuple[str, int], int] = {}
        for tp in tps:
            meta = committed.get(tp)
            done = meta.offset if meta is not None and meta.offset >= 0 else starts[tp]
            backlog[(tp.topic, tp.partition)] = max(0, ends[tp] - max(done, starts[tp]))
        return backlog

    async def close(self) -> None:
        admin, consumer = self._admin, self._consumer
        self._admin = self._consumer = None
        for client in (consumer, admin):
            if client is None:
                continue
            try:
                await client.stop() if isinstance(
                    client, AIOKafkaConsumer
                ) else await client.close()
            except Exception:  # closing a client that lost the broker; nothing to keep
                log.debug("closing a Kafka client failed", exc_info=True)


__all__ = ["GroupBacklog"]
