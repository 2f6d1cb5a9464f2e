"""``ContractEngine.risk_crossings``: when each item's clock passed its at-risk share and when
that ended (breach, stop, priority change), for every item ever seen, compacted ones included."""

from __future__ import annotations

from datetime import datetime, timedelta

from outcome_pulse.processors.engine import ContractEngine
from outcome_pulse.processors.engine.risk_crossings import RiskCrossing
from outcome_pulse.processors.lifecycle import ItemEvent, Lifecycle
from tests.unit.test_evaluation import T0, desk_contract, event, three_items

H = timedelta(hours=1)
TICK = timedelta(microseconds=1)


def history() -> list[tuple[ItemEvent, int]]:
    return [
        *three_items(),
        # d: P1 (4h), at risk from 2h in; made P2 (8h) at 3h in (3h of 8h: no longer at risk),
        # at risk again at 4h in, and still running at the latest event: its breach is projected
        event("d", Lifecycle.CREATED, 20, 1, priority="P1"),
        event("d", Lifecycle.PRIORITY_CHANGED, 23, 2, priority="P2"),
        event("e", Lifecycle.CREATED, 25, 1, priority="P1"),  # the latest event
    ]


def test_crossings_start_at_the_risk_share_and_end_at_the_breach_or_the_stop() -> None:
    engine = ContractEngine(desk_contract())
    engine.step(history())
    crossings = engine.risk_crossings()[("desk", "resolution")]
    P1, P2 = 4 * 3600.0, 8 * 3600.0
    assert crossings == [
        # a: 3h of 4h, stopped at risk
        RiskCrossing("a", "P1", T0 + 2 * H, T0 + 3 * H, False, P1, T0 + 4 * H),
        # b: 1h, paused 3h, resumed: 2h used at 6h; stopped with exactly its 4h used (met)
        RiskCrossing("b", "P1", T0 + 6 * H, T0 + 8 * H, False, P1, T0 + 8 * H),
        # c: P2, 4h of 8h at 6h, breached once past 8h used
        RiskCrossing("c", "P2", T0 + 6 * H, T0 + 10 * H + TICK, True, P2, T0 + 10 * H),
        RiskCrossing("d", "P1", T0 + 22 * H, T0 + 23 * H, False, P1, T0 + 24 * H),
        RiskCrossing("d", "P2", T0 + 24 * H, T0 + 28 * H + TICK, True, P2, T0 + 28 * H),
        # e: 0h of 4h at the latest event: its crossing is projected too (readers compare)
        RiskCrossing("e", "P1", T0 + 27 * H, T0 + 29 * H + TICK, True, P1, T0 + 29 * H),
    ]
    # The same instants as reading the open clocks: at risk from ``at`` on, not a tick before.
    for c in crossings[:-1]:
        assert _at_risk(engine, c.item_id, c.at) and not _at_risk(engine, c.item_id, c.at - TICK)


def test_crossings_survive_compaction() -> None:
    engine = ContractEngine(desk_contract())
    engine.step(history())
    before = engine.risk_crossings()
    assert engine.compact() == 3  # a, b, c are done with; d and e run
    assert engine.risk_crossings() == before


def _at_risk(engine: ContractEngine, item: str, at: datetime) -> bool:
    return any(
        c.item_id == item and c.at_risk and not c.breached for c in engine.open_clocks_at(at)
    )
