"""What the event sink needs of an event, as a protocol: sinks never import the wire types.

``outcome_pulse.streams.wire.events.EventEnvelope`` (the validated CloudEvents envelope)
satisfies ``StoredEvent``; mypy checks it where the batch handler hands envelopes to the sink.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, Protocol


class EventPayload(Protocol):
    """The ``data`` of an event: what the item looks like after it."""

    @property
    def state(self) -> str | None: ...

    @property
    def priority(self) -> str | None: ...

    @property
    def attributes(self) -> Mapping[str, Any]: ...


class StoredEvent(Protocol):
    """One lifecycle event as ``pulse_events`` stores it (CloudEvents attributes + data)."""

    @property
    def id(self) -> str: ...

    @property
    def source(self) -> str: ...

    @property
    def type(self) -> str: ...

    @property
    def time(self) -> datetime: ...

    @property
    def subject(self) -> str: ...

    @property
    def sequence(self) -> int: ...

    @property
    def data(self) -> EventPayload: ...
