"""deploy/local/stack.sh on a first run: from a clone in a 0700 directory (root's home), and when
it fails half-way (PostgreSQL cannot bind its port after Kafka started).

Each test runs its own stack on ports of its own and stops it by the PIDs the script recorded.
"""

from __future__ import annotations

import os
import shutil
import socket
import stat
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pytest

from outcome_pulse.streams.settings import REPO_ROOT, default_state_root
from tests.support.sandbox import free_port

pytestmark = [pytest.mark.integration, pytest.mark.private_stack]

DEPLOY = REPO_ROOT / "deploy"


def stack(repo: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", str(repo / "deploy" / "local" / "stack.sh"), *args],
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )


def base_env(**ports: int) -> dict[str, str]:
    """The caller's environment without its PULSE_* stack settings, plus these ports."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PULSE_")}
    if "PULSE_CACHE_DIR" in os.environ:
        env["PULSE_CACHE_DIR"] = os.environ["PULSE_CACHE_DIR"]
    env.update({name: str(port) for name, port in ports.items()})
    return env


@contextmanager
def clone_in_private_home() -> Iterator[Path]:
    """The stack scripts, laid out as in a clone, in a fresh 0700 directory of the home."""
    home = Path(tempfile.mkdtemp(prefix="pulse-clone-", dir=Path.home()))
    try:
        assert stat.S_IMODE(home.stat().st_mode) == 0o700
        repo = home / "outcome-pulse"
        shutil.copytree(DEPLOY, repo / "deploy")
        yield repo
    finally:
        shutil.rmtree(home, ignore_errors=True)


@pytest.mark.skipif(os.geteuid() != 0, reason="the 0700 home is a problem only for root")
def test_a_clone_in_a_0700_home_starts_postgres_with_the_default_state_dir() -> None:
    with clone_in_private_home() as repo:
        env = base_env(PULSE_PG_PORT=free_port())
        state = default_state_root(repo.resolve()) / "stack"
        try:
            up = stack(repo, env, "up", "postgres")
            assert up.returncode == 0, up.stdout + up.stderr
            assert "postgres: started" in up.stdout
            assert (state / "postgres" / "data" / "PG_VERSION").is_file()
            assert not (repo / ".state").exists()  # nothing inside the clone
            dsn = f"postgresql://postgres@127.0.0.1:{env['PULSE_PG_PORT']}/pulse"
            with psycopg.connect(dsn) as conn:
                assert conn.execute("SELECT 1").fetchone() == (1,)
        finally:
            down = stack(repo, env, "down", "postgres")
            shutil.rmtree(state.parent, ignore_errors=True)
        assert down.returncode == 0, down.stdout + down.stderr


def test_up_failing_half_way_stops_what_it_started(tmp_path: Path) -> None:
    state = Path(tempfile.mkdtemp(prefix="pulse-halfway-", dir="/tmp"))
    os.chmod(state, 0o755)
    env = base_env(
        PULSE_KAFKA_PORT=free_port(),
        PULSE_KAFKA_CONTROLLER_PORT=free_port(),
        PULSE_PG_PORT=free_port(),
        PULSE_ALERTMANAGER_PORT=free_port(),  # not the defaults: a user's own stack may hold them
        PULSE_PROMETHEUS_PORT=free_port(),
    )
    env["PULSE_STATE_DIR"] = str(state)
    # Bound but not listening: the port check before starting anything sees nothing, then
    # PostgreSQL cannot bind it (this socket does not allow address reuse).
    blocker = socket.socket()
    blocker.bind(("127.0.0.1", int(env["PULSE_PG_PORT"])))
    try:
        up = stack(REPO_ROOT, env, "up")
        kafka_pid_file = state / "run" / "kafka.pid"
        assert up.returncode == 1, up.stdout + up.stderr
        assert "kafka: started pid" in up.stdout
        assert "error: postgres did not start" in up.stderr
        assert "up failed; stopping what it started: kafka postgres" in up.stderr
        assert "kafka: stopped" in up.stdout
        assert not kafka_pid_file.exists()
        status = stack(REPO_ROOT, env, "status")
        assert status.returncode == 3
        rows = {tuple(line.split()) for line in status.stdout.splitlines()}
        assert ("kafka", "stopped") in rows and ("postgres", "stopped") in rows, status.stdout
    finally:
        blocker.close()
        stack(REPO_ROOT, env, "down")
        shutil.rmtree(state, ignore_errors=True)
