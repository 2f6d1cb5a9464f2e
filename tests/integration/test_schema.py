"""The schema against a real PostgreSQL: layout, comments, idempotence, refusals."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import psycopg
import pytest

import outcome_pulse.sinks.schema
from outcome_pulse.processors.errors import ConfigError
from outcome_pulse.sinks.schema import MIGRATIONS, SCHEMA_VERSION, SchemaReport, migrate
from tests.integration.pgdb import temporary_database

pytestmark = pytest.mark.integration

TABLES = (
    "pulse_events",
    "pulse_item_states",
    "pulse_schema_version",
    "pulse_monitor_inbox",
    "pulse_monitor_lease",
    "pulse_indicator_points",
    "pulse_period_outcomes",
    "pulse_late_events",
    "pulse_open_item_clocks",
    "pulse_tenants",
    "pulse_evaluation_shards",
    "pulse_item_states_merged",
    "pulse_engine_checkpoints",
    "pulse_monitor_applied",
)
ROLLUPS = ("pulse_indicator_hourly", "pulse_indicator_daily")
VERSIONS = [(v,) for v in range(1, SCHEMA_VERSION + 1)]


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
    assert first_report.version == SCHEMA_VERSION == 10
    assert first_report.timescaledb is _timescaledb_available(dsn)
    assert any("applied version 1" in action for action in first_report.actions)
    assert any("applied version 2" in action for action in first_report.actions)
    assert any("applied version 4" in action for action in first_report.actions)
    assert any("applied version 5" in action for action in first_report.actions)
    assert any("applied version 6" in action for action in first_report.actions)
    assert any("applied version 7" in action for action in first_report.actions)
    assert any("applied version 8" in action for action in first_report.actions)
    assert any("applied version 9" in action for action in first_report.actions)
    assert any("applied version 10" in action for action in first_report.actions)
    assert any("an event is (source, event id)" in action for action in first_report.actions)
    assert any("an item is (source, item id)" in action for action in first_report.actions)
    present = {name for (name,) in _rows(dsn, "SELECT tablename FROM pg_tables")}
    present |= {name for (name,) in _rows(dsn, "SELECT relname FROM pg_class WHERE relkind = 'p'")}
    assert set(TABLES) <= present
    assert "pulse_dead_letters" not in present
    views = {name for (name,) in _rows(dsn, "SELECT viewname FROM pg_views")}
    assert set(ROLLUPS) <= views
    assert _rows(dsn, "SELECT id, owner, taken_at FROM pulse_monitor_lease") == [(1, None, None)]
    assert _rows(dsn, "SELECT shard, owner, generation FROM pulse_evaluation_shards") == [
        (0, None, 0)
    ]


def test_second_migration_changes_nothing(dsn: str, first_report: SchemaReport) -> None:
    before = _catalog(dsn)
    second = migrate(dsn)
    assert second == SchemaReport(first_report.timescaledb, SCHEMA_VERSION, [])
    assert _catalog(dsn) == before
    assert _rows(dsn, "SELECT version FROM pulse_schema_version ORDER BY 1") == VERSIONS


def test_every_table_and_column_has_a_comment(dsn: str, first_report: SchemaReport) -> None:
    for table in TABLES + ROLLUPS:
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
    assert "btree (source, item_id, event_time)" in indexes["pulse_events_item_time"]
    assert "btree (event_time, source, event_id)" in indexes["pulse_events_pkey"]
    # No DEFAULT partition: it would block creating the partition of any month it holds rows of.
    assert (
        _rows(
            dsn,
            "SELECT 1 FROM pg_partitioned_table WHERE partrelid = 'pulse_events'::regclass "
            "AND partdefid <> 0",
        )
        == []
    )


def test_item_states_primary_key_is_source_and_item(dsn: str, first_report: SchemaReport) -> None:
    ((definition,),) = _rows(
        dsn,
        "SELECT pg_get_constraintdef(oid) FROM pg_constraint "
        "WHERE conrelid = 'pulse_item_states'::regclass AND contype = 'p'",
    )
    assert definition == "PRIMARY KEY (source, item_id)"


def test_every_table_naming_an_event_keys_it_with_its_source(
    dsn: str, first_report: SchemaReport
) -> None:
    """An event is (source, event id): CloudEvents ids are unique only within their source."""
    keys = dict(
        _rows(
            dsn,
            "SELECT conrelid::regclass::text, pg_get_constraintdef(oid) FROM pg_constraint "
            "WHERE contype = 'p' AND conrelid = ANY(%s::regclass[])",
            [["pulse_events", "pulse_monitor_inbox", "pulse_monitor_applied", "pulse_late_events"]],
        )
    )
    assert keys == {
        "pulse_events": "PRIMARY KEY (event_time, source, event_id)",
        "pulse_monitor_inbox": "PRIMARY KEY (shard, event_time, source, event_id)",
        "pulse_monitor_applied": "PRIMARY KEY (shard, event_time, source, event_id)",
        "pulse_late_events": "PRIMARY KEY (contract, source, event_id)",
    }


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
        assert _rows(fresh, "SELECT version FROM pulse_schema_version ORDER BY 1") == VERSIONS


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


def test_a_version_1_database_migrates_to_the_latest_version(
    pg_dsn: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    with temporary_database(pg_dsn) as fresh:
        with monkeypatch.context() as patch:
            patch.setattr(outcome_pulse.sinks.schema, "MIGRATIONS", MIGRATIONS[:1])
            migrate(fresh)
        assert _rows(fresh, "SELECT to_regclass('pulse_period_outcomes')") == [(None,)]
        with psycopg.connect(fresh, autocommit=True) as conn:
            conn.execute(
                "INSERT INTO pulse_item_states VALUES ('T1', 'ticket', 's', 'open', NULL, NULL, "
                "NULL, '2024-01-01Z', NULL, NULL, NULL, NULL, '2024-01-01Z', 1, '{}')"
            )
        report = migrate(fresh)
        assert [a.split(":")[0] for a in report.actions] == [
            f"applied version {v}" for v in range(2, SCHEMA_VERSION + 1)
        ]
        assert _rows(fresh, "SELECT version FROM pulse_schema_version ORDER BY 1") == VERSIONS
        assert _rows(fresh, "SELECT item_id FROM pulse_item_states") == [("T1",)]
        assert _rows(fresh, "SELECT count(*) FROM pulse_monitor_lease") == [(1,)]
        assert migrate(fresh).actions == []


def test_indicator_rollups_bucket_by_utc_hour_and_day(dsn: str, first_report: SchemaReport) -> None:
    points = [
        ("2024-03-01T10:05:00Z", 4.0),
        ("2024-03-01T10:55:00Z", 2.0),
        ("2024-03-01T11:10:00Z", 9.0),
        ("2024-03-01T23:30:00-01:00", 1.0),  # 2024-03-02T00:30Z: the next UTC day
    ]
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("SET TIME ZONE 'America/New_York'")  # buckets must not follow the session
        for at, value in points:
            conn.execute(
                "INSERT INTO pulse_indicator_points VALUES ('c', 's', '', 'open_backlog', %s, %s, "
                "false)",
                [at, value],
            )
        if first_report.timescaledb:
            for view in ROLLUPS:
                conn.execute(f"CALL refresh_continuous_aggregate('{view}', NULL, NULL)")
    columns = "to_char(bucket AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24'), avg_value, min_value, "
    columns += "max_value, last_value, points"
    hourly = _rows(dsn, f"SELECT {columns} FROM pulse_indicator_hourly ORDER BY bucket")
    assert hourly == [
        ("2024-03-01 10", 3.0, 2.0, 4.0, 2.0, 2),
        ("2024-03-01 11", 9.0, 9.0, 9.0, 9.0, 1),
        ("2024-03-02 00", 1.0, 1.0, 1.0, 1.0, 1),
    ]
    daily = _rows(dsn, f"SELECT {columns} FROM pulse_indicator_daily ORDER BY bucket")
    assert daily == [
        ("2024-03-01 00", 5.0, 2.0, 9.0, 9.0, 3),
        ("2024-03-02 00", 1.0, 1.0, 1.0, 1.0, 1),
    ]
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("DELETE FROM pulse_indicator_points")


def _retention_policy(dsn: str) -> list[tuple[Any, ...]]:
    return _rows(
        dsn,
        "SELECT (config ->> 'drop_after')::interval FROM timescaledb_information.jobs "
        "WHERE proc_name = 'policy_retention' AND hypertable_name = 'pulse_events'",
    )


def test_migrate_leaves_an_operators_retention_policy_alone(pg_dsn: str) -> None:
    """Without a retention setting (PULSE_RETENTION=keep, the default) migrate never touches
    the policy; ``none`` removes it and a duration sets it (TimescaleDB). On plain PostgreSQL
    keep and none change nothing and a duration is refused."""
    with temporary_database(pg_dsn) as fresh:
        report = migrate(fresh)
        assert not any("retention" in action for action in report.actions)
        if not report.timescaledb:
            assert migrate(fresh, retention=None).actions == []
            assert migrate(fresh, retention="keep").actions == []
            with pytest.raises(ConfigError, match=r"retention=365 days.*needs TimescaleDB"):
                migrate(fresh, retention=timedelta(days=365))
            return
        with psycopg.connect(fresh, autocommit=True) as conn:  # the operator's own policy
            conn.execute("SELECT add_retention_policy('pulse_events', INTERVAL '400 days')")
        assert migrate(fresh).actions == []  # a worker start: the policy stays
        assert _retention_policy(fresh) == [(timedelta(days=400),)]
        assert migrate(fresh, retention=timedelta(days=730)).actions == [
            "removed retention policy (was 400 days, 0:00:00)",
            "added retention policy: drop chunks older than 730 days, 0:00:00",
        ]
        assert _retention_policy(fresh) == [(timedelta(days=730),)]
        migrate(fresh, retention=None)
        assert _retention_policy(fresh) == []
