"""The one exception tree of Outcome Pulse.

    PulseError                      root: every error the project raises on purpose
    ├── ConfigError                 a settings value, mapping file or contract file is wrong
    ├── InvalidRecord               one input record cannot become a valid event (dead-lettered)
    ├── SuspiciousInput             too many records of an input were rejected: stop, not guess
    ├── StackError                  the local stack cannot be installed, started or reached
    │                               (streams/errors.py)
    ├── BrokerError                 Kafka is unreachable or refused a request (streams/errors.py)
    ├── SourceApiError              a polled API (ServiceNow, Jira) failed or answered no page
    │                               (streams/errors.py)
    ├── ReportError                 a report file could not be written (browser missing or
    │                               failing; streams/errors.py)
    ├── EvidenceError               a report's figures would disagree with the evaluation (refused)
    ├── EngineStateError            the contract engine was driven wrongly (e.g. an event for an
    │   │                           item whose history was compacted, without restoring it)
    │   └── TrimmedStateNeeded      a step needs state the engine dropped behind its horizon
    │                               (``ContractEngine.trim``): the driver rebuilds the engine
    │                               from every event seen and redoes the step
    ├── SinkError                   the database failed us (sinks/errors.py); as such: the schema
    │   │                           is not migrated, a table is missing, a writer was misused
    │   ├── SinkUnavailable         it cannot be reached or used now (down, restarting, out of
    │   │                           connections, wrong credentials, retry deadline passed);
    │   │                           retrying later may succeed, the data is not at fault
    │   ├── ShardFenced             a tick of an evaluation shard that another worker claimed
    │   │                           since: refused, nothing written (sinks/shard_fence.py)
    │   └── SinkRejected            it refused this data (a value or constraint, SQLSTATE class
    │                               22 or 23, or a row that cannot be encoded): the same write
    │                               fails every time; dead-letter the record or fail
    └── AlertDeliveryError          Alertmanager is unreachable or refused alerts (from httpx;
                                    sinks/errors.py)

The domain errors (``ConfigError``, ``InvalidRecord``, ``SuspiciousInput``, ``EvidenceError``)
live here, in the pure core. The adapter errors live beside the adapters that raise them and
subclass ``PulseError``; those adapters turn third-party exceptions (psycopg, aiokafka, httpx)
into them at the edge, chained with ``raise ... from exc``, so callers (the CLI, the worker) only
need to know this tree.
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


class EvidenceError(PulseError):
    """An evidence report, baseline or what-if would show figures that disagree with the
    contract evaluation's own outcomes; it is refused rather than written."""


class EngineStateError(PulseError):
    """The contract engine was driven wrongly; the message says what the driver must do."""


class MixedLayout(PulseError):
    """A shard is held by an owner of another consumer group: workers of role ``all`` and
    processes of role ``evaluate`` were started for one deployment (``processors/shards.py``)."""


class TrimmedStateNeeded(EngineStateError):
    """A step would need what ``ContractEngine.trim`` dropped behind its horizon (a late event
    behind it, or a change reaching a frozen period): the engine refuses instead of guessing,
    and the driver rebuilds a full engine from every event seen so far and redoes the step."""
