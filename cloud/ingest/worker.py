"""The ingest worker: MQTT in, durable effects, receipts and confirmations out, then the ack.

Delivery guarantees. Messages are received with QoS 1 and paho's ``manual_ack=True``:
a message is acknowledged only after its batch is committed to the ledger and its
telemetry is durably buffered, and after the receipts were handed to the broker. A crash
at any point before the ack means the broker redelivers (persistent session: MQTT 5
``clean_start=False`` + ``SessionExpiryInterval``, or a 3.1.1 ``clean_session=False``),
and idempotent processing makes the redelivery harmless. The processing thread does not
wait for the receipts' PUBACKs: a committed batch joins a queue of batches to
acknowledge, oldest first, once the broker has taken their receipts (or after
``RECEIPT_WAIT_S``), while the next batch is already being processed.

The broker is not the record, the devices are: every event stays in its device's outbox
until the cloud confirms it. Weigh-ins are confirmed by their receipts; every other event
of a batch (fill, health, and a weigh-in kept as a dead letter) by an ``ack`` message to
its device, coalesced per device over ``confirm_interval_s`` (seq ranges). After every
(re)subscribe the worker publishes a new epoch on ``salinmas/v1/cloud/ingest`` (retained):
a broker that restarted has dropped what it acknowledged before the subscription came
back (Mosquitto 2.0 does not restore a ``$share`` subscription), and devices answer the
new epoch by sending everything unconfirmed again. It reconnects within seconds
(``mqtt_backoff_*``) and subscribes again on every connect.

Throughput and latency. A batch is what has arrived when the processing thread is free,
plus what keeps arriving while the stream is dense (``batch_gap_s`` between messages,
for at most ``batch_linger_s``): a trickle, such as a waste bank's weigh-ins, is
processed the moment it arrives; a flood is committed in batches of hundreds. Over
MQTT 5 the worker raises ``ReceiveMaximum`` (Mosquitto otherwise keeps
only 20 un-acked messages in flight, see RECIPES.md) so a batch of hundreds can be
committed at once. Over MQTT 3.1.1 (amqtt in the embedded demo) the broker's in-flight
limit caps each batch; the worker then does not linger and commits what it has.

Scale-out: with ``share_group`` set, the worker subscribes through
``$share/<group>/salinmas/v1/dev/+/<kind>`` so several workers split the stream. Give
each worker its own, stable ``client_id``. Workers heartbeat into the ledger database and
take over the session of a peer that died for good (:mod:`cloud.ingest.takeover`).

Liveness: if the processing thread or the network thread dies, :attr:`IngestWorker.healthy`
turns false and :func:`cloud.ingest.lifecycle.run` returns 1 so the service manager
restarts the process (the broker redelivers what was not acked). Running, draining,
retiring and supervising a worker are in :mod:`cloud.ingest.lifecycle`.

The module is one piece because its two threads share one broker session: a message id
is only valid on the connection it came on (``generation``), and the acknowledgement must
follow the durable commit on the same client.

One module of ~530 lines on purpose: the order "commit, hand over the receipts, then
acknowledge" is the delivery guarantee, and every piece that takes part in it (the
receive queue, the batcher, the ack queue, the epoch, the drain) is in view here.
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
from collections import deque
from datetime import UTC, datetime, timedelta
from types import TracebackType
from typing import Any, NamedTuple, Self

import paho.mqtt.client as mqtt
from paho.mqtt.subscribeoptions import SubscribeOptions

from cloud.db import make_engine, migrate, session_factory
from cloud.deadletters import prune_dead_letters
from cloud.devices import sweep_silent_devices
from cloud.holds import resolve_automatic
from cloud.ingest.confirmations import Confirmations
from cloud.ingest.processor import Message, Outcome, Processor
from cloud.ingest.readahead import ReadAheadClient
from cloud.ingest.settings import IngestSettings
from cloud.ingest.takeover import Peers, Takeover
from cloud.models import utcnow
from cloud.telemetry import TelemetryWriter, open_writer
from contract import Kind, subscription
from contract.models import IngestOnline, to_json
from contract.topics import INGEST_ONLINE_TOPIC, TOPIC_SPECS
from salinmas.backoff import Backoff
from salinmas.mqtt import Connection, Endpoint

log = logging.getLogger(__name__)

#: how long to wait for the broker to take a batch's receipts before acking anyway
RECEIPT_WAIT_S = 10.0
#: how often the idle processing thread looks at batches waiting for their receipts'
#: PUBACKs (a PUBACK also wakes it)
ACK_POLL_S = 0.01


class _Item(NamedTuple):
    topic: str
    payload: bytes
    received: float  # time.time()
    retain: bool
    mid: int
    qos: int
    generation: int


class _Unacked(NamedTuple):
    """A durable batch waiting for its receipts' PUBACKs before it is acknowledged."""

    batch: list[_Item]
    receipts: list[mqtt.MQTTMessageInfo]
    deadline: float  # time.monotonic()


def subscriptions(share_group: str | None) -> list[str]:
    """The topic filters ingest subscribes to (shared when ``share_group`` is set)."""
    out = []
    for kind, spec in TOPIC_SPECS.items():
        if spec.upstream:
            topic = subscription(Kind(kind))
            out.append(f"$share/{share_group}/{topic}" if share_group else topic)
    return out


def endpoint(s: IngestSettings) -> Endpoint:
    return Endpoint(
        s.mqtt_host,
        s.mqtt_port,
        s.mqtt_username,
        s.mqtt_password.get_secret_value(),
        tls=s.mqtt_tls,
        ca_file=s.mqtt_ca_file,
        keepalive_s=s.mqtt_keepalive_s,
        protocol=s.mqtt_protocol,
    )


class IngestWorker:
    """One ingest worker; ``start()`` returns, ``stop()`` drains and disconnects.

    >>> with IngestWorker(IngestSettings.load("salinmas.toml")) as w:  # doctest: +SKIP
    ...     w.wait_subscribed(10)

    ``retiring=True``: connect with the client id without subscribing (unsubscribing the
    group), process what the broker queued for that session, never reconnect.
    """

    def __init__(
        self,
        settings: IngestSettings,
        *,
        store: TelemetryWriter | None = None,
        retiring: bool = False,
    ) -> None:
        self.settings = settings
        self.retiring = retiring
        self._own_store = store is None
        self.store = store if store is not None else open_writer(settings.telemetry)
        # on_message appends, the processing thread pops: a deque needs no lock for that
        self._queue: deque[_Item] = deque()
        #: durable batches not acknowledged yet, oldest first (processing thread only)
        self._unacked: deque[_Unacked] = deque()
        #: messages taken into the batch in hand (0 between batches)
        self._in_hand = 0
        #: time.monotonic() of the last message received or acknowledged (see :attr:`quiet_s`)
        self._last_traffic = time.monotonic()
        self._arrived = threading.Event()
        self._stop = threading.Event()
        self._subscribed = threading.Event()
        self._gen_lock = threading.Lock()
        self._generation = 0
        self._connected = False
        self._thread: threading.Thread | None = None
        self._engine: Any = None
        self.confirmations = Confirmations(settings.confirm_interval_s)
        self.takeover: Takeover | None = None
        self.connection = self._make_connection()
        #: why the processing thread died (None while it runs or after a clean stop)
        self.failure: BaseException | None = None
        self.processed = 0
        self.dead_letters = 0
        self.receipts_sent = 0
        self.acks_sent = 0
        self.announced = 0
        #: subscriptions granted (one per connection, unless retiring)
        self.subscribed_count = 0
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
        sessions = session_factory(self._engine)
        self.processor = Processor(
            sessions,
            self.store,
            state_write_interval_s=s.state_write_interval_s,
            # last_seen feeds the silent-device sweep: write it well within its limit
            seen_write_interval_s=min(15.0, s.silent_after_s / 4 if s.silent_after_s else 15.0),
            max_clock_ahead=timedelta(seconds=s.max_clock_ahead_s),
            enforce_integrity=s.enforce_integrity,
            clock_wait=timedelta(seconds=s.clock_wait_s),
        )
        if not self.retiring:  # a drain must never beat as the worker it drains
            peers = Peers(sessions, s.client_id, s.share, s.takeover_after_s)
            self.takeover = Takeover(peers, s, self.store)
        self.store.start()
        self._thread = threading.Thread(target=self._process_loop, name="ingest", daemon=True)
        self._thread.start()
        self.connection.start()

    def stop(self, timeout_s: float = 15.0) -> None:
        """Finish the batch in hand, disconnect (the session stays), close the stores."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout_s)
            self._thread = None
        if self.takeover is not None:
            self.takeover.join(timeout_s)
        self.connection.stop()
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
    def settled(self) -> bool:
        """Nothing received is waiting, in hand or unacknowledged."""
        return not self._queue and not self._in_hand and not self._unacked

    @property
    def quiet_s(self) -> float:
        """Seconds since a message last arrived or was acknowledged. The broker sends a
        session's queued messages as acknowledgements free its in-flight window, so a
        settled worker quiet for a while has been given everything queued for it."""
        return time.monotonic() - self._last_traffic

    @property
    def connected(self) -> bool:
        return self._connected

    @property
    def healthy(self) -> bool:
        """Both threads run (a worker that is not healthy must be restarted)."""
        processing = self._thread is not None and self._thread.is_alive()
        return processing and self.connection.alive

    # ----------------------------------------------------------------- MQTT

    def _make_connection(self) -> Connection:
        s = self.settings
        return Connection(
            endpoint(s),
            s.client_id,
            persistent=True,
            session_expiry_s=s.session_expiry_s,
            receive_maximum=s.receive_maximum,
            manual_ack=True,
            client_class=ReadAheadClient if s.mqtt_read_ahead else mqtt.Client,
            backoff=Backoff(s.mqtt_backoff_min_s, s.mqtt_backoff_max_s),
            on_connect=self._on_connect,
            on_disconnect=self._on_disconnect,
            on_subscribe=self._on_subscribe,
            on_message=self._on_message,
            on_publish=self._on_publish,
            reconnect=not self.retiring,
            name="ingest-mqtt",
        )

    def _on_connect(self, client: mqtt.Client, flags: Any, reason: Any) -> None:
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
        # every connect: after a broker restart Mosquitto reports the session present
        # but has not restored its shared subscription
        log.info("connected (session present: %s); subscribing %s", flags.session_present, topics)
        if self.settings.mqtt_protocol == "5":
            # retained status messages only for a new subscription, not on every
            # reconnect of the persistent session (they were processed already)
            opts = SubscribeOptions(qos=1, retainHandling=SubscribeOptions.RETAIN_SEND_IF_NEW_SUB)
            client.subscribe([(t, opts) for t in topics])
        else:
            client.subscribe([(t, 1) for t in topics])

    def _on_subscribe(self, client: mqtt.Client, _u: Any, _mid: int, codes: Any, _p: Any) -> None:
        bad = [c for c in codes if getattr(c, "is_failure", False) or c == 128]
        if bad:
            log.error("subscription refused: %s", bad)
            return
        self.subscribed_count += 1
        self._subscribed.set()
        if self.settings.announce:
            hello = IngestOnline(epoch=secrets.token_hex(8), at=datetime.now(UTC))
            client.publish(INGEST_ONLINE_TOPIC, to_json(hello), qos=1, retain=True)
            self.announced += 1

    def _on_disconnect(self) -> None:
        with self._gen_lock:
            self._connected = False
        if not self._stop.is_set():
            log.warning("MQTT disconnected (%s); reconnecting", self.connection.last_error)

    def _on_message(self, _c: mqtt.Client, _u: Any, msg: mqtt.MQTTMessage) -> None:
        # the network thread's share of every message: keep it small
        self._last_traffic = time.monotonic()
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

    def _on_publish(self, _c: mqtt.Client, _u: Any, _mid: int, _r: Any, _p: Any) -> None:
        # a receipt (or ack) was taken by the broker: a waiting batch may be acked now
        if self._unacked and not self._arrived.is_set():
            self._arrived.set()

    # ----------------------------------------------------------------- processing

    def _next_batch(self) -> list[_Item]:
        """What has arrived, plus what keeps coming while the stream is dense.

        Lingering (at most ``batch_linger_s``) stops as soon as ``batch_gap_s`` passed
        without a new message: a trickle waits for nothing, a flood fills the batch.
        """
        q = self._queue
        if not q:
            self._arrived.clear()
            idle_s = ACK_POLL_S if self._unacked else 0.2
            if not q and not self._arrived.wait(idle_s):
                return []
        s = self.settings
        linger = s.batch_linger_s if s.mqtt_protocol == "5" and s.batch_gap_s > 0 else 0.0
        deadline = time.monotonic() + linger
        cap = s.batch_max
        seen = len(q)
        while seen < cap and not self._stop.is_set():
            left = deadline - time.monotonic()
            if left <= 0:
                break
            time.sleep(min(left, s.batch_gap_s))
            if len(q) == seen:
                break  # nothing came for a gap: the burst is over
            seen = len(q)
        return [q.popleft() for _ in range(min(cap, len(q)))]

    def _process_loop(self) -> None:
        try:
            self._loop()
        except BaseException as exc:  # noticed by supervise(): the process exits, restarted
            self.failure = exc
            log.critical("ingest processing thread died", exc_info=True)

    def _loop(self) -> None:
        s = self.settings
        now = time.monotonic()
        next_maintenance = now + s.maintenance_interval_s
        next_beat = now
        while not self._stop.is_set():
            batch = self._next_batch()
            if batch:
                self._in_hand = len(batch)
                try:
                    self._handle(batch)
                finally:
                    self._in_hand = 0
            else:
                self.processor.write_behind()  # an idle moment: write the due levels
            self._ack_ready()
            now = time.monotonic()
            if self.confirmations.due(now):
                self._send_confirmations()
            if self.takeover is not None and now >= next_beat:
                self.takeover.check()  # beat; take a silent peer's session over
                next_beat = now + s.heartbeat_s
            if now >= next_maintenance:
                self.maintenance()
                next_maintenance = time.monotonic() + s.maintenance_interval_s
        self._ack_ready(final=True)
        self._send_confirmations()
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
                # holds whose missing piece arrived (or whose clock waited long enough)
                resolve_automatic(session, self.processor.inspector(), now=now)
                if s.dead_letter_retention_days:
                    prune_dead_letters(
                        session, older_than=now - timedelta(days=s.dead_letter_retention_days)
                    )
                session.commit()
        except Exception:  # another worker doing the same, or the database is away
            log.warning("maintenance skipped this time", exc_info=True)
        log.info(
            "ingest %s: %d messages in %d batches (%d redone after a race), %d dead letters, "
            "%d receipts, %d acks, %d takeovers, %d telemetry points waiting",
            s.client_id,
            self.processed,
            self.batches,
            self.processor.races,
            self.dead_letters,
            self.receipts_sent,
            self.acks_sent,
            self.takeover.count if self.takeover else 0,
            self.store.pending(),
        )

    def _handle(self, batch: list[_Item]) -> None:
        backoff = Backoff(0.5, 5.0)
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
                if backoff.wait(self._stop):
                    return  # not acked: the broker redelivers to the next worker run
        receipts = self._publish_receipts(outcome)
        self._unacked.append(_Unacked(batch, receipts, time.monotonic() + RECEIPT_WAIT_S))
        if self.settings.publish_confirmations:
            self.confirmations.add(((i.topic, i.payload) for i in batch), outcome.receipts)
        self.batches += 1
        self.processed += len(batch)
        self.dead_letters += sum(outcome.dead_letters.values())

    def _publish_receipts(self, outcome: Outcome) -> list[mqtt.MQTTMessageInfo]:
        """Hand the batch's receipts to the network thread (QoS 1); not waited for here."""
        if not self.settings.publish_receipts:
            return []
        client = self.connection.client
        infos = [client.publish(topic, payload, qos=1) for topic, payload in outcome.receipts]
        self.receipts_sent += len(infos)
        return infos

    def _ack_ready(self, *, final: bool = False) -> None:
        """Acknowledge, oldest first, the durable batches whose receipts the broker took.

        A batch waits for its receipts' PUBACKs at most ``RECEIPT_WAIT_S``; when the
        connection is lost its message ids are void anyway (:meth:`_ack` skips them: the
        broker redelivers and the stored receipts answer again). ``final``: wait for
        every batch in turn (stopping).
        """
        q = self._unacked
        while q:
            head = q[0]
            if not self._receipts_taken(head, wait=final):
                return
            q.popleft()
            self._ack(head.batch)

    def _receipts_taken(self, pending: _Unacked, *, wait: bool) -> bool:
        """Whether ``pending`` may be acknowledged now (its receipts taken, or given up)."""
        for info in pending.receipts:
            left = pending.deadline - time.monotonic()
            if left <= 0 or not self._connected:
                return True
            try:
                if wait:
                    info.wait_for_publish(left)
                elif not info.is_published():
                    return False
            except (RuntimeError, ValueError):
                return True  # disconnected: the un-acked inputs come back, answered again
        return True

    def _send_confirmations(self) -> None:
        """Publish the coalesced ``ack`` messages at the contract's QoS for them (0: see
        :mod:`cloud.ingest.confirmations`; a lost one only makes the device send those
        events again)."""
        qos, client = TOPIC_SPECS[Kind.ACK].qos, self.connection.client
        acks = self.confirmations.take()
        if qos == 0 and isinstance(client, ReadAheadClient):
            client.publish_many(acks)  # one write for all of them
        else:
            for topic, payload in acks:
                client.publish(topic, payload, qos=qos)
        self.acks_sent += len(acks)

    def _ack(self, batch: list[_Item]) -> None:
        client = self.connection.client
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
        self._last_traffic = time.monotonic()
