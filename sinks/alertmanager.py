"""Alert delivery: the monitor's alert episodes posted to Alertmanager's v2 API.

Alertmanager owns routing, grouping, deduplication, silences and notification; this adapter
keeps it told what fires. The contract monitor hands over each contract's current episodes after
its round committed (``offer``); a loop (``run``) posts what is due to ``POST /api/v2/alerts``:

* a firing episode: at once, then again every ``resend_every`` seconds while it fires, with
  ``endsAt`` four resend intervals ahead (so Alertmanager resolves it by itself if the pipeline
  goes away, as Prometheus does);
* a resolved episode that was posted firing: once more with ``endsAt`` = its resolution's event
  time, then forgotten. An episode that resolved before it was ever posted is posted firing
  first and resolved ``min_firing`` seconds later, so an alert that fired reaches its owner even
  when one monitor round saw it start and end;
* an episode that disappeared (history corrected within the allowed lateness) and was posted is
  resolved now;
* an episode that was already resolved when this worker first heard of its contract (the
  monitor's first round after a start or a takeover) is not announced: it was announced by the
  previous monitor, or it is over. The monitor offers every episode every round; episodes told
  in full are remembered and not told again.

Labels are the episode's (alertname, client, contract, service, kpi, severity, owner, ...);
annotations its summary, description and dashboard link; ``startsAt`` the event time it fired.

History replayed from an export must not page anyone today: when a contract's latest event time
is more than ``historic_after`` behind the wall clock its episodes are recorded (``pulse_alerts``)
but not delivered, unless ``deliver_historic``. Alertmanager being down never loses an alert nor
stops the monitor: a failed post (after a few quick retries, tenacity) leaves the states queued
and the next cycle posts them again. Time for delivery is wall-clock time, from an injected clock.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from tenacity import (
    AsyncRetrying,
    retry_if_exception_type,
    stop_after_attempt,
    wait_exponential,
)

from outcome_pulse.processors.alerting.episodes import AlertEpisode
from outcome_pulse.sinks.errors import AlertDeliveryError
from outcome_pulse.sinks.health_metrics import HealthMetrics

log = logging.getLogger(__name__)
Key = tuple[str, str, datetime]
_BATCH = 500


@dataclass(slots=True)
class _State:
    episode: AlertEpisode
    historic: bool
    first_posted: datetime | None = None
    last_posted: datetime | None = None
    resolved_posted: bool = False
    counted_historic: bool = False
    gone: bool = False


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def alert_payload(episode: AlertEpisode, ends_at: datetime) -> dict[str, Any]:
    """One alert of the v2 API's ``postableAlerts``."""
    return {
        "labels": dict(episode.labels),
        "annotations": dict(episode.annotations),
        "startsAt": _iso(episode.fired_at),
        "endsAt": _iso(ends_at),
        "generatorURL": episode.annotations.get("dashboard", ""),
    }


class AlertmanagerClient:
    """``POST /api/v2/alerts`` with a few quick retries; errors become ``AlertDeliveryError``."""

    def __init__(self, url: str, *, timeout: float = 5.0, attempts: int = 3) -> None:
        self.url = url.rstrip("/")
        self._client = httpx.AsyncClient(timeout=timeout)
        self._attempts = attempts

    async def post(self, alerts: Sequence[dict[str, Any]]) -> None:
        if not alerts:
            return
        try:
            async for attempt in AsyncRetrying(
                stop=stop_after_attempt(self._attempts),
                wait=wait_exponential(multiplier=0.2, max=2.0),
                retry=retry_if_exception_type(httpx.TransportError),
                reraise=True,
            ):
                with attempt:
                    response = await self._client.post(f"{self.url}/api/v2/alerts", json=alerts)
        except httpx.HTTPError as exc:
            raise AlertDeliveryError(f"cannot reach Alertmanager at {self.url}: {exc}") from exc
        if response.status_code >= 300:
            raise AlertDeliveryError(
                f"Alertmanager at {self.url} refused {len(alerts)} alerts: HTTP "
                f"{response.status_code} {response.text[:300]}"
            )

    async def close(self) -> None:
        await self._client.aclose()


class AlertDelivery:
    """The queue of alert states to post (see the module doc)."""

    def __init__(
        self,
        client: AlertmanagerClient,
        *,
        deliver_historic: bool = False,
        historic_after: timedelta = timedelta(days=1),
        resend_every: float = 60.0,
        min_firing: float = 30.0,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        metrics: HealthMetrics | None = None,
    ) -> None:
        self.client = client
        self.deliver_historic = deliver_historic
        self.historic_after = historic_after
        self.resend_every = timedelta(seconds=resend_every)
        self.min_firing = timedelta(seconds=min_firing)
        self.clock = clock
        self.metrics = metrics
        self._states: dict[Key, _State] = {}
        self._contracts: dict[str, set[Key]] = {}
        self._done: set[Key] = set()
        """Episodes told in full (resolution posted) or not to be told: offers ignore them."""
        self._failing_since: datetime | None = None

    # -- from the monitor ------------------------------------------------------------------------

    def offer(
        self, contract: str, episodes: Iterable[AlertEpisode], event_now: datetime | None
    ) -> None:
        """The contract's episodes now, evaluated up to event time ``event_now``."""
        historic = event_now is None or event_now < self.clock() - self.historic_after
        first = contract not in self._contracts
        current: set[Key] = set()
        for episode in episodes:
            key = episode.key
            current.add(key)
            if key in self._done:
                continue
            state = self._states.get(key)
            if state is not None:
                state.episode = episode
            elif first and episode.resolved_at is not None:
                self._done.add(key)  # over before this monitor started: announced, or too late
            else:
                self._states[key] = _State(episode, historic and not self.deliver_historic)
        for key in self._contracts.get(contract, set()) - current:
            state = self._states.get(key)
            if state is not None:
                state.gone = True
        self._contracts[contract] = current
        self._gauge()

    def forget(self, contract: str) -> None:
        """Stop telling ``contract``'s alerts: this worker no longer evaluates it (its
        evaluation shard moved to another worker, whose delivery announces what fires; what
        was posted firing here ends by itself at its ``endsAt``)."""
        keys = self._contracts.pop(contract, set())
        for key in list(self._states):
            if key[0] == contract:
                del self._states[key]
        self._done = {key for key in self._done if key[0] != contract}
        if keys:
            log.info("alert delivery: %s released, %d alert states dropped", contract, len(keys))
        self._gauge()

    # -- the loop --------------------------------------------------------------------------------

    def due(self) -> list[tuple[Key, datetime, dict[str, Any]]]:
        """The alerts to post now: each state's key, the ``endsAt`` and the alert."""
        now = self.clock()
        out: list[tuple[Key, datetime, dict[str, Any]]] = []
        ahead = now + 4 * self.resend_every
        for key, state in list(self._states.items()):
            episode = state.episode
            if state.historic:
                if not state.counted_historic and self.metrics is not None:
                    self.metrics.alert_deliveries.labels("historic").inc()
                state.counted_historic = True
                if episode.resolved_at is not None or state.gone:
                    del self._states[key]  # recorded in pulse_alerts; nothing to tell anyone
                    self._done.add(key)
                continue
            if state.gone or episode.resolved_at is not None:
                if state.first_posted is None:
                    out.append((key, ahead, alert_payload(episode, ahead)))
                elif now - state.first_posted >= self.min_firing:
                    ends = now if state.gone or episode.resolved_at is None else episode.resolved_at
                    out.append((key, min(ends, now), alert_payload(episode, min(ends, now))))
                continue
            if state.last_posted is None or now - state.last_posted >= self.resend_every:
                out.append((key, ahead, alert_payload(episode, ahead)))
        return out

    async def flush(self) -> int:
        """Post what is due; returns how many alerts were sent (AlertDeliveryError: none)."""
        due = self.due()
        if not due:
            self._gauge()
            return 0
        now = self.clock()
        for start in range(0, len(due), _BATCH):
            chunk = due[start : start + _BATCH]
            try:
                await self.client.post([payload for _, _, payload in chunk])
            except AlertDeliveryError:
                self._count("failed", len(due) - start)
                self._gauge()
                raise
            self._count("sent", len(chunk))
            for key, ends, _ in chunk:
                self._mark_posted(key, ends, now)
        self._gauge()
        return len(due)

    def _mark_posted(self, key: Key, ends: datetime, now: datetime) -> None:
        state = self._states.get(key)
        if state is None:
            return
        resolving = state.first_posted is not None and (
            state.gone or state.episode.resolved_at is not None
        )
        if state.first_posted is None:
            state.first_posted = now
        state.last_posted = now
        if resolving and ends <= now:
            del self._states[key]
            self._done.add(key)

    async def run(
        self,
        should_stop: Callable[[], bool],
        interval: float = 1.0,
        active: Callable[[], bool] = lambda: True,
    ) -> None:
        """Flush every ``interval`` seconds until ``should_stop()``; never raises on delivery.
        While ``active()`` is false it posts nothing; its states wait."""
        while not should_stop():
            if not active():
                await asyncio.sleep(interval)
                continue
            try:
                await self.flush()
                if self._failing_since is not None:
                    log.warning("alert delivery: Alertmanager reachable again; queue flushed")
                    self._failing_since = None
            except AlertDeliveryError as exc:
                now = self.clock()
                if self._failing_since is None or now - self._failing_since > timedelta(minutes=1):
                    log.warning("alert delivery: %s; %d alert states queued", exc, self.pending)
                    self._failing_since = now
            await asyncio.sleep(interval)

    @property
    def pending(self) -> int:
        return sum(1 for s in self._states.values() if not s.historic)

    def _count(self, outcome: str, n: int) -> None:
        if self.metrics is not None and n:
            self.metrics.alert_deliveries.labels(outcome).inc(n)
            self.metrics.alert_posts.labels("ok" if outcome == "sent" else "failed").inc()

    def _gauge(self) -> None:
        if self.metrics is not None:
            self.metrics.alert_queue.set(self.pending)

    async def close(self) -> None:
        await self.client.close()


__all__ = ["AlertDelivery", "AlertmanagerClient", "alert_payload"]
