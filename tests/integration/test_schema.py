"""The schema against a real PostgreSQL: layout, comments, idempotence, refusals."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import psycopg
import pytest

from processors.errors import ConfigError
from sinks.schema import SCHEMA_VERSION, SchemaReport, migrate
from tests.integration.pgdb import temporary_database

pytestmark = pytest.mark.integration

TABLES = ("pulse_events", "pulse_item_states", "pulse_schema_version")


@pytest.fixture(scope="module")
def dsn(pg_dsn: str) -> Iterator[str]:
    with temporary_database(pg_dsn) as url:
        yield url


@pytest.fixture(scope="module")
def first_report(dsn: str) -> SchemaReport:
    return migrate(dsn)


def _rows(dsn: str, query: str, params: Any = None) -> list[tuple[Any, ...]]:
    with psycopg.connect(dsn) as conn:
        return conn.execute(query, params).fetchall()


def _timescaledb_available(dsn: str) -> bool:
    return bool(_rows(dsn, "SELECT 1 FROM pg_available_extensions WHERE name = 'timescaledb'"))


def _catalog(dsn: str) -> list[tuple[Any, ...]]:
    """Everything migrate could change: columns, indexes, comments, constraints, versions."""
    return _rows(
        dsn,
        """
        SELECT 'column', table_name::text, column_name::text, data_type::text,
               coalesce(column_default, ''), is_nullable::text
        FROM information_schema.columns WHERE table_schema = 'public'
        UNION ALL
        SELECT 'index', tablename::text, indexname::text, indexdef, '', '' FROM pg_indexes
        WHERE schemaname = 'public'
        UNION ALL
        SELECT 'comment', c.relname::text, d.objsubid::text, d.description, '', ''
        FROM pg_description d JOIN pg_class c ON c.oid = d.objoid
        WHERE d.classoid = 'pg_class'::regclass
        UNION ALL
        SELECT 'constraint', conrelid::regclass::text, conname::text,
               pg_get_constraintdef(oid), '', ''
        FROM pg_constraint WHERE connamespace = 'public'::regnamespace
        UNION ALL
        SELECT 'version', version::text, description, timescaledb::text, applied_at::text, ''
        FROM pulse_schema_version
        ORDER BY 1, 2, 3, 4
        """,
    )


def test_first_migration_creates_the_schema(dsn: str, first_report: SchemaReport) -> None:
    assert first_report.version == SCHEMA_VERSION == 1
    assert first_report.timescaledb is _timescaledb_available(dsn)
    assert any("applied version 1" in action for action in first_report.actions)
    present = {name for (name,) in _rows(dsn, "SELECT tablename FROM pg_tables")}
    present |= {name for (name,) in _rows(dsn, "SELECT relname FROM pg_class WHERE relkind = 'p'")}
    assert set(TABLES) <= present
    assert "pulse_dead_letters" not in present


def test_second_migration_changes_nothing(dsn: str, first_report: SchemaReport) -> None:
    before = _catalog(dsn)
    second = migrate(dsn)
    assert second == SchemaReport(first_report.timescaledb, SCHEMA_VERSION, [])
    assert _catalog(dsn) == before
    assert _rows(dsn, "SELECT version FROM pulse_schema_version") == [(1,)]


def test_every_table_and_column_has_a_comment(dsn: str, first_report: SchemaReport) -> None:
    for table in TABLES:
        (table_comment,) = _rows(dsn, "SELECT obj_description(%s::regclass, 'pg_class')", [table])[
            0
        ]
        assert table_comment, f"{table} has no comment"
        columns = _rows(
            dsn,
            """
            SELECT attname, col_description(attrelid, attnum) FROM pg_attribute
            WHERE attrelid = %s::regclass AND attnum > 0 AND NOT attisdropped
            """,
            [table],
        )
        assert columns
        missing = [name for name, comment in columns if not comment]
        assert not missing, f"{table} columns without a comment: {missing}"
    (comment,) = _rows(dsn, "SELECT col_description('pulse_events'::regclass, 2)")[0]
    assert "UTC" in comment  # event_time names its time zone


def test_events_are_partitioned_by_month_with_brin_and_item_index(
    dsn: str, first_report: SchemaReport
) -> None:
    if first_report.timescaledb:
        pytest.skip("hypertable layout: chunks instead of native partitions")
    ((strategy, key),) = _rows(
        dsn,
        """
        SELECT partstrat, pg_get_partkeydef('pulse_events'::regclass) FROM pg_partitioned_table
        WHERE partrelid = 'pulse_events'::regclass
        """,
    )
    assert (strategy, key) == ("r", "RANGE (event_time)")
    indexes = dict(
        _rows(
            dsn, "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = %s", ["pulse_events"]
        )
    )
    assert "USING brin (event_time)" in indexes["pulse_events_event_time_brin"]
    assert "btree (item_id, event_time)" in indexes["pulse_events_item_time"]
    assert "btree (event_time, event_id)" in indexes["pulse_events_pkey"]
    # No DEFAULT partition: it would block creating the partition of any month it holds rows of.
    assert (
        _rows(
            dsn,
            "SELECT 1 FROM pg_partitioned_table WHERE partrelid = 'pulse_events'::regclass "
            "AND partdefid <> 0",
        )
        == []
    )


def test_item_states_primary_key_is_the_item(dsn: str, first_report: SchemaReport) -> None:
    ((definition,),) = _rows(
        dsn,
        "SELECT pg_get_constraintdef(oid) FROM pg_constraint "
        "WHERE conrelid = 'pulse_item_states'::regclass AND contype = 'p'",
    )
    assert definition == "PRIMARY KEY (item_id)"


def test_concurrent_migrations_apply_each_version_once(pg_dsn: str) -> None:
    with temporary_database(pg_dsn) as fresh:
        reports: list[SchemaReport] = []
        threads = [
            threading.Thread(target=lambda: reports.append(migrate(fresh))) for _ in range(3)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert len(reports) == 3
        assert sum(1 for r in reports if r.actions) == 1
        assert _rows(fresh, "SELECT version FROM pulse_schema_version") == [(1,)]


def test_settings_the_database_cannot_honour_are_refused_and_change_nothing(
    pg_dsn: str,
) -> None:
    with temporary_database(pg_dsn) as fresh:
        if not _timescaledb_available(fresh):
            with pytest.raises(ConfigError, match="timescaledb"):
                migrate(fresh, timescaledb=True)
            with pytest.raises(ConfigError, match="retention"):
                migrate(fresh, retention=timedelta(days=365))
            # Both failed inside the migration transaction: nothing was created.
            assert _rows(fresh, "SELECT to_regclass('pulse_schema_version')") == [(None,)]
        report = migrate(fresh, timescaledb=False)
        assert not report.timescaledb
        with pytest.raises(ConfigError, match="built without TimescaleDB"):
            migrate(fresh, timescaledb=True)
