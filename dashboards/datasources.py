"""The datasources the dashboards read, by uid: one PostgreSQL datasource per client (through
that client's database role, which row-level security confines to its contracts), the
provider's PostgreSQL datasource (sees every client), Prometheus and Alertmanager."""

from __future__ import annotations

from grafana_foundation_sdk.models.dashboard import DataSourceRef

from outcome_pulse.processors.tenancy import (
    PROVIDER_PASSWORD_ENV,
    PROVIDER_ROLE,
    client_password_env,
    client_role,
    client_uid,
)

__all__ = [
    "PROVIDER_PASSWORD_ENV",
    "PROVIDER_ROLE",
    "client_password_env",
    "client_role",
]

POSTGRES_TYPE = "grafana-postgresql-datasource"
PROMETHEUS_TYPE = "prometheus"
ALERTMANAGER_TYPE = "alertmanager"

PROVIDER_UID = "pulse-provider"
PROMETHEUS_UID = "pulse-prometheus"
ALERTMANAGER_UID = "pulse-alertmanager"

client_datasource_uid = client_uid


def postgres(uid: str) -> DataSourceRef:
    return DataSourceRef(type_val=POSTGRES_TYPE, uid=uid)


def provider() -> DataSourceRef:
    return postgres(PROVIDER_UID)


def client(client_id: str) -> DataSourceRef:
    return postgres(client_datasource_uid(client_id))


def prometheus() -> DataSourceRef:
    return DataSourceRef(type_val=PROMETHEUS_TYPE, uid=PROMETHEUS_UID)


def alertmanager() -> DataSourceRef:
    return DataSourceRef(type_val=ALERTMANAGER_TYPE, uid=ALERTMANAGER_UID)
