"""``pulse ingest poll``: fetch the records an API changed since a checkpoint, map them, produce
them, and advance the checkpoint only after Kafka acknowledged them.

One cycle:

1. start from the checkpoint (or the poll's ``start``) minus the ``overlap`` window, which
   re-reads records whose update time was stamped late (clock skew, long transactions);
2. fetch a page (``streams/live/poll_apis.py``); 429, 5xx, transport errors and bodies that are not
   a page are retried with backoff, honouring ``Retry-After`` (tenacity); other 4xx fail at once;
3. map every record (``streams/live/notification_events.py``; an unmappable one becomes a dead
   letter), produce dead letters and events, wait for Kafka's acknowledgement;
4. only then move the checkpoint forward to the latest update time in the page (never past our
   own clock, so a source clock running ahead cannot make us skip records), saved atomically;
5. the next page starts at that update time with offset 0 (so records moving while we page
   cannot be skipped), not sending again the records at that instant it already sent; only
   when a whole page shares the boundary time does the offset grow.

Records read twice (the overlap, the page boundary, a cycle retried after a failure) map to the
same event ids, and the worker and database deduplicate them. A failed page leaves the
checkpoint where the last acknowledged page put it.
"""

from __future__ import annotations

import asyncio
import email.utils
import hashlib
import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception_type, stop_after_attempt

from outcome_pulse.processors.errors import InvalidRecord
from outcome_pulse.sinks.ingest_metrics import IngestMetrics
from outcome_pulse.streams.errors import SourceApiError
from outcome_pulse.streams.file_import.timestamps import TimestampParser
from outcome_pulse.streams.live.checkpoint import Checkpoint, CheckpointFile
from outcome_pulse.streams.live.json_mapping import LiveMapping
from outcome_pulse.streams.live.notification_events import NotificationMapper, checked_events
from outcome_pulse.streams.live.poll_apis import InvalidPage, PolledApi
from outcome_pulse.streams.live.producer import LiveProducer
from outcome_pulse.streams.wire.deadletter import DeadLetter
from outcome_pulse.streams.wire.events import EventDecoder, EventEnvelope

log = logging.getLogger(__name__)


class _Retryable(Exception):
    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


@dataclass(frozen=True)
class CycleReport:
    pages: int
    records: int
    events: int
    dead_letters: int
    since: datetime


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 6
    first_wait: float = 1.0  # then doubling, when the API gives no Retry-After
    max_wait: float = 300.0


class Poller:
    def __init__(
        self,
        name: str,
        api: PolledApi,
        mapping: LiveMapping,
        producer: LiveProducer,
        checkpoints: CheckpointFile,
        client: httpx.AsyncClient,
        *,
        start: datetime,
        overlap: timedelta,
        metrics: IngestMetrics,
        max_event_bytes: int = 64 * 1024,
        retry: RetryPolicy = RetryPolicy(),
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.name = name
        self._api = api
        self._mapper = NotificationMapper(mapping)
        self._updated_path = mapping.paths[mapping.shared.timestamp.column]
        spec = mapping.shared.timestamp
        self._updated = TimestampParser(spec.format, spec.timezone)
        self._producer = producer
        self._checkpoints = checkpoints
        self._client = client
        self._start = start
        self._overlap = overlap
        self._metrics = metrics
        self._retry = retry
        self._clock = clock
        self._sleep = sleep
        self._decoder = EventDecoder(clock, max_bytes=max_event_bytes)

    async def cycle(self) -> CycleReport:
        saved = self._checkpoints.load()
        since = saved.since if saved is not None else self._start
        pages_done = saved.pages if saved is not None else 0
        bound, offset = since - self._overlap, 0
        pages = records_read = events_sent = letters_sent = 0
        sent_at_bound: set[str] = set()  # records at the boundary instant, already sent
        while True:
            page, records = await self._fetch(bound, offset)
            events, letters, latest, at_latest = self._map(records, sent_at_bound)
            await self._producer.send_dead_letters(letters)
            await self._producer.send_events(events)
            pages += 1
            records_read += len(records)
            events_sent += len(events)
            letters_sent += len(letters)
            self._metrics.poll_pages.labels(self.name, "produced").inc()
            self._metrics.events.labels(self.name).inc(len(events))
            for letter in letters:
                self._metrics.dead_letters.labels(self.name, letter.reason).inc()
            if latest is not None:
                latest = min(latest, self._clock())
            if latest is not None and latest > since:
                since = latest
            self._checkpoints.save(Checkpoint(since, pages_done + pages))
            self._metrics.poll_checkpoint.labels(self.name).set(since.timestamp())
            if not self._api.more(page, offset, len(records)):
                break
            if latest is not None and latest > bound:
                bound, offset, sent_at_bound = latest, 0, at_latest
            else:
                offset += len(records)
                sent_at_bound |= at_latest
        return CycleReport(pages, records_read, events_sent, letters_sent, since)

    # -- fetching --------------------------------------------------------------------------------

    async def _fetch(self, since: datetime, offset: int) -> tuple[Any, list[Any]]:
        path, params = self._api.request(since, offset)
        retrying = AsyncRetrying(
            stop=stop_after_attempt(self._retry.attempts),
            wait=self._wait,
            retry=retry_if_exception_type(_Retryable),
            sleep=self._sleep,
            reraise=True,
        )
        try:
            async for attempt in retrying:
                with attempt:
                    return await self._get(path, params)
        except _Retryable as exc:
            self._metrics.poll_pages.labels(self.name, "failed").inc()
            raise SourceApiError(
                f"poll {self.name}: {path} failed {self._retry.attempts} times, last: {exc}"
            ) from None
        raise AssertionError("unreachable: tenacity either returned or raised")

    async def _get(self, path: str, params: dict[str, str]) -> tuple[Any, list[Any]]:
        try:
            response = await self._client.get(path, params=params)
        except httpx.TransportError as exc:
            raise _Retryable(f"{type(exc).__name__}: {exc}") from None
        status = response.status_code
        if status == 429 or status >= 500:
            raise _Retryable(f"HTTP {status}", self._retry_after(response))
        if status >= 300:
            self._metrics.poll_pages.labels(self.name, "failed").inc()
            raise SourceApiError(
                f"poll {self.name}: {path} answered HTTP {status} (check the URL, the user and "
                f"its roles): {response.text[:300]}"
            )
        try:
            page = response.json()
            return page, self._api.records(page)
        except (ValueError, InvalidPage) as exc:
            raise _Retryable(f"not a page: {exc}") from None

    def _retry_after(self, response: httpx.Response) -> float | None:
        value = response.headers.get("retry-after")
        if not value:
            return None
        if value.strip().isdigit():
            return float(value)
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        return max(0.0, (when - self._clock()).total_seconds())

    def _wait(self, state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome is not None else None
        if isinstance(exc, _Retryable) and exc.retry_after is not None:
            return min(exc.retry_after, self._retry.max_wait)
        backoff = self._retry.first_wait * 2.0 ** (int(state.attempt_number) - 1)
        return float(min(backoff, self._retry.max_wait))

    # -- mapping --------------------------------------------------------------------------------

    def _map(
        self, records: list[Any], skip: set[str]
    ) -> tuple[list[EventEnvelope], list[DeadLetter], datetime | None, set[str]]:
        """Events and dead letters of the records not in ``skip`` (the boundary records the
        previous page sent: the next page starts at their instant, so it reads them again),
        the latest update time, and the records at it."""
        events: list[EventEnvelope] = []
        letters: list[DeadLetter] = []
        stamped: list[tuple[datetime | None, str]] = []
        for record in records:
            original = json.dumps(record, ensure_ascii=False, sort_keys=True).encode()
            digest = hashlib.sha256(original).hexdigest()
            stamped.append((self._updated_at(record), digest))
            if digest in skip:
                continue
            try:
                events.extend(checked_events(self._mapper, self._decoder, record).events)
            except InvalidRecord as exc:
                origin = {"poll": self.name, "channel": "poll", "record_sha256": digest}
                letters.append(DeadLetter(exc.reason, exc.detail, origin, original))
        times = [t for t, _ in stamped if t is not None]
        latest = max(times) if times else None
        at_latest = {d for t, d in stamped if t is not None and t == latest}
        return events, letters, latest, at_latest

    def _updated_at(self, record: Any) -> datetime | None:
        value = self._updated_path.lookup(record)
        if not isinstance(value, str | int | float) or isinstance(value, bool):
            return None
        try:
            return self._updated.parse(str(value))
        except (ValueError, OverflowError):
            return None
