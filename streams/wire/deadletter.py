"""Dead-letter records: what could not become a valid event, why, and where it came from.

A dead letter keeps the original bytes exactly (base64, since they may not be UTF-8), a stable
``reason`` code, a human ``detail`` naming the bad field, and its ``origin``: the file and line
for replayed exports, or the topic, partition and offset for messages consumed from Kafka. Its
Kafka key is derived from the origin, so a re-delivered dead letter can be recognised.

A dead letter must fit in one Kafka message (``MAX_ENCODED_BYTES``, under the producer's 1 MB
``max_request_size``), or sending it fails and the worker stops on every restart. The events
topic accepts records up to about 1 MB, and base64 alone makes one a third larger, so the size
is bounded: the UTF-8 copy (``original_text``) is left out when the whole would not fit, and an
original too large even for base64 alone is cut to a prefix, marked ``original_truncated`` with
its full ``original_size`` and ``original_sha256``; the whole record is still at its origin
(topic, partition, offset) for as long as the events topic retains it. ``detail`` is capped.
"""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

MAX_ENCODED_BYTES = 900_000
MAX_DETAIL_CHARS = 2_000


@dataclass(frozen=True)
class DeadLetter:
    reason: str
    detail: str
    origin: dict[str, Any]
    original: bytes | None

    def key(self) -> bytes:
        return json.dumps(self.origin, sort_keys=True, separators=(",", ":")).encode()

    def encode(self, at: datetime, max_bytes: int = MAX_ENCODED_BYTES) -> bytes:
        original = self.original or b""
        detail = self.detail
        if len(detail) > MAX_DETAIL_CHARS:
            detail = detail[: MAX_DETAIL_CHARS - 1] + "\u2026"
        record: dict[str, Any] = {
            "reason": self.reason,
            "detail": detail,
            "origin": self.origin,
            "dead_lettered_at": at.isoformat(),
            "original_base64": base64.b64encode(original).decode("ascii"),
        }
        try:
            record["original_text"] = original.decode("utf-8")
        except UnicodeDecodeError:
            record["original_text"] = None
        encoded = _dumps(record)
        if len(encoded) <= max_bytes:
            return encoded
        record["original_text"] = None
        encoded = _dumps(record)
        if len(encoded) <= max_bytes:
            return encoded
        return _dumps(_truncated(record, original, max_bytes))

    def headers(self) -> list[tuple[str, bytes]]:
        return [("pulse-reason", self.reason.encode())]


def _dumps(record: dict[str, Any]) -> bytes:
    return json.dumps(record, ensure_ascii=False).encode("utf-8")


def _truncated(record: dict[str, Any], original: bytes, max_bytes: int) -> dict[str, Any]:
    """``record`` with ``original_base64`` cut to the longest prefix that fits ``max_bytes``."""
    out = {
        **record,
        "original_base64": "",
        "original_truncated": True,
        "original_size": len(original),
        "original_sha256": hashlib.sha256(original).hexdigest(),
    }
    room = max_bytes - len(_dumps(out))
    keep = max(0, room // 4 * 3)  # base64 turns every 3 bytes into 4 characters
    out["original_base64"] = base64.b64encode(original[:keep]).decode("ascii")
    return out


def decode_dead_letter(raw: bytes) -> dict[str, Any]:
    """Read a dead-letter record back, with ``original`` as bytes (a prefix of the original
    when ``original_truncated`` is set; see the module doc)."""
    record: dict[str, Any] = json.loads(raw)
    record["original"] = base64.b64decode(record["original_base64"])
    return record
