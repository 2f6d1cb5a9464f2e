"""The batch drain acknowledges a batch in faust's commit bookkeeping as per-message acks would."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from faust.types import TP

from outcome_pulse.sinks.metrics import PipelineMetrics
from outcome_pulse.streams.kafka import batch_drain
from outcome_pulse.streams.kafka.app import _NoGapConsumer, create_app
from outcome_pulse.streams.settings import PulseSettings

TP0 = TP("pulse.events", 0)
TP1 = TP("pulse.events", 1)


@dataclass
class _Rec:
    offset: int


class _NoSink:
    async def write(self, events: object, states: object) -> None:
        return None


@pytest.fixture
def consumer() -> Iterator[_NoGapConsumer]:
    app = create_app(PulseSettings(), sink=_NoSink(), metrics=PipelineMetrics())
    made = app.consumer
    assert isinstance(made, _NoGapConsumer)
    assert made._batch_topic == "pulse.events"  # the worker's consumer drains it in batches
    yield made
    # The app never started: close the loops it and its consumer thread made (as wired_worker).
    thread = getattr(made, "_thread", None)
    for loop in (getattr(thread, "thread_loop", None), app.loop):
        if loop is not None and not loop.is_running() and not loop.is_closed():
            loop.close()
    asyncio.set_event_loop(None)


def test_a_batch_acknowledged_is_committable_up_to_its_last_offset(
    consumer: _NoGapConsumer,
) -> None:
    consumer._committed_offset[TP0] = 10
    consumer._committed_offset[TP1] = 0
    consumer._acknowledge([(TP0, _Rec(10)), (TP1, _Rec(0)), (TP0, _Rec(11)), (TP0, _Rec(12))])
    assert consumer._new_offset(TP0) == 13
    assert consumer._new_offset(TP1) == 1
    assert consumer._n_acked == 4
    assert consumer._read_offset[TP0] == 12


def test_offsets_acknowledged_twice_or_below_the_commit_count_once(
    consumer: _NoGapConsumer,
) -> None:
    consumer._committed_offset[TP0] = 10
    consumer._acknowledge([(TP0, _Rec(10)), (TP0, _Rec(11))])
    consumer._acknowledge([(TP0, _Rec(9)), (TP0, _Rec(11)), (TP0, _Rec(12))])
    assert consumer._acked[TP0] == [10, 11, 12]
    assert consumer._n_acked == 3


def test_a_batch_that_starts_after_the_committed_offset_is_not_committed(
    consumer: _NoGapConsumer,
) -> None:
    # A hole at the head (offset 10 never processed): nothing committed, the partition re-read.
    consumer._committed_offset[TP0] = 10
    consumer._acknowledge([(TP0, _Rec(11)), (TP0, _Rec(12))])
    assert consumer._new_offset(TP0) is None
    assert consumer._reread == {TP0}


class _Fetches:
    """Stands for faust's fetch: hands out the given batches, one per call, then nothing."""

    def __init__(self, *batches: list[int]) -> None:
        self.batches = [{TP0: [_Rec(o) for o in offsets]} for offsets in batches]

    async def __call__(self, timeout: float) -> tuple[dict[TP, list[_Rec]], None]:
        await asyncio.sleep(0)
        return (self.batches.pop(0) if self.batches else {}), None


class _Stages:
    """A batch callback whose writes wait for the test to release them, and a log of steps."""

    def __init__(self) -> None:
        self.log: list[str] = []
        self.release: dict[int, asyncio.Event] = {}
        self.fail: set[int] = set()

    def __call__(self, batch: object) -> object:
        first = batch[0][1].offset  # type: ignore[index]
        self.log.append(f"prepare {first}")
        self.release[first] = asyncio.Event()

        async def write() -> None:
            self.log.append(f"write {first}")
            await self.release[first].wait()
            if first in self.fail:
                raise RuntimeError(f"write {first} failed")
            self.log.append(f"written {first}")

        return write


def _pipeline(consumer: _NoGapConsumer, fetches: _Fetches) -> _Stages:
    stages = _Stages()
    consumer.drain_in_batches("pulse.events", stages)  # type: ignore[arg-type]
    consumer._wait_next_records = fetches  # type: ignore[method-assign]
    consumer.highwater = lambda tp: None  # type: ignore[method-assign]
    consumer._commit_every = None
    consumer._committed_offset[TP0] = 0
    return stages


async def _settle() -> None:
    for _ in range(20):
        await asyncio.sleep(0)


def test_the_next_batch_is_prepared_while_the_previous_one_is_written(
    consumer: _NoGapConsumer,
) -> None:
    async def scenario() -> None:
        stages = _pipeline(consumer, _Fetches([0, 1], [2, 3]))
        await consumer._drain_once()  # batch 0 prepared, its write started
        await _settle()
        assert stages.log == ["prepare 0", "write 0"]
        second = asyncio.ensure_future(consumer._drain_once())
        await _settle()
        # batch 2 is prepared during batch 0's write, and waits for it before its own write
        assert stages.log == ["prepare 0", "write 0", "prepare 2"]
        assert not second.done()
        assert consumer._acked[TP0] == []  # nothing acknowledged before its write returned
        idle = consumer._idle()  # what wait_empty (a rebalance, a shutdown) waits for
        assert not idle.is_set()
        stages.release[0].set()
        await second
        await _settle()
        assert stages.log[3:] == ["written 0", "write 2"]
        assert consumer._acked[TP0] == [0, 1]  # batch 0 only: batch 2 is still being written
        assert not idle.is_set()  # a rebalance waits for every batch in flight
        stages.release[2].set()
        await _settle()
        assert consumer._acked[TP0] == [0, 1, 2, 3]
        assert consumer._new_offset(TP0) == 4
        assert idle.is_set()

    asyncio.run(scenario())


def test_a_failed_write_stops_the_drain_before_the_next_batch_is_written(
    consumer: _NoGapConsumer,
) -> None:
    async def scenario() -> None:
        stages = _pipeline(consumer, _Fetches([0], [1]))
        stages.fail.add(0)
        await consumer._drain_once()
        second = asyncio.ensure_future(consumer._drain_once())
        await _settle()
        stages.release[0].set()
        with pytest.raises(RuntimeError, match="write 0 failed"):
            await second
        assert "write 1" not in stages.log  # prepared, never written
        assert consumer._acked[TP0] == []
        assert consumer._idle().is_set()  # nothing left in flight
        with pytest.raises(RuntimeError, match="write 0 failed"):
            await consumer._drain_once()  # and the drain does not go on

    asyncio.run(scenario())


def test_a_stopped_drain_lets_the_write_in_flight_finish_and_acknowledges_it(
    consumer: _NoGapConsumer,
) -> None:
    async def scenario() -> None:
        stages = _pipeline(consumer, _Fetches([0]))
        fetcher = type("Fetcher", (), {"_stopped": asyncio.Event()})()
        drain = asyncio.ensure_future(consumer._drain_messages(fetcher))
        await _settle()
        assert stages.log == ["prepare 0", "write 0"]
        drain.cancel()
        await _settle()
        assert not drain.done()  # waiting for the write, within the grace
        stages.release[0].set()
        with pytest.raises(asyncio.CancelledError):
            await drain
        assert stages.log[-1] == "written 0"
        assert consumer._acked[TP0] == [0]
        assert consumer._idle().is_set()

    asyncio.run(scenario())


def test_a_write_outlasting_the_stop_grace_is_cancelled_unacknowledged(
    consumer: _NoGapConsumer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(batch_drain, "STOP_GRACE", 0.05)

    async def scenario() -> None:
        stages = _pipeline(consumer, _Fetches([0]))
        fetcher = type("Fetcher", (), {"_stopped": asyncio.Event()})()
        drain = asyncio.ensure_future(consumer._drain_messages(fetcher))
        await _settle()
        assert stages.log == ["prepare 0", "write 0"]
        drain.cancel()
        with pytest.raises(asyncio.CancelledError):
            await drain
        stages.release[0].set()
        await _settle()
        assert "written 0" not in stages.log
        assert consumer._acked[TP0] == []
        assert consumer._idle().is_set()

    asyncio.run(scenario())
