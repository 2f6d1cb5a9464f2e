"""Per-item SLA clocks: start, pause, resume, stop and reopen, read at any instant.

A clock is the *set* of its timestamped transitions, not a sequence of mutations. Reading it
folds the transitions in one total order: event time, then the producer's sequence number, then
a fixed rank of the action (start, reopen, resume, pause, stop), then the event id. So the same
set gives the same answer whatever order it arrived in, a duplicate changes nothing, and a late
transition simply takes its place in history. Reading at ``now`` only uses the transitions at or
before ``now``, so a reading of the past is what the clock said then.

The state machine (anything not listed is ignored, e.g. a pause before the start or a second
start):

    not_started --start--> running --pause--> paused --resume--> running
    running|paused --stop--> stopped --reopen--> running
    running|paused --cancel--> cancelled --reopen--> running

A cancelled clock ends like a stopped one but measures nothing: no outcome, no resolution (an
item called off, a duplicate). Its time before the cancel still counted while it was open.

Stopped-then-reopened items keep the time they had: the time between stop and reopen does not
count. With ``retroactive_start`` the first start counts from the item's opening time when the
start condition arrives later (pauses in between still apply).

The policy holds the target as *business* time on a ``BusinessCalendar``. A reading gives the
elapsed business time, the share of the target used, whether the item is at risk or breached, and
``breach_at``: the instant the whole target is used up (any further business time is a breach),
already in the past, or predicted if nothing changes. A paused clock has no predicted breach
(``None``): it cannot breach while paused, and when it will depends on when it resumes.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from outcome_pulse.processors.calendar import ALWAYS, ZERO, BusinessCalendar, require_aware


class ClockAction(StrEnum):
    START = "start"
    PAUSE = "pause"
    RESUME = "resume"
    STOP = "stop"
    REOPEN = "reopen"
    CANCEL = "cancel"


# Tie-break between transitions at the same instant with the same sequence number: an item
# opened and resolved in the same second was started, then stopped (met, zero time).
_TIE_RANK = {
    ClockAction.START: 0,
    ClockAction.REOPEN: 1,
    ClockAction.RESUME: 2,
    ClockAction.PAUSE: 3,
    ClockAction.STOP: 4,
    ClockAction.CANCEL: 5,
}


class ClockStatus(StrEnum):
    NOT_STARTED = "not_started"
    RUNNING = "running"
    PAUSED = "paused"
    STOPPED = "stopped"
    CANCELLED = "cancelled"


class ClockOutcome(StrEnum):
    MET = "met"
    MISSED = "missed"


@dataclass(frozen=True, slots=True)
class ClockTransition:
    """One timestamped instruction to a clock; ``sequence`` and ``event_id`` break ties."""

    at: datetime
    action: ClockAction
    sequence: int = 0
    event_id: str = ""

    def __post_init__(self) -> None:
        require_aware(self.at, "at")
        object.__setattr__(self, "at", self.at.astimezone(UTC))

    @property
    def order(self) -> tuple[datetime, int, int, str]:
        return (self.at, self.sequence, _TIE_RANK[self.action], self.event_id)


@dataclass(frozen=True, slots=True)
class RunningSpan:
    """The clock ran from ``start`` to ``end`` (``None``: still running)."""

    start: datetime
    end: datetime | None = None


@dataclass(frozen=True, slots=True)
class ClockTimeline:
    """The result of folding a clock's transitions: its status and when it ran."""

    status: ClockStatus
    spans: tuple[RunningSpan, ...] = ()
    started_at: datetime | None = None
    paused_at: datetime | None = None
    stopped_at: datetime | None = None
    stops: tuple[datetime, ...] = ()
    """Every transition that stopped the clock (more than one when it was reopened)."""
    episodes: tuple[RunningSpan, ...] = ()
    """When the clock was open (running or paused): from a start or reopen to the next stop."""


def fold_transitions(
    transitions: Iterable[ClockTransition],
    *,
    opened_at: datetime | None = None,
    retroactive_start: bool = False,
    until: datetime | None = None,
) -> ClockTimeline:
    """Fold transitions (those at or before ``until``, if given) in their total order."""
    chosen = {t for t in transitions if until is None or t.at <= until}
    ordered = sorted(chosen, key=lambda t: t.order)
    if retroactive_start and opened_at is not None:
        ordered = _start_at_opening(ordered, opened_at.astimezone(UTC))
    status = ClockStatus.NOT_STARTED
    spans: list[RunningSpan] = []
    stops: list[datetime] = []
    episodes: list[RunningSpan] = []
    run_from = started_at = paused_at = stopped_at = open_from = None
    for transition in ordered:
        action, at = transition.action, transition.at
        if action is ClockAction.START and status is ClockStatus.NOT_STARTED:
            status, run_from, started_at, open_from = ClockStatus.RUNNING, at, at, at
        elif action is ClockAction.PAUSE and status is ClockStatus.RUNNING:
            spans.append(RunningSpan(_set(run_from), at))
            status, paused_at = ClockStatus.PAUSED, at
        elif action is ClockAction.RESUME and status is ClockStatus.PAUSED:
            status, run_from, paused_at = ClockStatus.RUNNING, at, None
        elif action is ClockAction.STOP and status in (ClockStatus.RUNNING, ClockStatus.PAUSED):
            if status is ClockStatus.RUNNING:
                spans.append(RunningSpan(_set(run_from), at))
            status, stopped_at, paused_at = ClockStatus.STOPPED, at, None
            stops.append(at)
            episodes.append(RunningSpan(_set(open_from), at))
        elif action is ClockAction.CANCEL and status in (ClockStatus.RUNNING, ClockStatus.PAUSED):
            if status is ClockStatus.RUNNING:
                spans.append(RunningSpan(_set(run_from), at))
            status, paused_at = ClockStatus.CANCELLED, None
            episodes.append(RunningSpan(_set(open_from), at))
        elif action is ClockAction.REOPEN and status in (
            ClockStatus.STOPPED,
            ClockStatus.CANCELLED,
        ):
            status, run_from, stopped_at, open_from = ClockStatus.RUNNING, at, None, at
    if status is ClockStatus.RUNNING:
        spans.append(RunningSpan(_set(run_from)))
    if status in (ClockStatus.RUNNING, ClockStatus.PAUSED):
        episodes.append(RunningSpan(_set(open_from)))
    return ClockTimeline(
        status, tuple(spans), started_at, paused_at, stopped_at, tuple(stops), tuple(episodes)
    )


def _set(moment: datetime | None) -> datetime:
    assert moment is not None  # the state machine sets run_from whenever it is RUNNING
    return moment


def _start_at_opening(ordered: list[ClockTransition], opened_at: datetime) -> list[ClockTransition]:
    """Move the first start back to the opening time (never forward), then re-sort."""
    for index, transition in enumerate(ordered):
        if transition.action is ClockAction.START:
            if opened_at < transition.at:
                moved = replace(transition, at=opened_at, sequence=-1)
                rest = ordered[:index] + ordered[index + 1 :]
                return sorted([*rest, moved], key=lambda t: t.order)
            break
    return ordered


@dataclass(frozen=True, slots=True)
class ClockPolicy:
    """What a clock measures against: a business-time target on a calendar.

    ``at_risk_share``: an open item that has used at least this share of its target (and has
    not breached yet) is at risk.
    """

    target: timedelta
    calendar: BusinessCalendar = ALWAYS
    at_risk_share: float = 0.8
    retroactive_start: bool = False

    def __post_init__(self) -> None:
        if self.target <= ZERO:
            raise ValueError(f"target must be positive (got {self.target})")
        if not 0.0 < self.at_risk_share <= 1.0:
            raise ValueError(f"at_risk_share must be in (0, 1] (got {self.at_risk_share})")


@dataclass(frozen=True, slots=True)
class ClockReading:
    """What a clock says at ``now``.

    ``breach_at``: the instant the whole target is (or was) used up. In the past when the target
    is already used up; predicted when the clock runs; ``None`` while paused short of the target
    (a paused clock does not move, so no breach can be predicted), before the start, and when
    stopped before using the whole target. ``outcome`` is set only once stopped.
    """

    now: datetime
    status: ClockStatus
    elapsed: timedelta
    target: timedelta
    share_used: float
    at_risk: bool
    breached: bool
    breach_at: datetime | None
    outcome: ClockOutcome | None
    started_at: datetime | None
    stopped_at: datetime | None

    @property
    def remaining(self) -> timedelta:
        return max(self.target - self.elapsed, ZERO)

    @property
    def is_open(self) -> bool:
        return self.status in (ClockStatus.RUNNING, ClockStatus.PAUSED)


@dataclass(frozen=True, slots=True)
class SlaClock:
    """One item's clock: a policy, the item's opening time and the set of its transitions."""

    policy: ClockPolicy
    opened_at: datetime | None = None
    transitions: frozenset[ClockTransition] = frozenset()

    def __post_init__(self) -> None:
        if self.opened_at is not None:
            require_aware(self.opened_at, "opened_at")
            object.__setattr__(self, "opened_at", self.opened_at.astimezone(UTC))

    def record(self, *transitions: ClockTransition) -> SlaClock:
        """This clock with more transitions (a transition already recorded changes nothing)."""
        return replace(self, transitions=self.transitions | frozenset(transitions))

    def opened(self, at: datetime) -> SlaClock:
        """This clock with the item opened at ``at`` (the earliest opening time wins)."""
        require_aware(at, "at")
        at = at.astimezone(UTC)
        earliest = at if self.opened_at is None else min(self.opened_at, at)
        return replace(self, opened_at=earliest)

    def with_policy(self, policy: ClockPolicy) -> SlaClock:
        """This clock measured against another policy (e.g. after a priority change)."""
        return replace(self, policy=policy)

    def timeline(self, until: datetime | None = None) -> ClockTimeline:
        return fold_transitions(
            self.transitions,
            opened_at=self.opened_at,
            retroactive_start=self.policy.retroactive_start,
            until=until,
        )

    def read(self, now: datetime) -> ClockReading:
        require_aware(now, "now")
        now = now.astimezone(UTC)
        return read_timeline(self.policy, self.timeline(until=now), now)


def read_timeline(policy: ClockPolicy, timeline: ClockTimeline, now: datetime) -> ClockReading:
    """What a clock of ``policy`` whose transitions up to ``now`` fold to ``timeline`` says at
    ``now`` (``SlaClock.read``; a caller that holds the folded timeline skips the fold)."""
    require_aware(now, "now")
    now = now.astimezone(UTC)
    calendar, target = policy.calendar, policy.target
    elapsed = ZERO
    breach_at: datetime | None = None
    for span in timeline.spans:
        end = now if span.end is None else span.end
        length = calendar.business_time_between(span.start, end)
        if breach_at is None and (span.end is None or elapsed + length >= target):
            # Used up inside this span, or (still running) predicted from its start.
            breach_at = calendar.add_business_time(span.start, max(target - elapsed, ZERO))
        elapsed += length
    share = elapsed / target
    breached = elapsed > target
    is_open = timeline.status in (ClockStatus.RUNNING, ClockStatus.PAUSED)
    outcome = None
    if timeline.status is ClockStatus.STOPPED:
        outcome = ClockOutcome.MISSED if breached else ClockOutcome.MET
    return ClockReading(
        now=now,
        status=timeline.status,
        elapsed=elapsed,
        target=target,
        share_used=share,
        at_risk=is_open and not breached and share >= policy.at_risk_share,
        breached=breached,
        breach_at=breach_at,
        outcome=outcome,
        started_at=timeline.started_at,
        stopped_at=timeline.stopped_at,
    )
