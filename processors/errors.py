"""The one exception tree of Outcome Pulse.

    PulseError                      root: every error the project raises on purpose
    ├── ConfigError                 a settings value, mapping file or contract file is wrong
    ├── InvalidRecord               one input record cannot become a valid event (dead-lettered)
    ├── SuspiciousInput             too many records of an input were rejected: stop, not guess
    ├── StackError                  the local stack cannot be installed, started or reached
    ├── BrokerError                 Kafka is unreachable or refused a request (from aiokafka/kafka)
    ├── SourceApiError              a polled API (ServiceNow, Jira) failed or answered no page
    ├── SinkError                   the database is unreachable or refused a write (from psycopg)
    ├── EvidenceError               a report's figures would disagree with the evaluation (refused)
    ├── ReportError                 a report file could not be written (browser missing or failing)
    └── EngineStateError            the contract engine was driven wrongly (e.g. an event for an
                                    item whose history was compacted, without restoring it)

Adapters translate third-party exceptions into these at the edge, so callers (the CLI, the
worker) only need to know this tree.
"""

from __future__ import annotations


class PulseError(Exception):
    """Root of every error Outcome Pulse raises on purpose."""


class ConfigError(PulseError):
    """A settings value, mapping file or contract file is wrong; the message names it."""


class InvalidRecord(PulseError):
    """One input record cannot become a valid event.

    ``reason`` is a short, stable, low-cardinality code (used as a metric label and in the
    dead-letter record); ``detail`` is the human explanation naming the bad field or value.
    """

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


class SuspiciousInput(PulseError):
    """Too many records of an input became dead letters (a wrong date format, a wrong mapping):
    the run stops instead of computing figures from what is left; the message names the top
    reasons with an example record each."""


class StackError(PulseError):
    """The local stack cannot be installed, started or reached."""


class BrokerError(PulseError):
    """Kafka is unreachable or refused a request."""


class SourceApiError(PulseError):
    """A polled API failed after retries, refused us, or answered something that is not a page."""


class SinkError(PulseError):
    """The database is unreachable or refused a write."""


class EvidenceError(PulseError):
    """An evidence report, baseline or what-if would show figures that disagree with the
    contract evaluation's own outcomes; it is refused rather than written."""


class ReportError(PulseError):
    """A report could not be written (headless browser missing or failing, file not written)."""


class EngineStateError(PulseError):
    """The contract engine was driven wrongly; the message says what the driver must do."""
