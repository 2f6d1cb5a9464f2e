"""What the evaluation shards cost the event sink: PostgresSink with 1 shard against N shards.

    .venv/bin/python -m bench.shard_inbox               (needs PostgreSQL: `pulse stack up`)
    .venv/bin/python -m bench.shard_inbox --shards 2 8 --events 20000 --rounds 3

The sink queues every new event once per evaluation shard (``pulse_monitor_inbox``, schema v7),
so its statement writes one inbox row per shard and event. The same batches as
``bench.sink_throughput`` (the first ``--events`` BPIC 2013 events in batches of ``--batch``,
each with its item states) are written into a freshly migrated database per shard count, on the
same server, timed from the first write to the last commit; ``--rounds`` repeats them in rotated
order, and medians are compared. Every database must hold every event once and ``shards`` inbox
rows per event, or the benchmark fails.

It prints events/s for each shard count and the ratio to one shard (the baseline, same run).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics

import psycopg

from bench.sink_throughput import Batch, batches, scratch_database, timed_writes
from outcome_pulse.sinks.event_sink import PostgresSink
from outcome_pulse.sinks.shard_fence import ensure_shards
from outcome_pulse.streams.bootstrap import load_settings


def write_with(base_dsn: str, work: list[Batch], shards: int) -> float:
    with scratch_database(base_dsn, f"shards{shards}") as dsn:
        ensure_shards(dsn, shards)
        seconds = asyncio.run(timed_writes(PostgresSink(dsn), work))
        with psycopg.connect(dsn) as conn:
            row = conn.execute(
                "SELECT (SELECT count(*) FROM pulse_events), "
                "(SELECT count(*) FROM pulse_monitor_inbox)"
            ).fetchone()
    events = sum(len(e) for e, _ in work)
    if row != (events, events * shards):
        raise SystemExit(
            f"{shards} shard(s): expected {events} events, {events * shards} "
            f"inbox rows; found {row}"
        )
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--shards", type=int, nargs="+", default=[2, 8])
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--batch", type=int, default=2_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    settings = load_settings()
    work = batches(settings, args.events, args.batch)
    events = sum(len(e) for e, _ in work)
    counts = [1, *sorted(set(args.shards) - {1})]
    seconds: dict[int, list[float]] = {n: [] for n in counts}
    for r in range(args.rounds):
        order = counts[r % len(counts) :] + counts[: r % len(counts)]
        for shards in order:
            seconds[shards].append(write_with(settings.dsn, work, shards))
    print(
        f"data: {events:,} BPIC 2013 events in {len(work)} batches of {args.batch:,}, "
        f"{args.rounds} rounds, medians"
    )
    base = events / statistics.median(seconds[1])
    for shards in counts:
        rate = events / statistics.median(seconds[shards])
        each = ", ".join(f"{s:.2f}" for s in seconds[shards])
        print(
            f"{shards:>3} shard(s): {rate:10,.0f} events/s   ratio to 1 shard {rate / base:5.2f}"
            f"   (s per round: {each})"
        )


if __name__ == "__main__":
    main()
