"""Publishing to a Grafana server through its HTTP API (``grafana-client``), idempotently.

Per client: a folder (uid ``pulse-client-<id>``), a team (``pulse-client-<id>``) that is the only
holder of View permission on it (the folder's permission list is replaced, so org Viewers and
Editors no longer see it; admins always do), the client's PostgreSQL datasource (its own role)
and its dashboard. The provider's dashboards go to the ``Outcome Pulse`` folder. Running it again
updates in place: folders, teams and datasources are looked up by uid or name first, dashboards
are saved with ``overwrite``.

Datasource permissions (who may query a datasource) are a Grafana Enterprise feature; on Grafana
OSS a member of one org can query every datasource of that org through the API, so hard
isolation between clients on OSS means one organization per client. PostgreSQL's row-level
security is what holds either way: a client's datasource cannot read another client's rows.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from grafana_client import GrafanaApi
from grafana_client.client import GrafanaClientError, GrafanaException

from outcome_pulse.processors.contract import Contract
from outcome_pulse.processors.errors import PulseError
from outcome_pulse.processors.tenancy import client_role, client_uid

PROVIDER_FOLDER_UID = "pulse-provider"
PROVIDER_FOLDER_TITLE = "Outcome Pulse"
VIEW = 1  # Grafana's permission levels: 1 View, 2 Edit, 4 Admin


class PublishError(PulseError):
    """Grafana refused a call (names the call and Grafana's answer)."""


@dataclass(frozen=True, slots=True)
class DatabaseTarget:
    """The database as the Grafana server reaches it."""

    host: str  # host:port
    database: str
    sslmode: str = "disable"
    timescaledb: bool = False


@dataclass
class PublishReport:
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)


def _not_found(exc: GrafanaException) -> bool:
    return isinstance(exc, GrafanaClientError) and exc.status_code == 404


class GrafanaPublisher:
    def __init__(self, api: GrafanaApi) -> None:
        self.api = api

    def publish(
        self,
        clients: Mapping[str, Sequence[Contract]],
        dashboards: Mapping[str, dict[str, Any]],
        passwords: Mapping[str, str],
        database: DatabaseTarget,
    ) -> PublishReport:
        """``dashboards`` by relative path (``dashboards.generate.dashboards``); ``passwords``
        by client id."""
        report = PublishReport()
        try:
            self._folder(PROVIDER_FOLDER_UID, PROVIDER_FOLDER_TITLE, report)
            for rel, board in sorted(dashboards.items()):
                if rel.startswith("provider/"):
                    self._dashboard(board, PROVIDER_FOLDER_UID, report)
            for client, contracts in sorted(clients.items()):
                if client not in passwords:
                    raise PublishError(
                        f"no password for client {client}'s role {client_role(client)}"
                    )
                uid = client_uid(client)
                self._folder(uid, f"Client: {contracts[0].client.name} ({client})", report)
                team = self._team(uid, report)
                self._call(
                    f"setting the permissions of folder {uid}",
                    lambda uid=uid, team=team: self.api.folder.update_folder_permissions(
                        uid, {"items": [{"teamId": team, "permission": VIEW}]}
                    ),
                )
                self._datasource(client, passwords[client], database, report)
                for rel, board in sorted(dashboards.items()):
                    if rel.startswith(f"clients/{client}/"):
                        self._dashboard(board, uid, report)
        except GrafanaException as exc:
            raise PublishError(f"Grafana answered {exc.status_code}: {exc.message}") from exc
        return report

    # -- one kind of object each ---------------------------------------------------------------

    def _folder(self, uid: str, title: str, report: PublishReport) -> None:
        try:
            current = self.api.folder.get_folder(uid)
        except GrafanaException as exc:
            if not _not_found(exc):
                raise
            self.api.folder.create_folder(title, uid=uid)
            report.created.append(f"folder {uid}")
            return
        if current.get("title") != title:
            self.api.folder.update_folder(uid, title=title, overwrite=True)
            report.updated.append(f"folder {uid}")

    def _team(self, name: str, report: PublishReport) -> int:
        found = [t for t in self.api.teams.get_team_by_name(name) if t.get("name") == name]
        if found:
            return int(found[0]["id"])
        made = self.api.teams.add_team({"name": name})
        report.created.append(f"team {name}")
        return int(made["teamId"])

    def _datasource(
        self, client: str, password: str, database: DatabaseTarget, report: PublishReport
    ) -> None:
        uid = client_uid(client)
        body = {
            "uid": uid,
            "name": f"Outcome Pulse: {client}",
            "type": "grafana-postgresql-datasource",
            "access": "proxy",
            "url": database.host,
            "user": client_role(client),
            "basicAuth": False,
            "isDefault": False,
            "jsonData": {
                "database": database.database,
                "sslmode": database.sslmode,
                "postgresVersion": 1500,
                "timescaledb": database.timescaledb,
            },
            "secureJsonData": {"password": password},
        }
        try:
            self.api.datasource.get_datasource_by_uid(uid)
        except GrafanaException as exc:
            if not _not_found(exc):
                raise
            self.api.datasource.create_datasource(body)
            report.created.append(f"datasource {uid}")
            return
        self.api.datasource.update_datasource_by_uid(uid, body)
        report.updated.append(f"datasource {uid}")

    def _dashboard(self, board: dict[str, Any], folder_uid: str, report: PublishReport) -> None:
        body = {
            "dashboard": {**board, "id": None},
            "folderUid": folder_uid,
            "overwrite": True,
            "message": "published by pulse grafana publish",
        }
        self.api.dashboard.update_dashboard(body)
        report.updated.append(f"dashboard {board['uid']}")

    @staticmethod
    def _call(what: str, action: Any) -> Any:
        try:
            return action()
        except GrafanaException as exc:
            raise PublishError(
                f"{what}: Grafana answered {exc.status_code}: {exc.message}"
            ) from exc
