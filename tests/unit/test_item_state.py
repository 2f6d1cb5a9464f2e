"""The item-state fold: order-independent, idempotent, and right about status."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from outcome_pulse.processors.item_state import (
    apply_event,
    state_from_dict,
    state_row,
    state_to_dict,
)
from outcome_pulse.processors.lifecycle import WORK_ITEM_LIFECYCLE, ItemEvent, ItemKind, Lifecycle

T0 = datetime(2012, 3, 1, 9, 0, tzinfo=UTC)


def ev(n: int, lc: Lifecycle, minutes: int, **kw: object) -> ItemEvent:
    return ItemEvent(
        event_id=f"e{n}",
        source="test",
        item_id="INC-1",
        kind=ItemKind.INCIDENT,
        lifecycle=lc,
        time=T0 + timedelta(minutes=minutes),
        **kw,  # type: ignore[arg-type]
    )


def fold(events: list[ItemEvent]):  # type: ignore[no-untyped-def]
    state = None
    for i, e in enumerate(events):
        state = apply_event(state, e, sequence=int(e.event_id[1:]))
        del i
    assert state is not None
    return state


def test_lifecycle_of_one_incident() -> None:
    s = fold(
        [
            ev(1, Lifecycle.CREATED, 0, state="Queued", priority="Medium"),
            ev(2, Lifecycle.ASSIGNED, 5, assignee="anna"),
            ev(3, Lifecycle.PAUSED, 10, state="Wait - User"),
        ]
    )
    assert s.current_status == "paused"
    assert s.paused_since == T0 + timedelta(minutes=10)
    assert s.is_open and s.event_count == 3
    s = apply_event(s, ev(4, Lifecycle.STATE_CHANGED, 20, state="In Progress"), 4)
    assert s.paused_since is None and s.current_status == "open"
    s = apply_event(s, ev(5, Lifecycle.RESOLVED, 30, state="Resolved"), 5)
    assert s.resolved_at == T0 + timedelta(minutes=30) and not s.is_open
    s = apply_event(s, ev(6, Lifecycle.REOPENED, 40), 6)
    assert s.resolved_at is None and s.is_open
    s = apply_event(s, ev(7, Lifecycle.RESOLVED, 50), 7)
    s = apply_event(s, ev(8, Lifecycle.CLOSED, 51, state="Closed"), 8)
    row = state_row(s)
    assert row["status"] == "closed"
    assert row["resolved_at"] == T0 + timedelta(minutes=50)
    assert row["closed_at"] == T0 + timedelta(minutes=51)
    assert row["opened_at"] == T0
    assert row["priority"] == "Medium" and row["assignee"] == "anna" and row["state"] == "Closed"
    assert row["event_count"] == 8


def test_same_timestamp_ties_follow_sequence() -> None:
    a = ItemEvent("x", "s", "I", ItemKind.INCIDENT, Lifecycle.RESOLVED, T0, state="Resolved")
    b = ItemEvent("a", "s", "I", ItemKind.INCIDENT, Lifecycle.CLOSED, T0, state="Closed")
    forward = apply_event(apply_event(None, a, 1), b, 2)
    backward = apply_event(apply_event(None, b, 2), a, 1)
    assert state_row(forward) == state_row(backward)
    assert state_row(forward)["state"] == "Closed"


def test_applying_twice_is_a_no_op() -> None:
    s = fold([ev(1, Lifecycle.CREATED, 0, priority="Low")])
    assert apply_event(s, ev(1, Lifecycle.CREATED, 0, priority="Low"), 1) is s


def test_changelog_round_trip() -> None:
    s = fold(
        [
            ev(1, Lifecycle.CREATED, 0, state="Q", priority="High", attributes={"product": "P1"}),
            ev(2, Lifecycle.RESOLVED, 9),
        ]
    )
    assert state_from_dict(state_to_dict(s)) == s


_lifecycles = st.sampled_from(sorted(WORK_ITEM_LIFECYCLE))
_events = st.lists(
    st.tuples(
        _lifecycles,
        st.integers(0, 500),
        st.sampled_from([None, "Low", "Medium", "High"]),
        st.sampled_from([None, "anna", "bo"]),
    ),
    min_size=1,
    max_size=25,
).map(
    lambda specs: [
        ev(n, lc, minutes, priority=p, assignee=a, state=f"s{n}")
        for n, (lc, minutes, p, a) in enumerate(specs, start=1)
    ]
)


@settings(max_examples=300, deadline=None)
@given(events=_events, data=st.data())
def test_any_order_with_duplicates_gives_the_same_state(events, data) -> None:  # type: ignore[no-untyped-def]
    shuffled = data.draw(st.permutations(events))
    duplicated = shuffled + data.draw(st.lists(st.sampled_from(events), max_size=10))
    assert state_row(fold(duplicated)) == state_row(fold(events))
    assert fold(duplicated).event_count == len(events)


@settings(max_examples=200, deadline=None)
@given(events=_events, data=st.data())
def test_the_applied_record_is_every_distinct_id_in_order(events, data) -> None:  # type: ignore[no-untyped-def]
    duplicated = data.draw(st.permutations(events + data.draw(st.lists(st.sampled_from(events)))))
    state = fold(duplicated)
    assert state.applied == tuple(sorted({e.event_id for e in events}))
    # Any of them again, however long ago it was folded in, changes nothing.
    again = data.draw(st.sampled_from(events))
    assert apply_event(state, again, int(again.event_id[1:])) is state


def test_a_changelog_record_is_read_back_sorted_and_distinct() -> None:
    s = fold([ev(n, Lifecycle.STATE_CHANGED, n) for n in (3, 1, 2)])
    raw = state_to_dict(s)
    assert raw["applied"] == ["e1", "e2", "e3"]
    raw["applied"] = ["e3", "e1", "e3", "e2"]  # written by an older worker, or by hand
    assert state_from_dict(raw) == s
