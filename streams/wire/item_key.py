"""The Kafka key of the events topic: one item is ``(source, item id)``.

Item ids are only unique within the system that issued them: two clients' service desks, or two
tools of one client, both have an ``INC0001``. So the key of an event, and of the item table that
folds its events, is the pair, encoded as

    UTF-8(source) + b"\\x00" + UTF-8(item id)        e.g. b"acme-jira\\x00INC0001"

Why this encoding and not, say, the JSON array ``["acme-jira","INC0001"]``:

* The separator cannot occur in either part: the envelope refuses a NUL character in every text
  field, ``source`` and ``subject`` included (PostgreSQL text cannot store one), so the split is
  unambiguous without any escaping.
* It has exactly one spelling. Kafka chooses the partition from the key's bytes, so every
  producer, in any language, must produce the same bytes for the same item, or one item's events
  land in two partitions and are folded by two workers. JSON has many spellings of one value
  (escapes such as ``\\u0041``, Go's default ``\\u0026`` for ``&``, spaces); this one has none.
* It is what a third-party producer can build in one line (kcat: a key with a NUL byte in
  ``-K`` mode; Java: ``source + "\\u0000" + id``).

The worker's ``wrong_key`` rule (``streams/kafka/ingest.py``) accepts an event only under
exactly ``event_key(envelope)``. An event keyed the way it was before (the bare item id) is a
dead letter, ``wrong_key``, whose detail says so (README, "Upgrading to source-and-item keys").
"""

from __future__ import annotations

from outcome_pulse.streams.wire.events import EventEnvelope

SEPARATOR = b"\x00"

ItemKey = tuple[str, str]
"""``(source, item id)``: the identity of an item."""


def item_key(source: str, item_id: str) -> bytes:
    """The Kafka key (and item-table key) of the item ``item_id`` of ``source``."""
    if "\x00" in source or "\x00" in item_id:
        # Unreachable for a validated envelope; a guard against a caller passing raw text.
        raise ValueError(f"a NUL character in source {source!r} or item id {item_id!r}")
    return source.encode() + SEPARATOR + item_id.encode()


def event_key(envelope: EventEnvelope) -> bytes:
    """The Kafka key ``envelope`` must be produced with: its source and subject."""
    return item_key(envelope.source, envelope.subject)


def split_item_key(key: bytes) -> ItemKey:
    """``(source, item id)`` of a key made by ``item_key``; ValueError for anything else."""
    source, separator, item_id = key.partition(SEPARATOR)
    if not separator or not source or not item_id or SEPARATOR in item_id:
        raise ValueError(f"{key[:300]!r} is not source + NUL + item id")
    return source.decode(), item_id.decode()
