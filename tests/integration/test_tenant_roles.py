"""``pulse tenants``: the roles and their passwords, on a private PostgreSQL server that checks
passwords (SCRAM-SHA-256 over TCP; the shared test server trusts every local connection, which
would let any password through)."""

from __future__ import annotations

import stat
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg.conninfo import make_conninfo
from typer.testing import CliRunner

from outcome_pulse.processors.errors import ConfigError
from outcome_pulse.sinks.schema import migrate
from outcome_pulse.sinks.tenants import add_provider, add_tenant, tenants
from outcome_pulse.streams.cli.grafana import tenants_app
from tests.integration.pgdb import DisposableCluster

pytestmark = pytest.mark.integration

HBA = """\
local all all trust
host all postgres 127.0.0.1/32 trust
host all all 127.0.0.1/32 scram-sha-256
"""


@pytest.fixture(scope="module")
def dsn() -> Iterator[str]:
    cluster = DisposableCluster()
    try:
        (cluster.data / "pg_hba.conf").write_text(HBA)
        cluster.start()
        migrate(cluster.dsn)
        yield cluster.dsn
    finally:
        cluster.destroy()


def _login(dsn: str, role: str, password: str) -> list[tuple[object, ...]]:
    with psycopg.connect(make_conninfo(dsn, user=role, password=password)) as conn:
        return conn.execute("SELECT current_user, count(*) FROM pulse_contracts").fetchall()


def test_the_printed_password_logs_in_and_a_wrong_one_does_not(dsn: str) -> None:
    made = add_tenant(dsn, "acme-corp")
    assert made.created and made.password and made.role == "pulse_c_acme_corp"
    assert _login(dsn, made.role, made.password) == [("pulse_c_acme_corp", 0)]
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        _login(dsn, made.role, made.password + "x")
    with psycopg.connect(dsn) as conn:
        (stored,) = conn.execute(
            "SELECT rolpassword FROM pg_authid WHERE rolname = %s", [made.role]
        ).fetchone() or (None,)
    assert str(stored).startswith("SCRAM-SHA-256$4096:") and made.password not in str(stored)


def test_adding_again_keeps_the_password_unless_rotated(dsn: str) -> None:
    first = add_tenant(dsn, "beta-ltd")
    again = add_tenant(dsn, "beta-ltd")
    assert not again.created and again.password is None
    assert first.password and _login(dsn, first.role, first.password)
    rotated = add_tenant(dsn, "beta-ltd", rotate=True)
    assert rotated.password and rotated.password != first.password
    assert _login(dsn, rotated.role, rotated.password)
    with pytest.raises(psycopg.OperationalError):
        _login(dsn, first.role, first.password)
    assert ("beta-ltd", "pulse_c_beta_ltd") in tenants(dsn)


def test_the_provider_role_reads_everything_and_cannot_become_a_client(dsn: str) -> None:
    made = add_provider(dsn, rotate=True)
    assert made.password and _login(dsn, made.role, made.password)
    with psycopg.connect(make_conninfo(dsn, user=made.role, password=made.password)) as conn:
        assert conn.execute("SELECT count(*) FROM pulse_events").fetchone() == (0,)
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("DELETE FROM pulse_contracts")


def test_a_bad_client_id_is_refused(dsn: str) -> None:
    with pytest.raises(ConfigError, match="lowercase letters, digits and dashes"):
        add_tenant(dsn, "Robert'); DROP ROLE postgres; --")


def test_the_cli_writes_a_0600_file_once_and_never_overwrites_it(
    dsn: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PULSE_DATABASE_URL", dsn)
    secret = tmp_path / "secrets" / "pulse_c_gamma.password"
    result = CliRunner().invoke(tenants_app, ["add", "gamma", "--password-file", str(secret)])
    assert result.exit_code == 0, result.output
    assert stat.S_IMODE(secret.stat().st_mode) == 0o600
    password = secret.read_text().strip()
    assert password not in result.output
    assert _login(dsn, "pulse_c_gamma", password)
    again = CliRunner().invoke(
        tenants_app, ["add", "gamma", "--rotate-password", "--password-file", str(secret)]
    )
    assert again.exit_code != 0 and "refusing to overwrite" in str(again.exception)
    assert secret.read_text().strip() == password
