"""Monthly partitions of ``pulse_events`` on plain PostgreSQL, created on demand.

The data spans whatever months the sources cover (the BPI logs: 2006-2015), so partitions are
created for the months that actually arrive rather than for a fixed window around "now".

Creation runs in its own short transaction before the batch's data transaction:
``CREATE TABLE ... PARTITION OF`` locks the parent exclusively, and holding that lock for the whole
COPY and upsert would block every dashboard query meanwhile. Committing it separately also means
the cache below only ever records partitions that really exist. An advisory lock serialises
creators, so two workers meeting a new month at once do not race on the same name.

There is no DEFAULT partition (see ``sql/v1_events_partitioned.sql`` for why).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import date

from psycopg import AsyncConnection, sql

from outcome_pulse.sinks.sql_text import statements
from outcome_pulse.sinks.tables import Table

PARENT = Table.EVENTS
_PARTITION_LOCK = 0x70756C7365_02  # "pulse" + 2: serialises partition creation
_NAME = re.compile(r"^pulse_events_y(\d{4})m(\d{2})$")

_SQL = statements("partitions")


def partition_name(month: date) -> str:
    return f"{PARENT}_y{month.year:04d}m{month.month:02d}"


def following_month(month: date) -> date:
    return date(month.year + month.month // 12, month.month % 12 + 1, 1)


def create_partition(month: date) -> sql.Composed:
    """DDL for one month's partition, bounds as explicit UTC instants (not session TimeZone)."""
    name = sql.Identifier(partition_name(month))
    lower = sql.Literal(f"{month.isoformat()} 00:00:00+00")
    upper = sql.Literal(f"{following_month(month).isoformat()} 00:00:00+00")
    comment = sql.Literal(
        f"Events of {month:%Y-%m} (UTC month, [{month}, {following_month(month)})): "
        f"a partition of {PARENT}, created by the sink when the first event of the month arrived."
    )
    return sql.SQL(_SQL["create_partition"]).format(
        name=name, parent=sql.Identifier(PARENT), lower=lower, upper=upper, comment=comment
    )


async def existing_months(conn: AsyncConnection) -> set[date]:
    """Months that already have a partition named by ``partition_name``."""
    cur = await conn.execute(_SQL["existing_partitions"], [PARENT])
    months = set()
    for (name,) in await cur.fetchall():
        match = _NAME.match(name)
        if match:
            months.add(date(int(match[1]), int(match[2]), 1))
    return months


async def ensure_partitions(
    conn: AsyncConnection, months: Iterable[date], cache: set[date]
) -> list[date]:
    """Create the partitions ``months`` need that do not exist yet; return the created months.

    ``cache`` holds months known to exist (owned by the caller, one per sink); a batch whose
    months are all in it costs no query. It is updated only after the creating transaction
    commits. ``conn`` must be in autocommit mode (the sink's connections are).
    """
    wanted = set(months) - cache
    if not wanted:
        return []
    async with conn.transaction():
        await conn.execute(_SQL["partition_lock"], [_PARTITION_LOCK])
        existing = await existing_months(conn)
        created = sorted(wanted - existing)
        for month in created:
            await conn.execute(create_partition(month))
    cache |= existing | wanted
    return created
