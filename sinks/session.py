"""The PostgreSQL session both writers open (``PostgresSink``, ``MonitorStore``).

Autocommit (each writer opens its own transactions), the session time zone UTC (timestamptz values
come back as aware UTC datetimes), an ``application_name`` to find the session in
``pg_stat_activity``, and a check that the schema migration has run before anything is written.
"""

from __future__ import annotations

import contextlib
from typing import Any

import psycopg

from outcome_pulse.sinks import statements as q
from outcome_pulse.sinks.errors import SinkError
from outcome_pulse.sinks.schema import SCHEMA_VERSION
from outcome_pulse.sinks.sql_text import statements

_UTC_SESSION = statements("session")["utc_session"]


async def connect(
    dsn: str, *, connect_timeout: float, application_name: str
) -> psycopg.AsyncConnection[Any]:
    """A new autocommit session in UTC; closed again if setting it up fails."""
    conn = await psycopg.AsyncConnection.connect(
        dsn,
        autocommit=True,
        connect_timeout=max(1, round(connect_timeout)),
        application_name=application_name,
    )
    try:
        await conn.execute(_UTC_SESSION)
    except BaseException:
        await conn.close()
        raise
    return conn


async def require_schema(conn: psycopg.AsyncConnection[Any], who: str) -> bool:
    """True when pulse_events is natively partitioned; SinkError naming ``who`` when the
    database is not at ``SCHEMA_VERSION``."""
    cur = await conn.execute(q.SCHEMA_STATUS)
    row = await cur.fetchone()
    relkind, has_versions = row if row else (None, False)
    version = 0
    if has_versions:
        cur = await conn.execute(q.SCHEMA_VERSION)
        found = await cur.fetchone()
        version = int(found[0]) if found else 0
    if relkind is None or version < SCHEMA_VERSION:
        raise SinkError(
            f"the database has schema version {version} (pulse_events "
            f"{'missing' if relkind is None else 'present'}); {who} needs version "
            f"{SCHEMA_VERSION}: run the schema migration (outcome_pulse.sinks.schema.migrate) first"
        )
    return bool(relkind == "p")


async def close_quietly(conn: psycopg.AsyncConnection[Any] | None) -> None:
    """Close a session whose state is unknown (broken, cancelled mid-statement); never raises."""
    if conn is not None:
        with contextlib.suppress(Exception):
            await conn.close()
