"""Background worker processes started by the CLI (``pulse demo``, benchmarks, tests).

Each one has a PID file under the stack's state directory; it is stopped by that PID, after
checking the PID still belongs to a worker we started, never by process name.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from outcome_pulse.streams.errors import StackError
from outcome_pulse.streams.settings import REPO_ROOT, PulseSettings

# The workers this process started, by PID: their handles are kept until they are reaped, so
# that no handle of a running child is dropped (Python warns about that) and each is waited for.
_children: dict[int, subprocess.Popen[bytes]] = {}


@dataclass(frozen=True)
class WorkerProcess:
    pid: int
    log: Path


def _paths(settings: PulseSettings, name: str) -> tuple[Path, Path]:
    run, logs = settings.state_dir / "run", settings.state_dir / "logs"
    run.mkdir(parents=True, exist_ok=True)
    logs.mkdir(parents=True, exist_ok=True)
    return run / f"{name}.pid", logs / f"{name}.log"


def _is_our_worker(pid: int) -> bool:
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    return b"outcome_pulse.streams.cli.main" in cmdline and b"worker" in cmdline


def running_worker(settings: PulseSettings, name: str = "worker") -> int | None:
    pid_file, _ = _paths(settings, name)
    if not pid_file.exists():
        return None
    pid = int(pid_file.read_text().strip() or 0)
    if pid and _is_our_worker(pid):
        return pid
    pid_file.unlink(missing_ok=True)
    return None


def start_worker(
    settings: PulseSettings, name: str = "worker", env: dict[str, str] | None = None
) -> WorkerProcess:
    """Start ``pulse worker`` in the background with the given PULSE_* overrides."""
    pid_file, log = _paths(settings, name)
    existing = running_worker(settings, name)
    if existing:
        return WorkerProcess(existing, log)
    child_env = {**os.environ, **(env or {})}
    with log.open("ab") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "outcome_pulse.streams.cli.main", "worker"],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=child_env,
            start_new_session=True,
        )
    _children[proc.pid] = proc
    pid_file.write_text(str(proc.pid))
    return WorkerProcess(proc.pid, log)


def stop_worker(settings: PulseSettings, name: str = "worker", timeout: float = 30.0) -> bool:
    """Stop the worker by its recorded PID (SIGTERM, then SIGKILL). True if one was stopped."""
    pid = running_worker(settings, name)
    pid_file, _ = _paths(settings, name)
    if pid is None:
        return False
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and _alive(pid):
        time.sleep(0.2)
    if _alive(pid):
        os.kill(pid, signal.SIGKILL)
    pid_file.unlink(missing_ok=True)
    return True


def _alive(pid: int) -> bool:
    child = _children.get(pid)
    if child is not None:
        if child.poll() is not None:  # exited: reaped by its handle
            del _children[pid]
            return False
        return _not_zombie(pid)
    try:
        waited, _ = os.waitpid(pid, os.WNOHANG)
        if waited == pid:
            return False
    except ChildProcessError:
        pass
    return _is_our_worker(pid) and Path(f"/proc/{pid}").exists() and _not_zombie(pid)


def _not_zombie(pid: int) -> bool:
    try:
        return " Z " not in Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False


def run_stack_script(settings: PulseSettings, *args: str) -> int:
    script = REPO_ROOT / "deploy" / "local" / "stack.sh"
    if not script.exists():
        raise StackError(f"{script} is missing; is this a complete checkout?")
    return subprocess.call(["bash", str(script), *args], env={**os.environ, **settings.stack_env()})
