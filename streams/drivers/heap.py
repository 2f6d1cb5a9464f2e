"""The engine's state out of the garbage collector's reach once a monitor has started.

A start (a rebuild from the stored events, or a checkpoint loaded) leaves millions of
long-lived objects (every item's event set and contribution, the aggregators' entries, the
series): each full collection would walk them all, though they live as long as the monitor.
``freeze_survivors`` collects once, then moves everything alive into the permanent generation
(``gc.freeze``), which no pass walks; objects freed later by reference counting are still freed.
It first unfreezes what an earlier call (or the worker's wiring, ``tune_garbage_collector``)
froze, so that a second start, which replaces the evaluations, lets the collector find the
cycles of the state it replaced before freezing again.
"""

from __future__ import annotations

import gc
import logging
import time

log = logging.getLogger(__name__)


def freeze_survivors() -> int:
    """Collect, then freeze every object alive; returns how many are frozen."""
    started = time.process_time()
    gc.unfreeze()
    gc.collect()
    gc.freeze()
    frozen = gc.get_freeze_count()
    log.info(
        "garbage collector: %d objects frozen after the monitor's start (%.2f s)",
        frozen,
        time.process_time() - started,
    )
    return frozen
