"""Throughput of one webhook receiver (``pulse ingest http``) against a bare aiokafka produce
loop on the same broker, in one run.

    .venv/bin/python -m bench.webhook_throughput             (needs `pulse stack up`; ~1 min)
    .venv/bin/python -m bench.webhook_throughput --requests 20000 --concurrency 8

* receiver: a real `pulse ingest http` process (one uvicorn worker) with one bearer-token feed
  on the built-in ServiceNow mapping; ``--concurrency`` clients in this process post generated
  incident notifications (each gives 2 or 3 events: the creation, the observed state, a
  resolution milestone) over keep-alive HTTP/1.1 connections on 127.0.0.1, one request at a time
  per connection; each answer comes after Kafka acknowledged (acks=all). Requests/s and
  events/s over the wall time of all requests.
* baseline: the same events, already mapped and encoded, produced by a bare AIOKafkaProducer
  with the receiver's settings (acks=all, idempotent, linger 1 ms) from ``--concurrency`` tasks,
  each sending one notification's events and waiting for their acknowledgement, as the receiver
  does per request; and, as the broker's ceiling here, one loop with every send in flight.

Client, receiver and broker share the machine's cores, so the client's own cost is in the
receiver's figure. Prints the figures and receiver/baseline, and the CPU time the receiver
process spent per request (from /proc), which does not depend on how busy the machine's other
processes keep its cores.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import tempfile
import time
import uuid
from pathlib import Path

from aiokafka import AIOKafkaProducer

from outcome_pulse.streams.bootstrap import load_settings
from outcome_pulse.streams.kafka.topics import ensure_topics
from outcome_pulse.streams.live.json_mapping import load_live_mapping
from outcome_pulse.streams.live.notification_events import NotificationMapper
from outcome_pulse.streams.settings import PulseSettings
from outcome_pulse.streams.wire.events import encode_event
from outcome_pulse.streams.wire.item_key import event_key
from tests.support.live_payloads import histories, servicenow_record
from tests.support.live_receiver import running_receiver

TOKEN = "bench-token"


def notifications(count: int) -> list[dict[str, str]]:
    records: list[dict[str, str]] = []
    seed = 0
    while len(records) < count:
        records += [servicenow_record(c) for c in histories(500, seed=seed)]
        seed += 1
    # distinct items per round of histories, so no two notifications are the same
    for n, record in enumerate(records[:count]):
        record["number"] = f"INC{n // 8:07d}-{record['number']}"
    return records[:count]


async def post_all(url: str, bodies: list[bytes], concurrency: int) -> tuple[float, int]:
    """Post every body over ``concurrency`` keep-alive connections; (seconds, events).

    A minimal HTTP/1.1 client on asyncio streams (one write per request), so that the load
    generator costs little next to the receiver: httpx's AsyncClient took several times the
    receiver's own CPU per request here."""
    host, port = url.removeprefix("http://").split(":")
    queue = list(reversed(bodies))
    events = 0

    async def client() -> None:
        nonlocal events
        reader, writer = await asyncio.open_connection(host, int(port))
        try:
            while queue:
                body = queue.pop()
                head = (
                    f"POST /hooks/bench HTTP/1.1\r\nHost: {host}\r\n"
                    f"Authorization: Bearer {TOKEN}\r\nContent-Type: application/json\r\n"
                    f"Content-Length: {len(body)}\r\n\r\n"
                )
                writer.write(head.encode() + body)
                await writer.drain()
                status, length = _response_head(await reader.readuntil(b"\r\n\r\n"))
                answer = await reader.readexactly(length)
                if status != 200:
                    raise RuntimeError(f"{status}: {answer.decode(errors='replace')}")
                events += int(json.loads(answer)["events"])
        finally:
            writer.close()

    started = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(concurrency)))
    return time.perf_counter() - started, events


def _response_head(head: bytes) -> tuple[int, int]:
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    length = next(
        int(line.split(":", 1)[1]) for line in lines if line.lower().startswith("content-length:")
    )
    return status, length


async def bare_loop(
    settings: PulseSettings, batches: list[list[tuple[bytes, bytes]]], concurrency: int | None
) -> float:
    producer = AIOKafkaProducer(
        bootstrap_servers=settings.bootstrap, acks="all", enable_idempotence=True, linger_ms=1
    )
    await producer.start()
    topic = settings.events_topic
    try:
        started = time.perf_counter()
        if concurrency is None:
            futures = [await producer.send(topic, key=k, value=v) for b in batches for k, v in b]
            await asyncio.gather(*futures)
        else:
            queue = list(reversed(batches))

            async def task() -> None:
                while queue:
                    batch = queue.pop()
                    futures = [await producer.send(topic, key=k, value=v) for k, v in batch]
                    await asyncio.gather(*futures)

            await asyncio.gather(*(task() for _ in range(concurrency)))
        return time.perf_counter() - started
    finally:
        await producer.stop()


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of process ``pid`` (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=20_000)
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args()
    base = load_settings()
    suffix = uuid.uuid4().hex[:8]
    settings = base.model_copy(
        update={
            "events_topic": f"bench.{suffix}.events",
            "dead_letter_topic": f"bench.{suffix}.deadletter",
            "app_id": f"bench-{suffix}",
        }
    )
    asyncio.run(ensure_topics(settings))
    records = notifications(args.requests)
    bodies = [json.dumps(r).encode() for r in records]
    mapper = NotificationMapper(load_live_mapping("servicenow", source="bench"))
    batches = [[(event_key(e), encode_event(e)) for e in mapper.events(r).events] for r in records]
    total_events = sum(len(b) for b in batches)
    feeds = {
        "bench": {
            "mapping": "servicenow",
            "auth": {"scheme": "bearer"},
            "rate": {"per_second": 1e9, "burst": 1_000_000_000},
        }
    }
    with (
        tempfile.TemporaryDirectory() as tmp,
        running_receiver(
            settings, feeds, {"bench": TOKEN}, Path(tmp), extra_env={"PULSE_LOG_LEVEL": "WARNING"}
        ) as rx,
    ):
        asyncio.run(post_all(rx.url, bodies[:500], args.concurrency))  # warm-up
        cpu_before, own_before = cpu_seconds(rx.pid), time.process_time()
        seconds, events = asyncio.run(post_all(rx.url, bodies, args.concurrency))
        receiver_cpu = cpu_seconds(rx.pid) - cpu_before
        client_cpu = time.process_time() - own_before
    assert events == total_events, (events, total_events)
    bare = asyncio.run(bare_loop(settings, batches, args.concurrency))
    ceiling = asyncio.run(bare_loop(settings, batches, None))
    rows = [
        ("receiver (HTTP + auth + map + validate + produce, acked)", seconds),
        (f"bare aiokafka, {args.concurrency} tasks, send + wait per notification", bare),
        ("bare aiokafka, every send in flight", ceiling),
    ]
    print(
        f"{args.requests:,} notifications, {total_events:,} events, concurrency {args.concurrency}"
    )
    for name, secs in rows:
        print(
            f"  {name:<66} {args.requests / secs:>9,.0f} req/s {total_events / secs:>9,.0f} "
            f"events/s ({secs:.1f} s)"
        )
    print(
        f"  receiver CPU {receiver_cpu * 1000 / args.requests:.2f} ms/request "
        f"({receiver_cpu / seconds:.0%} of one core while it ran), "
        f"client CPU {client_cpu * 1000 / args.requests:.2f} ms/request; "
        f"one receiver on a free core: about {args.requests / receiver_cpu:,.0f} req/s"
    )
    print(f"  ratio receiver / bare loop (same concurrency): {bare / seconds:.3f}")
    print(f"  ratio receiver / bare loop (all in flight):   {ceiling / seconds:.3f}")


if __name__ == "__main__":
    main()
