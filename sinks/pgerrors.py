"""Which psycopg errors are worth retrying, and which ``SinkError`` each one becomes.

Retrying is only safe and useful when the failure says nothing about the data: the server is
down, restarting, out of connection slots, or chose this transaction as a deadlock or
serialisation victim. Everything else (a value PostgreSQL rejects, a missing table, a permission)
fails the same way every time, so retrying would only hide it.

Connection-phase errors carry no SQLSTATE in psycopg (libpq reports them as text), so a short list
of messages marks the permanent ones (wrong database, role or password); any other connection
failure counts as transient. With a localised server ``lc_messages`` those messages are not
recognised and such a failure is retried (and logged at WARNING on every attempt) until the
sink's deadline: slow to report, but never losing data.
"""

from __future__ import annotations

import psycopg

from outcome_pulse.sinks.errors import SinkError, SinkRejected, SinkUnavailable

# 40001 serialization_failure, 40P01 deadlock_detected, 53300 too_many_connections,
# 57P01 admin_shutdown, 57P02 crash_shutdown, 57P03 cannot_connect_now; class 08 = connection.
_TRANSIENT_SQLSTATES = frozenset({"40001", "40P01", "53300", "57P01", "57P02", "57P03"})

_PERMANENT_CONNECT_MESSAGES = (
    "does not exist",  # database "x" / role "x" does not exist
    "authentication failed",
    "pg_hba.conf",
    "permission denied",
    "invalid connection option",
    "invalid dsn",
    'missing "="',
)


def is_transient(exc: BaseException) -> bool:
    """True when the same statement could succeed later on a fresh connection."""
    if not isinstance(exc, psycopg.Error):
        return False
    state = exc.sqlstate
    if state is not None:
        return state.startswith("08") or state in _TRANSIENT_SQLSTATES
    if not isinstance(exc, psycopg.OperationalError):
        return False
    message = str(exc).lower()
    return not any(marker in message for marker in _PERMANENT_CONNECT_MESSAGES)


# SQLSTATE classes about the data itself: 22 data exception, 23 integrity constraint violation.
_DATA_SQLSTATE_CLASSES = ("22", "23")


def error_class(exc: psycopg.Error) -> type[SinkError]:
    """``SinkUnavailable`` (retry later), ``SinkRejected`` (this data) or ``SinkError`` (other)."""
    if is_transient(exc) or (exc.sqlstate is None and isinstance(exc, psycopg.OperationalError)):
        return SinkUnavailable
    if exc.sqlstate is not None and exc.sqlstate.startswith(_DATA_SQLSTATE_CLASSES):
        return SinkRejected
    return SinkError


def translate(exc: psycopg.Error, doing: str, attempts: int = 1) -> SinkError:
    """A ``SinkError`` naming what was being done, the SQLSTATE and PostgreSQL's own message."""
    state = f" [SQLSTATE {exc.sqlstate}]" if exc.sqlstate else ""
    tries = f" (gave up after {attempts} attempts)" if attempts > 1 else ""
    detail = str(exc).strip().replace("\n", " ")
    return error_class(exc)(f"PostgreSQL failed while {doing}{tries}{state}: {detail}")
