"""Record batches straight from faust's consumer to the batch handler, off faust's stream path.

faust delivers every record through its conductor, a channel queue, an ``Event`` and the agent's
stream, with a task pair per record (``wait_first``): that alone capped a do-nothing agent near
5,800 events/s here, against about 120,000 for a bare aiokafka loop. faust still does what it is
good at (group membership, rebalances, the changelog-backed item table, recovery, commits, the
worker lifecycle); this mixin replaces only its *drain* loop for one topic: the records a fetch
returns for the events topic go to a batch callback as one list, and are acknowledged in faust's
commit bookkeeping (``_acked``) only after the batch's rows are written. Records of every other
topic (changelogs during standby, anything else) take faust's own per-record path unchanged.

The callback has two halves, a pipeline of depth 2: calling it prepares the batch (decode, fold,
table writes: CPU work, nothing awaited) and returns the coroutine function that writes it (the
database). The drain prepares batch N+1 while the write of batch N is in flight, then waits for
N's write (and its acknowledgement) before it starts N+1's: one write at a time, in fetch order,
each batch acknowledged right after its own write. On two cores this lets PostgreSQL work on one
batch while Python decodes the next.

The guarantees of the stream path are kept:

* offsets are acknowledged only after the batch's rows are written (its write returned: that
  includes the broker's acknowledgement of its item-table changelog records, ``changelog.py``),
  in fetch order, and faust flushes the producer (dead letters) before it commits them;
* a rebalance (or a shutdown) waits for every batch in flight, prepared or being written
  (``wait_empty``), before partitions are revoked;
* a failed write is never followed by another: the drain raises it before writing the next;
* records fetched while flow is stopped, or across a generation change, are not processed: the
  partition is re-read from its committed offset, as faust's own ``getmany`` does;
* records below the read offset (already handed over) are skipped, as in faust's drain.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from faust.transport.consumer import CONSUMER_FETCHING
from faust.types import TP

log = logging.getLogger(__name__)

STOP_GRACE = 5.0
"""Seconds a stopping worker lets the batch being written finish (then it is cancelled)."""

# (topic-partition, aiokafka ConsumerRecord) pairs, in fetch order per partition
RecordBatch = Sequence[tuple[TP, Any]]
# Writes a prepared batch (its rows, its dead letters); the batch is acknowledged once it returns.
BatchWrite = Callable[[], Awaitable[None]]
# Prepares a batch when called (no awaiting) and returns what writes it.
BatchCallback = Callable[[RecordBatch], BatchWrite]


class BatchDrainMixin:
    """Mixed into a faust ``Consumer``; ``drain_in_batches`` before the worker starts."""

    _batch_topic: str | None = None
    _batch_callback: BatchCallback | None = None
    _batch_idle: asyncio.Event | None = None
    _batches_in_flight: int = 0  # prepared and not yet written and acknowledged
    _batch_write: asyncio.Future[None] | None = None  # the write of the last batch prepared

    def drain_in_batches(self, topic: str, callback: BatchCallback) -> None:
        self._batch_topic = topic
        self._batch_callback = callback

    def _idle(self) -> asyncio.Event:
        if self._batch_idle is None:
            self._batch_idle = asyncio.Event()
            self._batch_idle.set()
        return self._batch_idle

    async def wait_empty(self) -> None:
        # A rebalance (or shutdown) waits for the batches in flight: their acks must land first.
        await self._idle().wait()
        await super().wait_empty()  # type: ignore[misc]

    def _batch_started(self) -> None:
        self._batches_in_flight += 1
        self._idle().clear()

    def _batch_ended(self) -> None:
        self._batches_in_flight -= 1
        if self._batches_in_flight == 0:
            self._idle().set()

    async def _drain_messages(self, fetcher: Any) -> None:
        if self._batch_callback is None:
            await super()._drain_messages(fetcher)  # type: ignore[misc]
            return
        me: Any = self
        consumer_stopped = me._stopped.is_set
        fetcher_stopped = fetcher._stopped.is_set
        try:
            while not (consumer_stopped() or fetcher_stopped()):
                me.diag.set_flag(CONSUMER_FETCHING)
                try:
                    await self._drain_once()
                finally:
                    me.diag.unset_flag(CONSUMER_FETCHING)
            await self._last_write()
        except me.consumer_stopped_errors:
            await self._last_write()
            if me.transport.app.should_stop:
                log.info("broker stopped the consumer, shutting down")
                return
            raise
        except asyncio.CancelledError:
            # A stop: the write in flight (nearly always one, with the pipeline) may finish for
            # STOP_GRACE seconds and is acknowledged if it does; then it is cancelled and its
            # batch stays unacknowledged (the process exits 70, app.py), to be read again.
            await self._last_write(grace=STOP_GRACE)
            if me.transport.app.should_stop:
                return
            raise

    async def _last_write(self, *, grace: float | None = None) -> None:
        """Wait for the write in flight when the drain ends (at most ``grace`` seconds, then
        cancel it)."""
        pending, self._batch_write = self._batch_write, None
        if pending is None:
            return
        if grace is not None:
            done, _ = await asyncio.wait([pending], timeout=grace)
            if not done:
                log.warning(
                    "stopping: the batch being written did not finish within %.0f s; it is "
                    "left unacknowledged and will be read again",
                    grace,
                )
                pending.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await pending

    async def _drain_once(self) -> None:
        me: Any = self
        if self._batch_write is not None and self._batch_write.done():
            self._batch_write.result()  # a failed write stops the drain before any other
        records, active = await me._wait_next_records(1.0)
        await me.sleep(0)
        if records is None or me.should_stop:
            return
        if not me.flow_active:
            await me.perform_seek()  # as faust's getmany: fetched while stopped, read again
            return
        generation = me.app.consumer_generation_id
        batch: list[tuple[TP, Any]] = []
        for tp, tp_records in records.items():
            if not (active is None or tp in active or tp in me._buffered_partitions):
                continue
            me.app.monitor.track_tp_end_offset(tp, me.highwater(tp))
            if tp.topic == self._batch_topic:
                read = me._read_offset[tp]
                batch.extend((tp, r) for r in tp_records if read is None or r.offset >= read)
            else:
                await self._one_by_one(tp, tp_records)
        if not batch:
            return
        if not me.flow_active or generation != me.app.consumer_generation_id:
            await me.perform_seek()  # a rebalance began while fetching: not ours to process
            return
        assert self._batch_callback is not None
        self._batch_started()
        try:
            write = self._batch_callback(batch)  # prepared now, while the previous one writes
            previous = self._batch_write
            if previous is not None:
                await previous  # written and acknowledged; a failure raises here
        except BaseException:
            self._batch_ended()
            raise
        self._batch_write = asyncio.ensure_future(self._write_and_acknowledge(write, batch))
        commit_every = me._commit_every
        if commit_every is not None and me._n_acked >= commit_every:
            me._n_acked = 0
            await me.commit()

    async def _write_and_acknowledge(self, write: BatchWrite, batch: RecordBatch) -> None:
        try:
            await write()
            self._acknowledge(batch)
        finally:
            self._batch_ended()

    def _acknowledge(self, batch: RecordBatch) -> None:
        """What faust's ``Consumer.ack`` does per message, once per batch."""
        me: Any = self
        last: dict[TP, int] = {}
        n = 0
        for tp, record in batch:
            offset = record.offset
            committed = me._committed_offset[tp]
            if committed is not None and offset < committed:
                continue
            index = me._acked_index[tp]
            if offset in index:
                continue
            index.add(offset)
            me._acked[tp].append(offset)
            last[tp] = offset
            n += 1
        me._n_acked += n
        for tp, offset in last.items():
            me._read_offset[tp] = offset
        me._notify_ack()

    def _notify_ack(self) -> None:
        me: Any = self
        waiting = me._waiting_for_ack
        if waiting is not None and not waiting.done():
            waiting.set_result(None)

    async def _one_by_one(self, tp: TP, tp_records: Sequence[Any]) -> None:
        """faust's own per-record path, for topics other than the batched one."""
        me: Any = self
        for record in tp_records:
            offset = record.offset
            read = me._read_offset[tp]
            if read is not None and offset < read:
                continue
            if read and offset - read > 1 and me.app.topics.acks_enabled_for(tp.topic):
                await me._add_gap(tp, read + 1, offset)
            await me.wait_first(me.callback(me._to_message(tp, record)), me.suspend_flow.wait())
            me._read_offset[tp] = offset
