"""faust's consumer thread, asking the broker to hold a fetch for at most ``FETCH_MAX_WAIT_MS``.

faust creates its aiokafka consumer with ``fetch_max_wait_ms=1500`` (hard-coded in
``AIOKafkaConsumerThread._create_worker_consumer``): a fetch request for partitions without new
data is held by the broker up to 1.5 s. That alone would cost nothing, but the worker's consumer
also holds partitions that receive (almost) nothing: the evaluation topic's shards and, on
assignment, the item table's changelog. aiokafka sends one fetch request per broker at a time,
and leaves out the partitions whose records are still buffered. So when a response brings
records for every events partition, the next request covers only the idle partitions; the broker
holds it for the whole 1.5 s, and no request for the events partitions can go to that broker
before it returns. Events then arrived in bursts every 1.5 s plus the batch's own time: at
1,000 events/s offered, produce-to-row latency p50 was 1.0-1.3 s (the bare aiokafka loop: 6-20
ms). At 100 ms the burst interval is bounded by 100 ms, for at most ten empty fetch responses a
second per broker when the worker is idle.
"""

from __future__ import annotations

from typing import Any

import aiokafka
from faust.transport.drivers import aiokafka as aiokafka_driver

FETCH_MAX_WAIT_MS = 100


class PromptFetchConsumerThread(aiokafka_driver.AIOKafkaConsumerThread):
    def _create_worker_consumer(self, transport: Any) -> aiokafka.AIOKafkaConsumer:
        consumer = super()._create_worker_consumer(transport)
        set_fetch_max_wait(consumer, FETCH_MAX_WAIT_MS)
        return consumer


def set_fetch_max_wait(consumer: aiokafka.AIOKafkaConsumer, milliseconds: int) -> None:
    """Set a consumer's ``fetch_max_wait_ms`` before it starts (its fetcher reads it then)."""
    if not isinstance(getattr(consumer, "_fetch_max_wait_ms", None), int):
        # aiokafka keeps the constructor's argument in this attribute until start(); if an
        # upgrade renamed it, say so rather than silently keep faust's 1.5 s.
        raise RuntimeError("aiokafka's consumer has no _fetch_max_wait_ms: recheck prompt_fetch")
    consumer._fetch_max_wait_ms = milliseconds
