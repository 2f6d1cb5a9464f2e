"""Drift detection: a level shift against the seasonal baseline is signalled with its
direction, size and start; a steady seasonal series is not."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given
from hypothesis import strategies as st

from outcome_pulse.processors.forecast.drift import BASELINE_WEEKS, LocalSlots, drift_signals

ZONE = ZoneInfo("Europe/Rome")
T0 = datetime(2024, 1, 1, tzinfo=UTC)


def series(shift_at: int | None, factor: float, weeks: int = 12):
    rng = random.Random(5)
    times, values = [], []
    for h in range(weeks * 7 * 24):
        at = T0 + timedelta(hours=h)
        local = at.astimezone(ZONE)
        base = 8.0 if 9 <= local.hour < 18 and local.weekday() < 5 else 1.0  # office hours
        level = base * (factor if shift_at is not None and h >= shift_at else 1.0)
        times.append(at)
        values.append(float(sum(rng.random() < level / 20 for _ in range(20))))
    return {("desk", "", "arrivals"): (times, values)}


def test_a_steady_seasonal_series_gives_no_signal() -> None:
    assert drift_signals("c", ZONE, series(None, 1.0)) == []


def test_arrivals_up_by_half_are_signalled_with_direction_size_and_start() -> None:
    shift = 8 * 7 * 24  # week 9
    signals = drift_signals("c", ZONE, series(shift, 1.5))
    assert signals, "no drift signalled"
    first = signals[0]
    assert first.direction == "up"
    assert first.indicator == "arrivals"
    shifted_at = T0 + timedelta(hours=shift)
    assert shifted_at <= first.detected_at < shifted_at + timedelta(days=7)
    assert abs(first.started_at - shifted_at) < timedelta(days=2)
    assert 0.25 < first.size < 0.8


def test_signals_are_a_function_of_the_series() -> None:
    one = drift_signals("c", ZONE, series(8 * 7 * 24, 0.5))
    assert one == drift_signals("c", ZONE, series(8 * 7 * 24, 0.5))
    assert one and one[0].direction == "down"


@given(
    st.datetimes(
        min_value=datetime(2010, 1, 1), max_value=datetime(2014, 12, 31), timezones=st.just(UTC)
    ),
    st.sampled_from(["Europe/Brussels", "America/New_York", "Australia/Lord_Howe", "UTC"]),
)
def test_the_baseline_instants_are_the_same_local_slot_weeks_back(at: datetime, name: str) -> None:
    zone = ZoneInfo(name)
    expected = []
    for weeks in range(1, BASELINE_WEEKS + 1):  # each week back converted on its own
        local = at.astimezone(zone)
        back = (local.replace(tzinfo=None) - weeks * timedelta(days=7)).replace(tzinfo=zone)
        expected.append(back.astimezone(UTC))
    slots = LocalSlots(zone)
    assert slots.of(at) == tuple(expected)
    assert [b.utcoffset() for b in slots.of(at)] == [timedelta(0)] * BASELINE_WEEKS
    assert slots.of(at) is slots.of(at)  # kept
