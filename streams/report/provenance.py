"""Facts every report states about itself: the engine that computed it, the input's digest."""

from __future__ import annotations

import hashlib
from importlib import metadata
from pathlib import Path

_CHUNK = 1 << 20


def engine_version() -> str:
    """The installed distribution and version (``outcome-pulse 0.1.0``)."""
    try:
        return f"outcome-pulse {metadata.version('outcome-pulse')}"
    except metadata.PackageNotFoundError:
        return "outcome-pulse (not installed: running from a source tree)"


def sha256_of(path: Path) -> str:
    """SHA-256 of the file's bytes as stored (a .gz is hashed compressed, as delivered)."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()
