"""Grafana file provisioning for the generated dashboards (``deploy/grafana/provisioning``).

Datasources: the provider's PostgreSQL (role ``pulse_grafana``, sees every client), one
PostgreSQL per client (the client's role, confined by row-level security), Prometheus and
Alertmanager. Dashboard providers: the provider's folder and one folder per client. Hosts,
database, URLs and passwords come from the environment of the Grafana server (``${VAR}``
interpolation, Grafana's provisioning syntax); nothing secret is written here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import yaml

from outcome_pulse.dashboards import datasources as ds
from outcome_pulse.dashboards.generate import CLIENTS_FOLDER, PROVIDER_FOLDER, by_client
from outcome_pulse.processors.contract import Contract

DATASOURCES = "provisioning/datasources/outcome-pulse.yaml"
DASHBOARDS = "provisioning/dashboards/outcome-pulse.yaml"
ENV_EXAMPLE = "grafana.env.example"

PG_HOST_ENV = "PULSE_GRAFANA_PG_HOST"
PG_DATABASE_ENV = "PULSE_GRAFANA_PG_DATABASE"
PG_SSLMODE_ENV = "PULSE_GRAFANA_PG_SSLMODE"
PROMETHEUS_URL_ENV = "PULSE_GRAFANA_PROMETHEUS_URL"
ALERTMANAGER_URL_ENV = "PULSE_GRAFANA_ALERTMANAGER_URL"
DASHBOARDS_DIR_ENV = "PULSE_GRAFANA_DASHBOARDS"

PROVIDER_FOLDER_TITLE = "Outcome Pulse"


def env(name: str) -> str:
    return "${" + name + "}"


def client_folder_uid(client_id: str) -> str:
    return ds.client_datasource_uid(client_id)


def client_folder_title(client_id: str, name: str) -> str:
    return f"Client: {name} ({client_id})"


def postgres_datasource(
    name: str, uid: str, role: str, password_env: str, timescaledb: bool
) -> dict[str, Any]:
    return {
        "name": name,
        "uid": uid,
        "type": ds.POSTGRES_TYPE,
        "access": "proxy",
        "url": env(PG_HOST_ENV),
        "user": role,
        "editable": False,
        "jsonData": {
            "database": env(PG_DATABASE_ENV),
            "sslmode": env(PG_SSLMODE_ENV),
            "postgresVersion": 1500,
            "timescaledb": timescaledb,
            "maxOpenConns": 10,
        },
        "secureJsonData": {"password": env(password_env)},
    }


def datasources(contracts: Sequence[Contract], *, timescaledb: bool) -> dict[str, Any]:
    entries = [
        postgres_datasource(
            "Outcome Pulse (provider)",
            ds.PROVIDER_UID,
            ds.PROVIDER_ROLE,
            ds.PROVIDER_PASSWORD_ENV,
            timescaledb,
        )
    ]
    for client_id in by_client(contracts):
        entries.append(
            postgres_datasource(
                f"Outcome Pulse: {client_id}",
                ds.client_datasource_uid(client_id),
                ds.client_role(client_id),
                ds.client_password_env(client_id),
                timescaledb,
            )
        )
    entries.append(
        {
            "name": "Outcome Pulse Prometheus",
            "uid": ds.PROMETHEUS_UID,
            "type": ds.PROMETHEUS_TYPE,
            "access": "proxy",
            "url": env(PROMETHEUS_URL_ENV),
            "editable": False,
            "jsonData": {"httpMethod": "POST", "timeInterval": "15s"},
        }
    )
    entries.append(
        {
            "name": "Outcome Pulse Alertmanager",
            "uid": ds.ALERTMANAGER_UID,
            "type": ds.ALERTMANAGER_TYPE,
            "access": "proxy",
            "url": env(ALERTMANAGER_URL_ENV),
            "editable": False,
            "jsonData": {"implementation": "prometheus", "handleGrafanaManagedAlerts": False},
        }
    )
    return {"apiVersion": 1, "datasources": entries}


def _provider(name: str, folder: str, folder_uid: str, path: str) -> dict[str, Any]:
    return {
        "name": name,
        "orgId": 1,
        "folder": folder,
        "folderUid": folder_uid,
        "type": "file",
        "disableDeletion": True,
        "allowUiUpdates": False,
        "updateIntervalSeconds": 60,
        "options": {"path": f"{env(DASHBOARDS_DIR_ENV)}/{path}"},
    }


def dashboard_providers(contracts: Sequence[Contract]) -> dict[str, Any]:
    providers = [
        _provider("outcome-pulse", PROVIDER_FOLDER_TITLE, "pulse-provider", PROVIDER_FOLDER)
    ]
    for client_id, group in by_client(contracts).items():
        providers.append(
            _provider(
                f"outcome-pulse-{client_id}",
                client_folder_title(client_id, group[0].client.name),
                client_folder_uid(client_id),
                f"{CLIENTS_FOLDER}/{client_id}",
            )
        )
    return {"apiVersion": 1, "providers": providers}


def env_example(contracts: Sequence[Contract]) -> str:
    lines = [
        "# Environment of the Grafana server for deploy/grafana/provisioning (no secrets here).",
        "# Passwords: printed once by `pulse tenants add CLIENT` / `pulse tenants provider`, or",
        "# read from the 0600 file they wrote. Point Grafana's paths.provisioning at",
        "# deploy/grafana/provisioning.",
        f"{PG_HOST_ENV}=127.0.0.1:15432",
        f"{PG_DATABASE_ENV}=pulse",
        f"{PG_SSLMODE_ENV}=disable",
        f"{PROMETHEUS_URL_ENV}=http://127.0.0.1:19090",  # the local stack's default ports
        f"{ALERTMANAGER_URL_ENV}=http://127.0.0.1:19095",
        f"{DASHBOARDS_DIR_ENV}=/path/to/outcome-pulse/dashboards/generated",
        f"{ds.PROVIDER_PASSWORD_ENV}=",
    ]
    lines += [f"{ds.client_password_env(cid)}=" for cid in by_client(contracts)]
    return "\n".join(lines) + "\n"


def _yaml(data: Mapping[str, Any]) -> str:
    return "# Generated by `pulse dashboards build`; do not edit.\n" + yaml.safe_dump(
        dict(data), sort_keys=False, allow_unicode=True, width=100
    )


def files(contracts: Sequence[Contract], *, timescaledb: bool) -> dict[str, str]:
    """Every provisioning file by path relative to ``deploy/grafana``."""
    return {
        DATASOURCES: _yaml(datasources(contracts, timescaledb=timescaledb)),
        DASHBOARDS: _yaml(dashboard_providers(contracts)),
        ENV_EXAMPLE: env_example(contracts),
    }
