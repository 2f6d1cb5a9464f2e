"""A real Alertmanager process and a local webhook receiver, for the alert delivery tests.

``running_alertmanager`` starts Debian's ``prometheus-alertmanager`` on a free 127.0.0.1 port with
a configuration and a data directory of its own (clustering off), waits until it is ready, and
stops exactly that process (by its PID) at the end. ``WebhookReceiver`` records every
notification Alertmanager posts to it.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from tests.support.sandbox import free_port


@dataclass
class Alertmanager:
    url: str
    config: Path
    process: subprocess.Popen[bytes]
    log: Path

    def api(self, path: str, body: Any = None, method: str | None = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            f"{self.url}{path}",
            data=data,
            method=method or ("POST" if data is not None else "GET"),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=5) as response:
            text = response.read().decode()
        return json.loads(text) if text else None

    def silence(self, matchers: dict[str, str], hours: float = 1) -> str:
        now = time.time()
        body = {
            "matchers": [
                {"name": k, "value": v, "isRegex": False, "isEqual": True}
                for k, v in matchers.items()
            ],
            "startsAt": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now - 60)),
            "endsAt": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now + hours * 3600)),
            "createdBy": "outcome-pulse tests",
            "comment": "silence under test",
        }
        return str(self.api("/api/v2/silences", body)["silenceID"])


def _ready(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/-/ready", timeout=1) as response:
            return bool(response.status == 200)
    except OSError:
        return False


@contextmanager
def running_alertmanager(
    config_text: str, directory: Path, port: int | None = None
) -> Iterator[Alertmanager]:
    binary = shutil.which("prometheus-alertmanager")
    assert binary, "prometheus-alertmanager is missing: run deploy/local/install.sh"
    directory.mkdir(parents=True, exist_ok=True)
    config = directory / "alertmanager.yml"
    config.write_text(config_text, encoding="utf-8")
    port = port or free_port()
    url = f"http://127.0.0.1:{port}"
    log = directory / "alertmanager.log"
    with log.open("ab") as out:
        process = subprocess.Popen(
            [
                binary,
                f"--config.file={config}",
                f"--storage.path={directory / 'data'}",
                f"--web.listen-address=127.0.0.1:{port}",
                "--cluster.listen-address=",
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 30
        while not _ready(url):
            if process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"alertmanager did not start:\n{log.read_text()[-2000:]}")
            time.sleep(0.1)
        yield Alertmanager(url, config, process, log)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


@dataclass
class WebhookReceiver:
    """Collects Alertmanager's webhook notifications (each a JSON document with ``alerts``)."""

    port: int = field(default_factory=free_port)
    notifications: list[dict[str, Any]] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def alerts(
        self, where: Callable[[dict[str, Any]], bool] = lambda a: True
    ) -> list[dict[str, Any]]:
        with self._lock:
            return [a for n in self.notifications for a in n["alerts"] if where(a)]

    @contextmanager
    def serving(self) -> Iterator[WebhookReceiver]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                with receiver._lock:
                    receiver.notifications.append(json.loads(body))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            yield self
        finally:
            server.shutdown()
            server.server_close()


def wait_for(predicate: Callable[[], Any], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(0.2)
