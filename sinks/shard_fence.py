"""The evaluation shards' fences in PostgreSQL (``pulse_evaluation_shards``, schema v7).

Kafka's consumer group decides which worker evaluates which shard (the partitions of the
evaluation topic); this module only makes a stale decision harmless. The rules are pure
(``outcome_pulse.processors.shards``): a worker assigned a shard *claims* it (``claim``), which
takes the shard over (generation + 1) unless the row still shows this worker's own claim; every
tick of the shard first ``check``s, under the row's lock held until COMMIT, that the row still
shows the claim it runs under, and raises ``ShardFenced`` otherwise. Because both lock the row,
a claim waits for the previous owner's tick in flight, and rebuilds from what that tick committed.

``ensure_shards`` (run by ``prepare_stack`` before a worker starts) adds the rows 0 .. count-1,
and refuses a database whose shards disagree with the configured count.
"""

from __future__ import annotations

from typing import Any

import psycopg

from outcome_pulse.processors.errors import ConfigError
from outcome_pulse.processors.shards import Claim, ShardFence, claim_decision, may_write
from outcome_pulse.sinks.errors import ShardFenced, SinkError
from outcome_pulse.sinks.pgerrors import translate
from outcome_pulse.sinks.sql_text import statements

_SQL = statements("shards")


def ensure_shards(dsn: str, count: int) -> None:
    """Make the fence rows 0 .. count-1 exist; ``ConfigError`` when the database has others.

    Shards are only added: a database with more shards than ``count`` was set up by workers
    with a larger ``PULSE_EVALUATION_PARTITIONS``, and evaluating with fewer would send a
    contract to two shards at once.
    """
    try:
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(_SQL["add_shards"], [count])
            found = [int(row[0]) for row in conn.execute(_SQL["shard_numbers"]).fetchall()]
    except psycopg.Error as exc:
        raise translate(exc, "creating the evaluation shards (pulse_evaluation_shards)") from exc
    if found != list(range(count)):
        raise ConfigError(
            f"PULSE_EVALUATION_PARTITIONS is {count} but the database has evaluation shards "
            f"{found[0]}..{found[-1]} ({len(found)}) in pulse_evaluation_shards: every worker "
            "must use the same count (the evaluation topic's partitions); to change it, stop all "
            "workers and use a new database and evaluation topic"
        )


def fences(dsn: str) -> list[ShardFence]:
    """Every shard's fence row, by shard (for the CLI and tests)."""
    try:
        with psycopg.connect(dsn) as conn:
            rows = conn.execute(_SQL["fences"]).fetchall()
    except psycopg.Error as exc:
        raise translate(exc, "reading pulse_evaluation_shards") from exc
    return [ShardFence(int(shard), owner, int(gen)) for shard, owner, gen in rows]


async def claim(
    conn: psycopg.AsyncConnection[Any], shard: int, owner: str, known: int | None, count: int
) -> Claim:
    """Claim ``shard`` for ``owner`` inside the caller's transaction (see the module doc)."""
    cur = await conn.execute(_SQL["count_shards"])
    row = await cur.fetchone()
    found = int(row[0]) if row else 0
    if found != count:
        raise SinkError(
            f"pulse_evaluation_shards has {found} shards but this worker was started with "
            f"PULSE_EVALUATION_PARTITIONS={count}: refusing to evaluate shard {shard} (every "
            "worker must use the same count)"
        )
    fence = await _locked(conn, shard)
    decision = claim_decision(fence, owner, known)
    if decision.taken_over:
        await conn.execute(_SQL["take_fence"], [owner, decision.generation, shard])
    return decision


async def check(
    conn: psycopg.AsyncConnection[Any], shard: int, owner: str, generation: int
) -> None:
    """Lock ``shard``'s fence until COMMIT; ``ShardFenced`` unless it still shows this claim."""
    fence = await _locked(conn, shard)
    if not may_write(fence, owner, generation):
        raise ShardFenced(
            f"evaluation shard {shard} was claimed by {fence.owner!r} (generation "
            f"{fence.generation}) after {owner!r} claimed it (generation {generation}): "
            "this tick is refused and writes nothing"
        )
    await conn.execute(_SQL["mark_ticked"], [shard])


async def _locked(conn: psycopg.AsyncConnection[Any], shard: int) -> ShardFence:
    cur = await conn.execute(_SQL["lock_fence"], [shard])
    row = await cur.fetchone()
    if row is None:
        raise SinkError(
            f"pulse_evaluation_shards has no row for shard {shard}; the worker's start "
            "(prepare_stack, ensure_shards) creates it"
        )
    return ShardFence(int(row[0]), row[1], int(row[2]), row[3])


__all__ = ["check", "claim", "ensure_shards", "fences"]
