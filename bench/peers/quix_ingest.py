"""The worker's job on Quix Streams (confluent-kafka inside), for bench.e2e_throughput.

    .venv/bin/python -m bench.peers.quix_ingest BOOTSTRAP TOPIC DSN GROUP STATE_DIR

Consumes the events topic from the start in a consumer group; decodes and validates each value
with the same ``EventDecoder`` as the worker (CloudEvents JSON, the same pydantic rules); folds
the item's state with the same ``apply_event`` in Quix's RocksDB state store (keyed by the Kafka
key, the item id); and writes the events and the latest state of each item touched to the same
PostgreSQL tables through the same ``PostgresSink`` (COPY + upsert), in one batch per partition
and checkpoint. Quix flushes sinks before it commits offsets: at-least-once, with the fold and
the sink idempotent as in the worker. Runs until stopped (SIGTERM).
"""

from __future__ import annotations

import asyncio
import sys
from datetime import UTC, datetime
from typing import Any

from quixstreams import Application, State
from quixstreams.sinks import BatchingSink, SinkBatch

from outcome_pulse.processors.item_state import (
    apply_event,
    state_from_dict,
    state_row,
    state_to_dict,
)
from outcome_pulse.sinks.event_sink import PostgresSink
from outcome_pulse.streams.wire.events import EventDecoder, EventEnvelope

_DECODER = EventDecoder(lambda: datetime.now(UTC))


class PulseTablesSink(BatchingSink):
    """``pulse_events`` and ``pulse_item_states`` through the worker's PostgresSink."""

    def __init__(self, dsn: str) -> None:
        super().__init__()
        self._loop = asyncio.new_event_loop()
        self._sink = PostgresSink(dsn)
        self._loop.run_until_complete(self._sink.open())

    def write(self, batch: SinkBatch) -> None:
        events: list[EventEnvelope] = []
        states: dict[tuple[str, str], dict[str, Any]] = {}
        for item in batch:
            envelope, row = item.value
            events.append(envelope)
            states[(envelope.source, envelope.subject)] = row
        self._loop.run_until_complete(self._sink.write(events, list(states.values())))


def fold(value: bytes, state: State[Any, Any]) -> tuple[EventEnvelope, dict[str, Any]]:
    envelope = _DECODER.decode(value)
    before = state.get("item")
    after = apply_event(
        None if before is None else state_from_dict(before),
        envelope.to_item_event(),
        envelope.sequence,
    )
    state.set("item", state_to_dict(after))
    return envelope, state_row(after)


def main() -> None:
    bootstrap, topic_name, dsn, group, state_dir = sys.argv[1:6]
    app = Application(
        broker_address=bootstrap,
        consumer_group=group,
        auto_offset_reset="earliest",
        processing_guarantee="at-least-once",
        state_dir=state_dir,
        commit_interval=1.0,
        use_changelog_topics=True,
        loglevel="WARNING",
    )
    topic = app.topic(topic_name, key_deserializer="bytes", value_deserializer="bytes")
    sdf = app.dataframe(topic)
    sdf = sdf.apply(fold, stateful=True)
    sdf.sink(PulseTablesSink(dsn))
    app.run()


if __name__ == "__main__":
    main()
