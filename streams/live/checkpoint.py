"""A poller's checkpoint: the update time it has durably reached, in a small JSON file.

``save`` writes a temporary file beside the real one, fsyncs it, renames it over the old one
(atomic on POSIX) and fsyncs the directory, so after a crash the file holds either the old
checkpoint or the new one, never a torn mix. A file that exists but cannot be read is a loud
``ConfigError``: starting over from the beginning silently would re-read the whole history, and
starting from now silently would lose what happened in between.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from outcome_pulse.processors.errors import ConfigError


@dataclass(frozen=True)
class Checkpoint:
    since: datetime  # every record updated before this instant has been produced (and acked)
    pages: int = 0  # pages produced so far, for the operator


class CheckpointFile:
    def __init__(self, path: Path) -> None:
        self.path = path

    def load(self) -> Checkpoint | None:
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise ConfigError(f"checkpoint {self.path}: cannot read it: {exc}") from None
        try:
            data = json.loads(text)
            since = datetime.fromisoformat(data["since"])
            pages = int(data.get("pages", 0))
        except (ValueError, KeyError, TypeError) as exc:
            raise ConfigError(
                f"checkpoint {self.path} is damaged ({exc}); fix it or remove it to start from "
                "the poll's start time"
            ) from None
        if since.tzinfo is None:
            raise ConfigError(f"checkpoint {self.path}: since {data['since']!r} has no UTC offset")
        return Checkpoint(since, pages)

    def save(self, checkpoint: Checkpoint) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        payload = json.dumps({"since": checkpoint.since.isoformat(), "pages": checkpoint.pages})
        tmp = self.path.with_name(f".{self.path.name}.tmp")
        with tmp.open("w", encoding="utf-8") as out:
            out.write(payload + "\n")
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, self.path)
        directory = os.open(self.path.parent, os.O_RDONLY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)
