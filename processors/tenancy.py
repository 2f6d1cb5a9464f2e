"""Names that tie a client together across the database and Grafana: its login role, its
datasource, folder and dashboard uid, and the environment variable holding its password.

All derive from the client id (``Contract.client_id``: lowercase letters, digits, dashes), so
the database migration, ``pulse tenants add``, the provisioning files and the publisher agree.
"""

from __future__ import annotations

import hashlib

UID_MAX = 40  # Grafana's limit for datasource, folder and dashboard uids
ROLE_MAX = 63  # PostgreSQL's NAMEDATALEN - 1

PROVIDER_ROLE = "pulse_grafana"
PROVIDER_PASSWORD_ENV = "PULSE_GRAFANA_PASSWORD_PROVIDER"
CLIENT_GROUP_ROLE = "pulse_client"
PROVIDER_GROUP_ROLE = "pulse_provider"


def bounded(text: str, limit: int, sep: str) -> str:
    """``text`` if it fits in ``limit``, else its head and a digest of the whole (stays unique)."""
    if len(text) <= limit:
        return text
    digest = hashlib.sha256(text.encode()).hexdigest()[:10]
    return f"{text[: limit - len(digest) - 1]}{sep}{digest}"


def client_uid(client: str) -> str:
    """The uid of the client's datasource and folder (``pulse-client-<id>``)."""
    return bounded(f"pulse-client-{client}", UID_MAX, "-")


def client_dashboard_uid(client: str) -> str:
    """The uid of the client's dashboard (folders share the dashboards' uid space in Grafana)."""
    return bounded(f"pulse-outcomes-{client}", UID_MAX, "-")


def client_role(client: str) -> str:
    """The PostgreSQL login role of a client (``pulse_c_<id>``, dashes as underscores)."""
    return bounded("pulse_c_" + client.replace("-", "_"), ROLE_MAX, "_")


def client_password_env(client: str) -> str:
    """The environment variable Grafana reads the client role's password from."""
    return "PULSE_GRAFANA_PASSWORD_" + client.replace("-", "_").upper()
