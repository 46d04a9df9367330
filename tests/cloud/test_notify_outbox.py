"""The notification outbox and queue on SQLite and PostgreSQL: idempotency, preferences,
order, retries, quiet hours, claims (the channels here are recording doubles; the real
Gammu and HTTP gateways are in test_notify_gammu.py and test_notify_gateway.py)."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from cloud import households
from cloud.db import session_factory
from cloud.models.notifications import NotificationAttempt
from cloud.notifications import Outgoing, enqueue, enqueue_many
from cloud.notifications.preferences import ChannelSpec, set_preference
from cloud.notifications.queue import Policy, claim, resend
from cloud.notifications.sender import Sender
from cloud.notifications.settings import NotifySettings
from tests.cloud.notify_support import (
    E164,
    PHONE,
    Programme,
    RecordingChannel,
    credit_data,
    deliveries,
    notifications,
    seed,
)

pytestmark = pytest.mark.integration

SPECS = (
    ChannelSpec("wa", "apprise", household_default=True),
    ChannelSpec("ops", "apprise", operators=True, needs_address=False),
)
#: 10:00 WIB, outside the default quiet hours (21:00-06:00 WIB)
DAY = datetime(2026, 12, 1, 3, 0, tzinfo=UTC)


class Clock:
    def __init__(self, at: datetime = DAY) -> None:
        self.at = at

    def __call__(self) -> datetime:
        return self.at


@pytest.fixture
def programme(session: Session) -> Programme:
    return seed(session, channels=SPECS)


def _sender(
    engine: Engine, url: str, clock: Clock, channel: RecordingChannel, **kw: object
) -> Sender:
    options: dict[str, object] = {"sender_id": "s1", "backoff_base_s": 30, "backoff_max_s": 600}
    options.update(kw)
    settings = NotifySettings(ledger_url=url, migrate_on_start=False, **options)  # type: ignore[arg-type]
    return Sender(settings, engine=engine, channels={channel.name: channel}, clock=clock)


def _tell(session: Session, household_id: int) -> None:
    """One credit told to ``household_id`` (committed)."""
    enqueue(
        session,
        "weighin_credited",
        key="w:1",
        data=credit_data(),
        household_id=household_id,
        at=DAY,
    )
    session.commit()


def test_enqueue_is_idempotent_on_its_key(session: Session, programme: Programme) -> None:
    """The same weigh-in told three times (twice in one batch) -> one notification.

    mutant: plain INSERT (no ON CONFLICT DO NOTHING) -> IntegrityError;
    mutant: deliveries made for every item, not only the inserted ones -> duplicates.
    """
    hh = programme.with_phone
    first = enqueue(
        session, "weighin_credited", key="w:st-1:1", data=credit_data(), household_id=hh, at=DAY
    )
    session.commit()
    again = enqueue_many(
        session,
        [
            Outgoing("weighin_credited", "w:st-1:1", credit_data(), hh),
            Outgoing("weighin_credited", "w:st-1:1", credit_data(), hh),
        ],
        at=DAY,
    )
    session.commit()
    assert first is not None
    assert again == [None, None]
    assert len(notifications(session)) == 1
    assert sorted(d.channel for d in deliveries(session)) == ["inapp", "wa"]


def test_enqueue_is_part_of_the_callers_transaction(session: Session, programme: Programme) -> None:
    enqueue(
        session,
        "weighin_credited",
        key="w:1",
        data=credit_data(),
        household_id=programme.with_phone,
        at=DAY,
    )
    session.rollback()
    assert notifications(session) == []
    assert deliveries(session) == []


def test_channels_follow_the_households_preferences(session: Session, programme: Programme) -> None:
    """mutant: opt-out ignored -> the opted-out household gets an inbox message and a WhatsApp."""
    set_preference(session, household_id=programme.bad_phone, by="t", channels=["inapp"])
    items = [
        Outgoing("weighin_credited", f"w:{hh}", credit_data(), hh)
        for hh in (
            programme.with_phone,
            programme.no_phone,
            programme.opted_out,
            programme.bad_phone,
        )
    ]
    items.append(
        Outgoing(
            "bin_full", "bin:1", {"bin_id": "bin-1", "fill_pct": 85}, site_id=programme.site_id
        )
    )
    enqueue_many(session, items, at=DAY)
    session.commit()
    by_note = {n.key: n for n in notifications(session)}
    channels: dict[str, list[str]] = {k: [] for k in by_note}
    ids = {n.id: n.key for n in by_note.values()}
    for d in deliveries(session):
        channels[ids[d.notification_id]].append(d.channel)
    assert channels == {
        f"w:{programme.with_phone}": ["inapp", "wa"],
        f"w:{programme.no_phone}": ["inapp"],  # no phone: WhatsApp left out
        f"w:{programme.opted_out}": [],
        f"w:{programme.bad_phone}": ["inapp"],
        "bin:1": ["inapp", "ops"],
    }
    assert by_note[f"w:{programme.opted_out}"].suppressed == "opted_out"
    inbox = [d for d in deliveries(session, "inapp")]
    assert all(d.status == "sent" for d in inbox)
    with pytest.raises(ValueError, match="unknown notification event"):
        enqueue(session, "nope", key="x", data={}, household_id=programme.with_phone, at=DAY)
    with pytest.raises(ValueError, match="is for household"):
        enqueue(session, "weighin_credited", key="x", data={})


def test_sender_sends_renders_and_keeps_order(
    engine: Engine, ledger_url: str, session: Session, programme: Programme
) -> None:
    """mutant: claim without the 'earlier one still on its way' rule -> the second message
    overtakes the first while the first waits for its retry."""
    hh = programme.with_phone
    for n in (1, 2):
        enqueue(
            session, "weighin_credited", key=f"w:{n}", data=credit_data(n), household_id=hh, at=DAY
        )
    session.commit()
    clock, wa = Clock(), RecordingChannel(fail=1)
    sender = _sender(engine, ledger_url, clock, wa)
    sender.run_once()
    assert wa.sent == []  # the first failed; the second waits behind it
    d1, d2 = deliveries(session, "wa")
    assert (d1.status, d1.attempts, d1.last_error) == (
        "pending",
        1,
        "wa: gateway refused or unreachable",
    )
    assert d1.next_attempt_at == DAY + timedelta(seconds=30)
    assert d2.status == "pending"
    assert d2.attempts == 0
    clock.at += timedelta(seconds=31)
    sender.run_once()
    sender.run_once()  # one message per recipient and channel at a time
    head = "Salinmas BMS-0001: 1,25 kg Plastik PET = Rp 3.750 masuk."
    assert [m.text for m in wa.sent] == [
        f"{head} Saldo Rp 3.750. 01-12-2026 10:00 WIB.",
        f"{head} Saldo Rp 7.500. 01-12-2026 10:00 WIB.",
    ]
    assert {m.address for m in wa.sent} == {E164}
    assert [d.status for d in deliveries(session, "wa")] == ["sent", "sent"]
    sender.close()


def test_retries_back_off_then_the_delivery_is_dead_and_resendable(
    engine: Engine, ledger_url: str, session: Session, programme: Programme
) -> None:
    """mutant: attempts never reach max_attempts (no dead state) -> stays pending forever."""
    _tell(session, programme.with_phone)
    clock, wa = Clock(), RecordingChannel(fail=99)
    sender = _sender(engine, ledger_url, clock, wa, max_attempts=3)
    for _ in range(3):
        sender.run_once()
        clock.at += timedelta(hours=1)
    (d,) = deliveries(session, "wa")
    assert (d.status, d.attempts) == ("dead", 3)
    outcomes = list(
        session.scalars(select(NotificationAttempt.outcome).order_by(NotificationAttempt.id))
    )
    session.rollback()
    assert outcomes == ["retry", "retry", "dead"]
    resend(session, delivery_id=d.id, by="user:op", now=clock.at)
    session.commit()
    wa.fail = 0
    sender.run_once()
    (d,) = deliveries(session, "wa")
    assert (d.status, d.resends) == ("sent", 1)
    assert wa.sent[0].key.endswith(":wa:1")  # a new idempotency key for the resend
    sender.close()


def test_quiet_hours_defer_and_never_drop(
    engine: Engine, ledger_url: str, session: Session, programme: Programme
) -> None:
    """mutant: quiet hours drop (dead) instead of defer -> nothing is sent in the morning."""
    _tell(session, programme.with_phone)
    night = datetime(2026, 12, 1, 15, 30, tzinfo=UTC)  # 22:30 WIB
    clock, wa = Clock(night), RecordingChannel()
    sender = _sender(engine, ledger_url, clock, wa)
    sender.run_once()
    (d,) = deliveries(session, "wa")
    assert wa.sent == []
    assert d.status == "pending"
    assert d.attempts == 0
    assert d.next_attempt_at == datetime(2026, 12, 1, 23, 0, tzinfo=UTC)  # 06:00 WIB
    assert d.last_error == "quiet hours until 02-12-2026 06:00 WIB"
    clock.at = datetime(2026, 12, 1, 23, 0, tzinfo=UTC)
    sender.run_once()
    assert len(wa.sent) == 1
    sender.close()


def test_an_invalid_phone_is_dead_at_once_with_a_clear_reason(
    engine: Engine, ledger_url: str, session: Session, programme: Programme
) -> None:
    _tell(session, programme.bad_phone)
    wa = RecordingChannel()
    sender = _sender(engine, ledger_url, Clock(), wa)
    sender.run_once()
    (d,) = deliveries(session, "wa")
    assert wa.sent == []
    assert d.status == "dead"
    assert d.attempts == 1
    assert d.last_error is not None
    assert d.last_error.startswith("not an Indonesian mobile number")
    sender.close()


def test_a_claim_left_by_a_killed_sender_expires_and_counts(
    engine: Engine, ledger_url: str, session: Session, programme: Programme
) -> None:
    """mutant: expired 'sending' rows are never due again -> the message is stuck."""
    _tell(session, programme.with_phone)
    wa = RecordingChannel()
    dead_sender = Policy(sender="killed:1", lease_s=60)
    with session_factory(engine)() as s:
        jobs, _ = claim(s, channels={"wa": wa}, policy=dead_sender, now=DAY)
        s.commit()
    assert len(jobs) == 1  # ... and then the process was killed before sending
    clock = Clock(DAY + timedelta(seconds=30))
    sender = _sender(engine, ledger_url, clock, wa, backoff_base_s=1)
    sender.run_once()
    assert wa.sent == []  # the lease has not run out
    clock.at = DAY + timedelta(seconds=62)
    sender.run_once()  # expired: counted as a try, retried after its backoff
    clock.at += timedelta(seconds=2)
    sender.run_once()
    (d,) = deliveries(session, "wa")
    assert len(wa.sent) == 1
    assert (d.status, d.attempts) == ("sent", 2)
    sender.close()


def test_two_senders_never_send_one_delivery_twice(
    engine: Engine, ledger_url: str, session: Session, programme: Programme
) -> None:
    """mutant: claim without FOR UPDATE SKIP LOCKED / 'sending' mark -> duplicates on PostgreSQL."""
    ids = [
        households.register_household(session, member_no=f"X-{i:03d}", name="x", phone=PHONE).id
        for i in range(40)
    ]
    enqueue_many(
        session, [Outgoing("weighin_credited", f"w:{hh}", credit_data(), hh) for hh in ids], at=DAY
    )
    session.commit()
    wa = RecordingChannel()
    senders = [
        _sender(engine, ledger_url, Clock(), wa, batch_size=5, sender_id=f"s{i}") for i in range(2)
    ]
    threads = [
        threading.Thread(target=lambda s=s: [s.run_once() for _ in range(10)]) for s in senders
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    sent = sorted(m.delivery_id for m in wa.sent)
    assert sent == sorted(set(sent))
    assert len(sent) == 40
    for s in senders:
        s.close()
