"""SQL text from ``sinks/sql``: migrations by file, the other statements by name.

DDL is one file per migration step (``sinks/sql/v1_events.sql``, read with ``sql_file``). The
statements the adapters run (DML and checks) are grouped by concern in ``sinks/sql/dml/``
(``events.sql``, ``monitor.sql``, ``queries.sql``, ``partitions.sql``); in them each statement
starts with a ``-- name: <name>`` line, the convention of aiosql and yesql, and ``statements``
returns them by name. Full-line ``--`` comments are documentation and are not sent.

A statement may hold ``{{key}}`` slots: column lists the Python side spells once (so a row
tuple, its COPY and its INSERT cannot drift apart), or another statement of the same file used
as a fragment. A slot left unfilled, a name used twice, or a name that is not in the file fails
loudly when the module that asks for it is imported.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from importlib import resources

_NAME = re.compile(r"^-- name: ([a-z][a-z0-9_]*)\s*$", re.MULTILINE)
_SLOT = re.compile(r"\{\{([a-z][a-z0-9_]*)\}\}")


def sql_file(name: str) -> str:
    """The text of ``sinks/sql/<name>`` (shipped as package data)."""
    return resources.files("outcome_pulse.sinks").joinpath("sql", name).read_text(encoding="utf-8")


class Statements(Mapping[str, str]):
    """The named statements of one ``sinks/sql/dml/<concern>.sql`` file, slots filled."""

    def __init__(self, concern: str, fills: Mapping[str, str]) -> None:
        self.origin = f"sinks/sql/dml/{concern}.sql"
        raw = _named_blocks(sql_file(f"dml/{concern}.sql"), self.origin)
        self._filled = {name: self._fill(name, raw, fills, ()) for name in raw}

    def __getitem__(self, name: str) -> str:
        try:
            return self._filled[name]
        except KeyError:
            raise KeyError(f"{self.origin} has no statement named {name!r}") from None

    def __iter__(self) -> Iterator[str]:
        return iter(self._filled)

    def __len__(self) -> int:
        return len(self._filled)

    def _fill(
        self, name: str, raw: Mapping[str, str], fills: Mapping[str, str], seen: tuple[str, ...]
    ) -> str:
        if name in seen:
            raise ValueError(f"{self.origin}: statement {name!r} includes itself")

        def slot(match: re.Match[str]) -> str:
            key = match[1]
            if key in fills:
                return fills[key]
            if key in raw:
                return self._fill(key, raw, fills, (*seen, name))
            raise ValueError(f"{self.origin}: statement {name!r} has an unfilled slot {key!r}")

        return _SLOT.sub(slot, raw[name])


def statements(concern: str, **fills: str) -> Statements:
    """The statements of ``sinks/sql/dml/<concern>.sql`` by name, ``{{key}}`` slots filled."""
    return Statements(concern, fills)


def _named_blocks(text: str, origin: str) -> dict[str, str]:
    parts = _NAME.split(text)
    blocks: dict[str, str] = {}
    for name, body in zip(parts[1::2], parts[2::2], strict=True):
        if name in blocks:
            raise ValueError(f"{origin}: statement {name!r} is defined twice")
        lines = [line for line in body.splitlines() if not line.lstrip().startswith("--")]
        blocks[name] = "\n".join(lines).strip()
    return blocks
