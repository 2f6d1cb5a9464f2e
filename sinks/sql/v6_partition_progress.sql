-- Version 6 (branch engine2; the coordinator renumbers it if another migration lands first):
-- the per-partition watermark. The event sink records, in the same transaction as the events,
-- the latest event time each Kafka partition has delivered and when it last delivered anything;
-- the contract monitor takes the minimum over the partitions that are not idle as the input's
-- event-time frontier (outcome_pulse.processors.partition_progress) and records, per contract,
-- the frontier and watermark its rows were computed at.
CREATE TABLE pulse_partition_progress (
    topic             text        NOT NULL,
    partition         integer     NOT NULL,
    latest_event_time timestamptz NOT NULL,
    caught_up         boolean     NOT NULL,
    seen_at           timestamptz NOT NULL,
    PRIMARY KEY (topic, partition)
);

COMMENT ON TABLE pulse_partition_progress IS
    'How far each Kafka partition of the events topic has come in event time (written by the '
    'event sink with the events; read by the contract monitor for its watermark).';
COMMENT ON COLUMN pulse_partition_progress.topic IS 'Kafka topic of the events.';
COMMENT ON COLUMN pulse_partition_progress.partition IS 'Kafka partition number.';
COMMENT ON COLUMN pulse_partition_progress.latest_event_time IS
    'Latest event time (UTC) of any record stored from this partition; never moves back.';
COMMENT ON COLUMN pulse_partition_progress.caught_up IS
    'Whether the consumer had read the partition''s last record when it stored these (no lag): '
    'only a caught-up partition can be idle.';
COMMENT ON COLUMN pulse_partition_progress.seen_at IS
    'Server time (UTC) of the transaction that last stored records of this partition: a '
    'caught-up partition silent for longer than PULSE_IDLE_PARTITION_SECONDS does not hold '
    'the watermark back.';

CREATE TABLE pulse_contract_watermarks (
    contract   text        PRIMARY KEY,
    frontier   timestamptz NOT NULL,
    watermark  timestamptz NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);

COMMENT ON TABLE pulse_contract_watermarks IS
    'The event-time frontier and watermark each contract''s rows were last computed at (rows at '
    'or before the watermark are final).';
COMMENT ON COLUMN pulse_contract_watermarks.contract IS 'Contract id.';
COMMENT ON COLUMN pulse_contract_watermarks.frontier IS
    'Event time (UTC) the input has reached: the minimum over non-idle partitions of their '
    'latest event time (the latest event time when all are idle).';
COMMENT ON COLUMN pulse_contract_watermarks.watermark IS
    'The frontier minus the contract''s allowed lateness (UTC).';
COMMENT ON COLUMN pulse_contract_watermarks.updated_at IS
    'Server time (UTC) of the monitor round that wrote it.';
