"""``streams.drivers.heap.freeze_survivors``: what a monitor's start leaves alive is frozen
out of the collector's reach, and what an earlier start froze and was since dropped (a cycle)
is collected first."""

from __future__ import annotations

import gc
import weakref

from outcome_pulse.streams.drivers.heap import freeze_survivors


class _Node:
    def __init__(self) -> None:
        self.me = self  # a reference cycle: only the collector frees it


def test_freezes_the_survivors_after_collecting_what_an_earlier_start_froze() -> None:
    try:
        old = _Node()
        gone = weakref.ref(old)
        gc.freeze()  # an earlier start froze it while alive
        del old  # then its state was replaced: frozen garbage no pass finds
        gc.collect()
        assert gone() is not None
        kept = _Node()
        frozen = freeze_survivors()
        assert gone() is None
        assert frozen == gc.get_freeze_count() > 0
        # What is alive now is frozen: a collection does not walk it, nor free it.
        alive = weakref.ref(kept)
        del kept
        gc.collect()
        assert alive() is not None
    finally:
        gc.unfreeze()
        gc.collect()
