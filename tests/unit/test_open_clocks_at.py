"""``ContractEngine.open_clocks_at``: every open SLA clock read at any instant (what the
forecasting reads at each sample instant); at the latest event time it is the open-clock table."""

from __future__ import annotations

from datetime import timedelta

from outcome_pulse.processors.engine import ContractEngine
from outcome_pulse.processors.lifecycle import Lifecycle
from tests.unit.test_evaluation import T0, desk_contract, event, three_items


def test_open_clocks_at_an_instant() -> None:
    engine = ContractEngine(desk_contract())
    engine.step([*three_items(), event("d", Lifecycle.CREATED, 10, 1, priority="P1")])
    at = T0 + timedelta(hours=2, minutes=30)
    clocks = {c.item_id: c for c in engine.open_clocks_at(at)}
    assert sorted(clocks) == ["a", "b", "c"]  # d opens at 10h; a resolves at 3h
    assert clocks["b"].status == "paused"  # paused at 2h after 1h of its 4h
    assert clocks["b"].elapsed_seconds == 3600
    assert clocks["a"].elapsed_seconds == 2.5 * 3600 and clocks["a"].at_risk  # 50% of 4h
    assert {c.as_of for c in clocks.values()} == {at}
    latest = engine.max_time
    assert latest is not None
    assert {c.key: c for c in engine.open_clocks_at(latest)} == engine.last.open_clocks
