"""Where the worker keeps its item table (``PULSE_ITEM_STORE``): faust's memory store or RocksDB.

* ``memory``: every open item's state is a Python object in the worker's memory, and each start
  replays the table's whole changelog into it (README "Item store").
* ``rocksdb``: faust's RocksDB store (``rocksdict``): the states live in one RocksDB database per
  table partition under ``item_store_dir``, beside a block cache of ``item_store_cache_mib`` and
  two write buffers per partition, so the memory does not grow with the items. A restart reads
  only the changelog written after the offset the store persisted; a fresh host (no files)
  rebuilds the partitions into RocksDB from the changelog, not into memory.

A RocksDB store can survive a crash holding states whose changelog records were never sent (the
local write comes before the send). The events of those states were not committed either (faust
flushes the changelog before it commits), so they are re-delivered; ``rewrite_unchanged`` makes
the handler write their items again even when re-applying them changes nothing, which sends the
missing records. Without it the changelog would keep the older state, and the next host to own
the partition would fold later events onto it.
"""

from __future__ import annotations

import logging
import os
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import faust

from outcome_pulse.processors.errors import ConfigError
from outcome_pulse.processors.item_state import ItemState
from outcome_pulse.streams.kafka.codecs import ITEM_STATE_CODEC, ITEM_STATE_CODEC_IMPL
from outcome_pulse.streams.settings import PulseSettings

log = logging.getLogger(__name__)

MIB = 1024 * 1024
# Write buffers (memtables) per partition database: faust's defaults are 3 of 64 MiB.
WRITE_BUFFER_BYTES = 8 * MIB
WRITE_BUFFERS = 2


def store_url(settings: PulseSettings) -> str:
    return "rocksdb://" if settings.item_store == "rocksdb" else "memory://"


def store_dir(settings: PulseSettings) -> Path:
    """faust's ``tabledir``: the RocksDB databases of the worker's tables."""
    if settings.item_store_dir is not None:
        return settings.item_store_dir
    return settings.state_dir / "faust" / settings.app_id / "items"


def table_options(settings: PulseSettings) -> dict[str, Any] | None:
    """The RocksDB options of the item table (faust's ``RocksDBOptions``); None for memory."""
    if settings.item_store != "rocksdb":
        return None
    return {
        "block_cache_size": settings.item_store_cache_mib * MIB,
        "write_buffer_size": WRITE_BUFFER_BYTES,
        "max_write_buffer_number": WRITE_BUFFERS,
    }


def prepare_store_dir(settings: PulseSettings) -> Path | None:
    """Create the RocksDB directory and check it takes files; None for the memory store.

    Raises ``ConfigError`` naming the directory and the setting when it cannot be used, or when
    ``rocksdict`` is missing: faust would otherwise only log a warning, or fail later, inside a
    rebalance."""
    if settings.item_store != "rocksdb":
        return None
    try:
        import rocksdict  # noqa: F401
    except ImportError as exc:
        raise ConfigError(
            "PULSE_ITEM_STORE=rocksdb needs the rocksdict package (a dependency of "
            f"outcome-pulse; reinstall it): {exc}"
        ) from exc
    path = store_dir(settings)
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=path):
            pass
    except OSError as exc:
        raise ConfigError(
            f"the item store directory {path} is unusable ({type(exc).__name__}: {exc}); "
            "PULSE_ITEM_STORE=rocksdb keeps the item table there: set PULSE_ITEM_STORE_DIR "
            "(or PULSE_STATE_DIR) to a writable directory, or PULSE_ITEM_STORE=memory"
        ) from exc
    return path


class RocksKeyCount:
    """The exact number of items in the RocksDB partitions this worker holds as active.

    ``len()`` of faust's RocksDB table walks every key of every partition; the worker reports
    the count after each batch, so here each partition is counted once, when it is first seen
    in an assignment (or reopened), and kept up to date by ``added`` / ``removed``. A change of
    the active partitions, or a database reopened, counts again."""

    def __init__(self, table: Any) -> None:
        self._table = table
        self._actives: frozenset[int] | None = None
        self._counts: dict[int, tuple[Any, int]] = {}  # partition -> (its database, keys)

    def _active_partitions(self) -> frozenset[int]:
        topic = self._table.changelog_topic_name
        actives = self._table.app.assignor.assigned_actives()
        return frozenset(tp.partition for tp in actives if tp.topic == topic)

    def total(self) -> int:
        store = self._table.data
        actives = self._active_partitions()
        if actives != self._actives:
            self._actives, self._counts = actives, {}
        total = 0
        for partition in sorted(actives):
            db = store._dbs.get(partition)
            if db is None:
                continue
            held = self._counts.get(partition)
            if held is None or held[0] is not db:
                held = self._counts[partition] = (db, store._size1(db))
            total += held[1]
        return total

    def added(self, partition: int) -> None:
        self._shift(partition, 1)

    def removed(self, partition: int) -> None:
        self._shift(partition, -1)

    def _shift(self, partition: int, by: int) -> None:
        held = self._counts.get(partition)
        if held is not None and self._table.data._dbs.get(partition) is held[0]:
            self._counts[partition] = (held[0], held[1] + by)
        else:
            self._counts.pop(partition, None)  # counted again at the next total()


class DamagedItemState(ValueError):
    """A changelog record of the item table that is not a state our codec reads."""


def _exit_on_damaged(exc: DamagedItemState) -> None:
    # faust's recovery loop catches and only warns on an exception from
    # ``apply_changelog_batch``, then retries the same buffer on every later record, so raising
    # would leave the worker recovering forever without the state: stop the process instead.
    log.critical("worker stopping: %s", exc)
    logging.shutdown()
    os._exit(70)


class ItemTable(faust.Table):  # type: ignore[type-arg]
    """The item table, whose recovery yields what normal operation holds (issue 9 point 5).

    faust creates a table's changelog topic when the table is added to the app, before the
    value codec can be set, and its recovery decodes the records with that topic's codec
    (JSON, the default): the memory store then held JSON-decoded dicts, and the RocksDB store,
    which stores the records' raw bytes, parsed each one for nothing. Here the changelog topic
    reads values raw (sends still use ``ITEM_STATE_CODEC``, passed by ``send_changelog``) and:

    * memory store: each recovered record is decoded once, through ``ITEM_STATE_CODEC``, into
      an ``ItemState``;
    * RocksDB store: the bytes are stored as they are, unparsed (``_StrKeyTable`` names the key
      of a state that fails to decode when it is read).

    A record that does not decode stops the worker, naming its key, partition and offset
    (``on_damaged``), before anything is applied from its batch."""

    on_damaged: Callable[[DamagedItemState], None] = staticmethod(_exit_on_damaged)

    def __init__(self, app: Any, *, decode_recovered: bool, **kwargs: Any) -> None:
        super().__init__(app, **kwargs)
        self.value_serializer = ITEM_STATE_CODEC
        self._decode_recovered = decode_recovered

    def _new_changelog_topic(self, **kwargs: Any) -> Any:
        codec, self.value_serializer = self.value_serializer, "raw"
        try:
            return super()._new_changelog_topic(**kwargs)
        finally:
            self.value_serializer = codec

    def apply_changelog_batch(self, batch: Iterable[Any]) -> None:
        if self._decode_recovered:
            events = list(batch)
            try:
                for event in events:
                    event.value = decode_changelog_value(event.message)
            except DamagedItemState as exc:
                self.on_damaged(exc)
                return
            batch = events
        super().apply_changelog_batch(batch)


def decode_changelog_value(message: Any) -> ItemState | None:
    """The ``ItemState`` of one changelog record (None: a deletion), or ``DamagedItemState``."""
    if message.value is None:
        return None
    try:
        state: ItemState = ITEM_STATE_CODEC_IMPL.loads(message.value)
        return state
    except Exception as exc:  # the codec's error for any bad bytes, shape or field
        raise DamagedItemState(
            f"the item-table changelog record at partition {message.partition}, offset "
            f"{message.offset}, key {message.key!r} is not an item state "
            f"({type(exc).__name__}: {exc})"
        ) from exc
