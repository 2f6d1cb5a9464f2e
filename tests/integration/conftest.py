"""Fixtures shared by the integration tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from outcome_pulse.sinks.schema import migrate
from tests.integration.pgdb import temporary_database


@pytest.fixture(scope="module")
def migrated(pg_dsn: str) -> Iterator[str]:
    """A database of the module's own, at the current schema, dropped after the module."""
    with temporary_database(pg_dsn) as url:
        migrate(url)
        yield url
