"""The worker's faust consumer commits only what the agent acknowledged (``_NoGapConsumer``)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
from faust.types import TP

from outcome_pulse.streams.bootstrap import utc_now
from outcome_pulse.streams.kafka.app import _NoGapConsumer
from outcome_pulse.streams.kafka.prompt_fetch import (
    FETCH_MAX_WAIT_MS,
    PromptFetchConsumerThread,
    set_fetch_max_wait,
)
from outcome_pulse.streams.settings import PulseSettings
from tests.support.memory import memory_adapters, wired_worker

TP0 = TP("pulse.events", 0)


@pytest.fixture
def consumer(unit_settings: PulseSettings) -> Iterator[_NoGapConsumer]:
    with wired_worker(unit_settings, [], memory_adapters(utc_now)) as worker:
        made = worker.app.consumer
        assert isinstance(made, _NoGapConsumer)
        yield made


def acknowledge(consumer: _NoGapConsumer, committed: int, offsets: list[int]) -> None:
    consumer._committed_offset[TP0] = committed
    consumer._acked[TP0] = list(offsets)
    consumer._acked_index[TP0] = set(offsets)


def test_no_gaps_are_recorded(consumer: _NoGapConsumer) -> None:
    # faust would count 374..420 as acknowledged after a jump from 373 to 420.
    asyncio.run(consumer._add_gap(TP0, 374, 420))
    assert not consumer._gap.get(TP0)


def test_contiguous_acknowledgements_are_committed(consumer: _NoGapConsumer) -> None:
    acknowledge(consumer, 10, [10, 11, 12, 14])
    assert consumer._new_offset(TP0) == 13
    assert not consumer._reread


def test_a_hole_at_the_head_blocks_the_commit_and_asks_for_a_re_read(
    consumer: _NoGapConsumer,
) -> None:
    # faust itself would commit 13 here, past the unprocessed record at offset 10.
    acknowledge(consumer, 10, [11, 12])
    assert consumer._new_offset(TP0) is None
    assert consumer._reread == {TP0}


def test_a_worker_recovers_from_crashes_quickly(unit_settings: PulseSettings) -> None:
    with wired_worker(unit_settings, [], memory_adapters(utc_now)) as worker:
        assert worker.app.conf.broker_session_timeout == 10.0


def test_the_broker_holds_a_fetch_of_the_worker_for_at_most_100_ms(
    unit_settings: PulseSettings,
) -> None:
    # faust's 1.5 s made events arrive in bursts every 1.5 s (streams/kafka/prompt_fetch.py)
    with wired_worker(unit_settings, [], memory_adapters(utc_now)) as worker:
        consumer = worker.app.consumer
        thread = consumer._thread
        assert isinstance(thread, PromptFetchConsumerThread)

        async def created() -> int:
            aio = thread._create_worker_consumer(consumer.transport)
            try:
                return int(aio._fetch_max_wait_ms)
            finally:
                await aio.stop()

        assert asyncio.run(created()) == FETCH_MAX_WAIT_MS == 100


def test_a_renamed_fetch_wait_attribute_is_loud() -> None:
    class Consumer:  # what an aiokafka that no longer has the attribute would look like
        pass

    with pytest.raises(RuntimeError, match="_fetch_max_wait_ms"):
        set_fetch_max_wait(Consumer(), 100)  # type: ignore[arg-type]
