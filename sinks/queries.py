"""Read-side queries used by the CLI summary, the demo and the tests."""

from __future__ import annotations

import psycopg

from processors.errors import SinkError


def source_summary(dsn: str, source: str) -> dict[str, int]:
    """Events stored and items per status for one source."""
    try:
        with psycopg.connect(dsn, connect_timeout=10) as conn:
            events = conn.execute(
                "SELECT count(*) FROM pulse_events WHERE source = %s", (source,)
            ).fetchone()
            rows = conn.execute(
                "SELECT status, count(*) FROM pulse_item_states WHERE source = %s GROUP BY status",
                (source,),
            ).fetchall()
    except psycopg.Error as exc:
        raise SinkError(f"cannot read the summary from the database: {exc}") from None
    out = {"events": int(events[0]) if events else 0}
    out.update({f"items_{status}": int(n) for status, n in rows})
    out["items"] = sum(int(n) for _, n in rows)
    return out


def table_fingerprint(dsn: str, table: str, order_by: str) -> tuple[int, str]:
    """Row count and an md5 over every row in a stable order: equal means row-for-row equal."""
    if not table.isidentifier() or not all(c.isidentifier() for c in order_by.split(", ")):
        raise ValueError(f"bad table or column name: {table!r} {order_by!r}")
    sql = (
        f"SELECT count(*), coalesce(md5(string_agg(t::text, '|' ORDER BY {order_by})), '') "
        f"FROM {table} t"
    )
    with psycopg.connect(dsn) as conn:
        row = conn.execute(sql).fetchone()
    assert row is not None
    return int(row[0]), str(row[1])
