-- TimescaleDB, after version 10's statements: compression as version 1 set it up
-- (v1_events_hypertable.sql), ordered by the new primary key's columns, (event_time, source,
-- event_id), so they are all in segmentby/orderby and uniqueness checks on compressed chunks stay
-- cheap; the policy compresses chunks older than 30 days again in the background.
ALTER TABLE pulse_events SET (
    timescaledb.compress,
    timescaledb.compress_segmentby = 'item_kind',
    timescaledb.compress_orderby = 'event_time, source, event_id'
);
SELECT add_compression_policy(
    'pulse_events', compress_after => INTERVAL '30 days', if_not_exists => TRUE
);
