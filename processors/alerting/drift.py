"""Drift of a leading indicator against its seasonal baseline, as alert episodes.

Signals of one indicator and direction at least ``min_size`` in size open an episode at the
first one's detection time; it holds for ``hold`` after the latest of them (a signal within
that time extends it) and resolves then, if that instant has passed.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

from outcome_pulse.processors.alerting.inputs import DriftSignal


@dataclass(frozen=True, slots=True)
class DriftEpisode:
    first: DriftSignal
    resolved_at: datetime | None


def drift_episodes(
    signals: Iterable[DriftSignal], now: datetime, min_size: float, hold: timedelta
) -> Iterator[DriftEpisode]:
    groups: dict[tuple[str, str, str], list[DriftSignal]] = defaultdict(list)
    for s in signals:
        if abs(s.size) >= min_size and s.detected_at <= now:
            groups[(s.service, s.indicator, s.direction)].append(s)
    for _, rows in sorted(groups.items()):
        rows.sort(key=lambda s: s.detected_at)
        first = rows[0]
        until = first.detected_at + hold
        for s in rows[1:]:
            if s.detected_at <= until:
                until = max(until, s.detected_at + hold)
                continue
            yield DriftEpisode(first, until)
            first, until = s, s.detected_at + hold
        yield DriftEpisode(first, until if until <= now else None)


__all__ = ["DriftEpisode", "drift_episodes"]
