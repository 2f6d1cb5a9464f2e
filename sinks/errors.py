"""Errors of the database adapters; the whole tree is in ``outcome_pulse.processors.errors``."""

from __future__ import annotations

from outcome_pulse.processors.errors import PulseError


class SinkError(PulseError):
    """The database failed us: as such, a schema not migrated, a missing table, a misused writer."""


class SinkUnavailable(SinkError):
    """The database cannot be reached or used now; retrying later may succeed."""


class SinkRejected(SinkError):
    """The database refused this data; the same write fails every time."""


class ShardFenced(SinkError):
    """A tick or claim of an evaluation shard this process does not hold (any longer): another
    worker claimed it since, so this one's state of the shard is stale and nothing was written."""


class AlertDeliveryError(PulseError):
    """Alertmanager is unreachable or refused the alerts posted to it (from httpx)."""
