"""Statements loaded by name from sinks/sql/dml, slots filled; mistakes fail at load."""

from __future__ import annotations

import pytest

from outcome_pulse.sinks import monitor_statements, statements
from outcome_pulse.sinks.sql_text import _named_blocks
from outcome_pulse.sinks.sql_text import statements as load


def test_every_statement_of_every_file_loads_with_its_slots_filled() -> None:
    loaded = [statements._SQL, monitor_statements._SQL]
    loaded += [load(concern) for concern in ("queries", "partitions", "session", "migrations")]
    for named in loaded:
        for name, text in named.items():
            assert text and "{{" not in text, name
            assert "-- " not in text, f"{name}: comments are documentation, not sent"


def test_a_fragment_is_filled_into_the_statements_that_use_it() -> None:
    assert "ON CONFLICT (source, item_id) DO UPDATE SET" in statements.UPSERT_STATES
    assert "e.event_id, e.source" in monitor_statements.READ_INBOX
    assert ", ".join(statements.EVENT_COLUMNS) in statements.COPY_EVENTS


def test_an_unknown_name_says_which_file_lacks_it() -> None:
    with pytest.raises(KeyError, match=r"sinks/sql/dml/queries.sql has no statement named 'nope'"):
        load("queries")["nope"]


def test_an_unfilled_slot_fails_when_the_file_is_loaded() -> None:
    with pytest.raises(ValueError, match="unfilled slot 'event_columns'"):
        load("events")  # no column lists given


def test_a_name_defined_twice_is_refused() -> None:
    with pytest.raises(ValueError, match="defined twice"):
        _named_blocks("-- name: a\nSELECT 1\n-- name: a\nSELECT 2\n", "x.sql")
