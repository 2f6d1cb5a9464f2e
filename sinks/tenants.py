"""Database roles of the tenants: one login role per client, confined by row-level security
(``sinks/sql/v5_tenants.sql``), and the provider's Grafana role that sees every client.

Passwords are generated here (``secrets``) and sent to PostgreSQL only as a SCRAM-SHA-256 verifier
(as ``psql``'s ``\\password`` does), so the clear text never reaches the server or its logs; the
caller hands it over once. Roles are cluster-wide: adding a client whose role exists (created for
another database of the cluster) reuses the role and changes its password only when asked to.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass

import psycopg
from psycopg import sql

from outcome_pulse.processors.errors import ConfigError
from outcome_pulse.processors.tenancy import (
    CLIENT_GROUP_ROLE,
    PROVIDER_GROUP_ROLE,
    PROVIDER_ROLE,
    client_role,
)
from outcome_pulse.sinks.pgerrors import translate
from outcome_pulse.sinks.sql_text import statements

_CLIENT_ID = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")
SCRAM_ITERATIONS = 4096
_SQL = statements("tenants")


@dataclass(frozen=True, slots=True)
class TenantCredentials:
    client: str | None
    role: str
    password: str | None
    """The new password, or None when an existing role kept its own."""
    created: bool


def scram_verifier(password: str, *, salt: bytes | None = None) -> str:
    """PostgreSQL's stored form of a SCRAM-SHA-256 password (RFC 5802/7677)."""
    salt = salt if salt is not None else secrets.token_bytes(16)
    salted = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, SCRAM_ITERATIONS)
    client_key = hmac.digest(salted, b"Client Key", "sha256")
    stored_key = hashlib.sha256(client_key).digest()
    server_key = hmac.digest(salted, b"Server Key", "sha256")

    def b64(raw: bytes) -> str:
        return base64.b64encode(raw).decode()

    return f"SCRAM-SHA-256${SCRAM_ITERATIONS}:{b64(salt)}${b64(stored_key)}:{b64(server_key)}"


def new_password() -> str:
    return secrets.token_urlsafe(24)


def _ensure_role(
    conn: psycopg.Connection, role: str, group: str, rotate: bool
) -> tuple[bool, str | None]:
    exists = conn.execute(_SQL["role_exists"], [role]).fetchone()
    password = new_password() if (rotate or not exists) else None
    ident = sql.Identifier(role)
    if not exists:
        conn.execute(
            sql.SQL(_SQL["create_role"]).format(
                ident, sql.Literal(scram_verifier(password or "")), sql.Identifier(group)
            )
        )
    else:
        if password is not None:
            conn.execute(
                sql.SQL(_SQL["set_role_password"]).format(
                    ident, sql.Literal(scram_verifier(password))
                )
            )
        conn.execute(sql.SQL(_SQL["grant_group"]).format(sql.Identifier(group), ident))
    database = conn.execute(_SQL["current_database"]).fetchone()
    assert database is not None
    conn.execute(sql.SQL(_SQL["grant_connect"]).format(sql.Identifier(database[0]), ident))
    return not exists, password


def _check_schema(conn: psycopg.Connection) -> None:
    found = conn.execute(_SQL["has_tenants_table"]).fetchone()
    if not (found and found[0]):
        raise ConfigError(
            "the database has no pulse_tenants table (schema version 5): run `pulse db migrate`"
        )


def add_tenant(dsn: str, client: str, *, rotate: bool = False) -> TenantCredentials:
    """Create (or reuse) the client's login role and record it in pulse_tenants."""
    if not _CLIENT_ID.fullmatch(client):
        raise ConfigError(
            f"client id {client!r}: expected lowercase letters, digits and dashes (a contract "
            "file's client.id)"
        )
    role = client_role(client)
    try:
        with psycopg.connect(dsn, autocommit=True) as conn, conn.transaction():
            _check_schema(conn)
            other = conn.execute(_SQL["role_of_other_client"], [role, client]).fetchone()
            if other:
                raise ConfigError(f"role {role} already belongs to client {other[0]!r}")
            member = conn.execute(_SQL["is_provider_member"], [role]).fetchone()
            if member:
                raise ConfigError(f"role {role} is a provider role; refusing to make it a client")
            created, password = _ensure_role(conn, role, CLIENT_GROUP_ROLE, rotate)
            conn.execute(_SQL["upsert_tenant"], [client, role])
    except psycopg.Error as exc:
        raise translate(exc, f"adding tenant {client}") from exc
    return TenantCredentials(client, role, password, created)


def add_provider(dsn: str, *, role: str = PROVIDER_ROLE, rotate: bool = False) -> TenantCredentials:
    """Create (or reuse) the provider's read-only login role, which sees every client."""
    try:
        with psycopg.connect(dsn, autocommit=True) as conn, conn.transaction():
            _check_schema(conn)
            tenant = conn.execute(_SQL["client_of_role"], [role]).fetchone()
            if tenant:
                raise ConfigError(f"role {role} is client {tenant[0]!r}'s role")
            created, password = _ensure_role(conn, role, PROVIDER_GROUP_ROLE, rotate)
    except psycopg.Error as exc:
        raise translate(exc, "adding the provider's role") from exc
    return TenantCredentials(None, role, password, created)


def tenants(dsn: str) -> list[tuple[str, str]]:
    """(client, role) of every tenant, by client."""
    try:
        with psycopg.connect(dsn) as conn:
            _check_schema(conn)
            rows = conn.execute(_SQL["select_tenants"]).fetchall()
    except psycopg.Error as exc:
        raise translate(exc, "listing tenants") from exc
    return [(str(c), str(r)) for c, r in rows]
