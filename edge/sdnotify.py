"""A minimal ``sd_notify`` for the systemd unit (``Type=notify``, ``WatchdogSec=``).

Sends datagrams to ``$NOTIFY_SOCKET`` when systemd set it; a no-op otherwise (tests,
a shell). The watchdog is petted at half the interval systemd asks for
(``$WATCHDOG_USEC``); if the agent's main loop hangs, systemd restarts it.
"""

from __future__ import annotations

import os
import socket
import time


class SystemdNotifier:
    def __init__(self, environ: dict[str, str] | None = None) -> None:
        env = os.environ if environ is None else environ
        address = env.get("NOTIFY_SOCKET", "")
        if address.startswith("@"):
            address = "\0" + address[1:]
        self._address = address or None
        usec = env.get("WATCHDOG_USEC", "")
        self.watchdog_s = int(usec) / 1e6 / 2 if usec.isdigit() and int(usec) > 0 else None
        self._last_pet = 0.0

    @property
    def enabled(self) -> bool:
        return self._address is not None

    def notify(self, state: str) -> bool:
        if self._address is None:
            return False
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
                sock.sendto(state.encode(), self._address)
        except OSError:
            return False
        return True

    def watchdog(self) -> None:
        """Pet the watchdog if it is enabled and due."""
        if self.watchdog_s is None:
            return
        now = time.monotonic()
        if now - self._last_pet >= self.watchdog_s:
            self._last_pet = now
            self.notify("WATCHDOG=1")
