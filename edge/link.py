"""The MQTT link: drains the outbox to the broker and takes confirmations and commands back.

One :class:`salinmas.mqtt.Connection` (MQTT 3.1.1, its own thread) carries everything:

- **identity**: client id and username are the device id, with its own password (the
  broker refuses any other client id for the account); TLS when configured;
- **persistent session** (``clean_session=False``) and QoS 1 everywhere, so receipts
  and commands sent while the link was down are delivered after it comes back (acks come
  at QoS 0: one sent while the link was down is lost, and those events go again);
- **status**: ``online`` retained on connect; the Last Will is ``offline`` (retained);
  a clean :meth:`MqttLink.stop` publishes ``offline`` itself before disconnecting;
- **reconnect** with exponential back-off and jitter (``backoff_min_s`` .. ``backoff_max_s``),
  so 50 stations behind one cell tower do not reconnect in lock-step;
- **bounded in flight**: at most ``max_inflight`` outbox events are handed to paho and
  not yet acknowledged; paho re-sends those (DUP) after a reconnect, then the outbox is
  drained in ``seq`` order.

**End-to-end delivery.** The broker's PUBACK only moves an event to *awaiting* in the
outbox: a broker that restarts or crashes may drop what it acknowledged (Mosquitto 2.0
does not restore the ingest's shared subscription after a restart). The event leaves the
outbox when the cloud confirms it — a weigh-in with its receipt, fill and health (and a
weigh-in the cloud kept as a dead letter) with an ``ack`` of seq ranges. An event still
unconfirmed ``confirm_timeout_s`` after its PUBACK (counted while connected, doubling
with each attempt up to ``confirm_timeout_max_s``) is published again; and when an ingest
worker announces a new epoch on ``salinmas/v1/cloud/ingest`` (it has just subscribed,
e.g. after a broker restart) every unconfirmed event is published again at once (see
:meth:`MqttLink._requeue_for_epoch`). The cloud is idempotent, so a re-sent event costs a
duplicate, never a double credit.

The receipt and command callbacks run on the link thread: keep them short. The module is
one piece because that thread alone owns the client, the in-flight map and the
confirmation deadlines.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

import paho.mqtt.client as mqtt
from paho.mqtt.enums import MQTTErrorCode

from contract.models import (
    Ack,
    ContractError,
    DeviceCommand,
    DeviceStatus,
    IngestOnline,
    Receipt,
    parse_fleet_payload,
    parse_payload,
    to_json,
)
from contract.topics import DOWNSTREAM_KINDS, FLEET_TOPICS, INGEST_ONLINE_TOPIC, Kind, device_topic
from edge.config import MqttSettings
from edge.outbox import Outbox
from salinmas.backoff import Backoff
from salinmas.mqtt import Connection, Endpoint, Will

log = logging.getLogger("salinmas.edge.link")

ReceiptHandler = Callable[[Receipt, bool], None]
CommandHandler = Callable[[DeviceCommand], None]

#: how often the unconfirmed events are looked through for overdue ones
OVERDUE_SCAN_S = 0.5


@dataclass
class LinkStats:
    connects: int = 0
    refused: int = 0  # CONNACK refusals (bad credentials, not provisioned, banned)
    disconnects: int = 0
    published: int = 0
    acked: int = 0
    republished_for_receipt: int = 0  # published again: no confirmation in time, or epoch
    receipts: int = 0
    duplicate_receipts: int = 0
    confirmed: int = 0  # events the cloud confirmed with an ack
    requeued_for_epoch: int = 0  # unconfirmed events sent again after an ingest announced
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
        confirm_timeout_s: float = 15.0,
        confirm_timeout_max_s: float = 300.0,
        on_receipt: ReceiptHandler | None = None,
        on_command: CommandHandler | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.device_id = device_id
        self.settings = settings
        self.outbox = outbox
        self.sw_version = sw_version
        self.boot_id = boot_id
        self.confirm_timeout_s = confirm_timeout_s
        self.confirm_timeout_max_s = max(confirm_timeout_max_s, confirm_timeout_s)
        self.on_receipt = on_receipt
        self.on_command = on_command
        self.stats = LinkStats()
        self._clock = clock
        self._wake = threading.Event()
        self._inflight: dict[int, tuple[int, int]] = {}  # mid -> (seq, attempts before)
        self._acked: list[tuple[int, int]] = []  # (seq, attempts) PUBACKed, not yet flushed
        self._receipts: list[tuple[Receipt, bytes]] = []
        self._confirmations: list[tuple[int, int]] = []  # seq ranges from acks
        self._due: dict[int, float] = {}  # seq -> monotonic deadline for its confirmation
        self._acked_at: dict[int, float] = {}  # seq -> monotonic time of its last PUBACK
        self._next_scan = 0.0
        self._epoch: str | None = None  # the last ingest epoch seen
        self._requeue_all = False
        self._last_down = float("-inf")  # when the connection was last lost
        self._last_requeue = float("-inf")  # when an announcement last made us re-send
        self._maybe_more = True  # the outbox may hold events not yet handed to paho
        self._topics = {k: device_topic(device_id, k) for k in Kind}
        s = settings
        will = DeviceStatus(device_id=device_id, state="offline", boot_id=boot_id)
        self.connection = Connection(
            Endpoint(
                s.host,
                s.port,
                device_id,
                s.password.get_secret_value(),
                tls=s.tls,
                ca_file=s.ca_file,
                keepalive_s=s.keepalive_s,
            ),
            device_id,
            persistent=True,
            max_inflight=s.max_inflight + 4,
            will=Will(self._topics[Kind.STATUS], to_json(will), qos=1, retain=True),
            backoff=Backoff(s.backoff_min_s, max(s.backoff_min_s, s.backoff_max_s)),
            on_connect=self._on_connect,
            on_disconnect=self._on_disconnect,
            on_message=self._on_message,
            on_subscribe=self._on_subscribe,
            on_publish=self._on_publish,
            on_stop=self._on_stop,
            tick=self._tick,
            tick_s=0.1,
            name="mqtt-link",
        )

    # -- public ------------------------------------------------------------------------

    @property
    def connected(self) -> bool:
        return self.connection.connected

    @property
    def inflight(self) -> int:
        return len(self._inflight)

    def start(self) -> None:
        """Start the link thread (connects in the background, never raises on I/O)."""
        now = self._clock()
        for seq, attempts in self.outbox.awaiting():
            self._due[seq] = now + self._timeout(attempts)
        self.connection.start()

    @property
    def alive(self) -> bool:
        """Whether the link thread runs (the agent exits for systemd to restart it if not)."""
        return self.connection.alive

    def notify(self) -> None:
        """Tell the link there is something new in the outbox."""
        self._wake.set()

    def wait_connected(self, timeout_s: float) -> bool:
        return self.connection.wait_connected(timeout_s)

    def stop(self, timeout_s: float = 3.0) -> None:
        """Publish ``offline`` (retained) if connected, disconnect, stop the thread."""
        self.connection.stop(timeout_s)
        self._flush()

    # -- on the link thread ------------------------------------------------------------

    def _timeout(self, attempts: int) -> float:
        """How long the ``attempts``-th publication waits for its confirmation."""
        doublings = max(0, min(attempts - 1, 16))
        return min(self.confirm_timeout_s * 2.0**doublings, self.confirm_timeout_max_s)

    def _tick(self) -> None:
        self._flush()
        if self.connected:
            self._requeue_overdue()
            self._pump()

    def _flush(self) -> None:
        """Apply what arrived: PUBACKs first, then confirmations, receipts, a new epoch."""
        self._flush_acked()
        self._flush_confirmations()
        self._flush_receipts()
        if self._requeue_all:
            self._requeue_all = False
            self._requeue_for_epoch()

    def _requeue_for_epoch(self) -> None:
        """An ingest worker (re)subscribed: send again what the broker may have dropped.

        Only a broker restart drops what it acknowledged, and it disconnects every
        device: after a disconnect every unconfirmed event goes again. Without one (the
        next worker of the group announcing, seconds later) only what was acknowledged
        before the last re-send: what came after reached a subscribed group.
        """
        now = self._clock()
        cutoff = now if self._last_down >= self._last_requeue else self._last_requeue
        self._last_requeue = now
        seqs = [
            seq
            for seq, _ in self.outbox.awaiting()
            if self._acked_at.get(seq, float("-inf")) < cutoff
        ]
        n = self.outbox.requeue(seqs)
        for seq in seqs:
            self._due.pop(seq, None)
            self._acked_at.pop(seq, None)
        if n:
            self._maybe_more = True
            self.stats.requeued_for_epoch += n
            log.warning("ingest (re)subscribed: publishing %d unconfirmed event(s) again", n)

    def _on_stop(self, client: mqtt.Client) -> None:
        info = self._publish_status(client, "offline")
        deadline = self._clock() + 2.0
        while not info.is_published() and self._clock() < deadline:
            if client.loop(timeout=0.1) != MQTTErrorCode.MQTT_ERR_SUCCESS:
                break
        self._flush()

    def _publish_status(
        self, client: mqtt.Client, state: Literal["online", "offline"]
    ) -> mqtt.MQTTMessageInfo:
        # mono_ms: the cloud dates this boot's unsynchronised events by it (cloud/clock.py)
        status = DeviceStatus(
            device_id=self.device_id,
            state=state,
            sw_version=self.sw_version,
            boot_id=self.boot_id,
            at=datetime.now(UTC),
            mono_ms=time.monotonic_ns() // 1_000_000,
        )
        return client.publish(self._topics[Kind.STATUS], to_json(status), qos=1, retain=True)

    def _pump(self) -> None:
        room = self.settings.max_inflight - len(self._inflight)
        if room <= 0 or not (self._maybe_more or self._wake.is_set()):
            return
        self._wake.clear()
        entries = self.outbox.pending(room, exclude=[seq for seq, _ in self._inflight.values()])
        self._maybe_more = len(entries) == room
        client = self.connection.client
        for e in entries:
            info = client.publish(self._topics[Kind(e.kind)], e.payload, qos=1)
            if info.rc not in (MQTTErrorCode.MQTT_ERR_SUCCESS, MQTTErrorCode.MQTT_ERR_NO_CONN):
                self._note_error(f"publish seq {e.seq} failed: {mqtt.error_string(info.rc)}")
                self._maybe_more = True
                break
            self._inflight[info.mid] = (e.seq, e.attempts)
            self.stats.published += 1
            if e.attempts:
                self.stats.republished_for_receipt += 1

    def _flush_acked(self) -> None:
        if not self._acked:
            return
        acked, self._acked = self._acked, []
        self.outbox.mark_published([seq for seq, _ in acked])
        self.stats.acked += len(acked)
        now = self._clock()
        for seq, attempts in acked:
            self._due[seq] = now + self._timeout(attempts + 1)
            self._acked_at[seq] = now

    def _requeue_overdue(self) -> None:
        now = self._clock()
        if not self._due or now < self._next_scan:
            return
        self._next_scan = now + OVERDUE_SCAN_S
        overdue = [seq for seq, due in self._due.items() if due <= now]
        if overdue:
            for seq in overdue:
                del self._due[seq]
                self._acked_at.pop(seq, None)
            n = self.outbox.requeue(overdue)
            if n:
                self._maybe_more = True
                log.warning("%d event(s) not confirmed by the cloud; publishing them again", n)

    def _flush_confirmations(self) -> None:
        if not self._confirmations:
            return
        ranges, self._confirmations = self._confirmations, []
        for seq in self.outbox.confirm(ranges):
            self._due.pop(seq, None)
            self._acked_at.pop(seq, None)
            self.stats.confirmed += 1

    def _flush_receipts(self) -> None:
        """Complete the weigh-ins whose receipts arrived, in one commit, then tell the station."""
        if not self._receipts:
            return
        batch, self._receipts = self._receipts, []
        firsts = self.outbox.complete_many(
            [(r.seq, r.event_id, r.status.value, payload) for r, payload in batch]
        )
        for (receipt, _), first in zip(batch, firsts, strict=True):
            self._due.pop(receipt.seq, None)
            self._acked_at.pop(receipt.seq, None)
            self.stats.receipts += 1
            if not first:
                self.stats.duplicate_receipts += 1
            if self.on_receipt is not None:
                try:
                    self.on_receipt(receipt, first)
                except Exception:
                    log.exception("receipt handler failed for %s", receipt.event_id)

    def _note_error(self, message: str) -> None:
        if message != self.stats.last_error:
            log.warning("%s", message)
        self.stats.last_error = message

    # -- paho callbacks (on the link thread) -------------------------------------------

    def _on_connect(self, client: mqtt.Client, flags: Any, reason: Any) -> None:
        if reason.is_failure:
            self.stats.refused += 1
            self.stats.last_error = self.connection.last_error
            return
        self.stats.connects += 1
        now = self._clock()
        for seq, due in self._due.items():  # the clock only runs while connected
            self._due[seq] = max(due, now + self.confirm_timeout_s)
        downstream = [self._topics[k] for k in DOWNSTREAM_KINDS] + list(FLEET_TOPICS)
        client.subscribe([(t, 1) for t in downstream])
        self._publish_status(client, "online")
        log.info(
            "connected to %s:%d (session present: %s, %d in flight)",
            self.settings.host,
            self.settings.port,
            bool(getattr(flags, "session_present", False)),
            len(self._inflight),
        )
        self.stats.last_error = ""
        self._maybe_more = True

    def _on_disconnect(self) -> None:
        self.stats.disconnects += 1
        self._last_down = self._clock()

    def _on_subscribe(self, _c: mqtt.Client, _u: Any, _mid: int, codes: Any, _p: Any) -> None:
        refused = [c for c in codes if getattr(c, "is_failure", False)]
        if refused:
            self._note_error(f"the broker refused a subscription: {refused}")

    def _on_publish(self, _c: mqtt.Client, _u: Any, mid: int, _rc: Any, _p: Any = None) -> None:
        entry = self._inflight.pop(mid, None)
        if entry is not None:
            self._acked.append(entry)

    def _on_message(self, _c: mqtt.Client, _u: Any, msg: mqtt.MQTTMessage) -> None:
        try:
            if msg.topic == self._topics[Kind.RECEIPT]:
                self._handle_receipt(bytes(msg.payload))
            elif msg.topic == self._topics[Kind.ACK]:
                self._handle_ack(bytes(msg.payload))
            elif msg.topic == self._topics[Kind.CMD]:
                self._handle_command(bytes(msg.payload))
            elif msg.topic == INGEST_ONLINE_TOPIC:
                self._handle_ingest_online(bytes(msg.payload))
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

    def _handle_ack(self, payload: bytes) -> None:
        ack: Ack = parse_payload(Kind.ACK, payload)
        if ack.device_id != self.device_id:
            raise ContractError(f"ack for another device {ack.device_id!r}")
        self._confirmations.extend(ack.seqs)

    def _handle_ingest_online(self, payload: bytes) -> None:
        if not payload:
            return  # a cleared retained message
        hello: IngestOnline = parse_fleet_payload(INGEST_ONLINE_TOPIC, payload)
        if hello.epoch != self._epoch:
            if self._epoch is not None:  # the first one after start is old news (retained)
                self._requeue_all = True
            self._epoch = hello.epoch

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
