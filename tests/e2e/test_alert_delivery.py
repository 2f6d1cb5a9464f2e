"""Alerts from a replayed log reach the service owner through a real Alertmanager.

The help desk log goes through Kafka, a worker and PostgreSQL with its contract monitored; the
contract's service owner has a webhook (a local receiver) and Alertmanager's routing is generated
from the contract (``pulse alerts config``). The worker delivers replayed history
(``--deliver-historic``). The receiver gets the firing "budget exhausted" alert of a missed month,
fired before the month's end in event time, and its resolution afterwards; the burn-rate alerts,
silenced in Alertmanager before the replay, never reach it. The replay stops just after a later
burn-rate alert fired, so one is still active (and so suppressed) in Alertmanager at the end:
Alertmanager lists only active alerts, and every other burn-rate alert is resolved by then.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
import yaml

from outcome_pulse.processors.alerting.episodes import AlertEpisode
from outcome_pulse.processors.alerting.routing import RoutingOptions, alertmanager_config
from outcome_pulse.processors.contract import Contract
from outcome_pulse.processors.lifecycle import ItemEvent
from outcome_pulse.streams.contract_files import load_contract, parse_contract
from outcome_pulse.streams.drivers.backtest import backtest_events, item_events
from outcome_pulse.streams.drivers.replay import produce
from outcome_pulse.streams.file_import.mapped_file import map_file
from outcome_pulse.streams.file_import.mapping import load_mapping
from outcome_pulse.streams.settings import PulseSettings
from tests.datasets import dataset
from tests.support.alertmanager import WebhookReceiver, running_alertmanager, wait_for
from tests.support.sandbox import isolated_pipeline

CONTRACT = Path(__file__).resolve().parents[2] / "contracts" / "helpdesk_tickets.yaml"


def contract_for(hook_url: str, directory: Path) -> Path:
    data: dict[str, Any] = yaml.safe_load(CONTRACT.read_text(encoding="utf-8"))
    data["services"]["ticket-desk"]["owner"]["alerts"] = [{"webhook": hook_url}]
    # One alert per item would be hundreds of notifications: off for this contract (an override).
    data["alerts"] = {"defaults": {"item_breach": {"enabled": False}}}
    parse_contract(data)
    path = directory / "helpdesk_webhook.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


def _every_shard_ticked(dsn: str) -> bool:
    """Whether every evaluation shard had its first round (the worker alone holds them all)."""
    with psycopg.connect(dsn) as conn:
        row = conn.execute(
            "SELECT count(*), count(ticked_at) FROM pulse_evaluation_shards"
        ).fetchone()
    return row is not None and row[0] > 0 and row[0] == row[1]


def when(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def exhausted_then_burning(
    contract: Contract, in_order: list[ItemEvent]
) -> tuple[AlertEpisode, list[ItemEvent]]:
    """The first "budget exhausted" alert of a missed month (fired before the month's end,
    resolved at it or after), and the history cut just after a burn-rate alert fires later."""
    full = backtest_events(contract, item_events(in_order), alerts=True)
    missed = [
        o for o in full.outcomes()
        if o.kpi == "resolution-time" and o.final and o.status != "met"
    ]  # fmt: skip
    exhausted = [
        a for a in full.alerts
        if a.alertname == "PulseErrorBudgetExhausted" and a.kpi == "resolution-time"
        and any(
            p.period_start <= a.fired_at < p.period_end
            and a.resolved_at is not None and a.resolved_at >= p.period_end
            for p in missed
        )
    ]  # fmt: skip
    assert exhausted, "the contract exhausts its budget in some missed month"
    target = exhausted[0]
    assert target.resolved_at is not None
    later = sorted(
        a.fired_at for a in full.alerts
        if a.alertname == "PulseErrorBudgetBurn" and a.fired_at > target.resolved_at
        and (a.resolved_at is None or a.resolved_at - a.fired_at > timedelta(days=1))
    )  # fmt: skip
    assert later, "a burn-rate alert fires (for a day or more) after the target resolved"
    cut = next(i for i, e in enumerate(in_order) if e.time > later[0])
    return target, in_order[: cut + 1]


@pytest.mark.timeout(900)
def test_replayed_miss_reaches_the_owner_and_a_silence_holds(
    settings: PulseSettings, tmp_path: Path
) -> None:
    mapped = map_file(dataset("helpdesk"), load_mapping("helpdesk"))
    with WebhookReceiver().serving() as hook:
        contract_path = contract_for(hook.url, tmp_path)
        contract = load_contract(contract_path)
        in_order = sorted(mapped.events, key=lambda e: e.time)
        target, in_order = exhausted_then_burning(contract, in_order)
        expected = backtest_events(contract, item_events(in_order), alerts=True)
        assert target in expected.alerts, "the cut history still has the target alert"
        burning = [
            a for a in expected.alerts
            if a.alertname == "PulseErrorBudgetBurn" and a.resolved_at is None
        ]  # fmt: skip
        # Alertmanager lists only active alerts: a burn-rate alert still firing at the end of
        # the replayed history stays there (suppressed) while the worker re-sends it.
        assert burning, "a burn-rate alert still fires at the end of the replayed history"
        (period,) = [
            p for p in expected.outcomes()
            if p.kpi == "resolution-time" and p.period_start <= target.fired_at < p.period_end
        ]  # fmt: skip

        options = RoutingOptions(group_wait="1s", group_interval="1s", repeat_interval="1h")
        config = yaml.safe_dump(alertmanager_config([contract], options))
        with running_alertmanager(config, tmp_path / "am") as am:
            am.silence({"alertname": "PulseErrorBudgetBurn", "contract": contract.contract})
            # In event-time order on one partition, as a live feed sends them: no event arrives
            # beyond the allowed lateness, so no episode is corrected into another one of the
            # same labels (Alertmanager would merge the two, keeping the earlier startsAt).
            with isolated_pipeline(settings, partitions=1) as pipeline:
                pipeline.start_worker(
                    contracts=str(contract_path),
                    monitor_interval=1.0,
                    alertmanager_url=am.url,
                    alert_deliver_historic=True,
                    alert_resend_seconds=5.0,
                    alert_min_firing_seconds=10.0,
                )
                # The monitor's first round (no events yet) before the replay: episodes that are
                # already over when a monitor starts are not announced (sinks/alertmanager.py).
                pipeline.wait_for(
                    lambda: _every_shard_ticked(pipeline.settings.dsn),
                    120,
                    "the monitor's first round on every evaluation shard",
                )
                asyncio.run(produce(pipeline.settings, in_order, []))

                def notified(status: str) -> list[dict[str, Any]]:
                    return hook.alerts(
                        lambda a: (
                            a["status"] == status
                            and a["labels"] == dict(target.labels)
                            and when(a["startsAt"]) == target.fired_at
                        )
                    )

                firing = wait_for(lambda: notified("firing"), 600, f"{target.rule} firing")
                resolved = wait_for(lambda: notified("resolved"), 300, f"{target.rule} resolved")
                still = [dict(a.labels) for a in burning]
                suppressed = wait_for(
                    lambda: [
                        a for a in am.api("/api/v2/alerts")
                        if a["labels"] in still and a["status"]["state"] == "suppressed"
                    ],
                    300,
                    "the burn-rate alert still firing, held by the silence",
                )  # fmt: skip
                wait_for(
                    lambda: hook.alerts(
                        lambda a: a["labels"]["alertname"] == "PulseKpiForecastToMiss"
                    ),
                    60,
                    "a forecast-to-miss notification",
                )

        print(
            f"{target.rule} fired {target.fired_at.isoformat()} (event time), "
            f"{period.period_end - target.fired_at} before the end of {period.period}; resolved "
            f"{target.resolved_at}; {len(hook.notifications)} notifications, "
            f"{len(suppressed)} burn-rate alerts suppressed"
        )
        assert when(firing[0]["startsAt"]) < period.period_end
        assert firing[0]["annotations"]["summary"] == target.annotations["summary"]
        assert target.resolved_at is not None
        assert when(resolved[0]["endsAt"]) == target.resolved_at >= period.period_end
        order = [
            (a["status"], a["labels"] == dict(target.labels))
            for n in hook.notifications
            for a in n["alerts"]
        ]
        assert order.index(("firing", True)) < order.index(("resolved", True))
        assert hook.alerts(lambda a: a["labels"]["alertname"] == "PulseErrorBudgetBurn") == []
