-- Plain PostgreSQL: pulse_events is PARTITION BY RANGE (event_time), one partition per UTC
-- month, created on demand by the sink (sinks/partitions.py). There is deliberately no DEFAULT
-- partition: once it holds rows of a month, creating that month's partition fails (PostgreSQL
-- must move them and refuses: "updated partition constraint for default partition would be
-- violated"), and every later CREATE ... PARTITION OF has to scan it.
--
-- BRIN on event_time: a few pages per partition that let time-range scans skip blocks; events
-- arrive roughly in time order, so block ranges correlate with time.
CREATE INDEX pulse_events_event_time_brin ON pulse_events USING brin (event_time);
