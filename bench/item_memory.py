"""RSS per open item and worker start time for one million open items (issue 9, point 5).

    .venv/bin/python -m bench.item_memory                    (needs the stack; 1,000,000 items)
    .venv/bin/python -m bench.item_memory --items 100000     (quicker)

1. Table RSS: in a fresh process each, the RSS growth of a table of ``--items`` synthesised open
   items (copies of the 7,554 open BPIC 2013 incidents, built as ``bench.memory`` builds them),
   with the applied event ids kept as the worker keeps them now (a sorted tuple) and as it kept
   them before (a frozenset).
2. Worker start: a real ``pulse worker`` started on an item-table changelog that already holds
   ``--items`` entries (the same synthesised states, encoded as the worker writes them), against
   one started on an empty changelog. Start time is from the process start until a fresh event
   is stored in PostgreSQL (so the table's recovery from its changelog is included); the RSS is
   the worker's VmRSS at that moment. Per item = the difference from the empty start / items.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import pickle
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Iterator
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


def timed_start(pipe: Pipeline) -> tuple[float, int]:
    """(seconds from the worker's start to a fresh event stored, its RSS then)."""
    started = time.monotonic()
    proc = pipe.start_worker()
    ping = build_envelope(
        event_id="bench-start",
        source="bench-start",
        kind=ItemKind.INCIDENT,
        lifecycle=Lifecycle.CREATED,
        time=datetime(2020, 1, 1, tzinfo=UTC),
        item_id="bench-start-item",
    )
    asyncio.run(produce(pipe.settings, [ping], []))
    deadline = started + 3600
    while source_summary(pipe.settings.dsn, "bench-start")["events"] < 1:
        if time.monotonic() > deadline:
            raise AssertionError(f"the worker did not start\n{pipe.worker_log()}")
        time.sleep(0.2)
    return time.monotonic() - started, vm_rss(proc.pid)


def worker_start(settings: PulseSettings, recipes: list[Recipe], count: int) -> tuple[float, int]:
    with isolated_pipeline(settings) as pipe:
        if count:
            filled = asyncio.run(fill_changelog(pipe.settings, changelog_values(recipes, count)))
            assert filled == count
        return timed_start(pipe)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--items", type=int, default=1_000_000)
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
    for record, label in (("frozenset", "before: frozenset"), ("tuple", "now: sorted tuple")):
        grown = table_rss(templates, n, record)
        print(f"  table RSS, applied ids as {label:<20}{grown / n:8,.0f} B/item")
    empty_seconds, empty_rss = worker_start(settings, recipes, 0)
    full_seconds, full_rss = worker_start(settings, recipes, n)
    mib = 2**20
    print(f"  worker start, empty changelog: {empty_seconds:.1f} s, RSS {empty_rss / mib:,.0f} MiB")
    print(
        f"  worker start, {n:,} changelog entries: {full_seconds:.1f} s,"
        f" RSS {full_rss / mib:,.0f} MiB; the items: {full_seconds - empty_seconds:.1f} s,"
        f" {(full_rss - empty_rss) / n:,.0f} B/item"
    )


if __name__ == "__main__":
    main()
