"""Shared fixtures. Integration and e2e tests use the real stack that scripts/test.sh starts
(deploy/local/stack.sh with the PULSE_* ports and state directory it exports); they fail, never
skip, when it is not there."""

from __future__ import annotations

import socket
import tempfile
from pathlib import Path

import pytest
from hypothesis import settings as hypothesis_settings
from hypothesis.configuration import set_hypothesis_home_dir

from outcome_pulse.streams.bootstrap import load_settings
from outcome_pulse.streams.settings import PulseSettings
from tests.support import exclusive

# Hypothesis keeps no example database, and its other files go to the temporary directory: by
# default both would be written into the checkout (.hypothesis/).
set_hypothesis_home_dir(str(Path(tempfile.gettempdir()) / "outcome-pulse-hypothesis"))
hypothesis_settings.register_profile("pulse", database=None)
hypothesis_settings.load_profile("pulse")


@pytest.fixture(scope="session")
def settings() -> PulseSettings:
    return load_settings()


def _reachable(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(1)
        return s.connect_ex(("127.0.0.1", port)) == 0


@pytest.fixture(scope="session")
def pg_dsn(settings: PulseSettings) -> str:
    if not _reachable(settings.pg_port):
        pytest.fail(
            f"PostgreSQL is not listening on 127.0.0.1:{settings.pg_port}; "
            "start the stack with `pulse stack up` or run scripts/test.sh"
        )
    return settings.dsn


@pytest.fixture(scope="session")
def kafka_bootstrap(settings: PulseSettings) -> str:
    if not _reachable(settings.kafka_port):
        pytest.fail(
            f"Kafka is not listening on 127.0.0.1:{settings.kafka_port}; "
            "start the stack with `pulse stack up` or run scripts/test.sh"
        )
    return settings.bootstrap


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--update-goldens",
        action="store_true",
        help="rewrite the golden files under tests/golden/files from the current output "
        "(review the diff before committing it)",
    )


TESTS = Path(__file__).resolve().parent


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Refuse a test that reaches a stack control (restarting or stopping a shared service)
    without the ``exclusive`` or ``private_stack`` marker: see tests/support/exclusive.py."""
    del config
    helpers = [
        p.read_text(encoding="utf-8")
        for p in sorted(TESTS.rglob("*.py"))
        if not p.name.startswith("test_")
    ]
    controls = exclusive.helper_controls(helpers)
    read: dict[Path, exclusive.ModuleUse] = {}
    collected = []
    for item in items:
        if not isinstance(item, pytest.Function):
            continue
        path = Path(item.path)
        if path not in read:
            read[path] = exclusive.module_use(path.read_text(encoding="utf-8"))
        markers = frozenset(m.name for m in item.iter_markers())
        if exclusive.EXCLUSIVE in markers and TESTS / "unit" in path.parents:
            raise pytest.UsageError(f"{item.nodeid}: a unit test cannot be exclusive (pure)")
        qualname = getattr(item.obj, "__qualname__", item.name)
        top_level = qualname.split(".", 1)[0]
        collected.append(exclusive.Collected(item.nodeid, path, top_level, markers))
    problems = exclusive.unmarked(collected, controls, read)
    if problems:
        raise pytest.UsageError("\n".join(problems))
