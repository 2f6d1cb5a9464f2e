-- The evaluation shards' fences (pulse_evaluation_shards, v7), run by
-- outcome_pulse.sinks.shard_fence. A claim and every tick of a shard lock its row for the rest
-- of their transaction: a claim therefore waits for the tick in flight of the previous owner,
-- and that owner's next tick finds the new generation and is refused.

-- name: shard_numbers
SELECT shard FROM pulse_evaluation_shards ORDER BY shard

-- name: add_shards
-- The rows 0 .. count-1 that are missing (the count is the parameter).
INSERT INTO pulse_evaluation_shards (shard)
SELECT n FROM generate_series(0, %s - 1) AS n
ON CONFLICT (shard) DO NOTHING

-- name: count_shards
SELECT count(*) FROM pulse_evaluation_shards

-- name: lock_fence
-- idle: since the owner's last claim or tick, by the database's clock (NULL: neither yet).
SELECT shard, owner, generation, now() - greatest(claimed_at, ticked_at) AS idle
FROM pulse_evaluation_shards WHERE shard = %s FOR UPDATE

-- name: take_fence
UPDATE pulse_evaluation_shards SET owner = %s, generation = %s, claimed_at = now()
WHERE shard = %s

-- name: mark_ticked
UPDATE pulse_evaluation_shards SET ticked_at = now() WHERE shard = %s

-- name: fences
SELECT shard, owner, generation FROM pulse_evaluation_shards ORDER BY shard
