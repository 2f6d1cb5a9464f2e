"""Memory per open item in the worker's item table, against the flat row a worker could keep.

    .venv/bin/python -m bench.memory          (no stack needed; about 1.5 min, 3 GB)
    .venv/bin/python -m bench.memory --items 1000000 --traced-items 1000000   (about 3 min)

What is measured: the table the worker keeps in memory (faust's memory store, a dict of bytes
item id -> ``ItemState``), for open items:

1. real items: every BPIC 2013 incident up to (not including) its first resolved or closed
   event: 7,554 open items from 47,890 real events, each event encoded to its Kafka bytes,
   decoded by ``EventDecoder`` and folded by ``apply_event`` exactly as ``BatchHandler`` does
   (pydantic shares repeated short strings between events; so does the worker);
2. synthesised items, copies of those until there are ``--items`` (default 1,000,000): each copy
   has new objects for everything an item owns (item id, event ids, stamps with their ints,
   registers, the ``applied`` ids, attribute dicts), shared inside the item as ``apply_event``
   shares them, and repeated value strings shared. The copies' bytes/item is printed beside
   the real items': a synthesis that dropped something would show there. Expect the copies a
   little lower: the real figure carries fixed costs (pydantic's and our caches) spread over
   7,554 items, and pydantic's string cache is bounded, so it shares most repeats, not all.

Two measures: tracemalloc (bytes Python allocated and still holds for the table, dict
included) and RSS growth (what the OS sees: allocator overhead and fragmentation), the latter in
a fresh child process (run beside the traced part) so that memory freed earlier cannot be
reused and hide growth.
tracemalloc slows allocation about 5x, so by default it traces ``--traced-items`` (200,000)
copies and scales bytes/item to ``--items``; RSS always covers all ``--items``.

Baseline, measured the same ways on the same items: a dict of item id -> the flat row the
database gets (``state_row``, 15 fields), i.e. what a worker without per-item idempotency
(last-writer-wins registers with their stamps, the set of applied event ids) would hold. The raw
Kafka bytes of the events folded into each item are printed for scale.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import pickle
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from outcome_pulse.processors.item_state import ItemState, Register, Stamp, apply_event, state_row
from outcome_pulse.processors.lifecycle import Lifecycle
from outcome_pulse.streams.bootstrap import load_settings, utc_now
from outcome_pulse.streams.file_import.mapped_file import map_file
from outcome_pulse.streams.file_import.mapping import load_mapping
from outcome_pulse.streams.settings import PulseSettings
from outcome_pulse.streams.wire.events import EventDecoder, encode_event
from outcome_pulse.streams.wire.item_key import event_key

BPIC = "bpic2013_volvo_incidents.csv.gz"
_ENDING = frozenset({Lifecycle.RESOLVED, Lifecycle.CLOSED})
_STAMPS = ("first_seen", "last_seen", "created", "last_reactivated", "last_resolved", "last_closed")
_REGISTERS = ("status", "state", "priority", "assignee", "due_at", "attributes")

Table = dict[bytes, ItemState]


def rss_bytes() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


# -- the real items ------------------------------------------------------------------------------


def open_item_events(settings: PulseSettings) -> tuple[list[bytes], int]:
    """Kafka bytes of each incident's events before it is first resolved or closed."""
    mapped = map_file(settings.data_dir / BPIC, load_mapping("bpic2013"))
    ended: set[str] = set()
    kept: list[bytes] = []
    for event in mapped.events:
        if event.subject in ended:
            continue
        if event.lifecycle in _ENDING:
            ended.add(event.subject)
            continue
        kept.append(encode_event(event))
    return kept, len(mapped.events)


def fold(raw_events: Iterable[bytes]) -> Table:
    """The worker's path: bytes -> envelope -> ItemEvent -> apply_event, into the table."""
    decoder = EventDecoder(utc_now)
    table: Table = {}
    for raw in raw_events:
        envelope = decoder.decode(raw)
        key = event_key(envelope)
        table[key] = apply_event(table.get(key), envelope.to_item_event(), envelope.sequence)
    return table


# -- synthesis -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Recipe:
    """One real item's object graph: its distinct stamps and registers, and who points where."""

    template: ItemState
    stamps: tuple[Stamp, ...]
    registers: tuple[tuple[int, Any], ...]  # (index into stamps, value)
    fields: tuple[tuple[str, str, int], ...]  # (field, "stamp" | "register", index)


def recipe(state: ItemState) -> Recipe:
    stamps: dict[int, tuple[int, Stamp]] = {}
    registers: dict[int, tuple[int, tuple[int, Any]]] = {}

    def stamp_index(stamp: Stamp) -> int:
        return stamps.setdefault(id(stamp), (len(stamps), stamp))[0]

    fields: list[tuple[str, str, int]] = []
    for name in _STAMPS:
        stamp = getattr(state, name)
        if stamp is not None:
            fields.append((name, "stamp", stamp_index(stamp)))
    for name in _REGISTERS:
        reg: Register | None = getattr(state, name)
        if reg is not None:
            entry = (stamp_index(reg.stamp), reg.value)
            fields.append(
                (name, "register", registers.setdefault(id(reg), (len(registers), entry))[0])
            )
    return Recipe(
        template=state,
        stamps=tuple(s for _, s in sorted(stamps.values(), key=lambda x: x[0])),
        registers=tuple(r for _, r in sorted(registers.values(), key=lambda x: x[0])),
        fields=tuple(fields),
    )


def sorted_ids(ids: Iterable[str]) -> Any:
    """The worker's applied-id record (``ItemState.applied``)."""
    return tuple(sorted(ids))


def clone(r: Recipe, n: int, applied: Callable[[Iterable[str]], Any] = sorted_ids) -> ItemState:
    """Item ``n``: the template's graph rebuilt with new objects and new ids of the same length.

    ``applied`` builds the applied-id record (``bench.item_memory`` also measures the frozenset
    the worker kept before).
    """
    prefix = f"{n:08x}"
    ids = {old: prefix + old[8:] for old in r.template.applied}
    # + 0 makes a new int object, as each decoded event has its own
    stamps = [(micros + 0, seq + 0, ids[event_id]) for micros, seq, event_id in r.stamps]
    registers = [
        Register(stamps[i], dict(value) if type(value) is dict else value)
        for i, value in r.registers
    ]
    values: dict[str, Any] = {
        name: stamps[i] if what == "stamp" else registers[i] for name, what, i in r.fields
    }
    item_id = r.template.item_id
    return ItemState(
        item_id=prefix + item_id[8:] if len(item_id) > 8 else prefix,
        kind=r.template.kind,
        source=r.template.source,
        applied=applied(ids.values()),
        **values,
    )


def synthesise(
    recipes: list[Recipe], count: int, applied: Callable[[Iterable[str]], Any] = sorted_ids
) -> Table:
    table: Table = {}
    gc.disable()  # nothing here is garbage; full collections over millions of objects are slow
    try:
        for n in range(count):
            state = clone(recipes[n % len(recipes)], n, applied)
            table[state.item_id.encode()] = state
    finally:
        gc.enable()
    return table


def as_rows(table: Table) -> dict[bytes, dict[str, Any]]:
    gc.disable()
    try:
        return {key: state_row(state) for key, state in table.items()}
    finally:
        gc.enable()


# -- measuring ---------------------------------------------------------------------------------


def traced(build: Callable[[], Any]) -> tuple[Any, int]:
    """(result, bytes tracemalloc says the result still holds once built)."""
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    result = build()
    gc.collect()
    held = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    return result, held


def traced_sample(recipes: list[Recipe], count: int) -> tuple[int, int]:
    """tracemalloc bytes of ``count`` synthesised items, then of their flat rows."""
    table, table_bytes = traced(lambda: synthesise(recipes, count))
    _, rows_bytes = traced(lambda: as_rows(table))
    return table_bytes, rows_bytes


def rss_child(count: int) -> None:
    """In a fresh process: RSS growth of the synthesised table, then of its rows (JSON out).

    The templates arrive pickled on stdin, in one pickle: strings shared between items stay
    shared, as in the worker.
    """
    templates: list[ItemState] = pickle.loads(sys.stdin.buffer.read())
    recipes = [recipe(s) for s in templates]
    gc.collect()
    before = rss_bytes()
    table = synthesise(recipes, count)
    after_table = rss_bytes()
    rows = as_rows(table)
    after_rows = rss_bytes()
    print(json.dumps({"table": after_table - before, "rows": after_rows - after_table}))
    del rows, table


def start_rss_child(templates: list[ItemState], count: int) -> subprocess.Popen[bytes]:
    """Run ``rss_child`` beside the traced measurements (the machine has a second core)."""
    child = subprocess.Popen(
        [sys.executable, "-m", "bench.memory", "--rss-child", "--items", str(count)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    assert child.stdin is not None
    child.stdin.write(pickle.dumps(templates, protocol=pickle.HIGHEST_PROTOCOL))
    child.stdin.close()
    return child


def rss_result(child: subprocess.Popen[bytes]) -> dict[str, int]:
    assert child.stdout is not None
    out = child.stdout.read()
    if child.wait() != 0:
        raise SystemExit(f"the RSS child process failed (exit {child.returncode})")
    result: dict[str, int] = json.loads(out)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--items", type=int, default=1_000_000)
    parser.add_argument("--traced-items", type=int, default=200_000)
    parser.add_argument("--rss-child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.rss_child:
        rss_child(args.items)
        return
    started = time.monotonic()
    raw, total_events = open_item_events(load_settings())
    real, real_bytes = traced(lambda: fold(raw))
    templates = list(real.values())
    k = len(templates)
    n, sample = args.items, min(args.traced_items, args.items)
    child = start_rss_child(templates, n)
    _, real_rows_bytes = traced(lambda: as_rows(real))
    recipes = [recipe(s) for s in templates]
    _, copy_bytes = traced(lambda: synthesise(recipes, k))
    table_traced, rows_traced = traced_sample(recipes, sample)
    rss = rss_result(child)

    raw_per_item = sum(len(r) for r in raw) / k
    per_state, per_row = table_traced / sample, rows_traced / sample

    def line(label: str, per_item: float, total: float | None = None) -> str:
        out = f"  {label:<52}{per_item:8,.0f} B/item"
        return out + (f"   {total / 2**30:6.2f} GiB for {n:,}" if total is not None else "")

    scaled = "" if sample == n else f", {sample:,} traced and scaled"
    print(
        f"real: {k:,} open BPIC 2013 incidents, {len(raw):,} of its {total_events:,} events "
        f"({sum(s.event_count for s in templates) / k:.2f} per item)"
    )
    print(line("ItemState, worker's decode + fold (tracemalloc)", real_bytes / k))
    print(line("ItemState, synthesised copies of them (tracemalloc)", copy_bytes / k))
    print(line("baseline: flat row of each (tracemalloc)", real_rows_bytes / k))
    print(line("raw Kafka bytes of the events folded", raw_per_item))
    print(f"synthesised: {n:,} open items{scaled}")
    print(line("ItemState table (tracemalloc)", per_state, per_state * n))
    print(line("ItemState table (RSS growth)", rss["table"] / n, rss["table"]))
    print(line("baseline: flat rows (tracemalloc)", per_row, per_row * n))
    print(line("baseline: flat rows (RSS growth)", rss["rows"] / n, rss["rows"]))
    print(
        f"ratio ItemState/flat row: {per_state / per_row:.2f} (tracemalloc), "
        f"{rss['table'] / rss['rows']:.2f} (RSS); "
        f"ItemState/raw event bytes: {per_state / raw_per_item:.2f}"
    )
    print(f"({time.monotonic() - started:.0f} s)")


if __name__ == "__main__":
    main()
