"""sd_notify: READY/WATCHDOG datagrams reach systemd's socket; a no-op without one."""

from __future__ import annotations

import socket
from pathlib import Path

from edge.sdnotify import SystemdNotifier


def test_notifies_the_socket_systemd_gave(tmp_path: Path) -> None:
    path = str(tmp_path / "notify")
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as server:
        server.bind(path)
        server.settimeout(2)
        n = SystemdNotifier({"NOTIFY_SOCKET": path, "WATCHDOG_USEC": "20000000"})
        assert n.enabled
        assert n.watchdog_s == 10
        assert n.notify("READY=1")
        assert server.recv(100) == b"READY=1"
        n.watchdog()
        assert server.recv(100) == b"WATCHDOG=1"
        n.watchdog()  # not due again for 10 s: nothing sent
        server.settimeout(0.05)
        try:
            extra = server.recv(100)
        except TimeoutError:
            extra = b""
        assert extra == b""


def test_without_systemd_it_does_nothing() -> None:
    n = SystemdNotifier({})
    assert not n.enabled
    assert n.watchdog_s is None
    assert n.notify("READY=1") is False
    n.watchdog()
