"""The engine's aggregators: ``replace`` (moving only the entries that differ) leaves each
multiset exactly as retracting the old contribution and adding the new one does."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from outcome_pulse.processors.engine.contribution import instants_differ_from
from outcome_pulse.processors.engine.multisets import (
    CountedSpanMultiset,
    InstantElement,
    InstantMultiset,
    SpanElement,
    SpanMultiset,
)

T0 = datetime(2012, 1, 1, tzinfo=UTC)
OWNERS = ["a", "b", "c"]
instants_at = st.integers(0, 12).map(lambda h: T0 + timedelta(hours=h))


@st.composite
def spans(draw: st.DrawFn) -> list[SpanElement]:
    out: list[SpanElement] = []
    opened = draw(st.sampled_from([None, T0]))
    for _ in range(draw(st.integers(0, 4))):
        start = draw(instants_at)
        length = draw(st.one_of(st.none(), st.integers(1, 6)))
        end = None if length is None else start + timedelta(hours=length)
        out.append((start, end, opened))
    return out


instant_lists = st.lists(
    st.tuples(instants_at, st.sampled_from([(), (True, 5), (False, 9)])), max_size=5
)
span_steps = st.lists(st.tuples(st.sampled_from(OWNERS), spans()), max_size=12)
instant_steps = st.lists(st.tuples(st.sampled_from(OWNERS), instant_lists), max_size=12)
probes = [T0 + timedelta(minutes=30 * k) for k in range(-2, 40)]


def span_reads(family: SpanMultiset) -> list[object]:
    reads: list[object] = [len(family)]
    for probe in probes:
        reads.append(sorted(family.reaching(probe), key=repr))
        if isinstance(family, CountedSpanMultiset):
            reads.append(family.count_containing(probe))
    return reads


def instant_reads(family: InstantMultiset) -> list[object]:
    reads: list[object] = [len(family)]
    for lo in probes[::5]:
        for hi in probes[::7]:
            reads.append(family.between(lo, hi))
        reads.append((family.count_before(lo), family.count_through(lo)))
    return reads


@given(span_steps, st.booleans())
@settings(max_examples=300, deadline=None)
def test_replacing_spans_equals_retract_then_add(
    steps: list[tuple[str, list[SpanElement]]], counted: bool
) -> None:
    make = CountedSpanMultiset if counted else SpanMultiset
    swapped, rebuilt = make(), make()
    for owner, new in steps:
        swapped.replace(owner, new)
        rebuilt.retract(owner)
        rebuilt.add(owner, new)
        assert span_reads(swapped) == span_reads(rebuilt)


@given(instant_steps)
@settings(max_examples=300, deadline=None)
def test_replacing_instants_equals_retract_then_add(
    steps: list[tuple[str, list[InstantElement]]],
) -> None:
    swapped, rebuilt = InstantMultiset(), InstantMultiset()
    for owner, new in steps:
        swapped.replace(owner, new)
        rebuilt.retract(owner)
        rebuilt.add(owner, new)
        # ``between`` is in time order, and within one instant in owner order: equal lists.
        assert instant_reads(swapped) == instant_reads(rebuilt)


@given(span_steps)
@settings(max_examples=100, deadline=None)
def test_a_forgotten_owner_stays_counted_after_replacements(
    steps: list[tuple[str, list[SpanElement]]],
) -> None:
    family = CountedSpanMultiset()
    for owner, new in steps:
        family.replace(owner, new)
    counts = [family.count_containing(p) for p in probes]
    for owner in OWNERS:
        family.forget(owner)
    assert [family.count_containing(p) for p in probes] == counts
    assert len(family) == 0


@given(instant_lists, instant_lists, st.booleans())
@settings(max_examples=300, deadline=None)
def test_instants_differ_from_the_earliest_instant_of_one_multiset_only(
    old: list[InstantElement], new: list[InstantElement], extend: bool
) -> None:
    if extend:  # the common case: the new contribution adds instants at the end
        new = old + new
    diff = (Counter(old) - Counter(new)) + (Counter(new) - Counter(old))
    expected = min((at for at, _ in diff), default=None)
    assert instants_differ_from(tuple(old), tuple(new)) == expected
