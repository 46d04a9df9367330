"""The ingest worker: MQTT in, durable effects, receipts out, then the acknowledgement.

Delivery guarantees. Messages are received with QoS 1 and paho's ``manual_ack=True``:
a message is acknowledged only after its batch is committed to the ledger and its
telemetry is durably buffered, and after the receipts were handed to the broker. A crash
at any point before the ack means the broker redelivers (persistent session: MQTT 5
``clean_start=False`` + ``SessionExpiryInterval``, or a 3.1.1 ``clean_session=False``),
and idempotent processing makes the redelivery harmless.

Throughput. Over MQTT 5 the worker raises ``ReceiveMaximum`` (Mosquitto otherwise keeps
only 20 un-acked messages in flight, see RECIPES.md) so a batch of hundreds can be
committed at once. Over MQTT 3.1.1 (amqtt in the embedded demo) the broker's in-flight
limit caps each batch; the worker then does not linger and commits what it has.

Scale-out: with ``share_group`` set, the worker subscribes through
``$share/<group>/salinmas/v1/dev/+/<kind>`` so several workers split the stream. Give
each worker its own, stable ``client_id``.
"""

from __future__ import annotations

import logging
import signal
import ssl
import threading
import time
from collections import deque
from datetime import UTC, datetime, timedelta
from types import FrameType, TracebackType
from typing import Any, NamedTuple, Self

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.subscribeoptions import SubscribeOptions

from cloud.db import make_engine, migrate, session_factory
from cloud.deadletters import prune_dead_letters
from cloud.devices import sweep_silent_devices
from cloud.ingest.processor import Message, Outcome, Processor
from cloud.ingest.readahead import ReadAheadClient
from cloud.ingest.settings import IngestSettings
from cloud.models import utcnow
from cloud.telemetry import TelemetryWriter, open_writer
from contract import Kind, subscription
from contract.topics import TOPIC_SPECS

log = logging.getLogger(__name__)

_Properties: Any = Properties  # untyped in paho

#: how long to wait for the broker to take a batch's receipts before acking anyway
RECEIPT_WAIT_S = 10.0


class _Item(NamedTuple):
    topic: str
    payload: bytes
    received: float  # time.time()
    retain: bool
    mid: int
    qos: int
    generation: int


def subscriptions(share_group: str | None) -> list[str]:
    """The topic filters ingest subscribes to (shared when ``share_group`` is set)."""
    out = []
    for kind, spec in TOPIC_SPECS.items():
        if spec.upstream:
            topic = subscription(Kind(kind))
            out.append(f"$share/{share_group}/{topic}" if share_group else topic)
    return out


class IngestWorker:
    """One ingest worker; ``start()`` returns, ``stop()`` drains and disconnects.

    >>> with IngestWorker(IngestSettings.load("salinmas.toml")) as w:  # doctest: +SKIP
    ...     w.wait_subscribed(10)
    """

    def __init__(
        self,
        settings: IngestSettings,
        *,
        store: TelemetryWriter | None = None,
        retiring: bool = False,
    ) -> None:
        self.settings = settings
        #: drain what the broker queued for this session without taking new messages
        self.retiring = retiring
        self._own_store = store is None
        self.store = store if store is not None else open_writer(settings.telemetry)
        # on_message appends, the processing thread pops: a deque needs no lock for that
        self._queue: deque[_Item] = deque()
        self._arrived = threading.Event()
        self._stop = threading.Event()
        self._subscribed = threading.Event()
        self._gen_lock = threading.Lock()
        self._generation = 0
        self._connected = False
        self._thread: threading.Thread | None = None
        self._client: mqtt.Client | None = None
        self._engine: Any = None
        self.processed = 0
        self.dead_letters = 0
        self.receipts_sent = 0
        self.batches = 0

    # ----------------------------------------------------------------- lifecycle

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def start(self) -> None:
        s = self.settings
        if s.migrate_on_start:
            migrate(s.ledger_url)
        self._engine = make_engine(s.ledger_url)
        self.processor = Processor(
            session_factory(self._engine),
            self.store,
            state_write_interval_s=s.state_write_interval_s,
            # last_seen feeds the silent-device sweep: write it well within its limit
            seen_write_interval_s=min(15.0, s.silent_after_s / 4 if s.silent_after_s else 15.0),
            max_clock_ahead=timedelta(seconds=s.max_clock_ahead_s),
        )
        self.store.start()
        self._client = self._make_client()
        self._thread = threading.Thread(target=self._process_loop, name="ingest", daemon=True)
        self._thread.start()
        self._client.connect_async(
            s.mqtt_host, s.mqtt_port, keepalive=s.mqtt_keepalive_s, **self._connect_args()
        )
        self._client.loop_start()

    def stop(self, timeout_s: float = 15.0) -> None:
        """Finish the batch in hand, disconnect (the session stays), close the stores."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout_s)
            self._thread = None
        if self._client is not None:
            self._client.disconnect()
            self._client.loop_stop()
            self._client = None
        if self._own_store:
            self.store.close()
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None

    def wait_subscribed(self, timeout_s: float) -> bool:
        return self._subscribed.wait(timeout_s)

    @property
    def waiting(self) -> int:
        """Messages received and not yet taken into a batch."""
        return len(self._queue)

    @property
    def connected(self) -> bool:
        return self._connected

    # ----------------------------------------------------------------- MQTT

    def _make_client(self) -> mqtt.Client:
        s = self.settings
        v5 = s.mqtt_protocol == "5"
        factory = ReadAheadClient if s.mqtt_read_ahead else mqtt.Client
        client = factory(
            CallbackAPIVersion.VERSION2,
            client_id=s.client_id,
            clean_session=None if v5 else False,
            protocol=mqtt.MQTTv5 if v5 else mqtt.MQTTv311,
            manual_ack=True,
        )
        client.username_pw_set(s.mqtt_username, s.mqtt_password.get_secret_value() or None)
        if s.mqtt_tls:
            client.tls_set(
                ca_certs=str(s.mqtt_ca_file) if s.mqtt_ca_file else None,
                cert_reqs=ssl.CERT_REQUIRED,
            )
        client.reconnect_delay_set(1, 30)
        client.max_queued_messages_set(0)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_subscribe = self._on_subscribe
        client.on_message = self._on_message
        return client

    def _connect_args(self) -> dict[str, Any]:
        s = self.settings
        if s.mqtt_protocol != "5":
            return {}
        props = _Properties(PacketTypes.CONNECT)
        props.SessionExpiryInterval = s.session_expiry_s
        props.ReceiveMaximum = s.receive_maximum
        return {"clean_start": False, "properties": props}

    def _on_connect(self, client: mqtt.Client, _u: Any, flags: Any, reason: Any, _p: Any) -> None:
        if reason.is_failure:
            log.error("MQTT connect refused: %s", reason)
            return
        with self._gen_lock:
            self._generation += 1
            self._connected = True
        topics = subscriptions(self.settings.share)
        if self.retiring:
            # no new messages for this session; what the broker queued still comes
            log.info("connected to retire (session present: %s)", flags.session_present)
            client.unsubscribe(topics)
            self._subscribed.set()
            return
        log.info("connected (session present: %s); subscribing %s", flags.session_present, topics)
        if self.settings.mqtt_protocol == "5":
            # retained status messages only for a new subscription, not on every
            # reconnect of the persistent session (they were processed already)
            opts = SubscribeOptions(qos=1, retainHandling=SubscribeOptions.RETAIN_SEND_IF_NEW_SUB)
            client.subscribe([(t, opts) for t in topics])
        else:
            client.subscribe([(t, 1) for t in topics])

    def _on_subscribe(self, _c: mqtt.Client, _u: Any, _mid: int, codes: Any, _p: Any) -> None:
        bad = [c for c in codes if getattr(c, "is_failure", False) or c == 128]
        if bad:
            log.error("subscription refused: %s", bad)
        else:
            self._subscribed.set()

    def _on_disconnect(self, _c: mqtt.Client, _u: Any, _f: Any, reason: Any, _p: Any) -> None:
        with self._gen_lock:
            self._connected = False
        if not self._stop.is_set():
            log.warning("MQTT disconnected (%s); reconnecting", reason)

    def _on_message(self, _c: mqtt.Client, _u: Any, msg: mqtt.MQTTMessage) -> None:
        # the network thread's share of every message: keep it small
        self._queue.append(
            _Item(
                msg.topic,
                bytes(msg.payload),
                time.time(),
                msg.retain,
                msg.mid,
                msg.qos,
                self._generation,
            )
        )
        if not self._arrived.is_set():
            self._arrived.set()

    # ----------------------------------------------------------------- processing

    def _next_batch(self) -> list[_Item]:
        q = self._queue
        if not q:
            self._arrived.clear()
            if not q and not self._arrived.wait(0.2):
                return []
        linger = self.settings.batch_linger_s if self.settings.mqtt_protocol == "5" else 0.0
        deadline = time.monotonic() + linger
        cap = self.settings.batch_max
        while len(q) < cap and not self._stop.is_set():
            left = deadline - time.monotonic()
            if left <= 0:
                break
            time.sleep(min(left, 0.005))
        return [q.popleft() for _ in range(min(cap, len(q)))]

    def _process_loop(self) -> None:
        next_maintenance = time.monotonic() + self.settings.maintenance_interval_s
        while not self._stop.is_set():
            batch = self._next_batch()
            if batch:
                self._handle(batch)
            else:
                self.processor.write_behind()  # an idle moment: write the due levels
            if time.monotonic() >= next_maintenance:
                self.maintenance()
                next_maintenance = time.monotonic() + self.settings.maintenance_interval_s
        self.processor.write_behind(force=True)

    def maintenance(self) -> None:
        """Housekeeping: mark silent devices offline, prune old dead letters, log stats."""
        s = self.settings
        self.processor.write_behind(force=True)  # last_seen up to date before the sweep
        now = utcnow()
        try:
            with self.processor.sessions() as session:
                if s.silent_after_s:
                    silent = sweep_silent_devices(
                        session, now=now, silent_after=timedelta(seconds=s.silent_after_s)
                    )
                    if silent:
                        log.warning("silent devices marked offline: %s", ", ".join(silent))
                if s.dead_letter_retention_days:
                    prune_dead_letters(
                        session, older_than=now - timedelta(days=s.dead_letter_retention_days)
                    )
                session.commit()
        except Exception:  # another worker doing the same, or the database is away
            log.warning("maintenance skipped this time", exc_info=True)
        log.info(
            "ingest %s: %d messages in %d batches (%d redone after a race), %d dead letters, "
            "%d receipts, %d telemetry points waiting",
            s.client_id, self.processed, self.batches, self.processor.races, self.dead_letters,
            self.receipts_sent, self.store.pending(),
        )  # fmt: skip

    def _handle(self, batch: list[_Item]) -> None:
        backoff = 0.5
        while True:
            try:
                outcome = self.processor.process(
                    [
                        Message(
                            i.topic, i.payload, datetime.fromtimestamp(i.received, UTC), i.retain
                        )
                        for i in batch
                    ]
                )
                break
            except Exception:
                log.exception("could not make a batch of %d durable; retrying", len(batch))
                if self._stop.wait(backoff):
                    return  # not acked: the broker redelivers to the next worker run
                backoff = min(backoff * 2, 5.0)
        self._publish_receipts(outcome)
        self._ack(batch)
        self.batches += 1
        self.processed += len(batch)
        self.dead_letters += sum(outcome.dead_letters.values())

    def _publish_receipts(self, outcome: Outcome) -> None:
        client = self._client
        if client is None or not self.settings.publish_receipts:
            return
        infos = [client.publish(topic, payload, qos=1) for topic, payload in outcome.receipts]
        deadline = time.monotonic() + RECEIPT_WAIT_S
        for info in infos:
            left = deadline - time.monotonic()
            if left <= 0 or not self._connected:
                break
            try:
                info.wait_for_publish(left)
            except (RuntimeError, ValueError):
                break  # disconnected: the un-acked inputs come back and are answered again
        self.receipts_sent += len(infos)

    def _ack(self, batch: list[_Item]) -> None:
        client = self._client
        if client is None:
            return
        with self._gen_lock:
            generation, connected = self._generation, self._connected
        if not connected:
            return
        # a message id belongs to one connection: after a reconnect the broker
        # redelivers the message itself, and acking the old id could ack another one
        current = [i for i in batch if i.qos > 0 and i.generation == generation]
        if isinstance(client, ReadAheadClient):
            client.ack_many([i.mid for i in current if i.qos == 1])
            current = [i for i in current if i.qos != 1]
        for item in current:
            client.ack(item.mid, item.qos)


def end_session(settings: IngestSettings, timeout_s: float = 10.0) -> None:
    """Make the broker forget the session of ``settings.client_id`` (and what it queued).

    A clean-start connection with that client id replaces the old session; with session
    expiry 0 (MQTT 5) or a clean session (3.1.1) nothing is kept after it disconnects.
    """
    s = settings
    v5 = s.mqtt_protocol == "5"
    connected = threading.Event()
    client = mqtt.Client(
        CallbackAPIVersion.VERSION2,
        client_id=s.client_id,
        clean_session=None if v5 else True,
        protocol=mqtt.MQTTv5 if v5 else mqtt.MQTTv311,
    )
    client.username_pw_set(s.mqtt_username, s.mqtt_password.get_secret_value() or None)
    if s.mqtt_tls:
        client.tls_set(
            ca_certs=str(s.mqtt_ca_file) if s.mqtt_ca_file else None, cert_reqs=ssl.CERT_REQUIRED
        )
    client.on_connect = lambda *_a: connected.set()
    kwargs: dict[str, Any] = {}
    if v5:
        props = _Properties(PacketTypes.CONNECT)
        props.SessionExpiryInterval = 0
        kwargs = {"clean_start": True, "properties": props}
    client.connect(s.mqtt_host, s.mqtt_port, keepalive=s.mqtt_keepalive_s, **kwargs)
    client.loop_start()
    try:
        if not connected.wait(timeout_s):
            raise TimeoutError(f"broker did not accept {s.client_id!r} within {timeout_s:.0f}s")
    finally:
        client.disconnect()
        client.loop_stop()


def retire(settings: IngestSettings, *, idle_s: float = 5.0, timeout_s: float = 3600.0) -> int:
    """Retire a worker for good: drain its session, then end it.

    A stopped worker's persistent session stays in the shared subscription, and
    Mosquitto goes on queueing its share of the messages for it until the session
    expires. This reconnects with the worker's ``client_id`` without subscribing,
    processes what was queued until nothing has arrived for ``idle_s``, then ends the
    session (:func:`end_session`), so the remaining workers get every message from then
    on. Returns 0 when drained, 1 if ``timeout_s`` passed first (the session is kept).
    """
    worker = IngestWorker(settings, retiring=True)
    worker.start()
    deadline = time.monotonic() + timeout_s
    drained = False
    try:
        worker.wait_subscribed(30)
        seen, quiet_since = -1, time.monotonic()
        while time.monotonic() < deadline:
            time.sleep(0.25)
            now_seen = worker.processed + worker.waiting
            if now_seen != seen:
                seen, quiet_since = now_seen, time.monotonic()
            elif time.monotonic() - quiet_since >= idle_s and not worker.waiting:
                drained = True
                break
    finally:
        worker.stop()
    if not drained:
        log.error("%s still receiving after %.0fs: session kept", settings.client_id, timeout_s)
        return 1
    end_session(settings)
    log.info("retired %s after draining %d messages", settings.client_id, worker.processed)
    return 0


def run(settings: IngestSettings, stop_event: threading.Event | None = None) -> int:
    """Run one ingest worker until ``stop_event`` is set or SIGTERM/SIGINT arrives.

    Returns 0 after a clean stop (the batch in hand finished and was acknowledged).
    """
    stop = stop_event or threading.Event()
    if threading.current_thread() is threading.main_thread():

        def _on_signal(signum: int, _frame: FrameType | None) -> None:
            log.info("signal %d: stopping after the current batch", signum)
            stop.set()

        signal.signal(signal.SIGTERM, _on_signal)
        signal.signal(signal.SIGINT, _on_signal)
    worker = IngestWorker(settings)
    worker.start()
    log.info(
        "ingest %s: mqtt %s:%d (MQTT %s, share %s), ledger %s, telemetry %s",
        settings.client_id, settings.mqtt_host, settings.mqtt_port, settings.mqtt_protocol,
        settings.share or "off", settings.ledger_url.split("@")[-1], settings.telemetry.backend,
    )  # fmt: skip
    try:
        stop.wait()
    finally:
        worker.stop()
        log.info(
            "ingest stopped: %d messages, %d dead letters, %d receipts",
            worker.processed, worker.dead_letters, worker.receipts_sent,
        )  # fmt: skip
    return 0
