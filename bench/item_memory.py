"""RSS per open item and worker start time for one million open items (issue 9, point 5).

    .venv/bin/python -m bench.item_memory                    (needs the stack; 1,000,000 items)
    .venv/bin/python -m bench.item_memory --items 100000     (quicker)

1. Table RSS: in a fresh process each, the RSS growth of a table of ``--items`` synthesised open
   items (copies of the 7,554 open BPIC 2013 incidents, built as ``bench.memory`` builds them),
   with the applied event ids kept as the worker keeps them now (a sorted tuple) and as it kept
   them before (a frozenset). ``--no-table`` skips it.
2. Worker start: real ``pulse worker`` processes started on an item-table changelog that
   already holds ``--items`` entries (the same synthesised states, encoded as the worker writes
   them), one after the other on the same changelog: (a) the memory store (the whole changelog
   replayed into memory), (c) the RocksDB store on an empty directory (a fresh host: the whole
   changelog rebuilt into RocksDB), (b) the RocksDB store again with its files (a restart);
   each against the same store started on an empty changelog. Start time is from the process
   start until a fresh event is stored in PostgreSQL (so the table's recovery is included); the
   RSS is the worker's VmRSS at that moment. Per item = the difference from the empty start /
   items; ratios are to (a).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import pickle
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaProducer

from bench.memory import (
    Recipe,
    clone,
    fold,
    open_item_events,
    recipe,
    rss_bytes,
    sorted_ids,
    synthesise,
)
from outcome_pulse.processors.item_state import ItemState, state_to_dict
from outcome_pulse.processors.lifecycle import ItemKind, Lifecycle
from outcome_pulse.sinks.queries import source_summary
from outcome_pulse.streams.bootstrap import load_settings
from outcome_pulse.streams.cli.processes import running_worker
from outcome_pulse.streams.drivers.replay import produce
from outcome_pulse.streams.kafka.topics import changelog_topic
from outcome_pulse.streams.settings import PulseSettings
from outcome_pulse.streams.wire.events import build_envelope
from outcome_pulse.streams.wire.item_key import item_key
from tests.support.sandbox import Pipeline, isolated_pipeline


def _frozenset(ids: Iterable[str]) -> Any:
    return frozenset(ids)


RECORDS: dict[str, Callable[[Iterable[str]], Any]] = {"tuple": sorted_ids, "frozenset": _frozenset}


def table_rss_child(count: int, record: str) -> None:
    """In a fresh process: RSS growth of ``count`` synthesised items (JSON out)."""
    templates: list[ItemState] = pickle.loads(sys.stdin.buffer.read())
    recipes = [recipe(s) for s in templates]
    before = rss_bytes()
    table = synthesise(recipes, count, RECORDS[record])
    print(json.dumps({"table": rss_bytes() - before, "items": len(table)}))


def table_rss(templates: list[ItemState], count: int, record: str) -> int:
    child = subprocess.run(
        [sys.executable, "-m", "bench.item_memory", "--rss-child", record, "--items", str(count)],
        input=pickle.dumps(templates, protocol=pickle.HIGHEST_PROTOCOL),
        capture_output=True,
        check=True,
    )
    result = json.loads(child.stdout)
    assert result["items"] == count, result
    return int(result["table"])


def changelog_values(recipes: list[Recipe], count: int) -> Iterator[tuple[bytes, bytes]]:
    """(key, value) of each synthesised item, as the worker's table writes its changelog."""
    for n in range(count):
        state = clone(recipes[n % len(recipes)], n)
        yield (
            item_key(state.source, state.item_id),
            json.dumps(state_to_dict(state), separators=(",", ":")).encode(),
        )


async def fill_changelog(settings: PulseSettings, records: Iterable[tuple[bytes, bytes]]) -> int:
    producer = AIOKafkaProducer(
        bootstrap_servers=settings.bootstrap, linger_ms=20, max_batch_size=1024 * 1024, acks=1
    )
    await producer.start()
    topic, sent, pending = changelog_topic(settings), 0, []
    try:
        for key, value in records:
            pending.append(await producer.send(topic, key=key, value=value))
            sent += 1
            if len(pending) >= 20_000:
                await asyncio.gather(*pending)
                pending.clear()
        await asyncio.gather(*pending)
    finally:
        await producer.stop()
    return sent


def vm_rss(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError(f"no VmRSS for pid {pid}")


def timed_start(pipe: Pipeline, ping: str, overrides: dict[str, object]) -> tuple[float, int]:
    """(seconds from the worker's start to a fresh event stored, its RSS then); ``ping`` names
    the fresh event's source (one per start: the previous starts' events are stored too)."""
    started = time.monotonic()
    proc = pipe.start_worker("worker", **overrides)
    event = build_envelope(
        event_id=f"{ping}-event",
        source=ping,
        kind=ItemKind.INCIDENT,
        lifecycle=Lifecycle.CREATED,
        time=datetime(2020, 1, 1, tzinfo=UTC),
        item_id=f"{ping}-item",
    )
    asyncio.run(produce(pipe.settings, [event], []))
    deadline = started + 3600
    while source_summary(pipe.settings.dsn, ping)["events"] < 1:
        if time.monotonic() > deadline or not running_worker(pipe.settings, pipe._name("worker")):
            raise AssertionError(f"the worker did not start\n{pipe.worker_log()}")
        time.sleep(0.2)
    return time.monotonic() - started, vm_rss(proc.pid)


@dataclass(frozen=True)
class Start:
    seconds: float
    rss: int


def starts(
    settings: PulseSettings, recipes: list[Recipe], count: int, tag: str
) -> dict[str, Start]:
    """One pipeline whose item-table changelog holds ``count`` entries, three worker starts on
    it one after the other (each stopped before the next starts):

    * ``memory``: the memory store, replaying the whole changelog into memory;
    * ``rocksdb fresh``: the RocksDB store with an empty directory (a fresh host), rebuilding
      the table from the whole changelog into RocksDB;
    * ``rocksdb restart``: the same store again, its files present (only the changelog after
      the offset the store persisted is read).
    """
    rocks_dir = settings.state_dir / f"bench-items-{tag}"
    rocks: dict[str, object] = {"item_store": "rocksdb", "item_store_dir": rocks_dir}
    shutil.rmtree(rocks_dir, ignore_errors=True)
    measured: dict[str, Start] = {}
    with isolated_pipeline(settings) as pipe:
        if count:
            filled = asyncio.run(fill_changelog(pipe.settings, changelog_values(recipes, count)))
            assert filled == count
        memory: dict[str, object] = {"item_store": "memory"}
        for label, overrides in (
            ("memory", memory),
            ("rocksdb fresh", rocks),
            ("rocksdb restart", rocks),
        ):
            seconds, rss = timed_start(pipe, f"bench-{tag}-{label.replace(' ', '-')}", overrides)
            measured[label] = Start(seconds, rss)
            print(
                f"    {count:>9,} entries, {label:<16} {seconds:7.1f} s, RSS {rss / MIB:7,.0f} MiB"
            )
            pipe.stop_worker()
    shutil.rmtree(rocks_dir, ignore_errors=True)
    return measured


MIB = 2**20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--items", type=int, default=1_000_000)
    parser.add_argument(
        "--no-table", action="store_true", help="skip part 1 (the in-process table RSS)"
    )
    parser.add_argument("--rss-child", choices=sorted(RECORDS), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.rss_child:
        table_rss_child(args.items, args.rss_child)
        return
    n = args.items
    settings = load_settings()
    raw, _ = open_item_events(settings)
    templates: list[Any] = list(fold(raw).values())
    recipes = [recipe(s) for s in templates]
    events = sum(s.event_count for s in templates) / len(templates)
    print(f"{n:,} synthesised open items ({events:.2f} events each, from BPIC 2013)")
    if not args.no_table:
        for record, label in (("frozenset", "before: frozenset"), ("tuple", "now: sorted tuple")):
            grown = table_rss(templates, n, record)
            print(f"  table RSS, applied ids as {label:<20}{grown / n:8,.0f} B/item")
    print("  worker starts (process start to a fresh event stored; RSS then):")
    empty = starts(settings, recipes, 0, "empty")
    full = starts(settings, recipes, n, "full")
    base = full["memory"].seconds
    print(f"  {n:,} open items, against an empty changelog, same store:")
    for label, start in full.items():
        grown = (start.rss - empty[label].rss) / n
        print(
            f"    {label:<16} start {start.seconds:7.1f} s"
            f" (ratio to memory {start.seconds / base:5.2f};"
            f" the items: {start.seconds - empty[label].seconds:7.1f} s),"
            f" RSS {grown:7,.0f} B/item"
        )


if __name__ == "__main__":
    main()
