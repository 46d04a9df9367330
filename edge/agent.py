"""The edge agent: station and/or bins -> outbox -> MQTT, receipts and commands back.

Threads (each owns what it touches):

- **station** (if configured): the scale's serial port and the card reader; captures
  weigh-ins and appends them to the outbox (refusing loudly when it is full);
- **mqtt-link**: the paho client; drains the outbox, handles receipts and commands;
- **main**: bins on their schedule, the health heartbeat, ping replies, ``reload``,
  signals (SIGTERM/SIGINT stop cleanly, SIGHUP reloads) and the systemd watchdog.

Start it with ``python -m edge --config /etc/salinmas/station.toml`` (or
``salinmas edge run --config ...``), or from Python::

    settings = EdgeSettings.load("station.toml")
    raise SystemExit(run(settings))

One module of ~440 lines on purpose: it wires the threads together and owns their
lifecycle (start, reload, watchdog, clean stop); each thread's work lives elsewhere
(:mod:`edge.station`, :mod:`edge.link`, :mod:`edge.bins`, :mod:`edge.outbox`).
"""

from __future__ import annotations

import logging
import queue
import signal
import sqlite3
import threading
import time
from collections.abc import Callable
from types import FrameType
from typing import Any

from contract.models import DeviceCommand, EventBase, Receipt, ReceiptStatus
from edge import __version__, hardware
from edge.alibi import ConfigLog
from edge.bins import BinMonitor, FillReport
from edge.capture import CapturedWeight
from edge.clock import Clock
from edge.config import EdgeSettings
from edge.events import EventFactory
from edge.health import HealthProbe
from edge.identity import DeviceKey, Signer, station_config
from edge.link import MqttLink
from edge.outbox import Outbox, OutboxFull
from edge.sdnotify import SystemdNotifier
from edge.station import Feedback, Station
from edge.tickets import TicketDesk, open_reprint_button

log = logging.getLogger("salinmas.edge.agent")

DisplayHook = Callable[[Receipt], None]

#: receipt status -> station feedback pattern
RECEIPT_SIGNALS = {
    ReceiptStatus.CREDITED: "ok",
    ReceiptStatus.UNASSIGNED: "unassigned",
    ReceiptStatus.REJECTED: "error",
    ReceiptStatus.HELD: "unassigned",  # not credited now: kept for an operator
}


class Agent:
    """One device's runtime (see the module docs)."""

    def __init__(
        self,
        settings: EdgeSettings,
        *,
        clock: Clock | None = None,
        display: DisplayHook | None = None,
    ) -> None:
        self.settings = settings
        self.clock = clock or Clock.from_system(
            boot_id_file=settings.boot_id_file,
            boot_id_fallback=settings.boot_id_fallback,
            sync_flag=settings.clock_sync_flag,
        )
        self.events = EventFactory(settings.device_id, self.clock)
        self.key, created = DeviceKey.load_or_create(settings.key_path)
        if created:
            log.warning(
                "made this device's signing key %s (public key %s) in %s: an operator must "
                "approve it before its weigh-ins are credited",
                self.key.key_id,
                self.key.public_hex,
                settings.key_path,
            )
        self.signer = Signer.for_station(self.key, settings.station)
        self.config_log = ConfigLog(settings.key_path.parent / "config-log.jsonl")
        self.outbox = Outbox(
            settings.outbox.path,
            capacity=settings.outbox.capacity,
            telemetry_share=settings.outbox.telemetry_share,
        )
        self.probe = HealthProbe(disk_path=settings.outbox.path.parent)
        self.display = display
        if display is None and settings.display_hook:
            self.display = hardware.load_callable(settings.display_hook)
        if self.display is None and settings.display is not None:
            from edge.display import StationDisplay  # RPLCD loads only where there is one

            self.display = StationDisplay(settings.display).show_receipt
        #: the ticket printer's desk (edge/tickets.py): never in the way of a weigh-in
        self.tickets = (
            TicketDesk(settings.printer, settings.device_id) if settings.printer else None
        )
        self.link = MqttLink(
            device_id=settings.device_id,
            settings=settings.mqtt,
            outbox=self.outbox,
            sw_version=__version__,
            boot_id=self.clock.boot_id,
            confirm_timeout_s=settings.confirm_timeout,
            confirm_timeout_max_s=settings.confirm_timeout_max_s,
            on_receipt=self._on_receipt,
            on_command=self._on_command,
        )
        self.station: Station | None = None
        self.feedback: Feedback | None = None
        self.bins: list[BinMonitor] = []
        self._devices: list[Any] = []
        self._station_stop = threading.Event()
        self._station_thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._jobs: queue.SimpleQueue[tuple[str, str]] = queue.SimpleQueue()
        self._pin_factory: Any = None
        self._notifier = SystemdNotifier()

    # -- producing events --------------------------------------------------------------

    def submit_weighin(
        self, weight: CapturedWeight, card_id: str | None, category: str, protocol: str
    ) -> int | None:
        """Durably queue a signed weigh-in; ``None`` when the outbox refused it (full)."""
        signer = self.signer
        build = self.events.signed_weighin(
            signer,
            net_g=weight.net_g,
            tare_g=weight.tare_g,
            division_g=weight.division_g,
            protocol=protocol,
            category=category,
            card_id=card_id,
            frames=weight.frames,
            stable_ms=weight.stable_ms,
        )
        try:
            seq = self.outbox.append_chained("weighin", signer.chain, build)
        except OutboxFull as exc:
            log.error("%s (refused so far: %d)", exc, self.outbox.stats().refused)
            return None
        except sqlite3.Error as exc:  # SD card full or failing: refuse loudly, never pretend
            log.error("outbox write failed (%s); weigh-in refused", exc)
            return None
        self.link.notify()
        if self.tickets is not None:
            event_id = EventBase.make_event_id(self.settings.device_id, seq)
            self.tickets.weighed(seq=seq, event_id=event_id, category=category, net_g=weight.net_g)
        return seq

    def _append_telemetry(self, kind: str, build: Callable[[int], bytes]) -> int | None:
        try:
            seq = self.outbox.append(kind, build)
        except sqlite3.Error as exc:
            log.error("outbox write failed (%s); %s event dropped", exc, kind)
            return None
        if seq is None:
            log.warning("outbox full of weigh-ins; %s event dropped (counted as thinned)", kind)
        self.link.notify()
        return seq

    def submit_fill(self, report: FillReport) -> int | None:
        return self._append_telemetry(
            "fill",
            self.events.fill(
                bin_id=report.bin_id,
                fill_pct=report.fill_pct,
                distance_mm=report.distance_mm,
                fault=report.fault,
                lid_open=report.lid_open,
                tilted=report.tilted,
            ),
        )

    def submit_health(self, in_reply_to: str | None = None) -> int | None:
        stats = self.outbox.stats()
        fields: dict[str, object] = {
            **self.probe.read(),
            "sw_version": __version__,
            "outbox_depth": stats.depth,
            "outbox_capacity": stats.capacity,
            "weighins_refused": stats.refused,
            "telemetry_thinned": stats.thinned,
            "in_reply_to": in_reply_to,
            "sw_hash": self.signer.sw_hash,
            "config_hash": self.signer.config_hash,
            "public_key": self.key.public_hex,
        }
        return self._append_telemetry("health", self.events.health(fields))

    def record_config(self) -> int | None:
        """Log the software and configuration if they changed (and ship the entry)."""
        fields = {
            "sw_version": __version__,
            "sw_hash": self.signer.sw_hash,
            "config_hash": self.signer.config_hash,
            "public_key": self.key.public_hex,
            **station_config(self.settings.station),
        }
        stamp = self.clock.stamp()
        entry = self.config_log.record(
            fields, at=stamp.device_time.isoformat(), boot_id=str(stamp.boot_id)
        )
        if entry is None:
            return None
        log.warning("configuration log entry %d: %s", entry.pos, entry.change)
        return self._append_telemetry(
            "config", self.events.config({"log_pos": entry.pos, "change": entry.change, **fields})
        )

    # -- callbacks from the link thread ------------------------------------------------

    def _on_receipt(self, receipt: Receipt, first: bool) -> None:
        if not first:
            log.debug("repeated receipt for %s", receipt.event_id)
            return
        rupiah = f"Rp {receipt.amount_rp:,}".replace(",", ".")
        log.info(
            "receipt %s: %s %s%s",
            receipt.event_id,
            receipt.status.value,
            rupiah,
            f" ({receipt.reason})" if receipt.reason else "",
        )
        if self.feedback is not None:
            self.feedback.signal(RECEIPT_SIGNALS[receipt.status])
        if self.tickets is not None:
            self.tickets.receipt(receipt)
        if self.display is not None:
            try:
                self.display(receipt)
            except Exception:
                log.exception("display hook failed")

    def _on_command(self, cmd: DeviceCommand) -> None:
        log.info("command %s: %s", cmd.cmd_id, cmd.action.value)
        self._jobs.put((cmd.action.value, cmd.cmd_id))
        self._wake.set()

    # -- life cycle --------------------------------------------------------------------

    def start(self) -> None:
        """Open the devices and start the threads."""
        self._pin_factory = hardware.make_pin_factory(self.settings)
        if self.settings.simulator_hook:
            hardware.call_simulator_hook(
                self.settings.simulator_hook, self._pin_factory, self.settings
            )
        self._open_devices()
        if self.tickets is not None:
            self.tickets.start()
        self.record_config()
        self.link.start()
        log.info(
            "agent %s started (device %s, outbox %s: %d queued)",
            __version__,
            self.settings.device_id,
            self.settings.outbox.path,
            self.outbox.depth,
        )

    def _open_devices(self) -> None:
        s = self.settings
        if s.station is not None:
            scale = hardware.open_scale(s.station)
            self.feedback = hardware.open_feedback(s.station, self._pin_factory)
            self.station = Station(
                s.station,
                scale=scale,
                protocol=s.station.protocol,
                submit=self.submit_weighin,
                feedback=self.feedback,
                cards=hardware.open_cards(s.station),
                stability_flag=scale.protocol.has_stability_flag,
            )
            self._devices.append(self.feedback)
            buttons = hardware.open_category_buttons(
                s.station, self._pin_factory, self.station.select_category
            )
            if buttons is not None:
                self._devices.append(buttons)
            self._station_stop = threading.Event()
            self._station_thread = threading.Thread(
                target=self.station.run, args=(self._station_stop,), name="station", daemon=True
            )
            self._station_thread.start()
            if self.tickets is not None and s.printer and s.printer.reprint_button_pin is not None:
                self._devices.append(
                    open_reprint_button(
                        s.printer.reprint_button_pin, self._pin_factory, self.tickets
                    )
                )
        for b in s.bins:
            monitor, devices = hardware.open_bin(b, self._pin_factory)
            self.bins.append(monitor)
            self._devices += devices

    def _close_devices(self) -> None:
        self._station_stop.set()
        if self._station_thread is not None:
            self._station_thread.join(5)
            self._station_thread = None
        if self.station is not None:
            self.station.close()
            self.station = None
        for dev in self._devices:
            close = getattr(dev, "close", None)
            if close is not None:
                try:
                    close()
                except Exception:
                    log.exception("closing %r failed", dev)
        self._devices = []
        self.bins = []

    def reload(self) -> None:
        """Re-read the config file and reopen the station and bins with it.

        The device identity, broker and outbox settings need a restart; a change to them
        is logged and ignored until then.
        """
        path = self.settings.source_file
        try:
            new = EdgeSettings.load(path)
        except Exception as exc:
            log.error("reload failed, keeping the running configuration: %s", exc)
            return
        for name in ("device_id", "mqtt", "outbox", "pin_factory", "key_file"):
            if getattr(new, name) != getattr(self.settings, name):
                log.warning("reload: %s changed; it takes effect after a restart", name)
                new = new.model_copy(update={name: getattr(self.settings, name)})
        new._source_file = path
        self._close_devices()
        self.settings = new
        self.signer = Signer.for_station(self.key, new.station)
        self.record_config()
        self._open_devices()
        log.info("configuration reloaded from %s", path)

    def request_reload(self) -> None:
        """Reload the configuration on the main thread (signal-safe)."""
        self._jobs.put(("reload", "sighup"))
        self._wake.set()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()

    def run(self) -> int:
        """Start, serve until :meth:`stop`, shut down cleanly. Returns the exit code."""
        self.start()
        self._notifier.notify("READY=1")
        next_health = time.monotonic() + min(10.0, self.settings.health_interval_s)
        code = 0
        try:
            while not self._stop.is_set():
                if not self._threads_alive():
                    log.critical("a worker thread died; exiting for systemd to restart the agent")
                    code = 1
                    break
                now = time.monotonic()
                self._run_jobs()
                for monitor in self.bins:
                    report = monitor.poll(now)
                    if report is not None:
                        self.submit_fill(report)
                if now >= next_health:
                    self.submit_health()
                    next_health = now + self.settings.health_interval_s
                self._notifier.watchdog()
                dues = [next_health, now + 1.0]
                dues += [d for m in self.bins if (d := m.next_due()) is not None]
                self._wake.wait(max(0.01, min(dues) - time.monotonic()))
                self._wake.clear()
        finally:
            self.shutdown()
        return code

    def _threads_alive(self) -> bool:
        station_ok = self._station_thread is None or self._station_thread.is_alive()
        return self.link.alive and station_ok

    def _run_jobs(self) -> None:
        while True:
            try:
                action, cmd_id = self._jobs.get_nowait()
            except queue.Empty:
                return
            if action == "ping":
                self.submit_health(in_reply_to=cmd_id)
            elif action == "reload":
                self.reload()
            elif action in ("tare", "zero"):
                if self.station is None:
                    log.warning("%s command ignored: this device has no scale", action)
                else:
                    self.station.request(action)

    def shutdown(self) -> None:
        self._notifier.notify("STOPPING=1")
        self._close_devices()
        if self.tickets is not None:
            self.tickets.stop()
        self.link.stop()
        self.outbox.close()
        log.info("agent stopped")


def apply_log_level(level: str) -> None:
    """The station's ``log_level`` for the agent's own modules and the ground floor's."""
    for name in ("edge", "salinmas"):
        logging.getLogger(name).setLevel(level)


def run(settings: EdgeSettings, *, display: DisplayHook | None = None) -> int:
    """Run the agent in this process until SIGTERM/SIGINT (SIGHUP reloads the config)."""
    apply_log_level(settings.log_level)
    try:
        agent = Agent(settings, display=display)
    except (OSError, ValueError, ImportError, sqlite3.Error) as exc:  # a CA file, a hook...
        log.error("cannot start the agent: %s", exc)
        return 2

    def _stop(signum: int, _frame: FrameType | None) -> None:
        log.info("signal %d: stopping", signum)
        agent.stop()

    def _reload(_signum: int, _frame: FrameType | None) -> None:
        agent.request_reload()

    previous = {
        sig: signal.signal(sig, handler)
        for sig, handler in (
            (signal.SIGTERM, _stop),
            (signal.SIGINT, _stop),
            (signal.SIGHUP, _reload),
        )
    }
    try:
        return agent.run()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
