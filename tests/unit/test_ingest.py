"""The batch handler with in-memory stand-ins for the table, the sink and the dead-letter topic.

These are unit tests of our own logic (decode, fold, dead-letter, one flush per batch); the
real broker and database are exercised by tests/integration and tests/e2e.
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, datetime
from typing import Any

from outcome_pulse.processors.lifecycle import ItemKind, Lifecycle
from outcome_pulse.sinks.metrics import PipelineMetrics
from outcome_pulse.streams.kafka.ingest import BatchHandler, Record
from outcome_pulse.streams.wire.deadletter import DeadLetter
from outcome_pulse.streams.wire.events import EventDecoder, build_envelope, encode_event
from outcome_pulse.streams.wire.item_key import item_key
from tests.support.memory import stored_rows

NOW = datetime(2026, 11, 21, tzinfo=UTC)


class MemorySink:
    def __init__(self) -> None:
        self.flushes: list[tuple[list[Any], list[dict[str, Any]]]] = []
        self.progress: list[Any] = []

    async def write(self, events: Any, states: Any, progress: Any = None) -> None:
        self.flushes.append((list(events), list(states)))
        self.progress.append(progress)

    async def stored_events(self, keys: Any) -> Any:
        return stored_rows(self.flushes, keys)


def event_bytes(
    n: int, item: str, lifecycle: Lifecycle, source: str = "unit", **data: Any
) -> bytes:
    return encode_event(
        build_envelope(
            event_id=f"e{n}",
            source=source,
            kind=ItemKind.INCIDENT,
            lifecycle=lifecycle,
            time=datetime(2012, 1, 1, 10, n, tzinfo=UTC),
            item_id=item,
            sequence=n,
            **data,
        )
    )


def key(item: str, source: str = "unit") -> bytes:
    return item_key(source, item)


def record(offset: int, key: bytes | None, value: bytes | None) -> Record:
    return Record("events", 0, offset, key, value, NOW.timestamp() - 2)


Items = dict[tuple[str, str], Any]
Handler = tuple[BatchHandler, Items, MemorySink, list[DeadLetter], PipelineMetrics]


def handler() -> Handler:
    items: Items = {}
    sink = MemorySink()
    letters: list[DeadLetter] = []
    metrics = PipelineMetrics()

    async def send(letter: DeadLetter) -> None:
        letters.append(letter)

    h = BatchHandler(
        decoder=EventDecoder(lambda: NOW),
        items=items,
        sink=sink,
        send_dead_letter=send,
        metrics=metrics,
        clock=lambda: NOW,
    )
    return h, items, sink, letters, metrics


def run(h: BatchHandler, records: list[Record]) -> tuple[int, int]:
    return asyncio.run(h.handle([(r, r) for r in records], lambda _: contextlib.nullcontext()))


def test_good_and_bad_records_in_one_batch() -> None:
    h, items, sink, letters, metrics = handler()
    records = [
        record(0, key("A"), event_bytes(1, "A", Lifecycle.CREATED, priority="High")),
        record(1, key("A"), b"{not json"),
        record(2, key("B"), event_bytes(2, "B", Lifecycle.CREATED)),
        record(3, key("X"), event_bytes(3, "A", Lifecycle.RESOLVED)),  # keyed by the wrong item
        record(4, key("A"), event_bytes(4, "A", Lifecycle.RESOLVED)),
    ]
    assert run(h, records) == (3, 2)
    assert [d.reason for d in letters] == ["malformed_json", "wrong_key"]
    assert letters[0].origin == {"topic": "events", "partition": 0, "offset": 1}
    assert letters[0].original == b"{not json"
    assert len(sink.flushes) == 1
    events, states = sink.flushes[0]
    assert [e.id for e in events] == ["e1", "e2", "e4"]
    by_item = {s["item_id"]: s for s in states}
    assert by_item["A"]["status"] == "resolved" and by_item["A"]["event_count"] == 2
    assert set(items) == {("unit", "A"), ("unit", "B")}
    text = metrics.exposition().decode()
    assert 'pulse_dead_letters_total{reason="malformed_json"} 1.0' in text
    assert 'pulse_events_total{type="pulse.incident.created"} 2.0' in text


def test_redelivered_batch_writes_the_same_rows_and_keeps_state() -> None:
    h, items, sink, _, _ = handler()
    batch = [
        record(0, key("A"), event_bytes(1, "A", Lifecycle.CREATED)),
        record(1, key("A"), event_bytes(2, "A", Lifecycle.PAUSED, state="Wait - User")),
    ]
    run(h, batch)
    state_after_first = items[("unit", "A")]
    run(h, batch)  # as after a crash before the offset commit
    assert items[("unit", "A")] is state_after_first
    assert sink.flushes[0][1] == sink.flushes[1][1]
    assert [e.id for e in sink.flushes[1][0]] == ["e1", "e2"]


def test_batch_of_only_dead_letters_does_not_flush() -> None:
    h, _, sink, letters, _ = handler()
    assert run(h, [record(0, None, None), record(1, b"k", b"\xff")]) == (0, 2)
    assert sink.flushes == [] and [d.reason for d in letters] == ["empty", "not_utf8"]


class PickySink(MemorySink):
    """Refuses any batch holding event 'e2', as a database refuses a value it cannot store."""

    async def write(self, events: Any, states: Any, progress: Any = None) -> None:
        from outcome_pulse.sinks.errors import SinkRejected

        if any(e.id == "e2" for e in events):
            raise SinkRejected("value rejected by PostgreSQL (22021)")
        await super().write(events, states, progress)


def test_a_batch_the_database_refuses_is_narrowed_to_the_bad_event() -> None:
    h, _, _, letters, metrics = handler()
    sink = PickySink()
    h._sink = sink
    records = [
        record(0, key("A"), event_bytes(1, "A", Lifecycle.CREATED)),
        record(1, key("B"), event_bytes(2, "B", Lifecycle.CREATED)),
        record(2, key("C"), event_bytes(3, "C", Lifecycle.CREATED)),
    ]
    assert run(h, records) == (2, 1)
    assert [e.id for flush in sink.flushes for e in flush[0]] == ["e1", "e3"]
    assert [(d.reason, d.origin["offset"]) for d in letters] == [("rejected_by_database", 1)]
    assert (
        'pulse_dead_letters_total{reason="rejected_by_database"} 1.0'
        in metrics.exposition().decode()
    )


class BrokenDecoder(EventDecoder):
    def decode(self, raw: bytes | None) -> Any:
        raise ArithmeticError("a bug in the decoder")


def test_a_decoder_bug_dead_letters_the_record_instead_of_stopping_the_worker() -> None:
    h, _, sink, letters, metrics = handler()
    h._decoder = BrokenDecoder(lambda: NOW)
    assert run(h, [record(0, key("A"), event_bytes(1, "A", Lifecycle.CREATED))]) == (0, 1)
    assert [(d.reason, d.detail) for d in letters] == [
        ("decoder_error", "ArithmeticError: a bug in the decoder")
    ]
    assert sink.flushes == []
    assert 'pulse_dead_letters_total{reason="decoder_error"} 1.0' in metrics.exposition().decode()


def test_each_flush_carries_the_latest_event_time_of_each_partition_it_came_from() -> None:
    """The per-partition watermark's input: dead letters and other partitions do not count."""
    h, _, sink, _, _ = handler()
    records = [
        Record("events", 0, 0, key("A"), event_bytes(5, "A", Lifecycle.CREATED), 0.0),
        Record("events", 0, 1, key("A"), event_bytes(2, "A", Lifecycle.RESOLVED), 0.0),
        Record("events", 1, 0, key("B"), event_bytes(3, "B", Lifecycle.CREATED), 0.0),
        Record("events", 2, 0, key("C"), b"{not json", 0.0),
    ]
    assert run(h, records) == (3, 1)
    # Without the consumer's high watermarks every partition counts as caught up.
    assert sink.progress == [
        {
            ("events", 0): (datetime(2012, 1, 1, 10, 5, tzinfo=UTC), True),
            ("events", 1): (datetime(2012, 1, 1, 10, 3, tzinfo=UTC), True),
        }
    ]


def test_a_partition_with_records_after_the_batch_is_not_caught_up() -> None:
    h, _, sink, _, _ = handler()
    ends = {("events", 0): 2, ("events", 1): 7}  # partition 1 holds records up to offset 6
    h._highwater = lambda topic, partition: ends.get((topic, partition))
    records = [
        Record("events", 0, 0, key("A"), event_bytes(5, "A", Lifecycle.CREATED), 0.0),
        Record("events", 0, 1, key("A"), event_bytes(2, "A", Lifecycle.RESOLVED), 0.0),
        Record("events", 1, 3, key("B"), event_bytes(3, "B", Lifecycle.CREATED), 0.0),
    ]
    assert run(h, records) == (3, 0)
    assert sink.progress == [
        {
            ("events", 0): (datetime(2012, 1, 1, 10, 5, tzinfo=UTC), True),
            ("events", 1): (datetime(2012, 1, 1, 10, 3, tzinfo=UTC), False),
        }
    ]


def test_two_sources_with_the_same_item_id_are_two_items() -> None:
    h, items, sink, letters, _ = handler()
    records = [
        record(0, key("INC1", "acme"), event_bytes(1, "INC1", Lifecycle.CREATED, "acme")),
        record(1, key("INC1", "beta"), event_bytes(2, "INC1", Lifecycle.CREATED, "beta")),
        record(2, key("INC1", "acme"), event_bytes(3, "INC1", Lifecycle.RESOLVED, "acme")),
    ]
    assert run(h, records) == (3, 0) and letters == []
    assert items[("acme", "INC1")].current_status == "resolved"
    assert items[("beta", "INC1")].current_status == "open"
    states = {(s["source"], s["item_id"]): s for s in sink.flushes[0][1]}
    assert {k: (s["status"], s["event_count"]) for k, s in states.items()} == {
        ("acme", "INC1"): ("resolved", 2),
        ("beta", "INC1"): ("open", 1),
    }


def test_the_bare_item_id_key_of_older_producers_is_a_dead_letter_that_says_so() -> None:
    h, items, sink, letters, _ = handler()
    assert run(h, [record(0, b"A", event_bytes(1, "A", Lifecycle.CREATED))]) == (0, 1)
    assert [d.reason for d in letters] == ["wrong_key"]
    assert "is the bare item id" in letters[0].detail
    assert "b'unit\\x00A'" in letters[0].detail
    assert items == {} and sink.flushes == []


def test_an_event_keyed_by_another_source_is_a_dead_letter() -> None:
    h, _, _, letters, _ = handler()
    bad = record(0, key("A", "other"), event_bytes(1, "A", Lifecycle.CREATED))
    assert run(h, [bad]) == (0, 1)
    assert [d.reason for d in letters] == ["wrong_key"]
    assert "source 'unit', NUL, subject 'A'" in letters[0].detail


class WriteLog(dict[tuple[str, str], Any]):
    """A table that records every write."""

    def __init__(self) -> None:
        super().__init__()
        self.writes: list[tuple[str, str]] = []

    def __setitem__(self, key: tuple[str, str], value: Any) -> None:
        self.writes.append(key)
        super().__setitem__(key, value)


def redelivery_writes(rewrite_unchanged: bool) -> list[tuple[str, str]]:
    items = WriteLog()

    async def send(letter: DeadLetter) -> None:
        raise AssertionError(letter)

    h = BatchHandler(
        decoder=EventDecoder(lambda: NOW),
        items=items,
        sink=MemorySink(),
        send_dead_letter=send,
        metrics=PipelineMetrics(),
        clock=lambda: NOW,
        rewrite_unchanged=rewrite_unchanged,
    )
    batch = [
        record(0, key("A"), event_bytes(1, "A", Lifecycle.CREATED)),
        record(1, key("B"), event_bytes(2, "B", Lifecycle.CREATED)),
    ]
    run(h, batch)
    state = dict(items)
    items.writes.clear()
    run(h, batch[:1])  # A's event again: re-applying it changes nothing
    assert dict(items) == state
    return items.writes


def test_a_redelivered_record_rewrites_its_item_only_when_asked() -> None:
    # In memory, a redelivery that changes nothing writes nothing; a RocksDB table rewrites the
    # item, so a state whose changelog record a crash lost is sent again (item_store.py).
    assert redelivery_writes(rewrite_unchanged=False) == []
    assert redelivery_writes(rewrite_unchanged=True) == [("unit", "A")]


def moved_copy(n: int, item: str, lifecycle: Lifecycle, minutes: int, **data: Any) -> bytes:
    """Event ``e<n>`` of ``item`` again, at another minute: same (source, id), other content."""
    return encode_event(
        build_envelope(
            event_id=f"e{n}",
            source="unit",
            kind=ItemKind.INCIDENT,
            lifecycle=lifecycle,
            time=datetime(2012, 1, 1, 10, minutes, tzinfo=UTC),
            item_id=item,
            sequence=n,
            **data,
        )
    )


def test_a_copy_of_a_stored_event_at_another_time_is_a_dead_letter_not_a_second_event() -> None:
    h, items, sink, letters, metrics = handler()
    run(h, [record(0, key("A"), event_bytes(1, "A", Lifecycle.CREATED))])
    state = items[("unit", "A")]
    # The same id again, moved by 30 minutes, and a true redelivery, in a later batch.
    again = [
        record(1, key("A"), moved_copy(1, "A", Lifecycle.CREATED, 31)),
        record(2, key("A"), event_bytes(1, "A", Lifecycle.CREATED)),
        record(3, key("A"), event_bytes(2, "A", Lifecycle.RESOLVED)),
    ]
    assert run(h, again) == (2, 1)
    assert [d.reason for d in letters] == ["conflicting_duplicate"]
    assert letters[0].origin == {"topic": "events", "partition": 0, "offset": 1}
    detail = letters[0].detail
    assert "'e1'" in detail
    assert "event_time: 2012-01-01T10:01:00+00:00 -> 2012-01-01T10:31:00+00:00" in detail
    events, _ = sink.flushes[1]
    assert [(e.id, e.time.minute) for e in events] == [("e1", 1), ("e2", 2)]
    assert items[("unit", "A")].event_count == 2 and state.event_count == 1
    text = metrics.exposition().decode()
    assert 'pulse_dead_letters_total{reason="conflicting_duplicate"} 1.0' in text


def test_a_copy_with_other_content_in_the_same_batch_is_a_dead_letter() -> None:
    h, _, sink, letters, _ = handler()
    batch = [
        record(0, key("A"), event_bytes(1, "A", Lifecycle.CREATED, priority="High")),
        record(1, key("A"), event_bytes(1, "A", Lifecycle.CREATED, priority="Low")),
        record(2, key("A"), event_bytes(1, "A", Lifecycle.CREATED, priority="High")),
    ]
    assert run(h, batch) == (2, 1)
    assert [(d.reason, d.origin["offset"]) for d in letters] == [("conflicting_duplicate", 1)]
    assert "priority: 'High' -> 'Low'" in letters[0].detail
    events, states = sink.flushes[0]
    assert [e.data.priority for e in events] == ["High", "High"]
    assert states[0]["priority"] == "High" and states[0]["event_count"] == 1


def test_a_repeated_id_with_no_stored_copy_is_stored_as_the_redelivery_it_is() -> None:
    # The item state (from the changelog) applied e1, but its row was never written (a crash
    # between the two): the redelivered record is stored, not dead-lettered.
    h, items, sink, letters, _ = handler()
    run(h, [record(0, key("A"), event_bytes(1, "A", Lifecycle.CREATED))])
    sink.flushes.clear()
    assert run(h, [record(0, key("A"), event_bytes(1, "A", Lifecycle.CREATED))]) == (1, 0)
    assert letters == [] and [e.id for e in sink.flushes[0][0]] == ["e1"]
    assert items[("unit", "A")].event_count == 1
