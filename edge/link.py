"""The MQTT link: drains the outbox to the broker and takes receipts and commands back.

One thread owns the paho-mqtt client (``CallbackAPIVersion.VERSION2``, MQTT 3.1.1):

- **identity**: client id and username are the device id, with its own password; TLS
  when configured (``ca_file`` or the system trust store);
- **persistent session** (``clean_session=False``) and QoS 1 everywhere, so receipts and
  commands sent while the link was down are delivered after it comes back;
- **status**: ``online`` retained on connect; the Last Will is ``offline`` (retained);
  a clean :meth:`MqttLink.stop` publishes ``offline`` itself before disconnecting;
- **reconnect** with exponential back-off and jitter (``backoff_min_s`` .. ``backoff_max_s``),
  so 50 stations behind one cell tower do not reconnect in lock-step;
- **bounded in flight**: at most ``max_inflight`` outbox events are handed to paho and
  not yet acknowledged; paho re-sends those (DUP) after a reconnect, then the outbox is
  drained in ``seq`` order;
- **acknowledgement**: a PUBACK moves the event on in the outbox (telemetry leaves,
  weigh-ins wait for the cloud's receipt); a weigh-in without a receipt
  ``receipt_timeout_s`` after its PUBACK (counted while connected) is published again.

The receipt and command callbacks run on the link thread: keep them short.
"""

from __future__ import annotations

import logging
import random
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode

from contract.models import (
    ContractError,
    DeviceCommand,
    DeviceStatus,
    Receipt,
    parse_payload,
    to_json,
)
from contract.topics import Kind, device_topic
from edge.config import MqttSettings
from edge.outbox import WEIGHIN, Outbox

log = logging.getLogger("salinmas.edge.link")

ReceiptHandler = Callable[[Receipt, bool], None]
CommandHandler = Callable[[DeviceCommand], None]


@dataclass
class LinkStats:
    connects: int = 0
    refused: int = 0  # CONNACK refusals (bad credentials, not provisioned, banned)
    disconnects: int = 0
    published: int = 0
    acked: int = 0
    republished_for_receipt: int = 0
    receipts: int = 0
    duplicate_receipts: int = 0
    commands: int = 0
    bad_messages: int = 0
    last_error: str = ""
    bad_samples: list[str] = field(default_factory=list)


class MqttLink:
    """Store-and-forward publisher for one device (see the module docs)."""

    def __init__(
        self,
        *,
        device_id: str,
        settings: MqttSettings,
        outbox: Outbox,
        sw_version: str,
        boot_id: uuid.UUID,
        receipt_timeout_s: float = 60.0,
        on_receipt: ReceiptHandler | None = None,
        on_command: CommandHandler | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.device_id = device_id
        self.settings = settings
        self.outbox = outbox
        self.sw_version = sw_version
        self.boot_id = boot_id
        self.receipt_timeout_s = receipt_timeout_s
        self.on_receipt = on_receipt
        self.on_command = on_command
        self.stats = LinkStats()
        self._clock = clock
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._connected = threading.Event()
        self._thread: threading.Thread | None = None
        self._inflight: dict[int, tuple[int, str]] = {}  # mid -> (seq, kind)
        self._acked: list[tuple[int, str]] = []
        self._receipts: list[tuple[Receipt, bytes]] = []
        self._receipt_due: dict[int, float] = {}  # seq -> monotonic deadline
        self._attempt = 0
        self._maybe_more = True  # the outbox may hold events not yet handed to paho
        self._topics = {k: device_topic(device_id, k) for k in Kind}
        self._client = self._make_client()

    # -- public ------------------------------------------------------------------------

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    @property
    def inflight(self) -> int:
        return len(self._inflight)

    def start(self) -> None:
        """Start the link thread (connects in the background, never raises on I/O)."""
        now = self._clock()
        for seq in self.outbox.awaiting_receipt():
            self._receipt_due[seq] = now + self.receipt_timeout_s
        self._thread = threading.Thread(target=self._run, name="mqtt-link", daemon=True)
        self._thread.start()

    @property
    def alive(self) -> bool:
        """Whether the link thread runs (the agent exits for systemd to restart it if not)."""
        return self._thread is not None and self._thread.is_alive()

    def notify(self) -> None:
        """Tell the link there is something new in the outbox."""
        self._wake.set()

    def wait_connected(self, timeout_s: float) -> bool:
        return self._connected.wait(timeout_s)

    def stop(self, timeout_s: float = 3.0) -> None:
        """Publish ``offline`` (retained) if connected, disconnect, stop the thread."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout_s + 2)
            self._thread = None

    # -- the thread --------------------------------------------------------------------

    def _make_client(self) -> mqtt.Client:
        s = self.settings
        client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=self.device_id,
            clean_session=False,
            protocol=mqtt.MQTTv311,
        )
        client.username_pw_set(self.device_id, s.password.get_secret_value())
        if s.tls:
            try:
                client.tls_set(ca_certs=str(s.ca_file) if s.ca_file else None)
            except (OSError, ValueError) as exc:
                raise ValueError(f"mqtt.ca_file {s.ca_file}: {exc}") from exc
        client.max_inflight_messages_set(s.max_inflight + 4)
        client.max_queued_messages_set(0)
        will = DeviceStatus(device_id=self.device_id, state="offline", boot_id=self.boot_id)
        client.will_set(self._topics[Kind.STATUS], to_json(will), qos=1, retain=True)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_publish = self._on_publish
        client.on_message = self._on_message
        return client

    def _run(self) -> None:
        client = self._client
        socket_up = False
        while not self._stop.is_set():
            if not socket_up:
                try:
                    s = self.settings
                    client.connect(s.host, s.port, s.keepalive_s)
                    socket_up = True
                except (OSError, ValueError) as exc:
                    self._note_error(f"connect failed: {exc}")
                    self._backoff()
                    continue
            rc = client.loop(timeout=0.1)
            if rc != MQTTErrorCode.MQTT_ERR_SUCCESS:
                socket_up = False
                self._set_down()
                self._note_error(f"connection lost: {mqtt.error_string(rc)}")
                self._backoff()
                continue
            self._flush_acked()
            self._flush_receipts()
            if self.connected:
                self._requeue_overdue()
                self._pump()
        self._shutdown(socket_up)

    def _shutdown(self, socket_up: bool) -> None:
        client = self._client
        if socket_up and self.connected:
            status = DeviceStatus(
                device_id=self.device_id,
                state="offline",
                sw_version=self.sw_version,
                boot_id=self.boot_id,
                at=datetime.now(UTC),
            )
            info = client.publish(self._topics[Kind.STATUS], to_json(status), qos=1, retain=True)
            deadline = self._clock() + 2.0
            while not info.is_published() and self._clock() < deadline:
                if client.loop(timeout=0.1) != MQTTErrorCode.MQTT_ERR_SUCCESS:
                    break
            self._flush_acked()
            self._flush_receipts()
            client.disconnect()
            client.loop(timeout=0.1)
        self._set_down()

    def _backoff(self) -> None:
        s = self.settings
        ceiling = min(s.backoff_max_s, s.backoff_min_s * (2 ** min(self._attempt, 16)))
        self._attempt += 1
        delay = ceiling / 2 + random.uniform(0, ceiling / 2)
        self._stop.wait(delay)

    def _pump(self) -> None:
        room = self.settings.max_inflight - len(self._inflight)
        if room <= 0 or not (self._maybe_more or self._wake.is_set()):
            return
        self._wake.clear()
        entries = self.outbox.pending(room, exclude=[seq for seq, _ in self._inflight.values()])
        self._maybe_more = len(entries) == room
        for e in entries:
            info = self._client.publish(self._topics[Kind(e.kind)], e.payload, qos=1)
            if info.rc not in (MQTTErrorCode.MQTT_ERR_SUCCESS, MQTTErrorCode.MQTT_ERR_NO_CONN):
                self._note_error(f"publish seq {e.seq} failed: {mqtt.error_string(info.rc)}")
                self._maybe_more = True
                break
            self._inflight[info.mid] = (e.seq, e.kind)
            self.stats.published += 1
            if e.attempts:
                self.stats.republished_for_receipt += 1

    def _flush_acked(self) -> None:
        if not self._acked:
            return
        acked, self._acked = self._acked, []
        self.outbox.mark_published([seq for seq, _ in acked])
        self.stats.acked += len(acked)
        due = self._clock() + self.receipt_timeout_s
        for seq, kind in acked:
            if kind == WEIGHIN:
                self._receipt_due[seq] = due

    def _requeue_overdue(self) -> None:
        if not self._receipt_due:
            return
        now = self._clock()
        overdue = [seq for seq, due in self._receipt_due.items() if due <= now]
        if overdue:
            for seq in overdue:
                del self._receipt_due[seq]
            n = self.outbox.requeue(overdue)
            if n:
                self._maybe_more = True
                log.warning("%d weigh-in(s) without a receipt; publishing them again", n)

    def _set_down(self) -> None:
        if self._connected.is_set():
            self._connected.clear()
            self.stats.disconnects += 1

    def _note_error(self, message: str) -> None:
        if message != self.stats.last_error:
            log.warning("%s", message)
        self.stats.last_error = message

    # -- paho callbacks (on the link thread) -------------------------------------------

    def _on_connect(
        self, client: mqtt.Client, _u: Any, flags: Any, reason: Any, _p: Any = None
    ) -> None:
        if reason.is_failure:
            self.stats.refused += 1
            self._note_error(f"broker refused the connection: {reason}")
            return
        self._attempt = 0
        self.stats.connects += 1
        now = self._clock()
        for seq, due in self._receipt_due.items():  # the clock only runs while connected
            self._receipt_due[seq] = max(due, now + self.receipt_timeout_s)
        client.subscribe(
            [(self._topics[Kind.RECEIPT], 1), (self._topics[Kind.CMD], 1)],
        )
        status = DeviceStatus(
            device_id=self.device_id,
            state="online",
            sw_version=self.sw_version,
            boot_id=self.boot_id,
            at=datetime.now(UTC),
        )
        client.publish(self._topics[Kind.STATUS], to_json(status), qos=1, retain=True)
        log.info(
            "connected to %s:%d (session present: %s, %d in flight)",
            self.settings.host,
            self.settings.port,
            bool(getattr(flags, "session_present", False)),
            len(self._inflight),
        )
        self.stats.last_error = ""
        self._maybe_more = True
        self._connected.set()

    def _on_disconnect(
        self, _c: mqtt.Client, _u: Any, _flags: Any, reason: Any, _p: Any = None
    ) -> None:
        self._set_down()

    def _on_publish(self, _c: mqtt.Client, _u: Any, mid: int, _rc: Any, _p: Any = None) -> None:
        entry = self._inflight.pop(mid, None)
        if entry is not None:
            self._acked.append(entry)

    def _on_message(self, _c: mqtt.Client, _u: Any, msg: mqtt.MQTTMessage) -> None:
        try:
            if msg.topic == self._topics[Kind.RECEIPT]:
                self._handle_receipt(bytes(msg.payload))
            elif msg.topic == self._topics[Kind.CMD]:
                self._handle_command(bytes(msg.payload))
        except ContractError as exc:
            self._bad(f"{msg.topic}: {exc}")
        except Exception as exc:  # a handler bug must not take the link down
            log.exception("error handling %s", msg.topic)
            self._bad(f"{msg.topic}: handler error {exc!r}")

    def _handle_receipt(self, payload: bytes) -> None:
        receipt: Receipt = parse_payload(Kind.RECEIPT, payload)
        if receipt.device_id != self.device_id:
            raise ContractError(f"receipt for another device {receipt.device_id!r}")
        if receipt.event_id != f"{self.device_id}:{receipt.seq}":
            raise ContractError(f"receipt event_id {receipt.event_id!r} does not match its seq")
        self._receipts.append((receipt, payload))

    def _flush_receipts(self) -> None:
        """Complete the weigh-ins whose receipts arrived, in one commit, then tell the station."""
        if not self._receipts:
            return
        # a PUBACK still waiting in its batch must not mark a completed event again
        self._flush_acked()
        batch, self._receipts = self._receipts, []
        firsts = self.outbox.complete_many(
            [(r.seq, r.event_id, r.status.value, payload) for r, payload in batch]
        )
        for (receipt, _), first in zip(batch, firsts, strict=True):
            self._receipt_due.pop(receipt.seq, None)
            self.stats.receipts += 1
            if not first:
                self.stats.duplicate_receipts += 1
            if self.on_receipt is not None:
                try:
                    self.on_receipt(receipt, first)
                except Exception:
                    log.exception("receipt handler failed for %s", receipt.event_id)

    def _handle_command(self, payload: bytes) -> None:
        cmd: DeviceCommand = parse_payload(Kind.CMD, payload)
        if cmd.device_id != self.device_id:
            raise ContractError(f"command for another device {cmd.device_id!r}")
        self.stats.commands += 1
        if self.on_command is not None:
            self.on_command(cmd)

    def _bad(self, what: str) -> None:
        self.stats.bad_messages += 1
        self.stats.bad_samples = [*self.stats.bad_samples[-9:], what[:300]]
        log.warning("bad message ignored: %s", what[:300])
