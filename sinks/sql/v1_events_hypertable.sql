-- TimescaleDB: pulse_events becomes a hypertable with one chunk per month of event time.
SELECT create_hypertable(
    'pulse_events', 'event_time',
    chunk_time_interval => INTERVAL '1 month',
    if_not_exists => TRUE
);

-- Columnar compression of old chunks: segments per item kind, rows ordered by time inside a
-- segment (event_id second, so the primary key's columns are all in segmentby/orderby and
-- uniqueness checks on compressed chunks stay cheap).
ALTER TABLE pulse_events SET (
    timescaledb.compress,
    timescaledb.compress_segmentby = 'item_kind',
    timescaledb.compress_orderby = 'event_time, event_id'
);

-- Chunks whose events are all older than 30 days (by event_time) get compressed in the
-- background. Retention (dropping old chunks) is configured separately: see migrate(retention=).
SELECT add_compression_policy(
    'pulse_events', compress_after => INTERVAL '30 days', if_not_exists => TRUE
);
