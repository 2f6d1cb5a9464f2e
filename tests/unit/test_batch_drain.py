"""The batch drain acknowledges a batch in faust's commit bookkeeping as per-message acks would."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from faust.types import TP

from outcome_pulse.sinks.metrics import PipelineMetrics
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
