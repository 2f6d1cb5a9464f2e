"""The backtest records late events as the streaming monitor does: with the final rows each one
corrected (``changed``), the same whether the rounds before it were stepped or only observed."""

from __future__ import annotations

from outcome_pulse.processors.engine import ContractEngine
from outcome_pulse.processors.lifecycle import Lifecycle
from outcome_pulse.processors.reference_evaluation import ContractEvaluation as Reference
from outcome_pulse.streams.drivers.backtest import backtest_events
from tests.unit.test_evaluation import desk_contract, event, three_items


def test_backtest_late_events_name_the_rows_they_corrected() -> None:
    contract = desk_contract()
    on_time = three_items()
    late = [event("d", Lifecycle.CREATED, 4, 1, priority="P1")]
    result = backtest_events(contract, [*on_time, *late], batch=len(on_time))
    (recorded,) = result.late
    assert recorded.changed, "the late event revises final open_backlog points"
    assert any("open_backlog" in row for row in recorded.changed)
    # What the monitor writes when the same events come in the same rounds:
    for driver in (ContractEngine(contract), Reference(contract)):
        driver.step(on_time)
        (streamed,) = driver.step(late).late
        assert (streamed.event_id, streamed.watermark, streamed.changed) == (
            recorded.event_id,
            recorded.watermark,
            recorded.changed,
        )


def test_on_time_rounds_between_do_not_change_what_a_late_event_names() -> None:
    contract = desk_contract()
    on_time = three_items()
    late = [event("d", Lifecycle.CREATED, 4, 1, priority="P1")]
    in_one = backtest_events(contract, [*on_time, *late], batch=len(on_time))
    one_by_one = backtest_events(
        contract, [*sorted(on_time, key=lambda e: e[0].time), *late], batch=1
    )
    assert in_one.late == one_by_one.late
    assert in_one.evaluation == one_by_one.evaluation
