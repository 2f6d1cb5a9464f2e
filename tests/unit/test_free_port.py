"""The ports tests give their servers lie below the kernel's ephemeral range, each test process
in its own slice, and are not handed out twice."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from tests.support import sandbox


def _ephemeral_low() -> int:
    return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])


def test_ports_are_below_the_ephemeral_range_and_not_repeated() -> None:
    ports = [sandbox.free_port() for _ in range(50)]
    assert len(set(ports)) == 50
    assert all(sandbox._PORTS_LOW <= p < min(sandbox._PORTS_HIGH, _ephemeral_low()) for p in ports)


@pytest.mark.parametrize(("worker", "index"), [("", 0), ("gw0", 1), ("gw1", 2), ("gw2", 1)])
def test_each_test_process_has_its_own_slice(
    worker: str, index: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PYTEST_XDIST_WORKER", worker)
    width = (sandbox._PORTS_HIGH - sandbox._PORTS_LOW) // sandbox._SLICES
    assert sandbox._port_slice() == range(
        sandbox._PORTS_LOW + index * width, sandbox._PORTS_LOW + (index + 1) * width
    )


def _free_pair() -> int:
    """A port of this process's slice that is free now, and the next one too."""
    for port in sandbox._port_slice():
        with socket.socket() as first, socket.socket() as second:
            try:
                first.bind(("127.0.0.1", port))
                second.bind(("127.0.0.1", port + 1))
            except OSError:
                continue
        return port
    pytest.fail("no two consecutive free ports in this process's slice")


def test_a_port_in_use_is_skipped(monkeypatch: pytest.MonkeyPatch) -> None:
    # A fresh record of handed-out ports, and a pair (taken, taken + 1) both free: a port handed
    # out earlier in this process, or bound by another, must not make the test flaky (seen in
    # CI: taken + 1 was in use, so the slice of two held no free port).
    monkeypatch.setattr(sandbox, "_handed_out", set())
    taken = _free_pair()
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", taken))
        monkeypatch.setattr(sandbox, "_port_slice", lambda: range(taken, taken + 2))
        assert sandbox.free_port() == taken + 1
