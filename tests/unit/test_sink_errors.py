"""Which ``SinkError`` a psycopg error becomes: unavailable (retry) apart from rejected (data)."""

from __future__ import annotations

import psycopg
import pytest
from psycopg import errors as pg

from outcome_pulse.processors.errors import PulseError
from outcome_pulse.sinks.errors import SinkError, SinkRejected, SinkUnavailable
from outcome_pulse.sinks.pgerrors import translate


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (psycopg.OperationalError("connection refused"), SinkUnavailable),
        (pg.AdminShutdown(), SinkUnavailable),
        (pg.DeadlockDetected(), SinkUnavailable),
        (pg.TooManyConnections(), SinkUnavailable),
        (pg.NumericValueOutOfRange(), SinkRejected),
        (pg.UntranslatableCharacter(), SinkRejected),
        (pg.UniqueViolation(), SinkRejected),
        (pg.UndefinedTable(), SinkError),
        (pg.InsufficientPrivilege(), SinkError),
    ],
)
def test_each_failure_becomes_the_error_that_says_what_to_do(
    error: psycopg.Error, expected: type[SinkError]
) -> None:
    translated = translate(error, "writing a batch")
    assert type(translated) is expected
    assert isinstance(translated, PulseError)
    assert "writing a batch" in str(translated)


def test_a_write_given_up_after_retries_is_unavailable_and_says_how_often() -> None:
    translated = translate(pg.AdminShutdown(), "writing a batch", attempts=7)
    assert isinstance(translated, SinkUnavailable)
    assert "gave up after 7 attempts" in str(translated)
