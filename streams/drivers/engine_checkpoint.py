"""Engine checkpoints: a contract's ``ContractEvaluation`` as bytes, and back.

The owner of an evaluation shard writes one per contract of the shard in a round's transaction
(``pulse_engine_checkpoints``, under the shard's claim), and the shard's next owner (a restart, or
another worker after a takeover) loads them instead of re-deriving every stored event: loading
costs a fraction of a rebuild (``bench.engine_scaling`` measures both). The state is the
engine object itself, pickled and compressed: every aggregator, series, open item's event set and
whatever later modules keep on the engine (a forecaster's model) comes along without a schema of
its own to keep in step.

A checkpoint is only loaded by the code and contract that wrote it: its *fingerprint* hashes the
contract (every field), the source of every module of ``outcome_pulse.processors``, the Python
version and pydantic's. Any change there, or a state that does not load, means a rebuild from
the stored events (logged, and counted by the caller: ``thaw`` says why), never a state computed
by other rules carried on. Pickle runs code named in the
data it loads: the checkpoints are written by the monitor into its own database and are trusted
exactly as far as that database is (a role that may write ``pulse_engine_checkpoints`` may
already rewrite every figure in it).
"""

from __future__ import annotations

import hashlib
import logging
import pickle
import sys
import zlib
from dataclasses import dataclass
from functools import cache
from importlib import resources
from importlib.resources.abc import Traversable

import pydantic

from outcome_pulse.processors.contract import Contract
from outcome_pulse.processors.evaluation import ContractEvaluation

log = logging.getLogger(__name__)

FORMAT = 1
"""Bumped when the way a checkpoint is written changes."""


@dataclass(frozen=True, slots=True)
class Thawed:
    """What ``thaw`` found: the evaluation, or None and why not (``ignored``: a checkpoint was
    there but not usable; None: there was none)."""

    evaluation: ContractEvaluation | None
    ignored: str | None = None


def fingerprint(contract: Contract) -> str:
    digest = hashlib.sha256()
    versions = f"python {sys.version_info[:2]}; pydantic {pydantic.VERSION}"
    digest.update(f"format {FORMAT}; {versions}\n".encode())
    digest.update(_engine_code())
    digest.update(contract.model_dump_json().encode())
    return digest.hexdigest()


def freeze(evaluation: ContractEvaluation) -> bytes:
    return zlib.compress(pickle.dumps(evaluation, protocol=pickle.HIGHEST_PROTOCOL), 1)


def thaw(contract: Contract, saved: tuple[str, bytes] | None) -> Thawed:
    """The evaluation saved for ``contract``, or why there is none usable (no checkpoint,
    another fingerprint, or a state that does not load: the caller rebuilds)."""
    if saved is None:
        return Thawed(None)
    held, state = saved
    if held != fingerprint(contract):
        log.warning(
            "contract %s: its engine checkpoint was written by another contract version or "
            "engine (fingerprint differs); ignoring it and rebuilding from the stored events",
            contract.contract,
        )
        return Thawed(None, "fingerprint")
    try:
        evaluation = pickle.loads(zlib.decompress(state))
    except Exception as exc:  # a corrupt state: said, and rebuilt
        log.warning(
            "contract %s: its engine checkpoint does not load (%s: %s); rebuilding",
            contract.contract,
            type(exc).__name__,
            exc,
        )
        return Thawed(None, "unreadable")
    if not isinstance(evaluation, ContractEvaluation) or evaluation.contract != contract:
        log.warning(
            "contract %s: its engine checkpoint holds something else; rebuilding",
            contract.contract,
        )
        return Thawed(None, "unreadable")
    return Thawed(evaluation)


@cache
def _engine_code() -> bytes:
    """The source of every module of ``outcome_pulse.processors``, in path order."""
    digest = hashlib.sha256()
    for path, data in sorted(_sources(resources.files("outcome_pulse.processors"), "")):
        digest.update(path.encode() + b"\0" + data + b"\0")
    return digest.digest()


def _sources(folder: Traversable, prefix: str) -> list[tuple[str, bytes]]:
    out: list[tuple[str, bytes]] = []
    for entry in folder.iterdir():
        if entry.is_dir():
            if entry.name != "__pycache__":
                out.extend(_sources(entry, f"{prefix}{entry.name}/"))
        elif entry.name.endswith(".py"):
            out.append((prefix + entry.name, entry.read_bytes()))
    return out


__all__ = ["FORMAT", "Thawed", "fingerprint", "freeze", "thaw"]
