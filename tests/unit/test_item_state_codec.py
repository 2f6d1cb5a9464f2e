"""The item table's changelog codec: msgspec JSON, read back equal; old changelogs still read."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from outcome_pulse.processors.item_state import apply_event, state_to_dict
from outcome_pulse.processors.lifecycle import ItemEvent, ItemKind, Lifecycle
from outcome_pulse.streams.kafka.codecs import ItemStateCodec


def _state() -> object:
    state = None
    for n, lifecycle in enumerate([Lifecycle.CREATED, Lifecycle.ASSIGNED, Lifecycle.RESOLVED]):
        event = ItemEvent(
            event_id=f"e{n}-ünïcode-😀",
            source="acme-jira",
            item_id="INC0001 \u2028 ✓",
            kind=ItemKind.INCIDENT,
            lifecycle=lifecycle,
            time=datetime(2012, 5, 2, 10, n, tzinfo=UTC),
            state="Ωpen",
            assignee="Sam Søndergaard",
            due_at=datetime(2012, 5, 3, tzinfo=UTC),
            attributes={"product": "PROD582", "note": 'naïve "café"\n'},
        )
        state = apply_event(state, event, sequence=n)  # type: ignore[arg-type]
    return state


def test_round_trip_is_equal() -> None:
    codec = ItemStateCodec()
    state = _state()
    assert codec._loads(codec._dumps(state)) == state


def test_reads_what_the_standard_library_wrote() -> None:
    state = _state()
    old = json.dumps(state_to_dict(state), separators=(",", ":")).encode()  # type: ignore[arg-type]
    assert ItemStateCodec()._loads(old) == state


def test_output_is_json_any_parser_reads() -> None:
    state = _state()
    assert json.loads(ItemStateCodec()._dumps(state)) == state_to_dict(state)  # type: ignore[arg-type]
