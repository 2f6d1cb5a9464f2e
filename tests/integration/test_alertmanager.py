"""Alert routing and delivery against a real Alertmanager (Debian's prometheus-alertmanager):
the generated configuration passes ``amtool check-config`` and routes each service's alerts to
its owner (``amtool config routes test``); the delivery posts firing alerts, resolves them with
``endsAt``, keeps them queued while Alertmanager is down, does not page for replayed history,
and a silence set in Alertmanager holds."""

from __future__ import annotations

import asyncio
import copy
import subprocess
from collections.abc import Coroutine
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from outcome_pulse.processors.alerting.episodes import AlertEpisode, fingerprint
from outcome_pulse.processors.alerting.routing import RoutingOptions, alertmanager_config
from outcome_pulse.processors.contract import parse_contract
from outcome_pulse.sinks.alertmanager import AlertDelivery, AlertmanagerClient
from outcome_pulse.sinks.errors import AlertDeliveryError
from outcome_pulse.sinks.metrics import PipelineMetrics
from outcome_pulse.streams.cli.alerts import render
from tests.support.alertmanager import WebhookReceiver, running_alertmanager, wait_for
from tests.support.sandbox import free_port
from tests.unit.test_contract import minimal

pytestmark = pytest.mark.integration
CONTRACTS = Path(__file__).resolve().parents[2] / "contracts"
EXAMPLES = sorted(CONTRACTS.glob("*.yaml"))
SLACK = "https://hooks.slack.com/services/T000/B000/XXXX"
FAST = RoutingOptions(group_wait="1s", group_interval="1s", repeat_interval="1h")


def amtool(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["amtool", *args], capture_output=True, text=True, timeout=30)


# -- routing -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def examples_config(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("am") / "alertmanager.yml"
    path.write_text(render(EXAMPLES, RoutingOptions(slack_api_url=SLACK)), encoding="utf-8")
    return path


def test_generated_config_passes_amtool_check_config(examples_config: Path) -> None:
    checked = amtool("check-config", str(examples_config))
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "SUCCESS" in checked.stdout and "4 receivers" in checked.stdout


@pytest.mark.parametrize(
    ("labels", "receiver"),
    [
        (["contract=helpdesk-tickets", "service=ticket-desk", "severity=page"],
         "helpdesk-tickets/ticket-desk"),
        (["contract=bpic2013-incidents", "service=incident-management", "severity=ticket"],
         "bpic2013-incidents/incident-management"),
        (["contract=scms-orders", "service=order-delivery", "alertname=PulseErrorBudgetBurn"],
         "scms-orders/order-delivery"),
        (["contract=scms-orders", "service=ticket-desk"], "pulse-unrouted"),
        (["alertname=PulsePipelineDown"], "pulse-unrouted"),
    ],
)  # fmt: skip
def test_routes_reach_each_services_owner(
    examples_config: Path, labels: list[str], receiver: str
) -> None:
    config = f"--config.file={examples_config}"
    tested = amtool("config", "routes", "test", config, f"--verify.receivers={receiver}", *labels)
    assert tested.returncode == 0, tested.stdout + tested.stderr
    assert tested.stdout.strip() == receiver
    wrong = amtool("config", "routes", "test", config, "--verify.receivers=nobody", *labels)
    assert wrong.returncode != 0  # the check can fail


def test_owner_destinations_become_receivers(examples_config: Path) -> None:
    config = yaml.safe_load(examples_config.read_text())
    receivers = {r["name"]: r for r in config["receivers"]}
    volvo = receivers["bpic2013-incidents/incident-management"]
    assert volvo["email_configs"] == [{"to": "incident-sdm@example.com", "send_resolved": True}]
    assert volvo["slack_configs"] == [
        {"api_url": SLACK, "channel": "#volvo-incidents", "send_resolved": True}
    ]
    desk = receivers["helpdesk-tickets/ticket-desk"]
    assert desk["webhook_configs"] == [
        {"url": "https://hooks.example.com/pulse/helpdesk", "send_resolved": True}
    ]


def test_a_slack_channel_without_a_webhook_url_is_a_clear_error() -> None:
    from outcome_pulse.processors.errors import ConfigError
    from outcome_pulse.streams.contract_files import load_contract

    contract = load_contract(CONTRACTS / "bpic2013_incidents.yaml")
    with pytest.raises(ConfigError, match=r"owner.alerts\[1\]: sends alerts to the Slack channel"):
        alertmanager_config([contract])


# -- delivery ------------------------------------------------------------------------------------


def contract_with_webhook(url: str) -> Any:
    data = copy.deepcopy(minimal())
    data["services"]["desk"]["owner"]["alerts"] = [{"webhook": url}]
    return parse_contract(data)


def episode(item: str, fired: datetime, resolved: datetime | None = None) -> AlertEpisode:
    labels = {
        "alertname": "PulseItemAboutToBreach",
        "client": "ACME",
        "contract": "acme-desk",
        "service": "desk",
        "kpi": "restore",
        "severity": "ticket",
        "owner": "Desk lead",
        "item_id": item,
    }
    return AlertEpisode(
        "acme-desk", fingerprint(labels), fired, resolved, "PulseItemAboutToBreach", "ticket",
        "desk", "restore", item, 0.8, labels,
        {"summary": f"{item} has used 80% of its 8 hours target", "description": "d",
         "dashboard": "http://127.0.0.1:3000/d/outcome-pulse-acme-desk?var-kpi=restore"},
    )  # fmt: skip


class Clock:
    """A wall clock the test moves; it starts a minute back so that moving it forward keeps
    it behind Alertmanager's (real) clock, which judges ``endsAt`` (firing alerts end four
    re-send intervals, 120 s, ahead)."""

    def __init__(self) -> None:
        self.now = datetime.now(UTC) - timedelta(minutes=1)

    def __call__(self) -> datetime:
        return self.now


OPENED: list[AlertDelivery] = []
"""The deliveries a test made: ``closed_after`` closes their HTTP clients in the test's loop."""


def delivery(url: str, clock: Clock, **kwargs: Any) -> tuple[AlertDelivery, PipelineMetrics]:
    metrics = PipelineMetrics()
    options = {"resend_every": 30.0, "min_firing": 0.0} | kwargs
    sender = AlertDelivery(
        AlertmanagerClient(url, attempts=2), clock=clock, metrics=metrics.health, **options
    )
    OPENED.append(sender)
    return sender, metrics


def closed_after(test: Coroutine[Any, Any, None]) -> None:
    """Run ``test``, then close every delivery it opened (no socket left to the GC)."""

    async def run() -> None:
        try:
            await test
        finally:
            while OPENED:
                await OPENED.pop().close()

    asyncio.run(run())


def sample(metrics: PipelineMetrics, name: str, labels: dict[str, str]) -> float:
    value = metrics.registry.get_sample_value(name, labels)
    return 0.0 if value is None else value


def test_firing_then_resolved_reach_the_owner(tmp_path: Path) -> None:
    closed_after(firing_then_resolved(tmp_path))


async def firing_then_resolved(tmp_path: Path) -> None:
    with WebhookReceiver().serving() as hook:
        config = yaml.safe_dump(alertmanager_config([contract_with_webhook(hook.url)], FAST))
        with running_alertmanager(config, tmp_path) as am:
            clock = Clock()
            sender, metrics = delivery(am.url, clock)
            fired = clock.now - timedelta(minutes=5)
            firing = episode("INC-4711", fired)
            sender.offer("acme-desk", [firing], clock.now)
            assert await sender.flush() == 1
            (got,) = wait_for(lambda: hook.alerts(), 30, "the firing notification")
            assert got["status"] == "firing"
            assert got["labels"] == dict(firing.labels)
            assert got["annotations"]["summary"] == "INC-4711 has used 80% of its 8 hours target"
            assert got["startsAt"].startswith(fired.strftime("%Y-%m-%dT%H:%M:%S"))
            assert got["generatorURL"].endswith("var-kpi=restore")

            clock.now += timedelta(seconds=10)
            assert await sender.flush() == 0  # not yet time to re-send
            clock.now += timedelta(seconds=30)
            assert await sender.flush() == 1  # re-sent while firing

            resolved_at = clock.now - timedelta(seconds=1)
            sender.offer("acme-desk", [replace(firing, resolved_at=resolved_at)], clock.now)
            assert await sender.flush() == 1
            resolution = wait_for(
                lambda: hook.alerts(lambda a: a["status"] == "resolved"), 30, "the resolution"
            )
            assert resolution[0]["endsAt"].startswith(resolved_at.strftime("%Y-%m-%dT%H:%M:%S"))
            assert await sender.flush() == 0 and sender.pending == 0
            assert sample(metrics, "pulse_alert_deliveries_total", {"outcome": "sent"}) == 3


def test_alertmanager_down_means_queued_and_retried(tmp_path: Path) -> None:
    closed_after(down_then_up(tmp_path))


async def down_then_up(tmp_path: Path) -> None:
    port = free_port()
    clock = Clock()
    sender, metrics = delivery(f"http://127.0.0.1:{port}", clock)
    sender.offer("acme-desk", [episode("INC-1", clock.now)], clock.now)
    with pytest.raises(AlertDeliveryError, match="cannot reach Alertmanager"):
        await sender.flush()
    assert sender.pending == 1
    assert sample(metrics, "pulse_alert_deliveries_total", {"outcome": "failed"}) == 1
    with WebhookReceiver().serving() as hook:
        config = yaml.safe_dump(alertmanager_config([contract_with_webhook(hook.url)], FAST))
        with running_alertmanager(config, tmp_path, port=port):
            assert await sender.flush() == 1
            (got,) = wait_for(lambda: hook.alerts(), 30, "the queued alert, delivered")
            assert got["labels"]["item_id"] == "INC-1"


def test_replayed_history_is_recorded_but_does_not_page() -> None:
    closed_after(replayed_history())


async def replayed_history() -> None:
    clock = Clock()
    old = datetime(2012, 5, 1, tzinfo=UTC)
    port = free_port()  # nothing listens: a post would fail the flush
    quiet, metrics = delivery(f"http://127.0.0.1:{port}", clock)
    quiet.offer("acme-desk", [episode("INC-2012", old)], old + timedelta(days=3))
    assert await quiet.flush() == 0 and quiet.pending == 0
    assert sample(metrics, "pulse_alert_deliveries_total", {"outcome": "historic"}) == 1
    loud, _ = delivery(f"http://127.0.0.1:{port}", clock, deliver_historic=True)
    loud.offer("acme-desk", [episode("INC-2012", old)], old + timedelta(days=3))
    assert loud.pending == 1
    with pytest.raises(AlertDeliveryError):
        await loud.flush()


def test_a_silence_holds(tmp_path: Path) -> None:
    closed_after(silence_holds(tmp_path))


async def silence_holds(tmp_path: Path) -> None:
    with WebhookReceiver().serving() as hook:
        config = yaml.safe_dump(alertmanager_config([contract_with_webhook(hook.url)], FAST))
        with running_alertmanager(config, tmp_path) as am:
            am.silence({"item_id": "INC-quiet"})
            clock = Clock()
            sender, _ = delivery(am.url, clock)
            episodes = [episode("INC-quiet", clock.now), episode("INC-loud", clock.now)]
            sender.offer("acme-desk", episodes, clock.now)
            assert await sender.flush() == 2
            wait_for(
                lambda: hook.alerts(lambda a: a["labels"]["item_id"] == "INC-loud"),
                30,
                "the unsilenced alert's notification",
            )
            states = {
                a["labels"]["item_id"]: a["status"]["state"] for a in am.api("/api/v2/alerts")
            }
            assert states == {"INC-quiet": "suppressed", "INC-loud": "active"}
            # Both are in one group (same alertname, contract, service, kpi): the notification
            # that carried INC-loud would have carried INC-quiet too.
            assert hook.alerts(lambda a: a["labels"]["item_id"] == "INC-quiet") == []


def test_a_worker_that_is_not_the_leader_posts_nothing() -> None:
    closed_after(not_the_leader())


async def not_the_leader() -> None:
    clock = Clock()
    port = free_port()  # nothing listens: any post would fail and be counted
    sender, metrics = delivery(f"http://127.0.0.1:{port}", clock)
    sender.offer("acme-desk", [episode("INC-1", clock.now)], clock.now)
    rounds = iter([False, False, True])  # two rounds as a non-leader, then stop
    await sender.run(lambda: next(rounds), interval=0.0, active=lambda: False)
    assert sample(metrics, "pulse_alert_delivery_requests_total", {"result": "failed"}) == 0
    assert sender.pending == 1  # kept for when it leads again


def test_episodes_are_told_once() -> None:
    closed_after(told_once())


async def told_once() -> None:
    clock = Clock()
    port = free_port()  # nothing listens: a post would raise
    sender, _ = delivery(f"http://127.0.0.1:{port}", clock)
    over = episode("INC-old", clock.now - timedelta(hours=2), clock.now - timedelta(hours=1))
    # The monitor's first round after a start: what is already over is not announced.
    sender.offer("acme-desk", [over], clock.now)
    assert sender.pending == 0 and await sender.flush() == 0
    # The monitor offers every episode every round: an episode told in full is not told again.
    sender.offer("acme-desk", [over], clock.now)
    assert sender.pending == 0
    fresh = episode("INC-new", clock.now - timedelta(minutes=5), clock.now - timedelta(minutes=1))
    sender.offer("acme-desk", [over, fresh], clock.now)  # fired and resolved within one round
    assert sender.pending == 1  # posted firing first, then resolved
