"""A worker's start: the item table's changelog records recovered through faust's own path (the
changelog topic's decode, then the table's ``apply_changelog_batch``) hold what normal operation
holds: ``ItemState`` objects in the memory store, the records' bytes as they are in RocksDB
(streams/kafka/item_store.py ``ItemTable``). A record that is not a state is reported with its
key and partition, never dropped."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import pytest
from faust.stores.rocksdb import Store as RocksStore
from faust.types import TP, Message

from outcome_pulse.processors.item_state import ItemState, state_to_dict
from outcome_pulse.streams.bootstrap import utc_now
from outcome_pulse.streams.kafka.app import _InFlight, _StrKeyTable, as_current_event
from outcome_pulse.streams.kafka.codecs import ITEM_STATE_CODEC, ITEM_STATE_CODEC_IMPL
from outcome_pulse.streams.kafka.item_store import DamagedItemState, ItemTable
from outcome_pulse.streams.kafka.topics import ITEM_TABLE
from outcome_pulse.streams.settings import PulseSettings
from outcome_pulse.streams.wire.item_key import item_key
from tests.support.memory import Worker, memory_adapters, wired_worker
from tests.unit.test_item_store import _Message, hold_partitions, state


def started(unit_settings: PulseSettings, store: str) -> Any:
    settings = unit_settings.model_copy(update={"item_store": store})
    return wired_worker(settings, [], memory_adapters(utc_now))


@pytest.fixture(params=["memory", "rocksdb"])
def worker(request: pytest.FixtureRequest, unit_settings: PulseSettings) -> Iterator[Worker]:
    with started(unit_settings, request.param) as w:
        yield w


@pytest.fixture
def memory_worker(unit_settings: PulseSettings) -> Iterator[Worker]:
    with started(unit_settings, "memory") as w:
        yield w


@pytest.fixture
def rocks_worker(unit_settings: PulseSettings) -> Iterator[Worker]:
    with started(unit_settings, "rocksdb") as w:
        yield w


def table_of(worker: Worker) -> Any:
    return worker.app.tables[ITEM_TABLE]


def recover(table: Any, records: list[tuple[int, int, bytes, bytes | None]]) -> None:
    """Feed (partition, offset, key, value) changelog records through the changelog topic's
    decode, as faust's recovery receives them, then to the table as recovery applies them."""
    topic = table.changelog_topic_name

    async def events() -> list[Any]:
        return [
            await table.changelog_topic.decode(
                Message(topic, p, o, 0.0, 0, {}, k, v, None, len(k), len(v or b""))
            )
            for p, o, k, v in records
        ]

    table.apply_changelog_batch(asyncio.run(events()))


def test_the_item_table_is_ours_and_sends_with_our_codec(worker: Worker) -> None:
    table = table_of(worker)
    assert isinstance(table, ItemTable)
    assert table.value_serializer == ITEM_STATE_CODEC
    assert table.changelog_topic.value_serializer == "raw"


def test_recovered_states_are_the_item_states_written(worker: Worker) -> None:
    table = table_of(worker)
    rocks = isinstance(table.data, RocksStore)
    if rocks:
        hold_partitions(worker, {0, 1})
    a, b, c = state("A", 3), state("B"), state("C", 2)
    # as the table writes its changelog, and (c) as the standard library's JSON wrote it before
    written_c = json.dumps(state_to_dict(c)).encode()
    recover(
        table,
        [
            (0, 4, item_key("unit", "A"), ITEM_STATE_CODEC_IMPL.dumps(a)),
            (1, 5, item_key("unit", "B"), ITEM_STATE_CODEC_IMPL.dumps(b)),
            (1, 6, item_key("unit", "C"), written_c),
            (0, 7, item_key("unit", "D"), ITEM_STATE_CODEC_IMPL.dumps(state("D"))),
            (0, 8, item_key("unit", "D"), None),  # a deletion
        ],
    )
    items = _StrKeyTable(table, counted=rocks)
    assert items.get(("unit", "A")) == a and items[("unit", "B")] == b
    assert items.get(("unit", "C")) == c and items.get(("unit", "D")) is None
    if rocks:
        # the changelog's bytes, stored as they are (not parsed and re-encoded)
        assert table.data._dbs[1][item_key("unit", "C")] == written_c
    else:
        held = dict(table.data.data)
        assert set(held) == {item_key("unit", k) for k in "ABC"}
        assert all(type(v) is ItemState for v in held.values())


def test_a_damaged_changelog_record_stops_the_memory_recovery_naming_it(
    memory_worker: Worker, monkeypatch: pytest.MonkeyPatch
) -> None:
    table = table_of(memory_worker)
    reported: list[DamagedItemState] = []
    monkeypatch.setattr(ItemTable, "on_damaged", staticmethod(reported.append))
    recover(
        table,
        [
            (2, 10, item_key("unit", "A"), ITEM_STATE_CODEC_IMPL.dumps(state("A"))),
            (3, 11, item_key("unit", "X"), b'{"source": "unit", "item_'),
        ],
    )
    assert len(reported) == 1
    message = str(reported[0])
    assert "partition 3" in message and "offset 11" in message
    assert repr(item_key("unit", "X")) in message
    assert dict(table.data.data) == {}  # nothing of the batch applied, nothing dropped unsaid


def test_a_damaged_state_in_rocksdb_is_an_error_naming_the_item_on_read(
    rocks_worker: Worker,
) -> None:
    # RocksDB's recovery stores the bytes undecoded: the state is kept, and its read is loud.
    table = table_of(rocks_worker)
    hold_partitions(rocks_worker, {0})
    recover(table, [(0, 3, item_key("unit", "X"), b"not json")])
    items = _StrKeyTable(table, counted=True)
    event = _InFlight(TP("events", 0), _Message(0))
    with as_current_event(event), pytest.raises(DamagedItemState, match=r"\('unit', 'X'\)"):
        items.get(("unit", "X"))
