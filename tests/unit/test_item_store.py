"""PULSE_ITEM_STORE: the worker's item table in memory or in RocksDB (streams/kafka/item_store.py).

The RocksDB cases open real RocksDB databases (rocksdict) under pytest's temporary directory;
no broker is needed: the table's partitions are opened as faust opens them on assignment.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from faust.stores.memory import Store as MemoryStore
from faust.stores.rocksdb import Store as RocksStore
from faust.types import TP

from outcome_pulse.processors.errors import ConfigError
from outcome_pulse.processors.item_state import ItemState, apply_event, state_to_dict
from outcome_pulse.processors.lifecycle import ItemKind, Lifecycle
from outcome_pulse.streams.bootstrap import utc_now
from outcome_pulse.streams.kafka.app import _InFlight, _StrKeyTable, as_current_event
from outcome_pulse.streams.kafka.item_store import MIB
from outcome_pulse.streams.kafka.topics import ITEM_TABLE
from outcome_pulse.streams.settings import PulseSettings
from outcome_pulse.streams.wire.events import build_envelope
from outcome_pulse.streams.wire.item_key import item_key
from tests.support.memory import Worker, memory_adapters, wired_worker


def state(item: str, n: int = 1) -> ItemState:
    folded = None
    for i in range(n):
        envelope = build_envelope(
            event_id=f"{item}-e{i}",
            source="unit",
            kind=ItemKind.INCIDENT,
            lifecycle=Lifecycle.CREATED if i == 0 else Lifecycle.STATE_CHANGED,
            time=datetime(2012, 1, 1, 10, i, tzinfo=UTC),
            item_id=item,
            sequence=i,
            **({} if i == 0 else {"state": f"step {i}"}),
        )
        folded = apply_event(folded, envelope.to_item_event(), envelope.sequence)
    assert folded is not None
    return folded


class _Message:
    def __init__(self, partition: int, offset: int = 0, key: bytes = b"", value: Any = None):
        self.partition, self.offset, self.key, self.value = partition, offset, key, value
        self.topic = "events"
        self.tp = TP(self.topic, partition)


@pytest.fixture
def rocks_worker(unit_settings: PulseSettings) -> Iterator[Worker]:
    settings = unit_settings.model_copy(update={"item_store": "rocksdb"})
    with wired_worker(settings, [], memory_adapters(utc_now)) as worker:
        yield worker


def item_table(worker: Worker) -> Any:
    return worker.app.tables[ITEM_TABLE]


def hold_partitions(worker: Worker, partitions: set[int]) -> None:
    """What a rebalance assigning ``partitions`` to this worker leaves behind."""
    table = item_table(worker)
    topic = table.changelog_topic_name
    worker.app.assignor.assigned_actives = lambda: {TP(topic, p) for p in partitions}  # type: ignore[method-assign]
    for p in partitions:
        table.data._db_for_partition(p)


def test_the_memory_store_is_the_default(unit_settings: PulseSettings) -> None:
    assert unit_settings.item_store == "memory"
    with wired_worker(unit_settings, [], memory_adapters(utc_now)) as worker:
        assert worker.app.conf.store.scheme == "memory"
        assert isinstance(item_table(worker).data, MemoryStore)


def test_rocksdb_wires_faust_s_rocksdb_store_under_the_state_dir(
    rocks_worker: Worker, unit_settings: PulseSettings
) -> None:
    app = rocks_worker.app
    assert app.conf.store.scheme == "rocksdb"
    expected = unit_settings.state_dir / "faust" / unit_settings.app_id / "items"
    assert Path(app.conf.tabledir) == expected and expected.is_dir()
    table = item_table(rocks_worker)
    assert isinstance(table.data, RocksStore) and table.data.use_rocksdict
    options = table.data.rocksdb_options
    assert options.block_cache_size == 32 * MIB
    assert options.write_buffer_size == 8 * MIB and options.max_write_buffer_number == 2
    hold_partitions(rocks_worker, {0})
    assert table.data.partition_path(0).parent == expected
    assert table.data.partition_path(0).is_dir()


def test_the_store_directory_and_cache_are_settings(unit_settings: PulseSettings) -> None:
    elsewhere = unit_settings.state_dir.parent / "disk2" / "items"
    settings = unit_settings.model_copy(
        update={"item_store": "rocksdb", "item_store_dir": elsewhere, "item_store_cache_mib": 5}
    )
    with wired_worker(settings, [], memory_adapters(utc_now)) as worker:
        assert Path(worker.app.conf.tabledir) == elsewhere and elsewhere.is_dir()
        assert item_table(worker).data.rocksdb_options.block_cache_size == 5 * MIB


def test_an_unusable_store_directory_is_a_clear_error(unit_settings: PulseSettings) -> None:
    blocker = unit_settings.state_dir.parent / "a-file"
    blocker.parent.mkdir(parents=True, exist_ok=True)
    blocker.write_text("not a directory")
    settings = unit_settings.model_copy(
        update={"item_store": "rocksdb", "item_store_dir": blocker / "items"}
    )
    with (
        pytest.raises(ConfigError, match=r"item store directory .*a-file/items is unusable"),
        wired_worker(settings, [], memory_adapters(utc_now)),
    ):
        pass


def test_an_unknown_store_is_refused() -> None:
    with pytest.raises(ValueError, match="item_store"):
        PulseSettings(item_store="redis")  # type: ignore[arg-type]


def test_states_written_and_recovered_read_back_as_item_states(rocks_worker: Worker) -> None:
    table = item_table(rocks_worker)
    items = _StrKeyTable(table, counted=True)
    hold_partitions(rocks_worker, {0, 1})
    a, b = state("A", 3), state("B")
    with as_current_event(_InFlight(TP("events", 0), _Message(0))):
        items[("unit", "A")] = a
    with as_current_event(_InFlight(TP("events", 1), _Message(1))):
        items[("unit", "B")] = b
    assert items.get(("unit", "A")) == a and items[("unit", "B")] == b
    assert items.get(("unit", "C")) is None
    # Recovery writes the changelog's bytes as they are (faust's JSON of the state).
    c = state("C", 2)
    raw = json.dumps(state_to_dict(c)).encode()
    event = _InFlight(TP("events", 1), _Message(1, 7, item_key("unit", "C"), raw))
    table.data.apply_changelog_batch([event], to_key=lambda k: k, to_value=lambda v: v)
    assert items.get(("unit", "C")) == c


def test_the_item_count_is_exact_without_walking_the_store_each_time(
    rocks_worker: Worker, monkeypatch: pytest.MonkeyPatch
) -> None:
    table = item_table(rocks_worker)
    items = _StrKeyTable(table, counted=True)
    hold_partitions(rocks_worker, {0, 1})
    assert len(items) == 0
    walks: list[Any] = []
    walk = table.data._size1
    monkeypatch.setattr(table.data, "_size1", lambda db: walks.append(db) or walk(db))
    for partition, names in ((0, "ABC"), (1, "DE")):
        with as_current_event(_InFlight(TP("events", partition), _Message(partition))):
            for name in names:
                items[("unit", name)] = state(name)
            items[("unit", names[0])] = state(names[0], 2)  # an update adds no item
    assert len(items) == 5 and walks == []
    with as_current_event(_InFlight(TP("events", 0), _Message(0))):
        del items[("unit", "B")]
    assert len(items) == 4 and walks == []
    # Another assignment counts its partitions again, from the databases.
    hold_partitions(rocks_worker, {1})
    assert len(items) == 2 and len(walks) == 1
    hold_partitions(rocks_worker, {0, 1})
    assert len(items) == 4 and len(walks) == 3
