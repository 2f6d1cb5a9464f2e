"""How far the input has come in event time, from the progress of each Kafka partition.

Kafka keeps order only within a partition, and a replay (or a backlog after an outage) can run one
partition far ahead of another. Taking the latest event time over all partitions as the input's
*frontier* would then put the watermark past events of the slow partitions that are still on their
way, on time: they would count as late and revise rows already marked final. The frontier is
therefore the *minimum* over partitions of the latest event time each has delivered, so that an
event arriving within the allowed lateness of its own partition's progress is never late.

A partition that delivers nothing would hold the frontier back for ever (a quiet source, fewer
items than partitions). The idle rule: a partition is *idle* when the consumer had read all its
records (it was *caught up*: its last offset read was the last in the log) and nothing new was
stored from it for ``idle_after`` of wall time; an idle partition does not hold the frontier back.
When every partition is idle, the frontier is the latest event time over all of them (what the
backtest uses, so a streaming run that has drained ends at the backtest's watermark).

Why this keeps ``final`` safe: a partition the consumer is behind on is never idle, however long
it takes (a replay running ahead, a backlog after an outage), so none of its records already in
Kafka can be overtaken. *Behind* is asked of the broker each round (``backlog``: records of the
partition the worker group has not committed, from the group's committed offsets and the
partition's end offset; the worker commits a record only after it is stored): the ``caught_up``
flag the sink stored with the partition's latest records is what the consumer knew when it read
them, and a busy worker can sit on a partition's next fetch for longer than ``idle_after`` (seen on
a loaded machine: thousands of on-time events counted late). A partition with a backlog but no
records stored yet holds the frontier where it was (nothing is known of its event times); so does
a round that could not ask the broker.

An idle partition had nothing left to read; leaving it out can only be wrong for a record
produced to it *after* ``idle_after`` of silence with an event time older than the others'
progress, and such a record is late by any definition: it is still applied exactly, recorded in
``pulse_late_events`` with the final rows it corrected, and counted, as any late event is.
``idle_after`` should exceed the time a new record may sit in a caught-up partition unread (a
rebalance after a worker died: the consumer group's session timeout, 10 s here).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta


@dataclass(frozen=True, slots=True)
class PartitionProgress:
    """One partition's progress: its latest event time stored, whether the consumer had read
    all its records then, and the wall time since its latest records were stored."""

    topic: str
    partition: int
    latest_event_time: datetime
    caught_up: bool
    silent_for: timedelta
    backlog: int = 0
    """Records of the partition in Kafka not yet committed by the worker group (asked of the
    broker this round); a partition with a backlog is never idle."""

    def idle(self, idle_after: timedelta) -> bool:
        return self.backlog == 0 and self.caught_up and self.silent_for >= idle_after


class Hold:
    """The frontier stays where it was this round (see the module doc)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "HOLD"


HOLD = Hold()


def event_time_frontier(
    progress: Sequence[PartitionProgress],
    idle_after: timedelta,
    backlog: Mapping[tuple[str, int], int] | Hold | None = None,
) -> datetime | Hold | None:
    """The event time every partition that is not idle has reached (see the module doc); None
    when no partition has delivered anything.

    ``backlog``: per (topic, partition), the records the worker group has not committed, asked
    of the broker (None: not asked, as in tests of the rule alone; ``HOLD``: asking failed).
    """
    if isinstance(backlog, Hold):
        return HOLD
    if backlog is not None:
        stored = {(p.topic, p.partition) for p in progress}
        if any(n > 0 and key not in stored for key, n in backlog.items()):
            return HOLD  # records on their way from a partition nothing was stored from yet
        progress = [replace(p, backlog=backlog.get((p.topic, p.partition), 0)) for p in progress]
    if not progress:
        return None
    active = [p.latest_event_time for p in progress if not p.idle(idle_after)]
    if active:
        return min(active)
    return max(p.latest_event_time for p in progress)


__all__ = ["HOLD", "Hold", "PartitionProgress", "event_time_frontier"]
