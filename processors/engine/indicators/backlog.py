"""The backlog indicators: how many spans (open items, overdue items, items at risk, ...)
contain each sample instant. Additive: each item's spans are its contribution."""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable
from datetime import datetime

from outcome_pulse.processors.engine.multisets import SpanElement


def count_spans(grid: list[datetime], lo: int, spans: Iterable[SpanElement]) -> list[int]:
    """How many ``[start, end)`` spans contain each instant of ``grid[lo:]``."""
    size = len(grid) - lo
    marks = [0] * (size + 1)
    for start, end, _ in spans:
        first = bisect_left(grid, start, lo)
        stop = len(grid) if end is None else bisect_left(grid, end, lo)
        if stop > first:
            marks[first - lo] += 1
            marks[stop - lo] -= 1
    counts: list[int] = []
    running = 0
    for mark in marks[:-1]:
        running += mark
        counts.append(running)
    return counts
