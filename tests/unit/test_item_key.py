"""The events topic's key: (source, item id), one spelling, nothing ambiguous."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from outcome_pulse.processors.lifecycle import ItemKind, Lifecycle
from outcome_pulse.streams.wire.events import build_envelope
from outcome_pulse.streams.wire.item_key import event_key, item_key, split_item_key

_TEXT = st.text(
    alphabet=st.characters(blacklist_categories=["Cs"], blacklist_characters="\x00"),
    min_size=1,
    max_size=40,
)


def test_the_key_is_source_nul_item() -> None:
    assert item_key("acme-jira", "INC0001") == b"acme-jira\x00INC0001"
    assert item_key("caf\u00e9", "\u00e9") == "caf\u00e9\x00\u00e9".encode()


@given(_TEXT, _TEXT)
def test_a_key_splits_back_into_its_source_and_item(source: str, item: str) -> None:
    assert split_item_key(item_key(source, item)) == (source, item)


@given(_TEXT, _TEXT, _TEXT, _TEXT)
def test_different_items_have_different_keys(s1: str, i1: str, s2: str, i2: str) -> None:
    assert (item_key(s1, i1) == item_key(s2, i2)) == ((s1, i1) == (s2, i2))


def test_the_event_key_is_that_of_its_source_and_subject() -> None:
    envelope = build_envelope(
        event_id="e1",
        source="  beta-snow ",  # stripped by the envelope, and so in the key
        kind=ItemKind.INCIDENT,
        lifecycle=Lifecycle.CREATED,
        time=datetime(2012, 1, 1, tzinfo=UTC),
        item_id="INC1",
    )
    assert event_key(envelope) == b"beta-snow\x00INC1"


@pytest.mark.parametrize("bad", [b"INC1", b"\x00INC1", b"src\x00", b"a\x00b\x00c", b""])
def test_what_is_not_an_item_key_is_refused(bad: bytes) -> None:
    with pytest.raises(ValueError, match="not source \\+ NUL \\+ item id"):
        split_item_key(bad)


def test_a_nul_in_a_part_is_refused() -> None:
    with pytest.raises(ValueError, match="NUL"):
        item_key("a\x00b", "c")
