-- TimescaleDB: pulse_indicator_points becomes a hypertable (one chunk per month of `at`), and
-- the hourly and daily rollups are continuous aggregates. time_bucket on timestamptz buckets by
-- UTC, like date_trunc(..., 'UTC') in the plain flavour's views.
SELECT create_hypertable(
    'pulse_indicator_points', 'at',
    chunk_time_interval => INTERVAL '1 month',
    if_not_exists => TRUE
);

-- WITH NO DATA: a continuous aggregate cannot be materialised inside the migration's
-- transaction (and the table is empty anyway). materialized_only = false (real-time
-- aggregation): buckets not materialised yet are computed from the raw points when read.
CREATE MATERIALIZED VIEW pulse_indicator_hourly
WITH (timescaledb.continuous, timescaledb.materialized_only = false) AS
SELECT contract,
       service,
       kpi,
       indicator,
       time_bucket(INTERVAL '1 hour', at) AS bucket,
       avg(value)                         AS avg_value,
       min(value)                         AS min_value,
       max(value)                         AS max_value,
       last(value, at)                    AS last_value,
       count(*)                           AS points
FROM pulse_indicator_points
GROUP BY contract, service, kpi, indicator, time_bucket(INTERVAL '1 hour', at)
WITH NO DATA;

CREATE MATERIALIZED VIEW pulse_indicator_daily
WITH (timescaledb.continuous, timescaledb.materialized_only = false) AS
SELECT contract,
       service,
       kpi,
       indicator,
       time_bucket(INTERVAL '1 day', at) AS bucket,
       avg(value)                        AS avg_value,
       min(value)                        AS min_value,
       max(value)                        AS max_value,
       last(value, at)                   AS last_value,
       count(*)                          AS points
FROM pulse_indicator_points
GROUP BY contract, service, kpi, indicator, time_bucket(INTERVAL '1 day', at)
WITH NO DATA;

-- Refresh policies. start_offset NULL: the whole history is in the window, so corrections of
-- old points (late events, a monitor takeover rewriting a contract) are materialised too; a
-- refresh only recomputes buckets whose points changed since the last one. The most recent
-- bucket is left to real-time aggregation.
SELECT add_continuous_aggregate_policy(
    'pulse_indicator_hourly',
    start_offset => NULL,
    end_offset => INTERVAL '1 hour',
    schedule_interval => INTERVAL '15 minutes',
    if_not_exists => TRUE
);
SELECT add_continuous_aggregate_policy(
    'pulse_indicator_daily',
    start_offset => NULL,
    end_offset => INTERVAL '1 day',
    schedule_interval => INTERVAL '1 hour',
    if_not_exists => TRUE
);
