"""Dead-letter records: what could not become a valid event, why, and where it came from.

A dead letter keeps the original bytes exactly (base64, since they may not be UTF-8), a stable
``reason`` code, a human ``detail`` naming the bad field, and its ``origin``: the file and line
for replayed exports, or the topic, partition and offset for messages consumed from Kafka. Its
Kafka key is derived from the origin, so a re-delivered dead letter can be recognised.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class DeadLetter:
    reason: str
    detail: str
    origin: dict[str, Any]
    original: bytes | None

    def key(self) -> bytes:
        return json.dumps(self.origin, sort_keys=True, separators=(",", ":")).encode()

    def encode(self, at: datetime) -> bytes:
        original = self.original or b""
        record: dict[str, Any] = {
            "reason": self.reason,
            "detail": self.detail,
            "origin": self.origin,
            "dead_lettered_at": at.isoformat(),
            "original_base64": base64.b64encode(original).decode("ascii"),
        }
        try:
            record["original_text"] = original.decode("utf-8")
        except UnicodeDecodeError:
            record["original_text"] = None
        return json.dumps(record, ensure_ascii=False).encode("utf-8")

    def headers(self) -> list[tuple[str, bytes]]:
        return [("pulse-reason", self.reason.encode())]


def decode_dead_letter(raw: bytes) -> dict[str, Any]:
    """Read a dead-letter record back, with ``original`` as bytes."""
    record: dict[str, Any] = json.loads(raw)
    record["original"] = base64.b64decode(record["original_base64"])
    return record
