"""Business calendars: exact arithmetic across weekends, holidays and daylight-saving changes."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from outcome_pulse.processors.calendar import (
    ZERO,
    BusinessCalendar,
    WorkingInterval,
    weekday_index,
    weekday_keys,
)

BRUSSELS = ZoneInfo("Europe/Brussels")
NEW_YORK = ZoneInfo("America/New_York")
ZONES = ["Europe/Brussels", "America/New_York", "Europe/Rome", "Australia/Lord_Howe", "UTC"]
MICRO = timedelta(microseconds=1)

OFFICE = BusinessCalendar.weekly(
    "Europe/Brussels",
    {day: ["09:00-17:00"] for day in weekday_keys("mon-fri")},
    holidays=[date(2011, 12, 26), date(2012, 1, 2), date(2012, 4, 9)],
    name="brussels-office",
)
SPLIT = BusinessCalendar.weekly(
    "America/New_York",
    {
        **{day: ["08:00-12:00", "13:00-17:30"] for day in weekday_keys("mon-fri")},
        "sat": ["10:00-14:00"],
    },
    holidays=[date(2011, 7, 4), date(2011, 11, 24)],
)
# Night shift across the 02:00-03:00 changes: intervals that contain a clock change.
NIGHTS = BusinessCalendar.weekly(
    "Europe/Brussels", {day: ["00:00-06:00", "22:00-24:00"] for day in range(7)}
)
AROUND_THE_CLOCK_BRUSSELS = BusinessCalendar.always("Europe/Brussels")
FIXED = [OFFICE, SPLIT, NIGHTS, AROUND_THE_CLOCK_BRUSSELS]


def transition_days(zone: ZoneInfo, years: range) -> list[date]:
    """Days on which ``zone``'s UTC offset changes."""
    days = []
    day = date(years.start, 1, 1)
    while day.year < years.stop:
        noon = datetime(day.year, day.month, day.day, 12, tzinfo=zone)
        if noon.utcoffset() != (noon - timedelta(days=1)).utcoffset():
            days.append(day)
        day += timedelta(days=1)
    return days


DST_DAYS = {
    "Europe/Brussels": transition_days(BRUSSELS, range(2010, 2015)),
    "America/New_York": transition_days(NEW_YORK, range(2010, 2015)),
}


# A business-time walk can cover years of days: no per-example deadline.
no_deadline = settings(deadline=None)

# -- strategies --------------------------------------------------------------------------------

instants = st.datetimes(
    min_value=datetime(2010, 1, 1), max_value=datetime(2014, 12, 31), timezones=st.just(UTC)
)


@st.composite
def near_dst(draw: st.DrawFn) -> datetime:
    """An instant within two days of a clock change in Brussels or New York."""
    zone = draw(st.sampled_from(sorted(DST_DAYS)))
    day = draw(st.sampled_from(DST_DAYS[zone]))
    base = datetime(day.year, day.month, day.day, tzinfo=ZoneInfo(zone)).astimezone(UTC)
    return base + draw(st.timedeltas(min_value=timedelta(days=-2), max_value=timedelta(days=2)))


moments = st.one_of(instants, near_dst())


@st.composite
def calendars(draw: st.DrawFn) -> BusinessCalendar:
    """Random time zone, 0-3 intervals per weekday (boundaries on the quarter hour), holidays."""
    week: dict[int, list[WorkingInterval]] = {}
    for day in range(7):
        cuts = draw(st.lists(st.integers(0, 96), min_size=0, max_size=6, unique=True).map(sorted))
        pairs = list(zip(cuts[::2], cuts[1::2], strict=False))
        week[day] = [WorkingInterval(a * 900, b * 900) for a, b in pairs]
    if not any(week.values()):
        week[draw(st.integers(0, 6))] = [WorkingInterval(9 * 3600, 17 * 3600)]
    holidays = draw(st.lists(st.dates(date(2011, 1, 1), date(2012, 12, 31)), max_size=20))
    zone = draw(st.sampled_from(ZONES))
    return BusinessCalendar.weekly(zone, week, holidays)


any_calendar = st.one_of(st.sampled_from(FIXED), calendars())
durations = st.timedeltas(min_value=ZERO, max_value=timedelta(hours=3000))


# -- properties --------------------------------------------------------------------------------


@given(any_calendar, moments, moments, moments)
@no_deadline
def test_additivity(cal: BusinessCalendar, a: datetime, b: datetime, c: datetime) -> None:
    between = cal.business_time_between
    assert between(a, b) + between(b, c) == between(a, c)


@given(any_calendar, moments, moments)
@no_deadline
def test_antisymmetric_and_bounded_by_wall_time(
    cal: BusinessCalendar, a: datetime, b: datetime
) -> None:
    assert cal.business_time_between(a, b) == -cal.business_time_between(b, a)
    if a <= b:
        assert ZERO <= cal.business_time_between(a, b) <= b - a


@given(any_calendar, moments, durations)
@no_deadline
def test_add_then_measure_gives_the_duration_back(
    cal: BusinessCalendar, start: datetime, duration: timedelta
) -> None:
    reached = cal.add_business_time(start, duration)
    assert reached >= start
    assert cal.business_time_between(start, reached) == duration
    if duration > ZERO:  # and it is the first instant that does
        assert cal.business_time_between(start, reached - MICRO) < duration


@given(any_calendar, moments, moments, moments)
@no_deadline
def test_monotonic(cal: BusinessCalendar, start: datetime, x: datetime, y: datetime) -> None:
    early, late = min(x, y), max(x, y)
    assert cal.business_time_between(start, early) <= cal.business_time_between(start, late)


@given(any_calendar, moments, durations, durations)
@no_deadline
def test_adding_more_reaches_later(
    cal: BusinessCalendar, start: datetime, d1: timedelta, d2: timedelta
) -> None:
    small, large = min(d1, d2), max(d1, d2)
    assert cal.add_business_time(start, small) <= cal.add_business_time(start, large)
    # Adding in two steps lands in the same place as adding at once.
    assert cal.add_business_time(cal.add_business_time(start, small), large - small) == (
        cal.add_business_time(start, large)
    )


@given(any_calendar, moments)
@no_deadline
def test_is_business_time_agrees_with_measuring(cal: BusinessCalendar, t: datetime) -> None:
    running = cal.business_time_between(t, t + MICRO) == MICRO
    assert cal.is_business_time(t) is running


@given(st.sampled_from(ZONES), moments, moments)
@no_deadline
def test_24x7_equals_wall_time_in_every_zone(zone: str, a: datetime, b: datetime) -> None:
    always = BusinessCalendar.always(zone)
    every_day = BusinessCalendar.weekly(zone, {d: ["00:00-24:00"] for d in range(7)})
    assert always.business_time_between(a, b) == b - a
    assert every_day.business_time_between(a, b) == b - a  # the general path, not the shortcut
    assert every_day.add_business_time(a, abs(b - a)) == a + abs(b - a)


@given(calendars(), st.dates(date(2011, 1, 1), date(2012, 12, 31)), moments, moments)
@no_deadline
def test_a_holiday_contributes_nothing(
    cal: BusinessCalendar, holiday: date, x: datetime, y: datetime
) -> None:
    a, b = min(x, y), max(x, y)
    with_holiday = BusinessCalendar(cal.time_zone, cal.week, cal.holidays | {holiday})
    without = BusinessCalendar(cal.time_zone, cal.week, cal.holidays - {holiday})
    day_start = datetime(holiday.year, holiday.month, holiday.day, tzinfo=ZoneInfo(cal.time_zone))
    day_end = day_start + timedelta(days=1)
    assert with_holiday.business_time_between(day_start, day_end) == ZERO
    # The two calendars differ by exactly the working time the day would have had in [a, b].
    lost = without.business_time_between(max(a, day_start), max(min(b, day_end), a, day_start))
    assert with_holiday.business_time_between(a, b) == without.business_time_between(a, b) - lost


@given(st.sampled_from(sorted(DST_DAYS)), st.data())
@no_deadline
def test_office_hours_are_eight_hours_on_clock_change_days(
    zone_name: str, data: st.DataObject
) -> None:
    day = data.draw(st.sampled_from(DST_DAYS[zone_name]))
    zone = ZoneInfo(zone_name)
    cal = BusinessCalendar.weekly(zone_name, {d: ["09:00-17:00"] for d in range(7)})
    midnight = datetime(day.year, day.month, day.day, tzinfo=zone)
    assert cal.business_time_between(midnight, midnight + timedelta(days=1)) == timedelta(hours=8)
    nine = datetime(day.year, day.month, day.day, 9, tzinfo=zone)
    assert cal.add_business_time(nine, timedelta(hours=8)) == datetime(
        day.year, day.month, day.day, 17, tzinfo=zone
    )


@given(moments, durations)
@settings(deadline=None, max_examples=50)
def test_moving_across_dst_keeps_office_hours(start: datetime, duration: timedelta) -> None:
    # Every full working day is exactly 8 hours, wherever the clock changes fall.
    cal = BusinessCalendar.weekly("America/New_York", {d: ["09:00-17:00"] for d in range(7)})
    reached = cal.add_business_time(start, duration)
    if duration > ZERO:
        assert time(9) < reached.astimezone(NEW_YORK).time() <= time(17)


# -- examples ----------------------------------------------------------------------------------


def brussels(*args: int) -> datetime:
    return datetime(*args, tzinfo=BRUSSELS)  # type: ignore[misc]


def test_weekend_is_skipped() -> None:
    friday_noon, monday_noon = brussels(2012, 3, 23, 12), brussels(2012, 3, 26, 12)
    assert OFFICE.business_time_between(friday_noon, monday_noon) == timedelta(hours=8)
    assert OFFICE.add_business_time(friday_noon, timedelta(hours=8)) == monday_noon


def test_target_reached_at_closing_time_is_closing_time() -> None:
    assert OFFICE.add_business_time(brussels(2012, 3, 23, 9), timedelta(hours=8)) == brussels(
        2012, 3, 23, 17
    )


def test_holiday_is_skipped() -> None:
    # Friday 2011-12-23 16:00 + 2 h: Monday 26 December is a holiday -> Tuesday 10:00.
    reached = OFFICE.add_business_time(brussels(2011, 12, 23, 16), timedelta(hours=2))
    assert reached == brussels(2011, 12, 27, 10)
    assert OFFICE.business_time_between(brussels(2011, 12, 26), brussels(2011, 12, 27)) == ZERO


def test_split_day_and_saturday_morning() -> None:
    ny = ZoneInfo("America/New_York")
    friday = datetime(2011, 3, 11, 11, tzinfo=ny)
    # Fri 11:00-12:00 (1 h) + 13:00-17:30 (4.5 h) + Sat 10:00-14:00 (4 h) = 9.5 h to Monday.
    monday = datetime(2011, 3, 14, 8, tzinfo=ny)
    assert SPLIT.business_time_between(friday, monday) == timedelta(hours=9, minutes=30)
    assert SPLIT.add_business_time(friday, timedelta(hours=1, minutes=30)) == datetime(
        2011, 3, 11, 13, 30, tzinfo=ny
    )


def test_night_shift_measures_real_time_across_clock_changes() -> None:
    spring, autumn = date(2012, 3, 25), date(2012, 10, 28)
    # 00:00-06:00 local: 5 real hours when the clocks go forward, 7 when they go back.
    assert NIGHTS.day_total(spring) == timedelta(hours=5 + 2)
    assert NIGHTS.day_total(autumn) == timedelta(hours=7 + 2)


def test_interval_inside_the_spring_forward_gap_is_empty() -> None:
    cal = BusinessCalendar.weekly(
        "Europe/Brussels", {d: ["02:15-02:45", "09:00-10:00"] for d in range(7)}
    )
    assert cal.day_total(date(2012, 3, 25)) == timedelta(hours=1)
    assert cal.day_total(date(2012, 3, 26)) == timedelta(hours=1, minutes=30)


def test_two_year_span_is_exact() -> None:
    cal = BusinessCalendar.weekly("Europe/Brussels", {d: ["09:00-17:00"] for d in range(5)})
    start, end = brussels(2010, 1, 4), brussels(2012, 1, 2)  # both Mondays, 104 weeks apart
    assert cal.business_time_between(start, end) == timedelta(hours=8 * 5 * 104)
    assert cal.add_business_time(start, timedelta(hours=8 * 5 * 104)) == brussels(2011, 12, 30, 17)


def test_results_are_utc_and_inputs_may_use_any_offset() -> None:
    reached = OFFICE.add_business_time(brussels(2012, 3, 23, 12), timedelta(hours=1))
    assert reached.tzinfo is UTC
    assert reached == brussels(2012, 3, 23, 13)


def test_naive_times_are_rejected() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        OFFICE.business_time_between(datetime(2012, 1, 1), brussels(2012, 1, 2))
    with pytest.raises(ValueError, match="negative"):
        OFFICE.add_business_time(brussels(2012, 1, 2), timedelta(hours=-1))


@pytest.mark.parametrize(
    ("hours", "message"),
    [
        ({"mon": ["17:00-09:00"]}, "start < end"),
        ({"mon": ["09:00-13:00", "12:00-17:00"]}, "overlap"),
        ({"mon": ["9-17"]}, "HH:MM"),
        ({"mon": ["09:00-24:30"]}, "between 00:00 and 24:00"),
        ({"someday": ["09:00-17:00"]}, "weekday"),
        ({}, "at least one weekday"),
    ],
)
def test_bad_calendars_say_what_was_expected(hours: dict[str, list[str]], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        BusinessCalendar.weekly("Europe/Brussels", hours)


def test_unknown_time_zone() -> None:
    with pytest.raises(ValueError, match="IANA time zone"):
        BusinessCalendar.weekly("Europe/Atlantis", {"mon": ["09:00-17:00"]})


def test_weekday_names() -> None:
    assert weekday_keys("mon-fri") == [0, 1, 2, 3, 4]
    assert weekday_keys("sat, sun") == [5, 6]
    assert weekday_index("Wednesday") == 2
    with pytest.raises(ValueError):
        weekday_keys("fri-mon")


@pytest.mark.parametrize("zone", ZONES)
def test_fast_path_matches_converting_each_boundary(zone: str) -> None:
    # Days without a clock change use one offset; check that against converting every boundary.
    cal = BusinessCalendar.weekly(
        zone, {d: ["00:00-02:30", "09:00-17:00", "23:00-24:00"] for d in range(7)}
    )
    day = date(2010, 1, 1)
    while day < date(2015, 1, 1):
        expected = tuple(
            (lo, hi)
            for lo, hi in (
                (cal._instant(day, iv.start), cal._instant(day, iv.end))
                for iv in cal.week[day.weekday()]
            )
            if hi > lo
        )
        assert cal.day_spans(day) == expected, day
        day += timedelta(days=1)


# -- the timeline against summing each day's spans ---------------------------------------------


def _summed(cal: BusinessCalendar, a: datetime, b: datetime) -> timedelta:
    """Business time of ``[a, b)`` (a <= b) as the sum of every nearby day's clipped spans."""
    total = ZERO
    day = a.astimezone(UTC).date() - timedelta(days=3)
    while day <= b.astimezone(UTC).date() + timedelta(days=3):
        for lo, hi in cal.day_spans(day):
            lo, hi = max(lo, a), min(hi, b)
            if hi > lo:
                total += hi - lo
        day += timedelta(days=1)
    return total


@given(any_calendar, moments, moments)
@no_deadline
def test_between_equals_the_sum_of_each_days_spans(
    cal: BusinessCalendar, a: datetime, b: datetime
) -> None:
    a, b = min(a, b), max(a, b)
    assert cal.business_time_between(a, b) == _summed(cal, a, b)


@given(any_calendar, moments, durations)
@no_deadline
def test_add_is_the_first_instant_the_sum_of_spans_reaches(
    cal: BusinessCalendar, start: datetime, duration: timedelta
) -> None:
    reached = cal.add_business_time(start, duration)
    assert _summed(cal, start, reached) == duration
    if duration > ZERO:
        assert _summed(cal, start, reached - MICRO) < duration


@pytest.mark.parametrize("cal", FIXED, ids=["office", "split", "nights", "24x7"])
def test_beyond_the_timelines_reach_the_day_walk_gives_the_same(cal: BusinessCalendar) -> None:
    # Past _CACHE_LIMIT dates the arithmetic walks day by day: same answers, from a fresh copy
    # of the calendar whose timeline may hold only a few days.
    import outcome_pulse.processors.calendar as module

    moments = [
        datetime(2011, 3, 27, 0, 30, tzinfo=UTC) + timedelta(hours=37 * k) for k in range(40)
    ]
    pairs = [(x, y) for x in moments[::7] for y in moments if x <= y]
    expected = [
        (cal.business_time_between(x, y), cal.add_business_time(x, y - x)) for x, y in pairs
    ]
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(module, "_CACHE_LIMIT", 12)
        fresh = BusinessCalendar(cal.time_zone, cal.week, cal.holidays, cal.name)
        walked = [
            (fresh.business_time_between(x, y), fresh.add_business_time(x, y - x)) for x, y in pairs
        ]
    assert walked == expected


@pytest.mark.parametrize(
    ("zone", "local_hours", "utc_from", "utc_to", "one_hour_in"),
    [
        # Lord Howe is UTC+11 in January: local 00:00-02:00 of the 11th is 13:00-15:00 UTC
        # of the 10th, a span of the next local date inside one UTC day.
        (
            "Australia/Lord_Howe",
            "00:00-02:00",
            datetime(2012, 1, 10),
            datetime(2012, 1, 10, 20),
            datetime(2012, 1, 10, 14),
        ),
        # Honolulu is UTC-10: local 20:00-22:00 of the 10th is 06:00-08:00 UTC of the 11th.
        (
            "Pacific/Honolulu",
            "20:00-22:00",
            datetime(2012, 1, 11, 1),
            datetime(2012, 1, 11, 9),
            datetime(2012, 1, 11, 7),
        ),
    ],
)
def test_a_fresh_calendar_sees_the_spans_of_neighbouring_local_dates(
    zone: str, local_hours: str, utc_from: datetime, utc_to: datetime, one_hour_in: datetime
) -> None:
    cal = BusinessCalendar.weekly(zone, {day: [local_hours] for day in range(7)})
    a, b = utc_from.replace(tzinfo=UTC), utc_to.replace(tzinfo=UTC)
    assert cal.business_time_between(a, b) == timedelta(hours=2)
    fresh = BusinessCalendar.weekly(zone, {day: [local_hours] for day in range(7)})
    assert fresh.add_business_time(a, timedelta(hours=1)) == one_hour_in.replace(tzinfo=UTC)
