-- Version 9: the contract monitor's engine checkpoints, per evaluation shard, for a start (or a
-- takeover of a shard) that does not re-derive every stored event. Each checkpoint is a
-- contract's engine state as of a round's commit, written in that round's transaction under the
-- shard's claim (its fence row locked and checked); the events the shard's owner applied since
-- the shard's latest checkpoints are kept in pulse_monitor_applied (moved there from the shard's
-- inbox in the statement that clears it), so the shard's next owner loads the checkpoints,
-- applies those events, then the inbox.
CREATE TABLE pulse_engine_checkpoints (
    contract    text        PRIMARY KEY,
    shard       integer     NOT NULL,
    generation  bigint      NOT NULL,
    fingerprint text        NOT NULL,
    state       bytea       NOT NULL,
    written_at  timestamptz NOT NULL DEFAULT now()
);

COMMENT ON TABLE pulse_engine_checkpoints IS
    'The contract monitor''s engine state per contract, as of the round that wrote it (private '
    'to the monitor: a pickled outcome_pulse engine, trusted like the rest of this database).';
COMMENT ON COLUMN pulse_engine_checkpoints.contract IS 'Contract id.';
COMMENT ON COLUMN pulse_engine_checkpoints.shard IS
    'The evaluation shard whose owner wrote it (pulse_evaluation_shards.shard).';
COMMENT ON COLUMN pulse_engine_checkpoints.generation IS
    'Checkpoints of a shard written together share a generation; only the shard''s latest '
    '(pulse_evaluation_shards.checkpoint_generation) is loaded: pulse_monitor_applied holds the '
    'events applied since it, and no others.';
COMMENT ON COLUMN pulse_engine_checkpoints.fingerprint IS
    'Hash of the contract and of the engine''s code: a checkpoint of another contract version or '
    'another engine is not loaded (the monitor rebuilds from the stored events instead).';
COMMENT ON COLUMN pulse_engine_checkpoints.state IS 'The engine state (zlib-compressed pickle).';
COMMENT ON COLUMN pulse_engine_checkpoints.written_at IS 'Server time (UTC) of the round.';

-- Keyed by contract: row-level security as for every such table (v5), though no client role may
-- read it (a later GRANT cannot then leak another client's engine state).
ALTER TABLE pulse_engine_checkpoints ENABLE ROW LEVEL SECURITY;
CREATE POLICY pulse_client_rows ON pulse_engine_checkpoints FOR SELECT TO pulse_client
    USING (contract IN (SELECT c.contract FROM pulse_contracts c
                        JOIN pulse_tenants n ON n.client = c.client
                        WHERE n.role_name = current_user));
CREATE POLICY pulse_provider_rows ON pulse_engine_checkpoints FOR SELECT TO pulse_provider
    USING (true);

CREATE TABLE pulse_monitor_applied (
    shard      integer     NOT NULL,
    event_time timestamptz NOT NULL,
    event_id   text        NOT NULL,
    PRIMARY KEY (shard, event_time, event_id)
);

COMMENT ON TABLE pulse_monitor_applied IS
    'Events the owner of each evaluation shard applied since the shard''s latest engine '
    'checkpoints (a shard''s rows are emptied, under its claim, when it writes new ones).';
COMMENT ON COLUMN pulse_monitor_applied.shard IS 'The evaluation shard that applied the event.';
COMMENT ON COLUMN pulse_monitor_applied.event_time IS 'Event time (UTC) of the applied event.';
COMMENT ON COLUMN pulse_monitor_applied.event_id IS 'Id of the applied event.';

ALTER TABLE pulse_evaluation_shards ADD COLUMN checkpoint_generation bigint NOT NULL DEFAULT 0;

COMMENT ON COLUMN pulse_evaluation_shards.checkpoint_generation IS
    'Generation of the shard''s latest engine checkpoints (pulse_engine_checkpoints.generation): '
    'bumped, under the shard''s claim, whenever its rows of pulse_monitor_applied are emptied, so '
    'an older checkpoint is never loaded.';

ALTER TABLE pulse_contract_watermarks ADD COLUMN driver_frontier timestamptz;

COMMENT ON COLUMN pulse_contract_watermarks.driver_frontier IS
    'The latest frontier the partitions gave the contract''s engine (UTC; NULL: none yet, the '
    'engine went by its latest event): what an engine loaded from a checkpoint is brought to.';
