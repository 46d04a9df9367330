"""The simulators' hook inside an edge-agent process, with a control socket for the fleet.

An agent configured with ``pin_factory = "mock"`` and
``simulator_hook = "simulators.agent_hook:attach"`` calls :func:`attach` with its gpiozero
``MockFactory`` before it creates any device. The hook then

- simulates every ``[[edge.bins]]`` of the agent's config on those pins
  (:func:`simulators.bins.attach`, same environment knobs), and
- when ``SALINMAS_SIM_CONTROL`` names a socket path, listens there (a UNIX datagram
  socket) for one-line commands from the fleet process — the only way another process
  can touch this process's mock pins, as a person at the station would::

      category plastic-pet        press the category button of plastic-pet
      empty bin-demo-01-a         the bin was emptied (its pickup was done)
      fill bin-demo-01-a 100      the bin's level jumps to 100 % (it keeps filling from there)
      fault bin-demo-01-a no_echo break the bin's sensor (no_echo|out_of_range|unstable|none)
      lid bin-demo-01-a open      open (or close) the bin's lid

:func:`send_control` sends such a line.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from simulators import bins

log = logging.getLogger("salinmas.sim.hook")

#: press length of a category button (longer than the agent's 50 ms debounce)
PRESS_S = 0.12


def send_control(path: str | os.PathLike[str], line: str, *, timeout_s: float = 1.0) -> bool:
    """Send one command line to the agent listening at ``path``; False if nobody listens."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as s:
        s.settimeout(timeout_s)
        try:
            s.sendto(line.encode("utf-8")[:512], os.fspath(path))
        except OSError:
            return False
    return True


class ControlServer:
    """Receives command lines on a UNIX datagram socket and runs ``handler`` on each."""

    def __init__(self, path: str | os.PathLike[str], handler: Callable[[str], None]) -> None:
        self.path = os.fspath(path)
        self.handler = handler
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path)
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self._sock.bind(self.path)
        self._sock.settimeout(0.2)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="sim-control", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                data = self._sock.recv(1024)
            except TimeoutError:
                continue
            except OSError:
                return
            try:
                self.handler(data.decode("utf-8", "replace").strip())
            except Exception:  # a bad command must not kill the listener
                log.exception("simulator control command %r failed", data[:80])

    def close(self) -> None:
        self._stop.set()
        self._thread.join(2)
        self._sock.close()
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path)


class StationControls:
    """What the fleet may do to one agent's pins: buttons, bins, lids."""

    def __init__(
        self, pin_factory: Any, buttons: dict[str, Any], sims: list[bins.BinSimulator]
    ) -> None:
        self.factory = pin_factory
        self.buttons = dict(buttons)
        self.bins = {s.model.bin_id: s for s in sims}
        self.presses = 0

    def press(self, category: str) -> None:
        pin = self.factory.pin(self.buttons[category])
        pin.drive_low()  # the buttons pull up: pressed is low
        time.sleep(PRESS_S)
        pin.drive_high()
        self.presses += 1

    def __call__(self, line: str) -> None:
        words = line.split()
        if not words:
            return
        verb, args = words[0], words[1:]
        if verb == "category" and len(args) == 1 and args[0] in self.buttons:
            self.press(args[0])
        elif verb == "empty" and len(args) == 1 and args[0] in self.bins:
            self.bins[args[0]].empty()
        elif verb == "fill" and len(args) == 2 and args[0] in self.bins:
            self.bins[args[0]].model.set_fill(float(args[1]))
        elif verb == "fault" and len(args) == 2 and args[0] in self.bins:
            fault = None if args[1] == "none" else args[1]
            self.bins[args[0]].set_fault(fault)  # type: ignore[arg-type]
        elif verb == "lid" and len(args) == 2 and args[0] in self.bins:
            sim = self.bins[args[0]]
            sim.open_lid() if args[1] == "open" else sim.close_lid()
        else:
            log.warning("unknown simulator control command %r", line[:80])


#: the control server of this process, if any (kept alive for the process's life)
SERVER: list[ControlServer] = []


def attach(pin_factory: Any, settings: Any = None) -> StationControls:
    """The agent's ``simulator_hook``: bins on the mock pins, plus the control socket."""
    if settings is None:
        from edge.config import EdgeSettings

        path = os.environ.get("SALINMAS_SIM_CONFIG") or os.environ.get("SALINMAS_CONFIG")
        if not path:
            raise RuntimeError("set SALINMAS_SIM_CONFIG to the agent's config file")
        settings = EdgeSettings.load(Path(path))
    sims = bins.attach(pin_factory, settings) if settings.bins else []
    buttons = dict(settings.station.category_buttons) if settings.station is not None else {}
    controls = StationControls(pin_factory, buttons, sims)
    control_path = os.environ.get("SALINMAS_SIM_CONTROL")
    if control_path:
        SERVER.append(ControlServer(control_path, controls))
        log.info("simulator control socket at %s", control_path)
    return controls
