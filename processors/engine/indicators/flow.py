"""The flow indicators: arrivals, completions and reassignments per slice
``(previous sample, sample]``, and arrivals per completion. Additive: each item's instants."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from outcome_pulse.processors.engine.multisets import InstantMultiset


def count_in_slices(grid: list[datetime], lo: int, instants: InstantMultiset) -> list[int]:
    """Instants in each slice ending at ``grid[lo:]`` (the first slice takes all before it)."""
    counts: list[int] = []
    before = instants.count_through(grid[lo - 1]) if lo > 0 else 0
    for index in range(lo, len(grid)):
        through = instants.count_through(grid[index])
        counts.append(through - before)
        before = through
    return counts


def ratios(numerators: Sequence[int], denominators: Sequence[int]) -> list[float]:
    """Arrivals per completion (the arrivals themselves when nothing completed)."""
    return [n / d if d else float(n) for n, d in zip(numerators, denominators, strict=True)]
