"""Too many dead letters is a wrong mapping, not bad luck: stop before computing anything.

A date format with day and month swapped parses every date whose day is 12 or less and rejects
the rest, so about half an export becomes dead letters and the other half comes out with wrong
times; a replay that carries on produces confident, wrong figures. ``check_rejections`` raises
``SuspiciousInput`` when the dead letters of a mapped file exceed a share of its records
(``PULSE_MAX_DEAD_LETTER_SHARE``, default 1%), naming the top reasons with an example record
each, so the user sees what to fix.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from outcome_pulse.processors.errors import SuspiciousInput
from outcome_pulse.processors.quantities import format_share
from outcome_pulse.streams.file_import.mapped_file import MappedFile, RejectedRecord

DEFAULT_MAX_SHARE = 0.01
_EXAMPLE_CHARS = 200


@dataclass(frozen=True, slots=True)
class ReasonCount:
    """One dead-letter reason, how many records it rejected, and its first record."""

    reason: str
    count: int
    example: RejectedRecord

    def describe(self) -> str:
        raw = self.example.raw.decode("utf-8", "replace").strip()
        if len(raw) > _EXAMPLE_CHARS:
            raw = raw[:_EXAMPLE_CHARS] + "..."
        return (
            f"{self.reason}: {self.count:,} records, e.g. line {self.example.line}: "
            f"{self.example.detail}\n      {raw}"
        )


def top_reasons(mapped: MappedFile, top: int = 5) -> list[ReasonCount]:
    """The most frequent dead-letter reasons (most first), each with its first record."""
    counts = Counter(d.reason for d in mapped.dead_letters)
    first: dict[str, RejectedRecord] = {}
    for rejected in mapped.dead_letters:
        first.setdefault(rejected.reason, rejected)
    return [ReasonCount(reason, n, first[reason]) for reason, n in counts.most_common(top)]


def dead_letter_share(mapped: MappedFile) -> float:
    return len(mapped.dead_letters) / mapped.records_read if mapped.records_read else 0.0


def check_rejections(mapped: MappedFile, max_share: float = DEFAULT_MAX_SHARE) -> None:
    """Raise ``SuspiciousInput`` when more than ``max_share`` of the records were rejected."""
    share = dead_letter_share(mapped)
    if share <= max_share:
        return
    lines = [
        f"input {mapped.path}: {len(mapped.dead_letters):,} of {mapped.records_read:,} records "
        f"({format_share(share)}) are dead letters, more than the {format_share(max_share)} "
        "allowed (PULSE_MAX_DEAD_LETTER_SHARE, or --max-dead-letters); stopped before using "
        "any of it. Top reasons:"
    ]
    reasons = top_reasons(mapped)
    lines.extend(f"  {r.describe()}" for r in reasons)
    if any(r.reason == "bad_timestamp" for r in reasons) and mapped.rows_with_events:
        lines.append(
            "  Some dates parse and others do not: check the format of the time columns (day and "
            "month swapped? %d/%m/%Y reads 03/04 as the 3rd of April, %m/%d/%Y as March the 4th)."
        )
    raise SuspiciousInput("\n".join(lines))


def parse_max_share(text: str) -> float:
    """``1%``, ``0.5%`` or ``0.01`` -> 0.01; ValueError naming what is expected."""
    value = text.strip()
    try:
        share = float(value[:-1]) / 100 if value.endswith("%") else float(value)
    except ValueError:
        raise ValueError(f"expected a share such as 1% or 0.01, got {text!r}") from None
    if not 0.0 <= share <= 1.0:
        raise ValueError(f"expected a share between 0% and 100%, got {text!r}")
    return share
