-- Version 7: the contracts shared by the workers. The contracts are spread over evaluation
-- shards (shard = crc32(contract id) mod the shard count); Kafka's consumer group assigns the
-- shards (the partitions of the evaluation topic) to the workers. This table fences them: a
-- worker that is assigned a shard claims its row (owner, generation + 1), and each monitor tick
-- of a shard commits only while the row still holds the owner and generation of its claim, so a
-- worker that lost the shard cannot commit rows from stale state. Row 0 always exists; the
-- worker's start (prepare_stack) adds the rows up to PULSE_EVALUATION_PARTITIONS - 1.
CREATE TABLE pulse_evaluation_shards (
    shard      integer     PRIMARY KEY CHECK (shard >= 0),
    owner      text,
    generation bigint      NOT NULL DEFAULT 0,
    claimed_at timestamptz,
    ticked_at  timestamptz
);
INSERT INTO pulse_evaluation_shards (shard) VALUES (0);

-- Each shard has an inbox of its own: the sink queues every new event once per shard, and the
-- owner of a shard deletes the rows it applied. Rows queued before this version belong to
-- shard 0 (which evaluated every contract until now).
ALTER TABLE pulse_monitor_inbox ADD COLUMN shard integer NOT NULL DEFAULT 0;
ALTER TABLE pulse_monitor_inbox ALTER COLUMN shard DROP DEFAULT;
ALTER TABLE pulse_monitor_inbox DROP CONSTRAINT pulse_monitor_inbox_pkey;
ALTER TABLE pulse_monitor_inbox ADD PRIMARY KEY (shard, event_time, event_id);

COMMENT ON TABLE pulse_evaluation_shards IS
    'The evaluation shards and their fences: who evaluates the contracts of each shard, under '
    'which claim (generation). Kafka''s consumer group decides who; this row refuses a stale '
    'owner''s writes.';
COMMENT ON COLUMN pulse_evaluation_shards.shard IS
    'Shard number: the partition of the evaluation topic; a contract belongs to shard '
    'crc32(contract id) mod the shard count.';
COMMENT ON COLUMN pulse_evaluation_shards.owner IS
    'The monitor process that claimed the shard last (its owner token), NULL if none ever did.';
COMMENT ON COLUMN pulse_evaluation_shards.generation IS
    'Incremented by every claim that takes the shard over; a tick commits only under the '
    'generation its worker claimed.';
COMMENT ON COLUMN pulse_evaluation_shards.claimed_at IS
    'When the shard was last taken over (server time, UTC).';
COMMENT ON COLUMN pulse_evaluation_shards.ticked_at IS
    'When the owner last committed a monitor tick of the shard (server time, UTC).';
COMMENT ON COLUMN pulse_monitor_inbox.shard IS
    'The evaluation shard this row is queued for; each shard''s owner applies and deletes its own.';
