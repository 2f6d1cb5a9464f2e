"""Evaluation shards: which shard evaluates a contract, and who may write a shard's rows.

The workers share the contracts by shards. A contract belongs to shard
``crc32(contract id) mod shards``: a stable function of its id (Python's ``hash`` of a str is
salted per process, so it would send one contract to different shards in different workers).
Which worker evaluates which shard is not decided here: the shards are the partitions of the
evaluation topic, and Kafka's consumer group assigns them (``streams/kafka/evaluation_shards.py``).

The database fences every shard (``sinks/shard_fence.py``): one row per shard holding its owner
and a generation number. A worker that Kafka assigns a shard *claims* it; a tick of a shard commits
only while the row still names the claimer and the generation it claimed, so a worker that lost a
shard (revoked, paused, or a zombie that missed its session) has its late commit refused instead of
writing rows from stale state. ``claim_decision`` and ``may_write`` are those two rules.

An owner token ends in ``@`` and the consumer group that assigned the shard (``<app_id>`` for a
worker of role ``all``, ``<app_id>-evaluation`` for a process of role ``evaluate``). Two groups
each assign every shard, so a worker of role ``all`` beside an evaluator would take the shards
from each other round after round: a claim of a shard that another group's owner was active on
within ``LAYOUT_GRACE`` is refused (``MixedLayout``), loudly, instead.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Protocol, TypeVar

from outcome_pulse.processors.errors import MixedLayout

LAYOUT_GRACE = timedelta(seconds=60)
"""How long after another group's owner was last active its shard stays refused to this group
(longer than a round, so a live owner is never taken for a stopped one)."""


class _HasContractId(Protocol):
    @property
    def contract(self) -> str: ...


C = TypeVar("C", bound=_HasContractId)


def shard_of(contract_id: str, shards: int) -> int:
    """The shard (0 .. shards-1) that evaluates the contract ``contract_id``."""
    if shards < 1:
        raise ValueError(f"the number of evaluation shards must be at least 1, not {shards}")
    return zlib.crc32(contract_id.encode("utf-8")) % shards


def contracts_by_shard(contracts: Iterable[C], shards: int) -> dict[int, list[C]]:
    """Every shard 0 .. shards-1 with its contracts (an empty list for a shard without any)."""
    spread: dict[int, list[C]] = {shard: [] for shard in range(shards)}
    for contract in contracts:
        spread[shard_of(contract.contract, shards)].append(contract)
    return spread


@dataclass(frozen=True, slots=True)
class ShardFence:
    """A shard's fence row as stored: who claimed it last, and how many claims it has seen."""

    shard: int
    owner: str | None
    generation: int
    idle: timedelta | None = field(default=None, compare=False)
    """Since the owner's last claim or tick, as the database's clock has it (None: unknown)."""


@dataclass(frozen=True, slots=True)
class Claim:
    """What a claim does: ``generation`` is the one the claimer writes under from now on;
    ``taken_over`` says the claimer's state of the shard may be stale (another owner, or none,
    held it since), so it must rebuild the shard from the database."""

    generation: int
    taken_over: bool


def claim_decision(fence: ShardFence, owner: str, known: int | None) -> Claim:
    """The claim of ``fence`` by ``owner``, who last held it under generation ``known`` (None:
    never, or its state was dropped).

    Kept when the row still names ``owner`` under ``known``: nobody claimed the shard since, so
    nobody wrote its rows, and the claimer's state is current (a rebalance that leaves a shard
    where it was costs nothing). Otherwise the generation is incremented, which fences every
    earlier claim, the claimer's own included.
    """
    if known is not None and fence.owner == owner and fence.generation == known:
        return Claim(known, taken_over=False)
    held_by, mine = owner_group(fence.owner), owner_group(owner)
    if (
        held_by is not None
        and mine is not None
        and held_by != mine
        and fence.idle is not None
        and fence.idle < LAYOUT_GRACE
    ):
        raise MixedLayout(
            f"evaluation shard {fence.shard} is held by {fence.owner!r} of consumer group "
            f"{held_by!r}, active {fence.idle.total_seconds():.0f} s ago; this process "
            f"({owner!r}) is of group {mine!r}: workers of role 'all' and processes of role "
            "'evaluate' cannot evaluate one deployment together (PULSE_WORKER_ROLE); not "
            "claiming it"
        )
    return Claim(fence.generation + 1, taken_over=True)


def owner_group(owner: str | None) -> str | None:
    """The consumer group an owner token names after its last ``@`` (None: none named)."""
    if owner is None or "@" not in owner:
        return None
    return owner.rsplit("@", 1)[1]


def may_write(fence: ShardFence, owner: str, generation: int) -> bool:
    """Whether a tick of ``owner`` under ``generation`` may commit on the shard of ``fence``."""
    return fence.owner == owner and fence.generation == generation


__all__ = [
    "LAYOUT_GRACE",
    "Claim",
    "ShardFence",
    "claim_decision",
    "contracts_by_shard",
    "may_write",
    "owner_group",
    "shard_of",
]
