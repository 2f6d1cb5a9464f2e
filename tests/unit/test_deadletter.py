"""Dead letters keep the original bytes, and always fit in one Kafka message."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

from outcome_pulse.streams.wire.deadletter import MAX_ENCODED_BYTES, DeadLetter, decode_dead_letter

AT = datetime(2026, 11, 21, tzinfo=UTC)
ORIGIN = {"topic": "events", "partition": 0, "offset": 7}


def letter(original: bytes, detail: str = "why") -> DeadLetter:
    return DeadLetter(reason="oversized", detail=detail, origin=ORIGIN, original=original)


def test_small_original_is_kept_whole_as_bytes_and_text() -> None:
    back = decode_dead_letter(letter(b'{"id": "\xc3\xa9"').encode(AT))
    assert back["original"] == b'{"id": "\xc3\xa9"'
    assert back["original_text"] == '{"id": "é"'
    assert "original_truncated" not in back


def test_large_original_drops_the_text_copy_but_keeps_every_byte() -> None:
    original = b"x" * 600_000  # base64 plus text would be 1.4 MB
    encoded = letter(original).encode(AT)
    back = decode_dead_letter(encoded)
    assert len(encoded) <= MAX_ENCODED_BYTES
    assert back["original"] == original and back["original_text"] is None


def test_original_too_large_for_one_message_is_a_marked_prefix() -> None:
    original = bytes(range(256)) * 4000  # 1,024,000 bytes: the events topic accepted it
    encoded = letter(original, detail="d" * 10_000).encode(AT)
    back = decode_dead_letter(encoded)
    assert len(encoded) <= MAX_ENCODED_BYTES
    assert back["original_truncated"] is True
    assert back["original_size"] == len(original)
    assert back["original_sha256"] == hashlib.sha256(original).hexdigest()
    assert original.startswith(back["original"]) and len(back["original"]) > 600_000
    assert len(back["detail"]) == 2_000
