"""Drift of leading indicators against their own seasonal baseline, detected in event time.

For each watched indicator series (``WATCHED``: arrivals, completions, reassignments, backlog age
p90, and each time-to-target KPI's share past risk), sampled on the contract's grid:

1. the *baseline* of a sample is the mean of the same series at the same weekday and hour in the
   previous ``BASELINE_WEEKS`` weeks (at least ``MIN_WEEKS`` of them, else no residual yet);
2. its *residual* is ``(observed - baseline) / scale``, the scale being the standard deviation
   of those same-slot samples, floored (counts: the Poisson ``sqrt(max(baseline, 1))``; other
   indicators: ``LEVEL_FLOOR``, 25%, of the baseline), clipped to +-5;
3. river's Page-Hinkley detector (``drift.PageHinkley``, both directions) reads the residuals
   in time order. When it signals, a ``DriftSignal`` says when (``detected_at``); since when
   (``started_at``: the sample after the extreme of the residuals' cumulative sum less a slack
   of ``CUSUM_SLACK``, within the last ``CHANGE_WINDOW``: the CUSUM change-point estimate);
   which way (``up``/``down``: the sign of the mean residual since then); how much (``size``:
   observed over baseline minus one on the samples since the start; ``baseline`` and
   ``observed``: their means). Shifts smaller than ``MIN_SIZE`` (25%) are not signalled. The
   detector then starts afresh (river resets it).

Only final samples (behind the watermark) are read, so a signal never changes once given, and
the signals are a function of the series, hence of the set of events.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from river import drift

from outcome_pulse.processors.measurements import IndicatorPoint

BASELINE_WEEKS = 4
MIN_WEEKS = 2
COUNT_INDICATORS = frozenset({"arrivals", "completions", "reassignments"})
WATCHED = ("arrivals", "completions", "reassignments", "backlog_age_p90_seconds", "share_past_risk")
PH_DELTA = 0.1
LEVEL_FLOOR = 0.25
PH_THRESHOLD = 50.0
PH_MIN_INSTANCES = 30
MIN_SIZE = 0.25
CUSUM_SLACK = 0.25
CHANGE_WINDOW = timedelta(days=28)
_WEEK = timedelta(days=7)


@dataclass(frozen=True, slots=True)
class DriftSignal:
    """One detected drift: the row of ``pulse_drift_signals``. ``indicator`` is the series
    name, prefixed with its KPI for per-KPI series (``resolution-time/share_past_risk``)."""

    contract: str
    service: str
    indicator: str
    detected_at: datetime
    started_at: datetime
    direction: str
    size: float
    baseline: float | None
    observed: float | None

    @property
    def key(self) -> tuple[str, str, str, datetime]:
        return (self.contract, self.service, self.indicator, self.detected_at)


def residuals(
    times: Sequence[datetime], values: Sequence[float], zone: ZoneInfo, counts: bool
) -> list[tuple[datetime, float, float, float]]:
    """``(at, observed, baseline, residual)`` for each sample that has a baseline."""
    index = {at: value for at, value in zip(times, values, strict=True)}
    slots = LocalSlots(zone)
    out = []
    for at, value in zip(times, values, strict=True):
        sample = _residual(at, value, index, slots, counts)
        if sample is not None:
            out.append(sample)
    return out


def _residual(
    at: datetime, value: float, index: Mapping[datetime, float], slots: LocalSlots, counts: bool
) -> tuple[datetime, float, float, float] | None:
    same_slot = [index[back] for back in slots.of(at) if back in index]
    if len(same_slot) < MIN_WEEKS:
        return None
    base = sum(same_slot) / len(same_slot)
    spread = math.sqrt(sum((v - base) ** 2 for v in same_slot) / len(same_slot))
    floor = math.sqrt(max(base, 1.0)) if counts else max(LEVEL_FLOOR * abs(base), 1e-9)
    z = (value - base) / max(spread, floor)
    return (at, value, base, max(-5.0, min(5.0, z)))


class LocalSlots:
    """The baseline's instants of each sample instant: 1 to ``BASELINE_WEEKS`` weeks earlier at
    the same local weekday and time of day (the local time of day read with ``fold=0``), kept
    for all the series read together (the watched series of a service share its grid: one
    conversion into the zone per instant, not two per week and series)."""

    def __init__(self, zone: ZoneInfo) -> None:
        self.zone = zone
        self._held: dict[datetime, tuple[datetime, ...]] = {}

    def of(self, at: datetime) -> tuple[datetime, ...]:
        found = self._held.get(at)
        if found is None:
            local = at.astimezone(self.zone).replace(tzinfo=None)
            found = self._held[at] = tuple(
                (local - weeks * _WEEK).replace(tzinfo=self.zone).astimezone(at.tzinfo)
                for weeks in range(1, BASELINE_WEEKS + 1)
            )
        return found


def detect(
    contract: str,
    service: str,
    indicator: str,
    samples: Iterable[tuple[datetime, float, float, float]],
) -> list[DriftSignal]:
    """Run Page-Hinkley over residual samples in time order (see the module doc)."""
    detector = SeriesDetector(contract, service, indicator)
    for sample in samples:
        detector.feed(sample)
    return detector.signals


class SeriesDetector:
    """Page-Hinkley and the CUSUM change point over one series' residuals, fed in time order
    one sample at a time (so a monitor can go on where its previous round stopped)."""

    def __init__(self, contract: str, service: str, indicator: str) -> None:
        self.contract, self.service, self.indicator = contract, service, indicator
        self.detector = drift.PageHinkley(
            min_instances=PH_MIN_INSTANCES, delta=PH_DELTA, threshold=PH_THRESHOLD, mode="both"
        )
        self.signals: list[DriftSignal] = []
        self._since: list[tuple[datetime, float, float, float]] = []

    def feed(self, sample: tuple[datetime, float, float, float]) -> None:
        since = self._since
        since.append(sample)
        while since[0][0] < sample[0] - CHANGE_WINDOW:
            since.pop(0)
        self.detector.update(sample[3])  # type: ignore[no-untyped-call]
        if not self.detector.drift_detected:
            return
        start = _change_point(since)
        part = since[start:]
        mean_z = sum(s[3] for s in part) / len(part)
        observed = sum(s[1] for s in part) / len(part)
        baseline = sum(s[2] for s in part) / len(part)
        size = observed / baseline - 1 if baseline else (math.inf if observed else 0.0)
        self._since = []
        if abs(size) < MIN_SIZE:
            return  # the detector saw a shift, but too small to tell anyone about
        self.signals.append(
            DriftSignal(
                self.contract,
                self.service,
                self.indicator,
                sample[0],
                part[0][0],
                "up" if mean_z > 0 else "down",
                size if math.isfinite(size) else 1e9,
                baseline,
                observed,
            )
        )


def _change_point(samples: Sequence[tuple[datetime, float, float, float]]) -> int:
    """Index after the extreme of the residuals' CUSUM (``z - k`` for a rise, ``z + k`` for a
    fall, ``k = CUSUM_SLACK``), on the side of the larger excursion."""
    up = down = 0.0
    low, high, at_low, at_high = 0.0, 0.0, 0, 0
    for i, sample in enumerate(samples):
        up += sample[3] - CUSUM_SLACK
        down += sample[3] + CUSUM_SLACK
        if up < low:
            low, at_low = up, i + 1
        if down > high:
            high, at_high = down, i + 1
    start = at_low if up - low >= high - down else at_high
    return min(start, len(samples) - 1)


def drift_signals(
    contract: str,
    zone: ZoneInfo,
    series: Mapping[tuple[str, str, str], tuple[Sequence[datetime], Sequence[float]]],
) -> list[DriftSignal]:
    """Signals of every watched series, keyed ``(service, kpi, indicator)`` -> final samples."""
    tracker = DriftTracker(contract, zone)
    tracker.update(series)
    return tracker.signals()


class _Watched:
    """One watched series as fed so far: its samples by instant and its detector."""

    def __init__(self, contract: str, service: str, name: str) -> None:
        self.detector = SeriesDetector(contract, service, name)
        self.index: dict[datetime, float] = {}
        self.fed = 0
        self.last: datetime | None = None


class DriftTracker:
    """``drift_signals`` kept up to date as the final samples grow: each round feeds only the
    samples that became final since (the same detector run as over the whole series at once).
    ``reset`` after a correction of final rows (a late event): the next ``update`` starts over."""

    def __init__(self, contract: str, zone: ZoneInfo) -> None:
        self.contract, self.zone = contract, zone
        self._watched: dict[tuple[str, str, str], _Watched] = {}

    def reset(self) -> None:
        self._watched = {}

    def update(
        self, series: Mapping[tuple[str, str, str], tuple[Sequence[datetime], Sequence[float]]]
    ) -> None:
        slots = LocalSlots(self.zone)  # for this update only: the instants fed now
        for key in sorted(series):
            service, kpi, indicator = key
            if indicator not in WATCHED:
                continue
            times, values = series[key]
            state = self._watched.get(key)
            if state is not None and (
                len(times) < state.fed or (state.fed and times[state.fed - 1] != state.last)
            ):
                state = None  # not an extension of what was fed: start this series over
            if state is None:
                name = f"{kpi}/{indicator}" if kpi else indicator
                state = self._watched[key] = _Watched(self.contract, service, name)
            counts = indicator in COUNT_INDICATORS
            for at, value in zip(times[state.fed :], values[state.fed :], strict=True):
                state.index[at] = value
                sample = _residual(at, value, state.index, slots, counts)
                if sample is not None:
                    state.detector.feed(sample)
            state.fed = len(times)
            state.last = times[-1] if times else None

    def signals(self) -> list[DriftSignal]:
        out = [s for state in self._watched.values() for s in state.detector.signals]
        return sorted(out, key=lambda s: (s.detected_at, s.service, s.indicator))


def final_series(
    points: Iterable[IndicatorPoint],
) -> dict[tuple[str, str, str], tuple[list[datetime], list[float]]]:
    """The final samples of every series of an evaluation, in time order."""
    out: dict[tuple[str, str, str], tuple[list[datetime], list[float]]] = {}
    for point in sorted((p for p in points if p.final), key=lambda p: p.key):
        times, values = out.setdefault((point.service, point.kpi, point.indicator), ([], []))
        times.append(point.at)
        values.append(point.value)
    return out
