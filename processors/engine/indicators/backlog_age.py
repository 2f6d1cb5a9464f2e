"""The backlog age indicators: median and 90th-percentile age of the open items at each sample
instant (nearest rank, seconds since the item opened).

Not additive: an instant's percentile needs every item open then. It is re-derived only over the
instants from the first one a change reaches, from the spans still open at that instant
(``SpanMultiset.reaching``): a sweep that adds spans as they start and drops them as they end
sees, from that instant on, exactly the items the full sweep of the reference sees."""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from datetime import datetime

from outcome_pulse.processors.engine.multisets import SpanElement


def age_percentiles(
    grid: list[datetime], lo: int, spans: Sequence[SpanElement]
) -> tuple[list[float], list[float]]:
    """p50 and p90 ages at ``grid[lo:]`` of the spans (each with its item's opening time)."""
    # Every span of the open families carries its item's opening time.
    starts = sorted((start, opened) for start, _, opened in spans if opened is not None)
    ends = sorted(
        (end, opened) for _, end, opened in spans if end is not None and opened is not None
    )
    opened_sorted: list[datetime] = []
    p50: list[float] = []
    p90: list[float] = []
    si = ei = 0
    for index in range(lo, len(grid)):
        g = grid[index]
        while si < len(starts) and starts[si][0] <= g:
            bisect.insort(opened_sorted, starts[si][1])
            si += 1
        while ei < len(ends) and ends[ei][0] <= g:
            opened_sorted.pop(bisect.bisect_left(opened_sorted, ends[ei][1]))
            ei += 1
        n = len(opened_sorted)
        if n == 0:
            p50.append(0.0)
            p90.append(0.0)
            continue
        # Ages descend as opening times ascend: the k-th smallest age is the (n-k)-th opening.
        p50.append((g - opened_sorted[n - rank(0.5, n)]).total_seconds())
        p90.append((g - opened_sorted[n - rank(0.9, n)]).total_seconds())
    return p50, p90


def rank(quantile: float, n: int) -> int:
    """Nearest-rank position (1-based) of a quantile among ``n`` values."""
    return max(1, -(-int(quantile * 1000) * n // 1000))
