"""A local stand-in for ServiceNow's Table API and Jira's search, over real HTTP on 127.0.0.1,
serving records in the documented page shapes, with scripted faults (429 with Retry-After, 5xx,
bodies that are not a page) and a log of the requests it got. No ServiceNow or Jira can run
here; this is what the poller is tested against."""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

_SN_QUERY = re.compile(r"^sys_updated_on>=(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d)\^ORDERBYsys_updated_on$")
_JQL = re.compile(r'updated >= "(\d{4}/\d\d/\d\d \d\d:\d\d)" ORDER BY updated ASC$')


@dataclass
class Fault:
    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class FakeApi:
    incidents: list[dict[str, Any]] = field(default_factory=list)  # ServiceNow records
    issues: list[dict[str, Any]] = field(default_factory=list)  # Jira search issues
    faults: dict[int, Fault] = field(default_factory=dict)  # request number (1-based) -> fault
    authorization: str | None = None  # required Authorization header, if set
    requests: list[dict[str, str]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def answer(self, path: str, params: dict[str, str], authorization: str | None) -> Fault:
        with self.lock:
            self.requests.append({"path": path, **params})
            n = len(self.requests)
            if self.authorization is not None and authorization != self.authorization:
                return Fault(401, b'{"error": "User Not Authenticated"}')
            if n in self.faults:
                return self.faults[n]
            if path.startswith("/api/now/table/"):
                return Fault(200, json.dumps(self._servicenow(params)).encode())
            if path == "/rest/api/2/search":
                return Fault(200, json.dumps(self._jira(params)).encode())
            return Fault(404, b"{}")

    def _servicenow(self, params: dict[str, str]) -> dict[str, Any]:
        match = _SN_QUERY.match(params["sysparm_query"])
        assert match, params["sysparm_query"]
        bound = match.group(1)
        rows = sorted(
            (r for r in self.incidents if r["sys_updated_on"] >= bound),
            key=lambda r: (r["sys_updated_on"], r["number"]),
        )
        offset, limit = int(params["sysparm_offset"]), int(params["sysparm_limit"])
        return {"result": rows[offset : offset + limit]}

    def _jira(self, params: dict[str, str]) -> dict[str, Any]:
        match = _JQL.search(params["jql"])
        assert match, params["jql"]
        bound = datetime.strptime(match.group(1), "%Y/%m/%d %H:%M").replace(tzinfo=UTC)

        def updated(issue: dict[str, Any]) -> datetime:
            return datetime.fromisoformat(issue["fields"]["updated"])

        rows = sorted(
            (i for i in self.issues if updated(i) >= bound), key=lambda i: (updated(i), i["key"])
        )
        start, size = int(params["startAt"]), int(params["maxResults"])
        return {
            "expand": "schema,names",
            "startAt": start,
            "maxResults": size,
            "total": len(rows),
            "issues": rows[start : start + size],
        }


@contextmanager
def serving(api: FakeApi) -> Iterator[str]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            url = urlparse(self.path)
            params = {k: v[0] for k, v in parse_qs(url.query).items()}
            fault = api.answer(url.path, params, self.headers.get("Authorization"))
            self.send_response(fault.status)
            self.send_header("Content-Type", "application/json")
            for name, value in fault.headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(fault.body)))
            self.end_headers()
            self.wfile.write(fault.body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
