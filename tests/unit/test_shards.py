"""Evaluation shards: the contract -> shard mapping, and the fence rules (processors/shards.py)."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from datetime import timedelta

import pytest

from outcome_pulse.processors.errors import MixedLayout
from outcome_pulse.processors.shards import (
    LAYOUT_GRACE,
    Claim,
    ShardFence,
    claim_decision,
    contracts_by_shard,
    may_write,
    owner_group,
    shard_of,
)

EXAMPLES = ("bpic2013-incidents", "helpdesk-tickets", "scms-orders")


@dataclass(frozen=True)
class _Named:
    contract: str


def test_the_example_contracts_keep_their_shards() -> None:
    # Pinned: a change of the hash moves contracts between shards, and workers of two versions
    # would then evaluate a contract twice (or not at all) during a rolling upgrade.
    assert [shard_of(c, 2) for c in EXAMPLES] == [0, 1, 0]
    assert [shard_of(c, 8) for c in EXAMPLES] == [0, 7, 4]
    assert all(shard_of(c, 1) == 0 for c in EXAMPLES)


def test_the_mapping_does_not_depend_on_the_process() -> None:
    """Python's str hash is salted per process; the shard must not be."""
    code = (
        "from outcome_pulse.processors.shards import shard_of;"
        f"print([shard_of(c, 7) for c in {list(EXAMPLES)!r}])"
    )
    seen = {
        subprocess.run(
            [sys.executable, "-c", code],
            env={**os.environ, "PYTHONHASHSEED": seed},
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        for seed in ("1", "2", "3")
    }
    assert seen == {str([shard_of(c, 7) for c in EXAMPLES])}


def test_every_contract_lands_in_exactly_one_shard_and_the_shards_are_used_evenly() -> None:
    contracts = [_Named(f"client-{n:04d}-contract") for n in range(2000)]
    spread = contracts_by_shard(contracts, 8)
    assert sorted(spread) == list(range(8))
    placed = [c for shard in spread.values() for c in shard]
    assert sorted(c.contract for c in placed) == sorted(c.contract for c in contracts)
    for shard, members in spread.items():
        assert all(shard_of(c.contract, 8) == shard for c in members)
        assert 200 <= len(members) <= 300, {s: len(m) for s, m in spread.items()}


def test_a_shard_without_contracts_is_listed_empty() -> None:
    spread = contracts_by_shard([_Named("helpdesk-tickets")], 4)
    assert spread == {0: [], 1: [], 2: [], 3: [_Named("helpdesk-tickets")]}


@pytest.mark.parametrize("shards", [0, -1])
def test_no_shards_is_refused(shards: int) -> None:
    with pytest.raises(ValueError, match="at least 1"):
        shard_of("helpdesk-tickets", shards)


def test_a_claim_takes_over_unless_the_row_still_shows_the_claimers_own_claim() -> None:
    fresh = ShardFence(0, None, 0)
    assert claim_decision(fresh, "a", None) == Claim(1, taken_over=True)
    held = ShardFence(0, "a", 1)
    assert claim_decision(held, "a", 1) == Claim(1, taken_over=False)
    # The same owner with another (or no) generation in mind: its state may be stale.
    assert claim_decision(held, "a", 0) == Claim(2, taken_over=True)
    assert claim_decision(held, "a", None) == Claim(2, taken_over=True)
    assert claim_decision(held, "b", 1) == Claim(2, taken_over=True)


def test_only_the_latest_claim_may_write() -> None:
    fence = ShardFence(3, "b", 7)
    assert may_write(fence, "b", 7)
    assert not may_write(fence, "b", 6)
    assert not may_write(fence, "a", 7)
    assert not may_write(ShardFence(3, None, 0), "a", 0)


def test_a_stale_owner_is_fenced_after_a_takeover_and_back() -> None:
    """A holds the shard, B takes it over, A takes it back: B's late write and A's write under
    its first claim are both refused; only A's second claim writes."""
    rows = {0: ShardFence(0, None, 0)}

    def claim(owner: str, known: int | None = None) -> int:
        decision = claim_decision(rows[0], owner, known)
        rows[0] = ShardFence(0, owner, decision.generation)
        return decision.generation

    a1 = claim("a")
    b1 = claim("b")
    assert not may_write(rows[0], "a", a1)
    a2 = claim("a")
    assert not may_write(rows[0], "b", b1)
    assert not may_write(rows[0], "a", a1)
    assert may_write(rows[0], "a", a2)
    assert (a1, b1, a2) == (1, 2, 3)


def test_a_shard_another_groups_owner_is_active_on_is_not_claimed() -> None:
    worker = "monitor-pid1-aa@outcome-pulse"
    evaluator = "monitor-pid2-bb@outcome-pulse-evaluation"
    assert owner_group(worker) == "outcome-pulse" and owner_group("worker-a") is None
    active = ShardFence(0, worker, 4, idle=timedelta(seconds=3))
    with pytest.raises(MixedLayout, match="role 'all' and processes of role 'evaluate'"):
        claim_decision(active, evaluator, None)
    # the same group (a takeover), a stopped owner, or an unknown activity: claimed as before
    assert claim_decision(active, "monitor-pid3-cc@outcome-pulse", None) == Claim(5, True)
    stopped = ShardFence(0, worker, 4, idle=LAYOUT_GRACE + timedelta(seconds=1))
    assert claim_decision(stopped, evaluator, None) == Claim(5, True)
    assert claim_decision(ShardFence(0, worker, 4), evaluator, None) == Claim(5, True)
    assert claim_decision(ShardFence(0, "worker-a", 4, idle=timedelta(0)), evaluator, None) == (
        Claim(5, True)
    )
