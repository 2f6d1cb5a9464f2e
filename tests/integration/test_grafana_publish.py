"""``GrafanaPublisher`` against a local HTTP server standing in for Grafana: it records every call,
checks each body against the shapes Grafana's HTTP API documents (folders, teams, folder
permissions, data sources, dashboards), keeps the objects, and answers as Grafana does (404 for
an unknown uid, 409 for a duplicate). Publishing twice creates nothing the second time."""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest
from grafana_client import GrafanaApi

from outcome_pulse.dashboards.generate import by_client, dashboards
from outcome_pulse.sinks.grafana_publisher import DatabaseTarget, GrafanaPublisher, PublishError
from outcome_pulse.streams.contract_files import load_contract

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]


def _require(body: Any, shape: dict[str, type | tuple[type, ...]], where: str) -> None:
    assert isinstance(body, dict), f"{where}: body is not a JSON object"
    for key, kind in shape.items():
        assert key in body, f"{where}: missing {key!r}"
        assert isinstance(body[key], kind), f"{where}: {key!r} is {type(body[key]).__name__}"


class FakeGrafana:
    def __init__(self) -> None:
        self.calls: list[tuple[str, str, Any]] = []
        self.folders: dict[str, dict[str, Any]] = {}
        self.teams: dict[int, dict[str, Any]] = {}
        self.permissions: dict[str, list[dict[str, Any]]] = {}
        self.datasources: dict[str, dict[str, Any]] = {}
        self.dashboards: dict[str, dict[str, Any]] = {}
        self.auth: set[str] = set()

    def handle(
        self, method: str, path: str, query: dict[str, list[str]], body: Any
    ) -> tuple[int, Any]:
        self.calls.append((method, path, body))
        if m := re.fullmatch(r"/api/folders/([\w-]+)", path):
            uid = m.group(1)
            if method == "GET":
                return (
                    (200, self.folders[uid])
                    if uid in self.folders
                    else (404, {"message": "folder not found"})
                )
            if method == "PUT":
                _require(body, {"title": str}, "PUT folder")
                self.folders[uid]["title"] = body["title"]
                return 200, self.folders[uid]
        if path == "/api/folders" and method == "POST":
            _require(body, {"title": str, "uid": str}, "POST /api/folders")
            if body["uid"] in self.folders:
                return 409, {"message": "a folder with the same uid already exists"}
            self.folders[body["uid"]] = {
                "uid": body["uid"],
                "title": body["title"],
                "id": len(self.folders) + 1,
            }
            return 200, self.folders[body["uid"]]
        if m := re.fullmatch(r"/api/folders/([\w-]+)/permissions", path):
            assert method == "POST"
            _require(body, {"items": list}, "folder permissions")
            for item in body["items"]:
                _require(item, {"permission": int}, "permission item")
                assert item["permission"] in (1, 2, 4)
                assert sum(k in item for k in ("teamId", "userId", "role")) == 1
            self.permissions[m.group(1)] = body["items"]
            return 200, {"message": "Folder permissions updated"}
        if path == "/api/teams/search" and method == "GET":
            name = query.get("name", [""])[0]
            teams = [t for t in self.teams.values() if t["name"] == name]
            return 200, {"totalCount": len(teams), "teams": teams, "page": 1, "perPage": 1000}
        if path == "/api/teams" and method == "POST":
            _require(body, {"name": str}, "POST /api/teams")
            if any(t["name"] == body["name"] for t in self.teams.values()):
                return 409, {"message": "Team name taken"}
            team_id = len(self.teams) + 1
            self.teams[team_id] = {"id": team_id, "name": body["name"]}
            return 200, {"message": "Team created", "teamId": team_id}
        if m := re.fullmatch(r"/api/datasources/uid/([\w-]+)", path):
            uid = m.group(1)
            if method == "GET":
                return (
                    (200, self.datasources[uid])
                    if uid in self.datasources
                    else (404, {"message": "Data source not found"})
                )
            if method == "PUT":
                self._check_datasource(body)
                self.datasources[uid] = body
                return 200, {"message": "Datasource updated", "datasource": body}
        if path == "/api/datasources" and method == "POST":
            self._check_datasource(body)
            if body["uid"] in self.datasources:
                return 409, {"message": "data source with the same uid already exists"}
            self.datasources[body["uid"]] = body
            return 200, {"message": "Datasource added", "datasource": body}
        if path == "/api/dashboards/db" and method == "POST":
            _require(
                body,
                {"dashboard": dict, "folderUid": str, "overwrite": bool},
                "POST /api/dashboards/db",
            )
            board = body["dashboard"]
            _require(board, {"uid": str, "title": str, "panels": list}, "dashboard")
            assert board.get("id") is None, "a new dashboard must not carry an id"
            assert body["folderUid"] in self.folders, "dashboard into an unknown folder"
            if board["uid"] in self.dashboards and not body["overwrite"]:
                return 412, {"status": "version-mismatch"}
            self.dashboards[board["uid"]] = {"folderUid": body["folderUid"], "dashboard": board}
            return 200, {"status": "success", "uid": board["uid"], "version": 1}
        return 404, {"message": f"no route {method} {path}"}

    @staticmethod
    def _check_datasource(body: Any) -> None:
        _require(
            body,
            {
                "name": str,
                "type": str,
                "access": str,
                "url": str,
                "uid": str,
                "user": str,
                "jsonData": dict,
                "secureJsonData": dict,
            },
            "datasource",
        )
        assert body["type"] == "grafana-postgresql-datasource"
        _require(
            body["jsonData"], {"database": str, "sslmode": str, "timescaledb": bool}, "jsonData"
        )
        _require(body["secureJsonData"], {"password": str}, "secureJsonData")


@pytest.fixture
def grafana() -> Iterator[tuple[str, FakeGrafana]]:
    fake = FakeGrafana()

    class Handler(BaseHTTPRequestHandler):
        def _serve(self) -> None:
            url = urlparse(self.path)
            fake.auth.add(self.headers.get("Authorization", ""))
            length = int(self.headers.get("Content-Length") or 0)
            body = json.loads(self.rfile.read(length)) if length else None
            status, answer = fake.handle(self.command, url.path, parse_qs(url.query), body)
            data = json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_PUT = do_DELETE = _serve

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", fake
    finally:
        server.shutdown()
        server.server_close()


def _publish(url: str) -> Any:
    contracts = [load_contract(p) for p in sorted((REPO / "contracts").glob("*.yaml"))]
    clients = by_client(contracts)
    api = GrafanaApi.from_url(url, credential="test-token")
    passwords = {client: f"pw-{client}" for client in clients}
    target = DatabaseTarget(host="db.internal:5432", database="pulse")
    return GrafanaPublisher(api).publish(clients, dashboards(contracts), passwords, target)


def test_publish_creates_folders_teams_datasources_dashboards_once(
    grafana: tuple[str, FakeGrafana],
) -> None:
    url, fake = grafana
    first = _publish(url)
    assert sorted(fake.folders) == [
        "pulse-client-software-house",
        "pulse-client-usaid-scms",
        "pulse-client-volvo-it",
        "pulse-provider",
    ]
    assert sorted(t["name"] for t in fake.teams.values()) == [
        "pulse-client-software-house",
        "pulse-client-usaid-scms",
        "pulse-client-volvo-it",
    ]
    for uid, items in fake.permissions.items():
        team = next(t for t in fake.teams.values() if t["name"] == uid)
        assert items == [{"teamId": team["id"], "permission": 1}], uid
    assert fake.datasources["pulse-client-volvo-it"]["user"] == "pulse_c_volvo_it"
    assert fake.datasources["pulse-client-volvo-it"]["secureJsonData"] == {
        "password": "pw-volvo-it"
    }
    assert fake.dashboards["pulse-outcomes-volvo-it"]["folderUid"] == "pulse-client-volvo-it"
    assert fake.dashboards["pulse-wall"]["folderUid"] == "pulse-provider"
    assert len(fake.dashboards) == 6
    assert fake.auth == {"Bearer test-token"}
    assert len(first.created) == 4 + 3 + 3

    calls_before = len(fake.calls)
    second = _publish(url)
    assert second.created == []
    creating = [
        (m, p)
        for m, p, _ in fake.calls[calls_before:]
        if m == "POST" and p in ("/api/folders", "/api/teams", "/api/datasources")
    ]
    assert creating == []
    assert len(fake.folders) == 4 and len(fake.teams) == 3 and len(fake.datasources) == 3
    assert len(fake.dashboards) == 6


def test_a_missing_password_is_refused_before_anything_of_that_client(
    grafana: tuple[str, FakeGrafana],
) -> None:
    url, fake = grafana
    contracts = [load_contract(REPO / "contracts" / "scms_orders.yaml")]
    api = GrafanaApi.from_url(url, credential="test-token")
    with pytest.raises(PublishError, match="no password for client usaid-scms"):
        GrafanaPublisher(api).publish(
            by_client(contracts), dashboards(contracts), {}, DatabaseTarget("db:5432", "pulse")
        )
    assert "pulse-client-usaid-scms" not in fake.folders
