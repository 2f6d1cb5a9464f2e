"""SLA clocks: a deterministic fold of timestamped transitions, read at any instant."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from outcome_pulse.processors.calendar import ALWAYS, ZERO, BusinessCalendar, weekday_keys
from outcome_pulse.processors.sla_clock import (
    ClockAction,
    ClockOutcome,
    ClockPolicy,
    ClockStatus,
    ClockTransition,
    SlaClock,
)

BRUSSELS = ZoneInfo("Europe/Brussels")
OFFICE = BusinessCalendar.weekly(
    "Europe/Brussels", {day: ["09:00-17:00"] for day in weekday_keys("mon-fri")}
)
EIGHT_HOURS = ClockPolicy(timedelta(hours=8), OFFICE)
START, PAUSE, RESUME, STOP, REOPEN = (
    ClockAction.START,
    ClockAction.PAUSE,
    ClockAction.RESUME,
    ClockAction.STOP,
    ClockAction.REOPEN,
)


def at(*args: int) -> datetime:
    return datetime(*args, tzinfo=BRUSSELS)  # type: ignore[misc]


def clock(policy: ClockPolicy, *steps: tuple[datetime, ClockAction]) -> SlaClock:
    """A clock with these transitions; at equal times, the order listed (the sequence) decides."""
    return SlaClock(policy).record(
        *(ClockTransition(t, action, sequence=i) for i, (t, action) in enumerate(steps))
    )


# A business-time walk can cover years of days: no per-example deadline.
no_deadline = settings(deadline=None)

# -- strategies --------------------------------------------------------------------------------

moments = st.datetimes(
    min_value=datetime(2011, 1, 1), max_value=datetime(2013, 12, 31), timezones=st.just(UTC)
)
transitions = st.builds(
    ClockTransition,
    at=moments,
    action=st.sampled_from(list(ClockAction)),
    sequence=st.integers(0, 3),
    event_id=st.text("abc", max_size=2),
)
policies = st.builds(
    ClockPolicy,
    target=st.timedeltas(min_value=timedelta(minutes=1), max_value=timedelta(hours=200)),
    calendar=st.sampled_from([OFFICE, ALWAYS, BusinessCalendar.always("America/New_York")]),
    at_risk_share=st.floats(0.05, 1.0),
    retroactive_start=st.booleans(),
)


# -- properties --------------------------------------------------------------------------------


@given(policies, st.lists(transitions, max_size=12), st.randoms(), moments, moments)
@no_deadline
def test_arrival_order_and_duplicates_do_not_matter(
    policy: ClockPolicy,
    steps: list[ClockTransition],
    rnd: object,
    opened: datetime,
    now: datetime,
) -> None:
    shuffled = list(steps)
    rnd.shuffle(shuffled)  # type: ignore[attr-defined]
    one = SlaClock(policy, opened).record(*steps)
    other = SlaClock(policy)
    for step in shuffled + shuffled[:3]:  # one at a time, some twice
        other = other.record(step).opened(opened)
    assert one.read(now) == other.read(now)


@given(policies, st.lists(transitions, max_size=10), moments, moments)
@no_deadline
def test_elapsed_never_decreases_and_never_exceeds_business_time(
    policy: ClockPolicy, steps: list[ClockTransition], x: datetime, y: datetime
) -> None:
    early, late = min(x, y), max(x, y)
    sla = SlaClock(policy).record(*steps)
    first, second = sla.read(early), sla.read(late)
    assert ZERO <= first.elapsed <= second.elapsed
    if first.started_at is not None and not policy.retroactive_start:
        assert second.elapsed <= policy.calendar.business_time_between(first.started_at, late)


@given(policies, st.lists(moments, min_size=5, max_size=5).map(sorted))
@no_deadline
def test_pauses_add_no_time(policy: ClockPolicy, times: list[datetime]) -> None:
    start, pause, resume, stop, now = times
    between = policy.calendar.business_time_between
    paused = clock(policy, (start, START), (pause, PAUSE), (resume, RESUME), (stop, STOP))
    expected = between(start, stop) - between(pause, resume)
    assert paused.read(now).elapsed == expected
    # A pause and resume at the same instant changes nothing.
    blink = clock(policy, (start, START), (pause, PAUSE), (pause, RESUME), (stop, STOP))
    assert blink.read(now).elapsed == between(start, stop)


@given(policies, moments, moments)
@no_deadline
def test_predicted_breach_is_when_the_target_is_used_up(
    policy: ClockPolicy, start: datetime, now: datetime
) -> None:
    running = clock(policy, (start, START))
    reading = running.read(max(start, now))
    assert reading.breach_at is not None
    at_breach = running.read(reading.breach_at)
    assert at_breach.elapsed == policy.target
    assert at_breach.share_used == 1.0 and not at_breach.breached
    assert reading.breached is (reading.elapsed > policy.target)


@given(policies, st.lists(moments, min_size=3, max_size=3).map(sorted))
@no_deadline
def test_stopped_clock_stays_still(policy: ClockPolicy, times: list[datetime]) -> None:
    start, stop, later = times
    stopped = clock(policy, (start, START), (stop, STOP))
    reading = stopped.read(later)
    assert reading.elapsed == stopped.read(stop).elapsed
    assert reading.outcome is (ClockOutcome.MISSED if reading.breached else ClockOutcome.MET)
    assert not reading.at_risk


@given(policies, st.lists(moments, min_size=4, max_size=4).map(sorted))
@no_deadline
def test_reopen_continues_from_where_it_stopped(policy: ClockPolicy, times: list[datetime]) -> None:
    start, stop, reopen, now = times
    between = policy.calendar.business_time_between
    sla = clock(policy, (start, START), (stop, STOP), (reopen, REOPEN))
    reading = sla.read(now)
    assert reading.status is ClockStatus.RUNNING and reading.outcome is None
    assert reading.elapsed == between(start, stop) + between(reopen, now)


# -- examples ----------------------------------------------------------------------------------


def test_reading_an_office_hours_clock() -> None:
    sla = clock(EIGHT_HOURS, (at(2012, 3, 23, 12), START))
    friday = sla.read(at(2012, 3, 23, 15))
    assert friday.status is ClockStatus.RUNNING
    assert friday.elapsed == timedelta(hours=3)
    assert friday.share_used == pytest.approx(3 / 8)
    assert friday.breach_at == at(2012, 3, 26, 12)  # 5 h on Friday, 3 h on Monday
    weekend = sla.read(at(2012, 3, 24, 12))
    assert weekend.elapsed == timedelta(hours=5) and not weekend.at_risk
    monday = sla.read(at(2012, 3, 26, 11))
    assert monday.elapsed == timedelta(hours=7) and monday.at_risk  # 7/8 >= 0.8
    late = sla.read(at(2012, 3, 26, 13))
    assert late.breached and not late.at_risk and late.breach_at == at(2012, 3, 26, 12)


def test_paused_clock_has_no_predicted_breach() -> None:
    sla = clock(EIGHT_HOURS, (at(2012, 3, 23, 9), START), (at(2012, 3, 23, 11), PAUSE))
    reading = sla.read(at(2012, 3, 27, 9))
    assert reading.status is ClockStatus.PAUSED
    assert reading.elapsed == timedelta(hours=2)
    assert reading.breach_at is None
    resumed = sla.record(ClockTransition(at(2012, 3, 27, 9), RESUME)).read(at(2012, 3, 27, 10))
    assert resumed.breach_at == at(2012, 3, 27, 15)


def test_breached_while_paused_keeps_the_past_breach_moment() -> None:
    sla = clock(EIGHT_HOURS, (at(2012, 3, 23, 9), START), (at(2012, 3, 26, 12), PAUSE))
    reading = sla.read(at(2012, 3, 28, 9))
    assert reading.breached and reading.breach_at == at(2012, 3, 23, 17)


def test_met_and_missed() -> None:
    met = clock(EIGHT_HOURS, (at(2012, 3, 23, 12), START), (at(2012, 3, 26, 12), STOP))
    assert met.read(at(2012, 4, 1)).outcome is ClockOutcome.MET  # exactly 8 h is met
    missed = clock(EIGHT_HOURS, (at(2012, 3, 23, 12), START), (at(2012, 3, 26, 13), STOP))
    assert missed.read(at(2012, 4, 1)).outcome is ClockOutcome.MISSED


def test_reading_the_past_ignores_later_transitions() -> None:
    sla = clock(EIGHT_HOURS, (at(2012, 3, 23, 9), START), (at(2012, 3, 23, 10), STOP))
    assert sla.read(at(2012, 3, 23, 9, 30)).status is ClockStatus.RUNNING
    assert sla.read(at(2012, 3, 23, 8)).status is ClockStatus.NOT_STARTED


def test_retroactive_start_counts_from_opening() -> None:
    policy = ClockPolicy(timedelta(hours=8), OFFICE, retroactive_start=True)
    sla = clock(policy, (at(2012, 3, 23, 13), START)).opened(at(2012, 3, 23, 9))
    assert sla.read(at(2012, 3, 23, 12)).status is ClockStatus.NOT_STARTED  # not known yet
    assert sla.read(at(2012, 3, 23, 14)).elapsed == timedelta(hours=5)
    plain = clock(EIGHT_HOURS, (at(2012, 3, 23, 13), START)).opened(at(2012, 3, 23, 9))
    assert plain.read(at(2012, 3, 23, 14)).elapsed == timedelta(hours=1)


def test_retroactive_start_keeps_earlier_pauses() -> None:
    policy = ClockPolicy(timedelta(hours=8), OFFICE, retroactive_start=True)
    sla = clock(
        policy,
        (at(2012, 3, 23, 10), PAUSE),
        (at(2012, 3, 23, 11), RESUME),
        (at(2012, 3, 23, 13), START),
    ).opened(at(2012, 3, 23, 9))
    assert sla.read(at(2012, 3, 23, 14)).elapsed == timedelta(hours=4)


def test_same_instant_start_and_stop_is_met_with_zero_time() -> None:
    t = at(2012, 3, 23, 10)
    sla = SlaClock(EIGHT_HOURS).record(ClockTransition(t, STOP), ClockTransition(t, START))
    reading = sla.read(t)
    assert reading.outcome is ClockOutcome.MET and reading.elapsed == ZERO


def test_ignored_transitions() -> None:
    sla = clock(
        EIGHT_HOURS,
        (at(2012, 3, 23, 9), PAUSE),  # before the start
        (at(2012, 3, 23, 10), START),
        (at(2012, 3, 23, 11), START),  # second start
        (at(2012, 3, 23, 12), RESUME),  # not paused
    )
    reading = sla.read(at(2012, 3, 23, 13))
    assert reading.started_at == at(2012, 3, 23, 10) and reading.elapsed == timedelta(hours=3)


def test_across_the_spring_forward_night() -> None:
    policy = ClockPolicy(timedelta(hours=24))
    sla = clock(policy, (at(2012, 3, 24, 12), START))
    # 24 real hours after Saturday noon is Sunday 13:00 local: the clocks went forward.
    assert sla.read(at(2012, 3, 24, 13)).breach_at == at(2012, 3, 25, 13)


def test_bad_policies() -> None:
    with pytest.raises(ValueError, match="positive"):
        ClockPolicy(ZERO)
    with pytest.raises(ValueError, match="at_risk_share"):
        ClockPolicy(timedelta(hours=1), at_risk_share=1.5)
    with pytest.raises(ValueError, match="timezone-aware"):
        ClockTransition(datetime(2012, 1, 1), START)
