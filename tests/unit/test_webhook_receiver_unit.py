"""The receiver's answers when Kafka does not acknowledge (503 + Retry-After, so the sender
retries) and when it is unreachable (/readyz 503). Kafka's failure is simulated by a producer
that raises; the real broker paths are in tests/integration/test_webhook_receiver.py."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import httpx
from pydantic import SecretStr

from outcome_pulse.sinks.ingest_metrics import IngestMetrics
from outcome_pulse.streams.errors import BrokerError
from outcome_pulse.streams.live.auth import FeedAuth
from outcome_pulse.streams.live.feeds import Feed, RateConfig
from outcome_pulse.streams.live.json_mapping import load_live_mapping
from outcome_pulse.streams.live.producer import LiveProducer
from outcome_pulse.streams.live.webhook_app import WebhookReceiver, create_app
from outcome_pulse.streams.settings import PulseSettings
from outcome_pulse.streams.wire.deadletter import DeadLetter
from outcome_pulse.streams.wire.events import EventEnvelope
from tests.support.live_payloads import histories, servicenow_record


class BrokenProducer(LiveProducer):
    def __init__(self) -> None:
        super().__init__(PulseSettings())

    async def start(self) -> None:
        pass

    async def stop(self) -> None:
        pass

    async def send_events(self, events: Sequence[EventEnvelope]) -> None:
        raise BrokerError("Kafka did not acknowledge events within 15s")

    async def send_dead_letters(self, letters: Sequence[DeadLetter]) -> None:
        raise BrokerError("Kafka did not acknowledge dead letters within 15s")

    async def reachable(self, timeout: float = 3.0) -> bool:
        return False


def client() -> httpx.AsyncClient:
    feed = Feed(
        "sn",
        load_live_mapping("servicenow", source="sn"),
        FeedAuth("bearer", SecretStr("t")),
        RateConfig(),
    )
    producer = BrokenProducer()
    metrics = IngestMetrics()
    receiver = WebhookReceiver(PulseSettings(), {"sn": feed}, producer, metrics)
    app = create_app(receiver, producer, metrics)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://rx")


def test_no_acknowledgement_means_503_and_retry() -> None:
    asyncio.run(_no_acknowledgement())


async def _no_acknowledgement() -> None:
    async with client() as http:
        record = servicenow_record(histories(1, seed=1)[0])
        r = await http.post("/hooks/sn", json=record, headers={"Authorization": "Bearer t"})
        assert r.status_code == 503 and r.headers["Retry-After"] == "5"
        bad = await http.post("/hooks/sn", content=b"{", headers={"Authorization": "Bearer t"})
        assert bad.status_code == 503  # its dead letter was not stored either: retry
        assert (await http.get("/readyz")).status_code == 503
        assert (await http.get("/healthz")).status_code == 200
        assert 'outcome="unavailable"} 2.0' in (await http.get("/metrics")).text
