"""Turning a batch of raw MQTT messages into durable effects (no MQTT in here).

:class:`Processor` validates each message against the contract, checks the sender's
identity, and applies it: weigh-ins are credited (:mod:`cloud.crediting`), fills update
bins and pickups (:mod:`cloud.pickups`), health and status update the device registry
(:mod:`cloud.devices`); refused messages become dead letters.

Device rows, one lock order: a batch writes ``devices`` rows only for the devices of its
status and configuration messages, and locks those rows first, in device-id order
(:func:`cloud.devices.lock_devices`), before the one-message path writes them (what is
pending for them in the cache first, then their heartbeats and statuses in message
order). Every other heartbeat and every ``last_seen`` is kept by the device cache and
written behind in a transaction of its own, sorted by device id
(:meth:`Processor.write_behind`). So no transaction takes ``devices`` rows in message
order, and two workers on a shared subscription wait instead of deadlocking; in every
transaction ``devices`` rows come before ``bins`` rows. One transaction per batch;
if it loses a race with another worker the batch is redone on what that worker
committed (up to :data:`BATCH_ATTEMPTS` times); if it still fails, or anything else
fails, it is redone one message per transaction, and a message that still fails is kept
as an ``internal`` dead letter — a bad message never stops the ones around it. A
database that is away (connection errors) is not the message's fault:
:meth:`Processor.process` raises, and the worker retries the batch with backoff
without acknowledging anything.

Identity — what ingest can and cannot verify: MQTT does not tell a subscriber who
published a message. The broker's ACL (:mod:`cloud.broker_accounts`) already confines
each device account to ``salinmas/v1/dev/<its username>/...``, so the *topic's* device
id is the publisher's username. Ingest then checks what it can see: the payload's
``device_id`` equals the topic's (else ``identity``), the device is registered (else
``unknown_device``) and not revoked (else ``revoked_device``), and the message kind fits
the device (a bin cannot send weigh-ins: ``wrong_kind``). Together: topic id == payload
id == broker account, for every message that reaches the ledger.

What needs the receive time or the registry is checked here too (the contract itself
is checked by :func:`contract.parse_payload`, reason ``malformed``): an event whose
synchronised device clock is more than ``max_clock_ahead`` ahead of the receive time
(``clock_ahead``), a weigh-in heavier (net + tare) than the capacity of the station's
scale (``over_capacity``). A refused weigh-in from a verified station — registered, not
revoked, its own id in the payload — is answered with a ``rejected`` receipt naming the
reason (when its ``device_id``, ``seq`` and ``event_id`` can be read), so the station stops
sending it; it is kept only as the dead letter (no weigh-in row, nothing credited).

Verification before money (:mod:`cloud.integrity`): a new weigh-in is checked — the
station's signature and key, its chain, its raw frames re-parsed, its build and
configuration approved, its time — before :func:`cloud.crediting.credit_many` credits it;
one that fails is kept ``held`` (its station gets a ``held`` receipt, an alert is
raised) for :mod:`cloud.holds`. Every message that carries a ``boot_id`` dates its boot
(:mod:`cloud.boots`). A weigh-in whose event id was already received with *other*
content (a changed weight under a known id) is a ``conflict`` dead letter: nothing of it
is written, not even its telemetry point, and the station gets the stored receipt.

One module past the usual size: what a batch of messages may do — validated, identified,
verified, dispatched by kind, in one transaction with one retry rule — is one piece.

One module of ~600 lines on purpose: the batch transaction, its race retry, the
one-message fallback and the per-kind application share one session and one list of
outcomes; the rules themselves live in the domain (crediting, pickups, devices).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from cloud import crediting, deadletters, devicekeys, devices, holds, pickups
from cloud.boots import BootClocks, Event, KnownAnchors
from cloud.clock import CLOCK_WAIT, MAX_CLOCK_AHEAD, event_time
from cloud.db import is_race
from cloud.errors import LedgerError
from cloud.ingest.state import BinCache, DeviceCache, DeviceInfo
from cloud.integrity import Inspector
from cloud.models import Bin, utcnow
from cloud.telemetry import (
    TelemetryPoint,
    TelemetryWriter,
    fill_point,
    health_point,
    weighin_point,
)
from contract import (
    MAX_PAYLOAD_BYTES,
    ContractError,
    DeviceConfig,
    DeviceStatus,
    Fill,
    Health,
    Kind,
    Receipt,
    ReceiptStatus,
    TopicError,
    Weighin,
    device_topic,
    parse_payload,
    parse_topic,
)
from contract.models import event_key, printable
from contract.topics import TOPIC_SPECS

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Message:
    """One received MQTT message."""

    topic: str
    payload: bytes
    received_at: datetime
    retain: bool = False


@dataclass
class Outcome:
    """What processing a batch produced: receipts to send and counters."""

    receipts: list[tuple[str, bytes]] = field(default_factory=list)
    points: list[TelemetryPoint] = field(default_factory=list)
    dead_letters: dict[str, int] = field(default_factory=dict)
    accepted: int = 0
    #: for the device cache once committed: (device, receive time, heartbeat to write behind)
    heard: list[tuple[str, datetime, devices.Heartbeat | None]] = field(
        default_factory=list, repr=False
    )
    #: the cache's pending state this batch wrote (dropped from the cache once committed)
    flushed: list[devices.DeviceState] = field(default_factory=list, repr=False)
    #: the batch's boot clocks (remembered by the worker once committed)
    clocks: BootClocks | None = field(default=None, repr=False)


def topic_account(topic: str) -> str | None:
    """The MQTT account that could publish on ``topic`` (the ACL ties it to the topic)."""
    try:
        return parse_topic(topic)[0]
    except TopicError:
        return None


def _dead_letter(session: Session, out: Outcome, msg: Message, reason: str, detail: str) -> None:
    deadletters.add_dead_letter(
        session,
        topic=msg.topic,
        payload=msg.payload,
        reason=reason,
        detail=detail,
        client_hint=topic_account(msg.topic),
        received_at=msg.received_at,
    )
    out.dead_letters[reason] = out.dead_letters.get(reason, 0) + 1


def _is_race(exc: Exception) -> bool:
    """Whether another transaction won (see :func:`cloud.db.is_race`)."""
    return is_race(exc)


@dataclass(frozen=True, slots=True)
class _Answer:
    """Which weigh-in a refusal answers (a ``rejected`` receipt to its station)."""

    device_id: str
    event_id: str
    seq: int
    net_g: int | None = None


def _answer(event: Event) -> _Answer | None:
    """The answer to a refused event: a weigh-in's (built only when one is refused)."""
    if not isinstance(event, Weighin):
        return None
    return _Answer(event.device_id, event.event_id, event.seq, event.net_g)


class _Reject(Exception):
    def __init__(self, reason: str, detail: str, answer: _Answer | None = None) -> None:
        super().__init__(detail)
        self.reason, self.detail, self.answer = reason, detail, answer


#: a batch that loses a race with another worker is redone whole this many times in all,
#: then one message per transaction
BATCH_ATTEMPTS = 3


class Processor:
    """Applies batches of messages to the ledger database and the telemetry store.

    Keeps the device registry and the bins' policy state cached between batches
    (:mod:`cloud.ingest.state`); ``state_write_interval_s`` bounds how long a bin's
    latest level and a device's newest heartbeat, ``seen_write_interval_s`` how long a
    device's ``last_seen`` may wait in memory before being written; cached policy state
    is re-read after ``state_ttl_s``.
    """

    def __init__(
        self,
        sessions: sessionmaker[Session],
        store: TelemetryWriter | None,
        *,
        state_write_interval_s: float = 5.0,
        seen_write_interval_s: float = 15.0,
        state_ttl_s: float = 10.0,
        max_clock_ahead: timedelta = MAX_CLOCK_AHEAD,
        enforce_integrity: bool = False,
        clock_wait: timedelta = CLOCK_WAIT,
    ) -> None:
        self.sessions = sessions
        #: a synchronised device clock further ahead of the receive time is refused
        self.max_clock_ahead = max_clock_ahead
        self.store = store
        self.devices = DeviceCache(
            ttl_s=3 * state_ttl_s,
            write_interval_s=seen_write_interval_s,
            health_interval_s=state_write_interval_s,
        )
        self.bins = BinCache(ttl_s=state_ttl_s, write_interval_s=state_write_interval_s)
        self.anchors = KnownAnchors()
        self._topics: dict[str, tuple[str, Kind] | str] = {}
        #: batches redone because another worker committed a conflicting change first
        self.races = 0
        #: batches that failed whole and were redone one message per transaction
        self.fallbacks = 0
        #: production: unsigned weigh-ins and unapproved keys/builds are held; else
        #: (development) they are trusted on first use (:mod:`cloud.devicekeys`)
        self.enforce_integrity = enforce_integrity
        self.clock_wait = clock_wait

    def inspector(self, clocks: BootClocks | None = None) -> Inspector:
        """The checks of new weigh-ins, as configured (:mod:`cloud.integrity`)."""
        return Inspector(self.enforce_integrity, clocks or BootClocks(), self.clock_wait)

    # ----------------------------------------------------------------- entry

    def process(self, messages: Sequence[Message]) -> Outcome:
        """Make the effects of ``messages`` durable; return receipts to publish.

        On return, the ledger is committed and the telemetry points are written to the
        store (durably buffered): the messages may be acknowledged.
        """
        if not messages:
            return Outcome()
        with self.sessions() as session:
            for attempt in range(BATCH_ATTEMPTS):
                try:
                    out = self._commit(session, messages)
                    break
                except Exception as exc:
                    race = _is_race(exc)
                    if race and attempt + 1 < BATCH_ATTEMPTS:
                        # another worker committed first (the same weigh-in, a pickup for
                        # the same bin, a deadlock): redo the batch on what it committed
                        self.races += 1
                        continue
                    if not race:
                        log.exception("batch of %d failed; redoing one by one", len(messages))
                    self.fallbacks += 1
                    out = self._one_by_one(session, messages)
                    break
        if self.store is not None and out.points:
            self.store.write(out.points)
        self.write_behind()
        return out

    def write_behind(self, *, force: bool = False) -> None:
        """Write the cached device state (last-seen times, heartbeats) and bin levels that
        are due (all with ``force``), in a transaction of their own: devices, then bins,
        each sorted by id; no transaction when nothing is due (the usual case per batch)."""
        written = self.devices.due(force=force)
        levels = self.bins.due(force=force)
        if not written and not levels:
            return
        try:
            with self.sessions() as session:
                devices.write_device_state(session, written)
                self.bins.write(session, levels)
                session.commit()
            self.devices.written(written)
        except Exception:
            self._forget()
            self.devices.drop_pending()
            log.warning(
                "could not write the cached device state and bin levels; dropped them",
                exc_info=True,
            )

    def _commit(self, session: Session, messages: Sequence[Message]) -> Outcome:
        """Apply ``messages`` in one transaction; on failure roll back and forget the caches."""
        try:
            out = self._apply(session, messages)
            session.commit()
        except Exception:
            session.rollback()
            self._forget()
            raise
        self.devices.written(out.flushed)
        if out.clocks is not None:
            self.anchors.keep(out.clocks)
            out.clocks = None
        for device_id, at, heartbeat in out.heard:
            self.devices.note(device_id, at, heartbeat)
        return out

    def _forget(self) -> None:
        """After a failed transaction the database is the truth again."""
        self.devices.clear()
        self.bins.clear()
        self.anchors.clear()

    def _one_by_one(self, session: Session, messages: Sequence[Message]) -> Outcome:
        total = Outcome()
        for msg in messages:
            for attempt in range(5):
                try:
                    out = self._commit(session, [msg])
                    break
                except Exception as exc:
                    race = _is_race(exc)
                    if race and attempt < 4:
                        continue
                    if isinstance(exc, OperationalError | InterfaceError) and not race:
                        raise  # the database is away: retry the batch later, never drop it
                    log.exception("message on %s failed; kept as a dead letter", msg.topic)
                    out = Outcome()
                    _dead_letter(session, out, msg, "internal", f"{type(exc).__name__}: {exc}")
                    session.commit()
                    break
            total.receipts += out.receipts
            total.points += out.points
            total.accepted += out.accepted
            for k, n in out.dead_letters.items():
                total.dead_letters[k] = total.dead_letters.get(k, 0) + n
        return total

    # ----------------------------------------------------------------- apply

    def _topic(self, topic: str) -> tuple[str, Kind] | str:
        """``(device id, kind)`` of an upstream topic, or why it is refused (cached)."""
        hit = self._topics.get(topic)
        if hit is None:
            try:
                device_id, kind = parse_topic(topic)
                hit = (
                    (device_id, kind)
                    if TOPIC_SPECS[kind].upstream
                    else f"{kind.value} is not a device-to-cloud topic"
                )
            except TopicError as exc:
                hit = str(exc)
            if len(self._topics) > 100_000:  # hostile topic churn cannot grow it forever
                self._topics.clear()
            self._topics[topic] = hit
        return hit

    def _apply(self, session: Session, messages: Sequence[Message]) -> Outcome:
        out = Outcome()
        topics = [self._topic(m.topic) for m in messages]
        self.devices.load(session, (t[0] for t in topics if isinstance(t, tuple)))
        checked: list[tuple[Message, Event, DeviceInfo]] = []
        for msg, t in zip(messages, topics, strict=True):
            try:
                if isinstance(t, str):
                    raise _Reject("bad_topic", t)
                event, info = self._validate(msg, *t)
            except _Reject as rej:
                self._refuse(session, out, msg, rej)
                continue
            if event is not None:  # None: an empty retained status (a cleared topic)
                checked.append((msg, event, info))
        # the devices whose rows this batch writes (the one-message path): locked in id
        # order before anything else, with what the cache holds for them written first
        direct = {e.device_id for _, e, _ in checked if isinstance(e, DeviceStatus | DeviceConfig)}
        if direct:
            devices.lock_devices(session, direct)
            out.flushed = self.devices.pending(direct)
            devices.write_device_state(session, out.flushed)
        self.bins.load(session, (e.bin_id for _, e, _ in checked if isinstance(e, Fill)))
        clocks = out.clocks = BootClocks.of(
            session, [(m.received_at, e) for m, e, _ in checked], self.anchors
        )

        weighins: list[tuple[Weighin, Message]] = []
        for msg, event, info in checked:
            heartbeat: devices.Heartbeat | None = None
            if isinstance(event, Fill):
                if not self._fill(session, out, msg, event, info):
                    continue
            elif isinstance(event, Weighin):
                weighins.append((event, msg))
            elif isinstance(event, Health):
                if event.device_id in direct:
                    devices.apply_health(session, health=event, received_at=msg.received_at)
                else:  # written behind (newest per device), like last_seen
                    heartbeat = devices.Heartbeat.of(event, msg.received_at)
                if event.public_key is not None:
                    devicekeys.announce_key(
                        session,
                        device_id=event.device_id,
                        public_key=event.public_key,
                        trust_first_use=not self.enforce_integrity,
                    )
                anchor = clocks.get((event.device_id, str(event.boot_id))).best()
                out.points.append(
                    health_point(
                        event,
                        at=event_time(
                            event.device_time,
                            event.clock_synced,
                            msg.received_at,
                            mono_ms=event.mono_ms,
                            anchor=anchor,
                        ),
                        site=info.site_code,
                    )
                )
            elif isinstance(event, DeviceConfig):
                devicekeys.apply_config(
                    session,
                    event=event,
                    received_at=msg.received_at,
                    trust_first_use=not self.enforce_integrity,
                )
            else:
                devices.apply_status(session, status=event, received_at=msg.received_at)
            out.accepted += 1
            out.heard.append((info.device_id, msg.received_at, heartbeat))
        anchored = clocks.save(session)
        if weighins:
            self._credit(session, out, weighins, clocks)
        if anchored or any(w.signed for w, _ in weighins):
            holds.resolve_automatic(
                session,
                self.inspector(clocks),
                now=utcnow(),
                device_ids={d for d, _ in anchored} | {w.device_id for w, _ in weighins},
            )
        self.bins.write_behind(session)
        session.flush()
        return out

    def _fill(
        self, session: Session, out: Outcome, msg: Message, event: Fill, info: DeviceInfo
    ) -> bool:
        """Apply one fill reading; False if it was refused (a dead letter)."""
        st = self.bins.get(event.bin_id)
        if st is None or (st.device_id is not None and st.device_id != event.device_id):
            detail = (
                f"unknown bin {event.bin_id!r}"
                if st is None
                else f"bin {event.bin_id!r} belongs to {st.device_id!r}, not {event.device_id!r}"
            )
            _dead_letter(session, out, msg, "unknown_bin", detail)
            return False
        decision = st.decide(event, msg.received_at)
        if decision is None:  # a replay or an older reading: the state reflects newer data
            at = event_time(event.device_time, event.clock_synced, msg.received_at)
        elif decision.routine:
            at = decision.at
            self.bins.apply_routine(st, decision)
        else:  # a decision: the one-message path, on the bin's row brought up to date
            at = decision.at
            try:
                self.bins.flush(session, st)
                result = pickups.apply_fill(session, fill=event, received_at=msg.received_at)
            except LedgerError as exc:  # the bin was re-registered meanwhile
                _dead_letter(session, out, msg, "unknown_bin", str(exc))
                return False
            b = session.get(Bin, event.bin_id)
            assert b is not None
            self.bins.adopt(b, result.sampled_at)
        out.points.append(fill_point(event, at=at, site=info.site_code, category=st.category_code))
        return True

    def _credit(
        self,
        session: Session,
        out: Outcome,
        weighins: list[tuple[Weighin, Message]],
        clocks: BootClocks,
    ) -> None:
        results = crediting.credit_many(
            session,
            [w for w, _ in weighins],
            [m.received_at for _, m in weighins],
            inspect=self.inspector(clocks),
        )
        for (event, msg), r in zip(weighins, results, strict=True):
            out.receipts.append(
                (device_topic(event.device_id, Kind.RECEIPT), r.receipt_json.encode())
            )
            if r.conflict:  # a known event id with other content: written nowhere
                _dead_letter(
                    session,
                    out,
                    msg,
                    "conflict",
                    f"{event.event_id} was received before with other content "
                    f"(credited as first received: {r.receipt.net_g} g)",
                )
                self._alert(
                    session,
                    event.device_id,
                    "weighin_conflict",
                    f"{event.event_id} re-sent with other content (tampering?)",
                )
                continue
            if r.receipt.status is ReceiptStatus.HELD:
                if not r.replay:
                    self._alert(
                        session,
                        event.device_id,
                        "weighin_held",
                        f"{event.event_id} held: {r.receipt.reason}",
                    )
                continue  # an unverified weight opens no telemetry either
            out.points.append(
                weighin_point(
                    event,
                    at=r.effective_at,
                    site=r.site_code,
                    status=r.receipt.status.value,
                    amount_rp=r.receipt.amount_rp,
                    price_rp_per_kg=r.receipt.price_rp_per_kg,
                    household_id=r.household_id,
                )
            )

    def _alert(self, session: Session, device_id: str, kind: str, message: str) -> None:
        info = self.devices.get(device_id)
        pickups.raise_alert(
            session,
            kind=kind,
            subject=device_id,
            site_id=info.site_id if info is not None else None,
            message=message,
        )

    def _refuse(self, session: Session, out: Outcome, msg: Message, rej: _Reject) -> None:
        """Keep a refused message as a dead letter; answer a verified station's weigh-in."""
        _dead_letter(session, out, msg, rej.reason, rej.detail)
        a = rej.answer
        if a is not None:
            receipt = Receipt(
                device_id=a.device_id,
                event_id=a.event_id,
                seq=a.seq,
                status=ReceiptStatus.REJECTED,
                net_g=a.net_g,
                reason=printable(f"{rej.reason}: {rej.detail}", 200),
                processed_at=utcnow(),
            )
            topic = device_topic(a.device_id, Kind.RECEIPT)
            out.receipts.append((topic, receipt.model_dump_json().encode()))

    def _validate(
        self, msg: Message, device_id: str, kind: Kind
    ) -> tuple[Event | None, DeviceInfo]:
        if len(msg.payload) > MAX_PAYLOAD_BYTES:
            raise _Reject(
                "oversize", f"payload of {len(msg.payload)} bytes exceeds {MAX_PAYLOAD_BYTES}"
            )
        info = self.devices.get(device_id)
        if kind is Kind.STATUS and not msg.payload:
            if info is None:
                raise _Reject("unknown_device", f"device {device_id!r} is not registered")
            return None, info
        station = info is not None and not info.revoked and info.kind == "station"
        try:
            event = parse_payload(kind, msg.payload)
        except ContractError as exc:
            key = event_key(msg.payload) if station and kind is Kind.WEIGHIN else None
            answer = (
                _Answer(device_id, key.event_id, key.seq)
                if key is not None and key.device_id == device_id
                else None
            )
            raise _Reject("malformed", str(exc), answer) from None
        if event.device_id != device_id:
            raise _Reject(
                "identity", f"payload device_id {event.device_id!r} != topic device {device_id!r}"
            )
        if info is None:
            raise _Reject("unknown_device", f"device {device_id!r} is not registered")
        if info.revoked:
            raise _Reject("revoked_device", f"device {device_id!r} is revoked")
        if kind is Kind.WEIGHIN and info.kind != "station":
            raise _Reject("wrong_kind", f"{info.kind} {device_id!r} cannot send weigh-ins")
        if kind is Kind.FILL and info.kind != "bin":
            raise _Reject("wrong_kind", f"{info.kind} {device_id!r} cannot send fill levels")
        assert isinstance(event, Weighin | Fill | Health | DeviceConfig | DeviceStatus)
        if isinstance(event, DeviceStatus):
            return event, info
        if event.clock_synced and event.device_time > msg.received_at + self.max_clock_ahead:
            raise _Reject(
                "clock_ahead",
                f"device time {event.device_time:%F %T}Z is "
                f"{(event.device_time - msg.received_at).total_seconds():.0f} s ahead of the "
                f"receive time {msg.received_at:%F %T}Z (at most "
                f"{self.max_clock_ahead.total_seconds():.0f} s with clock_synced)",
                _answer(event),
            )
        if isinstance(event, Weighin) and event.net_g + event.tare_g > info.capacity_g:
            raise _Reject(
                "over_capacity",
                f"net {event.net_g} g + tare {event.tare_g} g exceeds the capacity of "
                f"{device_id}'s scale, {info.capacity_g} g",
                _answer(event),
            )
        return event, info
