"""The worker's garbage-collector settings: collect young cycles rarely, never scan startup.

CPython's cyclic collector runs a young-generation pass every 700 net allocations, and a full
pass over every tracked object each time the survivors grew by a quarter. A batch of 2,000 events
allocates hundreds of thousands of objects (envelopes, item events, states, rows), nearly all
freed by reference counting the moment the batch ends, so the default thresholds mean hundreds of
passes per batch, each also walking the survivors of the younger generations; and the item
table (every open item's state) and faust's own structures make every full pass long. Measured
on the BPIC 2013 events (handler without a database, ``bench.ingest_profile --no-sink``): about
a third of the handler's time went to the collector.

``tune_garbage_collector`` therefore

* moves everything alive once the worker is wired (modules, faust's app, the settings) into the
  permanent generation (``gc.freeze``), which no pass ever walks;
* raises the young threshold to ``gen0`` allocations (default ``PULSE_GC_GEN0_THRESHOLD``,
  50,000: a few passes per batch), keeping the older generations' ratios.

Nothing is disabled: cycles (asyncio futures, exceptions with tracebacks) are still collected,
just in fewer, larger young passes. ``gen0 = 0`` leaves Python's defaults.
"""

from __future__ import annotations

import gc
import logging

log = logging.getLogger(__name__)


def tune_garbage_collector(gen0: int, gen1: int = 20, gen2: int = 10) -> None:
    if gen0 <= 0:
        return
    gc.collect()
    gc.freeze()
    gc.set_threshold(gen0, gen1, gen2)
    frozen = gc.get_freeze_count()
    log.info("garbage collector: %d objects frozen, thresholds %s", frozen, (gen0, gen1, gen2))
