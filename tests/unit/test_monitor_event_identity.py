"""An event is (source, event id): another source's events with the ids and times of a contract's
events change nothing of it. The streaming driver (``ContractMonitor``) gives a compacted item's
stored events back to its evaluation when new events of that item arrive, leaving out those
arriving (the step must see them as new); another source's event with the same id and time is not
one of them. Over a store in memory (tests/support/memory_monitor_store.py)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from outcome_pulse.processors.contract import Contract
from outcome_pulse.processors.lifecycle import ItemEvent
from outcome_pulse.streams.contract_files import load_contract
from outcome_pulse.streams.drivers.monitor import ContractMonitor
from tests.support import memory_monitor_store
from tests.support.memory_monitor_store import MemoryMonitorStore
from tests.unit.test_engine_checkpoint import _rounds, _state

CONTRACT = Path(__file__).resolve().parents[2] / "contracts" / "helpdesk_tickets.yaml"
OTHER = "other-desk"  # a source no service of the contract reads


def _run(contract: Contract, rounds: list[list[tuple[ItemEvent, int]]]) -> MemoryMonitorStore:
    store = MemoryMonitorStore()
    monitor = ContractMonitor([contract], store.as_store())
    for number, events in enumerate(rounds):
        store.add(events, partition=number % 2)
        asyncio.run(monitor.tick())
    return store


def test_another_sources_twins_do_not_hide_a_compacted_items_events_from_its_restore(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    contract = load_contract(CONTRACT)
    assert all(svc.source != OTHER for svc in contract.services.values())
    rounds = _rounds()
    # Each round also brings, from OTHER, a twin (same id, time, item id and content) of every
    # event sent before of the items the round has events of: those a restore reads back.
    twinned: list[list[tuple[ItemEvent, int]]] = []
    sent: list[tuple[ItemEvent, int]] = []
    for events in rounds:
        items = {event.item_id for event, _ in events}
        twins = [(replace(e, source=OTHER), seq) for e, seq in sent if e.item_id in items]
        twinned.append([*events, *twins])
        sent.extend(events)

    restored: list[int] = []
    item_events = memory_monitor_store._Tick.item_events

    async def counted(tick: Any, items: Sequence[tuple[str, str]]) -> Any:
        got = await item_events(tick, items)
        restored.append(len(got))
        return got

    monkeypatch.setattr(memory_monitor_store._Tick, "item_events", counted)
    alone = _run(contract, rounds)
    restores_alone = sum(restored)
    with_twins = _run(contract, twinned)
    assert restores_alone > 0, "some rounds restore compacted items"
    assert sum(restored) - restores_alone >= restores_alone
    assert _state(with_twins) == _state(alone)
    assert {key[1] for key in with_twins.late} == {contract_source(contract)}


def contract_source(contract: Contract) -> str:
    (source,) = {svc.source for svc in contract.services.values()}
    return source
