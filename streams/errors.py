"""Errors of the Kafka and stack adapters; the tree is in ``outcome_pulse.processors.errors``."""

from __future__ import annotations

from outcome_pulse.processors.errors import PulseError


class BrokerError(PulseError):
    """Kafka is unreachable or refused a request."""


class StackError(PulseError):
    """The local stack cannot be installed, started or reached."""


class SourceApiError(PulseError):
    """A polled API failed after retries, refused us, or answered something that is not a page."""


class ReportError(PulseError):
    """A report could not be written (headless browser missing or failing, file not written)."""
