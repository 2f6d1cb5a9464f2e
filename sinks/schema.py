"""The database schema: versioned migrations, TimescaleDB when present, plain PostgreSQL otherwise.

``migrate(dsn)`` brings a database to ``SCHEMA_VERSION`` and is idempotent: a second run finds
every version recorded in ``pulse_schema_version`` and changes nothing (``actions == []``). All of
it runs in one transaction under an advisory lock, so concurrent starts of several workers apply
each migration once, and a failure leaves the database as it was.

Whether to use TimescaleDB is decided once, by the first migration: the extension is used when
``pg_available_extensions`` lists it (pass ``timescaledb=False`` to opt out, ``True`` to insist).
The choice is recorded with each version and later runs follow it, because the layout of
``pulse_events`` (hypertable or native range partitions) cannot change under existing data.

Retention is the operator's: by default (``retention=KEEP``, the setting ``PULSE_RETENTION``
unset or ``keep``) migrate leaves whatever retention policy the database has alone, so a worker
start never removes one an operator added. With TimescaleDB, ``retention=timedelta(...)``
installs (or changes) a policy dropping chunks older than that (by event time), and
``retention=None`` (``PULSE_RETENTION=none``) removes one. On plain PostgreSQL old months are
removed by detaching and dropping their partitions (``pulse_events_yYYYYmMM``), so a retention
duration is refused there rather than silently ignored (``none`` has nothing to remove).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Final, Literal

import psycopg

from outcome_pulse.processors.errors import ConfigError
from outcome_pulse.sinks.pgerrors import translate
from outcome_pulse.sinks.sql_text import sql_file, statements

log = logging.getLogger(__name__)

_MIGRATION_LOCK = 0x70756C7365_01  # "pulse" + 1: serialises concurrent migrate() calls
_SQL = statements("migrations")


@dataclass(frozen=True, slots=True)
class Migration:
    """One schema version: SQL files under ``sinks/sql`` for each flavour of database."""

    version: int
    description: str
    plain: tuple[str, ...]
    timescale: tuple[str, ...]


MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        1,
        "lifecycle events (pulse_events) and current item states (pulse_item_states)",
        plain=(
            "v1_events.sql",
            "v1_events_partitioned.sql",
            "v1_item_states.sql",
            "v1_comments.sql",
        ),
        timescale=(
            "v1_events.sql",
            "v1_events_hypertable.sql",
            "v1_item_states.sql",
            "v1_comments.sql",
        ),
    ),
    Migration(
        2,
        "contract monitor: inbox and lease, indicator points with hourly and daily rollups, "
        "period outcomes, late events",
        plain=(
            "v2_monitor.sql",
            "v2_indicator_points.sql",
            "v2_indicator_rollups.sql",
            "v2_period_outcomes.sql",
            "v2_comments.sql",
            "v2_rollup_comments.sql",
        ),
        timescale=(
            "v2_monitor.sql",
            "v2_indicator_points.sql",
            "v2_indicator_hypertable.sql",
            "v2_period_outcomes.sql",
            "v2_comments.sql",
            "v2_rollup_comments.sql",
        ),
    ),
    Migration(
        3,
        "open items' SLA clocks (pulse_open_item_clocks)",
        plain=("v3_open_clocks.sql",),
        timescale=("v3_open_clocks.sql",),
    ),
    Migration(
        4,
        "forecasts and alerts: breach probability per open clock, period forecasts, alerts, "
        "drift signals, the contract -> client registry",
        plain=("v4_forecasts_alerts.sql",),
        timescale=("v4_forecasts_alerts.sql",),
    ),
    Migration(
        5,
        "tenant isolation: pulse_tenants, group roles pulse_client and pulse_provider, "
        "row-level security by client on every table keyed by contract",
        plain=("v5_tenants.sql",),
        timescale=("v5_tenants.sql",),
    ),
    Migration(
        6,
        "per-partition watermark: pulse_partition_progress (latest event time per Kafka "
        "partition), pulse_contract_watermarks (the frontier and watermark of each contract)",
        plain=("v6_partition_progress.sql",),
        timescale=("v6_partition_progress.sql",),
    ),
    Migration(
        7,
        "contracts shared by workers: evaluation shards with their fences "
        "(pulse_evaluation_shards), one inbox per shard",
        plain=("v7_evaluation_shards.sql",),
        timescale=("v7_evaluation_shards.sql",),
    ),
    Migration(
        8,
        "an item is (source, item id): pulse_item_states keyed by both (rows folded from "
        "several sources moved to pulse_item_states_merged), the events' item index, the open "
        "clocks' source",
        plain=("v8_item_identity.sql",),
        timescale=("v8_item_identity.sql",),
    ),
    Migration(
        9,
        "engine checkpoints per evaluation shard: pulse_engine_checkpoints (each contract's "
        "engine state), pulse_monitor_applied (events a shard applied since), "
        "pulse_evaluation_shards.checkpoint_generation, pulse_contract_watermarks.driver_frontier",
        plain=("v9_engine_checkpoints.sql",),
        timescale=("v9_engine_checkpoints.sql",),
    ),
    Migration(
        10,
        "an event is (source, event id): pulse_events, pulse_monitor_inbox, "
        "pulse_monitor_applied and pulse_late_events keyed with the source (existing rows "
        "given their stored event's)",
        plain=("v10_event_identity.sql",),
        timescale=(
            "v10_events_hypertable_before.sql",
            "v10_event_identity.sql",
            "v10_events_hypertable_after.sql",
        ),
    ),
)
SCHEMA_VERSION = MIGRATIONS[-1].version


@dataclass(frozen=True, slots=True)
class SchemaReport:
    """What ``migrate`` found and did; ``actions`` is empty when nothing changed."""

    timescaledb: bool
    version: int
    actions: list[str] = field(default_factory=list)


def _statement(name: str, timescaledb: bool) -> str:
    text = sql_file(name)
    partitioning = "" if timescaledb else "PARTITION BY RANGE (event_time)"
    return text.replace("/*partitioning*/", partitioning)


class _Step:
    """Remembers the step in progress, so a failure can say what was being done."""

    def __init__(self) -> None:
        self.doing = "connecting"

    def __call__(self, doing: str) -> None:
        self.doing = doing


KEEP: Final = "keep"
"""``retention=KEEP``: leave the database's retention policy as it is (the default)."""
Retention = timedelta | None | Literal["keep"]


def migrate(
    dsn: str,
    *,
    timescaledb: bool | None = None,
    retention: Retention = KEEP,
    connect_timeout: float = 10,
) -> SchemaReport:
    """Bring the database at ``dsn`` to ``SCHEMA_VERSION``; see the module doc.

    Raises ``ConfigError`` for a setting the database cannot honour and ``SinkError`` (naming the
    step) when PostgreSQL refuses.
    """
    step = _Step()
    actions: list[str] = []
    try:
        with (
            psycopg.connect(dsn, autocommit=True, connect_timeout=round(connect_timeout)) as conn,
            conn.transaction(),
        ):
            step("waiting for the migration lock")
            conn.execute(_SQL["migration_lock"], [_MIGRATION_LOCK])
            step("reading pulse_schema_version")
            current, recorded = _recorded(conn, actions)
            if recorded is None:
                step("detecting the timescaledb extension")
                use_ts = _choose_timescaledb(conn, timescaledb, actions)
            else:
                use_ts = _follow_recorded(recorded, timescaledb)
            if isinstance(retention, timedelta) and not use_ts:
                raise ConfigError(
                    f"retention={retention} needs TimescaleDB; on plain PostgreSQL drop old "
                    "monthly partitions (pulse_events_yYYYYmMM) instead"
                )
            for migration in MIGRATIONS:
                if migration.version > current:
                    _apply(conn, migration, use_ts, step, actions)
            if use_ts and not isinstance(retention, str):  # a str is KEEP: leave it alone
                step("reconciling the retention policy")
                _reconcile_retention(conn, retention, actions)
    except psycopg.Error as exc:
        raise translate(exc, f"migrating the schema ({step.doing})") from exc
    for action in actions:
        log.info("schema: %s", action)
    return SchemaReport(timescaledb=use_ts, version=SCHEMA_VERSION, actions=actions)


def _recorded(conn: psycopg.Connection, actions: list[str]) -> tuple[int, bool | None]:
    """(applied version, timescaledb flag recorded with it); creates the version table if new."""
    exists = conn.execute(_SQL["version_table_exists"]).fetchone()
    if not (exists and exists[0]):
        conn.execute(sql_file("schema_version.sql"))
        actions.append("created table pulse_schema_version")
        return 0, None
    row = conn.execute(_SQL["recorded_version"]).fetchone()
    assert row is not None
    return int(row[0]), row[1]


def _choose_timescaledb(
    conn: psycopg.Connection, requested: bool | None, actions: list[str]
) -> bool:
    row = conn.execute(_SQL["timescaledb_available"]).fetchone()
    available, installed = row is not None, row is not None and row[0] is not None
    if requested is False:
        return False
    if not available:
        if requested:
            raise ConfigError(
                "timescaledb=True but the server does not offer the timescaledb extension "
                "(not in pg_available_extensions)"
            )
        return False
    if not installed:
        try:
            with conn.transaction():
                conn.execute(_SQL["create_timescaledb"])
        except psycopg.Error as exc:
            raise ConfigError(
                "the timescaledb extension is available but CREATE EXTENSION failed "
                f"({str(exc).strip()}); add it to shared_preload_libraries, or migrate with "
                "timescaledb=False to use plain PostgreSQL partitioning"
            ) from exc
        actions.append("created extension timescaledb")
    return True


def _follow_recorded(recorded: bool, requested: bool | None) -> bool:
    if requested is not None and requested != recorded:
        built = "with" if recorded else "without"
        raise ConfigError(
            f"timescaledb={requested} but this database's schema was built {built} TimescaleDB; "
            "the layout of pulse_events cannot change in place"
        )
    return recorded


def _apply(
    conn: psycopg.Connection,
    migration: Migration,
    timescaledb: bool,
    step: _Step,
    actions: list[str],
) -> None:
    files = migration.timescale if timescaledb else migration.plain
    for name in files:
        step(f"applying version {migration.version}, {name}")
        conn.execute(_statement(name, timescaledb))
    conn.execute(_SQL["record_version"], [migration.version, migration.description, timescaledb])
    layout = "hypertable, 1-month chunks" if timescaledb else "monthly range partitions"
    actions.append(f"applied version {migration.version}: {migration.description} ({layout})")


def _reconcile_retention(
    conn: psycopg.Connection, retention: timedelta | None, actions: list[str]
) -> None:
    """Make the retention policy of pulse_events match ``retention`` (None: no policy)."""
    row = conn.execute(_SQL["retention_job"]).fetchone()
    current: timedelta | None = None if row is None else row[0]
    if current == retention:
        return
    if current is not None:
        conn.execute(_SQL["remove_retention"])
        actions.append(f"removed retention policy (was {current})")
    if retention is not None:
        conn.execute(_SQL["add_retention"], [retention])
        actions.append(f"added retention policy: drop chunks older than {retention}")
