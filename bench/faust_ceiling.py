"""A faust agent that only counts: the ceiling of faust's own per-event machinery.

Run by bench/e2e_throughput.py as a child process:

    python -m bench.faust_ceiling BOOTSTRAP TOPIC PARTITIONS EXPECTED BATCH

It consumes TOPIC from the start with ``take_events`` (as the real worker does), touches
nothing else, and prints ``seconds=<float>`` once EXPECTED events have arrived.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
import uuid

import faust


def main() -> None:
    bootstrap, topic_name, partitions, expected, batch = sys.argv[1:6]
    app = faust.App(
        f"bench-faust-ceiling-{uuid.uuid4().hex[:8]}",
        broker=f"kafka://{bootstrap}",
        store="memory://",
        datadir=os.path.join(tempfile.gettempdir(), "{conf.name}"),
        web_enabled=False,
        consumer_auto_offset_reset="earliest",
        topic_partitions=int(partitions),
    )
    topic = app.topic(
        topic_name, key_type=bytes, value_type=bytes, key_serializer="raw", value_serializer="raw"
    )
    seen = {"n": 0, "t0": 0.0}

    @app.agent(topic)
    async def count(stream: faust.StreamT) -> None:  # type: ignore[type-arg]
        async for events in stream.take_events(int(batch), within=0.5):  # type: ignore[attr-defined]
            if seen["n"] == 0:
                seen["t0"] = time.monotonic()
            seen["n"] += len(events)
            if seen["n"] >= int(expected):
                print(f"seconds={time.monotonic() - seen['t0']:.4f}", flush=True)
                os._exit(0)

    faust.Worker(
        app, loglevel="ERROR", quiet=True, redirect_stdouts=False
    ).execute_from_commandline()


if __name__ == "__main__":
    main()
