"""The backtest's spools: its input events and its indicator points on disk, not in memory.

A backtest over a long history holds neither the whole input nor every row to the end:

* ``EventSpool``: the events in input order (the order the backtest feeds them in) in a
  sqlite3 file, read back a batch at a time; a compacted item's earlier events are found
  through an index on ``(source, item id, position)``, as the monitor reads them back from
  ``pulse_events``;
* ``PointSpool``: the indicator points, kept up to date with each engine advance's changes
  (upserts and deletes, finality flips included: a late event may still correct a final row),
  read back at the end in the order the output files have always had (by point key).

What stays in memory is the engine's own state (open items, the compacted items'
contributions, the series values), the period outcomes, open clocks, late events and alert
episodes. Both files live in a directory the caller owns (a temporary one: ``spool_directory``).
"""

from __future__ import annotations

import pickle
import sqlite3
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

from outcome_pulse.processors.engine.results import PointKey
from outcome_pulse.processors.lifecycle import ItemEvent
from outcome_pulse.processors.measurements import Delta, IndicatorPoint

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)
_WRITE_CHUNK = 10_000


@contextmanager
def spool_directory(parent: Path | None = None) -> Iterator[Path]:
    """A temporary directory for the spools (removed on exit); ``parent``: where (default the
    system's temporary directory, ``TMPDIR``)."""
    with tempfile.TemporaryDirectory(prefix="pulse-backtest-", dir=parent) as name:
        yield Path(name)


def _connect(path: Path) -> sqlite3.Connection:
    if path.exists():
        raise FileExistsError(f"spool {path} exists already; give the backtest a fresh directory")
    db = sqlite3.connect(path)
    # A scratch file: no journal, no fsync (a crash loses a backtest, which is simply rerun).
    db.execute("PRAGMA journal_mode = OFF")
    db.execute("PRAGMA synchronous = OFF")
    return db


def _micros(at: datetime) -> int:
    if at.tzinfo is None:
        raise ValueError(f"naive instant {at.isoformat()} in a backtest row; instants are UTC")
    return (at - _EPOCH) // _MICROSECOND


class EventSpool:
    """The backtest's input events ``(event, producer sequence)`` in input order, on disk.

    Written once (``extend``), then read: ``spool[a:b]`` is the events at positions ``a`` to
    ``b``, ``before(items, stop)`` the events of those items at positions before ``stop``."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._db = _connect(path)
        self._db.execute(
            "CREATE TABLE events (position INTEGER PRIMARY KEY, source TEXT NOT NULL, "
            "item_id TEXT NOT NULL, event BLOB NOT NULL)"
        )
        self._count = 0
        self._indexed = False

    @classmethod
    def reopen(cls, path: Path) -> EventSpool:
        """A spool written before (by another process: ``bench.engine_scaling``), to read."""
        if not path.is_file():
            raise FileNotFoundError(f"event spool {path} does not exist")
        spool = cls.__new__(cls)
        spool.path = path
        spool._db = sqlite3.connect(path)
        row = spool._db.execute("SELECT count(*), max(position) FROM events").fetchone()
        if row[0] and row[1] != row[0] - 1:
            raise ValueError(f"event spool {path}: positions are not 0 to {row[0] - 1}")
        spool._count = int(row[0])
        spool._indexed = bool(
            spool._db.execute(
                "SELECT 1 FROM sqlite_master WHERE type = 'index' AND name = 'events_by_item'"
            ).fetchone()
        )
        return spool

    def extend(self, events: Iterable[tuple[ItemEvent, int]]) -> None:
        """Append events (after the ones written before)."""
        if self._indexed:
            raise RuntimeError(f"event spool {self.path} is being read; it cannot grow now")
        rows: list[tuple[int, str, str, bytes]] = []
        for pair in events:
            event = pair[0]
            rows.append((self._count, event.source, event.item_id, pickle.dumps(pair, 5)))
            self._count += 1
            if len(rows) >= _WRITE_CHUNK:
                self._db.executemany("INSERT INTO events VALUES (?, ?, ?, ?)", rows)
                rows.clear()
        self._db.executemany("INSERT INTO events VALUES (?, ?, ?, ?)", rows)
        self._db.commit()

    def __len__(self) -> int:
        return self._count

    def __getitem__(self, window: slice) -> list[tuple[ItemEvent, int]]:
        start, stop, stride = window.indices(self._count)
        if stride != 1:
            raise ValueError("an event spool is read in windows of consecutive positions")
        rows = self._db.execute(
            "SELECT event FROM events WHERE position >= ? AND position < ? ORDER BY position",
            (start, stop),
        )
        return [_unpickle(blob) for (blob,) in rows]

    def __iter__(self) -> Iterator[tuple[ItemEvent, int]]:
        for start in range(0, self._count, _WRITE_CHUNK):
            yield from self[start : start + _WRITE_CHUNK]

    def before(self, items: Sequence[tuple[str, str]], stop: int) -> list[tuple[ItemEvent, int]]:
        """The events of these ``(source, item_id)`` items at input positions before ``stop``,
        item by item, each in input order (as ``backtest._SeenByItem.before``)."""
        if not self._indexed:
            self._db.execute("CREATE INDEX events_by_item ON events (source, item_id, position)")
            self._indexed = True
        out: list[tuple[ItemEvent, int]] = []
        for source, item_id in items:
            rows = self._db.execute(
                "SELECT event FROM events WHERE source = ? AND item_id = ? AND position < ? "
                "ORDER BY position",
                (source, item_id, stop),
            )
            out.extend(_unpickle(blob) for (blob,) in rows)
        return out

    def close(self) -> None:
        self._db.close()


def _unpickle(blob: bytes) -> tuple[ItemEvent, int]:
    pair: tuple[ItemEvent, int] = pickle.loads(blob)  # our own scratch file, written above
    return pair


class PointSpool:
    """The indicator points of a backtest, on disk, kept equal to the engine's rows by applying
    each advance's changes (``apply``); read back in point-key order (``points``)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._db = _connect(path)
        self._db.execute(
            "CREATE TABLE points (contract TEXT NOT NULL, service TEXT NOT NULL, "
            "kpi TEXT NOT NULL, indicator TEXT NOT NULL, at_us INTEGER NOT NULL, "
            "at TEXT NOT NULL, value REAL NOT NULL, final INTEGER NOT NULL, "
            "PRIMARY KEY (contract, service, kpi, indicator, at_us)) WITHOUT ROWID"
        )

    def apply(self, delta: Delta[PointKey, IndicatorPoint]) -> None:
        """Delete the delta's keys, then upsert its rows (one advance's changes)."""
        # Generators, not lists: the first advance changes every point seen so far.
        self._db.executemany(
            "DELETE FROM points WHERE contract = ? AND service = ? AND kpi = ? "
            "AND indicator = ? AND at_us = ?",
            ((c, s, k, i, _micros(at)) for c, s, k, i, at in delta.deletes),
        )
        self._db.executemany(
            "INSERT OR REPLACE INTO points VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                (
                    p.contract,
                    p.service,
                    p.kpi,
                    p.indicator,
                    _micros(p.at),
                    p.at.isoformat(),
                    p.value,
                    int(p.final),
                )
                for p in delta.upserts
            ),
        )
        self._db.commit()

    def __len__(self) -> int:
        row = self._db.execute("SELECT count(*) FROM points").fetchone()
        return int(row[0])

    def points(self) -> Iterator[IndicatorPoint]:
        """Every point, by key ``(contract, service, kpi, indicator, at)``: sqlite's binary
        collation orders UTF-8 text as Python orders ``str``, and ``at_us`` as the instants."""
        rows = self._db.execute(
            "SELECT contract, service, kpi, indicator, at, value, final FROM points "
            "ORDER BY contract, service, kpi, indicator, at_us"
        )
        for contract, service, kpi, indicator, at, value, final in rows:
            yield IndicatorPoint(
                contract, service, kpi, indicator, datetime.fromisoformat(at), value, bool(final)
            )

    def close(self) -> None:
        self._db.close()


__all__ = ["EventSpool", "PointSpool", "spool_directory"]
