"""PostgreSQL helpers for integration tests: a throwaway database, and a throwaway server.

``temporary_database`` gives each test module its own database on the shared server, so modules
never see each other's rows. ``DisposableCluster`` is a private PostgreSQL server (initdb in a
temporary directory, a free port) for tests that stop and restart the server: doing that to the
shared server would break every other test running against it.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from tests.support.sandbox import free_port


@contextmanager
def temporary_database(admin_dsn: str, prefix: str = "pulse_test") -> Iterator[str]:
    """Create ``<prefix>_<uuid>`` on the server of ``admin_dsn``; yield its DSN; drop it."""
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield make_conninfo(admin_dsn, dbname=name)
    finally:
        with psycopg.connect(admin_dsn, autocommit=True) as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


def empty_tables(dsn: str, *tables: str) -> None:
    """Empty a module's database between its tests: drop the monthly partitions of pulse_events
    (a plain-PostgreSQL schema makes one per month written) and truncate ``tables``."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        children = conn.execute(
            "SELECT inhrelid::regclass::text FROM pg_inherits "
            "WHERE inhparent = 'pulse_events'::regclass"
        ).fetchall()
        for (child,) in children:
            conn.execute(f"DROP TABLE {child}")
        conn.execute(f"TRUNCATE {', '.join(tables)}")


def database_name(dsn: str) -> str:
    return str(conninfo_to_dict(dsn)["dbname"])


def postgres_bindir() -> Path:
    """The newest /usr/lib/postgresql/<major>/bin (Debian), else the directory of ``initdb``."""
    candidates = []
    for path in Path("/usr/lib/postgresql").glob("*/bin"):
        if (path / "initdb").exists() and re.fullmatch(r"\d+", path.parent.name):
            candidates.append((int(path.parent.name), path))
    if candidates:
        return max(candidates)[1]
    initdb = shutil.which("initdb")
    if initdb is None:
        raise RuntimeError("no PostgreSQL server binaries (initdb) found")
    return Path(initdb).parent


SERVER_OPTIONS = Path(__file__).resolve().parents[2] / "deploy" / "local" / "pg-server-options.sh"


def server_options(port: int, socket_dir: Path, bindir: Path) -> str:
    """The options deploy/local/stack.sh starts its PostgreSQL with, for this port and socket."""
    done = subprocess.run(
        ["bash", str(SERVER_OPTIONS), str(port), str(socket_dir), str(bindir / "pg_config")],
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.strip()


class DisposableCluster:
    """A private PostgreSQL server that a test may stop and start at will.

    As root, initdb and pg_ctl run as the ``postgres`` user (initdb refuses root).
    """

    def __init__(self) -> None:
        self.bindir = postgres_bindir()
        self.port = free_port()
        self.root = Path(tempfile.mkdtemp(prefix="pulse-pg-"))
        self.data = self.root / "data"
        self._as_postgres = os.geteuid() == 0
        if self._as_postgres:
            shutil.chown(self.root, "postgres")
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "-A", "trust", "-N")

    @property
    def dsn(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def start(self) -> None:
        # The stack's own server options (TimescaleDB preloaded when installed), plus fsync off.
        options = f"{server_options(self.port, self.root, self.bindir)} -c fsync=off"
        self._run(
            "pg_ctl",
            "-D",
            str(self.data),
            "-l",
            str(self.root / "log"),
            "-o",
            options,
            "-w",
            "start",
        )

    def stop(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")

    def is_running(self) -> bool:
        status = subprocess.run(
            self._command("pg_ctl", "-D", str(self.data), "status"),
            capture_output=True,
            check=False,
        )
        return status.returncode == 0

    def destroy(self) -> None:
        if self.is_running():
            self.stop()
        shutil.rmtree(self.root, ignore_errors=True)

    def _command(self, tool: str, *args: str) -> list[str]:
        command = [str(self.bindir / tool), *args]
        return ["runuser", "-u", "postgres", "--", *command] if self._as_postgres else command

    def _run(self, tool: str, *args: str) -> None:
        done = subprocess.run(
            self._command(tool, *args), capture_output=True, text=True, check=False
        )
        if done.returncode != 0:
            raise RuntimeError(f"{tool} failed ({done.returncode}): {done.stderr or done.stdout}")
