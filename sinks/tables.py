"""The names of the tables and views the migrations create (``sinks/sql/``), spelt once.

SQL text names them itself (it is SQL); Python code that names a table (partition names,
row counts, fingerprints, retention policies) uses these. A unit test checks this list against
every ``CREATE TABLE`` and ``CREATE VIEW`` in ``sinks/sql``.
"""

from __future__ import annotations

from enum import StrEnum


class Table(StrEnum):
    SCHEMA_VERSION = "pulse_schema_version"
    EVENTS = "pulse_events"
    ITEM_STATES = "pulse_item_states"
    MONITOR_INBOX = "pulse_monitor_inbox"
    MONITOR_LEASE = "pulse_monitor_lease"
    INDICATOR_POINTS = "pulse_indicator_points"
    INDICATOR_HOURLY = "pulse_indicator_hourly"
    INDICATOR_DAILY = "pulse_indicator_daily"
    PERIOD_OUTCOMES = "pulse_period_outcomes"
    LATE_EVENTS = "pulse_late_events"
    OPEN_ITEM_CLOCKS = "pulse_open_item_clocks"
    CONTRACTS = "pulse_contracts"
    PERIOD_FORECASTS = "pulse_period_forecasts"
    ALERTS = "pulse_alerts"
    DRIFT_SIGNALS = "pulse_drift_signals"
    TENANTS = "pulse_tenants"
    PARTITION_PROGRESS = "pulse_partition_progress"
    CONTRACT_WATERMARKS = "pulse_contract_watermarks"
    EVALUATION_SHARDS = "pulse_evaluation_shards"
    ITEM_STATES_MERGED = "pulse_item_states_merged"
    ENGINE_CHECKPOINTS = "pulse_engine_checkpoints"
    MONITOR_APPLIED = "pulse_monitor_applied"
